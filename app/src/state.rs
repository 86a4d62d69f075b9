//! The page's shared state, one context struct that every component reads.
//! Applying server events is plain logic here so it behaves the same during
//! server rendering, hydration and live traffic.

use crate::protocol::{
    ChatMessage, ClientEvent, ClientMessageId, ErrorCode, Identity, MessageId, ServerEvent,
};
use futures::channel::mpsc::UnboundedSender;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connection {
    Connecting,
    Online,
    /// Waiting to retry; the number is the seconds until the next try.
    Offline(u32),
}

/// Where one of this device's own messages stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Delivery {
    /// Sent (or waiting to be sent) and not yet acknowledged.
    Pending,
    /// Refused by the server, with its reason.
    Failed(String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutgoingMessage {
    pub client_id: ClientMessageId,
    pub text: String,
    pub delivery: Delivery,
    /// When it last went out on a socket (ms since the epoch); 0 = not yet.
    #[serde(default)]
    pub sent_at: f64,
}

#[derive(Clone, Copy)]
pub struct ChatState {
    /// Confirmed messages keyed by server id: the map gives id order and
    /// makes a message delivered twice (SSR + catch-up) show once.
    pub messages: RwSignal<BTreeMap<MessageId, ChatMessage>>,
    pub me: RwSignal<Option<Identity>>,
    /// The server said this device has no name yet.
    pub needs_name: RwSignal<bool>,
    /// The user asked to change their name.
    pub renaming: RwSignal<bool>,
    /// The "use on another device" dialog is open.
    pub linking: RwSignal<bool>,
    pub outbox: RwSignal<Vec<OutgoingMessage>>,
    pub connection: RwSignal<Connection>,
    /// A problem not tied to one message, shown in the status bar.
    pub notice: RwSignal<Option<String>>,
    /// Whether older history may exist before the first loaded message.
    pub more_history: RwSignal<bool>,
    /// False during server rendering and hydration, true once the page is
    /// interactive; controls that need the WASM wait for it.
    pub hydrated: RwSignal<bool>,
    /// The page is in the background (another tab, app switched away).
    pub hidden: RwSignal<bool>,
    /// Messages from others that arrived while the page was hidden.
    pub unread: RwSignal<u32>,
    /// Newest id received through the ordered stream (snapshot, catch-up,
    /// live). Acks do not move it: an ack can overtake broadcasts still in
    /// flight, and resuming after it would skip them.
    cursor: StoredValue<Option<MessageId>>,
    sender: StoredValue<Option<UnboundedSender<ClientEvent>>>,
}

impl ChatState {
    pub fn new() -> Self {
        Self {
            messages: RwSignal::new(BTreeMap::new()),
            me: RwSignal::new(None),
            needs_name: RwSignal::new(false),
            renaming: RwSignal::new(false),
            linking: RwSignal::new(false),
            outbox: RwSignal::new(Vec::new()),
            connection: RwSignal::new(Connection::Connecting),
            notice: RwSignal::new(None),
            more_history: RwSignal::new(false),
            hydrated: RwSignal::new(false),
            hidden: RwSignal::new(false),
            unread: RwSignal::new(0),
            cursor: StoredValue::new(None),
            sender: StoredValue::new(None),
        }
    }

    /// Adds messages for display (older pages, acks) without moving the
    /// catch-up cursor.
    pub fn merge(&self, batch: impl IntoIterator<Item = ChatMessage>) {
        self.messages.update(|map| {
            for m in batch {
                map.insert(m.id, m);
            }
        });
    }

    /// Adds messages that arrived in order with nothing missing before
    /// them: the latest page of history, catch-up or live traffic.
    pub fn merge_stream(&self, batch: Vec<ChatMessage>) {
        if let Some(newest) = batch.iter().map(|m| m.id).max() {
            self.cursor
                .update_value(|c| *c = Some(c.map_or(newest, |c| c.max(newest))));
        }
        self.merge(batch);
    }

    /// Where the server should resume the stream after a reconnect.
    pub fn last_seen(&self) -> Option<MessageId> {
        self.cursor.get_value()
    }

    pub fn oldest(&self) -> Option<MessageId> {
        self.messages
            .with_untracked(|m| m.first_key_value().map(|(id, _)| *id))
    }

    pub fn set_identity(&self, me: Identity) {
        self.me.set(Some(me));
        self.needs_name.set(false);
        self.renaming.set(false);
    }

    /// Can the composer take a message? Offline is fine: the outbox keeps
    /// it until the connection returns.
    pub fn can_post(&self) -> bool {
        self.hydrated.get() && self.me.get().is_some()
    }

    /// Queues a message; it is sent now when connected and resent on every
    /// reconnect until the server acknowledges it.
    pub fn post(&self, text: String) {
        let item = OutgoingMessage {
            client_id: ClientMessageId::new_random(),
            text,
            delivery: Delivery::Pending,
            sent_at: 0.0,
        };
        self.transmit(&item);
        self.outbox.update(|o| o.push(item));
    }

    /// Sends a failed message again under its original client id.
    pub fn retry(&self, client_id: ClientMessageId) {
        let mut again = None;
        self.outbox.update(|o| {
            if let Some(item) = o.iter_mut().find(|i| i.client_id == client_id) {
                item.delivery = Delivery::Pending;
                item.sent_at = 0.0;
                again = Some(item.clone());
            }
        });
        if let Some(item) = again {
            self.transmit(&item);
        }
    }

    fn transmit(&self, item: &OutgoingMessage) {
        let event = ClientEvent::Send {
            client_id: item.client_id,
            text: item.text.clone(),
        };
        self.sender.with_value(|s| {
            if let Some(tx) = s {
                // A closed channel means the socket just died; the outbox
                // keeps the message for the next connection.
                let _ = tx.unbounded_send(event);
            }
        });
    }

    pub fn attach(&self, tx: Option<UnboundedSender<ClientEvent>>) {
        self.sender.set_value(tx);
    }

    /// Resends everything still pending, oldest first.
    pub fn flush_outbox(&self) {
        for item in self.outbox.get_untracked() {
            if item.delivery == Delivery::Pending {
                self.transmit(&item);
            }
        }
    }

    /// Records that a message went out on the socket at `now`.
    pub fn mark_sent(&self, client_id: ClientMessageId, now: f64) {
        self.outbox.update(|o| {
            if let Some(item) = o.iter_mut().find(|i| i.client_id == client_id) {
                item.sent_at = now;
            }
        });
    }

    /// Marks as failed what went out before `deadline` and is still not
    /// acknowledged, so the user sees it and can retry.
    pub fn expire_unacked(&self, deadline: f64) {
        let stale = |i: &OutgoingMessage| {
            i.delivery == Delivery::Pending && i.sent_at > 0.0 && i.sent_at < deadline
        };
        if !self.outbox.with_untracked(|o| o.iter().any(stale)) {
            return;
        }
        self.outbox.update(|o| {
            for item in o.iter_mut().filter(|i| stale(i)) {
                item.delivery = Delivery::Failed("Not confirmed by the server. Retry?".to_owned());
            }
        });
    }

    /// Applies one event from the server.
    pub fn apply(&self, event: ServerEvent) {
        match event {
            ServerEvent::Welcome { me } => {
                match me {
                    Some(me) => self.set_identity(me),
                    None => {
                        self.me.set(None);
                        self.needs_name.set(true);
                    }
                }
                self.notice.set(None);
            }
            ServerEvent::Identity { me } => self.set_identity(me),
            ServerEvent::Message { message } => {
                let fresh = !self
                    .messages
                    .with_untracked(|m| m.contains_key(&message.id));
                let mine = self.me.with_untracked(|me| {
                    me.as_ref().is_some_and(|me| me.user_id == message.user_id)
                });
                if fresh && !mine && self.hidden.get_untracked() {
                    self.unread.update(|n| *n += 1);
                }
                self.merge_stream(vec![message]);
            }
            ServerEvent::Resync { messages } => {
                self.more_history
                    .set(messages.len() as u32 >= crate::protocol::HISTORY_PAGE);
                self.cursor.set_value(messages.iter().map(|m| m.id).max());
                self.messages
                    .set(messages.into_iter().map(|m| (m.id, m)).collect());
            }
            ServerEvent::Ack { client_id, message } => {
                self.merge([message]);
                self.outbox
                    .update(|o| o.retain(|i| i.client_id != client_id));
            }
            ServerEvent::Error {
                code: ErrorCode::RateLimited,
                message,
                client_id,
                retry_after_ms,
            } => {
                // Not a failure: the message stays pending and goes again
                // when the server allows.
                self.notice.set(Some(message));
                if let Some(client_id) = client_id {
                    let state = *self;
                    let wait = std::time::Duration::from_millis(retry_after_ms.unwrap_or(1000));
                    set_timeout(
                        move || {
                            state.notice.set(None);
                            state.retry(client_id);
                        },
                        wait,
                    );
                }
            }
            ServerEvent::Error {
                message,
                client_id: Some(client_id),
                ..
            } => self.outbox.update(|o| {
                if let Some(item) = o.iter_mut().find(|i| i.client_id == client_id) {
                    item.delivery = Delivery::Failed(message);
                }
            }),
            ServerEvent::Error {
                code: ErrorCode::NameRequired,
                message,
                ..
            } => {
                self.needs_name.set(true);
                self.notice.set(Some(message));
            }
            ServerEvent::Error { message, .. } => self.notice.set(Some(message)),
            ServerEvent::Pong { .. } => {}
        }
    }
}

impl Default for ChatState {
    fn default() -> Self {
        Self::new()
    }
}
