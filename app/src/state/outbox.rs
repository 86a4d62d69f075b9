//! This device's messages not yet acknowledged: kept (and in browser
//! storage) until the server confirms them, sent one at a time in the
//! order they were written, so the server stores them in that order even
//! when the rate limit holds some back.

use super::ChatState;
use crate::protocol::{ClientEvent, ClientMessageId, Quote, RoomId, Uploaded, UserId};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

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
    #[serde(default = "default_room")]
    pub room: RoomId,
    pub text: String,
    #[serde(default)]
    pub mentions: Vec<UserId>,
    /// A photo or file already uploaded, to send with the text.
    #[serde(default)]
    pub upload: Option<Uploaded>,
    /// The message it answers, as it was quoted when written.
    #[serde(default)]
    pub reply: Option<Quote>,
    pub delivery: Delivery,
    /// When it last went out on a socket (ms since the epoch); 0 = not yet.
    #[serde(default)]
    pub sent_at: f64,
}

fn default_room() -> RoomId {
    RoomId::DEFAULT
}

#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Flow {
    /// The one message on the wire and not yet answered.
    pub in_flight: Option<ClientMessageId>,
    /// Waiting out a rate limit: nothing goes out until it ends.
    pub paused: bool,
}

impl ChatState {
    /// Queues a message for the shown room; it goes out when the ones
    /// before it are answered, and again on every reconnect until the
    /// server acknowledges it. It answers the message being replied to,
    /// if any.
    pub fn post(&self, text: String, mentions: Vec<UserId>, upload: Option<Uploaded>) {
        let room = self.room_id();
        let reply = self.replying.get_untracked();
        self.replying.set(None);
        self.outbox.update(|o| {
            o.push(OutgoingMessage {
                client_id: ClientMessageId::new_random(),
                room,
                text,
                mentions,
                upload,
                reply,
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
        let flow = self.outbox_flow.get_value();
        if flow.in_flight.is_some() || flow.paused {
            return;
        }
        let Some(item) = self
            .outbox
            .with_untracked(|o| o.iter().find(|i| i.delivery == Delivery::Pending).cloned())
        else {
            return;
        };
        let sent = self.send(ClientEvent::Send {
            client_id: item.client_id,
            text: item.text,
            room: Some(item.room),
            mentions: item.mentions,
            attachment: item.upload.map(|u| u.upload),
            reply_to: item.reply.map(|q| q.id),
        });
        if sent {
            self.outbox_flow
                .update_value(|f| f.in_flight = Some(item.client_id));
        }
    }

    /// The server answered `client_id`: the next one may go.
    fn answered(&self, client_id: ClientMessageId) {
        self.outbox_flow.update_value(|f| {
            if f.in_flight == Some(client_id) {
                f.in_flight = None;
            }
        });
        self.pump();
    }

    pub(super) fn acked(&self, client_id: ClientMessageId) {
        self.outbox
            .update(|o| o.retain(|i| i.client_id != client_id));
        self.answered(client_id);
    }

    /// A request was refused: a message shows the reason and a retry; an
    /// edit, delete or reaction shows it as a notice.
    pub(super) fn refused(&self, client_id: ClientMessageId, reason: String) {
        let ours = self
            .outbox
            .with_untracked(|o| o.iter().any(|i| i.client_id == client_id));
        if !ours {
            self.notice.set(Some(reason));
            return;
        }
        self.outbox.update(|o| {
            if let Some(item) = o.iter_mut().find(|i| i.client_id == client_id) {
                item.delivery = Delivery::Failed(reason);
            }
        });
        self.answered(client_id);
    }

    /// Not a failure: the message stays first in line and goes again,
    /// before any later one, when the server allows.
    pub(super) fn rate_limited(
        &self,
        message: String,
        client_id: Option<ClientMessageId>,
        retry_after_ms: Option<u64>,
    ) {
        self.notice.set(Some(message));
        let Some(client_id) = client_id else { return };
        self.outbox_flow.update_value(|f| {
            if f.in_flight == Some(client_id) {
                f.in_flight = None;
            }
            f.paused = true;
        });
        let wait = std::time::Duration::from_millis(retry_after_ms.unwrap_or(1000));
        #[cfg(feature = "hydrate")]
        {
            let state = *self;
            set_timeout(move || state.resume_sending(), wait);
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = wait;
    }

    /// The wait after a rate limit is over: the held message goes first.
    pub fn resume_sending(&self) {
        self.notice.set(None);
        self.outbox_flow.update_value(|f| f.paused = false);
        self.pump();
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
        self.outbox_flow.update_value(|f| f.in_flight = None);
        self.pump();
    }
}
