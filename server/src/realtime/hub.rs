//! Fan-out of server events to this node's sockets. Each event is encoded
//! once and the same bytes are shared by all sockets. A channel's capacity
//! bounds how far one connection may fall behind; a receiver that lags
//! past it is closed by its session instead of slowing the others.
//!
//! Events are routed, not filtered: a socket is handed what concerns the
//! room it shows and its own device, and a crowd in one room costs the
//! others nothing.
//! - An open room's events go to its own channel, read by the sockets
//!   showing it. Its new messages also leave a text-free `Activity` note
//!   for everyone else's room list, gathered (`activity`) and handed to
//!   each socket's own mailbox about once a second at most (everyone is a
//!   member of an open room; nothing about rooms rides the chat-wide
//!   channel).
//! - A private or direct room's events go to its members' sockets alone:
//!   the hub knows each closed room's member devices and each device's
//!   sockets (their mailboxes).
//! - What is about no room and for one device alone (its name, its role,
//!   being blocked) goes to that device's sockets' mailboxes: a crowd
//!   picking names at once would otherwise wake every socket for each.
//! - What is about no room and for everyone (settings, the room list)
//!   goes on the chat-wide channel every socket reads.

use super::activity::{Gather, Noted};
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
    /// Gathered news of open rooms (`frame` is then empty): each socket
    /// sends those of rooms it does not show.
    pub noted: Option<Arc<[Noted]>>,
}

impl Broadcast {
    fn new(audience: Audience, frame: Utf8Bytes) -> Self {
        Self {
            audience,
            room: None,
            seq: None,
            frame,
            activity: None,
            at: std::time::Instant::now(),
            close: None,
            noted: None,
        }
    }
}

/// The hub's end of a socket's mailbox.
type Outbox = mpsc::Sender<Arc<Broadcast>>;

/// A socket's end of a channel; every socket shares the one event.
pub type Live = broadcast::Receiver<Arc<Broadcast>>;

pub struct Hub {
    /// What every socket reads: events about no room.
    tx: broadcast::Sender<Arc<Broadcast>>,
    /// Each open room's channel, while some socket shows the room.
    rooms: Mutex<HashMap<RoomId, broadcast::Sender<Arc<Broadcast>>>>,
    activity: Arc<Gather>,
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
    pub rx: mpsc::Receiver<Arc<Broadcast>>,
}

#[derive(Default)]
struct Sockets {
    next: u64,
    by_device: HashMap<DeviceId, Vec<(u64, Outbox)>>,
}

impl Hub {
    pub fn new() -> Self {
        let (tx, _) = broadcast::channel(BACKLOG);
        Self {
            tx,
            rooms: Mutex::new(HashMap::new()),
            activity: Arc::new(Gather::default()),
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
                Arc::new(Broadcast::new(Audience::Device(device), gone.clone())),
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
    fn to_device(&self, device: DeviceId, b: Arc<Broadcast>) {
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

    /// The chat-wide channel.
    pub fn subscribe(&self) -> Live {
        self.tx.subscribe()
    }

    /// The channel of `room`, for a socket showing it (subscribed before
    /// the room's catch-up is read, so nothing falls between).
    pub fn subscribe_room(&self, room: RoomId) -> Live {
        match self.rooms.lock() {
            Ok(mut rooms) => rooms
                .entry(room)
                .or_insert_with(|| broadcast::channel(BACKLOG).0)
                .subscribe(),
            // Unreachable in practice; a receiver that never hears.
            Err(_) => broadcast::channel(1).0.subscribe(),
        }
    }

    /// Sends gathered activity from now on on a task of its own, at most
    /// once per window; before this, each note goes out at once.
    pub fn start(self: &Arc<Self>) {
        self.activity.start();
        let gather = self.activity.clone();
        let hub = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                let batch = gather.next().await;
                let Some(hub) = hub.upgrade() else { return };
                hub.send_noted(batch);
            }
        });
    }

    /// Hands a room's event to the sockets showing it; a channel nobody
    /// reads any more is dropped.
    fn to_room(&self, room: RoomId, b: Arc<Broadcast>) {
        let tx = self.rooms.lock().ok().and_then(|r| r.get(&room).cloned());
        if let Some(tx) = tx {
            if tx.send(b).is_err() {
                if let Ok(mut rooms) = self.rooms.lock() {
                    if rooms.get(&room).is_some_and(|t| t.receiver_count() == 0) {
                        rooms.remove(&room);
                    }
                }
            }
        }
    }

