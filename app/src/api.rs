//! Request/response work as Leptos server functions. The functions only
//! parse and delegate: the server crate supplies the real work through the
//! [`ChatBackend`] it puts in context, which keeps SQL and the hub out of the
//! app crate.

use crate::protocol::{
    ChatMessage, Identity, MessageId, RoomId, RoomInfo, RoomStatus, Seq, UserId,
};
// On the socket (`ServerEvent::Role`) and in these records alike.
pub use crate::protocol::Role;
use leptos::prelude::*;
use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

/// What the page needs to render: who this device is and the latest page
/// of messages (oldest first). The server renders the page from it and
/// embeds it for hydration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatSnapshot {
    pub me: Option<Identity>,
    /// The room the page shows.
    pub room: Option<RoomInfo>,
    /// Every room in the list, with this identity's unread figures.
    pub rooms: Vec<RoomStatus>,
    /// The room's latest messages, oldest first.
    pub messages: Vec<ChatMessage>,
    /// The room's newest seq when the page was rendered: where the socket
    /// resumes from.
    pub seq: Seq,
    /// How long an author may edit a message, in seconds.
    pub edit_window_secs: u64,
    /// Why the name form, posted without JavaScript, was refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_error: Option<String>,
    /// This device's role, if it is a member (everyone may be, in an open
    /// chat, without one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    /// The name the owner gave the chat (the page's title).
    #[serde(default)]
    pub chat_name: String,
}

/// Someone who picked a name, as the owner and moderators see them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    pub who: Identity,
    /// `None`: named, but not a member (joined an open chat before the
    /// members list existed, or was never let in).
    pub role: Option<Role>,
    pub blocked: bool,
}

/// An invite link that still works (not revoked, expired or used up).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteInfo {
    pub id: i64,
    /// Who made it.
    pub by: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub max_uses: u32,
    pub uses: u32,
}

/// A new invite: the only time its link is shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewInvite {
    pub url: String,
    pub qr_svg: String,
    pub info: InviteInfo,
}

/// One moderation action, for the owner's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    pub at: i64,
    pub actor: String,
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

/// What the owner and moderators manage.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Admin {
    pub role: Option<Role>,
    pub invite_only: bool,
    pub chat_name: String,
    pub people: Vec<Person>,
    pub invites: Vec<InviteInfo>,
    /// The owner's only.
    pub log: Vec<LogEntry>,
}

/// A moderation or ownership action. The server checks the device's role
/// for every one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "do", rename_all = "snake_case")]
pub enum ModAction {
    /// Owner: open to anyone, or members only.
    SetAccess {
        invite_only: bool,
    },
    /// Owner: the chat's name in the header, title and manifest.
    SetChatName {
        name: String,
    },
    /// Owner: make someone a moderator, or take it back.
    SetModerator {
        user: UserId,
        moderator: bool,
    },
    /// Close their sockets and refuse them; optionally remove every
    /// message of theirs.
    Block {
        user: UserId,
        remove_messages: bool,
    },
    Unblock {
        user: UserId,
    },
    /// Replace a message by "removed by a moderator"; its text is deleted.
    RemoveMessage {
        id: MessageId,
    },
    RevokeInvite {
        id: i64,
    },
}

/// A one-time link that gives another browser this device's identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferLink {
    pub url: String,
    /// The link as a QR code, an SVG drawn by the server.
    pub qr_svg: String,
    pub expires_in_secs: u64,
}

/// A search result: the message, where it is, and its text cut into
/// parts, the matched ones marked. Rendered as text, never as HTML.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchHit {
    pub message: ChatMessage,
    pub room: RoomInfo,
    pub parts: Vec<TextPart>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextPart {
    pub text: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hit: bool,
}

/// A message in its context: its room and the messages around it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Context {
    pub room: RoomInfo,
    pub messages: Vec<ChatMessage>,
}

/// Results per search page.
pub const SEARCH_PAGE: u32 = 20;

/// What a device has pushed to it while no tab of it is in view.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PushMode {
    #[default]
    All,
    /// Only messages that mention the device's user.
    Mentions,
    Off,
}

