//! Users (devices with a name) and one-time identity transfer tokens.

use super::super::Result;
use app::protocol::{DeviceId, Identity, UserId};
use rusqlite::{params, Connection, OptionalExtension, Row};

fn identity_from_row(row: &Row<'_>) -> rusqlite::Result<Identity> {
    Ok(Identity {
        user_id: UserId(row.get(0)?),
        name: row.get(1)?,
        color: row.get(2)?,
    })
}

pub fn identity(db: &Connection, device: &DeviceId) -> Result<Option<Identity>> {
    let mut stmt = db.prepare_cached("SELECT id, name, color FROM users WHERE device_id = ?1")?;
    Ok(stmt
        .query_row([device.to_string()], identity_from_row)
        .optional()?)
}

pub fn named_at(db: &Connection, device: &DeviceId) -> Result<Option<i64>> {
    let mut stmt = db.prepare_cached("SELECT created_at FROM users WHERE device_id = ?1")?;
    Ok(stmt
        .query_row([device.to_string()], |r| r.get(0))
        .optional()?)
}

pub fn set_name(
    db: &Connection,
    device: &DeviceId,
    name: &str,
    new_color: &str,
    now: i64,
) -> Result<Identity> {
    let (me, first) = db.query_row(
        "INSERT INTO users (device_id, name, color, created_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (device_id) DO UPDATE SET name = excluded.name
         RETURNING id, name, color, created_at = ?4",
        params![device.to_string(), name, new_color, now],
        |r| Ok((identity_from_row(r)?, r.get::<_, bool>(3)?)),
    )?;
    if first {
        mark_history_read(db, me.user_id)?;
    }
    Ok(me)
}

/// What a room held before someone first chose a name is not unread for
/// them: a read mark at its end in every room with history. (Without a
/// mark, nothing in a room is read: rooms made later.)
pub(super) fn mark_history_read(db: &Connection, user: UserId) -> Result<()> {
    db.prepare_cached(
        "INSERT OR IGNORE INTO read_marks (user_id, room_id, seq)
         SELECT ?1, id, last_seq FROM rooms WHERE last_seq > 0",
    )?
    .execute([user.0])?;
    Ok(())
}

pub fn import_user(
    db: &Connection,
    device: &DeviceId,
    name: &str,
    color: &str,
    now: i64,
) -> Result<()> {
    let (user, first): (i64, bool) = db.query_row(
        "INSERT INTO users (device_id, name, color, created_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (device_id) DO UPDATE SET name = excluded.name, color = excluded.color
         RETURNING id, created_at = ?4",
        params![device.to_string(), name, color, now],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    if first {
        mark_history_read(db, UserId(user))?;
    }
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

pub fn peek_transfer(db: &Connection, token: &str, now: i64) -> Result<Option<DeviceId>> {
    let device: Option<String> = db
        .prepare_cached(
            "SELECT device_id FROM transfer_tokens WHERE token = ?1 AND expires_at > ?2",
        )?
        .query_row(params![token, now], |r| r.get(0))
        .optional()?;
    Ok(device.as_deref().and_then(DeviceId::parse))
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
