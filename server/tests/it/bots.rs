//! Bots against the real server: made by the owner with a key shown once,
//! posting text, JSON, files and Slack payloads, reading pages, revoked
//! and renewed; a webhook on loopback that a mention or a direct message
//! calls once, signed, whose answer is posted; private rooms closed to
//! bots that are not in them.

use crate::access::{moderate, owned};
use crate::closed::{act, create_room};
use crate::common;

use app::api::{BotAction, Bots, ModAction, RoomAction};
use app::protocol::{ChatMessage, ClientEvent, ClientMessageId, ServerEvent, UserId};
use axum::http::{HeaderMap, StatusCode};
use common::{named, new_device, Client, Server};
use std::sync::{Arc, Mutex};
use std::time::Duration;

async fn bots(server: &Server, device: &str, action: BotAction) -> Result<Bots, (u16, String)> {
    let res = common::http()
        .post(server.url("/api/bots"))
        .header("cookie", common::cookie(device))
        .json(&serde_json::json!({ "action": action }))
        .send()
        .await
        .expect("answers");
    let status = res.status().as_u16();
    if res.status().is_success() {
        Ok(res.json().await.expect("bots json"))
    } else {
        Err((status, res.text().await.unwrap_or_default()))
    }
}

/// A new bot's user id, key and webhook secret.
async fn make_bot(
    server: &Server,
    owner: &str,
    name: &str,
    webhook: &str,
) -> (UserId, String, String) {
    let made = bots(
        server,
        owner,
        BotAction::Create {
            name: name.into(),
            webhook: webhook.into(),
            color: String::new(),
        },
    )
    .await
    .expect("the owner makes a bot");
    let key = made.new_key.expect("its key, shown once");
    (key.user, key.key, key.secret)
}

fn messages_url(server: &Server, key: &str, slug: &str) -> String {
    server.url(&format!("/api/bot/{key}/rooms/{slug}/messages"))
}

async fn post_text(
    server: &Server,
    key: &str,
    slug: &str,
    kind: &str,
    body: Vec<u8>,
) -> reqwest::Response {
    common::http()
        .post(messages_url(server, key, slug))
        .header("content-type", kind)
        .body(body)
        .send()
        .await
        .expect("answers")
}

async fn error_of(res: reqwest::Response) -> (u16, String) {
    let status = res.status().as_u16();
    let json: serde_json::Value = res.json().await.expect("a JSON error");
    (
        status,
        json["error"].as_str().unwrap_or_default().to_owned(),
    )
}

