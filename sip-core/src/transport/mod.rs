//! SIP transports (RFC 3261 §18): UDP and TCP today; TLS and WebSocket (RFC 7118) are
//! each a new module beside `udp.rs` and `tcp.rs`, because everything above this layer
//! sees only [`Flow`], [`Inbound`] and [`Transports::send`].
//!
//! What this layer owns: sockets, listening, connecting, stream framing by
//! Content-Length, connection reuse, idle timeouts, CRLF keep-alive answers
//! (RFC 5626 §3.5.1), and stamping `received`/`rport` into the top Via of requests
//! (RFC 3261 §18.2.1, RFC 3581 §4) so responses and later requests reach phones behind NAT.
//! What it never does: transaction matching, validation beyond framing, or any policy.

mod stream;
pub mod tcp;
pub mod udp;

use crate::message::parse::ParseError;
use crate::message::{Host, Message, SipStr};
use bytes::Bytes;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// The transport kind is shared with the transaction layer, which needs its reliability.
pub use crate::transaction::TransportKind;

/// Parses a Via transport token into a kind Sentral can send on; `None` otherwise.
pub fn kind_from_via_token(token: &str) -> Option<TransportKind> {
    if token.eq_ignore_ascii_case("UDP") {
        Some(TransportKind::Udp)
    } else if token.eq_ignore_ascii_case("TCP") {
        Some(TransportKind::Tcp)
    } else {
        None
    }
}

/// Identifies one stream connection for its whole life (never reused).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionId(pub u64);

/// Where a message came from or should go: the "flow" of RFC 5626. A registrar stores
/// it with a binding so that a phone behind NAT is reached over the very path its
/// REGISTER arrived on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Flow {
    pub kind: TransportKind,
    /// Our socket's address.
    pub local: SocketAddr,
    /// The peer's real source address (not what its headers claim).
    pub remote: SocketAddr,
    /// The connection a stream message arrived on.
    pub connection: Option<ConnectionId>,
}

/// A parsed message and the flow it arrived on.
#[derive(Debug)]
pub struct Inbound {
    pub message: Message,
    pub flow: Flow,
    pub received_at: Instant,
}

/// What the transports hand to the layer above.
#[derive(Debug)]
pub enum TransportEvent {
    /// Boxed: a parsed message is far larger than the other variants.
    Message(Box<Inbound>),
    /// Bytes that did not parse. The raw headers inside the error are enough for a
    /// stateless 400 where RFC 3261 wants one; on a stream the connection is already
    /// being closed because framing is lost.
    Malformed { flow: Flow, error: ParseError },
    /// A stream connection closed (by the peer, an error or the idle timeout).
    ConnectionClosed { flow: Flow },
}

/// Where to send a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Destination {
    pub kind: TransportKind,
    pub remote: SocketAddr,
    /// Prefer this connection (a response goes back on the connection its request came
    /// in on, RFC 3261 §18.2.2); if it is gone, a stream transport reconnects.
    pub connection: Option<ConnectionId>,
}

