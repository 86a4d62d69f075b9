//! Room pages kept as rendered and compressed. The server renders a page
//! from its `ChatSnapshot` alone (no clock, no request header: times and
//! days are UTC until the app is live), so one snapshot always renders
//! the same bytes but for the CSP nonce, which each response must have
//! fresh. A page is therefore rendered with a stand-in nonce, cut at each
//! stand-in, and each piece brotli-compressed on its own as a stream that
//! can be concatenated; the next request with the same snapshot gets the
//! pieces joined around its own nonce (compressed once, 32 bytes) by the
//! brotli crate's `BroCatli`, a copy with bit shifts at the seams. That
//! request costs its store reads and the snapshot's serialization, not a
//! render and a compression of the whole page.
//!
//! The key is a keyed hash of the snapshot's JSON and its length: the
//! hash's key is random per process, so nobody can craft a snapshot that
//! lands on another's page. A snapshot differs per viewer (their name,
//! their unread figures) and per room state, so what is kept is one
//! viewer's view at one moment; a new message makes a new snapshot, and
//! the stale one ages out of the LRU.

use crate::http::compress::joinable;
use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use brotli::concat::{BroCatli, BroCatliResult};
use lru::LruCache;
use std::hash::{BuildHasher, Hasher, RandomState};
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

/// Pages larger than this are not kept (a page is ~75 KB with 50 rooms).
const MAX_PAGE: usize = 2 * 1024 * 1024;

/// Which snapshot a page was rendered from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PageKey {
    hash: u64,
    len: usize,
}

/// A rendered page, compressed in pieces that the nonce goes between.
pub struct Page {
    status: StatusCode,
    headers: HeaderMap,
    /// Brotli streams, each concatenable; `pieces.len() - 1` nonces.
    pieces: Vec<Vec<u8>>,
}

pub struct PageCache {
    /// What the page is rendered with in place of a nonce: random, so no
    /// message text can be taken for it.
    stand_in: String,
    hasher: RandomState,
    pages: Mutex<LruCache<PageKey, Arc<Page>>>,
}

impl PageCache {
    pub fn new(capacity: usize) -> Self {
        PageCache {
            stand_in: uuid::Uuid::new_v4().simple().to_string(),
            hasher: RandomState::new(),
            pages: Mutex::new(LruCache::new(
                NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN),
            )),
        }
    }

    /// The nonce a page to be kept is rendered with.
    pub fn stand_in(&self) -> &str {
        &self.stand_in
    }

    /// The key of what `snapshot` renders; `None` if it cannot be written
    /// as JSON (then the page is rendered as any other).
    pub fn key<T: serde::Serialize>(&self, snapshot: &T) -> Option<PageKey> {
        let mut writer = HashWriter {
            hasher: self.hasher.build_hasher(),
            len: 0,
        };
        serde_json::to_writer(&mut writer, snapshot).ok()?;
        Some(PageKey {
            hash: writer.hasher.finish(),
            len: writer.len,
        })
    }

    pub fn get(&self, key: PageKey) -> Option<Arc<Page>> {
        self.pages.lock().ok()?.get(&key).cloned()
    }

    /// Keeps a page rendered with the stand-in nonce. `None` for what is
    /// not a whole successful page (the caller renders it afresh with the
    /// real nonce: the stand-in must never reach a browser).
    pub async fn keep(&self, key: PageKey, res: Response) -> Option<Arc<Page>> {
        if res.status() != StatusCode::OK || res.headers().contains_key(header::CONTENT_ENCODING) {
            return None;
        }
        let (parts, body) = res.into_parts();
        let bytes = axum::body::to_bytes(body, MAX_PAGE).await.ok()?;
        let mut headers = parts.headers;
        headers.remove(header::CONTENT_LENGTH);
        let page = Arc::new(Page {
            status: parts.status,
            headers,
            pieces: self.compress_pieces(&bytes)?,
        });
        if let Ok(mut pages) = self.pages.lock() {
            pages.put(key, page.clone());
        }
        Some(page)
    }

    fn compress_pieces(&self, page: &[u8]) -> Option<Vec<Vec<u8>>> {
        let finder = memchr::memmem::Finder::new(self.stand_in.as_bytes());
        let mut pieces = Vec::new();
        let mut start = 0;
        for at in finder.find_iter(page) {
            pieces.push(joinable(&page[start..at], pieces.is_empty())?);
            start = at + self.stand_in.len();
        }
        pieces.push(joinable(&page[start..], pieces.is_empty())?);
        Some(pieces)
    }
}

impl Page {
    /// The page with `nonce` where it was rendered with the stand-in,
    /// brotli-encoded.
    pub fn response(&self, nonce: &str) -> Option<Response> {
        let nonce = joinable(nonce.as_bytes(), false)?;
        let size = self.pieces.iter().map(Vec::len).sum::<usize>()
            + nonce.len() * (self.pieces.len() - 1)
            + 16;
        let mut joined = Joiner {
            cat: BroCatli::new(),
            out: vec![0; size],
            at: 0,
        };
        for (i, piece) in self.pieces.iter().enumerate() {
            if i > 0 {
                joined.add(&nonce)?;
            }
            joined.add(piece)?;
        }
        let body = joined.finish()?;
        let mut res = Response::new(Body::from(body));
        *res.status_mut() = self.status;
        *res.headers_mut() = self.headers.clone();
        let h = res.headers_mut();
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("br"));
        h.append(header::VARY, HeaderValue::from_static("accept-encoding"));
        Some(res)
    }
}

