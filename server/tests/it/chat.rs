//! The chat over its real protocol: a real server process, real sockets.

use crate::common;

use app::protocol::{ChatMessage, ClientEvent, ErrorCode, MessageId, ServerEvent};
use common::{named, new_device, Client, Server};
use futures::SinkExt;
use tokio_tungstenite::tungstenite::Message;

fn ack_of(event: ServerEvent) -> Option<ChatMessage> {
    match event {
        ServerEvent::Ack { message, .. } => Some(message),
        _ => None,
    }
}

fn message_of(event: ServerEvent) -> Option<ChatMessage> {
    match event {
        ServerEvent::Message { message } => Some(message),
        _ => None,
    }
}

fn error_of(event: ServerEvent) -> Option<ErrorCode> {
    match event {
        ServerEvent::Error { code, .. } => Some(code),
        _ => None,
    }
}

#[tokio::test]
async fn two_devices_chat_live_with_names_and_colours() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(dir.path());
    let (ann_dev, bob_dev) = (new_device(), new_device());
    let ann = named(&server, &ann_dev, "Ann").await;
    let bob = named(&server, &bob_dev, " Bob ").await;
    assert_eq!(bob.name, "Bob");
    assert_ne!(ann.user_id, bob.user_id);

    let (mut a, me_a) = Client::joined(&server, &ann_dev).await;
    let (mut b, me_b) = Client::joined(&server, &bob_dev).await;
    assert_eq!(me_a, Some(ann.clone()));
    assert_eq!(me_b, Some(bob.clone()));

    let cid = a.say("hello <b>world</b>").await;
    // The sender gets its ack and, like every tab, the broadcast: in
    // either order (the broadcast is published before the ack is sent).
    let (mut acked, mut seen_by_a) = (None, None);
    while acked.is_none() || seen_by_a.is_none() {
        match a.next().await {
            ServerEvent::Ack { message, .. } => acked = Some(message),
            ServerEvent::Message { message } => seen_by_a = Some(message),
            _ => {}
        }
    }
    let (acked, seen_by_a) = (acked.expect("acked"), seen_by_a.expect("seen"));
    assert_eq!(seen_by_a, acked);
    let seen_by_b = b.next_matching(message_of).await;
    assert_eq!(acked, seen_by_b);
    assert_eq!(seen_by_b.user_name, "Ann");
    assert_eq!(seen_by_b.color, ann.color);
    assert_eq!(seen_by_b.user_id, ann.user_id);
    assert_eq!(seen_by_b.msg, "hello <b>world</b>");
    assert!(seen_by_b.ts > 0);
    let _ = cid;
}

#[tokio::test]
async fn a_new_device_is_asked_for_a_name_and_cannot_post() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(dir.path());
    let mut c = Client::connect(&server, None, "").await;
    assert!(matches!(
        c.next().await,
        ServerEvent::Welcome { me: None, .. }
    ));
    c.say("hi").await;
    assert_eq!(c.next_matching(error_of).await, ErrorCode::NameRequired);
}

#[tokio::test]
async fn renaming_reaches_every_tab_of_the_device_and_keeps_the_colour() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(dir.path());
    let dev = new_device();
    let first = named(&server, &dev, "Ann").await;
    let (mut tab1, _) = Client::joined(&server, &dev).await;
    let (mut tab2, _) = Client::joined(&server, &dev).await;
    let renamed = named(&server, &dev, "Annie").await;
    assert_eq!(renamed.color, first.color);
    for tab in [&mut tab1, &mut tab2] {
        let me = tab
            .next_matching(|e| match e {
                ServerEvent::Identity { me } => Some(me),
                _ => None,
            })
            .await;
        assert_eq!(me, renamed);
    }
}

#[tokio::test]
async fn invalid_names_get_a_clear_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(dir.path());
    for bad in ["", "   ", &"x".repeat(33), "a\u{1}b", "\u{200B}\u{200D}"] {
        let res = common::set_name(&server, &new_device(), bad).await;
        assert!(res.status().is_server_error() || res.status().is_client_error());
        let body = res.text().await.expect("body");
        assert!(body.contains("name"), "unclear error for {bad:?}: {body}");
    }
}

