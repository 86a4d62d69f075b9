//! Rooms, their seq cursors (bumped under the room's row lock, announced
//! with `NOTIFY` at commit), and read marks.

use super::super::{Result, RoomKey, StoreError};
use super::users;
use app::protocol::{DeviceId, Identity, RoomId, RoomInfo, RoomKind, RoomStatus, Seq, UserId};
use app::validate::RoomName;
use tokio_postgres::{GenericClient, Row};

/// When a room's newest message was sent (see the SQLite store's).
/// A room's newest time: the newest id from `messages_room_id` alone (an
/// index-only scan), then that row. Asked for the row directly, the
/// planner's generic plan walks the primary key backwards filtering on
/// the room, which reads every later message of the chat: all of them
/// for a quiet room (409 ms at a million messages).
pub const LAST_AT: &str = "SELECT ts FROM messages WHERE id =
     (SELECT id FROM messages WHERE room_id = $1 ORDER BY id DESC LIMIT 1)";

/// Unread and mention counts stop at this; the badge shows "99+". A
/// count reads up to this many index entries per room whenever a tab
/// connects, so the cap is its cost: at 1,000, a crowd connecting to a
/// chat with long unread history spent most of its CPU counting (bench
/// (q) after (a)).
const COUNT_CAP: i64 = 100;
/// The channel a commit that changed a room announces on: `room:seq`.
pub const SEQ_CHANNEL: &str = "chat_seq";

pub(super) const SELECT_ROOM: &str = "SELECT id, slug, name, archived, kind FROM rooms";
pub(super) const RETURNING_ROOM: &str = "RETURNING id, slug, name, archived, kind";

pub(super) fn room_from_row(row: &Row) -> RoomInfo {
    RoomInfo {
        id: RoomId(row.get(0)),
        slug: row.get(1),
        name: row.get(2),
        archived: row.get(3),
        kind: RoomKind::parse(row.get::<_, &str>(4)),
        members: Vec::new(),
    }
}

pub(super) fn identity(r: &Row) -> Identity {
    Identity {
        user_id: UserId(r.get(0)),
        name: r.get(1),
        color: r.get(2),
    }
}

/// A room's members by name (a direct conversation's people).
pub async fn people<C: GenericClient + Sync>(db: &C, room: RoomId) -> Result<Vec<Identity>> {
    Ok(db
        .query(
            "SELECT u.id, u.name, u.color FROM room_members m JOIN users u ON u.id = m.user_id
             WHERE m.room_id = $1 ORDER BY lower(u.name), u.id",
            &[&room.0],
        )
        .await?
        .iter()
        .map(identity)
        .collect())
}

/// A direct conversation carries its people (they are its name).
pub(super) async fn with_members<C: GenericClient + Sync>(
    db: &C,
    mut room: RoomInfo,
) -> Result<RoomInfo> {
    if room.kind == RoomKind::Direct {
        room.members = people(db, room.id).await?;
    }
    Ok(room)
}

pub async fn room<C: GenericClient + Sync>(db: &C, key: &RoomKey) -> Result<Option<RoomInfo>> {
    let row = match key {
        RoomKey::Id(id) => {
            db.query_opt(&format!("{SELECT_ROOM} WHERE id = $1"), &[&id.0])
                .await?
        }
        RoomKey::Slug(slug) => {
            db.query_opt(&format!("{SELECT_ROOM} WHERE slug = $1"), &[slug])
                .await?
        }
    };
    match row.as_ref().map(room_from_row) {
        Some(info) => Ok(Some(with_members(db, info).await?)),
        None => Ok(None),
    }
}

/// Locks a room that takes new history until the transaction ends; its
/// last seq.
pub async fn lock<C: GenericClient + Sync>(db: &C, room: RoomId) -> Result<Seq> {
    let row = db
        .query_opt(
            "SELECT last_seq, archived FROM rooms WHERE id = $1 FOR UPDATE",
            &[&room.0],
        )
        .await?
        .ok_or(StoreError::NotFound)?;
    if row.get::<_, bool>(1) {
        return Err(StoreError::Archived);
    }
    Ok(Seq(row.get(0)))
}

/// Moves a locked room's cursor to `seq` and wakes every node's listener
/// once the transaction commits.
pub async fn advance<C: GenericClient + Sync>(db: &C, room: RoomId, seq: Seq) -> Result<()> {
    db.execute(ADVANCE, &advance_params(room, seq).as_params())
        .await?;
    Ok(())
}

/// Moves the cursor and notifies in one round trip.
pub const ADVANCE: &str =
    "WITH moved AS (UPDATE rooms SET last_seq = $2 WHERE id = $1) SELECT pg_notify($3, $4)";

