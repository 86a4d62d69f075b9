//! `server seed-history`: fills a chat with a long history straight into
//! its store (not through the socket), for measuring what a page, the room
//! list, catch-up and search cost on a million messages beside an empty
//! chat. Rooms `history-1`…, identities whose devices are
//! `00000000-0000-4000-8000-<n>` (so a benchmark knows their cookies), and
//! three viewers: one with read marks at every room's end, one 10,000
//! messages behind in `history-1`, and one named before any of it with no
//! marks at all.

use crate::base::{now_ms, BoxError};
use crate::config::{Database, Settings};
use std::time::Instant;

/// What to write.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub messages: u64,
    pub rooms: u64,
    pub identities: u64,
}

/// The device id of seeded identity `n` (the viewers are 1, 2 and 3).
pub fn device(n: u64) -> String {
    format!("00000000-0000-4000-8000-{n:012}")
}

/// Viewers a benchmark signs in as.
pub const VIEWER_READ: u64 = 1;
pub const VIEWER_BEHIND: u64 = 2;
pub const VIEWER_UNMARKED: u64 = 3;
/// How far behind `VIEWER_BEHIND` is in `history-1`.
pub const BEHIND: u64 = 10_000;

const WORDS: [&str; 24] = [
    "deploy", "lunch", "coffee", "review", "release", "bug", "meeting", "plan", "design", "test",
    "server", "phone", "photo", "weekend", "budget", "ticket", "merge", "build", "question",
    "answer", "idea", "draft", "notes", "today",
];

/// The text of message `i`: a few words, varied enough for search.
fn text(i: u64) -> String {
    let w = |k: u64| WORDS[((i.wrapping_mul(2_654_435_761) >> k) % WORDS.len() as u64) as usize];
    format!("{} {} {} #{i}", w(3), w(11), w(19))
}

pub async fn seed(settings: &Settings, plan: Plan) -> Result<(), BoxError> {
    let started = Instant::now();
    match settings.database()? {
        Database::Sqlite(path) => {
            std::fs::create_dir_all(&settings.data_dir)?;
            let path = path.clone();
            tokio::task::spawn_blocking(move || sqlite(&path, plan)).await??;
        }
        Database::Postgres(url) => postgres(&url, plan).await?,
    }
    tracing::info!(
        messages = plan.messages,
        rooms = plan.rooms,
        identities = plan.identities,
        secs = started.elapsed().as_secs_f64(),
        "history written"
    );
    Ok(())
}

/// Room `r` (1-based) of message `i`, and its seq there.
fn place(i: u64, rooms: u64) -> (i64, i64) {
    let r = i % rooms;
    ((r + 2) as i64, (i / rooms + 1) as i64)
}

fn sqlite(path: &std::path::Path, plan: Plan) -> Result<(), BoxError> {
    use rusqlite::params;
    let mut db = rusqlite::Connection::open(path)?;
    crate::store::sqlite::prepare(&mut db)?;
    db.pragma_update(None, "synchronous", "OFF")?;
    let now = now_ms();
    let start = now - plan.messages as i64 * 1000;
    let tx = db.transaction()?;
    {
        // The viewer without marks was named before any of it.
        let mut user = tx.prepare(
            "INSERT OR IGNORE INTO users (device_id, name, color, created_at) VALUES (?1, ?2, ?3, ?4)",
        )?;
        for n in 1..=plan.identities {
            let at = if n == VIEWER_UNMARKED { start - 1 } else { now };
            user.execute(params![
                device(n),
                format!("Person {n}"),
                "rgb(220,150,150)",
                at
            ])?;
        }
        let mut room = tx.prepare(
            "INSERT OR IGNORE INTO rooms (id, slug, name, name_key, last_seq, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        for r in 0..plan.rooms {
            let id = (r + 2) as i64;
            let last = ((plan.messages + plan.rooms - 1 - r) / plan.rooms) as i64;
            room.execute(params![
                id,
                format!("history-{}", r + 1),
                format!("History {}", r + 1),
                format!("history {}", r + 1),
                last,
                start - 1
            ])?;
        }
        let mut msg = tx.prepare(
            "INSERT INTO messages (user_id, client_id, user_name, color, body, ts, room_id, created_seq, seq)
             SELECT id, ?1, name, color, ?2, ?3, ?4, ?5, ?5 FROM users WHERE device_id = ?6",
        )?;
        for i in 0..plan.messages {
            let (room, seq) = place(i, plan.rooms);
            let author = 4 + i % plan.identities.saturating_sub(3).max(1);
            msg.execute(params![
                format!("seed-{i}"),
                text(i),
                start + i as i64 * 1000,
                room,
                seq,
                device(author)
            ])?;
        }
        marks(&tx, plan)?;
    }
    tx.commit()?;
    // As after any bulk load: the planner's statistics for what is there.
    db.execute_batch("ANALYZE")?;
    Ok(())
}

