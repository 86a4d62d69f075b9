//! The shared mode: real server processes on a real PostgreSQL (the
//! throwaway cluster `scripts/pg.sh` starts; `CHAT_TEST_PG` names it).
//! Without it these tests say so and pass, except under CI, where its
//! absence is a failure.

use crate::common;

use app::protocol::{ChatMessage, ClientEvent, ClientMessageId, ErrorCode, Seq, ServerEvent};
use common::pg::{cluster, fresh_database, sql};
use common::{named, new_device, Client, Server};
use std::collections::HashMap;
use std::time::Duration;
use tokio::sync::Mutex;

/// One test at a time: one of them restarts the cluster under the others.
pub static SERIAL: Mutex<()> = Mutex::const_new(());

const FLAGS: &[&str] = &["--no-tls", "--message-burst", "100000"];

pub fn node(url: &str) -> (Server, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut flags = FLAGS.to_vec();
    flags.extend(["--database-url", url]);
    (Server::start_with(dir.path(), &flags), dir)
}

fn node_at(url: &str, dir: &tempfile::TempDir, addr: &str) -> Server {
    let mut flags = FLAGS.to_vec();
    flags.extend(["--database-url", url]);
    Server::start_at(dir.path(), addr, &flags)
}

async fn send(c: &mut Client, client_id: ClientMessageId, text: &str) {
    c.send_event(&ClientEvent::Send {
        client_id,
        text: text.to_owned(),
        room: None,
        mentions: Vec::new(),
        attachment: None,
        reply_to: None,
    })
    .await;
}

async fn ack(c: &mut Client) -> ChatMessage {
    c.next_matching(|e| match e {
        ServerEvent::Ack { message, .. } => Some(message),
        _ => None,
    })
    .await
}

async fn message(c: &mut Client) -> ChatMessage {
    c.next_matching(|e| match e {
        ServerEvent::Message { message } => Some(message),
        _ => None,
    })
    .await
}

/// Seqs a watcher sees until it has `last`; panics on a gap, a repeat or
/// a step back.
async fn watch_until(c: &mut Client, after: Seq, last: Seq) -> Vec<i64> {
    let mut seen = Vec::new();
    let mut at = after.0;
    while at < last.0 {
        let m = message(c).await;
        assert_eq!(
            m.seq.0,
            at + 1,
            "seq {} after {at}: a gap, repeat or reorder",
            m.seq.0
        );
        at = m.seq.0;
        seen.push(m.id.0);
    }
    seen
}

#[tokio::test]
async fn a_message_sent_on_one_node_reaches_the_other_once_acked_and_stored() {
    let Some(admin) = cluster() else { return };
    let _one = SERIAL.lock().await;
    let url = fresh_database(&admin).await;
    let (a, _da) = node(&url);
    let (b, _db) = node(&url);
    let ann = new_device();
    let bo = new_device();
    named(&a, &ann, "Ann").await;
    named(&b, &bo, "Bo").await;
    let (mut on_a, _) = Client::joined(&a, &ann).await;
    let (mut on_b, _) = Client::joined(&b, &bo).await;
    let check = sql(&url).await;

    let cid = ClientMessageId::new_random();
    send(&mut on_a, cid, "hello from A").await;
    let acked = ack(&mut on_a).await;
    // Visible to a separate connection by the time the ack arrives.
    let stored: i64 = check
        .query_one(
            "SELECT seq FROM messages WHERE client_id = $1",
            &[&cid.0.to_string()],
        )
        .await
        .expect("the acked row is in the table")
        .get(0);
    assert_eq!(stored, acked.seq.0);
    let got = message(&mut on_b).await;
    assert_eq!(got.id, acked.id);
    assert_eq!(got.seq, acked.seq);
    assert_eq!(got.msg, "hello from A");

    // 2,000 four-byte characters: with its envelope the event is far over
    // NOTIFY's 8,000-byte payload cap, and still crosses.
    let long = "𝄞".repeat(2000);
    send(&mut on_b, ClientMessageId::new_random(), &long).await;
    let acked = ack(&mut on_b).await;
    let got = on_a
        .next_matching(|e| match e {
            ServerEvent::Message { message } if message.id == acked.id => Some(message),
            _ => None,
        })
        .await;
    assert_eq!(got.msg, long);

    // Both nodes sign pushes with the one key kept in the database.
    let mut keys = Vec::new();
    for (n, device) in [(&a, &ann), (&b, &bo)] {
        let res = common::server_fn(n, device, "push_settings", &[]).await;
        assert!(res.status().is_success());
        let settings: app::api::PushSettings = res.json().await.expect("settings");
        keys.push(settings.key);
    }
    assert_eq!(keys[0], keys[1]);
    assert_eq!(keys[0].len(), 65, "an uncompressed P-256 point");

    // /healthz is green on both.
    for n in [&a, &b] {
        let res = common::http()
            .get(n.url("/healthz"))
            .send()
            .await
            .expect("answers");
        assert_eq!(res.status(), 200);
    }
}

