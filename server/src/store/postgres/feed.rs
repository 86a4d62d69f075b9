//! The shared mode's bus: `LISTEN`/`NOTIFY` as a wake-up, the table as
//! the source of truth.
//!
//! Each node runs one listener on its own connection. A `chat_seq`
//! notification (`room:seq`, sent by a commit) past what the node has
//! delivered makes it read the room's changes after its position from
//! the table and publish them to its hub in seq order; one at or below it
//! is dropped. On every (re)connect the listener runs `LISTEN` first and
//! then reads what it missed, and every few seconds it compares its
//! positions with the rooms' cursors, so a lost notification or a
//! half-open connection costs a delay, never a message. Ephemeral events
//! (typing, read marks, kicks) ride `chat_event` payloads and are lost
//! while a listener is away, which is what ephemeral means.

use super::connect::Connector;
use super::{members, messages, rooms, writer::Stored};
use crate::bus::wire::{payload, read_payload, MAX_PAYLOAD};
use crate::bus::{Audience, Bus, Deliver, Publish, Shared};
use crate::store::StoreError;
use app::protocol::{RoomId, Seq, ServerEvent};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_postgres::AsyncMessage;

pub const EVENT_CHANNEL: &str = "chat_event";
/// The listener's `application_name`, to find it in `pg_stat_activity`.
pub const LISTENER_NAME: &str = "chat-bus";
/// How often positions are compared with the table.
const POSITION_CHECK: Duration = Duration::from_secs(2);
/// Rows read per refill query.
const REFILL: u32 = 500;
/// Ephemeral events waiting to be sent; past it they are dropped.
const OUTBOX: usize = 4096;

pub struct PgBus {
    outbox: mpsc::Sender<String>,
    healthy: Arc<AtomicBool>,
}

impl Bus for PgBus {
    fn share(&self, event: Shared) {
        let Some(json) = payload(&event) else {
            return;
        };
        if json.len() > MAX_PAYLOAD {
            tracing::warn!(
                bytes = json.len(),
                "an event too large to share was dropped"
            );
            return;
        }
        if self.outbox.try_send(json).is_err() {
            tracing::warn!("the bus is backed up; an ephemeral event was dropped");
        }
    }

    fn healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }
}

/// Starts the listener and the sender of ephemeral events.
pub fn start(connector: Connector, hub: Arc<dyn Deliver>, stored: Arc<Stored>) -> Arc<PgBus> {
    let (outbox, rx) = mpsc::channel(OUTBOX);
    let healthy = Arc::new(AtomicBool::new(false));
    tokio::spawn(send_events(connector.clone(), rx));
    tokio::spawn(
        Listener {
            connector,
            hub,
            stored,
            delivered: HashMap::new(),
            healthy: healthy.clone(),
        }
        .run(),
    );
    Arc::new(PgBus { outbox, healthy })
}

/// Sends ephemeral events in order over one connection, reconnecting when
/// it fails (what fails meanwhile is dropped).
async fn send_events(connector: Connector, mut rx: mpsc::Receiver<String>) {
    let mut client: Option<tokio_postgres::Client> = None;
    while let Some(json) = rx.recv().await {
        if client.as_ref().is_none_or(|c| c.is_closed()) {
            client = connector.connect().await.ok();
        }
        let Some(c) = &client else {
            continue;
        };
        if let Err(e) = c
            .execute("SELECT pg_notify($1, $2)", &[&EVENT_CHANNEL, &json])
            .await
        {
            tracing::debug!(error = %e, "could not share an event");
            client = None;
        }
    }
}

struct Listener {
    connector: Connector,
    hub: Arc<dyn Deliver>,
    stored: Arc<Stored>,
    /// Per room, the last seq published to this node's hub.
    delivered: HashMap<RoomId, Seq>,
    healthy: Arc<AtomicBool>,
}

enum Wake {
    Seq(RoomId, Seq),
    Event(String),
}

