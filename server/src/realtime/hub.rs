//! Fan-out of server events to every connection. Each event is encoded once
//! and the same bytes are shared by all sockets. The broadcast channel's
//! capacity bounds how far one connection may fall behind; a receiver that
//! lags past it is closed by its session instead of slowing the others.
//!
//! Room events go to the sockets showing that room; a new message also
//! carries a text-free `Activity` frame for the sockets showing another
//! room, which keep their room list's unread counts from it.

use crate::bus::{Audience, Bus, Deliver, Publish, Shared};
use app::protocol::{ChatMessage, DeviceId, RoomId, Seq, ServerEvent};
use axum::extract::ws::Utf8Bytes;
use std::sync::{Arc, OnceLock};
use tokio::sync::{broadcast, mpsc, watch};

/// Events one connection may have queued before it counts as too slow.
pub const BACKLOG: usize = 1024;

#[derive(Clone, Debug)]
pub struct Broadcast {
    pub audience: Audience,
    pub room: Option<RoomId>,
    /// Set for message changes so a session can skip what catch-up already
    /// sent (seqs only grow within a room).
    pub seq: Option<Seq>,
    pub frame: Utf8Bytes,
    pub activity: Option<Utf8Bytes>,
    /// When it was published, for the broadcast-lag metric.
    pub at: std::time::Instant,
    /// After this frame, the socket closes with this code and reason.
    pub close: Option<(u16, &'static str)>,
}

pub struct Hub {
    tx: broadcast::Sender<Broadcast>,
    /// Where new messages also go (push notifications); a full queue
    /// drops them there rather than hold up the broadcast.
    tap: OnceLock<mpsc::Sender<ChatMessage>>,
    /// The other nodes, in the shared mode; unset, this hub is the bus.
    bus: OnceLock<Arc<dyn Bus>>,
    /// Bumped when another node changed chat-wide settings or blocks…
    access_changed: watch::Sender<u64>,
    /// …or push subscriptions.
    push_changed: watch::Sender<u64>,
    /// Other nodes' presence…
    presence_notes: broadcast::Sender<crate::bus::Note>,
    /// …and what their clients spent of the rate limits.
    spent_notes: broadcast::Sender<crate::bus::Spent>,
    /// This process among the nodes on the bus.
    node: u64,
}

impl Hub {
    pub fn new() -> Self {
        let (tx, _) = broadcast::channel(BACKLOG);
        Self {
            tx,
            tap: OnceLock::new(),
            bus: OnceLock::new(),
            access_changed: watch::Sender::new(0),
            push_changed: watch::Sender::new(0),
            presence_notes: broadcast::channel(BACKLOG).0,
            spent_notes: broadcast::channel(BACKLOG).0,
            node: rand::random(),
        }
    }

    /// Sends shared events through `bus` from now on.
    pub fn connect(&self, bus: Arc<dyn Bus>) {
        if self.bus.set(bus).is_err() {
            tracing::warn!("the hub already has a bus");
        }
    }

    /// Delivers an event to the sockets of every node.
    pub fn share(&self, event: Shared) {
        match (self.bus.get(), &event) {
            (Some(bus), _) => bus.share(event),
            // One node: it already knows what it changed.
            (None, Shared::Access | Shared::Push | Shared::Presence(_)) => {}
            (None, _) => self.deliver(event),
        }
    }

    /// An event shared by some node (maybe this one), for this node's sockets.
    pub fn deliver(&self, event: Shared) {
        match event {
            Shared::Publish(p) => self.publish(p),
            Shared::Kick {
                device,
                code,
                reason,
                event,
            } => self.kick(device, code, reason, event),
            Shared::Access => self.access_changed.send_modify(|n| *n += 1),
            Shared::Push => self.push_changed.send_modify(|n| *n += 1),
            Shared::Presence(note) => {
                // Nobody listening yet is fine: presence starts with the chat.
                let _ = self.presence_notes.send(note);
            }
            Shared::Spent(note) => {
                let _ = self.spent_notes.send(note);
            }
        }
    }

