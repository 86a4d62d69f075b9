//! Who may read a room: direct conversations, private rooms and their
//! members, rooms hidden from one's own list, blocked direct messages;
//! and the one check every route that shows a room's content makes.
//!
//! The hub holds each closed room's member devices (so it routes their
//! events to them alone); the checks here read that, not the database,
//! so a check costs a map lookup. After each membership change the hub is
//! told first and only then is the room's news published.

use super::{Chat, ChatError, Result};
use crate::base::now_ms;
use crate::bus::{Publish, Shared};
use crate::store::{RoomKey, StoreError};
use app::api::Role;
use app::protocol::{
    DeviceId, Identity, MessageId, RoomId, RoomInfo, RoomKind, ServerEvent, UserId,
};

/// Most people in one direct conversation, the one starting it included.
pub const MAX_DIRECT: usize = 10;
/// Most members a room may be made private with at once.
pub const MAX_MEMBERS_AT_ONCE: usize = 500;

fn refused(text: &str) -> ChatError {
    ChatError::Refused(text.to_owned())
}

fn forbidden(text: &str) -> ChatError {
    ChatError::Forbidden(text.to_owned())
}

impl Chat {
    /// `NotFound` unless `device` may read `room`: the same answer as for
    /// a room that does not exist, so a closed room's existence is not
    /// told either. A reader without a device reads open rooms alone.
    pub fn check_read(&self, device: Option<DeviceId>, room: RoomId) -> Result<()> {
        let allowed = match device {
            Some(device) => self.hub().may_read(device, room),
            None => !self.hub().is_closed(room),
        };
        if allowed {
            Ok(())
        } else {
            Err(StoreError::NotFound.into())
        }
    }

    /// A room by id or slug, if `device` may read it.
    pub async fn readable_room(
        &self,
        device: Option<DeviceId>,
        key: RoomKey,
    ) -> Result<Option<RoomInfo>> {
        let Some(room) = self.room(key).await? else {
            return Ok(None);
        };
        Ok(self.check_read(device, room.id).ok().map(|()| room))
    }

    /// The room of a message `device` may read.
    pub async fn readable_message(&self, device: DeviceId, id: MessageId) -> Result<RoomId> {
        let room = self
            .store()
            .message_room(id)
            .await?
            .ok_or(StoreError::NotFound)?;
        self.check_read(Some(device), room)?;
        Ok(room)
    }

    /// Refuses a message into a direct conversation one of whose people
    /// takes no direct messages from the sender; the conversation, if it
    /// is one.
    pub(super) async fn check_direct_post(
        &self,
        me: UserId,
        room: RoomId,
    ) -> Result<Option<RoomInfo>> {
        if !self.hub().is_closed(room) {
            return Ok(None);
        }
        let Some(info) = self.room(RoomKey::Id(room)).await? else {
            return Err(StoreError::NotFound.into());
        };
        if info.kind != RoomKind::Direct {
            return Ok(None);
        }
        let others: Vec<UserId> = info
            .members
            .iter()
            .map(|m| m.user_id)
            .filter(|u| *u != me)
            .collect();
        if !self.store().dm_blocking(me, others).await?.is_empty() {
            return Err(forbidden(
                "This conversation does not take your messages: someone in it blocked direct messages from you.",
            ));
        }
        Ok(Some(info))
    }

    /// Whether a stored file may be fetched by `device`: one sent in a
    /// closed room goes to its readers alone. A file in no message yet
    /// (an upload being written) is its uploader's unguessable link.
    pub async fn may_fetch(&self, device: Option<DeviceId>, blob: &str) -> Result<bool> {
        let rooms = self.store().blob_rooms(blob.to_owned()).await?;
        Ok(rooms.is_empty() || rooms.iter().any(|r| self.check_read(device, *r).is_ok()))
    }

