//! How events reach the sockets of every server process.
//!
//! With SQLite there is one process and the hub is the bus. In the shared
//! mode (`postgres`) every node's hub is fed by its own listener: stored
//! changes from the table, in seq order, woken by `NOTIFY`; ephemeral
//! events (typing, identity, room list, read marks, kicks, presence, rate
//! limits spent) as `NOTIFY` payloads. A node hands those to the bus
//! instead of its own hub and gets them back through its listener like
//! every other node.

mod event;
pub mod wire;

pub use event::{Audience, Note, Part, Publish, Spent};

use app::protocol::{DeviceId, RoomId, ServerEvent};

/// An event for the sockets of every node.
#[derive(Debug, Clone)]
// Short-lived, one at a time: boxing would only add an allocation.
#[allow(clippy::large_enum_variant)]
pub enum Shared {
    Publish(Publish),
    /// Closes every socket of `device` after telling it why.
    Kick {
        device: DeviceId,
        code: u16,
        reason: &'static str,
        event: ServerEvent,
    },
    /// Chat-wide settings or blocks changed: reread them.
    Access,
    /// Who may read this private or direct room changed: reread its
    /// members (sockets that lost it are told and get nothing more of it).
    Members(RoomId),
    /// Push subscriptions or modes changed: reread them.
    Push,
    /// A node's own tabs: who is in a room, which devices are looking.
    Presence(Note),
    /// What keys spent of a rate limit on a node.
    Spent(Spent),
}

/// This node's end of the bus: where events land to reach this node's
/// sockets (the hub). The stores and the shared mode's listener hand
/// events to it without knowing what it is, so nothing below the chat's
/// operations depends on the node's live state.
pub trait Deliver: Send + Sync + 'static {
    /// A change this node committed: for its sockets (and push).
    fn publish(&self, p: Publish);
    /// A change another node committed, read back from the table: for
    /// this node's sockets only (the node that stored it pushes it).
    fn publish_untapped(&self, p: Publish);
    /// An event some node shared, for this node.
    fn deliver(&self, event: Shared);
    /// An event for every node's sockets: through the bus once one is
    /// connected, else straight to this node's.
    fn share(&self, event: Shared);
    /// From now on, shared events go out through `bus`.
    fn connect(&self, bus: std::sync::Arc<dyn Bus>);
    /// Who may read a room: its member devices if private or direct, else
    /// `None`. Sockets that lost it are told and get nothing more of it.
    fn set_members(&self, room: RoomId, members: Option<std::collections::HashSet<DeviceId>>);
    /// Every closed room's members at once; a room not in `all` is open.
    fn reset_closed(&self, all: Vec<(RoomId, Vec<DeviceId>)>);
}

pub trait Bus: Send + Sync + 'static {
    fn share(&self, event: Shared);
    /// Whether the bus is connected (the health check reports it).
    fn healthy(&self) -> bool {
        true
    }
}

/// Close reasons a kick may carry across nodes (a reason is a `&'static
/// str` on the socket).
pub const KICK_REASONS: &[&str] = &["blocked by a moderator"];
