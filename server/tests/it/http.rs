//! The HTTP surface: the server-rendered page, the cookie, security
//! headers and TLS.

use crate::common;

use app::protocol::ServerEvent;
use common::{named, new_device, Client, Server};

fn header<'a>(res: &'a reqwest::Response, name: &str) -> &'a str {
    res.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("missing {name}"))
}

#[tokio::test]
async fn the_page_is_server_rendered_with_history_as_text() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(dir.path());
    let dev = new_device();
    named(&server, &dev, "Ann").await;
    let (mut c, _) = Client::joined(&server, &dev).await;
    c.say("<script>alert(1)</script> & more").await;
    c.next_matching(|e| matches!(e, ServerEvent::Ack { .. }).then_some(()))
        .await;

    let res = common::http()
        .get(server.url("/"))
        .header("cookie", common::cookie(&dev))
        .send()
        .await
        .expect("page");
    assert_eq!(res.status(), 200);
    assert!(
        res.headers().get("set-cookie").is_none(),
        "known cookie kept"
    );
    let html = res.text().await.expect("html");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; more"));
    assert!(!html.contains("<script>alert(1)"));
    assert!(html.contains("Ann"));
    // A known device is not asked for a name.
    assert!(!html.contains("name-prompt"));
}

#[tokio::test]
async fn a_first_visit_gets_a_device_cookie_and_a_name_prompt() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(dir.path());
    for cookie in [None, Some("device_id=forged-not-a-uuid")] {
        let mut req = common::http().get(server.url("/"));
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        let res = req.send().await.expect("page");
        let set = header(&res, "set-cookie").to_owned();
        let value = set
            .strip_prefix("device_id=")
            .and_then(|rest| rest.split(';').next())
            .expect("device_id cookie");
        assert!(uuid::Uuid::parse_str(value).is_ok());
        for part in ["Max-Age=31536000", "HttpOnly", "SameSite=Lax", "Path=/"] {
            assert!(set.contains(part), "{set} lacks {part}");
        }
        assert!(!set.contains("Secure"), "plain HTTP must not set Secure");
        let html = res.text().await.expect("html");
        assert!(html.contains("name-prompt"));
    }
}

#[tokio::test]
async fn security_headers_are_on_pages_api_and_errors() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(dir.path());
    let http = common::http();
    for path in ["/", "/get_messages", "/healthz", "/pkg/missing.js"] {
        let res = http.get(server.url(path)).send().await.expect("answers");
        assert_eq!(header(&res, "x-content-type-options"), "nosniff", "{path}");
        // The page's own form posts keep their Origin; other sites get nothing.
        assert_eq!(header(&res, "referrer-policy"), "same-origin", "{path}");
        let csp = header(&res, "content-security-policy").to_owned();
        for part in [
            "script-src 'self' 'nonce-",
            "'wasm-unsafe-eval'",
            "connect-src 'self'",
            "frame-ancestors 'none'",
            "object-src 'none'",
            "base-uri 'none'",
        ] {
            assert!(csp.contains(part), "{path}: {csp} lacks {part}");
        }
        assert!(res.headers().get("strict-transport-security").is_none());
        if path == "/" {
            let nonce = csp
                .split("'nonce-")
                .nth(1)
                .and_then(|s| s.split('\'').next())
                .expect("nonce")
                .to_owned();
            let html = res.text().await.expect("html");
            let scripts = html.matches("<script").count() + html.matches("<style").count();
            assert!(scripts > 0);
            assert_eq!(
                html.matches(&format!("nonce=\"{nonce}\"")).count(),
                scripts,
                "every inline script and style element carries the response's nonce"
            );
            assert!(
                csp.contains(&format!("style-src 'self' 'nonce-{nonce}';")),
                "{csp}"
            );
        }
    }
}

