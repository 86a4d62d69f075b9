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
    Ok(db.query_row(
        "INSERT INTO users (device_id, name, color, created_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (device_id) DO UPDATE SET name = excluded.name
         RETURNING id, name, color",
        params![device.to_string(), name, new_color, now],
        identity_from_row,
    )?)
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
