//! Photos and files: what a file is is judged by its content, photos are
//! re-encoded (upright, without metadata) with a thumbnail, and the
//! result is stored once by the hash of its content; a message then refers
//! to the upload. The HTTP side is `http::files`.

mod process;
mod sniff;

pub use process::Budget;

use crate::base::now_ms;
use crate::store::blobs::Blobs;
use crate::store::{Store, StoreError};
use app::protocol::{Attachment, DeviceId, ImageInfo, Uploaded};
use sniff::Sniffed;
use std::sync::Arc;
use std::time::Duration;

pub struct Files {
    pub store: Arc<dyn Store>,
    pub blobs: Arc<dyn Blobs>,
    /// Largest file accepted, in bytes.
    pub max_bytes: usize,
    /// A blob younger than this is never swept: its upload may still be
    /// on its way into the database.
    pub sweep_grace: Duration,
    /// Bytes all stored files may take together.
    pub quota: u64,
    /// Memory all photo processing may take at once.
    pub decodes: process::Budget,
}

/// How long a photo waits for its share of the decode budget.
const DECODE_PATIENCE: Duration = Duration::from_secs(30);

/// An upload not sent within this long is forgotten, with its file.
const UPLOAD_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// Why a file was not taken; each says what the person can do.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error("The file is empty.")]
    Empty,
    #[error("The file is larger than {0} MB.")]
    TooLarge(usize),
    #[error("HTML and SVG files are not accepted: a browser could run what is inside them.")]
    Markup,
    #[error("{0}. Is it really a photo?")]
    NotAPhoto(String),
    #[error("The photo is {0}×{1} pixels; photos of up to {max} megapixels are accepted.", max = process::MAX_PIXELS / 1_000_000)]
    TooManyPixels(u32, u32),
    #[error("This photo cannot be taken: {0}. Try a smaller one.")]
    TooMuchMemory(process::BudgetError),
    #[error("Not now: {0}. Please try again in a moment.")]
    Busy(process::BudgetError),
    #[error("The chat's storage for files is full. Ask whoever runs it to make room.")]
    QuotaFull,
    #[error("the file could not be stored: {0}")]
    Internal(#[from] crate::base::BoxError),
}

impl From<StoreError> for UploadError {
    fn from(e: StoreError) -> Self {
        UploadError::Internal(Box::new(e))
    }
}

impl From<std::io::Error> for UploadError {
    fn from(e: std::io::Error) -> Self {
        UploadError::Internal(Box::new(e))
    }
}

impl Files {
    /// Takes a file of `device`'s: checks what it is, re-encodes a photo,
    /// stores it and records the upload (which a message then refers to).
    pub async fn take(
        &self,
        device: DeviceId,
        name: Option<&str>,
        bytes: Vec<u8>,
    ) -> Result<Uploaded, UploadError> {
        if bytes.is_empty() {
            return Err(UploadError::Empty);
        }
        if bytes.len() > self.max_bytes {
            return Err(UploadError::TooLarge(self.max_bytes / (1024 * 1024)));
        }
        let kind = Sniffed::of(&bytes);
        if kind == Sniffed::Markup {
            return Err(UploadError::Markup);
        }
        let name = file_name(name);
        let processed = if kind.is_image() {
            Some(self.process(&bytes, kind).await?)
        } else {
            None
        };
        let incoming = processed
            .as_ref()
            .map_or(bytes.len(), |p| p.full.len() + p.thumb.len()) as u64;
        if self.store.stored_bytes().await? + incoming > self.quota {
            return Err(UploadError::QuotaFull);
        }
        let attachment = self.store_file(processed, bytes, kind, name).await?;
        let upload = self
            .store
            .create_upload(device, attachment.clone(), now_ms())
            .await?;
        Ok(Uploaded { upload, attachment })
    }

    /// A link preview's picture: judged by its content and re-encoded like
    /// a photo, kept at thumbnail size only.
    pub async fn take_preview_image(
        &self,
        bytes: Vec<u8>,
    ) -> Result<app::protocol::PreviewImage, UploadError> {
        if bytes.is_empty() {
            return Err(UploadError::Empty);
        }
        if bytes.len() > self.max_bytes {
            return Err(UploadError::TooLarge(self.max_bytes / (1024 * 1024)));
        }
        let kind = Sniffed::of(&bytes);
        if !kind.is_image() {
            return Err(UploadError::NotAPhoto("It is not a picture".into()));
        }
        let p = self.process(&bytes, kind).await?;
        let size = p.thumb.len() as u64;
        if self.store.stored_bytes().await? + size > self.quota {
            return Err(UploadError::QuotaFull);
        }
        let (width, height) = p.thumb_size;
        let id = self.blobs.put(p.thumb).await?;
        self.store
            .record_blob(id.clone(), p.mime.into(), size, true)
            .await?;
        Ok(app::protocol::PreviewImage { id, width, height })
    }

