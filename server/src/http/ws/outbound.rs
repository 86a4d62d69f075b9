//! The writing half of a session: welcome and catch-up, then live
//! broadcasts, replies and pings. Whatever is ready is written together
//! and flushed once; every write runs under a deadline, so a client that
//! stops reading frees its slot instead of holding the session forever.

use crate::chat::Chat;
use crate::realtime::activity::Noted;
use crate::realtime::hub::{self, Broadcast, Live, Mailbox};
use app::protocol::{close_code, DeviceId, RoomId, Seq, ServerEvent, HISTORY_PAGE, MAX_REPLAY};
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures::stream::SplitSink;
use futures::SinkExt;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, watch};

const PING_EVERY: Duration = Duration::from_secs(20);
/// Most frames gathered before one flush.
const MAX_GATHER: usize = 64;

/// What the reading side asks the writing side to send.
pub enum Out {
    Event(Box<ServerEvent>),
    /// Show this room from now on: replay it after the seq (or send its
    /// latest page), then forward its events.
    Open(RoomId, Option<Seq>),
    /// Say goodbye with this code and reason, then stop.
    Close(u16, &'static str),
}

/// The room the socket shows and how far it has been sent.
struct Showing {
    room: RoomId,
    delivered: Seq,
    /// The room shown before and how far it had been sent: news of it
    /// gathered while it was shown is not news.
    left: Option<(RoomId, Seq)>,
}

type Sink = SplitSink<WebSocket, Message>;

/// Why writing stopped.
#[derive(Debug)]
enum Stop {
    /// The socket failed or the reading side is gone.
    Gone,
    /// Writes stayed blocked past the deadline.
    Blocked,
    /// Closed on purpose (the device was blocked).
    Closed,
}

/// Whether the socket's device may still read, checked again whenever
/// who may read changes (the chat turned invite-only, a block): before
/// any further byte of the chat goes out.
struct Admission {
    changes: watch::Receiver<u64>,
    /// The device was a member when last checked.
    member: bool,
}

/// The event, close code and reason a socket ends with when its device
/// may read no more. Boxed: a `ServerEvent` is large, and a future holds
/// room for every value it keeps across an await.
type Refusal = Box<(ServerEvent, u16, &'static str)>;

impl Admission {
    /// `Err` with what to end the socket with when the device may read no
    /// more.
    async fn check(&mut self, chat: &Chat, device: DeviceId) -> Result<(), Refusal> {
        self.changes.mark_unchanged();
        // Boxed: an idle socket's future need not hold room for a query.
        match Box::pin(chat.access().readmit(device, &mut self.member)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(why)) => Err(Box::new((why.event(), why.close_code(), why.sentence()))),
            Err(e) => {
                // Not knowing is not permission: the page reconnects, and
                // the handshake checks again.
                tracing::warn!(?device, error = %e, "could not check the device again");
                Err(Box::new((
                    ServerEvent::Error {
                        code: app::protocol::ErrorCode::Unavailable,
                        message: "The chat cannot be reached right now.".to_owned(),
                        client_id: None,
                        retry_after_ms: None,
                    },
                    close_code::GOING_AWAY,
                    "server error",
                )))
            }
        }
    }

    fn changed(&self) -> bool {
        self.changes.has_changed().unwrap_or(false)
    }
}

/// Tells the page why and closes the socket. Boxed: it happens once at
/// most, and every socket's future would otherwise hold room for it.
async fn refuse(writer: &mut Writer<'_>, refusal: Refusal) -> Result<(), Stop> {
    Box::pin(async move {
        let (event, code, reason) = *refusal;
        writer.put(Message::Text(hub::encode(&event))).await?;
        writer.close(code, reason).await
    })
    .await
}

#[allow(clippy::too_many_arguments)]
pub async fn run(
    mut sink: Sink,
    (mut live, mut room_live, mut mailbox): (Live, Live, Mailbox),
    mut replies: mpsc::Receiver<Out>,
    chat: Chat,
    device: DeviceId,
    (room, last_seen): (RoomId, Option<Seq>),
    deadline: Duration,
    (changes, member): (watch::Receiver<u64>, bool),
) {
    let mut writer = Writer {
        sink: &mut sink,
        deadline,
    };
    let mut admission = Admission { changes, member };
    // Who may read changed between the handshake and now.
    if admission.changed() {
        if let Err(refusal) = admission.check(&chat, device).await {
            let _ = refuse(&mut writer, refusal).await;
            return;
        }
    }
    // Boxed, as `open` below: once per socket, and its store queries
    // would otherwise size every idle socket's future.
    let mut showing = match Box::pin(greet(&chat, device, room, last_seen, &mut writer)).await {
        Ok(showing) => showing,
        Err(e) => {
            tracing::warn!(?device, error = %e, "session could not start");
            let _ = writer.close(close_code::GOING_AWAY, "server error").await;
            return;
        }
    };
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    let result: Result<(), Stop> = async {
        loop {
            tokio::select! {
                biased;
                // First: nothing more goes out to a device that may no
                // longer read.
                Ok(()) = admission.changes.changed() => {
                    if let Err(refusal) = admission.check(&chat, device).await {
                        tracing::info!(?device, "may no longer read the chat, closing");
                        refuse(&mut writer, refusal).await?;
                        return Ok(());
                    }
                }
                reply = replies.recv() => match reply {
                    Some(Out::Event(event)) => writer.put(Message::Text(hub::encode(&event))).await?,
                    Some(Out::Open(room, last_seen)) => {
                        if let Err(refusal) = admission.check(&chat, device).await {
                            refuse(&mut writer, refusal).await?;
                            return Ok(());
                        }
                        // Before the catch-up is read, as at the start.
                        room_live = chat.hub().subscribe_room(room);
                        let left = (showing.room, showing.delivered);
                        showing = match Box::pin(open(&chat, device, room, last_seen, &mut writer)).await {
                            Ok(now) => Showing { left: Some(left), ..now },
                            Err(GreetError::Socket) => return Err(Stop::Gone),
                            Err(GreetError::Chat(e)) => {
                                tracing::warn!(?device, error = %e, "room could not be opened");
                                writer.close(close_code::GOING_AWAY, "server error").await?;
                                return Ok(());
                            }
                        };
                    }
                    Some(Out::Close(code, reason)) => {
                        writer.close(code, reason).await?;
                        return Ok(());
                    }
                    None => return Err(Stop::Gone),
                },
                item = mailbox.rx.recv() => match item {
                    Some(b) => writer.forward(&chat, &b, device, &mut showing).await?,
                    // The hub dropped a mailbox that stayed full.
                    None => {
                        tracing::warn!(?device, "client too slow for its own channel, closing");
                        chat.metrics().clients_too_slow.inc();
                        writer.close(close_code::TOO_SLOW, "too slow; reconnect to catch up").await?;
                        return Ok(());
                    }
                },
                item = room_live.recv() => match item {
                    Ok(b) => writer.relay(&chat, &b, device, &mut showing).await?,
                    Err(e) => return writer.fell_off(&chat, device, e).await,
                },
                item = live.recv() => match item {
                    Ok(b) => writer.relay(&chat, &b, device, &mut showing).await?,
                    Err(e) => return writer.fell_off(&chat, device, e).await,
                },
                _ = ping.tick() => writer.put(Message::Ping(Default::default())).await?,
            }
            // Gather whatever else is ready, then flush once.
            for _ in 0..MAX_GATHER {
                if admission.changed() {
                    break;
                }
                // The shown room first: it carries most of the traffic,
                // and the select above polls the others first anyway.
                // Lag and close are handled by the next recv() above.
                if let Ok(b) = room_live.try_recv() {
                    writer.relay(&chat, &b, device, &mut showing).await?;
                    continue;
                }
                if let Ok(b) = mailbox.rx.try_recv() {
                    writer.forward(&chat, &b, device, &mut showing).await?;
                    continue;
                }
                match live.try_recv() {
                    Ok(b) => writer.relay(&chat, &b, device, &mut showing).await?,
                    Err(_) => break,
                }
            }
            writer.flush().await?;
        }
    }
    .await;
    if let Err(Stop::Blocked) = result {
        tracing::info!(?device, "client stopped reading, closing");
        chat.metrics().clients_write_timeout.inc();
    }
}

/// Whether a frame of a shared channel may go to `device`. Closed rooms'
/// events never travel there; what was queued there just before a room
/// closed is held back from the devices that lost it.
fn readable(chat: &Chat, b: &Broadcast, device: DeviceId) -> bool {
    b.room.is_none_or(|room| chat.hub().may_read(device, room))
}

struct Writer<'a> {
    sink: &'a mut Sink,
    /// A write (or flush) blocked longer than this means the client
    /// stopped reading: the session ends.
    deadline: Duration,
}

