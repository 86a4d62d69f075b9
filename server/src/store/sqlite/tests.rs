use super::*;
use app::protocol::{ClientMessageId, REACTIONS};
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
    post_in(RoomId::DEFAULT, device, client_id, text)
}

fn post_in(room: RoomId, device: DeviceId, client_id: ClientMessageId, text: &str) -> NewPost {
    NewPost {
        device,
        room,
        client_id,
        text: MessageText::parse(text).expect("valid text"),
        mentions: Vec::new(),
        attachment: None,
        ts: 1,
    }
}

fn text(s: &str) -> MessageText {
    MessageText::parse(s).expect("valid text")
}

fn room_name(s: &str) -> RoomName {
    RoomName::parse(s).expect("valid room name")
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
    assert_eq!(
        store
            .page_before(RoomId::DEFAULT, None, 10)
            .await
            .expect("reads")
            .len(),
        1
    );
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
        published.push(b.seq.expect("a message"));
    }
    let acked_seqs: Vec<Seq> = {
        let stored = store
            .page_before(RoomId::DEFAULT, None, 400)
            .await
            .expect("reads");
        stored.iter().map(|m| m.seq).collect()
    };
    assert_eq!(published, acked_seqs, "published once each, in seq order");
    assert!(acked_seqs.windows(2).all(|w| w[0] < w[1]));
    let stored: Vec<MessageId> = store
        .page_before(RoomId::DEFAULT, None, 400)
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
        ids_of(
            store
                .page_before(RoomId::DEFAULT, None, 3)
                .await
                .expect("reads")
        ),
        ids[7..]
    );
    assert_eq!(
        ids_of(
            store
                .page_before(RoomId::DEFAULT, Some(ids[7]), 3)
                .await
                .expect("reads")
        ),
        ids[4..7]
    );
    let seq5 = store
        .page_before(RoomId::DEFAULT, Some(ids[6]), 1)
        .await
        .expect("reads")[0]
        .seq;
    assert_eq!(
        ids_of(
            store
                .changed_after(RoomId::DEFAULT, seq5, 100)
                .await
                .expect("reads")
        ),
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
async fn invites_expire_run_out_and_can_be_revoked() {
    use crate::store::InviteClaim;
    let (_dir, store, _) = store();
    let owner = UserId(1);
    let info = store
        .create_invite("h-two".into(), owner, 0, 100, 2)
        .await
        .expect("created")
        .expect("listed");
    assert_eq!((info.max_uses, info.uses), (2, 0));
    let (a, b, c) = (
        DeviceId::new_random(),
        DeviceId::new_random(),
        DeviceId::new_random(),
    );
    let claim = |h: &str, d, now| store.claim_invite(h.to_owned(), d, now);
    // (The store hashes nothing itself: it is given hashes.)
    assert_eq!(
        claim("h-two", a, 10).await.expect("claim"),
        InviteClaim::Admitted
    );
    assert_eq!(
        claim("h-two", a, 11).await.expect("claim"),
        InviteClaim::AlreadyMember,
        "a member opening it again spends nothing"
    );
    assert_eq!(store.invites(12).await.expect("list")[0].uses, 1);
    assert_eq!(
        claim("h-two", b, 12).await.expect("claim"),
        InviteClaim::Admitted
    );
    assert_eq!(
        claim("h-two", c, 13).await.expect("claim"),
        InviteClaim::UsedUp
    );
    assert!(
        store.invites(13).await.expect("list").is_empty(),
        "used up: not listed"
    );
    assert_eq!(
        store.standing(c).await.expect("standing").role,
        None,
        "not let in"
    );
    assert_eq!(
        store.standing(b).await.expect("standing").role,
        Some(app::api::Role::Member)
    );

    store
        .create_invite("h-late".into(), owner, 0, 100, 5)
        .await
        .expect("created");
    assert_eq!(
        claim("h-late", c, 100).await.expect("claim"),
        InviteClaim::Expired
    );
    let revoked = store
        .create_invite("h-gone".into(), owner, 0, 1000, 5)
        .await
        .expect("created")
        .expect("listed");
    assert!(store.revoke_invite(revoked.id, 50).await.expect("revoke"));
    assert!(
        !store.revoke_invite(revoked.id, 51).await.expect("revoke"),
        "once"
    );
    assert_eq!(
        claim("h-gone", c, 60).await.expect("claim"),
        InviteClaim::Revoked
    );
    assert_eq!(
        claim("nope", c, 60).await.expect("claim"),
        InviteClaim::Unknown
    );
}

#[tokio::test]
async fn an_owner_token_works_once_before_it_expires_and_replaces_the_old_owner() {
    let (_dir, store, _) = store();
    let (first, second) = (DeviceId::new_random(), DeviceId::new_random());
    assert!(!store.has_owner().await.expect("read"));
    store
        .add_owner_token("t1".into(), 0, 100)
        .await
        .expect("stored");
    assert!(
        !store
            .claim_owner("t1".into(), first, 100)
            .await
            .expect("claim"),
        "expired"
    );
    store
        .add_owner_token("t2".into(), 0, 100)
        .await
        .expect("stored");
    assert!(store
        .claim_owner("t2".into(), first, 50)
        .await
        .expect("claim"));
    assert!(
        !store
            .claim_owner("t2".into(), second, 51)
            .await
            .expect("claim"),
        "used"
    );
    assert!(store.has_owner().await.expect("read"));
    store
        .add_owner_token("t3".into(), 60, 200)
        .await
        .expect("stored");
    assert!(store
        .claim_owner("t3".into(), second, 70)
        .await
        .expect("claim"));
    let second_role = store.standing(second).await.expect("standing").role;
    assert_eq!(second_role, Some(app::api::Role::Owner));
    let first_role = store.standing(first).await.expect("standing").role;
    assert_eq!(first_role, Some(app::api::Role::Member), "the lost phone");
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
        store
            .page_before(RoomId::DEFAULT, None, 5)
            .await
            .expect("reads")[0]
            .msg,
        "kept"
    );
}