#[tokio::test]
async fn bad_input_gets_clear_errors_and_the_server_keeps_serving() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(dir.path());
    let dev = new_device();
    named(&server, &dev, "Ann").await;
    let (mut c, _) = Client::joined(&server, &dev).await;

    c.say("   ").await;
    assert_eq!(c.next_matching(error_of).await, ErrorCode::EmptyMessage);
    // Nothing visible: zero-width and bidi characters alone.
    c.say("\u{200B}\u{2060}\u{FEFF}\u{202E}").await;
    let (code, message) = c
        .next_matching(|e| match e {
            ServerEvent::Error { code, message, .. } => Some((code, message)),
            _ => None,
        })
        .await;
    assert_eq!(code, ErrorCode::EmptyMessage);
    assert!(message.contains("visible"), "{message}");
    c.say(&"x".repeat(2001)).await;
    assert_eq!(c.next_matching(error_of).await, ErrorCode::MessageTooLong);
    c.send_raw(Message::text("{not json")).await;
    assert_eq!(c.next_matching(error_of).await, ErrorCode::InvalidEvent);
    c.send_raw(Message::text(r#"{"type":"shout","text":"x"}"#))
        .await;
    assert_eq!(c.next_matching(error_of).await, ErrorCode::InvalidEvent);
    c.send_raw(Message::binary(vec![0xff, 0x00, 0xfe])).await;
    assert_eq!(c.next_matching(error_of).await, ErrorCode::InvalidEvent);

    // Nothing was stored, and the same socket still works.
    let history = common::history(&server).await;
    assert!(history.is_empty());
    c.say(&"y".repeat(2000)).await;
    assert_eq!(c.next_matching(ack_of).await.msg.len(), 2000);
    c.send_event(&ClientEvent::Ping { nonce: 9 }).await;
    assert_eq!(
        c.next_matching(|e| matches!(e, ServerEvent::Pong { nonce: 9 }).then_some(()))
            .await,
        ()
    );
}

#[tokio::test]
async fn an_oversized_frame_closes_only_that_connection() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(dir.path());
    let dev = new_device();
    named(&server, &dev, "Ann").await;
    let (mut bystander, _) = Client::joined(&server, &dev).await;
    let (mut big, _) = Client::joined(&server, &dev).await;
    let _ = big
        .socket
        .send(Message::text("x".repeat(10 * 1024 * 1024)))
        .await;
    assert_eq!(big.close_code().await, Some(1009), "message too big");
    bystander.say("still here").await;
    assert_eq!(bystander.next_matching(ack_of).await.msg, "still here");
}

#[tokio::test]
async fn a_cross_site_handshake_is_refused() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(dir.path());
    let mut req = server.ws_url("").into_client_request().expect("request");
    req.headers_mut()
        .insert("origin", "https://evil.example".parse().expect("header"));
    req.headers_mut().insert(
        "cookie",
        common::cookie(&new_device()).parse().expect("header"),
    );
    match tokio_tungstenite::connect_async(req).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(res)) => assert_eq!(res.status(), 403),
        other => panic!("expected 403, got {:?}", other.map(|(_, r)| r.status())),
    }
    let mut req = server.ws_url("").into_client_request().expect("request");
    let same = format!("http://{}", server.addr);
    req.headers_mut()
        .insert("origin", same.parse().expect("header"));
    let (_, res) = tokio_tungstenite::connect_async(req)
        .await
        .expect("same origin");
    assert_eq!(res.status(), 101);
}

#[tokio::test]
async fn resend_with_same_client_id_is_stored_once_and_acked_twice() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(dir.path());
    let dev = new_device();
    named(&server, &dev, "Ann").await;
    let (mut c, _) = Client::joined(&server, &dev).await;
    let event = ClientEvent::Send {
        client_id: app::protocol::ClientMessageId::new_random(),
        text: "once".into(),
        room: None,
        mentions: Vec::new(),
        attachment: None,
        reply_to: None,
    };
    c.send_event(&event).await;
    let first = c.next_matching(ack_of).await;
    c.send_event(&event).await;
    let second = c.next_matching(ack_of).await;
    assert_eq!(first, second);
    let history = common::history(&server).await;
    assert_eq!(history.len(), 1);
}

