//! `POST /upload` and `GET /files/<id>`: the HTTP side of photos and
//! files (what they are and how they are kept is `files`).

use super::identity;
use super::state::AppState;
use crate::files::UploadError;
use app::protocol::DeviceId;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};

#[derive(serde::Deserialize)]
pub struct UploadQuery {
    name: Option<String>,
}

/// A refused upload: a status and a sentence for the user.
fn refuse(status: StatusCode, message: &str) -> Response {
    (status, Json(serde_json::json!({ "error": message }))).into_response()
}

fn internal(e: &dyn std::fmt::Display) -> Response {
    tracing::error!(error = %e, "upload failed");
    refuse(
        StatusCode::INTERNAL_SERVER_ERROR,
        "The file could not be stored. Please try again.",
    )
}

impl IntoResponse for UploadError {
    fn into_response(self) -> Response {
        let status = match &self {
            UploadError::Empty => StatusCode::BAD_REQUEST,
            UploadError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            UploadError::Markup => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            UploadError::NotAPhoto(_)
            | UploadError::TooManyPixels(..)
            | UploadError::TooMuchMemory(_) => StatusCode::UNPROCESSABLE_ENTITY,
            UploadError::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
            UploadError::QuotaFull => StatusCode::INSUFFICIENT_STORAGE,
            UploadError::Internal(e) => return internal(e),
        };
        refuse(status, &self.to_string())
    }
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
    let bytes = match body {
        Ok(bytes) => bytes,
        Err(BytesRejection::FailedToBufferBody(e)) if timed_out(&e) => {
            return refuse(
                StatusCode::REQUEST_TIMEOUT,
                "The upload stopped arriving. Please try again.",
            )
        }
        Err(BytesRejection::FailedToBufferBody(_)) => {
            return UploadError::TooLarge(state.files.max_bytes / (1024 * 1024)).into_response()
        }
        Err(e) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                &format!("The upload could not be read: {e}"),
            )
        }
    };
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
    match state
        .files
        .take(device, query.name.as_deref(), bytes.to_vec())
        .await
    {
        Ok(uploaded) => Json(uploaded).into_response(),
        Err(e) => e.into_response(),
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
    // A file sent in a private room or a conversation is its readers'
    // alone: to anyone else it does not exist.
    match state.chat.may_fetch(Some(device), &id).await {
        Ok(true) => {}
        Ok(false) => return (StatusCode::NOT_FOUND, "There is no such file.").into_response(),
        Err(e) => return e.into_response(),
    }
    let (bytes, mime, inline) = match state.files.get(&id).await {
        Ok(Some(file)) => file,
        Ok(None) => return StatusCode::NOT_FOUND.into_response(),
        Err(e) => return e.into_response(),
    };
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
