//! "Use on another device": one-time links that carry an identity.

use crate::common;

use app::api::TransferLink;
use common::{named, new_device, Client, Server};

async fn start_transfer(server: &Server, device: &str) -> reqwest::Response {
    common::http()
        .post(server.url("/api/start_transfer"))
        .header("cookie", common::cookie(device))
        .send()
        .await
        .expect("answers")
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(common::WAIT)
        .build()
        .expect("client")
}

/// Opens the link the way a second browser would and presses its button
/// (a same-origin form post), without following the redirect.
async fn claim(server: &Server, link: &TransferLink) -> reqwest::Response {
    let (_, token) = link.url.split_once("/claim/").expect("a claim link");
    let path = format!("/claim/{token}");
    let page = no_redirects()
        .get(server.url(&path))
        .send()
        .await
        .expect("the link answers");
    if page.status() != 200 {
        return page;
    }
    let html = page.text().await.expect("a page");
    assert!(html.contains(&format!("action=\"{path}\"")), "{html}");
    no_redirects()
        .post(server.url(&path))
        .header("origin", format!("http://{}", server.addr))
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .expect("claim answers")
}

fn claimed_device(res: &reqwest::Response) -> Option<String> {
    let set = res.headers().get("set-cookie")?.to_str().ok()?;
    Some(
        set.strip_prefix("device_id=")?
            .split(';')
            .next()?
            .to_owned(),
    )
}

#[tokio::test]
async fn a_transfer_link_gives_the_identity_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(dir.path());
    let dev = new_device();
    let ann = named(&server, &dev, "Ann").await;
    let res = start_transfer(&server, &dev).await;
    assert_eq!(res.status(), 200);
    let link: TransferLink = res.json().await.expect("link");
    assert!(link
        .url
        .starts_with(&format!("http://{}/claim/", server.addr)));
    assert!(link.qr_svg.starts_with("<?xml") && link.qr_svg.contains("<svg"));
    assert_eq!(link.expires_in_secs, 600);
    // Only a hash is stored: the database alone hands over nobody.
    let (_, token) = link.url.split_once("/claim/").expect("a claim link");
    let db = rusqlite::Connection::open(dir.path().join("chat.db")).expect("opens");
    let stored: String = db
        .query_row("SELECT token FROM transfer_tokens", [], |r| r.get(0))
        .expect("one token row");
    assert_ne!(stored, token);
    assert_eq!(stored.len(), 64);

    let first = claim(&server, &link).await;
    assert_eq!(first.status(), 303);
    assert_eq!(
        first
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok()),
        Some("/")
    );
    let got = claimed_device(&first).expect("cookie set");
    assert_eq!(got, dev, "the new browser becomes the same device");
    let (_c, me) = Client::joined(&server, &got).await;
    assert_eq!(me, Some(ann));

    let again = claim(&server, &link).await;
    assert_eq!(again.status(), 410, "works once");
    // The failed claim may mint a fresh device, but never hands out Ann's.
    assert_ne!(claimed_device(&again), Some(dev));
}

#[tokio::test]
async fn an_expired_or_made_up_link_fails() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start_with(dir.path(), &["--no-tls", "--transfer-ttl-secs", "0"]);
    let dev = new_device();
    named(&server, &dev, "Ann").await;
    let link: TransferLink = start_transfer(&server, &dev)
        .await
        .json()
        .await
        .expect("link");
    let res = claim(&server, &link).await;
    assert_eq!(res.status(), 410, "expired");
    let res = no_redirects()
        .get(server.url(&format!("/claim/{}", "ab".repeat(32))))
        .send()
        .await
        .expect("claim");
    assert_eq!(res.status(), 410, "unknown");
    let res = no_redirects()
        .get(server.url("/claim/..%2F.."))
        .send()
        .await
        .expect("claim");
    assert_eq!(res.status(), 410, "malformed");
}

#[tokio::test]
async fn a_device_without_a_name_cannot_make_a_link() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(dir.path());
    let res = start_transfer(&server, &new_device()).await;
    assert!(!res.status().is_success());
    let error: app::api::ApiError = res.json().await.expect("typed error");
    assert!(error.to_string().contains("name"), "{error}");
}
