//! Cross-site WebSocket hijacking and request forgery defence: the
//! handshake and every write must come from the chat's own origin (its
//! scheme, host and port) or one explicitly allowed by configuration.

use axum::extract::{Request, State};
use axum::http::header::{HOST, ORIGIN};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::Response;
use std::sync::Arc;

/// The chat's own origin and the others allowed.
#[derive(Debug, Clone)]
pub struct OriginPolicy {
    /// Extra origins (`scheme://host[:port]`), matched exactly.
    pub allowed: Vec<String>,
    /// The scheme the chat is reached over: an `http://` page of the same
    /// host is another origin than the HTTPS chat.
    pub scheme: &'static str,
}

impl OriginPolicy {
    /// The chat's own origin as configured, and the others allowed.
    pub fn of(settings: &crate::config::Settings) -> Self {
        Self {
            allowed: settings.allowed_origins.clone(),
            scheme: settings.public_scheme(),
        }
    }
}

/// Refuses state-changing requests (server function calls, form posts)
/// sent by another site's page.
pub async fn same_origin_writes(
    State(policy): State<Arc<OriginPolicy>>,
    req: Request,
    next: Next,
) -> Response {
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if !safe && !is_allowed(req.headers(), req.uri(), &policy) {
        tracing::warn!(origin = ?req.headers().get(ORIGIN), path = %req.uri().path(), "cross-site write refused");
        return refused();
    }
    next.run(req).await
}

/// The answer to a write another site's page sent.
pub fn refused() -> Response {
    crate::http::pages::plain(
        StatusCode::FORBIDDEN,
        "Cross-site requests are not allowed",
        "<p>This request came from another website, so the chat refused it to keep \
         your identity safe. Nothing was changed.</p><p><a href=\"/\">Open the chat</a></p>",
    )
}

/// The authority the request was sent to: the `Host` header in HTTP/1.1,
/// the `:authority` pseudo-header (kept in the URI) in HTTP/2.
pub fn request_host<'a>(headers: &'a HeaderMap, uri: &'a Uri) -> Option<&'a str> {
    headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| uri.authority().map(|a| a.as_str()))
}

/// True when the request's `Origin` is the chat's scheme and the host it
/// was sent to, or exactly one of the allowed origins. A request without
/// `Origin` is not from a browser page, so it cannot carry a victim's
/// cookie on a hostile page's behalf, and is let through.
pub fn is_allowed(headers: &HeaderMap, uri: &Uri, policy: &OriginPolicy) -> bool {
    let Some(origin) = headers.get(ORIGIN) else {
        return true;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    if policy
        .allowed
        .iter()
        .any(|a| a.eq_ignore_ascii_case(origin))
    {
        return true;
    }
    let Some((scheme, authority)) = origin.split_once("://") else {
        return false;
    };
    scheme.eq_ignore_ascii_case(policy.scheme)
        && request_host(headers, uri).is_some_and(|h| h.eq_ignore_ascii_case(authority))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn policy(allowed: &[String]) -> OriginPolicy {
        OriginPolicy {
            allowed: allowed.to_vec(),
            scheme: "https",
        }
    }

    fn is_allowed_for(h: &HeaderMap, allowed: &[String]) -> bool {
        is_allowed(h, &Uri::from_static("/ws"), &policy(allowed))
    }

    #[test]
    fn http2_authority_counts_as_the_host() {
        let mut h = HeaderMap::new();
        h.insert(ORIGIN, HeaderValue::from_static("https://chat.local:8443"));
        let uri = Uri::from_static("https://chat.local:8443/api/set_name");
        assert!(is_allowed(&h, &uri, &policy(&[])));
        let other = Uri::from_static("https://other.local/api/set_name");
        assert!(!is_allowed(&h, &other, &policy(&[])));
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
    fn the_same_host_over_another_scheme_is_another_origin() {
        assert!(!is_allowed_for(
            &headers(Some("http://chat.local:8443"), "chat.local:8443"),
            &[]
        ));
        let plain = OriginPolicy {
            allowed: Vec::new(),
            scheme: "http",
        };
        let h = headers(Some("http://chat.local:8080"), "chat.local:8080");
        assert!(is_allowed(&h, &Uri::from_static("/ws"), &plain));
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
