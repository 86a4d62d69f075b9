//! Opening an owner link (printed in the server's log) or an invite link
//! (made by an owner or moderator): both are one-purpose tokens, checked
//! against their stored hashes, rate-limited per address.

use crate::http::state::AppState;
use crate::limits;
use crate::store::InviteClaim;
use app::protocol::DeviceId;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::header::LOCATION;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use std::net::SocketAddr;

fn back_to_chat() -> Response {
    let mut res = StatusCode::SEE_OTHER.into_response();
    res.headers_mut()
        .insert(LOCATION, HeaderValue::from_static("/"));
    res
}

pub(crate) fn slow_down() -> Response {
    crate::http::pages::plain(
        StatusCode::TOO_MANY_REQUESTS,
        "Too many links opened",
        "<p>This address opened too many links in a short time. Wait a minute and \
         open the link again.</p>",
    )
}

fn try_again() -> Response {
    crate::http::pages::plain(
        StatusCode::INTERNAL_SERVER_ERROR,
        "The link could not be opened",
        "<p>The server could not check the link. Please open it again in a moment.</p>",
    )
}

/// True when this address may open another link now.
fn allowed(state: &AppState, peer: SocketAddr, headers: &HeaderMap) -> bool {
    let limits = state.chat.limits();
    let ip = limits::client_ip(peer.ip(), headers, &state.settings.trusted_proxies);
    limits.claims.check(&ip).is_ok()
}

/// `GET /owner/{token}`: this browser's device becomes the owner.
pub async fn owner(
    State(state): State<AppState>,
    Extension(device): Extension<DeviceId>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Response {
    if !allowed(&state, peer, &headers) {
        return slow_down();
    }
    match state.chat.claim_owner(&token, device).await {
        // A new browser keeps the device that now owns the chat.
        Ok(true) => crate::http::identity::keep_device(back_to_chat()),
        Ok(false) => crate::http::pages::plain(
            StatusCode::GONE,
            "This owner link no longer works",
            "<p>Owner links work once, for 24 hours. Run <code>server owner-link</code> \
             on the machine that runs the chat to print a new one.</p>\
             <p><a href=\"/\">Open the chat</a></p>",
        ),
        Err(e) => {
            tracing::error!(error = %e, "owner claim failed");
            try_again()
        }
    }
}

/// `GET /invite/{token}`: this browser's device becomes a member and may
/// pick a name.
pub async fn invite(
    State(state): State<AppState>,
    Extension(device): Extension<DeviceId>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Response {
    if !allowed(&state, peer, &headers) {
        return slow_down();
    }
    if state.chat.access().is_blocked(device) {
        return crate::http::pages::denied(crate::access::Denied::Blocked);
    }
    let gone = |title: &str, text: &str| {
        crate::http::pages::plain(
            StatusCode::GONE,
            title,
            &format!("<p>{text} Ask whoever sent it for a new one.</p>"),
        )
    };
    match state.chat.claim_invite(&token, device).await {
        Ok(InviteClaim::Admitted | InviteClaim::AlreadyMember) => {
            crate::http::identity::keep_device(back_to_chat())
        }
        Ok(InviteClaim::Unknown) => gone(
            "This invite does not exist",
            "The link may be mistyped or cut short.",
        ),
        Ok(InviteClaim::Revoked) => gone(
            "This invite was withdrawn",
            "The person who made it has revoked it.",
        ),
        Ok(InviteClaim::Expired) => gone("This invite has expired", "Its time is up."),
        Ok(InviteClaim::UsedUp) => gone(
            "This invite has been used",
            "It has let in as many people as it was made for.",
        ),
        Err(e) => {
            tracing::error!(error = %e, "invite claim failed");
            try_again()
        }
    }
}