#[tokio::test]
async fn every_change_takes_the_rooms_next_seq_and_catch_up_replays_current_state() {
    let (_dir, store, _) = store();
    let ann = named(&store, "Ann").await;
    let a = store
        .post(post(ann, ClientMessageId::new_random(), "first"))
        .await
        .expect("stored")
        .message;
    let b = store
        .post(post(ann, ClientMessageId::new_random(), "second"))
        .await
        .expect("stored")
        .message;
    assert_eq!(b.seq.0, a.seq.0 + 1);
    let mark = b.seq;
    let edit = Change::Edit {
        text: text("first, edited"),
        window_ms: 60_000,
    };
    let edited = store.change(ann, a.id, edit, 2).await.expect("edited");
    assert_eq!(edited.seq.0, mark.0 + 1);
    assert!(edited.edited);
    let deleted = store
        .change(ann, b.id, Change::Delete, 3)
        .await
        .expect("deleted");
    assert_eq!(deleted.seq.0, mark.0 + 2);
    // A client that stopped at `mark` gets both changes, current state, in seq order.
    let missed = store
        .changed_after(RoomId::DEFAULT, mark, 100)
        .await
        .expect("reads");
    assert_eq!(
        missed.iter().map(|m| m.id).collect::<Vec<_>>(),
        vec![a.id, b.id]
    );
    assert_eq!(missed[0].msg, "first, edited");
    assert!(missed[1].deleted && missed[1].msg.is_empty());
    assert_eq!(
        store.room_seq(RoomId::DEFAULT).await.expect("reads"),
        deleted.seq
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

#[tokio::test]
async fn only_the_author_edits_or_deletes_and_only_within_the_window() {
    let (_dir, store, _) = store();
    let ann = named(&store, "Ann").await;
    let bob = named(&store, "Bob").await;
    let m = store
        .post(post(ann, ClientMessageId::new_random(), "mine"))
        .await
        .expect("stored")
        .message;
    let forged = Change::Edit {
        text: text("not yours"),
        window_ms: 60_000,
    };
    assert!(matches!(
        store.change(bob, m.id, forged, 2).await,
        Err(StoreError::NotAuthor)
    ));
    assert!(matches!(
        store.change(bob, m.id, Change::Delete, 2).await,
        Err(StoreError::NotAuthor)
    ));
    let late = Change::Edit {
        text: text("too late"),
        window_ms: 1000,
    };
    assert!(matches!(
        store.change(ann, m.id, late, m.ts + 1001).await,
        Err(StoreError::EditWindowClosed)
    ));
    assert!(matches!(
        store.change(ann, MessageId(9999), Change::Delete, 2).await,
        Err(StoreError::NotFound)
    ));
    let kept = store
        .page_before(RoomId::DEFAULT, None, 1)
        .await
        .expect("reads");
    assert_eq!(kept[0].msg, "mine");
    // Deletes have no window.
    store
        .change(ann, m.id, Change::Delete, m.ts + 10_000_000)
        .await
        .expect("deleted");
}

#[tokio::test]
async fn reactions_are_idempotent_under_resend() {
    let (_dir, store, hub) = store();
    let ann = named(&store, "Ann").await;
    let bob = named(&store, "Bob").await;
    let m = store
        .post(post(ann, ClientMessageId::new_random(), "react"))
        .await
        .expect("stored")
        .message;
    let mut live = hub.subscribe();
    let on = || Change::React {
        emoji: REACTIONS[0].into(),
        on: true,
    };
    let first = store.change(bob, m.id, on(), 2).await.expect("reacted");
    let again = store.change(bob, m.id, on(), 3).await.expect("resent");
    assert_eq!(first, again, "the resend changes nothing");
    assert_eq!(first.reactions.len(), 1);
    assert_eq!(first.reactions[0].users[0].name, "Bob");
    assert!(live.try_recv().is_ok());
    assert!(live.try_recv().is_err(), "published once");
    let off = store
        .change(
            bob,
            m.id,
            Change::React {
                emoji: REACTIONS[0].into(),
                on: false,
            },
            4,
        )
        .await
        .expect("removed");
    assert!(off.reactions.is_empty());
    assert!(matches!(
        store
            .change(
                bob,
                m.id,
                Change::React {
                    emoji: "💩".into(),
                    on: true
                },
                5
            )
            .await,
        Err(StoreError::InvalidReaction)
    ));
}

#[tokio::test]
async fn rooms_have_unique_names_unique_slugs_and_archive_to_read_only() {
    let (_dir, store, _) = store();
    let ann = named(&store, "Ann").await;
    let club = store
        .create_room(ann, room_name("Book Club"), 1)
        .await
        .expect("created");
    assert_eq!(club.slug, "book-club");
    assert!(matches!(
        store.create_room(ann, room_name("book club"), 1).await,
        Err(StoreError::NameTaken)
    ));
    let other = store
        .create_room(ann, room_name("Book-Club!"), 1)
        .await
        .expect("created");
    assert_eq!(other.slug, "book-club-2");
    let renamed = store
        .rename_room(ann, club.id, room_name("Readers"))
        .await
        .expect("renamed");
    assert_eq!(
        (renamed.slug.as_str(), renamed.name.as_str()),
        ("book-club", "Readers")
    );
    store.archive_room(ann, club.id).await.expect("archived");
    assert!(matches!(
        store
            .post(post_in(club.id, ann, ClientMessageId::new_random(), "hi"))
            .await,
        Err(StoreError::Archived)
    ));
    assert!(matches!(
        store.archive_room(ann, RoomId::DEFAULT).await,
        Err(StoreError::DefaultRoom)
    ));
    let listed: Vec<RoomId> = store
        .room_statuses(None)
        .await
        .expect("reads")
        .iter()
        .map(|s| s.room.id)
        .collect();
    assert!(
        listed.contains(&other.id) && !listed.contains(&club.id),
        "archived rooms are hidden"
    );
    let by_slug = store
        .room(RoomKey::Slug("book-club".into()))
        .await
        .expect("reads");
    assert!(by_slug.is_some_and(|r| r.archived), "still reachable");
}

#[tokio::test]
async fn unread_counts_follow_read_marks_and_mentions() {
    let (_dir, store, _) = store();
    let ann = named(&store, "Ann").await;
    let bob = named(&store, "Bob").await;
    let ann_id = store
        .identity(ann)
        .await
        .expect("reads")
        .expect("named")
        .user_id;
    let bob_id = store
        .identity(bob)
        .await
        .expect("reads")
        .expect("named")
        .user_id;
    let mut seqs = Vec::new();
    for i in 0..3 {
        let mut p = post(bob, ClientMessageId::new_random(), &format!("hi @Ann {i}"));
        p.ts = now_ms() + 1000;
        p.mentions = if i == 0 { vec![ann_id] } else { Vec::new() };
        seqs.push(store.post(p).await.expect("stored").message.seq);
    }
    let mine = store
        .post(post(ann, ClientMessageId::new_random(), "my own"))
        .await
        .expect("stored");
    let status = |statuses: Vec<RoomStatus>| {
        statuses
            .into_iter()
            .find(|s| s.room.id == RoomId::DEFAULT)
            .expect("room")
    };
    let s = status(store.room_statuses(Some(ann_id)).await.expect("reads"));
    assert_eq!(
        (s.unread, s.mentions),
        (3, 1),
        "own messages are not unread"
    );
    let s = store
        .mark_read(ann, RoomId::DEFAULT, seqs[0])
        .await
        .expect("marked");
    assert_eq!((s.unread, s.mentions), (2, 0));
    let s = store
        .mark_read(ann, RoomId::DEFAULT, Seq(0))
        .await
        .expect("never backwards");
    assert_eq!(s.read, seqs[0]);
    let s = store
        .mark_read(ann, RoomId::DEFAULT, Seq(1_000_000))
        .await
        .expect("capped");
    assert_eq!((s.unread, s.mentions, s.read), (0, 0, mine.message.seq));
    // A mention the text does not hold is dropped.
    let mut p = post(ann, ClientMessageId::new_random(), "no names here");
    p.mentions = vec![bob_id];
    assert!(store
        .post(p)
        .await
        .expect("stored")
        .message
        .mentions
        .is_empty());
}

#[tokio::test]
async fn search_finds_words_phrases_accents_and_emoji_newest_first() {
    let (_dir, store, _) = store();
    let ann = named(&store, "Ann").await;
    let mut ids = Vec::new();
    for text in [
        "Meet at the café tomorrow",
        "The big red balloon 🎈 flew away",
        "red alert: the balloon is big",
        "Nothing to see",
        "une crème brûlée SVP",
    ] {
        ids.push(
            store
                .post(post(ann, ClientMessageId::new_random(), text))
                .await
                .expect("stored")
                .message
                .id,
        );
    }
    let found = |q: &str| {
        let store = &store;
        let q = q.to_owned();
        async move {
            store
                .search(q, None, 20)
                .await
                .expect("searches")
                .into_iter()
                .map(|(m, _)| m.id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(found("cafe").await, vec![ids[0]], "accents fold");
    assert_eq!(found("CRÈME brulee").await, vec![ids[4]]);
    assert_eq!(found("balloon").await, vec![ids[2], ids[1]], "newest first");
    assert_eq!(
        found("\"big red\"").await,
        vec![ids[1]],
        "a phrase in order"
    );
    assert_eq!(
        found("big red").await,
        vec![ids[2], ids[1]],
        "words in any order"
    );
    assert_eq!(found("🎈").await, vec![ids[1]], "emoji are words");
    assert_eq!(
        found("ball").await,
        vec![ids[2], ids[1]],
        "the last word is a prefix"
    );
    assert!(
        found("NOT OR AND \" ( *").await.is_empty(),
        "syntax is just text"
    );
    // Highlighting marks the match; the parts carry no markup.
    let (_, marked) = store
        .search("café".into(), None, 1)
        .await
        .expect("searches")
        .remove(0);
    let parts = search::parts(&marked);
    assert!(parts.contains(&("café".to_owned(), true)), "{parts:?}");
}

#[tokio::test]
async fn search_follows_edits_and_deletes_and_pages() {
    let (_dir, store, _) = store();
    let ann = named(&store, "Ann").await;
    let old = store
        .post(post(ann, ClientMessageId::new_random(), "first wording"))
        .await
        .expect("stored")
        .message;
    let gone = store
        .post(post(
            ann,
            ClientMessageId::new_random(),
            "wording to delete",
        ))
        .await
        .expect("stored")
        .message;
    let edit = Change::Edit {
        text: text("second phrasing"),
        window_ms: 60_000,
    };
    store.change(ann, old.id, edit, 2).await.expect("edited");
    store
        .change(ann, gone.id, Change::Delete, 3)
        .await
        .expect("deleted");
    assert!(store
        .search("wording".into(), None, 10)
        .await
        .expect("searches")
        .is_empty());
    assert_eq!(
        store
            .search("phrasing".into(), None, 10)
            .await
            .expect("searches")
            .len(),
        1
    );
    for i in 0..25 {
        store
            .post(post(
                ann,
                ClientMessageId::new_random(),
                &format!("page {i}"),
            ))
            .await
            .expect("stored");
    }
    let first = store
        .search("page".into(), None, 10)
        .await
        .expect("searches");
    let second = store
        .search("page".into(), Some(first[9].0.id), 10)
        .await
        .expect("searches");
    assert_eq!(first.len(), 10);
    assert!(second.iter().all(|(m, _)| m.id < first[9].0.id));
    assert_eq!(second[0].0.msg, "page 14");
}
