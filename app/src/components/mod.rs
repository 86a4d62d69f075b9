//! One component per visible piece of the chat, grouped by area: the
//! conversation (messages, the message box, the header), the room list,
//! and the dialogs a page seldom opens.

mod chat_page;
mod chunks;
mod conversation;
mod dialogs;
mod name_prompt;
mod rooms;

pub use chat_page::ChatPage;

use crate::api::ApiError;
use leptos::prelude::*;
use leptos::server_fn::ServerFn;

/// Why the latest call of a server action was refused, as a sentence.
pub(crate) fn refusal<S>(action: ServerAction<S>) -> Option<String>
where
    S: ServerFn<Error = ApiError> + Clone + Send + Sync + 'static,
    S::Output: Send + Sync + 'static,
{
    action.value().with(|v| {
        v.as_ref()
            .and_then(|r| r.as_ref().err().map(ApiError::to_string))
    })
}
