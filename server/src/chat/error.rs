//! What a chat operation can fail with, and the one place such an error
//! becomes an HTTP answer.

use crate::store::StoreError;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("rate limited for {0:?}")]
    RateLimited(Duration),
    /// A value the chat refuses; the sentence is for the user.
    #[error("{0}")]
    Refused(String),
    /// Not allowed for this device's role; the sentence is for the user.
    #[error("{0}")]
    Forbidden(String),
    #[error("{}", .0.sentence())]
    Denied(crate::access::Denied),
}

pub type Result<T> = std::result::Result<T, ChatError>;

/// The one place a chat error becomes an HTTP answer: refusals in words,
/// an unreachable database as 503 (a load balancer moves on), anything
/// else logged and a generic 500.
impl axum::response::IntoResponse for ChatError {
    fn into_response(self) -> axum::response::Response {
        use axum::http::StatusCode;
        let (status, text): (StatusCode, std::borrow::Cow<'static, str>) = match &self {
            ChatError::Denied(why) => (StatusCode::FORBIDDEN, why.sentence().into()),
            ChatError::Refused(text) => (StatusCode::UNPROCESSABLE_ENTITY, text.clone().into()),
            ChatError::Forbidden(text) => (StatusCode::FORBIDDEN, text.clone().into()),
            ChatError::RateLimited(wait) => (
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "Too many requests; try again in {} s.",
                    wait.as_secs().max(1)
                )
                .into(),
            ),
            ChatError::Store(StoreError::NotFound) => (
                StatusCode::NOT_FOUND,
                "There is no such room or message.".into(),
            ),
            ChatError::Store(StoreError::Unavailable(_)) => {
                tracing::warn!(error = %self, "request failed: database unavailable");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "The chat's database cannot be reached. Please try again in a moment.".into(),
                )
            }
            _ => {
                tracing::error!(error = %self, "request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Please try again.".into(),
                )
            }
        };
        (status, text).into_response()
    }
}