impl PushMode {
    pub fn as_str(self) -> &'static str {
        match self {
            PushMode::All => "all",
            PushMode::Mentions => "mentions",
            PushMode::Off => "off",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "all" => Some(PushMode::All),
            "mentions" => Some(PushMode::Mentions),
            "off" => Some(PushMode::Off),
            _ => None,
        }
    }
}

/// A room whose push mode differs from the device's default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomPushMode {
    pub room: RoomId,
    pub mode: PushMode,
}

/// This device's notification settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushSettings {
    /// The server's VAPID public key (an uncompressed P-256 point): the
    /// `applicationServerKey` a browser subscribes with.
    pub key: Vec<u8>,
    /// Push subscriptions this device has on the server (any browser
    /// sharing its identity).
    pub subscriptions: u32,
    pub mode: PushMode,
    pub rooms: Vec<RoomPushMode>,
}

impl PushSettings {
    /// What `room` gets: its own mode, else the device's default.
    pub fn mode_in(&self, room: RoomId) -> Option<PushMode> {
        self.rooms.iter().find(|r| r.room == room).map(|r| r.mode)
    }
}

/// Errors a server function reports to the page, each with a sentence
/// meant for the user and an HTTP status (`status`), so that monitoring
/// and clients can tell a refusal from a fault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum ApiError {
    /// A value the server refuses (a name too long): 422; or a request it
    /// cannot read at all: 400.
    #[error("{0}")]
    Invalid(String),
    /// This device may not do that (a private chat, a member's try at a
    /// moderator's action): 403.
    #[error("{0}")]
    Forbidden(String),
    /// No such room, message or person (or none this device may see): 404.
    #[error("{0}")]
    NotFound(String),
    /// 429, with `Retry-After`.
    #[error("Too many changes. Please try again in {0} s.")]
    RateLimited(u64),
    /// A fault of the server's: 500.
    #[error("The server could not complete the request. Please try again.")]
    Internal,
    /// The chat's database cannot be reached now: 503.
    #[error("The chat cannot be reached right now. Please try again in a moment.")]
    Unavailable,
    /// The request could not be made or its answer read (in the browser);
    /// on the server, a request whose arguments could not be read: 400.
    #[error("The chat server could not be reached: {0}")]
    Transport(String),
}

impl ApiError {
    /// The HTTP status the server answers this error with.
    pub fn status(&self) -> u16 {
        match self {
            ApiError::Invalid(_) => 422,
            ApiError::Forbidden(_) => 403,
            ApiError::NotFound(_) => 404,
            ApiError::RateLimited(_) => 429,
            ApiError::Internal => 500,
            ApiError::Unavailable => 503,
            ApiError::Transport(_) => 400,
        }
    }
}

impl FromServerFnError for ApiError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        ApiError::Transport(value.to_string())
    }
}

#[server(endpoint = "set_name")]
pub async fn set_name(name: String) -> Result<Identity, ApiError> {
    let name =
        crate::validate::UserName::parse(&name).map_err(|e| ApiError::Invalid(e.to_string()))?;
    let (backend, device) = backend::current().await?;
    let from = backend::client_addr().await?;
    backend.set_name(device, from, name).await
}

#[server(endpoint = "older_messages")]
pub async fn older_messages(
    room: RoomId,
    before: MessageId,
    limit: u32,
) -> Result<Vec<ChatMessage>, ApiError> {
    let (backend, device) = backend::current().await?;
    let limit = limit.clamp(1, crate::protocol::HISTORY_MAX_LIMIT);
    backend.history(device, room, Some(before), limit).await
}

#[server(endpoint = "search")]
pub async fn search_messages(
    query: String,
    before: Option<MessageId>,
) -> Result<Vec<SearchHit>, ApiError> {
    let (backend, device) = backend::current().await?;
    if query.chars().count() > 200 {
        return Err(ApiError::Invalid(
            "Search for at most 200 characters.".into(),
        ));
    }
    backend.search(device, query, before).await
}

#[server(endpoint = "message_context")]
pub async fn message_context(id: MessageId) -> Result<Context, ApiError> {
    let (backend, device) = backend::current().await?;
    backend.context(device, id).await
}