impl Destination {
    /// Back along `flow`.
    pub fn reply_to(flow: &Flow) -> Self {
        Destination {
            kind: flow.kind,
            remote: flow.remote,
            connection: flow.connection,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("no {0:?} transport is listening for that address family")]
    NoTransport(TransportKind),
    #[error("I/O error on {kind:?} to {remote}: {source}")]
    Io {
        kind: TransportKind,
        remote: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("could not bind {kind:?} on {addr}: {source}")]
    Bind {
        kind: TransportKind,
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("message of {0} bytes is too large for UDP; RFC 3261 §18.1.1 says use TCP")]
    TooLargeForUdp(usize),
    #[error("connection to {0} timed out")]
    ConnectTimeout(SocketAddr),
    #[error("transports are shut down")]
    Closed,
}

/// Tunables for all transports.
#[derive(Clone, Debug)]
pub struct TransportConfig {
    /// A stream connection with no traffic in either direction for this long is closed.
    pub idle_timeout: Duration,
    /// How long an outgoing TCP connect may take.
    pub connect_timeout: Duration,
    /// Largest message accepted on a stream before the connection is dropped.
    pub max_message_size: usize,
}

impl Default for TransportConfig {
    fn default() -> Self {
        TransportConfig {
            // Phones on TCP refresh registrations and send CRLF pings well inside this;
            // a silent connection is dead weight (RFC 5626 §4.4.1 suggests pings every
            // 95–120 s).
            idle_timeout: Duration::from_secs(300),
            connect_timeout: Duration::from_secs(5),
            max_message_size: 64 * 1024,
        }
    }
}

/// Counters for the operator; relaxed atomics, read for `/metrics`.
#[derive(Debug, Default)]
pub struct TransportStats {
    pub datagrams_in: AtomicU64,
    pub datagrams_out: AtomicU64,
    pub stream_messages_in: AtomicU64,
    pub stream_messages_out: AtomicU64,
    pub malformed: AtomicU64,
    pub keepalives: AtomicU64,
    pub connections_opened: AtomicU64,
    pub connections_closed: AtomicU64,
}

/// Writes the true source into the top Via of a request (RFC 3261 §18.2.1, RFC 3581 §4):
/// `received` when the sent-by host is not the source IP, and the source port into a
/// present-but-empty `rport`.
pub fn stamp_received(message: &mut Message, remote: SocketAddr) {
    let Message::Request(req) = message else {
        return;
    };
    let Some(via) = req.headers.top_via_mut() else {
        return;
    };
    let source_ip = remote.ip();
    let same_host = match &via.host {
        Host::Ipv4(a) => std::net::IpAddr::V4(*a) == source_ip,
        Host::Ipv6(a) => std::net::IpAddr::V6(*a) == source_ip,
        Host::Domain(_) => false,
    };
    let asks_rport = via.rport().is_some();
    // Done for every request: the names are static and each value is formatted on the
    // stack, so a stamp costs one small allocation per parameter.
    if !same_host || asks_rport {
        via.params.set(
            SipStr::from_static("received"),
            Some(formatted_on_stack(source_ip)),
        );
    }
    if asks_rport {
        via.params.set(
            SipStr::from_static("rport"),
            Some(formatted_on_stack(remote.port())),
        );
    }
}

/// `value`'s text (an address or a port: at most 45 bytes) as a `SipStr`, formatted
/// without a temporary `String`.
fn formatted_on_stack(value: impl std::fmt::Display) -> SipStr {
    use std::io::Write as _;
    let mut buf = [0u8; 64];
    let mut cursor = std::io::Cursor::new(&mut buf[..]);
    if write!(cursor, "{value}").is_err() {
        return SipStr::from(value.to_string());
    }
    let len = usize::try_from(cursor.position()).unwrap_or(0);
    match std::str::from_utf8(&buf[..len]) {
        Ok(text) => SipStr::from(text),
        Err(_) => SipStr::from(value.to_string()),
    }
}

/// Where a response to a request with top Via `via` goes over UDP when its original
/// source is not at hand (RFC 3261 §18.2.2, RFC 3581 §4): `received`/`rport` if present,
/// else the sent-by host and port (default 5060). Host names are not resolved here.
pub fn response_address_from_via(via: &crate::message::Via) -> Option<SocketAddr> {
    let ip = match via
        .received()
        .and_then(|r| r.trim_matches(['[', ']']).parse().ok())
    {
        Some(ip) => ip,
        None => via.host.ip()?,
    };
    let port = via
        .rport()
        .flatten()
        .and_then(|p| p.parse().ok())
        .or(via.port)
        .unwrap_or(5060);
    Some(SocketAddr::new(ip, port))
}

type ConnectionMap = HashMap<ConnectionId, stream::ConnectionHandle>;

/// The set of running transports: send through it, receive from its event channel.
#[derive(Debug, Clone)]
pub struct Transports {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: TransportConfig,
    udp: Mutex<Vec<udp::UdpTransport>>,
    tcp_listeners: Mutex<Vec<SocketAddr>>,
    connections: Mutex<ConnectionMap>,
    /// Latest live connection per remote address, for reuse (RFC 3261 §18.1.1).
    by_remote: Mutex<HashMap<SocketAddr, ConnectionId>>,
    next_connection: AtomicU64,
    events: mpsc::Sender<TransportEvent>,
    stats: TransportStats,
    shutdown: tokio::sync::watch::Sender<bool>,
}

impl Transports {
    /// Creates an empty set; `events` receives everything that arrives.
    pub fn new(config: TransportConfig, events: mpsc::Sender<TransportEvent>) -> Self {
        let (shutdown, _) = tokio::sync::watch::channel(false);
        Transports {
            inner: Arc::new(Inner {
                config,
                udp: Mutex::new(Vec::new()),
                tcp_listeners: Mutex::new(Vec::new()),
                connections: Mutex::new(HashMap::new()),
                by_remote: Mutex::new(HashMap::new()),
                next_connection: AtomicU64::new(1),
                events,
                stats: TransportStats::default(),
                shutdown,
            }),
        }
    }

