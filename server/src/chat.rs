//! The chat's operations over the store and the hub, shared by the
//! WebSocket sessions, the HTTP routes and the server functions.

use crate::hub::{Audience, Hub};
use crate::limits::Limits;
use crate::metrics::Metrics;
use crate::store::{NewPost, PostTicket, Store, StoreError};
use app::protocol::{ChatMessage, ClientMessageId, DeviceId, Identity, MessageId, ServerEvent};
use app::validate::{random_color, MessageText, UserName};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("rate limited for {0:?}")]
    RateLimited(std::time::Duration),
}

pub type Result<T> = std::result::Result<T, ChatError>;

#[derive(Clone)]
pub struct Chat {
    store: Arc<dyn Store>,
    hub: Arc<Hub>,
    limits: Arc<Limits>,
    metrics: Arc<Metrics>,
}

impl Chat {
    pub fn new(
        store: Arc<dyn Store>,
        hub: Arc<Hub>,
        limits: Arc<Limits>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            store,
            hub,
            limits,
            metrics,
        }
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    pub fn hub(&self) -> &Hub {
        &self.hub
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    pub async fn identity(&self, device: DeviceId) -> Result<Option<Identity>> {
        Ok(self.store.identity(device).await?)
    }

    /// Names the device and tells all of its open tabs.
    pub async fn set_name(&self, device: DeviceId, name: UserName) -> Result<Identity> {
        self.limits
            .name_changes
            .check(&device)
            .map_err(ChatError::RateLimited)?;
        let color = random_color(&mut rand::rng());
        let me = self.store.set_name(device, name, color).await?;
        self.hub.publish(
            Audience::Device(device),
            &ServerEvent::Identity { me: me.clone() },
        );
        tracing::info!(user_id = me.user_id.0, "name set");
        Ok(me)
    }

    /// Queues a message (stored once per client id); the ticket resolves
    /// after the commit, by which time the store has published it to
    /// everyone in id order.
    pub async fn submit(
        &self,
        device: DeviceId,
        client_id: ClientMessageId,
        text: MessageText,
    ) -> Result<PostTicket> {
        let post = NewPost {
            device,
            client_id,
            text,
            ts: now_ms(),
        };
        Ok(self.store.submit(post).await?)
    }

    pub async fn page_before(
        &self,
        before: Option<MessageId>,
        limit: u32,
    ) -> Result<Vec<ChatMessage>> {
        Ok(self.store.page_before(before, limit).await?)
    }

    pub async fn page_after(&self, after: MessageId, limit: u32) -> Result<Vec<ChatMessage>> {
        Ok(self.store.page_after(after, limit).await?)
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
        self.store
            .create_transfer(device, token.clone(), expires_at)
            .await?;
        Ok(token)
    }

    pub async fn claim_transfer(&self, token: String) -> Result<Option<DeviceId>> {
        Ok(self.store.claim_transfer(token, now_ms()).await?)
    }

    pub async fn checkpoint(&self) -> Result<()> {
        Ok(self.store.checkpoint().await?)
    }
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
