//! The HTTP surface: the server-rendered page and the server functions,
//! the WebSocket, the seed-compatible JSON history, static files and the
//! health check.

use crate::assets;
use crate::backend::ServerBackend;
use crate::files;
use crate::headers::{self, CspNonce, HeaderPolicy};
use crate::identity::{self, CookiePolicy};
use crate::origin;
use crate::pwa;
use crate::session;
use crate::state::AppState;
use crate::store::RoomKey;
use crate::transfer;
use crate::trust;
use app::api::backend::Backend;
use app::api::ChatSnapshot;
use app::protocol::{ChatMessage, DeviceId, MessageId, RoomId, HISTORY_MAX_LIMIT, HISTORY_PAGE};
use app::shell;
use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
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
        push: state.push.clone(),
    }));
    let cookies = CookiePolicy {
        secure: state.settings.cookie_secure(),
    };
    let header_policy = HeaderPolicy {
        hsts: state.settings.tls(),
        version: state.assets.version().into(),
    };
    let pkg = Router::new()
        .route("/pkg/{version}/{file}", get(assets::serve_release))
        .route("/pkg/{file}", get(assets::serve_plain))
        .with_state(state.assets.clone());
    // Manifest, icons and the like; anything else is a plain 404 page.
    let files = ServeDir::new(&state.settings.site_root)
        .not_found_service(axum::routing::any(|| async { crate::pages::not_found() }));
    let mut router = Router::new()
        .route("/", get(home))
        .route("/r/{slug}", get(room_page))
        .route("/ws", get(session::upgrade))
        .route("/get_messages", get(get_messages))
        .route("/manifest.webmanifest", get(pwa::manifest))
        .route("/healthz", get(healthz))
        .route("/sw.js", get(pwa::service_worker))
        .route("/claim/{token}", get(transfer::claim))
        .route("/owner/{token}", get(crate::links::owner))
        .route("/invite/{token}", get(crate::links::invite))
        .route("/ca.pem", get(trust::ca_certificate))
        .route("/trust", get(trust::trust_page))
        .route(
            "/upload",
            axum::routing::post(files::upload)
                // Room for the largest file plus a little framing.
                .layer(axum::extract::DefaultBodyLimit::max(
                    state.files.max_bytes + 64 * 1024,
                )),
        )
        .route("/files/{id}", get(files::serve));
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
        .layer(middleware::from_fn(request_span))
        .with_state(state)
}

/// A span per request, named by its route rather than its path: a path
/// can carry an owner, invite or transfer token, which is never logged.
async fn request_span(req: Request<Body>, next: middleware::Next) -> Response {
    use tracing::Instrument;
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or("other", |p| p.as_str())
        .to_owned();
    let span = tracing::info_span!("request", method = %req.method(), route);
    next.run(req).instrument(span).await
}

/// `GET /`: the default room.
async fn home(
    state: State<AppState>,
    device: Extension<DeviceId>,
    form: Query<FormError>,
    req: Request,
) -> Response {
    page(state, device, form, RoomKey::Id(RoomId::DEFAULT), req).await
}

/// `GET /r/{slug}`: a room, archived ones too.
async fn room_page(
    state: State<AppState>,
    device: Extension<DeviceId>,
    form: Query<FormError>,
    Path(slug): Path<String>,
    req: Request,
) -> Response {
    page(state, device, form, RoomKey::Slug(slug), req).await
}

