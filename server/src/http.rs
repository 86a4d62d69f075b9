//! The HTTP surface: the server-rendered page and the server functions,
//! the WebSocket, the seed-compatible JSON history, static files and the
//! health check.

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
use app::api::ChatSnapshot;
use app::protocol::{ChatMessage, DeviceId, MessageId, HISTORY_MAX_LIMIT, HISTORY_PAGE};
use app::shell;
use axum::body::Body;
use axum::extract::{Query, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, on, MethodFilter};
use axum::{middleware, Extension, Json, Router};
use leptos::prelude::provide_context;
use serde::Deserialize;
use std::sync::Arc;
use tower_http::compression::CompressionLayer;
use tower_http::services::ServeDir;

pub fn router(state: AppState) -> Router {
    let backend = Backend(Arc::new(ServerBackend {
        chat: state.chat.clone(),
        settings: state.settings.clone(),
    }));
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
    // Manifest, icons and the like; anything else is a plain 404 page.
    let files = ServeDir::new(&state.settings.site_root)
        .not_found_service(axum::routing::any(|| async { crate::pages::not_found() }));
    let mut router = Router::new()
        .route("/", get(page))
        .route("/ws", get(session::upgrade))
        .route("/get_messages", get(get_messages))
        .route("/healthz", get(|| async { "ok" }))
        .route("/sw.js", get(pwa::service_worker))
        .route("/claim/{token}", get(transfer::claim))
        .route("/ca.pem", get(trust::ca_certificate))
        .route("/trust", get(trust::trust_page));
    for (path, method) in leptos::server_fn::axum::server_fn_paths() {
        let Ok(filter) = MethodFilter::try_from(method) else {
            continue;
        };
        let backend = backend.clone();
        router = router.route(
            path,
            on(filter, move |req: Request<Body>| {
                let backend = backend.clone();
                leptos_axum::handle_server_fns_with_context(
                    move || provide_context(backend.clone()),
                    req,
                )
            }),
        );
    }
    router
        .fallback_service(files)
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

/// `GET /`: the chat, rendered with this device's identity and the latest
/// messages, which are also embedded for hydration. Plain HTML that reads
/// without JavaScript.
async fn page(
    State(state): State<AppState>,
    Extension(device): Extension<DeviceId>,
    Query(form): Query<FormError>,
    req: Request,
) -> Response {
    let snapshot = async {
        Ok::<_, crate::chat::ChatError>(ChatSnapshot {
            me: state.chat.identity(device).await?,
            messages: state.chat.page_before(None, HISTORY_PAGE).await?,
            name_error: form.name_error(),
        })
    };
    let snapshot = match snapshot.await {
        Ok(snapshot) => snapshot,
        Err(e) => {
            tracing::error!(error = %e, "page could not be rendered");
            return crate::pages::unavailable();
        }
    };
    // Leptos adds the CSP nonce (put in the request by the header
    // middleware) to the inline scripts it renders.
    let nonce = req.extensions().get::<CspNonce>().cloned();
    let leptos = state.leptos.clone();
    let render = leptos_axum::render_app_async_with_context(
        move || {
            provide_context(snapshot.clone());
            if let Some(CspNonce(value)) = nonce.clone() {
                provide_context(leptos::nonce::Nonce::from_value(value));
            }
        },
        move || shell(leptos.clone()),
    );
    render(req).await
}

/// What a server function refused when its form was posted without
/// JavaScript: Leptos redirects back with `?__path=…&__err=…`.
#[derive(Debug, Default, Deserialize)]
pub struct FormError {
    #[serde(rename = "__path")]
    path: Option<String>,
    #[serde(rename = "__err")]
    err: Option<String>,
}

impl FormError {
    /// The name form's error, as the sentence the user should read.
    fn name_error(&self) -> Option<String> {
        use leptos::server_fn::error::ServerFnUrlError;
        use leptos::server_fn::ServerFn;
        let (path, err) = (self.path.as_deref()?, self.err.as_deref()?);
        (path == app::api::SetName::PATH)
            .then(|| ServerFnUrlError::<app::api::ApiError>::decode_err(err).to_string())
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
