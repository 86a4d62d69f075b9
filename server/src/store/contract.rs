//! The store contract: one suite, run against every `Store` and its way
//! of publishing (the SQLite writer's hub; PostgreSQL's bus listener), so
//! the backends cannot drift. PostgreSQL runs when `CHAT_TEST_PG` names a
//! cluster (`scripts/test.sh` starts one); under CI it must.

use super::postgres::PgStore;
use super::sqlite::SqliteStore;
use super::*;
use crate::base::now_ms;
use crate::metrics::Metrics;
use crate::realtime::hub::{Hub, Live};
use app::protocol::{ChatMessage, MessageId};
use app::protocol::{ClientMessageId, DeviceId, RoomId, Seq, UserId, REACTIONS};
use app::validate::{MessageText, RoomName, UserName};
use std::sync::Arc;
use std::time::Duration;

pub struct Backend {
    pub store: Arc<dyn Store>,
    pub hub: Arc<Hub>,
    _dir: Option<tempfile::TempDir>,
}

async fn sqlite() -> Option<Backend> {
    let dir = tempfile::tempdir().expect("temp dir");
    let hub = Arc::new(Hub::new());
    let store =
        SqliteStore::open(dir.path(), hub.clone(), Arc::new(Metrics::default())).expect("opens");
    Some(Backend {
        store: Arc::new(store),
        hub,
        _dir: Some(dir),
    })
}

/// A fresh database on the test cluster, with its bus listening.
async fn postgres() -> Option<Backend> {
    let admin = match std::env::var("CHAT_TEST_PG") {
        Ok(url) if !url.is_empty() => url,
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "CHAT_TEST_PG is not set: scripts/test.sh starts a PostgreSQL"
            );
            eprintln!("skipped: no CHAT_TEST_PG");
            return None;
        }
    };
    let name = format!("contract_{}", uuid::Uuid::new_v4().simple());
    let (client, conn) = tokio_postgres::connect(&admin, tokio_postgres::NoTls)
        .await
        .expect("connects");
    tokio::spawn(conn);
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .expect("database created");
    let url = admin.replacen("/postgres?", &format!("/{name}?"), 1);
    let hub = Arc::new(Hub::new());
    let store = PgStore::open(&url, hub.clone(), Arc::new(Metrics::default()), true)
        .await
        .expect("opens");
    // The listener is connected once the hub reports healthy.
    for _ in 0..100 {
        if hub.healthy() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(hub.healthy(), "the bus listener connected");
    Some(Backend {
        store: Arc::new(store),
        hub,
        _dir: None,
    })
}

/// The seqs of the next `n` published message changes, waiting for them
/// (publication may follow the commit, as with the PostgreSQL bus), and
/// of any that follow within a short while.
async fn published(live: &mut Live, n: usize) -> Vec<Seq> {
    let mut seqs = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let wait = if seqs.len() < n {
            deadline.saturating_duration_since(tokio::time::Instant::now())
        } else {
            Duration::from_millis(300)
        };
        match tokio::time::timeout(wait, live.recv()).await {
            Ok(Ok(b)) => {
                if let Some(seq) = b.seq {
                    seqs.push(seq);
                }
            }
            _ => return seqs,
        }
    }
}

pub(super) fn name(s: &str) -> UserName {
    UserName::parse(s).expect("valid name")
}

pub(super) fn post(device: DeviceId, client_id: ClientMessageId, text: &str) -> NewPost {
    post_in(RoomId::DEFAULT, device, client_id, text)
}

pub(super) fn post_in(
    room: RoomId,
    device: DeviceId,
    client_id: ClientMessageId,
    text: &str,
) -> NewPost {
    NewPost {
        device,
        room,
        client_id,
        text: MessageText::parse(text).expect("valid text"),
        mentions: Vec::new(),
        attachment: None,
        reply_to: None,
        ts: 1,
    }
}

fn text(s: &str) -> MessageText {
    MessageText::parse(s).expect("valid text")
}

fn room_name(s: &str) -> RoomName {
    RoomName::parse(s).expect("valid room name")
}

pub(super) async fn named(store: &dyn Store, s: &str) -> DeviceId {
    let device = DeviceId::new_random();
    store
        .set_name(device, name(s), "rgb(200,100,100)".into())
        .await
        .expect("named");
    device
}

/// The user a named device is.
pub(super) async fn user_id(store: &dyn Store, device: DeviceId) -> UserId {
    store
        .identity(device)
        .await
        .expect("reads")
        .expect("named")
        .user_id
}

/// Runs each contract test against each backend.
macro_rules! contract {
    ($($test:ident),* $(,)?) => {
        mod on_sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    if let Some(b) = super::sqlite().await {
                        super::$test(b).await;
                    }
                }
            )*
        }
        mod on_postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    if let Some(b) = super::postgres().await {
                        super::$test(b).await;
                    }
                }
            )*
        }
    };
}

