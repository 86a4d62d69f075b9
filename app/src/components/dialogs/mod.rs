//! The dialogs a page seldom opens. Their code is a WASM chunk of its own
//! (the release build splits at each `wasm_split` function below), fetched
//! the first time one opens and then kept (see `chunks`). Until a dialog
//! first opens nothing of it is rendered, on the server or in the
//! browser, so hydration never waits for a chunk.

mod direct;
mod manage;
mod notifications;
mod room_access;
mod room_settings;
mod search;
mod transfer;

use super::chunks::load_when;
use crate::state::{ChatState, Overlay, Ui};
use direct::NewDirect;
use futures::FutureExt;
use leptos::prelude::*;
use leptos::wasm_split::{wasm_split, SplitLoaderError};
use manage::ManageDialog;
use notifications::NotificationsDialog;
use room_settings::RoomSettings;
use search::SearchPanel;
use transfer::TransferDialog;

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
split_dialog!(chat_new_direct, new_direct, load_new_direct, NewDirect);

/// Mounts `$split`'s view once `$open` first turns true and its chunk has
/// arrived. Once loaded, the split function answers at once: its future
/// is ready on the first poll.
macro_rules! on_first_open {
    ($state:expr, $ui:expr, $overlay:expr, $split:ident, $preload:ident) => {{
        let ui: Ui = $ui;
        let ready = load_when(
            $state,
            move || ui.is($overlay),
            move || ui.close($overlay),
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
    let ui = expect_context::<Ui>();
    // Escape closes the open dialog, whichever it is.
    #[cfg(feature = "hydrate")]
    {
        let handle = window_event_listener(leptos::ev::keydown, move |ev| {
            if ev.key() == "Escape" {
                ui.dismiss();
            }
        });
        on_cleanup(move || handle.remove());
    }
    view! {
        {on_first_open!(state, ui, Overlay::Link, transfer_dialog, load_transfer_dialog)}
        {on_first_open!(state, ui, Overlay::RoomSettings, room_settings, load_room_settings)}
        {on_first_open!(state, ui, Overlay::Notifications, notifications_dialog, load_notifications_dialog)}
        {on_first_open!(state, ui, Overlay::Manage, manage_dialog, load_manage_dialog)}
        {on_first_open!(state, ui, Overlay::Search, search_panel, load_search_panel)}
        {on_first_open!(state, ui, Overlay::NewDirect, new_direct, load_new_direct)}
    }
}
