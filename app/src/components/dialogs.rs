//! The dialogs a page seldom opens. Their code is a WASM chunk of its own
//! (the release build splits at each `wasm_split` function below; the
//! message actions menu in `message_row` is split the same way), fetched
//! the first time one opens and then kept, so a cold visit on a phone
//! downloads and compiles only what the conversation needs. Until a dialog
//! first opens nothing of it is rendered, on the server or in the
//! browser, so hydration never waits for a chunk.
//!
//! A chunk can fail to arrive (offline before the service worker stored
//! the release, or a page left open across an upgrade whose old files are
//! gone): the dialog then stays closed with a notice, the page keeps
//! working, and the next tap tries again.

use super::manage::ManageDialog;
use super::notifications::NotificationsDialog;
use super::room_settings::RoomSettings;
use super::search::SearchPanel;
use super::transfer::TransferDialog;
use crate::state::ChatState;
use futures::FutureExt;
use leptos::prelude::*;
use leptos::wasm_split::{wasm_split, SplitLoaderError};

/// Shown when a chunk's code could not be fetched.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
const NOT_LOADED: &str =
    "That part of the chat could not be loaded. Check the connection and try again, or reload the page.";

/// A chunk could not be fetched: say so.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
pub(crate) fn chunk_missing(state: ChatState) {
    state.notice.set(Some(NOT_LOADED.to_owned()));
}

/// A chunk arrived: an earlier "could not be loaded" no longer holds.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
pub(crate) fn chunk_arrived(state: ChatState) {
    if state
        .notice
        .with_untracked(|n| n.as_deref() == Some(NOT_LOADED))
    {
        state.notice.set(None);
    }
}

/// Defines `$split`, the split point whose chunk `$chunk` holds `$view`,
/// and `$preload`, which fetches that chunk.
macro_rules! split_dialog {
    ($chunk:ident, $split:ident, $preload:ident, $view:ident) => {
        #[wasm_split($chunk, wasm_split_path = ::leptos::wasm_split, fallible, preload($preload))]
        fn $split() -> Result<AnyView, SplitLoaderError> {
            Ok(view! { <$view/> }.into_any())
        }
    };
}

split_dialog!(
    chat_transfer_dialog,
    transfer_dialog,
    load_transfer_dialog,
    TransferDialog
);
split_dialog!(
    chat_room_settings,
    room_settings,
    load_room_settings,
    RoomSettings
);
split_dialog!(
    chat_notifications,
    notifications_dialog,
    load_notifications_dialog,
    NotificationsDialog
);
split_dialog!(chat_manage, manage_dialog, load_manage_dialog, ManageDialog);
split_dialog!(chat_search, search_panel, load_search_panel, SearchPanel);

/// Fetches a chunk (`preload`) the first time `wanted` turns true; the
/// returned signal turns true once it has arrived. A chunk that cannot be
/// fetched calls `give_up` (which should make `wanted` false) and leaves a
/// notice; the next time `wanted` turns true it is tried again.
pub(super) fn load_when<Fut>(
    state: ChatState,
    wanted: impl Fn() -> bool + 'static,
    give_up: impl Fn() + Copy + 'static,
    preload: fn() -> Fut,
) -> RwSignal<bool>
where
    Fut: std::future::Future<Output = Result<(), SplitLoaderError>> + 'static,
{
    let ready = RwSignal::new(false);
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        if wanted() && !ready.get_untracked() {
            leptos::task::spawn_local(async move {
                match preload().await {
                    Ok(()) => {
                        ready.set(true);
                        chunk_arrived(state);
                    }
                    Err(_) => {
                        give_up();
                        chunk_missing(state);
                    }
                }
            });
        }
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = (state, wanted, give_up, preload);
    ready
}

/// Mounts `$split`'s view once `$open` first turns true and its chunk has
/// arrived. Once loaded, the split function answers at once: its future
/// is ready on the first poll.
macro_rules! on_first_open {
    ($state:expr, $open:expr, $split:ident, $preload:ident) => {{
        let open: RwSignal<bool> = $open;
        let ready = load_when(
            $state,
            move || open.get(),
            move || open.set(false),
            $preload,
        );
        move || {
            ready
                .get()
                .then(|| $split().now_or_never().and_then(Result::ok))
                .flatten()
        }
    }};
}

#[component]
pub fn Dialogs() -> impl IntoView {
    let state = expect_context::<ChatState>();
    view! {
        {on_first_open!(state, state.linking, transfer_dialog, load_transfer_dialog)}
        {on_first_open!(state, state.room_settings, room_settings, load_room_settings)}
        {on_first_open!(state, state.notifying, notifications_dialog, load_notifications_dialog)}
        {on_first_open!(state, state.managing, manage_dialog, load_manage_dialog)}
        {on_first_open!(state, state.searching, search_panel, load_search_panel)}
    }
}
