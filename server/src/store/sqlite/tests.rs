use super::super::contract::{named, post, user_id};
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

/// Every query a page view and a catch-up make on the tables that grow
/// with history, and the index range each must use: bounded by the mark
/// or the cursor, so its cost does not grow with the room. (A search on
/// `room_id` alone would still read the whole room.)
fn page_path() -> Vec<(&'static str, String, &'static str)> {
    vec![
        (
            "unread count",
            rooms::UNREAD.to_owned(),
            "(room_id=? AND created_seq>?)",
        ),
        (
            "mention count",
            rooms::MENTIONS.to_owned(),
            "(user_id=? AND room_id=? AND created_seq>?)",
        ),
        (
            "newest message's time",
            rooms::LAST_AT.to_owned(),
            "(room_id=?)",
        ),
        (
            "room list with figures",
            rooms::STATUSES.to_owned(),
            "(room_id=? AND created_seq>?)",
        ),
        (
            "read mark",
            "SELECT seq FROM read_marks WHERE user_id = ?1 AND room_id = ?2".to_owned(),
            "(user_id=? AND room_id=?)",
        ),
        (
            "latest page",
            format!("{} {}", schema::SELECT_MESSAGE, messages::PAGE_BEFORE),
            "(room_id=? AND id<?)",
        ),
        (
            "reactions of a page",
            schema::REACTIONS_OF.to_owned(),
            "(message_id=?)",
        ),
        (
            "mentions of a page",
            schema::MENTIONS_OF.to_owned(),
            "(message_id=?)",
        ),
        (
            "quoted messages",
            format!("{} {}", schema::SELECT_MESSAGE, schema::QUOTED),
            "(rowid=?)",
        ),
        (
            "catch-up",
            format!("{} {}", schema::SELECT_MESSAGE, messages::CHANGED_AFTER),
            "(room_id=? AND seq>?)",
        ),
    ]
}

/// A migrated database with a user and statistics, as a real one has
/// them.
fn analysed_db() -> (tempfile::TempDir, Connection) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut db = Connection::open(dir.path().join("chat.db")).expect("opens");
    schema::configure(&db).expect("configured");
    schema::migrate(&mut db).expect("migrated");
    db.execute_batch(
        "INSERT INTO users (device_id, name, color, created_at) VALUES ('d', 'Ann', 'c', 0);
         ANALYZE;",
    )
    .expect("filled");
    (dir, db)
}

#[test]
fn no_query_on_the_page_path_scans_a_table_that_grows_with_history() {
    let (_dir, db) = analysed_db();
    for (what, sql, range) in page_path() {
        let mut stmt = db
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .expect("a plan");
        let params = stmt.parameter_count();
        let plan: Vec<String> = stmt
            .query_map(rusqlite::params_from_iter((0..params).map(|_| 1i64)), |r| {
                r.get::<_, String>(3)
            })
            .expect("plans")
            .collect::<rusqlite::Result<_>>()
            .expect("read");
        for step in &plan {
            for table in ["messages", "mentions", "reactions", "read_marks"] {
                assert!(
                    !step.starts_with(&format!("SCAN {table}")),
                    "{what} scans {table}: {plan:?}"
                );
            }
        }
        assert!(
            plan.iter()
                .any(|s| s.starts_with("SEARCH") && s.contains(range)),
            "{what} searches an index range {range}: {plan:?}"
        );
    }
}

/// A cached statement is planned once. SQLite otherwise plans again, at
/// every execution after a new bind, a statement whose plan read a bound
/// value (a `LIMIT ?`, a range with statistics): each page's reads were
/// mostly parsing SQL.
#[test]
fn cached_statements_on_the_page_path_are_not_planned_again_per_bind() {
    let (_dir, db) = analysed_db();
    for (what, sql, _) in page_path() {
        let mut stmt = db.prepare_cached(&sql).expect("prepared");
        let params = stmt.parameter_count();
        for value in 1..=3i64 {
            let mut rows = stmt
                .query(rusqlite::params_from_iter((0..params).map(|_| value)))
                .expect("runs");
            while rows.next().expect("steps").is_some() {}
        }
        assert_eq!(
            stmt.get_status(rusqlite::StatementStatus::RePrepare),
            0,
            "{what} was planned again on a new bind"
        );
    }
}

