//! What sits around the message box: the upload under way, the file
//! waiting to be sent, the note while editing, and the character count.

use crate::state::ChatState;
use crate::validate::MESSAGE_MAX_CHARS;
use leptos::prelude::*;

/// The count appears once a message gets this close to the limit.
const COUNT_FROM: usize = MESSAGE_MAX_CHARS - 200;

/// A photo or file on its way up, with its progress.
#[component]
pub fn UploadProgress() -> impl IntoView {
    let state = expect_context::<ChatState>();
    view! {
        <Show when=move || state.uploading.get().is_some()>
            <div class="upload-status" role="status">
                <span class="upload-name">{move || state.uploading.get().map(|u| u.0)}</span>
                <progress
                    class="upload-progress"
                    max="1"
                    aria-label="Upload progress"
                    prop:value=move || state.uploading.get().map_or(0.0, |u| u.1)
                ></progress>
            </div>
        </Show>
    }
}

/// The uploaded file that goes with the next message, and a way to drop it.
#[component]
pub fn AttachmentChip() -> impl IntoView {
    let state = expect_context::<ChatState>();
    view! {
        <Show when=move || state.attached.get().is_some()>
            <div class="attached">
                <span class="attached-name">
                    "📎 " {move || state.attached.get().map(|a| a.attachment.name)}
                </span>
                <button type="button" class="remove-attachment" aria-label="Remove the attachment" on:click=move |_| state.attached.set(None)>
                    "✕"
                </button>
            </div>
        </Show>
    }
}

/// "Editing a message", with a way back to writing a new one.
#[component]
pub fn EditingNote() -> impl IntoView {
    let state = expect_context::<ChatState>();
    view! {
        <Show when=move || state.editing.get().is_some()>
            <p class="editing-note">
                "Editing a message · "
                <button type="button" class="cancel-edit" on:click=move |_| {
                    state.editing.set(None);
                    state.draft.set(String::new());
                }>"Cancel"</button>
            </p>
        </Show>
    }
}

/// The message the next one answers, above the box, until it is sent or
/// the reply is cancelled.
#[component]
pub fn ReplyNote() -> impl IntoView {
    let state = expect_context::<ChatState>();
    view! {
        {move || state.replying.get().map(|q| {
            let line = if q.deleted { "message deleted".to_owned() } else { q.line };
            view! {
                <p class="reply-note">
                    <span class="reply-to">
                        "Replying to "
                        <strong style:border-color=q.color>{q.user_name}</strong>
                        " "
                        <span class="quote-line">{line}</span>
                    </span>
                    <button type="button" class="cancel-reply" aria-label="Cancel reply" on:click=move |_| {
                        state.replying.set(None);
                        state.focus_composer();
                    }>"×"</button>
                </p>
            }
        })}
    }
}

/// How many characters, once the limit is near; red past it.
#[component]
pub fn CharCount(count: Memo<usize>) -> impl IntoView {
    view! {
        <span
            id="composer-count"
            class="composer-count"
            class:over=move || { count.get() > MESSAGE_MAX_CHARS }
            hidden=move || { count.get() < COUNT_FROM }
        >
            {move || format!("{} / {MESSAGE_MAX_CHARS}", count.get())}
        </span>
    }
}
