//! The built site's files (`pkg/chat.js`, `chat.wasm`, `chat.css`) under
//! content-hashed names: `/pkg/chat.<hash>.<ext>`, cached by browsers for
//! a year as immutable. The hash covers all three files, so it also names
//! the release: the service worker and `X-Chat-Version` use it, and a page
//! never pairs one release's HTML with another's WASM.
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

/// The files the page loads, as cargo-leptos names them.
const FILES: [&str; 3] = ["chat.js", "chat.wasm", "chat.css"];
/// Extensions worth compressing ahead of time.
const COMPRESSIBLE: [&str; 4] = ["js", "wasm", "css", "html"];

pub struct Assets {
    pkg: PathBuf,
    /// First 16 hex digits of the SHA-256 over the three files.
    version: String,
}

impl Assets {
    /// Hashes the site's files. A missing file (a server started without a
    /// built site, as in some tests) hashes as its name.
    pub fn load(site_root: &str) -> Self {
        let pkg = PathBuf::from(site_root).join("pkg");
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
        for file in FILES {
            match std::fs::read(pkg.join(file)) {
                Ok(bytes) => ctx.update(&bytes),
                Err(_) => ctx.update(file.as_bytes()),
            }
            ctx.update(b"\0");
        }
        ctx.update(env!("CARGO_PKG_VERSION").as_bytes());
        let digest = ctx.finish();
        let version = digest.as_ref()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Self { pkg, version }
    }

    pub fn version(&self) -> &str {
        &self.version
    }

    /// What Leptos calls the JS and WASM: `chat.<hash>`; the stylesheet
    /// follows the same pattern.
    pub fn output_name(&self) -> String {
        format!("chat.{}", self.version)
    }

    /// The URLs of the three files.
    pub fn urls(&self) -> Vec<String> {
        FILES.iter().map(|f| self.hashed(f)).collect()
    }

    fn hashed(&self, file: &str) -> String {
        let (stem, ext) = file.split_once('.').unwrap_or((file, ""));
        format!("/pkg/{stem}.{}.{ext}", self.version)
    }

    /// The file behind a request for `/pkg/<name>`, and whether the name
    /// is this release's hashed one (and so immutable).
    fn resolve(&self, name: &str) -> Option<(PathBuf, bool)> {
        for file in FILES {
            if self.hashed(file) == format!("/pkg/{name}") {
                return Some((self.pkg.join(file), true));
            }
        }
        // Plain names are still served, revalidated (the pages without the
        // WASM link the stylesheet this way).
        let plain = !name.is_empty()
            && !name.starts_with('.')
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
        plain.then(|| (self.pkg.join(name), false))
    }
}

/// `GET /pkg/{file}`: the file, precompressed when the browser accepts it,
/// cached for a year if its name carries the release hash.
pub async fn serve(
    State(assets): State<std::sync::Arc<Assets>>,
    Path(name): Path<String>,
    req: Request<Body>,
) -> Response {
    let Some((path, immutable)) = assets.resolve(&name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
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
        for f in FILES {
            std::fs::write(pkg.join(f), f).expect("write");
        }
        let root = dir.path().to_str().expect("utf8");
        let a = Assets::load(root);
        assert_eq!(a.version().len(), 16);
        assert_eq!(Assets::load(root).version(), a.version(), "stable");
        let css = format!("chat.{}.css", a.version());
        assert_eq!(a.resolve(&css), Some((pkg.join("chat.css"), true)));
        assert_eq!(a.resolve("chat.css"), Some((pkg.join("chat.css"), false)));
        assert_eq!(a.resolve("../secret"), None);
        assert_eq!(a.resolve(".hidden"), None);
        std::fs::write(pkg.join("chat.css"), "changed").expect("write");
        assert_ne!(
            Assets::load(root).version(),
            a.version(),
            "a change renames"
        );
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
