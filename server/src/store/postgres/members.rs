//! Private and direct rooms, in the shared mode (see the SQLite store's
//! `members.rs`, which this mirrors).

use super::super::{Result, RoomKey, StoreError};
use super::rooms::{self, identity, room_from_row, with_members, RETURNING_ROOM};
use super::users;
use app::protocol::{
    Attachment, DeviceId, Identity, MessageId, RoomId, RoomInfo, RoomKind, UserId,
};
use tokio_postgres::GenericClient;

/// Tells every node, at the commit and in order with the room's messages,
/// to reread who may read `room` (see the listener in `feed.rs`).
async fn notify_members<C: GenericClient + Sync>(tx: &C, room: RoomId) -> Result<()> {
    if let Some(json) = crate::bus::wire::payload(&crate::bus::Shared::Members(room)) {
        tx.execute(
            "SELECT pg_notify($1, $2)",
            &[&super::feed::EVENT_CHANNEL, &json],
        )
        .await?;
    }
    Ok(())
}

pub async fn closed_rooms<C: GenericClient + Sync>(db: &C) -> Result<Vec<(RoomId, Vec<DeviceId>)>> {
    let rows = db
        .query(
            "SELECT r.id, u.device_id FROM rooms r
             LEFT JOIN room_members m ON m.room_id = r.id LEFT JOIN users u ON u.id = m.user_id
             WHERE r.kind != 'open' ORDER BY r.id",
            &[],
        )
        .await?;
    let mut out: Vec<(RoomId, Vec<DeviceId>)> = Vec::new();
    for row in rows {
        let room: i64 = row.get(0);
        let device: Option<String> = row.get(1);
        if out.last().is_none_or(|(r, _)| r.0 != room) {
            out.push((RoomId(room), Vec::new()));
        }
        if let (Some(last), Some(device)) =
            (out.last_mut(), device.as_deref().and_then(DeviceId::parse))
        {
            last.1.push(device);
        }
    }
    Ok(out)
}

pub async fn member_devices<C: GenericClient + Sync>(
    db: &C,
    room: RoomId,
) -> Result<Option<Vec<DeviceId>>> {
    let info = rooms::room(db, &RoomKey::Id(room))
        .await?
        .ok_or(StoreError::NotFound)?;
    if info.kind == RoomKind::Open {
        return Ok(None);
    }
    let rows = db
        .query(
            "SELECT u.device_id FROM room_members m JOIN users u ON u.id = m.user_id WHERE m.room_id = $1",
            &[&room.0],
        )
        .await?;
    Ok(Some(
        rows.iter()
            .filter_map(|r| DeviceId::parse(r.get::<_, &str>(0)))
            .collect(),
    ))
}

/// The direct conversation of exactly `people` (the creator among them),
/// made if there is none; and whether it was made now. In one
/// transaction, so two nodes making the same one at once end with one.
pub async fn direct(
    db: &mut deadpool_postgres::Object,
    creator: &DeviceId,
    people: &[UserId],
    now: i64,
) -> Result<(RoomInfo, bool)> {
    let tx = db.transaction().await?;
    let me = users::identity(&*tx, creator)
        .await?
        .ok_or(StoreError::NoIdentity)?;
    let mut ids: Vec<i64> = people.iter().map(|u| u.0).chain([me.user_id.0]).collect();
    ids.sort_unstable();
    ids.dedup();
    let known: i64 = tx
        .query_one("SELECT COUNT(*) FROM users WHERE id = ANY($1)", &[&ids])
        .await?
        .get(0);
    if known != ids.len() as i64 {
        return Err(StoreError::NotFound);
    }
    let key = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
    let slug = format!("dm-{}", key.replace(',', "-"));
    let made = tx
        .query_opt(
            &format!(
                "INSERT INTO rooms (slug, name, name_key, kind, dm_key, created_by, created_at)
                 VALUES ($1, '', $2, 'direct', $3, $4, $5) ON CONFLICT DO NOTHING {RETURNING_ROOM}"
            ),
            &[&slug, &format!("dm:{key}"), &key, &me.user_id.0, &now],
        )
        .await?;
    let (info, fresh) = match made {
        Some(row) => {
            let info = room_from_row(&row);
            for id in &ids {
                tx.execute(
                    "INSERT INTO room_members (room_id, user_id, added_at) VALUES ($1, $2, $3)
                     ON CONFLICT DO NOTHING",
                    &[&info.id.0, id, &now],
                )
                .await?;
            }
            notify_members(&*tx, info.id).await?;
            (info, true)
        }
        None => {
            let row = tx
                .query_one(
                    &format!("{} WHERE dm_key = $1", rooms::SELECT_ROOM),
                    &[&key],
                )
                .await?;
            (room_from_row(&row), false)
        }
    };
    let info = with_members(&*tx, info).await?;
    tx.commit().await?;
    Ok((info, fresh))
}

