//! The edge: everything a browser or another program reaches over HTTP —
//! pages, server functions, the WebSocket, files, the installable app,
//! links — and the TCP and TLS it arrives on. Nothing below imports it.

pub mod accept;
pub mod assets;
mod bots;
mod compress;
mod export;
mod files;
mod headers;
pub mod identity;
mod links;
mod origin;
pub mod page_cache;
mod pages;
pub mod port80;
mod pwa;
pub mod qr;
mod router;
mod server_fns;
pub mod state;
pub mod tls;
mod transfer;
mod trust;
mod ws;

pub use origin::OriginPolicy;
pub use router::router;
