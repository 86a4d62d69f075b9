use crate::api::{set_name, SetName};
use crate::state::{ChatState, Overlay, Ui};
use crate::validate::UserName;
use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::server_fn::ServerFn;

/// Asks a new device for its name, or lets a known one change it.
///
/// It is a real form posting to the server function, so it also works
/// without JavaScript or before the WASM has loaded: the server then
/// redirects back to the chat, and a refusal comes back in the page's
/// snapshot. A new device sees it docked below the conversation, which
/// stays readable and scrollable; renaming opens it as a dialog.
///
/// Not an `<ActionForm>` with a `ServerAction`: on the
/// first screen those cost the WASM ~30 KB of brotli (measured: 22 KB for
/// the form's decoding of its own fields, 8.5 KB for the action and the
/// decoding of its redirected error), which a phone downloads before the
/// page is usable.
#[component]
pub fn NamePrompt() -> impl IntoView {
    let state = expect_context::<ChatState>();
    let ui = expect_context::<Ui>();
    let pending = RwSignal::new(false);
    let input = NodeRef::<leptos::html::Input>::new();
    let error = ui.name_error;
    let current = move || state.me.get().map(|m| m.name).unwrap_or_default();

    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let Some(name) = input.get_untracked().map(|el| el.value()) else {
            return;
        };
        // The same rule the server applies, so nothing is sent to be refused.
        if let Err(e) = UserName::parse(&name) {
            error.set(Some(e.to_string()));
            return;
        }
        error.set(None);
        pending.set(true);
        let joining = !untrack(|| ui.is(Overlay::Rename));
        leptos::task::spawn_local(async move {
            match set_name(name).await {
                Ok(me) => {
                    state.set_identity(me);
                    ui.close(Overlay::Rename);
                    if joining {
                        state.focus_composer();
                    }
                }
                Err(e) => error.set(Some(e.to_string())),
            }
            pending.set(false);
        });
    };

    view! {
        <Show when=move || state.needs_name.get() || ui.is(Overlay::Rename)>
            <div
                class="name-prompt"
                class:docked=move || !ui.is(Overlay::Rename)
                role=move || if ui.is(Overlay::Rename) { "dialog" } else { "region" }
                aria-modal=move || ui.is(Overlay::Rename).then_some("true")
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
                        {move || if ui.is(Overlay::Rename) { "Change your name" } else { "Choose a name" }}
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
                        on:input=move |_| error.set(None)
                    />
                    <div class="name-actions">
                        <Show when=move || ui.is(Overlay::Rename)>
                            <button type="button" class="cancel" on:click=move |_| ui.close(Overlay::Rename)>
                                "Cancel"
                            </button>
                        </Show>
                        <button type="submit" class="join" disabled=move || pending.get()>
                            {move || if ui.is(Overlay::Rename) { "Save" } else { "Join the chat" }}
                        </button>
                    </div>
                    <p id="name-error" class="name-error" role="alert" hidden=move || error.get().is_none()>
                        {move || error.get()}
                    </p>
                </form>
            </div>
        </Show>
    }
}
