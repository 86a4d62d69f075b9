//! Reading server events in the browser. The derived `Deserialize` of an
//! internally tagged enum buffers every event into serde's `Content` and
//! decodes it a second time, which costs a lot of WASM. Here the `type`
//! tag is read first and the event is decoded once, straight into the
//! struct of its variant; a test checks this agrees with the derived
//! decoder for every kind of event.

use crate::protocol::{
    ChatMessage, ClientMessageId, ErrorCode, Identity, RoomId, RoomInfo, RoomStatus, Seq,
    ServerEvent, UserId,
};
use serde::Deserialize;

#[derive(Deserialize)]
struct Tag<'a> {
    #[serde(rename = "type", borrow)]
    kind: &'a str,
}

#[derive(Deserialize)]
struct Welcome {
    me: Option<Identity>,
    #[serde(default)]
    rooms: Vec<RoomStatus>,
    #[serde(default)]
    epoch: Option<String>,
}

#[derive(Deserialize)]
struct Me {
    me: Identity,
}

#[derive(Deserialize)]
struct Message {
    message: ChatMessage,
}

#[derive(Deserialize)]
struct Resync {
    #[serde(default = "default_room")]
    room: RoomId,
    messages: Vec<ChatMessage>,
    #[serde(default)]
    seq: Seq,
}

#[derive(Deserialize)]
struct Activity {
    room: RoomId,
    seq: Seq,
    user_id: UserId,
    #[serde(default)]
    mentions: Vec<UserId>,
}

#[derive(Deserialize)]
struct Room {
    room: RoomInfo,
}

#[derive(Deserialize)]
struct Gone {
    room: RoomId,
    #[serde(default)]
    hidden: bool,
}

#[derive(Deserialize)]
struct Presence {
    room: RoomId,
    people: Vec<Identity>,
    #[serde(default)]
    count: Option<u32>,
}

#[derive(Deserialize)]
struct Here {
    room: RoomId,
    count: u32,
    #[serde(default)]
    joined: Vec<Identity>,
    #[serde(default)]
    left: Vec<UserId>,
}

#[derive(Deserialize)]
struct Typing {
    room: RoomId,
    user: Identity,
}

#[derive(Deserialize)]
struct Read {
    status: RoomStatus,
}

#[derive(Deserialize)]
struct Ack {
    client_id: ClientMessageId,
    message: ChatMessage,
}

#[derive(Deserialize)]
struct Error {
    code: ErrorCode,
    message: String,
    #[serde(default)]
    client_id: Option<ClientMessageId>,
    #[serde(default)]
    retry_after_ms: Option<u64>,
}

#[derive(Deserialize)]
struct Pong {
    nonce: u64,
}

#[derive(Deserialize)]
struct ChatName {
    name: String,
}

#[derive(Deserialize)]
struct RoleChange {
    role: Option<crate::api::Role>,
}

fn default_room() -> RoomId {
    RoomId::DEFAULT
}

