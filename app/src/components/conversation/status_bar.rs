use crate::components::chunks::load_when;
use crate::state::{ChatState, Connection, Overlay, Screen, Ui};
use futures::FutureExt;
use leptos::either::Either;
use leptos::prelude::*;
use leptos::wasm_split::{wasm_split, SplitLoaderError};

/// The room's name, the connection, who you are; below it, who is here
/// and the room's settings. The chat never goes silently dead: a lost
/// connection is always shown here. Every state fits one line of a 320 px
/// screen: the status has a short form on narrow screens, the title and
/// the name are cut with an ellipsis when long.
#[component]
pub fn StatusBar() -> impl IntoView {
    let state = expect_context::<ChatState>();
    let ui = expect_context::<Ui>();
    let status = move || {
        if !state.hydrated.get() {
            // Without JavaScript a stylesheet in <noscript> hides this and
            // shows the note below instead.
            return ("starting", Either::Left("Connecting…"));
        }
        match state.connection.get() {
            Connection::Online => ("online", Either::Left("Live")),
            Connection::Connecting => ("connecting", Either::Left("Connecting…")),
            Connection::Blocked => ("offline", Either::Left("Blocked")),
            Connection::Private => ("offline", Either::Left("Private")),
            Connection::Offline(s) => (
                "offline",
                Either::Right(view! {
                    <span class="wide">"Offline, retrying in "</span>
                    <span class="narrow">"Offline · "</span>
                    {format!("{s}s")}
                }),
            ),
        }
    };
    let state_name = move || status().0;
    let title = move || {
        state.room.with(|r| {
            r.as_ref()
                .map_or_else(|| "Chat".to_owned(), |r| r.title(state.my_id()))
        })
    };
    let unread = move || state.unread_total();
    let rooms_label = move || match unread() {
        0 => "Rooms".to_owned(),
        n => format!("Rooms, {n} unread"),
    };

    view! {
        <header class="status-bar">
            <button
                type="button"
                class="rooms-button"
                aria-label=rooms_label
                disabled=state.starting()
                on:click=move |_| state.screen.set(Screen::Rooms)
            >
                <span class="icon" aria-hidden="true"></span>
                <Show when=move || { unread() > 0 }>
                    <span class="badge" aria-hidden="true">{unread}</span>
                </Show>
            </button>
            <h1 class="room">{title}</h1>
            <span class="connection" data-state=state_name role="status">
                {move || status().1}
            </span>
            {move || {
                state
                    .me
                    .get()
                    .map(|me| {
                        // Begins with what it shows, as voice control users say it.
                        let label = format!("{}: change your name", me.name);
                        view! {
                            <button
                                type="button"
                                class="me"
                                title="Change your name"
                                aria-label=label
                                style:background-color=me.color
                                disabled=state.starting()
                                on:click=move |_| ui.open(Overlay::Rename)
                            >
                                {me.name}
                            </button>
                        }
                    })
            }}
        </header>
        <RoomBar/>
        <p class="noscript-note">
            "JavaScript is off: this is the chat as it was when the page loaded. "
            "Reload to see new messages."
        </p>
        <Show when=move || state.room.with(|r| r.as_ref().is_some_and(|r| r.archived))>
            <p class="archived-note">"This room is archived: you can read it, not write in it."</p>
        </Show>
        <Show when=move || state.notice.get().is_some()>
            <p class="notice" role="alert">{move || state.notice.get()}</p>
        </Show>
    }
}

