//! One WebSocket connection, as two tasks: this one reads the client's
//! events and carries them out; `outbound` owns the writing half (welcome,
//! catch-up, live broadcasts, replies, pings) so that a client that stops
//! reading never stalls the reading side, and vice versa.

mod gate;
mod outbound;

use crate::chat::{Chat, ChatError};
use crate::http::origin;
use crate::http::state::AppState;
use crate::limits;
use crate::realtime::presence::TabId;
use crate::store::{PostTicket, RoomKey, StoreError};
use app::protocol::{
    close_code, ClientEvent, ClientMessageId, ConnectParams, DeviceId, ErrorCode, RoomId,
    ServerEvent,
};
use app::validate::{MessageError, MessageText};
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use futures::stream::FuturesOrdered;
use futures::StreamExt;
use gate::Gate;
use outbound::Out;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tracing::Instrument;

/// Largest frame or message a client may send. axum's default is 64 MiB.
pub const MAX_FRAME_BYTES: usize = 64 * 1024;
/// Read buffer per socket. Client events are small; a larger frame still
/// arrives, in several reads. (axum's default is 128 KiB per socket.)
const READ_BUFFER: usize = 1024;
/// Frames are gathered up to this much before a write; `flush` sends the
/// rest. Grows only while in use.
const WRITE_BUFFER: usize = 16 * 1024;
/// Beyond this much unsent output, writes fail and the session ends.
const MAX_WRITE_BUFFER: usize = 1024 * 1024;
/// A client that sends nothing (not even a pong) for this long is dead.
const IDLE_LIMIT: Duration = Duration::from_secs(60);
/// Messages one socket may have waiting for their commit; past this the
/// session stops reading until some are answered.
const MAX_IN_FLIGHT: usize = 64;
/// Replies queued for the writing side.
const REPLY_QUEUE: usize = 128;

/// Gives every session its own tab id for presence.
static NEXT_TAB: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

