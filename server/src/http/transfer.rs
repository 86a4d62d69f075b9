//! "Use on another device": a one-time link that gives another browser
//! (or the home-screen app, which has its own cookies) this identity.
//!
//! Opening the link only shows whose identity it carries; the person
//! confirms with a button, a same-origin POST. Otherwise another site
//! could send a browser to its own link and make its visitor talk as the
//! attacker (login CSRF), overwriting the visitor's own device id.

use crate::http::identity::{self, CookiePolicy};
use crate::http::pages::{escape, plain};
use crate::http::state::AppState;
use crate::limits;
use app::protocol::DeviceId;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use std::net::SocketAddr;

fn gone() -> Response {
    plain(
        StatusCode::GONE,
        "This link no longer works",
        "<p>Links to use the chat on another device work once, for a few minutes. \
         Open the chat on the device you already use and create a new one.</p>\
         <p><a href=\"/\">Open the chat</a></p>",
    )
}

fn well_formed(token: &str) -> bool {
    token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit())
}

/// True when this address may open another link now: tokens are 256-bit,
/// and this keeps anyone from trying at speed.
fn allowed(state: &AppState, peer: SocketAddr, headers: &HeaderMap) -> bool {
    let limits = state.chat.limits();
    let ip = limits::client_ip(peer.ip(), headers, &state.settings.trusted_proxies);
    limits.claims.check(&ip).is_ok()
}

/// `GET /claim/{token}`: says whose identity the link carries, what
/// happens to the one this browser has now, and asks to confirm.
pub async fn confirm(
    State(state): State<AppState>,
    Extension(device): Extension<DeviceId>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Response {
    if !allowed(&state, peer, &headers) {
        return crate::http::links::slow_down();
    }
    if !well_formed(&token) {
        return gone();
    }
    let (theirs, ours) = match state.chat.peek_transfer(token.clone()).await {
        Ok(Some(theirs)) => (theirs, state.chat.identity(device).await),
        Ok(None) => return gone(),
        Err(e) => return e.into_response(),
    };
    let (target, who) = theirs;
    if target == device {
        return plain(
            StatusCode::OK,
            "Already linked",
            &format!(
                "<p>This browser already uses the chat as <strong>{}</strong>.</p>\
                 <p><a href=\"/\">Open the chat</a></p>",
                escape(&who.name)
            ),
        );
    }
    let replaced = match ours {
        Ok(Some(me)) => format!(
            "<p class=\"warning\">This browser uses the chat as <strong>{}</strong> now. \
             Continuing replaces that name here; it stays on the other devices linked \
             to it. If this is its only device, it is no longer reachable from here.</p>",
            escape(&me.name)
        ),
        Ok(None) => String::new(),
        Err(e) => return e.into_response(),
    };
    let name = escape(&who.name);
    plain(
        StatusCode::OK,
        "Use the chat on this device",
        &format!(
            "<p>This link lets this browser use the chat as <strong>{name}</strong>, \
             with the same name and colour.</p>{replaced}\
             <form method=\"post\" action=\"/claim/{token}\">\
             <button type=\"submit\" class=\"join\">Continue as {name}</button></form>\
             <p><a href=\"/\">Not now</a></p>"
        ),
    )
}

/// `POST /claim/{token}` (the button above; cross-site posts are refused
/// before they get here): uses the token up, sets the cookie to the
/// original device and goes to the chat.
pub async fn claim(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Response {
    if !allowed(&state, peer, &headers) {
        return crate::http::links::slow_down();
    }
    // Browsers say where a request comes from; only the confirmation page
    // itself may post here.
    let site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    if site.is_some_and(|s| s != "same-origin") {
        return crate::http::origin::refused();
    }
    let device = if well_formed(&token) {
        match state.chat.claim_transfer(token).await {
            Ok(device) => device,
            Err(e) => return e.into_response(),
        }
    } else {
        None
    };
    let Some(device) = device else {
        return gone();
    };
    tracing::info!(?device, "identity transferred to another browser");
    let policy = CookiePolicy {
        secure: state.settings.cookie_secure(),
    };
    let mut res = StatusCode::SEE_OTHER.into_response();
    res.headers_mut()
        .insert(LOCATION, HeaderValue::from_static("/"));
    if let Ok(cookie) = HeaderValue::from_str(&identity::set_cookie(device, policy)) {
        res.headers_mut().insert(SET_COOKIE, cookie);
    }
    res
}