    /// Opens the conversation of `device`'s person with `people`: the one
    /// there is for exactly this set, else a new one.
    pub async fn start_direct(&self, device: DeviceId, people: Vec<UserId>) -> Result<RoomInfo> {
        let me = self.identity(device).await?.ok_or(StoreError::NoIdentity)?;
        let mut others: Vec<UserId> = people.into_iter().filter(|u| *u != me.user_id).collect();
        others.sort_unstable_by_key(|u| u.0);
        others.dedup();
        if others.is_empty() {
            return Err(refused("Choose whom to write to."));
        }
        if others.len() + 1 > MAX_DIRECT {
            return Err(refused(&format!(
                "A conversation holds at most {MAX_DIRECT} people."
            )));
        }
        let blocking = self.store().dm_blocking(me.user_id, others.clone()).await?;
        if !blocking.is_empty() {
            return Err(forbidden(
                "Someone you chose does not take direct messages from you.",
            ));
        }
        self.limits()
            .room_changes
            .check(&device)
            .map_err(ChatError::RateLimited)?;
        let (info, made) = self
            .store()
            .direct_room(device, others, now_ms())
            .await
            .map_err(|e| match e {
                StoreError::NotFound => refused("Someone you chose is not in this chat."),
                e => e.into(),
            })?;
        // Starting it again brings it back into one's own list.
        self.store().set_hidden(device, info.id, false).await?;
        self.route(info.id).await?;
        if made {
            tracing::info!(
                room = info.id.0,
                people = info.members.len(),
                "direct conversation started"
            );
        }
        self.hub()
            .share(Shared::Publish(Publish::room_info(info.clone())));
        Ok(info)
    }

    /// Makes a room private with `members` (the one asking among them) or
    /// open again: its creator, the owner or a moderator may.
    pub async fn set_private(
        &self,
        device: DeviceId,
        room: RoomId,
        private: bool,
        members: Vec<UserId>,
    ) -> Result<RoomInfo> {
        let me = self.identity(device).await?.ok_or(StoreError::NoIdentity)?;
        self.check_read(Some(device), room)?;
        if room == RoomId::DEFAULT {
            return Err(refused("The first room stays open to everyone."));
        }
        self.check_keeper(device, me.user_id, room).await?;
        if members.len() > MAX_MEMBERS_AT_ONCE {
            return Err(refused(&format!(
                "A room can be made private with at most {MAX_MEMBERS_AT_ONCE} members at once; add more afterwards."
            )));
        }
        self.limits()
            .room_changes
            .check(&device)
            .map_err(ChatError::RateLimited)?;
        let kind = if private {
            RoomKind::Private
        } else {
            RoomKind::Open
        };
        let mut members = members;
        members.push(me.user_id);
        let info = self
            .store()
            .set_room_kind(room, kind, members, now_ms())
            .await
            .map_err(|e| match e {
                StoreError::NotFound => {
                    refused("A direct conversation cannot be made open or private.")
                }
                e => e.into(),
            })?;
        self.route(room).await?;
        tracing::info!(room = room.0, private, "room access changed");
        self.hub()
            .share(Shared::Publish(Publish::room_info(info.clone())));
        Ok(info)
    }

    /// Adds someone to a private room or takes them out. Any member may
    /// add; the room's creator, the owner or a moderator may remove;
    /// anyone may take themselves out (`leave_room`).
    pub async fn set_member(
        &self,
        device: DeviceId,
        room: RoomId,
        user: UserId,
        member: bool,
    ) -> Result<RoomInfo> {
        let me = self.identity(device).await?.ok_or(StoreError::NoIdentity)?;
        self.check_read(Some(device), room)?;
        let info = self
            .room(RoomKey::Id(room))
            .await?
            .ok_or(StoreError::NotFound)?;
        match info.kind {
            RoomKind::Open => return Err(refused("Everyone may read an open room.")),
            RoomKind::Direct if user != me.user_id => {
                return Err(refused(
                    "A direct conversation is for the people it was started with; start another one to add someone.",
                ))
            }
            _ => {}
        }
        if !member && user != me.user_id {
            self.check_keeper(device, me.user_id, room).await?;
        }
        if member && self.store().device_of(user).await?.is_none() {
            return Err(refused("There is no such person in this chat."));
        }
        self.limits()
            .room_changes
            .check(&device)
            .map_err(ChatError::RateLimited)?;
        self.store()
            .set_member(room, user, member, now_ms())
            .await?;
        self.route(room).await?;
        let info = self
            .room(RoomKey::Id(room))
            .await?
            .ok_or(StoreError::NotFound)?;
        self.hub()
            .share(Shared::Publish(Publish::room_info(info.clone())));
        Ok(info)
    }

