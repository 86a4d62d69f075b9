//! "Use on another device": a one-time link that gives another browser
//! (or the home-screen app, which has its own cookies) this identity.

use crate::identity::{self, CookiePolicy};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// `GET /claim/{token}`: on a valid, unused, unexpired token, set the
/// cookie to the original device and go to the chat.
pub async fn claim(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    let valid = token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit());
    let device = if valid {
        match state.chat.claim_transfer(token).await {
            Ok(device) => device,
            Err(e) => return e.into_response(),
        }
    } else {
        None
    };
    let Some(device) = device else {
        return crate::pages::plain(
            StatusCode::GONE,
            "This link no longer works",
            "<p>Links to use the chat on another device work once, for a few minutes. \
             Open the chat on the device you already use and create a new one.</p>\
             <p><a href=\"/\">Open the chat</a></p>",
        );
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
