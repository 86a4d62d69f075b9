//! Photos and files: `POST /upload` checks what a file is by its content,
//! re-encodes photos (upright, without metadata) with a thumbnail, and
//! stores it; a message then refers to the upload. `GET /files/<id>`
//! serves stored files to browsers of the chat.

pub mod blobs;
mod process;
mod sniff;

pub use process::Budget;

use crate::chat::now_ms;
use crate::identity;
use crate::state::AppState;
use crate::store::Store;
use app::protocol::{Attachment, DeviceId, ImageInfo, Uploaded};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use blobs::Blobs;
use sniff::Sniffed;
use std::sync::Arc;

pub struct Files {
    pub store: Arc<dyn Store>,
    pub blobs: Arc<dyn Blobs>,
    /// Largest file accepted, in bytes.
    pub max_bytes: usize,
    /// A blob younger than this is never swept: its upload may still be
    /// on its way into the database.
    pub sweep_grace: std::time::Duration,
    /// Bytes all stored files may take together.
    pub quota: u64,
    /// Memory all photo processing may take at once.
    pub decodes: process::Budget,
}

/// How long a photo waits for its share of the decode budget.
const DECODE_PATIENCE: std::time::Duration = std::time::Duration::from_secs(30);

#[derive(serde::Deserialize)]
pub struct UploadQuery {
    name: Option<String>,
}

/// An upload not sent within this long is forgotten, with its file.
const UPLOAD_TTL: std::time::Duration = std::time::Duration::from_secs(24 * 60 * 60);

impl Files {
    /// Deletes the files no message and no recent upload refers to (those
    /// of deleted and removed messages); how many.
    pub async fn sweep(&self) -> Result<usize, crate::store::StoreError> {
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

/// A refused upload: a status and a sentence for the user.
fn refuse(status: StatusCode, message: &str) -> Response {
    (status, Json(serde_json::json!({ "error": message }))).into_response()
}

/// `POST /upload?name=<file name>` with the file as the body.
pub async fn upload(
    State(state): State<AppState>,
    Extension(device): Extension<DeviceId>,
    Query(query): Query<UploadQuery>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    if let Some(refused) = denied(&state, device).await {
        return refused;
    }
    let files = &state.files;
    let max_mb = files.max_bytes / (1024 * 1024);
    let bytes = match body {
        Ok(bytes) => bytes,
        Err(BytesRejection::FailedToBufferBody(e)) if timed_out(&e) => {
            return refuse(
                StatusCode::REQUEST_TIMEOUT,
                "The upload stopped arriving. Please try again.",
            )
        }
        Err(BytesRejection::FailedToBufferBody(_)) => {
            return refuse(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("The file is larger than {max_mb} MB."),
            )
        }
        Err(e) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                &format!("The upload could not be read: {e}"),
            )
        }
    };
    if bytes.is_empty() {
        return refuse(StatusCode::BAD_REQUEST, "The file is empty.");
    }
    if bytes.len() > files.max_bytes {
        return refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("The file is larger than {max_mb} MB."),
        );
    }
    match state.chat.identity(device).await {
        Ok(Some(_)) => {}
        Ok(None) => return refuse(StatusCode::FORBIDDEN, "Choose a name before sending files."),
        Err(e) => return internal(&e),
    }
    if let Err(wait) = state.chat.limits().uploads.check(&device) {
        let secs = wait.as_secs().max(1);
        return refuse(
            StatusCode::TOO_MANY_REQUESTS,
            &format!("Too many files at once; try again in {secs} s."),
        );
    }
    let kind = Sniffed::of(&bytes);
    if kind == Sniffed::Markup {
        return refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "HTML and SVG files are not accepted: a browser could run what is inside them.",
        );
    }
    let name = file_name(query.name.as_deref());
    // Photos are re-encoded: upright, without EXIF (no location), with a
    // thumbnail. Off the async threads: decoding is CPU work. What a
    // photo will take is read from its header first: a decompression
    // bomb is refused before anything is decoded, and all decodes at once
    // stay within the memory budget.
    let processed = if kind.is_image() {
        let measured = match process::measure(&bytes, kind) {
            Ok(m) => m,
            Err(e) => {
                return refuse(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    &format!("{e}. Is it really a photo?"),
                )
            }
        };
        if measured.pixels() > process::MAX_PIXELS {
            return refuse(
                StatusCode::UNPROCESSABLE_ENTITY,
                &format!(
                    "The photo is {}×{} pixels; photos of up to {} megapixels are accepted.",
                    measured.width,
                    measured.height,
                    process::MAX_PIXELS / 1_000_000
                ),
            );
        }
        let cost = measured.cost_bytes();
        let permit = match files.decodes.take(cost, DECODE_PATIENCE).await {
            Ok(permit) => permit,
            Err(e @ process::BudgetError::TooLarge) => {
                return refuse(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    &format!("This photo cannot be taken: {e}. Try a smaller one."),
                )
            }
            Err(e @ process::BudgetError::Busy) => {
                return refuse(
                    StatusCode::SERVICE_UNAVAILABLE,
                    &format!("Not now: {e}. Please try again in a moment."),
                )
            }
        };
        let raw = bytes.clone();
        let decoded = tokio::task::spawn_blocking(move || {
            let result = process::process(&raw, kind, cost);
            drop(permit);
            result
        });
        match decoded.await {
            Ok(Ok(p)) => Some(p),
            Ok(Err(e)) => {
                return refuse(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    &format!("{e}. Is it really a photo?"),
                )
            }
            Err(e) => return internal(&e),
        }
    } else {
        None
    };
    let incoming = processed
        .as_ref()
        .map_or(bytes.len(), |p| p.full.len() + p.thumb.len()) as u64;
    match files.store.stored_bytes().await {
        Ok(used) if used + incoming > files.quota => {
            return refuse(
                StatusCode::INSUFFICIENT_STORAGE,
                "The chat's storage for files is full. Ask whoever runs it to make room.",
            )
        }
        Ok(_) => {}
        Err(e) => return internal(&e),
    }
    let attachment = match store(files, processed, bytes.to_vec(), kind, name).await {
        Ok(a) => a,
        Err(e) => return internal(&e),
    };
    match files
        .store
        .create_upload(device, attachment.clone(), now_ms())
        .await
    {
        Ok(upload) => Json(Uploaded { upload, attachment }).into_response(),
        Err(e) => internal(&e),
    }
}

