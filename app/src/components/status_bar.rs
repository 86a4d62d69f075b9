use crate::state::{ChatState, Connection};
use leptos::prelude::*;

/// Connection state, who you are, and any notice from the server. The chat
/// never goes silently dead: a lost connection is always shown here. Every
/// state fits one line of a 320 px screen: the title never shrinks, the
/// status has a short form on narrow screens, the name is cut with an
/// ellipsis.
#[component]
pub fn StatusBar() -> impl IntoView {
    let state = expect_context::<ChatState>();
    let status = move || -> (&'static str, AnyView) {
        if !state.hydrated.get() {
            // Without JavaScript a stylesheet in <noscript> hides this and
            // shows the note below instead.
            return ("starting", "Connecting…".into_any());
        }
        match state.connection.get() {
            Connection::Online => ("online", "Live".into_any()),
            Connection::Connecting => ("connecting", "Connecting…".into_any()),
            Connection::Offline(s) => (
                "offline",
                view! {
                    <span class="wide">"Offline, retrying in "</span>
                    <span class="narrow">"Offline · "</span>
                    {format!("{s}s")}
                }
                .into_any(),
            ),
        }
    };
    let state_name = move || status().0;

    view! {
        <header class="status-bar">
            <h1 class="room">"Chat"</h1>
            <span class="connection" data-state=state_name role="status">
                {move || status().1}
            </span>
            {move || {
                state
                    .me
                    .get()
                    .map(|me| {
                        let label = format!("Change your name (currently {})", me.name);
                        view! {
                            <button
                                type="button"
                                class="me"
                                title="Change your name"
                                aria-label=label
                                style:background-color=me.color
                                disabled=move || !state.hydrated.get()
                                on:click=move |_| state.renaming.set(true)
                            >
                                {me.name}
                            </button>
                            <button
                                type="button"
                                class="link-device"
                                title="Use on another device"
                                aria-label="Use on another device"
                                disabled=move || !state.hydrated.get()
                                on:click=move |_| state.linking.set(true)
                            >
                                <span class="icon" aria-hidden="true"></span>
                                <span class="label">"Link device"</span>
                            </button>
                        }
                    })
            }}
        </header>
        <p class="noscript-note">
            "JavaScript is off: this is the chat as it was when the page loaded. "
            "Reload to see new messages."
        </p>
        <Show when=move || state.notice.get().is_some()>
            <p class="notice" role="alert">{move || state.notice.get()}</p>
        </Show>
    }
}
