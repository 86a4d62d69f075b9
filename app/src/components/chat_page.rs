use super::composer::Composer;
use super::message_list::MessageList;
use super::name_prompt::NamePrompt;
use super::status_bar::StatusBar;
use super::transfer::TransferDialog;
use crate::api::ChatSnapshot;
use crate::protocol::HISTORY_PAGE;
use crate::state::ChatState;
use leptos::prelude::*;

/// The one room: rendered from the snapshot the server put in the page
/// (so it reads as plain HTML without JavaScript), then live.
#[component]
pub fn ChatPage(snapshot: ChatSnapshot) -> impl IntoView {
    let state = ChatState::new();
    provide_context(state);
    // Effects only run in the browser, after hydration.
    Effect::new(move |_| state.hydrated.set(true));
    state
        .more_history
        .set(snapshot.messages.len() as u32 >= HISTORY_PAGE);
    match snapshot.me {
        Some(me) => state.set_identity(me),
        None => state.needs_name.set(true),
    }
    state.merge_stream(snapshot.messages);
    state.name_error.set(snapshot.name_error);
    #[cfg(feature = "hydrate")]
    {
        crate::device::start(state);
        crate::client::start(state);
    }

    view! {
        <main class="chat">
            <StatusBar/>
            <MessageList/>
            <Composer/>
            <NamePrompt/>
            <TransferDialog/>
        </main>
    }
}
