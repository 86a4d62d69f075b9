//! The page's shared state, one context struct that every component reads.
//! Applying server events is plain logic here so it behaves the same during
//! server rendering, hydration and live traffic.

mod outbox;
mod overlay;
mod rooms;
#[cfg(all(test, feature = "ssr"))]
mod tests;

pub use outbox::{Delivery, OutgoingMessage};
pub use overlay::{Overlay, Ui};

use crate::protocol::{
    ChatMessage, ClientEvent, ErrorCode, Identity, MessageId, Quote, RoomId, RoomInfo, RoomStatus,
    Seq, ServerEvent, UserId, HISTORY_PAGE,
};
use futures::channel::mpsc::UnboundedSender;
use leptos::html;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connection {
    Connecting,
    Online,
    /// Waiting to retry; the number is the seconds until the next try.
    Offline(u32),
    /// A moderator blocked this device: no more reconnecting.
    Blocked,
    /// The chat turned invite-only and this device is not a member: no
    /// more reconnecting; the page shows the server's "private" page.
    Private,
}

impl Connection {
    /// The server refused this device: nothing of the chat stays.
    pub fn refused(self) -> bool {
        matches!(self, Connection::Blocked | Connection::Private)
    }
}

/// What the phone shows: the room list is a screen of its own there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    Room,
    Rooms,
}

/// What the page last knew, kept in browser storage so that the offline
/// app shell (cached when it was first installed) shows the latest
/// identity and messages rather than the ones it was cached with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub me: Option<Identity>,
    #[serde(default)]
    pub room: Option<RoomId>,
    /// The newest messages up to `cursor`, with none missing between them.
    pub messages: Vec<ChatMessage>,
    pub cursor: Option<Seq>,
}

/// A room shown earlier in this tab, kept so that going back is instant.
#[derive(Clone)]
struct Cached {
    messages: BTreeMap<MessageId, ChatMessage>,
    cursor: Option<Seq>,
    more_history: bool,
}

/// Someone typing, until `until` (ms since the epoch).
#[derive(Debug, Clone, PartialEq)]
pub struct Typist {
    pub who: Identity,
    pub until: f64,
}

