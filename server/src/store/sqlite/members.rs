//! Private and direct rooms: their members, direct conversations by
//! their set of people, rooms hidden from a list, blocked direct
//! messages, and which rooms a file was sent in.

use super::super::{Result, StoreError};
use super::rooms::{self, room_from_row, with_members, RETURNING_ROOM};
use super::users;
use app::protocol::{
    Attachment, DeviceId, Identity, MessageId, RoomId, RoomInfo, RoomKind, UserId,
};
use rusqlite::{params, Connection, OptionalExtension};

/// Every private and direct room with its member devices.
pub fn closed_rooms(db: &Connection) -> Result<Vec<(RoomId, Vec<DeviceId>)>> {
    let mut stmt = db.prepare_cached(
        "SELECT r.id, u.device_id FROM rooms r
         LEFT JOIN room_members m ON m.room_id = r.id LEFT JOIN users u ON u.id = m.user_id
         WHERE r.kind != 'open' ORDER BY r.id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, Option<String>>(1)?))
    })?;
    let mut out: Vec<(RoomId, Vec<DeviceId>)> = Vec::new();
    for row in rows {
        let (room, device) = row?;
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

/// One room's member devices, or `None` when it is open.
pub fn member_devices(db: &Connection, room: RoomId) -> Result<Option<Vec<DeviceId>>> {
    let info = rooms::room(db, &super::super::RoomKey::Id(room))?.ok_or(StoreError::NotFound)?;
    if info.kind == RoomKind::Open {
        return Ok(None);
    }
    let mut stmt = db.prepare_cached(
        "SELECT u.device_id FROM room_members m JOIN users u ON u.id = m.user_id WHERE m.room_id = ?1",
    )?;
    let list: Vec<String> = stmt
        .query_map([room.0], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(Some(
        list.iter().filter_map(|d| DeviceId::parse(d)).collect(),
    ))
}

/// The direct conversation of exactly `people` (the creator among them),
/// made if there is none; and whether it was made now.
pub fn direct(
    db: &Connection,
    creator: &DeviceId,
    people: &[UserId],
    now: i64,
) -> Result<(RoomInfo, bool)> {
    let me = users::identity(db, creator)?.ok_or(StoreError::NoIdentity)?;
    let mut ids: Vec<i64> = people.iter().map(|u| u.0).chain([me.user_id.0]).collect();
    ids.sort_unstable();
    ids.dedup();
    for id in &ids {
        let known: Option<i64> = db
            .prepare_cached("SELECT id FROM users WHERE id = ?1")?
            .query_row([id], |r| r.get(0))
            .optional()?;
        if known.is_none() {
            return Err(StoreError::NotFound);
        }
    }
    let key = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
    let found: Option<i64> = db
        .prepare_cached("SELECT id FROM rooms WHERE dm_key = ?1")?
        .query_row([&key], |r| r.get(0))
        .optional()?;
    if let Some(id) = found {
        let info =
            rooms::room(db, &super::super::RoomKey::Id(RoomId(id)))?.ok_or(StoreError::NotFound)?;
        return Ok((info, false));
    }
    let slug = format!("dm-{}", key.replace(',', "-"));
    let info = db.query_row(
        &format!(
            "INSERT INTO rooms (slug, name, name_key, kind, dm_key, created_by, created_at)
             VALUES (?1, '', ?2, 'direct', ?3, ?4, ?5) {RETURNING_ROOM}"
        ),
        params![slug, format!("dm:{key}"), key, me.user_id.0, now],
        room_from_row,
    )?;
    for id in &ids {
        add(db, info.id, UserId(*id), now)?;
    }
    // Not published here: the hub must first know who may read it.
    Ok((with_members(db, info)?, true))
}

fn add(db: &Connection, room: RoomId, user: UserId, now: i64) -> Result<()> {
    db.prepare_cached(
        "INSERT OR IGNORE INTO room_members (room_id, user_id, added_at) VALUES (?1, ?2, ?3)",
    )?
    .execute(params![room.0, user.0, now])?;
    Ok(())
}

/// Makes a room private (with `members`) or open again.
pub fn set_kind(
    db: &Connection,
    room: RoomId,
    kind: RoomKind,
    members: &[UserId],
    now: i64,
) -> Result<RoomInfo> {
    let before = rooms::writable(db, room)?;
    if before.kind == RoomKind::Direct || kind == RoomKind::Direct {
        return Err(StoreError::NotFound);
    }
    if kind == RoomKind::Private {
        for user in members {
            add(db, room, *user, now)?;
        }
    } else {
        db.prepare_cached("DELETE FROM room_members WHERE room_id = ?1")?
            .execute([room.0])?;
    }
    let info = db.query_row(
        &format!("UPDATE rooms SET kind = ?2 WHERE id = ?1 {RETURNING_ROOM}"),
        params![room.0, kind.as_str()],
        room_from_row,
    )?;
    with_members(db, info)
}

/// Adds or removes a member of a private or direct room.
pub fn set_member(
    db: &Connection,
    room: RoomId,
    user: UserId,
    member: bool,
    now: i64,
) -> Result<()> {
    let info = rooms::room(db, &super::super::RoomKey::Id(room))?.ok_or(StoreError::NotFound)?;
    if info.kind == RoomKind::Open {
        return Err(StoreError::NotFound);
    }
    if member {
        add(db, room, user, now)
    } else {
        db.prepare_cached("DELETE FROM room_members WHERE room_id = ?1 AND user_id = ?2")?
            .execute(params![room.0, user.0])?;
        db.prepare_cached("DELETE FROM hidden_rooms WHERE room_id = ?1 AND user_id = ?2")?
            .execute(params![room.0, user.0])?;
        Ok(())
    }
}

pub fn set_hidden(db: &Connection, device: &DeviceId, room: RoomId, hidden: bool) -> Result<()> {
    let me = users::identity(db, device)?.ok_or(StoreError::NoIdentity)?;
    if hidden {
        db.prepare_cached("INSERT OR IGNORE INTO hidden_rooms (user_id, room_id) VALUES (?1, ?2)")?
            .execute(params![me.user_id.0, room.0])?;
    } else {
        db.prepare_cached("DELETE FROM hidden_rooms WHERE user_id = ?1 AND room_id = ?2")?
            .execute(params![me.user_id.0, room.0])?;
    }
    Ok(())
}

/// Whether any member of `room` took it out of their list. Both lookups
/// are by primary key: a room's members, then each one's hidden mark.
const ANY_HIDDEN: &str = "SELECT EXISTS (SELECT 1 FROM room_members m \
     JOIN hidden_rooms h ON h.user_id = m.user_id AND h.room_id = m.room_id \
     WHERE m.room_id = ?1)";

pub fn any_hidden(db: &Connection, room: RoomId) -> Result<bool> {
    Ok(db
        .prepare_cached(ANY_HIDDEN)?
        .query_row([room.0], |r| r.get(0))?)
}

pub fn show_hidden(db: &Connection, room: RoomId) -> Result<bool> {
    let shown = db
        .prepare_cached(
            "DELETE FROM hidden_rooms WHERE room_id = ?1 \
             AND user_id IN (SELECT user_id FROM room_members WHERE room_id = ?1)",
        )?
        .execute([room.0])?;
    Ok(shown > 0)
}

pub fn set_dm_block(
    db: &Connection,
    device: &DeviceId,
    other: UserId,
    blocked: bool,
) -> Result<()> {
    let me = users::identity(db, device)?.ok_or(StoreError::NoIdentity)?;
    if blocked {
        db.prepare_cached("INSERT OR IGNORE INTO dm_blocks (user_id, blocked_id) VALUES (?1, ?2)")?
            .execute(params![me.user_id.0, other.0])?;
    } else {
        db.prepare_cached("DELETE FROM dm_blocks WHERE user_id = ?1 AND blocked_id = ?2")?
            .execute(params![me.user_id.0, other.0])?;
    }
    Ok(())
}

/// Those of `others` who take no direct messages from `user`.
pub fn blocking(db: &Connection, user: UserId, others: &[UserId]) -> Result<Vec<UserId>> {
    let mut stmt =
        db.prepare_cached("SELECT 1 FROM dm_blocks WHERE user_id = ?1 AND blocked_id = ?2")?;
    let mut out = Vec::new();
    for other in others {
        if stmt
            .query_row(params![other.0, user.0], |_| Ok(()))
            .optional()?
            .is_some()
        {
            out.push(*other);
        }
    }
    Ok(out)
}

/// Whom `user` takes no direct messages from.
pub fn blocked_by(db: &Connection, user: UserId) -> Result<Vec<UserId>> {
    let mut stmt = db.prepare_cached("SELECT blocked_id FROM dm_blocks WHERE user_id = ?1")?;
    let list: Vec<i64> = stmt
        .query_map([user.0], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(list.into_iter().map(UserId).collect())
}

pub fn message_room(db: &Connection, id: MessageId) -> Result<Option<RoomId>> {
    Ok(db
        .prepare_cached("SELECT room_id FROM messages WHERE id = ?1")?
        .query_row([id.0], |r| r.get(0))
        .optional()?
        .map(RoomId))
}

pub fn record_files(
    db: &Connection,
    message: MessageId,
    room: RoomId,
    file: &Attachment,
) -> Result<()> {
    let mut stmt = db.prepare_cached(
        "INSERT OR IGNORE INTO message_files (blob, message_id, room_id) VALUES (?1, ?2, ?3)",
    )?;
    stmt.execute(params![file.id, message.0, room.0])?;
    if let Some(image) = &file.image {
        stmt.execute(params![image.thumb, message.0, room.0])?;
    }
    Ok(())
}

/// The rooms a stored file was sent in.
pub fn blob_rooms(db: &Connection, blob: &str) -> Result<Vec<RoomId>> {
    let mut stmt =
        db.prepare_cached("SELECT DISTINCT room_id FROM message_files WHERE blob = ?1")?;
    let list: Vec<i64> = stmt
        .query_map([blob], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(list.into_iter().map(RoomId).collect())
}

/// Who made a room.
pub fn creator(db: &Connection, room: RoomId) -> Result<Option<UserId>> {
    Ok(db
        .prepare_cached("SELECT created_by FROM rooms WHERE id = ?1")?
        .query_row([room.0], |r| r.get::<_, Option<i64>>(0))
        .optional()?
        .flatten()
        .map(UserId))
}

/// Everyone with a name who is not blocked, by name: whom one can invite
/// into a room or write to.
pub fn known_people(db: &Connection) -> Result<Vec<Identity>> {
    let mut stmt = db.prepare_cached(
        "SELECT u.id, u.name, u.color FROM users u
         WHERE NOT EXISTS (SELECT 1 FROM members m WHERE m.device_id = u.device_id AND m.blocked_at IS NOT NULL)
         ORDER BY u.name COLLATE NOCASE, u.id LIMIT 5000",
    )?;
    let list = stmt
        .query_map([], |r| {
            Ok(Identity {
                user_id: UserId(r.get(0)?),
                name: r.get(1)?,
                color: r.get(2)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(list)
}
