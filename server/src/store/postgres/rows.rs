//! The schema, connecting, and reading messages with their reactions and
//! mentions.

use super::super::{Result, StoreError};
use app::protocol::{
    ChatMessage, MessageId, Quote, Reaction, Reactor, RoomId, Seq, UserId, REACTIONS,
};
use std::collections::HashMap;
use tokio_postgres::{GenericClient, Row};

/// Schema steps, applied in order; `schema_version` records progress.
const MIGRATIONS: &[&str] = &[
    include_str!("../../../migrations/postgres/0001_init.sql"),
    include_str!("../../../migrations/postgres/0002_blobs.sql"),
    include_str!("../../../migrations/postgres/0003_unread.sql"),
    include_str!("../../../migrations/postgres/0004_membership.sql"),
    include_str!("../../../migrations/postgres/0005_push_default.sql"),
    include_str!("../../../migrations/postgres/0006_reply.sql"),
    include_str!("../../../migrations/postgres/0007_preview.sql"),
    include_str!("../../../migrations/postgres/0008_bots.sql"),
    include_str!("../../../migrations/postgres/0009_acme.sql"),
];

/// Any number that is the same on every node: the advisory lock that
/// lets one node at a time migrate.
const MIGRATION_LOCK: i64 = 0x0063_6861_7400;

pub const SELECT_MESSAGE: &str = "SELECT id, user_id, user_name, color, body, ts, room_id, seq, \
     edited_at IS NOT NULL, deleted, attachment, created_seq, reply_to, preview, bot FROM messages";

/// Creates or updates the schema. Nodes starting together take turns.
pub async fn migrate(db: &mut tokio_postgres::Client) -> Result<()> {
    // "Already exists, skipping" is the normal case on every start.
    db.batch_execute("SET client_min_messages = warning")
        .await?;
    db.execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    let result = migrate_locked(db).await;
    db.execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
        .await?;
    result
}

async fn migrate_locked(db: &mut tokio_postgres::Client) -> Result<()> {
    let tx = db.transaction().await?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")
        .await?;
    let found: Option<i64> = tx
        .query_opt("SELECT version FROM schema_version", &[])
        .await?
        .map(|r| r.get(0));
    let known = MIGRATIONS.len() as i64;
    let found_n = found.unwrap_or(0);
    if found_n > known {
        return Err(StoreError::TooNew {
            found: found_n,
            known,
        });
    }
    for sql in MIGRATIONS.iter().skip(found_n as usize) {
        tx.batch_execute(sql).await?;
    }
    if found.is_none() {
        tx.execute("INSERT INTO schema_version VALUES ($1)", &[&known])
            .await?;
    } else {
        tx.execute("UPDATE schema_version SET version = $1", &[&known])
            .await?;
    }
    // The install's epoch: a client that saw another one starts over.
    tx.execute(
        "INSERT INTO chat_settings (key, value) VALUES ('epoch', $1) ON CONFLICT DO NOTHING",
        &[&uuid::Uuid::new_v4().simple().to_string()],
    )
    .await?;
    tx.commit().await?;
    search_index(db).await;
    Ok(())
}

/// Search compares `chat_fold(body)`: lower case without accents, as
/// SQLite's FTS5 tokenizer does, through `unaccent` where the server has
/// it; a trigram index on it keeps substring search fast. Both are
/// optional: without them search still works, by scanning.
async fn search_index(db: &tokio_postgres::Client) {
    let unaccented = db
        .batch_execute(
            "CREATE EXTENSION IF NOT EXISTS unaccent;
             CREATE OR REPLACE FUNCTION chat_fold(t text) RETURNS text
                 LANGUAGE sql IMMUTABLE PARALLEL SAFE
                 AS $$ SELECT lower(public.unaccent('public.unaccent'::regdictionary, t)) $$;",
        )
        .await;
    if let Err(e) = unaccented {
        tracing::warn!(error = %e, "no unaccent: search in the shared mode is accent-sensitive");
        let plain = db
            .batch_execute(
                "CREATE OR REPLACE FUNCTION chat_fold(t text) RETURNS text
                     LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT lower(t) $$;",
            )
            .await;
        if let Err(e) = plain {
            tracing::error!(error = %e, "search will fail: chat_fold could not be made");
        }
    }
    if let Err(e) = db
        .batch_execute(
            "CREATE EXTENSION IF NOT EXISTS pg_trgm;
             CREATE INDEX IF NOT EXISTS messages_fold_trgm ON messages
                 USING gin (chat_fold(body) gin_trgm_ops);",
        )
        .await
    {
        tracing::warn!(error = %e, "no trigram index; search scans the messages");
    }
}

