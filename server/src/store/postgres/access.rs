//! Members, roles, blocks, invites, owner links, chat settings and the
//! moderation log.

use super::super::{InviteClaim, Result, Standing};
use app::api::{InviteInfo, LogEntry, Person, Role};
use app::protocol::{DeviceId, Identity, UserId};
use tokio_postgres::GenericClient;

pub async fn standing<C: GenericClient + Sync>(db: &C, device: &DeviceId) -> Result<Standing> {
    let row = db
        .query_opt(
            "SELECT role, blocked_at FROM members WHERE device_id = $1",
            &[&device.to_string()],
        )
        .await?;
    Ok(match row {
        Some(row) => Standing {
            role: Role::parse(row.get(0)),
            blocked: row.get::<_, Option<i64>>(1).is_some(),
        },
        None => Standing::default(),
    })
}

pub async fn admit<C: GenericClient + Sync>(db: &C, device: &DeviceId, now: i64) -> Result<()> {
    db.execute(
        "INSERT INTO members (device_id, joined_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        &[&device.to_string(), &now],
    )
    .await?;
    Ok(())
}

pub async fn setting<C: GenericClient + Sync>(db: &C, key: &str) -> Result<Option<String>> {
    Ok(db
        .query_opt("SELECT value FROM chat_settings WHERE key = $1", &[&key])
        .await?
        .map(|r| r.get(0)))
}

pub async fn set_setting<C: GenericClient + Sync>(db: &C, key: &str, value: &str) -> Result<()> {
    db.execute(
        "INSERT INTO chat_settings (key, value) VALUES ($1, $2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        &[&key, &value],
    )
    .await?;
    Ok(())
}

/// Stores `value` unless the key has one; what is stored (the first
/// node's value wins).
pub async fn init_setting<C: GenericClient + Sync>(
    db: &C,
    key: &str,
    value: &str,
) -> Result<String> {
    db.execute(
        "INSERT INTO chat_settings (key, value) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        &[&key, &value],
    )
    .await?;
    Ok(setting(db, key).await?.unwrap_or_else(|| value.to_owned()))
}

pub async fn set_invite_only<C: GenericClient + Sync>(
    db: &C,
    invite_only: bool,
    now: i64,
) -> Result<()> {
    if invite_only {
        db.execute(
            "INSERT INTO members (device_id, joined_at) SELECT device_id, $1 FROM users
             ON CONFLICT DO NOTHING",
            &[&now],
        )
        .await?;
    }
    set_setting(db, "access", if invite_only { "invite" } else { "open" }).await
}

pub async fn has_owner<C: GenericClient + Sync>(db: &C) -> Result<bool> {
    Ok(db
        .query_opt("SELECT 1 FROM members WHERE role = 'owner' LIMIT 1", &[])
        .await?
        .is_some())
}

pub async fn add_owner_token<C: GenericClient + Sync>(
    db: &C,
    hash: &str,
    now: i64,
    expires_at: i64,
) -> Result<()> {
    db.execute("DELETE FROM owner_tokens WHERE expires_at <= $1", &[&now])
        .await?;
    db.execute(
        "INSERT INTO owner_tokens (token_hash, created_at, expires_at) VALUES ($1, $2, $3)",
        &[&hash, &now, &expires_at],
    )
    .await?;
    Ok(())
}

pub async fn claim_owner<C: GenericClient + Sync>(
    db: &C,
    hash: &str,
    device: &DeviceId,
    now: i64,
) -> Result<bool> {
    let found = db
        .query_opt(
            "DELETE FROM owner_tokens WHERE token_hash = $1 AND expires_at > $2 RETURNING 1",
            &[&hash, &now],
        )
        .await?
        .is_some();
    if !found {
        return Ok(false);
    }
    let device = device.to_string();
    db.execute(
        "UPDATE members SET role = 'member' WHERE role = 'owner' AND device_id != $1",
        &[&device],
    )
    .await?;
    db.execute(
        "INSERT INTO members (device_id, role, joined_at) VALUES ($1, 'owner', $2)
         ON CONFLICT (device_id) DO UPDATE SET role = 'owner', blocked_at = NULL",
        &[&device, &now],
    )
    .await?;
    Ok(true)
}

pub async fn create_invite<C: GenericClient + Sync>(
    db: &C,
    hash: &str,
    by: UserId,
    now: i64,
    expires_at: i64,
    max_uses: u32,
) -> Result<i64> {
    Ok(db
        .query_one(
            "INSERT INTO invites (token_hash, created_by, created_at, expires_at, max_uses)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
            &[&hash, &by.0, &now, &expires_at, &i64::from(max_uses)],
        )
        .await?
        .get(0))
}

pub async fn invites<C: GenericClient + Sync>(db: &C, now: i64) -> Result<Vec<InviteInfo>> {
    Ok(db
        .query(
            "SELECT i.id, COALESCE(u.name, '?'), i.created_at, i.expires_at, i.max_uses, i.uses
             FROM invites i LEFT JOIN users u ON u.id = i.created_by
             WHERE i.revoked_at IS NULL AND i.expires_at > $1 AND i.uses < i.max_uses
             ORDER BY i.id DESC",
            &[&now],
        )
        .await?
        .iter()
        .map(|r| InviteInfo {
            id: r.get(0),
            by: r.get(1),
            created_at: r.get(2),
            expires_at: r.get(3),
            max_uses: r.get::<_, i64>(4) as u32,
            uses: r.get::<_, i64>(5) as u32,
        })
        .collect())
}

pub async fn revoke_invite<C: GenericClient + Sync>(db: &C, id: i64, now: i64) -> Result<bool> {
    Ok(db
        .execute(
            "UPDATE invites SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
            &[&id, &now],
        )
        .await?
        > 0)
}

