//! The page's never-lose rules, run natively inside a reactive owner:
//! what a stream of server events does to the shown room, its cursor and
//! the outbox.

use super::*;
use crate::protocol::{ClientMessageId, Reaction, Reactor};
use futures::channel::mpsc;
use leptos::reactive::owner::Owner;

/// A page's state inside its own owner, and what it sent on its socket.
fn page() -> (Owner, ChatState, mpsc::UnboundedReceiver<ClientEvent>) {
    let owner = Owner::new();
    owner.set();
    let state = ChatState::new();
    state.room.set(Some(room(1)));
    state.rooms.set(vec![status(1), status(2)]);
    state.set_identity(me());
    let (tx, rx) = mpsc::unbounded();
    state.attach(Some(tx));
    (owner, state, rx)
}

fn me() -> Identity {
    Identity {
        user_id: UserId(1),
        name: "Ann".into(),
        color: "rgb(200,100,100)".into(),
    }
}

fn room(id: i64) -> RoomInfo {
    RoomInfo::open(RoomId(id), format!("r{id}"), format!("Room {id}"), false)
}

fn status(id: i64) -> RoomStatus {
    RoomStatus {
        room: room(id),
        read: Seq(0),
        unread: 0,
        mentions: 0,
        last_at: 0,
    }
}

/// Message `id` of room `room` at `seq`, by someone else (user 2).
fn msg(room: i64, id: i64, seq: i64, text: &str) -> ChatMessage {
    ChatMessage {
        id: MessageId(id),
        user_id: UserId(2),
        user_name: "Bo".into(),
        color: "rgb(210,150,150)".into(),
        msg: text.into(),
        ts: 1_700_000_000_000 + id,
        room: RoomId(room),
        seq: Seq(seq),
        edited: false,
        deleted: false,
        removed: false,
        reactions: Vec::new(),
        mentions: Vec::new(),
        attachment: None,
        rich: None,
        reply: None,
        preview: None,
        bot: false,
    }
}

fn texts(state: &ChatState) -> Vec<String> {
    state
        .messages
        .with_untracked(|m| m.values().map(|m| m.msg.clone()).collect())
}

fn ids(state: &ChatState) -> Vec<i64> {
    state
        .messages
        .with_untracked(|m| m.keys().map(|id| id.0).collect())
}

/// What went out on the socket so far.
fn sent(rx: &mut mpsc::UnboundedReceiver<ClientEvent>) -> Vec<ClientEvent> {
    let mut out = Vec::new();
    while let Ok(e) = rx.try_recv() {
        out.push(e);
    }
    out
}

