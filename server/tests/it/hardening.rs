//! The holes an outside probe found (issue "Hardening"), one test or more
//! each, against the real server: what a socket reads after the chat turns
//! private, login CSRF on transfer links, decompression bombs, slow
//! clients, free identities, cookies on cacheable answers, caching of
//! private answers, isolation headers and error statuses.

use crate::access::{moderate, owned};
use crate::common::{self, named, new_device, Client, Server};
use app::api::ModAction;
use app::protocol::{close_code, ErrorCode, ServerEvent};
use std::io::Write;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(common::WAIT)
        .build()
        .expect("client")
}

fn header<'a>(res: &'a reqwest::Response, name: &str) -> &'a str {
    res.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

async fn said(tab: &mut Client, text: &str) {
    tab.say(text).await;
    tab.next_matching(|e| match e {
        ServerEvent::Ack { .. } => Some(()),
        _ => None,
    })
    .await;
}

/// Waits for the socket to be told it is refused, and closed.
async fn refused_and_closed(tab: &mut Client, code: ErrorCode, close: u16) {
    tab.next_matching(|e| match e {
        ServerEvent::Error { code: c, .. } if c == code => Some(()),
        ServerEvent::Message { message } => panic!("read {:?} after the change", message.msg),
        _ => None,
    })
    .await;
    assert_eq!(tab.close_code().await, Some(close));
}

// 1. An open socket keeps reading a chat that turned invite-only.

#[tokio::test]
async fn a_socket_opened_while_the_chat_was_open_reads_nothing_once_it_turns_private() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (server, ann) = owned(dir.path(), &[]).await;
    let bo = new_device();
    named(&server, &bo, "Bo").await;
    let (mut ann_tab, _) = Client::joined(&server, &ann).await;
    let (mut bo_tab, _) = Client::joined(&server, &bo).await;
    // A device without a name looks on while the chat is open.
    let (mut onlooker, me) = Client::joined(&server, &new_device()).await;
    assert!(me.is_none());
    said(&mut ann_tab, "while open").await;
    onlooker
        .next_matching(|e| match e {
            ServerEvent::Message { message } if message.msg == "while open" => Some(()),
            _ => None,
        })
        .await;

    moderate(&server, &ann, ModAction::SetAccess { invite_only: true })
        .await
        .expect("the owner may");
    // At once: told why, and closed, before anything more of the chat.
    refused_and_closed(&mut onlooker, ErrorCode::Private, close_code::PRIVATE).await;

    // Members named before the switch read on.
    said(&mut ann_tab, "members only").await;
    bo_tab
        .next_matching(|e| match e {
            ServerEvent::Message { message } if message.msg == "members only" => Some(()),
            _ => None,
        })
        .await;
}

// 2. Login CSRF on transfer links.

#[tokio::test]
async fn a_transfer_link_opened_from_another_site_changes_nothing_until_confirmed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(dir.path());
    let attacker = new_device();
    named(&server, &attacker, "Mallory").await;
    let link: app::api::TransferLink = common::server_fn(&server, &attacker, "start_transfer", &[])
        .await
        .json()
        .await
        .expect("a link");
    let path = link
        .url
        .split_once("/claim/")
        .map(|(_, t)| format!("/claim/{t}"));
    let path = path.expect("a claim path");
    let victim = new_device();
    named(&server, &victim, "Vic").await;

    // The attacker's page sends the victim's browser to the link.
    for _ in 0..2 {
        let res = no_redirects()
            .get(server.url(&path))
            .header("cookie", common::cookie(&victim))
            .header("sec-fetch-site", "cross-site")
            .header("sec-fetch-mode", "navigate")
            .send()
            .await
            .expect("answers");
        assert_eq!(res.status(), 200, "a page to confirm on, not a redirect");
        assert!(
            res.headers().get("set-cookie").is_none(),
            "no identity swap"
        );
        let html = res.text().await.expect("html");
        assert!(html.contains("Mallory"), "says whose identity it is");
        assert!(html.contains("Vic"), "says which one it replaces");
        assert!(html.contains("method=\"post\""));
    }
    // A cross-site form post of the button is refused.
    let res = no_redirects()
        .post(server.url(&path))
        .header("cookie", common::cookie(&victim))
        .header("origin", "https://evil.example")
        .send()
        .await
        .expect("answers");
    assert_eq!(res.status(), 403);
    assert!(res.headers().get("set-cookie").is_none());
    let res = no_redirects()
        .post(server.url(&path))
        .header("cookie", common::cookie(&victim))
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .expect("answers");
    assert_eq!(
        res.status(),
        403,
        "a browser's own word that it is cross-site"
    );
    assert!(res.headers().get("set-cookie").is_none());

    // The person on the page presses the button: same origin.
    let res = no_redirects()
        .post(server.url(&path))
        .header("cookie", common::cookie(&victim))
        .header("origin", format!("http://{}", server.addr))
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .expect("answers");
    assert_eq!(res.status(), 303);
    assert!(header(&res, "set-cookie").contains(&format!("device_id={attacker}")));
    // Used up.
    let res = no_redirects()
        .get(server.url(&path))
        .send()
        .await
        .expect("answers");
    assert_eq!(res.status(), 410);
}

