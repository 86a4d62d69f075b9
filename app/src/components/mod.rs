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

/// Opens the conversation with `user` (made if there is none), from a
/// name anywhere on the page. Not a `ServerAction`: the menu or list the
/// name was in may be gone before the answer comes.
pub(crate) fn write_to(state: crate::state::ChatState, user: crate::protocol::UserId) {
    leptos::task::spawn_local(async move {
        let action = crate::api::RoomAction::StartDirect { people: vec![user] };
        match crate::api::act_on_room(action).await {
            Ok(Some(room)) => state.go_to(room),
            Ok(None) => {}
            Err(e) => state.notice.set(Some(e.to_string())),
        }
    });
}
