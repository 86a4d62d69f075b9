//! Request/response work as Leptos server functions. The functions only
//! parse and delegate: the server crate supplies the real work through the
//! [`backend::ChatBackend`] it puts in context, which keeps SQL and the hub
//! out of the app crate. The records they carry are in `records`.

#[cfg(feature = "ssr")]
pub mod backend;
mod records;

pub use records::*;

use crate::protocol::{ChatMessage, Identity, MessageId, RoomId, RoomInfo};
use leptos::prelude::*;
use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

/// Errors a server function reports to the page, each with a sentence
/// meant for the user and an HTTP status (`status`), so that monitoring
/// and clients can tell a refusal from a fault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
pub enum ApiError {
    /// A value the server refuses (a name too long): 422; or a request it
    /// cannot read at all: 400.
    #[error("{0}")]
    Invalid(String),
    /// This device may not do that (a private chat, a member's try at a
    /// moderator's action): 403.
    #[error("{0}")]
    Forbidden(String),
    /// No such room, message or person (or none this device may see): 404.
    #[error("{0}")]
    NotFound(String),
    /// 429, with `Retry-After`.
    #[error("Too many changes. Please try again in {0} s.")]
    RateLimited(u64),
    /// A fault of the server's: 500.
    #[error("The server could not complete the request. Please try again.")]
    Internal,
    /// The chat's database cannot be reached now: 503.
    #[error("The chat cannot be reached right now. Please try again in a moment.")]
    Unavailable,
    /// The request could not be made or its answer read (in the browser);
    /// on the server, a request whose arguments could not be read: 400.
    #[error("The chat server could not be reached: {0}")]
    Transport(String),
}

impl ApiError {
    /// The HTTP status the server answers this error with.
    pub fn status(&self) -> u16 {
        match self {
            ApiError::Invalid(_) => 422,
            ApiError::Forbidden(_) => 403,
            ApiError::NotFound(_) => 404,
            ApiError::RateLimited(_) => 429,
            ApiError::Internal => 500,
            ApiError::Unavailable => 503,
            ApiError::Transport(_) => 400,
        }
    }
}

/// Read as the derived decoder would (`{"Invalid": "…"}`, `"Internal"`),
/// except that a kind this release does not know (a newer server's) is
/// kept as its sentence when it has one, else read as a fault: a page of
/// the previous release still shows why.
impl<'de> Deserialize<'de> for ApiError {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{IgnoredAny, MapAccess, Visitor};
        struct Kind;
        impl<'de> Visitor<'de> for Kind {
            type Value = ApiError;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a server function's error")
            }

            fn visit_str<E: serde::de::Error>(self, kind: &str) -> Result<ApiError, E> {
                Ok(match kind {
                    "Unavailable" => ApiError::Unavailable,
                    _ => ApiError::Internal,
                })
            }

            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<ApiError, M::Error> {
                let Some(kind) = map.next_key::<String>()? else {
                    return Ok(ApiError::Internal);
                };
                Ok(match kind.as_str() {
                    "Invalid" => ApiError::Invalid(map.next_value()?),
                    "Forbidden" => ApiError::Forbidden(map.next_value()?),
                    "NotFound" => ApiError::NotFound(map.next_value()?),
                    "RateLimited" => ApiError::RateLimited(map.next_value()?),
                    "Transport" => ApiError::Transport(map.next_value()?),
                    _ => match map.next_value::<Sentence>()?.0 {
                        Some(text) => ApiError::Invalid(text),
                        None => ApiError::Internal,
                    },
                })
            }
        }
        /// A string, or anything else (skipped). By hand: serde's untagged
        /// enums buffer the value first, which costs the page kilobytes.
        struct Sentence(Option<String>);
        impl<'de> Deserialize<'de> for Sentence {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct Text;
                impl<'de> Visitor<'de> for Text {
                    type Value = Sentence;

                    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                        f.write_str("anything")
                    }

                    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Sentence, E> {
                        Ok(Sentence(Some(v.to_owned())))
                    }

                    fn visit_map<M: MapAccess<'de>>(self, m: M) -> Result<Sentence, M::Error> {
                        IgnoredAny.visit_map(m).map(|_| Sentence(None))
                    }

                    fn visit_seq<S: serde::de::SeqAccess<'de>>(
                        self,
                        s: S,
                    ) -> Result<Sentence, S::Error> {
                        IgnoredAny.visit_seq(s).map(|_| Sentence(None))
                    }

                    fn visit_u64<E>(self, _: u64) -> Result<Sentence, E> {
                        Ok(Sentence(None))
                    }

                    fn visit_i64<E>(self, _: i64) -> Result<Sentence, E> {
                        Ok(Sentence(None))
                    }

                    fn visit_f64<E>(self, _: f64) -> Result<Sentence, E> {
                        Ok(Sentence(None))
                    }

                    fn visit_bool<E>(self, _: bool) -> Result<Sentence, E> {
                        Ok(Sentence(None))
                    }

                    fn visit_unit<E>(self) -> Result<Sentence, E> {
                        Ok(Sentence(None))
                    }
                }
                d.deserialize_any(Text)
            }
        }
        d.deserialize_any(Kind)
    }
}