fn sends(events: &[ClientEvent]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            ClientEvent::Send { text, .. } => Some(text.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_resync_replaces_the_page() {
    let (_owner, state, _rx) = page();
    state.merge_stream(vec![msg(1, 1, 1, "old a"), msg(1, 2, 2, "old b")]);
    state.apply(ServerEvent::Resync {
        room: RoomId(1),
        messages: vec![msg(1, 40, 40, "new a"), msg(1, 41, 41, "new b")],
        seq: Seq(45),
    });
    assert_eq!(texts(&state), ["new a", "new b"]);
    assert_eq!(state.last_seen(), Some(Seq(45)));
}

#[test]
fn an_ack_never_moves_the_cursor() {
    let (_owner, state, _rx) = page();
    state.merge_stream(vec![msg(1, 1, 1, "a")]);
    let mut mine = msg(1, 9, 9, "mine");
    mine.user_id = UserId(1);
    // The ack overtook broadcasts 2..8, still on their way: resuming after
    // 9 would skip them.
    state.apply(ServerEvent::Ack {
        client_id: ClientMessageId::new_random(),
        message: mine,
    });
    assert_eq!(state.last_seen(), Some(Seq(1)));
    assert!(texts(&state).contains(&"mine".to_owned()), "shown at once");
}

#[test]
fn an_event_of_another_room_is_ignored() {
    let (_owner, state, _rx) = page();
    state.merge_stream(vec![msg(1, 1, 1, "here")]);
    state.apply(ServerEvent::Message {
        message: msg(2, 2, 1, "elsewhere"),
    });
    state.apply(ServerEvent::Resync {
        room: RoomId(2),
        messages: vec![msg(2, 3, 2, "elsewhere too")],
        seq: Seq(2),
    });
    // An older page asked for before the tab switched rooms.
    state.merge(vec![msg(2, 4, 3, "a page of the room left")]);
    assert_eq!(texts(&state), ["here"]);
    assert_eq!(state.last_seen(), Some(Seq(1)));
}

#[test]
fn a_duplicate_delivery_shows_once() {
    let (_owner, state, _rx) = page();
    let m = msg(1, 5, 5, "once");
    state.merge_stream(vec![m.clone()]);
    state.apply(ServerEvent::Message { message: m.clone() });
    state.merge([m]);
    assert_eq!(ids(&state), [5]);
}

#[test]
fn an_edit_or_delete_of_a_message_not_yet_seen_is_applied_when_it_arrives() {
    let (_owner, state, _rx) = page();
    // The stream says message 7 was edited (seq 12) and message 8 deleted
    // (seq 13) before the page holds either.
    let mut edited = msg(1, 7, 12, "after the edit");
    edited.edited = true;
    let mut deleted = msg(1, 8, 13, "");
    deleted.deleted = true;
    state.apply(ServerEvent::Message { message: edited });
    state.apply(ServerEvent::Message { message: deleted });
    // Then an older page brings both as they were first sent.
    state.merge(vec![
        msg(1, 7, 7, "before the edit"),
        msg(1, 8, 8, "secret"),
    ]);
    let shown = state.messages.get_untracked();
    assert_eq!(shown[&MessageId(7)].msg, "after the edit");
    assert!(shown[&MessageId(7)].edited);
    assert!(shown[&MessageId(8)].deleted);
    assert_eq!(
        shown[&MessageId(8)].msg,
        "",
        "a deleted text does not come back"
    );
    // A reaction after that keeps the latest state too.
    let mut reacted = shown[&MessageId(7)].clone();
    reacted.seq = Seq(14);
    reacted.reactions = vec![Reaction {
        emoji: "👍".into(),
        users: vec![Reactor {
            user_id: UserId(1),
            name: "Ann".into(),
        }],
    }];
    state.apply(ServerEvent::Message { message: reacted });
    state.merge(vec![msg(1, 7, 7, "before the edit")]);
    let shown = state.messages.get_untracked();
    assert_eq!(shown[&MessageId(7)].reactions.len(), 1);
    assert_eq!(shown[&MessageId(7)].msg, "after the edit");
}

#[test]
fn a_rate_limited_send_waits_and_keeps_its_place() {
    let (_owner, state, mut rx) = page();
    state.post("first".into(), Vec::new(), None);
    state.post("second".into(), Vec::new(), None);
    let out = sent(&mut rx);
    assert_eq!(sends(&out), ["first"], "one at a time");
    let first = state.outbox.with_untracked(|o| o[0].client_id);
    state.apply(ServerEvent::Error {
        code: ErrorCode::RateLimited,
        message: "Slow down".into(),
        client_id: Some(first),
        retry_after_ms: Some(500),
    });
    // Writing more while the wait lasts sends nothing either.
    state.post("third".into(), Vec::new(), None);
    assert!(sends(&sent(&mut rx)).is_empty(), "nothing while waiting");
    assert_eq!(
        state
            .outbox
            .with_untracked(|o| o.iter().map(|i| i.text.clone()).collect::<Vec<_>>()),
        ["first", "second", "third"],
        "all kept, in order"
    );
    state.resume_sending();
    let out = sent(&mut rx);
    assert_eq!(sends(&out), ["first"], "the held one goes first");
    match &out[0] {
        ClientEvent::Send { client_id, .. } => assert_eq!(*client_id, first, "same id"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_outbox_survives_a_reload_and_sends_each_message_once() {
    let (owner, state, mut rx) = page();
    state.attach(None);
    state.post("written offline".into(), Vec::new(), None);
    state.post("and this".into(), Vec::new(), None);
    let saved = serde_json::to_string(&state.outbox.get_untracked()).expect("saved");
    drop(owner);

    // The reload: a new page with what the browser kept.
    let (_owner, state, _) = page();
    state.attach(None);
    let kept: Vec<OutgoingMessage> = serde_json::from_str(&saved).expect("read back");
    let ids: Vec<ClientMessageId> = kept.iter().map(|i| i.client_id).collect();
    state.outbox.set(kept);
    let (tx, mut rx2) = mpsc::unbounded();
    state.attach(Some(tx));
    state.flush_outbox();
    state.flush_outbox();
    let out = sent(&mut rx2);
    assert_eq!(sends(&out), ["written offline"], "once, and one at a time");
    let mut acked = msg(1, 20, 20, "written offline");
    acked.user_id = UserId(1);
    state.apply(ServerEvent::Ack {
        client_id: ids[0],
        message: acked,
    });
    let out = sent(&mut rx2);
    assert_eq!(sends(&out), ["and this"]);
    // A reconnect sends what is still unanswered again, under its id.
    state.attach(None);
    let (tx, mut rx3) = mpsc::unbounded();
    state.attach(Some(tx));
    state.flush_outbox();
    match sent(&mut rx3).as_slice() {
        [ClientEvent::Send {
            client_id, text, ..
        }] => {
            assert_eq!((client_id, text.as_str()), (&ids[1], "and this"));
        }
        other => panic!("{other:?}"),
    }
    assert!(
        sent(&mut rx).is_empty(),
        "the old page's socket got nothing"
    );
}

#[test]
fn resume_after_reconnect_asks_from_the_right_seq() {
    let (_owner, state, _rx) = page();
    state.resume_from(Seq(10));
    state.merge_stream(vec![msg(1, 11, 11, "a"), msg(1, 12, 12, "b")]);
    // Older history and acks are not the stream.
    state.merge(vec![msg(1, 3, 3, "older")]);
    let mut mine = msg(1, 30, 30, "mine");
    mine.user_id = UserId(1);
    state.apply(ServerEvent::Ack {
        client_id: ClientMessageId::new_random(),
        message: mine,
    });
    assert_eq!(state.last_seen(), Some(Seq(12)));
    // The stream goes on; a replayed change below the cursor moves nothing.
    state.apply(ServerEvent::Message {
        message: msg(1, 13, 14, "c"),
    });
    state.apply(ServerEvent::Message {
        message: msg(1, 11, 13, "a, edited"),
    });
    assert_eq!(state.last_seen(), Some(Seq(14)));
}

#[test]
fn an_answer_for_an_older_intent_never_replaces_a_newer_one() {
    let (_owner, state, _rx) = page();
    // The reader jumps to message 6 of room 2 (a search result), which
    // this tab never opened: opening it asks the server for the room's
    // latest page, whose answer comes after the jump's context.
    let context = crate::api::Context {
        room: room(2),
        messages: (1..=31).map(|i| msg(2, i, i, &format!("#{i}"))).collect(),
    };
    state.show_context(context, MessageId(6));
    state.apply(ServerEvent::Resync {
        room: RoomId(2),
        messages: (41..=90).map(|i| msg(2, i, i, &format!("#{i}"))).collect(),
        seq: Seq(90),
    });
    let shown = ids(&state);
    for id in [5, 6, 7] {
        assert!(shown.contains(&id), "#{id} stays: {shown:?}");
    }
    assert!(!shown.contains(&90), "the latest page does not replace it");
    assert!(state.detached.get_untracked());
    // "Back to latest" is the newer intent now: its page is shown.
    state.back_to_latest();
    state.apply(ServerEvent::Resync {
        room: RoomId(2),
        messages: (41..=90).map(|i| msg(2, i, i, &format!("#{i}"))).collect(),
        seq: Seq(90),
    });
    assert_eq!(ids(&state).first(), Some(&41));
}

#[test]
fn up_edits_the_newest_of_my_messages_while_the_window_lasts() {
    let (_owner, state, _rx) = page();
    let mine = |id: i64, ts: i64| {
        let mut m = msg(1, id, id, &format!("mine {id}"));
        m.user_id = UserId(1);
        m.ts = ts;
        m
    };
    let mut gone = mine(4, 4_000);
    gone.deleted = true;
    state.merge_stream(vec![mine(2, 2_000), msg(1, 3, 3, "theirs"), gone]);
    let window = state.edit_window_secs.get_untracked() as f64 * 1000.0;
    assert_eq!(
        state.last_editable(2_000.0 + window - 1.0),
        Some((MessageId(2), "mine 2".to_owned())),
        "not theirs, not a deleted one"
    );
    assert_eq!(state.last_editable(2_000.0 + window), None, "too late");
}

#[test]
fn a_reply_quotes_its_parent_as_it_stands() {
    let (_owner, state, mut rx) = page();
    let parent = msg(1, 1, 1, "**first** line\nsecond");
    let mut reply = msg(1, 2, 2, "answer");
    reply.reply = Some(crate::protocol::Quote::of(&parent));
    state.merge_stream(vec![parent.clone(), reply]);
    let quote = |state: &ChatState| {
        state.messages.with_untracked(|m| {
            m.get(&MessageId(2))
                .and_then(|m| m.reply.clone())
                .map(|q| (q.line, q.deleted))
        })
    };
    assert_eq!(quote(&state), Some(("first line".into(), false)));
    // The parent is edited, then deleted (live or in catch-up alike).
    let mut edited = parent.clone();
    edited.msg = "changed".into();
    edited.seq = Seq(3);
    state.apply(ServerEvent::Message { message: edited });
    assert_eq!(quote(&state), Some(("changed".into(), false)));
    let mut gone = parent;
    gone.msg = String::new();
    gone.deleted = true;
    gone.seq = Seq(4);
    state.merge_stream(vec![gone]);
    assert_eq!(quote(&state), Some((String::new(), true)));
    // Replying sends the parent's id, once.
    state
        .replying
        .set(Some(crate::protocol::Quote::of(&msg(1, 2, 2, "answer"))));
    state.post("and mine".into(), Vec::new(), None);
    let events = sent(&mut rx);
    assert!(
        events.iter().any(|e| matches!(
            e,
            ClientEvent::Send {
                reply_to: Some(MessageId(2)),
                ..
            }
        )),
        "{events:?}"
    );
    assert_eq!(
        state.replying.get_untracked(),
        None,
        "the next message answers nothing"
    );
}
