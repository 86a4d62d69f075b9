//! Rooms, their seq counters, and each identity's read marks and unread
//! figures.

use super::super::{Result, RoomKey, StoreError};
use super::users;
use crate::bus::Publish;
use app::protocol::{
    DeviceId, Identity, RoomId, RoomInfo, RoomKind, RoomStatus, Seq, ServerEvent, UserId,
};
use app::validate::RoomName;
use rusqlite::{params, Connection, OptionalExtension, Row};

/// Unread and mention counts stop at this; the badge shows "99+". A
/// count reads up to this many index entries per room whenever a tab
/// connects, so the cap is its cost: at 1,000, a crowd connecting to a
/// chat with long unread history spent most of its CPU counting (bench
/// (q) after (a)).
const COUNT_CAP: i64 = 100;

pub(super) fn room_from_row(row: &Row<'_>) -> rusqlite::Result<RoomInfo> {
    Ok(RoomInfo {
        id: RoomId(row.get(0)?),
        slug: row.get(1)?,
        name: row.get(2)?,
        archived: row.get(3)?,
        kind: RoomKind::parse(&row.get::<_, String>(4)?),
        members: Vec::new(),
    })
}

pub(super) const SELECT_ROOM: &str = "SELECT id, slug, name, archived, kind FROM rooms";
pub(super) const RETURNING_ROOM: &str = "RETURNING id, slug, name, archived, kind";

