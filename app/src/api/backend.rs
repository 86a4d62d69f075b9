//! The server's side of the server functions: the port the server
//! implements, and what it puts in every request for them.

use super::records::{
    Admin, BotAction, Bots, Context, ModAction, NewInvite, PeoplePage, PushMode, PushSettings,
    RoomAction, RoomPeople, SearchHit, TransferLink,
};
use super::ApiError;
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
    fn context(&self, device: DeviceId, id: MessageId) -> BoxFuture<'_, Result<Context, ApiError>>;
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
    fn bots(&self, device: DeviceId, action: BotAction) -> BoxFuture<'_, Result<Bots, ApiError>>;
    /// A page of who has `room` open, by name.
    fn people_here(
        &self,
        device: DeviceId,
        room: RoomId,
        offset: u32,
    ) -> BoxFuture<'_, Result<PeoplePage, ApiError>>;
    fn moderate(
        &self,
        device: DeviceId,
        action: ModAction,
    ) -> BoxFuture<'_, Result<Admin, ApiError>>;
    /// The room the action made or changed, if any.
    fn room_action(
        &self,
        device: DeviceId,
        action: RoomAction,
    ) -> BoxFuture<'_, Result<Option<RoomInfo>, ApiError>>;
    fn room_people(
        &self,
        device: DeviceId,
        room: Option<RoomId>,
    ) -> BoxFuture<'_, Result<RoomPeople, ApiError>>;
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

/// The address this browser used, for links back to the chat, which the
/// server puts in every request's extensions (checked to be a plain
/// host and port).
#[derive(Debug, Clone)]
pub struct RequestHost(pub Option<String>);

pub async fn host() -> Result<String, ApiError> {
    let axum::Extension(RequestHost(host)) = leptos_axum::extract::<axum::Extension<RequestHost>>()
        .await
        .map_err(|_| ApiError::Internal)?;
    host.ok_or_else(|| ApiError::Transport("The request has no usable Host header.".into()))
}

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