// 3. Decompression bombs in parallel.

/// A PNG of `side`×`side` black RGB pixels: tiny on disk, `side²×3`
/// bytes decoded.
fn black_png(side: u32) -> Vec<u8> {
    let chunk = |out: &mut Vec<u8>, kind: &[u8], data: &[u8]| {
        out.extend((data.len() as u32).to_be_bytes());
        out.extend(kind);
        out.extend(data);
        let mut crc = flate2::Crc::new();
        crc.update(kind);
        crc.update(data);
        out.extend(crc.sum().to_be_bytes());
    };
    let mut ihdr = side.to_be_bytes().to_vec();
    ihdr.extend(side.to_be_bytes());
    ihdr.extend([8, 2, 0, 0, 0]);
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    let row = vec![0u8; 1 + side as usize * 3];
    for _ in 0..side {
        z.write_all(&row).expect("compresses");
    }
    let data = z.finish().expect("compressed");
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", &data);
    chunk(&mut out, b"IEND", &[]);
    out
}

async fn upload(server: &Server, device: &str, body: Vec<u8>) -> reqwest::Response {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .expect("client")
        .post(server.url("/upload?name=photo.png"))
        .header("cookie", common::cookie(device))
        .body(body)
        .send()
        .await
        .expect("answers")
}

/// Four named devices upload `photo` at once; their statuses.
async fn four_at_once(server: &Server, photo: &[u8]) -> Vec<u16> {
    let mut devices = Vec::new();
    for i in 0..4 {
        let d = new_device();
        named(server, &d, &format!("Up{i}")).await;
        devices.push(d);
    }
    let uploads = devices
        .iter()
        .map(|d| async move { upload(server, d, photo.to_vec()).await.status().as_u16() });
    futures::future::join_all(uploads).await
}

#[tokio::test]
async fn four_decompression_bombs_at_once_are_refused_before_decoding() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(dir.path());
    // 12000×12000: 432 MB decoded from a few hundred KB.
    let bomb = black_png(12_000);
    assert!(bomb.len() < 2 << 20, "a small file: {} bytes", bomb.len());
    let before = server.peak_rss_kib();
    let statuses = four_at_once(&server, &bomb).await;
    assert_eq!(statuses, vec![422; 4]);
    let peak = server.peak_rss_kib();
    eprintln!("peak RSS {before} KiB before, {peak} KiB after four bombs");
    // Today's server decoded each to ~875 MB: 3.36 GB for four.
    assert!(
        peak < before + 200 * 1024,
        "peak RSS grew from {before} to {peak} KiB"
    );
}

#[tokio::test]
async fn large_photos_at_once_share_one_memory_budget() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start_with(dir.path(), &["--no-tls", "--decode-memory-mb", "200"]);
    // 4000×4000 RGB: 48 MB decoded, ~160 MB to process; allowed, but
    // only one fits the budget at a time.
    let photo = black_png(4_000);
    let before = server.peak_rss_kib();
    let statuses = four_at_once(&server, &photo).await;
    assert_eq!(statuses, vec![200; 4], "each is taken in turn");
    let peak = server.peak_rss_kib();
    eprintln!("peak RSS {before} KiB before, {peak} KiB after four 16 MP photos");
    // The budget (200 MiB) plus the encoders' output; all four at once
    // would take ~600 MB more.
    assert!(
        peak < before + 280 * 1024,
        "peak RSS grew from {before} to {peak} KiB"
    );
}

// 4. Slow clients hold connections.

