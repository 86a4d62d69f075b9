//! Rate limits across nodes. Each node keeps its own buckets, so a check
//! never waits on the network, and a few times a second tells the others
//! what each key spent there; they take the same tokens from their own
//! buckets. A device spread over several nodes thus gets the rate it
//! would get on one, give or take one burst per node at first and what
//! it spends within one `FLUSH`. Notes lost while the bus is away only
//! loosen the limit for that moment, which is all they are worth.

use super::Limits;
use crate::bus::{Shared, Spent};
use crate::realtime::hub::Hub;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;

/// How often a node tells the others what was spent on it.
pub const FLUSH: Duration = Duration::from_millis(250);
/// Keys per note: a note must fit in one `NOTIFY` (under 8,000 bytes);
/// a key is at most a 39-character address.
const KEYS_PER_NOTE: usize = 100;

impl Limits {
    /// Starts counting what is spent, for `spent_notes`.
    fn share(&self) {
        for (_, limiter) in self.rates() {
            limiter.share();
        }
    }

    /// What was spent here since the last call, as notes from `node`.
    fn spent_notes(&self, node: u64) -> Vec<Spent> {
        let mut notes = Vec::new();
        for (name, limiter) in self.rates() {
            let spent = limiter.take_spent();
            for keys in spent.chunks(KEYS_PER_NOTE) {
                notes.push(Spent {
                    node,
                    limit: name.to_owned(),
                    keys: keys.to_vec(),
                });
            }
        }
        notes
    }

    /// Takes what another node spent; `node` is this one, whose own
    /// notes come back too, and are ignored.
    pub fn debit(&self, note: &Spent, node: u64) {
        if note.node == node {
            return;
        }
        let Some((_, limiter)) = self.rates().into_iter().find(|(n, _)| *n == note.limit) else {
            return;
        };
        for (key, n) in &note.keys {
            limiter.debit(key, *n);
        }
    }
}

/// Shares `limits` with the other nodes on `hub`'s bus.
pub fn start(limits: Arc<Limits>, hub: Arc<Hub>) {
    limits.share();
    let node = hub.node();
    let mut notes = hub.spent_notes();
    let heard = limits.clone();
    tokio::spawn(async move {
        loop {
            match notes.recv().await {
                Ok(note) => heard.debit(&note, node),
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => break,
            }
        }
    });
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(FLUSH);
        loop {
            tick.tick().await;
            for note in limits.spent_notes(node) {
                hub.share(Shared::Spent(note));
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Cli;
    use app::protocol::DeviceId;
    use clap::Parser;

    /// Two nodes' ids.
    const A: u64 = 1;
    const B: u64 = 2;

    fn limits(burst: &str) -> Limits {
        let cli = Cli::try_parse_from([
            "server",
            "--message-burst",
            burst,
            "--message-refill-ms",
            "60000",
        ])
        .expect("settings");
        Limits::new(&cli.settings)
    }

    #[test]
    fn what_one_node_spends_the_other_cannot() {
        let (a, b) = (limits("5"), limits("5"));
        a.share();
        b.share();
        let device = DeviceId::parse("0b7e2c4a-3f3e-4d47-9a35-52c2a7f2c9d1").expect("id");
        for _ in 0..3 {
            assert!(a.messages.check(&device).is_ok());
        }
        for note in a.spent_notes(A) {
            b.debit(&note, B);
        }
        assert!(b.messages.check(&device).is_ok());
        assert!(b.messages.check(&device).is_ok());
        assert!(b.messages.check(&device).is_err(), "3 + 2 of a burst of 5");
        assert!(a.spent_notes(A).is_empty(), "told once");
    }

    #[test]
    fn an_overdraft_is_paid_back_up_to_one_burst() {
        let (a, b) = (limits("2"), limits("2"));
        a.share();
        let device = DeviceId::parse("5d0f4b8e-8a41-4c4e-a1f0-3d1f8f3c7b22").expect("id");
        for _ in 0..2 {
            assert!(a.messages.check(&device).is_ok());
        }
        let spent = a.spent_notes(A);
        // Both nodes allowed the whole burst before hearing of each other.
        for _ in 0..3 {
            for note in &spent {
                b.debit(note, B);
            }
        }
        let wait = b.messages.wait(&device);
        assert!(
            wait > Duration::from_secs(170) && wait <= Duration::from_secs(180),
            "down to minus one burst, then one token: 3 refills ({wait:?})"
        );
    }

    #[test]
    fn own_notes_and_unknown_limits_and_keys_are_ignored() {
        let a = limits("1");
        a.share();
        let device = DeviceId::parse("9a1c3e5f-7b2d-4f6a-8c0e-1d3b5f7a9c2e").expect("id");
        assert!(a.messages.check(&device).is_ok());
        let notes = a.spent_notes(A);
        assert_eq!(notes.len(), 1);
        a.debit(&notes[0], A);
        assert!(
            a.messages.wait(&device) <= Duration::from_secs(60),
            "its own note came back and was not spent twice"
        );
        let b = limits("1");
        b.debit(
            &Spent {
                limit: "no such limit".into(),
                ..notes[0].clone()
            },
            B,
        );
        b.debit(
            &Spent {
                keys: vec![("not a device".into(), 1)],
                ..notes[0].clone()
            },
            B,
        );
        assert!(b.messages.check(&device).is_ok());
    }

    #[test]
    fn many_keys_are_split_into_notes_that_fit() {
        let a = limits("1");
        a.share();
        for i in 0..250u32 {
            let ip = std::net::IpAddr::from([10, 0, (i / 256) as u8, (i % 256) as u8]);
            assert!(a.connects.check(&ip).is_ok());
        }
        let notes = a.spent_notes(A);
        assert_eq!(
            notes.iter().map(|n| n.keys.len()).collect::<Vec<_>>(),
            [100, 100, 50]
        );
    }

    #[test]
    fn nothing_is_counted_unless_shared() {
        let a = limits("3");
        let device = DeviceId::parse("2f4e6a8c-0b1d-4e3f-9a5c-7e9b1d3f5a7c").expect("id");
        assert!(a.messages.check(&device).is_ok());
        assert!(a.spent_notes(A).is_empty());
    }
}
