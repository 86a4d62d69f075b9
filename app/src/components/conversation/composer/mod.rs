mod mentions;
mod parts;

use crate::protocol::{ClientEvent, ClientMessageId};
use crate::state::{now, ChatState};
use crate::validate::{char_count, MessageText, MESSAGE_MAX_CHARS};
use leptos::ev::{KeyboardEvent, SubmitEvent};
use leptos::prelude::*;
use mentions::{mentioned, MentionSuggestions, Mentions};
use parts::{AttachmentChip, CharCount, EditingNote, ReplyNote, UploadProgress};

/// "Typing" goes to the others at most this often.
const TYPING_EVERY_MS: f64 = 3_000.0;

/// The message box. Posting goes through the outbox, so it works offline
/// too. Nothing typed or pasted is ever cut off: a message over the limit
/// stays in the box with the count and the reason. Typing `@` offers the
/// room's people by name.
#[component]
pub fn Composer() -> impl IntoView {
    let state = expect_context::<ChatState>();
    let draft = state.draft;
    let error = RwSignal::new(None::<String>);
    let count = Memo::new(move |_| draft.with(|d| char_count(d.trim())));
    // The @word being typed and the people it may mean.
    let mentions = Mentions::new();
    let last_typing = StoredValue::new(0.0f64);

    let submit = move || {
        if !state.can_post() {
            return;
        }
        let attached = state.attached.get_untracked();
        let parsed = if attached.is_some() && state.editing.get_untracked().is_none() {
            MessageText::caption(&draft.get_untracked())
        } else {
            MessageText::parse(&draft.get_untracked())
        };
        match parsed {
            Ok(text) => {
                let text = text.as_str().to_owned();
                match state.editing.get_untracked() {
                    Some(message_id) => {
                        state.send(ClientEvent::Edit {
                            client_id: ClientMessageId::new_random(),
                            message_id,
                            text,
                        });
                        state.editing.set(None);
                    }
                    None => {
                        let mentions = mentioned(&text, &state.members());
                        state.attached.set(None);
                        state.post(text, mentions, attached);
                    }
                }
                draft.set(String::new());
                error.set(None);
                mentions.close();
                last_typing.set_value(0.0);
                fit_height(state);
            }
            Err(e) => error.set(Some(e.to_string())),
        }
    };
    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        submit();
    };
    let on_keydown = move |ev: KeyboardEvent| {
        if mentions.key(state, &ev) {
            return;
        }
        if ev.key() == "Escape" && state.editing.get_untracked().is_some() {
            state.editing.set(None);
            draft.set(String::new());
            return;
        }
        if ev.key() == "Escape" && state.replying.get_untracked().is_some() {
            state.replying.set(None);
            return;
        }
        // Up in an empty box edits the last message, as in most chats.
        if ev.key() == "ArrowUp"
            && !(ev.shift_key() || ev.alt_key() || ev.ctrl_key() || ev.meta_key())
            && draft.with_untracked(String::is_empty)
            && state.editing.get_untracked().is_none()
        {
            if let Some((id, text)) = state.last_editable(now()) {
                ev.prevent_default();
                state.start_editing(id, text);
            }
            return;
        }
        // Enter sends, Shift+Enter starts a new line; Enter that confirms
        // an input method's composition (Japanese, Chinese…) does neither.
        if ev.key() == "Enter" && !ev.shift_key() && !ev.is_composing() {
            ev.prevent_default();
            submit();
        }
    };
    let on_input = move |ev| {
        let text = event_target_value(&ev);
        draft.set(text.clone());
        if error.get_untracked().is_some() && count.get_untracked() <= MESSAGE_MAX_CHARS {
            error.set(None);
        }
        let caret = state
            .composer
            .get_untracked()
            .and_then(|el| el.selection_start().ok().flatten())
            .unwrap_or(text.len() as u32) as usize;
        mentions.follow(state, &text, caret);
        if !text.trim().is_empty()
            && state.editing.get_untracked().is_none()
            && now() - last_typing.get_value() > TYPING_EVERY_MS
        {
            last_typing.set_value(now());
            state.send(ClientEvent::Typing);
        }
        fit_height(state);
    };
    let placeholder = move || {
        state.room.with(|r| {
            r.as_ref().map_or_else(
                || "Message".to_owned(),
                |r| match r.kind {
                    crate::protocol::RoomKind::Direct => {
                        format!("Message {}", r.title(state.my_id()))
                    }
                    _ => format!("Message #{}", r.name),
                },
            )
        })
    };

    let on_file = move |ev: leptos::ev::Event| {
        #[cfg(feature = "hydrate")]
        {
            use wasm_bindgen::JsCast;
            let input = ev
                .target()
                .and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok());
            if let Some(input) = input {
                if let Some(file) = input.files().and_then(|f| f.get(0)) {
                    crate::upload::start(state, file);
                }
                input.set_value("");
            }
        }
        let _ = ev;
    };
    // A pasted image or file is sent like a picked one.
    let on_paste = move |ev: leptos::ev::ClipboardEvent| {
        #[cfg(feature = "hydrate")]
        if let Some(file) = ev
            .clipboard_data()
            .and_then(|d| d.files())
            .and_then(|f| f.get(0))
        {
            ev.prevent_default();
            crate::upload::start(state, file);
        }
        let _ = ev;
    };

    view! {
        <UploadProgress/>
        <AttachmentChip/>
        <EditingNote/>
        <ReplyNote/>
        <form class="composer" on:submit=on_submit>
            <MentionSuggestions mentions=mentions/>
            <label class="attach" title="Attach a photo or file" class:disabled=state.cannot_post()>
                <span class="icon" aria-hidden="true"></span>
                <span class="sr-only">"Attach a photo or file"</span>
                <input
                    type="file"
                    class="file-input"
                    hidden
                    accept="image/*,application/pdf,*/*"
                    disabled=state.cannot_post()
                    on:change=on_file
                />
            </label>
            <textarea
                name="msg"
                class="composer-input"
                rows="1"
                placeholder=placeholder
                aria-label="Message"
                aria-describedby="composer-count composer-error"
                aria-autocomplete="list"
                // Only while the list is there to point at.
                aria-controls=move || mentions.open().then_some("mention-list")
                aria-activedescendant=move || {
                    mentions.open().then(|| format!("mention-{}", mentions.active.get()))
                }
                autocomplete="off"
                enterkeyhint="send"
                node_ref=state.composer
                disabled=state.cannot_post()
                prop:value=move || draft.get()
                on:input=on_input
                on:keydown=on_keydown
                on:paste=on_paste
            ></textarea>
            <CharCount count/>
            <button type="submit" class="send" disabled=state.cannot_post()>
                {move || if state.editing.get().is_some() { "Save" } else { "Send" }}
            </button>
        </form>
        <p id="composer-error" class="composer-error" role="alert" hidden=move || error.get().is_none()>
            {move || error.get()}
        </p>
    }
}

/// Grows the box with its text, up to the height the stylesheet allows.
fn fit_height(state: ChatState) {
    #[cfg(feature = "hydrate")]
    request_animation_frame(move || {
        if let Some(el) = state.composer.get_untracked() {
            let style = web_sys::HtmlElement::style(&el);
            let _ = style.set_property("height", "auto");
            let _ = style.set_property("height", &format!("{}px", el.scroll_height()));
        }
    });
    let _ = state;
}
