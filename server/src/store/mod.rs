//! Storage behind one seam: the chat talks to a `dyn Store` chosen once at
//! start, so nothing above `chat.rs` names the engine.
//!
//! The contract every store keeps:
//! - an acknowledged write is durable (committed to disk) before the
//!   future resolves;
//! - message ids increase in commit order (the order a room is shown in);
//! - every change to a room's history (message, edit, delete, reaction)
//!   takes the room's next seq, and seqs increase in commit order within
//!   a room: the seq is the catch-up cursor;
//! - a post is stored once per (user, client id): a resend resolves to the
//!   stored row, marked not fresh;
//! - what changed is published to the hub in seq order, after its commit
//!   and before the caller's future resolves.

pub mod sqlite;

use app::protocol::{
    Attachment, ChatMessage, ClientMessageId, DeviceId, Identity, MessageId, RoomId, RoomInfo,
    RoomStatus, Seq, UserId,
};
use app::validate::{MessageText, RoomName, UserName};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("this device has not chosen a name")]
    NoIdentity,
    #[error("no such room or message")]
    NotFound,
    #[error("only the author may change a message")]
    NotAuthor,
    #[error("the edit window has passed")]
    EditWindowClosed,
    #[error("the room is archived")]
    Archived,
    #[error("not a reaction on offer")]
    InvalidReaction,
    #[error("a room with that name exists")]
    NameTaken,
    #[error("the default room cannot be archived")]
    DefaultRoom,
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
    pub room: RoomId,
    pub client_id: ClientMessageId,
    pub text: MessageText,
    /// Users the client says it mentions; only those the text names are kept.
    pub mentions: Vec<UserId>,
    /// A file of the poster's, already checked to be their upload.
    pub attachment: Option<Attachment>,
    /// Server time, ms since the epoch.
    pub ts: i64,
}

/// A change to an existing message, by its author (or anyone, for
/// reactions).
#[derive(Debug, Clone)]
pub enum Change {
    Edit {
        text: MessageText,
        /// Edits are refused this long after the message was sent.
        window_ms: i64,
    },
    Delete,
    React {
        emoji: String,
        on: bool,
    },
}

/// The outcome of storing a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posted {
    pub message: ChatMessage,
    /// False when the client id was already stored: a resend.
    pub fresh: bool,
}

/// How a room is looked up.
#[derive(Debug, Clone)]
pub enum RoomKey {
    Id(RoomId),
    Slug(String),
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
    /// Applies a change to message `id` for `device`; the message's new
    /// state (published if anything changed).
    async fn change(
        &self,
        device: DeviceId,
        id: MessageId,
        change: Change,
        now: i64,
    ) -> Result<ChatMessage>;
    /// Up to `limit` messages of `room` before `before` (or the newest),
    /// oldest first.
    async fn page_before(
        &self,
        room: RoomId,
        before: Option<MessageId>,
        limit: u32,
    ) -> Result<Vec<ChatMessage>>;
    /// Up to `limit` messages of `room` changed after `after`, in seq order,
    /// each in its current state.
    async fn changed_after(&self, room: RoomId, after: Seq, limit: u32)
        -> Result<Vec<ChatMessage>>;
    /// Messages whose current text matches `query`, before `before` (or
    /// the newest), newest first, each with its text marked where it
    /// matched (see `search::parts`).
    async fn search(
        &self,
        query: String,
        before: Option<MessageId>,
        limit: u32,
    ) -> Result<Vec<(ChatMessage, String)>>;
    /// A message with up to `half` of its room's messages on each side.
    async fn page_around(&self, id: MessageId, half: u32) -> Result<(RoomId, Vec<ChatMessage>)>;
    /// A room by id or slug (archived ones too).
    async fn room(&self, key: RoomKey) -> Result<Option<RoomInfo>>;
    /// The room's newest seq.
    async fn room_seq(&self, room: RoomId) -> Result<Seq>;
    /// The rooms not archived, with `user`'s unread figures (zeros for a
    /// device without a name).
    async fn room_statuses(&self, user: Option<UserId>) -> Result<Vec<RoomStatus>>;
    /// Creates a room (published to everyone).
    async fn create_room(&self, device: DeviceId, name: RoomName, now: i64) -> Result<RoomInfo>;
    async fn rename_room(&self, device: DeviceId, room: RoomId, name: RoomName)
        -> Result<RoomInfo>;
    /// Makes a room read-only and hidden from the list.
    async fn archive_room(&self, device: DeviceId, room: RoomId) -> Result<RoomInfo>;
    /// Moves `device`'s read mark in `room` forward to `seq`; the new
    /// status (published to the device's tabs).
    async fn mark_read(&self, device: DeviceId, room: RoomId, seq: Seq) -> Result<RoomStatus>;
    /// Describes a stored blob (how it is served).
    async fn record_blob(&self, id: String, mime: String, size: u64, inline: bool) -> Result<()>;
    /// How a blob is served: its type and whether inline.
    async fn blob(&self, id: String) -> Result<Option<(String, bool)>>;
    /// Bytes stored in blobs, for the quota.
    async fn stored_bytes(&self) -> Result<u64>;
    /// Records an upload of `device`'s; its id.
    async fn create_upload(
        &self,
        device: DeviceId,
        attachment: Attachment,
        now: i64,
    ) -> Result<String>;
    /// The attachment of upload `id`, if it is `device`'s.
    async fn upload(&self, device: DeviceId, id: String) -> Result<Option<Attachment>>;
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
