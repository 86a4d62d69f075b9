//! One WebSocket connection, as two tasks: this one reads the client's
//! events and carries them out; `outbound` owns the writing half (welcome,
//! catch-up, live broadcasts, replies, pings) so that a client that stops
//! reading never stalls the reading side, and vice versa.

mod gate;
mod outbound;

use crate::chat::{Chat, ChatError};
use crate::limits;
use crate::origin;
use crate::state::AppState;
use crate::store::{PostTicket, StoreError};
use app::protocol::{
    close_code, ClientEvent, ClientMessageId, ConnectParams, DeviceId, ErrorCode, ServerEvent,
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
const READ_BUFFER: usize = 4 * 1024;
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
    if !origin::is_allowed(&headers, &uri, &app.settings.allowed_origins) {
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
                run(socket, app.chat, device, params, deadline, shutdown).await;
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
    Reply(ServerEvent),
    /// A message queued for commit: its ack (or error) comes later.
    Pending(ClientMessageId, PostTicket),
}

async fn run(
    socket: WebSocket,
    chat: Chat,
    device: DeviceId,
    params: ConnectParams,
    deadline: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let (sink, mut stream) = socket.split();
    // Subscribe before the writer reads the store for catch-up, so nothing
    // committed in between is missed; duplicates are skipped by id.
    let live = chat.hub().subscribe();
    let (out, replies) = mpsc::channel(REPLY_QUEUE);
    // Not instrumented: this task wakes for every broadcast, and entering a
    // span on each poll costs more than the rest of its user-space work.
    // Its few log lines carry the device themselves.
    let mut writer = tokio::spawn(outbound::run(
        sink,
        live,
        replies,
        chat.clone(),
        device,
        params,
        deadline,
    ));
    tracing::debug!("session started");

    let mut gate = Gate::default();
    let mut in_flight = FuturesOrdered::new();
    let mut idle_check = tokio::time::interval(IDLE_LIMIT / 4);
    let mut last_heard = Instant::now();
    let mut writer_done = false;
    let close = loop {
        tokio::select! {
            frame = stream.next(), if in_flight.len() < MAX_IN_FLIGHT => {
                last_heard = Instant::now();
                let handled = match frame {
                    Some(Ok(Message::Text(text))) => handle_text(&chat, device, &mut gate, text.as_str()).await,
                    Some(Ok(Message::Binary(_))) => Handled::Reply(error_event(
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
                }
            }
            Some(event) = in_flight.next() => {
                if out.send(Out::Event(event)).await.is_err() { break None; }
            }
            _ = idle_check.tick() => {
                if last_heard.elapsed() > IDLE_LIMIT {
                    break Some((close_code::POLICY, "no heartbeat"));
                }
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
        if out.send(Out::Event(event)).await.is_err() {
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
        Err(StoreError::NoIdentity) => error_event(
            ErrorCode::NameRequired,
            "Choose a name before sending messages.",
            Some(client_id),
        ),
        Err(e) => {
            tracing::error!(error = %e, "could not store a message");
            error_event(
                ErrorCode::Internal,
                "The message could not be saved. Please retry.",
                Some(client_id),
            )
        }
    }
}

/// True when the client's frame was over the size limit.
fn too_big(e: axum::Error) -> bool {
    matches!(
        e.into_inner().downcast_ref::<tungstenite::Error>(),
        Some(tungstenite::Error::Capacity(_))
    )
}

/// Parses and carries out one client event.
async fn handle_text(chat: &Chat, device: DeviceId, gate: &mut Gate, text: &str) -> Handled {
    let event = match serde_json::from_str::<ClientEvent>(text) {
        Ok(event) => event,
        Err(e) => {
            return Handled::Reply(error_event(
                ErrorCode::InvalidEvent,
                &format!("Unreadable event: {e}"),
                None,
            ))
        }
    };
    match event {
        ClientEvent::Ping { nonce } => Handled::Reply(ServerEvent::Pong { nonce }),
        ClientEvent::Send { client_id, text } => {
            let text = match MessageText::parse(&text) {
                Ok(text) => text,
                Err(e) => {
                    let code = match e {
                        MessageError::Empty | MessageError::Invisible => ErrorCode::EmptyMessage,
                        MessageError::TooLong(_) => ErrorCode::MessageTooLong,
                    };
                    return Handled::Reply(error_event(code, &e.to_string(), Some(client_id)));
                }
            };
            let limiter = &chat.limits().messages;
            if gate.blocks(client_id) {
                gate.refuse(client_id);
                chat.metrics().rate_limited.inc();
                let wait = limiter.wait(&device).max(GATED_RETRY);
                return Handled::Reply(slow_down(client_id, wait));
            }
            // Only valid messages spend tokens.
            if let Err(wait) = limiter.check(&device) {
                gate.refuse(client_id);
                chat.metrics().rate_limited.inc();
                return Handled::Reply(slow_down(client_id, wait));
            }
            gate.take(client_id);
            match chat.submit(device, client_id, text).await {
                Ok(ticket) => Handled::Pending(client_id, ticket),
                Err(ChatError::Store(e)) => Handled::Reply(answer(client_id, Err(e))),
                Err(e) => {
                    tracing::error!(error = %e, "could not queue a message");
                    Handled::Reply(error_event(
                        ErrorCode::Internal,
                        "The message could not be saved. Please retry.",
                        Some(client_id),
                    ))
                }
            }
        }
    }
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