/// `BroCatli` into a buffer sized for the whole page (the joined stream
/// is never longer than its pieces, plus a closing byte or two).
struct Joiner {
    cat: BroCatli,
    out: Vec<u8>,
    at: usize,
}

impl Joiner {
    fn add(&mut self, stream: &[u8]) -> Option<()> {
        self.cat.new_brotli_file();
        let mut read = 0;
        while read < stream.len() {
            match self
                .cat
                .stream(stream, &mut read, &mut self.out, &mut self.at)
            {
                BroCatliResult::NeedsMoreInput => {}
                BroCatliResult::NeedsMoreOutput => self.out.resize(self.out.len() * 2 + 64, 0),
                other => {
                    tracing::error!(result = ?other, "cached page pieces could not be joined");
                    return None;
                }
            }
        }
        Some(())
    }

    fn finish(mut self) -> Option<Vec<u8>> {
        loop {
            match self.cat.finish(&mut self.out, &mut self.at) {
                BroCatliResult::Success => break,
                BroCatliResult::NeedsMoreOutput => self.out.resize(self.out.len() * 2 + 64, 0),
                other => {
                    tracing::error!(result = ?other, "cached page could not be closed");
                    return None;
                }
            }
        }
        self.out.truncate(self.at);
        Some(self.out)
    }
}

/// Feeds serialized JSON to a hasher without building the string.
struct HashWriter<H: Hasher> {
    hasher: H,
    len: usize,
}

impl<H: Hasher> std::io::Write for HashWriter<H> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.hasher.write(buf);
        self.len += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unbrotli(body: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        brotli::BrotliDecompress(&mut &body[..], &mut out).expect("valid brotli");
        out
    }

    fn page_with(cache: &PageCache, nonce: &str) -> String {
        format!(
            "<!DOCTYPE html><html><head><style nonce=\"{n}\">body{{margin:0}}</style>\
             <script nonce=\"{n}\">start()</script></head><body><ol>{rows}</ol>\
             <script nonce=\"{n}\">early()</script></body></html>",
            n = nonce,
            rows = (0..50)
                .map(|i| format!("<li class=\"message\" data-id=\"{i}\">message number {i}</li>"))
                .collect::<String>()
        ) + &"x".repeat(cache.stand_in.len() % 7)
    }

    async fn body_of(res: Response) -> Vec<u8> {
        axum::body::to_bytes(res.into_body(), usize::MAX)
            .await
            .expect("body")
            .to_vec()
    }

    #[tokio::test]
    async fn a_kept_page_is_the_rendered_page_with_each_requests_nonce() {
        let cache = PageCache::new(4);
        let rendered = page_with(&cache, cache.stand_in());
        let mut res = Response::new(Body::from(rendered));
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        let key = cache.key(&"snapshot").expect("key");
        let page = cache.keep(key, res).await.expect("kept");
        assert_eq!(page.pieces.len(), 4, "three nonces cut the page in four");
        for nonce in [
            "0123456789abcdef0123456789abcdef",
            "ffffffffffffffffffffffffffffffff",
        ] {
            let res = cache
                .get(key)
                .expect("found")
                .response(nonce)
                .expect("joined");
            assert_eq!(res.headers()[header::CONTENT_ENCODING], "br");
            assert_eq!(
                res.headers()[header::CONTENT_TYPE],
                "text/html; charset=utf-8"
            );
            let html = String::from_utf8(unbrotli(&body_of(res).await)).expect("utf-8");
            assert_eq!(html, page_with(&cache, nonce));
            assert!(
                !html.contains(cache.stand_in()),
                "the stand-in never leaves"
            );
        }
    }

    #[tokio::test]
    async fn a_page_without_a_nonce_is_kept_whole() {
        let cache = PageCache::new(4);
        let key = cache.key(&1).expect("key");
        let page = cache
            .keep(key, Response::new(Body::from("<p>plain</p>")))
            .await
            .expect("kept");
        let body = body_of(page.response("n").expect("joined")).await;
        assert_eq!(unbrotli(&body), b"<p>plain</p>");
    }

    #[tokio::test]
    async fn a_nonce_at_either_end_leaves_empty_pieces_that_still_join() {
        let cache = PageCache::new(4);
        let key = cache.key(&3).expect("key");
        let rendered = format!("{0}<p>middle</p>{0}", cache.stand_in());
        let page = cache
            .keep(key, Response::new(Body::from(rendered)))
            .await
            .expect("kept");
        let body = body_of(page.response("abc").expect("joined")).await;
        assert_eq!(unbrotli(&body), b"abc<p>middle</p>abc");
    }

    #[tokio::test]
    async fn only_whole_successful_pages_are_kept() {
        let cache = PageCache::new(4);
        let key = cache.key(&2).expect("key");
        let mut res = Response::new(Body::from("gone"));
        *res.status_mut() = StatusCode::NOT_FOUND;
        assert!(cache.keep(key, res).await.is_none());
        assert!(cache.get(key).is_none());
    }

    #[test]
    fn keys_tell_snapshots_apart_and_know_them_again() {
        let cache = PageCache::new(4);
        let a = cache.key(&("room", 41)).expect("key");
        assert_eq!(Some(a), cache.key(&("room", 41)));
        assert_ne!(Some(a), cache.key(&("room", 42)));
        let other = PageCache::new(4);
        assert_ne!(
            other.key(&("room", 41)).map(|k| k.hash),
            Some(a.hash),
            "each process hashes with its own key"
        );
    }
}
