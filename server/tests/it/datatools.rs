//! `server backup` and `server migrate --to postgres://…` on real data.

use crate::common;

use app::protocol::{ChatMessage, ServerEvent};
use common::{named, new_device, Client, Server};
use std::process::Command;

fn run_server(args: &[&str], data: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_server"))
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .output()
        .expect("the server binary runs")
}

async fn say(c: &mut Client, text: &str) -> ChatMessage {
    c.say(text).await;
    c.next_matching(|e| match e {
        ServerEvent::Ack { message, .. } => Some(message),
        _ => None,
    })
    .await
}

async fn epoch(server: &Server, device: &str) -> String {
    let mut c = Client::connect(server, Some(device), "").await;
    match c.next().await {
        ServerEvent::Welcome { epoch, .. } => epoch.expect("an epoch"),
        other => panic!("expected welcome, got {other:?}"),
    }
}

#[tokio::test]
async fn a_backup_taken_while_the_chat_runs_holds_every_acked_message() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start_with(dir.path(), &["--no-tls", "--message-burst", "1000"]);
    let ann = new_device();
    named(&server, &ann, "Ann").await;
    let (mut c, _) = Client::joined(&server, &ann).await;
    for i in 0..20 {
        say(&mut c, &format!("kept {i}")).await;
    }
    let copy = dir.path().join("copy.db");
    let out = run_server(&["backup", copy.to_str().expect("utf-8 path")], dir.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let db = rusqlite::Connection::open(&copy).expect("the copy opens");
    let n: i64 = db
        .query_row("SELECT COUNT(*) FROM messages", [], |r| r.get(0))
        .expect("counts");
    assert_eq!(n, 20);
    // Restored, the copy is a new epoch: pages that saw more start over.
    let live_epoch = epoch(&server, &ann).await;
    let copy_epoch: String = db
        .query_row(
            "SELECT value FROM chat_settings WHERE key = 'epoch'",
            [],
            |r| r.get(0),
        )
        .expect("an epoch");
    assert_ne!(copy_epoch, live_epoch);
    let again = run_server(&["backup", copy.to_str().expect("utf-8 path")], dir.path());
    assert!(
        !again.status.success(),
        "an existing file is not overwritten"
    );
}

#[tokio::test]
async fn migrating_to_postgres_keeps_ids_seqs_names_and_the_epoch() {
    let Some(admin) = common::pg::cluster() else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let ann = new_device();
    let (before, old_epoch, photo) = {
        let server = Server::start(dir.path());
        named(&server, &ann, "Ann").await;
        let png = common::png(40, 20);
        let res = common::http()
            .post(server.url("/upload?name=red.png"))
            .header("cookie", common::cookie(&ann))
            .body(png)
            .send()
            .await
            .expect("upload answers");
        let up: app::protocol::Uploaded = res.json().await.expect("uploaded");
        let (mut c, _) = Client::joined(&server, &ann).await;
        for i in 0..5 {
            say(&mut c, &format!("old {i}")).await;
        }
        let epoch = epoch(&server, &ann).await;
        let before = common::history(&server).await;
        server.stop();
        (before, epoch, up.attachment.id)
    };
    let url = common::pg::fresh_database(&admin).await;
    for _ in 0..2 {
        // Twice: what is there already is kept, nothing doubles.
        let out = run_server(&["migrate", "--to", &url], dir.path());
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let pg_dir = tempfile::tempdir().expect("temp dir");
    let node = Server::start_with(pg_dir.path(), &["--no-tls", "--database-url", &url]);
    assert_eq!(common::history(&node).await, before);
    assert_eq!(
        epoch(&node, &ann).await,
        old_epoch,
        "clients keep their cursors"
    );
    let (mut c, me) = Client::joined(&node, &ann).await;
    assert_eq!(me.map(|m| m.name), Some("Ann".to_owned()));
    let next = say(&mut c, "new on PostgreSQL").await;
    // The photo moved into the database: the node serves it.
    let served = common::http()
        .get(node.url(&format!("/files/{photo}")))
        .header("cookie", common::cookie(&ann))
        .send()
        .await
        .expect("served");
    assert_eq!(served.status(), 200);
    let last = before.last().expect("messages");
    assert!(next.id > last.id && next.seq.0 == last.seq.0 + 1);
}
