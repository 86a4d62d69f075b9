//! Abuse limits: floods are slowed down with a clear error, without
//! affecting anyone else.

use crate::common;

use app::protocol::{ErrorCode, ServerEvent};
use common::{named, new_device, Client, Server};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

#[tokio::test]
async fn a_flood_gets_slow_down_errors_and_others_are_unaffected() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(dir.path());
    let (flooder_dev, calm_dev) = (new_device(), new_device());
    named(&server, &flooder_dev, "Flood").await;
    named(&server, &calm_dev, "Calm").await;
    let (mut flooder, _) = Client::joined(&server, &flooder_dev).await;
    let (mut calm, _) = Client::joined(&server, &calm_dev).await;

    for i in 0..30 {
        flooder.say(&format!("flood {i}")).await;
    }
    let (mut acked, mut limited, mut retry_after) = (0, 0, None);
    while acked + limited < 30 {
        match flooder.next().await {
            ServerEvent::Ack { .. } => acked += 1,
            ServerEvent::Error {
                code: ErrorCode::RateLimited,
                retry_after_ms,
                message,
                client_id,
            } => {
                assert!(client_id.is_some(), "the refused message is named");
                assert!(message.contains("Slow down"), "{message}");
                limited += 1;
                retry_after = retry_after_ms;
            }
            _ => {}
        }
    }
    assert_eq!(acked, 10, "the burst goes through");
    assert_eq!(limited, 20, "nothing is silently dropped");
    let wait = retry_after.expect("says when to retry");
    assert!((1..=1000).contains(&wait), "{wait} ms");

    calm.say("unaffected").await;
    let ack = calm
        .next_matching(|e| match e {
            ServerEvent::Ack { message, .. } => Some(message),
            _ => None,
        })
        .await;
    assert_eq!(ack.msg, "unaffected");
}

#[tokio::test]
async fn too_many_tabs_for_one_device_are_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start_with(dir.path(), &["--no-tls", "--max-conns-per-device", "3"]);
    let dev = new_device();
    let mut open = Vec::new();
    for _ in 0..3 {
        open.push(Client::connect(&server, Some(&dev), "").await);
    }
    let mut req = server.ws_url("").into_client_request().expect("request");
    req.headers_mut()
        .insert("cookie", common::cookie(&dev).parse().expect("header"));
    match tokio_tungstenite::connect_async(req).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(res)) => assert_eq!(res.status(), 429),
        other => panic!("expected 429, got {:?}", other.map(|(_, r)| r.status())),
    }
    // Another device is not affected, and closing a tab frees its slot.
    Client::connect(&server, Some(&new_device()), "").await;
    let mut closed = open.pop().expect("a tab");
    closed.socket.close(None).await.expect("closes");
    drop(closed);
    let deadline = tokio::time::Instant::now() + common::WAIT;
    loop {
        let mut req = server.ws_url("").into_client_request().expect("request");
        req.headers_mut()
            .insert("cookie", common::cookie(&dev).parse().expect("header"));
        if tokio_tungstenite::connect_async(req).await.is_ok() {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "slot never freed");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn name_changes_are_rate_limited() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(dir.path());
    let dev = new_device();
    for i in 0..5 {
        named(&server, &dev, &format!("Name {i}")).await;
    }
    let res = common::set_name(&server, &dev, "One too many").await;
    assert!(!res.status().is_success());
    let error: app::api::ApiError = res.json().await.expect("a typed error");
    assert!(matches!(error, app::api::ApiError::RateLimited(s) if s > 0));
    assert!(error.to_string().contains("try again"), "{error}");
}

