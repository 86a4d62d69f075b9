//! The room list.

pub mod room_list;
