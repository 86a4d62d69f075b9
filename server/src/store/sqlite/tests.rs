use super::*;
use app::protocol::ClientMessageId;
use app::validate::MessageText;

fn store() -> (tempfile::TempDir, SqliteStore, Arc<Hub>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let hub = Arc::new(Hub::new());
    let store =
        SqliteStore::open(dir.path(), hub.clone(), Arc::new(Metrics::default())).expect("opens");
    (dir, store, hub)
}

fn name(s: &str) -> UserName {
    UserName::parse(s).expect("valid name")
}

fn post(device: DeviceId, client_id: ClientMessageId, text: &str) -> NewPost {
    NewPost {
        device,
        client_id,
        text: MessageText::parse(text).expect("valid text"),
        ts: 1,
    }
}

async fn named(store: &SqliteStore, s: &str) -> DeviceId {
    let device = DeviceId::new_random();
    store
        .set_name(device, name(s), "rgb(200,100,100)".into())
        .await
        .expect("named");
    device
}

#[tokio::test]
async fn renaming_keeps_the_colour_and_user_id() {
    let (_dir, store, _) = store();
    let device = DeviceId::new_random();
    let first = store
        .set_name(device, name("Ann"), "rgb(200,100,100)".into())
        .await
        .expect("named");
    let second = store
        .set_name(device, name("Annie"), "rgb(255,255,255)".into())
        .await
        .expect("renamed");
    assert_eq!(second.user_id, first.user_id);
    assert_eq!(second.color, "rgb(200,100,100)");
    assert_eq!(second.name, "Annie");
    assert_eq!(store.identity(device).await.expect("reads"), Some(second));
}

#[tokio::test]
async fn posting_without_a_name_is_refused() {
    let (_dir, store, _) = store();
    let result = store
        .post(post(
            DeviceId::new_random(),
            ClientMessageId::new_random(),
            "hi",
        ))
        .await;
    assert!(matches!(result, Err(StoreError::NoIdentity)));
}

#[tokio::test]
async fn resend_with_same_client_id_is_stored_once() {
    let (_dir, store, hub) = store();
    let device = named(&store, "Ann").await;
    let mut live = hub.subscribe();
    let cid = ClientMessageId::new_random();
    let a = store
        .post(post(device, cid, "hello"))
        .await
        .expect("stored");
    let b = store
        .post(post(device, cid, "hello"))
        .await
        .expect("stored");
    assert!(a.fresh && !b.fresh);
    assert_eq!(a.message, b.message);
    assert_eq!(store.page_before(None, 10).await.expect("reads").len(), 1);
    assert!(live.try_recv().is_ok(), "the first is published");
    assert!(live.try_recv().is_err(), "the resend is not");
}

#[tokio::test]
async fn many_concurrent_posts_are_all_stored_in_one_id_order() {
    let (_dir, store, hub) = store();
    let store = Arc::new(store);
    let mut devices = Vec::new();
    for i in 0..8 {
        devices.push(named(&store, &format!("u{i}")).await);
    }
    let mut live = hub.subscribe();
    let posts = (0..400).map(|i| {
        let store = store.clone();
        let device = devices[i % devices.len()];
        tokio::spawn(async move {
            store
                .post(post(
                    device,
                    ClientMessageId::new_random(),
                    &format!("m{i}"),
                ))
                .await
        })
    });
    let mut acked = Vec::new();
    for p in posts {
        acked.push(p.await.expect("joins").expect("stored").message.id);
    }
    acked.sort();
    let mut published = Vec::new();
    while let Ok(b) = live.try_recv() {
        published.push(b.message_id.expect("a message"));
    }
    assert_eq!(published, acked, "published once each, in id order");
    let stored: Vec<MessageId> = store
        .page_before(None, 400)
        .await
        .expect("reads")
        .iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(stored, acked);
}

#[tokio::test]
async fn pages_are_oldest_first_and_bounded() {
    let (_dir, store, _) = store();
    let device = named(&store, "Ann").await;
    let mut ids = Vec::new();
    for i in 0..10 {
        let p = store
            .post(post(
                device,
                ClientMessageId::new_random(),
                &format!("m{i}"),
            ))
            .await
            .expect("stored");
        ids.push(p.message.id);
    }
    let ids_of = |v: Vec<ChatMessage>| v.iter().map(|m| m.id).collect::<Vec<_>>();
    assert_eq!(
        ids_of(store.page_before(None, 3).await.expect("reads")),
        ids[7..]
    );
    assert_eq!(
        ids_of(store.page_before(Some(ids[7]), 3).await.expect("reads")),
        ids[4..7]
    );
    assert_eq!(
        ids_of(store.page_after(ids[5], 100).await.expect("reads")),
        ids[6..]
    );
}

#[tokio::test]
async fn a_transfer_token_works_once_and_expires() {
    let (_dir, store, _) = store();
    let device = DeviceId::new_random();
    store
        .create_transfer(device, "t1".into(), 100)
        .await
        .expect("created");
    assert_eq!(
        store.claim_transfer("t1".into(), 50).await.expect("claims"),
        Some(device)
    );
    assert_eq!(
        store.claim_transfer("t1".into(), 51).await.expect("claims"),
        None
    );
    store
        .create_transfer(device, "t2".into(), 100)
        .await
        .expect("created");
    assert_eq!(
        store
            .claim_transfer("t2".into(), 100)
            .await
            .expect("claims"),
        None
    );
}

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
        store.page_before(None, 5).await.expect("reads")[0].msg,
        "kept"
    );
}
