//! Which dialog is open over the conversation: the page's own state, apart
//! from the chat's data in `ChatState`. One signal, so two dialogs can
//! never be open at once.

use leptos::prelude::*;

/// A dialog over the conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overlay {
    /// Changing one's name (choosing a first one is not a dialog: the
    /// form stays docked until it is done).
    Rename,
    /// "Use on another device".
    Link,
    RoomSettings,
    Notifications,
    /// The owner's and moderators' dialog.
    Manage,
    Search,
    /// Choosing whom to write to.
    NewDirect,
}

/// The open dialog, provided next to `ChatState`.
#[derive(Clone, Copy)]
pub struct Ui {
    overlay: RwSignal<Option<Overlay>>,
    /// Why the name form was refused, shown under it.
    pub name_error: RwSignal<Option<String>>,
}

impl Ui {
    pub fn new() -> Self {
        Self {
            overlay: RwSignal::new(None),
            name_error: RwSignal::new(None),
        }
    }

    /// Whether `overlay` is the open one (tracked).
    pub fn is(&self, overlay: Overlay) -> bool {
        self.overlay.with(|o| *o == Some(overlay))
    }

    /// Opens `overlay`, closing any other.
    pub fn open(&self, overlay: Overlay) {
        self.overlay.set(Some(overlay));
    }

    /// Closes whichever dialog is open (Escape does, as in any dialog).
    pub fn dismiss(&self) {
        if self.overlay.with_untracked(Option::is_some) {
            self.overlay.set(None);
        }
    }

    /// Closes `overlay` if it is the open one.
    pub fn close(&self, overlay: Overlay) {
        if self.overlay.with_untracked(|o| *o == Some(overlay)) {
            self.overlay.set(None);
        }
    }
}

impl Default for Ui {
    fn default() -> Self {
        Self::new()
    }
}
