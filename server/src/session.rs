//! One WebSocket connection: welcome, catch-up, then live traffic until the
//! client leaves, falls behind, goes silent or the server shuts down.

use crate::chat::{Chat, ChatError};
use crate::hub::{self, Audience, Broadcast};
use crate::limits;
use crate::origin;
use crate::state::AppState;
use crate::store::StoreError;
use app::protocol::{
    close_code, ClientEvent, ClientMessageId, ConnectParams, DeviceId, ErrorCode, MessageId,
    ServerEvent, HISTORY_PAGE, MAX_REPLAY,
};
use app::validate::{MessageError, MessageText};
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use futures::{SinkExt, StreamExt};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::sync::{broadcast, watch};
use tokio::time::Instant;

/// Largest frame or message a client may send. axum's default is 64 MiB.
pub const MAX_FRAME_BYTES: usize = 64 * 1024;
const PING_EVERY: Duration = Duration::from_secs(20);
/// A client that sends nothing (not even a pong) for this long is dead.
const IDLE_LIMIT: Duration = Duration::from_secs(60);

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
        .on_upgrade(move |socket| async move {
            let shutdown = app.shutdown.clone();
            run(socket, app.chat, device, params, shutdown).await;
            drop((ip_slot, device_slot));
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

/// Why a session ended, and what to tell the client.
enum End {
    ClientLeft,
    Close(u16, &'static str),
}

async fn run(
    socket: WebSocket,
    chat: Chat,
    device: DeviceId,
    params: ConnectParams,
    mut shutdown: watch::Receiver<bool>,
) {
    let (mut sink, mut stream) = socket.split();
    // Subscribe before reading the store so nothing committed in between
    // is missed; duplicates are skipped by id below.
    let mut live = chat.hub().subscribe();
    let mut delivered = match greet(&chat, device, &params, &mut sink).await {
        Ok(high_water) => high_water,
        Err(e) => {
            tracing::warn!(error = %e, "session could not start");
            let _ = sink
                .send(close(close_code::GOING_AWAY, "server error"))
                .await;
            return;
        }
    };
    tracing::debug!(?device, "session started");

    let mut gate = Gate::default();
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    let mut last_heard = Instant::now();

    let end = loop {
        tokio::select! {
            frame = stream.next() => {
                last_heard = Instant::now();
                match frame {
                    Some(Ok(Message::Text(text))) => {
                        let reply = handle_text(&chat, device, &mut gate, text.as_str()).await;
                        if let Some(reply) = reply {
                            if sink.send(Message::Text(hub::encode(&reply))).await.is_err() {
                                break End::ClientLeft;
                            }
                        }
                    }
                    Some(Ok(Message::Binary(_))) => {
                        let reply = error_event(ErrorCode::InvalidEvent, "Binary frames are not supported; send JSON text.", None);
                        if sink.send(Message::Text(hub::encode(&reply))).await.is_err() {
                            break End::ClientLeft;
                        }
                    }
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                    Some(Ok(Message::Close(_))) | None => break End::ClientLeft,
                    Some(Err(e)) => {
                        tracing::info!(error = %e, "socket error");
                        break if is_too_big(&e) {
                            End::Close(close_code::TOO_BIG, "message too big")
                        } else {
                            End::ClientLeft
                        };
                    }
                }
            }
            item = live.recv() => match item {
                Ok(b) => {
                    if !wanted(&b, device, delivered) {
                        continue;
                    }
                    if let Some(id) = b.message_id {
                        delivered = id;
                    }
                    if sink.send(Message::Text(b.frame)).await.is_err() {
                        break End::ClientLeft;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!(missed = n, "client too slow, closing");
                    break End::Close(close_code::TOO_SLOW, "too slow; reconnect to catch up");
                }
                Err(broadcast::error::RecvError::Closed) => break End::Close(close_code::GOING_AWAY, "server shutting down"),
            },
            _ = ping.tick() => {
                if last_heard.elapsed() > IDLE_LIMIT {
                    break End::Close(close_code::POLICY, "no heartbeat");
                }
                if sink.send(Message::Ping(Default::default())).await.is_err() {
                    break End::ClientLeft;
                }
            }
            _ = shutdown.changed() => break End::Close(close_code::GOING_AWAY, "server shutting down"),
        }
    };
    if let End::Close(code, reason) = end {
        let _ = sink.send(close(code, reason)).await;
    }
    tracing::debug!(?device, "session ended");
}

/// Sends `Welcome` and the catch-up; returns the newest message id sent.
async fn greet(
    chat: &Chat,
    device: DeviceId,
    params: &ConnectParams,
    sink: &mut futures::stream::SplitSink<WebSocket, Message>,
) -> Result<MessageId, SessionError> {
    let me = chat.identity(device).await?;
    send(sink, &ServerEvent::Welcome { me }).await?;
    let mut high_water = params.last_seen.unwrap_or(MessageId(0));
    let missed = match params.last_seen {
        Some(last) => chat.page_after(last, MAX_REPLAY + 1).await?,
        None => Vec::new(),
    };
    if params.last_seen.is_none() || missed.len() > MAX_REPLAY as usize {
        let latest = chat.page_before(None, HISTORY_PAGE).await?;
        if let Some(last) = latest.last() {
            high_water = high_water.max(last.id);
        }
        send(sink, &ServerEvent::Resync { messages: latest }).await?;
    } else {
        for message in missed {
            high_water = message.id;
            send(sink, &ServerEvent::Message { message }).await?;
        }
    }
    Ok(high_water)
}

#[derive(Debug, thiserror::Error)]
enum SessionError {
    #[error(transparent)]
    Chat(#[from] ChatError),
    #[error("socket closed: {0}")]
    Socket(#[from] axum::Error),
}

async fn send(
    sink: &mut futures::stream::SplitSink<WebSocket, Message>,
    event: &ServerEvent,
) -> Result<(), SessionError> {
    Ok(sink.send(Message::Text(hub::encode(event))).await?)
}

fn wanted(b: &Broadcast, device: DeviceId, delivered: MessageId) -> bool {
    let for_us = match b.audience {
        Audience::Everyone => true,
        Audience::Device(d) => d == device,
    };
    for_us && b.message_id.is_none_or(|id| id > delivered)
}

/// Keeps a device's messages in the order it sent them when the rate
/// limit holds some back: refused messages queue up in the order they
/// were refused, and a message is taken only when none refused before it
/// is still waiting. Otherwise a later message could take a token that
/// refilled before an earlier one was resent, and be stored ahead of it.
/// Per socket: a reconnect starts afresh (and the page resends in order).
#[derive(Default)]
struct Gate {
    held: std::collections::VecDeque<ClientMessageId>,
}

/// Refused messages remembered per socket; a client past this is flooding.
const GATE_DEPTH: usize = 256;

impl Gate {
    /// Whether `id` must wait behind an earlier refused message.
    fn blocks(&self, id: ClientMessageId) -> bool {
        self.held.front().is_some_and(|first| *first != id)
    }

    fn refuse(&mut self, id: ClientMessageId) {
        if self.held.len() < GATE_DEPTH && !self.held.contains(&id) {
            self.held.push_back(id);
        }
    }

    fn take(&mut self, id: ClientMessageId) {
        if self.held.front() == Some(&id) {
            self.held.pop_front();
        }
    }
}

/// Parses and carries out one client event; returns the direct reply.
async fn handle_text(
    chat: &Chat,
    device: DeviceId,
    gate: &mut Gate,
    text: &str,
) -> Option<ServerEvent> {
    let event = match serde_json::from_str::<ClientEvent>(text) {
        Ok(event) => event,
        Err(e) => {
            return Some(error_event(
                ErrorCode::InvalidEvent,
                &format!("Unreadable event: {e}"),
                None,
            ))
        }
    };
    match event {
        ClientEvent::Ping { nonce } => Some(ServerEvent::Pong { nonce }),
        ClientEvent::Send { client_id, text } => {
            let text = match MessageText::parse(&text) {
                Ok(text) => text,
                Err(e) => {
                    let code = match e {
                        MessageError::Empty | MessageError::Invisible => ErrorCode::EmptyMessage,
                        MessageError::TooLong(_) => ErrorCode::MessageTooLong,
                    };
                    return Some(error_event(code, &e.to_string(), Some(client_id)));
                }
            };
            let limiter = &chat.limits().messages;
            if gate.blocks(client_id) {
                gate.refuse(client_id);
                let wait = limiter.wait(&device).max(GATED_RETRY);
                return Some(slow_down(client_id, wait));
            }
            // Only valid messages spend tokens.
            if let Err(wait) = limiter.check(&device) {
                gate.refuse(client_id);
                return Some(slow_down(client_id, wait));
            }
            gate.take(client_id);
            Some(match chat.post(device, client_id, text).await {
                Ok(posted) => ServerEvent::Ack {
                    client_id,
                    message: posted.message,
                },
                Err(ChatError::Store(StoreError::NoIdentity)) => error_event(
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
            })
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

fn close(code: u16, reason: &'static str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }))
}

fn is_too_big(e: &axum::Error) -> bool {
    let text = e.to_string();
    text.contains("Space limit exceeded") || text.contains("too long") || text.contains("Capacity")
}
