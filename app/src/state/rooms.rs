//! The room list, switching rooms in the tab, and read marks.

use super::{Cached, ChatState, Screen};
use crate::protocol::{ClientEvent, RoomId, RoomInfo, RoomStatus, UserId};
use leptos::prelude::*;
use std::collections::BTreeMap;

impl ChatState {
    /// One more unread message (maybe a mention) in `room`.
    pub(super) fn count_unread(&self, room: RoomId, mention: bool) {
        self.rooms.update(|list| {
            if let Some(s) = list.iter_mut().find(|s| s.room.id == room) {
                s.unread += 1;
                if mention {
                    s.mentions += 1;
                }
            }
        });
    }

    /// Something was said in `room` at `at`: direct conversations are
    /// listed newest first.
    pub(super) fn touch(&self, room: RoomId, at: i64) {
        let newer = self
            .rooms
            .with_untracked(|list| list.iter().any(|s| s.room.id == room && s.last_at < at));
        if newer {
            self.rooms.update(|list| {
                if let Some(s) = list.iter_mut().find(|s| s.room.id == room) {
                    s.last_at = at;
                }
            });
        }
    }

    /// A new message in a room this tab does not show.
    pub(super) fn activity(&self, room: RoomId, author: UserId, mentions: &[UserId]) {
        self.touch(room, super::now() as i64);
        let me = self.my_id();
        if me == Some(author) || room == self.room_id() {
            return;
        }
        self.count_unread(room, me.is_some_and(|me| mentions.contains(&me)));
    }

    /// A room was created, renamed or archived (archived ones leave the
    /// list but stay open where they are shown).
    pub(super) fn room_changed(&self, info: RoomInfo) {
        if self.room_id() == info.id {
            self.room.set(Some(info.clone()));
        }
        self.rooms.update(|list| {
            let at = list.iter().position(|s| s.room.id == info.id);
            match (at, info.archived) {
                (Some(i), true) => {
                    list.remove(i);
                }
                (Some(i), false) => list[i].room = info,
                (None, false) => list.push(RoomStatus {
                    room: info,
                    read: Default::default(),
                    unread: 0,
                    mentions: 0,
                    last_at: 0,
                }),
                (None, true) => {}
            }
        });
    }

    /// This identity may no longer read `room`: it leaves the list, what
    /// was kept of it goes, and a tab showing it goes back to the main room.
    /// A room only `hidden` from the list leaves the list alone.
    pub(super) fn room_gone(&self, room: RoomId, hidden: bool) {
        if hidden {
            self.rooms.update(|list| list.retain(|s| s.room.id != room));
            return;
        }
        let title = self.rooms.with_untracked(|list| {
            list.iter()
                .find(|s| s.room.id == room)
                .map(|s| s.room.title(self.my_id()))
        });
        self.rooms.update(|list| list.retain(|s| s.room.id != room));
        self.cache.update_value(|c| {
            c.remove(&room);
        });
        #[cfg(feature = "hydrate")]
        crate::device::offline_shell_stale();
        if self.room_id() == room {
            let main = self.rooms.with_untracked(|list| {
                list.iter()
                    .find(|s| s.room.id == RoomId::DEFAULT)
                    .map(|s| s.room.clone())
            });
            self.messages.set(BTreeMap::new());
            self.cursor.set_value(None);
            if let Some(main) = main {
                self.go_to(main);
            }
            // Leaving kept what was shown for a quick return: not this.
            self.cache.update_value(|c| {
                c.remove(&room);
            });
            self.notice.set(Some(match title {
                Some(t) => format!("You are no longer in {t}."),
                None => "You are no longer in that room.".to_owned(),
            }));
        }
    }

    pub(super) fn read_changed(&self, status: RoomStatus) {
        self.rooms.update(|list| {
            if let Some(s) = list.iter_mut().find(|s| s.room.id == status.room.id) {
                *s = status;
            }
        });
    }

    /// Unread messages over every room, for the title and the app badge.
    pub fn unread_total(&self) -> u32 {
        self.rooms.with(|list| list.iter().map(|s| s.unread).sum())
    }

    /// Where the "new messages" divider goes: above the first message from
    /// someone else past the read mark.
    pub fn place_divider(&self) {
        let room = self.room_id();
        let read = self.rooms.with_untracked(|list| {
            list.iter()
                .find(|s| s.room.id == room)
                .map(|s| (s.read, s.unread))
        });
        let me = self.my_id();
        let first = match read {
            Some((read, unread)) if unread > 0 => self.messages.with_untracked(|m| {
                m.values()
                    .find(|m| m.seq > read && Some(m.user_id) != me && !m.deleted)
                    .map(|m| m.id)
            }),
            _ => None,
        };
        self.divider.set(first);
    }

    /// Tells the server this identity has read the shown room up to the
    /// newest message, when the reader can see it.
    pub fn mark_read_if_seen(&self) {
        if self.hidden.get_untracked() || !self.at_bottom.get_untracked() || self.my_id().is_none()
        {
            return;
        }
        let Some(seq) = self.cursor.get_value() else {
            return;
        };
        let room = self.room_id();
        if self.read_sent.get_value() == Some((room, seq)) {
            return;
        }
        if self.send(ClientEvent::Read { room, seq }) {
            self.read_sent.set_value(Some((room, seq)));
            self.rooms.update(|list| {
                if let Some(s) = list.iter_mut().find(|s| s.room.id == room) {
                    s.unread = 0;
                    s.mentions = 0;
                }
            });
        }
    }

    /// Shows another room in this tab: what was shown is kept for a quick
    /// return; the server replays the new room from where this tab left
    /// it (or sends its latest page).
    pub fn open_room(&self, info: RoomInfo) {
        self.screen.set(Screen::Room);
        if info.id == self.room_id() {
            return;
        }
        let leaving = self.room_id();
        let kept = Cached {
            messages: self.messages.get_untracked(),
            cursor: self.cursor.get_value(),
            more_history: self.more_history.get_untracked(),
        };
        let back = self.cache.with_value(|c| c.get(&info.id).cloned());
        self.cache.update_value(|c| {
            c.insert(leaving, kept);
        });
        let back = back.unwrap_or(Cached {
            messages: BTreeMap::new(),
            cursor: None,
            more_history: false,
        });
        self.room.set(Some(info.clone()));
        self.messages.set(back.messages);
        self.cursor.set_value(back.cursor);
        self.more_history.set(back.more_history);
        self.presence.set(Vec::new());
        self.presence_count.set(0);
        self.typing.set(Vec::new());
        self.editing.set(None);
        self.replying.set(None);
        self.at_bottom.set(true);
        self.place_divider();
        self.send(ClientEvent::Open {
            room: info.id,
            last_seen: back.cursor,
        });
    }

    /// Shows a room and puts its address in the location bar.
    pub fn go_to(&self, room: RoomInfo) {
        self.push_url(&room);
        self.detached.set(false);
        self.focus.set(None);
        self.open_room(room);
    }

    /// Puts a room's address in the location bar, unless it is already
    /// shown.
    pub fn push_url(&self, room: &RoomInfo) {
        #[cfg(feature = "hydrate")]
        if room.id != self.room_id() {
            let url = format!("/r/{}", room.slug);
            if let Ok(history) = window().history() {
                let _ = history.push_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&url));
            }
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = room;
    }
}
