//! Users (devices with a name) and one-time identity transfer tokens.

use super::super::Result;
use app::protocol::{DeviceId, Identity, UserId};
use tokio_postgres::{GenericClient, Row};

fn identity_from_row(row: &Row) -> Identity {
    Identity {
        user_id: UserId(row.get(0)),
        name: row.get(1),
        color: row.get(2),
    }
}

pub async fn identity<C: GenericClient + Sync>(
    db: &C,
    device: &DeviceId,
) -> Result<Option<Identity>> {
    Ok(db
        .query_opt(
            "SELECT id, name, color FROM users WHERE device_id = $1",
            &[&device.to_string()],
        )
        .await?
        .as_ref()
        .map(identity_from_row))
}

pub async fn named_at<C: GenericClient + Sync>(db: &C, device: &DeviceId) -> Result<Option<i64>> {
    Ok(db
        .query_opt(
            "SELECT created_at FROM users WHERE device_id = $1",
            &[&device.to_string()],
        )
        .await?
        .map(|r| r.get(0)))
}

pub async fn set_name<C: GenericClient + Sync>(
    db: &C,
    device: &DeviceId,
    name: &str,
    new_color: &str,
    now: i64,
) -> Result<Identity> {
    let row = db
        .query_one(
            "INSERT INTO users (device_id, name, color, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (device_id) DO UPDATE SET name = excluded.name
             RETURNING id, name, color, created_at = $4",
            &[&device.to_string(), &name, &new_color, &now],
        )
        .await?;
    let me = identity_from_row(&row);
    if row.get::<_, bool>(3) {
        mark_history_read(db, me.user_id).await?;
    }
    Ok(me)
}

/// What a room held before someone first chose a name is not unread for
/// them: a read mark at its end in every room with history. (Without a
/// mark, nothing in a room is read: rooms made later.)
pub(super) async fn mark_history_read<C: GenericClient + Sync>(db: &C, user: UserId) -> Result<()> {
    db.execute(
        "INSERT INTO read_marks (user_id, room_id, seq)
         SELECT $1, id, last_seq FROM rooms WHERE last_seq > 0 ON CONFLICT DO NOTHING",
        &[&user.0],
    )
    .await?;
    Ok(())
}

pub async fn import_user<C: GenericClient + Sync>(
    db: &C,
    device: &DeviceId,
    name: &str,
    color: &str,
    now: i64,
) -> Result<()> {
    let row = db
        .query_one(
            "INSERT INTO users (device_id, name, color, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (device_id) DO UPDATE SET name = excluded.name, color = excluded.color
             RETURNING id, created_at = $4",
            &[&device.to_string(), &name, &color, &now],
        )
        .await?;
    if row.get::<_, bool>(1) {
        mark_history_read(db, UserId(row.get(0))).await?;
    }
    Ok(())
}

pub async fn create_transfer<C: GenericClient + Sync>(
    db: &C,
    device: &DeviceId,
    token: &str,
    expires_at: i64,
) -> Result<()> {
    db.execute(
        "INSERT INTO transfer_tokens (token, device_id, expires_at) VALUES ($1, $2, $3)",
        &[&token, &device.to_string(), &expires_at],
    )
    .await?;
    Ok(())
}

pub async fn peek_transfer<C: GenericClient + Sync>(
    db: &C,
    token: &str,
    now: i64,
) -> Result<Option<DeviceId>> {
    let device: Option<String> = db
        .query_opt(
            "SELECT device_id FROM transfer_tokens WHERE token = $1 AND expires_at > $2",
            &[&token, &now],
        )
        .await?
        .map(|r| r.get(0));
    Ok(device.as_deref().and_then(DeviceId::parse))
}

/// Deletes the token (so it works once, on whichever node) and returns
/// its device; expired tokens are swept on the way.
pub async fn claim_transfer<C: GenericClient + Sync>(
    db: &C,
    token: &str,
    now: i64,
) -> Result<Option<DeviceId>> {
    db.execute(
        "DELETE FROM transfer_tokens WHERE expires_at <= $1",
        &[&now],
    )
    .await?;
    let device: Option<String> = db
        .query_opt(
            "DELETE FROM transfer_tokens WHERE token = $1 RETURNING device_id",
            &[&token],
        )
        .await?
        .map(|r| r.get(0));
    Ok(device.as_deref().and_then(DeviceId::parse))
}