#[derive(Clone, Copy)]
pub struct ChatState {
    /// The room shown.
    pub room: RwSignal<Option<RoomInfo>>,
    /// Every room in the list, with this identity's unread figures.
    pub rooms: RwSignal<Vec<RoomStatus>>,
    /// The shown room's messages keyed by id: id order, and a message
    /// delivered twice (page + catch-up, or changed later) shows once.
    pub messages: RwSignal<BTreeMap<MessageId, ChatMessage>>,
    pub me: RwSignal<Option<Identity>>,
    /// The server said this device has no name yet.
    pub needs_name: RwSignal<bool>,
    /// This device's role (owner, moderator, member) if it has one.
    pub role: RwSignal<Option<crate::api::Role>>,
    /// The chat's name, for the window title.
    pub chat_name: RwSignal<String>,
    pub outbox: RwSignal<Vec<OutgoingMessage>>,
    pub connection: RwSignal<Connection>,
    /// A problem not tied to one message, shown in the status bar.
    pub notice: RwSignal<Option<String>>,
    /// Whether older history may exist before the first loaded message.
    pub more_history: RwSignal<bool>,
    /// False during server rendering and hydration, true once the page is
    /// interactive; controls that need the WASM wait for it.
    pub hydrated: RwSignal<bool>,
    /// Times and days in the reader's zone and language (UTC before):
    /// switched on in the task after the first usable frame, because the
    /// browser's first use of `Intl` costs ~100 ms on a slow phone and the
    /// message box comes first.
    pub local_times: RwSignal<bool>,
    /// The page is in the background (another tab, app switched away).
    pub hidden: RwSignal<bool>,
    /// The reader is at the end of the list, seeing the newest messages.
    pub at_bottom: RwSignal<bool>,
    /// Who has the room open now, by name: everyone in a room of up to
    /// `PRESENCE_LISTED` people, the first of them in a larger one.
    pub presence: RwSignal<Vec<Identity>>,
    /// How many have the room open.
    pub presence_count: RwSignal<u32>,
    pub typing: RwSignal<Vec<Typist>>,
    /// The first message the reader had not read when the room opened:
    /// the "new messages" divider goes above it.
    pub divider: RwSignal<Option<MessageId>>,
    /// The message being edited in the composer.
    pub editing: RwSignal<Option<MessageId>>,
    /// The message the next one sent answers, quoted above the box.
    pub replying: RwSignal<Option<Quote>>,
    /// What is in the message box.
    pub draft: RwSignal<String>,
    /// A photo or file being uploaded: its name and how far (0–1).
    pub uploading: RwSignal<Option<(String, f64)>>,
    /// An uploaded photo or file waiting in the composer to be sent.
    pub attached: RwSignal<Option<crate::protocol::Uploaded>>,
    /// Showing older history around a search result rather than the live
    /// end of the room: new messages wait until the reader goes back.
    pub detached: RwSignal<bool>,
    /// The message to bring into view and mark (a search result).
    pub focus: RwSignal<Option<MessageId>>,
    pub edit_window_secs: RwSignal<u64>,
    pub screen: RwSignal<Screen>,
    /// The latest live message from someone else, for screen readers
    /// (history loading in bulk is not announced).
    pub announcement: RwSignal<String>,
    /// The message box, focused after joining.
    pub composer: NodeRef<html::Textarea>,
    /// Newest seq received for the shown room through the ordered stream
    /// (page, catch-up, live). Acks do not move it: an ack can overtake
    /// broadcasts still in flight, and resuming after it would skip them.
    cursor: StoredValue<Option<Seq>>,
    cache: StoredValue<HashMap<RoomId, Cached>>,
    sender: StoredValue<Option<UnboundedSender<ClientEvent>>>,
    outbox_flow: StoredValue<outbox::Flow>,
    /// The read mark last sent, so the same one is not sent again.
    read_sent: StoredValue<Option<(RoomId, Seq)>>,
    /// The server's epoch the cursor belongs to.
    epoch: StoredValue<Option<String>>,
}

/// Replies quote their parent as this tab knows it now: an edit or delete
/// of the parent, live or in catch-up, shows through in every reply to it.
/// Only replies that came in `changed`, or whose parent did, are looked at.
fn requote(map: &mut BTreeMap<MessageId, ChatMessage>, changed: &[MessageId]) {
    let stale: Vec<(MessageId, Quote)> = map
        .values()
        .filter_map(|m| {
            let quoted = m.reply.as_ref()?;
            if !changed.contains(&m.id) && !changed.contains(&quoted.id) {
                return None;
            }
            let now = Quote::of(map.get(&quoted.id)?);
            (now != *quoted).then_some((m.id, now))
        })
        .collect();
    for (id, quote) in stale {
        if let Some(m) = map.get_mut(&id) {
            m.reply = Some(quote);
        }
    }
}

impl ChatState {
    pub fn new() -> Self {
        Self {
            room: RwSignal::new(None),
            rooms: RwSignal::new(Vec::new()),
            messages: RwSignal::new(BTreeMap::new()),
            me: RwSignal::new(None),
            needs_name: RwSignal::new(false),
            role: RwSignal::new(None),
            chat_name: RwSignal::new(String::new()),
            outbox: RwSignal::new(Vec::new()),
            connection: RwSignal::new(Connection::Connecting),
            notice: RwSignal::new(None),
            more_history: RwSignal::new(false),
            hydrated: RwSignal::new(false),
            local_times: RwSignal::new(false),
            hidden: RwSignal::new(false),
            at_bottom: RwSignal::new(true),
            presence: RwSignal::new(Vec::new()),
            presence_count: RwSignal::new(0),
            typing: RwSignal::new(Vec::new()),
            divider: RwSignal::new(None),
            editing: RwSignal::new(None),
            replying: RwSignal::new(None),
            draft: RwSignal::new(String::new()),
            uploading: RwSignal::new(None),
            attached: RwSignal::new(None),
            detached: RwSignal::new(false),
            focus: RwSignal::new(None),
            edit_window_secs: RwSignal::new(crate::protocol::EDIT_WINDOW_SECS),
            screen: RwSignal::new(Screen::Room),
            announcement: RwSignal::new(String::new()),
            composer: NodeRef::new(),
            cursor: StoredValue::new(None),
            cache: StoredValue::new(HashMap::new()),
            sender: StoredValue::new(None),
            outbox_flow: StoredValue::new(outbox::Flow::default()),
            read_sent: StoredValue::new(None),
            epoch: StoredValue::new(None),
        }
    }

