use crate::api::SetName;
use crate::state::ChatState;
use crate::validate::UserName;
use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::server_fn::ServerFn;

/// Asks a new device for its name, or lets a known one change it.
///
/// It is a real form posting to the server function, so it also works
/// without JavaScript or before the WASM has loaded: the server then
/// redirects back to the chat (with the error in the URL if it refused).
/// A new device sees it docked below the conversation, which stays
/// readable and scrollable; renaming opens it as a dialog.
#[component]
pub fn NamePrompt() -> impl IntoView {
    let state = expect_context::<ChatState>();
    // Also picks up an error the server put in the URL after a plain post.
    let action = ServerAction::<SetName>::new();
    let local_error = RwSignal::new(None::<String>);
    let joined_here = StoredValue::new(false);

    Effect::new(move |_| {
        if let Some(Ok(me)) = action.value().get() {
            state.set_identity(me);
            if joined_here.get_value() {
                state.focus_composer();
            }
        }
    });
    let error = move || {
        local_error.get().or_else(|| match action.value().get() {
            Some(Err(e)) => Some(e.to_string()),
            _ => None,
        })
    };
    let current = move || state.me.get().map(|m| m.name).unwrap_or_default();
    let input = NodeRef::<leptos::html::Input>::new();
    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let Some(name) = input.get_untracked().map(|el| el.value()) else {
            return;
        };
        // The same rule the server applies, so nothing is sent to be refused.
        match UserName::parse(&name) {
            Ok(_) => {
                local_error.set(None);
                joined_here.set_value(!state.renaming.get_untracked());
                action.dispatch(SetName { name });
            }
            Err(e) => local_error.set(Some(e.to_string())),
        }
    };

    view! {
        <Show when=move || state.needs_name.get() || state.renaming.get()>
            <div
                class="name-prompt"
                class:docked=move || !state.renaming.get()
                role=move || if state.renaming.get() { "dialog" } else { "region" }
                aria-modal=move || state.renaming.get().then_some("true")
                aria-labelledby="name-title"
            >
                <form
                    class="name-form"
                    method="post"
                    action=SetName::url()
                    on:submit=on_submit
                    novalidate
                >
                    <h2 id="name-title">
                        {move || if state.renaming.get() { "Change your name" } else { "Choose a name" }}
                    </h2>
                    <p class="hint">"Everyone in the room sees it next to your messages."</p>
                    <input
                        type="text"
                        name="name"
                        class="name-input"
                        node_ref=input
                        aria-label="Your name"
                        aria-describedby="name-error"
                        autocomplete="nickname"
                        enterkeyhint="done"
                        required
                        autofocus
                        prop:value=current
                        on:input=move |_| local_error.set(None)
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
                    <p id="name-error" class="name-error" role="alert" hidden=move || error().is_none()>
                        {error}
                    </p>
                </form>
            </div>
        </Show>
    }
}