#[tokio::test]
async fn catch_up_replays_exactly_the_missed_messages_in_order() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(dir.path());
    let dev = new_device();
    named(&server, &dev, "Ann").await;
    let (mut c, _) = Client::joined(&server, &dev).await;
    let mut ids = Vec::new();
    for i in 0..6 {
        c.say(&format!("m{i}")).await;
        ids.push(c.next_matching(ack_of).await.id);
    }
    let seqs = common::history(&server).await;
    let mut late = Client::connect(
        &server,
        Some(&dev),
        &format!("?last_seen={}", seqs[2].seq.0),
    )
    .await;
    assert!(matches!(late.next().await, ServerEvent::Welcome { .. }));
    let mut replayed = Vec::new();
    for _ in 0..3 {
        replayed.push(late.next_matching(message_of).await.id);
    }
    assert_eq!(replayed, ids[3..].to_vec());
    // Live traffic continues after the replay, with no repeat.
    c.say("live").await;
    let next = late.next_matching(message_of).await;
    assert_eq!(next.msg, "live");
    assert!(next.id > ids[5]);
}

#[tokio::test]
async fn get_messages_has_the_seed_shape_and_paginates() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(dir.path());
    let dev = new_device();
    named(&server, &dev, "Ann").await;
    let (mut c, _) = Client::joined(&server, &dev).await;
    for i in 0..7 {
        c.say(&format!("m{i}")).await;
        c.next_matching(ack_of).await;
    }
    let http = common::http();
    let all: serde_json::Value = common::get_json(&server.url("/get_messages")).await;
    let items = all.as_array().expect("array");
    assert_eq!(items.len(), 7);
    for key in ["user_name", "msg", "color", "id", "ts"] {
        assert!(items[0].get(key).is_some(), "missing {key}");
    }
    assert_eq!(items[6]["msg"], "m6", "newest last");
    assert!(items[0].get("device_id").is_none());

    let page: Vec<ChatMessage> =
        common::get_json(&server.url(&format!("/get_messages?before={}&limit=3", items[4]["id"])))
            .await;
    let texts: Vec<&str> = page.iter().map(|m| m.msg.as_str()).collect();
    assert_eq!(texts, ["m1", "m2", "m3"]);

    let capped: Vec<ChatMessage> =
        common::get_json(&server.url("/get_messages?limit=100000")).await;
    assert_eq!(capped.len(), 7);
    let bad = http
        .get(server.url("/get_messages?limit=lots"))
        .send()
        .await
        .expect("answers");
    assert_eq!(bad.status(), 400);
    let _ = MessageId(0);
}

#[tokio::test]
async fn names_and_history_survive_a_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let dev = new_device();
    let ann = {
        let server = Server::start(dir.path());
        let ann = named(&server, &dev, "Ann").await;
        let (mut c, _) = Client::joined(&server, &dev).await;
        c.say("before restart").await;
        c.next_matching(ack_of).await;
        assert!(server.stop().success(), "graceful shutdown exits 0");
        ann
    };
    let server = Server::start(dir.path());
    let (_c, me) = Client::joined(&server, &dev).await;
    assert_eq!(me, Some(ann));
    let history = common::history(&server).await;
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].msg, "before restart");
}

#[tokio::test]
async fn shutdown_closes_sockets_with_going_away() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(dir.path());
    let dev = new_device();
    named(&server, &dev, "Ann").await;
    let (mut c, _) = Client::joined(&server, &dev).await;
    let pid = server.addr; // keep the server alive until the socket is open
    let stopper = std::thread::spawn(move || server.stop());
    assert_eq!(c.close_code().await, Some(1001), "socket of {pid}");
    assert!(stopper.join().expect("joins").success());
}

