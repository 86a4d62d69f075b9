//! Web Push notifications: browsers subscribe per device, and a message
//! posted while none of a device's tabs is in view reaches it through its
//! browser's push service (RFC 8030), encrypted for that browser (RFC
//! 8291) and signed with the server's key (RFC 8292).
//!
//! Pushing runs off the message path: the hub hands each new message to
//! a bounded queue, one task decides who gets what, and deliveries run
//! with bounded concurrency and retries. A full queue drops pushes, never
//! messages.

mod collapse;
mod deliver;
mod registry;
mod vapid;

use crate::bus::Shared;
use crate::egress::Policy;
use crate::limits::Limits;
use crate::metrics::Metrics;
use crate::realtime::hub::Hub;
use crate::realtime::presence::Presence;
use crate::store::{RoomKey, Store, StoreError};
use app::api::{PushMode, PushSettings};
use app::protocol::{ChatMessage, DeviceId, RoomId, RoomInfo, RoomKind};
use collapse::{Collapser, Summary};
use deliver::{Outcome, Payload, Sender};
use registry::{Keys, Registry, Target};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, Semaphore};

/// New messages waiting to be looked at by the pusher.
const QUEUE: usize = 1024;
/// Deliveries waiting or running; past this, pushes are dropped.
const IN_FLIGHT: usize = 512;
/// Requests to push services at once.
const CONCURRENCY: usize = 8;
/// Tries per notification, waiting 1, 2, 4 s… between them.
const ATTEMPTS: u32 = 4;
/// The longest `Retry-After` honoured; a service asking for more is
/// asked again next message.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);
/// Subscriptions one device may hold (a browser each).
const MAX_PER_DEVICE: usize = 16;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// Why a push request was refused, in words for the user.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error("{0}")]
    Refused(String),
    #[error("rate limited for {0:?}")]
    RateLimited(Duration),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub struct Push {
    registry: Mutex<Registry>,
    public_key: Vec<u8>,
    policy: Policy,
    store: Arc<dyn Store>,
    limits: Arc<Limits>,
    /// Tells other nodes that subscriptions changed.
    hub: Arc<Hub>,
}

pub struct Options<'a> {
    pub data_dir: &'a Path,
    pub contact: String,
    pub collapse: Duration,
    pub allow_loopback: bool,
    /// Several nodes share the database: the key lives there, so every
    /// node signs with the same one.
    pub shared: bool,
}

impl Push {
    /// Loads the key and the subscriptions and starts the pusher, which
    /// hears of every new message from `hub`.
    pub async fn start(
        options: Options<'_>,
        store: Arc<dyn Store>,
        hub: &Arc<Hub>,
        presence: Arc<Presence>,
        access: Arc<crate::access::Access>,
        limits: Arc<Limits>,
        metrics: Arc<Metrics>,
    ) -> Result<Arc<Self>, crate::base::BoxError> {
        let vapid = if options.shared {
            vapid::Vapid::load_shared(store.as_ref(), options.data_dir).await?
        } else {
            vapid::Vapid::load_or_generate(options.data_dir)?
        };
        let policy = Policy {
            allow_loopback: options.allow_loopback,
            ..Default::default()
        };
        let client = reqwest::Client::builder()
            .dns_resolver(Arc::new(policy))
            // A redirect could lead anywhere; push services do not use them.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(REQUEST_TIMEOUT)
            .build()?;
        let registry = Registry::load(store.push_state().await?);
        let push = Arc::new(Self {
            registry: Mutex::new(registry),
            public_key: vapid.public.clone(),
            policy,
            store,
            limits,
            hub: hub.clone(),
        });
        let (tx, rx) = mpsc::channel(QUEUE);
        hub.tap(tx);
        {
            // Another node stored or removed a subscription: this node may
            // be the one that pushes the next message.
            let push = push.clone();
            let mut changes = hub.push_changes();
            tokio::spawn(async move {
                while changes.changed().await.is_ok() {
                    match push.store.push_state().await {
                        Ok(state) => push.with_registry(|r| *r = Registry::load(state)),
                        Err(e) => tracing::warn!(error = %e, "could not reread push subscriptions"),
                    }
                }
            });
        }
        let pusher = Pusher {
            push: push.clone(),
            presence,
            access,
            metrics,
            sender: Arc::new(Sender {
                client,
                key: vapid.key,
                contact: options.contact,
            }),
            collapser: Collapser::new(options.collapse),
            rooms: HashMap::new(),
            in_flight: Arc::new(Semaphore::new(IN_FLIGHT)),
            concurrency: Arc::new(Semaphore::new(CONCURRENCY)),
        };
        tokio::spawn(pusher.run(rx));
        Ok(push)
    }

