//! The anonymous `device_id` cookie: read it, or mint one, and hand the
//! `DeviceId` to every handler as an extension.
//!
//! A new device id is only handed out by a response that says it needs
//! one (`KeepDevice`: a page of the chat, an owner or invite link), never
//! by a static, cacheable or error response: a shared cache that stored
//! such a response would give one identity to everyone behind it, and
//! every crawler, prefetch and health check would mint a device.

use app::protocol::DeviceId;
use axum::extract::{Request, State};
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;

pub const COOKIE_NAME: &str = "device_id";
const ONE_YEAR_SECS: u64 = 365 * 24 * 60 * 60;

/// Whether the cookie gets `Secure` (only when served over TLS, or a
/// browser on plain HTTP would drop it).
#[derive(Clone, Copy)]
pub struct CookiePolicy {
    pub secure: bool,
}

/// Put in a response's extensions by a handler whose answer the device id
/// must outlive (the page, a claimed owner or invite link).
#[derive(Clone, Copy, Debug)]
pub struct KeepDevice;

/// Marks a response as one that hands out a new device id (if the
/// request had none).
pub fn keep_device(mut res: Response) -> Response {
    res.extensions_mut().insert(KeepDevice);
    res
}

pub async fn ensure_device(
    State(policy): State<CookiePolicy>,
    mut req: Request,
    next: Next,
) -> Response {
    let known = device_from_headers(req.headers());
    // Only a GET may mint. A POST without the cookie is either cross-site
    // (the browser withholds SameSite=Lax cookies there) or not a browser;
    // a cookie set in its answer would replace the real one.
    let may_mint = matches!(*req.method(), Method::GET | Method::HEAD);
    let device = known.unwrap_or_else(DeviceId::new_random);
    req.extensions_mut().insert(device);
    let mut res = next.run(req).await;
    // A handler that already chose the device (a transfer link) wins.
    let chosen = res
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .any(|v| v.as_bytes().starts_with(COOKIE_NAME.as_bytes()));
    let wanted = res.extensions().get::<KeepDevice>().is_some();
    if known.is_none() && may_mint && wanted && !chosen {
        if let Ok(value) = HeaderValue::from_str(&set_cookie(device, policy)) {
            res.headers_mut().append(SET_COOKIE, value);
        }
    }
    res
}

/// The device from a valid `device_id` cookie; a malformed one counts as
/// none and gets replaced.
pub fn device_from_headers(headers: &HeaderMap) -> Option<DeviceId> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|h| h.to_str().ok())
        .flat_map(|h| h.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .and_then(|(_, value)| DeviceId::parse(value.trim_matches('"')))
}

pub fn set_cookie(device: DeviceId, policy: CookiePolicy) -> String {
    let secure = if policy.secure { "; Secure" } else { "" };
    format!(
        "{COOKIE_NAME}={device}; Max-Age={ONE_YEAR_SECS}; Path=/; HttpOnly; SameSite=Lax{secure}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_is_found_among_others() {
        let id = DeviceId::new_random();
        let mut h = HeaderMap::new();
        let v = format!("theme=dark; {COOKIE_NAME}={id}; x=y");
        h.insert(COOKIE, HeaderValue::from_str(&v).expect("ascii"));
        assert_eq!(device_from_headers(&h), Some(id));
    }

    #[test]
    fn malformed_cookie_counts_as_missing() {
        let mut h = HeaderMap::new();
        h.insert(COOKIE, HeaderValue::from_static("device_id=../../etc"));
        assert_eq!(device_from_headers(&h), None);
    }

    #[test]
    fn set_cookie_has_the_required_attributes() {
        let c = set_cookie(DeviceId::new_random(), CookiePolicy { secure: true });
        for part in [
            "Max-Age=31536000",
            "Path=/",
            "HttpOnly",
            "SameSite=Lax",
            "Secure",
        ] {
            assert!(c.contains(part), "{c} lacks {part}");
        }
        let plain = set_cookie(DeviceId::new_random(), CookiePolicy { secure: false });
        assert!(!plain.contains("Secure"));
    }
}