/// Who is here (a compact count, the full list on tap), the room's
/// settings, and linking another device.
#[component]
fn RoomBar() -> impl IntoView {
    let state = expect_context::<ChatState>();
    let ui = expect_context::<Ui>();
    let open = RwSignal::new(false);
    // The list is a chunk of its own: it is opened far less often than the
    // header is shown, and it can fetch a large room's people page by page.
    let list_ready = load_when(
        state,
        move || open.get(),
        move || open.set(false),
        load_people_list,
    );
    let count = move || state.presence_count.get();
    let label = move || match count() {
        1 => "1 person here".to_owned(),
        n => format!("{n} people here"),
    };
    view! {
        <div class="room-bar">
            <button
                type="button"
                class="presence-button"
                aria-expanded=move || open.get().to_string()
                aria-controls="presence-list"
                disabled=state.starting()
                on:click=move |_| open.update(|o| *o = !*o)
            >
                <span class="avatars" aria-hidden="true">
                    {move || {
                        state
                            .presence
                            .get()
                            .into_iter()
                            .take(4)
                            .map(|p| {
                                let initial = p.name.chars().next().map(String::from).unwrap_or_default();
                                view! { <span class="avatar" style:background-color=p.color>{initial}</span> }
                            })
                            .collect_view()
                    }}
                </span>
                <span class="presence-count">{label}</span>
            </button>
            <span class="spacer"></span>
            <button
                type="button"
                class="search-button"
                aria-label="Search messages"
                title="Search messages"
                disabled=state.starting()
                on:click=move |_| ui.open(Overlay::Search)
            >
                <span class="icon" aria-hidden="true"></span>
            </button>
            <Show when=move || state.role.get().is_some_and(crate::api::Role::moderates)>
                <button
                    type="button"
                    class="manage-button"
                    title="Manage chat"
                    disabled=state.starting()
                    on:click=move |_| ui.open(Overlay::Manage)
                >
                    "Manage"
                </button>
            </Show>
            <button
                type="button"
                class="notify-button"
                aria-label="Notifications"
                title="Notifications"
                disabled=state.nameless()
                on:click=move |_| ui.open(Overlay::Notifications)
            >
                <span class="icon" aria-hidden="true"></span>
            </button>
            <button
                type="button"
                class="room-settings-button"
                aria-label="Room settings"
                title="Room settings"
                disabled=state.nameless()
                on:click=move |_| ui.open(Overlay::RoomSettings)
            >
                "⋯"
            </button>
            <button
                type="button"
                class="link-device"
                title="Use on another device"
                aria-label="Link device: use on another device"
                disabled=state.nameless()
                on:click=move |_| ui.open(Overlay::Link)
            >
                <span class="icon" aria-hidden="true"></span>
                <span class="label">"Link device"</span>
            </button>
        </div>
        {move || {
            (open.get() && list_ready.get())
                .then(|| people_list().now_or_never().and_then(Result::ok))
                .flatten()
        }}
    }
}

#[wasm_split(chat_people_list, wasm_split_path = ::leptos::wasm_split, fallible, preload(load_people_list))]
fn people_list() -> Result<AnyView, SplitLoaderError> {
    Ok(view! { <PeopleHere/> }.into_any())
}

/// The list behind the count: everyone, in a room listed whole; in a
/// larger one the first of them, and the rest fetched a page at a time.
#[component]
fn PeopleHere() -> impl IntoView {
    let state = expect_context::<ChatState>();
    let more = crate::components::server_call::<crate::api::PeopleHere>();
    let fetched = RwSignal::new(Vec::<crate::protocol::Identity>::new());
    Effect::new(move |_| {
        if let Some(Ok(page)) = more.value().get() {
            fetched.update(|f| f.extend(page.people));
        }
    });
    let shown = move || {
        if fetched.with(Vec::is_empty) {
            state.presence.get()
        } else {
            fetched.get()
        }
    };
    let missing = move || (state.presence_count.get() as usize).saturating_sub(shown().len());
    view! {
        <ul id="presence-list" class="presence-list" aria-label="People here">
            <For
                each=shown
                key=|p| (p.user_id, p.name.clone())
                children=move |p| {
                    let user = p.user_id;
                    let label = format!("Message {}", p.name);
                    view! {
                        <li>
                            <span class="author" style:background-color=p.color>{p.name}</span>
                            <Show when=move || state.my_id().is_some_and(|me| me != user)>
                                <button
                                    type="button"
                                    class="cancel write-to"
                                    aria-label=label.clone()
                                    on:click=move |_| crate::components::write_to(state, user)
                                >
                                    "Message"
                                </button>
                            </Show>
                        </li>
                    }
                }
            />
            <Show when=move || { missing() > 0 }>
                <li>
                    <button
                        type="button"
                        class="cancel more-people"
                        disabled=move || more.pending().get()
                        on:click=move |_| {
                            more.dispatch(crate::api::PeopleHere {
                                room: state.room_id(),
                                offset: fetched.with(|f| f.len() as u32),
                            });
                        }
                    >
                        {move || format!("and {} more: show them", missing())}
                    </button>
                </li>
            </Show>
        </ul>
    }
}