    pub fn config(&self) -> &TransportConfig {
        &self.inner.config
    }

    pub fn stats(&self) -> &TransportStats {
        &self.inner.stats
    }

    /// Binds a UDP socket and starts receiving on it. Returns the bound address (useful
    /// with port 0 in tests).
    pub async fn listen_udp(&self, addr: SocketAddr) -> Result<SocketAddr, TransportError> {
        let t = udp::UdpTransport::bind(addr, self.clone()).await?;
        let local = t.local_addr();
        lock(&self.inner.udp).push(t);
        Ok(local)
    }

    /// Binds a UDP socket whose datagrams the caller receives by polling the returned
    /// [`udp::UdpReceiver`] (sending goes through these transports as usual).
    pub async fn listen_udp_polled(
        &self,
        addr: SocketAddr,
    ) -> Result<udp::UdpReceiver, TransportError> {
        let (t, receiver) = udp::UdpTransport::bind_polled(addr, self.clone()).await?;
        lock(&self.inner.udp).push(t);
        Ok(receiver)
    }

    /// Binds a TCP listener and starts accepting.
    pub async fn listen_tcp(&self, addr: SocketAddr) -> Result<SocketAddr, TransportError> {
        let local = tcp::listen(addr, self.clone()).await?;
        lock(&self.inner.tcp_listeners).push(local);
        Ok(local)
    }

    /// Local addresses we listen on, per transport.
    pub fn listening(&self) -> Vec<(TransportKind, SocketAddr)> {
        let mut v: Vec<_> = lock(&self.inner.udp)
            .iter()
            .map(|u| (TransportKind::Udp, u.local_addr()))
            .collect();
        v.extend(
            lock(&self.inner.tcp_listeners)
                .iter()
                .map(|a| (TransportKind::Tcp, *a)),
        );
        v
    }

    /// The address to advertise in Via/Contact for `kind`, matching `remote`'s family.
    pub fn local_for(&self, kind: TransportKind, remote: SocketAddr) -> Option<SocketAddr> {
        // Asked for every request and response: looked up in place, not via `listening`'s
        // freshly collected list.
        let same_family = |a: &SocketAddr| a.is_ipv4() == remote.is_ipv4();
        match kind {
            TransportKind::Udp => lock(&self.inner.udp)
                .iter()
                .map(|u| u.local_addr())
                .find(same_family),
            TransportKind::Tcp => lock(&self.inner.tcp_listeners)
                .iter()
                .copied()
                .find(same_family),
            // Not listened on (see `listening`).
            _ => None,
        }
    }

