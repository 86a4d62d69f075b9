//! Rooms over the real protocol: each socket gets its room's events (and
//! only activity for the others), catch-up replays edits and deletes,
//! authors alone change their messages, presence and typing.

use crate::common;

use app::protocol::{
    ChatMessage, ClientEvent, ClientMessageId, ErrorCode, MessageId, RoomId, RoomInfo, Seq,
    ServerEvent, REACTIONS,
};
use common::{named, new_device, Client, Server};
use std::time::Duration;

async fn create_room(server: &Server, device: &str, name: &str) -> RoomInfo {
    let res = common::http()
        .post(server.url("/api/create_room"))
        .header("cookie", common::cookie(device))
        .form(&[("name", name)])
        .send()
        .await
        .expect("create_room answers");
    assert!(res.status().is_success(), "create_room: {}", res.status());
    res.json().await.expect("room json")
}

/// A client showing `room`, past its welcome, page and presence.
async fn in_room(server: &Server, device: &str, room: RoomId, last_seen: Option<Seq>) -> Client {
    let query = match last_seen {
        Some(seq) => format!("?room={}&last_seen={}", room.0, seq.0),
        None => format!("?room={}", room.0),
    };
    let mut c = Client::connect(server, Some(device), &query).await;
    assert!(matches!(c.next().await, ServerEvent::Welcome { .. }));
    c
}

fn message_of(event: ServerEvent) -> Option<ChatMessage> {
    match event {
        ServerEvent::Message { message } => Some(message),
        _ => None,
    }
}

async fn post(c: &mut Client, room: RoomId, text: &str) -> ChatMessage {
    let client_id = ClientMessageId::new_random();
    c.send_event(&ClientEvent::Send {
        client_id,
        text: text.into(),
        room: Some(room),
        mentions: Vec::new(),
        attachment: None,
        reply_to: None,
    })
    .await;
    c.next_matching(|e| match e {
        ServerEvent::Ack { message, .. } => Some(message),
        _ => None,
    })
    .await
}

/// Reads events for a while and returns them (for "nothing arrives" checks).
async fn drain(c: &mut Client, for_: Duration) -> Vec<ServerEvent> {
    let mut got = Vec::new();
    let until = tokio::time::Instant::now() + for_;
    while let Ok(Some(Ok(frame))) =
        tokio::time::timeout_at(until, futures::StreamExt::next(&mut c.socket)).await
    {
        if let tokio_tungstenite::tungstenite::Message::Text(t) = frame {
            got.push(serde_json::from_str(t.as_str()).expect("typed event"));
        }
    }
    got
}

