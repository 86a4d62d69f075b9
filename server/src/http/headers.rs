//! Security headers on every response, including a Content-Security-Policy
//! whose per-response nonce Leptos puts on its inline hydration scripts.

use axum::extract::{Request, State};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, REFERRER_POLICY, STRICT_TRANSPORT_SECURITY,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::HeaderName;
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
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    // Whatever does not say otherwise is private to a device or to the
    // chat's members (pages, history, server functions, errors): no cache
    // may keep it. Public files set their own policy (hashed assets are
    // immutable; the worker, manifest and icons are revalidated). The
    // service worker's offline copy is kept through the Cache API, which
    // this does not touch.
    if !h.contains_key(CACHE_CONTROL) {
        h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
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
    // A window opened from another site gets no handle on the chat's, and
    // another site may not embed the chat's files (a photo's URL).
    h.insert(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        HeaderName::from_static("cross-origin-resource-policy"),
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        HeaderName::from_static("permissions-policy"),
        HeaderValue::from_static(PERMISSIONS_POLICY),
    );
    if policy.hsts {
        h.insert(
            STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    res
}

/// Powerful features the chat never uses, denied to it and to anything it
/// could ever embed. (Photos come through a file picker, which needs no
/// camera permission; notifications are not governed by this header.)
/// Only names Chromium knows: an unknown one is a console error.
pub const PERMISSIONS_POLICY: &str = "accelerometer=(), autoplay=(), camera=(), \
     display-capture=(), geolocation=(), gyroscope=(), hid=(), magnetometer=(), \
     microphone=(), midi=(), payment=(), publickey-credentials-get=(), \
     screen-wake-lock=(), serial=(), usb=(), xr-spatial-tracking=()";

/// Only what the app needs: its own scripts (plus the nonce'd inline
/// hydration scripts), WASM compilation, its own socket. Inline style
/// *attributes* carry the user colours; the one inline style element, the
/// page's stylesheet, carries the nonce (no other may apply).
pub fn content_security_policy(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self' 'nonce-{nonce}'; style-src-attr 'unsafe-inline'; img-src 'self' data:; \
         connect-src 'self'; manifest-src 'self'; worker-src 'self'; \
         frame-ancestors 'none'; object-src 'none'; base-uri 'none'; form-action 'self'"
    )
}