pub async fn upgrade(
    ws: WebSocketUpgrade,
    State(app): State<AppState>,
    Extension(device): Extension<DeviceId>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(params): Query<ConnectParams>,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> Response {
    // Browsers send the cookie with a cross-site handshake too, so only the
    // chat's own origin may open a socket.
    if !origin::is_allowed(
        &headers,
        &uri,
        &crate::http::OriginPolicy::of(&app.settings),
    ) {
        tracing::warn!(origin = ?headers.get("origin"), "cross-site WebSocket refused");
        return (
            StatusCode::FORBIDDEN,
            "This origin may not open the chat socket.",
        )
            .into_response();
    }
    let limits = app.chat.limits();
    let ip = limits::client_ip(peer.ip(), &headers, &app.settings.trusted_proxies);
    if let Err(wait) = limits.connects.check(&ip) {
        return too_many("Too many connection attempts; slow down.", Some(wait));
    }
    let Some(ip_slot) = limits.per_ip.acquire(ip) else {
        return too_many("Too many open connections from this address.", None);
    };
    let Some(device_slot) = limits.per_device.acquire(device) else {
        return too_many("Too many open tabs for this device.", None);
    };
    // A private chat's socket is for members only; a blocked device gets
    // none at all. The session checks again whenever who may read changes.
    let changes = app.chat.access().changes();
    let member = match app.chat.admit(device).await {
        Ok(standing) => standing.role.is_some(),
        Err(e) => return e.into_response(),
    };
    ws.max_message_size(MAX_FRAME_BYTES)
        .max_frame_size(MAX_FRAME_BYTES)
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .max_write_buffer_size(MAX_WRITE_BUFFER)
        .on_upgrade(move |socket| {
            let span = tracing::info_span!("session", ?device, %peer);
            async move {
                let shutdown = app.shutdown.clone();
                let deadline = Duration::from_millis(app.settings.write_deadline_ms);
                let metrics = app.chat.clone();
                metrics.metrics().open_connections.inc();
                let admission = (changes, member);
                run(
                    socket, app.chat, device, params, deadline, shutdown, admission,
                )
                .await;
                metrics.metrics().open_connections.dec();
                drop((ip_slot, device_slot));
            }
            .instrument(span)
        })
}

fn too_many(message: &'static str, retry_after: Option<Duration>) -> Response {
    let mut res = (StatusCode::TOO_MANY_REQUESTS, message).into_response();
    if let Some(wait) = retry_after {
        let secs = wait.as_secs().max(1);
        if let Ok(v) = axum::http::HeaderValue::from_str(&secs.to_string()) {
            res.headers_mut().insert(axum::http::header::RETRY_AFTER, v);
        }
    }
    res
}

/// What one client event turned into.
enum Handled {
    Reply(Box<ServerEvent>),
    /// A message queued for commit: its ack (or error) comes later.
    Pending(ClientMessageId, PostTicket),
    /// Show another room: the writing side replays it.
    Open(Out),
    Nothing,
}

impl Handled {
    fn reply(event: ServerEvent) -> Self {
        Handled::Reply(Box::new(event))
    }
}

/// What the reading side knows about its tab.
struct Tab {
    id: TabId,
    device: DeviceId,
    /// The room the tab shows.
    room: RoomId,
    visible: bool,
    gate: Gate,
}

async fn run(
    socket: WebSocket,
    chat: Chat,
    device: DeviceId,
    params: ConnectParams,
    deadline: Duration,
    mut shutdown: watch::Receiver<bool>,
    admission: (watch::Receiver<u64>, bool),
) {
    let (sink, mut stream) = socket.split();
    // Subscribe before the writer reads the store for catch-up, so nothing
    // committed in between is missed; duplicates are skipped by seq.
    let live = chat.hub().subscribe();
    // …and to its person's own channel: closed rooms' events and news of
    // rooms it lost.
    let mailbox = chat.hub().join(device);
    let mailbox_id = mailbox.id;
    let room = match params.room {
        // Boxed, like every await this session makes only now and then: a
        // future holds room for the largest state it can be in, and an
        // idle socket should not carry a store query's worth of it.
        Some(id) => match Box::pin(chat.readable_room(Some(device), RoomKey::Id(id))).await {
            Ok(Some(room)) => room.id,
            _ => RoomId::DEFAULT,
        },
        None => RoomId::DEFAULT,
    };
    // The room's own channel, likewise before its catch-up.
    let room_live = chat.hub().subscribe_room(room);
    let mut tab = Tab {
        id: NEXT_TAB.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        device,
        room,
        visible: true,
        gate: Gate::default(),
    };
    Box::pin(enter_room(&chat, &tab)).await;
    // A cursor from another epoch means nothing here: send the page.
    let same_epoch = params.epoch.as_deref().is_none_or(|e| e == chat.epoch());
    let opening = (room, params.last_seen.filter(|_| same_epoch));
    let (out, replies) = mpsc::channel(REPLY_QUEUE);
    // Not instrumented: this task wakes for every broadcast, and entering a
    // span on each poll costs more than the rest of its user-space work.
    // Its few log lines carry the device themselves.
    let mut writer = tokio::spawn(outbound::run(
        sink,
        (live, room_live, mailbox),
        replies,
        chat.clone(),
        device,
        opening,
        deadline,
        admission,
    ));
    tracing::debug!("session started");

    let mut in_flight = FuturesOrdered::new();
    // One timer, set for when the client would have been quiet too long
    // and moved on whenever it fires early: a socket wakes for it about
    // once a minute, not four times (at 10,000 sockets the ticks alone
    // were a steady cost).
    let idle = tokio::time::sleep(IDLE_LIMIT);
    tokio::pin!(idle);
    let mut last_heard = Instant::now();
    let mut writer_done = false;
    let close = loop {
        tokio::select! {
            frame = stream.next(), if in_flight.len() < MAX_IN_FLIGHT => {
                last_heard = Instant::now();
                let handled = match frame {
                    Some(Ok(Message::Text(text))) => Box::pin(handle_text(&chat, &mut tab, text.as_str())).await,
                    Some(Ok(Message::Binary(_))) => Handled::reply(error_event(
                        ErrorCode::InvalidEvent,
                        "Binary frames are not supported; send JSON text.",
                        None,
                    )),
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    Some(Ok(Message::Close(_))) | None => break None,
                    Some(Err(e)) => {
                        tracing::info!(error = %e, "socket error");
                        break too_big(e).then_some((close_code::TOO_BIG, "message too big"));
                    }
                };
                match handled {
                    Handled::Reply(event) => {
                        if out.send(Out::Event(event)).await.is_err() { break None; }
                    }
                    Handled::Pending(client_id, ticket) => {
                        in_flight.push_back(async move { answer(client_id, ticket.await) });
                    }
                    Handled::Open(open) => {
                        if out.send(open).await.is_err() { break None; }
                    }
                    Handled::Nothing => {}
                }
            }
            Some(event) = in_flight.next() => {
                if out.send(Out::Event(Box::new(event))).await.is_err() { break None; }
            }
            _ = &mut idle => {
                if last_heard.elapsed() >= IDLE_LIMIT {
                    break Some((close_code::POLICY, "no heartbeat"));
                }
                idle.as_mut().reset(last_heard + IDLE_LIMIT);
            }
            _ = shutdown.changed() => break Some((close_code::GOING_AWAY, "server shutting down")),
            _ = &mut writer => {
                writer_done = true;
                break None;
            }
        }
    };
    // Answers still owed are sent before the goodbye; the writing side
    // gives up on its own if the client stopped reading.
    while let Some(event) = in_flight.next().await {
        if out.send(Out::Event(Box::new(event))).await.is_err() {
            break;
        }
    }
    if let Some((code, reason)) = close {
        let _ = out.send(Out::Close(code, reason)).await;
    }
    drop(out);
    if !writer_done {
        let _ = writer.await;
    }
    chat.presence().leave(tab.id);
    chat.hub().leave(device, mailbox_id);
    tracing::debug!("session ended");
}

/// The ack or error for a committed (or refused) message.
fn answer(
    client_id: ClientMessageId,
    result: Result<crate::store::Posted, StoreError>,
) -> ServerEvent {
    match result {
        Ok(posted) => ServerEvent::Ack {
            client_id,
            message: posted.message,
        },
        Err(
            e @ (StoreError::Unavailable(_)
            | StoreError::Commit(_)
            | StoreError::Postgres(_)
            | StoreError::WriterGone),
        ) => {
            tracing::warn!(error = %e, "a message could not be stored");
            ServerEvent::Error {
                code: ErrorCode::Unavailable,
                message: "The chat cannot save messages right now; yours is kept and sent again."
                    .to_owned(),
                client_id: Some(client_id),
                retry_after_ms: Some(UNAVAILABLE_RETRY.as_millis() as u64),
            }
        }
        Err(e) => refusal(ChatError::Store(e), client_id),
    }
}

/// How long a client waits before resending what the database refused.
const UNAVAILABLE_RETRY: Duration = Duration::from_secs(2);

/// The error event for a refused request, in words for the user.
fn refusal(e: ChatError, client_id: ClientMessageId) -> ServerEvent {
    if let ChatError::Forbidden(text) | ChatError::Refused(text) = &e {
        return error_event(ErrorCode::Refused, text, Some(client_id));
    }
    let (code, text) = match &e {
        ChatError::RateLimited(wait) => return slow_down(client_id, *wait),
        ChatError::Store(StoreError::NoIdentity) => (
            ErrorCode::NameRequired,
            "Choose a name before sending messages.",
        ),
        ChatError::Store(StoreError::NotFound) => (
            ErrorCode::NotFound,
            "That message or room does not exist (any more).",
        ),
        ChatError::Store(StoreError::NotAuthor) => (
            ErrorCode::NotAuthor,
            "Only its author can change a message.",
        ),
        ChatError::Store(StoreError::EditWindowClosed) => (
            ErrorCode::EditWindowClosed,
            "This message can no longer be edited.",
        ),
        ChatError::Store(StoreError::Archived) => (
            ErrorCode::Archived,
            "This room is archived: it is read-only.",
        ),
        ChatError::Store(StoreError::InvalidReaction) => {
            (ErrorCode::InvalidReaction, "That reaction is not on offer.")
        }
        _ => {
            tracing::error!(error = %e, "a request failed");
            (
                ErrorCode::Internal,
                "The server could not save that. Please retry.",
            )
        }
    };
    error_event(code, text, Some(client_id))
}

/// Shows the tab in its room's presence list (once the device has a name).
async fn enter_room(chat: &Chat, tab: &Tab) {
    let me = chat.identity(tab.device).await.ok().flatten();
    chat.presence()
        .enter(tab.id, tab.device, tab.room, me, tab.visible);
}

/// True when the client's frame was over the size limit.
fn too_big(e: axum::Error) -> bool {
    matches!(
        e.into_inner().downcast_ref::<tungstenite::Error>(),
        Some(tungstenite::Error::Capacity(_))
    )
}

/// Parses and carries out one client event.
async fn handle_text(chat: &Chat, tab: &mut Tab, text: &str) -> Handled {
    let event = match serde_json::from_str::<ClientEvent>(text) {
        Ok(event) => event,
        Err(e) => {
            return Handled::reply(error_event(
                ErrorCode::InvalidEvent,
                &format!("Unreadable event: {e}"),
                None,
            ))
        }
    };
    let device = tab.device;
    let refused = |e, client_id| Handled::reply(refusal(e, client_id));
    // Blocking closes the socket; this covers the moment in between.
    if chat.access().is_blocked(device) && !matches!(event, ClientEvent::Ping { .. }) {
        return Handled::reply(error_event(
            ErrorCode::Blocked,
            crate::access::Denied::Blocked.sentence(),
            None,
        ));
    }
    match event {
        ClientEvent::Ping { nonce } => Handled::reply(ServerEvent::Pong { nonce }),
        ClientEvent::Send {
            client_id,
            text,
            room,
            mentions,
            attachment,
            reply_to,
        } => {
            let attachment = match attachment {
                None => None,
                Some(upload) => match chat.upload(device, upload).await {
                    Ok(Some(a)) => Some(a),
                    Ok(None) => {
                        return Handled::reply(error_event(
                            ErrorCode::BadAttachment,
                            "That file is not one of your uploads.",
                            Some(client_id),
                        ))
                    }
                    Err(e) => return refused(e, client_id),
                },
            };
            let parsed = if attachment.is_some() {
                MessageText::caption(&text)
            } else {
                MessageText::parse(&text)
            };
            let text = match parsed {
                Ok(text) => text,
                Err(e) => return text_refused(e, client_id),
            };
            let limiter = &chat.limits().messages;
            if tab.gate.blocks(client_id) {
                tab.gate.refuse(client_id);
                chat.metrics().rate_limited.inc();
                let wait = limiter.wait(&device).max(GATED_RETRY);
                return Handled::reply(slow_down(client_id, wait));
            }
            // Only valid messages spend tokens. A newcomer's first
            // messages also meet the tighter limit.
            let newcomer = match chat.access().is_newcomer(device).await {
                Ok(newcomer) => newcomer,
                Err(e) => return refused(ChatError::Store(e), client_id),
            };
            let newcomer_limit = if newcomer {
                chat.limits().newcomer_messages.check(&device)
            } else {
                Ok(())
            };
            if let Err(wait) = newcomer_limit.and_then(|()| limiter.check(&device)) {
                tab.gate.refuse(client_id);
                chat.metrics().rate_limited.inc();
                return Handled::reply(slow_down(client_id, wait));
            }
            tab.gate.take(client_id);
            let draft = crate::chat::Draft {
                room: room.unwrap_or(tab.room),
                client_id,
                text,
                mentions,
                attachment,
                reply_to,
            };
            match chat.submit(device, draft).await {
                Ok(ticket) => Handled::Pending(client_id, ticket),
                Err(e) => refused(e, client_id),
            }
        }
        ClientEvent::Edit {
            client_id,
            message_id,
            text,
        } => {
            let text = match MessageText::parse(&text) {
                Ok(text) => text,
                Err(e) => return text_refused(e, client_id),
            };
            if let Err(wait) = chat.limits().messages.check(&device) {
                return Handled::reply(slow_down(client_id, wait));
            }
            match chat.edit(device, message_id, text).await {
                Ok(_) => Handled::Nothing,
                Err(e) => refused(e, client_id),
            }
        }
        ClientEvent::Delete {
            client_id,
            message_id,
        } => match chat.delete(device, message_id).await {
            Ok(_) => Handled::Nothing,
            Err(e) => refused(e, client_id),
        },
        ClientEvent::React {
            client_id,
            message_id,
            emoji,
            on,
        } => match chat.react(device, message_id, emoji, on).await {
            Ok(_) => Handled::Nothing,
            Err(e) => refused(e, client_id),
        },
        ClientEvent::HidePreview {
            client_id,
            message_id,
        } => match chat.hide_preview(device, message_id).await {
            Ok(_) => Handled::Nothing,
            Err(e) => refused(e, client_id),
        },
        ClientEvent::Open { room, last_seen } => {
            match chat.readable_room(Some(device), RoomKey::Id(room)).await {
                Ok(Some(info)) => {
                    tab.room = info.id;
                    enter_room(chat, tab).await;
                    Handled::Open(Out::Open(info.id, last_seen))
                }
                Ok(None) => Handled::reply(error_event(
                    ErrorCode::NotFound,
                    "There is no such room.",
                    None,
                )),
                Err(e) => {
                    tracing::error!(error = %e, "could not open a room");
                    Handled::reply(error_event(
                        ErrorCode::Internal,
                        "The room could not be opened.",
                        None,
                    ))
                }
            }
        }
        ClientEvent::Read { room, seq } => {
            // A device without a name has nothing to mark; any other
            // failure only leaves the count as it was.
            if let Err(e) = chat.mark_read(device, room, seq).await {
                tracing::debug!(error = %e, "read mark not stored");
            }
            Handled::Nothing
        }
        ClientEvent::Typing => {
            if let Ok(Some(me)) = chat.identity(device).await {
                chat.typing(device, tab.room, me);
            }
            Handled::Nothing
        }
        ClientEvent::Visibility { visible } => {
            tab.visible = visible;
            chat.presence().set_visible(tab.id, visible);
            Handled::Nothing
        }
    }
}

/// The refusal of text that breaks the shared rules.
fn text_refused(e: MessageError, client_id: ClientMessageId) -> Handled {
    let code = match e {
        MessageError::Empty | MessageError::Invisible => ErrorCode::EmptyMessage,
        MessageError::TooLong(_) => ErrorCode::MessageTooLong,
    };
    Handled::reply(error_event(code, &e.to_string(), Some(client_id)))
}

/// The soonest a message held behind another one is worth resending.
const GATED_RETRY: Duration = Duration::from_millis(250);

fn slow_down(client_id: ClientMessageId, wait: Duration) -> ServerEvent {
    let secs = wait.as_secs_f64().ceil().max(1.0);
    ServerEvent::Error {
        code: ErrorCode::RateLimited,
        message: format!("Slow down: you can send again in {secs} s."),
        client_id: Some(client_id),
        retry_after_ms: Some(wait.as_millis() as u64),
    }
}

fn error_event(code: ErrorCode, message: &str, client_id: Option<ClientMessageId>) -> ServerEvent {
    ServerEvent::Error {
        code,
        message: message.to_owned(),
        client_id,
        retry_after_ms: None,
    }
}
