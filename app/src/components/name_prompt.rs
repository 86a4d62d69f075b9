use crate::api::SetName;
use crate::state::{ChatState, Overlay, Ui};
use crate::validate::UserName;
use leptos::prelude::*;

/// Asks a new device for its name, or lets a known one change it.
///
/// An `ActionForm`: a real form posting to the server function, so it
/// also works without JavaScript or before the WASM has loaded (the server
/// redirects back to the chat, and a refusal comes back as the action's
/// error, see `ChatPage`). A new device sees it docked below the
/// conversation, which stays readable and scrollable; renaming opens it
/// as a dialog.
#[component]
pub fn NamePrompt() -> impl IntoView {
    let state = expect_context::<ChatState>();
    let ui = expect_context::<Ui>();
    let set_name = ServerAction::<SetName>::new();
    let input = NodeRef::<leptos::html::Input>::new();
    // What the page itself found wrong before sending.
    let invalid = RwSignal::new(None::<String>);
    let renaming = move || ui.is(Overlay::Rename);
    let current = move || state.me.get().map(|m| m.name).unwrap_or_default();
    let error = move || {
        invalid.get().or_else(|| {
            set_name.value().with(|v| {
                v.as_ref()
                    .and_then(|r| r.as_ref().err().map(|e| e.to_string()))
            })
        })
    };
    Effect::new(move |_| {
        if let Some(Ok(me)) = set_name.value().get() {
            let joining = !ui.is(Overlay::Rename);
            state.set_identity(me);
            ui.close(Overlay::Rename);
            if joining {
                state.focus_composer();
            }
        }
    });
    // The same rule the server applies, so nothing is sent to be refused.
    // On the button: pressing Enter in the field clicks it too, and a
    // click whose default is prevented submits nothing.
    let check = move |ev: leptos::ev::MouseEvent| {
        let name = input
            .get_untracked()
            .map(|el| el.value())
            .unwrap_or_default();
        if let Err(e) = UserName::parse(&name) {
            ev.prevent_default();
            invalid.set(Some(e.to_string()));
        }
    };
    let clear = move |_| {
        invalid.set(None);
        if set_name
            .value()
            .with_untracked(|v| matches!(v, Some(Err(_))))
        {
            set_name.value().set(None);
        }
    };

    view! {
        <Show when=move || state.needs_name.get() || renaming()>
            <div
                class="name-prompt"
                class:docked=move || !renaming()
                role=move || if renaming() { "dialog" } else { "region" }
                aria-modal=move || renaming().then_some("true")
                aria-labelledby="name-title"
            >
                <ActionForm action=set_name attr:class="name-form" attr:novalidate=true>
                    <h2 id="name-title">
                        {move || if renaming() { "Change your name" } else { "Choose a name" }}
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
                        on:input=clear
                    />
                    <div class="name-actions">
                        <Show when=renaming>
                            <button type="button" class="cancel" on:click=move |_| ui.close(Overlay::Rename)>
                                "Cancel"
                            </button>
                        </Show>
                        <button type="submit" class="join" disabled=move || set_name.pending().get() on:click=check>
                            {move || if renaming() { "Save" } else { "Join the chat" }}
                        </button>
                    </div>
                    <p id="name-error" class="name-error" role="alert" hidden=move || error().is_none()>
                        {error}
                    </p>
                </ActionForm>
            </div>
        </Show>
    }
}
