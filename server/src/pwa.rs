//! What makes the chat an installable app: the versioned service worker.

use crate::state::AppState;
use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::IntoResponse;
use std::hash::{Hash, Hasher};
use std::path::Path;
use std::sync::Arc;

const SERVICE_WORKER: &str = include_str!("sw.js");

/// Identifies this build of the site: a hash of the files the page loads.
/// The service worker compares it with the `X-Chat-Version` header so it
/// never caches one release's page beside another release's WASM.
pub fn site_version(site_root: &str) -> Arc<str> {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    let pkg = Path::new(site_root).join("pkg");
    for file in ["chat.js", "chat.wasm", "chat.css"] {
        match std::fs::read(pkg.join(file)) {
            Ok(bytes) => bytes.hash(&mut hasher),
            Err(_) => file.hash(&mut hasher),
        }
    }
    env!("CARGO_PKG_VERSION").hash(&mut hasher);
    format!("{:016x}", hasher.finish()).into()
}

pub async fn service_worker(State(state): State<AppState>) -> impl IntoResponse {
    let version = state.version;
    (
        [
            (CONTENT_TYPE, "text/javascript; charset=utf-8"),
            // Browsers must always see a new release's worker.
            (CACHE_CONTROL, "no-cache"),
        ],
        SERVICE_WORKER.replace("__VERSION__", &version),
    )
}
