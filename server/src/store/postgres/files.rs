//! Stored files, uploads, and Web Push subscriptions.

use super::super::{PushState, Result, StoreError, StoredPush};
use super::users;
use app::api::PushMode;
use app::protocol::{Attachment, DeviceId, RoomId, UserId};
use tokio_postgres::GenericClient;

/// The row of `push_modes` holding a device's default.
const DEFAULT_ROOM: i64 = 0;

pub async fn record_blob<C: GenericClient + Sync>(
    db: &C,
    id: &str,
    mime: &str,
    size: u64,
    inline: bool,
    now: i64,
) -> Result<()> {
    db.execute(
        "INSERT INTO blobs (id, mime, size, inline, created_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT DO NOTHING",
        &[&id, &mime, &(size as i64), &inline, &now],
    )
    .await?;
    Ok(())
}

pub async fn blob<C: GenericClient + Sync>(db: &C, id: &str) -> Result<Option<(String, bool)>> {
    Ok(db
        .query_opt("SELECT mime, inline FROM blobs WHERE id = $1", &[&id])
        .await?
        .map(|r| (r.get(0), r.get(1))))
}

pub async fn sweep_blobs<C: GenericClient + Sync>(
    db: &C,
    upload_before: i64,
    blob_before: i64,
) -> Result<Vec<String>> {
    db.execute(
        "DELETE FROM uploads WHERE created_at < $1",
        &[&upload_before],
    )
    .await?;
    Ok(db
        .query(
            "DELETE FROM blobs WHERE created_at < $1 AND id NOT IN (
                 SELECT attachment::jsonb->>'id' FROM messages WHERE attachment IS NOT NULL
                 UNION SELECT attachment::jsonb#>>'{image,thumb}' FROM messages
                     WHERE attachment IS NOT NULL AND attachment::jsonb#>>'{image,thumb}' IS NOT NULL
                 UNION SELECT attachment::jsonb->>'id' FROM uploads
                 UNION SELECT attachment::jsonb#>>'{image,thumb}' FROM uploads
                     WHERE attachment::jsonb#>>'{image,thumb}' IS NOT NULL
                 UNION SELECT preview::jsonb#>>'{image,id}' FROM messages
                     WHERE preview::jsonb#>>'{image,id}' IS NOT NULL)
             RETURNING id",
            &[&blob_before],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

pub async fn stored_bytes<C: GenericClient + Sync>(db: &C) -> Result<u64> {
    let total: i64 = db
        .query_one("SELECT COALESCE(SUM(size), 0)::BIGINT FROM blobs", &[])
        .await?
        .get(0);
    Ok(total.max(0) as u64)
}

pub async fn create_upload<C: GenericClient + Sync>(
    db: &C,
    device: &DeviceId,
    attachment: &Attachment,
    now: i64,
) -> Result<String> {
    let me = users::identity(db, device)
        .await?
        .ok_or(StoreError::NoIdentity)?;
    let id = uuid::Uuid::new_v4().simple().to_string();
    let json = serde_json::to_string(attachment).map_err(|e| StoreError::Open(e.to_string()))?;
    db.execute(
        "INSERT INTO uploads (id, user_id, attachment, created_at) VALUES ($1, $2, $3, $4)",
        &[&id, &me.user_id.0, &json, &now],
    )
    .await?;
    Ok(id)
}

pub async fn upload<C: GenericClient + Sync>(
    db: &C,
    device: &DeviceId,
    id: &str,
) -> Result<Option<Attachment>> {
    let Some(me) = users::identity(db, device).await? else {
        return Ok(None);
    };
    let json: Option<String> = db
        .query_opt(
            "SELECT attachment FROM uploads WHERE id = $1 AND user_id = $2",
            &[&id, &me.user_id.0],
        )
        .await?
        .map(|r| r.get(0));
    Ok(json.and_then(|j| serde_json::from_str(&j).ok()))
}

pub async fn push_state<C: GenericClient + Sync>(db: &C) -> Result<PushState> {
    let subscriptions = db
        .query(
            "SELECT p.endpoint, p.device_id, u.id, p.p256dh, p.auth
             FROM push_subscriptions p JOIN users u ON u.device_id = p.device_id",
            &[],
        )
        .await?
        .iter()
        .filter_map(|r| {
            Some(StoredPush {
                endpoint: r.get(0),
                device: DeviceId::parse(r.get(1))?,
                user: UserId(r.get(2)),
                p256dh: r.get(3),
                auth: r.get(4),
            })
        })
        .collect();
    let modes = db
        .query("SELECT device_id, room_id, mode FROM push_modes", &[])
        .await?
        .iter()
        .filter_map(|r| {
            let room: i64 = r.get(1);
            let room = (room != DEFAULT_ROOM).then_some(RoomId(room));
            Some((DeviceId::parse(r.get(0))?, room, PushMode::parse(r.get(2))?))
        })
        .collect();
    Ok(PushState {
        subscriptions,
        modes,
    })
}

pub async fn save_push<C: GenericClient + Sync>(
    db: &C,
    device: &DeviceId,
    endpoint: &str,
    p256dh: &str,
    auth: &str,
    now: i64,
) -> Result<()> {
    db.execute(
        "INSERT INTO push_subscriptions (endpoint, device_id, p256dh, auth, created_at)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (endpoint) DO UPDATE
         SET device_id = excluded.device_id, p256dh = excluded.p256dh, auth = excluded.auth",
        &[&endpoint, &device.to_string(), &p256dh, &auth, &now],
    )
    .await?;
    Ok(())
}

pub async fn delete_push<C: GenericClient + Sync>(
    db: &C,
    endpoint: &str,
    device: Option<&DeviceId>,
) -> Result<bool> {
    let deleted = match device {
        Some(device) => {
            db.execute(
                "DELETE FROM push_subscriptions WHERE endpoint = $1 AND device_id = $2",
                &[&endpoint, &device.to_string()],
            )
            .await?
        }
        None => {
            db.execute(
                "DELETE FROM push_subscriptions WHERE endpoint = $1",
                &[&endpoint],
            )
            .await?
        }
    };
    Ok(deleted > 0)
}

pub async fn set_push_mode<C: GenericClient + Sync>(
    db: &C,
    device: &DeviceId,
    room: Option<RoomId>,
    mode: Option<PushMode>,
) -> Result<()> {
    let room = room.map_or(DEFAULT_ROOM, |r| r.0);
    match mode {
        Some(mode) => {
            db.execute(
                "INSERT INTO push_modes (device_id, room_id, mode) VALUES ($1, $2, $3)
                 ON CONFLICT (device_id, room_id) DO UPDATE SET mode = excluded.mode",
                &[&device.to_string(), &room, &mode.as_str()],
            )
            .await?
        }
        None => {
            db.execute(
                "DELETE FROM push_modes WHERE device_id = $1 AND room_id = $2",
                &[&device.to_string(), &room],
            )
            .await?
        }
    };
    Ok(())
}
