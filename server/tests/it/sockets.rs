//! The socket layer under concurrency: many senders with several messages
//! in flight each, and a client that stops reading.

use crate::common;

use app::protocol::{ClientEvent, ClientMessageId, MessageId, ServerEvent};
use common::{free_port, metric, named, new_device, Client, Server};
use std::collections::{HashMap, HashSet};
use std::time::Duration;

const SENDERS: usize = 50;
const EACH: usize = 20;

/// Every sender pipelines its messages; each is acked exactly once, every
/// client sees every message once with ids strictly increasing and no gap,
/// and each sender's messages are stored in the order it sent them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_senders_each_acked_once_every_client_sees_every_id_in_order() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start_with(
        dir.path(),
        &[
            "--no-tls",
            "--message-burst",
            "100000",
            "--connect-burst",
            "1000",
        ],
    );
    let mut devices = Vec::new();
    for i in 0..SENDERS {
        let dev = new_device();
        named(&server, &dev, &format!("s{i}")).await;
        devices.push(dev);
    }
    let mut clients = Vec::new();
    for dev in &devices {
        clients.push(Client::joined(&server, dev).await.0);
    }
    let tasks: Vec<_> = clients
        .into_iter()
        .map(|mut c| {
            tokio::spawn(async move {
                let sent: Vec<ClientMessageId> =
                    (0..EACH).map(|_| ClientMessageId::new_random()).collect();
                for (i, client_id) in sent.iter().enumerate() {
                    c.send_event(&ClientEvent::Send {
                        client_id: *client_id,
                        text: format!("m{i}"),
                        room: None,
                        mentions: Vec::new(),
                        attachment: None,
                        reply_to: None,
                    })
                    .await;
                }
                let mut acks: HashMap<ClientMessageId, Vec<MessageId>> = HashMap::new();
                let mut seen = Vec::new();
                while seen.len() < SENDERS * EACH || acks.len() < EACH {
                    match c.next().await {
                        ServerEvent::Ack { client_id, message } => {
                            acks.entry(client_id).or_default().push(message.id)
                        }
                        ServerEvent::Message { message } => seen.push(message.id),
                        ServerEvent::Presence { .. } | ServerEvent::Here { .. } => {}
                        other => panic!("unexpected {other:?}"),
                    }
                }
                (sent, acks, seen)
            })
        })
        .collect();
    let mut all_acked = HashSet::new();
    let mut views = Vec::new();
    for t in tasks {
        let (sent, acks, seen) = t.await.expect("client task");
        let mine: Vec<MessageId> = sent
            .iter()
            .map(|cid| {
                let ids = &acks[cid];
                assert_eq!(ids.len(), 1, "acked exactly once");
                ids[0]
            })
            .collect();
        assert!(mine.windows(2).all(|w| w[0] < w[1]), "stored in send order");
        all_acked.extend(mine);
        views.push(seen);
    }
    assert_eq!(all_acked.len(), SENDERS * EACH);
    let first = all_acked.iter().min().expect("some").0;
    for seen in views {
        assert_eq!(seen.len(), SENDERS * EACH, "every message, once");
        assert!(
            seen.windows(2).all(|w| w[1].0 == w[0].0 + 1),
            "strictly increasing, no gap"
        );
        assert_eq!(seen[0].0, first);
        assert!(seen.iter().all(|id| all_acked.contains(id)));
    }
    let stored =
        common::get_json::<Vec<app::protocol::ChatMessage>>(&server.url("/get_messages?limit=200"))
            .await;
    assert_eq!(stored.len(), 200);
}

/// A client that stops reading (its receive buffer full) is closed once
/// the server's writes to it stay blocked past the deadline; everyone
/// else keeps receiving everything meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_closed_after_the_deadline() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    const MESSAGES: usize = 3000;
    let dir = tempfile::tempdir().expect("temp dir");
    let metrics_port = free_port();
    let metrics_addr = format!("127.0.0.1:{metrics_port}");
    let server = Server::start_with(
        dir.path(),
        &[
            "--no-tls",
            "--message-burst",
            "100000",
            "--write-deadline-ms",
            "400",
            "--metrics-addr",
            &metrics_addr,
        ],
    );
    // The stalled client: a tiny receive buffer, and it never reads.
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("buffer size");
    let stream = socket.connect(server.addr).await.expect("connects");
    let req = server.ws_url("").into_client_request().expect("request");
    let (_stalled, _) = tokio_tungstenite::client_async(req, stream)
        .await
        .expect("handshake");

    let (mut reader, _) = Client::joined(&server, &new_device()).await;
    let dev = new_device();
    named(&server, &dev, "Talker").await;
    let (mut talker, _) = Client::joined(&server, &dev).await;
    assert_eq!(metric(metrics_port, "chat_open_connections").await, 3.0);

    let text = "x".repeat(2000);
    let reading = tokio::spawn(async move {
        let mut got = 0;
        while got < MESSAGES {
            if let ServerEvent::Message { .. } = reader.next().await {
                got += 1;
            }
        }
        (got, reader)
    });
    for chunk in 0..MESSAGES / 100 {
        for _ in 0..100 {
            talker.say(&text).await;
        }
        // Read this chunk's acks and broadcasts, so the talker keeps up.
        let mut acks = 0;
        while acks < 100 {
            if let ServerEvent::Ack { .. } = talker.next().await {
                acks += 1;
            }
        }
        let _ = chunk;
    }
    let (got, _reader) = reading.await.expect("reader");
    assert_eq!(got, MESSAGES, "the reader got everything");
    let deadline = tokio::time::Instant::now() + common::WAIT;
    while metric(metrics_port, "chat_clients_write_timeout_total").await < 1.0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the stalled client was never closed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(metric(metrics_port, "chat_open_connections").await, 2.0);
}
