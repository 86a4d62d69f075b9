//! Link previews against a real site on loopback: the card follows the
//! message as a change, its picture is fetched and re-encoded by the
//! server, redirects and private addresses are checked, slow and huge
//! pages are bounded, the author can take the card away and the owner can
//! turn previews off.

use crate::access::{moderate, owned};
use crate::common;

use app::api::ModAction;
use app::protocol::{ChatMessage, ClientEvent, ClientMessageId, ErrorCode, ServerEvent};
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use common::{free_port, metric, named, new_device, Client, Server};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A small web site: its pages, and how often each was asked for.
#[derive(Clone, Default)]
struct Site {
    hits: Arc<Mutex<HashMap<String, usize>>>,
}

impl Site {
    fn hits(&self, path: &str) -> usize {
        self.hits
            .lock()
            .map(|h| h.get(path).copied().unwrap_or(0))
            .unwrap_or(0)
    }
}

const PAGE: &str = r#"<!doctype html><html><head>
<title>Fallback title</title>
<meta property="og:title" content="Lunch &amp; learn: &lt;Rust&gt;">
<meta property="og:description" content="Every Friday, in the big room.">
<meta property="og:site_name" content="Team wiki">
<meta property="og:image" content="/card.png">
</head><body><script>alert(1)</script></body></html>"#;

async fn serve(State(site): State<Site>, Path(path): Path<String>) -> Response {
    if let Ok(mut hits) = site.hits.lock() {
        *hits.entry(path.clone()).or_default() += 1;
    }
    let html = |body: String| ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body);
    match path.as_str() {
        "page" | "page2" => html(PAGE.to_owned()).into_response(),
        "card.png" => (
            [(header::CONTENT_TYPE, "image/png")],
            common::png(1200, 600),
        )
            .into_response(),
        "to-private" => Redirect::temporary("http://10.0.0.1/secret").into_response(),
        "slow" => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            html(PAGE.to_owned()).into_response()
        }
        "huge" => {
            // The head's title, then 2 MB, then tags past the cap.
            let mut body = String::from("<html><head><title>Head title</title>");
            body.push_str(&format!("<!-- {} -->", "x".repeat(2 * 1024 * 1024)));
            body.push_str(r#"<meta property="og:title" content="Too far"></head></html>"#);
            html(body).into_response()
        }
        "pdf" => ([(header::CONTENT_TYPE, "application/pdf")], "%PDF-1.4").into_response(),
        hop => match hop.strip_prefix("hop").and_then(|n| n.parse::<u32>().ok()) {
            Some(0) => Redirect::temporary("/page").into_response(),
            Some(n) => Redirect::temporary(&format!("/hop{}", n - 1)).into_response(),
            None => StatusCode::NOT_FOUND.into_response(),
        },
    }
}