#[tokio::test]
async fn tls_is_generated_on_first_run_with_secure_cookie_and_hsts() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cert = dir.path().join("certs/cert.pem");
    let key = dir.path().join("certs/key.pem");
    let server = Server::start_with(
        dir.path(),
        &[
            "--cert",
            cert.to_str().expect("utf8"),
            "--key",
            key.to_str().expect("utf8"),
        ],
    );
    assert!(cert.exists() && key.exists());
    // Clients trust the generated local CA, which signed the server's cert.
    let pem = std::fs::read(dir.path().join("certs/ca.pem")).expect("CA written");
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).expect("pem"))
        .timeout(common::WAIT)
        .build()
        .expect("client");
    let res = client
        .get(format!("https://localhost:{}/", server.addr.port()))
        .send()
        .await
        .expect("https answers");
    assert_eq!(res.status(), 200);
    assert!(header(&res, "set-cookie").contains("Secure"));
    assert!(header(&res, "strict-transport-security").contains("max-age="));

    // Browsers speak HTTP/2 over TLS, where there is no Host header: the
    // same-origin check must still recognise the chat's own origin.
    let origin = format!("https://localhost:{}", server.addr.port());
    let named = client
        .post(format!("{origin}/api/set_name"))
        .header("cookie", common::cookie(&new_device()))
        .header("origin", &origin)
        .form(&[("name", "Over h2")])
        .send()
        .await
        .expect("answers");
    assert_eq!(named.version(), reqwest::Version::HTTP_2);
    assert_eq!(named.status(), 200);

    let ca = client
        .get(format!("https://localhost:{}/ca.pem", server.addr.port()))
        .send()
        .await
        .expect("CA served");
    assert_eq!(header(&ca, "content-type"), "application/x-x509-ca-cert");
    assert_eq!(ca.bytes().await.expect("body").as_ref(), pem.as_slice());
    let trust = client
        .get(format!("https://localhost:{}/trust", server.addr.port()))
        .send()
        .await
        .expect("trust page")
        .text()
        .await
        .expect("html");
    assert!(trust.contains("Certificate Trust Settings"));
}

#[tokio::test]
async fn a_cross_site_server_function_call_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(dir.path());
    let dev = new_device();
    let res = common::http()
        .post(server.url("/api/set_name"))
        .header("cookie", common::cookie(&dev))
        .header("origin", "https://evil.example")
        .form(&[("name", "Pwned")])
        .send()
        .await
        .expect("answers");
    assert_eq!(res.status(), 403);
    assert!(header(&res, "content-type").starts_with("text/html"));
    // The browser withholds the cookie on a cross-site POST; answering
    // with a new one would replace the victim's identity.
    let res_no_cookie = common::http()
        .post(server.url("/api/set_name"))
        .header("origin", "https://evil.example")
        .form(&[("name", "Pwned")])
        .send()
        .await
        .expect("answers");
    assert_eq!(res_no_cookie.status(), 403);
    assert!(
        res_no_cookie.headers().get("set-cookie").is_none(),
        "no cookie minted"
    );
    let page = res.text().await.expect("html");
    assert!(page.contains("<a href=\"/\">Open the chat</a>"), "{page}");
    // A sandboxed or privacy-stripped request says `Origin: null`: refused too.
    let res = common::http()
        .post(server.url("/api/set_name"))
        .header("cookie", common::cookie(&dev))
        .header("origin", "null")
        .form(&[("name", "Pwned")])
        .send()
        .await
        .expect("answers");
    assert_eq!(res.status(), 403);
    let (_c, me) = Client::joined(&server, &dev).await;
    assert_eq!(me, None, "the name was not set");
    let same = format!("http://{}", server.addr);
    let res = common::http()
        .post(server.url("/api/set_name"))
        .header("cookie", common::cookie(&dev))
        .header("origin", same)
        .form(&[("name", "Ann")])
        .send()
        .await
        .expect("answers");
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn static_assets_carry_the_security_headers() {
    let dir = tempfile::tempdir().expect("temp dir");
    let site = dir.path().join("site");
    std::fs::create_dir_all(site.join("pkg")).expect("dirs");
    std::fs::write(site.join("pkg/chat.css"), "body{}").expect("asset");
    let server = Server::start_with(
        &dir.path().join("data"),
        &["--no-tls", "--site-root", site.to_str().expect("utf8")],
    );
    let res = common::http()
        .get(server.url("/pkg/chat.css"))
        .send()
        .await
        .expect("asset");
    assert_eq!(res.status(), 200);
    assert_eq!(header(&res, "x-content-type-options"), "nosniff");
    assert!(header(&res, "content-type").starts_with("text/css"));
    assert!(header(&res, "content-security-policy").contains("object-src 'none'"));
}

