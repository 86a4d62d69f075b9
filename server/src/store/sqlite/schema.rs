//! The SQLite schema, its migrations, connection settings and the queries
//! both the writer and the readers run.

use super::super::{NewPost, Posted, Result, StoreError};
use app::protocol::{ChatMessage, DeviceId, Identity, MessageId, UserId};
use rusqlite::{params, Connection, OptionalExtension, Row};

/// Schema steps, applied in order; `PRAGMA user_version` records progress.
const MIGRATIONS: &[&str] = &[
    include_str!("../../../migrations/0001_init.sql"),
    include_str!("../../../migrations/0002_transfer.sql"),
];

const SELECT_MESSAGE: &str = "SELECT id, user_id, user_name, color, body, ts FROM messages";

pub fn configure(db: &Connection) -> Result<()> {
    // FULL: a message is acknowledged only once it would survive power
    // loss. Group commit makes that affordable: one fsync per batch.
    db.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = ON;
         PRAGMA busy_timeout = 5000;",
    )?;
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

fn identity_from_row(row: &Row<'_>) -> rusqlite::Result<Identity> {
    Ok(Identity {
        user_id: UserId(row.get(0)?),
        name: row.get(1)?,
        color: row.get(2)?,
    })
}

fn message_from_row(row: &Row<'_>) -> rusqlite::Result<ChatMessage> {
    Ok(ChatMessage {
        id: MessageId(row.get(0)?),
        user_id: UserId(row.get(1)?),
        user_name: row.get(2)?,
        color: row.get(3)?,
        msg: row.get(4)?,
        ts: row.get(5)?,
    })
}

pub fn identity(db: &Connection, device: &DeviceId) -> Result<Option<Identity>> {
    let mut stmt = db.prepare_cached("SELECT id, name, color FROM users WHERE device_id = ?1")?;
    Ok(stmt
        .query_row([device.to_string()], identity_from_row)
        .optional()?)
}

pub fn set_name(
    db: &Connection,
    device: &DeviceId,
    name: &str,
    new_color: &str,
    now: i64,
) -> Result<Identity> {
    Ok(db.query_row(
        "INSERT INTO users (device_id, name, color, created_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (device_id) DO UPDATE SET name = excluded.name
         RETURNING id, name, color",
        params![device.to_string(), name, new_color, now],
        identity_from_row,
    )?)
}

/// Stores a message unless this user already stored this client id (a
/// resend, perhaps earlier in the same transaction).
pub fn post(db: &Connection, post: &NewPost) -> Result<Posted> {
    let me = identity(db, &post.device)?.ok_or(StoreError::NoIdentity)?;
    let client = post.client_id.0.to_string();
    let existing = db
        .prepare_cached(&format!(
            "{SELECT_MESSAGE} WHERE user_id = ?1 AND client_id = ?2"
        ))?
        .query_row(params![me.user_id.0, client], message_from_row)
        .optional()?;
    if let Some(message) = existing {
        return Ok(Posted {
            message,
            fresh: false,
        });
    }
    let message = db
        .prepare_cached(
            "INSERT INTO messages (user_id, client_id, user_name, color, body, ts)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             RETURNING id, user_id, user_name, color, body, ts",
        )?
        .query_row(
            params![
                me.user_id.0,
                client,
                me.name,
                me.color,
                post.text.as_str(),
                post.ts
            ],
            message_from_row,
        )?;
    Ok(Posted {
        message,
        fresh: true,
    })
}

pub fn page_before(
    db: &Connection,
    before: Option<MessageId>,
    limit: u32,
) -> Result<Vec<ChatMessage>> {
    let mut stmt = db.prepare_cached(&format!(
        "SELECT * FROM ({SELECT_MESSAGE} WHERE id < ?1 ORDER BY id DESC LIMIT ?2) ORDER BY id"
    ))?;
    let before = before.map_or(i64::MAX, |id| id.0);
    let rows = stmt.query_map(params![before, limit], message_from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn page_after(db: &Connection, after: MessageId, limit: u32) -> Result<Vec<ChatMessage>> {
    let mut stmt = db.prepare_cached(&format!(
        "{SELECT_MESSAGE} WHERE id > ?1 ORDER BY id LIMIT ?2"
    ))?;
    let rows = stmt.query_map(params![after.0, limit], message_from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn import_user(
    db: &Connection,
    device: &DeviceId,
    name: &str,
    color: &str,
    now: i64,
) -> Result<()> {
    db.execute(
        "INSERT INTO users (device_id, name, color, created_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (device_id) DO UPDATE SET name = excluded.name, color = excluded.color",
        params![device.to_string(), name, color, now],
    )?;
    Ok(())
}

pub fn create_transfer(
    db: &Connection,
    device: &DeviceId,
    token: &str,
    expires_at: i64,
) -> Result<()> {
    db.execute(
        "INSERT INTO transfer_tokens (token, device_id, expires_at) VALUES (?1, ?2, ?3)",
        params![token, device.to_string(), expires_at],
    )?;
    Ok(())
}

/// Deletes the token (so it works once) and returns its device; expired
/// tokens are swept on the way.
pub fn claim_transfer(db: &Connection, token: &str, now: i64) -> Result<Option<DeviceId>> {
    db.execute("DELETE FROM transfer_tokens WHERE expires_at <= ?1", [now])?;
    let device: Option<String> = db
        .query_row(
            "DELETE FROM transfer_tokens WHERE token = ?1 RETURNING device_id",
            [token],
            |r| r.get(0),
        )
        .optional()?;
    Ok(device.as_deref().and_then(DeviceId::parse))
}
