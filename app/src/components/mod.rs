//! One component per visible piece of the chat.

mod chat_page;
mod chunks;
mod composer;
mod dialogs;
mod manage;
mod message_list;
mod message_row;
mod name_prompt;
mod notifications;
mod room_list;
mod room_settings;
mod search;
mod status_bar;
mod transfer;
mod typing;

pub use chat_page::ChatPage;

use crate::api::ApiError;
use leptos::prelude::*;
use leptos::server_fn::ServerFn;

/// Why the latest call of a server action was refused, as a sentence.
fn refusal<S>(action: ServerAction<S>) -> Option<String>
where
    S: ServerFn<Error = ApiError> + Clone + Send + Sync + 'static,
    S::Output: Send + Sync + 'static,
{
    action.value().with(|v| {
        v.as_ref()
            .and_then(|r| r.as_ref().err().map(ApiError::to_string))
    })
}
