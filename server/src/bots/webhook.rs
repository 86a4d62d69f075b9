//! A bot's webhook: when a message mentions a bot, or is sent to it in a
//! direct conversation, the chat POSTs it there (JSON, signed with the
//! bot's secret) and posts the answer's text as the bot's reply. Off the
//! message's path, through the outbound guard, a few at once, with a
//! deadline and a bounded number of tries.

use crate::access::token;
use crate::chat::{Chat, Draft};
use crate::egress::Policy;
use crate::store::{RoomKey, StoredBot};
use app::protocol::{ChatMessage, ClientMessageId, RoomKind, UserId};
use app::validate::MessageText;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, Semaphore};

/// One call, answer included.
const TIMEOUT: Duration = Duration::from_secs(7);
/// Tries per message and bot (a refused connection, a timeout or a 5xx
/// are tried again, after 1 s and then 4 s).
const TRIES: u32 = 3;
/// Calls at once; more wait.
const AT_ONCE: usize = 8;
/// The header with the body's HMAC-SHA256, `sha256=<hex>`.
pub const SIGNATURE: &str = "x-chat-signature";
/// Largest answer read.
const MAX_ANSWER: usize = 64 * 1024;
/// Bots are reread at least this often (another node may change them).
const BOTS_TTL: Duration = Duration::from_secs(5);

