//! What is known about stored files and uploads.

use super::super::Result;
use super::users;
use crate::store::StoreError;
use app::protocol::{Attachment, DeviceId};
use rusqlite::{params, Connection, OptionalExtension};

pub fn record_blob(
    db: &Connection,
    id: &str,
    mime: &str,
    size: u64,
    inline: bool,
    now: i64,
) -> Result<()> {
    db.prepare_cached(
        "INSERT OR IGNORE INTO blobs (id, mime, size, inline, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![id, mime, size as i64, inline, now])?;
    Ok(())
}

pub fn blob(db: &Connection, id: &str) -> Result<Option<(String, bool)>> {
    Ok(db
        .prepare_cached("SELECT mime, inline FROM blobs WHERE id = ?1")?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?)
}

/// Forgets uploads older than `upload_before` that were never sent, and
/// the blobs (recorded before `blob_before`) that no message and no
/// upload refers to; returns those blobs' ids, for their files to go.
pub fn sweep_blobs(db: &Connection, upload_before: i64, blob_before: i64) -> Result<Vec<String>> {
    db.prepare_cached("DELETE FROM uploads WHERE created_at < ?1")?
        .execute([upload_before])?;
    let ids: Vec<String> = db
        .prepare_cached(
            "SELECT id FROM blobs WHERE created_at < ?1 AND id NOT IN (
                 SELECT json_extract(attachment, '$.id') FROM messages
                     WHERE attachment IS NOT NULL
                 UNION SELECT json_extract(attachment, '$.image.thumb') FROM messages
                     WHERE attachment IS NOT NULL
                 UNION SELECT json_extract(attachment, '$.id') FROM uploads
                 UNION SELECT json_extract(attachment, '$.image.thumb') FROM uploads
                 UNION SELECT json_extract(preview, '$.image.id') FROM messages
                     WHERE preview IS NOT NULL)",
        )?
        .query_map([blob_before], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for id in &ids {
        db.prepare_cached("DELETE FROM blobs WHERE id = ?1")?
            .execute([id])?;
    }
    Ok(ids)
}

pub fn stored_bytes(db: &Connection) -> Result<u64> {
    let total: i64 = db.query_row("SELECT COALESCE(SUM(size), 0) FROM blobs", [], |r| r.get(0))?;
    Ok(total.max(0) as u64)
}

pub fn create_upload(
    db: &Connection,
    device: &DeviceId,
    attachment: &Attachment,
    now: i64,
) -> Result<String> {
    let me = users::identity(db, device)?.ok_or(StoreError::NoIdentity)?;
    let id = uuid::Uuid::new_v4().simple().to_string();
    let json = serde_json::to_string(attachment).map_err(|e| StoreError::Open(e.to_string()))?;
    db.prepare_cached(
        "INSERT INTO uploads (id, user_id, attachment, created_at) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![id, me.user_id.0, json, now])?;
    Ok(id)
}

pub fn upload(db: &Connection, device: &DeviceId, id: &str) -> Result<Option<Attachment>> {
    let Some(me) = users::identity(db, device)? else {
        return Ok(None);
    };
    let json: Option<String> = db
        .prepare_cached("SELECT attachment FROM uploads WHERE id = ?1 AND user_id = ?2")?
        .query_row(params![id, me.user_id.0], |r| r.get(0))
        .optional()?;
    Ok(json.and_then(|j| serde_json::from_str(&j).ok()))
}
