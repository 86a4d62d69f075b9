//! Abuse limits: token-bucket rate limits and caps on concurrent
//! connections, each keyed by device or IP. Small and in-process on
//! purpose: a handful of keys per user, no extra dependency, no round
//! trip per check. In the shared mode the nodes tell each other what
//! each key spent (`shared`), so the rates hold across nodes.

pub mod shared;

use crate::config::Settings;
use app::protocol::DeviceId;
use std::collections::HashMap;
use std::fmt::Display;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Every limit the server enforces, built from the configuration.
pub struct Limits {
    pub messages: RateLimiter<DeviceId>,
    pub name_changes: RateLimiter<DeviceId>,
    pub transfers: RateLimiter<DeviceId>,
    /// Creating, renaming and archiving rooms.
    pub room_changes: RateLimiter<DeviceId>,
    pub reactions: RateLimiter<DeviceId>,
    /// Photos and files.
    pub uploads: RateLimiter<DeviceId>,
    /// Searches (typing in the box searches as you type).
    pub searches: RateLimiter<DeviceId>,
    /// Subscribing to push and changing what is pushed.
    pub push_changes: RateLimiter<DeviceId>,
    /// Owner and moderator actions, invites included.
    pub moderation: RateLimiter<DeviceId>,
    /// Opening owner and invite links, per client IP: guessing is hopeless
    /// with 256-bit tokens, and this keeps anyone from trying at speed.
    pub claims: RateLimiter<IpAddr>,
    /// New identities (a device's first name), per address (an IPv6 /64
    /// counts as one): a new device costs nothing, an address does.
    pub new_identities: RateLimiter<IpAddr>,
    /// Rooms created, per address (as above).
    pub new_rooms: RateLimiter<IpAddr>,
    /// The first messages of a device named recently: tighter than
    /// `messages` (see `--newcomer-*`).
    pub newcomer_messages: RateLimiter<DeviceId>,
    /// "Typing" events: one every few seconds is all a page sends.
    pub typing: RateLimiter<DeviceId>,
    pub connects: RateLimiter<IpAddr>,
    pub per_device: ConnectionCap<DeviceId>,
    pub per_ip: ConnectionCap<IpAddr>,
}

impl Limits {
    pub fn new(settings: &Settings) -> Self {
        Self {
            messages: RateLimiter::new(
                settings.message_burst,
                Duration::from_millis(settings.message_refill_ms),
            ),
            name_changes: RateLimiter::new(5, Duration::from_secs(60)),
            transfers: RateLimiter::new(5, Duration::from_secs(60)),
            room_changes: RateLimiter::new(5, Duration::from_secs(60)),
            reactions: RateLimiter::new(20, Duration::from_millis(500)),
            searches: RateLimiter::new(20, Duration::from_millis(250)),
            uploads: RateLimiter::new(10, Duration::from_secs(6)),
            typing: RateLimiter::new(3, Duration::from_secs(2)),
            push_changes: RateLimiter::new(20, Duration::from_secs(3)),
            moderation: RateLimiter::new(30, Duration::from_secs(1)),
            claims: RateLimiter::new(10, Duration::from_secs(6)),
            new_identities: RateLimiter::new(
                settings.new_identity_burst,
                Duration::from_secs(settings.new_identity_refill_secs),
            ),
            new_rooms: RateLimiter::new(settings.new_room_burst, Duration::from_secs(60)),
            newcomer_messages: RateLimiter::new(
                settings.newcomer_burst,
                Duration::from_millis(settings.newcomer_refill_ms),
            ),
            connects: RateLimiter::new(settings.connect_burst, Duration::from_secs(1)),
            per_device: ConnectionCap::new(settings.max_conns_per_device),
            per_ip: ConnectionCap::new(settings.max_conns_per_ip),
        }
    }

    /// Every rate limit, by the name the nodes know it by.
    fn rates(&self) -> [(&'static str, &dyn Shareable); 15] {
        [
            ("messages", &self.messages),
            ("name_changes", &self.name_changes),
            ("transfers", &self.transfers),
            ("room_changes", &self.room_changes),
            ("reactions", &self.reactions),
            ("uploads", &self.uploads),
            ("searches", &self.searches),
            ("push_changes", &self.push_changes),
            ("moderation", &self.moderation),
            ("claims", &self.claims),
            ("newcomer_messages", &self.newcomer_messages),
            ("typing", &self.typing),
            ("connects", &self.connects),
            ("new_identities", &self.new_identities),
            ("new_rooms", &self.new_rooms),
        ]
    }
}

/// The client's address for per-IP limits: the peer, or, when the peer is
/// a trusted proxy, the nearest untrusted hop in `X-Forwarded-For`.
pub fn client_ip(peer: IpAddr, headers: &axum::http::HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|hop| hop.trim().parse::<IpAddr>().ok())
        .rev()
        .find(|ip| !trusted.contains(ip))
        .unwrap_or(peer)
}

