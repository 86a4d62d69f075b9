//! One component per visible piece of the chat.

mod chat_page;
mod composer;
mod message_list;
mod name_prompt;
mod status_bar;
mod transfer;

pub use chat_page::ChatPage;