/// Reads until the server closes the connection; what it sent.
async fn until_closed(stream: &mut TcpStream, within: Duration) -> Option<String> {
    let mut got = Vec::new();
    let deadline = Instant::now() + within;
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return Some(String::from_utf8_lossy(&got).into_owned()),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => return None,
        }
    }
}

#[tokio::test]
async fn a_client_dripping_its_headers_is_cut_off() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start_with(dir.path(), &["--no-tls", "--header-timeout-secs", "2"]);
    let mut drip = TcpStream::connect(server.addr).await.expect("connects");
    drip.write_all(b"GET / HTTP/1.1\r\n").await.expect("writes");
    let writer = async {
        // One byte of a header every half second, forever.
        for b in b"X-Slow: ".iter().cycle() {
            tokio::time::sleep(Duration::from_millis(500)).await;
            if drip.write_all(&[*b]).await.is_err() {
                break;
            }
        }
    };
    let started = Instant::now();
    tokio::select! {
        _ = writer => {}
        _ = tokio::time::sleep(Duration::from_secs(20)) => panic!("still open after 20 s"),
    }
    eprintln!(
        "the dripping connection was closed after {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_body_that_stops_arriving_frees_its_connection() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start_with(dir.path(), &["--no-tls", "--body-timeout-secs", "2"]);
    let device = new_device();
    named(&server, &device, "Slow").await;
    let mut s = TcpStream::connect(server.addr).await.expect("connects");
    let head = format!(
        "POST /upload?name=a.bin HTTP/1.1\r\nHost: x\r\nCookie: device_id={device}\r\n\
         Content-Length: {}\r\n\r\n",
        5 << 20
    );
    s.write_all(head.as_bytes()).await.expect("writes");
    s.write_all(&[0u8; 100]).await.expect("writes");
    let answer = until_closed(&mut s, Duration::from_secs(15))
        .await
        .expect("closed within 15 s, not held");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
}

#[tokio::test]
async fn a_declared_body_over_the_limit_is_refused_before_it_is_sent() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(dir.path());
    let device = new_device();
    named(&server, &device, "Big").await;
    for path in ["/upload?name=a.bin", "/api/set_name"] {
        let mut s = TcpStream::connect(server.addr).await.expect("connects");
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nCookie: device_id={device}\r\n\
             Content-Type: application/x-www-form-urlencoded\r\n\
             Content-Length: 10737418240\r\n\r\n"
        );
        s.write_all(head.as_bytes()).await.expect("writes");
        let mut buf = [0u8; 512];
        let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
            .await
            .expect("an answer without the body")
            .expect("reads");
        let answer = String::from_utf8_lossy(&buf[..n]);
        assert!(answer.starts_with("HTTP/1.1 413"), "{path}: {answer}");
    }
}