impl Writer<'_> {
    /// Queues a frame; it goes out at the next flush (or sooner when the
    /// buffer fills).
    async fn put(&mut self, message: Message) -> Result<(), Stop> {
        match tokio::time::timeout(self.deadline, self.sink.feed(message)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(Stop::Gone),
            Err(_) => Err(Stop::Blocked),
        }
    }

    async fn flush(&mut self) -> Result<(), Stop> {
        match tokio::time::timeout(self.deadline, self.sink.flush()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(Stop::Gone),
            Err(_) => Err(Stop::Blocked),
        }
    }

    async fn close(&mut self, code: u16, reason: &'static str) -> Result<(), Stop> {
        self.put(Message::Close(Some(CloseFrame {
            code,
            reason: reason.into(),
        })))
        .await?;
        self.flush().await
    }

    /// Forwards a shared channel's event if the device may read it.
    async fn relay(
        &mut self,
        chat: &Chat,
        b: &Broadcast,
        device: DeviceId,
        showing: &mut Showing,
    ) -> Result<(), Stop> {
        if readable(chat, b, device) {
            self.forward(chat, b, device, showing).await?;
        }
        Ok(())
    }

    /// A shared channel left this socket behind (or closed): it says so
    /// and ends; the page reconnects and catches up.
    async fn fell_off(
        &mut self,
        chat: &Chat,
        device: DeviceId,
        e: broadcast::error::RecvError,
    ) -> Result<(), Stop> {
        match e {
            broadcast::error::RecvError::Lagged(missed) => {
                tracing::warn!(?device, missed, "client too slow, closing");
                chat.metrics().clients_too_slow.inc();
                self.close(close_code::TOO_SLOW, "too slow; reconnect to catch up")
                    .await
            }
            broadcast::error::RecvError::Closed => {
                self.close(close_code::GOING_AWAY, "server shutting down")
                    .await
            }
        }
    }

    /// Sends the news of open rooms this socket does not show.
    async fn noted(&mut self, noted: &[Noted], showing: &Showing) -> Result<(), Stop> {
        for n in noted {
            let seen = n.room == showing.room
                || showing
                    .left
                    .is_some_and(|(room, delivered)| room == n.room && n.seq <= delivered);
            if !seen {
                self.put(Message::Text(n.frame.clone())).await?;
            }
        }
        Ok(())
    }

    /// Sends what of a broadcast concerns this socket: everything for its
    /// device, the events of the room it shows (minus what catch-up
    /// already sent), the activity summary of other rooms.
    async fn forward(
        &mut self,
        chat: &Chat,
        b: &Broadcast,
        device: DeviceId,
        showing: &mut Showing,
    ) -> Result<(), Stop> {
        if !b.audience.includes(device) {
            return Ok(());
        }
        if let Some(noted) = &b.noted {
            return self.noted(noted, showing).await;
        }
        let frame = match b.room {
            None => b.frame.clone(),
            Some(room) if room == showing.room => {
                if let Some(seq) = b.seq {
                    if seq <= showing.delivered {
                        return Ok(());
                    }
                    showing.delivered = seq;
                }
                b.frame.clone()
            }
            Some(_) => match &b.activity {
                Some(activity) => activity.clone(),
                None => return Ok(()),
            },
        };
        chat.metrics()
            .broadcast_lag_seconds
            .observe(b.at.elapsed().as_secs_f64());
        self.put(Message::Text(frame)).await?;
        if let Some((code, reason)) = b.close {
            self.close(code, reason).await?;
            return Err(Stop::Closed);
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
enum GreetError {
    #[error(transparent)]
    Chat(#[from] crate::chat::ChatError),
    #[error("the socket failed during the greeting")]
    Socket,
}

impl From<Stop> for GreetError {
    fn from(_: Stop) -> Self {
        GreetError::Socket
    }
}

/// Sends `Welcome` (who this is, the rooms with unread figures) and the
/// room's catch-up.
async fn greet(
    chat: &Chat,
    device: DeviceId,
    room: RoomId,
    last_seen: Option<Seq>,
    writer: &mut Writer<'_>,
) -> Result<Showing, GreetError> {
    let me = chat.identity(device).await?;
    let rooms = chat.room_statuses(device).await?;
    writer
        .put(Message::Text(hub::encode(&ServerEvent::Welcome {
            me,
            rooms,
            epoch: Some(chat.epoch().to_owned()),
        })))
        .await?;
    open(chat, device, room, last_seen, writer).await
}

/// Replays `room` after `last_seen`, change by change, or sends its latest
/// page when there is no cursor or the gap is too long; then who is here.
async fn open(
    chat: &Chat,
    device: DeviceId,
    room: RoomId,
    last_seen: Option<Seq>,
    writer: &mut Writer<'_>,
) -> Result<Showing, GreetError> {
    // A cursor past the room's end comes from another timeline (a
    // restored backup): it gets the page, like a missing one.
    let last_seen = match last_seen {
        Some(last) if last > chat.room_seq(room).await? => None,
        other => other,
    };
    let missed = match last_seen {
        Some(last) => Some(
            chat.changed_after(device, room, last, MAX_REPLAY + 1)
                .await?,
        ),
        None => None,
    };
    let delivered = match (last_seen, missed) {
        (Some(last), Some(missed)) if missed.len() <= MAX_REPLAY as usize => {
            let mut delivered = last;
            for message in missed {
                delivered = delivered.max(message.seq);
                writer
                    .put(Message::Text(hub::encode(&ServerEvent::Message {
                        message,
                    })))
                    .await?;
            }
            delivered
        }
        _ => {
            // The cursor is read first: a change committed meanwhile is in
            // the page or comes live, maybe both (the client keys by id).
            let seq = chat.room_seq(room).await?;
            let messages = chat
                .page_before(Some(device), room, None, HISTORY_PAGE)
                .await?;
            let delivered = messages.iter().map(|m| m.seq).max().unwrap_or(seq).max(seq);
            writer
                .put(Message::Text(hub::encode(&ServerEvent::Resync {
                    room,
                    messages,
                    seq: delivered,
                })))
                .await?;
            delivered
        }
    };
    let (people, count) = chat.presence().opening(room);
    writer
        .put(Message::Text(hub::encode(&ServerEvent::Presence {
            room,
            people,
            count: Some(count),
        })))
        .await?;
    writer.flush().await?;
    Ok(Showing {
        room,
        delivered,
        left: None,
    })
}