impl FromServerFnError for ApiError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        ApiError::Transport(value.to_string())
    }
}

#[server(endpoint = "set_name")]
pub async fn set_name(name: String) -> Result<Identity, ApiError> {
    let name =
        crate::validate::UserName::parse(&name).map_err(|e| ApiError::Invalid(e.to_string()))?;
    let (backend, device) = backend::current().await?;
    let from = backend::client_addr().await?;
    backend.set_name(device, from, name).await
}

#[server(endpoint = "older_messages")]
pub async fn older_messages(
    room: RoomId,
    before: MessageId,
    limit: u32,
) -> Result<Vec<ChatMessage>, ApiError> {
    let (backend, device) = backend::current().await?;
    let limit = limit.clamp(1, crate::protocol::HISTORY_MAX_LIMIT);
    backend.history(device, room, Some(before), limit).await
}

#[server(endpoint = "search")]
pub async fn search_messages(
    query: String,
    before: Option<MessageId>,
) -> Result<Vec<SearchHit>, ApiError> {
    let (backend, device) = backend::current().await?;
    if query.chars().count() > 200 {
        return Err(ApiError::Invalid(
            "Search for at most 200 characters.".into(),
        ));
    }
    backend.search(device, query, before).await
}

#[server(endpoint = "message_context")]
pub async fn message_context(id: MessageId) -> Result<Context, ApiError> {
    let (backend, device) = backend::current().await?;
    backend.context(device, id).await
}

#[server(endpoint = "create_room")]
pub async fn create_room(name: String) -> Result<RoomInfo, ApiError> {
    let name =
        crate::validate::RoomName::parse(&name).map_err(|e| ApiError::Invalid(e.to_string()))?;
    let (backend, device) = backend::current().await?;
    let from = backend::client_addr().await?;
    backend.create_room(device, from, name).await
}

#[server(endpoint = "rename_room")]
pub async fn rename_room(room: RoomId, name: String) -> Result<RoomInfo, ApiError> {
    let name =
        crate::validate::RoomName::parse(&name).map_err(|e| ApiError::Invalid(e.to_string()))?;
    let (backend, device) = backend::current().await?;
    backend.rename_room(device, room, name).await
}

#[server(endpoint = "archive_room")]
pub async fn archive_room(room: RoomId) -> Result<RoomInfo, ApiError> {
    let (backend, device) = backend::current().await?;
    backend.archive_room(device, room).await
}

#[server(endpoint = "push_settings")]
pub async fn notification_settings() -> Result<PushSettings, ApiError> {
    let (backend, device) = backend::current().await?;
    backend.push_settings(device).await
}

/// Stores this browser's push subscription (from `PushSubscription.toJSON()`)
/// for the device.
#[server(endpoint = "push_subscribe")]
pub async fn push_subscribe(
    endpoint: String,
    p256dh: String,
    auth: String,
) -> Result<PushSettings, ApiError> {
    let (backend, device) = backend::current().await?;
    backend.push_subscribe(device, endpoint, p256dh, auth).await
}

#[server(endpoint = "push_unsubscribe")]
pub async fn push_unsubscribe(endpoint: String) -> Result<PushSettings, ApiError> {
    let (backend, device) = backend::current().await?;
    backend.push_unsubscribe(device, endpoint).await
}

