//! Storage behind one seam: the chat talks to a `dyn Store` chosen once at
//! start, so nothing above `chat.rs` names the engine.
//!
//! The contract every store keeps:
//! - an acknowledged write is durable (committed to disk) before the
//!   future resolves;
//! - message ids increase in commit order, so the id is both the total
//!   order every client shows and the catch-up cursor;
//! - a post is stored once per (user, client id): a resend resolves to the
//!   stored row, marked not fresh;
//! - fresh messages are published to the hub in id order, after their
//!   commit and before the poster's future resolves.

pub mod sqlite;

use app::protocol::{ChatMessage, ClientMessageId, DeviceId, Identity, MessageId};
use app::validate::{MessageText, UserName};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("this device has not chosen a name")]
    NoIdentity,
    #[error("database is newer than this server (schema {found}, known {known})")]
    TooNew { found: i64, known: i64 },
    #[error("the storage writer has stopped")]
    WriterGone,
    #[error("the write was not committed: {0}")]
    Commit(String),
    #[error("storage task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    #[error("cannot open the database: {0}")]
    Open(String),
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// A message to store.
#[derive(Debug, Clone)]
pub struct NewPost {
    pub device: DeviceId,
    pub client_id: ClientMessageId,
    pub text: MessageText,
    /// Server time, ms since the epoch.
    pub ts: i64,
}

/// The outcome of storing a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posted {
    pub message: ChatMessage,
    /// False when the client id was already stored: a resend.
    pub fresh: bool,
}

/// A submitted message's outcome, to be awaited.
pub type PostTicket = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Posted>> + Send>>;

#[async_trait::async_trait]
pub trait Store: Send + Sync + 'static {
    /// The device's public identity, if it has chosen a name.
    async fn identity(&self, device: DeviceId) -> Result<Option<Identity>>;
    /// Names the device; a new device gets `new_color`, a known one keeps its own.
    async fn set_name(
        &self,
        device: DeviceId,
        name: UserName,
        new_color: String,
    ) -> Result<Identity>;
    /// Queues a message for the next commit and returns what resolves once
    /// it is committed (or refused). Messages queued one after another are
    /// committed in that order, so a session that submits in the order it
    /// read keeps its client's order while several are in flight.
    async fn submit(&self, post: NewPost) -> Result<PostTicket>;
    /// Stores a message once per client id (see the module contract).
    async fn post(&self, post: NewPost) -> Result<Posted> {
        self.submit(post).await?.await
    }
    /// Up to `limit` messages before `before` (or the newest), oldest first.
    async fn page_before(&self, before: Option<MessageId>, limit: u32) -> Result<Vec<ChatMessage>>;
    /// Up to `limit` messages after `after`, oldest first.
    async fn page_after(&self, after: MessageId, limit: u32) -> Result<Vec<ChatMessage>>;
    /// Inserts or renames a user imported from the seed, keeping its colour.
    async fn import_user(&self, device: DeviceId, name: UserName, color: String) -> Result<()>;
    /// Records a one-time transfer token for `device`.
    async fn create_transfer(&self, device: DeviceId, token: String, expires_at: i64)
        -> Result<()>;
    /// Uses up a token: the device it names, if it exists and has not expired.
    async fn claim_transfer(&self, token: String, now: i64) -> Result<Option<DeviceId>>;
    /// Makes the on-disk state self-contained; called at shutdown.
    async fn checkpoint(&self) -> Result<()>;
}