pub struct AdvanceParams(i64, i64, &'static str, String);

pub fn advance_params(room: RoomId, seq: Seq) -> AdvanceParams {
    AdvanceParams(room.0, seq.0, SEQ_CHANNEL, format!("{}:{}", room.0, seq.0))
}

impl AdvanceParams {
    pub fn as_params(&self) -> [&(dyn tokio_postgres::types::ToSql + Sync); 4] {
        [&self.0, &self.1, &self.2, &self.3]
    }
}

pub async fn last_seq<C: GenericClient + Sync>(db: &C, room: RoomId) -> Result<Seq> {
    db.query_opt("SELECT last_seq FROM rooms WHERE id = $1", &[&room.0])
        .await?
        .map(|r| Seq(r.get(0)))
        .ok_or(StoreError::NotFound)
}

/// Every room's cursor.
pub async fn cursors<C: GenericClient + Sync>(db: &C) -> Result<Vec<(RoomId, Seq)>> {
    Ok(db
        .query("SELECT id, last_seq FROM rooms", &[])
        .await?
        .iter()
        .map(|r| (RoomId(r.get(0)), Seq(r.get(1))))
        .collect())
}

pub async fn statuses<C: GenericClient + Sync>(
    db: &C,
    user: Option<UserId>,
) -> Result<Vec<RoomStatus>> {
    // One statement for every room: a connecting tab asks this, and four
    // round trips per room made a crowd's connects slow (see SQLite's).
    // Without an identity nothing is read or counted.
    let (id, cap) = user.map_or((0, 0), |u| (u.0, COUNT_CAP));
    let rows = db.query(STATUSES, &[&id, &cap]).await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let room = with_members(db, room_from_row(&row)).await?;
        out.push(RoomStatus {
            room,
            last_at: row.get(5),
            read: Seq(row.get(6)),
            unread: row.get::<_, i64>(7) as u32,
            mentions: row.get::<_, i64>(8) as u32,
        });
    }
    Ok(out)
}

/// Each room in a user's list (open or a member's, not archived, not
/// hidden by it) with the user's figures in it, each an index range as in
/// `status`.
pub const STATUSES: &str = "SELECT r.id, r.slug, r.name, r.archived, r.kind,
   COALESCE((SELECT ts FROM messages WHERE id =
      (SELECT id FROM messages WHERE room_id = r.id ORDER BY id DESC LIMIT 1)), 0),
   COALESCE(rm.seq, 0),
   (SELECT COUNT(*) FROM (SELECT 1 FROM messages m
      WHERE m.room_id = r.id AND m.created_seq > COALESCE(rm.seq, 0)
        AND m.user_id != $1 AND m.deleted = 0 LIMIT $2) t),
   (SELECT COUNT(*) FROM (SELECT 1 FROM mentions x
      WHERE x.user_id = $1 AND x.room_id = r.id
        AND x.created_seq > COALESCE(rm.seq, 0) LIMIT $2) t)
 FROM rooms r LEFT JOIN read_marks rm ON rm.user_id = $1 AND rm.room_id = r.id
 WHERE NOT r.archived
   AND (r.kind = 'open' OR EXISTS (
       SELECT 1 FROM room_members m WHERE m.room_id = r.id AND m.user_id = $1))
   AND NOT EXISTS (
       SELECT 1 FROM hidden_rooms h WHERE h.room_id = r.id AND h.user_id = $1)
 ORDER BY r.id";

/// Messages from others since a mark, up to the cap: an index range from
/// the mark (`messages_room_created`), whatever the room's length.
pub const UNREAD: &str = "SELECT COUNT(*) FROM (SELECT 1 FROM messages
     WHERE room_id = $1 AND created_seq > $2 AND user_id != $3 AND deleted = 0 LIMIT $4) t";
/// Mentions of a user in a room since a mark, up to the cap
/// (`mentions_user_room`; a deleted message's mentions are gone with it).
pub const MENTIONS: &str = "SELECT COUNT(*) FROM (SELECT 1 FROM mentions
     WHERE user_id = $1 AND room_id = $2 AND created_seq > $3 LIMIT $4) t";

/// A user's read mark and unread figures in one room. Without a mark
/// (a room made after the user first chose a name), nothing is read.
pub async fn status<C: GenericClient + Sync>(
    db: &C,
    user: Option<UserId>,
    room: RoomInfo,
) -> Result<RoomStatus> {
    // The end of `messages_room_id`: MAX(ts) would read the whole room.
    let last_at: Option<i64> = db
        .query_opt(LAST_AT, &[&room.id.0])
        .await?
        .map(|r| r.get(0));
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
        .query_opt(
            "SELECT seq FROM read_marks WHERE user_id = $1 AND room_id = $2",
            &[&user.0, &room.id.0],
        )
        .await?
        .map(|r| r.get(0));
    let read = mark.unwrap_or(0);
    let unread: i64 = db
        .query_one(UNREAD, &[&room.id.0, &read, &user.0, &COUNT_CAP])
        .await?
        .get(0);
    let mentions: i64 = db
        .query_one(MENTIONS, &[&user.0, &room.id.0, &read, &COUNT_CAP])
        .await?
        .get(0);
    Ok(RoomStatus {
        room,
        read: Seq(mark.unwrap_or(0)),
        unread: unread as u32,
        mentions: mentions as u32,
        last_at,
    })
}