    /// Takes `device`'s person out of a private room or a direct
    /// conversation.
    pub async fn leave_room(&self, device: DeviceId, room: RoomId) -> Result<()> {
        let me = self.identity(device).await?.ok_or(StoreError::NoIdentity)?;
        self.set_member(device, room, me.user_id, false).await?;
        Ok(())
    }

    /// Takes a room out of `device`'s own list (or puts it back), on all
    /// of its tabs; it stays readable.
    pub async fn hide_room(&self, device: DeviceId, room: RoomId, hidden: bool) -> Result<()> {
        self.check_read(Some(device), room)?;
        self.store().set_hidden(device, room, hidden).await?;
        let event = if hidden {
            ServerEvent::RoomGone { room, hidden: true }
        } else {
            let info = self
                .room(RoomKey::Id(room))
                .await?
                .ok_or(StoreError::NotFound)?;
            ServerEvent::Room { room: info }
        };
        self.hub()
            .share(Shared::Publish(Publish::device(device, event)));
        Ok(())
    }

    /// `device`'s person takes no direct messages from `user` (or again
    /// does).
    pub async fn block_direct(&self, device: DeviceId, user: UserId, blocked: bool) -> Result<()> {
        let me = self.identity(device).await?.ok_or(StoreError::NoIdentity)?;
        if user == me.user_id {
            return Err(refused("You cannot block yourself."));
        }
        self.store().set_dm_block(device, user, blocked).await?;
        tracing::info!(blocked, "direct messages block changed");
        Ok(())
    }

    /// Whom `device`'s person takes no direct messages from.
    pub async fn blocked_direct(&self, device: DeviceId) -> Result<Vec<UserId>> {
        let me = self.identity(device).await?.ok_or(StoreError::NoIdentity)?;
        Ok(self.store().dm_blocked(me.user_id).await?)
    }

    /// Everyone with a name, to write to or add to a room.
    pub async fn known_people(&self, device: DeviceId) -> Result<Vec<Identity>> {
        self.identity(device).await?.ok_or(StoreError::NoIdentity)?;
        Ok(self.store().known_people().await?)
    }

    /// A closed room's members, to those who may read it.
    pub async fn room_members(&self, device: DeviceId, room: RoomId) -> Result<Vec<Identity>> {
        self.check_read(Some(device), room)?;
        Ok(self.store().room_members(room).await?)
    }

    /// Loads every closed room's members into the hub (at start).
    pub async fn load_members(&self) -> Result<()> {
        let all = self.store().closed_rooms().await?;
        self.hub().reset_closed(all);
        Ok(())
    }

    /// Tells the hub who may now read `room`; the devices that lost it
    /// are told and get nothing more of it.
    async fn route(&self, room: RoomId) -> Result<()> {
        let devices = self.store().member_devices(room).await?;
        self.hub()
            .set_members(room, devices.map(|d| d.into_iter().collect()));
        Ok(())
    }

    /// Refuses unless `device` made the room or is the owner or a
    /// moderator.
    async fn check_keeper(&self, device: DeviceId, me: UserId, room: RoomId) -> Result<()> {
        if self.store().room_creator(room).await? == Some(me) {
            return Ok(());
        }
        match self.store().standing(device).await?.role {
            Some(Role::Owner | Role::Moderator) => Ok(()),
            _ => Err(forbidden(
                "Only the room's creator, the owner or a moderator can change who may read it.",
            )),
        }
    }
}
