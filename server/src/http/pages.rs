//! Plain server-made pages (errors, expired links, instructions): one
//! layout, the chat's stylesheet, a way back. Bodies are fixed text
//! written here, never user input.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

pub fn plain(status: StatusCode, title: &str, body: &str) -> Response {
    (
        status,
        Html(format!(
            r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title><link rel="stylesheet" href="/pkg/chat.css"></head>
<body><main class="plain-page"><h1>{title}</h1>
{body}
</main></body></html>"#
        )),
    )
        .into_response()
}

/// Text for an HTML page: what a person wrote (a name) is shown as
/// text, never read as markup.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    app::rich::escape(text, &mut out);
    out
}

pub fn not_found() -> Response {
    plain(
        StatusCode::NOT_FOUND,
        "Page not found",
        r#"<p>There is nothing at this address.</p><p><a href="/">Open the chat</a></p>"#,
    )
}

pub fn unavailable() -> Response {
    plain(
        StatusCode::INTERNAL_SERVER_ERROR,
        "The chat could not load",
        r#"<p>The server could not read the conversation. Please try again in a moment.</p><p><a href="/">Try again</a></p>"#,
    )
}

/// What a device that may not use the chat sees instead of it: no
/// messages, no room names, nothing from the conversation.
pub fn denied(why: crate::access::Denied) -> Response {
    let mut res = match why {
        crate::access::Denied::Private => plain(
            StatusCode::FORBIDDEN,
            "This chat is private",
            "<p>Only members can read and write here. Ask a member for an invite \
             link and open it on this device.</p>\
             <p>Already a member on another device? Open the chat there, choose \
             <strong>Link device</strong> and open that link here.</p>",
        ),
        crate::access::Denied::Blocked => plain(
            StatusCode::FORBIDDEN,
            "You cannot use this chat",
            "<p>A moderator of this chat has blocked this device.</p>",
        ),
    };
    // The service worker drops its offline copy of the chat on seeing it.
    res.headers_mut().insert(
        "x-chat-access",
        axum::http::HeaderValue::from_static("refused"),
    );
    res
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn names_are_shown_as_text() {
        assert_eq!(
            escape(r#"<img src=x onerror="a('b')">&"#),
            "&lt;img src=x onerror=&quot;a(&#39;b&#39;)&quot;&gt;&amp;"
        );
    }
}
