use crate::state::{ChatState, Connection};
use leptos::prelude::*;

/// Connection state, who you are, and any notice from the server. The chat
/// never goes silently dead: a lost connection is always shown here.
#[component]
pub fn StatusBar() -> impl IntoView {
    let state = expect_context::<ChatState>();
    let status = move || {
        if !state.hydrated.get() {
            return ("connecting", "Starting…".to_owned());
        }
        match state.connection.get() {
            Connection::Online => ("online", "Live".to_owned()),
            Connection::Connecting => ("connecting", "Connecting…".to_owned()),
            Connection::Offline(s) => ("offline", format!("Offline, retrying in {s}s")),
        }
    };

    view! {
        <header class="status-bar">
            <h1 class="room">"Chat"</h1>
            <span class="connection" data-state=move || status().0 role="status">
                {move || status().1}
            </span>
            {move || {
                state
                    .me
                    .get()
                    .map(|me| {
                        view! {
                            <button
                                type="button"
                                class="me"
                                title="Change your name"
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
                                disabled=move || !state.hydrated.get()
                                on:click=move |_| state.linking.set(true)
                            >
                                "Link device"
                            </button>
                        }
                    })
            }}
        </header>
        <Show when=move || state.notice.get().is_some()>
            <p class="notice" role="alert">{move || state.notice.get()}</p>
        </Show>
    }
}
