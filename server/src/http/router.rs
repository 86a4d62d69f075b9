//! The HTTP surface: the server-rendered page and the server functions,
//! the WebSocket, the seed-compatible JSON history, static files and the
//! health check.

use super::files;
use crate::http::assets;
use crate::http::headers::{self, CspNonce, HeaderPolicy};
use crate::http::identity::{self, CookiePolicy};
use crate::http::origin;
use crate::http::pwa;
use crate::http::server_fns::ServerBackend;
use crate::http::state::AppState;
use crate::http::transfer;
use crate::http::trust;
use crate::http::ws;
use crate::store::RoomKey;
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
use std::time::Duration;
use tower_http::compression::CompressionLayer;
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::RequestBodyTimeoutLayer;

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
    let files =
        ServeDir::new(&state.settings.site_root).not_found_service(axum::routing::any(|| async {
            crate::http::pages::not_found()
        }));
    // Icons and the like: public, revalidated by their date; a miss is an
    // error page like any other.
    let files = tower::ServiceBuilder::new()
        .layer(SetResponseHeaderLayer::overriding(
            axum::http::header::CACHE_CONTROL,
            |res: &axum::http::Response<_>| {
                let found = res.status().is_success() || res.status() == StatusCode::NOT_MODIFIED;
                found.then(|| axum::http::HeaderValue::from_static("no-cache"))
            },
        ))
        .service(files);
    let mut router = Router::new()
        .route("/", get(home))
        .route("/r/{slug}", get(room_page))
        .route("/r/{slug}/m/{id}", get(message_page))
        .route("/ws", get(ws::upgrade))
        .route("/get_messages", get(get_messages))
        .route("/manifest.webmanifest", get(pwa::manifest))
        .route("/healthz", get(healthz))
        .route("/sw.js", get(pwa::service_worker))
        .route(
            "/claim/{token}",
            get(transfer::confirm)
                .post(transfer::claim)
                .layer(body_limit(SMALL_BODY)),
        )
        .route("/owner/{token}", get(crate::http::links::owner))
        .route("/invite/{token}", get(crate::http::links::invite))
        .route("/ca.pem", get(trust::ca_certificate))
        .route("/trust", get(trust::trust_page))
        .route(
            "/upload",
            axum::routing::post(files::upload)
                // Room for the largest file plus a little framing; a larger
                // declared length is refused before any of it is read.
                .layer(axum::extract::DefaultBodyLimit::disable())
                .layer(body_limit(state.files.max_bytes + 64 * 1024)),
        )
        .route("/files/{id}", get(files::serve))
        .route(
            "/api/bot/{key}/rooms/{slug}/messages",
            get(crate::http::bots::read_messages)
                .post(crate::http::bots::post_message)
                // A bot may post a file as large as a person's.
                .layer(axum::extract::DefaultBodyLimit::disable())
                .layer(body_limit(state.files.max_bytes + 64 * 1024)),
        )
        .route(
            "/api/bot/{key}/rooms/{slug}/slack",
            axum::routing::post(crate::http::bots::slack_hook).layer(body_limit(SMALL_BODY)),
        )
        .route("/export.json", get(crate::http::export::json))
        .route("/export.html", get(crate::http::export::html));
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
            })
            .layer(middleware::from_fn(server_fn_status))
            .layer(body_limit(SMALL_BODY)),
        );
    }
    router
        .fallback_service(files)
        .merge(pkg)
        .layer(middleware::map_response(tidy_form_redirect))
        // Pages and JSON on the fly; static files come precompressed.
        .layer(CompressionLayer::new().br(true).gzip(true))
        .layer(middleware::from_fn(secrets_uncompressed))
        .layer(middleware::from_fn_with_state(
            Arc::new(crate::http::OriginPolicy::of(&state.settings)),
            origin::same_origin_writes,
        ))
        .layer(middleware::from_fn_with_state(
            cookies,
            identity::ensure_device,
        ))
        .layer(middleware::from_fn_with_state(
            Arc::new(state.settings.trusted_proxies.clone()),
            client_addr,
        ))
        .layer(middleware::from_fn_with_state(
            header_policy,
            headers::security_headers,
        ))
        .layer(middleware::from_fn(request_span))
        // A body that stops arriving frees its connection.
        .layer(RequestBodyTimeoutLayer::new(Duration::from_secs(
            state.settings.body_timeout_secs.max(1),
        )))
        .with_state(state)
}

/// Refuses a body over `max` bytes: at once (413) when its declared
/// length says so, before any of it is read, else when it grows past it.
fn body_limit(max: usize) -> BodyLimit {
    middleware::from_fn_with_state(max, |State(max), req, next| {
        Box::pin(limit_body(max, req, next))
    })
}

type BodyLimit = axum::middleware::FromFnLayer<
    fn(State<usize>, Request, middleware::Next) -> futures::future::BoxFuture<'static, Response>,
    usize,
    (State<usize>, Request),
>;