    /// Sends serialized bytes.
    pub async fn send(&self, data: Bytes, dest: Destination) -> Result<(), TransportError> {
        match dest.kind {
            TransportKind::Udp => {
                let socket = {
                    let udp = lock(&self.inner.udp);
                    udp.iter()
                        .find(|u| u.local_addr().is_ipv4() == dest.remote.is_ipv4())
                        .cloned()
                };
                let socket = socket.ok_or(TransportError::NoTransport(TransportKind::Udp))?;
                socket.send_to(&data, dest.remote).await?;
                self.inner
                    .stats
                    .datagrams_out
                    .fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            TransportKind::Tls | TransportKind::Ws | TransportKind::Wss | TransportKind::Sctp => {
                Err(TransportError::NoTransport(dest.kind))
            }
            TransportKind::Tcp => {
                let handle = self.connection_for(&dest);
                let handle = match handle {
                    Some(h) => h,
                    None => tcp::connect(dest.remote, self.clone()).await?,
                };
                handle.send(data).await?;
                self.inner
                    .stats
                    .stream_messages_out
                    .fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
        }
    }

    /// Sends without waiting when that is possible: a UDP datagram, or a stream
    /// message onto an open connection's queue. `Ok(false)` means the caller must use
    /// [`Transports::send`] (a connection must be opened, or the socket is busy).
    pub fn try_send(&self, data: &Bytes, dest: Destination) -> Result<bool, TransportError> {
        match dest.kind {
            TransportKind::Udp => {
                let socket = {
                    let udp = lock(&self.inner.udp);
                    udp.iter()
                        .find(|u| u.local_addr().is_ipv4() == dest.remote.is_ipv4())
                        .cloned()
                };
                let socket = socket.ok_or(TransportError::NoTransport(TransportKind::Udp))?;
                let sent = socket.try_send_to(data, dest.remote)?;
                if sent {
                    self.inner
                        .stats
                        .datagrams_out
                        .fetch_add(1, Ordering::Relaxed);
                }
                Ok(sent)
            }
            TransportKind::Tcp => match self.connection_for(&dest) {
                Some(h) => {
                    let sent = h.try_send(data.clone());
                    if sent {
                        self.inner
                            .stats
                            .stream_messages_out
                            .fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(sent)
                }
                None => Ok(false),
            },
            other => Err(TransportError::NoTransport(other)),
        }
    }

    /// Serializes and sends a message.
    pub async fn send_message(
        &self,
        message: &Message,
        dest: Destination,
    ) -> Result<(), TransportError> {
        let bytes = crate::message::serialize::to_bytes(message);
        if dest.kind == TransportKind::Udp && bytes.len() > 65_507 {
            return Err(TransportError::TooLargeForUdp(bytes.len()));
        }
        self.send(bytes, dest).await
    }

    /// Number of open stream connections.
    pub fn connection_count(&self) -> usize {
        lock(&self.inner.connections).len()
    }

    /// Closes every socket and connection; receive loops end.
    pub fn shutdown(&self) {
        let _ = self.inner.shutdown.send(true);
        lock(&self.inner.connections).clear();
        lock(&self.inner.by_remote).clear();
        lock(&self.inner.udp).clear();
    }

    fn connection_for(&self, dest: &Destination) -> Option<stream::ConnectionHandle> {
        let conns = lock(&self.inner.connections);
        if let Some(id) = dest.connection {
            if let Some(h) = conns.get(&id) {
                return Some(h.clone());
            }
        }
        let id = lock(&self.inner.by_remote).get(&dest.remote).copied()?;
        conns.get(&id).cloned()
    }

    fn shutdown_signal(&self) -> tokio::sync::watch::Receiver<bool> {
        self.inner.shutdown.subscribe()
    }

    fn register_connection(&self, remote: SocketAddr, handle: stream::ConnectionHandle) {
        self.inner
            .stats
            .connections_opened
            .fetch_add(1, Ordering::Relaxed);
        lock(&self.inner.by_remote).insert(remote, handle.id);
        lock(&self.inner.connections).insert(handle.id, handle);
    }

    fn unregister_connection(&self, id: ConnectionId, remote: SocketAddr) {
        self.inner
            .stats
            .connections_closed
            .fetch_add(1, Ordering::Relaxed);
        lock(&self.inner.connections).remove(&id);
        let mut by_remote = lock(&self.inner.by_remote);
        if by_remote.get(&remote) == Some(&id) {
            by_remote.remove(&remote);
        }
    }

    fn next_connection_id(&self) -> ConnectionId {
        ConnectionId(self.inner.next_connection.fetch_add(1, Ordering::Relaxed))
    }

    async fn deliver(&self, event: TransportEvent) {
        if let TransportEvent::Malformed { .. } = event {
            self.inner.stats.malformed.fetch_add(1, Ordering::Relaxed);
        }
        // The receiver is gone only during shutdown; dropping the event is then right.
        let _ = self.inner.events.send(event).await;
    }
}

/// Locks a mutex, recovering from poisoning: the maps hold no invariant that a panicking
/// holder could have broken halfway.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
