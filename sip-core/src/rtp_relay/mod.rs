//! The RTP relay: a media session is two legs, each with its own local RTP+RTCP socket pair
//! from a port pool; what arrives on one leg's sockets leaves by the other leg's sockets to
//! that leg's peer. It learns each peer's real address by symmetric latching, passes RTCP
//! through, and counts packets, bytes, loss and jitter per stream (RFC 3550).
//!
//! It owns media forwarding only: it knows nothing of SIP or SDP text (the PBX reads the
//! SDP and calls [`MediaSession::set_remote`]), nor of calls, extensions or money.
//!
//! Split as the rest of sip-core: [`SessionState`] decides everything per datagram, sans-IO
//! (`on_datagram(leg, channel, source, bytes, now)`); `io.rs` is the shell of worker
//! threads with epoll and `recvmmsg`/`sendmmsg` (Linux only). Latching rules and their
//! security trade-off are documented on the [`state`] module.
//!
//! ```no_run
//! use sip_core::rtp_relay::{LegId, RelayConfig, RemoteMedia, RtpRelay};
//! # fn main() -> Result<(), sip_core::rtp_relay::RelayError> {
//! let relay = RtpRelay::new(RelayConfig::default())?;
//! let session = relay.create_session()?;
//! let for_caller_sdp = session.local_rtp(LegId::A);
//! session.set_remote(LegId::A, RemoteMedia::new("192.0.2.10:4000".parse().unwrap()));
//! session.set_forwarding(LegId::B, false); // B on hold: its media is not sent to A
//! let figures = session.close();
//! # let _ = (for_caller_sdp, figures); Ok(()) }
//! ```

mod error;
mod io;
mod limits;
mod port_pool;
pub mod state;
mod stream;

#[cfg(feature = "bench")]
pub mod bench;

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use socket2::{Domain, Protocol, Socket, Type};

pub use error::RelayError;
pub use limits::{OpenFileLimit, SOCKETS_PER_SESSION, raise_open_file_limit};
pub use port_pool::{PortLease, PortPool};
pub use state::{
    Channel, DropCounters, DropReason, LatchConfig, LatchPolicy, LegId, LegStats, RemoteMedia,
    SessionState, SessionStats, Verdict,
};
pub use stream::{
    ClockRates, RtcpStats, RtpStreamState, RtpStreamStats, estimate_mos,
    timestamp_units_to_duration,
};

use io::{IoCounters, SessionShared, Worker, socket_index};

/// How a relay binds and runs.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// Local address every leg socket binds to (IPv4 or IPv6). When it is a concrete address
    /// the PBX can put it in SDP `c=`; when unspecified (`0.0.0.0`, `::`) or behind a NAT,
    /// the PBX puts its advertised address in `c=` and only the port from
    /// [`MediaSession::local_rtp`] in `m=`.
    pub bind: IpAddr,
    /// Lowest port of the range (inclusive).
    pub port_min: u16,
    /// Highest port of the range (inclusive).
    pub port_max: u16,
    /// Worker threads. One handles thousands of G.711 calls (see `benches/rtp_relay.rs`);
    /// more spread sessions over cores.
    pub workers: usize,
    /// Latching rules.
    pub latch: LatchConfig,
    /// `SO_RCVBUF`/`SO_SNDBUF` per socket; `None` keeps the kernel default.
    pub socket_buffer: Option<usize>,
}

impl Default for RelayConfig {
    fn default() -> Self {
        Self {
            bind: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            port_min: 10000,
            port_max: 20000,
            workers: 1,
            latch: LatchConfig::default(),
            socket_buffer: None,
        }
    }
}

/// Relay-wide figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelayStats {
    /// Sessions open.
    pub sessions: usize,
    /// Port pairs leased (two per session).
    pub ports_in_use: usize,
    /// Port pairs in the range.
    pub port_capacity: usize,
    /// Datagrams the kernel refused to send (socket buffer full or unreachable).
    pub send_errors: u64,
    /// Datagrams longer than the relay's buffer, dropped.
    pub truncated: u64,
    /// Sessions whose sockets a worker could not watch (their media was not relayed).
    pub add_failures: u64,
}