/// A room's members by name (a direct conversation's people).
pub fn people(db: &Connection, room: RoomId) -> Result<Vec<Identity>> {
    let mut stmt = db.prepare_cached(
        "SELECT u.id, u.name, u.color FROM room_members m JOIN users u ON u.id = m.user_id
         WHERE m.room_id = ?1 ORDER BY u.name COLLATE NOCASE, u.id",
    )?;
    let list = stmt
        .query_map([room.0], |r| {
            Ok(Identity {
                user_id: UserId(r.get(0)?),
                name: r.get(1)?,
                color: r.get(2)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(list)
}

/// A direct conversation carries its people (they are its name).
pub(super) fn with_members(db: &Connection, mut room: RoomInfo) -> Result<RoomInfo> {
    if room.kind == RoomKind::Direct {
        room.members = people(db, room.id)?;
    }
    Ok(room)
}

pub fn room(db: &Connection, key: &RoomKey) -> Result<Option<RoomInfo>> {
    let found = match key {
        RoomKey::Id(id) => db
            .prepare_cached(&format!("{SELECT_ROOM} WHERE id = ?1"))?
            .query_row([id.0], room_from_row)
            .optional()?,
        RoomKey::Slug(slug) => db
            .prepare_cached(&format!("{SELECT_ROOM} WHERE slug = ?1"))?
            .query_row([slug], room_from_row)
            .optional()?,
    };
    found.map(|r| with_members(db, r)).transpose()
}

/// The room, which must exist and take new history.
pub fn writable(db: &Connection, id: RoomId) -> Result<RoomInfo> {
    let room = room(db, &RoomKey::Id(id))?.ok_or(StoreError::NotFound)?;
    if room.archived {
        return Err(StoreError::Archived);
    }
    Ok(room)
}

pub fn last_seq(db: &Connection, id: RoomId) -> Result<Seq> {
    db.prepare_cached("SELECT last_seq FROM rooms WHERE id = ?1")?
        .query_row([id.0], |r| r.get(0))
        .optional()?
        .map(Seq)
        .ok_or(StoreError::NotFound)
}

/// Takes the room's next seq. Inside the writer's transaction, so seqs
/// follow commit order.
pub fn next_seq(db: &Connection, id: RoomId) -> Result<Seq> {
    db.prepare_cached("UPDATE rooms SET last_seq = last_seq + 1 WHERE id = ?1 RETURNING last_seq")?
        .query_row([id.0], |r| r.get(0))
        .optional()?
        .map(Seq)
        .ok_or(StoreError::NotFound)
}

/// Each room in a user's list with the user's figures in it.
pub const STATUSES: &str = "SELECT r.id, r.slug, r.name, r.archived, r.kind,
   COALESCE((SELECT ts FROM messages WHERE room_id = r.id ORDER BY id DESC LIMIT 1), 0),
   COALESCE(rm.seq, 0),
   (SELECT COUNT(*) FROM (SELECT 1 FROM messages m
      WHERE m.room_id = r.id AND m.created_seq > COALESCE(rm.seq, 0)
        AND m.user_id != ?1 AND m.deleted = 0 LIMIT ?2)),
   (SELECT COUNT(*) FROM (SELECT 1 FROM mentions x
      WHERE x.user_id = ?1 AND x.room_id = r.id
        AND x.created_seq > COALESCE(rm.seq, 0) LIMIT ?2))
 FROM rooms r LEFT JOIN read_marks rm ON rm.user_id = ?1 AND rm.room_id = r.id
 WHERE r.archived = 0
   AND (r.kind = 'open' OR EXISTS (
       SELECT 1 FROM room_members m WHERE m.room_id = r.id AND m.user_id = ?1))
   AND NOT EXISTS (
       SELECT 1 FROM hidden_rooms h WHERE h.room_id = r.id AND h.user_id = ?1)
 ORDER BY r.id";

/// The rooms in `user`'s list (the open ones and those it is a member of,
/// not archived, not hidden by it) with its figures in each, in one
/// statement: a connecting tab asks this of every room, and one query per
/// room and figure made a crowd's connects cost rooms times five queries
/// each (bench (q)). Each figure is still an index range, as in `status`.
pub fn statuses(db: &Connection, user: Option<UserId>) -> Result<Vec<RoomStatus>> {
    // Without an identity nothing is read or counted.
    let (id, cap) = user.map_or((0, 0), |u| (u.0, COUNT_CAP));
    let rows: Vec<RoomStatus> = db
        .prepare_cached(STATUSES)?
        .query_map(params![id, cap], |row| {
            Ok(RoomStatus {
                room: room_from_row(row)?,
                last_at: row.get(5)?,
                read: Seq(row.get(6)?),
                unread: row.get::<_, i64>(7)? as u32,
                mentions: row.get::<_, i64>(8)? as u32,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    rows.into_iter()
        .map(|mut status| {
            status.room = with_members(db, status.room)?;
            Ok(status)
        })
        .collect()
}

/// Messages from others since a mark, up to the cap: an index range from
/// the mark (`messages_room_created`), whatever the room's length.
pub const UNREAD: &str = "SELECT COUNT(*) FROM (SELECT 1 FROM messages
     WHERE room_id = ?1 AND created_seq > ?2 AND user_id != ?3 AND deleted = 0 LIMIT ?4)";
/// Mentions of a user in a room since a mark, up to the cap
/// (`mentions_user_room`; a deleted message's mentions are gone with it).
pub const MENTIONS: &str = "SELECT COUNT(*) FROM (SELECT 1 FROM mentions
     WHERE user_id = ?1 AND room_id = ?2 AND created_seq > ?3 LIMIT ?4)";

/// When a room's newest message was sent: one row from the end of the
/// room's id index (`MAX(ts)` would read every message of the room, there
/// being no index on the time).
pub const LAST_AT: &str = "SELECT ts FROM messages WHERE room_id = ?1 ORDER BY id DESC LIMIT 1";

/// A user's read mark and unread figures in one room. Without a mark
/// (a room made after the user first chose a name), nothing is read.
pub fn status(db: &Connection, user: Option<UserId>, room: RoomInfo) -> Result<RoomStatus> {
    let last_at: Option<i64> = db
        .prepare_cached(LAST_AT)?
        .query_row([room.id.0], |r| r.get(0))
        .optional()?;
    let last_at = last_at.unwrap_or(0);
    let Some(user) = user else {
        return Ok(RoomStatus {
            room,
            read: Seq(0),
            unread: 0,
            mentions: 0,
            last_at,
        });
    };
    let mark: Option<i64> = db
        .prepare_cached("SELECT seq FROM read_marks WHERE user_id = ?1 AND room_id = ?2")?
        .query_row([user.0, room.id.0], |r| r.get(0))
        .optional()?;
    let read = mark.unwrap_or(0);
    let unread: i64 = db
        .prepare_cached(UNREAD)?
        .query_row(params![room.id.0, read, user.0, COUNT_CAP], |r| r.get(0))?;
    let mentions: i64 = db
        .prepare_cached(MENTIONS)?
        .query_row(params![user.0, room.id.0, read, COUNT_CAP], |r| r.get(0))?;
    Ok(RoomStatus {
        room,
        read: Seq(mark.unwrap_or(0)),
        unread: unread as u32,
        mentions: mentions as u32,
        last_at,
    })
}

fn name_taken(db: &Connection, name: &RoomName, except: Option<RoomId>) -> Result<bool> {
    let other: Option<i64> = db
        .prepare_cached("SELECT id FROM rooms WHERE name_key = ?1")?
        .query_row([name.key()], |r| r.get(0))
        .optional()?;
    Ok(other.is_some_and(|id| Some(RoomId(id)) != except))
}

/// Room actions need a named identity, like posting.
fn require_name(db: &Connection, device: &DeviceId) -> Result<UserId> {
    Ok(users::identity(db, device)?
        .ok_or(StoreError::NoIdentity)?
        .user_id)
}

pub fn create(
    db: &Connection,
    device: &DeviceId,
    name: &RoomName,
    now: i64,
    out: &mut Vec<Publish>,
) -> Result<RoomInfo> {
    let me = require_name(db, device)?;
    if name_taken(db, name, None)? {
        return Err(StoreError::NameTaken);
    }
    let base = name.slug();
    let mut slug = base.clone();
    let mut n = 2;
    while room(db, &RoomKey::Slug(slug.clone()))?.is_some() {
        slug = format!("{base}-{n}");
        n += 1;
    }
    let info = db.query_row(
        "INSERT INTO rooms (slug, name, name_key, created_by, created_at) VALUES (?1, ?2, ?3, ?4, ?5)
         RETURNING id, slug, name, archived, kind",
        params![slug, name.as_str(), name.key(), me.0, now],
        room_from_row,
    )?;
    out.push(Publish::room_info(info.clone()));
    Ok(info)
}

pub fn rename(
    db: &Connection,
    device: &DeviceId,
    id: RoomId,
    name: &RoomName,
    out: &mut Vec<Publish>,
) -> Result<RoomInfo> {
    require_name(db, device)?;
    let before = writable(db, id)?;
    if before.kind != RoomKind::Direct && name_taken(db, name, Some(id))? {
        return Err(StoreError::NameTaken);
    }
    // A direct conversation's name is its own: it takes no room name.
    let key = match before.kind {
        RoomKind::Direct => format!("dm:{}", id.0),
        _ => name.key(),
    };
    let info = db.query_row(
        &format!("UPDATE rooms SET name = ?2, name_key = ?3 WHERE id = ?1 {RETURNING_ROOM}"),
        params![id.0, name.as_str(), key],
        room_from_row,
    )?;
    let info = with_members(db, info)?;
    out.push(Publish::room_info(info.clone()));
    Ok(info)
}

pub fn archive(
    db: &Connection,
    device: &DeviceId,
    id: RoomId,
    out: &mut Vec<Publish>,
) -> Result<RoomInfo> {
    require_name(db, device)?;
    if id == RoomId::DEFAULT {
        return Err(StoreError::DefaultRoom);
    }
    writable(db, id)?;
    let info = db.query_row(
        &format!("UPDATE rooms SET archived = 1 WHERE id = ?1 {RETURNING_ROOM}"),
        [id.0],
        room_from_row,
    )?;
    let info = with_members(db, info)?;
    out.push(Publish::room_info(info.clone()));
    Ok(info)
}

pub fn mark_read(
    db: &Connection,
    device: &DeviceId,
    id: RoomId,
    seq: Seq,
    out: &mut Vec<Publish>,
) -> Result<RoomStatus> {
    let me = require_name(db, device)?;
    let info = room(db, &RoomKey::Id(id))?.ok_or(StoreError::NotFound)?;
    // Never past the room's end, never backwards.
    let seq = seq.min(last_seq(db, id)?);
    db.prepare_cached(
        "INSERT INTO read_marks (user_id, room_id, seq) VALUES (?1, ?2, ?3)
         ON CONFLICT (user_id, room_id) DO UPDATE SET seq = MAX(seq, excluded.seq)",
    )?
    .execute(params![me.0, id.0, seq.0])?;
    let status = status(db, Some(me), info)?;
    out.push(Publish::device(
        *device,
        ServerEvent::Read {
            status: status.clone(),
        },
    ));
    Ok(status)
}