contract!(
    renaming_keeps_the_colour_and_user_id,
    posting_without_a_name_is_refused,
    resend_with_same_client_id_is_stored_once,
    many_concurrent_posts_are_all_stored_in_one_id_order,
    pages_are_oldest_first_and_bounded,
    a_page_reads_what_its_parts_read,
    a_transfer_token_works_once_and_expires,
    invites_expire_run_out_and_can_be_revoked,
    an_owner_token_works_once_before_it_expires_and_replaces_the_old_owner,
    every_change_takes_the_rooms_next_seq_and_catch_up_replays_current_state,
    only_the_author_edits_or_deletes_and_only_within_the_window,
    reactions_are_idempotent_under_resend,
    rooms_have_unique_names_unique_slugs_and_archive_to_read_only,
    unread_counts_follow_read_marks_and_mentions,
    what_came_before_a_first_name_is_read_and_a_newer_room_is_not,
    search_finds_words_phrases_accents_and_emoji_newest_first,
    search_follows_edits_and_deletes_and_pages,
    the_first_stored_setting_wins,
    the_first_name_is_dated,
    shared_events_reach_this_nodes_sockets,
    closed_rooms_know_their_members_and_lists_follow_them,
    a_reply_quotes_its_parent_as_it_stands_and_notifies_its_author,
    a_preview_card_is_a_change_that_follows_its_link_and_its_author,
    a_bot_is_a_member_found_by_its_key_hash_until_revoked,
    one_node_orders_certificates_at_a_time,
);

/// The bus contract: what a node shares (an ephemeral event, a kick)
/// reaches its own hub, whether the hub is the bus (SQLite) or the bus
/// is PostgreSQL's NOTIFY.
async fn shared_events_reach_this_nodes_sockets(b: Backend) {
    use crate::bus::Publish;
    use crate::bus::Shared;
    let Backend { hub, .. } = b;
    let mut live = hub.subscribe();
    let mut room_live = hub.subscribe_room(RoomId::DEFAULT);
    let device = DeviceId::new_random();
    let mut own = hub.join(device);
    let typist = app::protocol::Identity {
        user_id: UserId(7),
        name: "Ann".into(),
        color: "rgb(200,100,100)".into(),
    };
    hub.share(Shared::Publish(Publish::room(
        RoomId::DEFAULT,
        app::protocol::ServerEvent::Typing {
            room: RoomId::DEFAULT,
            user: typist,
        },
    )));
    hub.share(Shared::Kick {
        device,
        code: 4003,
        reason: crate::bus::KICK_REASONS[0],
        event: app::protocol::ServerEvent::Pong { nonce: 1 },
    });
    let typing = tokio::time::timeout(Duration::from_secs(10), room_live.recv())
        .await
        .expect("shared events arrive")
        .expect("not lagged");
    assert!(
        typing.frame.as_str().contains("\"typing\""),
        "{}",
        typing.frame.as_str()
    );
    // A kick is the device's own business: its sockets' mailboxes.
    let kick = tokio::time::timeout(Duration::from_secs(10), own.rx.recv())
        .await
        .expect("shared events arrive")
        .expect("the mailbox is open");
    assert_eq!(kick.close, Some((4003, crate::bus::KICK_REASONS[0])));
    assert!(kick.audience.includes(device));
    assert!(live.try_recv().is_err(), "nobody else is woken");
}

/// Settings keep the first value a node stored.
async fn the_first_name_is_dated(b: Backend) {
    let Backend { store, .. } = b;
    let device = DeviceId::new_random();
    assert_eq!(store.named_at(device).await.expect("reads"), None);
    let before = now_ms();
    named(store.as_ref(), "Ann").await;
    store
        .set_name(device, name("Bo"), "rgb(200,100,100)".into())
        .await
        .expect("named");
    let at = store.named_at(device).await.expect("reads").expect("dated");
    assert!(at >= before && at <= now_ms() + 1);
    store
        .set_name(device, name("Bob"), "rgb(200,100,100)".into())
        .await
        .expect("renamed");
    assert_eq!(
        store.named_at(device).await.expect("reads"),
        Some(at),
        "a rename keeps it"
    );
}

async fn the_first_stored_setting_wins(b: Backend) {
    let Backend { store, .. } = b;
    let first = store
        .init_setting("epoch", "one".into())
        .await
        .expect("stored");
    let second = store
        .init_setting("epoch", "two".into())
        .await
        .expect("stored");
    assert_eq!(first, second);
    assert_eq!(store.setting("epoch").await.expect("reads"), Some(first));
}