#[server(endpoint = "create_room")]
pub async fn create_room(name: String) -> Result<RoomInfo, ApiError> {
    let name =
        crate::validate::RoomName::parse(&name).map_err(|e| ApiError::Invalid(e.to_string()))?;
    let (backend, device) = backend::current().await?;
    let from = backend::client_addr().await?;
    backend.create_room(device, from, name).await
}

#[server(endpoint = "rename_room")]
pub async fn rename_room(room: RoomId, name: String) -> Result<RoomInfo, ApiError> {
    let name =
        crate::validate::RoomName::parse(&name).map_err(|e| ApiError::Invalid(e.to_string()))?;
    let (backend, device) = backend::current().await?;
    backend.rename_room(device, room, name).await
}

#[server(endpoint = "archive_room")]
pub async fn archive_room(room: RoomId) -> Result<RoomInfo, ApiError> {
    let (backend, device) = backend::current().await?;
    backend.archive_room(device, room).await
}

#[server(endpoint = "push_settings")]
pub async fn notification_settings() -> Result<PushSettings, ApiError> {
    let (backend, device) = backend::current().await?;
    backend.push_settings(device).await
}

/// Stores this browser's push subscription (from `PushSubscription.toJSON()`)
/// for the device.
#[server(endpoint = "push_subscribe")]
pub async fn push_subscribe(
    endpoint: String,
    p256dh: String,
    auth: String,
) -> Result<PushSettings, ApiError> {
    let (backend, device) = backend::current().await?;
    backend.push_subscribe(device, endpoint, p256dh, auth).await
}

#[server(endpoint = "push_unsubscribe")]
pub async fn push_unsubscribe(endpoint: String) -> Result<PushSettings, ApiError> {
    let (backend, device) = backend::current().await?;
    backend.push_unsubscribe(device, endpoint).await
}

/// Sets the device's default mode (`room` absent) or one room's; a room
/// with no mode follows the default again.
#[server(endpoint = "set_push_mode")]
pub async fn set_push_mode(
    room: Option<RoomId>,
    mode: Option<PushMode>,
) -> Result<PushSettings, ApiError> {
    let (backend, device) = backend::current().await?;
    backend.set_push_mode(device, room, mode).await
}

/// Roles, members, invites and (for the owner) the moderation log.
#[server(endpoint = "admin")]
pub async fn admin_overview() -> Result<Admin, ApiError> {
    let (backend, device) = backend::current().await?;
    backend.admin(device).await
}

#[server(endpoint = "moderate", input = server_fn::codec::Json)]
pub async fn moderate(action: ModAction) -> Result<Admin, ApiError> {
    let (backend, device) = backend::current().await?;
    backend.moderate(device, action).await
}

/// A link that lets `max_uses` new devices in until it expires.
#[server(endpoint = "create_invite")]
pub async fn create_invite(expires_in_secs: u64, max_uses: u32) -> Result<NewInvite, ApiError> {
    let (backend, device) = backend::current().await?;
    let host = backend::host().await?;
    backend
        .create_invite(device, host, expires_in_secs, max_uses)
        .await
}

#[server(endpoint = "start_transfer")]
pub async fn start_transfer() -> Result<TransferLink, ApiError> {
    let (backend, device) = backend::current().await?;
    let host = backend::host().await?;
    backend.start_transfer(device, host).await
}

#[cfg(feature = "ssr")]
pub mod backend {
    use super::{
        Admin, ApiError, Context, ModAction, NewInvite, PushMode, PushSettings, SearchHit,
        TransferLink,
    };
    use crate::protocol::{ChatMessage, DeviceId, Identity, MessageId, RoomId, RoomInfo};
    use crate::validate::{RoomName, UserName};
    use futures::future::BoxFuture;
    use std::net::IpAddr;
    use std::sync::Arc;

    /// The client's address (behind a trusted proxy, the one it forwards),
    /// which the server puts in every request's extensions.
    #[derive(Debug, Clone, Copy)]
    pub struct ClientAddr(pub IpAddr);

    pub async fn client_addr() -> Result<IpAddr, ApiError> {
        let axum::Extension(ClientAddr(ip)) = leptos_axum::extract::<axum::Extension<ClientAddr>>()
            .await
            .map_err(|_| ApiError::Internal)?;
        Ok(ip)
    }

