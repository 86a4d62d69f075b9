//! The server's integration tests, as one test binary: each module starts
//! real server processes (see `common`). One binary links once instead of
//! once per file, which saves minutes and gigabytes of debug output on a
//! fresh build.

mod common;

mod access;
mod acme;
mod bots;
mod chat;
mod closed;
mod datatools;
mod drill;
mod files;
mod hardening;
mod http;
mod limits;
mod multinode;
mod previews;
mod push;
mod rooms;
mod sockets;
mod transfer;