    /// A photo re-encoded: upright, without EXIF (no location), with a
    /// thumbnail. Off the async threads: decoding is CPU work. What it will
    /// take is read from its header first: a decompression bomb is refused
    /// before anything is decoded, and all decodes at once stay within the
    /// memory budget.
    async fn process(
        &self,
        bytes: &[u8],
        kind: Sniffed,
    ) -> Result<process::Processed, UploadError> {
        let measured =
            process::measure(bytes, kind).map_err(|e| UploadError::NotAPhoto(e.to_string()))?;
        if measured.pixels() > process::MAX_PIXELS {
            return Err(UploadError::TooManyPixels(measured.width, measured.height));
        }
        let cost = measured.cost_bytes();
        let permit = self
            .decodes
            .take(cost, DECODE_PATIENCE)
            .await
            .map_err(|e| match e {
                process::BudgetError::TooLarge => UploadError::TooMuchMemory(e),
                process::BudgetError::Busy => UploadError::Busy(e),
            })?;
        let raw = bytes.to_vec();
        let decoded = tokio::task::spawn_blocking(move || {
            let result = process::process(&raw, kind, cost);
            drop(permit);
            result
        });
        match decoded.await {
            Ok(Ok(p)) => Ok(p),
            Ok(Err(e)) => Err(UploadError::NotAPhoto(e.to_string())),
            Err(e) => Err(UploadError::Internal(Box::new(e))),
        }
    }

    /// Stores the file (and its thumbnail) and describes it.
    async fn store_file(
        &self,
        processed: Option<process::Processed>,
        raw: Vec<u8>,
        kind: Sniffed,
        name: String,
    ) -> Result<Attachment, UploadError> {
        Ok(match processed {
            Some(p) => {
                let size = p.full.len() as u64;
                let thumb_size = p.thumb.len() as u64;
                let id = self.blobs.put(p.full).await?;
                let thumb = self.blobs.put(p.thumb).await?;
                self.store
                    .record_blob(id.clone(), p.mime.into(), size, true)
                    .await?;
                self.store
                    .record_blob(thumb.clone(), p.mime.into(), thumb_size, true)
                    .await?;
                Attachment {
                    id,
                    name,
                    mime: p.mime.into(),
                    size,
                    image: Some(ImageInfo {
                        width: p.width,
                        height: p.height,
                        thumb,
                    }),
                }
            }
            None => {
                let size = raw.len() as u64;
                let mime = kind.download_mime();
                let id = self.blobs.put(raw).await?;
                self.store
                    .record_blob(id.clone(), mime.into(), size, false)
                    .await?;
                Attachment {
                    id,
                    name,
                    mime: mime.into(),
                    size,
                    image: None,
                }
            }
        })
    }

    /// A stored file's bytes, type and whether it shows inline.
    pub async fn get(&self, id: &str) -> Result<Option<(Vec<u8>, String, bool)>, UploadError> {
        let Some((mime, inline)) = self.store.blob(id.to_owned()).await? else {
            return Ok(None);
        };
        Ok(self.blobs.get(id).await?.map(|bytes| (bytes, mime, inline)))
    }

    /// Deletes the files no message and no recent upload refers to (those
    /// of deleted and removed messages); how many.
    pub async fn sweep(&self) -> Result<usize, StoreError> {
        let now = now_ms();
        let ids = self
            .store
            .sweep_blobs(
                now - UPLOAD_TTL.as_millis() as i64,
                now - self.sweep_grace.as_millis() as i64,
            )
            .await?;
        for id in &ids {
            if let Err(e) = self.blobs.delete(id).await {
                // Its record is gone: it is no longer served, only taking room.
                tracing::warn!(error = %e, "could not delete a file");
            }
        }
        if !ids.is_empty() {
            tracing::info!(files = ids.len(), "deleted files nothing refers to");
        }
        Ok(ids.len())
    }
}

/// A name to show: no path, no control characters, not too long.
fn file_name(raw: Option<&str>) -> String {
    let base = raw.unwrap_or("").rsplit(['/', '\\']).next().unwrap_or("");
    let clean: String = base
        .chars()
        .filter(|c| !c.is_control() && !app::validate::is_invisible(*c))
        .take(100)
        .collect();
    let clean = clean.trim();
    if clean.is_empty() || clean.chars().all(|c| c == '.') {
        "file".to_owned()
    } else {
        clean.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_only_names() {
        assert_eq!(file_name(Some("../../etc/passwd")), "passwd");
        assert_eq!(file_name(Some("C:\\\\Users\\\\me\\\\cat.jpg")), "cat.jpg");
        assert_eq!(file_name(Some("a\u{0}b\u{200B}.pdf")), "ab.pdf");
        assert_eq!(file_name(Some("..")), "file");
        assert_eq!(file_name(None), "file");
        assert_eq!(file_name(Some(&"x".repeat(500))).len(), 100);
    }
}