async fn limit_body(max: usize, req: Request, next: middleware::Next) -> Response {
    let declared = req
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return (
            StatusCode::PAYLOAD_TOO_LARGE,
            Json(serde_json::json!({ "error": format!("The request is larger than {} KB.", max / 1024) })),
        )
            .into_response();
    }
    let (parts, body) = req.into_parts();
    let body = Body::new(http_body_util::Limited::new(body, max));
    next.run(Request::from_parts(parts, body)).await
}

/// The largest body a server function or form takes (a push address is
/// the longest thing any of them carries).
const SMALL_BODY: usize = 64 * 1024;

/// Answers that carry a secret (an invite or transfer link) are sent
/// uncompressed: with compression, a secret beside text someone else can
/// choose leaks through the answer's length (BREACH). These are small.
async fn secrets_uncompressed(mut req: Request<Body>, next: middleware::Next) -> Response {
    if SECRET_ANSWERS.contains(&req.uri().path()) {
        req.headers_mut()
            .remove(axum::http::header::ACCEPT_ENCODING);
    }
    next.run(req).await
}

/// Server functions whose answer holds a token.
const SECRET_ANSWERS: &[&str] = &["/api/create_invite", "/api/start_transfer", "/api/bots"];

/// Puts the client's address (behind a trusted proxy, the one it
/// forwards) in the request, for the limits per address, and the host it
/// asked for, for links back to the chat.
async fn client_addr(
    State(trusted): State<Arc<Vec<std::net::IpAddr>>>,
    mut req: Request<Body>,
    next: middleware::Next,
) -> Response {
    let peer = req
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip());
    if let Some(peer) = peer {
        let ip = crate::limits::client_ip(peer, req.headers(), &trusted);
        req.extensions_mut()
            .insert(app::api::backend::ClientAddr(ip));
    }
    let host = origin::request_host(req.headers(), req.uri())
        .filter(|h| {
            !h.is_empty()
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
        })
        .map(str::to_owned);
    req.extensions_mut()
        .insert(app::api::backend::RequestHost(host));
    next.run(req).await
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
    page(state, device, form, RoomKey::Id(RoomId::DEFAULT), None, req).await
}

/// `GET /r/{slug}`: a room, archived ones too.
async fn room_page(
    state: State<AppState>,
    device: Extension<DeviceId>,
    form: Query<FormError>,
    Path(slug): Path<String>,
    req: Request,
) -> Response {
    page(state, device, form, RoomKey::Slug(slug), None, req).await
}

/// `GET /r/{slug}/m/{id}`: a message's permalink, the room at that
/// message. A message of another room, or none, is not found.
async fn message_page(
    state: State<AppState>,
    device: Extension<DeviceId>,
    form: Query<FormError>,
    Path((slug, id)): Path<(String, String)>,
    req: Request,
) -> Response {
    let Ok(id) = id.parse::<i64>() else {
        return crate::http::pages::not_found();
    };
    page(
        state,
        device,
        form,
        RoomKey::Slug(slug),
        Some(MessageId(id)),
        req,
    )
    .await
}

/// The chat showing one room, rendered with this device's identity, the
/// room list and the room's latest messages, which are also embedded for
/// hydration. Plain HTML that reads without JavaScript.
async fn page(
    State(state): State<AppState>,
    Extension(device): Extension<DeviceId>,
    Query(form): Query<FormError>,
    key: RoomKey,
    focus: Option<MessageId>,
    req: Request,
) -> Response {
    let snapshot = match state.chat.page_view(device, key, focus).await {
        Ok(Some(reads)) => ChatSnapshot {
            me: reads.me,
            rooms: reads.rooms,
            messages: reads.messages,
            focus,
            room: reads.room,
            seq: reads.seq,
            edit_window_secs: state.settings.edit_window_secs,
            name_error: form.name_error(),
            role: reads.standing.role,
            chat_name: state.chat.access().chat_name(),
        },
        Ok(None) => return crate::http::pages::not_found(),
        Err(crate::chat::ChatError::Denied(why)) => return crate::http::pages::denied(why),
        Err(e) => {
            tracing::error!(error = %e, "page could not be rendered");
            return crate::http::pages::unavailable();
        }
    };
    // Leptos adds the CSP nonce (put in the request by the header
    // middleware) to the inline scripts it renders.
    let nonce = req.extensions().get::<CspNonce>().cloned();
    // A page is kept compressed, for browsers that take brotli (all do,
    // over HTTPS); others get it rendered each time, through the
    // compression layer.
    let kept = match &nonce {
        Some(CspNonce(value)) if crate::http::compress::accepts_brotli(req.headers()) => state
            .pages
            .key(&snapshot)
            .map(|key| (key, value.clone(), state.pages.get(key))),
        _ => None,
    };
    if let Some((_, value, Some(page))) = &kept {
        if let Some(res) = page.response(value) {
            return identity::keep_device(res);
        }
    }
    // Only a page about to be kept is rendered with the stand-in; one
    // whose kept copy could not be joined is rendered with the real nonce.
    let render_nonce = match &kept {
        Some((_, _, None)) => Some(state.pages.stand_in().to_owned()),
        _ => nonce.map(|CspNonce(value)| value),
    };
    let preload = preload_links(&state.leptos);
    let leptos = state.leptos.clone();
    let style = state.assets.stylesheet().map(app::InlineStyle);
    let render = leptos_axum::render_app_async_with_context(
        move || {
            provide_context(snapshot.clone());
            if let Some(style) = style.clone() {
                provide_context(style);
            }
            if let Some(value) = render_nonce.clone() {
                provide_context(leptos::nonce::Nonce::from_value(value));
            }
        },
        move || shell(leptos.clone()),
    );
    let mut res = render(req).await.into_response();
    if let Ok(links) = axum::http::HeaderValue::from_str(&preload) {
        res.headers_mut().insert(axum::http::header::LINK, links);
    }
    if let Some((key, value, None)) = kept {
        // Rendered with the stand-in: it is only ever sent with the
        // request's nonce in its place.
        return match state
            .pages
            .keep(key, res)
            .await
            .and_then(|p| p.response(&value))
        {
            Some(res) => identity::keep_device(res),
            None => {
                tracing::error!("a rendered page could not be kept");
                crate::http::pages::unavailable()
            }
        };
    }
    // A new browser's first page hands it its device id.
    if res.status().is_success() {
        res = identity::keep_device(res);
    }
    res
}

