//! The chat's operations over the store, the hub and presence, shared by
//! the WebSocket sessions, the HTTP routes and the server functions.

mod admin;
mod bots;
mod error;
mod members;

pub use bots::HookSink;
pub use error::{ChatError, Result};
pub use members::MAX_DIRECT;

use crate::base::now_ms;
use crate::bus::{Audience, Publish, Shared};
use crate::limits::Limits;
use crate::metrics::Metrics;
use crate::realtime::hub::Hub;
use crate::realtime::presence::Presence;
use crate::store::{Change, NewPost, PageReads, PostTicket, RoomKey, Store, StoreError};
use app::protocol::{
    ChatMessage, ClientMessageId, DeviceId, Identity, MessageId, RoomId, RoomInfo, RoomStatus, Seq,
    ServerEvent, UserId, HISTORY_PAGE,
};
use app::validate::{random_color, MessageText, RoomName, UserName};
use std::sync::Arc;
use std::time::Duration;

/// A message as a client sends it, checked and ready to store.
pub struct Draft {
    pub room: RoomId,
    pub client_id: ClientMessageId,
    pub text: MessageText,
    /// Users picked from the mention list.
    pub mentions: Vec<UserId>,
    /// The device's upload, already checked to be its own.
    pub attachment: Option<app::protocol::Attachment>,
    /// The message of the same room it answers.
    pub reply_to: Option<MessageId>,
}

#[derive(Clone)]
pub struct Chat {
    store: Arc<dyn Store>,
    hub: Arc<Hub>,
    presence: Arc<Presence>,
    limits: Arc<Limits>,
    metrics: Arc<Metrics>,
    access: Arc<crate::access::Access>,
    /// How long after sending an author may still edit, in ms.
    edit_window_ms: i64,
    /// The install's id, sent in `Welcome`.
    epoch: Arc<str>,
    /// Makes link preview cards, off the send path.
    unfurler: Option<Arc<crate::unfurl::Unfurler>>,
    /// Tells the bots' webhooks of messages that may concern them.
    hooks: Option<HookSink>,
}

impl Chat {
    pub fn new(
        store: Arc<dyn Store>,
        hub: Arc<Hub>,
        limits: Arc<Limits>,
        metrics: Arc<Metrics>,
        access: Arc<crate::access::Access>,
        edit_window: Duration,
        presence_grace: Duration,
    ) -> Self {
        let presence = Arc::new(Presence::new(hub.clone(), presence_grace));
        Self {
            store,
            hub,
            presence,
            limits,
            metrics,
            access,
            edit_window_ms: edit_window.as_millis() as i64,
            epoch: "".into(),
            unfurler: None,
            hooks: None,
        }
    }

    /// Sends messages that may concern a bot to its webhook from now on.
    pub fn with_hooks(mut self, hooks: HookSink) -> Self {
        self.hooks = Some(hooks);
        self
    }

    /// Adds preview cards to messages with links from now on.
    pub fn with_unfurler(mut self, unfurler: Arc<crate::unfurl::Unfurler>) -> Self {
        self.unfurler = Some(unfurler);
        self
    }

    /// Sets the install's id (see `ServerEvent::Welcome`).
    pub fn with_epoch(mut self, epoch: String) -> Self {
        self.epoch = epoch.into();
        self
    }

