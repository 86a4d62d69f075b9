//! What the server functions carry: the page's snapshot, the owner's
//! overview, search results, notification settings.

use crate::protocol::{
    ChatMessage, Identity, MessageId, RoomId, RoomInfo, RoomStatus, Seq, UserId,
};
// On the socket (`ServerEvent::Role`) and in these records alike.
pub use crate::protocol::Role;
use serde::{Deserialize, Serialize};

/// What the page needs to render: who this device is and the latest page
/// of messages (oldest first). The server renders the page from it and
/// embeds it for hydration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatSnapshot {
    pub me: Option<Identity>,
    /// The room the page shows.
    pub room: Option<RoomInfo>,
    /// Every room in the list, with this identity's unread figures.
    pub rooms: Vec<RoomStatus>,
    /// The room's latest messages, oldest first.
    pub messages: Vec<ChatMessage>,
    /// The room's newest seq when the page was rendered: where the socket
    /// resumes from.
    pub seq: Seq,
    /// How long an author may edit a message, in seconds.
    pub edit_window_secs: u64,
    /// Why the name form, posted without JavaScript, was refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_error: Option<String>,
    /// This device's role, if it is a member (everyone may be, in an open
    /// chat, without one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    /// The name the owner gave the chat (the page's title).
    #[serde(default)]
    pub chat_name: String,
    /// Opened from a message's permalink: the page shows the history
    /// around this message, marked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub focus: Option<MessageId>,
}

/// Someone who picked a name, as the owner and moderators see them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    pub who: Identity,
    /// `None`: named, but not a member (joined an open chat before the
    /// members list existed, or was never let in).
    pub role: Option<Role>,
    pub blocked: bool,
}

/// A bot as the owner and moderators see it (its key is shown once).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BotInfo {
    pub who: Identity,
    /// Where mentions of it and direct messages to it are sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<String>,
    pub created_at: i64,
    /// Its key no longer works; its messages stay.
    pub revoked: bool,
}

/// A bot's key, shown once (when it is made or its key renewed), with the
/// secret its webhook's requests are signed with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BotKey {
    pub user: UserId,
    pub key: String,
    pub secret: String,
}

/// The chat's bots, and a key just made.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bots {
    pub bots: Vec<BotInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_key: Option<BotKey>,
}

/// The owner's and moderators' bot actions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "do", rename_all = "snake_case")]
pub enum BotAction {
    List,
    /// A new bot; `webhook` may be empty, and `color` (`#rrggbb`): then
    /// one is picked as for a person.
    Create {
        name: String,
        webhook: String,
        #[serde(default)]
        color: String,
    },
    /// A new key; the old one stops working.
    RenewKey {
        user: UserId,
    },
    /// No key works any more.
    Revoke {
        user: UserId,
    },
    /// Empty: no webhook.
    SetWebhook {
        user: UserId,
        webhook: String,
    },
}

/// An invite link that still works (not revoked, expired or used up).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteInfo {
    pub id: i64,
    /// Who made it.
    pub by: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub max_uses: u32,
    pub uses: u32,
}

/// A new invite: the only time its link is shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewInvite {
    pub url: String,
    pub qr_svg: String,
    pub info: InviteInfo,
}

/// One moderation action, for the owner's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    pub at: i64,
    pub actor: String,
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

/// What the owner and moderators manage.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Admin {
    pub role: Option<Role>,
    pub invite_only: bool,
    pub chat_name: String,
    /// Whether links in messages get preview cards.
    #[serde(default)]
    pub previews: bool,
    pub people: Vec<Person>,
    pub invites: Vec<InviteInfo>,
    /// The owner's only.
    pub log: Vec<LogEntry>,
}

/// A change to who may read a room, or to one's own list. The server
/// checks, for each, that the device may make it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "do", rename_all = "snake_case")]
pub enum RoomAction {
    /// Open the conversation with these people (one per set of people).
    StartDirect { people: Vec<UserId> },
    /// Creator, owner or moderator: members only (with these members and
    /// the one asking), or open to everyone again.
    SetPrivate {
        room: RoomId,
        private: bool,
        #[serde(default)]
        members: Vec<UserId>,
    },
    /// Any member of a private room.
    AddMember { room: RoomId, user: UserId },
    /// Creator, owner or moderator.
    RemoveMember { room: RoomId, user: UserId },
    /// Take oneself out of a private room or a conversation.
    Leave { room: RoomId },
    /// Out of (or back into) one's own list, still readable.
    Hide { room: RoomId, hidden: bool },
    /// Take no direct messages from this person (or again do).
    BlockDirect { user: UserId, blocked: bool },
}