/// Four senders, two per node, 500 messages each, all at once: watchers
/// on both nodes see seqs 1..=2000 in order with none missing or repeated.
#[tokio::test]
async fn concurrent_senders_on_two_nodes_make_one_gapless_order() {
    let Some(admin) = cluster() else { return };
    let _one = SERIAL.lock().await;
    let url = fresh_database(&admin).await;
    let (a, _da) = node(&url);
    let (b, _db) = node(&url);
    let watcher = new_device();
    named(&a, &watcher, "Watcher").await;
    let (mut watch_a, _) = Client::joined(&a, &watcher).await;
    let (mut watch_b, _) = Client::joined(&b, &watcher).await;
    const EACH: usize = 500;
    let mut senders = Vec::new();
    for (i, n) in [&a, &a, &b, &b].into_iter().enumerate() {
        let device = new_device();
        named(n, &device, &format!("Sender{i}")).await;
        let (c, _) = Client::joined(n, &device).await;
        senders.push(tokio::spawn(async move {
            let mut c = c;
            let mut acked = 0;
            // Several in flight: send a window ahead of the acks.
            let mut sent = 0;
            while acked < EACH {
                while sent < EACH && sent - acked < 32 {
                    send(
                        &mut c,
                        ClientMessageId::new_random(),
                        &format!("s{i} m{sent}"),
                    )
                    .await;
                    sent += 1;
                }
                ack(&mut c).await;
                acked += 1;
            }
        }));
    }
    let total = Seq((EACH * 4) as i64);
    let (seen_a, seen_b) = tokio::join!(
        watch_until(&mut watch_a, Seq(0), total),
        watch_until(&mut watch_b, Seq(0), total)
    );
    for s in senders {
        s.await.expect("sender finished");
    }
    assert_eq!(seen_a, seen_b, "both nodes show one order");
    let row = sql(&url)
        .await
        .query_one(
            "SELECT COUNT(*), MIN(seq), MAX(seq), COUNT(DISTINCT seq) FROM messages",
            &[],
        )
        .await
        .expect("counts");
    let (n, lo, hi, distinct): (i64, i64, i64, i64) =
        (row.get(0), row.get(1), row.get(2), row.get(3));
    assert_eq!((n, lo, hi, distinct), (2000, 1, 2000, 2000));
}