#[derive(Debug)]
struct RelayInner {
    config: RelayConfig,
    pool: Arc<Mutex<PortPool>>,
    workers: Vec<Arc<Worker>>,
    next_worker: AtomicUsize,
    sessions: Arc<AtomicUsize>,
    counters: Arc<IoCounters>,
    shut_down: AtomicBool,
}

impl RelayInner {
    fn shutdown(&self) {
        if !self.shut_down.swap(true, Ordering::SeqCst) {
            for w in &self.workers {
                w.shutdown();
            }
            tracing::debug!("RTP relay shut down");
        }
    }
}

impl Drop for RelayInner {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The media relay. Cheap to clone; all clones share the ports and workers.
#[derive(Debug, Clone)]
pub struct RtpRelay {
    inner: Arc<RelayInner>,
}

impl RtpRelay {
    /// Starts the worker threads; binds nothing until a session is created.
    pub fn new(config: RelayConfig) -> Result<Self, RelayError> {
        let pool = PortPool::new(config.port_min, config.port_max)?;
        let counters = Arc::new(IoCounters::default());
        let workers = (0..config.workers.max(1))
            .map(|i| Worker::spawn(i, Arc::clone(&counters)))
            .collect::<Result<Vec<_>, _>>()
            .map_err(RelayError::Worker)?;
        Ok(Self {
            inner: Arc::new(RelayInner {
                config,
                pool: Arc::new(Mutex::new(pool)),
                workers,
                next_worker: AtomicUsize::new(0),
                sessions: Arc::new(AtomicUsize::new(0)),
                counters,
                shut_down: AtomicBool::new(false),
            }),
        })
    }

    /// Opens a media session: two legs, each with an RTP+RTCP socket pair, already being
    /// read. Fails with [`RelayError::PortsExhausted`] when the range is used up.
    pub fn create_session(&self) -> Result<MediaSession, RelayError> {
        let inner = &self.inner;
        if inner.shut_down.load(Ordering::SeqCst) {
            return Err(RelayError::ShutDown);
        }
        let (a_rtp, a_rtcp, a_lease) = bind_pair(inner)?;
        let (b_rtp, b_rtcp, b_lease) = bind_pair(inner)?;
        let sockets = [a_rtp, a_rtcp, b_rtp, b_rtcp];
        let mut locals = [SocketAddr::new(inner.config.bind, 0); 4];
        for (l, s) in locals.iter_mut().zip(&sockets) {
            *l = s.local_addr().map_err(RelayError::Worker)?;
        }
        let shared = Arc::new(SessionShared {
            state: Mutex::new(SessionState::new(inner.config.latch)),
            sockets,
            locals,
            _leases: [a_lease, b_lease],
        });
        let n = inner.next_worker.fetch_add(1, Ordering::Relaxed);
        let worker = inner
            .workers
            .get(n % inner.workers.len().max(1))
            .cloned()
            .ok_or(RelayError::ShutDown)?;
        let slot = worker
            .add(Arc::clone(&shared))
            .map_err(RelayError::Worker)?;
        inner.sessions.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(a = %locals[0], b = %locals[2], "media session opened");
        Ok(MediaSession {
            shared,
            worker,
            slot,
            sessions: Arc::clone(&inner.sessions),
            open: true,
        })
    }

    /// Relay-wide figures.
    pub fn stats(&self) -> RelayStats {
        let pool = self
            .inner
            .pool
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        RelayStats {
            sessions: self.inner.sessions.load(Ordering::Relaxed),
            ports_in_use: pool.in_use(),
            port_capacity: pool.capacity(),
            send_errors: self.inner.counters.send_errors.load(Ordering::Relaxed),
            truncated: self.inner.counters.truncated.load(Ordering::Relaxed),
            add_failures: self.inner.counters.add_failures.load(Ordering::Relaxed),
        }
    }

