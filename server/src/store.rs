//! SQLite storage: users and messages. Synchronous on purpose (rusqlite);
//! callers run it on the blocking pool. One writer connection serialises
//! writes; a separate reader connection serves history under WAL.

use app::protocol::{ChatMessage, ClientMessageId, DeviceId, Identity, MessageId, UserId};
use app::validate::{MessageText, UserName};
use rusqlite::{params, Connection, OptionalExtension, Row};
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

/// Schema steps, applied in order; `PRAGMA user_version` records progress.
const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/0001_init.sql"),
    include_str!("../migrations/0002_transfer.sql"),
];

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("this device has not chosen a name")]
    NoIdentity,
    #[error("database connection poisoned by an earlier panic")]
    Poisoned,
    #[error("database is newer than this server (schema {found}, known {known})")]
    TooNew { found: i64, known: i64 },
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// The outcome of storing a message.
pub struct Posted {
    pub message: ChatMessage,
    /// False when the client id was already stored: a resend.
    pub fresh: bool,
}

pub struct Store {
    writer: Mutex<Connection>,
    reader: Mutex<Connection>,
}

impl Store {
    /// Opens (creating if needed) `chat.db` in `dir` and migrates it.
    pub fn open(dir: &Path) -> Result<Self> {
        let path = dir.join("chat.db");
        let mut writer = Connection::open(&path)?;
        configure(&writer)?;
        migrate(&mut writer)?;
        let reader = Connection::open(&path)?;
        configure(&reader)?;
        Ok(Self {
            writer: Mutex::new(writer),
            reader: Mutex::new(reader),
        })
    }