    /// Changes each time another node changes settings or blocks.
    pub fn access_changes(&self) -> watch::Receiver<u64> {
        self.access_changed.subscribe()
    }

    /// What other nodes say about their tabs.
    pub fn presence_notes(&self) -> broadcast::Receiver<crate::bus::Note> {
        self.presence_notes.subscribe()
    }

    /// What other nodes' clients spent of the rate limits.
    pub fn spent_notes(&self) -> broadcast::Receiver<crate::bus::Spent> {
        self.spent_notes.subscribe()
    }

    /// This process among the nodes: what it says on the bus comes back
    /// to it too, and is known by this.
    pub fn node(&self) -> u64 {
        self.node
    }

    /// Whether other nodes share this chat.
    pub fn is_shared(&self) -> bool {
        self.bus.get().is_some()
    }

    /// Changes each time another node changes push subscriptions.
    pub fn push_changes(&self) -> watch::Receiver<u64> {
        self.push_changed.subscribe()
    }

    /// Whether this node reaches the other nodes.
    pub fn healthy(&self) -> bool {
        self.bus.get().is_none_or(|bus| bus.healthy())
    }

    /// Sends every new message (not edits or reactions) to `tx` too.
    pub fn tap(&self, tx: mpsc::Sender<ChatMessage>) {
        if self.tap.set(tx).is_err() {
            tracing::warn!("the hub already has a tap");
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Broadcast> {
        self.tx.subscribe()
    }

    pub fn publish(&self, p: Publish) {
        if let (Some(tap), ServerEvent::Message { message }, Some(ServerEvent::Activity { .. })) =
            (self.tap.get(), &p.event, &p.activity)
        {
            if tap.try_send(message.clone()).is_err() {
                tracing::debug!("push queue full; a message goes unpushed");
            }
        }
        self.publish_untapped(p);
    }

    /// Publishes without pushing: a message another node stored (that
    /// node pushes it).
    pub fn publish_untapped(&self, p: Publish) {
        let seq = match &p.event {
            ServerEvent::Message { message } => Some(message.seq),
            _ => None,
        };
        // No receivers is fine: nobody is connected.
        let _ = self.tx.send(Broadcast {
            audience: p.audience,
            room: p.room,
            seq,
            frame: encode(&p.event),
            activity: p.activity.as_ref().map(encode),
            at: std::time::Instant::now(),
            close: None,
        });
    }

    /// Tells every socket of `device` why, then closes it.
    pub fn kick(&self, device: DeviceId, code: u16, reason: &'static str, event: ServerEvent) {
        let _ = self.tx.send(Broadcast {
            audience: Audience::Device(device),
            room: None,
            seq: None,
            frame: encode(&event),
            activity: None,
            at: std::time::Instant::now(),
            close: Some((code, reason)),
        });
    }
}

impl Deliver for Hub {
    fn publish(&self, p: Publish) {
        Hub::publish(self, p)
    }

    fn publish_untapped(&self, p: Publish) {
        Hub::publish_untapped(self, p)
    }

    fn deliver(&self, event: Shared) {
        Hub::deliver(self, event)
    }

    fn share(&self, event: Shared) {
        Hub::share(self, event)
    }

    fn connect(&self, bus: Arc<dyn Bus>) {
        Hub::connect(self, bus)
    }
}

impl Default for Hub {
    fn default() -> Self {
        Self::new()
    }
}

/// Serialises an event for the wire. Our own types always serialise; the
/// fallback only guards against a future type that might not.
pub fn encode(event: &ServerEvent) -> Utf8Bytes {
    match serde_json::to_string(event) {
        Ok(json) => json.into(),
        Err(e) => {
            tracing::error!(error = %e, "could not encode a server event");
            r#"{"type":"error","code":"internal","message":"The server could not encode an event."}"#.into()
        }
    }
}