    /// The server's side of the server functions.
    pub trait ChatBackend: Send + Sync + 'static {
        /// `from`: the client's address; new identities are limited per
        /// address.
        fn set_name(
            &self,
            device: DeviceId,
            from: IpAddr,
            name: UserName,
        ) -> BoxFuture<'_, Result<Identity, ApiError>>;
        fn history(
            &self,
            device: DeviceId,
            room: RoomId,
            before: Option<MessageId>,
            limit: u32,
        ) -> BoxFuture<'_, Result<Vec<ChatMessage>, ApiError>>;
        fn search(
            &self,
            device: DeviceId,
            query: String,
            before: Option<MessageId>,
        ) -> BoxFuture<'_, Result<Vec<SearchHit>, ApiError>>;
        fn context(
            &self,
            device: DeviceId,
            id: MessageId,
        ) -> BoxFuture<'_, Result<Context, ApiError>>;
        fn create_room(
            &self,
            device: DeviceId,
            from: IpAddr,
            name: RoomName,
        ) -> BoxFuture<'_, Result<RoomInfo, ApiError>>;
        fn rename_room(
            &self,
            device: DeviceId,
            room: RoomId,
            name: RoomName,
        ) -> BoxFuture<'_, Result<RoomInfo, ApiError>>;
        fn archive_room(
            &self,
            device: DeviceId,
            room: RoomId,
        ) -> BoxFuture<'_, Result<RoomInfo, ApiError>>;
        fn push_settings(&self, device: DeviceId) -> BoxFuture<'_, Result<PushSettings, ApiError>>;
        fn admin(&self, device: DeviceId) -> BoxFuture<'_, Result<Admin, ApiError>>;
        fn moderate(
            &self,
            device: DeviceId,
            action: ModAction,
        ) -> BoxFuture<'_, Result<Admin, ApiError>>;
        fn create_invite(
            &self,
            device: DeviceId,
            host: String,
            expires_in_secs: u64,
            max_uses: u32,
        ) -> BoxFuture<'_, Result<NewInvite, ApiError>>;
        fn push_subscribe(
            &self,
            device: DeviceId,
            endpoint: String,
            p256dh: String,
            auth: String,
        ) -> BoxFuture<'_, Result<PushSettings, ApiError>>;
        fn push_unsubscribe(
            &self,
            device: DeviceId,
            endpoint: String,
        ) -> BoxFuture<'_, Result<PushSettings, ApiError>>;
        fn set_push_mode(
            &self,
            device: DeviceId,
            room: Option<RoomId>,
            mode: Option<PushMode>,
        ) -> BoxFuture<'_, Result<PushSettings, ApiError>>;
        /// A one-time link to this device's identity, for `host`.
        fn start_transfer(
            &self,
            device: DeviceId,
            host: String,
        ) -> BoxFuture<'_, Result<TransferLink, ApiError>>;
    }

    /// Context value the server provides to every render and server call.
    #[derive(Clone)]
    pub struct Backend(pub Arc<dyn ChatBackend>);

    /// The backend and the requesting device. The server's cookie
    /// middleware guarantees the `DeviceId` extension on every request.
    /// The address this browser used, for links back to the chat: `Host`
    /// in HTTP/1.1, the URI's authority in HTTP/2.
    pub async fn host() -> Result<String, ApiError> {
        let (headers, uri) = leptos_axum::extract::<(axum::http::HeaderMap, axum::http::Uri)>()
            .await
            .map_err(|_| ApiError::Internal)?;
        headers
            .get(axum::http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .or_else(|| uri.authority().map(|a| a.as_str()))
            .filter(|h| {
                !h.is_empty()
                    && h.chars()
                        .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
            })
            .map(str::to_owned)
            .ok_or_else(|| ApiError::Invalid("The request has no usable Host header.".into()))
    }

    pub async fn current() -> Result<(Backend, DeviceId), ApiError> {
        let backend = leptos::prelude::use_context::<Backend>().ok_or(ApiError::Internal)?;
        let axum::Extension(device) = leptos_axum::extract::<axum::Extension<DeviceId>>()
            .await
            .map_err(|_| ApiError::Internal)?;
        Ok((backend, device))
    }

    impl std::ops::Deref for Backend {
        type Target = dyn ChatBackend;
        fn deref(&self) -> &Self::Target {
            self.0.as_ref()
        }
    }
}