/// The key for limits per address: an IPv4 address, or the /64 an IPv6
/// address is in (one subscriber usually holds a whole /64).
pub fn address_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(std::net::Ipv6Addr::from(bits))
        }
        v4 => v4,
    }
}

/// Keys kept before idle (full) buckets are dropped.
const PRUNE_ABOVE: usize = 10_000;

struct Bucket {
    /// Below zero when other nodes spent what this one had already
    /// allowed: the key waits until the overdraft is earned back.
    tokens: f64,
    updated: Instant,
}

struct State<K> {
    buckets: HashMap<K, Bucket>,
    /// Tokens taken per key since the other nodes were last told; `None`
    /// unless the limiter is shared.
    spent: Option<HashMap<K, u32>>,
}

/// `burst` actions at once, then one more every `refill`.
pub struct RateLimiter<K> {
    burst: f64,
    refill: Duration,
    state: Mutex<State<K>>,
}

impl<K: Hash + Eq + Clone> RateLimiter<K> {
    pub fn new(burst: u32, refill: Duration) -> Self {
        Self {
            burst: f64::from(burst.max(1)),
            refill: refill.max(Duration::from_millis(1)),
            state: Mutex::new(State {
                buckets: HashMap::new(),
                spent: None,
            }),
        }
    }

    /// Takes one token, or says how long until one is available.
    pub fn check(&self, key: &K) -> Result<(), Duration> {
        self.check_at(key, Instant::now())
    }

    /// How long until `key` has a token, without taking one.
    pub fn wait(&self, key: &K) -> Duration {
        let Ok(state) = self.state.lock() else {
            return Duration::ZERO;
        };
        let Some(bucket) = state.buckets.get(key) else {
            return Duration::ZERO;
        };
        let per_token = self.refill.as_secs_f64();
        let earned = Instant::now()
            .saturating_duration_since(bucket.updated)
            .as_secs_f64()
            / per_token;
        let tokens = (bucket.tokens + earned).min(self.burst);
        Duration::from_secs_f64(((1.0 - tokens) * per_token).max(0.0))
    }

    fn check_at(&self, key: &K, now: Instant) -> Result<(), Duration> {
        let Ok(mut state) = self.state.lock() else {
            return Ok(()); // a poisoned limiter must not take the chat down
        };
        let state = &mut *state;
        let per_token = self.refill.as_secs_f64();
        let bucket = self.bucket_at(&mut state.buckets, key, now);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            if let Some(spent) = &mut state.spent {
                *spent.entry(key.clone()).or_insert(0) += 1;
            }
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) * per_token))
        }
    }

    /// Takes `n` tokens another node let `key` spend, without refusing
    /// anything: the overdraft is capped at one burst.
    fn debit_at(&self, key: &K, n: u32, now: Instant) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        let bucket = self.bucket_at(&mut state.buckets, key, now);
        bucket.tokens = (bucket.tokens - f64::from(n)).max(-self.burst);
    }

    /// `key`'s bucket with what it earned until `now`.
    fn bucket_at<'a>(
        &self,
        buckets: &'a mut HashMap<K, Bucket>,
        key: &K,
        now: Instant,
    ) -> &'a mut Bucket {
        let per_token = self.refill.as_secs_f64();
        if buckets.len() > PRUNE_ABOVE {
            let burst = self.burst;
            buckets.retain(|_, b| {
                b.tokens + now.saturating_duration_since(b.updated).as_secs_f64() / per_token
                    < burst
            });
        }
        let bucket = buckets.entry(key.clone()).or_insert(Bucket {
            tokens: self.burst,
            updated: now,
        });
        let earned = now.saturating_duration_since(bucket.updated).as_secs_f64() / per_token;
        bucket.tokens = (bucket.tokens + earned).min(self.burst);
        bucket.updated = now;
        bucket
    }
}

/// A key the nodes can name to each other.
pub trait Key: Hash + Eq + Clone + Display + Send + 'static {
    fn parse_key(raw: &str) -> Option<Self>;
}

impl Key for DeviceId {
    fn parse_key(raw: &str) -> Option<Self> {
        DeviceId::parse(raw)
    }
}

impl Key for IpAddr {
    fn parse_key(raw: &str) -> Option<Self> {
        raw.parse().ok()
    }
}

/// A rate limit whose spending the nodes share, whatever its key.
trait Shareable: Send + Sync {
    /// Starts counting what is spent, for `take_spent`.
    fn share(&self);
    fn take_spent(&self) -> Vec<(String, u32)>;
    fn debit(&self, key: &str, n: u32);
}

