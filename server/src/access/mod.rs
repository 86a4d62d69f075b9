//! Who may use the chat and who may moderate it. The owner claims the
//! server with a one-time link from its log; the chat is open to anyone
//! (the seed's behaviour) or invite-only; owners and moderators remove
//! messages and block devices. Every check is made here, on the server,
//! whatever the page shows.

pub mod roles;
pub mod token;

use crate::store::{Standing, Store, StoreError};
use app::api::Role;
use app::protocol::DeviceId;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// The name shown until the owner sets one.
pub const DEFAULT_NAME: &str = "Chat";

/// Why a device may not use the chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// Invite-only, and this device is not a member.
    Private,
    Blocked,
}

impl Denied {
    pub fn sentence(self) -> &'static str {
        match self {
            Denied::Private => "This chat is private. Ask a member for an invite.",
            Denied::Blocked => "A moderator of this chat has blocked this device.",
        }
    }
}

/// The chat's settings and blocks, kept in memory for the checks every
/// request and message makes; the store is the record.
pub struct Access {
    store: Arc<dyn Store>,
    invite_only: AtomicBool,
    name: RwLock<String>,
    blocked: RwLock<HashSet<DeviceId>>,
    /// When devices that wrote lately first picked a name (`None`: longer
    /// ago than the newcomer period), read from the store once per device
    /// and process, so every node and a restart agree on who is new.
    newcomers: Mutex<HashMap<DeviceId, Option<Instant>>>,
    newcomer_period: Duration,
}

impl Access {
    pub async fn load(
        store: Arc<dyn Store>,
        newcomer_period: Duration,
    ) -> Result<Self, StoreError> {
        let invite_only = store.setting("access").await?.as_deref() == Some("invite");
        let name = store
            .setting("name")
            .await?
            .unwrap_or_else(|| DEFAULT_NAME.to_owned());
        let blocked = store.blocked_devices().await?.into_iter().collect();
        Ok(Self {
            store,
            invite_only: AtomicBool::new(invite_only),
            name: RwLock::new(name),
            blocked: RwLock::new(blocked),
            newcomers: Mutex::new(HashMap::new()),
            newcomer_period,
        })
    }

    /// Rereads what is kept in memory (another node changed it).
    pub async fn reload(&self) -> Result<(), StoreError> {
        let invite_only = self.store.setting("access").await?.as_deref() == Some("invite");
        let name = self.store.setting("name").await?;
        let blocked: HashSet<DeviceId> = self.store.blocked_devices().await?.into_iter().collect();
        self.invite_only.store(invite_only, Ordering::Relaxed);
        if let Ok(mut n) = self.name.write() {
            *n = name.unwrap_or_else(|| DEFAULT_NAME.to_owned());
        }
        if let Ok(mut b) = self.blocked.write() {
            *b = blocked;
        }
        Ok(())
    }

    pub fn invite_only(&self) -> bool {
        self.invite_only.load(Ordering::Relaxed)
    }

    pub fn chat_name(&self) -> String {
        self.name
            .read()
            .map_or_else(|_| DEFAULT_NAME.to_owned(), |n| n.clone())
    }

    pub fn is_blocked(&self, device: DeviceId) -> bool {
        self.blocked.read().is_ok_and(|b| b.contains(&device))
    }

    pub async fn standing(&self, device: DeviceId) -> Result<Standing, StoreError> {
        self.store.standing(device).await
    }

    /// Whether the device may read and write the chat, and its role.
    pub async fn admit(&self, device: DeviceId) -> Result<Result<Standing, Denied>, StoreError> {
        if self.is_blocked(device) {
            return Ok(Err(Denied::Blocked));
        }
        let standing = self.store.standing(device).await?;
        if standing.blocked {
            return Ok(Err(Denied::Blocked));
        }
        if standing.role.is_none() && self.invite_only() {
            return Ok(Err(Denied::Private));
        }
        Ok(Ok(standing))
    }

    pub(crate) fn note_invite_only(&self, on: bool) {
        self.invite_only.store(on, Ordering::Relaxed);
    }

    pub(crate) fn note_name(&self, name: String) {
        if let Ok(mut n) = self.name.write() {
            *n = name;
        }
    }

    pub(crate) fn note_blocked(&self, device: DeviceId, blocked: bool) {
        if let Ok(mut b) = self.blocked.write() {
            if blocked {
                b.insert(device);
            } else {
                b.remove(&device);
            }
        }
    }

    /// Records a device's first name.
    pub(crate) fn note_newcomer(&self, device: DeviceId) {
        if let Ok(mut n) = self.newcomers.lock() {
            n.insert(device, Some(Instant::now()));
        }
    }

    /// Named within the newcomer period (on any node, before any restart).
    pub async fn is_newcomer(&self, device: DeviceId) -> Result<bool, StoreError> {
        let known = self
            .newcomers
            .lock()
            .ok()
            .and_then(|n| n.get(&device).copied());
        let since = match known {
            Some(since) => since,
            None => {
                let named_at = self.store.named_at(device).await?;
                let age = named_at.map(|at| {
                    Duration::from_millis(crate::chat::now_ms().saturating_sub(at).max(0) as u64)
                });
                let since = age
                    .filter(|age| *age < self.newcomer_period)
                    .and_then(|age| Instant::now().checked_sub(age));
                if let Ok(mut n) = self.newcomers.lock() {
                    // Newcomers age out: forget those past the period.
                    let period = self.newcomer_period;
                    n.retain(|_, s| s.is_none_or(|s| s.elapsed() < period));
                    if named_at.is_some() {
                        n.insert(device, since);
                    }
                }
                since
            }
        };
        Ok(since.is_some_and(|s| s.elapsed() < self.newcomer_period))
    }
}

/// A role as the log and errors name it.
pub fn role_name(role: Option<Role>) -> &'static str {
    role.map_or("non-member", Role::as_str)
}
