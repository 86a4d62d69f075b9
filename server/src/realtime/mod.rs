//! The node's live state: the hub that fans events out to this node's
//! sockets, and who is here. Both are fed by the bus in the shared mode.

pub mod activity;
pub mod hub;
pub mod presence;
