//! The owner's and moderators' operations: claiming the server, the
//! access setting and name, invites, roles, removals and blocks. Each
//! checks the acting device's role in the store first and is logged.

use super::{Chat, ChatError, Result};
use crate::access::{roles, token, Denied};
use crate::base::now_ms;
use crate::bus::{Publish, Shared, KICK_REASONS};
use crate::store::{InviteClaim, StoreError};
use app::api::{Admin, InviteInfo, ModAction, Role};
use app::protocol::{close_code, DeviceId, Identity, ServerEvent, UserId};
use std::time::Duration;

/// How long a printed owner link works.
const OWNER_LINK_TTL: Duration = Duration::from_secs(24 * 60 * 60);
/// Longest an invite may be made to last, and most uses.
pub const MAX_INVITE_TTL: Duration = Duration::from_secs(30 * 24 * 60 * 60);
pub const MAX_INVITE_USES: u32 = 1000;
/// Moderation log entries shown.
const LOG_SHOWN: u32 = 200;
/// Chat names: like room names.
const MAX_CHAT_NAME: usize = 48;

fn refused(text: &str) -> ChatError {
    ChatError::Refused(text.to_owned())
}

fn forbidden(text: &str) -> ChatError {
    ChatError::Forbidden(text.to_owned())
}

impl Chat {
    /// A fresh one-time owner token (its hash stored), for the log or the
    /// `owner-link` command.
    pub async fn new_owner_token(&self) -> Result<String> {
        let t = token::new_token();
        let now = now_ms();
        let expires = now + OWNER_LINK_TTL.as_millis() as i64;
        self.store()
            .add_owner_token(token::hash(&t), now, expires)
            .await?;
        Ok(t)
    }

    pub async fn has_owner(&self) -> Result<bool> {
        Ok(self.store().has_owner().await?)
    }

    pub async fn claim_owner(&self, raw: &str, device: DeviceId) -> Result<bool> {
        if !token::well_formed(raw) {
            return Ok(false);
        }
        let claimed = self
            .store()
            .claim_owner(token::hash(raw), device, now_ms())
            .await?;
        if claimed {
            self.access().note_blocked(device, false);
            self.hub().share(Shared::Access);
            self.hub().share(Shared::Publish(Publish::device(
                device,
                ServerEvent::Role {
                    role: Some(Role::Owner),
                },
            )));
            tracing::warn!(token = %token::shown(raw), "the server has a new owner");
        }
        Ok(claimed)
    }

    pub async fn claim_invite(&self, raw: &str, device: DeviceId) -> Result<InviteClaim> {
        if !token::well_formed(raw) {
            return Ok(InviteClaim::Unknown);
        }
        let claim = self
            .store()
            .claim_invite(token::hash(raw), device, now_ms())
            .await?;
        tracing::info!(token = %token::shown(raw), ?claim, "invite opened");
        Ok(claim)
    }

    /// The device's role, if it is a member in good standing.
    async fn role_of(&self, device: DeviceId) -> Result<Option<Role>> {
        let standing = self.admit(device).await?;
        Ok(standing.role)
    }

    /// Whoever acts must have a name: the log says who did it.
    pub(super) async fn actor(&self, device: DeviceId) -> Result<(Identity, Option<Role>)> {
        let role = self.role_of(device).await?;
        let me = self.identity(device).await?.ok_or(StoreError::NoIdentity)?;
        Ok((me, role))
    }

    pub async fn admin(&self, device: DeviceId) -> Result<Admin> {
        let role = self.role_of(device).await?;
        if !role.is_some_and(Role::moderates) {
            return Err(forbidden("Only the owner and moderators manage the chat."));
        }
        let store = self.store();
        Ok(Admin {
            role,
            invite_only: self.access().invite_only(),
            chat_name: self.access().chat_name(),
            previews: store.setting(crate::unfurl::SETTING).await?.as_deref() != Some("off"),
            people: store.people().await?,
            invites: store.invites(now_ms()).await?,
            log: if roles::may_read_log(role) {
                store.moderation_log(LOG_SHOWN).await?
            } else {
                Vec::new()
            },
        })
    }

