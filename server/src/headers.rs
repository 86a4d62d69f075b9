//! Security headers on every response, including a Content-Security-Policy
//! whose per-response nonce Leptos puts on its inline hydration scripts.

use axum::extract::{Request, State};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, REFERRER_POLICY, STRICT_TRANSPORT_SECURITY,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use std::sync::Arc;

/// The nonce of the response being rendered, shared with Leptos through
/// the request's extensions.
#[derive(Clone, Debug)]
pub struct CspNonce(pub String);

#[derive(Clone)]
pub struct HeaderPolicy {
    /// Send HSTS: only when this server itself terminates TLS.
    pub hsts: bool,
    /// Sent as `X-Chat-Version` so the service worker can tell releases apart.
    pub version: Arc<str>,
}

pub async fn security_headers(
    State(policy): State<HeaderPolicy>,
    mut req: Request,
    next: Next,
) -> Response {
    // 122 random bits, hex: a valid CSP nonce without another dependency.
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    req.extensions_mut().insert(CspNonce(nonce.clone()));
    // The page is always revalidated; hashed assets set their own
    // (immutable) policy.
    let revalidate = req.uri().path() == "/" || req.uri().path().starts_with("/pkg/");
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    if revalidate && !h.contains_key(CACHE_CONTROL) {
        h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    }
    if let Ok(v) = HeaderValue::from_str(&policy.version) {
        h.insert("x-chat-version", v);
    }
    if let Ok(csp) = HeaderValue::from_str(&content_security_policy(&nonce)) {
        h.insert(CONTENT_SECURITY_POLICY, csp);
    }
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // Not `no-referrer`: with it Chromium sends `Origin: null` on the
    // page's own form posts (the name form before hydration or without
    // JavaScript), which the same-origin check must refuse. `same-origin`
    // still sends nothing to other sites.
    h.insert(REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    h.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if policy.hsts {
        h.insert(
            STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    res
}

/// Only what the app needs: its own scripts (plus the nonce'd inline
/// hydration scripts), WASM compilation, its own socket. Inline style
/// *attributes* carry the user colours; inline style elements stay banned.
pub fn content_security_policy(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; style-src-attr 'unsafe-inline'; img-src 'self' data:; \
         connect-src 'self'; manifest-src 'self'; worker-src 'self'; \
         frame-ancestors 'none'; object-src 'none'; base-uri 'none'; form-action 'self'"
    )
}
