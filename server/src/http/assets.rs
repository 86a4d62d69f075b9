//! The built site's files (`chat.js`, `chat.wasm`, `chat.css`, and the
//! lazily loaded WASM chunks with their loader) under the release's
//! content hash: `/pkg/<hash>/<file>`, cached by browsers for a year as
//! immutable. A directory rather than a hashed file name, because the
//! chunk loader imports `./chat.js` and fetches `./<chunk>.wasm` by
//! relative URL: every file of one release resolves inside its own
//! directory. The hash covers every file, so it also names the release:
//! the service worker and `X-Chat-Version` use it, and a page never pairs
//! one release's HTML with another's WASM.
//!
//! `server precompress` (run after each build) writes brotli and gzip
//! copies beside them, served to browsers that ask for them.

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::header::CACHE_CONTROL;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use std::io::Write;
use std::path::PathBuf;
use tower::ServiceExt;
use tower_http::services::ServeFile;

/// The files every page loads, as cargo-leptos names them.
const FILES: [&str; 3] = ["chat.js", "chat.wasm", STYLESHEET];
const STYLESHEET: &str = "chat.css";
/// Extensions worth compressing ahead of time.
const COMPRESSIBLE: [&str; 4] = ["js", "wasm", "css", "html"];

pub struct Assets {
    pkg: PathBuf,
    /// This release's files: the three above and the split chunks.
    files: Vec<String>,
    /// First 16 hex digits of the SHA-256 over those files.
    version: String,
    /// The stylesheet's text, put in each page: a phone on a slow network
    /// would otherwise wait a whole round trip for it before the first
    /// paint (and the early script, which the pending stylesheet blocks).
    stylesheet: Option<std::sync::Arc<str>>,
}

/// The stylesheet as a `<style>` element's text, if it can be one: valid
/// UTF-8 that cannot end the element early.
fn inline_text(bytes: Vec<u8>) -> Option<std::sync::Arc<str>> {
    let text = String::from_utf8(bytes).ok()?;
    (!text.to_ascii_lowercase().contains("</style")).then(|| text.into())
}

/// Whether a file in `pkg/` belongs to the release (not a compressed copy,
/// a type declaration or the build's split manifest).
fn is_release_file(name: &str) -> bool {
    let served = name.ends_with(".js") || name.ends_with(".wasm") || name.ends_with(".css");
    served && !name.starts_with('.')
}

impl Assets {
    /// Hashes the site's files. A missing file (a server started without a
    /// built site, as in some tests) hashes as its name.
    pub fn load(site_root: &str) -> Self {
        let pkg = PathBuf::from(site_root).join("pkg");
        let mut files: Vec<String> = std::fs::read_dir(&pkg)
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|name| is_release_file(name))
            .chain(FILES.iter().map(|f| (*f).to_owned()))
            .collect();
        files.sort();
        files.dedup();
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
        for file in &files {
            ctx.update(file.as_bytes());
            ctx.update(b"\0");
            match std::fs::read(pkg.join(file)) {
                Ok(bytes) => ctx.update(&bytes),
                Err(_) => ctx.update(b"missing"),
            }
            ctx.update(b"\0");
        }
        ctx.update(env!("CARGO_PKG_VERSION").as_bytes());
        let digest = ctx.finish();
        let version = digest.as_ref()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let stylesheet = std::fs::read(pkg.join(STYLESHEET))
            .ok()
            .and_then(inline_text);
        Self {
            pkg,
            files,
            version,
            stylesheet,
        }
    }

    /// The stylesheet every page carries inline (`None`: pages link it).
    pub fn stylesheet(&self) -> Option<std::sync::Arc<str>> {
        self.stylesheet.clone()
    }

    pub fn version(&self) -> &str {
        &self.version
    }

    /// Where Leptos links the JS, WASM and stylesheet from: `pkg/<hash>`.
    pub fn pkg_dir(&self) -> String {
        format!("pkg/{}", self.version)
    }

    /// The URLs of every file of the release the page uses (what the
    /// service worker keeps for offline use): not the stylesheet when the
    /// pages carry it.
    pub fn urls(&self) -> Vec<String> {
        self.files
            .iter()
            .filter(|f| self.stylesheet.is_none() || *f != STYLESHEET)
            .map(|f| format!("/{}/{f}", self.pkg_dir()))
            .collect()
    }

    /// The file behind `/pkg/<version>/<name>`, if it is this release's.
    fn release_file(&self, version: &str, name: &str) -> Option<PathBuf> {
        (version == self.version && self.files.iter().any(|f| f == name))
            .then(|| self.pkg.join(name))
    }

    /// The file behind a plain `/pkg/<name>`, revalidated on every use
    /// (the pages without the WASM link the stylesheet this way).
    fn plain_file(&self, name: &str) -> Option<PathBuf> {
        let plain = !name.is_empty()
            && !name.starts_with('.')
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
        plain.then(|| self.pkg.join(name))
    }
}

