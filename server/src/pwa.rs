//! What makes the chat an installable app: the versioned service worker.

use crate::state::AppState;
use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::IntoResponse;

const SERVICE_WORKER: &str = include_str!("sw.js");

/// `GET /sw.js`, rendered with this release's version and asset URLs, so
/// a new release installs a new worker (and a new cache).
pub async fn service_worker(State(state): State<AppState>) -> impl IntoResponse {
    let assets = serde_json::to_string(&state.assets.urls()).unwrap_or_else(|_| "[]".into());
    (
        [
            (CONTENT_TYPE, "text/javascript; charset=utf-8"),
            // Browsers must always see a new release's worker.
            (CACHE_CONTROL, "no-cache"),
        ],
        SERVICE_WORKER
            .replace("__VERSION__", state.assets.version())
            .replace("__ASSETS__", &assets),
    )
}