    /// Stops the worker threads and waits for them. Open sessions stop forwarding; their
    /// ports return to the pool when their handles are closed or dropped. Idempotent.
    pub fn shutdown(&self) {
        self.inner.shutdown();
    }
}

/// Leases a port pair and binds its two sockets, skipping pairs some other process holds.
fn bind_pair(inner: &RelayInner) -> Result<(UdpSocket, UdpSocket, PortLease), RelayError> {
    // Pairs found busy are held until we are done so they are not offered again.
    let mut busy = Vec::new();
    let mut last_err = None;
    for _ in 0..64 {
        let lease = PortLease::take(&inner.pool)?;
        let rtp = bind_one(&inner.config, lease.rtp_port());
        let rtcp = bind_one(&inner.config, lease.rtcp_port());
        match (rtp, rtcp) {
            (Ok(rtp), Ok(rtcp)) => return Ok((rtp, rtcp, lease)),
            (Err(e), _) | (_, Err(e)) if e.kind() == std::io::ErrorKind::AddrInUse => {
                tracing::debug!(port = lease.rtp_port(), error = %e, "relay port busy, skipped");
                last_err = Some(e);
                busy.push(lease);
            }
            // Anything else (no descriptors left, address not ours) fails every port
            // alike: trying 63 more pairs would only repeat it.
            (Err(e), _) | (_, Err(e)) => return Err(RelayError::Bind(e)),
        }
    }
    Err(RelayError::Bind(last_err.unwrap_or_else(|| {
        std::io::Error::other("no bindable port pair")
    })))
}

fn bind_one(config: &RelayConfig, port: u16) -> std::io::Result<UdpSocket> {
    let addr = SocketAddr::new(config.bind, port);
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    if let Some(size) = config.socket_buffer {
        socket.set_recv_buffer_size(size)?;
        socket.set_send_buffer_size(size)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    Ok(socket.into())
}

/// One media session: legs A and B. Dropping it closes it (without waiting).
#[derive(Debug)]
pub struct MediaSession {
    shared: Arc<SessionShared>,
    worker: Arc<Worker>,
    slot: usize,
    sessions: Arc<AtomicUsize>,
    open: bool,
}

impl MediaSession {
    /// The local RTP address of leg `leg`: the `c=`/`m=` to give that leg's peer in SDP.
    pub fn local_rtp(&self, leg: LegId) -> SocketAddr {
        self.local(leg, Channel::Rtp)
    }

    /// The local RTCP address of leg `leg` (RTP port + 1).
    pub fn local_rtcp(&self, leg: LegId) -> SocketAddr {
        self.local(leg, Channel::Rtcp)
    }

    fn local(&self, leg: LegId, channel: Channel) -> SocketAddr {
        let i = socket_index(leg, channel);
        self.shared
            .locals
            .get(i)
            .copied()
            .unwrap_or_else(|| SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0))
    }

    fn state(&self) -> std::sync::MutexGuard<'_, SessionState> {
        self.shared
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Sets where leg `leg`'s peer receives, from its SDP (offer or answer, and again on a
    /// re-INVITE: a new address unlatches the leg).
    pub fn set_remote(&self, leg: LegId, remote: RemoteMedia) {
        self.state().set_remote(leg, remote);
    }

    /// Forgets leg `leg`'s latched sources so the next valid packet latches again (after a
    /// re-INVITE or transfer that changes the sender but not the SDP address).
    pub fn unlatch(&self, leg: LegId) {
        self.state().unlatch(leg);
    }

    /// Hold and resume: stops or restarts forwarding the media that comes from leg `from`
    /// (it is still counted).
    pub fn set_forwarding(&self, from: LegId, enabled: bool) {
        self.state().set_forwarding(from, enabled);
    }

    /// Figures so far.
    pub fn stats(&self) -> SessionStats {
        self.state().stats()
    }

    /// Stops forwarding, waits until the worker let go of the sockets, and returns the final
    /// figures. The ports go back to the pool once this handle is gone too.
    pub fn close(mut self) -> SessionStats {
        self.unregister(true);
        self.stats()
    }

    fn unregister(&mut self, wait: bool) {
        if self.open {
            self.open = false;
            self.worker.remove(self.slot, wait);
            self.sessions.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

impl Drop for MediaSession {
    fn drop(&mut self) {
        self.unregister(false);
    }
}
