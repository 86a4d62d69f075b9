//! One component per visible piece of the chat.

mod chat_page;
mod chunks;
mod composer;
mod dialogs;
mod manage;
mod message_list;
mod message_row;
mod name_prompt;
mod notifications;
mod room_list;
mod room_settings;
mod search;
mod status_bar;
mod transfer;
mod typing;

pub use chat_page::ChatPage;
#[cfg(feature = "hydrate")]
pub(crate) use chunks::{chunk_arrived, chunk_missing};
#[cfg(feature = "hydrate")]
pub use room_list::go_to;
