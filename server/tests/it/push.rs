//! Web Push end to end, with real cryptography: a push service on
//! loopback (a small HTTP server in the test) receives what the chat
//! sends, checks the VAPID signature against the key the chat gives
//! browsers, and decrypts the payload with the private key of the
//! subscription it made up, as a browser would.

use crate::common;

use app::api::PushSettings;
use app::protocol::{ClientEvent, ClientMessageId, RoomId, RoomInfo, ServerEvent, UserId};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use base64ct::{Base64UrlUnpadded, Encoding};
use common::{named, new_device, Client, Server};
use rand::RngCore;
use serde::Deserialize;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use web_push_native::jwt_simple::algorithms::{ECDSAP256PublicKeyLike, ES256PublicKey};
use web_push_native::jwt_simple::prelude::{NoCustomClaims, VerificationOptions};
use web_push_native::p256::SecretKey;
use web_push_native::Auth;

/// One request the test push service received.
#[derive(Debug)]
struct Received {
    path: String,
    headers: HeaderMap,
    body: Bytes,
}

#[derive(Clone, Default)]
struct Service {
    tx: Option<mpsc::UnboundedSender<Received>>,
    /// Statuses to answer per path, in order; 201 once they run out.
    script: Arc<Mutex<HashMap<String, VecDeque<u16>>>>,
}

/// A push service on a free loopback port.
struct PushService {
    base: String,
    rx: mpsc::UnboundedReceiver<Received>,
    script: Arc<Mutex<HashMap<String, VecDeque<u16>>>>,
}

impl PushService {
    async fn start() -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let service = Service {
            tx: Some(tx),
            ..Default::default()
        };
        let script = service.script.clone();
        let app = axum::Router::new()
            .route("/push/{id}", axum::routing::post(receive))
            .with_state(service);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binds");
        let addr = listener.local_addr().expect("address");
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            base: format!("http://{addr}"),
            rx,
            script,
        }
    }

    fn answer(&self, id: &str, statuses: &[u16]) {
        if let Ok(mut s) = self.script.lock() {
            s.insert(format!("/push/{id}"), statuses.iter().copied().collect());
        }
    }

    async fn next(&mut self) -> Received {
        tokio::time::timeout(common::WAIT, self.rx.recv())
            .await
            .expect("a push within the timeout")
            .expect("service running")
    }

    /// Nothing arrives for a while.
    async fn quiet(&mut self, wait: Duration) {
        if let Ok(Some(r)) = tokio::time::timeout(wait, self.rx.recv()).await {
            panic!("unexpected push to {}", r.path);
        }
    }
}

async fn receive(
    State(service): State<Service>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let path = format!("/push/{id}");
    let status = service
        .script
        .lock()
        .ok()
        .and_then(|mut s| s.get_mut(&path).and_then(VecDeque::pop_front))
        .unwrap_or(201);
    if let Some(tx) = &service.tx {
        let _ = tx.send(Received {
            path,
            headers,
            body,
        });
    }
    StatusCode::from_u16(status).unwrap_or(StatusCode::CREATED)
}

/// A browser's side of a subscription: its key pair and auth secret.
struct Browser {
    endpoint: String,
    secret: SecretKey,
    auth: [u8; 16],
}

impl Browser {
    fn new(service: &PushService, id: &str) -> Self {
        let secret = loop {
            let mut bytes = [0u8; 32];
            rand::rng().fill_bytes(&mut bytes);
            if let Ok(key) = SecretKey::from_slice(&bytes) {
                break key;
            }
        };
        let mut auth = [0u8; 16];
        rand::rng().fill_bytes(&mut auth);
        Self {
            endpoint: format!("{}/push/{id}", service.base),
            secret,
            auth,
        }
    }

    fn p256dh(&self) -> String {
        let point = self.secret.public_key().to_sec1_bytes();
        Base64UrlUnpadded::encode_string(&point)
    }

    fn auth(&self) -> String {
        Base64UrlUnpadded::encode_string(&self.auth)
    }