pub async fn set_kind(
    db: &mut deadpool_postgres::Object,
    room: RoomId,
    kind: RoomKind,
    members: &[UserId],
    now: i64,
) -> Result<RoomInfo> {
    let tx = db.transaction().await?;
    let before = rooms::room(&*tx, &RoomKey::Id(room))
        .await?
        .ok_or(StoreError::NotFound)?;
    if before.archived {
        return Err(StoreError::Archived);
    }
    if before.kind == RoomKind::Direct || kind == RoomKind::Direct {
        return Err(StoreError::NotFound);
    }
    if kind == RoomKind::Private {
        for user in members {
            tx.execute(
                "INSERT INTO room_members (room_id, user_id, added_at) VALUES ($1, $2, $3)
                 ON CONFLICT DO NOTHING",
                &[&room.0, &user.0, &now],
            )
            .await?;
        }
    } else {
        tx.execute("DELETE FROM room_members WHERE room_id = $1", &[&room.0])
            .await?;
    }
    let row = tx
        .query_one(
            &format!("UPDATE rooms SET kind = $2 WHERE id = $1 {RETURNING_ROOM}"),
            &[&room.0, &kind.as_str()],
        )
        .await?;
    notify_members(&*tx, room).await?;
    let info = with_members(&*tx, room_from_row(&row)).await?;
    tx.commit().await?;
    Ok(info)
}

pub async fn set_member(
    db: &mut deadpool_postgres::Object,
    room: RoomId,
    user: UserId,
    member: bool,
    now: i64,
) -> Result<()> {
    let tx = db.transaction().await?;
    let info = rooms::room(&*tx, &RoomKey::Id(room))
        .await?
        .ok_or(StoreError::NotFound)?;
    if info.kind == RoomKind::Open {
        return Err(StoreError::NotFound);
    }
    if member {
        tx.execute(
            "INSERT INTO room_members (room_id, user_id, added_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            &[&room.0, &user.0, &now],
        )
        .await?;
    } else {
        tx.execute(
            "DELETE FROM room_members WHERE room_id = $1 AND user_id = $2",
            &[&room.0, &user.0],
        )
        .await?;
        tx.execute(
            "DELETE FROM hidden_rooms WHERE room_id = $1 AND user_id = $2",
            &[&room.0, &user.0],
        )
        .await?;
    }
    notify_members(&*tx, room).await?;
    tx.commit().await?;
    Ok(())
}

pub async fn set_hidden<C: GenericClient + Sync>(
    db: &C,
    device: &DeviceId,
    room: RoomId,
    hidden: bool,
) -> Result<()> {
    let me = users::identity(db, device)
        .await?
        .ok_or(StoreError::NoIdentity)?;
    let sql = match hidden {
        true => {
            "INSERT INTO hidden_rooms (user_id, room_id) VALUES ($1, $2) ON CONFLICT DO NOTHING"
        }
        false => "DELETE FROM hidden_rooms WHERE user_id = $1 AND room_id = $2",
    };
    db.execute(sql, &[&me.user_id.0, &room.0]).await?;
    Ok(())
}