#[tokio::test]
async fn connections_that_never_speak_count_against_their_address() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start_with(dir.path(), &["--no-tls", "--max-tcp-per-ip", "5"]);
    // Six connections that never send a byte: the kernel completes each
    // handshake, and the server drops whichever it accepts sixth.
    let mut silent = Vec::new();
    for _ in 0..6 {
        silent.push(TcpStream::connect(server.addr).await.expect("connects"));
    }
    let closed = futures::future::join_all(
        silent
            .iter_mut()
            .map(|s| until_closed(s, Duration::from_secs(3))),
    )
    .await;
    let dropped: Vec<usize> = (0..6).filter(|i| closed[*i].is_some()).collect();
    assert_eq!(
        dropped.len(),
        1,
        "one over the cap is closed, the rest held: {closed:?}"
    );
    assert_eq!(closed[dropped[0]].as_deref(), Some(""), "with no answer");
    silent.remove(dropped[0]);
    // One of them goes away: room for a new one.
    drop(silent.pop());
    let deadline = Instant::now() + common::WAIT;
    loop {
        let mut s = TcpStream::connect(server.addr).await.expect("connects");
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .ok();
        let answer = until_closed(&mut s, Duration::from_secs(5))
            .await
            .unwrap_or_default();
        if answer.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(Instant::now() < deadline, "the slot never came back");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// 5. New identities are free.

async fn set_name_from(server: &Server, device: &str, from: &str, name: &str) -> reqwest::Response {
    common::http()
        .post(server.url("/api/set_name"))
        .header("cookie", common::cookie(device))
        .header("x-forwarded-for", from)
        .form(&[("name", name)])
        .send()
        .await
        .expect("answers")
}

#[tokio::test]
async fn new_identities_and_rooms_are_limited_per_address() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start_with(
        dir.path(),
        &[
            "--no-tls",
            "--trusted-proxies",
            "127.0.0.1",
            "--new-identity-burst",
            "3",
            "--new-identity-refill-secs",
            "3600",
        ],
    );
    // Three addresses of one IPv6 /64 are one address.
    let mut named_devices = Vec::new();
    for (i, from) in ["2001:db8::1", "2001:db8::2", "2001:db8::3"]
        .iter()
        .enumerate()
    {
        let d = new_device();
        let res = set_name_from(&server, &d, from, &format!("N{i}")).await;
        assert_eq!(res.status(), 200, "{from}");
        named_devices.push(d);
    }
    let res = set_name_from(&server, &new_device(), "2001:db8::ff", "N4").await;
    assert_eq!(res.status(), 429);
    assert!(header(&res, "retry-after")
        .parse::<u64>()
        .is_ok_and(|s| s > 0));
    // A known device renaming itself makes no new identity.
    let res = set_name_from(&server, &named_devices[0], "2001:db8::1", "Renamed").await;
    assert_eq!(res.status(), 200);
    // Another /64 has its own.
    let res = set_name_from(&server, &new_device(), "2001:db8:0:1::1", "Other").await;
    assert_eq!(res.status(), 200);

    // Rooms: ten from one address, whichever devices make them.
    let mut makers = Vec::new();
    for i in 0..11 {
        let d = new_device();
        let res = set_name_from(&server, &d, &format!("198.51.100.{i}"), &format!("M{i}")).await;
        assert_eq!(res.status(), 200);
        makers.push(d);
    }
    for (i, d) in makers.iter().enumerate() {
        let res = common::http()
            .post(server.url("/api/create_room"))
            .header("cookie", common::cookie(d))
            .header("x-forwarded-for", "203.0.113.9")
            .form(&[("name", format!("Room {i}"))])
            .send()
            .await
            .expect("answers");
        let expected = if i < 10 { 200 } else { 429 };
        assert_eq!(res.status(), expected, "room {i}");
    }
}

// 6. A device cookie on cacheable responses; 7. Cache-Control; 8. headers.

/// A site with the files a release has, for the static routes.
fn site(dir: &std::path::Path) -> std::path::PathBuf {
    let site = dir.join("site");
    std::fs::create_dir_all(site.join("pkg")).expect("dirs");
    std::fs::create_dir_all(site.join("icons")).expect("dirs");
    for (file, body) in [
        ("pkg/chat.wasm", "\0asm"),
        ("pkg/chat.js", "export {}"),
        ("pkg/chat.css", "body{}"),
        ("icons/icon-192.png", "png"),
    ] {
        std::fs::write(site.join(file), body).expect("asset");
    }
    std::fs::copy(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../public/manifest.webmanifest"
        ),
        site.join("manifest.webmanifest"),
    )
    .expect("the app's manifest");
    site
}