/// Decodes one server event.
pub fn server_event(json: &str) -> Result<ServerEvent, serde_json::Error> {
    use serde::de::Error as _;
    let kind = serde_json::from_str::<Tag>(json)?.kind;
    Ok(match kind {
        "welcome" => {
            let w: Welcome = serde_json::from_str(json)?;
            ServerEvent::Welcome {
                me: w.me,
                rooms: w.rooms,
                epoch: w.epoch,
            }
        }
        "identity" => ServerEvent::Identity {
            me: serde_json::from_str::<Me>(json)?.me,
        },
        "message" => ServerEvent::Message {
            message: serde_json::from_str::<Message>(json)?.message,
        },
        "resync" => {
            let r: Resync = serde_json::from_str(json)?;
            ServerEvent::Resync {
                room: r.room,
                messages: r.messages,
                seq: r.seq,
            }
        }
        "activity" => {
            let a: Activity = serde_json::from_str(json)?;
            ServerEvent::Activity {
                room: a.room,
                seq: a.seq,
                user_id: a.user_id,
                mentions: a.mentions,
            }
        }
        "room" => ServerEvent::Room {
            room: serde_json::from_str::<Room>(json)?.room,
        },
        "room_gone" => {
            let g: Gone = serde_json::from_str(json)?;
            ServerEvent::RoomGone {
                room: g.room,
                hidden: g.hidden,
            }
        }
        "presence" => {
            let p: Presence = serde_json::from_str(json)?;
            ServerEvent::Presence {
                room: p.room,
                people: p.people,
                count: p.count,
            }
        }
        "here" => {
            let h: Here = serde_json::from_str(json)?;
            ServerEvent::Here {
                room: h.room,
                count: h.count,
                joined: h.joined,
                left: h.left,
            }
        }
        "typing" => {
            let t: Typing = serde_json::from_str(json)?;
            ServerEvent::Typing {
                room: t.room,
                user: t.user,
            }
        }
        "read" => ServerEvent::Read {
            status: serde_json::from_str::<Read>(json)?.status,
        },
        "ack" => {
            let a: Ack = serde_json::from_str(json)?;
            ServerEvent::Ack {
                client_id: a.client_id,
                message: a.message,
            }
        }
        "error" => {
            let e: Error = serde_json::from_str(json)?;
            ServerEvent::Error {
                code: e.code,
                message: e.message,
                client_id: e.client_id,
                retry_after_ms: e.retry_after_ms,
            }
        }
        "pong" => ServerEvent::Pong {
            nonce: serde_json::from_str::<Pong>(json)?.nonce,
        },
        "chat_name" => ServerEvent::ChatName {
            name: serde_json::from_str::<ChatName>(json)?.name,
        },
        "role" => ServerEvent::Role {
            role: serde_json::from_str::<RoleChange>(json)?.role,
        },
        other => {
            return Err(serde_json::Error::custom(format!(
                "unknown event type {other}"
            )))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{MessageId, Reaction, Reactor};

    fn message() -> ChatMessage {
        ChatMessage {
            id: MessageId(3),
            user_id: UserId(1),
            user_name: "Ann \"quoted\" <b>".into(),
            color: "rgb(200,100,100)".into(),
            msg: "hi @Bo 👩\u{200D}👩".into(),
            ts: 5,
            room: RoomId(2),
            seq: Seq(9),
            edited: true,
            deleted: false,
            removed: false,
            reactions: vec![Reaction {
                emoji: "🎉".into(),
                users: vec![Reactor {
                    user_id: UserId(2),
                    name: "Bo".into(),
                }],
            }],
            mentions: vec![UserId(2)],
            attachment: Some(crate::protocol::Attachment {
                id: "ab".repeat(32),
                name: "cat.jpg".into(),
                mime: "image/jpeg".into(),
                size: 1234,
                image: Some(crate::protocol::ImageInfo {
                    width: 640,
                    height: 480,
                    thumb: "cd".repeat(32),
                }),
            }),
            rich: Some("<p><strong>bold</strong></p>".into()),
            reply: None,
            preview: Some(crate::protocol::LinkPreview {
                url: "https://example.com/a".into(),
                title: "A <page>".into(),
                description: String::new(),
                site: "example.com".into(),
                image: Some(crate::protocol::PreviewImage {
                    id: "ef".repeat(32),
                    width: 480,
                    height: 252,
                }),
            }),
            bot: true,
        }
    }

    /// The wire name of each kind of event, in order.
    const KINDS: [&str; 16] = [
        "ack",
        "activity",
        "chat_name",
        "error",
        "here",
        "identity",
        "message",
        "pong",
        "presence",
        "read",
        "resync",
        "role",
        "room",
        "room_gone",
        "typing",
        "welcome",
    ];

    fn kind(event: &ServerEvent) -> &'static str {
        match event {
            ServerEvent::Welcome { .. } => "welcome",
            ServerEvent::Identity { .. } => "identity",
            ServerEvent::Message { .. } => "message",
            ServerEvent::Resync { .. } => "resync",
            ServerEvent::Activity { .. } => "activity",
            ServerEvent::Room { .. } => "room",
            ServerEvent::RoomGone { .. } => "room_gone",
            ServerEvent::Presence { .. } => "presence",
            ServerEvent::Here { .. } => "here",
            ServerEvent::Typing { .. } => "typing",
            ServerEvent::Read { .. } => "read",
            ServerEvent::ChatName { .. } => "chat_name",
            ServerEvent::Role { .. } => "role",
            ServerEvent::Ack { .. } => "ack",
            ServerEvent::Error { .. } => "error",
            ServerEvent::Pong { .. } => "pong",
        }
    }

    /// A newer server's frames: an unknown kind of event is an error the
    /// socket loop skips; an unknown field is ignored; an unknown error
    /// code still carries its message.
    #[test]
    fn what_a_newer_server_sends_is_read_or_skipped() {
        assert!(server_event(r#"{"type":"shout","text":"x"}"#).is_err());
        assert_eq!(
            server_event(r#"{"type":"pong","nonce":3,"sent_at":17}"#).expect("decodes"),
            ServerEvent::Pong { nonce: 3 }
        );
        assert_eq!(
            server_event(r#"{"type":"error","code":"quota_exceeded","message":"Full."}"#)
                .expect("decodes"),
            ServerEvent::Error {
                code: ErrorCode::Unknown,
                message: "Full.".into(),
                client_id: None,
                retry_after_ms: None,
            }
        );
        assert_eq!(
            server_event(r#"{"type":"role","role":"admin"}"#).expect("decodes"),
            ServerEvent::Role {
                role: Some(crate::protocol::Role::Member)
            },
            "an unknown role is the least one"
        );
    }

    /// Every kind of event decodes here exactly as the derived decoder
    /// (the server's and the tests') decodes it.
    #[test]
    fn agrees_with_the_derived_decoder_for_every_event() {
        let who = Identity {
            user_id: UserId(1),
            name: "Ann".into(),
            color: "rgb(1,2,3)".into(),
        };
        let info = RoomInfo {
            id: RoomId(2),
            slug: "games".into(),
            name: "".into(),
            archived: true,
            kind: crate::protocol::RoomKind::Direct,
            members: vec![who.clone()],
        };
        let status = RoomStatus {
            room: info.clone(),
            read: Seq(4),
            unread: 2,
            mentions: 1,
            last_at: 0,
        };
        let events = vec![
            ServerEvent::Welcome {
                me: Some(who.clone()),
                rooms: vec![status.clone()],
                epoch: Some("e1".into()),
            },
            ServerEvent::Welcome {
                me: None,
                rooms: Vec::new(),
                epoch: None,
            },
            ServerEvent::Identity { me: who.clone() },
            ServerEvent::Message { message: message() },
            ServerEvent::Resync {
                room: RoomId(2),
                messages: vec![message()],
                seq: Seq(9),
            },
            ServerEvent::Activity {
                room: RoomId(2),
                seq: Seq(10),
                user_id: UserId(1),
                mentions: vec![UserId(2)],
            },
            ServerEvent::Room { room: info },
            ServerEvent::RoomGone {
                room: RoomId(7),
                hidden: false,
            },
            ServerEvent::RoomGone {
                room: RoomId(8),
                hidden: true,
            },
            ServerEvent::Presence {
                room: RoomId(2),
                people: vec![who.clone()],
                count: Some(120),
            },
            ServerEvent::Presence {
                room: RoomId(2),
                people: vec![who.clone()],
                count: None,
            },
            ServerEvent::Here {
                room: RoomId(2),
                count: 3,
                joined: vec![who.clone()],
                left: vec![UserId(9)],
            },
            ServerEvent::Here {
                room: RoomId(2),
                count: 10_000,
                joined: Vec::new(),
                left: Vec::new(),
            },
            ServerEvent::Typing {
                room: RoomId(2),
                user: who,
            },
            ServerEvent::Read { status },
            ServerEvent::Ack {
                client_id: ClientMessageId::new_random(),
                message: message(),
            },
            ServerEvent::Error {
                code: ErrorCode::RateLimited,
                message: "Slow down".into(),
                client_id: Some(ClientMessageId::new_random()),
                retry_after_ms: Some(300),
            },
            ServerEvent::Error {
                code: ErrorCode::Internal,
                message: "x".into(),
                client_id: None,
                retry_after_ms: None,
            },
            ServerEvent::Pong { nonce: 7 },
            ServerEvent::ChatName {
                name: "Family".into(),
            },
            ServerEvent::Role {
                role: Some(crate::api::Role::Moderator),
            },
            ServerEvent::Role { role: None },
        ];
        // Every kind of event has an example above: `kind` names each
        // variant with no wildcard, so a new one does not compile until it
        // is named here, and then this fails until it has an example.
        let covered: std::collections::BTreeSet<&str> = events.iter().map(kind).collect();
        assert_eq!(covered.into_iter().collect::<Vec<_>>(), KINDS);
        for event in events {
            let json = serde_json::to_string(&event).expect("serialises");
            assert_eq!(server_event(&json).expect("decodes"), event, "{json}");
            assert_eq!(
                serde_json::from_str::<ServerEvent>(&json).expect("derived decodes"),
                event
            );
        }
        assert!(server_event(r#"{"type":"shout"}"#).is_err());
        assert!(server_event("not json").is_err());
        assert!(
            server_event(r#"{"type":"message"}"#).is_err(),
            "missing fields are errors"
        );
    }
}
