//! Private rooms and direct conversations, against the real server: every
//! route that shows a room's content, asked by someone outside it, a
//! member removed while their tab is open, and a sender whose direct
//! messages are blocked. The same scenario runs on SQLite (one node) and
//! on PostgreSQL with two nodes, the change made on one and read on the
//! other.

use crate::common;

use app::api::{Context, PeoplePage, RoomAction, RoomPeople, SearchHit};
use app::protocol::{
    ChatMessage, ClientEvent, ClientMessageId, ErrorCode, RoomId, RoomInfo, RoomKind, ServerEvent,
    Uploaded,
};
use common::{named, new_device, Client, Server};
use std::time::Duration;

pub async fn create_room(server: &Server, device: &str, name: &str) -> RoomInfo {
    let res = common::server_fn(server, device, "create_room", &[("name", name)]).await;
    assert!(res.status().is_success(), "create_room: {}", res.status());
    res.json().await.expect("room json")
}

/// A room action's answer: the room, or the status and the sentence.
pub async fn act(
    server: &Server,
    device: &str,
    action: RoomAction,
) -> Result<Option<RoomInfo>, (u16, String)> {
    let res = common::http()
        .post(server.url("/api/room_action"))
        .header("cookie", common::cookie(device))
        .json(&serde_json::json!({ "action": action }))
        .send()
        .await
        .expect("room_action answers");
    let status = res.status().as_u16();
    if res.status().is_success() {
        Ok(res.json().await.expect("room json"))
    } else {
        Err((status, res.text().await.unwrap_or_default()))
    }
}

async fn room_of(server: &Server, device: &str, action: RoomAction) -> RoomInfo {
    act(server, device, action)
        .await
        .expect("allowed")
        .expect("a room")
}

/// A tab showing `room` (or, when it may not read it, the first room),
/// past its welcome; the welcome's rooms are returned too.
async fn tab_in(server: &Server, device: &str, room: RoomId) -> (Client, Vec<RoomId>) {
    let mut c = Client::connect(server, Some(device), &format!("?room={}", room.0)).await;
    let rooms = match c.next().await {
        ServerEvent::Welcome { rooms, .. } => rooms.into_iter().map(|s| s.room.id).collect(),
        other => panic!("expected welcome, got {other:?}"),
    };
    (c, rooms)
}

async fn post(c: &mut Client, room: RoomId, text: &str, attachment: Option<String>) -> ChatMessage {
    c.send_event(&ClientEvent::Send {
        client_id: ClientMessageId::new_random(),
        text: text.into(),
        room: Some(room),
        mentions: Vec::new(),
        attachment,
        reply_to: None,
    })
    .await;
    c.next_matching(|e| match e {
        ServerEvent::Ack { message, .. } => Some(message),
        ServerEvent::Error { message, .. } => panic!("refused: {message}"),
        _ => None,
    })
    .await
}

/// The error a frame from this tab gets.
async fn refused(c: &mut Client, event: ClientEvent) -> (ErrorCode, String) {
    c.send_event(&event).await;
    c.next_matching(|e| match e {
        ServerEvent::Error { code, message, .. } => Some((code, message)),
        _ => None,
    })
    .await
}

/// Reads until `marker` arrives (as itself, or as activity on a tab
/// showing another room), and fails on anything about `room` (or
/// carrying `secret`) before it.
async fn nothing_of(c: &mut Client, room: RoomId, secret: &str, marker: &ChatMessage) {
    loop {
        let event = c.next().await;
        let json = serde_json::to_string(&event).expect("serialises");
        assert!(!json.contains(secret), "leaked: {json}");
        let about = match &event {
            ServerEvent::Message { message } if message.id == marker.id => return,
            ServerEvent::Activity { room, seq, .. }
                if *room == marker.room && *seq == marker.seq =>
            {
                return
            }
            ServerEvent::Message { message } => Some(message.room),
            ServerEvent::Activity { room, .. }
            | ServerEvent::Typing { room, .. }
            | ServerEvent::Presence { room, .. }
            | ServerEvent::Here { room, .. } => Some(*room),
            ServerEvent::Room { room } => Some(room.id),
            _ => None,
        };
        assert_ne!(
            about,
            Some(room),
            "an event of a room it may not read: {json}"
        );
    }
}

async fn status_and_body(res: reqwest::Response) -> (u16, String) {
    let status = res.status().as_u16();
    (status, res.text().await.unwrap_or_default())
}

async fn get(server: &Server, device: &str, path: &str) -> (u16, String) {
    status_and_body(
        common::http()
            .get(server.url(path))
            .header("cookie", common::cookie(device))
            .send()
            .await
            .expect("answers"),
    )
    .await
}

async fn call(server: &Server, device: &str, name: &str, form: &[(&str, &str)]) -> (u16, String) {
    status_and_body(common::server_fn(server, device, name, form).await).await
}

