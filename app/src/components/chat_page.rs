use super::conversation::composer::Composer;
use super::conversation::message_list::MessageList;
use super::conversation::status_bar::StatusBar;
use super::conversation::typing::TypingLine;
use super::dialogs::Dialogs;
use super::name_prompt::NamePrompt;
use super::rooms::room_list::RoomList;
use crate::api::ChatSnapshot;
use crate::protocol::HISTORY_PAGE;
use crate::state::{ChatState, Screen};
use leptos::prelude::*;

/// The chat: the room list beside the room on a laptop (a screen of its
/// own on a phone), rendered from the snapshot the server put in the page
/// (so it reads as plain HTML without JavaScript), then live.
#[component]
pub fn ChatPage(snapshot: ChatSnapshot) -> impl IntoView {
    let state = ChatState::new();
    provide_context(state);
    let ui = crate::state::Ui::new();
    provide_context(ui);
    // The name form posted without JavaScript comes back here refused.
    ui.name_error.set(snapshot.name_error.clone());
    // Effects only run in the browser, after hydration.
    Effect::new(move |_| {
        state.hydrated.set(true);
        // A task queued from the next animation frame runs after that
        // frame is painted.
        request_animation_frame(move || {
            set_timeout(
                move || state.local_times.set(true),
                std::time::Duration::ZERO,
            )
        });
    });
    state
        .more_history
        .set(snapshot.messages.len() as u32 >= HISTORY_PAGE);
    match snapshot.me {
        Some(me) => state.set_identity(me),
        None => state.needs_name.set(true),
    }
    state.room.set(snapshot.room);
    state.rooms.set(snapshot.rooms);
    state.edit_window_secs.set(snapshot.edit_window_secs);
    state.merge_stream(snapshot.messages);
    state.resume_from(snapshot.seq);
    state.place_divider();
    if let Some(id) = snapshot.focus {
        // A permalink: history around the message, the live end behind
        // "back to latest".
        state.detached.set(true);
        state.more_history.set(true);
        state.divider.set(None);
        state.focus.set(Some(id));
    }
    state.role.set(snapshot.role);
    state.chat_name.set(snapshot.chat_name);
    #[cfg(feature = "hydrate")]
    {
        crate::device::start(state);
        crate::client::start(state);
        Effect::new(move |ran: Option<()>| {
            if ran.is_none() {
                crate::early::take_over(state);
            }
        });
        crate::notify::follow_notification_taps(state);
    }

    view! {
        <main class="chat" class:rooms-open=move || state.screen.get() == Screen::Rooms>
            <RoomList/>
            <section
                class="room-view"
                aria-label="Conversation"
                on:dragover=move |ev: leptos::ev::DragEvent| ev.prevent_default()
                on:drop=move |ev: leptos::ev::DragEvent| {
                    // A file dropped anywhere on the room is sent like a picked one.
                    #[cfg(feature = "hydrate")]
                    if let Some(file) = ev.data_transfer().and_then(|d| d.files()).and_then(|f| f.get(0)) {
                        ev.prevent_default();
                        if state.can_post() {
                            crate::upload::start(state, file);
                        }
                    }
                    let _ = ev;
                }
            >
                <StatusBar/>
                <MessageList/>
                <TypingLine/>
                <Composer/>
                <NamePrompt/>
            </section>
            <Dialogs/>
        </main>
    }
}