/// Whether a body failed because it stopped arriving (the body timeout),
/// not because it was too large.
fn timed_out(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(e);
    while let Some(c) = cause {
        if c.is::<tower_http::timeout::TimeoutError>() {
            return true;
        }
        cause = c.source();
    }
    false
}

/// Stores the file (and its thumbnail) and describes it.
async fn store(
    files: &Files,
    processed: Option<process::Processed>,
    raw: Vec<u8>,
    kind: Sniffed,
    name: String,
) -> Result<Attachment, Box<dyn std::error::Error + Send + Sync>> {
    Ok(match processed {
        Some(p) => {
            let size = p.full.len() as u64;
            let thumb_size = p.thumb.len() as u64;
            let id = files.blobs.put(p.full).await?;
            let thumb = files.blobs.put(p.thumb).await?;
            files
                .store
                .record_blob(id.clone(), p.mime.into(), size, true)
                .await?;
            files
                .store
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
            let id = files.blobs.put(raw).await?;
            files
                .store
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

fn internal(e: &dyn std::fmt::Display) -> Response {
    tracing::error!(error = %e, "upload failed");
    refuse(
        StatusCode::INTERNAL_SERVER_ERROR,
        "The file could not be stored. Please try again.",
    )
}

/// A refusal for a device that may not use the chat (a private chat's
/// files are for its members).
async fn denied(state: &AppState, device: DeviceId) -> Option<Response> {
    match state.chat.access().admit(device).await {
        Ok(Ok(_)) => None,
        Ok(Err(why)) => Some(refuse(StatusCode::FORBIDDEN, why.sentence())),
        Err(e) => Some(internal(&e)),
    }
}

/// `GET /files/<id>`: a stored file, to browsers that have a device cookie
/// (files are not secret, but the chat is not an open file host). Photos
/// inline, anything else as a download; cached for good, since the id is
/// the content's hash.
pub async fn serve(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(device) = identity::device_from_headers(&headers) else {
        return (StatusCode::FORBIDDEN, "Open the chat first.").into_response();
    };
    if let Some(refused) = denied(&state, device).await {
        return refused;
    }
    let files = &state.files;
    let meta = match files.store.blob(id.clone()).await {
        Ok(Some(meta)) => meta,
        Ok(None) => return StatusCode::NOT_FOUND.into_response(),
        Err(e) => return internal(&e),
    };
    let bytes = match files.blobs.get(&id).await {
        Ok(Some(bytes)) => bytes,
        Ok(None) => return StatusCode::NOT_FOUND.into_response(),
        Err(e) => return internal(&e),
    };
    let (mime, inline) = meta;
    let mut res = bytes.into_response();
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&mime) {
        h.insert(CONTENT_TYPE, v);
    }
    h.insert(
        CONTENT_DISPOSITION,
        HeaderValue::from_static(if inline { "inline" } else { "attachment" }),
    );
    h.insert(
        CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=31536000, immutable"),
    );
    res
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