#[tokio::test]
async fn only_a_page_hands_out_a_device_and_private_answers_are_not_stored() {
    let dir = tempfile::tempdir().expect("temp dir");
    let site = site(dir.path());
    let server = Server::start_with(
        &dir.path().join("data"),
        &["--no-tls", "--site-root", site.to_str().expect("utf8")],
    );
    let page = no_redirects()
        .get(server.url("/"))
        .send()
        .await
        .expect("page");
    assert!(
        header(&page, "set-cookie").starts_with("device_id="),
        "a page mints"
    );
    assert_eq!(header(&page, "cache-control"), "no-store");
    let link = header(&page, "link").to_owned();
    let js = link
        .split(", ")
        .filter_map(|p| p.strip_prefix('<')?.split_once('>'))
        .map(|(url, _)| url.to_owned())
        .find(|u| u.ends_with(".js"))
        .expect("the versioned JS");

    // Public, cacheable and error answers: no device, whatever they are.
    let public = [
        (js.as_str(), "public, max-age=31536000, immutable"),
        ("/pkg/chat.css", ""),
        ("/sw.js", "no-cache"),
        ("/manifest.webmanifest", "no-cache"),
        ("/icons/icon-192.png", "no-cache"),
        ("/nothing-here", "no-store"),
        ("/healthz", "no-store"),
        ("/get_messages", "no-store"),
        ("/files/nope", "no-store"),
    ];
    for (path, cache) in public {
        let res = no_redirects()
            .get(server.url(path))
            .send()
            .await
            .expect("answers");
        assert!(
            res.headers().get("set-cookie").is_none(),
            "{path} ({}) hands out a device",
            res.status()
        );
        if !cache.is_empty() {
            assert_eq!(header(&res, "cache-control"), cache, "{path}");
        }
        assert_eq!(
            header(&res, "cross-origin-opener-policy"),
            "same-origin",
            "{path}"
        );
        assert_eq!(
            header(&res, "cross-origin-resource-policy"),
            "same-origin",
            "{path}"
        );
        let policy = header(&res, "permissions-policy");
        assert!(
            policy.contains("camera=()") && policy.contains("geolocation=()"),
            "{path}"
        );
    }

    // What belongs to a device or to members: never kept by any cache.
    let device = new_device();
    named(&server, &device, "Pri").await;
    for path in ["/", "/r/general", "/get_messages", "/r/no-such-room"] {
        let res = no_redirects()
            .get(server.url(path))
            .header("cookie", common::cookie(&device))
            .send()
            .await
            .expect("answers");
        assert_eq!(header(&res, "cache-control"), "no-store", "{path}");
    }
    let res = common::server_fn(&server, &device, "search", &[("query", "x")]).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        header(&res, "cache-control"),
        "no-store",
        "a server function"
    );
    let png = common::png(8, 8);
    let up: app::protocol::Uploaded = common::http()
        .post(server.url("/upload?name=a.png"))
        .header("cookie", common::cookie(&device))
        .body(png)
        .send()
        .await
        .expect("uploads")
        .json()
        .await
        .expect("uploaded");
    let file = no_redirects()
        .get(server.url(&format!("/files/{}", up.attachment.id)))
        .header("cookie", common::cookie(&device))
        .send()
        .await
        .expect("file");
    assert_eq!(file.status(), 200);
    assert!(header(&file, "cache-control").starts_with("private"));
    assert_eq!(header(&file, "cross-origin-resource-policy"), "same-origin");
}

// 9. Wrong errors.

