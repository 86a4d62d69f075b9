//! The chat's operations over the store and the hub, shared by the
//! WebSocket sessions, the HTTP routes and the server functions.

use crate::hub::{Audience, Hub};
use crate::limits::Limits;
use crate::store::{Posted, Store, StoreError};
use app::protocol::{ChatMessage, ClientMessageId, DeviceId, Identity, MessageId, ServerEvent};
use app::validate::{random_color, MessageText, UserName};
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

    /// A one-time token that hands this device's identity to another
    /// browser until `ttl` passes.
    pub async fn start_transfer(
        &self,
        device: DeviceId,
        ttl: std::time::Duration,
    ) -> Result<String> {
        self.limits
            .transfers
            .check(&device)
            .map_err(ChatError::RateLimited)?;
        let token = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        let expires_at = now_ms() + ttl.as_millis() as i64;
        let stored = token.clone();
        self.blocking(move |s, _| s.create_transfer(&device, &stored, expires_at))
            .await?;
        Ok(token)
    }

    pub async fn claim_transfer(&self, token: String) -> Result<Option<DeviceId>> {
        self.blocking(move |s, _| s.claim_transfer(&token, now_ms()))
            .await
    }

    pub async fn checkpoint(&self) -> Result<()> {
        self.blocking(|s, _| s.checkpoint()).await
    }
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
