//! The chat's operations over the store and the hub, shared by the
//! WebSocket sessions, the HTTP routes and the server functions.

use crate::hub::{Audience, Hub};
use crate::limits::Limits;
use crate::store::{Posted, Store, StoreError};
use app::api::backend::ChatBackend;
use app::api::{ApiError, ChatSnapshot};
use app::protocol::{
    ChatMessage, ClientMessageId, DeviceId, Identity, MessageId, ServerEvent, HISTORY_PAGE,
};
use app::validate::{random_color, MessageText, UserName};
use futures::future::BoxFuture;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("storage task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    #[error("rate limited for {0:?}")]
    RateLimited(std::time::Duration),
}

pub type Result<T> = std::result::Result<T, ChatError>;

#[derive(Clone)]
pub struct Chat {
    store: Arc<Store>,
    hub: Arc<Hub>,
    limits: Arc<Limits>,
}

impl Chat {
    pub fn new(store: Arc<Store>, hub: Arc<Hub>, limits: Arc<Limits>) -> Self {
        Self { store, hub, limits }
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    pub fn hub(&self) -> &Hub {
        &self.hub
    }

    /// Runs blocking SQLite work off the async threads.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Store, &Hub) -> std::result::Result<T, StoreError> + Send + 'static,
    ) -> Result<T> {
        let store = self.store.clone();
        let hub = self.hub.clone();
        Ok(tokio::task::spawn_blocking(move || work(&store, &hub)).await??)
    }

    pub async fn identity(&self, device: DeviceId) -> Result<Option<Identity>> {
        self.blocking(move |s, _| s.identity(&device)).await
    }

    /// Names the device and tells all of its open tabs.
    pub async fn set_name(&self, device: DeviceId, name: UserName) -> Result<Identity> {
        self.limits
            .name_changes
            .check(&device)
            .map_err(ChatError::RateLimited)?;
        let color = random_color(&mut rand::rng());
        let me = self
            .blocking(move |s, _| s.set_name(&device, &name, &color, now_ms()))
            .await?;
        self.hub.publish(
            Audience::Device(device),
            &ServerEvent::Identity { me: me.clone() },
        );
        tracing::info!(user_id = me.user_id.0, "name set");
        Ok(me)
    }

    /// Stores a message (once per client id) and broadcasts it if new. The
    /// broadcast happens under the store's write lock, so every connection
    /// receives messages in id order.
    pub async fn post(
        &self,
        device: DeviceId,
        client_id: ClientMessageId,
        text: MessageText,
    ) -> Result<Posted> {
        self.blocking(move |s, hub| {
            s.post(&device, client_id, &text, now_ms(), |posted| {
                if posted.fresh {
                    hub.publish(
                        Audience::Everyone,
                        &ServerEvent::Message {
                            message: posted.message.clone(),
                        },
                    );
                }
            })
        })
        .await
    }

    pub async fn page_before(
        &self,
        before: Option<MessageId>,
        limit: u32,
    ) -> Result<Vec<ChatMessage>> {
        self.blocking(move |s, _| s.page_before(before, limit))
            .await
    }

    pub async fn page_after(&self, after: MessageId, limit: u32) -> Result<Vec<ChatMessage>> {
        self.blocking(move |s, _| s.page_after(after, limit)).await
    }

    pub async fn checkpoint(&self) -> Result<()> {
        self.blocking(|s, _| s.checkpoint()).await
    }
}

fn internal(e: ChatError) -> ApiError {
    if let ChatError::RateLimited(wait) = e {
        return ApiError::RateLimited(wait.as_secs().max(1));
    }
    tracing::error!(error = %e, "server function failed");
    ApiError::Internal
}

impl ChatBackend for Chat {
    fn snapshot(
        &self,
        device: DeviceId,
    ) -> BoxFuture<'_, std::result::Result<ChatSnapshot, ApiError>> {
        Box::pin(async move {
            let me = self.identity(device).await.map_err(internal)?;
            let messages = self
                .page_before(None, HISTORY_PAGE)
                .await
                .map_err(internal)?;
            Ok(ChatSnapshot { me, messages })
        })
    }

    fn set_name(
        &self,
        device: DeviceId,
        name: UserName,
    ) -> BoxFuture<'_, std::result::Result<Identity, ApiError>> {
        Box::pin(async move { Chat::set_name(self, device, name).await.map_err(internal) })
    }

    fn history(
        &self,
        before: Option<MessageId>,
        limit: u32,
    ) -> BoxFuture<'_, std::result::Result<Vec<ChatMessage>, ApiError>> {
        Box::pin(async move { self.page_before(before, limit).await.map_err(internal) })
    }
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