impl Listener {
    async fn run(mut self) {
        let mut backoff = Duration::from_millis(100);
        let mut first = true;
        loop {
            match self.session(&mut first).await {
                Ok(()) => backoff = Duration::from_millis(100),
                Err(e) => tracing::warn!(error = %e, "the bus listener lost its connection"),
            }
            self.healthy.store(false, Ordering::Relaxed);
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }

    /// One connection's life: LISTEN, catch up, then follow.
    async fn session(&mut self, first: &mut bool) -> Result<(), StoreError> {
        let (client, mut connection) = self.connector.connect_raw(LISTENER_NAME).await?;
        let (wake_tx, mut wakes) = mpsc::unbounded_channel();
        let driver = tokio::spawn(async move {
            let mut stream = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
            use futures::StreamExt;
            while let Some(message) = stream.next().await {
                let Ok(AsyncMessage::Notification(n)) = message else {
                    if let Err(e) = message {
                        tracing::debug!(error = %e, "bus connection ended");
                        break;
                    }
                    continue;
                };
                let wake = if n.channel() == rooms::SEQ_CHANNEL {
                    match parse_seq(n.payload()) {
                        Some((room, seq)) => Wake::Seq(room, seq),
                        None => continue,
                    }
                } else {
                    Wake::Event(n.payload().to_owned())
                };
                if wake_tx.send(wake).is_err() {
                    break;
                }
            }
        });
        let result = self.follow(&client, &mut wakes, first).await;
        driver.abort();
        result
    }

    async fn follow(
        &mut self,
        client: &tokio_postgres::Client,
        wakes: &mut mpsc::UnboundedReceiver<Wake>,
        first: &mut bool,
    ) -> Result<(), StoreError> {
        client
            .batch_execute(&format!(
                "LISTEN {}; LISTEN {EVENT_CHANNEL}",
                rooms::SEQ_CHANNEL
            ))
            .await?;
        // Only now read: whatever commits from here on is notified too.
        // Who may read the closed rooms first, as changes to it may have
        // gone unheard while away.
        self.hub.reset_closed(members::closed_rooms(client).await?);
        if *first {
            // A new node owes nobody the past: it starts at the end.
            for (room, seq) in rooms::cursors(client).await? {
                self.delivered.insert(room, seq);
            }
            *first = false;
        } else {
            self.check_positions(client).await?;
        }
        self.healthy.store(true, Ordering::Relaxed);
        tracing::info!("bus listener connected");
        let mut check = tokio::time::interval(POSITION_CHECK);
        check.tick().await;
        loop {
            tokio::select! {
                wake = wakes.recv() => match wake {
                    Some(Wake::Seq(room, seq)) => {
                        if seq > self.position(room) {
                            self.refill(client, room).await?;
                        }
                    }
                    Some(Wake::Event(json)) => self.deliver(client, &json).await?,
                    None => return Ok(()),
                },
                _ = check.tick() => self.check_positions(client).await?,
            }
        }
    }

    fn position(&self, room: RoomId) -> Seq {
        self.delivered.get(&room).copied().unwrap_or(Seq(0))
    }

    /// Compares every room's cursor with what was delivered. A query that
    /// hangs means a half-open connection: give up and reconnect.
    async fn check_positions(&mut self, client: &tokio_postgres::Client) -> Result<(), StoreError> {
        let cursors = match tokio::time::timeout(POSITION_CHECK * 3, rooms::cursors(client)).await {
            Ok(cursors) => cursors?,
            Err(_) => {
                return Err(StoreError::Unavailable(
                    "the bus connection stopped answering".into(),
                ))
            }
        };
        for (room, seq) in cursors {
            if seq > self.position(room) {
                self.refill(client, room).await?;
            }
        }
        Ok(())
    }

    /// Publishes the room's changes after this node's position, in seq
    /// order, from the table.
    async fn refill(
        &mut self,
        client: &tokio_postgres::Client,
        room: RoomId,
    ) -> Result<(), StoreError> {
        loop {
            let after = self.position(room);
            let changed = messages::changed_after(client, room, after, REFILL).await?;
            let n = changed.len();
            for (message, created) in changed {
                let seq = message.seq;
                let fresh = created == message.seq;
                let activity = fresh.then(|| ServerEvent::Activity {
                    room,
                    seq,
                    user_id: message.user_id,
                    mentions: message.mentions.clone(),
                });
                let ours = fresh && self.stored.take(message.id.0);
                let publish = Publish {
                    audience: Audience::Everyone,
                    room: Some(room),
                    scope: Some(room),
                    event: ServerEvent::Message { message },
                    activity,
                };
                if ours {
                    self.hub.publish(publish);
                } else {
                    self.hub.publish_untapped(publish);
                }
                self.delivered.insert(room, seq);
            }
            if n < REFILL as usize {
                return Ok(());
            }
        }
    }

    /// An event some node shared. A membership change is read here, in
    /// order with the messages: a room's next message reaches only whom
    /// it now may.
    async fn deliver(&self, client: &tokio_postgres::Client, json: &str) -> Result<(), StoreError> {
        match read_payload(json) {
            Ok(Some(Shared::Members(room))) => {
                let members = match members::member_devices(client, room).await {
                    Ok(devices) => devices.map(|d| d.into_iter().collect()),
                    // A room that is gone has no readers.
                    Err(StoreError::NotFound) => Some(Default::default()),
                    Err(e) => return Err(e),
                };
                self.hub.set_members(room, members);
            }
            Ok(Some(event)) => self.hub.deliver(event),
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "an unreadable event on the bus"),
        }
        Ok(())
    }
}

fn parse_seq(payload: &str) -> Option<(RoomId, Seq)> {
    let (room, seq) = payload.split_once(':')?;
    Some((RoomId(room.parse().ok()?), Seq(seq.parse().ok()?)))
}
