//! The wire protocol: every event the browser and the server exchange over
//! the chat WebSocket, plus the records both sides render. Both the server
//! and the WASM client (de)serialise these exact types, so a change here is a
//! protocol change.

use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

/// Server-assigned message id. Strictly increasing in commit order, so it
/// is the order every client shows a room's messages in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MessageId(pub i64);

/// A room. The default room (the seed's one) is `RoomId::DEFAULT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RoomId(pub i64);

impl RoomId {
    pub const DEFAULT: RoomId = RoomId(1);
}

/// A position in one room's log. Every change to the room's history (a
/// message, an edit, a delete, a reaction) takes the room's next seq, in
/// commit order; it is the catch-up cursor.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Seq(pub i64);

/// Public id of a user. Safe to broadcast, unlike the device id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UserId(pub i64);

/// Id the client gives a message before sending it, so that a resend after
/// a dropped connection is recognised instead of stored twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ClientMessageId(pub Uuid);

impl ClientMessageId {
    pub fn new_random() -> Self {
        Self(Uuid::new_v4())
    }
}

/// The anonymous credential kept in the `device_id` cookie. It never appears
/// in broadcasts, history or whole in logs.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct DeviceId(Uuid);

impl DeviceId {
    pub fn new_random() -> Self {
        Self(Uuid::new_v4())
    }

    /// Parses a cookie value; anything but a canonical UUID is refused so a
    /// malformed cookie gets replaced rather than trusted.
    pub fn parse(raw: &str) -> Option<Self> {
        let id = Uuid::try_parse(raw).ok()?;
        (id.hyphenated().to_string() == raw.to_ascii_lowercase()).then_some(Self(id))
    }

    pub fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl fmt::Display for DeviceId {
    /// Full value: only for the cookie and the database.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

impl fmt::Debug for DeviceId {
    /// Abbreviated so that logs never carry the whole secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let full = self.0.simple().to_string();
        write!(f, "DeviceId({}…)", &full[..6])
    }
}

/// A user's public identity as every client sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub user_id: UserId,
    pub name: String,
    pub color: String,
}

/// One stored chat message. `user_name`, `msg` and `color` keep the seed's
/// `/get_messages` field names so existing consumers keep working.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub id: MessageId,
    pub user_id: UserId,
    pub user_name: String,
    pub color: String,
    /// The current text; empty once deleted.
    pub msg: String,
    /// Server time of the commit, milliseconds since the Unix epoch.
    pub ts: i64,
    #[serde(default = "default_room")]
    pub room: RoomId,
    /// The seq of the latest change to this message: its creation, or a
    /// later edit, delete or reaction.
    #[serde(default)]
    pub seq: Seq,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub edited: bool,
    /// Deleted by its author: the text is gone from storage.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
    /// Deleted by a moderator (`deleted` is set too).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub removed: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reactions: Vec<Reaction>,
    /// Users this message mentions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mentions: Vec<UserId>,
    /// A photo or file sent with the message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachment: Option<Attachment>,
    /// The text formatted, as HTML drawn by the server from known tags
    /// with all text escaped (`rich::render`); none: plain text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rich: Option<String>,
    /// The message this one answers, as it stands now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply: Option<Quote>,
    /// A card for the text's first link, added by the server after the
    /// message was sent (a later change of the message).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preview: Option<LinkPreview>,
    /// Sent by a bot (through the bot API, or its webhook's answer).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub bot: bool,
}

/// What a linked page says about itself (its OpenGraph, Twitter or
/// `<title>` tags), fetched by the server: readers' browsers never ask
/// the linked site for anything, its image included.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkPreview {
    /// The link as it stands in the text (the card leads there).
    pub url: String,
    pub title: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// The site's name, or its host.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub site: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<PreviewImage>,
}

/// A preview's picture, re-encoded and stored like a photo's thumbnail,
/// served from `/files/<id>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviewImage {
    pub id: String,
    pub width: u32,
    pub height: u32,
}

/// The message a reply answers, as shown above the reply: its author and
/// first line, read from its current state (an edit or delete of it shows
/// through).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quote {
    pub id: MessageId,
    pub user_id: UserId,
    pub user_name: String,
    pub color: String,
    /// `quote_line` of its text; empty once deleted.
    pub line: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
}

impl Quote {
    /// The quote of a message that cannot be read any more.
    pub fn gone(id: MessageId) -> Self {
        Self {
            id,
            user_id: UserId(0),
            user_name: String::new(),
            color: String::new(),
            line: String::new(),
            deleted: true,
        }
    }