/// A message row and its `created_seq` (equal to `seq` while nothing has
/// changed it).
pub fn message_from_row(row: &Row) -> (ChatMessage, Seq) {
    let deleted: i16 = row.get(9);
    let msg: String = row.get(4);
    let message = ChatMessage {
        rich: app::rich::render(&msg),
        id: MessageId(row.get(0)),
        user_id: UserId(row.get(1)),
        user_name: row.get(2),
        color: row.get(3),
        msg,
        ts: row.get(5),
        room: RoomId(row.get(6)),
        seq: Seq(row.get(7)),
        edited: row.get(8),
        deleted: deleted != 0,
        removed: deleted == 2,
        reactions: Vec::new(),
        mentions: Vec::new(),
        attachment: row
            .get::<_, Option<String>>(10)
            .and_then(|json| serde_json::from_str(&json).ok()),
        // Filled in with the parent's current state (`fill_quotes`).
        reply: row
            .get::<_, Option<i64>>(12)
            .map(|id| Quote::gone(MessageId(id))),
        preview: row
            .get::<_, Option<String>>(13)
            .and_then(|json| serde_json::from_str(&json).ok()),
        bot: row.get(14),
    };
    (message, Seq(row.get(11)))
}

/// Messages by a query, with their reactions and mentions, each with its
/// `created_seq`.
pub async fn messages_with_created<C: GenericClient + Sync>(
    db: &C,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<Vec<(ChatMessage, Seq)>> {
    let rows = db.query(sql, params).await?;
    let mut list: Vec<(ChatMessage, Seq)> = rows.iter().map(message_from_row).collect();
    fill_extras(db, &mut list).await?;
    Ok(list)
}

pub async fn messages<C: GenericClient + Sync>(
    db: &C,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<Vec<ChatMessage>> {
    Ok(messages_with_created(db, sql, params)
        .await?
        .into_iter()
        .map(|(m, _)| m)
        .collect())
}

pub async fn message<C: GenericClient + Sync>(db: &C, id: MessageId) -> Result<ChatMessage> {
    messages(db, &format!("{SELECT_MESSAGE} WHERE id = $1"), &[&id.0])
        .await?
        .pop()
        .ok_or(StoreError::NotFound)
}

/// Adds reactions (in the order they are offered) and mentions.
async fn fill_extras<C: GenericClient + Sync>(
    db: &C,
    list: &mut [(ChatMessage, Seq)],
) -> Result<()> {
    if list.is_empty() {
        return Ok(());
    }
    fill_quotes(
        db,
        list.iter_mut()
            .filter_map(|(m, _)| m.reply.as_mut())
            .collect(),
    )
    .await?;
    let ids: Vec<i64> = list.iter().map(|(m, _)| m.id.0).collect();
    let mut reactions: HashMap<i64, Vec<Reaction>> = HashMap::new();
    let rows = db
        .query(
            "SELECT r.message_id, r.emoji, r.user_id, u.name FROM reactions r
             JOIN users u ON u.id = r.user_id WHERE r.message_id = ANY($1)
             ORDER BY r.message_id, u.id",
            &[&ids],
        )
        .await?;
    for row in rows {
        let (message, emoji, user_id, name): (i64, String, i64, String) =
            (row.get(0), row.get(1), row.get(2), row.get(3));
        let list = reactions.entry(message).or_default();
        let reactor = Reactor {
            user_id: UserId(user_id),
            name,
        };
        match list.iter_mut().find(|r| r.emoji == emoji) {
            Some(r) => r.users.push(reactor),
            None => list.push(Reaction {
                emoji,
                users: vec![reactor],
            }),
        }
    }
    let mut mentions: HashMap<i64, Vec<UserId>> = HashMap::new();
    let rows = db
        .query(
            "SELECT message_id, user_id FROM mentions WHERE message_id = ANY($1) ORDER BY user_id",
            &[&ids],
        )
        .await?;
    for row in rows {
        mentions
            .entry(row.get(0))
            .or_default()
            .push(UserId(row.get(1)));
    }
    let rank = |emoji: &str| {
        REACTIONS
            .iter()
            .position(|e| *e == emoji)
            .unwrap_or(REACTIONS.len())
    };
    for (m, _) in list.iter_mut() {
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
pub async fn fill_quotes<C: GenericClient + Sync>(db: &C, quotes: Vec<&mut Quote>) -> Result<()> {
    if quotes.is_empty() {
        return Ok(());
    }
    let parents: Vec<i64> = quotes.iter().map(|q| q.id.0).collect();
    let found: HashMap<MessageId, Quote> = db
        .query(&format!("{SELECT_MESSAGE} WHERE id = ANY($1)"), &[&parents])
        .await?
        .iter()
        .map(|row| {
            let (m, _) = message_from_row(row);
            (m.id, Quote::of(&m))
        })
        .collect();
    for q in quotes {
        if let Some(now) = found.get(&q.id) {
            *q = now.clone();
        }
    }
    Ok(())
}
