//! The kill -9 drill: many clients post at a steady rate with an outbox
//! and resends, the server is killed mid-stream and restarted on the same
//! data directory, and the clients find their own way back. Afterwards
//! every acknowledged message must be stored exactly once and every client
//! must hold the same gap-free, duplicate-free history as the server.
//!
//! Each client follows the browser's algorithm (client ids, outbox, resend
//! on welcome, catch-up from the last seen id), so this checks the server's
//! guarantees under that algorithm. Figures are printed; run with
//! `cargo test -p server --test it drill -- --nocapture` to see them.

use crate::common;

use app::protocol::{ChatMessage, ClientEvent, ClientMessageId, MessageId, ServerEvent};
use common::{named, new_device, Server};
use futures::{SinkExt, StreamExt};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

const CLIENTS: usize = 24;
const MESSAGES_EACH: usize = 25;
const SEND_EVERY: Duration = Duration::from_millis(40);
const DRILL_LIMIT: Duration = Duration::from_secs(60);
/// The drill posts far faster than a person; lift the per-device limit.
const FLAGS: &[&str] = &["--no-tls", "--message-burst", "100000"];

#[derive(Default)]
struct ClientLog {
    /// Every message id this client holds, with its text.
    known: BTreeMap<MessageId, ChatMessage>,
    /// Newest id received in stream order; acks do not move it, as in the
    /// browser (an ack can overtake broadcasts still in flight).
    cursor: i64,
    acked: HashMap<ClientMessageId, MessageId>,
    attempts: usize,
    /// When the client got its first Welcome after the crash.
    back_at: Option<Instant>,
    resyncs: usize,
}

struct Shared {
    addr: String,
    crashed_at: Mutex<Option<Instant>>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_stream_loses_and_duplicates_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start_with(dir.path(), FLAGS);
    let addr = server.addr.to_string();
    let mut devices = Vec::new();
    for i in 0..CLIENTS {
        let dev = new_device();
        named(&server, &dev, &format!("drill{i}")).await;
        devices.push(dev);
    }
    let shared = Arc::new(Shared {
        addr: addr.clone(),
        crashed_at: Mutex::new(None),
    });
    let started = Instant::now();
    let tasks: Vec<_> = devices
        .into_iter()
        .enumerate()
        .map(|(i, dev)| tokio::spawn(run_client(i, dev, shared.clone())))
        .collect();

    // Let traffic flow, then pull the plug.
    tokio::time::sleep(Duration::from_millis(400)).await;
    server.crash();
    *shared.crashed_at.lock().await = Some(Instant::now());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let server = Server::start_at(dir.path(), &addr, FLAGS);

    let mut logs = Vec::new();
    for t in tasks {
        logs.push(t.await.expect("client task"));
    }
    let elapsed = started.elapsed();

    let history = full_history(&server).await;
    let stored_ids: Vec<MessageId> = history.iter().map(|m| m.id).collect();
    let unique: HashSet<MessageId> = stored_ids.iter().copied().collect();
    assert_eq!(unique.len(), stored_ids.len(), "history has repeated ids");
    assert!(
        stored_ids.windows(2).all(|w| w[0] < w[1]),
        "history out of order"
    );

    let generated = CLIENTS * MESSAGES_EACH;
    let resyncs: usize = logs.iter().map(|l| l.resyncs).sum();
    let acked: usize = logs.iter().map(|l| l.acked.len()).sum();
    let attempts: usize = logs.iter().map(|l| l.attempts).sum();
    let texts: HashMap<&str, usize> = history.iter().fold(HashMap::new(), |mut m, msg| {
        *m.entry(msg.msg.as_str()).or_default() += 1;
        m
    });
    let duplicated = texts.values().filter(|&&n| n > 1).count();
    let lost = logs
        .iter()
        .flat_map(|l| l.acked.values())
        .filter(|id| !unique.contains(id))
        .count();
    let crashed_at = shared.crashed_at.lock().await.expect("crash time");
    let mut reconnect: Vec<Duration> = logs
        .iter()
        .filter_map(|l| l.back_at.map(|t| t.saturating_duration_since(crashed_at)))
        .collect();
    reconnect.sort();

    println!("kill -9 drill: {CLIENTS} clients x {MESSAGES_EACH} messages in {elapsed:.1?}");
    println!(
        "  generated {generated}, send attempts {attempts} (resends {}), acked {acked}, stored {}, lost {lost}, duplicated {duplicated}",
        attempts - generated,
        history.len()
    );
    println!("  catch-ups too long to replay (resync + HTTP backfill): {resyncs}");
    if let (Some(first), Some(last)) = (reconnect.first(), reconnect.last()) {
        println!(
            "  reconnect after crash (incl. 300 ms down): min {first:.0?}, median {:.0?}, max {last:.0?}",
            reconnect[reconnect.len() / 2]
        );
    }

    assert_eq!(acked, generated, "every message was eventually acked");
    assert_eq!(history.len(), generated, "stored exactly once each");
    assert_eq!(lost, 0);
    assert_eq!(duplicated, 0);
    assert_eq!(reconnect.len(), CLIENTS, "every client came back by itself");
    for (i, log) in logs.iter().enumerate() {
        let ids: Vec<MessageId> = log.known.keys().copied().collect();
        assert_eq!(
            ids, stored_ids,
            "client {i} differs from the server history"
        );
    }
}

