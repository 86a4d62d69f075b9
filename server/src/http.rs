//! The HTTP surface: the Leptos pages and server functions, the WebSocket,
//! the seed-compatible JSON history and the health check.

use crate::assets;
use crate::backend::ServerBackend;
use crate::headers::{self, CspNonce, HeaderPolicy};
use crate::identity::{self, CookiePolicy};
use crate::origin;
use crate::pwa;
use crate::session;
use crate::state::AppState;
use crate::transfer;
use crate::trust;
use app::api::backend::Backend;
use app::protocol::{ChatMessage, MessageId, HISTORY_MAX_LIMIT, HISTORY_PAGE};
use app::{shell, App};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{middleware, Json, Router};
use leptos_axum::{generate_route_list, LeptosRoutes};
use serde::Deserialize;
use std::sync::Arc;
use tower_http::compression::CompressionLayer;

pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let backend = Backend(Arc::new(ServerBackend {
        chat: state.chat.clone(),
        settings: state.settings.clone(),
    }));
    let leptos = state.leptos.clone();
    let cookies = CookiePolicy {
        secure: state.settings.cookie_secure(),
    };
    let header_policy = HeaderPolicy {
        hsts: state.settings.tls(),
        version: state.assets.version().into(),
    };
    let pkg = Router::new()
        .route("/pkg/{file}", get(assets::serve))
        .with_state(state.assets.clone());
    Router::new()
        .route("/ws", get(session::upgrade))
        .route("/get_messages", get(get_messages))
        .route("/healthz", get(|| async { "ok" }))
        .route("/sw.js", get(pwa::service_worker))
        .route("/claim/{token}", get(transfer::claim))
        .route("/ca.pem", get(trust::ca_certificate))
        .route("/trust", get(trust::trust_page))
        .leptos_routes_with_context(
            &state,
            routes,
            move || {
                leptos::prelude::provide_context(backend.clone());
                provide_nonce_from_request();
            },
            move || shell(leptos.clone()),
        )
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .merge(pkg)
        .layer(middleware::map_response(tidy_form_redirect))
        // Pages and JSON on the fly; static files come precompressed.
        .layer(CompressionLayer::new().br(true).gzip(true))
        .layer(middleware::from_fn_with_state(
            Arc::new(state.settings.allowed_origins.clone()),
            origin::same_origin_writes,
        ))
        .layer(middleware::from_fn_with_state(
            cookies,
            identity::ensure_device,
        ))
        .layer(middleware::from_fn_with_state(
            header_policy,
            headers::security_headers,
        ))
        .with_state(state)
}

/// Hands the nonce the header middleware put in the CSP to Leptos, which
/// adds it to the inline scripts it renders.
fn provide_nonce_from_request() {
    use leptos::prelude::{provide_context, use_context};
    let nonce = use_context::<axum::http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<CspNonce>().cloned());
    if let Some(CspNonce(value)) = nonce {
        provide_context(leptos::nonce::Nonce::from_value(value));
    }
}

#[derive(Debug, Deserialize)]
pub struct HistoryQuery {
    before: Option<i64>,
    limit: Option<u32>,
}

/// `GET /get_messages[?before=<id>][&limit=<n>]`: history as JSON, newest
/// last, each item carrying the seed's `user_name`, `msg` and `color`.
async fn get_messages(State(state): State<AppState>, Query(q): Query<HistoryQuery>) -> Response {
    let limit = q.limit.unwrap_or(HISTORY_PAGE).clamp(1, HISTORY_MAX_LIMIT);
    match state.chat.page_before(q.before.map(MessageId), limit).await {
        Ok(messages) => Json::<Vec<ChatMessage>>(messages).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "history query failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Could not read the history.",
            )
                .into_response()
        }
    }
}

/// After a plain form post, Leptos redirects back to the page with its
/// error details stripped, which leaves a bare `?` on the URL.
async fn tidy_form_redirect(mut res: Response) -> Response {
    let location = axum::http::header::LOCATION;
    let tidy = res
        .headers()
        .get(&location)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_suffix('?'))
        .and_then(|v| axum::http::HeaderValue::from_str(v).ok());
    if let Some(v) = tidy {
        res.headers_mut().insert(location, v);
    }
    res
}
