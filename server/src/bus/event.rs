//! What travels between the chat's parts and its nodes: events to
//! publish to sockets and who they are for, and the notes nodes send each
//! other about their own tabs and what their clients spent.

use app::protocol::{DeviceId, Identity, RoomId, RoomInfo, ServerEvent};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Audience {
    Everyone,
    /// Every tab of one device (identity changes, read marks).
    Device(DeviceId),
    /// Everyone but this device (someone's typing is not shown to them).
    AllBut(DeviceId),
}

impl Audience {
    pub fn includes(&self, device: DeviceId) -> bool {
        match self {
            Audience::Everyone => true,
            Audience::Device(d) => *d == device,
            Audience::AllBut(d) => *d != device,
        }
    }
}

/// One event to publish.
#[derive(Debug, Clone)]
pub struct Publish {
    pub audience: Audience,
    /// The room it belongs to: sockets showing it get `event`, others
    /// `activity`. `None`: every socket of the audience gets `event`.
    pub room: Option<RoomId>,
    /// The room whose readers alone may get it at all: a private or direct
    /// room's events reach its members' sockets and no other socket, not
    /// even to be dropped there. `None`: not about a room.
    pub scope: Option<RoomId>,
    pub event: ServerEvent,
    /// What sockets showing another room get instead (nothing if `None`).
    pub activity: Option<ServerEvent>,
}

impl Publish {
    pub fn everyone(event: ServerEvent) -> Self {
        Self {
            audience: Audience::Everyone,
            room: None,
            scope: None,
            event,
            activity: None,
        }
    }

    pub fn device(device: DeviceId, event: ServerEvent) -> Self {
        Self {
            audience: Audience::Device(device),
            room: None,
            scope: None,
            event,
            activity: None,
        }
    }

    pub fn room(room: RoomId, event: ServerEvent) -> Self {
        Self {
            audience: Audience::Everyone,
            room: Some(room),
            scope: Some(room),
            event,
            activity: None,
        }
    }

    /// A room was created, renamed or archived: every socket that may read
    /// it hears of it, whatever room it shows.
    pub fn room_info(info: RoomInfo) -> Self {
        Self {
            audience: Audience::Everyone,
            room: None,
            scope: Some(info.id),
            event: ServerEvent::Room { room: info },
            activity: None,
        }
    }
}

/// What one node says about its own tabs: one `Part` of a list, which
/// replaces what the node said before, part by part.
#[derive(Debug, Clone)]
pub enum Note {
    Room {
        node: u64,
        room: RoomId,
        part: Part,
        people: Vec<Identity>,
    },
    Visible {
        node: u64,
        part: Part,
        devices: Vec<DeviceId>,
    },
}

/// Which part of a node's list a note carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Part {
    pub index: u16,
    pub of: u16,
}

/// What keys spent of one limit on one node.
#[derive(Debug, Clone, PartialEq)]
pub struct Spent {
    pub node: u64,
    pub limit: String,
    pub keys: Vec<(String, u32)>,
}