    /// Checks the request as a push service and a browser would, and
    /// returns the notification.
    fn open(&self, server_key: &[u8], r: &Received) -> Notification {
        let vapid = r
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .expect("a VAPID authorization");
        let (t, k) = vapid_parts(vapid);
        assert_eq!(
            Base64UrlUnpadded::decode_vec(k).expect("k is base64url"),
            server_key,
            "signed with the key browsers subscribed with"
        );
        let public = ES256PublicKey::from_bytes(server_key).expect("a P-256 key");
        // The crate leaves the port out of `aud`; real push services are
        // on 443, where that is the origin.
        let options = VerificationOptions {
            allowed_audiences: Some(["http://127.0.0.1".to_owned()].into()),
            ..Default::default()
        };
        let claims = public
            .verify_token::<NoCustomClaims>(t, Some(options))
            .expect("a valid ES256 VAPID token");
        assert!(claims
            .subject
            .as_deref()
            .is_some_and(|s| s.starts_with("mailto:")));
        let exp = claims.expires_at.expect("exp").as_secs();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs();
        assert!(exp <= now + 24 * 3600, "RFC 8292: at most 24 h ahead");
        let header = |name: &str| r.headers.get(name).and_then(|v| v.to_str().ok());
        assert_eq!(header("content-encoding"), Some("aes128gcm"));
        assert!(header("ttl").is_some_and(|t| t.parse::<u64>().is_ok()));
        let plain = web_push_native::decrypt(
            r.body.to_vec(),
            &self.secret,
            &Auth::clone_from_slice(&self.auth),
        )
        .expect("decrypts with the subscription's key");
        serde_json::from_slice(&plain).expect("a notification payload")
    }
}

fn vapid_parts(header: &str) -> (&str, &str) {
    let rest = header.strip_prefix("vapid ").expect("the vapid scheme");
    let mut t = None;
    let mut k = None;
    for part in rest.split(',') {
        let part = part.trim();
        if let Some(v) = part.strip_prefix("t=") {
            t = Some(v);
        } else if let Some(v) = part.strip_prefix("k=") {
            k = Some(v);
        }
    }
    (t.expect("t="), k.expect("k="))
}

#[derive(Debug, Deserialize)]
struct Notification {
    title: String,
    body: String,
    tag: String,
    url: String,
    count: u32,
}

use common::server_fn as api;

async fn settings(server: &Server, device: &str) -> PushSettings {
    let res = api(server, device, "push_settings", &[]).await;
    assert!(res.status().is_success(), "push_settings: {}", res.status());
    res.json().await.expect("settings json")
}

async fn subscribe(server: &Server, device: &str, browser: &Browser) -> PushSettings {
    let res = api(
        server,
        device,
        "push_subscribe",
        &[
            ("endpoint", &browser.endpoint),
            ("p256dh", &browser.p256dh()),
            ("auth", &browser.auth()),
        ],
    )
    .await;
    assert!(
        res.status().is_success(),
        "push_subscribe: {}",
        res.status()
    );
    res.json().await.expect("settings json")
}

/// The refusal a server function answered with.
async fn refusal(res: reqwest::Response) -> String {
    assert!(!res.status().is_success(), "expected a refusal");
    res.text().await.expect("text")
}

fn start(dir: &std::path::Path, collapse_secs: &str) -> Server {
    Server::start_with(
        dir,
        &[
            "--no-tls",
            "--push-allow-loopback",
            "--push-collapse-secs",
            collapse_secs,
        ],
    )
}

async fn post(client: &mut Client, text: &str, mentions: Vec<UserId>) {
    post_in(client, None, text, mentions).await
}

async fn post_in(client: &mut Client, room: Option<RoomId>, text: &str, mentions: Vec<UserId>) {
    let client_id = ClientMessageId::new_random();
    client
        .send_event(&ClientEvent::Send {
            client_id,
            text: text.to_owned(),
            room,
            mentions,
            attachment: None,
            reply_to: None,
        })
        .await;
    client
        .next_matching(|e| match e {
            ServerEvent::Ack { client_id: c, .. } if c == client_id => Some(()),
            _ => None,
        })
        .await;
}

