//! Bots: identities that post with a key (kept as a hash).

use super::super::{BotChange, NewBot, Result, StoredBot};
use super::users;
use app::protocol::{DeviceId, Identity, UserId};
use tokio_postgres::{GenericClient, Row};

const SELECT_BOT: &str = "SELECT u.id, u.name, u.color, u.device_id, b.secret, b.webhook,
     b.created_at, b.revoked_at IS NOT NULL FROM bots b JOIN users u ON u.id = b.user_id";

fn bot_from_row(r: &Row) -> Option<StoredBot> {
    let device: String = r.get(3);
    DeviceId::parse(&device).map(|device| StoredBot {
        me: Identity {
            user_id: UserId(r.get(0)),
            name: r.get(1),
            color: r.get(2),
        },
        device,
        secret: r.get(4),
        webhook: r.get(5),
        created_at: r.get(6),
        revoked: r.get(7),
    })
}

pub async fn create(db: &mut tokio_postgres::Client, bot: &NewBot) -> Result<Identity> {
    let tx = db.transaction().await?;
    let row = tx
        .query_one(
            "INSERT INTO users (device_id, name, color, created_at, bot) VALUES ($1, $2, $3, $4, TRUE)
             RETURNING id, name, color",
            &[&bot.device.to_string(), &bot.name.as_str(), &bot.color, &bot.now],
        )
        .await?;
    let me = Identity {
        user_id: UserId(row.get(0)),
        name: row.get(1),
        color: row.get(2),
    };
    users::mark_history_read(&tx, me.user_id).await?;
    // A member, so an invite-only chat lets it in (and can block it).
    tx.execute(
        "INSERT INTO members (device_id, joined_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        &[&bot.device.to_string(), &bot.now],
    )
    .await?;
    tx.execute(
        "INSERT INTO bots (user_id, key_hash, secret, webhook, created_at) VALUES ($1, $2, $3, $4, $5)",
        &[&me.user_id.0, &bot.key_hash, &bot.secret, &bot.webhook, &bot.now],
    )
    .await?;
    tx.commit().await?;
    Ok(me)
}

pub async fn all<C: GenericClient + Sync>(db: &C) -> Result<Vec<StoredBot>> {
    Ok(db
        .query(&format!("{SELECT_BOT} ORDER BY b.user_id"), &[])
        .await?
        .iter()
        .filter_map(bot_from_row)
        .collect())
}

pub async fn by_key<C: GenericClient + Sync>(db: &C, key_hash: &str) -> Result<Option<StoredBot>> {
    Ok(db
        .query_opt(
            &format!("{SELECT_BOT} WHERE b.key_hash = $1 AND b.revoked_at IS NULL"),
            &[&key_hash],
        )
        .await?
        .as_ref()
        .and_then(bot_from_row))
}

pub async fn change<C: GenericClient + Sync>(
    db: &C,
    user: UserId,
    change: &BotChange,
    now: i64,
) -> Result<bool> {
    let changed = match change {
        BotChange::Key(hash) => {
            db.execute(
                "UPDATE bots SET key_hash = $2 WHERE user_id = $1 AND revoked_at IS NULL",
                &[&user.0, hash],
            )
            .await?
        }
        BotChange::Revoke => {
            db.execute(
                "UPDATE bots SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL",
                &[&user.0, &now],
            )
            .await?
        }
        BotChange::Webhook(url) => {
            db.execute(
                "UPDATE bots SET webhook = $2 WHERE user_id = $1 AND revoked_at IS NULL",
                &[&user.0, url],
            )
            .await?
        }
    };
    Ok(changed > 0)
}
