//! Trusting the generated local CA from a phone: the certificate itself
//! and a page that walks through the iOS settings.

use crate::http::state::AppState;
use crate::http::tls;
use axum::extract::State;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// `GET /ca.pem`: the local CA, with the type iOS offers to install as a
/// profile. Only when this server generated its own certificates.
pub async fn ca_certificate(State(state): State<AppState>) -> Response {
    if !state.settings.tls() {
        return StatusCode::NOT_FOUND.into_response();
    }
    match tokio::fs::read(tls::ca_path(&state.settings.cert)).await {
        Ok(pem) => (
            [
                (CONTENT_TYPE, "application/x-x509-ca-cert"),
                (
                    CONTENT_DISPOSITION,
                    "attachment; filename=\"chat-local-ca.crt\"",
                ),
            ],
            pem,
        )
            .into_response(),
        Err(_) => (
            StatusCode::NOT_FOUND,
            "This server uses its own certificate; there is no local CA to trust.",
        )
            .into_response(),
    }
}

/// `GET /trust`: how to trust the local CA on an iPhone.
pub async fn trust_page() -> Response {
    crate::http::pages::plain(StatusCode::OK, "Trust this chat on your iPhone", TRUST_BODY)
}

const TRUST_BODY: &str = r#"<p>This chat made its own certificate authority so it can use HTTPS on your
home network. Trust it once and Safari and the home-screen app connect
without warnings.</p>
<ol>
<li><a href="/ca.pem">Download the certificate</a> in Safari and tap <b>Allow</b>.</li>
<li>Open <b>Settings → General → VPN &amp; Device Management</b>, tap
<b>Chat local CA</b> and <b>Install</b>.</li>
<li>Open <b>Settings → General → About → Certificate Trust Settings</b> and
switch on <b>Chat local CA</b>.</li>
<li>Come back and <a href="/">open the chat</a>. To install it, tap Share →
<b>Add to Home Screen</b>.</li>
</ol>
<p>Using your own certificate instead? Then none of this is needed.</p>"#;
