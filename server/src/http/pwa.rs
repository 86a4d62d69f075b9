//! What makes the chat an installable app: the versioned service worker
//! and the manifest with the chat's name.

use crate::http::state::AppState;
use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::IntoResponse;

const SERVICE_WORKER: &str = include_str!("sw.js");

/// `GET /manifest.webmanifest`: the built one, named as the owner named
/// the chat.
pub async fn manifest(
    State(state): State<AppState>,
    axum::Extension(device): axum::Extension<app::protocol::DeviceId>,
) -> axum::response::Response {
    let path = std::path::Path::new(&state.settings.site_root).join("manifest.webmanifest");
    let Ok(text) = tokio::fs::read_to_string(&path).await else {
        return crate::http::pages::not_found();
    };
    let Ok(mut json) = serde_json::from_str::<serde_json::Value>(&text) else {
        tracing::error!(path = %path.display(), "the manifest is not JSON");
        return crate::http::pages::unavailable();
    };
    // A private chat's name is for its members; others (the "private"
    // page's visitors) install nothing of it.
    let name = match state.chat.access().admit(device).await {
        Ok(Ok(_)) => state.chat.access().chat_name(),
        _ => crate::access::DEFAULT_NAME.to_owned(),
    };
    if let Some(fields) = json.as_object_mut() {
        fields.insert("name".into(), name.clone().into());
        fields.insert("short_name".into(), name.into());
    }
    (
        [
            (CONTENT_TYPE, "application/manifest+json"),
            (CACHE_CONTROL, "no-cache"),
        ],
        json.to_string(),
    )
        .into_response()
}

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