#[tokio::test]
async fn a_push_is_signed_and_encrypted_and_goes_only_to_devices_not_looking() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = start(dir.path(), "0");
    let mut service = PushService::start().await;
    let (ann, bo, cy) = (new_device(), new_device(), new_device());
    // Bo's tab opens before Bo has a name, as on a first visit.
    let (mut bo_tab, _) = Client::joined(&server, &bo).await;
    named(&server, &ann, "Ann").await;
    named(&server, &bo, "Bo").await;
    named(&server, &cy, "Cy").await;
    let (ann_browser, bo_browser, cy_browser) = (
        Browser::new(&service, "ann"),
        Browser::new(&service, "bo"),
        Browser::new(&service, "cy"),
    );
    let key = subscribe(&server, &ann, &ann_browser).await.key;
    assert_eq!(key.len(), 65, "an uncompressed P-256 point");
    assert_eq!(subscribe(&server, &bo, &bo_browser).await.subscriptions, 1);
    subscribe(&server, &cy, &cy_browser).await;
    for device in [&bo, &cy] {
        api(&server, device, "set_push_mode", &[("mode", "all")]).await;
    }

    // Bo is looking at the chat; Cy has no tab open.
    let (mut ann_tab, _) = Client::joined(&server, &ann).await;
    post(&mut ann_tab, "lunch at <b>noon</b>?", Vec::new()).await;
    let r = service.next().await;
    assert_eq!(r.path, "/push/cy", "only the device with no tab in view");
    let n = cy_browser.open(&key, &r);
    assert_eq!(n.title, "#General");
    assert_eq!(n.body, "Ann: lunch at <b>noon</b>?", "text as text");
    assert_eq!(
        (n.tag.as_str(), n.url.as_str(), n.count),
        ("room-1", "/r/general", 1)
    );
    service.quiet(Duration::from_millis(500)).await;

    // Bo's phone goes to the background: now Bo is pushed too, and the
    // author still is not.
    bo_tab
        .send_event(&ClientEvent::Visibility { visible: false })
        .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    post(&mut ann_tab, "still there?", Vec::new()).await;
    let mut paths = Vec::new();
    for _ in 0..2 {
        let r = service.next().await;
        let browser = if r.path == "/push/bo" {
            &bo_browser
        } else {
            &cy_browser
        };
        assert_eq!(browser.open(&key, &r).body, "Ann: still there?");
        paths.push(r.path);
    }
    paths.sort();
    assert_eq!(paths, ["/push/bo", "/push/cy"]);
    service.quiet(Duration::from_millis(500)).await;
}

#[tokio::test]
async fn mentions_only_rooms_turned_off_and_a_burst_collapsed_into_one() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = start(dir.path(), "1");
    let mut service = PushService::start().await;
    let (ann, bo) = (new_device(), new_device());
    named(&server, &ann, "Ann").await;
    let bo_id = named(&server, &bo, "Bo").await.user_id;
    let browser = Browser::new(&service, "bo");
    let s = subscribe(&server, &bo, &browser).await;
    assert_eq!(
        s.mode,
        app::api::PushMode::Mentions,
        "a shared room pushes mentions until the device chooses"
    );
    let key = s.key;

    let (mut ann_tab, _) = Client::joined(&server, &ann).await;
    post(&mut ann_tab, "nothing for Bo", Vec::new()).await;
    post(&mut ann_tab, "@Bo look", vec![bo_id]).await;
    let n = browser.open(&key, &service.next().await);
    assert_eq!(
        n.body, "Ann: @Bo look",
        "the mention, not the message before it"
    );

    // Back to everything, but the main room off.
    api(&server, &bo, "set_push_mode", &[("mode", "all")]).await;
    let res = api(
        &server,
        &bo,
        "set_push_mode",
        &[("room", "1"), ("mode", "off")],
    )
    .await;
    let s: PushSettings = res.json().await.expect("settings");
    assert_eq!(s.mode_in(RoomId(1)), Some(app::api::PushMode::Off));
    post(&mut ann_tab, "@Bo muted room", vec![bo_id]).await;
    service.quiet(Duration::from_millis(1500)).await;
    api(&server, &bo, "set_push_mode", &[("room", "1")]).await;

    // A burst in another room: the first at once, the rest as one
    // notification when the window ends, replacing the first.
    let res = api(&server, &ann, "create_room", &[("name", "Lunch plans")]).await;
    let lunch: RoomInfo = res.json().await.expect("room");
    for i in 1..=3 {
        post_in(
            &mut ann_tab,
            Some(lunch.id),
            &format!("burst {i}"),
            Vec::new(),
        )
        .await;
    }
    let first = browser.open(&key, &service.next().await);
    assert_eq!((first.count, first.title.as_str()), (1, "#Lunch plans"));
    assert_eq!(first.body, "Ann: burst 1");
    let rest = browser.open(&key, &service.next().await);
    assert_eq!(first.tag, rest.tag, "the second replaces the first");
    assert_eq!(rest.url, format!("/r/{}", lunch.slug));
    assert_eq!(rest.title, "3 new messages in #Lunch plans");
    assert_eq!(rest.body, "Ann: burst 3");
    service.quiet(Duration::from_millis(1500)).await;
}

