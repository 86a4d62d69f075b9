//! The server functions' view of the server: `ChatBackend` over the chat
//! and the configuration.

use crate::chat::{Chat, ChatError};
use crate::config::Settings;
use crate::qr;
use app::api::backend::ChatBackend;
use app::api::{ApiError, TransferLink};
use app::protocol::{ChatMessage, DeviceId, Identity, MessageId};
use app::validate::UserName;
use futures::future::BoxFuture;
use std::sync::Arc;
use std::time::Duration;

pub struct ServerBackend {
    pub chat: Chat,
    pub settings: Arc<Settings>,
}

fn internal(e: ChatError) -> ApiError {
    if let ChatError::RateLimited(wait) = e {
        return ApiError::RateLimited(wait.as_secs().max(1));
    }
    tracing::error!(error = %e, "server function failed");
    ApiError::Internal
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
        before: Option<MessageId>,
        limit: u32,
    ) -> BoxFuture<'_, Result<Vec<ChatMessage>, ApiError>> {
        Box::pin(async move { self.chat.page_before(before, limit).await.map_err(internal) })
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