/// The JS as a `Link` header: the browser starts fetching it as the
/// response arrives, before it has parsed the page (~0.05 s sooner on a
/// throttled phone). The WASM is not named here: WebKit would download it
/// twice (see `app::Hydration`); the page's first script requests it.
fn preload_links(options: &leptos::config::LeptosOptions) -> String {
    let (js, _) = app::bundle_urls(options);
    format!("<{js}>; rel=modulepreload; crossorigin")
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
    /// The name form's error, as the sentence the user should read. Decoded
    /// here rather than by a `ServerAction` in the page: the action form
    /// and its error decoding cost the first screen's WASM ~30 KB of
    /// brotli (measured), for a form that works the same without them.
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
        Some(slug) => match state
            .chat
            .readable_room(Some(device), RoomKey::Slug(slug))
            .await
        {
            Ok(Some(room)) => room.id,
            Ok(None) => return (StatusCode::NOT_FOUND, "There is no such room.").into_response(),
            Err(e) => return e.into_response(),
        },
    };
    match state
        .chat
        .page_before(Some(device), room, q.before.map(MessageId), limit)
        .await
    {
        Ok(messages) => Json::<Vec<ChatMessage>>(messages).into_response(),
        Err(e) => e.into_response(),
    }
}

/// Largest error answer a server function gives (a sentence in JSON).
const MAX_ERROR_BODY: usize = 64 * 1024;

/// Leptos answers every server function error with 500. Here the answer
/// gets the status its error means (`ApiError::status`: a refusal 403, a
/// bad value 422, a rate limit 429 with `Retry-After`, 500 only for a
/// fault), so monitoring and clients can tell a refusal from a crash. A
/// body in a type no server function reads is refused before it runs.
async fn server_fn_status(req: Request, next: middleware::Next) -> Response {
    use app::api::ApiError;
    use axum::http::header::{CONTENT_TYPE, RETRY_AFTER};
    use axum::http::HeaderValue;
    use leptos::server_fn::error::SERVER_FN_ERROR_HEADER;
    // No type at all is a call without arguments.
    let readable = req
        .headers()
        .get(CONTENT_TYPE)
        .map(|v| v.to_str().unwrap_or_default())
        .and_then(|v| v.split(';').next())
        .is_none_or(|t| {
            let t = t.trim();
            t.eq_ignore_ascii_case("application/x-www-form-urlencoded")
                || t.eq_ignore_ascii_case("application/json")
        });
    if req.method() == axum::http::Method::POST && !readable {
        let error = ApiError::Transport(
            "Send the request as a form (application/x-www-form-urlencoded) or as JSON.".into(),
        );
        let mut res = (StatusCode::UNSUPPORTED_MEDIA_TYPE, Json(error)).into_response();
        res.headers_mut()
            .insert(SERVER_FN_ERROR_HEADER, HeaderValue::from_static("1"));
        return res;
    }
    let res = next.run(req).await;
    if res.status() != StatusCode::INTERNAL_SERVER_ERROR
        || !res.headers().contains_key(SERVER_FN_ERROR_HEADER)
    {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_ERROR_BODY).await else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "server function failed").into_response();
    };
    if let Ok(error) = serde_json::from_slice::<ApiError>(&bytes) {
        parts.status =
            StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if let ApiError::RateLimited(secs) = error {
            parts.headers.insert(RETRY_AFTER, HeaderValue::from(secs));
        }
    }
    Response::from_parts(parts, Body::from(bytes))
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
        Ok(Ok(_)) if state.chat.hub().healthy() => match &state.acme {
            // How the certificate stands, for whoever reads this when
            // renewal fails; the old one keeps serving meanwhile.
            Some(acme) => format!("ok\n{}\n", acme.health()).into_response(),
            None => "ok".into_response(),
        },
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
