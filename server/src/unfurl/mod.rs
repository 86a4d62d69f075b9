//! Link previews: after a message with a link is stored, the server reads
//! the linked page's title, description and picture and adds a card to the
//! message as a later change, so sending never waits for another site.
//! The page and its picture are fetched through the outbound guard
//! (`egress`), the picture is re-encoded and stored like a photo's
//! thumbnail (readers never contact the site), and what was found is kept
//! a while per URL.

mod fetch;
mod meta;

pub use fetch::MAX_REDIRECTS;

use crate::base::now_ms;
use crate::egress::Policy;
use crate::files::Files;
use crate::metrics::Metrics;
use crate::store::{Change, Store};
use app::protocol::{ChatMessage, DeviceId, LinkPreview, MessageId};
use fetch::{Fetcher, Want};
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// The setting an owner turns previews off with (`"off"`).
pub const SETTING: &str = "previews";
/// Everything about one link, redirects and picture included.
const DEADLINE: Duration = Duration::from_secs(5);
/// Most of a page read: its head, where the tags are, comes first.
const PAGE_BYTES: usize = 1024 * 1024;
/// Fetches at once; more wait their turn.
const AT_ONCE: usize = 16;
/// Links waiting beyond those are not previewed (a flood of links).
const MAX_WAITING: usize = 256;
/// URLs whose outcome is kept, and for how long.
const CACHED: NonZeroUsize = NonZeroUsize::new(1024).expect("not zero");
const CARD_TTL: Duration = Duration::from_secs(60 * 60);
const FAILURE_TTL: Duration = Duration::from_secs(10 * 60);

pub struct Unfurler {
    store: Arc<dyn Store>,
    files: Arc<Files>,
    metrics: Arc<Metrics>,
    fetcher: Fetcher,
    at_once: Semaphore,
    waiting: AtomicUsize,
    /// A URL's card (without a picture: `None`) and when it was made.
    cache: Mutex<lru::LruCache<String, (Instant, Option<LinkPreview>)>>,
}

impl Unfurler {
    pub fn new(
        store: Arc<dyn Store>,
        files: Arc<Files>,
        metrics: Arc<Metrics>,
        policy: Policy,
    ) -> Result<Arc<Self>, reqwest::Error> {
        Ok(Arc::new(Self {
            store,
            files,
            metrics,
            fetcher: Fetcher::new(policy, DEADLINE)?,
            at_once: Semaphore::new(AT_ONCE),
            waiting: AtomicUsize::new(0),
            cache: Mutex::new(lru::LruCache::new(CACHED)),
        }))
    }

    /// Makes a card for the message's first link, in the background, if
    /// it has a link without one; `device` is its author's.
    pub fn schedule(self: &Arc<Self>, device: DeviceId, message: &ChatMessage) {
        // Plain text (most messages) has no link.
        if message.rich.is_none() || message.deleted {
            return;
        }
        let Some(link) = app::rich::first_link(&message.msg) else {
            return;
        };
        if message.preview.as_ref().is_some_and(|p| p.url == link) {
            return;
        }
        if self.waiting.fetch_add(1, Ordering::Relaxed) >= MAX_WAITING {
            self.waiting.fetch_sub(1, Ordering::Relaxed);
            self.metrics.previews_skipped.inc();
            return;
        }
        let this = self.clone();
        let id = message.id;
        tokio::spawn(async move {
            this.unfurl(device, id, link).await;
            this.waiting.fetch_sub(1, Ordering::Relaxed);
        });
    }

    async fn unfurl(&self, device: DeviceId, id: MessageId, link: String) {
        match self.store.setting(SETTING).await {
            Ok(Some(off)) if off == "off" => {
                self.metrics.previews_skipped.inc();
                return;
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "could not read the preview setting");
                return;
            }
        }
        let card = match self.cached(&link) {
            Some(card) => card,
            None => {
                let card = self.make(&link).await;
                if let Ok(mut cache) = self.cache.lock() {
                    cache.put(link.clone(), (Instant::now(), card.clone()));
                }
                card
            }
        };
        let Some(card) = card else {
            return;
        };
        match self
            .store
            .change(device, id, Change::Preview(card), now_ms())
            .await
        {
            Ok(message) if message.preview.is_some() => {
                self.metrics.previews_made.inc();
            }
            // Edited, or its card taken away, meanwhile.
            Ok(_) => {}
            // Deleted or moved out of reach meanwhile.
            Err(e) => tracing::debug!(error = %e, "preview not added"),
        }
    }

    fn cached(&self, link: &str) -> Option<Option<LinkPreview>> {
        let mut cache = self.cache.lock().ok()?;
        let (at, card) = cache.get(link)?;
        let ttl = if card.is_some() {
            CARD_TTL
        } else {
            FAILURE_TTL
        };
        (at.elapsed() < ttl).then(|| card.clone())
    }

    /// Fetches the page and its picture; `None` when there is no card.
    async fn make(&self, link: &str) -> Option<LinkPreview> {
        let url = url::Url::parse(link).ok()?;
        let _turn = self.at_once.acquire().await.ok()?;
        let page = match self.fetcher.get(url, Want::Page { max: PAGE_BYTES }).await {
            Ok(page) => page,
            Err(e) => {
                self.failed(&e);
                tracing::info!(error = %e, "no link preview");
                return None;
            }
        };
        let html = meta::decode(&page.body, &page.kind);
        let meta = meta::Meta::read(&html);
        let mut card = meta.card(link, &page.url)?;
        if let Some(src) = meta.image(&page.url) {
            card.image = self.picture(src).await;
        }
        Some(card)
    }

    /// The page's picture, re-encoded and stored; none if it cannot be.
    async fn picture(&self, src: url::Url) -> Option<app::protocol::PreviewImage> {
        let want = Want::Image {
            max: self.files.max_bytes,
        };
        let bytes = match self.fetcher.get(src, want).await {
            Ok(fetched) => fetched.body,
            Err(e) => {
                self.failed(&e);
                tracing::info!(error = %e, "no picture for a link preview");
                return None;
            }
        };
        match self.files.take_preview_image(bytes).await {
            Ok(image) => Some(image),
            Err(e) => {
                tracing::info!(error = %e, "a link preview's picture was not taken");
                None
            }
        }
    }

    fn failed(&self, e: &fetch::FetchError) {
        if e.refused() {
            self.metrics.previews_refused.inc();
        } else {
            self.metrics.previews_failed.inc();
        }
    }
}
