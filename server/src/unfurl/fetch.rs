//! Fetching what a link points at, as the guard allows: every address
//! checked (the link's, each redirect's, and the one connected to), a few
//! redirects, a deadline, and a cap on what is read.

use crate::egress::Policy;
use reqwest::header::{ACCEPT, CONTENT_TYPE, LOCATION, USER_AGENT};
use std::time::Duration;

/// Redirects followed before giving up.
pub const MAX_REDIRECTS: usize = 5;

/// Why nothing usable came back; only logged and counted.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("refused: {0}")]
    Refused(crate::egress::Refused),
    #[error("more than {MAX_REDIRECTS} redirects")]
    TooManyRedirects,
    #[error("the server answered {0}")]
    Status(u16),
    #[error("not {0}")]
    Kind(&'static str),
    #[error("larger than {0} bytes")]
    TooLarge(usize),
    #[error("no answer in time")]
    Timeout,
    #[error("{0}")]
    Net(#[from] reqwest::Error),
}

impl FetchError {
    /// Refused by the guard (a private address), not a failure of the site.
    pub fn refused(&self) -> bool {
        match self {
            FetchError::Refused(_) => true,
            // The resolver refused every address the name has.
            FetchError::Net(e) => {
                let mut source: Option<&dyn std::error::Error> = Some(e);
                while let Some(s) = source {
                    if s.to_string().contains("has no public address") {
                        return true;
                    }
                    source = s.source();
                }
                false
            }
            _ => false,
        }
    }
}

/// What came back: where redirects led, and the body (up to the cap).
pub struct Fetched {
    pub url: url::Url,
    /// The `Content-Type` it came with, in lower case.
    pub kind: String,
    pub body: Vec<u8>,
}

/// Which kind of resource is wanted.
#[derive(Debug, Clone, Copy)]
pub enum Want {
    /// A page: read up to the cap and cut there (its head comes first).
    Page { max: usize },
    /// A picture: refused whole when larger than the cap.
    Image { max: usize },
}

pub struct Fetcher {
    client: reqwest::Client,
    policy: Policy,
    /// For the whole chain of redirects and the body.
    deadline: Duration,
}

impl Fetcher {
    pub fn new(policy: Policy, deadline: Duration) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .dns_resolver(std::sync::Arc::new(policy))
            // Each redirect is checked here before it is followed.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(deadline)
            .connect_timeout(deadline)
            .build()?;
        Ok(Self {
            client,
            policy,
            deadline,
        })
    }

    pub async fn get(&self, url: url::Url, want: Want) -> Result<Fetched, FetchError> {
        match tokio::time::timeout(self.deadline, self.follow(url, want)).await {
            Err(_) => Err(FetchError::Timeout),
            Ok(Err(FetchError::Net(e))) if e.is_timeout() => Err(FetchError::Timeout),
            Ok(done) => done,
        }
    }

    async fn follow(&self, mut url: url::Url, want: Want) -> Result<Fetched, FetchError> {
        let accept = match want {
            Want::Page { .. } => "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1",
            Want::Image { .. } => "image/jpeg,image/png,image/gif,image/webp,*/*;q=0.1",
        };
        for _ in 0..=MAX_REDIRECTS {
            self.policy.check_web(&url).map_err(FetchError::Refused)?;
            let mut response = self
                .client
                .get(url.clone())
                .header(ACCEPT, accept)
                .header(USER_AGENT, "Mozilla/5.0 (compatible; chat-link-preview)")
                .send()
                .await?;
            let status = response.status();
            if status.is_redirection() {
                let next = response
                    .headers()
                    .get(LOCATION)
                    .and_then(|l| l.to_str().ok())
                    .and_then(|l| url.join(l).ok())
                    .ok_or(FetchError::Status(status.as_u16()))?;
                url = next;
                continue;
            }
            if !status.is_success() {
                return Err(FetchError::Status(status.as_u16()));
            }
            let kind = response
                .headers()
                .get(CONTENT_TYPE)
                .and_then(|t| t.to_str().ok())
                .unwrap_or_default()
                .to_ascii_lowercase();
            let max = match want {
                Want::Page { max } => {
                    if !(kind.starts_with("text/html") || kind.starts_with("application/xhtml")) {
                        return Err(FetchError::Kind("a web page"));
                    }
                    max
                }
                // What a picture is, is judged by its bytes later.
                Want::Image { max } => max,
            };
            if let (Want::Image { .. }, Some(length)) = (want, response.content_length()) {
                if length > max as u64 {
                    return Err(FetchError::TooLarge(max));
                }
            }
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await? {
                if body.len() + chunk.len() > max {
                    if let Want::Image { .. } = want {
                        return Err(FetchError::TooLarge(max));
                    }
                    body.extend_from_slice(&chunk[..max - body.len()]);
                    break;
                }
                body.extend_from_slice(&chunk);
            }
            return Ok(Fetched { url, kind, body });
        }
        Err(FetchError::TooManyRedirects)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::{Body, Bytes};
    use axum::http::header;
    use axum::response::{IntoResponse, Redirect};
    use axum::routing::get;

    /// A site on a loopback port of its own; the policy lets that port
    /// alone through, as if it were the public internet.
    async fn site() -> (Fetcher, String, u16) {
        let app = axum::Router::new()
            .route(
                "/page",
                get(|| async {
                    (
                        [(header::CONTENT_TYPE, "text/html")],
                        "<title>Hello</title>",
                    )
                }),
            )
            .route(
                "/to-loopback",
                get(|| async { Redirect::temporary("http://127.0.0.1:9/admin") }),
            )
            .route(
                "/to-metadata",
                get(|| async { Redirect::temporary("http://169.254.169.254/latest/meta-data") }),
            )
            .route(
                "/huge",
                get(|| async {
                    // 50 MB, made as it is sent: only the first 1 MB is read.
                    let chunk = Bytes::from(vec![b'x'; 1024 * 1024]);
                    let chunks = (0..50).map(move |_| Ok::<_, std::io::Error>(chunk.clone()));
                    (
                        [(header::CONTENT_TYPE, "text/html")],
                        Body::from_stream(futures::stream::iter(chunks)),
                    )
                        .into_response()
                }),
            )
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                    "late"
                }),
            )
            .route(
                "/image",
                get(|| async { ([(header::CONTENT_TYPE, "image/png")], vec![0u8; 4096]) }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binds");
        let port = listener.local_addr().expect("addr").port();
        tokio::spawn(async move { axum::serve(listener, app).await });
        let policy = Policy {
            allow_loopback: true,
            loopback_port: Some(port),
        };
        let fetcher = Fetcher::new(policy, Duration::from_secs(2)).expect("a client");
        (fetcher, format!("http://127.0.0.1:{port}"), port)
    }

    fn url(s: String) -> url::Url {
        url::Url::parse(&s).expect("a url")
    }

    #[tokio::test]
    async fn redirects_to_loopback_or_metadata_are_refused() {
        let (fetcher, base, _) = site().await;
        let page = Want::Page { max: 1024 * 1024 };
        let ok = fetcher.get(url(format!("{base}/page")), page).await;
        assert_eq!(ok.expect("fetched").body, b"<title>Hello</title>");
        for path in ["to-loopback", "to-metadata"] {
            let refused = fetcher.get(url(format!("{base}/{path}")), page).await;
            assert!(
                matches!(&refused, Err(e) if e.refused()),
                "{path}: {:?}",
                refused.err()
            );
        }
    }

    #[tokio::test]
    async fn a_50_mb_page_is_cut_at_the_cap_and_a_large_image_refused() {
        let (fetcher, base, _) = site().await;
        let page = fetcher
            .get(url(format!("{base}/huge")), Want::Page { max: 1024 * 1024 })
            .await
            .expect("the head of it");
        assert_eq!(page.body.len(), 1024 * 1024);
        let image = fetcher
            .get(url(format!("{base}/image")), Want::Image { max: 1024 })
            .await;
        assert!(matches!(image, Err(FetchError::TooLarge(1024))));
    }

    #[tokio::test]
    async fn a_slow_site_and_a_non_page_give_nothing() {
        let (fetcher, base, _) = site().await;
        let slow = fetcher
            .get(url(format!("{base}/slow")), Want::Page { max: 1024 })
            .await;
        assert!(matches!(slow, Err(FetchError::Timeout)), "{:?}", slow.err());
        let not_html = fetcher
            .get(url(format!("{base}/image")), Want::Page { max: 1024 })
            .await;
        assert!(matches!(not_html, Err(FetchError::Kind(_))));
    }
}
