//! Word of new messages in open rooms for the sockets showing another
//! room: their room list's unread and mention counts. Every socket of the
//! chat needs it, so it is gathered rather than sent per message: the
//! first message after a quiet spell goes out at once, later ones
//! together at most once per `WINDOW`. A crowd's sockets then wake about
//! once a second for the whole chat, not once for every message of every
//! room (at 20 messages a second among 10,000 sockets, that is 500 wakes
//! a message instead of 10,000), and a room's own sockets (on its
//! channel) never wait behind it. An unread badge may lag by a second.

use app::protocol::{RoomId, Seq};
use axum::extract::ws::Utf8Bytes;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// How long news of other rooms may wait to be sent with more: a badge
/// a second late is not noticed; the wakes saved are the chat's largest
/// fan-out.
pub const WINDOW: Duration = Duration::from_secs(1);

/// A new message in an open room, as the sockets showing another room
/// get it (no text).
#[derive(Debug, Clone)]
pub struct Noted {
    pub room: RoomId,
    pub seq: Seq,
    pub frame: Utf8Bytes,
}

#[derive(Default)]
pub struct Gather {
    state: Mutex<State>,
    wake: Notify,
    /// Whether a task sends what waits; until then (unit tests, a hub
    /// not started) everything goes out at once.
    running: AtomicBool,
}

#[derive(Default)]
struct State {
    pending: Vec<Noted>,
    last_sent: Option<Instant>,
    /// The task has been woken for what is pending.
    scheduled: bool,
}

impl Gather {
    /// Takes `noted`; returns what is to be sent now (it alone, after a
    /// quiet spell), or nothing when it waits for the window's end.
    pub fn add(&self, noted: Noted) -> Option<Vec<Noted>> {
        let Ok(mut s) = self.state.lock() else {
            return Some(vec![noted]);
        };
        let now = Instant::now();
        let quiet = !s.scheduled && s.last_sent.is_none_or(|t| now >= t + WINDOW);
        if quiet || !self.running.load(Ordering::Relaxed) {
            s.last_sent = Some(now);
            return Some(vec![noted]);
        }
        s.pending.push(noted);
        if !s.scheduled {
            s.scheduled = true;
            self.wake.notify_one();
        }
        None
    }

    /// From now on, later news waits for `next`.
    pub fn start(&self) {
        self.running.store(true, Ordering::Relaxed);
    }

    /// What gathered by the end of the current window, once there is some.
    pub async fn next(&self) -> Vec<Noted> {
        loop {
            self.wake.notified().await;
            let due = match self.state.lock() {
                Ok(s) => s.last_sent.map_or_else(Instant::now, |t| t + WINDOW),
                Err(_) => return Vec::new(),
            };
            tokio::time::sleep_until(tokio::time::Instant::from_std(due)).await;
            let Ok(mut s) = self.state.lock() else {
                return Vec::new();
            };
            s.scheduled = false;
            s.last_sent = Some(Instant::now());
            let batch = std::mem::take(&mut s.pending);
            if !batch.is_empty() {
                return batch;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noted(seq: i64) -> Noted {
        Noted {
            room: RoomId(2),
            seq: Seq(seq),
            frame: format!("{seq}").into(),
        }
    }

    #[tokio::test]
    async fn the_first_goes_at_once_the_rest_together_after_the_window() {
        let g = Gather::default();
        g.start();
        assert_eq!(g.add(noted(1)).map(|b| b.len()), Some(1), "after quiet");
        for seq in 2..10 {
            assert!(g.add(noted(seq)).is_none(), "waits for the window");
        }
        let started = Instant::now();
        let batch = g.next().await;
        assert_eq!(
            batch.iter().map(|n| n.seq.0).collect::<Vec<_>>(),
            (2..10).collect::<Vec<_>>(),
            "in order, each once"
        );
        assert!(started.elapsed() >= WINDOW - Duration::from_millis(1));
        // Right after a batch the window starts again.
        assert!(g.add(noted(10)).is_none());
        assert_eq!(g.next().await.len(), 1);
        tokio::time::sleep(WINDOW + Duration::from_millis(50)).await;
        assert_eq!(
            g.add(noted(11)).map(|b| b.len()),
            Some(1),
            "quiet again: at once"
        );
    }

    #[test]
    fn without_a_task_nothing_waits() {
        let g = Gather::default();
        for seq in 0..3 {
            assert_eq!(g.add(noted(seq)).map(|b| b.len()), Some(1));
        }
    }
}