#[tokio::test]
async fn two_devices_in_two_rooms_see_only_their_rooms_events() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(dir.path());
    let (ann, bob) = (new_device(), new_device());
    named(&server, &ann, "Ann").await;
    named(&server, &bob, "Bob").await;
    let games = create_room(&server, &ann, "Games").await;
    assert_eq!(games.slug, "games");
    let mut a = in_room(&server, &ann, RoomId::DEFAULT, None).await;
    let mut b = in_room(&server, &bob, games.id, None).await;
    drain(&mut a, Duration::from_millis(200)).await;
    drain(&mut b, Duration::from_millis(200)).await;

    let in_general = post(&mut a, RoomId::DEFAULT, "general chatter").await;
    let at_b = drain(&mut b, Duration::from_millis(400)).await;
    let in_games = post(&mut b, games.id, "anyone for chess?").await;
    // News of another room is gathered for up to a second after the last.
    let at_a = drain(&mut a, Duration::from_millis(1_500)).await;
    let rooms_of = |events: &[ServerEvent]| -> Vec<RoomId> {
        events
            .iter()
            .filter_map(|e| message_of(e.clone()))
            .map(|m| m.room)
            .collect()
    };
    assert!(
        !rooms_of(&at_a).contains(&games.id),
        "no games message in general"
    );
    assert!(
        !rooms_of(&at_b).contains(&RoomId::DEFAULT),
        "no general message in games"
    );
    // The other room's message shows only as activity, without its text.
    assert!(at_a.iter().any(|e| matches!(e, ServerEvent::Activity { room, seq, .. } if *room == games.id && *seq == in_games.seq)));
    assert!(at_b
        .iter()
        .any(|e| matches!(e, ServerEvent::Activity { room, .. } if *room == RoomId::DEFAULT)));
    let wire = serde_json::to_string(&at_a).expect("json");
    assert!(!wire.contains("chess"), "no text of another room");
    assert_eq!(in_general.room, RoomId::DEFAULT);

    // Switching rooms: the socket now gets the games room's page and events.
    a.send_event(&ClientEvent::Open {
        room: games.id,
        last_seen: None,
    })
    .await;
    let page = a
        .next_matching(|e| match e {
            ServerEvent::Resync { room, messages, .. } if room == games.id => Some(messages),
            _ => None,
        })
        .await;
    assert_eq!(
        page.iter().map(|m| m.msg.as_str()).collect::<Vec<_>>(),
        ["anyone for chess?"]
    );

    // History by room keeps the seed's shape.
    let games_history: Vec<ChatMessage> =
        common::get_json(&server.url("/get_messages?room=games")).await;
    assert_eq!(games_history.len(), 1);
    let general: Vec<serde_json::Value> = common::get_json(&server.url("/get_messages")).await;
    assert_eq!(general[0]["msg"], "general chatter");
    assert_eq!(general[0]["user_name"], "Ann");
    let missing = common::http()
        .get(server.url("/get_messages?room=nope"))
        .send()
        .await
        .expect("answers");
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn edits_and_deletes_made_while_away_arrive_on_catch_up() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(dir.path());
    let (ann, bob) = (new_device(), new_device());
    named(&server, &ann, "Ann").await;
    named(&server, &bob, "Bob").await;
    let mut a = in_room(&server, &ann, RoomId::DEFAULT, None).await;
    let first = post(&mut a, RoomId::DEFAULT, "first draft").await;
    let second = post(&mut a, RoomId::DEFAULT, "regrettable").await;
    let third = post(&mut a, RoomId::DEFAULT, "react to me").await;
    // Bob has seen everything up to here, then his phone sleeps.
    let asleep_at = third.seq;

    a.send_event(&ClientEvent::Edit {
        client_id: ClientMessageId::new_random(),
        message_id: first.id,
        text: "final text".into(),
    })
    .await;
    a.send_event(&ClientEvent::Delete {
        client_id: ClientMessageId::new_random(),
        message_id: second.id,
    })
    .await;
    a.send_event(&ClientEvent::React {
        client_id: ClientMessageId::new_random(),
        message_id: third.id,
        emoji: REACTIONS[1].into(),
        on: true,
    })
    .await;
    let mut changes = Vec::new();
    while changes.len() < 3 {
        if let Some(m) = message_of(a.next().await) {
            if m.id != third.id || !m.reactions.is_empty() {
                changes.push(m);
            }
        }
    }

    let mut b = in_room(&server, &bob, RoomId::DEFAULT, Some(asleep_at)).await;
    let mut replayed = Vec::new();
    while replayed.len() < 3 {
        replayed.push(b.next_matching(message_of).await);
    }
    let by_id = |id: MessageId| replayed.iter().find(|m| m.id == id).expect("replayed");
    assert_eq!(by_id(first.id).msg, "final text");
    assert!(by_id(first.id).edited);
    assert!(by_id(second.id).deleted);
    assert_eq!(by_id(second.id).msg, "", "the text is gone");
    assert_eq!(by_id(third.id).reactions[0].emoji, REACTIONS[1]);
    assert!(
        replayed.windows(2).all(|w| w[0].seq < w[1].seq),
        "in seq order"
    );
    let seqs: Vec<Seq> = replayed.iter().map(|m| m.seq).collect();
    assert_eq!(
        seqs,
        (1..=3).map(|i| Seq(asleep_at.0 + i)).collect::<Vec<_>>(),
        "no gap"
    );
    let history = common::history(&server).await;
    assert!(!serde_json::to_string(&history)
        .expect("json")
        .contains("regrettable"));
}

