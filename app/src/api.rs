//! Request/response work as Leptos server functions. The functions only
//! parse and delegate: the server crate supplies the real work through the
//! [`ChatBackend`] it puts in context, which keeps SQL and the hub out of the
//! app crate.

use crate::protocol::{ChatMessage, Identity, MessageId, RoomId, RoomInfo, RoomStatus, Seq};
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

/// Errors a server function reports to the page. `Invalid` carries a
/// sentence meant for the user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Invalid(String),
    #[error("Too many changes. Please try again in {0} s.")]
    RateLimited(u64),
    #[error("The server could not complete the request. Please try again.")]
    Internal,
    #[error("The chat server could not be reached: {0}")]
    Transport(String),
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
    backend.set_name(device, name).await
}

#[server(endpoint = "older_messages")]
pub async fn older_messages(
    room: RoomId,
    before: MessageId,
    limit: u32,
) -> Result<Vec<ChatMessage>, ApiError> {
    let (backend, _) = backend::current().await?;
    let limit = limit.clamp(1, crate::protocol::HISTORY_MAX_LIMIT);
    backend.history(room, Some(before), limit).await
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
    let (backend, _) = backend::current().await?;
    backend.context(id).await
}

#[server(endpoint = "create_room")]
pub async fn create_room(name: String) -> Result<RoomInfo, ApiError> {
    let name =
        crate::validate::RoomName::parse(&name).map_err(|e| ApiError::Invalid(e.to_string()))?;
    let (backend, device) = backend::current().await?;
    backend.create_room(device, name).await
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

#[server(endpoint = "start_transfer")]
pub async fn start_transfer() -> Result<TransferLink, ApiError> {
    let (backend, device) = backend::current().await?;
    let (headers, uri) = leptos_axum::extract::<(axum::http::HeaderMap, axum::http::Uri)>()
        .await
        .map_err(|_| ApiError::Internal)?;
    // The link points back at the address this browser used: `Host` in
    // HTTP/1.1, the URI's authority in HTTP/2.
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| uri.authority().map(|a| a.as_str()))
        .filter(|h| {
            !h.is_empty()
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
        })
        .ok_or_else(|| ApiError::Invalid("The request has no usable Host header.".into()))?
        .to_owned();
    backend.start_transfer(device, host).await
}

#[cfg(feature = "ssr")]
pub mod backend {
    use super::{ApiError, Context, SearchHit, TransferLink};
    use crate::protocol::{ChatMessage, DeviceId, Identity, MessageId, RoomId, RoomInfo};
    use crate::validate::{RoomName, UserName};
    use futures::future::BoxFuture;
    use std::sync::Arc;

    /// The server's side of the server functions.
    pub trait ChatBackend: Send + Sync + 'static {
        fn set_name(
            &self,
            device: DeviceId,
            name: UserName,
        ) -> BoxFuture<'_, Result<Identity, ApiError>>;
        fn history(
            &self,
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
        fn context(&self, id: MessageId) -> BoxFuture<'_, Result<Context, ApiError>>;
        fn create_room(
            &self,
            device: DeviceId,
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
