//! Bots: identities that post with a key (kept as a hash).

use super::super::{BotChange, NewBot, Result, StoredBot};
use super::users;
use app::protocol::{DeviceId, Identity, UserId};
use rusqlite::{params, Connection, OptionalExtension, Row};

const SELECT_BOT: &str = "SELECT u.id, u.name, u.color, u.device_id, b.secret, b.webhook,
     b.created_at, b.revoked_at IS NOT NULL FROM bots b JOIN users u ON u.id = b.user_id";

fn bot_from_row(r: &Row<'_>) -> rusqlite::Result<Option<StoredBot>> {
    let device: String = r.get(3)?;
    let Some(device) = DeviceId::parse(&device) else {
        return Ok(None);
    };
    Ok(Some(StoredBot {
        me: Identity {
            user_id: UserId(r.get(0)?),
            name: r.get(1)?,
            color: r.get(2)?,
        },
        device,
        secret: r.get(4)?,
        webhook: r.get(5)?,
        created_at: r.get(6)?,
        revoked: r.get(7)?,
    }))
}

pub fn create(db: &Connection, bot: &NewBot) -> Result<Identity> {
    let me = db.query_row(
        "INSERT INTO users (device_id, name, color, created_at, bot) VALUES (?1, ?2, ?3, ?4, 1)
         RETURNING id, name, color",
        params![
            bot.device.to_string(),
            bot.name.as_str(),
            bot.color,
            bot.now
        ],
        |r| {
            Ok(Identity {
                user_id: UserId(r.get(0)?),
                name: r.get(1)?,
                color: r.get(2)?,
            })
        },
    )?;
    users::mark_history_read(db, me.user_id)?;
    // A member, so an invite-only chat lets it in (and can block it).
    db.execute(
        "INSERT OR IGNORE INTO members (device_id, joined_at) VALUES (?1, ?2)",
        params![bot.device.to_string(), bot.now],
    )?;
    db.execute(
        "INSERT INTO bots (user_id, key_hash, secret, webhook, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![me.user_id.0, bot.key_hash, bot.secret, bot.webhook, bot.now],
    )?;
    Ok(me)
}

pub fn all(db: &Connection) -> Result<Vec<StoredBot>> {
    let mut stmt = db.prepare_cached(&format!("{SELECT_BOT} ORDER BY b.user_id"))?;
    let list = stmt
        .query_map([], bot_from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(list.into_iter().flatten().collect())
}

pub fn by_key(db: &Connection, key_hash: &str) -> Result<Option<StoredBot>> {
    Ok(db
        .prepare_cached(&format!(
            "{SELECT_BOT} WHERE b.key_hash = ?1 AND b.revoked_at IS NULL"
        ))?
        .query_row([key_hash], bot_from_row)
        .optional()?
        .flatten())
}

pub fn change(db: &Connection, user: UserId, change: &BotChange, now: i64) -> Result<bool> {
    let changed = match change {
        BotChange::Key(hash) => db.execute(
            "UPDATE bots SET key_hash = ?2 WHERE user_id = ?1 AND revoked_at IS NULL",
            params![user.0, hash],
        )?,
        BotChange::Revoke => db.execute(
            "UPDATE bots SET revoked_at = ?2 WHERE user_id = ?1 AND revoked_at IS NULL",
            params![user.0, now],
        )?,
        BotChange::Webhook(url) => db.execute(
            "UPDATE bots SET webhook = ?2 WHERE user_id = ?1 AND revoked_at IS NULL",
            params![user.0, url],
        )?,
    };
    Ok(changed > 0)
}
