//! What every handler can reach.

use crate::chat::Chat;
use crate::config::Settings;
use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use std::sync::Arc;
use tokio::sync::watch;

#[derive(Clone)]
pub struct AppState {
    pub leptos: LeptosOptions,
    pub chat: Chat,
    pub settings: Arc<Settings>,
    /// Flips to true when the server begins shutting down.
    pub shutdown: watch::Receiver<bool>,
    /// Photos and files.
    pub files: Arc<crate::files::Files>,
    /// The built site's files under their content-hashed names.
    pub assets: Arc<crate::http::assets::Assets>,
    pub push: Arc<crate::push::Push>,
    /// The certificate manager, with `--domain`.
    pub acme: Option<Arc<crate::acme::Acme>>,
    /// Pages as last rendered, compressed.
    pub pages: Arc<crate::http::page_cache::PageCache>,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos.clone()
    }
}