    pub fn settings(&self, device: DeviceId) -> PushSettings {
        self.with_registry(|r| r.settings(device, self.public_key.clone()))
    }

    /// Stores a browser's subscription for a named device.
    pub async fn subscribe(
        &self,
        device: DeviceId,
        endpoint: String,
        p256dh: String,
        auth: String,
    ) -> Result<PushSettings, PushError> {
        self.rate_limit(device)?;
        let me = self
            .store
            .identity(device)
            .await?
            .ok_or(StoreError::NoIdentity)?;
        self.policy
            .check(&endpoint)
            .map_err(|e| PushError::Refused(e.to_string()))?;
        let keys = Keys::parse(&p256dh, &auth).ok_or_else(|| {
            PushError::Refused("The browser's notification keys are not valid.".into())
        })?;
        let known = self.with_registry(|r| r.owner(&endpoint) == Some(device));
        if !known && self.with_registry(|r| r.count(device)) >= MAX_PER_DEVICE {
            return Err(PushError::Refused(format!(
                "This device already has notifications on {MAX_PER_DEVICE} browsers; \
                 turn them off on one first."
            )));
        }
        self.store
            .save_push(
                device,
                endpoint.clone(),
                p256dh,
                auth,
                crate::base::now_ms(),
            )
            .await?;
        self.with_registry(|r| r.add(endpoint, device, me.user_id, keys));
        self.hub.share(Shared::Push);
        tracing::info!(user_id = me.user_id.0, "push subscription stored");
        Ok(self.settings(device))
    }

    pub async fn unsubscribe(
        &self,
        device: DeviceId,
        endpoint: String,
    ) -> Result<PushSettings, PushError> {
        self.rate_limit(device)?;
        self.store
            .delete_push(endpoint.clone(), Some(device))
            .await?;
        self.with_registry(|r| r.remove(&endpoint, Some(device)));
        self.hub.share(Shared::Push);
        Ok(self.settings(device))
    }

    pub async fn set_mode(
        &self,
        device: DeviceId,
        room: Option<RoomId>,
        mode: Option<PushMode>,
    ) -> Result<PushSettings, PushError> {
        self.rate_limit(device)?;
        if let Some(room) = room {
            self.store
                .room(RoomKey::Id(room))
                .await?
                .ok_or(StoreError::NotFound)?;
        }
        self.store.set_push_mode(device, room, mode).await?;
        self.with_registry(|r| r.set_mode(device, room, mode));
        self.hub.share(Shared::Push);
        Ok(self.settings(device))
    }

    /// Forgets a subscription the push service says has ended.
    async fn gone(&self, endpoint: &str) {
        self.with_registry(|r| r.remove(endpoint, None));
        if let Err(e) = self.store.delete_push(endpoint.to_owned(), None).await {
            tracing::warn!(error = %e, "could not delete an ended push subscription");
        }
    }

    fn rate_limit(&self, device: DeviceId) -> Result<(), PushError> {
        self.limits
            .push_changes
            .check(&device)
            .map_err(PushError::RateLimited)
    }

    fn with_registry<T>(&self, f: impl FnOnce(&mut Registry) -> T) -> T {
        match self.registry.lock() {
            Ok(mut r) => f(&mut r),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }
}

/// The task that turns new messages into notifications.
struct Pusher {
    push: Arc<Push>,
    presence: Arc<Presence>,
    /// A blocked device's browser gets no previews of the conversation.
    access: Arc<crate::access::Access>,
    metrics: Arc<Metrics>,
    sender: Arc<Sender>,
    collapser: Collapser,
    rooms: HashMap<RoomId, RoomInfo>,
    in_flight: Arc<Semaphore>,
    concurrency: Arc<Semaphore>,
}

impl Pusher {
    async fn run(mut self, mut messages: mpsc::Receiver<ChatMessage>) {
        let mut sweep = tokio::time::interval(Duration::from_secs(60));
        loop {
            let due = self.collapser.next_due();
            tokio::select! {
                message = messages.recv() => match message {
                    Some(message) => self.message(message).await,
                    None => return,
                },
                _ = sleep_until(due) => {
                    for ((endpoint, room), summary) in self.collapser.due(Instant::now()) {
                        self.notify_later(endpoint, room, summary).await;
                    }
                }
                _ = sweep.tick() => self.collapser.sweep(Instant::now()),
            }
        }
    }