/// Every route that shows a room's content answers `device` as if the
/// room did not exist, with a clear sentence and nothing of it.
async fn shut_out(
    server: &Server,
    device: &str,
    room: &RoomInfo,
    message: &ChatMessage,
    secret: &str,
) {
    let id = room.id.0.to_string();
    let msg = message.id.0.to_string();
    let file = message.attachment.as_ref().expect("a photo");
    let thumb = file.image.as_ref().expect("an image").thumb.clone();
    let answers = [
        (
            "page",
            get(server, device, &format!("/r/{}", room.slug)).await,
        ),
        (
            "page",
            get(server, device, &format!("/r/{}/m/{msg}", room.slug)).await,
        ),
        (
            "get_messages",
            get(server, device, &format!("/get_messages?room={}", room.slug)).await,
        ),
        (
            "file",
            get(server, device, &format!("/files/{}", file.id)).await,
        ),
        (
            "thumbnail",
            get(server, device, &format!("/files/{thumb}")).await,
        ),
        (
            "older_messages",
            call(
                server,
                device,
                "older_messages",
                &[
                    ("room", &id),
                    ("before", "9223372036854775807"),
                    ("limit", "50"),
                ],
            )
            .await,
        ),
        (
            "message_context",
            call(server, device, "message_context", &[("id", &msg)]).await,
        ),
        (
            "people_here",
            call(
                server,
                device,
                "people_here",
                &[("room", &id), ("offset", "0")],
            )
            .await,
        ),
        (
            "room_people",
            call(server, device, "room_people", &[("room", &id)]).await,
        ),
    ];
    for (route, (status, body)) in answers {
        assert_eq!(status, 404, "{route} answered {status}: {body}");
        assert!(!body.contains(secret), "{route} leaked the text: {body}");
        assert!(
            !body.contains(&room.name),
            "{route} leaked the room's name: {body}"
        );
        let sentence = if route == "page" {
            "nothing at this address"
        } else {
            "no such"
        };
        assert!(body.contains(sentence), "{route} said {body:?}");
    }
    let (status, body) = call(server, device, "search", &[("query", secret)]).await;
    assert_eq!(status, 200, "{body}");
    let hits: Vec<SearchHit> = serde_json::from_str(&body).expect("hits");
    assert!(hits.is_empty(), "search found {hits:?}");
}

async fn bytes_of(server: &Server, device: &str, path: &str) -> u16 {
    get(server, device, path).await.0
}