/// The site on a free loopback port; its base URL.
async fn site() -> (Site, String) {
    let site = Site::default();
    let app = axum::Router::new()
        .route("/{*path}", get(serve))
        .with_state(site.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (site, base)
}

/// A chat that previews loopback pages, with its metrics port.
fn chat(dir: &std::path::Path, loopback: bool) -> (Server, u16) {
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut flags = vec!["--no-tls", "--metrics-addr", &addr];
    if loopback {
        flags.push("--preview-allow-loopback");
    }
    (Server::start_with(dir, &flags), port)
}

/// The next `Message` event about message `id`.
async fn change_of(client: &mut Client, id: app::protocol::MessageId) -> ChatMessage {
    client
        .next_matching(|e| match e {
            ServerEvent::Message { message } if message.id == id => Some(message),
            _ => None,
        })
        .await
}

async fn posted(client: &mut Client, text: &str) -> ChatMessage {
    client.say(text).await;
    client
        .next_matching(|e| match e {
            ServerEvent::Message { message } if message.msg == text => Some(message),
            _ => None,
        })
        .await
}

/// Waits (bounded) until a counter reaches `at_least`.
async fn counted(port: u16, name: &str, at_least: f64) {
    for _ in 0..200 {
        if metric(port, name).await >= at_least {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{name} never reached {at_least}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_gets_its_card_after_the_message_with_a_picture_fetched_by_the_server() {
    let (site, base) = site().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let (server, _) = chat(dir.path(), true);
    let ann = new_device();
    named(&server, &ann, "Ann").await;
    let (mut author, _) = Client::joined(&server, &ann).await;
    let bob = new_device();
    named(&server, &bob, "Bob").await;
    let (mut reader, _) = Client::joined(&server, &bob).await;

    let text = format!("Friday: {base}/page");
    let sent = posted(&mut author, &text).await;
    // The message itself goes out at once, without its card.
    let first = change_of(&mut reader, sent.id).await;
    assert!(first.preview.is_none());
    let carded = change_of(&mut reader, sent.id).await;
    let card = carded.preview.expect("a card");
    assert_eq!(card.url, format!("{base}/page"));
    assert_eq!(card.title, "Lunch & learn: <Rust>");
    assert_eq!(card.description, "Every Friday, in the big room.");
    assert_eq!(card.site, "Team wiki");
    let image = card.image.expect("a picture");
    assert_eq!((image.width, image.height), (480, 240), "thumbnail size");

    // The picture comes from the chat, re-encoded, not from the site.
    let res = common::http()
        .get(server.url(&format!("/files/{}", image.id)))
        .header("cookie", common::cookie(&bob))
        .send()
        .await
        .expect("answers");
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "image/jpeg");
    let bytes = res.bytes().await.expect("bytes");
    let decoded = image::load_from_memory(&bytes).expect("a picture");
    assert_eq!((decoded.width(), decoded.height()), (480, 240));
    assert_eq!(site.hits("card.png"), 1);

    // History carries the card; the same link again is not fetched again.
    let history = common::history(&server).await;
    let stored = history.iter().find(|m| m.id == sent.id).expect("stored");
    assert_eq!(
        stored.preview.as_ref().map(|p| p.title.as_str()),
        Some("Lunch & learn: <Rust>")
    );
    let again = posted(&mut author, &format!("again {base}/page")).await;
    let carded = change_of(&mut author, again.id).await;
    assert!(carded.preview.is_some());
    assert_eq!(site.hits("page"), 1, "cached per URL");
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_are_followed_five_times_at_most_and_private_addresses_never() {
    let (site, base) = site().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let (server, metrics) = chat(dir.path(), true);
    let ann = new_device();
    named(&server, &ann, "Ann").await;
    let (mut author, _) = Client::joined(&server, &ann).await;

    // hop4 → hop3 → … → hop0 → page: five redirects.
    let sent = posted(&mut author, &format!("{base}/hop4")).await;
    let carded = change_of(&mut author, sent.id).await;
    assert_eq!(carded.preview.map(|p| p.url), Some(format!("{base}/hop4")));
    // Six are too many: the chain stops before the page.
    let page_hits = site.hits("page");
    posted(&mut author, &format!("{base}/hop5")).await;
    counted(metrics, "chat_previews_failed_total", 1.0).await;
    assert_eq!(site.hits("page"), page_hits);
    assert_eq!(site.hits("hop0"), 2, "the sixth redirect was not followed");

    // A redirect to a private address, and a metadata address itself.
    posted(&mut author, &format!("{base}/to-private")).await;
    counted(metrics, "chat_previews_refused_total", 1.0).await;
    posted(&mut author, "http://169.254.169.254/latest/meta-data").await;
    counted(metrics, "chat_previews_refused_total", 2.0).await;
    // Not a web page: no card.
    posted(&mut author, &format!("{base}/pdf")).await;
    counted(metrics, "chat_previews_failed_total", 2.0).await;
    assert_eq!(metric(metrics, "chat_previews_made_total").await, 1.0);
    let history = common::history(&server).await;
    assert_eq!(history.iter().filter(|m| m.preview.is_some()).count(), 1);
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_on_the_internet_does_not_fetch_loopback_links() {
    let (site, base) = site().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let (server, metrics) = chat(dir.path(), false);
    let ann = new_device();
    named(&server, &ann, "Ann").await;
    let (mut author, _) = Client::joined(&server, &ann).await;
    posted(&mut author, &format!("{base}/page")).await;
    posted(&mut author, "http://localhost:9/").await;
    counted(metrics, "chat_previews_refused_total", 2.0).await;
    assert_eq!(site.hits("page"), 0);
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_huge_pages_are_bounded_and_hold_up_nothing() {
    let (_site, base) = site().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let (server, metrics) = chat(dir.path(), true);
    let ann = new_device();
    named(&server, &ann, "Ann").await;
    let (mut author, _) = Client::joined(&server, &ann).await;

    // The slow page is still loading while later messages come and go.
    let slow = posted(&mut author, &format!("{base}/slow")).await;
    let after = posted(&mut author, "still here").await;
    assert!(after.id > slow.id);
    // Only the head of a huge page is read: the tags past 1 MB are not.
    let huge = posted(&mut author, &format!("{base}/huge")).await;
    let carded = change_of(&mut author, huge.id).await;
    assert_eq!(
        carded.preview.map(|p| p.title),
        Some("Head title".to_owned())
    );
    // The slow page is given up on (5 s), and gets no card.
    counted(metrics, "chat_previews_failed_total", 1.0).await;
    let history = common::history(&server).await;
    let stored = history.iter().find(|m| m.id == slow.id).expect("stored");
    assert!(stored.preview.is_none());
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_author_takes_the_card_away_and_the_owner_turns_previews_off() {
    let (site, base) = site().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let metrics = free_port();
    let addr = format!("127.0.0.1:{metrics}");
    let (server, ann) = owned(
        dir.path(),
        &["--preview-allow-loopback", "--metrics-addr", &addr],
    )
    .await;
    let (mut author, _) = Client::joined(&server, &ann).await;
    let bob = new_device();
    named(&server, &bob, "Bob").await;
    let (mut other, _) = Client::joined(&server, &bob).await;

    let sent = posted(&mut author, &format!("{base}/page")).await;
    let carded = change_of(&mut author, sent.id).await;
    assert!(carded.preview.is_some());
    // Not someone else's to take away.
    let client_id = ClientMessageId::new_random();
    other
        .send_event(&ClientEvent::HidePreview {
            client_id,
            message_id: sent.id,
        })
        .await;
    let code = other
        .next_matching(|e| match e {
            ServerEvent::Error {
                code,
                client_id: Some(c),
                ..
            } if c == client_id => Some(code),
            _ => None,
        })
        .await;
    assert_eq!(code, ErrorCode::NotAuthor);
    author
        .send_event(&ClientEvent::HidePreview {
            client_id: ClientMessageId::new_random(),
            message_id: sent.id,
        })
        .await;
    let hidden = change_of(&mut other, sent.id).await;
    assert!(hidden.preview.is_none());
    let history = common::history(&server).await;
    let stored = history.iter().find(|m| m.id == sent.id).expect("stored");
    assert!(stored.preview.is_none(), "gone for good");

    // Off: the owner's setting, and nothing is fetched any more.
    let admin = moderate(&server, &ann, ModAction::SetPreviews { on: false })
        .await
        .expect("the owner may");
    assert!(!admin.previews);
    assert!(moderate(&server, &bob, ModAction::SetPreviews { on: true })
        .await
        .is_err());
    posted(&mut author, &format!("{base}/page2")).await;
    counted(metrics, "chat_previews_skipped_total", 1.0).await;
    assert_eq!(site.hits("page2"), 0);
    server.stop();
}
