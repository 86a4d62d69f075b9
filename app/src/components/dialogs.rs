//! The dialogs a page seldom opens. Their code is a WASM chunk of its own
//! (the release build splits at `#[lazy]`), fetched the first time one
//! opens and then kept, so a cold visit on a phone downloads and compiles
//! only what the conversation needs. Until a dialog first opens nothing of
//! it is rendered, on the server or in the browser, so hydration never
//! waits for a chunk.

use super::manage::ManageDialog;
use super::notifications::NotificationsDialog;
use super::room_settings::RoomSettings;
use super::search::SearchPanel;
use super::transfer::TransferDialog;
use crate::state::ChatState;
use futures::FutureExt;
use leptos::lazy;
use leptos::prelude::*;

#[lazy]
fn transfer_dialog() -> AnyView {
    view! { <TransferDialog/> }.into_any()
}

#[lazy]
fn room_settings() -> AnyView {
    view! { <RoomSettings/> }.into_any()
}

#[lazy]
fn notifications_dialog() -> AnyView {
    view! { <NotificationsDialog/> }.into_any()
}

#[lazy]
fn manage_dialog() -> AnyView {
    view! { <ManageDialog/> }.into_any()
}

#[lazy]
fn search_panel() -> AnyView {
    view! { <SearchPanel/> }.into_any()
}

/// Mounts `$lazy`'s view once `$open` first turns true and its chunk has
/// arrived (`$preload`, which `#[lazy]` defines beside it in the browser).
/// Once loaded, the lazy function answers at once, so its future is ready
/// on the first poll.
macro_rules! on_first_open {
    ($open:expr, $lazy:ident, $preload:ident) => {{
        let open: RwSignal<bool> = $open;
        let ready = RwSignal::new(false);
        #[cfg(feature = "hydrate")]
        Effect::new(move |_| {
            if open.get() && !ready.get_untracked() {
                leptos::task::spawn_local(async move {
                    $preload().await;
                    ready.set(true);
                });
            }
        });
        let _ = open;
        move || ready.get().then(|| $lazy().now_or_never()).flatten()
    }};
}

#[component]
pub fn Dialogs() -> impl IntoView {
    let state = expect_context::<ChatState>();
    view! {
        {on_first_open!(state.linking, transfer_dialog, __preload_transfer_dialog)}
        {on_first_open!(state.room_settings, room_settings, __preload_room_settings)}
        {on_first_open!(state.notifying, notifications_dialog, __preload_notifications_dialog)}
        {on_first_open!(state.managing, manage_dialog, __preload_manage_dialog)}
        {on_first_open!(state.searching, search_panel, __preload_search_panel)}
    }
}
