//! Every TCP connection is counted against its address from the moment it
//! is accepted, before any TLS handshake or request: a client that opens
//! hundreds of connections and never speaks (or drips a byte at a time)
//! holds at most `--max-tcp-per-ip` of them. The limits on requests,
//! sockets and rates only see connections that got that far.

use crate::limits::{ConnectionCap, Slot};
use axum_server::accept::Accept;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// Accepts a connection if its address has room, with Nagle off (a chat
/// writes small frames; Nagle would hold an ack behind a broadcast for a
/// delayed-ACK timeout, ~40 ms).
#[derive(Clone)]
pub struct CappedAcceptor {
    cap: Arc<ConnectionCap<IpAddr>>,
    /// Proxies in front of the chat carry many clients' connections.
    exempt: Arc<Vec<IpAddr>>,
}

impl CappedAcceptor {
    pub fn new(max_per_ip: usize, exempt: Vec<IpAddr>) -> Self {
        Self {
            cap: Arc::new(ConnectionCap::new(max_per_ip)),
            exempt: Arc::new(exempt),
        }
    }

    fn admit(&self, stream: &TcpStream) -> io::Result<Option<Slot<IpAddr>>> {
        let ip = stream.peer_addr()?.ip().to_canonical();
        if self.exempt.contains(&ip) {
            return Ok(None);
        }
        match self.cap.acquire(crate::limits::address_key(ip)) {
            Some(slot) => Ok(Some(slot)),
            None => Err(io::Error::new(
                io::ErrorKind::ConnectionRefused,
                "too many connections from one address",
            )),
        }
    }
}

impl<S: Send + 'static> Accept<TcpStream, S> for CappedAcceptor {
    type Stream = Capped;
    type Service = S;
    type Future = std::future::Ready<io::Result<(Capped, S)>>;

    fn accept(&self, stream: TcpStream, service: S) -> Self::Future {
        // Refused: the stream is dropped, which closes the connection.
        let accepted = self.admit(&stream).and_then(|slot| {
            stream.set_nodelay(true)?;
            Ok((
                Capped {
                    stream,
                    _slot: slot,
                },
                service,
            ))
        });
        if let Err(e) = &accepted {
            tracing::debug!(error = %e, "connection refused");
        }
        std::future::ready(accepted)
    }
}

/// A connection holding its address's slot until it closes.
pub struct Capped {
    stream: TcpStream,
    _slot: Option<Slot<IpAddr>>,
}

impl AsyncRead for Capped {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Capped {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
