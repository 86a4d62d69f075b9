//! The server functions' view of the server: `ChatBackend` over the chat
//! and the configuration.

use crate::chat::{Chat, ChatError};
use crate::config::Settings;
use crate::http::qr;
use crate::push::{Push, PushError};
use crate::store::StoreError;
use app::api::backend::ChatBackend;
use app::api::{
    Admin, ApiError, Context, ModAction, NewInvite, PeoplePage, PushMode, PushSettings, RoomAction,
    RoomPeople, SearchHit, TransferLink,
};
use app::protocol::{ChatMessage, DeviceId, Identity, MessageId, RoomId, RoomInfo};
use app::validate::{RoomName, UserName};
use futures::future::BoxFuture;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

pub struct ServerBackend {
    pub chat: Chat,
    pub settings: Arc<Settings>,
    pub push: Arc<Push>,
}

fn push_error(e: PushError) -> ApiError {
    match e {
        PushError::Refused(why) => ApiError::Invalid(why),
        PushError::RateLimited(wait) => internal(ChatError::RateLimited(wait)),
        PushError::Store(e) => internal(ChatError::Store(e)),
    }
}

/// The one place a chat error becomes what a server function reports:
/// refusals in words for the user (each kind with its own status, see
/// `ApiError::status`), anything else logged and generic.
fn internal(e: ChatError) -> ApiError {
    let invalid = |text: &str| ApiError::Invalid(text.to_owned());
    let forbidden = |text: &str| ApiError::Forbidden(text.to_owned());
    match e {
        ChatError::RateLimited(wait) => ApiError::RateLimited(wait.as_secs().max(1)),
        ChatError::Store(StoreError::NoIdentity) => forbidden("Choose a name first."),
        ChatError::Store(StoreError::NotFound) => {
            ApiError::NotFound("There is no such room, message or person.".to_owned())
        }
        ChatError::Store(StoreError::NameTaken) => invalid("A room with that name already exists."),
        ChatError::Store(StoreError::Archived) => forbidden("This room is archived."),
        ChatError::Store(StoreError::DefaultRoom) => forbidden("The main room cannot be archived."),
        ChatError::Store(StoreError::Unavailable(why)) => {
            tracing::warn!(error = %why, "server function failed: database unavailable");
            ApiError::Unavailable
        }
        ChatError::Refused(text) => ApiError::Invalid(text),
        ChatError::Forbidden(text) => ApiError::Forbidden(text),
        ChatError::Denied(why) => forbidden(why.sentence()),
        e => {
            tracing::error!(error = %e, "server function failed");
            ApiError::Internal
        }
    }
}

impl ServerBackend {
    /// Every server function first checks that the device may use the
    /// chat: a private chat answers nothing to strangers, and a blocked
    /// device nothing at all.
    async fn admit(&self, device: DeviceId) -> Result<(), ApiError> {
        self.chat.admit(device).await.map(|_| ()).map_err(internal)
    }

    /// Links point back over what the browser used.
    fn scheme(&self) -> &'static str {
        if self.settings.cookie_secure() {
            "https"
        } else {
            "http"
        }
    }
}