/// What a webhook receives.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct Call {
    pub message_id: i64,
    pub room: CallRoom,
    pub author: CallAuthor,
    pub text: String,
    /// The message's path on the chat (`/r/<room>/m/<id>`), made absolute
    /// with `--public-url` when it is set.
    pub permalink: String,
    /// The bot called.
    pub bot: CallAuthor,
    pub ts: i64,
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct CallRoom {
    pub id: i64,
    pub name: String,
    pub slug: String,
    pub direct: bool,
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct CallAuthor {
    pub id: i64,
    pub name: String,
}

pub struct Webhooks {
    chat: Chat,
    client: reqwest::Client,
    at_once: Arc<Semaphore>,
    generation: Arc<AtomicU64>,
    public_url: Option<String>,
    bots: Mutex<(u64, Instant, Arc<Vec<StoredBot>>)>,
}

impl Webhooks {
    /// Starts the worker that reads `rx` (fed by `Chat::submit`).
    pub fn start(
        chat: Chat,
        mut rx: mpsc::Receiver<ChatMessage>,
        policy: Policy,
        generation: Arc<AtomicU64>,
        public_url: Option<String>,
    ) -> Result<(), reqwest::Error> {
        let client = reqwest::Client::builder()
            .dns_resolver(Arc::new(policy))
            // A redirect could lead anywhere.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(TIMEOUT)
            .build()?;
        let hooks = Arc::new(Self {
            chat,
            client,
            at_once: Arc::new(Semaphore::new(AT_ONCE)),
            generation,
            public_url: public_url.map(|u| u.trim_end_matches('/').to_owned()),
            bots: Mutex::new((u64::MAX, Instant::now(), Arc::new(Vec::new()))),
        });
        tokio::spawn(async move {
            while let Some(message) = rx.recv().await {
                if let Err(e) = hooks.clone().consider(message).await {
                    tracing::warn!(error = %e, "could not check a message for bots");
                }
            }
        });
        Ok(())
    }

    /// The bots with a webhook, reread when one changed here or a while
    /// has passed.
    async fn bots(&self) -> Result<Arc<Vec<StoredBot>>, crate::store::StoreError> {
        let generation = self.generation.load(Ordering::Relaxed);
        if let Ok(cached) = self.bots.lock() {
            if cached.0 == generation && cached.1.elapsed() < BOTS_TTL {
                return Ok(cached.2.clone());
            }
        }
        let bots: Vec<StoredBot> = self
            .chat
            .all_bots()
            .await?
            .into_iter()
            .filter(|b| !b.revoked && b.webhook.is_some())
            .collect();
        let bots = Arc::new(bots);
        if let Ok(mut cached) = self.bots.lock() {
            *cached = (generation, Instant::now(), bots.clone());
        }
        Ok(bots)
    }

    /// Calls each bot the message concerns: those it mentions, and in a
    /// direct conversation every bot in it.
    async fn consider(self: Arc<Self>, message: ChatMessage) -> Result<(), crate::chat::ChatError> {
        let bots = self.bots().await?;
        let mentioned = bots
            .iter()
            .any(|b| message.mentions.contains(&b.me.user_id));
        // Most messages concern no bot: in an open room only a mention
        // calls one, and that is known without reading the room.
        if bots.is_empty() || (!mentioned && !self.chat.hub().is_closed(message.room)) {
            return Ok(());
        }
        let Some(room) = self.chat.store().room(RoomKey::Id(message.room)).await? else {
            return Ok(());
        };
        let direct = room.kind == RoomKind::Direct;
        let members: Vec<UserId> = if direct {
            self.chat
                .store()
                .room_members(room.id)
                .await?
                .into_iter()
                .map(|m| m.user_id)
                .collect()
        } else {
            Vec::new()
        };
        for bot in bots.iter() {
            let id = bot.me.user_id;
            let called = message.mentions.contains(&id) || members.contains(&id);
            if !called || id == message.user_id {
                continue;
            }
            let call = Call {
                message_id: message.id.0,
                room: CallRoom {
                    id: room.id.0,
                    name: room.name.clone(),
                    slug: room.slug.clone(),
                    direct,
                },
                author: CallAuthor {
                    id: message.user_id.0,
                    name: message.user_name.clone(),
                },
                text: message.msg.clone(),
                permalink: format!(
                    "{}/r/{}/m/{}",
                    self.public_url.as_deref().unwrap_or(""),
                    room.slug,
                    message.id.0
                ),
                bot: CallAuthor {
                    id: id.0,
                    name: bot.me.name.clone(),
                },
                ts: message.ts,
            };
            let this = self.clone();
            let bot = bot.clone();
            let room_id = room.id;
            let parent = message.id;
            tokio::spawn(async move {
                let Ok(_turn) = this.at_once.clone().acquire_owned().await else {
                    return;
                };
                if let Some(answer) = this.call(&bot, &call).await {
                    this.answer(&bot, room_id, parent, answer).await;
                }
            });
        }
        Ok(())
    }

    /// POSTs the call, tried again on failure; the answer's text, if any.
    async fn call(&self, bot: &StoredBot, call: &Call) -> Option<String> {
        let url = bot.webhook.as_deref()?;
        let body = serde_json::to_vec(call).ok()?;
        let signature = format!("sha256={}", sign(&bot.secret, &body));
        for attempt in 0..TRIES {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_secs(4u64.pow(attempt - 1))).await;
            }
            let sent = self
                .client
                .post(url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .header(SIGNATURE, &signature)
                .body(body.clone())
                .send()
                .await;
            match sent {
                Ok(res) if res.status().is_success() => return read_answer(res).await,
                Ok(res) if res.status().is_server_error() => {
                    tracing::info!(status = %res.status(), bot = bot.me.user_id.0, "a bot's webhook failed");
                }
                Ok(res) => {
                    // Refused, moved or not there: trying again would not help.
                    tracing::info!(status = %res.status(), bot = bot.me.user_id.0, "a bot's webhook refused a call");
                    return None;
                }
                Err(e) => {
                    tracing::info!(error = %e, bot = bot.me.user_id.0, "a bot's webhook could not be called");
                }
            }
        }
        None
    }

    /// Posts the webhook's answer as the bot's reply to the message.
    async fn answer(
        &self,
        bot: &StoredBot,
        room: app::protocol::RoomId,
        parent: app::protocol::MessageId,
        text: String,
    ) {
        let text = match MessageText::parse(&text) {
            Ok(text) => text,
            Err(e) => {
                tracing::info!(error = %e, "a bot's answer was not posted");
                return;
            }
        };
        let draft = Draft {
            room,
            client_id: ClientMessageId::new_random(),
            text,
            mentions: Vec::new(),
            attachment: None,
            reply_to: Some(parent),
        };
        let posted = match self.chat.submit(bot.device, draft).await {
            Ok(ticket) => ticket
                .await
                .map(|_| ())
                .map_err(crate::chat::ChatError::from),
            Err(e) => Err(e),
        };
        if let Err(e) = posted {
            tracing::info!(error = %e, "a bot's answer was not posted");
        }
    }
}

/// The text of an answer: a JSON body's `text`, or a plain-text body.
async fn read_answer(mut res: reqwest::Response) -> Option<String> {
    let json = res
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|t| t.to_str().ok())
        .is_some_and(|t| t.starts_with("application/json"));
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = res.chunk().await {
        if body.len() + chunk.len() > MAX_ANSWER {
            return None;
        }
        body.extend_from_slice(&chunk);
    }
    let text = if json {
        serde_json::from_slice::<serde_json::Value>(&body)
            .ok()?
            .get("text")?
            .as_str()?
            .to_owned()
    } else {
        String::from_utf8(body).ok()?
    };
    (!text.trim().is_empty()).then_some(text)
}

/// HMAC-SHA256 of `body` with the bot's secret, hex.
pub fn sign(secret: &str, body: &[u8]) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    token::hex(ring::hmac::sign(&key, body).as_ref())
}
