//! The conversation: the header, the messages, who is typing and the
//! message box.

pub mod composer;
pub mod message_list;
pub mod message_row;
pub mod status_bar;
pub mod typing;