/// The scenario on nodes `a` and `b` (the same server for SQLite).
async fn closed_rooms_are_their_members_alone(a: &Server, b: &Server) {
    let (ann, bo, cy) = (new_device(), new_device(), new_device());
    let ann_id = named(a, &ann, "Ann").await.user_id;
    let bo_id = named(b, &bo, "Bo").await.user_id;
    let cy_me = named(b, &cy, "Cy").await;
    let plans = create_room(a, &ann, "plans").await;

    // Made private, with Bo.
    let private = room_of(
        a,
        &ann,
        RoomAction::SetPrivate {
            room: plans.id,
            private: true,
            members: vec![bo_id],
        },
    )
    .await;
    assert_eq!(private.kind, RoomKind::Private);
    let people: RoomPeople =
        common::server_fn(a, &ann, "room_people", &[("room", &plans.id.0.to_string())])
            .await
            .json()
            .await
            .expect("people");
    let mut names: Vec<_> = people.members.iter().map(|m| m.name.clone()).collect();
    names.sort();
    assert_eq!(names, ["Ann", "Bo"]);
    // Cy may not do that to a room (not its creator, owner or moderator).
    let general = create_room(a, &ann, "general-talk").await;
    let (status, why) = act(
        b,
        &cy,
        RoomAction::SetPrivate {
            room: general.id,
            private: true,
            members: vec![],
        },
    )
    .await
    .expect_err("refused");
    assert_eq!(status, 403, "{why}");
    assert!(why.contains("creator"), "{why}");

    let (mut ann_tab, _) = tab_in(a, &ann, plans.id).await;
    let (mut bo_tab, bo_rooms) = tab_in(b, &bo, plans.id).await;
    assert!(bo_rooms.contains(&plans.id));
    let (mut cy_tab, cy_rooms) = tab_in(b, &cy, plans.id).await;
    assert!(
        !cy_rooms.contains(&plans.id),
        "the room list shows it to Cy"
    );
    // Cy asked for it and was shown the first room instead.
    let shown = cy_tab
        .next_matching(|e| match e {
            ServerEvent::Resync { room, .. } => Some(room),
            _ => None,
        })
        .await;
    assert_eq!(shown, RoomId::DEFAULT);

    // A photo and a secret, typed and sent in the private room.
    let up: Uploaded = common::http()
        .post(a.url("/upload?name=plan.png"))
        .header("cookie", common::cookie(&ann))
        .body(common::png(40, 30))
        .send()
        .await
        .expect("upload answers")
        .json()
        .await
        .expect("uploaded");
    ann_tab.send_event(&ClientEvent::Typing).await;
    let secret = post(
        &mut ann_tab,
        plans.id,
        "the vault code is 4417",
        Some(up.upload),
    )
    .await;
    bo_tab
        .next_matching(|e| match e {
            ServerEvent::Message { message } if message.id == secret.id => Some(()),
            _ => None,
        })
        .await;
    let marker = post(&mut ann_tab, RoomId::DEFAULT, "marker one", None).await;
    nothing_of(&mut cy_tab, plans.id, "vault", &marker).await;

    // Cy, by every route.
    shut_out(b, &cy, &plans, &secret, "vault").await;
    for event in [
        ClientEvent::Send {
            client_id: ClientMessageId::new_random(),
            text: "let me in".into(),
            room: Some(plans.id),
            mentions: Vec::new(),
            attachment: None,
            reply_to: None,
        },
        // A reply in a room Cy reads, quoting the private message.
        ClientEvent::Send {
            client_id: ClientMessageId::new_random(),
            text: "what does it say?".into(),
            room: Some(RoomId::DEFAULT),
            mentions: Vec::new(),
            attachment: None,
            reply_to: Some(secret.id),
        },
        ClientEvent::React {
            client_id: ClientMessageId::new_random(),
            message_id: secret.id,
            emoji: app::protocol::REACTIONS[0].into(),
            on: true,
        },
    ] {
        let (code, _) = refused(&mut cy_tab, event).await;
        assert_eq!(code, ErrorCode::NotFound);
    }
    let (code, _) = refused(
        &mut cy_tab,
        ClientEvent::Open {
            room: plans.id,
            last_seen: None,
        },
    )
    .await;
    assert_eq!(code, ErrorCode::NotFound);
    // Bo, a member, reads it all.
    let file = secret.attachment.as_ref().expect("photo").id.clone();
    assert_eq!(bytes_of(b, &bo, &format!("/files/{file}")).await, 200);
    let (status, page) = get(b, &bo, &format!("/r/{}", plans.slug)).await;
    assert_eq!(status, 200);
    assert!(page.contains("vault"));
    let (status, page) = get(b, &bo, &format!("/r/{}/m/{}", plans.slug, secret.id.0)).await;
    assert_eq!(status, 200, "the permalink opens for a member");
    assert!(page.contains("vault"));
    // The same message under another room's address is not there.
    let (status, _) = get(b, &bo, &format!("/r/{}/m/{}", general.slug, secret.id.0)).await;
    assert_eq!(status, 404);

    // Bo removed, with the tab open: the room goes at once, then nothing.
    room_of(
        a,
        &ann,
        RoomAction::RemoveMember {
            room: plans.id,
            user: bo_id,
        },
    )
    .await;
    bo_tab
        .next_matching(|e| match e {
            ServerEvent::RoomGone {
                room,
                hidden: false,
            } if room == plans.id => Some(()),
            ServerEvent::Message { message }
                if message.room == plans.id && message.id != secret.id =>
            {
                panic!("a message after the removal")
            }
            _ => None,
        })
        .await;
    post(&mut ann_tab, plans.id, "the vault moved", None).await;
    // Bo's socket still shows the room as far as the server knows: the
    // marker comes as activity, and nothing of the room before it.
    let marker = post(&mut ann_tab, RoomId::DEFAULT, "marker two", None).await;
    nothing_of(&mut bo_tab, plans.id, "vault", &marker).await;
    shut_out(b, &bo, &plans, &secret, "vault").await;

    // A direct conversation, started from Cy's side: one per set of people.
    let dm = room_of(
        b,
        &cy,
        RoomAction::StartDirect {
            people: vec![ann_id],
        },
    )
    .await;
    assert_eq!(dm.kind, RoomKind::Direct);
    let again = room_of(
        b,
        &cy,
        RoomAction::StartDirect {
            people: vec![ann_id],
        },
    )
    .await;
    assert_eq!(again.id, dm.id, "starting it again opens the same one");
    ann_tab
        .next_matching(|e| match e {
            ServerEvent::Room { room } if room.id == dm.id => Some(()),
            _ => None,
        })
        .await;
    let (mut cy_dm, _) = tab_in(b, &cy, dm.id).await;
    post(&mut cy_dm, dm.id, "psst, lunch?", None).await;
    // Ann hears of it in her other room as activity, with her unread
    // count on a fresh page; Bo hears nothing.
    ann_tab
        .next_matching(|e| match e {
            ServerEvent::Activity { room, .. } if room == dm.id => Some(()),
            _ => None,
        })
        .await;
    let mut ann_fresh = Client::connect(a, Some(&ann), "").await;
    match ann_fresh.next().await {
        ServerEvent::Welcome { rooms, .. } => {
            let status = rooms
                .iter()
                .find(|s| s.room.id == dm.id)
                .expect("the DM is listed");
            assert_eq!(status.unread, 1);
            assert_eq!(status.room.kind, RoomKind::Direct);
        }
        other => panic!("expected welcome, got {other:?}"),
    }
    let marker = post(&mut ann_tab, RoomId::DEFAULT, "marker three", None).await;
    nothing_of(&mut bo_tab, dm.id, "lunch", &marker).await;

    // Ann blocks direct messages from Cy: Cy's next one is refused, and so
    // is a new conversation; Bo may still write to Ann.
    act(
        a,
        &ann,
        RoomAction::BlockDirect {
            user: cy_me.user_id,
            blocked: true,
        },
    )
    .await
    .expect("allowed");
    let (code, why) = refused(
        &mut cy_dm,
        ClientEvent::Send {
            client_id: ClientMessageId::new_random(),
            text: "hello?".into(),
            room: Some(dm.id),
            mentions: Vec::new(),
            attachment: None,
            reply_to: None,
        },
    )
    .await;
    assert_eq!(code, ErrorCode::Refused);
    assert!(why.contains("blocked"), "{why}");
    let (status, why) = act(
        b,
        &cy,
        RoomAction::StartDirect {
            people: vec![ann_id],
        },
    )
    .await
    .expect_err("refused");
    assert_eq!(status, 403, "{why}");
    assert!(why.contains("direct messages"), "{why}");
    room_of(
        b,
        &bo,
        RoomAction::StartDirect {
            people: vec![ann_id],
        },
    )
    .await;
    let people: RoomPeople = common::server_fn(a, &ann, "room_people", &[])
        .await
        .json()
        .await
        .expect("people");
    assert_eq!(people.blocked, vec![cy_me.user_id]);

    // Hidden from Ann's own list, on her open tab, without leaving it.
    act(
        a,
        &ann,
        RoomAction::Hide {
            room: dm.id,
            hidden: true,
        },
    )
    .await
    .expect("allowed");
    ann_tab
        .next_matching(|e| match e {
            ServerEvent::RoomGone { room, hidden: true } if room == dm.id => Some(()),
            _ => None,
        })
        .await;
    let (_, ann_rooms) = tab_in(a, &ann, RoomId::DEFAULT).await;
    assert!(!ann_rooms.contains(&dm.id));
    let (status, _) = get(a, &ann, &format!("/r/{}", dm.slug)).await;
    assert_eq!(status, 200, "a hidden room is still readable");

    // A new message brings a hidden conversation back, unread, on her
    // open tab and in a fresh list (Cy may write again once unblocked).
    act(
        a,
        &ann,
        RoomAction::BlockDirect {
            user: cy_me.user_id,
            blocked: false,
        },
    )
    .await
    .expect("allowed");
    post(&mut cy_dm, dm.id, "still on for lunch?", None).await;
    ann_tab
        .next_matching(|e| match e {
            ServerEvent::Room { room } if room.id == dm.id => Some(()),
            _ => None,
        })
        .await;
    ann_tab
        .next_matching(|e| match e {
            ServerEvent::Activity { room, .. } if room == dm.id => Some(()),
            _ => None,
        })
        .await;
    let (_, ann_rooms) = tab_in(a, &ann, RoomId::DEFAULT).await;
    assert!(ann_rooms.contains(&dm.id), "shown again");

    // Who is here in the private room is for members only.
    let (status, body) = call(
        a,
        &ann,
        "people_here",
        &[("room", &plans.id.0.to_string()), ("offset", "0")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let _: PeoplePage = serde_json::from_str(&body).expect("a page");
    let (status, body) = call(
        a,
        &ann,
        "message_context",
        &[("id", &secret.id.0.to_string())],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let context: Context = serde_json::from_str(&body).expect("context");
    assert_eq!(context.room.id, plans.id);
}

#[tokio::test]
async fn a_closed_room_is_its_members_alone_on_sqlite() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(dir.path());
    closed_rooms_are_their_members_alone(&server, &server).await;
}

#[tokio::test]
async fn a_closed_room_is_its_members_alone_on_two_postgresql_nodes() {
    let Some(admin) = common::pg::cluster() else {
        return;
    };
    let _serial = crate::multinode::SERIAL.lock().await;
    let url = common::pg::fresh_database(&admin).await;
    let (a, _da) = crate::multinode::node(&url);
    let (b, _db) = crate::multinode::node(&url);
    closed_rooms_are_their_members_alone(&a, &b).await;
    // Give the nodes a moment to have nothing in flight when they stop.
    tokio::time::sleep(Duration::from_millis(50)).await;
}