impl<K: Key> Shareable for RateLimiter<K> {
    fn share(&self) {
        if let Ok(mut state) = self.state.lock() {
            state.spent.get_or_insert_with(HashMap::new);
        }
    }

    fn take_spent(&self) -> Vec<(String, u32)> {
        let Ok(mut state) = self.state.lock() else {
            return Vec::new();
        };
        match &mut state.spent {
            Some(spent) => spent.drain().map(|(k, n)| (k.to_string(), n)).collect(),
            None => Vec::new(),
        }
    }

    fn debit(&self, key: &str, n: u32) {
        if let Some(key) = K::parse_key(key) {
            self.debit_at(&key, n, Instant::now());
        }
    }
}

/// At most `max` live connections per key; a slot is freed when its
/// guard drops.
pub struct ConnectionCap<K: Hash + Eq + Clone> {
    max: usize,
    counts: Arc<Mutex<HashMap<K, usize>>>,
}

pub struct Slot<K: Hash + Eq + Clone> {
    key: K,
    counts: Arc<Mutex<HashMap<K, usize>>>,
}

impl<K: Hash + Eq + Clone> ConnectionCap<K> {
    pub fn new(max: usize) -> Self {
        Self {
            max,
            counts: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    pub fn acquire(&self, key: K) -> Option<Slot<K>> {
        let mut counts = self.counts.lock().ok()?;
        let n = counts.entry(key.clone()).or_insert(0);
        if *n >= self.max {
            return None;
        }
        *n += 1;
        Some(Slot {
            key,
            counts: self.counts.clone(),
        })
    }
}

impl<K: Hash + Eq + Clone> Drop for Slot<K> {
    fn drop(&mut self) {
        if let Ok(mut counts) = self.counts.lock() {
            if let Some(n) = counts.get_mut(&self.key) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    counts.remove(&self.key);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_steady_rate() {
        let limiter = RateLimiter::new(3, Duration::from_secs(1));
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(limiter.check_at(&"a", t0).is_ok());
        }
        let wait = limiter.check_at(&"a", t0).expect_err("limited");
        assert!(wait <= Duration::from_secs(1) && wait > Duration::from_millis(900));
        // Other keys are unaffected.
        assert!(limiter.check_at(&"b", t0).is_ok());
        // One token back after the refill interval.
        let t1 = t0 + Duration::from_secs(1);
        assert!(limiter.check_at(&"a", t1).is_ok());
        assert!(limiter.check_at(&"a", t1).is_err());
    }

    #[test]
    fn tokens_never_exceed_the_burst() {
        let limiter = RateLimiter::new(2, Duration::from_secs(1));
        let later = Instant::now() + Duration::from_secs(3600);
        assert!(limiter.check_at(&1, later).is_ok());
        assert!(limiter.check_at(&1, later).is_ok());
        assert!(limiter.check_at(&1, later).is_err());
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        use axum::http::{HeaderMap, HeaderValue};
        let proxy: IpAddr = "10.0.0.1".parse().expect("ip");
        let client: IpAddr = "203.0.113.7".parse().expect("ip");
        let mut h = HeaderMap::new();
        // The left entry is whatever the client claimed; the proxy appended the real one.
        h.insert(
            "x-forwarded-for",
            HeaderValue::from_static("198.51.100.1, 203.0.113.7"),
        );
        assert_eq!(client_ip(proxy, &h, &[proxy]), client);
        assert_eq!(
            client_ip(proxy, &h, &[]),
            proxy,
            "untrusted peer: header ignored"
        );
        assert_eq!(client_ip(proxy, &HeaderMap::new(), &[proxy]), proxy);
    }

    #[test]
    fn an_ipv6_slash_64_is_one_address() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().expect("ip");
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().expect("ip");
        let other: IpAddr = "2001:db8:1:3::1".parse().expect("ip");
        assert_eq!(address_key(a), address_key(b));
        assert_ne!(address_key(a), address_key(other));
        let v4: IpAddr = "203.0.113.7".parse().expect("ip");
        assert_eq!(address_key(v4), v4);
        let mapped: IpAddr = "::ffff:203.0.113.7".parse().expect("ip");
        assert_eq!(
            address_key(mapped),
            v4,
            "an IPv4 client over IPv6 is its IPv4 address"
        );
    }

    #[test]
    fn connection_slots_are_returned_on_drop() {
        let cap = ConnectionCap::new(2);
        let a = cap.acquire("ip").expect("first");
        let _b = cap.acquire("ip").expect("second");
        assert!(cap.acquire("ip").is_none());
        drop(a);
        assert!(cap.acquire("ip").is_some());
    }
}