async fn full_history(server: &Server) -> Vec<ChatMessage> {
    history_at(&server.addr.to_string()).await
}

/// Every stored message, oldest first, through the paginated JSON API.
async fn history_at(addr: &str) -> Vec<ChatMessage> {
    let url = |query: &str| format!("http://{addr}/get_messages?{query}");
    let mut all: Vec<ChatMessage> = Vec::new();
    let mut before: Option<i64> = None;
    loop {
        let url = match before {
            Some(b) => url(&format!("limit=200&before={b}")),
            None => url("limit=200"),
        };
        let page: Vec<ChatMessage> = common::get_json(&url).await;
        let Some(first) = page.first() else { break };
        before = Some(first.id.0);
        let more = page.len() == 200;
        all.splice(0..0, page);
        if !more {
            break;
        }
    }
    all
}

/// One client: posts `MESSAGES_EACH` messages, reconnecting and resending
/// as needed, and returns once all are acked and it has caught up with
/// everyone else's messages.
async fn run_client(index: usize, device: String, shared: Arc<Shared>) -> ClientLog {
    let mut log = ClientLog::default();
    let mut outbox: Vec<(ClientMessageId, String)> = Vec::new();
    let mut next_text = 0;
    let deadline = Instant::now() + DRILL_LIMIT;
    let total = CLIENTS * MESSAGES_EACH;
    let mut backoff = Duration::from_millis(50);

    while Instant::now() < deadline {
        // Starting from 0 asks for everything, like a page that rendered an
        // empty room.
        let url = format!("ws://{}/ws?last_seen={}", shared.addr, log.cursor);
        let mut req = url.into_client_request().expect("request");
        req.headers_mut()
            .insert("cookie", common::cookie(&device).parse().expect("header"));
        let Ok(Ok((mut socket, _))) = tokio::time::timeout(
            Duration::from_secs(2),
            tokio_tungstenite::connect_async(req),
        )
        .await
        else {
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_millis(800));
            continue;
        };
        let mut welcomed = false;
        let mut ticker = tokio::time::interval(SEND_EVERY);
        loop {
            if next_text == MESSAGES_EACH && outbox.is_empty() && log.known.len() >= total {
                let _ = socket.close(None).await;
                return log;
            }
            tokio::select! {
                frame = tokio::time::timeout_at(deadline.into(), socket.next()) => {
                    let Ok(frame) = frame else {
                        panic!("client {index} stuck: {} of {total} messages, {} unacked", log.known.len(), outbox.len());
                    };
                    let Some(Ok(frame)) = frame else { break };
                    let Message::Text(text) = frame else { continue };
                    let Ok(event) = serde_json::from_str::<ServerEvent>(text.as_str()) else { continue };
                    match event {
                        ServerEvent::Welcome { .. } => {
                            welcomed = true;
                            backoff = Duration::from_millis(50);
                            if log.back_at.is_none() && shared.crashed_at.lock().await.is_some() {
                                log.back_at = Some(Instant::now());
                            }
                            for (client_id, text) in outbox.clone() {
                                log.attempts += 1;
                                let event = ClientEvent::Send { client_id, text, room: None, mentions: Vec::new(), attachment: None, reply_to: None };
                                let json = serde_json::to_string(&event).expect("json");
                                if socket.send(Message::text(json)).await.is_err() {
                                    break;
                                }
                            }
                        }
                        ServerEvent::Message { message } => {
                            log.cursor = log.cursor.max(message.seq.0);
                            log.known.insert(message.id, message);
                        }
                        ServerEvent::Resync { messages, seq, .. } => {
                            // Too far behind to replay: like a reader scrolling
                            // up, fetch the older pages over HTTP.
                            log.resyncs += 1;
                            log.known = messages.into_iter().map(|m| (m.id, m)).collect();
                            log.cursor = seq.0;
                            for m in history_at(&shared.addr).await {
                                log.known.insert(m.id, m);
                            }
                        }
                        ServerEvent::Ack { client_id, message } => {
                            outbox.retain(|(c, _)| *c != client_id);
                            log.acked.insert(client_id, message.id);
                            log.known.insert(message.id, message);
                        }
                        ServerEvent::Error { message, .. } => panic!("client {index}: {message}"),
                        _ => {}
                    }
                }
                _ = ticker.tick(), if welcomed && next_text < MESSAGES_EACH => {
                    let client_id = ClientMessageId::new_random();
                    let text = format!("c{index}-m{next_text}");
                    next_text += 1;
                    outbox.push((client_id, text.clone()));
                    log.attempts += 1;
                    let json = serde_json::to_string(&ClientEvent::Send { client_id, text, room: None, mentions: Vec::new(), attachment: None, reply_to: None }).expect("json");
                    if socket.send(Message::text(json)).await.is_err() {
                        break;
                    }
                }
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_millis(800));
    }
    panic!("client {index} did not finish within {DRILL_LIMIT:?}");
}
