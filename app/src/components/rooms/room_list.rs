use crate::api::CreateRoom;
use crate::protocol::{RoomKind, RoomStatus};
use crate::state::{ChatState, Overlay, Ui};
use crate::validate::RoomName;
use leptos::ev::{MouseEvent, SubmitEvent};
use leptos::prelude::*;

/// Every room with its unread and mention counts, then the direct
/// conversations newest first; the shown one marked. Plain links, so it
/// works without JavaScript too; with it, switching rooms keeps the page
/// and its socket.
#[component]
pub fn RoomList() -> impl IntoView {
    let state = expect_context::<ChatState>();
    let ui = expect_context::<Ui>();
    let creating = RwSignal::new(false);
    let create = crate::components::server_call::<CreateRoom>();
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
    let rooms = move || {
        state.rooms.with(|list| {
            list.iter()
                .filter(|s| s.room.kind != RoomKind::Direct)
                .cloned()
                .collect::<Vec<_>>()
        })
    };
    let directs = move || {
        let mut list: Vec<RoomStatus> = state.rooms.with(|list| {
            list.iter()
                .filter(|s| s.room.kind == RoomKind::Direct)
                .cloned()
                .collect()
        });
        list.sort_by(|a, b| {
            b.last_at
                .cmp(&a.last_at)
                .then(b.room.id.0.cmp(&a.room.id.0))
        });
        list
    };

    view! {
        <nav class="room-list" aria-label="Rooms">
            <h2 class="room-list-title">"Rooms"</h2>
            <ul>
                <For
                    each=rooms
                    key=|s| (s.room.id, s.room.name.clone(), s.room.kind, s.unread, s.mentions)
                    children=move |s| view! { <RoomLink status=s/> }
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
            <h2 class="room-list-title direct-title">"Direct messages"</h2>
            <ul class="direct-list" aria-label="Direct messages">
                <For
                    each=directs
                    key=|s| (s.room.id, s.room.name.clone(), s.room.members.len(), s.unread, s.mentions, s.last_at)
                    children=move |s| view! { <RoomLink status=s/> }
                />
            </ul>
            <button
                type="button"
                class="new-direct"
                disabled=state.nameless()
                on:click=move |_| ui.open(Overlay::NewDirect)
            >
                "+ New message"
            </button>
        </nav>
    }
}

/// One room in the list: its name (a conversation's people), a lock if
/// private, its counts.
#[component]
fn RoomLink(status: RoomStatus) -> impl IntoView {
    let state = expect_context::<ChatState>();
    let room = status.room.clone();
    let id = room.id;
    let title = room.title(state.my_id());
    let current = move || state.room.with(|r| r.as_ref().is_some_and(|r| r.id == id));
    let label = match (status.unread, status.mentions) {
        (0, _) => title.clone(),
        (n, 0) => format!("{title}, {n} unread"),
        (n, m) => format!("{title}, {n} unread, {m} mentioning you"),
    };
    let label = match room.kind {
        RoomKind::Private => format!("{label} (private)"),
        _ => label,
    };
    let mark = match room.kind {
        RoomKind::Open => "# ",
        RoomKind::Private => "🔒 ",
        RoomKind::Direct => "@ ",
    };
    let href = format!("/r/{}", room.slug);
    let (unread, mentions) = (status.unread, status.mentions);
    view! {
        <li>
            <a
                class="room-link"
                class:current=current
                class:unread={unread > 0}
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
                <span class="room-name"><span aria-hidden="true">{mark}</span>{title.clone()}</span>
                <Show when=move || { mentions > 0 }>
                    <span class="badge mention" aria-hidden="true">"@" {mentions}</span>
                </Show>
                <Show when=move || { unread > 0 }>
                    <span class="badge" aria-hidden="true">{badge(unread)}</span>
                </Show>
            </a>
        </li>
    }
}

/// The server counts up to 100 (its cost grows with the count).
fn badge(n: u32) -> String {
    if n >= 100 {
        "99+".to_owned()
    } else {
        n.to_string()
    }
}