#[tokio::test]
async fn refusals_bad_requests_and_rate_limits_have_their_own_statuses() {
    let dir = tempfile::tempdir().expect("temp dir");
    let site = site(dir.path());
    let (server, ann) = owned(
        &dir.path().join("data"),
        &["--site-root", site.to_str().expect("utf8")],
    )
    .await;
    moderate(
        &server,
        &ann,
        ModAction::SetChatName {
            name: "Secret club".into(),
        },
    )
    .await
    .expect("owner");
    moderate(&server, &ann, ModAction::SetAccess { invite_only: true })
        .await
        .expect("owner");
    let stranger = new_device();
    let calls: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("set_name", vec![("name", "Eve")]),
        (
            "older_messages",
            vec![("room", "1"), ("before", "100"), ("limit", "10")],
        ),
        ("search", vec![("query", "x")]),
        ("message_context", vec![("id", "1")]),
        ("create_room", vec![("name", "Eve's")]),
        ("rename_room", vec![("room", "1"), ("name", "Eve's")]),
        ("archive_room", vec![("room", "1")]),
        ("push_settings", vec![]),
        (
            "push_subscribe",
            vec![
                ("endpoint", "https://push.example/x"),
                ("p256dh", "a"),
                ("auth", "b"),
            ],
        ),
        (
            "push_unsubscribe",
            vec![("endpoint", "https://push.example/x")],
        ),
        ("set_push_mode", vec![("mode", "all")]),
        ("admin", vec![]),
        (
            "create_invite",
            vec![("expires_in_secs", "60"), ("max_uses", "1")],
        ),
        ("start_transfer", vec![]),
    ];
    assert_eq!(calls.len() + 1, 15, "every server function");
    for (name, args) in &calls {
        let res = common::server_fn(&server, &stranger, name, args).await;
        assert_eq!(res.status(), 403, "{name}");
        let body = res.text().await.unwrap_or_default();
        assert!(!body.contains("Secret"), "{name}: {body}");
    }
    let res = common::http()
        .post(server.url("/api/moderate"))
        .header("cookie", common::cookie(&stranger))
        .json(&serde_json::json!({ "action": ModAction::SetAccess { invite_only: false } }))
        .send()
        .await
        .expect("answers");
    assert_eq!(res.status(), 403, "moderate");
    // Nothing of the private chat's name either.
    let manifest: serde_json::Value = common::http()
        .get(server.url("/manifest.webmanifest"))
        .header("cookie", common::cookie(&stranger))
        .send()
        .await
        .expect("manifest")
        .json()
        .await
        .expect("json");
    assert_eq!(manifest["name"], "Chat");
    let manifest: serde_json::Value = common::http()
        .get(server.url("/manifest.webmanifest"))
        .header("cookie", common::cookie(&ann))
        .send()
        .await
        .expect("manifest")
        .json()
        .await
        .expect("json");
    assert_eq!(manifest["name"], "Secret club", "members see it");

    // A value the server refuses, a body it cannot read, a member's try
    // at the owner's action, a rate limit.
    let res = common::server_fn(&server, &ann, "set_name", &[("name", &"x".repeat(100))]).await;
    assert_eq!(res.status(), 422);
    for content_type in ["text/plain", "multipart/form-data; boundary=x"] {
        let res = common::http()
            .post(server.url("/api/set_name"))
            .header("cookie", common::cookie(&ann))
            .header("content-type", content_type)
            .body("name=Ann")
            .send()
            .await
            .expect("answers");
        assert_eq!(res.status(), 415, "{content_type}");
    }
    let res = common::server_fn(&server, &ann, "older_messages", &[("room", "x")]).await;
    assert_eq!(res.status(), 400, "arguments that do not parse");
    let admin = moderate(&server, &ann, ModAction::SetAccess { invite_only: false })
        .await
        .expect("owner");
    assert!(!admin.invite_only);
    let member = new_device();
    named(&server, &member, "Mem").await;
    let res = common::http()
        .post(server.url("/api/moderate"))
        .header("cookie", common::cookie(&member))
        .json(&serde_json::json!({ "action": ModAction::SetAccess { invite_only: true } }))
        .send()
        .await
        .expect("answers");
    assert_eq!(res.status(), 403, "a member may not");
    let mut limited = None;
    for i in 0..8 {
        let res =
            common::server_fn(&server, &ann, "create_room", &[("name", &format!("R{i}"))]).await;
        if res.status() == 429 {
            limited = Some(header(&res, "retry-after").to_owned());
            break;
        }
        assert_eq!(res.status(), 200, "room {i}");
    }
    let retry = limited.expect("the room limit answers 429");
    assert!(
        retry.parse::<u64>().is_ok_and(|s| s > 0),
        "Retry-After: {retry}"
    );
}

#[tokio::test]
async fn the_same_host_over_plain_http_is_another_origin() {
    let dir = tempfile::tempdir().expect("temp dir");
    // Behind a TLS proxy: pages are https://…
    let server = Server::start_with(dir.path(), &["--no-tls", "--secure-cookie"]);
    let device = new_device();
    for (origin, status) in [
        (format!("http://{}", server.addr), 403),
        (format!("https://{}", server.addr), 200),
    ] {
        let res = common::http()
            .post(server.url("/api/set_name"))
            .header("cookie", common::cookie(&device))
            .header("origin", &origin)
            .form(&[("name", "Ann")])
            .send()
            .await
            .expect("answers");
        assert_eq!(res.status(), status, "{origin}");
    }
}

#[tokio::test]
async fn answers_carrying_a_token_are_not_compressed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (server, ann) = owned(dir.path(), &[]).await;
    // reqwest is built here without decompression: what comes is what
    // was sent.
    let http = common::http();
    for (name, args) in [
        (
            "create_invite",
            vec![("expires_in_secs", "60"), ("max_uses", "1")],
        ),
        ("start_transfer", vec![]),
    ] {
        let res = http
            .post(server.url(&format!("/api/{name}")))
            .header("cookie", common::cookie(&ann))
            .header("accept-encoding", "br, gzip")
            .form(&args)
            .send()
            .await
            .expect("answers");
        assert_eq!(res.status(), 200, "{name}");
        assert!(res.headers().get("content-encoding").is_none(), "{name}");
    }
    // Others are compressed as before.
    let page = http
        .get(server.url("/"))
        .header("cookie", common::cookie(&ann))
        .header("accept-encoding", "br")
        .send()
        .await
        .expect("page");
    assert_eq!(header(&page, "content-encoding"), "br");
}