/// Lets a device in with an invite, using one of its uses; the invite's
/// row is locked so two nodes cannot both spend its last use.
pub async fn claim_invite(
    db: &mut tokio_postgres::Client,
    hash: &str,
    device: &DeviceId,
    now: i64,
) -> Result<InviteClaim> {
    let tx = db.transaction().await?;
    let Some(row) = tx
        .query_opt(
            "SELECT id, expires_at, max_uses, uses, revoked_at FROM invites WHERE token_hash = $1
             FOR UPDATE",
            &[&hash],
        )
        .await?
    else {
        return Ok(InviteClaim::Unknown);
    };
    let (id, expires_at, max_uses, uses, revoked): (i64, i64, i64, i64, Option<i64>) =
        (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4));
    let claim = if standing(&tx, device).await?.role.is_some() {
        InviteClaim::AlreadyMember
    } else if revoked.is_some() {
        InviteClaim::Revoked
    } else if expires_at <= now {
        InviteClaim::Expired
    } else if uses >= max_uses {
        InviteClaim::UsedUp
    } else {
        tx.execute("UPDATE invites SET uses = uses + 1 WHERE id = $1", &[&id])
            .await?;
        tx.execute(
            "INSERT INTO members (device_id, joined_at, invite_id) VALUES ($1, $2, $3)
             ON CONFLICT (device_id) DO NOTHING",
            &[&device.to_string(), &now, &id],
        )
        .await?;
        InviteClaim::Admitted
    };
    tx.commit().await?;
    Ok(claim)
}

pub async fn device_of<C: GenericClient + Sync>(db: &C, user: UserId) -> Result<Option<DeviceId>> {
    let raw: Option<String> = db
        .query_opt("SELECT device_id FROM users WHERE id = $1", &[&user.0])
        .await?
        .map(|r| r.get(0));
    Ok(raw.as_deref().and_then(DeviceId::parse))
}

pub async fn set_role<C: GenericClient + Sync>(
    db: &C,
    device: &DeviceId,
    role: Role,
    now: i64,
) -> Result<()> {
    db.execute(
        "INSERT INTO members (device_id, role, joined_at) VALUES ($1, $2, $3)
         ON CONFLICT (device_id) DO UPDATE SET role = excluded.role",
        &[&device.to_string(), &role.as_str(), &now],
    )
    .await?;
    Ok(())
}

pub async fn set_blocked<C: GenericClient + Sync>(
    db: &C,
    device: &DeviceId,
    blocked: bool,
    now: i64,
) -> Result<()> {
    if blocked {
        db.execute(
            "INSERT INTO members (device_id, joined_at, blocked_at) VALUES ($1, $2, $2)
             ON CONFLICT (device_id) DO UPDATE SET blocked_at = excluded.blocked_at",
            &[&device.to_string(), &now],
        )
        .await?;
    } else {
        db.execute(
            "UPDATE members SET blocked_at = NULL WHERE device_id = $1",
            &[&device.to_string()],
        )
        .await?;
    }
    Ok(())
}

pub async fn blocked_devices<C: GenericClient + Sync>(db: &C) -> Result<Vec<DeviceId>> {
    Ok(db
        .query(
            "SELECT device_id FROM members WHERE blocked_at IS NOT NULL",
            &[],
        )
        .await?
        .iter()
        .filter_map(|r| DeviceId::parse(r.get(0)))
        .collect())
}

pub async fn people<C: GenericClient + Sync>(db: &C) -> Result<Vec<Person>> {
    let mut list: Vec<Person> = db
        .query(
            "SELECT u.id, u.name, u.color, m.role, m.blocked_at IS NOT NULL
             FROM users u LEFT JOIN members m ON m.device_id = u.device_id",
            &[],
        )
        .await?
        .iter()
        .map(|r| Person {
            who: Identity {
                user_id: UserId(r.get(0)),
                name: r.get(1),
                color: r.get(2),
            },
            role: r.get::<_, Option<&str>>(3).and_then(Role::parse),
            blocked: r.get::<_, Option<bool>>(4).unwrap_or(false),
        })
        .collect();
    let rank = |p: &Person| match p.role {
        Some(Role::Owner) => 0,
        Some(Role::Moderator) => 1,
        _ => 2,
    };
    list.sort_by_cached_key(|p| (rank(p), p.who.name.to_lowercase()));
    Ok(list)
}

pub async fn log<C: GenericClient + Sync>(
    db: &C,
    now: i64,
    actor: UserId,
    action: &str,
    target: Option<UserId>,
    detail: &str,
) -> Result<()> {
    db.execute(
        "INSERT INTO moderation_log (at, actor, action, target_user, detail) VALUES ($1, $2, $3, $4, $5)",
        &[&now, &actor.0, &action, &target.map(|t| t.0), &detail],
    )
    .await?;
    Ok(())
}

pub async fn moderation_log<C: GenericClient + Sync>(db: &C, limit: u32) -> Result<Vec<LogEntry>> {
    Ok(db
        .query(
            "SELECT l.at, COALESCE(a.name, '?'), l.action, t.name, l.detail
             FROM moderation_log l
             LEFT JOIN users a ON a.id = l.actor
             LEFT JOIN users t ON t.id = l.target_user
             ORDER BY l.id DESC LIMIT $1",
            &[&i64::from(limit)],
        )
        .await?
        .iter()
        .map(|r| LogEntry {
            at: r.get(0),
            actor: r.get(1),
            action: r.get(2),
            target: r.get(3),
            detail: r.get(4),
        })
        .collect())
}
