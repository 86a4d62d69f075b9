//! Bots as the owner and moderators manage them: made with a name, a
//! colour and a key shown once (kept as a hash), renewed or revoked, with
//! an optional webhook that mentions and direct messages are sent to.

use super::{Chat, ChatError, Result};
use crate::access::token;
use crate::base::now_ms;
use crate::store::{BotChange, NewBot, StoreError, StoredBot};
use app::api::{BotAction, BotInfo, BotKey, Bots};
use app::protocol::{ChatMessage, DeviceId, UserId};
use app::validate::{chosen_color, random_color, UserName};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::mpsc;

/// Where new messages that may concern a bot go: those that mention
/// someone, and those in closed rooms (a direct message to a bot).
#[derive(Clone)]
pub struct HookSink {
    pub tx: mpsc::Sender<ChatMessage>,
    /// Which webhook addresses may be taken.
    pub policy: crate::egress::Policy,
    /// Bumped when a bot changes on this node: the webhooks reread them.
    pub generation: Arc<AtomicU64>,
}

fn refused(text: &str) -> ChatError {
    ChatError::Refused(text.to_owned())
}

fn info(bot: StoredBot) -> BotInfo {
    BotInfo {
        who: bot.me,
        webhook: bot.webhook,
        created_at: bot.created_at,
        revoked: bot.revoked,
    }
}

impl Chat {
    /// The owner's and moderators' bot actions; every bot, and the key
    /// just made if any.
    pub async fn bots(&self, device: DeviceId, action: BotAction) -> Result<Bots> {
        let (me, role) = self.actor(device).await?;
        if !role.is_some_and(app::api::Role::moderates) {
            return Err(ChatError::Forbidden(
                "Only the owner and moderators manage bots.".into(),
            ));
        }
        let store = self.store();
        let now = now_ms();
        let mut new_key = None;
        let logged: Option<(&'static str, UserId)> = match action {
            BotAction::List => None,
            BotAction::Create {
                name,
                webhook,
                color,
            } => {
                let name = UserName::parse(&name).map_err(|e| refused(&e.to_string()))?;
                let webhook = self.webhook(&webhook)?;
                let (key, secret) = (token::new_token(), token::new_token());
                let color = match color.trim() {
                    "" => random_color(&mut rand::rng()),
                    hex => {
                        chosen_color(hex).ok_or_else(|| refused("A colour is written #rrggbb."))?
                    }
                };
                let bot = store
                    .create_bot(NewBot {
                        device: DeviceId::new_random(),
                        name,
                        color,
                        key_hash: token::hash(&key),
                        secret: secret.clone(),
                        webhook,
                        now,
                    })
                    .await?;
                new_key = Some(BotKey {
                    user: bot.user_id,
                    key,
                    secret,
                });
                Some(("made a bot", bot.user_id))
            }
            BotAction::RenewKey { user } => {
                let key = token::new_token();
                self.change_bot(user, BotChange::Key(token::hash(&key)), now)
                    .await?;
                let secret = store
                    .bots()
                    .await?
                    .into_iter()
                    .find(|b| b.me.user_id == user)
                    .map(|b| b.secret)
                    .unwrap_or_default();
                new_key = Some(BotKey { user, key, secret });
                Some(("renewed a bot's key", user))
            }
            BotAction::Revoke { user } => {
                self.change_bot(user, BotChange::Revoke, now).await?;
                Some(("revoked a bot", user))
            }
            BotAction::SetWebhook { user, webhook } => {
                let webhook = self.webhook(&webhook)?;
                self.change_bot(user, BotChange::Webhook(webhook), now)
                    .await?;
                Some(("changed a bot's webhook", user))
            }
        };
        if let Some((what, user)) = logged {
            store
                .log_action(now, me.user_id, what, Some(user), String::new())
                .await?;
            if let Some(hooks) = &self.hooks {
                hooks.generation.fetch_add(1, Ordering::Relaxed);
            }
        }
        let bots = store.bots().await?.into_iter().map(info).collect();
        Ok(Bots { bots, new_key })
    }

    async fn change_bot(&self, user: UserId, change: BotChange, now: i64) -> Result<()> {
        if self.store().change_bot(user, change, now).await? {
            Ok(())
        } else {
            Err(refused("There is no such bot, or it was revoked."))
        }
    }

    /// A webhook address as given (empty: none), if it may be called.
    fn webhook(&self, raw: &str) -> Result<Option<String>> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Ok(None);
        }
        let Some(hooks) = &self.hooks else {
            return Err(refused("This server does not call webhooks."));
        };
        let url = url::Url::parse(raw).map_err(|_| refused("That is not a web address."))?;
        hooks
            .policy
            .check_web(&url)
            .map_err(|e| refused(&format!("That webhook cannot be called: {e}.")))?;
        Ok(Some(url.to_string()))
    }

    /// The bot a key belongs to, unless it was revoked; `None` for any
    /// other key, well formed or not.
    pub async fn bot_by_key(&self, key: &str) -> Result<Option<StoredBot>> {
        if !token::well_formed(key) {
            return Ok(None);
        }
        Ok(self.store().bot_by_key(token::hash(key)).await?)
    }

    /// Every bot, for the webhooks.
    pub async fn all_bots(&self) -> std::result::Result<Vec<StoredBot>, StoreError> {
        self.store().bots().await
    }
}