    pub fn room_id(&self) -> RoomId {
        self.room
            .with_untracked(|r| r.as_ref().map_or(RoomId::DEFAULT, |r| r.id))
    }

    pub fn my_id(&self) -> Option<UserId> {
        self.me.with_untracked(|me| me.as_ref().map(|m| m.user_id))
    }

    /// Adds messages for display (older pages, acks) without moving the
    /// catch-up cursor. A message of another room is ignored.
    pub fn merge(&self, batch: impl IntoIterator<Item = ChatMessage>) {
        let room = self.room_id();
        self.messages.update(|map| {
            let mut changed = Vec::new();
            for m in batch.into_iter().filter(|m| m.room == room) {
                // A later state of a message replaces an earlier one, never
                // the other way round.
                if map.get(&m.id).is_none_or(|old| old.seq <= m.seq) {
                    changed.push(m.id);
                    map.insert(m.id, m);
                }
            }
            requote(map, &changed);
        });
    }

    /// Adds changes that arrived in seq order with nothing missing before
    /// them: the page, catch-up or live traffic.
    pub fn merge_stream(&self, batch: Vec<ChatMessage>) {
        let room = self.room_id();
        if let Some(newest) = batch.iter().filter(|m| m.room == room).map(|m| m.seq).max() {
            self.advance(newest);
        }
        self.merge(batch);
    }

    fn advance(&self, seq: Seq) {
        self.cursor
            .update_value(|c| *c = Some(c.map_or(seq, |c| c.max(seq))));
    }

    /// Replaces everything shown with the room's latest page.
    fn replace_with(&self, messages: Vec<ChatMessage>, seq: Seq) {
        self.more_history.set(messages.len() as u32 >= HISTORY_PAGE);
        self.cursor.set_value(Some(seq));
        self.messages
            .set(messages.into_iter().map(|m| (m.id, m)).collect());
    }

    /// The page was rendered at `seq`: changes up to it are in it.
    pub fn resume_from(&self, seq: Seq) {
        self.advance(seq);
    }

    /// The server's epoch, once a `Welcome` has told it.
    pub fn epoch(&self) -> Option<String> {
        self.epoch.get_value()
    }

    fn note_epoch(&self, epoch: String) {
        self.epoch.set_value(Some(epoch));
    }

    /// Where the server should resume the shown room after a reconnect.
    pub fn last_seen(&self) -> Option<Seq> {
        self.cursor.get_value()
    }

    pub fn oldest(&self) -> Option<MessageId> {
        self.messages
            .with_untracked(|m| m.first_key_value().map(|(id, _)| *id))
    }

    pub fn set_identity(&self, me: Identity) {
        self.me.set(Some(me));
        self.needs_name.set(false);
    }

    // The `disabled` states shared by many controls, as signals: one
    // rendering path for all of them in the WASM, where a closure per
    // control would each bring its own.

    /// Controls that need the WASM: disabled until it runs.
    pub fn starting(self) -> Signal<bool> {
        Signal::derive(move || !self.hydrated.get())
    }

    /// Controls that also need a name.
    pub fn nameless(self) -> Signal<bool> {
        Signal::derive(move || !self.hydrated.get() || self.me.with(Option::is_none))
    }

    /// The message box and what goes with it.
    pub fn cannot_post(self) -> Signal<bool> {
        Signal::derive(move || !self.can_post())
    }