/// A post committed on A just before A is killed, resent to B and again
/// to A after its restart: one row, one seq, acked each time.
#[tokio::test]
async fn a_resend_to_another_node_after_a_crash_is_stored_once() {
    let Some(admin) = cluster() else { return };
    let _one = SERIAL.lock().await;
    let url = fresh_database(&admin).await;
    let (a, dir_a) = node(&url);
    let addr_a = a.addr.to_string();
    let (b, _db) = node(&url);
    let ann = new_device();
    named(&a, &ann, "Ann").await;
    let (mut on_a, _) = Client::joined(&a, &ann).await;
    let cid = ClientMessageId::new_random();
    send(&mut on_a, cid, "exactly once").await;
    let first = ack(&mut on_a).await;
    a.crash();

    let (mut on_b, _) = Client::joined(&b, &ann).await;
    send(&mut on_b, cid, "exactly once").await;
    let second = ack(&mut on_b).await;
    assert_eq!(second.id, first.id);
    assert_eq!(second.seq, first.seq);

    let a = node_at(&url, &dir_a, &addr_a);
    let (mut again, _) = Client::joined(&a, &ann).await;
    send(&mut again, cid, "exactly once").await;
    let third = ack(&mut again).await;
    assert_eq!(third.id, first.id);
    let n: i64 = sql(&url)
        .await
        .query_one(
            "SELECT COUNT(*) FROM messages WHERE client_id = $1",
            &[&cid.0.to_string()],
        )
        .await
        .expect("count")
        .get(0);
    assert_eq!(n, 1);
}

