//! One stream connection (TCP today; TLS and WebSocket reuse it): a reader task framing
//! messages by Content-Length (RFC 3261 §18.3) and answering CRLF keep-alive pings
//! (RFC 5626 §3.5.1), a writer fed by a channel, and an idle timeout.

use super::{
    ConnectionId, Flow, Inbound, TransportError, TransportEvent, TransportKind, Transports,
};
use crate::message::parse::{Framing, frame_stream, parse_stream_message};
use bytes::{Bytes, BytesMut};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Instant;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

/// Sends to one connection's writer task.
#[derive(Debug, Clone)]
pub(super) struct ConnectionHandle {
    pub id: ConnectionId,
    pub remote: SocketAddr,
    tx: mpsc::Sender<Bytes>,
}

impl ConnectionHandle {
    /// Queues without waiting; false when the queue is full or the connection is gone.
    pub fn try_send(&self, data: Bytes) -> bool {
        self.tx.try_send(data).is_ok()
    }

    pub async fn send(&self, data: Bytes) -> Result<(), TransportError> {
        self.tx.send(data).await.map_err(|_| TransportError::Io {
            kind: TransportKind::Tcp,
            remote: self.remote,
            source: std::io::Error::from(std::io::ErrorKind::BrokenPipe),
        })
    }
}

/// Starts reader and writer tasks for an established stream and registers the
/// connection for reuse. Returns its handle.
pub(super) fn spawn<S>(
    io: S,
    kind: TransportKind,
    local: SocketAddr,
    remote: SocketAddr,
    owner: Transports,
) -> ConnectionHandle
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let id = owner.next_connection_id();
    let (tx, rx) = mpsc::channel::<Bytes>(256);
    let handle = ConnectionHandle { id, remote, tx };
    owner.register_connection(remote, handle.clone());
    let flow = Flow {
        kind,
        local,
        remote,
        connection: Some(id),
    };
    tokio::spawn(run(io, rx, flow, owner));
    handle
}

async fn run<S>(io: S, mut outgoing: mpsc::Receiver<Bytes>, flow: Flow, owner: Transports)
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let (mut reader, mut writer) = tokio::io::split(io);
    let idle = owner.config().idle_timeout;
    let max = owner.config().max_message_size;
    let mut shutdown = owner.shutdown_signal();
    let mut buf = BytesMut::with_capacity(8 * 1024);
    let mut deadline = tokio::time::Instant::now() + idle;
    let why: &str = loop {
        tokio::select! {
            read = reader.read_buf(&mut buf) => {
                match read {
                    Ok(0) => break "closed by peer",
                    Ok(_) => {}
                    Err(_) => break "read error",
                }
                deadline = tokio::time::Instant::now() + idle;
                match drain_frames(&mut buf, max, &flow, &owner, &mut writer).await {
                    Ok(()) => {}
                    Err(reason) => break reason,
                }
            }
            out = outgoing.recv() => {
                let Some(data) = out else { break "handle dropped" };
                if writer.write_all(&data).await.is_err() {
                    break "write error";
                }
                deadline = tokio::time::Instant::now() + idle;
            }
            _ = tokio::time::sleep_until(deadline) => break "idle timeout",
            _ = shutdown.changed() => break "shutdown",
        }
    };
    tracing::debug!(remote = %flow.remote, reason = why, "stream connection closed");
    let _ = writer.shutdown().await;
    if let Some(id) = flow.connection {
        owner.unregister_connection(id, flow.remote);
    }
    owner
        .deliver(TransportEvent::ConnectionClosed { flow })
        .await;
}

/// Takes every complete message (and keep-alive) off the front of `buf`.
/// An error means framing is lost and the connection must close (RFC 4475 §3.1.2.3).
async fn drain_frames<W: AsyncWrite + Unpin>(
    buf: &mut BytesMut,
    max: usize,
    flow: &Flow,
    owner: &Transports,
    writer: &mut W,
) -> Result<(), &'static str> {
    loop {
        match frame_stream(buf) {
            Framing::NeedMore => {
                if buf.len() > max {
                    return Err("message too large");
                }
                return Ok(());
            }
            Framing::KeepAlive(n) => {
                let ping = buf.split_to(n);
                owner.inner.stats.keepalives.fetch_add(1, Ordering::Relaxed);
                // A double-CRLF ping gets a single-CRLF pong (RFC 5626 §3.5.1).
                if ping.windows(4).any(|w| w == b"\r\n\r\n")
                    && writer.write_all(b"\r\n").await.is_err()
                {
                    return Err("write error");
                }
            }
            Framing::Message(n) => {
                let bytes = buf.split_to(n).freeze();
                owner
                    .inner
                    .stats
                    .stream_messages_in
                    .fetch_add(1, Ordering::Relaxed);
                let event = match parse_stream_message(bytes) {
                    Ok(mut message) => {
                        super::stamp_received(&mut message, flow.remote);
                        TransportEvent::Message(Box::new(Inbound {
                            message,
                            flow: *flow,
                            received_at: Instant::now(),
                        }))
                    }
                    Err(error) => TransportEvent::Malformed { flow: *flow, error },
                };
                owner.deliver(event).await;
            }
            Framing::Error(error) => {
                owner
                    .deliver(TransportEvent::Malformed { flow: *flow, error })
                    .await;
                return Err("framing lost");
            }
        }
    }
}