    /// The quote of `parent` as it stands.
    pub fn of(parent: &ChatMessage) -> Self {
        let line = match (&parent.attachment, quote_line(&parent.msg)) {
            (Some(a), line) if line.is_empty() => a.name.clone(),
            (_, line) => line,
        };
        Self {
            id: parent.id,
            user_id: parent.user_id,
            user_name: parent.user_name.clone(),
            color: parent.color.clone(),
            line,
            deleted: parent.deleted,
        }
    }
}

/// Characters of a quoted first line, at most.
pub const QUOTE_CHARS: usize = 120;

/// The first line worth quoting of a message's text: fences, quote and
/// list marks, heading marks and the commonest emphasis marks left out,
/// cut to `QUOTE_CHARS`. Both sides compute it the same way, so a quote
/// patched live in the browser reads as the server would have drawn it.
pub fn quote_line(text: &str) -> String {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with("```") && !l.starts_with("~~~"))
        .unwrap_or("");
    let line = line.trim_start_matches(['>', '#', ' ']);
    let line = ["- ", "* ", "+ "]
        .iter()
        .find_map(|m| line.strip_prefix(m))
        .unwrap_or(line);
    let line = line.replace("**", "").replace("~~", "").replace('`', "");
    let line = line.trim();
    match line.char_indices().nth(QUOTE_CHARS) {
        Some((cut, _)) => format!("{}…", line[..cut].trim_end()),
        None => line.to_owned(),
    }
}

/// A file sent with a message, served from `/files/<id>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// The content hash of the stored file.
    pub id: String,
    /// The name it was sent with (shown, never used as a path).
    pub name: String,
    pub mime: String,
    pub size: u64,
    /// Set for photos: their size and the content hash of a thumbnail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageInfo>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageInfo {
    pub width: u32,
    pub height: u32,
    pub thumb: String,
}

/// What `POST /upload` returns: the upload to reference in a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Uploaded {
    pub upload: String,
    pub attachment: Attachment,
}

fn default_room() -> RoomId {
    RoomId::DEFAULT
}

/// The reactions a message may get.
pub const REACTIONS: [&str; 6] = ["👍", "❤️", "😂", "🎉", "😮", "😢"];

/// One emoji on a message and who reacted with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reaction {
    pub emoji: String,
    pub users: Vec<Reactor>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reactor {
    pub user_id: UserId,
    pub name: String,
}

/// A room as the room list shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomInfo {
    pub id: RoomId,
    /// In the URL: `/r/<slug>`.
    pub slug: String,
    /// A direct conversation's is empty until someone names it: it is
    /// called by its people's names (`members`), the reader's left out.
    pub name: String,
    /// Read-only and hidden from the list, still reachable by URL.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub archived: bool,
    #[serde(default, skip_serializing_if = "RoomKind::is_open")]
    pub kind: RoomKind,
    /// A direct conversation's people.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<Identity>,
}

impl RoomInfo {
    /// An open room (the kind every room was before there were others).
    pub fn open(id: RoomId, slug: String, name: String, archived: bool) -> Self {
        Self {
            id,
            slug,
            name,
            archived,
            kind: RoomKind::Open,
            members: Vec::new(),
        }
    }

    /// What the list and the header call it for `me`: its name, or a
    /// direct conversation's other people.
    pub fn title(&self, me: Option<UserId>) -> String {
        if !self.name.is_empty() || self.kind != RoomKind::Direct {
            return self.name.clone();
        }
        let others: Vec<&str> = self
            .members
            .iter()
            .filter(|p| Some(p.user_id) != me)
            .map(|p| p.name.as_str())
            .collect();
        match others.is_empty() {
            true => "Just you".to_owned(),
            false => others.join(", "),
        }
    }
}

/// Who may read a room.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RoomKind {
    /// Anyone with a name (the kind of the chat's first rooms).
    #[default]
    Open,
    /// A conversation among a set of people, one per set.
    Direct,
    /// Its members only; also a kind this release does not know (the
    /// closest: it is not for everyone).
    #[serde(other)]
    Private,
}

impl RoomKind {
    pub fn is_open(&self) -> bool {
        *self == RoomKind::Open
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RoomKind::Open => "open",
            RoomKind::Direct => "direct",
            RoomKind::Private => "private",
        }
    }

    pub fn parse(raw: &str) -> Self {
        match raw {
            "open" => RoomKind::Open,
            "direct" => RoomKind::Direct,
            _ => RoomKind::Private,
        }
    }
}