    fn writer(&self) -> Result<MutexGuard<'_, Connection>> {
        self.writer.lock().map_err(|_| StoreError::Poisoned)
    }

    fn reader(&self) -> Result<MutexGuard<'_, Connection>> {
        self.reader.lock().map_err(|_| StoreError::Poisoned)
    }

    pub fn identity(&self, device: &DeviceId) -> Result<Option<Identity>> {
        let db = self.reader()?;
        Ok(db
            .query_row(
                "SELECT id, name, color FROM users WHERE device_id = ?1",
                [device.to_string()],
                identity_from_row,
            )
            .optional()?)
    }

    /// Names the device. A new device gets `new_color`; a known one keeps
    /// its colour and only changes its name.
    pub fn set_name(
        &self,
        device: &DeviceId,
        name: &UserName,
        new_color: &str,
        now: i64,
    ) -> Result<Identity> {
        let db = self.writer()?;
        Ok(db.query_row(
            "INSERT INTO users (device_id, name, color, created_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (device_id) DO UPDATE SET name = excluded.name
             RETURNING id, name, color",
            params![device.to_string(), name.as_str(), new_color, now],
            identity_from_row,
        )?)
    }

    /// Stores a message once per (device, client id). Returns the stored
    /// row, committed, whether new or a resend. `on_commit` runs after the
    /// commit and before the next write, so anything it publishes is in id
    /// order.
    pub fn post(
        &self,
        device: &DeviceId,
        client_id: ClientMessageId,
        text: &MessageText,
        now: i64,
        on_commit: impl FnOnce(&Posted),
    ) -> Result<Posted> {
        let mut db = self.writer()?;
        let tx = db.transaction()?;
        let me = tx
            .query_row(
                "SELECT id, name, color FROM users WHERE device_id = ?1",
                [device.to_string()],
                identity_from_row,
            )
            .optional()?
            .ok_or(StoreError::NoIdentity)?;
        let client = client_id.0.to_string();
        let existing = tx
            .query_row(
                &format!("{SELECT_MESSAGE} WHERE user_id = ?1 AND client_id = ?2"),
                params![me.user_id.0, client],
                message_from_row,
            )
            .optional()?;
        let posted = match existing {
            Some(message) => Posted {
                message,
                fresh: false,
            },
            None => {
                let message = tx.query_row(
                    "INSERT INTO messages (user_id, client_id, user_name, color, body, ts)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     RETURNING id, user_id, user_name, color, body, ts",
                    params![me.user_id.0, client, me.name, me.color, text.as_str(), now],
                    message_from_row,
                )?;
                Posted {
                    message,
                    fresh: true,
                }
            }
        };
        tx.commit()?;
        on_commit(&posted);
        Ok(posted)
    }

    /// Up to `limit` messages before `before` (or the newest), oldest first.
    pub fn page_before(&self, before: Option<MessageId>, limit: u32) -> Result<Vec<ChatMessage>> {
        let db = self.reader()?;
        let mut stmt = db.prepare_cached(&format!(
            "SELECT * FROM ({SELECT_MESSAGE} WHERE id < ?1 ORDER BY id DESC LIMIT ?2) ORDER BY id"
        ))?;
        let before = before.map_or(i64::MAX, |id| id.0);
        let rows = stmt.query_map(params![before, limit], message_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Up to `limit` messages after `after`, oldest first.
    pub fn page_after(&self, after: MessageId, limit: u32) -> Result<Vec<ChatMessage>> {
        let db = self.reader()?;
        let mut stmt = db.prepare_cached(&format!(
            "{SELECT_MESSAGE} WHERE id > ?1 ORDER BY id LIMIT ?2"
        ))?;
        let rows = stmt.query_map(params![after.0, limit], message_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Inserts or renames a seed user, keeping the seed's colour.
    pub fn import_user(
        &self,
        device: &DeviceId,
        name: &UserName,
        color: &str,
        now: i64,
    ) -> Result<()> {
        let db = self.writer()?;
        db.execute(
            "INSERT INTO users (device_id, name, color, created_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (device_id) DO UPDATE SET name = excluded.name, color = excluded.color",
            params![device.to_string(), name.as_str(), color, now],
        )?;
        Ok(())
    }

    /// Records a one-time transfer token for `device`.
    pub fn create_transfer(&self, device: &DeviceId, token: &str, expires_at: i64) -> Result<()> {
        let db = self.writer()?;
        db.execute(
            "INSERT INTO transfer_tokens (token, device_id, expires_at) VALUES (?1, ?2, ?3)",
            params![token, device.to_string(), expires_at],
        )?;
        Ok(())
    }

    /// Uses up a token: the device it names, if it exists and has not
    /// expired. Expired tokens are swept on the way.
    pub fn claim_transfer(&self, token: &str, now: i64) -> Result<Option<DeviceId>> {
        let db = self.writer()?;
        db.execute("DELETE FROM transfer_tokens WHERE expires_at <= ?1", [now])?;
        let device: Option<String> = db
            .query_row(
                "DELETE FROM transfer_tokens WHERE token = ?1 RETURNING device_id",
                [token],
                |r| r.get(0),
            )
            .optional()?;
        Ok(device.as_deref().and_then(DeviceId::parse))
    }

    /// Flushes the WAL into the main file; called on shutdown.
    pub fn checkpoint(&self) -> Result<()> {
        let db = self.writer()?;
        db.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")?;
        Ok(())
    }
}

const SELECT_MESSAGE: &str = "SELECT id, user_id, user_name, color, body, ts FROM messages";

fn configure(db: &Connection) -> Result<()> {
    // FULL: a message is acknowledged only once it would survive power loss.
    db.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = ON;
         PRAGMA busy_timeout = 5000;",
    )?;
    Ok(())
}

fn migrate(db: &mut Connection) -> Result<()> {
    let known = MIGRATIONS.len() as i64;
    let found: i64 = db.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > known {
        return Err(StoreError::TooNew { found, known });
    }
    for (step, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let tx = db.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", step as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}

fn identity_from_row(row: &Row<'_>) -> rusqlite::Result<Identity> {
    Ok(Identity {
        user_id: UserId(row.get(0)?),
        name: row.get(1)?,
        color: row.get(2)?,
    })
}

fn message_from_row(row: &Row<'_>) -> rusqlite::Result<ChatMessage> {
    Ok(ChatMessage {
        id: MessageId(row.get(0)?),
        user_id: UserId(row.get(1)?),
        user_name: row.get(2)?,
        color: row.get(3)?,
        msg: row.get(4)?,
        ts: row.get(5)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(dir.path()).expect("opens");
        (dir, store)
    }

    fn name(s: &str) -> UserName {
        UserName::parse(s).expect("valid name")
    }

    fn text(s: &str) -> MessageText {
        MessageText::parse(s).expect("valid text")
    }

    #[test]
    fn renaming_keeps_the_colour_and_user_id() {
        let (_dir, store) = store();
        let device = DeviceId::new_random();
        let first = store
            .set_name(&device, &name("Ann"), "rgb(200,100,100)", 1)
            .expect("named");
        let second = store
            .set_name(&device, &name("Annie"), "rgb(255,255,255)", 2)
            .expect("renamed");
        assert_eq!(second.user_id, first.user_id);
        assert_eq!(second.color, "rgb(200,100,100)");
        assert_eq!(second.name, "Annie");
        assert_eq!(store.identity(&device).expect("reads"), Some(second));
    }

    #[test]
    fn posting_without_a_name_is_refused() {
        let (_dir, store) = store();
        let result = store.post(
            &DeviceId::new_random(),
            ClientMessageId::new_random(),
            &text("hi"),
            1,
            |_| {},
        );
        assert!(matches!(result, Err(StoreError::NoIdentity)));
    }

    #[test]
    fn resend_with_same_client_id_is_stored_once() {
        let (_dir, store) = store();
        let device = DeviceId::new_random();
        store
            .set_name(&device, &name("Ann"), "rgb(200,100,100)", 1)
            .expect("named");
        let cid = ClientMessageId::new_random();
        let mut published = 0;
        let a = store
            .post(&device, cid, &text("hello"), 5, |_| published += 1)
            .expect("stored");
        let b = store
            .post(&device, cid, &text("hello"), 6, |_| published += 1)
            .expect("stored");
        assert!(a.fresh);
        assert!(!b.fresh);
        assert_eq!(a.message, b.message);
        assert_eq!(published, 2, "on_commit runs for both so both get acked");
        assert_eq!(store.page_before(None, 10).expect("reads").len(), 1);
    }

    #[test]
    fn pages_are_oldest_first_and_bounded() {
        let (_dir, store) = store();
        let device = DeviceId::new_random();
        store
            .set_name(&device, &name("Ann"), "rgb(200,100,100)", 1)
            .expect("named");
        let ids: Vec<MessageId> = (0..10)
            .map(|i| {
                store
                    .post(
                        &device,
                        ClientMessageId::new_random(),
                        &text(&format!("m{i}")),
                        i,
                        |_| {},
                    )
                    .expect("stored")
                    .message
                    .id
            })
            .collect();
        let latest = store.page_before(None, 3).expect("reads");
        assert_eq!(
            latest.iter().map(|m| m.id).collect::<Vec<_>>(),
            ids[7..].to_vec()
        );
        let older = store.page_before(Some(ids[7]), 3).expect("reads");
        assert_eq!(
            older.iter().map(|m| m.id).collect::<Vec<_>>(),
            ids[4..7].to_vec()
        );
        let after = store.page_after(ids[5], 100).expect("reads");
        assert_eq!(
            after.iter().map(|m| m.id).collect::<Vec<_>>(),
            ids[6..].to_vec()
        );
    }

    #[test]
    fn a_transfer_token_works_once_and_expires() {
        let (_dir, store) = store();
        let device = DeviceId::new_random();
        store.create_transfer(&device, "t1", 100).expect("created");
        assert_eq!(
            store.claim_transfer("t1", 50).expect("claims"),
            Some(device)
        );
        assert_eq!(
            store.claim_transfer("t1", 51).expect("claims"),
            None,
            "works once"
        );
        store.create_transfer(&device, "t2", 100).expect("created");
        assert_eq!(
            store.claim_transfer("t2", 100).expect("claims"),
            None,
            "expired"
        );
        assert_eq!(store.claim_transfer("nope", 1).expect("claims"), None);
    }

    #[test]
    fn reopening_keeps_users_and_messages() {
        let dir = tempfile::tempdir().expect("temp dir");
        let device = DeviceId::new_random();
        {
            let store = Store::open(dir.path()).expect("opens");
            store
                .set_name(&device, &name("Ann"), "rgb(200,100,100)", 1)
                .expect("named");
            store
                .post(
                    &device,
                    ClientMessageId::new_random(),
                    &text("kept"),
                    2,
                    |_| {},
                )
                .expect("stored");
        }
        let store = Store::open(dir.path()).expect("reopens");
        assert_eq!(
            store.identity(&device).expect("reads").map(|i| i.name),
            Some("Ann".into())
        );
        assert_eq!(store.page_before(None, 5).expect("reads")[0].msg, "kept");
    }
}