/// The chat showing one room, rendered with this device's identity, the
/// room list and the room's latest messages, which are also embedded for
/// hydration. Plain HTML that reads without JavaScript.
async fn page(
    State(state): State<AppState>,
    Extension(device): Extension<DeviceId>,
    Query(form): Query<FormError>,
    key: RoomKey,
    req: Request,
) -> Response {
    let standing = match state.chat.access().admit(device).await {
        Ok(Ok(standing)) => standing,
        Ok(Err(why)) => return crate::pages::denied(why),
        Err(e) => {
            tracing::error!(error = %e, "could not check the device");
            return crate::pages::unavailable();
        }
    };
    let snapshot = async {
        let Some(room) = state.chat.room(key).await? else {
            return Ok(None);
        };
        // The cursor is read before the page: anything committed in
        // between is replayed, not skipped.
        let seq = state.chat.room_seq(room.id).await?;
        Ok::<_, crate::chat::ChatError>(Some(ChatSnapshot {
            me: state.chat.identity(device).await?,
            rooms: state.chat.room_statuses(device).await?,
            messages: state.chat.page_before(room.id, None, HISTORY_PAGE).await?,
            room: Some(room),
            seq,
            edit_window_secs: state.settings.edit_window_secs,
            name_error: form.name_error(),
            role: standing.role,
            chat_name: state.chat.access().chat_name(),
        }))
    };
    let snapshot = match snapshot.await {
        Ok(Some(snapshot)) => snapshot,
        Ok(None) => return crate::pages::not_found(),
        Err(e) => {
            tracing::error!(error = %e, "page could not be rendered");
            return crate::pages::unavailable();
        }
    };
    // Leptos adds the CSP nonce (put in the request by the header
    // middleware) to the inline scripts it renders.
    let nonce = req.extensions().get::<CspNonce>().cloned();
    let preload = preload_links(&state.leptos);
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
    let mut res = render(req).await;
    if let Ok(links) = axum::http::HeaderValue::from_str(&preload) {
        res.headers_mut().insert(axum::http::header::LINK, links);
    }
    res
}

/// The WASM and its JS as a `Link` header: the browser starts fetching
/// them as the response arrives, before it has parsed the page's own
/// `<link>`s (~0.05 s sooner on a throttled phone). They are the critical
/// path to a usable page; the URLs and `crossorigin` match the page's
/// tags, so each is fetched once.
fn preload_links(options: &leptos::config::LeptosOptions) -> String {
    let (dir, name) = (&options.site_pkg_dir, &options.output_name);
    // Leptos's rule (`HydrationScripts`): a build by cargo-leptos, which
    // sets LEPTOS_OUTPUT_NAME, names the WASM like the JS; others add `_bg`.
    let wasm = if option_env!("LEPTOS_OUTPUT_NAME").is_some() {
        name.to_string()
    } else {
        format!("{name}_bg")
    };
    format!(
        "</{dir}/{wasm}.wasm>; rel=preload; as=fetch; type=application/wasm; crossorigin, \
         </{dir}/{name}.js>; rel=modulepreload; crossorigin"
    )
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
    room: Option<String>,
    before: Option<i64>,
    limit: Option<u32>,
}

/// `GET /get_messages[?room=<slug>][&before=<id>][&limit=<n>]`: history as
/// JSON, newest last, each item carrying the seed's `user_name`, `msg` and
/// `color`. The default room when `room` is absent.
async fn get_messages(
    State(state): State<AppState>,
    Extension(device): Extension<DeviceId>,
    Query(q): Query<HistoryQuery>,
) -> Response {
    if let Err(e) = state.chat.admit(device).await {
        return e.into_response();
    }
    let limit = q.limit.unwrap_or(HISTORY_PAGE).clamp(1, HISTORY_MAX_LIMIT);
    let room = match q.room {
        None => RoomId::DEFAULT,
        Some(slug) => match state.chat.room(RoomKey::Slug(slug)).await {
            Ok(Some(room)) => room.id,
            Ok(None) => return (StatusCode::NOT_FOUND, "There is no such room.").into_response(),
            Err(e) => return e.into_response(),
        },
    };
    match state
        .chat
        .page_before(room, q.before.map(MessageId), limit)
        .await
    {
        Ok(messages) => Json::<Vec<ChatMessage>>(messages).into_response(),
        Err(e) => e.into_response(),
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

/// `GET /healthz`: 200 while this node can read the store and (in the
/// shared mode) its bus listener is connected; 503 otherwise, so a load
/// balancer moves clients to another node.
async fn healthz(State(state): State<AppState>) -> axum::response::Response {
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(3),
        state.chat.room_seq(app::protocol::RoomId::DEFAULT),
    )
    .await;
    match read {
        Ok(Ok(_)) if state.chat.hub().healthy() => "ok".into_response(),
        Ok(Ok(_)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "unhealthy: the bus is not connected\n",
        )
            .into_response(),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "health check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "unhealthy: the database cannot be read\n",
            )
                .into_response()
        }
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "unhealthy: the database does not answer\n",
        )
            .into_response(),
    }
}
