//! At most one notification per room per subscription in each window.
//! The first message of a quiet spell is pushed at once; later ones in
//! the window wait, and when the window ends one notification replaces
//! the first (same tag): "3 new messages in #general", with the latest.
//! A subscription's count starts again once its device looks at the chat
//! or after a quiet spell.

use app::protocol::{ChatMessage, RoomId};
use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

/// A subscription's endpoint and a room.
pub type Key = (String, RoomId);

/// What one notification says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    /// Messages it covers since the count started.
    pub count: u32,
    pub latest: ChatMessage,
}

struct Slot {
    count: u32,
    latest: ChatMessage,
    last_sent: Instant,
    last_message: Instant,
    /// Messages have arrived since the last notification.
    pending: bool,
}

pub struct Collapser {
    window: Duration,
    /// After this long without messages a count starts again.
    quiet: Duration,
    slots: HashMap<Key, Slot>,
    /// When each pending slot's window ends.
    due: BTreeSet<(Instant, Key)>,
}

impl Collapser {
    pub fn new(window: Duration) -> Self {
        Self {
            window,
            quiet: (window * 10).max(Duration::from_secs(300)),
            slots: HashMap::new(),
            due: BTreeSet::new(),
        }
    }

    /// A new message for `key`: what to push now, if anything.
    pub fn message(&mut self, key: Key, message: ChatMessage, now: Instant) -> Option<Summary> {
        match self.slots.get_mut(&key) {
            Some(slot) if now.duration_since(slot.last_message) < self.quiet => {
                slot.count += 1;
                slot.latest = message;
                slot.last_message = now;
                if now.duration_since(slot.last_sent) >= self.window && !slot.pending {
                    slot.last_sent = now;
                    return Some(summary(slot));
                }
                if !slot.pending {
                    slot.pending = true;
                    self.due.insert((slot.last_sent + self.window, key));
                }
                None
            }
            _ => {
                let slot = Slot {
                    count: 1,
                    latest: message,
                    last_sent: now,
                    last_message: now,
                    pending: false,
                };
                let first = summary(&slot);
                self.forget(&key);
                self.slots.insert(key, slot);
                Some(first)
            }
        }
    }

    /// The next time `due` has something.
    pub fn next_due(&self) -> Option<Instant> {
        self.due.first().map(|(at, _)| *at)
    }

    /// The notifications whose windows have ended.
    pub fn due(&mut self, now: Instant) -> Vec<(Key, Summary)> {
        let mut out = Vec::new();
        while let Some((at, _)) = self.due.first() {
            if *at > now {
                break;
            }
            let Some((_, key)) = self.due.pop_first() else {
                break;
            };
            if let Some(slot) = self.slots.get_mut(&key).filter(|s| s.pending) {
                slot.pending = false;
                slot.last_sent = now;
                out.push((key, summary(slot)));
            }
        }
        out
    }

    /// The device is looking at the chat: whatever was counted is seen.
    pub fn forget(&mut self, key: &Key) {
        if let Some(slot) = self.slots.remove(key) {
            if slot.pending {
                self.due
                    .remove(&(slot.last_sent + self.window, key.clone()));
            }
        }
    }

    /// Drops quiet slots so memory follows what is active.
    pub fn sweep(&mut self, now: Instant) {
        let quiet = self.quiet;
        self.slots
            .retain(|_, s| s.pending || now.duration_since(s.last_message) < quiet);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.slots.len()
    }
}

fn summary(slot: &Slot) -> Summary {
    Summary {
        count: slot.count,
        latest: slot.latest.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::protocol::{MessageId, Seq, UserId};

    fn msg(id: i64) -> ChatMessage {
        ChatMessage {
            id: MessageId(id),
            user_id: UserId(1),
            user_name: "Ann".into(),
            color: String::new(),
            msg: format!("message {id}"),
            ts: 0,
            room: RoomId(1),
            seq: Seq(id),
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

    fn key() -> Key {
        ("https://push.example/a".into(), RoomId(1))
    }

    const WINDOW: Duration = Duration::from_secs(30);

    #[test]
    fn the_first_message_goes_at_once_and_the_rest_of_the_window_as_one() {
        let mut c = Collapser::new(WINDOW);
        let t0 = Instant::now();
        let first = c.message(key(), msg(1), t0).expect("at once");
        assert_eq!(first.count, 1);
        assert!(c
            .message(key(), msg(2), t0 + Duration::from_secs(1))
            .is_none());
        assert!(c
            .message(key(), msg(3), t0 + Duration::from_secs(2))
            .is_none());
        assert_eq!(c.next_due(), Some(t0 + WINDOW));
        assert!(c.due(t0 + Duration::from_secs(29)).is_empty());
        let due = c.due(t0 + WINDOW);
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].1.count, 3, "one notification covering all three");
        assert_eq!(due[0].1.latest.id, MessageId(3));
        assert_eq!(c.next_due(), None);
        // The next message waits for the end of the next window.
        assert!(c
            .message(key(), msg(4), t0 + WINDOW + Duration::from_secs(1))
            .is_none());
        let due = c.due(t0 + WINDOW * 2);
        assert_eq!(due[0].1.count, 4);
    }

    #[test]
    fn after_a_quiet_window_a_message_goes_at_once() {
        let mut c = Collapser::new(WINDOW);
        let t0 = Instant::now();
        c.message(key(), msg(1), t0);
        let later = c
            .message(key(), msg(2), t0 + WINDOW + Duration::from_secs(1))
            .expect("window over, nothing pending");
        assert_eq!(later.count, 2, "still one notification, now for two");
        let much_later = t0 + Duration::from_secs(3600);
        assert_eq!(
            c.message(key(), msg(3), much_later).map(|s| s.count),
            Some(1)
        );
    }

    #[test]
    fn looking_at_the_chat_starts_the_count_again_and_cancels_what_waits() {
        let mut c = Collapser::new(WINDOW);
        let t0 = Instant::now();
        c.message(key(), msg(1), t0);
        c.message(key(), msg(2), t0 + Duration::from_secs(1));
        c.forget(&key());
        assert!(c.due(t0 + WINDOW).is_empty());
        assert_eq!(c.next_due(), None);
        let next = c.message(key(), msg(3), t0 + Duration::from_secs(2));
        assert_eq!(next.map(|s| s.count), Some(1));
    }

    #[test]
    fn rooms_and_subscriptions_are_counted_apart_and_quiet_ones_swept() {
        let mut c = Collapser::new(WINDOW);
        let t0 = Instant::now();
        assert!(c.message(key(), msg(1), t0).is_some());
        let other_room = ("https://push.example/a".to_owned(), RoomId(2));
        assert!(c.message(other_room, msg(2), t0).is_some());
        let other_sub = ("https://push.example/b".to_owned(), RoomId(1));
        assert!(c.message(other_sub, msg(3), t0).is_some());
        assert_eq!(c.len(), 3);
        c.sweep(t0 + Duration::from_secs(3600));
        assert_eq!(c.len(), 0);
    }
}