pub async fn show_hidden<C: GenericClient + Sync>(db: &C, room: RoomId) -> Result<bool> {
    let shown = db
        .execute(
            "DELETE FROM hidden_rooms WHERE room_id = $1 \
             AND user_id IN (SELECT user_id FROM room_members WHERE room_id = $1)",
            &[&room.0],
        )
        .await?;
    Ok(shown > 0)
}

pub async fn set_dm_block<C: GenericClient + Sync>(
    db: &C,
    device: &DeviceId,
    other: UserId,
    blocked: bool,
) -> Result<()> {
    let me = users::identity(db, device)
        .await?
        .ok_or(StoreError::NoIdentity)?;
    let sql = match blocked {
        true => {
            "INSERT INTO dm_blocks (user_id, blocked_id) VALUES ($1, $2) ON CONFLICT DO NOTHING"
        }
        false => "DELETE FROM dm_blocks WHERE user_id = $1 AND blocked_id = $2",
    };
    db.execute(sql, &[&me.user_id.0, &other.0]).await?;
    Ok(())
}

pub async fn blocking<C: GenericClient + Sync>(
    db: &C,
    user: UserId,
    others: &[UserId],
) -> Result<Vec<UserId>> {
    let others: Vec<i64> = others.iter().map(|u| u.0).collect();
    Ok(db
        .query(
            "SELECT user_id FROM dm_blocks WHERE blocked_id = $1 AND user_id = ANY($2)",
            &[&user.0, &others],
        )
        .await?
        .iter()
        .map(|r| UserId(r.get(0)))
        .collect())
}

pub async fn blocked_by<C: GenericClient + Sync>(db: &C, user: UserId) -> Result<Vec<UserId>> {
    Ok(db
        .query(
            "SELECT blocked_id FROM dm_blocks WHERE user_id = $1",
            &[&user.0],
        )
        .await?
        .iter()
        .map(|r| UserId(r.get(0)))
        .collect())
}

pub async fn message_room<C: GenericClient + Sync>(
    db: &C,
    id: MessageId,
) -> Result<Option<RoomId>> {
    Ok(db
        .query_opt("SELECT room_id FROM messages WHERE id = $1", &[&id.0])
        .await?
        .map(|r| RoomId(r.get(0))))
}

pub async fn record_files<C: GenericClient + Sync>(
    db: &C,
    message: MessageId,
    room: RoomId,
    file: &Attachment,
) -> Result<()> {
    let sql = "INSERT INTO message_files (blob, message_id, room_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING";
    db.execute(sql, &[&file.id, &message.0, &room.0]).await?;
    if let Some(image) = &file.image {
        db.execute(sql, &[&image.thumb, &message.0, &room.0])
            .await?;
    }
    Ok(())
}

pub async fn blob_rooms<C: GenericClient + Sync>(db: &C, blob: &str) -> Result<Vec<RoomId>> {
    Ok(db
        .query(
            "SELECT DISTINCT room_id FROM message_files WHERE blob = $1",
            &[&blob],
        )
        .await?
        .iter()
        .map(|r| RoomId(r.get(0)))
        .collect())
}

pub async fn creator<C: GenericClient + Sync>(db: &C, room: RoomId) -> Result<Option<UserId>> {
    Ok(db
        .query_opt("SELECT created_by FROM rooms WHERE id = $1", &[&room.0])
        .await?
        .and_then(|r| r.get::<_, Option<i64>>(0))
        .map(UserId))
}

pub async fn known_people<C: GenericClient + Sync>(db: &C) -> Result<Vec<Identity>> {
    Ok(db
        .query(
            "SELECT u.id, u.name, u.color FROM users u
             WHERE NOT EXISTS (SELECT 1 FROM members m WHERE m.device_id = u.device_id AND m.blocked_at IS NOT NULL)
             ORDER BY lower(u.name), u.id LIMIT 5000",
            &[],
        )
        .await?
        .iter()
        .map(identity)
        .collect())
}