    /// Hands activity notes to every socket's mailbox (but those of rooms
    /// that closed since: they are their members' business alone). One
    /// shared batch a second at most, so no busier than a broadcast.
    fn send_noted(&self, batch: Vec<Noted>) {
        let batch: Arc<[Noted]> = match self.closed.read() {
            Ok(closed) => batch
                .into_iter()
                .filter(|n| !closed.contains_key(&n.room))
                .collect(),
            Err(_) => return,
        };
        if batch.is_empty() {
            return;
        }
        let mut b = Broadcast::new(Audience::Everyone, Utf8Bytes::default());
        b.noted = Some(batch);
        let b = Arc::new(b);
        if let Ok(mut s) = self.sockets.lock() {
            for list in s.by_device.values_mut() {
                // A full mailbox is a socket too slow: it loses it and
                // its session closes, as in `to_device`.
                list.retain(|(_, tx)| tx.try_send(b.clone()).is_ok());
            }
        }
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
        let mut b = Broadcast::new(p.audience, encode(&p.event));
        b.room = p.room;
        b.seq = seq;
        b.activity = p.activity.as_ref().map(encode);
        let members = p
            .scope
            .and_then(|room| self.closed.read().ok().and_then(|c| c.get(&room).cloned()));
        match (members, p.room) {
            // A closed room's: its members' sockets alone.
            (Some(members), _) => {
                let b = Arc::new(b);
                for device in members.into_iter().filter(|d| b.audience.includes(*d)) {
                    self.to_device(device, b.clone());
                }
            }
            // An open room's: its own sockets, and a note for the others.
            (None, Some(room)) => {
                let noted =
                    b.activity
                        .take()
                        .zip(seq)
                        .map(|(frame, seq)| Noted { room, seq, frame });
                self.to_room(room, Arc::new(b));
                if let Some(batch) = noted.and_then(|n| self.activity.add(n)) {
                    self.send_noted(batch);
                }
            }
            (None, None) => match b.audience {
                Audience::Device(device) => self.to_device(device, Arc::new(b)),
                // No receivers is fine: nobody is connected.
                _ => {
                    let _ = self.tx.send(Arc::new(b));
                }
            },
        }
    }