/// A room with this identity's unread figures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomStatus {
    pub room: RoomInfo,
    /// The last seq this identity has read in the room.
    pub read: Seq,
    pub unread: u32,
    pub mentions: u32,
    /// When its newest message was sent (ms since the epoch; 0: none),
    /// to list direct conversations newest first.
    #[serde(default)]
    pub last_at: i64,
}

/// Query string of the WebSocket URL (`/ws?room=2&last_seen=42`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectParams {
    /// The room the tab shows (the default room when absent).
    pub room: Option<RoomId>,
    /// The newest seq the client already has in that room; the server
    /// replays every change after it before any live traffic.
    pub last_seen: Option<Seq>,
    /// The epoch `last_seen` belongs to; another one than the server's
    /// makes it send the room's latest page instead of a catch-up.
    #[serde(default)]
    pub epoch: Option<String>,
}

/// Browser → server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientEvent {
    /// Post a message. Resending the same `client_id` is safe.
    Send {
        client_id: ClientMessageId,
        text: String,
        /// The socket's room when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        room: Option<RoomId>,
        /// Users picked from the mention list; kept only if the text
        /// names them.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        mentions: Vec<UserId>,
        /// An upload of this device's (`Uploaded::upload`) to attach; the
        /// text may then be empty.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        attachment: Option<String>,
        /// The message of the same room this one answers.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reply_to: Option<MessageId>,
    },
    /// Change the text of one of this identity's own messages.
    Edit {
        client_id: ClientMessageId,
        message_id: MessageId,
        text: String,
    },
    /// Delete one of this identity's own messages.
    Delete {
        client_id: ClientMessageId,
        message_id: MessageId,
    },
    /// Add (`on`) or remove a reaction; the same request twice changes
    /// nothing the second time.
    React {
        client_id: ClientMessageId,
        message_id: MessageId,
        emoji: String,
        on: bool,
    },
    /// Take the link preview off one of this identity's own messages; it
    /// does not come back.
    HidePreview {
        client_id: ClientMessageId,
        message_id: MessageId,
    },
    /// Show another room in this tab: the server replays it after
    /// `last_seen` (or sends its latest page) and forwards its events.
    Open {
        room: RoomId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        last_seen: Option<Seq>,
    },
    /// This identity has read the socket's room up to `seq`.
    Read { room: RoomId, seq: Seq },
    /// The user is typing in the socket's room.
    Typing,
    /// The tab went to the background or came back.
    Visibility { visible: bool },
    /// Application heartbeat; answered with `Pong`.
    Ping { nonce: u64 },
}

/// Server → browser.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerEvent {
    /// First event on every connection: who this device is (or `None` when
    /// it must choose a name before it can post), and every room with its
    /// unread figures.
    Welcome {
        me: Option<Identity>,
        #[serde(default)]
        rooms: Vec<RoomStatus>,
        /// The install's id. Seqs count within one epoch: a client that
        /// kept a cursor from another (a database restored from a backup,
        /// or moved to another mode) must start the room over.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        epoch: Option<String>,
    },
    /// This device's identity changed (it picked or changed its name, maybe
    /// in another tab).
    Identity {
        me: Identity,
    },
    /// A message of the open room, new or changed (edited, deleted,
    /// reacted to), live or replayed: always in seq order.
    Message {
        message: ChatMessage,
    },
    /// The gap since `last_seen` was too long to replay, or the room was
    /// just opened: its latest page, replacing what the client holds.
    Resync {
        #[serde(default = "default_room")]
        room: RoomId,
        messages: Vec<ChatMessage>,
        /// The room's newest seq, the cursor to resume from.
        #[serde(default)]
        seq: Seq,
    },
    /// A new message in a room this socket does not show (no text): for
    /// the room list's unread and mention counts.
    Activity {
        room: RoomId,
        seq: Seq,
        user_id: UserId,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        mentions: Vec<UserId>,
    },
    /// A room was created, renamed or archived (or this identity was let
    /// into a private or direct one).
    Room {
        room: RoomInfo,
    },
    /// This identity may no longer read the room (removed from it, it
    /// left, or the room became private): it leaves the list, and nothing
    /// more of it comes.
    RoomGone {
        room: RoomId,
        /// Only taken out of this identity's list (it may still read it):
        /// a tab showing it stays.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        hidden: bool,
    },
    /// Who has the room open now (each identity once): how many, and the
    /// first `PRESENCE_LISTED` of them by name (everyone, in a room of up
    /// to that many). Sent when a room is opened, and when a room shrinks
    /// back to a size that is listed whole.
    Presence {
        room: RoomId,
        people: Vec<Identity>,
        /// Everyone here; `people` may be only the first of them. (Absent
        /// from an older server: `people` is everyone.)
        #[serde(default, skip_serializing_if = "Option::is_none")]
        count: Option<u32>,
    },
    /// Who came and went since the last `Presence` or `Here`: by name
    /// while the room has at most `PRESENCE_LISTED` people; past that only
    /// how many there are now (what a phone receives for a change stays
    /// small however large the room; the whole list is fetched, a page at
    /// a time, when someone opens it).
    Here {
        room: RoomId,
        count: u32,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        joined: Vec<Identity>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        left: Vec<UserId>,
    },
    /// Someone (never this identity) is typing in the room.
    Typing {
        room: RoomId,
        user: Identity,
    },
    /// This identity's read position and unread figures for a room
    /// changed (maybe in another tab or linked device).
    Read {
        status: RoomStatus,
    },
    /// The owner renamed the chat (header, title).
    ChatName {
        name: String,
    },
    /// This device's role changed (it was made a moderator, or the owner).
    Role {
        role: Option<Role>,
    },
    /// The message with this client id is durably stored as `message`.
    Ack {
        client_id: ClientMessageId,
        message: ChatMessage,
    },
    /// Something the client sent was refused. `client_id` names the
    /// request concerned, when there is one.
    Error {
        code: ErrorCode,
        message: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_id: Option<ClientMessageId>,
        /// For `rate_limited`: when the client may try again.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after_ms: Option<u64>,
    },
    Pong {
        nonce: u64,
    },
}