/// A plan can search an index and still walk a whole room (as `MAX(ts)`
/// over the room's id index did): the room's newest time must cost the
/// same few steps with 3,000 messages as with one.
#[test]
fn the_newest_time_of_a_room_does_not_read_its_history() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut db = Connection::open(dir.path().join("chat.db")).expect("opens");
    schema::configure(&db).expect("configured");
    schema::migrate(&mut db).expect("migrated");
    db.execute(
        "INSERT INTO users (device_id, name, color, created_at) VALUES ('d', 'Ann', 'c', 0)",
        [],
    )
    .expect("a user");
    let steps = |db: &Connection| {
        let mut stmt = db.prepare(rooms::LAST_AT).expect("prepared");
        let ts: i64 = stmt.query_row([1], |r| r.get(0)).expect("a time");
        (ts, stmt.get_status(rusqlite::StatementStatus::VmStep))
    };
    let add = |db: &Connection, n: i64| {
        db.execute(
            "WITH RECURSIVE k(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM k WHERE n < ?1)
             INSERT INTO messages (user_id, client_id, user_name, color, body, ts, room_id, seq)
             SELECT 1, 'c' || (n + (SELECT COUNT(*) FROM messages)), 'Ann', 'c', 'x',
                    1000 + n + (SELECT COUNT(*) FROM messages), 1,
                    n + (SELECT COUNT(*) FROM messages)
             FROM k",
            [n],
        )
        .expect("history");
    };
    add(&db, 1);
    let (first, few) = steps(&db);
    add(&db, 3000);
    let (last, many) = steps(&db);
    assert!(last > first, "the newest time moved on: {first} → {last}");
    assert!(
        many <= few + 5,
        "{few} steps with one message, {many} with 3,001"
    );
}

/// Pushes in shared rooms became mentions-only by default: a device
/// already subscribed keeps getting everything (as it did), one that had
/// chosen keeps its choice.
#[test]
fn devices_subscribed_before_the_mentions_default_keep_all_messages() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut db = Connection::open(dir.path().join("chat.db")).expect("opens");
    schema::configure(&db).expect("configured");
    // Up to the step that made mentions the default, whatever follows it.
    let before = schema::MIGRATIONS
        .iter()
        .position(|sql| sql.contains("A device that never chose is pushed"))
        .expect("the push default step");
    for sql in &schema::MIGRATIONS[..before] {
        db.execute_batch(sql).expect("an earlier step");
    }
    db.pragma_update(None, "user_version", before as i64)
        .expect("version");
    db.execute_batch(
        "INSERT INTO push_subscriptions (endpoint, device_id, p256dh, auth, created_at)
         VALUES ('https://p/1', 'ann', 'k', 'a', 0), ('https://p/2', 'ann', 'k', 'a', 0),
                ('https://p/3', 'bo', 'k', 'a', 0);
         INSERT INTO push_modes (device_id, room_id, mode) VALUES ('bo', 0, 'off');",
    )
    .expect("an older chat's pushes");
    schema::migrate(&mut db).expect("migrated");
    let modes: Vec<(String, i64, String)> = db
        .prepare("SELECT device_id, room_id, mode FROM push_modes ORDER BY device_id")
        .expect("prepared")
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .expect("reads")
        .collect::<rusqlite::Result<_>>()
        .expect("rows");
    assert_eq!(
        modes,
        [
            ("ann".to_owned(), 0, "all".to_owned()),
            ("bo".to_owned(), 0, "off".to_owned())
        ]
    );
}

/// The room list's figures, read for all rooms in one statement, are each
/// room's figures as `status` reads them one by one.
#[tokio::test]
async fn the_room_list_in_one_statement_agrees_with_each_rooms_status() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(
        dir.path(),
        Arc::new(Hub::new()),
        Arc::new(Metrics::default()),
    )
    .expect("opens");
    let (ann, bob) = (named(&store, "Ann").await, named(&store, "Bob").await);
    let ann_id = user_id(&store, ann).await;
    let bob_id = user_id(&store, bob).await;
    let games = store
        .create_room(bob, RoomName::parse("Games").expect("a name"), 1)
        .await
        .expect("created");
    for (i, (who, room)) in [
        (bob, RoomId::DEFAULT),
        (ann, RoomId::DEFAULT),
        (bob, games.id),
    ]
    .into_iter()
    .cycle()
    .take(9)
    .enumerate()
    {
        let mention = who == bob && i % 2 == 0;
        let text = if mention {
            format!("m{i} @Ann")
        } else {
            format!("m{i}")
        };
        let mut p =
            super::super::contract::post_in(room, who, ClientMessageId::new_random(), &text);
        if mention {
            p.mentions = vec![ann_id];
        }
        store.post(p).await.expect("stored");
    }
    let read_to = store
        .page_before(RoomId::DEFAULT, None, 50)
        .await
        .expect("reads")[2]
        .seq;
    store
        .mark_read(ann, RoomId::DEFAULT, read_to)
        .await
        .expect("marked");
    store.checkpoint().await.expect("checkpoint");
    let db = Connection::open(dir.path().join("chat.db")).expect("opens");
    for user in [Some(ann_id), Some(bob_id), None] {
        let all = rooms::statuses(&db, user).expect("statuses");
        assert_eq!(all.len(), 2, "General and Games");
        for status in &all {
            let one = rooms::status(&db, user, status.room.clone()).expect("status");
            assert_eq!(status, &one, "{user:?} in {}", status.room.name);
        }
        if user == Some(ann_id) {
            assert!(
                all.iter().all(|s| s.unread > 0 && s.mentions > 0),
                "{all:?}"
            );
            assert!(all[0].read > Seq(0));
        }
    }
}