/// The next message event with this text.
async fn seen(client: &mut Client, text: &str) -> ChatMessage {
    client
        .next_matching(|e| match e {
            ServerEvent::Message { message } if message.msg == text => Some(message),
            _ => None,
        })
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_posts_text_json_files_and_slack_payloads_and_reads_pages() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (server, ann) = owned(dir.path(), &[]).await;
    let bob = new_device();
    named(&server, &bob, "Bob").await;
    let (mut reader, _) = Client::joined(&server, &bob).await;

    // Only the owner and moderators make bots; a webhook must be public.
    assert_eq!(
        bots(&server, &bob, BotAction::List)
            .await
            .map(|_| ())
            .expect_err("refused")
            .0,
        403
    );
    let refused = bots(
        &server,
        &ann,
        BotAction::Create {
            name: "Sneaky".into(),
            webhook: "http://169.254.169.254/latest".into(),
            color: String::new(),
        },
    )
    .await
    .expect_err("a private webhook is refused");
    assert_eq!(refused.0, 422, "{}", refused.1);
    // A colour of the owner's choosing, kept light enough to read on.
    let coloured = bots(
        &server,
        &ann,
        BotAction::Create {
            name: "Deploys".into(),
            webhook: String::new(),
            color: "#3060ff".into(),
        },
    )
    .await
    .expect("made");
    assert_eq!(coloured.bots[0].who.color, "rgb(200,100,255)");
    let (bot, key, _) = make_bot(&server, &ann, "CI", "").await;
    let listed = bots(&server, &ann, BotAction::List).await.expect("listed");
    assert_eq!(listed.bots.len(), 2);
    assert!(listed.new_key.is_none(), "a key is shown once");
    assert!(listed.bots.iter().all(|b| !b.revoked));

    // Plain text.
    let res = post_text(
        &server,
        &key,
        "general",
        "text/plain",
        b"Build 42 passed".to_vec(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let posted: ChatMessage = res.json().await.expect("the message");
    assert!(posted.bot);
    assert_eq!(posted.user_id, bot);
    let live = seen(&mut reader, "Build 42 passed").await;
    assert!(live.bot);
    assert_eq!(live.user_name, "CI");
    // JSON, formatted like anyone's.
    let res = post_text(
        &server,
        &key,
        "general",
        "application/json",
        br#"{"text": "**deployed** <script>x</script>"}"#.to_vec(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let live = seen(&mut reader, "**deployed** <script>x</script>").await;
    let rich = live.rich.expect("formatted");
    assert!(rich.contains("<strong>deployed</strong>"));
    assert!(rich.contains("&lt;script&gt;"), "{rich}");
    // A file, with words.
    let form = reqwest::multipart::Form::new()
        .text("text", "the graph")
        .part(
            "file",
            reqwest::multipart::Part::bytes(common::png(64, 32)).file_name("graph.png"),
        );
    let res = common::http()
        .post(messages_url(&server, &key, "general"))
        .multipart(form)
        .send()
        .await
        .expect("answers");
    assert_eq!(res.status(), StatusCode::CREATED);
    let live = seen(&mut reader, "the graph").await;
    let file = live.attachment.expect("the file");
    assert_eq!(file.name, "graph.png");
    assert!(file.image.is_some());

    // Slack's format, as Alertmanager sends it, and as a form.
    let alert = r##"{"channel": "#alerts", "username": "Alertmanager", "attachments": [{
        "title": "[FIRING:1] DiskFull", "title_link": "https://alerts.example/x",
        "text": "disk at 97%", "fallback": "[FIRING:1] DiskFull"}]}"##;
    let res = common::http()
        .post(server.url(&format!("/api/bot/{key}/rooms/general/slack")))
        .header("content-type", "application/json")
        .body(alert)
        .send()
        .await
        .expect("answers");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.text().await.expect("text"), "ok");
    let live = seen(
        &mut reader,
        "**[[FIRING:1] DiskFull](https://alerts.example/x)**\ndisk at 97%",
    )
    .await;
    assert!(live
        .rich
        .expect("formatted")
        .contains("href=\"https://alerts.example/x\""));
    let res = common::http()
        .post(server.url(&format!("/api/bot/{key}/rooms/general/slack")))
        .form(&[(
            "payload",
            r#"{"text": "from a form <https://a.example|here>"}"#,
        )])
        .send()
        .await
        .expect("answers");
    assert_eq!(res.status(), StatusCode::OK);
    seen(&mut reader, "from a form [here](https://a.example)").await;

    // Clear refusals, nothing stored.
    let (status, why) =
        error_of(post_text(&server, &key, "general", "text/plain", b"   ".to_vec()).await).await;
    assert_eq!(status, 422, "{why}");
    let (status, _) = error_of(
        post_text(
            &server,
            &key,
            "general",
            "application/json",
            b"{oops".to_vec(),
        )
        .await,
    )
    .await;
    assert_eq!(status, 400);
    let (status, _) =
        error_of(post_text(&server, &key, "general", "text/plain", vec![0xff, 0xfe]).await).await;
    assert_eq!(status, 400);
    let (status, _) =
        error_of(post_text(&server, &key, "no-such-room", "text/plain", b"hi".to_vec()).await)
            .await;
    assert_eq!(status, 404);
    let (status, _) = error_of(
        post_text(
            &server,
            &"0".repeat(64),
            "general",
            "text/plain",
            b"hi".to_vec(),
        )
        .await,
    )
    .await;
    assert_eq!(status, 401);

    // Pages, oldest first, the next (older) one linked.
    let res = common::http()
        .get(format!(
            "{}?limit=2",
            messages_url(&server, &key, "general")
        ))
        .send()
        .await
        .expect("answers");
    assert_eq!(res.status(), StatusCode::OK);
    let link = res.headers()["link"].to_str().expect("ascii").to_owned();
    let page: Vec<ChatMessage> = res.json().await.expect("a page");
    assert_eq!(page.len(), 2);
    assert!(page[0].id < page[1].id);
    assert_eq!(page[1].msg, "from a form [here](https://a.example)");
    let next = link
        .strip_prefix('<')
        .and_then(|l| l.split_once('>'))
        .map(|(path, rel)| {
            assert_eq!(rel, "; rel=\"next\"");
            path.to_owned()
        })
        .expect("a Link header");
    let older: Vec<ChatMessage> = common::get_json(&server.url(&next)).await;
    assert_eq!(older.len(), 2);
    assert!(older[1].id < page[0].id);

    // A new key replaces the old; a revoked bot gets nothing.
    let renewed = bots(&server, &ann, BotAction::RenewKey { user: bot })
        .await
        .expect("renewed")
        .new_key
        .expect("the new key");
    let (status, _) =
        error_of(post_text(&server, &key, "general", "text/plain", b"old key".to_vec()).await)
            .await;
    assert_eq!(status, 401);
    let res = post_text(
        &server,
        &renewed.key,
        "general",
        "text/plain",
        b"new key".to_vec(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    bots(&server, &ann, BotAction::Revoke { user: bot })
        .await
        .expect("revoked");
    let (status, _) = error_of(
        post_text(
            &server,
            &renewed.key,
            "general",
            "text/plain",
            b"gone".to_vec(),
        )
        .await,
    )
    .await;
    assert_eq!(status, 401);
    let history = common::history(&server).await;
    assert!(history
        .iter()
        .all(|m| m.msg != "gone" && m.msg != "old key"));
    assert!(
        history.iter().any(|m| m.msg == "new key" && m.bot),
        "its messages stay"
    );
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_cannot_read_or_post_in_a_private_room_it_is_not_in() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (server, ann) = owned(dir.path(), &[]).await;
    let (bot, key, _) = make_bot(&server, &ann, "Helper", "").await;
    let plans = create_room(&server, &ann, "plans").await;
    act(
        &server,
        &ann,
        RoomAction::SetPrivate {
            room: plans.id,
            private: true,
            members: vec![],
        },
    )
    .await
    .expect("made private");
    let (status, _) =
        error_of(post_text(&server, &key, &plans.slug, "text/plain", b"hi".to_vec()).await).await;
    assert_eq!(status, 404);
    let res = common::http()
        .get(messages_url(&server, &key, &plans.slug))
        .send()
        .await
        .expect("answers");
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    // Let in, it may.
    act(
        &server,
        &ann,
        RoomAction::AddMember {
            room: plans.id,
            user: bot,
        },
    )
    .await
    .expect("added");
    let res = post_text(&server, &key, &plans.slug, "text/plain", b"hi".to_vec()).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    // A blocked bot is refused like a blocked person.
    moderate(
        &server,
        &ann,
        ModAction::Block {
            user: bot,
            remove_messages: false,
        },
    )
    .await
    .expect("blocked");
    let (status, _) =
        error_of(post_text(&server, &key, "general", "text/plain", b"hi".to_vec()).await).await;
    assert_eq!(status, 403);
    server.stop();
}

/// One call as received: its headers and body.
type Received = (HeaderMap, Vec<u8>);

/// What the receiver saw.
#[derive(Clone, Default)]
struct Receiver {
    calls: Arc<Mutex<Vec<Received>>>,
    /// Slow calls whose connection the chat dropped.
    abandoned: Arc<Mutex<usize>>,
}

struct Abandoned(Arc<Mutex<usize>>);
impl Drop for Abandoned {
    fn drop(&mut self) {
        if let Ok(mut n) = self.0.lock() {
            *n += 1;
        }
    }
}

async fn receiver() -> (Receiver, String) {
    use axum::extract::State;
    use axum::routing::post;
    let r = Receiver::default();
    let app = axum::Router::new()
        .route(
            "/hook",
            post(|State(r): State<Receiver>, headers: HeaderMap, body: axum::body::Bytes| async move {
                if let Ok(mut calls) = r.calls.lock() {
                    calls.push((headers, body.to_vec()));
                }
                axum::Json(serde_json::json!({ "text": "pong" }))
            }),
        )
        .route(
            "/slow",
            post(|State(r): State<Receiver>| async move {
                let guard = Abandoned(r.abandoned.clone());
                tokio::time::sleep(Duration::from_secs(60)).await;
                std::mem::forget(guard);
                "too late"
            }),
        )
        .with_state(r.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (r, base)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mention_calls_the_webhook_once_signed_and_its_answer_is_posted() {
    let (received, base) = receiver().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let (server, ann) = owned(dir.path(), &["--webhook-allow-loopback"]).await;
    let (bot, _key, secret) = make_bot(&server, &ann, "Echo", &format!("{base}/hook")).await;
    let (mut author, _) = Client::joined(&server, &ann).await;
    let bob = new_device();
    named(&server, &bob, "Bob").await;
    let (mut reader, _) = Client::joined(&server, &bob).await;

    author
        .send_event(&ClientEvent::Send {
            client_id: ClientMessageId::new_random(),
            text: "@Echo ping".into(),
            room: None,
            mentions: vec![bot],
            attachment: None,
            reply_to: None,
        })
        .await;
    let asked = seen(&mut reader, "@Echo ping").await;
    let answer = seen(&mut reader, "pong").await;
    assert!(answer.bot);
    assert_eq!(answer.user_id, bot);
    assert_eq!(
        answer.reply.map(|q| q.id),
        Some(asked.id),
        "a reply to the mention"
    );
    // Exactly one call, signed with the bot's secret.
    let calls = received.calls.lock().expect("calls").clone();
    assert_eq!(calls.len(), 1);
    let (headers, body) = &calls[0];
    let signature = headers["x-chat-signature"].to_str().expect("ascii");
    assert_eq!(
        signature,
        format!("sha256={}", server::bots::webhook::sign(&secret, body))
    );
    assert_ne!(
        signature,
        format!("sha256={}", server::bots::webhook::sign("wrong", body))
    );
    let call: server::bots::webhook::Call = serde_json::from_slice(body).expect("the call");
    assert_eq!(call.text, "@Echo ping");
    assert_eq!(call.author.name, "Ann");
    assert_eq!(call.message_id, asked.id.0);
    assert_eq!(call.permalink, format!("/r/general/m/{}", asked.id.0));
    assert!(!call.room.direct);

    // A direct message to the bot calls it too, without a mention.
    let dm = act(&server, &ann, RoomAction::StartDirect { people: vec![bot] })
        .await
        .expect("a conversation")
        .expect("its room");
    author
        .send_event(&ClientEvent::Send {
            client_id: ClientMessageId::new_random(),
            text: "hello there".into(),
            room: Some(dm.id),
            mentions: vec![],
            attachment: None,
            reply_to: None,
        })
        .await;
    for _ in 0..100 {
        if received.calls.lock().expect("calls").len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let calls = received.calls.lock().expect("calls").clone();
    assert_eq!(calls.len(), 2);
    let call: server::bots::webhook::Call = serde_json::from_slice(&calls[1].1).expect("the call");
    assert!(call.room.direct);
    assert_eq!(call.text, "hello there");

    // A slow receiver is given up on, and the room does not wait for it.
    bots(
        &server,
        &ann,
        BotAction::SetWebhook {
            user: bot,
            webhook: format!("{base}/slow"),
        },
    )
    .await
    .expect("changed");
    author
        .send_event(&ClientEvent::Send {
            client_id: ClientMessageId::new_random(),
            text: "@Echo are you there".into(),
            room: None,
            mentions: vec![bot],
            attachment: None,
            reply_to: None,
        })
        .await;
    seen(&mut reader, "@Echo are you there").await;
    author.say("meanwhile").await;
    seen(&mut reader, "meanwhile").await;
    for _ in 0..150 {
        if *received.abandoned.lock().expect("count") >= 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        *received.abandoned.lock().expect("count") >= 1,
        "timed out after 7 s"
    );
    assert_eq!(received.calls.lock().expect("calls").len(), 2);
    server.stop();
}

/// Puts `n` messages of `user` into the General room of a stopped server's
/// database, as if sent over time (a history too long to send in a test).
fn seed_history(dir: &std::path::Path, user: UserId, n: usize) {
    let mut db = rusqlite::Connection::open(dir.join("chat.db")).expect("the database");
    let tx = db.transaction().expect("a transaction");
    let seq: i64 = tx
        .query_row("SELECT last_seq FROM rooms WHERE id = 1", [], |r| r.get(0))
        .expect("the room");
    {
        let mut insert = tx
            .prepare(
                "INSERT INTO messages (user_id, client_id, user_name, color, body, ts, room_id, created_seq, seq)
                 VALUES (?1, ?2, 'Ann', '#e08080', ?3, ?4, 1, ?5, ?5)",
            )
            .expect("prepared");
        for i in 0..n {
            let s = seq + 1 + i as i64;
            let body = if i == 7 {
                "**bold** and <script>alert(1)</script> &".to_owned()
            } else {
                format!("message number {i} of a long history, with some words in it")
            };
            insert
                .execute(rusqlite::params![
                    user.0,
                    format!("seed-{i}"),
                    body,
                    1_700_000_000_000i64 + i as i64,
                    s
                ])
                .expect("inserted");
        }
    }
    tx.execute(
        "UPDATE rooms SET last_seq = ?1 WHERE id = 1",
        [seq + n as i64],
    )
    .expect("the room's seq");
    tx.commit().expect("committed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_of_100000_messages_streams_in_flat_memory() {
    const N: usize = 100_000;
    let dir = tempfile::tempdir().expect("temp dir");
    let (server, ann) = owned(dir.path(), &[]).await;
    let ann_id = named(&server, &ann, "Ann").await.user_id;
    let bob = new_device();
    named(&server, &bob, "Bob").await;
    // A private room Bob is not in: his export leaves it out, the owner's
    // whole-chat export has it.
    let secret = create_room(&server, &ann, "secret").await;
    act(
        &server,
        &ann,
        RoomAction::SetPrivate {
            room: secret.id,
            private: true,
            members: vec![],
        },
    )
    .await
    .expect("made private");
    let res = common::http()
        .post(server.url("/api/create_room"))
        .header("cookie", common::cookie(&ann))
        .form(&[("name", "unused")])
        .send()
        .await
        .expect("answers");
    assert!(res.status().is_success());
    server.stop();
    seed_history(dir.path(), ann_id, N);
    let server = Server::start_with(dir.path(), &["--no-tls"]);
    // Warm: a page and a short export.
    let page = common::http()
        .get(server.url("/"))
        .header("cookie", common::cookie(&bob))
        .send()
        .await
        .expect("page");
    assert!(page.status().is_success());
    let before = server.peak_rss_kib();

    let mut res = common::http()
        .get(server.url("/export.json"))
        .header("cookie", common::cookie(&bob))
        .send()
        .await
        .expect("answers");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "application/json");
    let mut body = Vec::new();
    while let Some(chunk) = res.chunk().await.expect("a chunk") {
        body.extend_from_slice(&chunk);
    }
    let after = server.peak_rss_kib();
    let export: serde_json::Value = serde_json::from_slice(&body).expect("valid JSON");
    let rooms = export["rooms"].as_array().expect("rooms");
    let general = rooms
        .iter()
        .find(|r| r["room"]["slug"] == "general")
        .expect("General");
    let messages = general["messages"].as_array().expect("messages");
    assert_eq!(messages.len(), N);
    assert!(
        messages
            .windows(2)
            .all(|w| w[0]["id"].as_i64() < w[1]["id"].as_i64()),
        "oldest first"
    );
    assert!(
        rooms
            .iter()
            .all(|r| r["room"]["slug"] != secret.slug.as_str()),
        "not Bob's to read"
    );
    let grown = after.saturating_sub(before);
    println!(
        "export of {N} messages: {} KB sent, server peak RSS {before} KB before, {after} KB after (+{grown} KB)",
        body.len() / 1024
    );
    // Held whole, the export alone would add its own size.
    assert!(
        (grown as usize) < body.len() / 1024 / 2,
        "peak RSS grew {grown} KB for a {} KB export",
        body.len() / 1024
    );

    // The owner's whole chat, readable HTML: text escaped, as the chat draws it.
    // As a browser asks for it: compressed on the fly.
    let all = common::http()
        .get(server.url("/export.html?all=1"))
        .header("cookie", common::cookie(&ann))
        .header("accept-encoding", "identity;q=0, gzip")
        .send()
        .await
        .expect("answers");
    assert_eq!(all.status(), StatusCode::OK);
    assert_eq!(all.headers()["content-encoding"], "gzip");
    let gz = all.bytes().await.expect("the whole export");
    let mut html = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&gz[..]), &mut html)
        .expect("gzip");
    assert!(html.contains("<h2>secret</h2>"));
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!html.contains("<script>alert"));
    assert!(html.contains("<strong>bold</strong>"));
    assert!(html.ends_with("</body></html>\n"));
    let refused = common::http()
        .get(server.url("/export.json?all=1"))
        .header("cookie", common::cookie(&bob))
        .send()
        .await
        .expect("answers");
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    server.stop();
}