/// What a device may do beyond chatting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Owner,
    Moderator,
    /// Also any role this release does not know: the least it could be.
    #[serde(other)]
    Member,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Moderator => "moderator",
            Role::Member => "member",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "owner" => Some(Role::Owner),
            "moderator" => Some(Role::Moderator),
            "member" => Some(Role::Member),
            _ => None,
        }
    }

    /// Owners and moderators: they remove messages, block and invite.
    pub fn moderates(self) -> bool {
        matches!(self, Role::Owner | Role::Moderator)
    }
}

/// Machine-readable reason carried by `ServerEvent::Error`.
///
/// The compatibility rule for everything the page decodes from the
/// server: a page still running the previous release must read a newer
/// server's frames. An event of an unknown type is skipped (`wire`), an
/// unknown field is ignored, and every enum inside an event tolerates a
/// value it does not know (`#[serde(other)]`, or a decoder that maps it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    EmptyMessage,
    MessageTooLong,
    NameRequired,
    InvalidEvent,
    /// Too many messages too fast; see `retry_after_ms`.
    RateLimited,
    /// No such room or message (or not one this identity may see).
    NotFound,
    /// Only the author may edit or delete a message.
    NotAuthor,
    /// The edit window of the message has passed.
    EditWindowClosed,
    /// The room is archived: read-only.
    Archived,
    /// Not one of the reactions on offer.
    InvalidReaction,
    /// The attachment is not an upload of this device's.
    BadAttachment,
    /// A moderator blocked this device; the socket closes with 4003.
    Blocked,
    /// Invite-only, and this device is not a member.
    Private,
    /// The server cannot store anything now (its database is unreachable):
    /// nothing was stored; send the same message again after
    /// `retry_after_ms`, before any later one.
    Unavailable,
    Internal,
    /// Refused for a reason the message gives (a person in a direct
    /// conversation takes no messages from the sender): not retried.
    Refused,
    /// A code this release does not know (a newer server's): the error's
    /// message is still shown.
    #[serde(other)]
    Unknown,
}

/// WebSocket close codes the server uses (4000–4999 is the private range).
pub mod close_code {
    /// The client could not keep up with the broadcast and was dropped.
    pub const TOO_SLOW: u16 = 4008;
    /// A moderator blocked this device.
    pub const BLOCKED: u16 = 4003;
    /// The chat became invite-only and this device is not a member: it
    /// may read nothing more.
    pub const PRIVATE: u16 = 4001;
    /// RFC 6455: the server is going away (shutdown).
    pub const GOING_AWAY: u16 = 1001;
    /// RFC 6455: a frame was larger than the server accepts.
    pub const TOO_BIG: u16 = 1009;
    /// RFC 6455: the client stopped answering.
    pub const POLICY: u16 = 1008;
}

/// A room of up to this many people is listed whole, live; a larger one
/// sends its count, and the list when asked.
pub const PRESENCE_LISTED: usize = 50;
/// People per page of a large room's list (`people_here`).
pub const PRESENCE_PAGE: u32 = 200;