    async fn message(&mut self, message: ChatMessage) {
        if self.push.with_registry(|r| r.is_empty()) {
            return;
        }
        let Some(room) = self.room(message.room).await else {
            return;
        };
        let direct = room.kind == RoomKind::Direct;
        let targets = self.push.with_registry(|r| r.targets(&message, direct));
        let now = Instant::now();
        for target in targets {
            // A private or direct room's messages go to its members alone.
            if self.access.is_blocked(target.device)
                || !self.push.hub.may_read(target.device, message.room)
            {
                continue;
            }
            let key = (target.endpoint.clone(), message.room);
            if self.presence.device_visible(target.device) {
                // Someone is looking: what they saw needs no summary later.
                self.collapser.forget(&key);
                continue;
            }
            if let Some(summary) = self.collapser.message(key, message.clone(), now) {
                self.deliver(target, &room, &summary);
            }
        }
    }

    /// A summary at the end of a collapse window, unless the device has
    /// opened the chat meanwhile or the subscription is gone.
    async fn notify_later(&mut self, endpoint: String, room: RoomId, summary: Summary) {
        let target = self.push.with_registry(|r| r.target(&endpoint));
        let Some(target) = target else { return };
        if self.presence.device_visible(target.device)
            || self.access.is_blocked(target.device)
            || !self.push.hub.may_read(target.device, room)
        {
            return;
        }
        if let Some(info) = self.room(room).await {
            self.deliver(target, &info, &summary);
        }
    }

    async fn room(&mut self, id: RoomId) -> Option<RoomInfo> {
        // Names change: read the room afresh for every message, which is
        // cheap next to a push, and keep the last one found if that fails.
        match self.push.store.room(RoomKey::Id(id)).await {
            Ok(Some(room)) => {
                self.rooms.insert(id, room.clone());
                Some(room)
            }
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(error = %e, "could not read a room for a push");
                self.rooms.get(&id).cloned()
            }
        }
    }

    fn deliver(&self, target: Target, room: &RoomInfo, summary: &Summary) {
        let Ok(slot) = self.in_flight.clone().try_acquire_owned() else {
            self.metrics.push_dropped.inc();
            return;
        };
        let payload = Payload::new(room, summary);
        let (push, sender, metrics) =
            (self.push.clone(), self.sender.clone(), self.metrics.clone());
        let concurrency = self.concurrency.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let Ok(endpoint) = push.policy.check(&target.endpoint) else {
                push.gone(&target.endpoint).await;
                return;
            };
            for attempt in 0..ATTEMPTS {
                let outcome = {
                    let Ok(_running) = concurrency.acquire().await else {
                        return;
                    };
                    sender.send(&target, endpoint.clone(), &payload).await
                };
                match outcome {
                    Outcome::Delivered => {
                        metrics.push_sent.inc();
                        return;
                    }
                    Outcome::Gone => {
                        metrics.push_gone.inc();
                        tracing::info!("a push subscription has ended; deleted");
                        push.gone(&target.endpoint).await;
                        return;
                    }
                    Outcome::Refused(why) => {
                        metrics.push_failed.inc();
                        tracing::warn!(%why, "a push service refused a notification");
                        return;
                    }
                    Outcome::Retry(after, why) => {
                        let backoff = Duration::from_secs(1 << attempt);
                        let wait = after.unwrap_or(backoff);
                        if attempt + 1 == ATTEMPTS || wait > MAX_RETRY_AFTER {
                            metrics.push_failed.inc();
                            tracing::warn!(%why, attempts = attempt + 1, "a push could not be delivered");
                            return;
                        }
                        tokio::time::sleep(wait).await;
                    }
                }
            }
        });
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}
