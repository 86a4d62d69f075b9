use super::room_access::RoomAccess;
use crate::api::{ArchiveRoom, RenameRoom};
use crate::protocol::RoomId;
use crate::state::{ChatState, Overlay, Ui};
use crate::validate::RoomName;
use leptos::ev::SubmitEvent;
use leptos::prelude::*;

/// Rename or archive the shown room.
#[component]
pub fn RoomSettings() -> impl IntoView {
    let state = expect_context::<ChatState>();
    let ui = expect_context::<Ui>();
    let rename = crate::components::server_call::<RenameRoom>();
    let archive = crate::components::server_call::<ArchiveRoom>();
    // What the page itself found wrong before sending.
    let invalid = RwSignal::new(None::<String>);
    let confirming = RwSignal::new(false);
    let input = NodeRef::<leptos::html::Input>::new();
    let name = move || {
        state
            .room
            .with(|r| r.as_ref().map(|r| r.name.clone()).unwrap_or_default())
    };
    let error = move || {
        invalid
            .get()
            .or_else(|| crate::components::refusal(rename))
            .or_else(|| crate::components::refusal(archive))
    };
    let close = move || {
        ui.close(Overlay::RoomSettings);
        confirming.set(false);
        invalid.set(None);
        rename.value().set(None);
        archive.value().set(None);
    };
    // Done: the room's new name or archived state arrives on the socket.
    Effect::new(move |_| {
        let renamed = rename.value().with(|v| matches!(v, Some(Ok(_))));
        let archived = archive.value().with(|v| matches!(v, Some(Ok(_))));
        if renamed || archived {
            close();
        }
    });
    let on_rename = move |ev: SubmitEvent| {
        ev.prevent_default();
        let Some(name) = input.get_untracked().map(|el| el.value()) else {
            return;
        };
        if let Err(e) = RoomName::parse(&name) {
            invalid.set(Some(e.to_string()));
            return;
        }
        rename.dispatch(RenameRoom {
            room: state.room_id(),
            name,
        });
    };
    let on_archive = move |_| {
        if !confirming.get_untracked() {
            confirming.set(true);
            return;
        }
        archive.dispatch(ArchiveRoom {
            room: state.room_id(),
        });
    };

    view! {
        <Show when=move || ui.is(Overlay::RoomSettings)>
            <div class="name-prompt" role="dialog" aria-modal="true" aria-labelledby="room-settings-title">
                <div class="name-form room-settings">
                <form class="rename-form" on:submit=on_rename novalidate>
                    <h2 id="room-settings-title">"Room settings"</h2>
                    <label class="hint" for="room-name-input">"Name"</label>
                    <input
                        id="room-name-input"
                        type="text"
                        class="room-name-input"
                        node_ref=input
                        prop:value=name
                        on:input=move |_| invalid.set(None)
                    />
                    <div class="name-actions">
                        <Show when=move || state.room_id() != RoomId::DEFAULT>
                            <button type="button" class="archive danger" on:click=on_archive>
                                {move || if confirming.get() { "Archive for everyone?" } else { "Archive" }}
                            </button>
                        </Show>
                        <button type="button" class="cancel" on:click=move |_| close()>"Close"</button>
                        <button type="submit" class="join" disabled=move || rename.pending().get()>"Rename"</button>
                    </div>
                    <p class="name-error" role="alert" hidden=move || error().is_none()>{error}</p>
                </form>
                <RoomAccess/>
                </div>
            </div>
        </Show>
    }
}