    pub fn epoch(&self) -> &str {
        &self.epoch
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

    pub fn presence(&self) -> &Arc<Presence> {
        &self.presence
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn access(&self) -> &Arc<crate::access::Access> {
        &self.access
    }

    /// The device's standing if it may use the chat, else why not.
    pub async fn admit(&self, device: DeviceId) -> Result<crate::store::Standing> {
        self.access.admit(device).await?.map_err(ChatError::Denied)
    }

    pub async fn identity(&self, device: DeviceId) -> Result<Option<Identity>> {
        Ok(self.store.identity(device).await?)
    }

    /// Names the device and tells all of its open tabs. A first name makes
    /// a new identity, which is limited per address (`from`): a new device
    /// costs nothing, so a per-device limit alone holds nobody back.
    pub async fn set_name(
        &self,
        device: DeviceId,
        from: std::net::IpAddr,
        name: UserName,
    ) -> Result<Identity> {
        self.limits
            .name_changes
            .check(&device)
            .map_err(ChatError::RateLimited)?;
        self.admit(device).await?;
        let first = self.store.identity(device).await?.is_none();
        if first {
            self.limits
                .new_identities
                .check(&crate::limits::address_key(from))
                .map_err(ChatError::RateLimited)?;
        }
        let color = random_color(&mut rand::rng());
        let me = self.store.set_name(device, name, color).await?;
        if first {
            self.access.note_newcomer(device);
        }
        self.hub.share(Shared::Publish(Publish::device(
            device,
            ServerEvent::Identity { me: me.clone() },
        )));
        self.presence.rename(device, &me);
        tracing::info!(user_id = me.user_id.0, "name set");
        Ok(me)
    }

    /// Queues a message (stored once per client id); the ticket resolves
    /// after the commit, by which time the store has published it.
    pub async fn submit(&self, device: DeviceId, draft: Draft) -> Result<PostTicket> {
        let room = draft.room;
        self.check_read(Some(device), room)?;
        if self.hub.is_closed(room) {
            let me = self.identity(device).await?.ok_or(StoreError::NoIdentity)?;
            if let Some(info) = self.check_direct_post(me.user_id, room).await? {
                // Before the message: its activity then counts as unread
                // in the lists it comes back to.
                if self.store.show_hidden(room).await? {
                    self.hub.share(Shared::Publish(Publish::room_info(info)));
                }
            }
        }
        let post = NewPost {
            device,
            room,
            client_id: draft.client_id,
            text: draft.text,
            mentions: draft.mentions,
            attachment: draft.attachment,
            reply_to: draft.reply_to,
            ts: now_ms(),
        };
        let ticket = self.store.submit(post).await?;
        if self.unfurler.is_none() && self.hooks.is_none() {
            return Ok(ticket);
        }
        let unfurler = self.unfurler.clone();
        let hooks = self.hooks.clone();
        let closed = self.hub.is_closed(room);
        // Cards and webhooks come after the commit, in the background: the
        // message is acknowledged and shown without waiting for either.
        Ok(Box::pin(async move {
            let posted = ticket.await?;
            if posted.fresh {
                let m = &posted.message;
                if let Some(unfurler) = unfurler {
                    unfurler.schedule(device, m);
                }
                if let Some(hooks) = hooks {
                    // A bot's own words never call a bot (no loops).
                    if !m.bot && (closed || !m.mentions.is_empty()) {
                        // A full queue: the webhooks are far behind; this
                        // one is dropped rather than the chat slowed.
                        let _ = hooks.tx.try_send(m.clone());
                    }
                }
            }
            Ok(posted)
        }))
    }

    /// Changes the text of one of the device's own messages, within the
    /// edit window.
    pub async fn edit(
        &self,
        device: DeviceId,
        id: MessageId,
        text: MessageText,
    ) -> Result<ChatMessage> {
        self.readable_message(device, id).await?;
        let change = Change::Edit {
            text,
            window_ms: self.edit_window_ms,
        };
        let edited = self.store.change(device, id, change, now_ms()).await?;
        if let Some(unfurler) = &self.unfurler {
            // A new first link gets its card.
            unfurler.schedule(device, &edited);
        }
        Ok(edited)
    }

    /// Takes the link preview off one of the device's own messages.
    pub async fn hide_preview(&self, device: DeviceId, id: MessageId) -> Result<ChatMessage> {
        self.readable_message(device, id).await?;
        Ok(self
            .store
            .change(device, id, Change::HidePreview, now_ms())
            .await?)
    }

    /// Deletes one of the device's own messages, text and all.
    pub async fn delete(&self, device: DeviceId, id: MessageId) -> Result<ChatMessage> {
        self.readable_message(device, id).await?;
        Ok(self
            .store
            .change(device, id, Change::Delete, now_ms())
            .await?)
    }

    pub async fn react(
        &self,
        device: DeviceId,
        id: MessageId,
        emoji: String,
        on: bool,
    ) -> Result<ChatMessage> {
        self.limits
            .reactions
            .check(&device)
            .map_err(ChatError::RateLimited)?;
        self.readable_message(device, id).await?;
        let change = Change::React { emoji, on };
        Ok(self.store.change(device, id, change, now_ms()).await?)
    }

    /// A page of a room `reader` may read (`None`: a reader without a
    /// device, who reads open rooms alone).
    pub async fn page_before(
        &self,
        reader: Option<DeviceId>,
        room: RoomId,
        before: Option<MessageId>,
        limit: u32,
    ) -> Result<Vec<ChatMessage>> {
        self.check_read(reader, room)?;
        Ok(self.store.page_before(room, before, limit).await?)
    }

    pub async fn changed_after(
        &self,
        reader: DeviceId,
        room: RoomId,
        after: Seq,
        limit: u32,
    ) -> Result<Vec<ChatMessage>> {
        self.check_read(Some(reader), room)?;
        Ok(self.store.changed_after(room, after, limit).await?)
    }

    /// An upload of this device's, to attach to a message.
    pub async fn upload(
        &self,
        device: DeviceId,
        id: String,
    ) -> Result<Option<app::protocol::Attachment>> {
        Ok(self.store.upload(device, id).await?)
    }

    /// Messages matching `query`, newest first, with their rooms and the
    /// matched words marked.
    pub async fn search(
        &self,
        device: DeviceId,
        query: String,
        before: Option<MessageId>,
    ) -> Result<Vec<app::api::SearchHit>> {
        self.limits
            .searches
            .check(&device)
            .map_err(ChatError::RateLimited)?;
        let found = self
            .store
            .search(query, before, app::api::SEARCH_PAGE)
            .await?;
        let mut rooms: std::collections::HashMap<RoomId, RoomInfo> = Default::default();
        let mut hits = Vec::with_capacity(found.len());
        // A closed room's hits go to its readers alone (a page may come
        // short: the next one goes on from its last message).
        for (message, marked) in found {
            if self.check_read(Some(device), message.room).is_err() {
                continue;
            }
            let room = match rooms.get(&message.room) {
                Some(room) => room.clone(),
                None => {
                    let Some(room) = self.store.room(RoomKey::Id(message.room)).await? else {
                        continue;
                    };
                    rooms.insert(room.id, room.clone());
                    room
                }
            };
            // Shown as words, as a notification is: the marks of what
            // matched are text to the Markdown reader and pass through.
            let words = app::rich::parse(&marked).map_or(marked, |b| app::rich::plain(&b));
            let parts = crate::store::search::parts(&words)
                .into_iter()
                .map(|(text, hit)| app::api::TextPart { text, hit })
                .collect();
            hits.push(app::api::SearchHit {
                message,
                room,
                parts,
            });
        }
        Ok(hits)
    }

    /// A message with the messages around it, for a search result.
    pub async fn context(&self, device: DeviceId, id: MessageId) -> Result<app::api::Context> {
        self.readable_message(device, id).await?;
        let (room, messages) = self.store.page_around(id, CONTEXT_HALF).await?;
        let room = self
            .store
            .room(RoomKey::Id(room))
            .await?
            .ok_or(StoreError::NotFound)?;
        Ok(app::api::Context { room, messages })
    }

    /// A message of `room` with the messages around it (its permalink);
    /// `None` if the room holds no such message. The caller has checked
    /// the room may be read.
    pub async fn page_around_in(
        &self,
        room: RoomId,
        id: MessageId,
    ) -> Result<Option<Vec<ChatMessage>>> {
        if self.store.message_room(id).await? != Some(room) {
            return Ok(None);
        }
        let (_, messages) = self.store.page_around(id, CONTEXT_HALF).await?;
        Ok(Some(messages))
    }

    /// What a room's page shows `device`, its newest messages or those
    /// around `focus`: refused (`Denied`) when the device may not use the
    /// chat, `None` when the room, or the message in it, is not one it
    /// may read.
    pub async fn page_view(
        &self,
        device: DeviceId,
        key: RoomKey,
        focus: Option<MessageId>,
    ) -> Result<Option<PageReads>> {
        let limit = if focus.is_some() { 0 } else { HISTORY_PAGE };
        let mut reads = self.store.page_reads(device, key, limit).await?;
        self.access
            .judge(device, reads.standing)
            .map_err(ChatError::Denied)?;
        let Some(room) = reads.room.as_ref().map(|r| r.id) else {
            return Ok(None);
        };
        if self.check_read(Some(device), room).is_err() {
            return Ok(None);
        }
        if let Some(id) = focus {
            match self.page_around_in(room, id).await? {
                Some(messages) => reads.messages = messages,
                None => return Ok(None),
            }
        }
        Ok(Some(reads))
    }

    pub async fn room_seq(&self, room: RoomId) -> Result<Seq> {
        Ok(self.store.room_seq(room).await?)
    }

    pub async fn room(&self, key: RoomKey) -> Result<Option<RoomInfo>> {
        Ok(self.store.room(key).await?)
    }

    /// The rooms with this device's unread figures.
    pub async fn room_statuses(&self, device: DeviceId) -> Result<Vec<RoomStatus>> {
        let me = self.store.identity(device).await?;
        Ok(self.store.room_statuses(me.map(|m| m.user_id)).await?)
    }

    /// Creates a room; limited per device and per address (`from`).
    pub async fn create_room(
        &self,
        device: DeviceId,
        from: std::net::IpAddr,
        name: RoomName,
    ) -> Result<RoomInfo> {
        self.room_change_allowed(device)?;
        self.limits
            .new_rooms
            .check(&crate::limits::address_key(from))
            .map_err(ChatError::RateLimited)?;
        Ok(self.store.create_room(device, name, now_ms()).await?)
    }

    pub async fn rename_room(
        &self,
        device: DeviceId,
        room: RoomId,
        name: RoomName,
    ) -> Result<RoomInfo> {
        self.room_change_allowed(device)?;
        self.check_read(Some(device), room)?;
        Ok(self.store.rename_room(device, room, name).await?)
    }

    pub async fn archive_room(&self, device: DeviceId, room: RoomId) -> Result<RoomInfo> {
        self.room_change_allowed(device)?;
        self.check_read(Some(device), room)?;
        Ok(self.store.archive_room(device, room).await?)
    }

    fn room_change_allowed(&self, device: DeviceId) -> Result<()> {
        self.limits
            .room_changes
            .check(&device)
            .map_err(ChatError::RateLimited)
    }

    pub async fn mark_read(&self, device: DeviceId, room: RoomId, seq: Seq) -> Result<RoomStatus> {
        self.check_read(Some(device), room)?;
        Ok(self.store.mark_read(device, room, seq).await?)
    }

    /// Tells everyone else in `room` that `who` is typing. Extra typing
    /// events past the limit are dropped: they only repeat the news.
    pub fn typing(&self, device: DeviceId, room: RoomId, who: Identity) {
        if self.limits.typing.check(&device).is_err()
            || self.check_read(Some(device), room).is_err()
        {
            return;
        }
        self.hub.share(Shared::Publish(Publish {
            audience: Audience::AllBut(device),
            room: Some(room),
            scope: Some(room),
            event: ServerEvent::Typing { room, user: who },
            activity: None,
        }));
    }

    /// A one-time token that hands this device's identity to another
    /// browser until `ttl` passes.
    pub async fn start_transfer(&self, device: DeviceId, ttl: Duration) -> Result<String> {
        self.limits
            .transfers
            .check(&device)
            .map_err(ChatError::RateLimited)?;
        // Only its hash is stored: the database alone hands over no one.
        let token = crate::access::token::new_token();
        let expires_at = now_ms() + ttl.as_millis() as i64;
        self.store
            .create_transfer(device, crate::access::token::hash(&token), expires_at)
            .await?;
        Ok(token)
    }

    /// Whose identity a transfer token carries (the device and its
    /// name), without using it up.
    pub async fn peek_transfer(&self, token: String) -> Result<Option<(DeviceId, Identity)>> {
        let hash = crate::access::token::hash(&token);
        let Some(device) = self.store.peek_transfer(hash, now_ms()).await? else {
            return Ok(None);
        };
        Ok(self.store.identity(device).await?.map(|me| (device, me)))
    }

    pub async fn claim_transfer(&self, token: String) -> Result<Option<DeviceId>> {
        let hash = crate::access::token::hash(&token);
        Ok(self.store.claim_transfer(hash, now_ms()).await?)
    }

    pub async fn checkpoint(&self) -> Result<()> {
        Ok(self.store.checkpoint().await?)
    }
}

/// Messages shown on each side of a search result.
const CONTEXT_HALF: u32 = 25;