async fn renaming_keeps_the_colour_and_user_id(b: Backend) {
    let Backend { store, .. } = b;
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

async fn posting_without_a_name_is_refused(b: Backend) {
    let Backend { store, .. } = b;
    let result = store
        .post(post(
            DeviceId::new_random(),
            ClientMessageId::new_random(),
            "hi",
        ))
        .await;
    assert!(matches!(result, Err(StoreError::NoIdentity)));
}

async fn resend_with_same_client_id_is_stored_once(b: Backend) {
    let Backend { store, hub, .. } = b;
    let device = named(store.as_ref(), "Ann").await;
    let mut live = hub.subscribe_room(RoomId::DEFAULT);
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
    assert_eq!(
        published(&mut live, 1).await.len(),
        1,
        "the first is published, the resend is not"
    );
}

async fn many_concurrent_posts_are_all_stored_in_one_id_order(b: Backend) {
    let Backend { store, hub, .. } = b;
    let mut devices = Vec::new();
    for i in 0..8 {
        devices.push(named(store.as_ref(), &format!("u{i}")).await);
    }
    let mut live = hub.subscribe_room(RoomId::DEFAULT);
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
    let published = published(&mut live, 400).await;
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

/// `page_reads` (one trip on SQLite) agrees with the reads it stands for.
async fn a_page_reads_what_its_parts_read(b: Backend) {
    let Backend { store, .. } = b;
    let device = named(store.as_ref(), "Ann").await;
    for i in 0..5 {
        store
            .post(post(
                device,
                ClientMessageId::new_random(),
                &format!("m{i}"),
            ))
            .await
            .expect("stored");
    }
    let stranger = DeviceId::new_random();
    for viewer in [device, stranger] {
        let reads = store
            .page_reads(viewer, RoomKey::Id(RoomId::DEFAULT), 3)
            .await
            .expect("reads");
        let me = store.identity(viewer).await.expect("reads");
        assert_eq!(reads.standing, store.standing(viewer).await.expect("reads"));
        assert_eq!(
            format!("{:?}", reads.room),
            format!(
                "{:?}",
                store
                    .room(RoomKey::Id(RoomId::DEFAULT))
                    .await
                    .expect("reads")
            )
        );
        assert_eq!(
            reads.seq,
            store.room_seq(RoomId::DEFAULT).await.expect("reads")
        );
        assert_eq!(reads.seq, Seq(5));
        assert_eq!(
            reads.messages,
            store
                .page_before(RoomId::DEFAULT, None, 3)
                .await
                .expect("reads")
        );
        assert_eq!(reads.messages.len(), 3);
        assert_eq!(format!("{:?}", reads.me), format!("{me:?}"));
        assert_eq!(
            format!("{:?}", reads.rooms),
            format!(
                "{:?}",
                store
                    .room_statuses(me.map(|m| m.user_id))
                    .await
                    .expect("reads")
            )
        );
    }
    let none = store
        .page_reads(device, RoomKey::Slug("no-such-room".into()), 3)
        .await
        .expect("reads");
    assert!(none.room.is_none() && none.messages.is_empty());
}

async fn pages_are_oldest_first_and_bounded(b: Backend) {
    let Backend { store, .. } = b;
    let device = named(store.as_ref(), "Ann").await;
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

async fn a_transfer_token_works_once_and_expires(b: Backend) {
    let Backend { store, .. } = b;
    let device = DeviceId::new_random();
    store
        .create_transfer(device, "t1".into(), 100)
        .await
        .expect("created");
    for _ in 0..2 {
        assert_eq!(
            store.peek_transfer("t1".into(), 50).await.expect("peeks"),
            Some(device),
            "looking does not use it up"
        );
    }
    assert_eq!(
        store.claim_transfer("t1".into(), 50).await.expect("claims"),
        Some(device)
    );
    assert_eq!(
        store.peek_transfer("t1".into(), 51).await.expect("peeks"),
        None,
        "a used token shows nothing"
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

async fn invites_expire_run_out_and_can_be_revoked(b: Backend) {
    use crate::store::InviteClaim;
    let Backend { store, .. } = b;
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

async fn an_owner_token_works_once_before_it_expires_and_replaces_the_old_owner(b: Backend) {
    let Backend { store, .. } = b;
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

async fn every_change_takes_the_rooms_next_seq_and_catch_up_replays_current_state(b: Backend) {
    let Backend { store, .. } = b;
    let ann = named(store.as_ref(), "Ann").await;
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

async fn only_the_author_edits_or_deletes_and_only_within_the_window(b: Backend) {
    let Backend { store, .. } = b;
    let ann = named(store.as_ref(), "Ann").await;
    let bob = named(store.as_ref(), "Bob").await;
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

async fn reactions_are_idempotent_under_resend(b: Backend) {
    let Backend { store, hub, .. } = b;
    let ann = named(store.as_ref(), "Ann").await;
    let bob = named(store.as_ref(), "Bob").await;
    let mut live = hub.subscribe_room(RoomId::DEFAULT);
    let m = store
        .post(post(ann, ClientMessageId::new_random(), "react"))
        .await
        .expect("stored")
        .message;
    let on = || Change::React {
        emoji: REACTIONS[0].into(),
        on: true,
    };
    let first = store.change(bob, m.id, on(), 2).await.expect("reacted");
    let again = store.change(bob, m.id, on(), 3).await.expect("resent");
    assert_eq!(first, again, "the resend changes nothing");
    assert_eq!(first.reactions.len(), 1);
    assert_eq!(first.reactions[0].users[0].name, "Bob");
    assert_eq!(
        published(&mut live, 2).await.len(),
        2,
        "the message, then the reaction once"
    );
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

async fn rooms_have_unique_names_unique_slugs_and_archive_to_read_only(b: Backend) {
    let Backend { store, .. } = b;
    let ann = named(store.as_ref(), "Ann").await;
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

async fn what_came_before_a_first_name_is_read_and_a_newer_room_is_not(b: Backend) {
    let Backend { store, .. } = b;
    let bob = named(store.as_ref(), "Bob").await;
    for i in 0..3 {
        store
            .post(post(
                bob,
                ClientMessageId::new_random(),
                &format!("before {i}"),
            ))
            .await
            .expect("stored");
    }
    let ann = named(store.as_ref(), "Ann").await;
    let ann_id = user_id(store.as_ref(), ann).await;
    let unread_in = |statuses: Vec<RoomStatus>, room: RoomId| {
        statuses
            .into_iter()
            .find(|s| s.room.id == room)
            .map(|s| s.unread)
            .expect("room")
    };
    let statuses = store.room_statuses(Some(ann_id)).await.expect("reads");
    assert_eq!(
        unread_in(statuses, RoomId::DEFAULT),
        0,
        "history is not unread"
    );
    store
        .post(post(bob, ClientMessageId::new_random(), "after"))
        .await
        .expect("stored");
    let statuses = store.room_statuses(Some(ann_id)).await.expect("reads");
    assert_eq!(unread_in(statuses, RoomId::DEFAULT), 1);
    // A room made after Ann's first name: all of it is new to her.
    let games = store
        .create_room(bob, room_name("Games"), now_ms())
        .await
        .expect("created");
    for i in 0..2 {
        store
            .post(post_in(
                games.id,
                bob,
                ClientMessageId::new_random(),
                &format!("g{i}"),
            ))
            .await
            .expect("stored");
    }
    let statuses = store.room_statuses(Some(ann_id)).await.expect("reads");
    assert_eq!(unread_in(statuses, games.id), 2);
    // Renaming is not a first name: nothing is marked read by it.
    store
        .set_name(ann, name("Anne"), "rgb(1,2,3)".into())
        .await
        .expect("renamed");
    let statuses = store.room_statuses(Some(ann_id)).await.expect("reads");
    assert_eq!(unread_in(statuses, games.id), 2);
}

async fn unread_counts_follow_read_marks_and_mentions(b: Backend) {
    let Backend { store, .. } = b;
    let ann = named(store.as_ref(), "Ann").await;
    let bob = named(store.as_ref(), "Bob").await;
    let ann_id = user_id(store.as_ref(), ann).await;
    let bob_id = user_id(store.as_ref(), bob).await;
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

async fn search_finds_words_phrases_accents_and_emoji_newest_first(b: Backend) {
    let Backend { store, .. } = b;
    let ann = named(store.as_ref(), "Ann").await;
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
    let parts = crate::store::search::parts(&marked);
    assert!(parts.contains(&("café".to_owned(), true)), "{parts:?}");
}

async fn search_follows_edits_and_deletes_and_pages(b: Backend) {
    let Backend { store, .. } = b;
    let ann = named(store.as_ref(), "Ann").await;
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

/// A new database on `CHAT_TEST_PG`, migrated, for a test that reads
/// PostgreSQL's plans (`None` outside CI when no server is given).
async fn migrated_postgres(prefix: &str) -> Option<tokio_postgres::Client> {
    let Ok(admin) = std::env::var("CHAT_TEST_PG") else {
        assert!(std::env::var_os("CI").is_none(), "CHAT_TEST_PG is not set");
        return None;
    };
    let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
    let (client, conn) = tokio_postgres::connect(&admin, tokio_postgres::NoTls)
        .await
        .expect("connects");
    tokio::spawn(conn);
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .expect("database created");
    let url = admin.replacen("/postgres?", &format!("/{name}?"), 1);
    let (mut db, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .expect("connects");
    tokio::spawn(conn);
    crate::store::postgres::rows::migrate(&mut db)
        .await
        .expect("migrated");
    Some(db)
}

/// The shared mode's page path, as the SQLite test in `sqlite/tests.rs`
/// checks its own: with sequential scans off, each query on a table that
/// grows with history must still have an index range bounded by the mark
/// or the cursor (if none could serve it, the planner would scan anyway).
#[tokio::test]
async fn no_postgres_query_on_the_page_path_scans_a_table_that_grows_with_history() {
    let Some(db) = migrated_postgres("plans").await else {
        return;
    };
    db.batch_execute("SET enable_seqscan = off")
        .await
        .expect("set");
    use crate::store::postgres::{messages, rooms, rows};
    let queries = [
        ("unread count", rooms::UNREAD.to_owned(), "created_seq > "),
        (
            "mention count",
            rooms::MENTIONS.to_owned(),
            "created_seq > ",
        ),
        (
            "latest page",
            format!("{} {}", rows::SELECT_MESSAGE, messages::PAGE_BEFORE),
            "id < ",
        ),
        (
            "catch-up",
            format!("{} {}", rows::SELECT_MESSAGE, messages::CHANGED_AFTER),
            "seq > ",
        ),
    ];
    for (what, sql, range) in queries {
        // Parameters as literals, so the plan is the one for real values.
        let mut literal = sql.clone();
        for n in (1..=4).rev() {
            literal = literal.replace(&format!("${n}"), "1");
        }
        let plan: Vec<String> = db
            .query(&format!("EXPLAIN {literal}"), &[])
            .await
            .expect("a plan")
            .iter()
            .map(|r| r.get::<_, String>(0))
            .collect();
        let text = plan.join("\n");
        for table in ["messages", "mentions"] {
            assert!(
                !text.contains(&format!("Seq Scan on {table}")),
                "{what} scans {table}:\n{text}"
            );
        }
        assert!(
            plan.iter()
                .any(|l| l.contains("Index Cond") && l.contains(range)),
            "{what} has an index range on `{range}`:\n{text}"
        );
    }
}

/// The same page path under PostgreSQL's generic plans (what a prepared
/// statement runs after five executions), on a chat whose statistics say
/// what it holds: 20,000 messages in one room, none in another. Asked for
/// a room's rows ordered by id, the planner walked the primary key
/// backwards filtering on the room, reading every later message of the
/// chat (all of them for an empty or quiet room: 409 ms at a million). A
/// plan that filters on the room instead of an index condition fails.
#[tokio::test]
async fn postgres_generic_plans_read_a_room_through_its_own_index() {
    let Some(db) = migrated_postgres("generic").await else {
        return;
    };
    db.batch_execute(
        "INSERT INTO users (device_id, name, color, created_at) VALUES ('d', 'Ann', 'red', 0);
         INSERT INTO rooms (id, slug, name, name_key, last_seq, created_at)
             VALUES (2, 'busy', 'Busy', 'busy', 20000, 0);
         INSERT INTO messages (user_id, client_id, user_name, color, body, ts, room_id, created_seq, seq)
             SELECT u.id, 'c' || i, 'Ann', 'red', 'hello ' || i, i, 2, i, i
             FROM users u, generate_series(1, 20000) i;",
    )
    .await
    .expect("filled");
    // Alone: VACUUM cannot run in the implicit transaction of a batch.
    db.batch_execute("VACUUM ANALYZE").await.expect("analysed");
    use crate::store::postgres::{messages, rooms, rows};
    let queries = [
        ("newest time", rooms::LAST_AT.to_owned(), "(1)"),
        (
            "latest page",
            format!("{} {}", rows::SELECT_MESSAGE, messages::PAGE_BEFORE),
            "(1, 9000000000, 51)",
        ),
        ("room list", rooms::STATUSES.to_owned(), "(1, 100)"),
    ];
    db.batch_execute("SET plan_cache_mode = force_generic_plan")
        .await
        .expect("set");
    for (n, (what, sql, args)) in queries.iter().enumerate() {
        db.batch_execute(&format!("PREPARE q{n} AS {sql}"))
            .await
            .expect("prepared");
        let plan: Vec<String> = db
            .query(&format!("EXPLAIN EXECUTE q{n}{args}"), &[])
            .await
            .expect("a plan")
            .iter()
            .map(|r| r.get::<_, String>(0))
            .collect();
        let text = plan.join("\n");
        // A filter belongs to the scan above it; `messages` is the table
        // that grows (the others are a few rows each here).
        let mut scan = "";
        for line in &plan {
            if line.contains("Scan") {
                scan = line;
            }
            let on_room = line.trim_start().starts_with("Filter:") && line.contains("room_id =");
            assert!(
                !(on_room && scan.contains(" on messages ")),
                "{what} filters messages on the room instead of reading its index:\n{text}"
            );
        }
    }
}

/// Direct conversations (one per set of people), private rooms and their
/// members, hidden rooms, blocked direct messages, and the rooms a file
/// was sent in, the same on both engines; existing rooms stay open.
async fn closed_rooms_know_their_members_and_lists_follow_them(b: Backend) {
    use app::protocol::RoomKind;
    let Backend { store, .. } = b;
    let s = store.as_ref();
    let (ann, bob, cy) = (
        named(s, "Ann").await,
        named(s, "Bob").await,
        named(s, "Cy").await,
    );
    let (ann_id, bob_id, cy_id) = (
        user_id(s, ann).await,
        user_id(s, bob).await,
        user_id(s, cy).await,
    );
    let listed = |user: UserId| async move {
        s.room_statuses(Some(user))
            .await
            .expect("reads")
            .into_iter()
            .map(|st| st.room.id)
            .collect::<Vec<_>>()
    };

    // One conversation per set of people, whoever starts it.
    let (dm, made) = s.direct_room(ann, vec![bob_id], 1).await.expect("made");
    assert!(made);
    assert_eq!(dm.kind, RoomKind::Direct);
    let names: Vec<_> = dm.members.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["Ann", "Bob"]);
    let (again, made) = s
        .direct_room(bob, vec![ann_id, bob_id], 2)
        .await
        .expect("found");
    assert_eq!((again.id, made), (dm.id, false));
    let (group, _) = s
        .direct_room(ann, vec![bob_id, cy_id], 3)
        .await
        .expect("made");
    assert_ne!(group.id, dm.id);
    assert!(matches!(
        s.direct_room(ann, vec![UserId(999_999)], 4).await,
        Err(StoreError::NotFound)
    ));
    let mut devices = s
        .member_devices(dm.id)
        .await
        .expect("reads")
        .expect("closed");
    devices.sort_by_key(|d| d.to_string());
    let mut want = vec![ann, bob];
    want.sort_by_key(|d| d.to_string());
    assert_eq!(devices, want);
    assert_eq!(
        s.member_devices(RoomId::DEFAULT).await.expect("reads"),
        None
    );
    assert!(listed(bob_id).await.contains(&dm.id));
    assert!(!listed(cy_id).await.contains(&dm.id), "not Cy's");
    assert!(listed(cy_id).await.contains(&group.id));
    assert!(
        !listed(UserId(0)).await.contains(&dm.id),
        "nor a stranger's"
    );

    // A room made private with Bob, then Bob taken out.
    let plans = s
        .create_room(ann, room_name("plans"), 5)
        .await
        .expect("made");
    assert_eq!(plans.kind, RoomKind::Open);
    assert_eq!(s.room_creator(plans.id).await.expect("reads"), Some(ann_id));
    let private = s
        .set_room_kind(plans.id, RoomKind::Private, vec![ann_id, bob_id], 6)
        .await
        .expect("private");
    assert_eq!(private.kind, RoomKind::Private);
    assert!(!listed(cy_id).await.contains(&plans.id));
    assert!(listed(bob_id).await.contains(&plans.id));
    let people: Vec<_> = s
        .room_members(plans.id)
        .await
        .expect("reads")
        .into_iter()
        .map(|m| m.name)
        .collect();
    assert_eq!(people, ["Ann", "Bob"]);
    s.set_member(plans.id, bob_id, false, 7)
        .await
        .expect("removed");
    assert!(!listed(bob_id).await.contains(&plans.id));
    let closed = s.closed_rooms().await.expect("reads");
    let of = |room: RoomId| {
        closed
            .iter()
            .find(|(r, _)| *r == room)
            .map(|(_, d)| d.clone())
    };
    assert_eq!(of(plans.id), Some(vec![ann]));
    assert!(of(RoomId::DEFAULT).is_none(), "the first room stays open");
    // A direct conversation is not made open, nor an open room a member list.
    assert!(s
        .set_room_kind(dm.id, RoomKind::Open, Vec::new(), 8)
        .await
        .is_err());
    assert!(s.set_member(RoomId::DEFAULT, cy_id, true, 8).await.is_err());
    let open = s
        .set_room_kind(plans.id, RoomKind::Open, Vec::new(), 9)
        .await
        .expect("open again");
    assert_eq!(open.kind, RoomKind::Open);
    assert!(listed(cy_id).await.contains(&plans.id));

    // Hidden from one's own list, still a member.
    s.set_hidden(bob, dm.id, true).await.expect("hidden");
    assert!(!listed(bob_id).await.contains(&dm.id));
    assert!(s
        .member_devices(dm.id)
        .await
        .expect("reads")
        .expect("closed")
        .contains(&bob));
    s.set_hidden(bob, dm.id, false).await.expect("shown");
    assert!(listed(bob_id).await.contains(&dm.id));
    // A new message shows it again to whoever hid it, and only then says so.
    s.set_hidden(bob, dm.id, true).await.expect("hidden");
    assert!(s.show_hidden(dm.id).await.expect("shows"));
    assert!(listed(bob_id).await.contains(&dm.id));
    assert!(!s.show_hidden(dm.id).await.expect("shows"));

    // Blocked direct messages, by the one who blocks.
    s.set_dm_block(bob, ann_id, true).await.expect("blocked");
    assert_eq!(
        s.dm_blocking(ann_id, vec![bob_id, cy_id])
            .await
            .expect("reads"),
        vec![bob_id]
    );
    assert_eq!(s.dm_blocked(bob_id).await.expect("reads"), vec![ann_id]);
    assert!(s
        .dm_blocking(bob_id, vec![ann_id])
        .await
        .expect("reads")
        .is_empty());
    s.set_dm_block(bob, ann_id, false).await.expect("unblocked");
    assert!(s
        .dm_blocking(ann_id, vec![bob_id])
        .await
        .expect("reads")
        .is_empty());

    // A message's room; nobody without a name is known.
    let mut p = post(ann, ClientMessageId::new_random(), "in the conversation");
    p.room = dm.id;
    let m = s.post(p).await.expect("stored").message;
    assert_eq!(s.message_room(m.id).await.expect("reads"), Some(dm.id));
    assert_eq!(
        s.message_room(MessageId(999_999)).await.expect("reads"),
        None
    );
    let known: Vec<_> = s
        .known_people()
        .await
        .expect("reads")
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(known, ["Ann", "Bob", "Cy"]);
    assert!(s
        .blob_rooms("no-such-file".into())
        .await
        .expect("reads")
        .is_empty());
}

async fn a_reply_quotes_its_parent_as_it_stands_and_notifies_its_author(b: Backend) {
    let Backend { store, .. } = b;
    let ann = named(store.as_ref(), "Ann").await;
    let bob = named(store.as_ref(), "Bob").await;
    let ann_id = user_id(store.as_ref(), ann).await;
    // Dated now: they are edited below, within the edit window.
    let mut p = post(
        ann,
        ClientMessageId::new_random(),
        "**Lunch** at noon?\nor later",
    );
    p.ts = now_ms();
    let parent = store.post(p).await.expect("stored").message;
    let mut p = post(bob, ClientMessageId::new_random(), "yes");
    p.ts = now_ms();
    p.reply_to = Some(parent.id);
    let reply = store.post(p).await.expect("stored").message;
    let quote = reply.reply.clone().expect("quotes its parent");
    assert_eq!(
        (
            quote.id,
            quote.user_id,
            quote.user_name.as_str(),
            quote.line.as_str(),
            quote.deleted
        ),
        (parent.id, ann_id, "Ann", "Lunch at noon?", false)
    );
    assert_eq!(
        reply.mentions,
        vec![ann_id],
        "the parent's author is notified"
    );
    let s = store
        .room_statuses(Some(ann_id))
        .await
        .expect("reads")
        .into_iter()
        .find(|s| s.room.id == RoomId::DEFAULT)
        .expect("room");
    assert_eq!(s.mentions, 1, "counted as a mention");
    // Answering oneself notifies no one.
    let mut p = post(ann, ClientMessageId::new_random(), "and me");
    p.reply_to = Some(parent.id);
    assert!(store
        .post(p)
        .await
        .expect("stored")
        .message
        .mentions
        .is_empty());
    // The parent is edited: every read shows the quote as it is now,
    // and editing the reply keeps its author notified.
    let edit = Change::Edit {
        text: text("Lunch at one"),
        window_ms: 60_000,
    };
    store
        .change(ann, parent.id, edit, now_ms())
        .await
        .expect("edited");
    let edit = Change::Edit {
        text: text("yes!"),
        window_ms: 60_000,
    };
    let edited = store
        .change(bob, reply.id, edit, now_ms())
        .await
        .expect("edited");
    assert_eq!(edited.mentions, vec![ann_id]);
    let line = |list: Vec<ChatMessage>| {
        list.into_iter()
            .find(|m| m.id == reply.id)
            .and_then(|m| m.reply)
            .map(|q| (q.line, q.deleted))
    };
    let page = store
        .page_before(RoomId::DEFAULT, None, 50)
        .await
        .expect("reads");
    assert_eq!(line(page), Some(("Lunch at one".into(), false)));
    store
        .change(ann, parent.id, Change::Delete, now_ms())
        .await
        .expect("deleted");
    let caught_up = store
        .changed_after(RoomId::DEFAULT, Seq(0), 50)
        .await
        .expect("reads");
    assert_eq!(line(caught_up), Some((String::new(), true)));
    // Only a message of the same room can be answered.
    let other = store
        .create_room(ann, room_name("Elsewhere"), 1)
        .await
        .expect("created");
    let mut p = post_in(other.id, bob, ClientMessageId::new_random(), "wrong room");
    p.reply_to = Some(parent.id);
    assert!(matches!(store.post(p).await, Err(StoreError::NotFound)));
    let mut p = post(bob, ClientMessageId::new_random(), "no such message");
    p.reply_to = Some(MessageId(987_654));
    assert!(matches!(store.post(p).await, Err(StoreError::NotFound)));
}

async fn a_preview_card_is_a_change_that_follows_its_link_and_its_author(b: Backend) {
    let store = b.store;
    let ann = named(&*store, "Ann").await;
    let bob = named(&*store, "Bob").await;
    let m = store
        .post(post(
            ann,
            ClientMessageId::new_random(),
            "read https://a.example/x please",
        ))
        .await
        .expect("stored")
        .message;
    assert!(m.preview.is_none());
    let card = |url: &str| LinkPreview {
        url: url.into(),
        title: "A page".into(),
        description: "About <things>".into(),
        site: "a.example".into(),
        image: Some(app::protocol::PreviewImage {
            id: "f".repeat(64),
            width: 480,
            height: 240,
        }),
    };
    // Only for the author, and only for the text's first link.
    assert!(matches!(
        store
            .change(
                bob,
                m.id,
                Change::Preview(card("https://a.example/x")),
                now_ms()
            )
            .await,
        Err(StoreError::NotAuthor)
    ));
    let wrong = store
        .change(
            ann,
            m.id,
            Change::Preview(card("https://b.example/")),
            now_ms(),
        )
        .await
        .expect("no change");
    assert!(wrong.preview.is_none());
    assert_eq!(wrong.seq, m.seq, "nothing changed, no seq taken");
    let carded = store
        .change(
            ann,
            m.id,
            Change::Preview(card("https://a.example/x")),
            now_ms(),
        )
        .await
        .expect("carded");
    assert_eq!(carded.preview, Some(card("https://a.example/x")));
    assert!(carded.seq > m.seq, "a change readers catch up on");
    let replayed = store
        .changed_after(RoomId::DEFAULT, m.seq, 10)
        .await
        .expect("reads");
    assert_eq!(replayed.len(), 1);
    assert_eq!(replayed[0].preview, carded.preview);
    // Its picture is readable where the message is.
    assert_eq!(
        store.blob_rooms("f".repeat(64)).await.expect("reads"),
        vec![RoomId::DEFAULT]
    );
    // An edit that keeps the link keeps the card; one that changes it
    // drops the card (a new one is made for the new link).
    let edit = |t: &str| Change::Edit {
        text: text(t),
        window_ms: i64::MAX / 4,
    };
    let kept = store
        .change(ann, m.id, edit("read https://a.example/x now"), now_ms())
        .await
        .expect("edited");
    assert!(kept.preview.is_some());
    let moved = store
        .change(ann, m.id, edit("no, https://c.example/ instead"), now_ms())
        .await
        .expect("edited");
    assert!(moved.preview.is_none());
    store
        .change(
            ann,
            m.id,
            Change::Preview(card("https://c.example/")),
            now_ms(),
        )
        .await
        .expect("carded");
    // Only the author takes it away, and then it stays away.
    assert!(matches!(
        store.change(bob, m.id, Change::HidePreview, now_ms()).await,
        Err(StoreError::NotAuthor)
    ));
    let hidden = store
        .change(ann, m.id, Change::HidePreview, now_ms())
        .await
        .expect("hidden");
    assert!(hidden.preview.is_none());
    let again = store
        .change(
            ann,
            m.id,
            Change::Preview(card("https://c.example/")),
            now_ms(),
        )
        .await
        .expect("no change");
    assert!(again.preview.is_none());
    assert_eq!(again.seq, hidden.seq);
    // A deleted message keeps no card.
    let n = store
        .post(post(
            bob,
            ClientMessageId::new_random(),
            "https://d.example/",
        ))
        .await
        .expect("stored")
        .message;
    store
        .change(
            bob,
            n.id,
            Change::Preview(card("https://d.example/")),
            now_ms(),
        )
        .await
        .expect("carded");
    let gone = store
        .change(bob, n.id, Change::Delete, now_ms())
        .await
        .expect("deleted");
    assert!(gone.preview.is_none());
}

async fn a_bot_is_a_member_found_by_its_key_hash_until_revoked(b: Backend) {
    let store = b.store;
    let ann = named(&*store, "Ann").await;
    let device = DeviceId::new_random();
    let bot = store
        .create_bot(NewBot {
            device,
            name: UserName::parse("CI").expect("a name"),
            color: "#c0ffee".into(),
            key_hash: "a".repeat(64),
            secret: "s".repeat(64),
            webhook: Some("https://hooks.example/ci".into()),
            now: 5,
        })
        .await
        .expect("made");
    assert_eq!(bot.name, "CI");
    // A member: an invite-only chat lets it in.
    store.set_invite_only(true, 6).await.expect("set");
    assert!(store.standing(device).await.expect("reads").role.is_some());
    let found = store
        .bot_by_key("a".repeat(64))
        .await
        .expect("reads")
        .expect("found by its key's hash");
    assert_eq!((found.me.user_id, found.device), (bot.user_id, device));
    assert_eq!(found.webhook.as_deref(), Some("https://hooks.example/ci"));
    assert!(store
        .bot_by_key("b".repeat(64))
        .await
        .expect("reads")
        .is_none());
    // Its messages say a bot wrote them; people's do not.
    let said = store
        .post(post(device, ClientMessageId::new_random(), "build passed"))
        .await
        .expect("stored")
        .message;
    assert!(said.bot);
    let person = store
        .post(post(ann, ClientMessageId::new_random(), "thanks"))
        .await
        .expect("stored")
        .message;
    assert!(!person.bot);
    let page = store
        .page_before(RoomId::DEFAULT, None, 10)
        .await
        .expect("reads");
    assert_eq!(
        page.iter().map(|m| m.bot).collect::<Vec<_>>(),
        vec![true, false]
    );
    let after = store
        .page_after(RoomId::DEFAULT, said.id, 10)
        .await
        .expect("reads");
    assert_eq!(
        after.iter().map(|m| m.id).collect::<Vec<_>>(),
        vec![person.id]
    );
    // A new key replaces the old; a revoked bot is found by none.
    assert!(store
        .change_bot(bot.user_id, BotChange::Key("c".repeat(64)), 7)
        .await
        .expect("changed"));
    assert!(store
        .bot_by_key("a".repeat(64))
        .await
        .expect("reads")
        .is_none());
    assert!(store
        .bot_by_key("c".repeat(64))
        .await
        .expect("reads")
        .is_some());
    assert!(store
        .change_bot(bot.user_id, BotChange::Webhook(None), 7)
        .await
        .expect("changed"));
    assert!(store
        .change_bot(bot.user_id, BotChange::Revoke, 8)
        .await
        .expect("revoked"));
    assert!(store
        .bot_by_key("c".repeat(64))
        .await
        .expect("reads")
        .is_none());
    assert!(!store
        .change_bot(bot.user_id, BotChange::Key("d".repeat(64)), 9)
        .await
        .expect("no change"));
    let listed = store.bots().await.expect("reads");
    assert_eq!(listed.len(), 1);
    assert!(listed[0].revoked);
    assert!(listed[0].webhook.is_none());
}

async fn one_node_orders_certificates_at_a_time(b: Backend) {
    let store = b.store;
    assert_eq!(store.acme_get("cert".into()).await.expect("reads"), None);
    store
        .acme_put("cert".into(), b"one".to_vec())
        .await
        .expect("kept");
    store
        .acme_put("cert".into(), b"two".to_vec())
        .await
        .expect("replaced");
    assert_eq!(
        store.acme_get("cert".into()).await.expect("reads"),
        Some(b"two".to_vec())
    );
    // A holds the lease; B cannot take it until it runs out; A renews it.
    assert!(store.acme_lease("A".into(), 100, 200).await.expect("taken"));
    assert!(!store.acme_lease("B".into(), 150, 250).await.expect("asked"));
    assert!(store.acme_lease("A".into(), 150, 300).await.expect("kept"));
    assert!(!store.acme_lease("B".into(), 250, 350).await.expect("asked"));
    assert!(store
        .acme_lease("B".into(), 301, 400)
        .await
        .expect("taken over"));
    assert!(!store.acme_lease("A".into(), 350, 450).await.expect("asked"));
}
