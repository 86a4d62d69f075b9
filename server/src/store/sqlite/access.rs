//! Members, roles, blocks, invites, owner links, chat settings and the
//! moderation log.

use super::super::{InviteClaim, Result, Standing};
use super::{messages, rooms, schema};
use crate::bus::Publish;
use app::api::{InviteInfo, LogEntry, Person, Role};
use app::protocol::{DeviceId, Identity, MessageId, RoomId, ServerEvent, UserId};
use rusqlite::{params, Connection, OptionalExtension};

pub fn standing(db: &Connection, device: &DeviceId) -> Result<Standing> {
    let row: Option<(String, Option<i64>)> = db
        .prepare_cached("SELECT role, blocked_at FROM members WHERE device_id = ?1")?
        .query_row([device.to_string()], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    Ok(match row {
        Some((role, blocked)) => Standing {
            role: Role::parse(&role),
            blocked: blocked.is_some(),
        },
        None => Standing::default(),
    })
}

/// Makes a device a member if it is not one (an open chat's newcomers).
pub fn admit(db: &Connection, device: &DeviceId, now: i64) -> Result<()> {
    db.prepare_cached("INSERT OR IGNORE INTO members (device_id, joined_at) VALUES (?1, ?2)")?
        .execute(params![device.to_string(), now])?;
    Ok(())
}

pub fn setting(db: &Connection, key: &str) -> Result<Option<String>> {
    Ok(db
        .prepare_cached("SELECT value FROM chat_settings WHERE key = ?1")?
        .query_row([key], |r| r.get(0))
        .optional()?)
}

pub fn set_setting(db: &Connection, key: &str, value: &str) -> Result<()> {
    db.prepare_cached(
        "INSERT INTO chat_settings (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )?
    .execute(params![key, value])?;
    Ok(())
}

/// Switching to invite-only keeps everyone who already has a name.
pub fn set_invite_only(db: &Connection, invite_only: bool, now: i64) -> Result<()> {
    if invite_only {
        db.execute(
            "INSERT OR IGNORE INTO members (device_id, joined_at)
             SELECT device_id, ?1 FROM users",
            [now],
        )?;
    }
    set_setting(db, "access", if invite_only { "invite" } else { "open" })
}

pub fn has_owner(db: &Connection) -> Result<bool> {
    Ok(db
        .prepare_cached("SELECT 1 FROM members WHERE role = 'owner' LIMIT 1")?
        .query_row([], |_| Ok(()))
        .optional()?
        .is_some())
}

pub fn add_owner_token(db: &Connection, hash: &str, now: i64, expires_at: i64) -> Result<()> {
    db.execute("DELETE FROM owner_tokens WHERE expires_at <= ?1", [now])?;
    db.execute(
        "INSERT INTO owner_tokens (token_hash, created_at, expires_at) VALUES (?1, ?2, ?3)",
        params![hash, now, expires_at],
    )?;
    Ok(())
}

/// Uses up an owner token: the device becomes the owner, and an earlier
/// owner (a lost phone) becomes a member.
pub fn claim_owner(db: &Connection, hash: &str, device: &DeviceId, now: i64) -> Result<bool> {
    let found = db
        .prepare_cached(
            "DELETE FROM owner_tokens WHERE token_hash = ?1 AND expires_at > ?2 RETURNING 1",
        )?
        .query_row(params![hash, now], |_| Ok(()))
        .optional()?
        .is_some();
    if !found {
        return Ok(false);
    }
    let device = device.to_string();
    db.execute(
        "UPDATE members SET role = 'member' WHERE role = 'owner' AND device_id != ?1",
        [&device],
    )?;
    db.execute(
        "INSERT INTO members (device_id, role, joined_at) VALUES (?1, 'owner', ?2)
         ON CONFLICT (device_id) DO UPDATE SET role = 'owner', blocked_at = NULL",
        params![device, now],
    )?;
    Ok(true)
}

pub fn create_invite(
    db: &Connection,
    hash: &str,
    by: UserId,
    now: i64,
    expires_at: i64,
    max_uses: u32,
) -> Result<i64> {
    Ok(db.query_row(
        "INSERT INTO invites (token_hash, created_by, created_at, expires_at, max_uses)
         VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id",
        params![hash, by.0, now, expires_at, max_uses],
        |r| r.get(0),
    )?)
}

/// Invites that still let someone in, newest first.
pub fn invites(db: &Connection, now: i64) -> Result<Vec<InviteInfo>> {
    let mut stmt = db.prepare_cached(
        "SELECT i.id, COALESCE(u.name, '?'), i.created_at, i.expires_at, i.max_uses, i.uses
         FROM invites i LEFT JOIN users u ON u.id = i.created_by
         WHERE i.revoked_at IS NULL AND i.expires_at > ?1 AND i.uses < i.max_uses
         ORDER BY i.id DESC",
    )?;
    let list = stmt
        .query_map([now], |r| {
            Ok(InviteInfo {
                id: r.get(0)?,
                by: r.get(1)?,
                created_at: r.get(2)?,
                expires_at: r.get(3)?,
                max_uses: r.get(4)?,
                uses: r.get(5)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(list)
}

pub fn invite(db: &Connection, id: i64, now: i64) -> Result<Option<InviteInfo>> {
    Ok(invites(db, now)?.into_iter().find(|i| i.id == id))
}

pub fn revoke_invite(db: &Connection, id: i64, now: i64) -> Result<bool> {
    Ok(db.execute(
        "UPDATE invites SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
        params![id, now],
    )? > 0)
}

/// Lets a device in with an invite, using one of its uses.
pub fn claim_invite(
    db: &Connection,
    hash: &str,
    device: &DeviceId,
    now: i64,
) -> Result<InviteClaim> {
    let row: Option<(i64, i64, u32, u32, Option<i64>)> = db
        .prepare_cached(
            "SELECT id, expires_at, max_uses, uses, revoked_at FROM invites WHERE token_hash = ?1",
        )?
        .query_row([hash], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .optional()?;
    let Some((id, expires_at, max_uses, uses, revoked)) = row else {
        return Ok(InviteClaim::Unknown);
    };
    if standing(db, device)?.role.is_some() {
        // Already in: opening the link again costs nothing.
        return Ok(InviteClaim::AlreadyMember);
    }
    if revoked.is_some() {
        return Ok(InviteClaim::Revoked);
    }
    if expires_at <= now {
        return Ok(InviteClaim::Expired);
    }
    if uses >= max_uses {
        return Ok(InviteClaim::UsedUp);
    }
    db.execute("UPDATE invites SET uses = uses + 1 WHERE id = ?1", [id])?;
    db.execute(
        "INSERT INTO members (device_id, joined_at, invite_id) VALUES (?1, ?2, ?3)
         ON CONFLICT (device_id) DO NOTHING",
        params![device.to_string(), now, id],
    )?;
    Ok(InviteClaim::Admitted)
}

pub fn device_of(db: &Connection, user: UserId) -> Result<Option<DeviceId>> {
    let raw: Option<String> = db
        .prepare_cached("SELECT device_id FROM users WHERE id = ?1")?
        .query_row([user.0], |r| r.get(0))
        .optional()?;
    Ok(raw.as_deref().and_then(DeviceId::parse))
}

pub fn set_role(db: &Connection, device: &DeviceId, role: Role, now: i64) -> Result<()> {
    db.execute(
        "INSERT INTO members (device_id, role, joined_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (device_id) DO UPDATE SET role = excluded.role",
        params![device.to_string(), role.as_str(), now],
    )?;
    Ok(())
}

pub fn set_blocked(db: &Connection, device: &DeviceId, blocked: bool, now: i64) -> Result<()> {
    if blocked {
        db.execute(
            "INSERT INTO members (device_id, joined_at, blocked_at) VALUES (?1, ?2, ?2)
             ON CONFLICT (device_id) DO UPDATE SET blocked_at = excluded.blocked_at",
            params![device.to_string(), now],
        )?;
    } else {
        db.execute(
            "UPDATE members SET blocked_at = NULL WHERE device_id = ?1",
            [device.to_string()],
        )?;
    }
    Ok(())
}

pub fn blocked_devices(db: &Connection) -> Result<Vec<DeviceId>> {
    let mut stmt =
        db.prepare_cached("SELECT device_id FROM members WHERE blocked_at IS NOT NULL")?;
    let list = stmt
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(list.iter().filter_map(|d| DeviceId::parse(d)).collect())
}

/// Everyone with a name, owners and moderators first, then by name.
pub fn people(db: &Connection) -> Result<Vec<Person>> {
    let mut stmt = db.prepare_cached(
        "SELECT u.id, u.name, u.color, m.role, m.blocked_at IS NOT NULL
         FROM users u LEFT JOIN members m ON m.device_id = u.device_id",
    )?;
    let mut list: Vec<Person> = stmt
        .query_map([], |r| {
            Ok(Person {
                who: Identity {
                    user_id: UserId(r.get(0)?),
                    name: r.get(1)?,
                    color: r.get(2)?,
                },
                role: r
                    .get::<_, Option<String>>(3)?
                    .as_deref()
                    .and_then(Role::parse),
                blocked: r.get::<_, Option<bool>>(4)?.unwrap_or(false),
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    let rank = |p: &Person| match p.role {
        Some(Role::Owner) => 0,
        Some(Role::Moderator) => 1,
        _ => 2,
    };
    list.sort_by_cached_key(|p| (rank(p), p.who.name.to_lowercase()));
    Ok(list)
}

pub fn log(
    db: &Connection,
    now: i64,
    actor: UserId,
    action: &str,
    target: Option<UserId>,
    detail: &str,
) -> Result<()> {
    db.prepare_cached(
        "INSERT INTO moderation_log (at, actor, action, target_user, detail)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![now, actor.0, action, target.map(|t| t.0), detail])?;
    Ok(())
}

/// The newest moderation actions first.
pub fn moderation_log(db: &Connection, limit: u32) -> Result<Vec<LogEntry>> {
    let mut stmt = db.prepare_cached(
        "SELECT l.at, COALESCE(a.name, '?'), l.action, t.name, l.detail
         FROM moderation_log l
         LEFT JOIN users a ON a.id = l.actor
         LEFT JOIN users t ON t.id = l.target_user
         ORDER BY l.id DESC LIMIT ?1",
    )?;
    let list = stmt
        .query_map([limit], |r| {
            Ok(LogEntry {
                at: r.get(0)?,
                actor: r.get(1)?,
                action: r.get(2)?,
                target: r.get(3)?,
                detail: r.get(4)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(list)
}

/// Removes every message of `user` still showing, each as its room's next
/// change, so catch-up brings it to every client.
pub fn remove_all_of(db: &Connection, user: UserId, out: &mut Vec<Publish>) -> Result<u32> {
    let ids: Vec<(i64, i64)> = db
        .prepare_cached("SELECT id, room_id FROM messages WHERE user_id = ?1 AND deleted = 0")?
        .query_map([user.0], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (id, room) in &ids {
        let room = RoomId(*room);
        let seq = rooms::next_seq(db, room)?;
        messages::erase(db, MessageId(*id), 2, seq)?;
        out.push(Publish::room(
            room,
            ServerEvent::Message {
                message: schema::message(db, MessageId(*id))?,
            },
        ));
    }
    Ok(ids.len() as u32)
}
