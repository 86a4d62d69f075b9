use crate::api::CreateRoom;
use crate::state::ChatState;
use crate::validate::RoomName;
use leptos::ev::{MouseEvent, SubmitEvent};
use leptos::prelude::*;

/// Every room with its unread and mention counts; the shown one marked.
/// Plain links, so it works without JavaScript too; with it, switching
/// rooms keeps the page and its socket.
#[component]
pub fn RoomList() -> impl IntoView {
    let state = expect_context::<ChatState>();
    let creating = RwSignal::new(false);
    let create = ServerAction::<CreateRoom>::new();
    // What the page itself found wrong before sending.
    let invalid = RwSignal::new(None::<String>);
    let input = NodeRef::<leptos::html::Input>::new();
    let error = move || invalid.get().or_else(|| crate::components::refusal(create));
    Effect::new(move |_| {
        if let Some(Ok(room)) = create.value().get() {
            create.value().set(None);
            creating.set(false);
            state.go_to(room);
        }
    });
    let on_create = move |ev: SubmitEvent| {
        ev.prevent_default();
        let Some(name) = input.get_untracked().map(|el| el.value()) else {
            return;
        };
        if let Err(e) = RoomName::parse(&name) {
            invalid.set(Some(e.to_string()));
            return;
        }
        create.dispatch(CreateRoom { name });
    };

    view! {
        <nav class="room-list" aria-label="Rooms">
            <h2 class="room-list-title">"Rooms"</h2>
            <ul>
                <For
                    each=move || state.rooms.get()
                    key=|s| (s.room.id, s.room.name.clone(), s.unread, s.mentions)
                    children=move |s| {
                        let room = s.room.clone();
                        let id = room.id;
                        let current = move || state.room.with(|r| r.as_ref().is_some_and(|r| r.id == id));
                        let label = match (s.unread, s.mentions) {
                            (0, _) => room.name.clone(),
                            (n, 0) => format!("{}, {n} unread", room.name),
                            (n, m) => format!("{}, {n} unread, {m} mentioning you", room.name),
                        };
                        let href = format!("/r/{}", room.slug);
                        view! {
                            <li>
                                <a
                                    class="room-link"
                                    class:current=current
                                    class:unread={s.unread > 0}
                                    href=href
                                    aria-label=label
                                    aria-current=move || current().then_some("page")
                                    on:click=move |ev: MouseEvent| {
                                        if ev.ctrl_key() || ev.meta_key() || ev.shift_key() {
                                            return;
                                        }
                                        ev.prevent_default();
                                        state.go_to(room.clone());
                                    }
                                >
                                    <span class="room-name">"# " {s.room.name.clone()}</span>
                                    <Show when=move || { s.mentions > 0 }>
                                        <span class="badge mention" aria-hidden="true">"@" {s.mentions}</span>
                                    </Show>
                                    <Show when=move || { s.unread > 0 }>
                                        <span class="badge" aria-hidden="true">{badge(s.unread)}</span>
                                    </Show>
                                </a>
                            </li>
                        }
                    }
                />
            </ul>
            <Show
                when=move || creating.get()
                fallback=move || view! {
                    <button
                        type="button"
                        class="new-room"
                        disabled=state.nameless()
                        on:click=move |_| {
                            creating.set(true);
                            request_animation_frame(move || {
                                if let Some(el) = input.get_untracked() {
                                    let _ = el.focus();
                                }
                            });
                        }
                    >
                        "+ New room"
                    </button>
                }
            >
                <form class="new-room-form" on:submit=on_create novalidate>
                    <input
                        type="text"
                        class="new-room-name"
                        node_ref=input
                        aria-label="Room name"
                        placeholder="Room name"
                        enterkeyhint="go"
                        on:input=move |_| invalid.set(None)
                    />
                    <div class="name-actions">
                        <button type="button" class="cancel" on:click=move |_| creating.set(false)>"Cancel"</button>
                        <button type="submit" class="join" disabled=move || create.pending().get()>"Create"</button>
                    </div>
                    <p class="name-error" role="alert" hidden=move || error().is_none()>{error}</p>
                </form>
            </Show>
        </nav>
    }
}

fn badge(n: u32) -> String {
    if n >= 1000 {
        "999+".to_owned()
    } else {
        n.to_string()
    }
}
