use super::super::contract::{named, post};
use super::*;
use crate::realtime::hub::Hub;
use app::protocol::ClientMessageId;

#[tokio::test]
async fn reopening_keeps_users_and_messages() {
    let dir = tempfile::tempdir().expect("temp dir");
    let open = || {
        SqliteStore::open(
            dir.path(),
            Arc::new(Hub::new()),
            Arc::new(Metrics::default()),
        )
        .expect("opens")
    };
    let device = {
        let store = open();
        let device = named(&store, "Ann").await;
        store
            .post(post(device, ClientMessageId::new_random(), "kept"))
            .await
            .expect("stored");
        store.checkpoint().await.expect("checkpoint");
        device
    };
    let store = open();
    assert_eq!(
        store.identity(device).await.expect("reads").map(|i| i.name),
        Some("Ann".into())
    );
    assert_eq!(
        store
            .page_before(RoomId::DEFAULT, None, 5)
            .await
            .expect("reads")[0]
            .msg,
        "kept"
    );
}

#[tokio::test]
async fn a_deleted_messages_text_is_gone_from_the_database() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(
        dir.path(),
        Arc::new(Hub::new()),
        Arc::new(Metrics::default()),
    )
    .expect("opens");
    let ann = named(&store, "Ann").await;
    let m = store
        .post(post(ann, ClientMessageId::new_random(), "secret plans"))
        .await
        .expect("stored")
        .message;
    store
        .change(ann, m.id, Change::Delete, 2)
        .await
        .expect("deleted");
    store.checkpoint().await.expect("checkpoint");
    let raw = rusqlite::Connection::open(dir.path().join("chat.db")).expect("opens");
    let body: String = raw
        .query_row("SELECT body FROM messages WHERE id = ?1", [m.id.0], |r| {
            r.get(0)
        })
        .expect("row");
    assert_eq!(body, "");
    let file = std::fs::read(dir.path().join("chat.db")).expect("reads");
    assert!(
        !file.windows(12).any(|w| w == b"secret plans"),
        "not in the file either"
    );
}