#[tokio::test]
async fn ended_subscriptions_are_deleted_and_failures_retried_off_the_message_path() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = start(dir.path(), "0");
    let mut service = PushService::start().await;
    let (ann, bo, cy) = (new_device(), new_device(), new_device());
    named(&server, &ann, "Ann").await;
    named(&server, &bo, "Bo").await;
    named(&server, &cy, "Cy").await;
    let gone = Browser::new(&service, "gone");
    let flaky = Browser::new(&service, "flaky");
    service.answer("gone", &[410]);
    service.answer("flaky", &[503, 503]);
    let key = subscribe(&server, &bo, &gone).await.key;
    subscribe(&server, &cy, &flaky).await;
    for device in [&bo, &cy] {
        api(&server, device, "set_push_mode", &[("mode", "all")]).await;
    }

    let (mut ann_tab, _) = Client::joined(&server, &ann).await;
    let sent = std::time::Instant::now();
    post(&mut ann_tab, "hello", Vec::new()).await;
    assert!(
        sent.elapsed() < Duration::from_secs(1),
        "the ack does not wait for pushes"
    );
    let mut flaky_tries = 0;
    let mut gone_tries = 0;
    while flaky_tries < 3 {
        let r = service.next().await;
        match r.path.as_str() {
            "/push/gone" => gone_tries += 1,
            "/push/flaky" => {
                assert_eq!(flaky.open(&key, &r).body, "Ann: hello");
                flaky_tries += 1;
            }
            other => panic!("push to {other}"),
        }
    }
    assert_eq!(gone_tries, 1, "410 is not retried");
    assert_eq!(
        settings(&server, &bo).await.subscriptions,
        0,
        "410 deletes it"
    );
    assert_eq!(settings(&server, &cy).await.subscriptions, 1);

    // And it stays deleted after a restart; the other is still there.
    let addr = server.addr.to_string();
    server.stop();
    let server = Server::start_at(dir.path(), &addr, &["--no-tls", "--push-allow-loopback"]);
    assert_eq!(settings(&server, &bo).await.subscriptions, 0);
    let after = settings(&server, &cy).await;
    assert_eq!(
        (after.subscriptions, after.key),
        (1, key.clone()),
        "the same VAPID key"
    );
    let (mut ann_tab, _) = Client::joined(&server, &ann).await;
    post(&mut ann_tab, "after the restart", Vec::new()).await;
    let r = service.next().await;
    assert_eq!(r.path, "/push/flaky");
    assert_eq!(flaky.open(&key, &r).body, "Ann: after the restart");
}

#[tokio::test]
async fn only_public_https_push_services_and_real_keys_are_accepted() {
    let dir = tempfile::tempdir().expect("temp dir");
    // The default: no loopback test receiver allowed.
    let server = Server::start(dir.path());
    let service = PushService::start().await;
    let ann = new_device();
    let browser = Browser::new(&service, "ann");
    let res = api(
        &server,
        &ann,
        "push_subscribe",
        &[
            ("endpoint", "https://fcm.googleapis.com/fcm/send/abc"),
            ("p256dh", &browser.p256dh()),
            ("auth", &browser.auth()),
        ],
    )
    .await;
    assert!(refusal(res).await.contains("Choose a name first"));
    named(&server, &ann, "Ann").await;
    for endpoint in [
        browser.endpoint.as_str(),
        "https://127.0.0.1/push",
        "https://localhost/push",
        "https://[::1]/push",
        "https://10.0.0.7/push",
        "https://192.168.1.1/push",
        "https://169.254.169.254/latest/meta-data",
        "https://[fd00::1]/push",
        "https://intranet/push",
        "http://push.example.com/push",
        "ftp://push.example.com/push",
        "https://user:pw@push.example.com/push",
        "not a url",
    ] {
        let res = api(
            &server,
            &ann,
            "push_subscribe",
            &[
                ("endpoint", endpoint),
                ("p256dh", &browser.p256dh()),
                ("auth", &browser.auth()),
            ],
        )
        .await;
        let text = refusal(res).await;
        assert!(
            text.contains("push address") || text.contains("Push addresses"),
            "{endpoint}: {text}"
        );
    }
    let res = api(
        &server,
        &ann,
        "push_subscribe",
        &[
            ("endpoint", "https://fcm.googleapis.com/fcm/send/abc"),
            ("p256dh", "BAAA"),
            ("auth", &browser.auth()),
        ],
    )
    .await;
    assert!(refusal(res).await.contains("keys are not valid"));
    let res = api(&server, &ann, "set_push_mode", &[("mode", "loud")]).await;
    assert!(!res.status().is_success());
    let res = api(
        &server,
        &ann,
        "set_push_mode",
        &[("room", "999"), ("mode", "off")],
    )
    .await;
    assert!(refusal(res).await.contains("no such room"));
    assert_eq!(settings(&server, &ann).await.subscriptions, 0);
}