/// Who is in a closed room, whom one could add or write to, and whom one
/// takes no direct messages from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct RoomPeople {
    /// The room's members (empty for an open room or none asked).
    pub members: Vec<Identity>,
    /// Everyone with a name in the chat.
    pub known: Vec<Identity>,
    pub blocked: Vec<UserId>,
}

/// A moderation or ownership action. The server checks the device's role
/// for every one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "do", rename_all = "snake_case")]
pub enum ModAction {
    /// Owner: open to anyone, or members only.
    SetAccess {
        invite_only: bool,
    },
    /// Owner: the chat's name in the header, title and manifest.
    SetChatName {
        name: String,
    },
    /// Owner: whether the server fetches linked pages for preview cards.
    SetPreviews {
        on: bool,
    },
    /// Owner: make someone a moderator, or take it back.
    SetModerator {
        user: UserId,
        moderator: bool,
    },
    /// Close their sockets and refuse them; optionally remove every
    /// message of theirs.
    Block {
        user: UserId,
        remove_messages: bool,
    },
    Unblock {
        user: UserId,
    },
    /// Replace a message by "removed by a moderator"; its text is deleted.
    RemoveMessage {
        id: MessageId,
    },
    RevokeInvite {
        id: i64,
    },
}

/// A one-time link that gives another browser this device's identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferLink {
    pub url: String,
    /// The link as a QR code, an SVG drawn by the server.
    pub qr_svg: String,
    pub expires_in_secs: u64,
}

/// A search result: the message, where it is, and its text cut into
/// parts, the matched ones marked. Rendered as text, never as HTML.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchHit {
    pub message: ChatMessage,
    pub room: RoomInfo,
    pub parts: Vec<TextPart>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextPart {
    pub text: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hit: bool,
}

/// A message in its context: its room and the messages around it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Context {
    pub room: RoomInfo,
    pub messages: Vec<ChatMessage>,
}

/// A page of who has a room open, by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeoplePage {
    pub people: Vec<Identity>,
    /// Everyone here now.
    pub total: u32,
}

/// Results per search page.
pub const SEARCH_PAGE: u32 = 20;

/// What a device has pushed to it while no tab of it is in view.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PushMode {
    /// Everything.
    All,
    Off,
    /// In a shared room, only messages that mention the device's user (a
    /// direct conversation still notifies of everything): what a device
    /// gets until it chooses, as in a team chat where a busy room must
    /// not buzz every phone; also a mode this release does not know
    /// (`serde(other)` must be the last variant).
    #[default]
    #[serde(other)]
    Mentions,
}

impl PushMode {
    pub fn as_str(self) -> &'static str {
        match self {
            PushMode::All => "all",
            PushMode::Mentions => "mentions",
            PushMode::Off => "off",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "all" => Some(PushMode::All),
            "mentions" => Some(PushMode::Mentions),
            "off" => Some(PushMode::Off),
            _ => None,
        }
    }
}

/// A room whose push mode differs from the device's default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomPushMode {
    pub room: RoomId,
    pub mode: PushMode,
}

/// This device's notification settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushSettings {
    /// The server's VAPID public key (an uncompressed P-256 point): the
    /// `applicationServerKey` a browser subscribes with.
    pub key: Vec<u8>,
    /// Push subscriptions this device has on the server (any browser
    /// sharing its identity).
    pub subscriptions: u32,
    pub mode: PushMode,
    pub rooms: Vec<RoomPushMode>,
}

impl PushSettings {
    /// What `room` gets: its own mode, else the device's default.
    pub fn mode_in(&self, room: RoomId) -> Option<PushMode> {
        self.rooms.iter().find(|r| r.room == room).map(|r| r.mode)
    }
}
