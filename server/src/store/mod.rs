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
//! - what changed is published to the hub in seq order, after its commit:
//!   the SQLite writer publishes before the caller's future resolves; in
//!   the shared mode every node's bus listener publishes it from the
//!   table, maybe just after (a session skips what catch-up already sent,
//!   by seq, so either order is safe).
//!
//! `contract.rs` holds the tests every store passes.

pub mod blobs;
#[cfg(test)]
mod contract;
pub mod postgres;
pub mod search;
pub mod sqlite;

use app::api::PushMode;
use app::protocol::{
    Attachment, ChatMessage, ClientMessageId, DeviceId, Identity, LinkPreview, MessageId, RoomId,
    RoomInfo, RoomStatus, Seq, UserId,
};
use app::validate::{MessageText, RoomName, UserName};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("database error: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    /// The shared database cannot be reached now; nothing was written.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
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
    /// The message of the same room it answers; its author is notified
    /// as if mentioned.
    pub reply_to: Option<MessageId>,
    /// Server time, ms since the epoch.
    pub ts: i64,
}

/// Whom a reply notifies besides those it names: its parent's author,
/// unless that is the replier (or the parent cannot be read).
pub(crate) fn answered(m: &ChatMessage) -> Option<UserId> {
    m.reply
        .as_ref()
        .map(|q| q.user_id)
        .filter(|u| *u != m.user_id && u.0 != 0)
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
    /// A moderator's removal of someone's message.
    Remove,
    React {
        emoji: String,
        on: bool,
    },
    /// The server's card for the message's first link, on behalf of its
    /// author; nothing changes if the text no longer has that link first,
    /// or the author took the card away.
    Preview(LinkPreview),
    /// The author takes the card away for good.
    HidePreview,
}

/// Whether `card` is for the link `body` now begins with.
pub(crate) fn previews(body: &str, card: &LinkPreview) -> bool {
    app::rich::first_link(body).as_deref() == Some(card.url.as_str())
}

/// A card kept through an edit only while its link still comes first.
pub(crate) fn kept_preview(stored: Option<String>, body: &str) -> Option<String> {
    stored.filter(|json| {
        serde_json::from_str::<LinkPreview>(json).is_ok_and(|card| previews(body, &card))
    })
}

/// The outcome of storing a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posted {
    pub message: ChatMessage,
    /// False when the client id was already stored: a resend.
    pub fresh: bool,
}

/// A device's place in the chat.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Standing {
    /// `None` when it is not a member.
    pub role: Option<app::api::Role>,
    pub blocked: bool,
}

/// What a room's page reads, as of one moment.
#[derive(Debug, Clone, Default)]
pub struct PageReads {
    pub standing: Standing,
    /// `None`: no such room (nothing below is read then).
    pub room: Option<RoomInfo>,
    /// The room's newest seq, read before (or with) its messages.
    pub seq: Seq,
    pub messages: Vec<ChatMessage>,
    pub me: Option<Identity>,
    pub rooms: Vec<RoomStatus>,
}

/// What opening an invite link did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InviteClaim {
    Admitted,
    AlreadyMember,
    Unknown,
    Revoked,
    Expired,
    UsedUp,
}

/// A browser's push subscription as stored, with its device's user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPush {
    pub endpoint: String,
    pub device: DeviceId,
    pub user: UserId,
    /// The browser's keys (RFC 8291), base64url as the browser gave them.
    pub p256dh: String,
    pub auth: String,
}

/// Every subscription and every push mode: `None` as the room is the
/// device's default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushState {
    pub subscriptions: Vec<StoredPush>,
    pub modes: Vec<(DeviceId, Option<RoomId>, PushMode)>,
}

/// A bot to make: an identity of its own on a device no browser holds.
#[derive(Debug, Clone)]
pub struct NewBot {
    pub device: DeviceId,
    pub name: UserName,
    pub color: String,
    /// SHA-256 of its key, hex; the key itself is shown once and not kept.
    pub key_hash: String,
    /// Signs what is sent to its webhook.
    pub secret: String,
    pub webhook: Option<String>,
    pub now: i64,
}

/// A bot as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBot {
    pub me: Identity,
    pub device: DeviceId,
    pub secret: String,
    pub webhook: Option<String>,
    pub created_at: i64,
    pub revoked: bool,
}

