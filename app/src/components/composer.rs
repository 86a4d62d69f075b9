use crate::protocol::{ClientEvent, ClientMessageId, Identity, UserId};
use crate::state::{fold, now, ChatState};
use crate::validate::{char_count, MessageText, MESSAGE_MAX_CHARS};
use leptos::ev::{KeyboardEvent, SubmitEvent};
use leptos::prelude::*;

/// The count appears once a message gets this close to the limit.
const COUNT_FROM: usize = MESSAGE_MAX_CHARS - 200;
/// "Typing" goes to the others at most this often.
const TYPING_EVERY_MS: f64 = 3_000.0;
/// Suggestions shown for an @mention.
const MAX_SUGGESTIONS: usize = 6;

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
    let suggestions = RwSignal::new(Vec::<Identity>::new());
    let active = RwSignal::new(0usize);
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
                suggestions.set(Vec::new());
                last_typing.set_value(0.0);
                fit_height(state);
            }
            Err(e) => error.set(Some(e.to_string())),
        }
    };
    let pick = move |who: Identity| {
        let Some(el) = state.composer.get_untracked() else {
            return;
        };
        let caret = el.selection_start().ok().flatten().unwrap_or(0) as usize;
        let text = draft.get_untracked();
        if let Some((start, end)) = mention_at(&text, caret) {
            let inserted = format!("@{} ", who.name);
            let next = format!("{}{}{}", &text[..start], inserted, &text[end..]);
            let caret = (start + inserted.len()) as u32;
            draft.set(next);
            request_animation_frame(move || {
                if let Some(el) = state.composer.get_untracked() {
                    let _ = el.set_selection_range(caret, caret);
                    let _ = el.focus();
                }
            });
        }
        suggestions.set(Vec::new());
    };
    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        submit();
    };
    let on_keydown = move |ev: KeyboardEvent| {
        let open = suggestions.with_untracked(|s| s.len());
        if open > 0 {
            match ev.key().as_str() {
                "ArrowDown" => {
                    ev.prevent_default();
                    active.update(|a| *a = (*a + 1) % open);
                    return;
                }
                "ArrowUp" => {
                    ev.prevent_default();
                    active.update(|a| *a = (*a + open - 1) % open);
                    return;
                }
                "Enter" | "Tab" => {
                    ev.prevent_default();
                    let who =
                        suggestions.with_untracked(|s| s.get(active.get_untracked()).cloned());
                    if let Some(who) = who {
                        pick(who);
                    }
                    return;
                }
                "Escape" => {
                    suggestions.set(Vec::new());
                    return;
                }
                _ => {}
            }
        }
        if ev.key() == "Escape" && state.editing.get_untracked().is_some() {
            state.editing.set(None);
            draft.set(String::new());
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
        let found = match mention_at(&text, caret) {
            Some((start, end)) => {
                let query = fold(&text[start + 1..end]);
                state
                    .members()
                    .into_iter()
                    .filter(|p| fold(&p.name).starts_with(&query))
                    .take(MAX_SUGGESTIONS)
                    .collect()
            }
            None => Vec::new(),
        };
        active.set(0);
        suggestions.set(found);
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
            r.as_ref()
                .map_or_else(|| "Message".to_owned(), |r| format!("Message #{}", r.name))
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
        <Show when=move || state.editing.get().is_some()>
            <p class="editing-note">
                "Editing a message · "
                <button type="button" class="cancel-edit" on:click=move |_| {
                    state.editing.set(None);
                    draft.set(String::new());
                }>"Cancel"</button>
            </p>
        </Show>
        <form class="composer" on:submit=on_submit>
            <Show when=move || suggestions.with(|s| !s.is_empty())>
                <ul id="mention-list" class="mention-list" role="listbox" aria-label="People to mention">
                    {move || {
                        suggestions
                            .get()
                            .into_iter()
                            .enumerate()
                            .map(|(i, who)| {
                                let name = who.name.clone();
                                let color = who.color.clone();
                                view! {
                                    <li
                                        id=format!("mention-{i}")
                                        role="option"
                                        class="mention-option"
                                        aria-selected=move || (active.get() == i).to_string()
                                        on:mousedown=move |ev| {
                                            // Keep the focus (and the caret) in the box.
                                            ev.prevent_default();
                                            pick(who.clone());
                                        }
                                    >
                                        <span class="author" style:background-color=color>{name}</span>
                                    </li>
                                }
                            })
                            .collect_view()
                    }}
                </ul>
            </Show>
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
                aria-controls="mention-list"
                aria-expanded=move || suggestions.with(|s| !s.is_empty()).to_string()
                aria-activedescendant=move || {
                    suggestions.with(|s| !s.is_empty()).then(|| format!("mention-{}", active.get()))
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
            <span
                id="composer-count"
                class="composer-count"
                class:over=move || { count.get() > MESSAGE_MAX_CHARS }
                hidden=move || { count.get() < COUNT_FROM }
            >
                {move || format!("{} / {MESSAGE_MAX_CHARS}", count.get())}
            </span>
            <button type="submit" class="send" disabled=state.cannot_post()>
                {move || if state.editing.get().is_some() { "Save" } else { "Send" }}
            </button>
        </form>
        <p id="composer-error" class="composer-error" role="alert" hidden=move || error.get().is_none()>
            {move || error.get()}
        </p>
    }
}

/// The `@word` the caret is in or just after: its byte range, `@`
/// included. An `@` counts only at the start or after a space.
fn mention_at(text: &str, caret: usize) -> Option<(usize, usize)> {
    let caret = caret.min(text.len());
    let before = text.get(..caret)?;
    let start = before.rfind('@')?;
    let word = &before[start + 1..];
    let starts_word = start == 0 || before[..start].ends_with(char::is_whitespace);
    (starts_word && !word.contains(char::is_whitespace)).then_some((start, caret))
}

/// The people the text names as `@Name`.
fn mentioned(text: &str, people: &[Identity]) -> Vec<UserId> {
    people
        .iter()
        .filter(|p| text.contains(&format!("@{}", p.name)))
        .map(|p| p.user_id)
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mention_being_typed_is_found() {
        assert_eq!(mention_at("hi @An", 6), Some((3, 6)));
        assert_eq!(mention_at("@", 1), Some((0, 1)));
        assert_eq!(mention_at("mail a@b", 8), None, "not after a letter");
        assert_eq!(mention_at("hi @Ann and", 11), None, "a space ended it");
        assert_eq!(mention_at("no at here", 5), None);
    }

    #[test]
    fn mentions_come_from_the_text() {
        let ann = Identity {
            user_id: UserId(1),
            name: "Ann".into(),
            color: String::new(),
        };
        let bo = Identity {
            user_id: UserId(2),
            name: "Bo".into(),
            color: String::new(),
        };
        assert_eq!(
            mentioned("hey @Ann!", &[ann.clone(), bo.clone()]),
            vec![UserId(1)]
        );
        assert!(mentioned("hey Ann", &[ann, bo]).is_empty());
    }
}
