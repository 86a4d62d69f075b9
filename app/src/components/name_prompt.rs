use crate::api::SetName;
use crate::state::ChatState;
use crate::validate::NAME_MAX_CHARS;
use leptos::prelude::*;

/// Asks a new device for its name, or lets a known one change it. It is a
/// real form posting to the server function, so it works before the WASM
/// has loaded too.
#[component]
pub fn NamePrompt() -> impl IntoView {
    let state = expect_context::<ChatState>();
    let action = ServerAction::<SetName>::new();

    Effect::new(move |_| {
        if let Some(Ok(me)) = action.value().get() {
            state.set_identity(me);
        }
    });
    let error = move || match action.value().get() {
        Some(Err(e)) => Some(e.to_string()),
        _ => None,
    };
    let current = move || state.me.get().map(|m| m.name).unwrap_or_default();

    view! {
        <Show when=move || state.needs_name.get() || state.renaming.get()>
            <div class="name-prompt" role="dialog" aria-modal="true" aria-labelledby="name-title">
                <ActionForm action=action attr:class="name-form">
                    <h2 id="name-title">
                        {move || if state.renaming.get() { "Change your name" } else { "Choose a name" }}
                    </h2>
                    <p class="hint">"Everyone in the room sees it next to your messages."</p>
                    <input
                        type="text"
                        name="name"
                        class="name-input"
                        aria-label="Your name"
                        autocomplete="nickname"
                        enterkeyhint="done"
                        maxlength=NAME_MAX_CHARS
                        required
                        autofocus
                        prop:value=current
                    />
                    <div class="name-actions">
                        <Show when=move || state.renaming.get()>
                            <button type="button" class="cancel" on:click=move |_| state.renaming.set(false)>
                                "Cancel"
                            </button>
                        </Show>
                        <button type="submit" class="join" disabled=move || action.pending().get()>
                            {move || if state.renaming.get() { "Save" } else { "Join the chat" }}
                        </button>
                    </div>
                    <Show when=move || error().is_some()>
                        <p class="name-error" role="alert">{error}</p>
                    </Show>
                </ActionForm>
            </div>
        </Show>
    }
}
