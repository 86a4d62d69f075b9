//! Whether the WASM chunks fetched on first use (dialogs, a message's
//! menu, uploads) arrived: a chunk that could not be fetched leaves a
//! notice, which the next one that arrives clears. Used by the views that
//! load chunks (`components::chunks`) and by the upload service alike.

use crate::state::ChatState;
use leptos::prelude::*;

/// Shown when a chunk's code could not be fetched.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
const NOT_LOADED: &str =
    "That part of the chat could not be loaded. Check the connection and try again, or reload the page.";

/// A chunk could not be fetched: say so.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
pub fn chunk_missing(state: ChatState) {
    state.notice.set(Some(NOT_LOADED.to_owned()));
}

/// A chunk arrived: an earlier "could not be loaded" no longer holds.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
pub fn chunk_arrived(state: ChatState) {
    if state
        .notice
        .with_untracked(|n| n.as_deref() == Some(NOT_LOADED))
    {
        state.notice.set(None);
    }
}