/// `GET /pkg/{version}/{file}`: a file of this release, cached for a year.
pub async fn serve_release(
    State(assets): State<std::sync::Arc<Assets>>,
    Path((version, name)): Path<(String, String)>,
    req: Request<Body>,
) -> Response {
    match assets.release_file(&version, &name) {
        Some(path) => send(path, true, req).await,
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// `GET /pkg/{file}`: a file under its plain name, revalidated.
pub async fn serve_plain(
    State(assets): State<std::sync::Arc<Assets>>,
    Path(name): Path<String>,
    req: Request<Body>,
) -> Response {
    match assets.plain_file(&name) {
        Some(path) => send(path, false, req).await,
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The file, precompressed when the browser accepts it.
async fn send(path: PathBuf, immutable: bool, req: Request<Body>) -> Response {
    let service = ServeFile::new(path).precompressed_br().precompressed_gzip();
    let mut res = match service.oneshot(req).await {
        Ok(res) => res.into_response(),
        Err(never) => match never {},
    };
    if res.status().is_success() {
        let policy = if immutable {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        };
        res.headers_mut()
            .insert(CACHE_CONTROL, HeaderValue::from_static(policy));
    }
    res
}

/// Writes `<file>.br` and `<file>.gz` beside every compressible file in
/// the site's `pkg/`, each atomically (a temporary file renamed into place).
pub fn precompress(site_root: &str) -> std::io::Result<()> {
    let pkg = PathBuf::from(site_root).join("pkg");
    for entry in std::fs::read_dir(&pkg)? {
        let path = entry?.path();
        let compressible = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| COMPRESSIBLE.contains(&e));
        if !compressible {
            continue;
        }
        let raw = std::fs::read(&path)?;
        let mut br = Vec::new();
        {
            // Quality 11 and a 4 MiB window: slow once at build time, the
            // smallest files for every visit after.
            let mut w = brotli::CompressorWriter::new(&mut br, 64 * 1024, 11, 22);
            w.write_all(&raw)?;
        }
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&raw)?;
        let gz = gz.finish()?;
        for (suffix, bytes) in [("br", &br), ("gz", &gz)] {
            let target = PathBuf::from(format!("{}.{suffix}", path.display()));
            let tmp = PathBuf::from(format!("{}.{suffix}.tmp", path.display()));
            std::fs::write(&tmp, bytes)?;
            std::fs::rename(&tmp, &target)?;
        }
        tracing::info!(
            file = %path.display(),
            raw = raw.len(),
            brotli = br.len(),
            gzip = gz.len(),
            "precompressed"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_content() {
        let dir = tempfile::tempdir().expect("temp dir");
        let pkg = dir.path().join("pkg");
        std::fs::create_dir_all(&pkg).expect("dir");
        for f in FILES.iter().chain(&["chunk_1.wasm", "__wasm_split.js"]) {
            std::fs::write(pkg.join(f), f).expect("write");
        }
        std::fs::write(pkg.join("chat.wasm.br"), "x").expect("write");
        let root = dir.path().to_str().expect("utf8");
        let a = Assets::load(root);
        let v = a.version().to_owned();
        assert_eq!(v.len(), 16);
        assert_eq!(Assets::load(root).version(), v, "stable");
        assert_eq!(
            a.urls(),
            ["__wasm_split.js", "chat.js", "chat.wasm", "chunk_1.wasm"]
                .map(|f| format!("/pkg/{v}/{f}")),
            "the stylesheet is in the page, not kept apart"
        );
        assert_eq!(a.stylesheet().as_deref(), Some("chat.css"));
        assert!(a.release_file(&v, "chat.css").is_some(), "still served");
        assert_eq!(
            a.release_file(&v, "chunk_1.wasm"),
            Some(pkg.join("chunk_1.wasm"))
        );
        assert_eq!(
            a.release_file("0000000000000000", "chat.css"),
            None,
            "another release"
        );
        assert_eq!(
            a.release_file(&v, "chat.wasm.br"),
            None,
            "only release files"
        );
        assert_eq!(a.release_file(&v, "../secret"), None);
        assert_eq!(a.plain_file("chat.css"), Some(pkg.join("chat.css")));
        assert_eq!(a.plain_file("../secret"), None);
        assert_eq!(a.plain_file(".hidden"), None);
        std::fs::write(pkg.join("chunk_1.wasm"), "changed").expect("write");
        assert_ne!(Assets::load(root).version(), v, "a changed chunk renames");
    }

    #[test]
    fn a_stylesheet_that_could_end_its_element_is_linked_instead() {
        let dir = tempfile::tempdir().expect("temp dir");
        let pkg = dir.path().join("pkg");
        std::fs::create_dir_all(&pkg).expect("dir");
        let root = dir.path().to_str().expect("utf8");
        for bad in [&b"a::after{content:'</STYLE><script>'}"[..], &[0xff, 0xfe]] {
            std::fs::write(pkg.join("chat.css"), bad).expect("write");
            let a = Assets::load(root);
            assert_eq!(a.stylesheet(), None);
            assert!(a.urls().iter().any(|u| u.ends_with("/chat.css")));
        }
    }

    #[test]
    fn precompressed_copies_decompress_to_the_original() {
        let dir = tempfile::tempdir().expect("temp dir");
        let pkg = dir.path().join("pkg");
        std::fs::create_dir_all(&pkg).expect("dir");
        let body = "body { color: red }\n".repeat(200);
        std::fs::write(pkg.join("chat.css"), &body).expect("write");
        std::fs::write(pkg.join("icon.png"), [0u8; 10]).expect("write");
        precompress(dir.path().to_str().expect("utf8")).expect("compresses");
        let br = std::fs::read(pkg.join("chat.css.br")).expect("br written");
        let mut out = Vec::new();
        brotli::BrotliDecompress(&mut br.as_slice(), &mut out).expect("valid brotli");
        assert_eq!(out, body.as_bytes());
        assert!(br.len() < body.len() / 10);
        assert!(pkg.join("chat.css.gz").exists());
        assert!(!pkg.join("icon.png.br").exists(), "only compressible types");
    }
}