/// Messages keep coming while node A is killed; A's watcher reconnects to
/// B with its last seq and gets exactly what it missed, in order.
#[tokio::test]
async fn clients_of_a_killed_node_catch_up_exactly_once_on_the_other() {
    let Some(admin) = cluster() else { return };
    let _one = SERIAL.lock().await;
    let url = fresh_database(&admin).await;
    let (a, _da) = node(&url);
    let (b, _db) = node(&url);
    let (ann, bo) = (new_device(), new_device());
    named(&a, &ann, "Ann").await;
    named(&b, &bo, "Bo").await;
    let (mut watch_a, _) = Client::joined(&a, &ann).await;
    let (mut talk_b, _) = Client::joined(&b, &bo).await;
    for i in 0..50 {
        send(
            &mut talk_b,
            ClientMessageId::new_random(),
            &format!("before {i}"),
        )
        .await;
    }
    let seen = watch_until(&mut watch_a, Seq(0), Seq(50)).await;
    assert_eq!(seen.len(), 50);
    // Traffic continues while A dies.
    let talker = tokio::spawn(async move {
        for i in 0..150 {
            send(
                &mut talk_b,
                ClientMessageId::new_random(),
                &format!("during {i}"),
            )
            .await;
            ack(&mut talk_b).await;
        }
        talk_b
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    a.crash();
    let mut resumed = Client::connect(&b, Some(&ann), "?last_seen=50").await;
    let _talk_b = talker.await.expect("talker finished");
    let rest = watch_until(&mut resumed, Seq(50), Seq(200)).await;
    assert_eq!(rest.len(), 150);
}

/// The listener's connection is terminated mid-traffic: watchers on both
/// nodes still see every seq once, and the listener comes back.
#[tokio::test]
async fn a_terminated_listener_leaves_no_gap() {
    let Some(admin) = cluster() else { return };
    let _one = SERIAL.lock().await;
    let url = fresh_database(&admin).await;
    let (a, _da) = node(&url);
    let (b, _db) = node(&url);
    let (ann, bo) = (new_device(), new_device());
    named(&a, &ann, "Ann").await;
    named(&b, &bo, "Bo").await;
    let (mut talk_a, _) = Client::joined(&a, &ann).await;
    let (mut watch_b, _) = Client::joined(&b, &bo).await;
    let (mut watch_a, _) = Client::joined(&a, &bo).await;
    let check = sql(&url).await;
    let dbname = url
        .split('/')
        .next_back()
        .and_then(|t| t.split('?').next())
        .unwrap_or("")
        .to_owned();
    let talker = tokio::spawn(async move {
        for i in 0..300 {
            send(&mut talk_a, ClientMessageId::new_random(), &format!("m{i}")).await;
            ack(&mut talk_a).await;
        }
    });
    let mut killed = 0;
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        killed += check
            .query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                 WHERE application_name = 'chat-bus' AND datname = $1",
                &[&dbname],
            )
            .await
            .expect("terminates")
            .len();
    }
    assert!(killed >= 2, "listeners were terminated ({killed})");
    talker.await.expect("talker finished");
    let (seen_a, seen_b) = tokio::join!(
        watch_until(&mut watch_a, Seq(0), Seq(300)),
        watch_until(&mut watch_b, Seq(0), Seq(300))
    );
    assert_eq!(seen_a, seen_b);
    // Both listeners are back: their nodes report healthy.
    for n in [&a, &b] {
        let deadline = std::time::Instant::now() + common::WAIT;
        loop {
            let res = common::http()
                .get(n.url("/healthz"))
                .send()
                .await
                .expect("answers");
            if res.status() == 200 {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the listener did not recover"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// PostgreSQL restarts (immediate: a crash) during traffic. Sends in the
/// outage get errors, never acks; resent like the page's outbox does,
/// every acked message is stored and both nodes converge on one last seq.
#[tokio::test]
async fn a_database_restart_loses_no_acked_message() {
    let Some(admin) = cluster() else { return };
    let Ok(pgdata) = std::env::var("CHAT_TEST_PGDATA") else {
        eprintln!("skipped: no CHAT_TEST_PGDATA");
        return;
    };
    let _one = SERIAL.lock().await;
    let url = fresh_database(&admin).await;
    let (a, _da) = node(&url);
    let (b, _db) = node(&url);
    let (ann, bo) = (new_device(), new_device());
    named(&a, &ann, "Ann").await;
    named(&b, &bo, "Bo").await;
    let (mut talk, _) = Client::joined(&a, &ann).await;
    let (mut watch_b, _) = Client::joined(&b, &bo).await;

    let restart = tokio::task::spawn_blocking(move || {
        std::thread::sleep(Duration::from_millis(300));
        let status = std::process::Command::new("runuser")
            .args([
                "-u",
                "postgres",
                "--",
                "/usr/lib/postgresql/15/bin/pg_ctl",
                "-D",
            ])
            .arg(&pgdata)
            .args(["restart", "-m", "immediate", "-w"])
            .stdout(std::process::Stdio::null())
            .status()
            .expect("pg_ctl runs");
        assert!(status.success(), "PostgreSQL restarted");
    });
    // Each message is resent until acked, as the page's outbox does.
    let mut acked: HashMap<ClientMessageId, ChatMessage> = HashMap::new();
    let mut refused = 0;
    for i in 0..60 {
        let cid = ClientMessageId::new_random();
        loop {
            send(&mut talk, cid, &format!("m{i}")).await;
            let answer = talk
                .next_matching(|e| match e {
                    ServerEvent::Ack { message, .. } => Some(Ok(message)),
                    ServerEvent::Error {
                        client_id: Some(c),
                        code,
                        retry_after_ms,
                        ..
                    } if c == cid => Some(Err((code, retry_after_ms))),
                    _ => None,
                })
                .await;
            match answer {
                Ok(message) => {
                    acked.insert(cid, message);
                    break;
                }
                Err((code, retry)) => {
                    // "Not now, send it again": the page's outbox waits
                    // and resends it, first in line.
                    assert_eq!(code, app::protocol::ErrorCode::Unavailable);
                    assert!(retry.is_some());
                    refused += 1;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    restart.await.expect("restart finished");
    eprintln!("{refused} sends refused during the outage");
    let check = sql(&url).await;
    for (cid, m) in &acked {
        let row = check
            .query_one(
                "SELECT id, seq FROM messages WHERE client_id = $1",
                &[&cid.0.to_string()],
            )
            .await
            .expect("every acked message is stored");
        assert_eq!(row.get::<_, i64>(0), m.id.0);
    }
    let last: i64 = check
        .query_one("SELECT last_seq FROM rooms WHERE id = 1", &[])
        .await
        .expect("cursor")
        .get(0);
    assert_eq!(last, 60);
    // B's watcher converges on the same last seq, in order.
    let seen = watch_until(&mut watch_b, Seq(0), Seq(last)).await;
    assert_eq!(seen.len(), 60);
    assert!(refused > 0, "the outage was seen by the sender");
}

/// A cursor from another epoch (a restored backup, another mode) is not
/// trusted: the room's page comes instead of a catch-up.
#[tokio::test]
async fn a_cursor_from_another_epoch_gets_the_page() {
    let Some(admin) = cluster() else { return };
    let _one = SERIAL.lock().await;
    let url = fresh_database(&admin).await;
    let (a, _da) = node(&url);
    let ann = new_device();
    named(&a, &ann, "Ann").await;
    let (mut c, _) = Client::joined(&a, &ann).await;
    for i in 0..3 {
        send(&mut c, ClientMessageId::new_random(), &format!("m{i}")).await;
        ack(&mut c).await;
    }
    let mut stale = Client::connect(&a, Some(&ann), "?last_seen=1&epoch=another").await;
    let epoch = match stale.next().await {
        ServerEvent::Welcome { epoch, .. } => epoch.expect("the server names its epoch"),
        other => panic!("expected welcome, got {other:?}"),
    };
    assert_ne!(epoch, "another");
    match stale.next().await {
        ServerEvent::Resync { messages, seq, .. } => {
            assert_eq!(messages.len(), 3);
            assert_eq!(seq, Seq(3));
        }
        other => panic!("expected the page, got {other:?}"),
    }
    // A cursor past the room's end (a restored backup) gets the page too.
    let mut ahead = Client::connect(&a, Some(&ann), &format!("?last_seen=99&epoch={epoch}")).await;
    ahead.next().await;
    assert!(matches!(ahead.next().await, ServerEvent::Resync { .. }));
    let mut same = Client::connect(&a, Some(&ann), &format!("?last_seen=1&epoch={epoch}")).await;
    same.next().await;
    assert_eq!(
        message(&mut same).await.seq,
        Seq(2),
        "same epoch: a catch-up"
    );
}

/// Who's here spans the nodes: people on A see who opened the room on B,
/// typing crosses too, and a killed node's people leave after a while.
#[tokio::test]
async fn presence_and_typing_cross_nodes() {
    let Some(admin) = cluster() else { return };
    let _one = SERIAL.lock().await;
    let url = fresh_database(&admin).await;
    let (a, _da) = node(&url);
    let (b, _db) = node(&url);
    let (ann, bo) = (new_device(), new_device());
    let ann_id = named(&a, &ann, "Ann").await;
    let bo_id = named(&b, &bo, "Bo").await;
    let (mut on_a, _) = Client::joined(&a, &ann).await;
    let (mut on_b, _) = Client::joined(&b, &bo).await;
    let mut here = common::WhoIsHere::default();
    on_a.next_matching(|e| (here.apply(&e) && here.names() == ["Ann", "Bo"]).then_some(()))
        .await;
    on_b.send_event(&ClientEvent::Typing).await;
    let typist = on_a
        .next_matching(|e| match e {
            ServerEvent::Typing { user, .. } => Some(user),
            _ => None,
        })
        .await;
    assert_eq!(typist.user_id, bo_id.user_id);
    b.crash();
    // Bo's node stopped announcing; Ann's list drops him once it expires
    // (10 s after its last announcement).
    tokio::time::sleep(Duration::from_secs(11)).await;
    on_a.next_matching(|e| (here.apply(&e) && here.names() == ["Ann"]).then_some(()))
        .await;
    assert_eq!(
        here.people.values().cloned().collect::<Vec<_>>(),
        vec![ann_id]
    );
}

/// Moderation on one node holds on the other: a block closes the
/// blocked device's sockets there and removes its messages for everyone,
/// and switching to invite-only shuts strangers out on every node.
#[tokio::test]
async fn blocks_and_invite_only_apply_on_every_node() {
    use app::api::ModAction;
    use app::protocol::{close_code, ErrorCode};
    let Some(admin) = cluster() else { return };
    let _one = SERIAL.lock().await;
    let url = fresh_database(&admin).await;
    let (a, _da) = node(&url);
    let (b, _db) = node(&url);
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let ann = new_device();
    let token = a.printed_owner_token();
    let claimed = no_redirects
        .get(a.url(&format!("/owner/{token}")))
        .header("cookie", common::cookie(&ann))
        .send()
        .await
        .expect("answers");
    assert_eq!(claimed.status(), 303, "Ann owns the chat");
    named(&a, &ann, "Ann").await;
    let bo = new_device();
    let bo_id = named(&b, &bo, "Bo").await.user_id;
    let watcher = new_device();
    named(&b, &watcher, "Cy").await;
    let (mut bo_tab, _) = Client::joined(&b, &bo).await;
    let (mut cy_tab, _) = Client::joined(&b, &watcher).await;
    send(&mut bo_tab, ClientMessageId::new_random(), "spam").await;
    let spam = ack(&mut bo_tab).await;

    let moderate = |action: ModAction| {
        let a_url = a.url("/api/moderate");
        let ann = ann.clone();
        async move {
            let res = common::http()
                .post(a_url)
                .header("cookie", common::cookie(&ann))
                .json(&serde_json::json!({ "action": action }))
                .send()
                .await
                .expect("answers");
            assert!(
                res.status().is_success(),
                "{}",
                res.text().await.unwrap_or_default()
            );
        }
    };
    moderate(ModAction::Block {
        user: bo_id,
        remove_messages: true,
    })
    .await;
    bo_tab
        .next_matching(|e| match e {
            ServerEvent::Error {
                code: ErrorCode::Blocked,
                ..
            } => Some(()),
            _ => None,
        })
        .await;
    assert_eq!(bo_tab.close_code().await, Some(close_code::BLOCKED));
    let removed = cy_tab
        .next_matching(|e| match e {
            ServerEvent::Message { message } if message.id == spam.id && message.deleted => {
                Some(message)
            }
            _ => None,
        })
        .await;
    assert!(removed.removed && removed.msg.is_empty());

    moderate(ModAction::SetAccess { invite_only: true }).await;
    let stranger = new_device();
    let deadline = std::time::Instant::now() + common::WAIT;
    loop {
        let page = no_redirects
            .get(b.url("/"))
            .header("cookie", common::cookie(&stranger))
            .send()
            .await
            .expect("answers");
        if page.status() == 403 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "node B still lets strangers in"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let members_page = no_redirects
        .get(b.url("/"))
        .header("cookie", common::cookie(&watcher))
        .send()
        .await
        .expect("answers");
    assert_eq!(members_page.status(), 200, "members stay in");
}

/// A photo uploaded through one node is served by the other: in the
/// shared mode files live in the database, not one node's directory.
#[tokio::test]
async fn a_photo_uploaded_to_one_node_is_served_by_the_other() {
    let Some(admin) = cluster() else { return };
    let _one = SERIAL.lock().await;
    let url = fresh_database(&admin).await;
    let (a, _da) = node(&url);
    let (b, _db) = node(&url);
    let ann = new_device();
    named(&a, &ann, "Ann").await;
    let png = common::png(64, 32);
    let res = common::http()
        .post(a.url("/upload?name=dot.png"))
        .header("cookie", common::cookie(&ann))
        .body(png)
        .send()
        .await
        .expect("upload answers");
    assert_eq!(res.status(), 200);
    let up: app::protocol::Uploaded = res.json().await.expect("uploaded");
    let served = common::http()
        .get(b.url(&format!("/files/{}", up.attachment.id)))
        .header("cookie", common::cookie(&ann))
        .send()
        .await
        .expect("served");
    assert_eq!(served.status(), 200);
    let bytes = served.bytes().await.expect("body");
    let photo = image::load_from_memory(&bytes).expect("an image");
    assert_eq!((photo.width(), photo.height()), (64, 32));
}

/// A device's message rate holds across nodes: what it spent on one node
/// is gone on the other once the nodes have told each other (every
/// 250 ms), while other devices keep their own.
#[tokio::test]
async fn a_rate_limit_spent_on_one_node_holds_on_the_other() {
    let Some(admin) = cluster() else { return };
    let _one = SERIAL.lock().await;
    let url = fresh_database(&admin).await;
    // A burst of 3 and no refill to speak of; newcomers as free as anyone.
    let limited = || {
        let dir = tempfile::tempdir().expect("temp dir");
        let flags = [
            "--no-tls",
            "--message-burst",
            "3",
            "--message-refill-ms",
            "600000",
            "--newcomer-burst",
            "1000",
            "--database-url",
            &url,
        ];
        (Server::start_with(dir.path(), &flags), dir)
    };
    let (a, _da) = limited();
    let (b, _db) = limited();
    let (ann, bo) = (new_device(), new_device());
    named(&a, &ann, "Ann").await;
    named(&b, &bo, "Bo").await;
    let (mut ann_a, _) = Client::joined(&a, &ann).await;
    let (mut ann_b, _) = Client::joined(&b, &ann).await;
    for i in 0..3 {
        ann_a.say(&format!("burst {i}")).await;
        ack(&mut ann_a).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;

    let outcome = |c: &'static str| {
        move |e: ServerEvent| match e {
            ServerEvent::Ack { message, .. } if message.msg == c => Some(Ok(())),
            ServerEvent::Error {
                code: ErrorCode::RateLimited,
                retry_after_ms,
                ..
            } => Some(Err(retry_after_ms)),
            _ => None,
        }
    };
    ann_b.say("one too many").await;
    let refused = ann_b.next_matching(outcome("one too many")).await;
    let wait = refused.expect_err("node B let Ann past the burst she spent on node A");
    assert!(
        wait.is_some_and(|ms| ms > 500_000),
        "waits for a refill: {wait:?}"
    );

    let (mut bo_b, _) = Client::joined(&b, &bo).await;
    bo_b.say("unaffected").await;
    assert_eq!(bo_b.next_matching(outcome("unaffected")).await, Ok(()));
}

/// A socket of a device without a name, opened on node B while the chat
/// was open, stops reading at once when the owner makes it invite-only on
/// node A.
#[tokio::test]
async fn a_socket_on_another_node_reads_nothing_once_the_chat_turns_private() {
    use app::api::ModAction;
    use app::protocol::{close_code, ErrorCode};
    let Some(admin) = cluster() else { return };
    let _one = SERIAL.lock().await;
    let url = fresh_database(&admin).await;
    let (a, _da) = node(&url);
    let (b, _db) = node(&url);
    let ann = new_device();
    let token = a.printed_owner_token();
    let claimed = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
        .get(a.url(&format!("/owner/{token}")))
        .header("cookie", common::cookie(&ann))
        .send()
        .await
        .expect("answers");
    assert_eq!(claimed.status(), 303);
    named(&a, &ann, "Ann").await;
    let (mut ann_tab, _) = Client::joined(&a, &ann).await;
    let (mut onlooker, me) = Client::joined(&b, &new_device()).await;
    assert!(me.is_none());
    send(&mut ann_tab, ClientMessageId::new_random(), "while open").await;
    let seen = message(&mut onlooker).await;
    assert_eq!(seen.msg, "while open");

    let res = common::http()
        .post(a.url("/api/moderate"))
        .header("cookie", common::cookie(&ann))
        .json(&serde_json::json!({ "action": ModAction::SetAccess { invite_only: true } }))
        .send()
        .await
        .expect("answers");
    assert!(res.status().is_success());
    onlooker
        .next_matching(|e| match e {
            ServerEvent::Error {
                code: ErrorCode::Private,
                ..
            } => Some(()),
            ServerEvent::Message { message } => panic!("read {:?} after the switch", message.msg),
            _ => None,
        })
        .await;
    assert_eq!(onlooker.close_code().await, Some(close_code::PRIVATE));
}