/// Sets the device's default mode (`room` absent) or one room's; a room
/// with no mode follows the default again.
///
/// The mode travels as its name and is checked here: `PushMode` reads an
/// unknown name as the default (a page tolerates a newer server), which a
/// request must not.
#[server(endpoint = "set_push_mode")]
pub async fn set_push_mode(
    room: Option<RoomId>,
    mode: Option<String>,
) -> Result<PushSettings, ApiError> {
    let mode = match mode.as_deref() {
        None => None,
        Some(name) => Some(
            PushMode::parse(name)
                .ok_or_else(|| ApiError::Invalid("That is not a notification setting.".into()))?,
        ),
    };
    let (backend, device) = backend::current().await?;
    backend.set_push_mode(device, room, mode).await
}

/// Who has `room` open, by name, from `offset` (a large room's list is
/// not sent on the socket; see `ServerEvent::Here`).
#[server(endpoint = "people_here")]
pub async fn people_here(room: RoomId, offset: u32) -> Result<PeoplePage, ApiError> {
    let (backend, device) = backend::current().await?;
    backend.people_here(device, room, offset).await
}

/// Direct conversations, private rooms and their members, one's own list.
#[server(endpoint = "room_action", input = server_fn::codec::Json)]
pub async fn act_on_room(action: RoomAction) -> Result<Option<RoomInfo>, ApiError> {
    let (backend, device) = backend::current().await?;
    backend.room_action(device, action).await
}

/// A closed room's members (with `room`), everyone one could add or write
/// to, and whom one takes no direct messages from.
#[server(endpoint = "room_people")]
pub async fn people_of_room(room: Option<RoomId>) -> Result<RoomPeople, ApiError> {
    let (backend, device) = backend::current().await?;
    backend.room_people(device, room).await
}

/// Roles, members, invites and (for the owner) the moderation log.
#[server(endpoint = "admin")]
pub async fn admin_overview() -> Result<Admin, ApiError> {
    let (backend, device) = backend::current().await?;
    backend.admin(device).await
}

/// The chat's bots, after an action (a new key is shown once).
#[server(endpoint = "bots", input = server_fn::codec::Json)]
pub async fn manage_bots(action: BotAction) -> Result<Bots, ApiError> {
    let (backend, device) = backend::current().await?;
    backend.bots(device, action).await
}

#[server(endpoint = "moderate", input = server_fn::codec::Json)]
pub async fn moderate(action: ModAction) -> Result<Admin, ApiError> {
    let (backend, device) = backend::current().await?;
    backend.moderate(device, action).await
}

/// A link that lets `max_uses` new devices in until it expires.
#[server(endpoint = "create_invite")]
pub async fn create_invite(expires_in_secs: u64, max_uses: u32) -> Result<NewInvite, ApiError> {
    let (backend, device) = backend::current().await?;
    let host = backend::host().await?;
    backend
        .create_invite(device, host, expires_in_secs, max_uses)
        .await
}

#[server(endpoint = "start_transfer")]
pub async fn start_transfer() -> Result<TransferLink, ApiError> {
    let (backend, device) = backend::current().await?;
    let host = backend::host().await?;
    backend.start_transfer(device, host).await
}

#[cfg(test)]
mod tests {
    use super::ApiError;

    #[test]
    fn every_error_reads_back_as_itself() {
        for e in [
            ApiError::Invalid("a".into()),
            ApiError::Forbidden("b".into()),
            ApiError::NotFound("c".into()),
            ApiError::RateLimited(3),
            ApiError::Internal,
            ApiError::Unavailable,
            ApiError::Transport("d".into()),
        ] {
            let json = serde_json::to_string(&e).expect("encodes");
            assert_eq!(serde_json::from_str::<ApiError>(&json).expect("decodes"), e);
        }
    }

    #[test]
    fn a_kind_from_a_newer_server_keeps_its_sentence() {
        let read = |json: &str| serde_json::from_str::<ApiError>(json).expect("decodes");
        assert_eq!(
            read(r#"{"Conflict":"Someone changed it first."}"#),
            ApiError::Invalid("Someone changed it first.".into())
        );
        assert_eq!(read(r#"{"Quota":{"left":0}}"#), ApiError::Internal);
        assert_eq!(read(r#""Maintenance""#), ApiError::Internal);
    }
}
