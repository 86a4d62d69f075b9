//! The SQLite schema, its migrations, connection settings, and reading a
//! message row with its reactions and mentions.

use super::super::{Result, StoreError};
use app::protocol::{
    ChatMessage, MessageId, Quote, Reaction, Reactor, RoomId, Seq, UserId, REACTIONS,
};
use rusqlite::config::DbConfig;
use rusqlite::{Connection, Row};
use std::collections::HashMap;

/// Schema steps, applied in order; `PRAGMA user_version` records progress.
pub(super) const MIGRATIONS: &[&str] = &[
    include_str!("../../../migrations/0001_init.sql"),
    include_str!("../../../migrations/0002_transfer.sql"),
    include_str!("../../../migrations/0003_rooms.sql"),
    include_str!("../../../migrations/0004_search.sql"),
    include_str!("../../../migrations/0005_files.sql"),
    include_str!("../../../migrations/0006_push.sql"),
    include_str!("../../../migrations/0007_search_prefix.sql"),
    include_str!("../../../migrations/0008_access.sql"),
    include_str!("../../../migrations/0009_blob_gc.sql"),
    include_str!("../../../migrations/0010_unread.sql"),
    include_str!("../../../migrations/0011_membership.sql"),
    include_str!("../../../migrations/0012_push_default.sql"),
    include_str!("../../../migrations/0013_reply.sql"),
    include_str!("../../../migrations/0014_preview.sql"),
    include_str!("../../../migrations/0015_bots.sql"),
    include_str!("../../../migrations/0016_acme.sql"),
];

pub const SELECT_MESSAGE: &str = "SELECT id, user_id, user_name, color, body, ts, room_id, seq, \
     edited_at IS NOT NULL, deleted, attachment, reply_to, preview, bot FROM messages";

const STATEMENTS_KEPT: usize = 128;

pub fn configure(db: &Connection) -> Result<()> {
    // FULL: a message is acknowledged only once it would survive power
    // loss. Group commit makes that affordable: one fsync per batch.
    db.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = ON;
         PRAGMA busy_timeout = 5000;",
    )?;
    // The query planner's stability guarantee: a plan never depends on
    // the values bound to it. Without it SQLite reads a bound `LIMIT ?`
    // (or a range's bound value, with statistics) while planning, marks
    // the statement, and plans it again at every execution after a new
    // bind: the cached statements of the page path spent 80 % of a
    // page's reads re-parsing their SQL (perf, scenario (g)).
    db.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    // Room for every statement a connection runs (the default 16 is fewer
    // than a page and a catch-up use between them).
    db.set_prepared_statement_cache_capacity(STATEMENTS_KEPT);
    Ok(())
}