/// A change to a bot.
#[derive(Debug, Clone)]
pub enum BotChange {
    /// A new key (its hash); the old one stops working.
    Key(String),
    /// No key works any more; its messages stay.
    Revoke,
    Webhook(Option<String>),
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
    /// When the device first chose a name (ms since the epoch).
    async fn named_at(&self, device: DeviceId) -> Result<Option<i64>>;
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
    /// A room's messages after `after`, oldest first.
    async fn page_after(
        &self,
        room: RoomId,
        after: MessageId,
        limit: u32,
    ) -> Result<Vec<ChatMessage>>;
    /// Everything a room's page shows `device`, with its newest `limit`
    /// messages. Whether the device may read the room is the caller's
    /// to decide, from what this returns.
    async fn page_reads(&self, device: DeviceId, key: RoomKey, limit: u32) -> Result<PageReads> {
        let standing = self.standing(device).await?;
        let Some(room) = self.room(key).await? else {
            return Ok(PageReads {
                standing,
                ..PageReads::default()
            });
        };
        // The cursor before the page: anything committed in between is
        // replayed, not skipped.
        let seq = self.room_seq(room.id).await?;
        let messages = self.page_before(room.id, None, limit).await?;
        let me = self.identity(device).await?;
        let rooms = self.room_statuses(me.as_ref().map(|m| m.user_id)).await?;
        Ok(PageReads {
            standing,
            room: Some(room),
            seq,
            messages,
            me,
            rooms,
        })
    }
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
    /// Deletes unsent uploads older than `upload_before` and the records
    /// of blobs (older than `blob_before`) nothing refers to; their ids.
    async fn sweep_blobs(&self, upload_before: i64, blob_before: i64) -> Result<Vec<String>>;
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
    /// The device a token names, if it exists and has not expired, without
    /// using it up (the confirmation page shows whose it is).
    async fn peek_transfer(&self, token: String, now: i64) -> Result<Option<DeviceId>>;
    /// Uses up a token: the device it names, if it exists and has not expired.
    async fn claim_transfer(&self, token: String, now: i64) -> Result<Option<DeviceId>>;
    /// Every push subscription (of named devices) and push mode.
    async fn push_state(&self) -> Result<PushState>;
    /// Stores a push subscription for `device` (an endpoint already known
    /// moves to it).
    async fn save_push(
        &self,
        device: DeviceId,
        endpoint: String,
        p256dh: String,
        auth: String,
        now: i64,
    ) -> Result<()>;
    /// Deletes a subscription (only if it is `device`'s, when given);
    /// whether there was one.
    async fn delete_push(&self, endpoint: String, device: Option<DeviceId>) -> Result<bool>;
    /// Sets `device`'s default push mode (no room) or one room's; `None`
    /// removes a room's own mode (or resets the default).
    async fn set_push_mode(
        &self,
        device: DeviceId,
        room: Option<RoomId>,
        mode: Option<PushMode>,
    ) -> Result<()>;
    /// Members, roles, invites and moderation.
    async fn standing(&self, device: DeviceId) -> Result<Standing>;
    async fn setting(&self, key: &'static str) -> Result<Option<String>>;
    async fn set_setting(&self, key: &'static str, value: String) -> Result<()>;
    /// Stores `value` unless `key` has one; the stored value (on several
    /// nodes, the first one's).
    async fn init_setting(&self, key: &'static str, value: String) -> Result<String>;
    async fn set_invite_only(&self, invite_only: bool, now: i64) -> Result<()>;
    async fn has_owner(&self) -> Result<bool>;
    async fn add_owner_token(&self, hash: String, now: i64, expires_at: i64) -> Result<()>;
    async fn claim_owner(&self, hash: String, device: DeviceId, now: i64) -> Result<bool>;
    async fn create_invite(
        &self,
        hash: String,
        by: UserId,
        now: i64,
        expires_at: i64,
        max_uses: u32,
    ) -> Result<Option<app::api::InviteInfo>>;
    async fn invites(&self, now: i64) -> Result<Vec<app::api::InviteInfo>>;
    async fn revoke_invite(&self, id: i64, now: i64) -> Result<bool>;
    async fn claim_invite(&self, hash: String, device: DeviceId, now: i64) -> Result<InviteClaim>;
    async fn device_of(&self, user: UserId) -> Result<Option<DeviceId>>;
    async fn set_role(&self, device: DeviceId, role: app::api::Role, now: i64) -> Result<()>;
    /// Blocks or unblocks; with `remove`, every message of the user is
    /// removed too (the number removed).
    async fn set_blocked(
        &self,
        device: DeviceId,
        user: UserId,
        blocked: bool,
        remove: bool,
        now: i64,
    ) -> Result<u32>;
    async fn blocked_devices(&self) -> Result<Vec<DeviceId>>;
    async fn people(&self) -> Result<Vec<app::api::Person>>;
    async fn log_action(
        &self,
        now: i64,
        actor: UserId,
        action: &'static str,
        target: Option<UserId>,
        detail: String,
    ) -> Result<()>;
    async fn moderation_log(&self, limit: u32) -> Result<Vec<app::api::LogEntry>>;
    /// Every private and direct room with its member devices (the hub
    /// routes their events by it).
    async fn closed_rooms(&self) -> Result<Vec<(RoomId, Vec<DeviceId>)>>;
    /// A room's member devices, or `None` when it is open.
    async fn member_devices(&self, room: RoomId) -> Result<Option<Vec<DeviceId>>>;
    /// A private or direct room's members, by name.
    async fn room_members(&self, room: RoomId) -> Result<Vec<Identity>>;
    /// The direct conversation of exactly these people (the creator among
    /// them), made if new (published to them); and whether it was made.
    async fn direct_room(
        &self,
        creator: DeviceId,
        people: Vec<UserId>,
        now: i64,
    ) -> Result<(RoomInfo, bool)>;
    /// Makes an open room private with `members`, or a private one open.
    async fn set_room_kind(
        &self,
        room: RoomId,
        kind: app::protocol::RoomKind,
        members: Vec<UserId>,
        now: i64,
    ) -> Result<RoomInfo>;
    /// Adds or removes a member of a private or direct room.
    async fn set_member(&self, room: RoomId, user: UserId, member: bool, now: i64) -> Result<()>;
    /// Takes a room out of (or back into) `device`'s own list.
    async fn set_hidden(&self, device: DeviceId, room: RoomId, hidden: bool) -> Result<()>;
    /// Puts a direct conversation back into the lists of those of its
    /// people who hid it (someone wrote in it); whether anyone had.
    async fn show_hidden(&self, room: RoomId) -> Result<bool>;
    /// `device` takes no direct messages from `other` (or again does).
    async fn set_dm_block(&self, device: DeviceId, other: UserId, blocked: bool) -> Result<()>;
    /// Those of `others` who take no direct messages from `user`.
    async fn dm_blocking(&self, user: UserId, others: Vec<UserId>) -> Result<Vec<UserId>>;
    /// Whom `user` takes no direct messages from.
    async fn dm_blocked(&self, user: UserId) -> Result<Vec<UserId>>;
    /// The room a message is in.
    async fn message_room(&self, id: MessageId) -> Result<Option<RoomId>>;
    /// The rooms a stored file was sent in.
    async fn blob_rooms(&self, blob: String) -> Result<Vec<RoomId>>;
    /// Who made a room.
    async fn room_creator(&self, room: RoomId) -> Result<Option<UserId>>;
    /// Everyone with a name who is not blocked, by name.
    async fn known_people(&self) -> Result<Vec<Identity>>;
    /// Makes a bot (a member, even of an invite-only chat).
    async fn create_bot(&self, bot: NewBot) -> Result<Identity>;
    /// Every bot, revoked ones too, oldest first.
    async fn bots(&self) -> Result<Vec<StoredBot>>;
    /// The bot a key (by its hash) belongs to, unless revoked.
    async fn bot_by_key(&self, key_hash: String) -> Result<Option<StoredBot>>;
    /// False when there is no such bot (or it is revoked).
    async fn change_bot(&self, user: UserId, change: BotChange, now: i64) -> Result<bool>;
    /// A value of the certificate manager's (its account, the
    /// certificate), by name.
    async fn acme_get(&self, name: String) -> Result<Option<Vec<u8>>>;
    async fn acme_put(&self, name: String, value: Vec<u8>) -> Result<()>;
    /// Takes (or keeps) the right to order certificates until `until`
    /// (ms); false while another holder's lease runs.
    async fn acme_lease(&self, holder: String, now: i64, until: i64) -> Result<bool>;
    /// Makes the on-disk state self-contained; called at shutdown.
    async fn checkpoint(&self) -> Result<()>;
}
