use crate::state::ChatState;
use crate::validate::{char_count, MessageText, MESSAGE_MAX_CHARS};
use leptos::ev::{KeyboardEvent, SubmitEvent};
use leptos::prelude::*;

/// The count appears once a message gets this close to the limit.
const COUNT_FROM: usize = MESSAGE_MAX_CHARS - 200;

/// The message box. Posting goes through the outbox, so it works offline
/// too. Nothing typed or pasted is ever cut off: a message over the limit
/// stays in the box with the count and the reason.
#[component]
pub fn Composer() -> impl IntoView {
    let state = expect_context::<ChatState>();
    let draft = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let count = Memo::new(move |_| draft.with(|d| char_count(d.trim())));

    let submit = move || {
        if !state.can_post() {
            return;
        }
        match MessageText::parse(&draft.get_untracked()) {
            Ok(text) => {
                state.post(text.as_str().to_owned());
                draft.set(String::new());
                error.set(None);
                fit_height(state);
            }
            Err(e) => error.set(Some(e.to_string())),
        }
    };
    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        submit();
    };
    // Enter sends, Shift+Enter starts a new line; Enter that confirms an
    // input method's composition (Japanese, Chinese…) does neither.
    let on_keydown = move |ev: KeyboardEvent| {
        if ev.key() == "Enter" && !ev.shift_key() && !ev.is_composing() {
            ev.prevent_default();
            submit();
        }
    };
    let on_input = move |ev| {
        draft.set(event_target_value(&ev));
        if error.get_untracked().is_some() && count.get_untracked() <= MESSAGE_MAX_CHARS {
            error.set(None);
        }
        fit_height(state);
    };

    view! {
        <form class="composer" on:submit=on_submit>
            <textarea
                name="msg"
                class="composer-input"
                rows="1"
                placeholder="Message"
                aria-label="Message"
                aria-describedby="composer-count composer-error"
                autocomplete="off"
                enterkeyhint="send"
                node_ref=state.composer
                disabled=move || !state.can_post()
                prop:value=move || draft.get()
                on:input=on_input
                on:keydown=on_keydown
            ></textarea>
            <span
                id="composer-count"
                class="composer-count"
                class:over=move || { count.get() > MESSAGE_MAX_CHARS }
                hidden=move || { count.get() < COUNT_FROM }
            >
                {move || format!("{} / {MESSAGE_MAX_CHARS}", count.get())}
            </span>
            <button type="submit" class="send" disabled=move || !state.can_post()>
                "Send"
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
