//! Abuse limits: token-bucket rate limits and caps on concurrent
//! connections, each keyed by device or IP. Small and in-process on
//! purpose: one server, a handful of keys per user, no extra dependency.

use crate::config::Settings;
use app::protocol::DeviceId;
use std::collections::HashMap;
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
            newcomer_messages: RateLimiter::new(
                settings.newcomer_burst,
                Duration::from_millis(settings.newcomer_refill_ms),
            ),
            connects: RateLimiter::new(settings.connect_burst, Duration::from_secs(1)),
            per_device: ConnectionCap::new(settings.max_conns_per_device),
            per_ip: ConnectionCap::new(settings.max_conns_per_ip),
        }
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

/// Keys kept before idle (full) buckets are dropped.
const PRUNE_ABOVE: usize = 10_000;

struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// `burst` actions at once, then one more every `refill`.
pub struct RateLimiter<K> {
    burst: f64,
    refill: Duration,
    buckets: Mutex<HashMap<K, Bucket>>,
}

impl<K: Hash + Eq + Clone> RateLimiter<K> {
    pub fn new(burst: u32, refill: Duration) -> Self {
        Self {
            burst: f64::from(burst.max(1)),
            refill: refill.max(Duration::from_millis(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token, or says how long until one is available.
    pub fn check(&self, key: &K) -> Result<(), Duration> {
        self.check_at(key, Instant::now())
    }

    /// How long until `key` has a token, without taking one.
    pub fn wait(&self, key: &K) -> Duration {
        let Ok(buckets) = self.buckets.lock() else {
            return Duration::ZERO;
        };
        let Some(bucket) = buckets.get(key) else {
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
        let Ok(mut buckets) = self.buckets.lock() else {
            return Ok(()); // a poisoned limiter must not take the chat down
        };
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
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) * per_token))
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
    fn connection_slots_are_returned_on_drop() {
        let cap = ConnectionCap::new(2);
        let a = cap.acquire("ip").expect("first");
        let _b = cap.acquire("ip").expect("second");
        assert!(cap.acquire("ip").is_none());
        drop(a);
        assert!(cap.acquire("ip").is_some());
    }
}