    /// Can the composer take a message? Offline is fine: the outbox keeps
    /// it until the connection returns. An archived room cannot.
    pub fn can_post(&self) -> bool {
        self.hydrated.get()
            && self.me.get().is_some()
            && !self.connection.get().refused()
            && !self.room.with(|r| r.as_ref().is_some_and(|r| r.archived))
    }

    /// What to keep in browser storage for the offline shell.
    pub fn snapshot(&self) -> Snapshot {
        let cursor = self.cursor.get_value();
        let messages = self.messages.with(|map| {
            let mut upto: Vec<ChatMessage> = map
                .values()
                .rev()
                .filter(|m| cursor.is_some_and(|c| m.seq <= c))
                .take(HISTORY_PAGE as usize)
                .cloned()
                .collect();
            upto.reverse();
            upto
        });
        Snapshot {
            me: self.me.get(),
            room: self.room.with(|r| r.as_ref().map(|r| r.id)),
            messages,
            cursor,
        }
    }

    /// Brings in a stored snapshot of the same room that is newer than
    /// what the page was rendered with (an app shell cached earlier,
    /// opened offline).
    pub fn restore(&self, saved: Snapshot) {
        if saved.room.unwrap_or(RoomId::DEFAULT) == self.room_id()
            && saved.cursor > self.cursor.get_value()
        {
            let newest_here = self
                .messages
                .with_untracked(|m| m.last_key_value().map(|(id, _)| *id));
            let overlaps = saved
                .messages
                .first()
                .is_some_and(|m| newest_here.is_some_and(|n| m.id <= n));
            let cursor = saved.cursor.unwrap_or_default();
            if overlaps {
                self.merge_stream(saved.messages);
                self.advance(cursor);
            } else {
                // A gap between the two: show the newer page alone, as a
                // resync would; older history loads on scroll.
                self.replace_with(saved.messages, cursor);
                self.more_history.set(true);
            }
        }
        if self.me.get_untracked().is_none() {
            if let Some(me) = saved.me {
                self.set_identity(me);
            }
        }
    }

    /// Sends an event if connected; otherwise it is dropped (what matters
    /// is re-sent on the next connection).
    pub fn send(&self, event: ClientEvent) -> bool {
        self.sender.with_value(|s| {
            s.as_ref()
                .is_some_and(|tx| tx.unbounded_send(event).is_ok())
        })
    }

    /// A socket was opened (`Some`) or lost (`None`).
    pub fn attach(&self, tx: Option<UnboundedSender<ClientEvent>>) {
        self.sender.set_value(tx);
        self.outbox_flow.update_value(|f| f.in_flight = None);
        self.read_sent.set_value(None);
    }

