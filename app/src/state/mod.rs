//! The page's shared state, one context struct that every component reads.
//! Applying server events is plain logic here so it behaves the same during
//! server rendering, hydration and live traffic.

use crate::protocol::{
    ChatMessage, ClientEvent, ClientMessageId, ErrorCode, Identity, MessageId, ServerEvent,
    HISTORY_PAGE,
};
use futures::channel::mpsc::UnboundedSender;
use leptos::html;
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

/// What the page last knew, kept in browser storage so that the offline
/// app shell (cached when it was first installed) shows the latest
/// identity and messages rather than the ones it was cached with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub me: Option<Identity>,
    /// The newest messages up to `cursor`, with none missing between them.
    pub messages: Vec<ChatMessage>,
    pub cursor: Option<MessageId>,
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
    /// The latest live message from someone else, for screen readers
    /// (history loading in bulk is not announced).
    pub announcement: RwSignal<String>,
    /// Why the name form was refused, shown under it.
    pub name_error: RwSignal<Option<String>>,
    /// The message box, focused after joining.
    pub composer: NodeRef<html::Textarea>,
    /// Newest id received through the ordered stream (snapshot, catch-up,
    /// live). Acks do not move it: an ack can overtake broadcasts still in
    /// flight, and resuming after it would skip them.
    cursor: StoredValue<Option<MessageId>>,
    sender: StoredValue<Option<UnboundedSender<ClientEvent>>>,
    /// The one message on the wire and not yet answered. One at a time, so
    /// the server stores a device's messages in the order they were
    /// written, even when some are held back by the rate limit.
    in_flight: StoredValue<Option<ClientMessageId>>,
    /// Waiting out a rate limit: nothing goes out until it ends.
    paused: StoredValue<bool>,
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
            announcement: RwSignal::new(String::new()),
            name_error: RwSignal::new(None),
            composer: NodeRef::new(),
            cursor: StoredValue::new(None),
            sender: StoredValue::new(None),
            in_flight: StoredValue::new(None),
            paused: StoredValue::new(false),
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

    /// Replaces everything shown with the latest page, as after a gap too
    /// long to replay.
    fn replace_with(&self, messages: Vec<ChatMessage>) {
        self.more_history.set(messages.len() as u32 >= HISTORY_PAGE);
        self.cursor.set_value(messages.iter().map(|m| m.id).max());
        self.messages
            .set(messages.into_iter().map(|m| (m.id, m)).collect());
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

    /// What to keep in browser storage for the offline shell.
    pub fn snapshot(&self) -> Snapshot {
        let cursor = self.cursor.get_value();
        let messages = self.messages.with(|map| {
            let mut upto: Vec<ChatMessage> = map
                .values()
                .rev()
                .filter(|m| cursor.is_some_and(|c| m.id <= c))
                .take(HISTORY_PAGE as usize)
                .cloned()
                .collect();
            upto.reverse();
            upto
        });
        Snapshot {
            me: self.me.get(),
            messages,
            cursor,
        }
    }

    /// Brings in a stored snapshot that is newer than what the page was
    /// rendered with (an app shell cached earlier, opened offline).
    pub fn restore(&self, saved: Snapshot) {
        if saved.cursor > self.cursor.get_value() {
            let newest_here = self
                .messages
                .with_untracked(|m| m.last_key_value().map(|(id, _)| *id));
            let overlaps = saved
                .messages
                .first()
                .is_some_and(|m| newest_here.is_some_and(|n| m.id <= n));
            if overlaps {
                self.merge_stream(saved.messages);
            } else {
                // A gap between the two: show the newer page alone, as a
                // resync would; older history loads on scroll.
                self.replace_with(saved.messages);
                self.more_history.set(true);
            }
        }
        if self.me.get_untracked().is_none() {
            if let Some(me) = saved.me {
                self.set_identity(me);
            }
        }
    }

    /// Queues a message; it goes out when the ones before it are answered,
    /// and again on every reconnect until the server acknowledges it.
    pub fn post(&self, text: String) {
        self.outbox.update(|o| {
            o.push(OutgoingMessage {
                client_id: ClientMessageId::new_random(),
                text,
                delivery: Delivery::Pending,
                sent_at: 0.0,
            })
        });
        self.pump();
    }

    /// Sends a failed message again under its original client id.
    pub fn retry(&self, client_id: ClientMessageId) {
        self.outbox.update(|o| {
            if let Some(item) = o.iter_mut().find(|i| i.client_id == client_id) {
                item.delivery = Delivery::Pending;
                item.sent_at = 0.0;
            }
        });
        self.pump();
    }

    /// Sends the oldest pending message if the socket is free.
    fn pump(&self) {
        if self.in_flight.get_value().is_some() || self.paused.get_value() {
            return;
        }
        let Some(item) = self
            .outbox
            .with_untracked(|o| o.iter().find(|i| i.delivery == Delivery::Pending).cloned())
        else {
            return;
        };
        let event = ClientEvent::Send {
            client_id: item.client_id,
            text: item.text,
        };
        let sent = self.sender.with_value(|s| {
            // A closed channel means the socket just died; the outbox
            // keeps the message for the next connection.
            s.as_ref()
                .is_some_and(|tx| tx.unbounded_send(event).is_ok())
        });
        if sent {
            self.in_flight.set_value(Some(item.client_id));
        }
    }

    /// The server answered `client_id`: the next one may go.
    fn answered(&self, client_id: ClientMessageId) {
        if self.in_flight.get_value() == Some(client_id) {
            self.in_flight.set_value(None);
        }
        self.pump();
    }

    /// A socket was opened (`Some`) or lost (`None`). Whatever was in
    /// flight on a lost socket goes again on the next one; the client id
    /// makes that safe.
    pub fn attach(&self, tx: Option<UnboundedSender<ClientEvent>>) {
        self.sender.set_value(tx);
        self.in_flight.set_value(None);
    }

    /// Starts sending what is pending, oldest first.
    pub fn flush_outbox(&self) {
        self.pump();
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
        self.in_flight.set_value(None);
        self.pump();
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
                if fresh && !mine {
                    if self.hidden.get_untracked() {
                        self.unread.update(|n| *n += 1);
                    }
                    self.announcement
                        .set(format!("{}: {}", message.user_name, message.msg));
                }
                self.merge_stream(vec![message]);
            }
            ServerEvent::Resync { messages } => self.replace_with(messages),
            ServerEvent::Ack { client_id, message } => {
                self.merge([message]);
                self.outbox
                    .update(|o| o.retain(|i| i.client_id != client_id));
                self.answered(client_id);
            }
            ServerEvent::Error {
                code: ErrorCode::RateLimited,
                message,
                client_id,
                retry_after_ms,
            } => {
                // Not a failure: the message stays first in line and goes
                // again, before any later one, when the server allows.
                self.notice.set(Some(message));
                if let Some(client_id) = client_id {
                    if self.in_flight.get_value() == Some(client_id) {
                        self.in_flight.set_value(None);
                    }
                    self.paused.set_value(true);
                    let state = *self;
                    let wait = std::time::Duration::from_millis(retry_after_ms.unwrap_or(1000));
                    set_timeout(
                        move || {
                            state.notice.set(None);
                            state.paused.set_value(false);
                            state.pump();
                        },
                        wait,
                    );
                }
            }
            ServerEvent::Error {
                message,
                client_id: Some(client_id),
                ..
            } => {
                self.outbox.update(|o| {
                    if let Some(item) = o.iter_mut().find(|i| i.client_id == client_id) {
                        item.delivery = Delivery::Failed(message);
                    }
                });
                self.answered(client_id);
            }
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

    /// Puts the cursor in the message box, once it is enabled.
    pub fn focus_composer(&self) {
        let composer = self.composer;
        request_animation_frame(move || {
            if let Some(el) = composer.get_untracked() {
                let _ = el.focus();
            }
        });
    }
}

impl Default for ChatState {
    fn default() -> Self {
        Self::new()
    }
}
