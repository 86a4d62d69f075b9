//! Fan-out of server events to every connection. Each event is encoded once
//! and the same bytes are shared by all sockets. The broadcast channel's
//! capacity bounds how far one connection may fall behind; a receiver that
//! lags past it is closed by its session instead of slowing the others.
//!
//! Room events go to the sockets showing that room; a new message also
//! carries a text-free `Activity` frame for the sockets showing another
//! room, which keep their room list's unread counts from it.
//!
//! What belongs to a private or direct room is routed, not filtered: the
//! hub knows each closed room's member devices and each device's sockets
//! (their mailboxes), and hands such an event only to the sockets of its
//! members. Everything else (open rooms, chat-wide events) goes through
//! the one broadcast channel every socket reads.

use crate::bus::{Audience, Bus, Deliver, Publish, Shared};
use app::protocol::{ChatMessage, DeviceId, RoomId, Seq, ServerEvent};
use axum::extract::ws::Utf8Bytes;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
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
    /// The member devices of every private and direct room; a room not
    /// here is open.
    closed: RwLock<HashMap<RoomId, HashSet<DeviceId>>>,
    /// Each device's sockets, by their mailboxes.
    sockets: Mutex<Sockets>,
}

/// A socket's private way in: closed rooms' events, and word that a room
/// is gone for it.
pub struct Mailbox {
    pub id: u64,
    pub rx: mpsc::Receiver<Broadcast>,
}

#[derive(Default)]
struct Sockets {
    next: u64,
    by_device: HashMap<DeviceId, Vec<(u64, mpsc::Sender<Broadcast>)>>,
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
            closed: RwLock::new(HashMap::new()),
            sockets: Mutex::new(Sockets::default()),
        }
    }

    /// Gives a socket of `device` its mailbox (until `leave`).
    pub fn join(&self, device: DeviceId) -> Mailbox {
        let (tx, rx) = mpsc::channel(BACKLOG);
        let Ok(mut s) = self.sockets.lock() else {
            return Mailbox { id: 0, rx };
        };
        s.next += 1;
        let id = s.next;
        s.by_device.entry(device).or_default().push((id, tx));
        Mailbox { id, rx }
    }

    pub fn leave(&self, device: DeviceId, id: u64) {
        if let Ok(mut s) = self.sockets.lock() {
            if let Some(list) = s.by_device.get_mut(&device) {
                list.retain(|(i, _)| *i != id);
                if list.is_empty() {
                    s.by_device.remove(&device);
                }
            }
        }
    }

    /// Whether `device` may read `room` (open, or closed with it a member).
    pub fn may_read(&self, device: DeviceId, room: RoomId) -> bool {
        self.closed
            .read()
            .map(|c| c.get(&room).is_none_or(|m| m.contains(&device)))
            .unwrap_or(false)
    }

    /// Whether `room` is private or direct.
    pub fn is_closed(&self, room: RoomId) -> bool {
        self.closed.read().is_ok_and(|c| c.contains_key(&room))
    }

    /// Sets who may read `room`: its member devices, or `None` when it is
    /// open. The sockets of devices that lost it are told at once (after
    /// anything already queued for them) and get nothing more of it.
    pub fn set_members(&self, room: RoomId, members: Option<HashSet<DeviceId>>) {
        let before = match self.closed.write() {
            Ok(mut c) => match &members {
                Some(m) => c.insert(room, m.clone()),
                None => c.remove(&room),
            },
            Err(_) => return,
        };
        let Some(now) = members else { return };
        // Who could read it before: the old members, or everyone if open.
        let lost: Vec<DeviceId> = match self.sockets.lock() {
            Ok(s) => s
                .by_device
                .keys()
                .filter(|d| !now.contains(d) && before.as_ref().is_none_or(|b| b.contains(d)))
                .copied()
                .collect(),
            Err(_) => return,
        };
        let gone = encode(&ServerEvent::RoomGone {
            room,
            hidden: false,
        });
        for device in lost {
            self.to_device(
                device,
                Broadcast {
                    audience: Audience::Device(device),
                    room: None,
                    seq: None,
                    frame: gone.clone(),
                    activity: None,
                    at: std::time::Instant::now(),
                    close: None,
                },
            );
        }
    }

    /// Sets every closed room's members at once (at start, and when the
    /// bus reconnects after missing changes): a room not in `all` is open.
    pub fn reset_closed(&self, all: Vec<(RoomId, Vec<DeviceId>)>) {
        let all: HashMap<RoomId, HashSet<DeviceId>> = all
            .into_iter()
            .map(|(room, devices)| (room, devices.into_iter().collect()))
            .collect();
        let before: Vec<RoomId> = match self.closed.read() {
            Ok(c) => c.keys().copied().collect(),
            Err(_) => return,
        };
        for room in before.into_iter().filter(|r| !all.contains_key(r)) {
            self.set_members(room, None);
        }
        for (room, members) in all {
            self.set_members(room, Some(members));
        }
    }

    /// Hands `b` to every socket of `device`; a socket whose mailbox is
    /// full is too slow, and loses its mailbox (its session then closes
    /// it and the page catches up on reconnect).
    fn to_device(&self, device: DeviceId, b: Broadcast) {
        let Ok(mut s) = self.sockets.lock() else {
            return;
        };
        if let Some(list) = s.by_device.get_mut(&device) {
            list.retain(|(_, tx)| tx.try_send(b.clone()).is_ok());
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
            (None, Shared::Access | Shared::Push | Shared::Presence(_) | Shared::Members(_)) => {}
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
            // The shared mode's listener rereads the members itself, in
            // order with the room's messages; nothing reaches here.
            Shared::Members(room) => {
                tracing::debug!(room = room.0, "a membership change outside the listener");
            }
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
        let b = Broadcast {
            audience: p.audience,
            room: p.room,
            seq,
            frame: encode(&p.event),
            activity: p.activity.as_ref().map(encode),
            at: std::time::Instant::now(),
            close: None,
        };
        let members = p
            .scope
            .and_then(|room| self.closed.read().ok().and_then(|c| c.get(&room).cloned()));
        match members {
            // A closed room's: its members' sockets alone.
            Some(members) => {
                for device in members.into_iter().filter(|d| b.audience.includes(*d)) {
                    self.to_device(device, b.clone());
                }
            }
            // No receivers is fine: nobody is connected.
            None => {
                let _ = self.tx.send(b);
            }
        }
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

    fn set_members(&self, room: RoomId, members: Option<HashSet<DeviceId>>) {
        Hub::set_members(self, room, members)
    }

    fn reset_closed(&self, all: Vec<(RoomId, Vec<DeviceId>)>) {
        Hub::reset_closed(self, all)
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