    pub async fn moderate(&self, device: DeviceId, action: ModAction) -> Result<Admin> {
        self.limits()
            .moderation
            .check(&device)
            .map_err(ChatError::RateLimited)?;
        let (me, role) = self.actor(device).await?;
        if !roles::may(role, &action) {
            tracing::warn!(
                user_id = me.user_id.0,
                role = crate::access::role_name(role),
                ?action,
                "refused a moderation action"
            );
            return Err(forbidden("You may not do that in this chat."));
        }
        let actor = role.unwrap_or(Role::Member);
        let now = now_ms();
        let store = self.store();
        let (what, target, detail): (&'static str, Option<UserId>, String) = match action {
            ModAction::SetAccess { invite_only } => {
                store.set_invite_only(invite_only, now).await?;
                self.access().note_invite_only(invite_only);
                let what = if invite_only {
                    "made the chat invite-only"
                } else {
                    "opened the chat to anyone"
                };
                (what, None, String::new())
            }
            ModAction::SetChatName { name } => {
                let name = name.trim().to_owned();
                let count = name.chars().count();
                if count == 0 || count > MAX_CHAT_NAME || name.chars().any(char::is_control) {
                    return Err(refused("A chat name is 1 to 48 characters."));
                }
                store.set_setting("name", name.clone()).await?;
                self.access().note_name(name.clone());
                self.hub()
                    .share(Shared::Publish(Publish::everyone(ServerEvent::ChatName {
                        name: name.clone(),
                    })));
                ("renamed the chat", None, name)
            }
            ModAction::SetPreviews { on } => {
                let value = if on { "on" } else { "off" };
                store
                    .set_setting(crate::unfurl::SETTING, value.into())
                    .await?;
                let what = if on {
                    "turned link previews on"
                } else {
                    "turned link previews off"
                };
                (what, None, String::new())
            }
            ModAction::SetModerator { user, moderator } => {
                let (device_of, target_role) = self.target(user).await?;
                if !roles::may_touch(actor, target_role, device_of == device) {
                    return Err(forbidden("You may not change that person's role."));
                }
                let role = if moderator {
                    Role::Moderator
                } else {
                    Role::Member
                };
                store.set_role(device_of, role, now).await?;
                // Their open pages show the new controls at once.
                self.hub().share(Shared::Publish(Publish::device(
                    device_of,
                    ServerEvent::Role { role: Some(role) },
                )));
                let what = if moderator {
                    "made a moderator"
                } else {
                    "took moderator rights from"
                };
                (what, Some(user), String::new())
            }
            ModAction::Block {
                user,
                remove_messages,
            } => {
                let (target_device, target_role) = self.target(user).await?;
                if !roles::may_touch(actor, target_role, target_device == device) {
                    return Err(forbidden("You may not block that person."));
                }
                let removed = store
                    .set_blocked(target_device, user, true, remove_messages, now)
                    .await?;
                self.access().note_blocked(target_device, true);
                self.hub().share(Shared::Kick {
                    device: target_device,
                    code: close_code::BLOCKED,
                    reason: KICK_REASONS[0],
                    event: Denied::Blocked.event(),
                });
                let detail = if remove_messages {
                    format!("removed {removed} messages")
                } else {
                    String::new()
                };
                ("blocked", Some(user), detail)
            }
            ModAction::Unblock { user } => {
                let (target_device, target_role) = self.target(user).await?;
                if !roles::may_touch(actor, target_role, target_device == device) {
                    return Err(forbidden("You may not unblock that person."));
                }
                store
                    .set_blocked(target_device, user, false, false, now)
                    .await?;
                self.access().note_blocked(target_device, false);
                ("unblocked", Some(user), String::new())
            }
            ModAction::RemoveMessage { id } => {
                let message = self.remove(device, id).await?;
                let text = if message.user_id == me.user_id {
                    "removed their own message"
                } else {
                    "removed a message of"
                };
                (text, Some(message.user_id), format!("message {}", id.0))
            }
            ModAction::RevokeInvite { id } => {
                if !store.revoke_invite(id, now).await? {
                    return Err(refused("That invite no longer works."));
                }
                ("revoked an invite", None, format!("invite {id}"))
            }
        };
        store
            .log_action(now, me.user_id, what, target, detail)
            .await?;
        tracing::info!(user_id = me.user_id.0, action = what, "moderation");
        // Other nodes reread settings and blocks.
        self.hub().share(Shared::Access);
        self.admin(device).await
    }

    /// Makes an invite; the token is returned once and only its hash kept.
    pub async fn create_invite(
        &self,
        device: DeviceId,
        ttl: Duration,
        max_uses: u32,
    ) -> Result<(String, InviteInfo)> {
        self.limits()
            .moderation
            .check(&device)
            .map_err(ChatError::RateLimited)?;
        let (me, role) = self.actor(device).await?;
        if !roles::may_invite(role) {
            return Err(forbidden("Only the owner and moderators create invites."));
        }
        if ttl.is_zero() || ttl > MAX_INVITE_TTL || max_uses == 0 || max_uses > MAX_INVITE_USES {
            return Err(refused(
                "An invite lasts up to 30 days and lets in 1 to 1000 people.",
            ));
        }
        let t = token::new_token();
        let now = now_ms();
        let info = self
            .store()
            .create_invite(
                token::hash(&t),
                me.user_id,
                now,
                now + ttl.as_millis() as i64,
                max_uses,
            )
            .await?
            .ok_or(StoreError::NotFound)?;
        self.store()
            .log_action(
                now,
                me.user_id,
                "created an invite",
                None,
                format!("invite {}: {max_uses} uses", info.id),
            )
            .await?;
        Ok((t, info))
    }

    /// The device and role of a user someone acts on.
    async fn target(&self, user: UserId) -> Result<(DeviceId, Option<Role>)> {
        let device = self
            .store()
            .device_of(user)
            .await?
            .ok_or_else(|| ChatError::Store(StoreError::NotFound))?;
        let standing = self.access().standing(device).await?;
        Ok((device, standing.role))
    }

    /// Replaces anyone's message by "removed by a moderator".
    async fn remove(
        &self,
        device: DeviceId,
        id: app::protocol::MessageId,
    ) -> Result<app::protocol::ChatMessage> {
        Ok(self
            .store()
            .change(device, id, crate::store::Change::Remove, now_ms())
            .await?)
    }
}
