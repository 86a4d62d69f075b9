//! `server backup` and `server migrate --to postgres://…`.

use crate::base::BoxError;
use crate::config::{Database, Settings};
use crate::store::postgres::{rows, Connector};
use rusqlite::{Connection, OpenFlags};
use std::path::Path;

fn sqlite_path(settings: &Settings) -> Result<std::path::PathBuf, BoxError> {
    match settings.database()? {
        Database::Sqlite(path) => Ok(path),
        Database::Postgres(_) => Err("this works on the SQLite database only".into()),
    }
}

/// A consistent copy of the SQLite database while the chat runs (readers
/// do not block the writer in WAL mode).
pub fn backup(settings: &Settings, to: &Path) -> Result<(), BoxError> {
    let from = sqlite_path(settings)?;
    if to.exists() {
        return Err(format!("{} exists; choose a new file", to.display()).into());
    }
    let db = Connection::open_with_flags(&from, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    db.execute("VACUUM INTO ?1", [to.to_string_lossy()])?;
    // The copy's future differs from the live chat's: once restored it is
    // a new epoch, and pages that saw the live chat start over instead of
    // waiting for seqs that were never in the copy.
    let copy = Connection::open(to)?;
    copy.execute(
        "INSERT INTO chat_settings (key, value) VALUES ('epoch', ?1)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [uuid::Uuid::new_v4().simple().to_string()],
    )?;
    Ok(())
}

/// What `migrate` copied.
#[derive(Debug, Default)]
pub struct Copied {
    pub users: u64,
    pub rooms: u64,
    pub messages: u64,
}

/// Copies the SQLite chat into PostgreSQL: users, members, settings (the
/// epoch too, so clients keep their cursors), rooms, messages with their
/// ids and seqs, reactions, mentions, read marks, files, push
/// subscriptions and modes, invites and the moderation log. Rows already
/// there are kept, so it can run again. (Unsent uploads, transfer links
/// and owner links are short-lived and not copied.)
pub async fn migrate(settings: &Settings, url: &str) -> Result<Copied, BoxError> {
    let from = sqlite_path(settings)?;
    let src = Connection::open_with_flags(&from, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let connector = Connector::new(url)?;
    let mut pg = connector.connect().await?;
    rows::migrate(&mut pg).await?;
    let tx = pg.transaction().await?;
    let mut copied = Copied::default();

    let mut stmt = src.prepare("SELECT id, device_id, name, color, created_at FROM users")?;
    let users: Vec<(i64, String, String, String, i64)> = stmt
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    for u in &users {
        copied.users += tx
            .execute(
                "INSERT INTO users (id, device_id, name, color, created_at) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT DO NOTHING",
                &[&u.0, &u.1, &u.2, &u.3, &u.4],
            )
            .await?;
    }

    let mut stmt = src.prepare(
        "SELECT id, slug, name, name_key, archived != 0, last_seq, created_by, created_at FROM rooms",
    )?;
    type RoomRow = (i64, String, String, String, bool, i64, Option<i64>, i64);
    let rooms: Vec<RoomRow> = stmt
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
            ))
        })?
        .collect::<rusqlite::Result<_>>()?;
    for r in &rooms {
        copied.rooms += tx
            .execute(
                "INSERT INTO rooms (id, slug, name, name_key, archived, last_seq, created_by, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                 ON CONFLICT (id) DO UPDATE SET last_seq = GREATEST(rooms.last_seq, excluded.last_seq)",
                &[&r.0, &r.1, &r.2, &r.3, &r.4, &r.5, &r.6, &r.7],
            )
            .await?;
    }

    let mut stmt = src.prepare(
        "SELECT id, user_id, client_id, user_name, color, body, ts, room_id, created_seq, seq,
                edited_at, deleted, attachment FROM messages ORDER BY id",
    )?;
    let mut rows_iter = stmt.query([])?;
    let insert = tx
        .prepare(
            "INSERT INTO messages (id, user_id, client_id, user_name, color, body, ts, room_id,
                                   created_seq, seq, edited_at, deleted, attachment)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT DO NOTHING",
        )
        .await?;
    while let Some(r) = rows_iter.next()? {
        let (id, user, client, name, color, body, ts, room): (
            i64,
            i64,
            String,
            String,
            String,
            String,
            i64,
            i64,
        ) = (
            r.get(0)?,
            r.get(1)?,
            r.get(2)?,
            r.get(3)?,
            r.get(4)?,
            r.get(5)?,
            r.get(6)?,
            r.get(7)?,
        );
        let (created_seq, seq, edited, deleted, attachment): (
            i64,
            i64,
            Option<i64>,
            i64,
            Option<String>,
        ) = (r.get(8)?, r.get(9)?, r.get(10)?, r.get(11)?, r.get(12)?);
        copied.messages += tx
            .execute(
                &insert,
                &[
                    &id,
                    &user,
                    &client,
                    &name,
                    &color,
                    &body,
                    &ts,
                    &room,
                    &created_seq,
                    &seq,
                    &edited,
                    &(deleted as i16),
                    &attachment,
                ],
            )
            .await?;
    }

    for (sql_from, sql_to, n) in [
        (
            "SELECT message_id, user_id, emoji FROM reactions",
            "INSERT INTO reactions (message_id, user_id, emoji) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            3,
        ),
        (
            "SELECT user_id, room_id, seq FROM read_marks",
            "INSERT INTO read_marks (user_id, room_id, seq) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            3,
        ),
    ] {
        let mut stmt = src.prepare(sql_from)?;
        let found: Vec<(i64, i64, Option<String>, Option<i64>)> = stmt
            .query_map([], |r| {
                let third: rusqlite::types::Value = if n == 3 { r.get(2)? } else { rusqlite::types::Value::Null };
                Ok(match third {
                    rusqlite::types::Value::Text(t) => (r.get(0)?, r.get(1)?, Some(t), None),
                    rusqlite::types::Value::Integer(i) => (r.get(0)?, r.get(1)?, None, Some(i)),
                    _ => (r.get(0)?, r.get(1)?, None, None),
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        for (a, b, text, int) in &found {
            match (text, int) {
                (Some(t), _) => tx.execute(sql_to, &[a, b, t]).await?,
                (_, Some(i)) => tx.execute(sql_to, &[a, b, i]).await?,
                _ => tx.execute(sql_to, &[a, b]).await?,
            };
        }
    }

    // Mentions with their room and place (what unread counts read).
    let mut stmt = src.prepare("SELECT message_id, user_id, room_id, created_seq FROM mentions")?;
    let mentions: Vec<[i64; 4]> = stmt
        .query_map([], |r| Ok([r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?]))?
        .collect::<rusqlite::Result<_>>()?;
    for [message, user, room, created_seq] in &mentions {
        tx.execute(
            "INSERT INTO mentions (message_id, user_id, room_id, created_seq) VALUES ($1, $2, $3, $4) \
             ON CONFLICT DO NOTHING",
            &[message, user, room, created_seq],
        )
        .await?;
    }

    let mut stmt =
        src.prepare("SELECT device_id, role, joined_at, invite_id, blocked_at FROM members")?;
    type MemberRow = (String, String, i64, Option<i64>, Option<i64>);
    let members: Vec<MemberRow> = stmt
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    for m in &members {
        tx.execute(
            "INSERT INTO members (device_id, role, joined_at, invite_id, blocked_at)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            &[&m.0, &m.1, &m.2, &m.3, &m.4],
        )
        .await?;
    }

    let mut stmt = src.prepare("SELECT key, value FROM chat_settings")?;
    let settings_rows: Vec<(String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (key, value) in &settings_rows {
        tx.execute(
            "INSERT INTO chat_settings (key, value) VALUES ($1, $2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            &[key, value],
        )
        .await?;
    }

    let mut stmt = src.prepare("SELECT id, mime, size, inline != 0, created_at FROM blobs")?;
    let blobs: Vec<(String, String, i64, bool, i64)> = stmt
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    // The files themselves move into the database too.
    let files = crate::store::blobs::DirBlobs::new(&settings.data_dir)?;
    for b in &blobs {
        tx.execute(
            "INSERT INTO blobs (id, mime, size, inline, created_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT DO NOTHING",
            &[&b.0, &b.1, &b.2, &b.3, &b.4],
        )
        .await?;
        match crate::store::blobs::Blobs::get(&files, &b.0).await? {
            Some(bytes) => {
                tx.execute(
                    "INSERT INTO blob_data (id, bytes) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                    &[&b.0, &bytes],
                )
                .await?;
            }
            None => {
                tracing::warn!(blob = %b.0, "a recorded file is missing from the data directory")
            }
        }
    }

    let mut stmt = src
        .prepare("SELECT endpoint, device_id, p256dh, auth, created_at FROM push_subscriptions")?;
    let subs: Vec<(String, String, String, String, i64)> = stmt
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    for p in &subs {
        tx.execute(
            "INSERT INTO push_subscriptions (endpoint, device_id, p256dh, auth, created_at)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            &[&p.0, &p.1, &p.2, &p.3, &p.4],
        )
        .await?;
    }
    let mut stmt = src.prepare("SELECT device_id, room_id, mode FROM push_modes")?;
    let modes: Vec<(String, i64, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for m in &modes {
        tx.execute(
            "INSERT INTO push_modes (device_id, room_id, mode) VALUES ($1, $2, $3)
             ON CONFLICT DO NOTHING",
            &[&m.0, &m.1, &m.2],
        )
        .await?;
    }
    let mut stmt = src.prepare(
        "SELECT id, token_hash, created_by, created_at, expires_at, max_uses, uses, revoked_at
         FROM invites",
    )?;
    type InviteRow = (i64, String, i64, i64, i64, i64, i64, Option<i64>);
    let invites: Vec<InviteRow> = stmt
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
            ))
        })?
        .collect::<rusqlite::Result<_>>()?;
    for i in &invites {
        tx.execute(
            "INSERT INTO invites (id, token_hash, created_by, created_at, expires_at, max_uses, uses, revoked_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
            &[&i.0, &i.1, &i.2, &i.3, &i.4, &i.5, &i.6, &i.7],
        )
        .await?;
    }
    let mut stmt =
        src.prepare("SELECT id, at, actor, action, target_user, detail FROM moderation_log")?;
    type LogRow = (i64, i64, i64, String, Option<i64>, String);
    let log: Vec<LogRow> = stmt
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })?
        .collect::<rusqlite::Result<_>>()?;
    for l in &log {
        tx.execute(
            "INSERT INTO moderation_log (id, at, actor, action, target_user, detail)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
            &[&l.0, &l.1, &l.2, &l.3, &l.4, &l.5],
        )
        .await?;
    }

    // New rows continue after the copied ids.
    for table in ["users", "rooms", "messages", "invites", "moderation_log"] {
        tx.execute(
            &format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'),
                               GREATEST((SELECT COALESCE(MAX(id), 0) FROM {table}), 1))"
            ),
            &[],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(copied)
}