/// Page size for the history the page is rendered with.
pub const HISTORY_PAGE: u32 = 50;
/// Upper bound a client may ask for in one history request.
pub const HISTORY_MAX_LIMIT: u32 = 200;
/// Longest gap the server replays message by message on reconnect.
pub const MAX_REPLAY: u32 = 500;
/// Default time an author may edit a message for.
pub const EDIT_WINDOW_SECS: u64 = 15 * 60;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_send_round_trips_with_snake_case_tag() {
        let id = ClientMessageId::new_random();
        let event = ClientEvent::Send {
            client_id: id,
            text: "hi".into(),
            room: None,
            mentions: Vec::new(),
            attachment: None,
            reply_to: Some(MessageId(3)),
        };
        let json = serde_json::to_string(&event).expect("serialises");
        assert!(json.contains(r#""type":"send""#), "{json}");
        let back: ClientEvent = serde_json::from_str(&json).expect("parses");
        assert_eq!(back, event);
    }

    #[test]
    fn a_send_without_room_or_mentions_still_parses() {
        let id = ClientMessageId::new_random();
        let json = format!(r#"{{"type":"send","client_id":"{}","text":"hi"}}"#, id.0);
        let event: ClientEvent = serde_json::from_str(&json).expect("parses");
        assert_eq!(
            event,
            ClientEvent::Send {
                client_id: id,
                text: "hi".into(),
                room: None,
                mentions: Vec::new(),
                attachment: None,
                reply_to: None,
            }
        );
    }

    #[test]
    fn a_quote_is_the_first_line_worth_reading() {
        assert_eq!(quote_line("hello\nworld"), "hello");
        assert_eq!(
            quote_line("\n\n  > **bold** `code` ~~gone~~\nnext"),
            "bold code gone"
        );
        assert_eq!(quote_line("```rust\nfn main() {}\n```"), "fn main() {}");
        assert_eq!(quote_line("- an item"), "an item");
        assert_eq!(quote_line("## Heading"), "Heading");
        assert_eq!(quote_line(""), "");
        let long = "é".repeat(300);
        let line = quote_line(&long);
        assert_eq!(
            line.chars().count(),
            QUOTE_CHARS + 1,
            "cut on a character, then …"
        );
        assert!(line.ends_with('…'));
    }

    #[test]
    fn unknown_event_type_is_rejected() {
        let err = serde_json::from_str::<ClientEvent>(r#"{"type":"shout","text":"x"}"#);
        assert!(err.is_err());
    }

    #[test]
    fn server_message_keeps_seed_field_names() {
        let event = ServerEvent::Message {
            message: ChatMessage {
                id: MessageId(7),
                user_id: UserId(1),
                user_name: "Ann".into(),
                color: "rgb(200,100,100)".into(),
                msg: "<b>x</b>".into(),
                ts: 1,
                room: RoomId::DEFAULT,
                seq: Seq(7),
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
            },
        };
        let value = serde_json::to_value(&event).expect("serialises");
        assert!(
            value["message"].get("deleted").is_none(),
            "false flags are left out"
        );
        assert_eq!(value["type"], "message");
        assert_eq!(value["message"]["user_name"], "Ann");
        assert_eq!(value["message"]["msg"], "<b>x</b>");
        assert_eq!(value["message"]["id"], 7);
        let back: ServerEvent = serde_json::from_value(value).expect("parses");
        assert_eq!(back, event);
    }

    #[test]
    fn error_without_client_id_omits_the_field() {
        let event = ServerEvent::Error {
            code: ErrorCode::InvalidEvent,
            message: "bad".into(),
            client_id: None,
            retry_after_ms: None,
        };
        let json = serde_json::to_string(&event).expect("serialises");
        assert_eq!(
            json,
            r#"{"type":"error","code":"invalid_event","message":"bad"}"#
        );
    }

    #[test]
    fn device_id_accepts_only_canonical_uuids() {
        let id = DeviceId::new_random();
        assert_eq!(DeviceId::parse(&id.to_string()), Some(id));
        assert_eq!(DeviceId::parse("not-a-uuid"), None);
        assert_eq!(DeviceId::parse(""), None);
        let braced = format!("{{{id}}}");
        assert_eq!(DeviceId::parse(&braced), None);
    }

    #[test]
    fn device_id_debug_does_not_reveal_the_secret() {
        let id = DeviceId::new_random();
        let shown = format!("{id:?}");
        assert!(!shown.contains(&id.as_uuid().simple().to_string()));
        assert!(shown.len() < 20);
    }
}