/// The viewers' marks: one at every room's end, one `BEHIND` in
/// `history-1` (and at the end elsewhere).
fn marks(tx: &rusqlite::Transaction, plan: Plan) -> Result<(), BoxError> {
    use rusqlite::params;
    let mut mark = tx.prepare(
        "INSERT OR REPLACE INTO read_marks (user_id, room_id, seq)
         SELECT u.id, r.id, MAX(r.last_seq - ?2, 0) FROM users u, rooms r
         WHERE u.device_id = ?1 AND (?3 = 0 OR r.id = 2 OR ?2 = 0)",
    )?;
    mark.execute(params![device(VIEWER_READ), 0, 0])?;
    mark.execute(params![device(VIEWER_BEHIND), 0, 0])?;
    mark.execute(params![
        device(VIEWER_BEHIND),
        BEHIND.min(plan.messages) as i64,
        1
    ])?;
    Ok(())
}

async fn postgres(url: &str, plan: Plan) -> Result<(), BoxError> {
    let connector = crate::store::postgres::Connector::new(url)?;
    let mut db = connector.connect().await?;
    crate::store::postgres::rows::migrate(&mut db).await?;
    let now = now_ms();
    let start = now - plan.messages as i64 * 1000;
    let tx = db.transaction().await?;
    for n in 1..=plan.identities {
        let at = if n == VIEWER_UNMARKED { start - 1 } else { now };
        tx.execute(
            "INSERT INTO users (device_id, name, color, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT DO NOTHING",
            &[&device(n), &format!("Person {n}"), &"rgb(220,150,150)", &at],
        )
        .await?;
    }
    for r in 0..plan.rooms {
        let id = (r + 2) as i64;
        let last = ((plan.messages + plan.rooms - 1 - r) / plan.rooms) as i64;
        tx.execute(
            "INSERT INTO rooms (id, slug, name, name_key, last_seq, created_at)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
            &[
                &id,
                &format!("history-{}", r + 1),
                &format!("History {}", r + 1),
                &format!("history {}", r + 1),
                &last,
                &(start - 1),
            ],
        )
        .await?;
    }
    tx.execute(
        "SELECT setval(pg_get_serial_sequence('rooms', 'id'), (SELECT MAX(id) FROM rooms))",
        &[],
    )
    .await?;
    // Authors by device, once.
    let ids: std::collections::HashMap<String, i64> = tx
        .query("SELECT device_id, id FROM users", &[])
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    const BATCH: u64 = 1000;
    let mut i = 0;
    while i < plan.messages {
        let end = (i + BATCH).min(plan.messages);
        let mut sql = String::from(
            "INSERT INTO messages (user_id, client_id, user_name, color, body, ts, room_id, created_seq, seq) VALUES ",
        );
        let mut values: Vec<Box<dyn tokio_postgres::types::ToSql + Sync + Send>> = Vec::new();
        for j in i..end {
            let (room, seq) = place(j, plan.rooms);
            let author = 4 + j % plan.identities.saturating_sub(3).max(1);
            let user = ids.get(&device(author)).copied().unwrap_or(1);
            let k = values.len();
            if j > i {
                sql.push(',');
            }
            sql.push_str(&format!(
                "(${}, ${}, ${}, 'rgb(220,150,150)', ${}, ${}, ${}, ${}, ${})",
                k + 1,
                k + 2,
                k + 3,
                k + 4,
                k + 5,
                k + 6,
                k + 7,
                k + 7
            ));
            values.push(Box::new(user));
            values.push(Box::new(format!("seed-{j}")));
            values.push(Box::new(format!("Person {author}")));
            values.push(Box::new(text(j)));
            values.push(Box::new(start + j as i64 * 1000));
            values.push(Box::new(room));
            values.push(Box::new(seq));
        }
        let refs: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = values
            .iter()
            .map(|v| v.as_ref() as &(dyn tokio_postgres::types::ToSql + Sync))
            .collect();
        tx.execute(&sql, &refs).await?;
        i = end;
    }
    for (viewer, behind, only_first) in [
        (VIEWER_READ, 0i64, false),
        (VIEWER_BEHIND, 0, false),
        (VIEWER_BEHIND, BEHIND.min(plan.messages) as i64, true),
    ] {
        tx.execute(
            "INSERT INTO read_marks (user_id, room_id, seq)
             SELECT u.id, r.id, GREATEST(r.last_seq - $2, 0) FROM users u, rooms r
             WHERE u.device_id = $1 AND (NOT $3 OR r.id = 2)
             ON CONFLICT (user_id, room_id) DO UPDATE SET seq = excluded.seq",
            &[&device(viewer), &behind, &only_first],
        )
        .await?;
    }
    tx.commit().await?;
    // As after any bulk load: statistics for the planner, and the
    // visibility map its index-only scans count on.
    db.batch_execute("VACUUM ANALYZE").await?;
    Ok(())
}
