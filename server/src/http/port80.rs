//! Plain HTTP (`--http-addr`, port 80): the answers to ACME HTTP-01
//! challenges, and a permanent redirect to HTTPS for everything else.
//! Nothing of the chat is served without TLS.

use crate::acme::Acme;
use crate::http::accept::CappedAcceptor;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone)]
struct Port80 {
    acme: Option<Arc<Acme>>,
    https_port: u16,
}

pub async fn serve(
    listener: std::net::TcpListener,
    acme: Option<Arc<Acme>>,
    https_port: u16,
    acceptor: CappedAcceptor,
    handle: axum_server::Handle<std::net::SocketAddr>,
) -> std::io::Result<()> {
    let app = Router::new()
        .route("/.well-known/acme-challenge/{token}", get(challenge))
        .fallback(redirect)
        .with_state(Port80 { acme, https_port });
    let mut server = axum_server::from_tcp(listener)?.handle(handle);
    server
        .http_builder()
        .http1()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(Duration::from_secs(10));
    server
        .acceptor(acceptor)
        .serve(app.into_make_service())
        .await
}

async fn challenge(State(s): State<Port80>, Path(token): Path<String>) -> Response {
    match s.acme.and_then(|a| a.certs().http_answer(&token)) {
        Some(answer) => ([(header::CONTENT_TYPE, "text/plain")], answer).into_response(),
        None => (StatusCode::NOT_FOUND, "no such challenge\n").into_response(),
    }
}

async fn redirect(State(s): State<Port80>, headers: HeaderMap, uri: Uri) -> Response {
    let asked = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(host_without_port)
        .filter(|h| !h.is_empty());
    // With names configured, only those are redirected to: a forged Host
    // cannot make this server send people elsewhere.
    let host = match (&s.acme, asked) {
        (Some(acme), Some(h)) if acme.domains().iter().any(|d| d.eq_ignore_ascii_case(h)) => {
            h.to_owned()
        }
        (Some(acme), _) => match acme.domains().first() {
            Some(d) => d.clone(),
            None => return (StatusCode::BAD_REQUEST, "no host\n").into_response(),
        },
        (None, Some(h)) => h.to_owned(),
        (None, None) => {
            return (StatusCode::BAD_REQUEST, "a Host header is needed\n").into_response()
        }
    };
    let port = match s.https_port {
        443 => String::new(),
        p => format!(":{p}"),
    };
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let location = format!("https://{host}{port}{path}");
    match axum::http::HeaderValue::from_str(&location) {
        Ok(v) => (StatusCode::PERMANENT_REDIRECT, [(header::LOCATION, v)]).into_response(),
        Err(_) => (StatusCode::BAD_REQUEST, "unusable host\n").into_response(),
    }
}

/// `example.com:80` → `example.com`; `[::1]:80` → `[::1]`.
fn host_without_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host.find(']').map_or(host, |end| &host[..=end]);
    }
    host.rsplit_once(':').map_or(host, |(h, _)| h)
}

#[cfg(test)]
mod tests {
    use super::host_without_port;

    #[test]
    fn a_host_loses_its_port_and_keeps_its_brackets() {
        assert_eq!(host_without_port("chat.example.com:80"), "chat.example.com");
        assert_eq!(host_without_port("chat.example.com"), "chat.example.com");
        assert_eq!(host_without_port("[::1]:80"), "[::1]");
        assert_eq!(host_without_port("[::1]"), "[::1]");
    }
}