#[tokio::test]
async fn a_forged_edit_or_delete_of_someone_elses_message_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(dir.path());
    let (ann, eve) = (new_device(), new_device());
    named(&server, &ann, "Ann").await;
    named(&server, &eve, "Eve").await;
    let mut a = in_room(&server, &ann, RoomId::DEFAULT, None).await;
    let mine = post(&mut a, RoomId::DEFAULT, "Ann's words").await;
    let mut e = in_room(&server, &eve, RoomId::DEFAULT, None).await;
    for event in [
        ClientEvent::Edit {
            client_id: ClientMessageId::new_random(),
            message_id: mine.id,
            text: "Eve's words".into(),
        },
        ClientEvent::Delete {
            client_id: ClientMessageId::new_random(),
            message_id: mine.id,
        },
    ] {
        e.send_event(&event).await;
        let code = e
            .next_matching(|ev| match ev {
                ServerEvent::Error {
                    code,
                    client_id: Some(_),
                    ..
                } => Some(code),
                _ => None,
            })
            .await;
        assert_eq!(code, ErrorCode::NotAuthor);
    }
    e.send_event(&ClientEvent::React {
        client_id: ClientMessageId::new_random(),
        message_id: mine.id,
        emoji: "🦀".into(),
        on: true,
    })
    .await;
    let code = e
        .next_matching(|ev| match ev {
            ServerEvent::Error { code, .. } => Some(code),
            _ => None,
        })
        .await;
    assert_eq!(code, ErrorCode::InvalidReaction);
    let history = common::history(&server).await;
    assert_eq!(history.last().map(|m| m.msg.as_str()), Some("Ann's words"));
    assert!(!history.last().is_some_and(|m| m.edited || m.deleted));
}

#[tokio::test]
async fn presence_counts_a_three_tab_user_once_and_expires_a_silent_one() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start_with(dir.path(), &["--no-tls", "--presence-grace-secs", "1"]);
    let (ann, bob) = (new_device(), new_device());
    named(&server, &ann, "Ann").await;
    named(&server, &bob, "Bob").await;
    let mut watcher = in_room(&server, &bob, RoomId::DEFAULT, None).await;
    let mut tabs = Vec::new();
    for _ in 0..3 {
        tabs.push(in_room(&server, &ann, RoomId::DEFAULT, None).await);
    }
    let mut here = common::WhoIsHere::default();
    let mut people = |events: &[ServerEvent]| -> Option<Vec<String>> {
        let mut changed = false;
        for e in events {
            changed |= here.apply(e);
        }
        changed.then(|| here.names())
    };
    let seen = drain(&mut watcher, Duration::from_millis(300)).await;
    assert_eq!(
        people(&seen),
        Some(vec!["Ann".to_owned(), "Bob".to_owned()]),
        "Ann once"
    );
    // Two tabs close: Ann is still here through the third.
    tabs.truncate(1);
    let seen = drain(&mut watcher, Duration::from_millis(300)).await;
    assert_eq!(people(&seen), None, "nothing changed");
    // The last tab goes to the background and stays silent past the grace period.
    tabs[0]
        .send_event(&ClientEvent::Visibility { visible: false })
        .await;
    let seen = drain(&mut watcher, Duration::from_millis(2500)).await;
    assert_eq!(people(&seen), Some(vec!["Bob".to_owned()]));
}