impl ChatBackend for ServerBackend {
    fn set_name(
        &self,
        device: DeviceId,
        from: IpAddr,
        name: UserName,
    ) -> BoxFuture<'_, Result<Identity, ApiError>> {
        Box::pin(async move {
            self.chat
                .set_name(device, from, name)
                .await
                .map_err(internal)
        })
    }

    fn history(
        &self,
        device: DeviceId,
        room: RoomId,
        before: Option<MessageId>,
        limit: u32,
    ) -> BoxFuture<'_, Result<Vec<ChatMessage>, ApiError>> {
        Box::pin(async move {
            self.admit(device).await?;
            self.chat
                .page_before(Some(device), room, before, limit)
                .await
                .map_err(internal)
        })
    }

    fn create_room(
        &self,
        device: DeviceId,
        from: IpAddr,
        name: RoomName,
    ) -> BoxFuture<'_, Result<RoomInfo, ApiError>> {
        Box::pin(async move {
            self.admit(device).await?;
            self.chat
                .create_room(device, from, name)
                .await
                .map_err(internal)
        })
    }

    fn search(
        &self,
        device: DeviceId,
        query: String,
        before: Option<MessageId>,
    ) -> BoxFuture<'_, Result<Vec<SearchHit>, ApiError>> {
        Box::pin(async move {
            self.admit(device).await?;
            self.chat
                .search(device, query, before)
                .await
                .map_err(internal)
        })
    }

    fn context(&self, device: DeviceId, id: MessageId) -> BoxFuture<'_, Result<Context, ApiError>> {
        Box::pin(async move {
            self.admit(device).await?;
            self.chat.context(device, id).await.map_err(internal)
        })
    }

    fn rename_room(
        &self,
        device: DeviceId,
        room: RoomId,
        name: RoomName,
    ) -> BoxFuture<'_, Result<RoomInfo, ApiError>> {
        Box::pin(async move {
            self.admit(device).await?;
            self.chat
                .rename_room(device, room, name)
                .await
                .map_err(internal)
        })
    }

    fn archive_room(
        &self,
        device: DeviceId,
        room: RoomId,
    ) -> BoxFuture<'_, Result<RoomInfo, ApiError>> {
        Box::pin(async move {
            self.admit(device).await?;
            self.chat.archive_room(device, room).await.map_err(internal)
        })
    }

    fn push_settings(&self, device: DeviceId) -> BoxFuture<'_, Result<PushSettings, ApiError>> {
        Box::pin(async move {
            self.admit(device).await?;
            Ok(self.push.settings(device))
        })
    }

    fn push_subscribe(
        &self,
        device: DeviceId,
        endpoint: String,
        p256dh: String,
        auth: String,
    ) -> BoxFuture<'_, Result<PushSettings, ApiError>> {
        Box::pin(async move {
            self.admit(device).await?;
            self.push
                .subscribe(device, endpoint, p256dh, auth)
                .await
                .map_err(push_error)
        })
    }

    fn push_unsubscribe(
        &self,
        device: DeviceId,
        endpoint: String,
    ) -> BoxFuture<'_, Result<PushSettings, ApiError>> {
        Box::pin(async move {
            self.admit(device).await?;
            self.push
                .unsubscribe(device, endpoint)
                .await
                .map_err(push_error)
        })
    }

    fn set_push_mode(
        &self,
        device: DeviceId,
        room: Option<RoomId>,
        mode: Option<PushMode>,
    ) -> BoxFuture<'_, Result<PushSettings, ApiError>> {
        Box::pin(async move {
            self.admit(device).await?;
            if let Some(room) = room {
                self.chat.check_read(Some(device), room).map_err(internal)?;
            }
            self.push
                .set_mode(device, room, mode)
                .await
                .map_err(push_error)
        })
    }

    fn people_here(
        &self,
        device: DeviceId,
        room: RoomId,
        offset: u32,
    ) -> BoxFuture<'_, Result<PeoplePage, ApiError>> {
        Box::pin(async move {
            self.admit(device).await?;
            self.chat.check_read(Some(device), room).map_err(internal)?;
            let people = self.chat.presence().people(room);
            let total = people.len() as u32;
            let people = people
                .into_iter()
                .skip(offset as usize)
                .take(app::protocol::PRESENCE_PAGE as usize)
                .collect();
            Ok(PeoplePage { people, total })
        })
    }

    fn room_action(
        &self,
        device: DeviceId,
        action: RoomAction,
    ) -> BoxFuture<'_, Result<Option<RoomInfo>, ApiError>> {
        Box::pin(async move {
            self.admit(device).await?;
            let chat = &self.chat;
            let done = match action {
                RoomAction::StartDirect { people } => {
                    chat.start_direct(device, people).await.map(Some)
                }
                RoomAction::SetPrivate {
                    room,
                    private,
                    members,
                } => chat
                    .set_private(device, room, private, members)
                    .await
                    .map(Some),
                RoomAction::AddMember { room, user } => {
                    chat.set_member(device, room, user, true).await.map(Some)
                }
                RoomAction::RemoveMember { room, user } => {
                    chat.set_member(device, room, user, false).await.map(Some)
                }
                RoomAction::Leave { room } => chat.leave_room(device, room).await.map(|()| None),
                RoomAction::Hide { room, hidden } => {
                    chat.hide_room(device, room, hidden).await.map(|()| None)
                }
                RoomAction::BlockDirect { user, blocked } => chat
                    .block_direct(device, user, blocked)
                    .await
                    .map(|()| None),
            };
            done.map_err(internal)
        })
    }

    fn room_people(
        &self,
        device: DeviceId,
        room: Option<RoomId>,
    ) -> BoxFuture<'_, Result<RoomPeople, ApiError>> {
        Box::pin(async move {
            self.admit(device).await?;
            let members = match room {
                Some(room) => self
                    .chat
                    .room_members(device, room)
                    .await
                    .map_err(internal)?,
                None => Vec::new(),
            };
            Ok(RoomPeople {
                members,
                known: self.chat.known_people(device).await.map_err(internal)?,
                blocked: self.chat.blocked_direct(device).await.map_err(internal)?,
            })
        })
    }

    fn admin(&self, device: DeviceId) -> BoxFuture<'_, Result<Admin, ApiError>> {
        Box::pin(async move { self.chat.admin(device).await.map_err(internal) })
    }

    fn bots(
        &self,
        device: DeviceId,
        action: app::api::BotAction,
    ) -> BoxFuture<'_, Result<app::api::Bots, ApiError>> {
        Box::pin(async move { self.chat.bots(device, action).await.map_err(internal) })
    }

    fn moderate(
        &self,
        device: DeviceId,
        action: ModAction,
    ) -> BoxFuture<'_, Result<Admin, ApiError>> {
        Box::pin(async move { self.chat.moderate(device, action).await.map_err(internal) })
    }

    fn create_invite(
        &self,
        device: DeviceId,
        host: String,
        expires_in_secs: u64,
        max_uses: u32,
    ) -> BoxFuture<'_, Result<NewInvite, ApiError>> {
        Box::pin(async move {
            let ttl = Duration::from_secs(expires_in_secs);
            let (token, info) = self
                .chat
                .create_invite(device, ttl, max_uses)
                .await
                .map_err(internal)?;
            let url = format!("{}://{host}/invite/{token}", self.scheme());
            let qr_svg = qr::qr_svg(&url).map_err(|e| {
                tracing::error!(error = %e, "could not draw the QR code");
                ApiError::Internal
            })?;
            Ok(NewInvite { url, qr_svg, info })
        })
    }

    fn start_transfer(
        &self,
        device: DeviceId,
        host: String,
    ) -> BoxFuture<'_, Result<TransferLink, ApiError>> {
        Box::pin(async move {
            self.admit(device).await?;
            if self
                .chat
                .identity(device)
                .await
                .map_err(internal)?
                .is_none()
            {
                return Err(ApiError::Forbidden("Choose a name first.".into()));
            }
            let ttl = Duration::from_secs(self.settings.transfer_ttl_secs);
            let token = self
                .chat
                .start_transfer(device, ttl)
                .await
                .map_err(internal)?;
            let url = format!("{}://{host}/claim/{token}", self.scheme());
            let qr_svg = qr::qr_svg(&url).map_err(|e| {
                tracing::error!(error = %e, "could not draw the QR code");
                ApiError::Internal
            })?;
            Ok(TransferLink {
                url,
                qr_svg,
                expires_in_secs: ttl.as_secs(),
            })
        })
    }
}
