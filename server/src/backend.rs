//! The server functions' view of the server: `ChatBackend` over the chat
//! and the configuration.

use crate::chat::{Chat, ChatError};
use crate::config::Settings;
use crate::qr;
use crate::store::StoreError;
use app::api::backend::ChatBackend;
use app::api::{ApiError, Context, SearchHit, TransferLink};
use app::protocol::{ChatMessage, DeviceId, Identity, MessageId, RoomId, RoomInfo};
use app::validate::{RoomName, UserName};
use futures::future::BoxFuture;
use std::sync::Arc;
use std::time::Duration;

pub struct ServerBackend {
    pub chat: Chat,
    pub settings: Arc<Settings>,
}

/// The one place a chat error becomes what a server function reports:
/// refusals in words for the user, anything else logged and generic.
fn internal(e: ChatError) -> ApiError {
    let refused = |text: &str| ApiError::Invalid(text.to_owned());
    match e {
        ChatError::RateLimited(wait) => ApiError::RateLimited(wait.as_secs().max(1)),
        ChatError::Store(StoreError::NoIdentity) => refused("Choose a name first."),
        ChatError::Store(StoreError::NotFound) => refused("There is no such room."),
        ChatError::Store(StoreError::NameTaken) => refused("A room with that name already exists."),
        ChatError::Store(StoreError::Archived) => refused("This room is archived."),
        ChatError::Store(StoreError::DefaultRoom) => refused("The main room cannot be archived."),
        e => {
            tracing::error!(error = %e, "server function failed");
            ApiError::Internal
        }
    }
}

impl ChatBackend for ServerBackend {
    fn set_name(
        &self,
        device: DeviceId,
        name: UserName,
    ) -> BoxFuture<'_, Result<Identity, ApiError>> {
        Box::pin(async move { self.chat.set_name(device, name).await.map_err(internal) })
    }

    fn history(
        &self,
        room: RoomId,
        before: Option<MessageId>,
        limit: u32,
    ) -> BoxFuture<'_, Result<Vec<ChatMessage>, ApiError>> {
        Box::pin(async move {
            self.chat
                .page_before(room, before, limit)
                .await
                .map_err(internal)
        })
    }

    fn create_room(
        &self,
        device: DeviceId,
        name: RoomName,
    ) -> BoxFuture<'_, Result<RoomInfo, ApiError>> {
        Box::pin(async move { self.chat.create_room(device, name).await.map_err(internal) })
    }

    fn search(
        &self,
        device: DeviceId,
        query: String,
        before: Option<MessageId>,
    ) -> BoxFuture<'_, Result<Vec<SearchHit>, ApiError>> {
        Box::pin(async move {
            self.chat
                .search(device, query, before)
                .await
                .map_err(internal)
        })
    }

    fn context(&self, id: MessageId) -> BoxFuture<'_, Result<Context, ApiError>> {
        Box::pin(async move { self.chat.context(id).await.map_err(internal) })
    }

    fn rename_room(
        &self,
        device: DeviceId,
        room: RoomId,
        name: RoomName,
    ) -> BoxFuture<'_, Result<RoomInfo, ApiError>> {
        Box::pin(async move {
            self.chat
                .rename_room(device, room, name)
                .await
                .map_err(internal)
        })
    }

    fn archive_room(
        &self,
        device: DeviceId,
        room: RoomId,
    ) -> BoxFuture<'_, Result<RoomInfo, ApiError>> {
        Box::pin(async move { self.chat.archive_room(device, room).await.map_err(internal) })
    }

    fn start_transfer(
        &self,
        device: DeviceId,
        host: String,
    ) -> BoxFuture<'_, Result<TransferLink, ApiError>> {
        Box::pin(async move {
            if self
                .chat
                .identity(device)
                .await
                .map_err(internal)?
                .is_none()
            {
                return Err(ApiError::Invalid("Choose a name first.".into()));
            }
            let ttl = Duration::from_secs(self.settings.transfer_ttl_secs);
            let token = self
                .chat
                .start_transfer(device, ttl)
                .await
                .map_err(internal)?;
            let scheme = if self.settings.cookie_secure() {
                "https"
            } else {
                "http"
            };
            let url = format!("{scheme}://{host}/claim/{token}");
            let qr_svg = qr::qr_svg(&url).map_err(|e| {
                tracing::error!(error = %e, "could not draw the QR code");
                ApiError::Internal
            })?;
            Ok(TransferLink {
                url,
                qr_svg,
                expires_in_secs: ttl.as_secs(),
            })
        })
    }
}