async fn require_name<C: GenericClient + Sync>(db: &C, device: &DeviceId) -> Result<UserId> {
    Ok(users::identity(db, device)
        .await?
        .ok_or(StoreError::NoIdentity)?
        .user_id)
}

async fn name_taken<C: GenericClient + Sync>(
    db: &C,
    name: &RoomName,
    except: Option<RoomId>,
) -> Result<bool> {
    let other: Option<i64> = db
        .query_opt("SELECT id FROM rooms WHERE name_key = $1", &[&name.key()])
        .await?
        .map(|r| r.get(0));
    Ok(other.is_some_and(|id| Some(RoomId(id)) != except))
}

/// The unique constraints settle a race between two nodes.
fn taken(e: tokio_postgres::Error) -> StoreError {
    if e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION) {
        StoreError::NameTaken
    } else {
        e.into()
    }
}

pub async fn create<C: GenericClient + Sync>(
    db: &C,
    device: &DeviceId,
    name: &RoomName,
    now: i64,
) -> Result<RoomInfo> {
    let me = require_name(db, device).await?;
    if name_taken(db, name, None).await? {
        return Err(StoreError::NameTaken);
    }
    let base = name.slug();
    let mut slug = base.clone();
    let mut n = 2;
    while room(db, &RoomKey::Slug(slug.clone())).await?.is_some() {
        slug = format!("{base}-{n}");
        n += 1;
    }
    let row = db
        .query_one(
            "INSERT INTO rooms (slug, name, name_key, created_by, created_at) VALUES ($1, $2, $3, $4, $5)
             RETURNING id, slug, name, archived, kind",
            &[&slug, &name.as_str(), &name.key(), &me.0, &now],
        )
        .await
        .map_err(taken)?;
    Ok(room_from_row(&row))
}

pub async fn rename<C: GenericClient + Sync>(
    db: &C,
    device: &DeviceId,
    id: RoomId,
    name: &RoomName,
) -> Result<RoomInfo> {
    require_name(db, device).await?;
    let info = room(db, &RoomKey::Id(id))
        .await?
        .ok_or(StoreError::NotFound)?;
    if info.archived {
        return Err(StoreError::Archived);
    }
    // A direct conversation's name is its own: it takes no room name.
    let key = match info.kind {
        RoomKind::Direct => format!("dm:{}", id.0),
        _ => {
            if name_taken(db, name, Some(id)).await? {
                return Err(StoreError::NameTaken);
            }
            name.key()
        }
    };
    let row = db
        .query_one(
            &format!("UPDATE rooms SET name = $2, name_key = $3 WHERE id = $1 {RETURNING_ROOM}"),
            &[&id.0, &name.as_str(), &key],
        )
        .await
        .map_err(taken)?;
    with_members(db, room_from_row(&row)).await
}

pub async fn archive<C: GenericClient + Sync>(
    db: &C,
    device: &DeviceId,
    id: RoomId,
) -> Result<RoomInfo> {
    require_name(db, device).await?;
    if id == RoomId::DEFAULT {
        return Err(StoreError::DefaultRoom);
    }
    let info = room(db, &RoomKey::Id(id))
        .await?
        .ok_or(StoreError::NotFound)?;
    if info.archived {
        return Err(StoreError::Archived);
    }
    let row = db
        .query_one(
            &format!("UPDATE rooms SET archived = TRUE WHERE id = $1 {RETURNING_ROOM}"),
            &[&id.0],
        )
        .await?;
    with_members(db, room_from_row(&row)).await
}

pub async fn mark_read<C: GenericClient + Sync>(
    db: &C,
    device: &DeviceId,
    id: RoomId,
    seq: Seq,
) -> Result<RoomStatus> {
    let me = require_name(db, device).await?;
    let info = room(db, &RoomKey::Id(id))
        .await?
        .ok_or(StoreError::NotFound)?;
    let seq = seq.min(last_seq(db, id).await?);
    db.execute(
        "INSERT INTO read_marks (user_id, room_id, seq) VALUES ($1, $2, $3)
         ON CONFLICT (user_id, room_id) DO UPDATE SET seq = GREATEST(read_marks.seq, excluded.seq)",
        &[&me.0, &id.0, &seq.0],
    )
    .await?;
    status(db, Some(me), info).await
}