    /// Applies one event from the server.
    pub fn apply(&self, event: ServerEvent) {
        match event {
            ServerEvent::Welcome { me, rooms, epoch } => {
                if let Some(epoch) = epoch {
                    self.note_epoch(epoch);
                }
                match me {
                    Some(me) => self.set_identity(me),
                    None => {
                        self.me.set(None);
                        self.needs_name.set(true);
                    }
                }
                if !rooms.is_empty() {
                    self.rooms.set(rooms);
                }
                self.notice.set(None);
            }
            ServerEvent::Identity { me } => self.set_identity(me),
            ServerEvent::Message { message } => self.receive(message),
            ServerEvent::Resync {
                room,
                messages,
                seq,
            } => {
                if room != self.room_id() {
                    // For a room this tab has left.
                } else if self.detached.get_untracked() {
                    // The reader asked for a message deep in history (a
                    // search result) after the room's latest page was
                    // asked for: the newer intent stays on screen, and
                    // the live end waits for "back to latest".
                    self.advance(seq);
                } else {
                    self.replace_with(messages, seq);
                    self.place_divider();
                }
            }
            ServerEvent::Activity {
                room,
                user_id,
                mentions,
                ..
            } => self.activity(room, user_id, &mentions),
            ServerEvent::Room { room } => self.room_changed(room),
            ServerEvent::RoomGone { room, hidden } => self.room_gone(room, hidden),
            ServerEvent::Presence {
                room,
                people,
                count,
            } => {
                if room == self.room_id() {
                    self.presence_count
                        .set(count.unwrap_or(people.len() as u32));
                    self.presence.set(people);
                }
            }
            ServerEvent::Here {
                room,
                count,
                joined,
                left,
            } => {
                if room == self.room_id() {
                    self.here(count, joined, left);
                }
            }
            ServerEvent::Typing { room, user } => {
                if room == self.room_id() {
                    let until = now() + TYPING_SHOWN_MS;
                    self.typing.update(|t| {
                        t.retain(|x| x.who.user_id != user.user_id);
                        t.push(Typist { who: user, until });
                    });
                }
            }
            ServerEvent::Read { status } => self.read_changed(status),
            ServerEvent::Ack { client_id, message } => {
                self.merge([message]);
                self.acked(client_id);
            }
            // Both mean "not now": the message waits, first in line.
            ServerEvent::Error {
                code: ErrorCode::RateLimited | ErrorCode::Unavailable,
                message,
                client_id,
                retry_after_ms,
            } => self.rate_limited(message, client_id, retry_after_ms),
            ServerEvent::Error {
                message,
                client_id: Some(client_id),
                ..
            } => self.refused(client_id, message),
            ServerEvent::Error {
                code: code @ (ErrorCode::Blocked | ErrorCode::Private),
                message,
                ..
            } => self.refused_device(code, message),
            ServerEvent::Error {
                code: ErrorCode::NameRequired,
                message,
                ..
            } => {
                self.needs_name.set(true);
                self.notice.set(Some(message));
            }
            ServerEvent::Error { message, .. } => self.notice.set(Some(message)),
            ServerEvent::Pong { .. } => {}
            ServerEvent::ChatName { name } => self.chat_name.set(name),
            ServerEvent::Role { role } => self.role.set(role),
        }
    }

    /// The server will show this device nothing more (blocked, or not a
    /// member of a chat that turned invite-only): what the page showed of
    /// the conversation goes with it.
    fn refused_device(&self, code: ErrorCode, message: String) {
        self.connection.set(if code == ErrorCode::Private {
            Connection::Private
        } else {
            Connection::Blocked
        });
        self.notice.set(Some(message));
        self.messages.set(BTreeMap::new());
        self.rooms.set(Vec::new());
        self.presence.set(Vec::new());
        self.presence_count.set(0);
        self.typing.set(Vec::new());
        self.cache.set_value(HashMap::new());
        self.cursor.set_value(None);
    }

    /// Who came and went: the list follows by name while the room is
    /// listed whole; past that only the count does.
    fn here(&self, count: u32, joined: Vec<Identity>, left: Vec<UserId>) {
        if !joined.is_empty() || !left.is_empty() {
            self.presence.update(|list| {
                list.retain(|p| {
                    !left.contains(&p.user_id) && !joined.iter().any(|j| j.user_id == p.user_id)
                });
                list.extend(joined);
                list.sort_by_key(|p| fold(&p.name));
            });
        }
        self.presence_count.set(count);
    }

    /// A message of the shown room, new or changed.
    fn receive(&self, message: ChatMessage) {
        if message.room != self.room_id() {
            return;
        }
        self.touch(message.room, message.ts);
        let fresh = !self
            .messages
            .with_untracked(|m| m.contains_key(&message.id));
        if fresh && self.detached.get_untracked() {
            // Beyond what is shown: it waits for "back to latest".
            self.advance(message.seq);
            if self.my_id() != Some(message.user_id) {
                self.count_unread(message.room, self.mentions_me(&message));
            }
            return;
        }
        let mine = self.my_id() == Some(message.user_id);
        if fresh && !mine {
            if self.hidden.get_untracked() || !self.at_bottom.get_untracked() {
                self.count_unread(message.room, self.mentions_me(&message));
            }
            self.announcement
                .set(format!("{}: {}", message.user_name, message.msg));
            // Their message is what they were typing.
            self.typing
                .update(|t| t.retain(|x| x.who.user_id != message.user_id));
        }
        self.merge_stream(vec![message]);
    }

