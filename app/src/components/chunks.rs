//! What a visit seldom needs is a WASM chunk of its own (the release
//! build splits at each `wasm_split` function: the dialogs, a message's
//! actions menu, uploads), fetched on first use and then kept, so a cold
//! visit on a phone downloads and compiles only what the conversation
//! needs.
//!
//! A chunk can fail to arrive (offline before the service worker stored
//! the release, or a page left open across an upgrade whose old files are
//! gone): what was opening stays closed with a notice, the page keeps
//! working, and the next try fetches it again.

#[cfg(feature = "hydrate")]
use crate::chunks::{chunk_arrived, chunk_missing};
use crate::state::ChatState;
use leptos::prelude::*;
use leptos::wasm_split::SplitLoaderError;

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