#[tokio::test]
async fn typing_reaches_the_others_throttled_and_never_the_typist() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(dir.path());
    let (ann, bob) = (new_device(), new_device());
    named(&server, &ann, "Ann").await;
    named(&server, &bob, "Bob").await;
    let mut a = in_room(&server, &ann, RoomId::DEFAULT, None).await;
    let mut a2 = in_room(&server, &ann, RoomId::DEFAULT, None).await;
    let mut b = in_room(&server, &bob, RoomId::DEFAULT, None).await;
    drain(&mut a2, Duration::from_millis(200)).await;
    drain(&mut b, Duration::from_millis(200)).await;
    for _ in 0..10 {
        a.send_event(&ClientEvent::Typing).await;
    }
    let typing = |events: &[ServerEvent]| {
        events
            .iter()
            .filter(|e| matches!(e, ServerEvent::Typing { .. }))
            .count()
    };
    let at_b = drain(&mut b, Duration::from_millis(400)).await;
    let n = typing(&at_b);
    assert!((1..=3).contains(&n), "{n} typing events for 10 sent");
    assert!(at_b
        .iter()
        .any(|e| matches!(e, ServerEvent::Typing { user, .. } if user.name == "Ann")));
    assert_eq!(
        typing(&drain(&mut a2, Duration::from_millis(200)).await),
        0,
        "not to the typist's other tab"
    );
}

#[tokio::test]
async fn read_marks_follow_the_identity_and_archived_rooms_are_read_only() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(dir.path());
    let (ann, bob) = (new_device(), new_device());
    named(&server, &ann, "Ann").await;
    named(&server, &bob, "Bob").await;
    let mut b = in_room(&server, &bob, RoomId::DEFAULT, None).await;
    let last = {
        let mut last = None;
        for i in 0..3 {
            last = Some(post(&mut b, RoomId::DEFAULT, &format!("news {i}")).await);
        }
        last.expect("posted")
    };
    let welcome_unread = |e: ServerEvent| match e {
        ServerEvent::Welcome { rooms, .. } => rooms
            .iter()
            .find(|s| s.room.id == RoomId::DEFAULT)
            .map(|s| s.unread),
        _ => None,
    };
    let mut a = Client::connect(&server, Some(&ann), "").await;
    assert_eq!(welcome_unread(a.next().await), Some(3));
    let mut a2 = in_room(&server, &ann, RoomId::DEFAULT, None).await;
    a.send_event(&ClientEvent::Read {
        room: RoomId::DEFAULT,
        seq: last.seq,
    })
    .await;
    let status = a2
        .next_matching(|e| match e {
            ServerEvent::Read { status } => Some(status),
            _ => None,
        })
        .await;
    assert_eq!(
        (status.unread, status.read),
        (0, last.seq),
        "the other tab hears it"
    );
    let mut again = Client::connect(&server, Some(&ann), "").await;
    assert_eq!(
        welcome_unread(again.next().await),
        Some(0),
        "remembered by the server"
    );

    let attic = create_room(&server, &ann, "Attic").await;
    let res = common::http()
        .post(server.url("/api/archive_room"))
        .header("cookie", common::cookie(&ann))
        .form(&[("room", attic.id.0.to_string())])
        .send()
        .await
        .expect("answers");
    assert!(res.status().is_success());
    let mut in_attic = in_room(&server, &bob, attic.id, None).await;
    in_attic
        .send_event(&ClientEvent::Send {
            client_id: ClientMessageId::new_random(),
            text: "hello?".into(),
            room: Some(attic.id),
            mentions: Vec::new(),
            attachment: None,
            reply_to: None,
        })
        .await;
    let code = in_attic
        .next_matching(|e| match e {
            ServerEvent::Error { code, .. } => Some(code),
            _ => None,
        })
        .await;
    assert_eq!(code, ErrorCode::Archived);
    let page = common::http()
        .get(server.url("/r/attic"))
        .send()
        .await
        .expect("page");
    assert_eq!(page.status(), 200, "still reachable by URL");
    assert!(page.text().await.expect("html").contains("archived"));
    let gone = common::http()
        .get(server.url("/r/no-such-room"))
        .send()
        .await
        .expect("page");
    assert_eq!(gone.status(), 404);
}
