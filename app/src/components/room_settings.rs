use crate::api::{archive_room, rename_room};
use crate::protocol::RoomId;
use crate::state::ChatState;
use crate::validate::RoomName;
use leptos::ev::SubmitEvent;
use leptos::prelude::*;

/// Rename or archive the shown room.
#[component]
pub fn RoomSettings() -> impl IntoView {
    let state = expect_context::<ChatState>();
    let error = RwSignal::new(None::<String>);
    let confirming = RwSignal::new(false);
    let input = NodeRef::<leptos::html::Input>::new();
    let name = move || {
        state
            .room
            .with(|r| r.as_ref().map(|r| r.name.clone()).unwrap_or_default())
    };
    let close = move || {
        state.room_settings.set(false);
        confirming.set(false);
        error.set(None);
    };
    let on_rename = move |ev: SubmitEvent| {
        ev.prevent_default();
        let Some(name) = input.get_untracked().map(|el| el.value()) else {
            return;
        };
        if let Err(e) = RoomName::parse(&name) {
            error.set(Some(e.to_string()));
            return;
        }
        let room = state.room_id();
        leptos::task::spawn_local(async move {
            match rename_room(room, name).await {
                Ok(_) => close(),
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };
    let on_archive = move |_| {
        if !confirming.get_untracked() {
            confirming.set(true);
            return;
        }
        let room = state.room_id();
        leptos::task::spawn_local(async move {
            match archive_room(room).await {
                Ok(_) => close(),
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };

    view! {
        <Show when=move || state.room_settings.get()>
            <div class="name-prompt" role="dialog" aria-modal="true" aria-labelledby="room-settings-title">
                <form class="name-form" on:submit=on_rename novalidate>
                    <h2 id="room-settings-title">"Room settings"</h2>
                    <label class="hint" for="room-name-input">"Name"</label>
                    <input
                        id="room-name-input"
                        type="text"
                        class="room-name-input"
                        node_ref=input
                        prop:value=name
                        on:input=move |_| error.set(None)
                    />
                    <div class="name-actions">
                        <Show when=move || state.room_id() != RoomId::DEFAULT>
                            <button type="button" class="archive danger" on:click=on_archive>
                                {move || if confirming.get() { "Archive for everyone?" } else { "Archive" }}
                            </button>
                        </Show>
                        <button type="button" class="cancel" on:click=move |_| close()>"Close"</button>
                        <button type="submit" class="join">"Rename"</button>
                    </div>
                    <p class="name-error" role="alert" hidden=move || error.get().is_none()>{move || error.get()}</p>
                </form>
            </div>
        </Show>
    }
}
