//! Shared helpers: start the real server binary on a free loopback port
//! with a temporary data directory, and talk to it over real HTTP and
//! WebSocket connections.
#![allow(dead_code)]

pub mod pg;

use app::protocol::{ChatMessage, ClientEvent, ClientMessageId, Identity, ServerEvent};
use futures::{SinkExt, StreamExt};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub const WAIT: Duration = Duration::from_secs(10);

pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    /// The owner token the server printed at start, if it did.
    pub owner_token: std::sync::Arc<std::sync::Mutex<Option<String>>>,
    pub data_dir: PathBuf,
    _logs: std::thread::JoinHandle<()>,
}

impl Server {
    /// Plain HTTP on a fresh data directory.
    pub fn start(data_dir: &Path) -> Server {
        Self::start_with(data_dir, &["--no-tls"])
    }

    pub fn start_with(data_dir: &Path, extra: &[&str]) -> Server {
        Self::start_at(data_dir, "127.0.0.1:0", extra)
    }

    /// On a given address, e.g. to restart where clients will reconnect.
    pub fn start_at(data_dir: &Path, addr: &str, extra: &[&str]) -> Server {
        // Tests post quickly from many fresh devices on one address; the
        // limits on newcomers and on new identities per address have their
        // own tests, which set them.
        let mut relaxed: Vec<&str> = Vec::new();
        for flag in ["--newcomer-burst", "--new-identity-burst"] {
            if !extra.contains(&flag) {
                relaxed.extend([flag, "100000"]);
            }
        }
        let mut child = Command::new(env!("CARGO_BIN_EXE_server"))
            .args(["--addr", addr, "--data-dir"])
            .arg(data_dir)
            .args(relaxed)
            .args(extra)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("server binary starts");
        let stderr = child.stderr.take().expect("stderr piped");
        let (tx, rx) = mpsc::channel();
        let owner_token = std::sync::Arc::new(std::sync::Mutex::new(None));
        let owner = owner_token.clone();
        // Keep draining the log so the server never blocks on a full pipe.
        let logs = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(token) = line.split("/owner/").nth(1).and_then(|t| t.get(..64)) {
                    if let Ok(mut o) = owner.lock() {
                        *o = Some(token.to_owned());
                    }
                }
                if let Some(addr) = line
                    .split("addr=")
                    .nth(1)
                    .filter(|_| line.contains("listening"))
                {
                    let _ = tx.send(addr.trim().to_owned());
                }
                if std::env::var_os("CHAT_TEST_LOGS").is_some() {
                    eprintln!("[server] {line}");
                }
            }
        });
        let addr = rx
            .recv_timeout(WAIT)
            .expect("server logs its address")
            .parse()
            .expect("a socket address");
        Server {
            child,
            addr,
            owner_token,
            data_dir: data_dir.to_owned(),
            _logs: logs,
        }
    }

    /// The owner token from the log (printed just after "listening").
    pub fn printed_owner_token(&self) -> String {
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            if let Some(t) = self.owner_token.lock().ok().and_then(|o| o.clone()) {
                return t;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no owner link in the log"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The server process's peak resident memory so far, in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .expect("the server's /proc status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmHWM")
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn ws_url(&self, query: &str) -> String {
        format!("ws://{}/ws{query}", self.addr)
    }

    /// SIGKILL: no shutdown, no flush beyond what SQLite already committed.
    pub fn crash(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then wait for a clean exit.
    pub fn stop(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        wait_exit(&mut self.child)
    }
}

fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("server did not exit in time");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn cookie(device: &str) -> String {
    format!("device_id={device}")
}

pub fn new_device() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(WAIT)
        .build()
        .expect("http client")
}

/// Names a device through the real server function.
pub async fn set_name(server: &Server, device: &str, name: &str) -> reqwest::Response {
    http()
        .post(server.url("/api/set_name"))
        .header("cookie", cookie(device))
        .form(&[("name", name)])
        .send()
        .await
        .expect("set_name answers")
}

/// Calls a server function as a form post from `device`.
pub async fn server_fn(
    server: &Server,
    device: &str,
    name: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    http()
        .post(server.url(&format!("/api/{name}")))
        .header("cookie", cookie(device))
        .form(form)
        .send()
        .await
        .expect("server function answers")
}

/// `GET url`, decoded from JSON.
pub async fn get_json<T: serde::de::DeserializeOwned>(url: &str) -> T {
    http()
        .get(url)
        .send()
        .await
        .expect("GET answers")
        .json()
        .await
        .expect("JSON body")
}

/// The newest page of history through `GET /get_messages`.
pub async fn history(server: &Server) -> Vec<ChatMessage> {
    get_json(&server.url("/get_messages")).await
}

pub async fn named(server: &Server, device: &str, name: &str) -> Identity {
    let res = set_name(server, device, name).await;
    assert!(
        res.status().is_success(),
        "set_name failed: {}",
        res.status()
    );
    res.json().await.expect("identity json")
}

pub type Socket = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

pub struct Client {
    pub socket: Socket,
}

impl Client {
    pub async fn connect(server: &Server, device: Option<&str>, query: &str) -> Client {
        let mut req = server.ws_url(query).into_client_request().expect("request");
        if let Some(device) = device {
            req.headers_mut().insert(
                "cookie",
                HeaderValue::from_str(&cookie(device)).expect("ascii"),
            );
        }
        let (socket, _) = tokio_tungstenite::connect_async(req)
            .await
            .expect("handshake");
        Client { socket }
    }

    /// Connects and consumes the `Welcome`, the room's `Resync` and who is
    /// here.
    pub async fn joined(server: &Server, device: &str) -> (Client, Option<Identity>) {
        let mut client = Client::connect(server, Some(device), "").await;
        let me = match client.next().await {
            ServerEvent::Welcome { me, .. } => me,
            other => panic!("expected welcome, got {other:?}"),
        };
        match client.next().await {
            ServerEvent::Resync { .. } => {}
            other => panic!("expected resync, got {other:?}"),
        }
        match client.next().await {
            ServerEvent::Presence { .. } => {}
            other => panic!("expected presence, got {other:?}"),
        }
        (client, me)
    }

    pub async fn send_event(&mut self, event: &ClientEvent) {
        let json = serde_json::to_string(event).expect("serialises");
        self.send_raw(Message::text(json)).await;
    }

    pub async fn send_raw(&mut self, message: Message) {
        self.socket.send(message).await.expect("frame sent");
    }

    pub async fn say(&mut self, text: &str) -> ClientMessageId {
        let client_id = ClientMessageId::new_random();
        self.send_event(&ClientEvent::Send {
            client_id,
            text: text.to_owned(),
            room: None,
            mentions: Vec::new(),
            attachment: None,
            reply_to: None,
        })
        .await;
        client_id
    }

    /// The next server event, skipping control frames.
    pub async fn next(&mut self) -> ServerEvent {
        loop {
            let frame = tokio::time::timeout(WAIT, self.socket.next())
                .await
                .expect("an event within the timeout")
                .expect("socket open")
                .expect("frame ok");
            match frame {
                Message::Text(text) => {
                    return serde_json::from_str(text.as_str()).expect("a typed server event")
                }
                Message::Ping(_) | Message::Pong(_) => continue,
                other => panic!("unexpected frame {other:?}"),
            }
        }
    }

    /// The next event matching `pick`, skipping others.
    pub async fn next_matching<T>(&mut self, mut pick: impl FnMut(ServerEvent) -> Option<T>) -> T {
        loop {
            if let Some(found) = pick(self.next().await) {
                return found;
            }
        }
    }

    /// Waits for the close frame and returns its code.
    pub async fn close_code(&mut self) -> Option<u16> {
        loop {
            let frame = tokio::time::timeout(WAIT, self.socket.next())
                .await
                .expect("closes within the timeout");
            match frame {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return None,
            }
        }
    }
}

/// Who is here, kept from `Presence` and `Here` events as a page keeps it.
#[derive(Default, Debug)]
pub struct WhoIsHere {
    pub people: std::collections::BTreeMap<app::protocol::UserId, Identity>,
    pub count: u32,
}

impl WhoIsHere {
    /// Takes in one event; whether it was about who is here.
    pub fn apply(&mut self, event: &ServerEvent) -> bool {
        match event {
            ServerEvent::Presence { people, count, .. } => {
                self.people = people.iter().map(|p| (p.user_id, p.clone())).collect();
                self.count = count.unwrap_or(people.len() as u32);
                true
            }
            ServerEvent::Here {
                count,
                joined,
                left,
                ..
            } => {
                for id in left {
                    self.people.remove(id);
                }
                for p in joined {
                    self.people.insert(p.user_id, p.clone());
                }
                self.count = *count;
                true
            }
            _ => false,
        }
    }

    /// The names listed, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.people.values().map(|p| p.name.clone()).collect();
        names.sort();
        names
    }
}

/// A plain PNG of one colour, for uploads.
pub fn png(width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbImage::from_pixel(width, height, image::Rgb([10, 200, 30]));
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .expect("encodes");
    out
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// One value from the server's metrics listener (0 when absent).
pub async fn metric(port: u16, name: &str) -> f64 {
    let text = http()
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .send()
        .await
        .expect("metrics answer")
        .text()
        .await
        .expect("text");
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or(0.0)
}
