//! The two servers the load generator can drive, each spoken to exactly
//! as its browser page does: this chat (cookie, name through the server
//! function, the page's Origin, JSON events) and the Flask-SocketIO seed
//! (Engine.IO 4 / Socket.IO 5 frames over a WebSocket).

use app::protocol::{ClientEvent, ClientMessageId};
use futures::{SinkExt, StreamExt};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};

pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long one connection (handshake and greeting) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
pub enum Protocol {
    /// This chat.
    Chat,
    /// The Flask-SocketIO seed.
    Seed,
}

/// What one frame from the server means to the load generator.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame {
    /// A chat message carrying a load-generator payload.
    Delivery {
        payload: Payload,
        /// The server's message id, where the protocol has one.
        id: Option<i64>,
    },
    /// This chat acknowledged one of our messages.
    Ack(Payload),
    /// A page of a room's history sent in place of what a socket fell
    /// behind on (this chat's `resync`): a browser shows these messages.
    Page(Vec<Payload>),
    RateLimited,
    Error,
    /// Engine.IO ping, to be answered.
    Ping,
    Other,
}

/// What the load generator writes into every message it sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Payload {
    pub sender: u32,
    pub seq: u32,
    /// Send time, microseconds since the run's clock started.
    pub sent_us: u64,
}

impl Payload {
    /// `lg:<sender>:<seq>:<sent_us>:` padded with `x` to `size` bytes.
    pub fn text(&self, size: usize) -> String {
        let mut text = format!("lg:{}:{}:{}:", self.sender, self.seq, self.sent_us);
        while text.len() < size {
            text.push('x');
        }
        text
    }

    /// Every payload in a frame, in order.
    fn find_all(frame: &str) -> Vec<Payload> {
        memchr::memmem::find_iter(frame.as_bytes(), b"\"lg:")
            .filter_map(|at| Payload::find(&frame[at..]))
            .collect()
    }

    /// Finds the payload in a frame without parsing the whole JSON: this
    /// runs for every delivery, so it must cost far less than the server's
    /// work for it.
    fn find(frame: &str) -> Option<Payload> {
        let at = memchr::memmem::find(frame.as_bytes(), b"\"lg:")? + 4;
        let mut parts = frame[at..].splitn(4, ':');
        Some(Payload {
            sender: parts.next()?.parse().ok()?,
            seq: parts.next()?.parse().ok()?,
            sent_us: parts.next()?.parse().ok()?,
        })
    }
}

/// The number after `"id":` in a message event.
fn message_id(frame: &str) -> Option<i64> {
    let at = memchr::memmem::find(frame.as_bytes(), b"\"id\":")? + 5;
    let digits: &str = &frame[at..];
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    digits[..end].parse().ok()
}

pub struct Target {
    pub protocol: Protocol,
    /// `https://127.0.0.1:8443`
    origin: String,
    ws_base: String,
    tls: Option<Arc<rustls::ClientConfig>>,
    http: reqwest::Client,
}