pub fn migrate(db: &mut Connection) -> Result<()> {
    let known = MIGRATIONS.len() as i64;
    let found: i64 = db.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > known {
        return Err(StoreError::TooNew { found, known });
    }
    for (step, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let tx = db.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", step as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}

pub fn message_from_row(row: &Row<'_>) -> rusqlite::Result<ChatMessage> {
    let msg: String = row.get(4)?;
    Ok(ChatMessage {
        rich: app::rich::render(&msg),
        id: MessageId(row.get(0)?),
        user_id: UserId(row.get(1)?),
        user_name: row.get(2)?,
        color: row.get(3)?,
        msg,
        ts: row.get(5)?,
        room: RoomId(row.get(6)?),
        seq: Seq(row.get(7)?),
        edited: row.get(8)?,
        // 1: deleted by its author; 2: removed by a moderator.
        deleted: row.get::<_, i64>(9)? != 0,
        removed: row.get::<_, i64>(9)? == 2,
        reactions: Vec::new(),
        mentions: Vec::new(),
        // Written by this server from its own type; unreadable JSON would
        // be a bug, shown as no attachment rather than a broken page.
        attachment: row
            .get::<_, Option<String>>(10)?
            .and_then(|json| serde_json::from_str(&json).ok()),
        // Filled in with the parent's current state (`fill_extras`).
        reply: row
            .get::<_, Option<i64>>(11)?
            .map(|id| Quote::gone(MessageId(id))),
        preview: row
            .get::<_, Option<String>>(12)?
            .and_then(|json| serde_json::from_str(&json).ok()),
        bot: row.get::<_, i64>(13)? != 0,
    })
}

/// Messages by a query, with their reactions and mentions filled in.
pub fn messages(
    db: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<ChatMessage>> {
    let mut stmt = db.prepare_cached(sql)?;
    let mut list: Vec<ChatMessage> = stmt
        .query_map(params, message_from_row)?
        .collect::<rusqlite::Result<_>>()?;
    fill_extras(db, &mut list)?;
    Ok(list)
}

/// One message, current state.
pub fn message(db: &Connection, id: MessageId) -> Result<ChatMessage> {
    messages(db, &format!("{SELECT_MESSAGE} WHERE id = ?1"), [id.0])?
        .pop()
        .ok_or(StoreError::NotFound)
}

/// Ids as the JSON array the statements below read with `json_each`:
/// one cached statement whatever the number of messages, where a `?` per
/// id made a new statement, parsed and planned, for every page.
fn id_list(ids: impl Iterator<Item = i64>) -> String {
    let mut list = String::from("[");
    for (i, id) in ids.enumerate() {
        if i > 0 {
            list.push(',');
        }
        list.push_str(&id.to_string());
    }
    list.push(']');
    list
}

/// The reactions to a list of messages (`?1`, a JSON array of ids), with
/// who reacted.
pub const REACTIONS_OF: &str = "SELECT r.message_id, r.emoji, r.user_id, u.name FROM reactions r
     JOIN users u ON u.id = r.user_id
     WHERE r.message_id IN (SELECT value FROM json_each(?1))
     ORDER BY r.message_id, u.id";
/// Who a list of messages mentions.
pub const MENTIONS_OF: &str = "SELECT message_id, user_id FROM mentions
     WHERE message_id IN (SELECT value FROM json_each(?1)) ORDER BY user_id";
/// The messages replies quote, as they are now.
pub const QUOTED: &str = "WHERE id IN (SELECT value FROM json_each(?1))";

/// Adds reactions (in the order they are offered), mentions, and the
/// quotes of the messages replies answer.
fn fill_extras(db: &Connection, list: &mut [ChatMessage]) -> Result<()> {
    if list.is_empty() {
        return Ok(());
    }
    fill_quotes(
        db,
        list.iter_mut().filter_map(|m| m.reply.as_mut()).collect(),
    )?;
    let ids = id_list(list.iter().map(|m| m.id.0));
    let mut reactions: HashMap<i64, Vec<Reaction>> = HashMap::new();
    let mut stmt = db.prepare_cached(REACTIONS_OF)?;
    let rows = stmt.query_map([&ids], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, String>(1)?,
            UserId(r.get(2)?),
            r.get::<_, String>(3)?,
        ))
    })?;
    for row in rows {
        let (message, emoji, user_id, name) = row?;
        let list = reactions.entry(message).or_default();
        let reactor = Reactor { user_id, name };
        match list.iter_mut().find(|r| r.emoji == emoji) {
            Some(r) => r.users.push(reactor),
            None => list.push(Reaction {
                emoji,
                users: vec![reactor],
            }),
        }
    }
    let mut mentions: HashMap<i64, Vec<UserId>> = HashMap::new();
    let mut stmt = db.prepare_cached(MENTIONS_OF)?;
    let rows = stmt.query_map([&ids], |r| Ok((r.get::<_, i64>(0)?, UserId(r.get(1)?))))?;
    for row in rows {
        let (message, user) = row?;
        mentions.entry(message).or_default().push(user);
    }
    let rank = |emoji: &str| {
        REACTIONS
            .iter()
            .position(|e| *e == emoji)
            .unwrap_or(REACTIONS.len())
    };
    for m in list.iter_mut() {
        if let Some(mut r) = reactions.remove(&m.id.0) {
            r.sort_by_key(|r| rank(&r.emoji));
            m.reactions = r;
        }
        m.mentions = mentions.remove(&m.id.0).unwrap_or_default();
    }
    Ok(())
}

/// Fills each reply's quote with its parent as it stands now, in one
/// query for them all.
pub fn fill_quotes(db: &Connection, quotes: Vec<&mut Quote>) -> Result<()> {
    if quotes.is_empty() {
        return Ok(());
    }
    let parents = id_list(quotes.iter().map(|q| q.id.0));
    let mut stmt = db.prepare_cached(&format!("{SELECT_MESSAGE} {QUOTED}"))?;
    let found: HashMap<MessageId, Quote> = stmt
        .query_map([parents], message_from_row)?
        .map(|m| m.map(|m| (m.id, Quote::of(&m))))
        .collect::<rusqlite::Result<_>>()?;
    for q in quotes {
        if let Some(now) = found.get(&q.id) {
            *q = now.clone();
        }
    }
    Ok(())
}
