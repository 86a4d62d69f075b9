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
use tokio::sync::watch;

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

    pub fn code(self) -> app::protocol::ErrorCode {
        match self {
            Denied::Private => app::protocol::ErrorCode::Private,
            Denied::Blocked => app::protocol::ErrorCode::Blocked,
        }
    }

    /// How a socket that may no longer read is closed.
    pub fn close_code(self) -> u16 {
        match self {
            Denied::Private => app::protocol::close_code::PRIVATE,
            Denied::Blocked => app::protocol::close_code::BLOCKED,
        }
    }

    /// What the page is told before its socket closes.
    pub fn event(self) -> app::protocol::ServerEvent {
        app::protocol::ServerEvent::Error {
            code: self.code(),
            message: self.sentence().to_owned(),
            client_id: None,
            retry_after_ms: None,
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
    /// Bumped whenever who may read the chat may have changed (the access
    /// mode, a block, settings reread after another node changed them):
    /// every open socket checks its device again at once.
    revision: watch::Sender<u64>,
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
            revision: watch::Sender::new(0),
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
        self.bump();
        Ok(())
    }

    /// Changes each time who may read may have changed.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.revision.subscribe()
    }

    fn bump(&self) {
        self.revision.send_modify(|n| *n = n.wrapping_add(1));
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
        Ok(self.judge(device, standing))
    }

    /// `admit` for a standing read already (with the rest of a page).
    pub fn judge(&self, device: DeviceId, standing: Standing) -> Result<Standing, Denied> {
        if standing.blocked || self.is_blocked(device) {
            return Err(Denied::Blocked);
        }
        if standing.role.is_none() && self.invite_only() {
            return Err(Denied::Private);
        }
        Ok(standing)
    }

    /// Whether a socket admitted earlier may go on reading after a change
    /// of who may read. A member stays one unless blocked, so only the
    /// sockets of devices that were not members ask the store again;
    /// `member` is updated for the next time.
    pub async fn readmit(
        &self,
        device: DeviceId,
        member: &mut bool,
    ) -> Result<Result<(), Denied>, StoreError> {
        if self.is_blocked(device) {
            return Ok(Err(Denied::Blocked));
        }
        if *member || !self.invite_only() {
            return Ok(Ok(()));
        }
        let standing = self.store.standing(device).await?;
        if standing.blocked {
            return Ok(Err(Denied::Blocked));
        }
        *member = standing.role.is_some();
        Ok(if *member {
            Ok(())
        } else {
            Err(Denied::Private)
        })
    }

    pub(crate) fn note_invite_only(&self, on: bool) {
        self.invite_only.store(on, Ordering::Relaxed);
        self.bump();
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
        self.bump();
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
                    Duration::from_millis(crate::base::now_ms().saturating_sub(at).max(0) as u64)
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
