use super::composer::Composer;
use super::message_list::MessageList;
use super::name_prompt::NamePrompt;
use super::status_bar::StatusBar;
use super::transfer::TransferDialog;
use crate::api::load_chat;
use crate::protocol::HISTORY_PAGE;
use crate::state::ChatState;
use leptos::prelude::*;

/// The one room: loads the snapshot (server-rendered), then goes live.
#[component]
pub fn ChatPage() -> impl IntoView {
    let state = ChatState::new();
    provide_context(state);
    // Effects only run in the browser, after hydration.
    Effect::new(move |_| state.hydrated.set(true));
    let snapshot = Resource::new(|| (), |_| load_chat());
    let started = StoredValue::new(false);

    view! {
        <main class="chat">
            <Suspense fallback=|| view! { <p class="loading">"Loading the chat…"</p> }>
                {move || Suspend::new(async move {
                    match snapshot.await {
                        Ok(snapshot) => {
                            state.more_history.set(snapshot.messages.len() as u32 >= HISTORY_PAGE);
                            match snapshot.me {
                                Some(me) => state.set_identity(me),
                                None => state.needs_name.set(true),
                            }
                            state.merge_stream(snapshot.messages);
                        }
                        Err(e) => state.notice.set(Some(e.to_string())),
                    }
                    if !started.get_value() {
                        started.set_value(true);
                        #[cfg(feature = "hydrate")]
                        {
                            crate::device::start(state);
                            crate::client::start(state);
                        }
                    }
                    view! {
                        <StatusBar/>
                        <MessageList/>
                        <Composer/>
                        <NamePrompt/>
                        <TransferDialog/>
                    }
                })}
            </Suspense>
        </main>
    }
}