    /// Tells every socket of `device` why, then closes it. (A socket whose
    /// mailbox is full closes as too slow instead: closed either way.)
    pub fn kick(&self, device: DeviceId, code: u16, reason: &'static str, event: ServerEvent) {
        let mut b = Broadcast::new(Audience::Device(device), encode(&event));
        b.close = Some((code, reason));
        self.to_device(device, Arc::new(b));
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

#[cfg(test)]
mod tests {
    use super::*;
    use app::protocol::{MessageId, UserId};
    use std::time::Duration;

    fn message(room: i64, seq: i64) -> Publish {
        let message = ChatMessage {
            id: MessageId(seq),
            user_id: UserId(1),
            user_name: "Ann".into(),
            color: String::new(),
            msg: format!("secret {seq}"),
            ts: 0,
            room: RoomId(room),
            seq: Seq(seq),
            edited: false,
            deleted: false,
            removed: false,
            reactions: Vec::new(),
            mentions: Vec::new(),
            attachment: None,
            rich: None,
            reply: None,
            preview: None,
            bot: false,
        };
        let activity = ServerEvent::Activity {
            room: RoomId(room),
            seq: Seq(seq),
            user_id: UserId(1),
            mentions: Vec::new(),
        };
        Publish {
            activity: Some(activity),
            ..Publish::room(RoomId(room), ServerEvent::Message { message })
        }
    }

    fn text(b: &Broadcast) -> String {
        match &b.noted {
            Some(noted) => noted.iter().map(|n| n.frame.to_string()).collect(),
            None => b.frame.to_string(),
        }
    }

    fn texts(live: &mut Live) -> Vec<String> {
        std::iter::from_fn(|| live.try_recv().ok())
            .map(|b| text(&b))
            .collect()
    }

    fn mailbox_texts(mailbox: &mut Mailbox) -> Vec<String> {
        std::iter::from_fn(|| mailbox.rx.try_recv().ok())
            .map(|b| text(&b))
            .collect()
    }

    #[test]
    fn an_open_rooms_message_reaches_its_room_and_only_a_note_the_rest() {
        let hub = Hub::new();
        let (mut two, mut three) = (hub.subscribe_room(RoomId(2)), hub.subscribe_room(RoomId(3)));
        let mut chat_wide = hub.subscribe();
        let mut own = hub.join(DeviceId::new_random());
        hub.publish(message(2, 5));
        let in_two = texts(&mut two);
        assert_eq!(in_two.len(), 1);
        assert!(in_two[0].contains("secret 5"), "{in_two:?}");
        assert!(
            texts(&mut three).is_empty(),
            "another room's channel hears nothing"
        );
        assert!(
            texts(&mut chat_wide).is_empty(),
            "nothing on the chat-wide channel"
        );
        let notes = mailbox_texts(&mut own);
        assert_eq!(notes.len(), 1);
        assert!(notes[0].contains(r#""type":"activity""#), "{notes:?}");
        assert!(!notes[0].contains("secret"), "no text in the note");
    }

    #[test]
    fn a_channel_nobody_reads_is_dropped() {
        let hub = Hub::new();
        drop(hub.subscribe_room(RoomId(2)));
        hub.publish(message(2, 1));
        assert!(hub.rooms.lock().is_ok_and(|r| r.is_empty()));
        let mut two = hub.subscribe_room(RoomId(2));
        hub.publish(message(2, 2));
        assert_eq!(texts(&mut two).len(), 1, "a new reader gets a new channel");
    }

    #[test]
    fn a_closed_rooms_message_reaches_its_members_mailboxes_alone() {
        let hub = Hub::new();
        let (ann, bob) = (DeviceId::new_random(), DeviceId::new_random());
        let (mut ann_box, mut bob_box) = (hub.join(ann), hub.join(bob));
        let mut two = hub.subscribe_room(RoomId(2));
        let mut chat_wide = hub.subscribe();
        hub.set_members(RoomId(2), Some([ann].into_iter().collect()));
        // Bob lost the room: he is told, and that is all.
        let gone = bob_box.rx.try_recv().expect("told");
        assert!(gone.frame.contains("room_gone"), "{}", gone.frame);
        hub.publish(message(2, 1));
        assert!(ann_box
            .rx
            .try_recv()
            .is_ok_and(|b| b.frame.contains("secret 1")));
        assert!(bob_box.rx.try_recv().is_err());
        assert!(texts(&mut two).is_empty(), "not even on the room's channel");
        assert!(texts(&mut chat_wide).is_empty(), "nor a note for everyone");
    }

    #[test]
    fn a_devices_own_news_wakes_its_sockets_alone() {
        let hub = Hub::new();
        let (ann, bob) = (DeviceId::new_random(), DeviceId::new_random());
        let (mut ann_tab, mut ann_phone, mut bob_box) =
            (hub.join(ann), hub.join(ann), hub.join(bob));
        let mut chat_wide = hub.subscribe();
        let mut room = hub.subscribe_room(RoomId::DEFAULT);
        let me = app::protocol::Identity {
            user_id: UserId(7),
            name: "Ann".into(),
            color: String::new(),
        };
        hub.publish(Publish::device(ann, ServerEvent::Identity { me }));
        hub.kick(ann, 4000, "blocked", ServerEvent::Pong { nonce: 1 });
        for mailbox in [&mut ann_tab, &mut ann_phone] {
            let got = mailbox_texts(mailbox);
            assert_eq!(got.len(), 2, "{got:?}");
            assert!(got[0].contains(r#""name":"Ann""#), "{got:?}");
        }
        assert!(mailbox_texts(&mut bob_box).is_empty(), "not Bob's");
        assert!(texts(&mut chat_wide).is_empty(), "nobody else is woken");
        assert!(texts(&mut room).is_empty());
    }

    #[tokio::test]
    async fn notes_of_a_busy_chat_are_sent_together() {
        let hub = Arc::new(Hub::new());
        hub.start();
        let mut own = hub.join(DeviceId::new_random());
        for seq in 1..=20 {
            hub.publish(message(2 + seq % 3, seq));
        }
        let first = tokio::time::timeout(Duration::from_secs(5), own.rx.recv())
            .await
            .expect("at once")
            .expect("still open");
        assert_eq!(first.noted.as_ref().map(|n| n.len()), Some(1));
        let rest = tokio::time::timeout(Duration::from_secs(5), own.rx.recv())
            .await
            .expect("after the window")
            .expect("still open");
        let seqs: Vec<i64> = rest
            .noted
            .iter()
            .flat_map(|n| n.iter().map(|n| n.seq.0))
            .collect();
        assert_eq!(
            seqs,
            (2..=20).collect::<Vec<_>>(),
            "one wake for 19 messages"
        );
        assert!(own.rx.try_recv().is_err());
    }
}
