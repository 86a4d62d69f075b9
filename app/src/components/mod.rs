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

/// A server function as a Leptos `Action`: `pending()`, `value()` and
/// `version()`, the latest dispatch winning.
pub(crate) type ServerCall<S> = Action<S, Result<<S as ServerFn>::Output, <S as ServerFn>::Error>>;

/// `ServerAction::new` without its reading of a JavaScript-less form's
/// error from the address: no form here posts without JavaScript (the
/// name form has its own path), and that decoder (base64 and the error
/// codec) cost every page's WASM for nothing.
pub(crate) fn server_call<S>() -> ServerCall<S>
where
    S: ServerFn + Clone + Send + Sync + 'static,
    S::Output: Send + Sync + 'static,
    S::Error: Send + Sync + 'static,
{
    Action::new(|input: &S| S::run_on_client(input.clone()))
}

/// Why the latest call of a server function was refused, as a sentence.
pub(crate) fn refusal<S>(action: ServerCall<S>) -> Option<String>
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
/// name anywhere on the page. Not an `Action`: the menu or list the
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

/// Brings a message of the shown room into view and marks it, reading the
/// history around it first if this tab does not hold it.
pub(crate) fn jump_to(state: crate::state::ChatState, id: crate::protocol::MessageId) {
    if state.messages.with_untracked(|m| m.contains_key(&id)) {
        state.focus.set(Some(id));
        return;
    }
    leptos::task::spawn_local(async move {
        match crate::api::message_context(id).await {
            Ok(context) => state.show_context(context, id),
            Err(e) => state.notice.set(Some(e.to_string())),
        }
    });
}

/// Puts a message's permalink on the clipboard; `copied` says it worked.
pub(crate) fn copy_link(
    state: crate::state::ChatState,
    id: crate::protocol::MessageId,
    copied: leptos::prelude::RwSignal<bool>,
) {
    #[cfg(feature = "hydrate")]
    {
        use leptos::prelude::*;
        let Some(slug) = state
            .room
            .with_untracked(|r| r.as_ref().map(|r| r.slug.clone()))
        else {
            return;
        };
        let origin = window().location().origin().unwrap_or_default();
        let url = format!("{origin}/r/{slug}/m/{}", id.0);
        let promise = window().navigator().clipboard().write_text(&url);
        leptos::task::spawn_local(async move {
            match wasm_bindgen_futures::JsFuture::from(promise).await {
                Ok(_) => copied.set(true),
                // Refused (no permission, not focused): the link to copy by hand.
                Err(_) => state
                    .notice
                    .set(Some(format!("Link to the message: {url}"))),
            }
        });
    }
    let _ = (state, id, copied);
}
