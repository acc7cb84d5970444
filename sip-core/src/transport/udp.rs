//! UDP transport (RFC 3261 §18.1.1, §18.2.1): one datagram is one message; bytes after
//! the Content-Length body are discarded by the parser (RFC 4475 §3.1.1.8).

use super::{Flow, Inbound, TransportError, TransportEvent, TransportKind, Transports};
use bytes::Bytes;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Instant;
use tokio::io::ReadBuf;
use tokio::net::UdpSocket;

/// Largest datagram we read; anything longer is truncated by the kernel and then fails
/// to parse (its Content-Length no longer fits).
const MAX_DATAGRAM: usize = 65_535;

#[derive(Debug, Clone)]
pub struct UdpTransport {
    socket: Arc<UdpSocket>,
    local: SocketAddr,
}

impl UdpTransport {
    pub(super) async fn bind(addr: SocketAddr, owner: Transports) -> Result<Self, TransportError> {
        let (socket, local) = bind_socket(addr).await?;
        tokio::spawn(receive_loop(socket.clone(), local, owner));
        Ok(UdpTransport { socket, local })
    }

    /// Binds without a receive task: the caller polls the returned [`UdpReceiver`] on its
    /// own task (the driver does, so a datagram is parsed and handled without a hand-off
    /// between tasks).
    pub(super) async fn bind_polled(
        addr: SocketAddr,
        owner: Transports,
    ) -> Result<(Self, UdpReceiver), TransportError> {
        let (socket, local) = bind_socket(addr).await?;
        let receiver = UdpReceiver {
            socket: socket.clone(),
            local,
            owner,
            buf: vec![0u8; MAX_DATAGRAM],
        };
        Ok((UdpTransport { socket, local }, receiver))
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Sends if the socket has room now; `Ok(false)` when it would block.
    pub(super) fn try_send_to(&self, data: &[u8], to: SocketAddr) -> Result<bool, TransportError> {
        match self.socket.try_send_to(data, to) {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Ok(false),
            Err(source) => Err(TransportError::Io {
                kind: TransportKind::Udp,
                remote: to,
                source,
            }),
        }
    }

    pub(super) async fn send_to(&self, data: &[u8], to: SocketAddr) -> Result<(), TransportError> {
        self.socket
            .send_to(data, to)
            .await
            .map(|_| ())
            .map_err(|source| TransportError::Io {
                kind: TransportKind::Udp,
                remote: to,
                source,
            })
    }
}

/// The receiving half of a UDP socket bound with [`Transports::listen_udp_polled`],
/// polled by its owner's task.
#[derive(Debug)]
pub struct UdpReceiver {
    socket: Arc<UdpSocket>,
    local: SocketAddr,
    owner: Transports,
    /// One receive buffer for the socket's life (see `receive_loop`).
    buf: Vec<u8>,
}

impl UdpReceiver {
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The next message (or malformed datagram) on this socket; keep-alives and receive
    /// errors are consumed here. Registers `cx` for readiness when nothing is waiting.
    pub fn poll_event(&mut self, cx: &mut Context<'_>) -> Poll<TransportEvent> {
        loop {
            let mut read = ReadBuf::new(&mut self.buf);
            let remote = match self.socket.poll_recv_from(cx, &mut read) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(remote)) => remote,
                Poll::Ready(Err(e)) => {
                    // ICMP port-unreachable from an earlier send shows up here on Linux;
                    // it says nothing about this socket, so keep receiving.
                    tracing::debug!(error = %e, "udp receive error");
                    continue;
                }
            };
            if let Some(event) = decode(read.filled(), self.local, remote, &self.owner) {
                if let TransportEvent::Malformed { .. } = event {
                    let stats = &self.owner.inner.stats;
                    stats.malformed.fetch_add(1, Ordering::Relaxed);
                }
                return Poll::Ready(event);
            }
        }
    }
}

/// Binds `addr`; returns the socket and the address it got (the real port for port 0).
async fn bind_socket(addr: SocketAddr) -> Result<(Arc<UdpSocket>, SocketAddr), TransportError> {
    let bind_error = |source| TransportError::Bind {
        kind: TransportKind::Udp,
        addr,
        source,
    };
    let socket = UdpSocket::bind(addr).await.map_err(bind_error)?;
    let local = socket.local_addr().map_err(bind_error)?;
    Ok((Arc::new(socket), local))
}

async fn receive_loop(socket: Arc<UdpSocket>, local: SocketAddr, owner: Transports) {
    let mut shutdown = owner.shutdown_signal();
    // One receive buffer for the socket's life; each datagram is copied out at its own
    // size. Splitting datagrams off a fresh 64 KiB buffer instead cost an allocation (and
    // page faults) per message and kept 64 KiB alive per message in flight.
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let received = tokio::select! {
            r = socket.recv_from(&mut buf) => r,
            _ = shutdown.changed() => return,
        };
        let (len, remote) = match received {
            Ok(x) => x,
            Err(e) => {
                // See `UdpReceiver::poll_event`.
                tracing::debug!(error = %e, "udp receive error");
                continue;
            }
        };
        if let Some(event) = decode(&buf[..len], local, remote, &owner) {
            owner.deliver(event).await;
        }
    }
}

/// One received datagram as the event for the layer above; `None` for a keep-alive.
fn decode(
    datagram: &[u8],
    local: SocketAddr,
    remote: SocketAddr,
    owner: &Transports,
) -> Option<TransportEvent> {
    let stats = &owner.inner.stats;
    stats.datagrams_in.fetch_add(1, Ordering::Relaxed);
    // RFC 5626 §3.5.1 keep-alives are STUN on UDP, but many phones send a bare CRLF (or
    // CRLFCRLF); ignore any datagram of only whitespace.
    if datagram
        .iter()
        .all(|b| matches!(b, b'\r' | b'\n' | b' ' | b'\t' | 0))
    {
        stats.keepalives.fetch_add(1, Ordering::Relaxed);
        return None;
    }
    let flow = Flow {
        kind: TransportKind::Udp,
        local,
        remote,
        connection: None,
    };
    Some(
        match crate::message::parse::parse_datagram(Bytes::copy_from_slice(datagram)) {
            Ok(mut message) => {
                super::stamp_received(&mut message, remote);
                TransportEvent::Message(Box::new(Inbound {
                    message,
                    flow,
                    received_at: Instant::now(),
                }))
            }
            Err(error) => TransportEvent::Malformed { flow, error },
        },
    )
}
