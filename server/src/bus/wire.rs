//! How a shared event travels between nodes: one JSON payload, small
//! enough for one `NOTIFY`. Device ids travel whole: a payload only
//! reaches the database's own sessions.

use super::{Audience, Note, Part, Publish, Shared, Spent, KICK_REASONS};
use app::protocol::{DeviceId, RoomId, ServerEvent};
use serde::{Deserialize, Serialize};

/// `NOTIFY` refuses payloads from 8,000 bytes.
pub const MAX_PAYLOAD: usize = 7_900;

/// The `NOTIFY` payload that carries `event`.
pub fn payload(event: &Shared) -> Option<String> {
    Wire::from_shared(event).and_then(|w| serde_json::to_string(&w).ok())
}

/// The event a `NOTIFY` payload carries; `None` if it names a device
/// that is not one.
pub fn read_payload(json: &str) -> Result<Option<Shared>, serde_json::Error> {
    Ok(serde_json::from_str::<Wire>(json)?.into_shared())
}

/// A shared event as a `NOTIFY` payload.
#[derive(Serialize, Deserialize)]
#[serde(tag = "k", rename_all = "snake_case")]
// Short-lived, one at a time: boxing would only add an allocation.
#[allow(clippy::large_enum_variant)]
enum Wire {
    Publish {
        to: WireAudience,
        room: Option<RoomId>,
        /// Absent from a node that predates closed rooms: the room.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        scope: Option<RoomId>,
        event: ServerEvent,
        activity: Option<ServerEvent>,
    },
    /// Who may read a closed room changed: every node rereads it.
    Members {
        room: RoomId,
    },
    Kick {
        device: String,
        code: u16,
        reason: String,
        event: ServerEvent,
    },
    Access,
    Push,
    Room {
        node: u64,
        room: RoomId,
        #[serde(flatten)]
        part: WirePart,
        people: Vec<app::protocol::Identity>,
    },
    Visible {
        node: u64,
        #[serde(flatten)]
        part: WirePart,
        devices: Vec<String>,
    },
    Spent {
        node: u64,
        limit: String,
        keys: Vec<(String, u32)>,
    },
}

/// A note from a node that sent whole lists has neither: part 0 of 1.
#[derive(Serialize, Deserialize)]
struct WirePart {
    #[serde(default)]
    part: u16,
    #[serde(default = "one")]
    of: u16,
}

fn one() -> u16 {
    1
}

impl From<Part> for WirePart {
    fn from(p: Part) -> Self {
        WirePart {
            part: p.index,
            of: p.of,
        }
    }
}

impl From<WirePart> for Part {
    fn from(p: WirePart) -> Self {
        Part {
            index: p.part,
            of: p.of.max(1),
        }
    }
}

#[derive(Serialize, Deserialize)]
enum WireAudience {
    Everyone,
    Device(String),
    AllBut(String),
}

impl Wire {
    fn from_shared(event: &Shared) -> Option<Self> {
        Some(match event {
            Shared::Publish(p) => Wire::Publish {
                to: match p.audience {
                    Audience::Everyone => WireAudience::Everyone,
                    Audience::Device(d) => WireAudience::Device(d.to_string()),
                    Audience::AllBut(d) => WireAudience::AllBut(d.to_string()),
                },
                room: p.room,
                scope: p.scope,
                event: p.event.clone(),
                activity: p.activity.clone(),
            },
            Shared::Members(room) => Wire::Members { room: *room },
            Shared::Kick {
                device,
                code,
                reason,
                event,
            } => Wire::Kick {
                device: device.to_string(),
                code: *code,
                reason: (*reason).to_owned(),
                event: event.clone(),
            },
            Shared::Access => Wire::Access,
            Shared::Push => Wire::Push,
            Shared::Presence(Note::Room {
                node,
                room,
                part,
                people,
            }) => Wire::Room {
                node: *node,
                room: *room,
                part: (*part).into(),
                people: people.clone(),
            },
            Shared::Presence(Note::Visible {
                node,
                part,
                devices,
            }) => Wire::Visible {
                node: *node,
                part: (*part).into(),
                devices: devices.iter().map(|d| d.to_string()).collect(),
            },
            Shared::Spent(Spent { node, limit, keys }) => Wire::Spent {
                node: *node,
                limit: limit.clone(),
                keys: keys.clone(),
            },
        })
    }

    fn into_shared(self) -> Option<Shared> {
        Some(match self {
            Wire::Publish {
                to,
                room,
                scope,
                event,
                activity,
            } => Shared::Publish(Publish {
                audience: match to {
                    WireAudience::Everyone => Audience::Everyone,
                    WireAudience::Device(d) => Audience::Device(DeviceId::parse(&d)?),
                    WireAudience::AllBut(d) => Audience::AllBut(DeviceId::parse(&d)?),
                },
                room,
                scope: scope.or(room),
                event,
                activity,
            }),
            Wire::Members { room } => Shared::Members(room),
            Wire::Kick {
                device,
                code,
                reason,
                event,
            } => Shared::Kick {
                device: DeviceId::parse(&device)?,
                code,
                reason: KICK_REASONS
                    .iter()
                    .find(|r| **r == reason)
                    .copied()
                    .unwrap_or("closed by the server"),
                event,
            },
            Wire::Access => Shared::Access,
            Wire::Push => Shared::Push,
            Wire::Room {
                node,
                room,
                part,
                people,
            } => Shared::Presence(Note::Room {
                node,
                room,
                part: part.into(),
                people,
            }),
            Wire::Visible {
                node,
                part,
                devices,
            } => Shared::Presence(Note::Visible {
                node,
                part: part.into(),
                devices: devices.iter().filter_map(|d| DeviceId::parse(d)).collect(),
            }),
            Wire::Spent { node, limit, keys } => Shared::Spent(Spent { node, limit, keys }),
        })
    }
}
