//! The writing half of a session: welcome and catch-up, then live
//! broadcasts, replies and pings. Whatever is ready is written together
//! and flushed once; every write runs under a deadline, so a client that
//! stops reading frees its slot instead of holding the session forever.

use crate::chat::Chat;
use crate::hub::{self, Audience, Broadcast};
use app::protocol::{
    close_code, ConnectParams, DeviceId, MessageId, ServerEvent, HISTORY_PAGE, MAX_REPLAY,
};
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures::stream::SplitSink;
use futures::SinkExt;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc};

const PING_EVERY: Duration = Duration::from_secs(20);
/// Most frames gathered before one flush.
const MAX_GATHER: usize = 64;

/// What the reading side asks the writing side to send.
pub enum Out {
    Event(ServerEvent),
    /// Say goodbye with this code and reason, then stop.
    Close(u16, &'static str),
}

type Sink = SplitSink<WebSocket, Message>;

/// Why writing stopped.
#[derive(Debug)]
enum Stop {
    /// The socket failed or the reading side is gone.
    Gone,
    /// Writes stayed blocked past the deadline.
    Blocked,
}

pub async fn run(
    mut sink: Sink,
    mut live: broadcast::Receiver<Broadcast>,
    mut replies: mpsc::Receiver<Out>,
    chat: Chat,
    device: DeviceId,
    params: ConnectParams,
    deadline: Duration,
) {
    let mut writer = Writer {
        sink: &mut sink,
        deadline,
    };
    let mut delivered = match greet(&chat, device, &params, &mut writer).await {
        Ok(high_water) => high_water,
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
                reply = replies.recv() => match reply {
                    Some(Out::Event(event)) => writer.put(Message::Text(hub::encode(&event))).await?,
                    Some(Out::Close(code, reason)) => {
                        writer.close(code, reason).await?;
                        return Ok(());
                    }
                    None => return Err(Stop::Gone),
                },
                item = live.recv() => match item {
                    Ok(b) => writer.forward(&chat, b, device, &mut delivered).await?,
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        tracing::warn!(?device, missed, "client too slow, closing");
                        chat.metrics().clients_too_slow.inc();
                        writer.close(close_code::TOO_SLOW, "too slow; reconnect to catch up").await?;
                        return Ok(());
                    }
                    Err(broadcast::error::RecvError::Closed) => {
                        writer.close(close_code::GOING_AWAY, "server shutting down").await?;
                        return Ok(());
                    }
                },
                _ = ping.tick() => writer.put(Message::Ping(Default::default())).await?,
            }
            // Gather whatever else is ready, then flush once.
            for _ in 0..MAX_GATHER {
                match live.try_recv() {
                    Ok(b) => writer.forward(&chat, b, device, &mut delivered).await?,
                    Err(broadcast::error::TryRecvError::Empty) => break,
                    // Lag and close are handled by the next recv() above.
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

    /// Sends a broadcast if it is for this device and not already sent by
    /// catch-up.
    async fn forward(
        &mut self,
        chat: &Chat,
        b: Broadcast,
        device: DeviceId,
        delivered: &mut MessageId,
    ) -> Result<(), Stop> {
        let for_us = match b.audience {
            Audience::Everyone => true,
            Audience::Device(d) => d == device,
        };
        if !for_us || b.message_id.is_some_and(|id| id <= *delivered) {
            return Ok(());
        }
        if let Some(id) = b.message_id {
            *delivered = id;
        }
        chat.metrics()
            .broadcast_lag_seconds
            .observe(b.at.elapsed().as_secs_f64());
        self.put(Message::Text(b.frame)).await
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

/// Sends `Welcome` and the catch-up; returns the newest message id sent.
async fn greet(
    chat: &Chat,
    device: DeviceId,
    params: &ConnectParams,
    writer: &mut Writer<'_>,
) -> Result<MessageId, GreetError> {
    let me = chat.identity(device).await?;
    writer
        .put(Message::Text(hub::encode(&ServerEvent::Welcome { me })))
        .await?;
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
        writer
            .put(Message::Text(hub::encode(&ServerEvent::Resync {
                messages: latest,
            })))
            .await?;
    } else {
        for message in missed {
            high_water = message.id;
            writer
                .put(Message::Text(hub::encode(&ServerEvent::Message {
                    message,
                })))
                .await?;
        }
    }
    writer.flush().await?;
    Ok(high_water)
}
