//! Cross-site WebSocket hijacking defence: the handshake must come from the
//! chat's own origin or one explicitly allowed by configuration.

use axum::extract::{Request, State};
use axum::http::header::{HOST, ORIGIN};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::Response;
use std::sync::Arc;

/// Refuses state-changing requests (server function calls, form posts)
/// sent by another site's page.
pub async fn same_origin_writes(
    State(allowed): State<Arc<Vec<String>>>,
    req: Request,
    next: Next,
) -> Response {
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if !safe && !is_allowed(req.headers(), req.uri(), &allowed) {
        tracing::warn!(origin = ?req.headers().get(ORIGIN), path = %req.uri().path(), "cross-site write refused");
        return crate::pages::plain(
            StatusCode::FORBIDDEN,
            "Cross-site requests are not allowed",
            "<p>This request came from another website, so the chat refused it to keep \
             your identity safe. Nothing was changed.</p><p><a href=\"/\">Open the chat</a></p>",
        );
    }
    next.run(req).await
}

/// The authority the request was sent to: the `Host` header in HTTP/1.1,
/// the `:authority` pseudo-header (kept in the URI) in HTTP/2.
pub fn request_host<'a>(headers: &'a HeaderMap, uri: &'a Uri) -> Option<&'a str> {
    headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| uri.authority().map(|a| a.as_str()))
}

/// True when the request's `Origin` is the host it was sent to, or exactly
/// one of `allowed` (`scheme://host[:port]`). A request without `Origin`
/// is not from a browser page, so it cannot carry a victim's cookie on a
/// hostile page's behalf, and is let through.
pub fn is_allowed(headers: &HeaderMap, uri: &Uri, allowed: &[String]) -> bool {
    let Some(origin) = headers.get(ORIGIN) else {
        return true;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    if allowed.iter().any(|a| a.eq_ignore_ascii_case(origin)) {
        return true;
    }
    let Some((_, authority)) = origin.split_once("://") else {
        return false;
    };
    request_host(headers, uri).is_some_and(|h| h.eq_ignore_ascii_case(authority))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn is_allowed_for(h: &HeaderMap, allowed: &[String]) -> bool {
        is_allowed(h, &Uri::from_static("/ws"), allowed)
    }

    #[test]
    fn http2_authority_counts_as_the_host() {
        let mut h = HeaderMap::new();
        h.insert(ORIGIN, HeaderValue::from_static("https://chat.local:8443"));
        let uri = Uri::from_static("https://chat.local:8443/api/set_name");
        assert!(is_allowed(&h, &uri, &[]));
        let other = Uri::from_static("https://other.local/api/set_name");
        assert!(!is_allowed(&h, &other, &[]));
    }

    fn headers(origin: Option<&'static str>, host: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(HOST, HeaderValue::from_static(host));
        if let Some(o) = origin {
            h.insert(ORIGIN, HeaderValue::from_static(o));
        }
        h
    }

    #[test]
    fn same_origin_is_allowed() {
        assert!(is_allowed_for(
            &headers(Some("https://chat.local:8443"), "chat.local:8443"),
            &[]
        ));
    }

    #[test]
    fn other_site_is_refused() {
        assert!(!is_allowed_for(
            &headers(Some("https://evil.example"), "chat.local:8443"),
            &[]
        ));
    }

    #[test]
    fn lookalike_hosts_are_refused() {
        let h = headers(
            Some("https://chat.local:8443.evil.example"),
            "chat.local:8443",
        );
        assert!(!is_allowed_for(&h, &[]));
        assert!(!is_allowed_for(&headers(Some("null"), "chat.local"), &[]));
    }

    #[test]
    fn configured_origin_is_allowed_exactly() {
        let allowed = vec!["https://chat.example.org".to_owned()];
        assert!(is_allowed_for(
            &headers(Some("https://chat.example.org"), "10.0.0.2:8443"),
            &allowed
        ));
        assert!(!is_allowed_for(
            &headers(Some("https://chat.example.org.evil"), "10.0.0.2:8443"),
            &allowed
        ));
    }
}