    /// Whether a message mentions this identity.
    pub fn mentions_me(&self, message: &ChatMessage) -> bool {
        self.my_id()
            .is_some_and(|me| message.mentions.contains(&me))
    }

    /// Shows a message in its context (from search), in its room.
    pub fn show_context(&self, context: crate::api::Context, id: MessageId) {
        self.detached.set(true);
        self.open_room(context.room);
        self.messages
            .set(context.messages.into_iter().map(|m| (m.id, m)).collect());
        self.more_history.set(true);
        self.divider.set(None);
        self.focus.set(Some(id));
    }

    /// Leaves older history for the live end of the room.
    pub fn back_to_latest(&self) {
        self.detached.set(false);
        self.focus.set(None);
        self.at_bottom.set(true);
        self.send(ClientEvent::Open {
            room: self.room_id(),
            last_seen: None,
        });
    }

    /// Puts one of this identity's messages in the box to edit.
    pub fn start_editing(&self, id: MessageId, text: String) {
        self.editing.set(Some(id));
        self.draft.set(text);
        self.focus_composer();
    }

    /// This identity's newest message in the shown room while it may
    /// still be edited at `now_ms` (what Up in an empty box edits).
    pub fn last_editable(&self, now_ms: f64) -> Option<(MessageId, String)> {
        let me = self.my_id()?;
        let window = self.edit_window_secs.get_untracked() as f64 * 1000.0;
        self.messages.with_untracked(|m| {
            m.values()
                .rev()
                .find(|m| m.user_id == me && !m.deleted)
                .filter(|m| now_ms - (m.ts as f64) < window)
                .map(|m| (m.id, m.msg.clone()))
        })
    }

    /// People the shown room knows of, for mentions: who is here and who
    /// wrote the loaded messages, each once, never this identity.
    pub fn members(&self) -> Vec<Identity> {
        let me = self.my_id();
        let mut seen = std::collections::BTreeMap::new();
        // A direct conversation's people, whether here or not.
        self.room.with_untracked(|r| {
            for who in r.iter().flat_map(|r| &r.members) {
                seen.insert(who.user_id, who.clone());
            }
        });
        self.presence.with_untracked(|p| {
            for who in p {
                seen.insert(who.user_id, who.clone());
            }
        });
        self.messages.with_untracked(|m| {
            for msg in m.values().rev() {
                seen.entry(msg.user_id).or_insert_with(|| Identity {
                    user_id: msg.user_id,
                    name: msg.user_name.clone(),
                    color: msg.color.clone(),
                });
            }
        });
        let mut list: Vec<Identity> = seen
            .into_values()
            .filter(|p| Some(p.user_id) != me)
            .collect();
        list.sort_by_key(|p| fold(&p.name));
        list
    }

    /// Puts the cursor in the message box, once it is enabled.
    pub fn focus_composer(&self) {
        let composer = self.composer;
        request_animation_frame(move || {
            if let Some(el) = composer.get_untracked() {
                let _ = el.focus();
            }
        });
    }
}

impl Default for ChatState {
    fn default() -> Self {
        Self::new()
    }
}

/// How long "… is typing" shows after the last typing event.
const TYPING_SHOWN_MS: f64 = 5_000.0;

/// Text for matching regardless of case. In the browser, its own
/// lowercasing: Rust's Unicode case tables would add to the WASM.
pub fn fold(s: &str) -> String {
    #[cfg(feature = "hydrate")]
    {
        String::from(js_sys::JsString::from(s).to_lower_case())
    }
    #[cfg(not(feature = "hydrate"))]
    {
        s.to_lowercase()
    }
}

/// Milliseconds since the epoch (0 on the server, where nothing expires).
pub fn now() -> f64 {
    #[cfg(feature = "hydrate")]
    {
        js_sys::Date::now()
    }
    #[cfg(not(feature = "hydrate"))]
    {
        0.0
    }
}
