//! Keeps a device's messages in the order it sent them when the rate
//! limit holds some back: refused messages queue up in the order they
//! were refused, and a message is taken only when none refused before it
//! is still waiting. Otherwise a later message could take a token that
//! refilled before an earlier one was resent, and be stored ahead of it.
//! Per socket: a reconnect starts afresh (and the page resends in order).

use app::protocol::ClientMessageId;
use std::collections::VecDeque;

/// Refused messages remembered per socket; a client past this is flooding.
const DEPTH: usize = 256;

#[derive(Default)]
pub struct Gate {
    held: VecDeque<ClientMessageId>,
}

impl Gate {
    /// Whether `id` must wait behind an earlier refused message.
    pub fn blocks(&self, id: ClientMessageId) -> bool {
        self.held.front().is_some_and(|first| *first != id)
    }

    pub fn refuse(&mut self, id: ClientMessageId) {
        if self.held.len() < DEPTH && !self.held.contains(&id) {
            self.held.push_back(id);
        }
    }

    pub fn take(&mut self, id: ClientMessageId) {
        if self.held.front() == Some(&id) {
            self.held.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_messages_wait_for_the_first_refused_one() {
        let (a, b, c) = (
            ClientMessageId::new_random(),
            ClientMessageId::new_random(),
            ClientMessageId::new_random(),
        );
        let mut gate = Gate::default();
        assert!(!gate.blocks(a));
        gate.refuse(a);
        assert!(gate.blocks(b));
        gate.refuse(b);
        gate.refuse(c);
        assert!(gate.blocks(c), "newest first does not jump the queue");
        assert!(!gate.blocks(a));
        gate.take(a);
        assert!(gate.blocks(c));
        assert!(!gate.blocks(b));
        gate.take(b);
        assert!(!gate.blocks(c));
        gate.take(c);
        assert!(!gate.blocks(ClientMessageId::new_random()));
    }
}