impl Target {
    pub fn new(url: &str, protocol: Protocol) -> Result<Self, String> {
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| format!("not a URL: {url}"))?;
        let authority = rest.trim_end_matches('/');
        loopback_only(authority)?;
        let tls = match scheme {
            "https" => Some(crate::tls::client_config().map_err(|e| e.to_string())?),
            "http" => None,
            _ => return Err(format!("unsupported scheme {scheme}")),
        };
        let ws_scheme = if tls.is_some() { "wss" } else { "ws" };
        let http = reqwest::Client::builder()
            .danger_accept_invalid_certs(true)
            .timeout(CONNECT_TIMEOUT)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self {
            protocol,
            origin: format!("{scheme}://{authority}"),
            ws_base: format!("{ws_scheme}://{authority}"),
            tls,
            http,
        })
    }

    /// Opens one client: its own device, named when it will send, greeted
    /// by the server. Returns the socket ready for traffic.
    /// `room`: the room it shows (this chat's first room when `None`).
    pub async fn connect(
        &self,
        device: &str,
        name: Option<&str>,
        room: Option<i64>,
    ) -> Result<Socket, String> {
        tokio::time::timeout(CONNECT_TIMEOUT, self.connect_inner(device, name, room))
            .await
            .map_err(|_| "connect timed out".to_owned())?
    }

    async fn connect_inner(
        &self,
        device: &str,
        name: Option<&str>,
        room: Option<i64>,
    ) -> Result<Socket, String> {
        if let (Protocol::Chat, Some(name)) = (self.protocol, name) {
            self.set_name(device, name).await?;
        }
        let path = match (self.protocol, room) {
            (Protocol::Chat, None) => "/ws".to_owned(),
            (Protocol::Chat, Some(room)) => format!("/ws?room={room}"),
            (Protocol::Seed, _) => "/socket.io/?EIO=4&transport=websocket".to_owned(),
        };
        let mut req = format!("{}{path}", self.ws_base)
            .into_client_request()
            .map_err(|e| e.to_string())?;
        let headers = req.headers_mut();
        let cookie =
            HeaderValue::from_str(&format!("device_id={device}")).map_err(|e| e.to_string())?;
        headers.insert("cookie", cookie);
        let origin = HeaderValue::from_str(&self.origin).map_err(|e| e.to_string())?;
        headers.insert("origin", origin);
        let connector = match &self.tls {
            Some(config) => Connector::Rustls(config.clone()),
            None => Connector::Plain,
        };
        // Small buffers: thousands of these share the machine with the server.
        let config = WebSocketConfig::default()
            .read_buffer_size(16 * 1024)
            .write_buffer_size(0);
        let (mut socket, _) = tokio_tungstenite::connect_async_tls_with_config(
            req,
            Some(config),
            true,
            Some(connector),
        )
        .await
        .map_err(|e| format!("handshake: {e}"))?;
        match self.protocol {
            Protocol::Chat => {
                // Welcome, then the latest page of history.
                expect_text(&mut socket, r#"{"type":"welcome""#).await?;
                expect_text(&mut socket, r#"{"type":"resync""#).await?;
            }
            Protocol::Seed => {
                expect_text(&mut socket, "0{").await?;
                send_text(&mut socket, "40".to_owned()).await?;
                // Its connect event (`42["request_username"]`) may come
                // before or after the namespace's `40{…}`; either will do.
                expect_text(&mut socket, "42[").await?;
                if let Some(name) = name {
                    let frame = format!(r#"42["set_username",{{"name":"{name}"}}]"#);
                    send_text(&mut socket, frame).await?;
                    expect_text(&mut socket, r#"42["user_name""#).await?;
                }
            }
        }
        Ok(socket)
    }

    /// Names a device through the page's own server function.
    async fn set_name(&self, device: &str, name: &str) -> Result<(), String> {
        self.name_for_id(device, name.to_owned()).await.map(|_| ())
    }

    /// Names a device; its user id.
    pub async fn name_for_id(&self, device: &str, name: String) -> Result<i64, String> {
        let body = self
            .call(
                device,
                None,
                "set_name",
                "application/x-www-form-urlencoded",
                format!("name={name}"),
            )
            .await?;
        identity_id(&body).ok_or_else(|| format!("set_name answered {body}"))
    }

    /// Creates a room as `device`, from an address of its own behind the
    /// trusted proxy (rooms are limited per address); its id.
    pub async fn create_room(&self, device: &str, name: &str, n: usize) -> Result<i64, String> {
        let from = format!("10.{}.{}.{}", n >> 16 & 255, n >> 8 & 255, n & 255);
        let body = self
            .call(
                device,
                Some(&from),
                "create_room",
                "application/x-www-form-urlencoded",
                format!("name={name}"),
            )
            .await?;
        identity_id(&body).ok_or_else(|| format!("create_room answered {body}"))
    }

    /// A room action (`app::api::RoomAction` as JSON) as `device`.
    pub async fn room_action(&self, device: &str, action: serde_json::Value) -> Result<(), String> {
        let body = serde_json::json!({ "action": action }).to_string();
        self.call(device, None, "room_action", "application/json", body)
            .await
            .map(|_| ())
    }

    async fn call(
        &self,
        device: &str,
        forwarded_for: Option<&str>,
        function: &str,
        content_type: &str,
        body: String,
    ) -> Result<String, String> {
        let mut req = self
            .http
            .post(format!("{}/api/{function}", self.origin))
            .header("cookie", format!("device_id={device}"))
            .header("origin", &self.origin)
            .header("content-type", content_type)
            .body(body);
        if let Some(from) = forwarded_for {
            req = req.header("x-forwarded-for", from);
        }
        let res = req.send().await.map_err(|e| format!("{function}: {e}"))?;
        let status = res.status();
        let text = res.text().await.unwrap_or_default();
        if !status.is_success() {
            return Err(format!("{function} answered {status}: {text}"));
        }
        Ok(text)
    }

    /// The frame that posts `text` as a new message (into `room`, or the
    /// room the socket shows).
    pub fn message_frame(&self, text: String, room: Option<i64>) -> String {
        match self.protocol {
            Protocol::Chat => serde_json::to_string(&ClientEvent::Send {
                client_id: ClientMessageId::new_random(),
                text,
                room: room.map(app::protocol::RoomId),
                mentions: Vec::new(),
                attachment: None,
                reply_to: None,
            })
            .unwrap_or_default(),
            Protocol::Seed => format!(r#"42["message",{{"msg":"{text}"}}]"#),
        }
    }

    pub fn classify(&self, frame: &str) -> Frame {
        match self.protocol {
            Protocol::Chat => {
                if frame.starts_with(r#"{"type":"message""#) {
                    match Payload::find(frame) {
                        Some(payload) => Frame::Delivery {
                            payload,
                            id: message_id(frame),
                        },
                        None => Frame::Other,
                    }
                } else if frame.starts_with(r#"{"type":"resync""#) {
                    Frame::Page(Payload::find_all(frame))
                } else if frame.starts_with(r#"{"type":"ack""#) {
                    Payload::find(frame).map_or(Frame::Other, Frame::Ack)
                } else if frame.starts_with(r#"{"type":"error","code":"rate_limited""#) {
                    Frame::RateLimited
                } else if frame.starts_with(r#"{"type":"error""#) {
                    Frame::Error
                } else {
                    Frame::Other
                }
            }
            Protocol::Seed => {
                if frame == "2" {
                    Frame::Ping
                } else if frame.starts_with(r#"42["message""#) {
                    Payload::find(frame).map_or(Frame::Other, |payload| Frame::Delivery {
                        payload,
                        id: None,
                    })
                } else {
                    Frame::Other
                }
            }
        }
    }
}

/// The `"user_id"` or `"id"` of an identity or room answer.
fn identity_id(json: &str) -> Option<i64> {
    let v: serde_json::Value = serde_json::from_str(json).ok()?;
    v.get("user_id").or_else(|| v.get("id"))?.as_i64()
}

/// Benchmarks and tests only ever load the machine they run on.
fn loopback_only(authority: &str) -> Result<(), String> {
    let host = match authority.rsplit_once(':') {
        Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => host,
        _ => authority,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if loopback {
        Ok(())
    } else {
        Err(format!("refusing to load {host}: loopback addresses only"))
    }
}

pub async fn send_text(socket: &mut Socket, text: String) -> Result<(), String> {
    socket
        .send(Message::text(text))
        .await
        .map_err(|e| format!("send: {e}"))
}

/// Reads frames until a text frame starting with `prefix`.
async fn expect_text(socket: &mut Socket, prefix: &str) -> Result<(), String> {
    loop {
        match socket.next().await {
            Some(Ok(Message::Text(text))) if text.starts_with(prefix) => return Ok(()),
            Some(Ok(Message::Text(text))) if text.as_str() == "2" => {
                send_text(socket, "3".to_owned()).await?
            }
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(format!("waiting for {prefix}: {e}")),
            None => return Err(format!("closed while waiting for {prefix}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_round_trips_through_a_chat_frame() {
        let p = Payload {
            sender: 3,
            seq: 17,
            sent_us: 123_456,
        };
        let frame = format!(
            r#"{{"type":"message","message":{{"id":42,"user_id":1,"user_name":"lg3","color":"rgb(1,2,3)","msg":"{}","ts":1}}}}"#,
            p.text(64)
        );
        let target = Target::new("http://127.0.0.1:1", Protocol::Chat).expect("target");
        assert_eq!(
            target.classify(&frame),
            Frame::Delivery {
                payload: p,
                id: Some(42)
            }
        );
        assert_eq!(p.text(64).len(), 64);
    }

    #[test]
    fn only_loopback_targets_are_accepted() {
        assert!(loopback_only("127.0.0.1:8443").is_ok());
        assert!(loopback_only("localhost:1").is_ok());
        assert!(loopback_only("[::1]:80").is_ok());
        assert!(loopback_only("10.0.0.2:8443").is_err());
        assert!(loopback_only("example.org").is_err());
    }
}
