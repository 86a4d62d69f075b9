//! Fan-out of server events to every connection. Each event is encoded once
//! and the same bytes are shared by all sockets. The broadcast channel's
//! capacity bounds how far one connection may fall behind; a receiver that
//! lags past it is closed by its session instead of slowing the others.

use app::protocol::{DeviceId, MessageId, ServerEvent};
use axum::extract::ws::Utf8Bytes;
use tokio::sync::broadcast;

/// Events one connection may have queued before it counts as too slow.
pub const BACKLOG: usize = 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Audience {
    Everyone,
    /// Every tab of one device (identity changes).
    Device(DeviceId),
}

#[derive(Clone, Debug)]
pub struct Broadcast {
    pub audience: Audience,
    /// Set for chat messages so a session can skip what catch-up already sent.
    pub message_id: Option<MessageId>,
    pub frame: Utf8Bytes,
    /// When it was published, for the broadcast-lag metric.
    pub at: std::time::Instant,
}

pub struct Hub {
    tx: broadcast::Sender<Broadcast>,
}

impl Hub {
    pub fn new() -> Self {
        let (tx, _) = broadcast::channel(BACKLOG);
        Self { tx }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Broadcast> {
        self.tx.subscribe()
    }

    pub fn publish(&self, audience: Audience, event: &ServerEvent) {
        let message_id = match event {
            ServerEvent::Message { message } => Some(message.id),
            _ => None,
        };
        let frame = encode(event);
        // No receivers is fine: nobody is connected.
        let _ = self.tx.send(Broadcast {
            audience,
            message_id,
            frame,
            at: std::time::Instant::now(),
        });
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