/// A client as careless as can be: it sends everything at once and, after
/// each round of refusals, resends the refused messages newest first, as
/// independent per-message timers firing out of order would. The server
/// still stores the device's messages in the order they were first sent.
#[tokio::test]
async fn messages_held_back_by_the_rate_limit_keep_their_order() {
    use app::protocol::{ClientEvent, ClientMessageId};
    use std::collections::HashMap;
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start_with(
        dir.path(),
        &[
            "--no-tls",
            "--message-burst",
            "3",
            "--message-refill-ms",
            "50",
        ],
    );
    let dev = new_device();
    named(&server, &dev, "Hasty").await;
    let (mut c, _) = Client::joined(&server, &dev).await;
    let sent: Vec<(ClientMessageId, String)> = (0..15)
        .map(|i| (ClientMessageId::new_random(), format!("m{i:02}")))
        .collect();
    let by_id: HashMap<_, _> = sent.iter().cloned().collect();
    let mut round: Vec<ClientMessageId> = sent.iter().map(|(id, _)| *id).collect();
    let mut acked = 0;
    let deadline = tokio::time::Instant::now() + common::WAIT;
    while !round.is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "not all acked");
        for client_id in &round {
            c.send_event(&ClientEvent::Send {
                client_id: *client_id,
                text: by_id[client_id].clone(),
                room: None,
                mentions: Vec::new(),
                attachment: None,
                reply_to: None,
            })
            .await;
        }
        let (mut refused, mut wait, mut answered) = (Vec::new(), 0, 0);
        while answered < round.len() {
            match c.next().await {
                // Our own broadcasts and who is here are not answers.
                ServerEvent::Message { .. }
                | ServerEvent::Presence { .. }
                | ServerEvent::Here { .. } => continue,
                ServerEvent::Ack { .. } => acked += 1,
                ServerEvent::Error {
                    code: ErrorCode::RateLimited,
                    client_id: Some(client_id),
                    retry_after_ms,
                    ..
                } => {
                    refused.push(client_id);
                    wait = wait.max(retry_after_ms.unwrap_or(0));
                }
                other => panic!("unexpected {other:?}"),
            }
            answered += 1;
        }
        refused.reverse();
        round = refused;
        tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
    }
    assert_eq!(acked, sent.len());
    let stored: Vec<String> = common::history(&server)
        .await
        .into_iter()
        .map(|m| m.msg)
        .collect();
    let written: Vec<String> = sent.iter().map(|(_, t)| t.clone()).collect();
    assert_eq!(stored, written);
}

/// After a reconnect the client resends its outbox in order; a refusal on
/// the new socket holds the later ones back as well.
#[tokio::test]
async fn order_holds_across_a_reconnect_under_the_rate_limit() {
    use app::protocol::{ClientEvent, ClientMessageId};
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start_with(
        dir.path(),
        &[
            "--no-tls",
            "--message-burst",
            "2",
            "--message-refill-ms",
            "100",
        ],
    );
    let dev = new_device();
    named(&server, &dev, "Mover").await;
    let outbox: Vec<(ClientMessageId, String)> = (0..8)
        .map(|i| (ClientMessageId::new_random(), format!("r{i}")))
        .collect();
    // First socket: everything goes out, then the connection drops before
    // most answers are read.
    {
        let (mut c, _) = Client::joined(&server, &dev).await;
        for (client_id, text) in &outbox {
            c.send_event(&ClientEvent::Send {
                client_id: *client_id,
                text: text.clone(),
                room: None,
                mentions: Vec::new(),
                attachment: None,
                reply_to: None,
            })
            .await;
        }
        c.next_matching(|e| matches!(e, ServerEvent::Ack { .. }).then_some(()))
            .await;
    }
    // Second socket: resend the whole outbox in order until every message
    // is acked (resends of stored ones are acked again, not stored again).
    let (mut c, _) = Client::joined(&server, &dev).await;
    let mut pending: Vec<(ClientMessageId, String)> = outbox.clone();
    let deadline = tokio::time::Instant::now() + common::WAIT;
    while !pending.is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "outbox never drained"
        );
        for (client_id, text) in &pending {
            c.send_event(&ClientEvent::Send {
                client_id: *client_id,
                text: text.clone(),
                room: None,
                mentions: Vec::new(),
                attachment: None,
                reply_to: None,
            })
            .await;
        }
        let (mut answered, expected) = (0, pending.len());
        while answered < expected {
            match c.next().await {
                ServerEvent::Ack { client_id, .. } => {
                    pending.retain(|(id, _)| *id != client_id);
                    answered += 1;
                }
                ServerEvent::Error { .. } => answered += 1,
                _ => {}
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let stored: Vec<String> = common::history(&server)
        .await
        .into_iter()
        .map(|m| m.msg)
        .collect();
    let written: Vec<String> = outbox.iter().map(|(_, t)| t.clone()).collect();
    assert_eq!(stored, written);
}