#[tokio::test]
async fn seed_user_names_are_imported() {
    let dir = tempfile::tempdir().expect("temp dir");
    let dev = new_device();
    let file = dir.path().join("user_names.json");
    let seed = serde_json::json!({
        dev.clone(): {"name": "Seed Sam", "color": "rgb(210, 150, 120)"},
        "not-a-uuid": {"name": "Nobody", "color": "rgb(1,1,1)"},
        new_device(): {"name": "", "color": "rgb(1,1,1)"},
    });
    std::fs::write(&file, seed.to_string()).expect("writes");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_server"))
        .arg("--data-dir")
        .arg(dir.path())
        .arg("import-seed")
        .arg(&file)
        .status()
        .expect("runs");
    assert!(status.success());
    let server = Server::start(dir.path());
    let (_c, me) = Client::joined(&server, &dev).await;
    let me = me.expect("seed user is known");
    assert_eq!(me.name, "Seed Sam");
    assert_eq!(me.color, "rgb(210, 150, 120)");
}

#[tokio::test]
async fn a_failed_write_is_an_error_never_an_ack() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(dir.path());
    let dev = new_device();
    named(&server, &dev, "Ann").await;
    let (mut c, _) = Client::joined(&server, &dev).await;

    // Make every insert fail, as a full disk would, from outside the server.
    let db = rusqlite::Connection::open(dir.path().join("chat.db")).expect("opens");
    db.execute_batch(
        "CREATE TRIGGER fail_writes BEFORE INSERT ON messages
         BEGIN SELECT RAISE(ABORT, 'simulated write failure'); END;",
    )
    .expect("trigger");
    let event = ClientEvent::Send {
        client_id: app::protocol::ClientMessageId::new_random(),
        text: "must not be acked".into(),
        room: None,
        mentions: Vec::new(),
        attachment: None,
        reply_to: None,
    };
    c.send_event(&event).await;
    loop {
        match c.next().await {
            ServerEvent::Error {
                code: ErrorCode::Internal,
                client_id,
                ..
            } => {
                assert!(client_id.is_some());
                break;
            }
            ServerEvent::Presence { .. } | ServerEvent::Here { .. } => continue,
            other => panic!("expected an error, got {other:?}"),
        }
    }

    // Once the store works again, the same message is stored exactly once.
    db.execute_batch("DROP TRIGGER fail_writes;").expect("drop");
    c.send_event(&event).await;
    let acked = c.next_matching(ack_of).await;
    assert_eq!(acked.msg, "must not be acked");
    let history = common::history(&server).await;
    assert_eq!(history.len(), 1);
}

#[tokio::test]
async fn a_forged_device_id_cannot_speak_as_anyone() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(dir.path());
    let ann_dev = new_device();
    let ann = named(&server, &ann_dev, "Ann").await;
    // A guessed UUID is just an unknown device: no name, cannot post.
    let mut forger = Client::connect(&server, Some(&new_device()), "").await;
    assert!(matches!(
        forger.next().await,
        ServerEvent::Welcome { me: None, .. }
    ));
    forger.say("I am Ann").await;
    assert_eq!(
        forger.next_matching(error_of).await,
        ErrorCode::NameRequired
    );
    // Nothing public reveals Ann's device id.
    let page = common::http()
        .get(server.url("/get_messages"))
        .send()
        .await
        .expect("history")
        .text()
        .await
        .expect("text");
    assert!(!page.contains(&ann_dev));
    let (mut a, _) = Client::joined(&server, &ann_dev).await;
    a.say("hello").await;
    let m = a.next_matching(message_of).await;
    assert_eq!(m.user_id, ann.user_id);
    let wire = serde_json::to_string(&m).expect("json");
    assert!(!wire.contains(&ann_dev));
}

#[tokio::test]
async fn a_character_is_a_character_for_emoji_too() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(dir.path());
    let dev = new_device();
    let me = named(&server, &dev, &"😀".repeat(32)).await;
    assert_eq!(me.name.chars().count(), 32);
    let (mut c, _) = Client::joined(&server, &dev).await;
    c.say(&"🎉".repeat(2000)).await;
    assert_eq!(c.next_matching(ack_of).await.msg.chars().count(), 2000);
    c.say(&"🎉".repeat(2001)).await;
    assert_eq!(c.next_matching(error_of).await, ErrorCode::MessageTooLong);
}
