use crate::state::ChatState;
use crate::validate::{MessageText, MESSAGE_MAX_CHARS};
use leptos::ev::SubmitEvent;
use leptos::prelude::*;

/// The message box. Posting goes through the outbox, so it works offline too.
#[component]
pub fn Composer() -> impl IntoView {
    let state = expect_context::<ChatState>();
    let draft = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);

    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        if !state.can_post() {
            return;
        }
        match MessageText::parse(&draft.get_untracked()) {
            Ok(text) => {
                state.post(text.as_str().to_owned());
                draft.set(String::new());
                error.set(None);
            }
            Err(e) => error.set(Some(e.to_string())),
        }
    };

    view! {
        <form class="composer" on:submit=on_submit>
            <input
                type="text"
                name="msg"
                class="composer-input"
                placeholder="Message"
                aria-label="Message"
                autocomplete="off"
                enterkeyhint="send"
                maxlength=MESSAGE_MAX_CHARS
                disabled=move || !state.can_post()
                prop:value=move || draft.get()
                on:input=move |ev| draft.set(event_target_value(&ev))
            />
            <button type="submit" class="send" disabled=move || !state.can_post()>
                "Send"
            </button>
        </form>
        <Show when=move || error.get().is_some()>
            <p class="composer-error" role="alert">{move || error.get()}</p>
        </Show>
    }
}