#[tokio::test]
async fn the_page_requests_its_wasm_first_and_preloads_its_js_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let site = dir.path().join("site");
    std::fs::create_dir_all(site.join("pkg")).expect("dirs");
    // cargo-leptos builds `chat.wasm`; a plain cargo build of the server
    // links `chat_bg.wasm`.
    for (file, body) in [
        ("chat.wasm", "\0asm"),
        ("chat_bg.wasm", "\0asm"),
        ("chat.js", "export {}"),
        ("chat.css", "main>ol{margin:0}"),
    ] {
        std::fs::write(site.join("pkg").join(file), body).expect("asset");
    }
    let server = Server::start_with(
        &dir.path().join("data"),
        &["--no-tls", "--site-root", site.to_str().expect("utf8")],
    );
    let res = common::http()
        .get(server.url("/"))
        .send()
        .await
        .expect("page");
    assert_eq!(res.status(), 200);
    let link = header(&res, "link").to_owned();
    let csp = header(&res, "content-security-policy").to_owned();
    let html = res.text().await.expect("html");
    let urls: Vec<&str> = link
        .split(", ")
        .filter_map(|part| part.strip_prefix('<')?.split_once('>'))
        .map(|(url, _)| url)
        .collect();
    // The JS only: a preloaded WASM is downloaded twice by WebKit.
    assert_eq!(urls.len(), 1, "{link}");
    assert!(urls[0].ends_with("/chat.js") && link.contains("rel=modulepreload"));
    assert!(
        !html.contains("as=\"fetch\""),
        "no WASM preload in the page"
    );
    let wasm = html
        .split("window.__chatWasm=fetch(\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the page's first script requests the WASM");
    assert!(wasm.ends_with(".wasm"), "{wasm}");
    // The stylesheet is in the page, under the response's nonce, as
    // written (not escaped): no round trip before the first paint.
    let nonce = csp
        .split("style-src 'self' 'nonce-")
        .nth(1)
        .and_then(|s| s.split('\'').next())
        .expect("style nonce");
    let style = html
        .find(&format!(
            "<style nonce=\"{nonce}\">main>ol{{margin:0}}</style>"
        ))
        .expect("the stylesheet inline");
    assert!(!html.contains("rel=\"stylesheet\" href=\"/pkg/"));
    assert!(
        html.find("__chatWasm=fetch")
            .is_some_and(|wasm| wasm < style),
        "the WASM is requested before the stylesheet"
    );
    for (url, body) in [(urls[0], "export {}"), (wasm, "\0asm")] {
        // The page's own tag names the same JS URL, so it is fetched once.
        if url.ends_with(".js") {
            assert!(
                html.contains(&format!("href=\"{url}\"")),
                "{url} not in the page"
            );
        }
        let asset = common::http()
            .get(server.url(url))
            .send()
            .await
            .expect("asset");
        assert_eq!(asset.status(), 200, "{url}");
        assert!(header(&asset, "cache-control").contains("immutable"));
        assert_eq!(asset.text().await.expect("body"), body);
    }
}

#[tokio::test]
async fn a_plain_form_post_of_the_name_returns_to_the_chat_with_the_name_set() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(dir.path());
    let dev = new_device();
    let origin = format!("http://{}", server.addr);
    // What a browser sends for the name form before hydration or without
    // JavaScript, under the page's referrer policy.
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let form_post = |device: &str, name: &'static str| {
        no_redirects
            .post(server.url("/api/set_name"))
            .header("cookie", common::cookie(device))
            .header("origin", &origin)
            .header("referer", format!("{origin}/"))
            .header("accept", "text/html,application/xhtml+xml")
            .form(&[("name", name)])
            .send()
    };
    let res = form_post(&dev, "Plain Form").await.expect("answers");
    assert_eq!(res.status(), 302);
    assert_eq!(header(&res, "location"), format!("{origin}/"));
    let (_c, me) = Client::joined(&server, &dev).await;
    assert_eq!(me.map(|m| m.name), Some("Plain Form".to_owned()));

    // A refused name goes back to the chat too, with the reason in the URL
    // for the page to show (to a device that still has to choose a name).
    let newcomer = new_device();
    let res = form_post(&newcomer, "\u{200B}").await.expect("answers");
    assert_eq!(res.status(), 302);
    let back = header(&res, "location").to_owned();
    assert!(
        back.starts_with(&format!("{origin}/?")) && back.contains("__err="),
        "{back}"
    );
    let html = common::http()
        .get(&back)
        .header("cookie", common::cookie(&newcomer))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    assert!(
        html.contains("at least one visible character"),
        "error shown on the page"
    );
}
