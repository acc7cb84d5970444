//! The relay's I/O shell (Linux): worker threads, each with one epoll set over the sockets
//! of its sessions, reading with `recvmmsg` and writing with `sendmmsg`.
//!
//! Why this shape: a G.711 stream is 50 small packets a second per socket, so the cost per
//! packet is syscalls, not bytes. Level-triggered epoll reports a readable socket once;
//! one `recvmmsg` drains up to [`BATCH`] datagrams without the extra `EAGAIN` read that a
//! `recvfrom` loop needs, and one `sendmmsg` sends them all out of the paired socket (every
//! datagram from leg A's RTP socket leaves by leg B's RTP socket). Each session lives on one
//! worker, so its state mutex is only contended by the control API.
//!
//! This module only moves bytes; every decision is [`SessionState::on_datagram`]'s.

use std::io;
use std::mem::{MaybeUninit, size_of, zeroed};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender, SyncSender, TryRecvError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Instant;

use super::port_pool::PortLease;
use super::state::{Channel, LegId, SessionState, Verdict};

/// Datagrams per `recvmmsg`/`sendmmsg` call.
pub(crate) const BATCH: usize = 32;
/// Largest datagram kept; longer ones are truncated by the kernel and dropped here.
const MAX_DATAGRAM: usize = 2048;
const WAKE_TOKEN: u64 = u64::MAX;
/// `recvmmsg` rounds per readiness event before moving on, so one flooded socket cannot
/// starve the others.
const MAX_ROUNDS: usize = 4;

/// Relay-wide counters of what the I/O shell itself dropped.
#[derive(Debug, Default)]
pub(crate) struct IoCounters {
    pub send_errors: AtomicU64,
    pub truncated: AtomicU64,
    /// Sessions whose sockets the worker could not add to its epoll set.
    pub add_failures: AtomicU64,
}

/// One session as the worker sees it: its state and its four sockets.
#[derive(Debug)]
pub(crate) struct SessionShared {
    pub state: Mutex<SessionState>,
    /// Indexed by [`socket_index`]: A RTP, A RTCP, B RTP, B RTCP.
    pub sockets: [UdpSocket; 4],
    pub locals: [SocketAddr; 4],
    /// Declared after `sockets`, so the sockets close before the ports go back to the pool.
    pub _leases: [PortLease; 2],
}

pub(crate) fn socket_index(leg: LegId, channel: Channel) -> usize {
    let base = match leg {
        LegId::A => 0,
        LegId::B => 2,
    };
    base + match channel {
        Channel::Rtp => 0,
        Channel::Rtcp => 1,
    }
}

fn leg_channel(index: usize) -> (LegId, Channel) {
    let leg = if index < 2 { LegId::A } else { LegId::B };
    let channel = if index & 1 == 0 {
        Channel::Rtp
    } else {
        Channel::Rtcp
    };
    (leg, channel)
}

enum Command {
    /// Register the session in the slot the control side reserved for it.
    Add(usize, Arc<SessionShared>),
    Remove(usize, Option<SyncSender<()>>),
    Shutdown,
}

/// The control side's handle to one worker thread.
#[derive(Debug)]
pub(crate) struct Worker {
    tx: Mutex<Sender<Command>>,
    wake: Arc<OwnedFd>,
    thread: Mutex<Option<JoinHandle<()>>>,
    /// Slot numbers (the session part of epoll tokens), handed out here so that adding a
    /// session needs no answer from the worker; the worker returns a slot once it has
    /// unregistered the session that held it.
    slots: Arc<Mutex<SlotIds>>,
}

/// Free slot numbers of one worker.
#[derive(Debug, Default)]
struct SlotIds {
    next: usize,
    free: Vec<usize>,
}

impl SlotIds {
    fn take(&mut self) -> usize {
        self.free.pop().unwrap_or_else(|| {
            self.next += 1;
            self.next - 1
        })
    }
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Command::Add(slot, _) => write!(f, "Add({slot})"),
            Command::Remove(slot, _) => write!(f, "Remove({slot})"),
            Command::Shutdown => f.write_str("Shutdown"),
        }
    }
}

fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

impl Worker {
    /// Starts worker thread `index`.
    pub fn spawn(index: usize, counters: Arc<IoCounters>) -> io::Result<Arc<Self>> {
        // SAFETY: plain syscalls; the returned fds are owned right away.
        let epfd = unsafe { OwnedFd::from_raw_fd(cvt(libc::epoll_create1(libc::EPOLL_CLOEXEC))?) };
        // SAFETY: as above.
        let wake = unsafe {
            OwnedFd::from_raw_fd(cvt(libc::eventfd(
                0,
                libc::EFD_NONBLOCK | libc::EFD_CLOEXEC,
            ))?)
        };
        epoll_add(epfd.as_raw_fd(), wake.as_raw_fd(), WAKE_TOKEN)?;
        let wake = Arc::new(wake);
        let (tx, rx) = std::sync::mpsc::channel();
        let thread_wake = Arc::clone(&wake);
        let slots = Arc::new(Mutex::new(SlotIds::default()));
        let thread_slots = Arc::clone(&slots);
        let thread = std::thread::Builder::new()
            .name(format!("rtp-relay-{index}"))
            .spawn(move || run(epfd, thread_wake, rx, counters, thread_slots))?;
        Ok(Arc::new(Self {
            tx: Mutex::new(tx),
            wake,
            thread: Mutex::new(Some(thread)),
            slots,
        }))
    }

    fn send(&self, cmd: Command) -> bool {
        let sent = self
            .tx
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .send(cmd)
            .is_ok();
        if sent {
            let one: u64 = 1;
            // SAFETY: writes 8 bytes from a live u64 to our eventfd.
            unsafe {
                libc::write(
                    self.wake.as_raw_fd(),
                    (&raw const one).cast(),
                    size_of::<u64>(),
                );
            }
        }
        sent
    }

    /// Registers a session's sockets with the worker; returns its slot at once. The
    /// worker adds the sockets to its epoll set when it next wakes: what arrives before
    /// waits in the socket buffers. Waiting for the worker's answer here cost the SIP
    /// thread a sleep and a wake-up on every call set-up.
    pub fn add(&self, session: Arc<SessionShared>) -> io::Result<usize> {
        let slot = self
            .slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if !self.send(Command::Add(slot, session)) {
            return Err(io::Error::other("relay worker has stopped"));
        }
        Ok(slot)
    }

    /// Unregisters slot `slot`; with `wait`, returns once the worker has let go of it.
    pub fn remove(&self, slot: usize, wait: bool) {
        if wait {
            let (reply, done) = std::sync::mpsc::sync_channel(1);
            if self.send(Command::Remove(slot, Some(reply))) {
                let _ = done.recv();
            }
        } else {
            self.send(Command::Remove(slot, None));
        }
    }

    /// Stops the thread and waits for it.
    pub fn shutdown(&self) {
        self.send(Command::Shutdown);
        let handle = self
            .thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if handle.is_some_and(|h| h.join().is_err()) {
            tracing::error!("RTP relay worker panicked");
        }
    }
}

fn epoll_add(epfd: RawFd, fd: RawFd, token: u64) -> io::Result<()> {
    let mut ev = libc::epoll_event {
        events: libc::EPOLLIN as u32,
        u64: token,
    };
    // SAFETY: valid fds and a live event struct.
    cvt(unsafe { libc::epoll_ctl(epfd, libc::EPOLL_CTL_ADD, fd, &raw mut ev) })?;
    Ok(())
}

fn epoll_del(epfd: RawFd, fd: RawFd) {
    // SAFETY: a null event is allowed for EPOLL_CTL_DEL since Linux 2.6.9.
    unsafe {
        libc::epoll_ctl(epfd, libc::EPOLL_CTL_DEL, fd, std::ptr::null_mut());
    }
}

struct Slab {
    slots: Vec<Option<Arc<SessionShared>>>,
}

impl Slab {
    /// Registers session `s` in `slot`. On failure the session stays out of the epoll
    /// set (its media is not relayed) and the slot stays reserved until its remove.
    fn insert(&mut self, epfd: RawFd, slot: usize, s: Arc<SessionShared>) -> io::Result<()> {
        if self.slots.len() <= slot {
            self.slots.resize(slot + 1, None);
        }
        for (i, sock) in s.sockets.iter().enumerate() {
            let token = ((slot as u64) << 2) | i as u64;
            if let Err(e) = epoll_add(epfd, sock.as_raw_fd(), token) {
                for added in s.sockets.iter().take(i) {
                    epoll_del(epfd, added.as_raw_fd());
                }
                return Err(e);
            }
        }
        if let Some(entry) = self.slots.get_mut(slot) {
            *entry = Some(s);
        }
        Ok(())
    }

    fn remove(&mut self, epfd: RawFd, slot: usize) {
        if let Some(s) = self.slots.get_mut(slot).and_then(Option::take) {
            for sock in &s.sockets {
                epoll_del(epfd, sock.as_raw_fd());
            }
        }
    }
}

fn run(
    epfd: OwnedFd,
    wake: Arc<OwnedFd>,
    rx: Receiver<Command>,
    counters: Arc<IoCounters>,
    slot_ids: Arc<Mutex<SlotIds>>,
) {
    let epfd_raw = epfd.as_raw_fd();
    let mut slab = Slab { slots: Vec::new() };
    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 256];
    let mut batch = Batch::new();
    loop {
        // SAFETY: `events` is a live buffer of the length passed.
        let n = unsafe {
            libc::epoll_wait(
                epfd_raw,
                events.as_mut_ptr(),
                events.len() as libc::c_int,
                -1,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            tracing::error!(error = %e, "RTP relay epoll_wait failed; worker stops");
            return;
        }
        let mut woken = false;
        for ev in events.iter().take(n as usize) {
            let token = ev.u64;
            if token == WAKE_TOKEN {
                woken = true;
                continue;
            }
            let slot = (token >> 2) as usize;
            if let Some(Some(session)) = slab.slots.get(slot) {
                pump(session, (token & 3) as usize, &mut batch, &counters);
            }
        }
        if woken {
            let mut buf = 0u64;
            // SAFETY: reads 8 bytes into a live u64 from our non-blocking eventfd.
            unsafe {
                libc::read(wake.as_raw_fd(), (&raw mut buf).cast(), size_of::<u64>());
            }
            loop {
                match rx.try_recv() {
                    Ok(Command::Add(slot, s)) => {
                        if let Err(e) = slab.insert(epfd_raw, slot, s) {
                            counters.add_failures.fetch_add(1, Ordering::Relaxed);
                            tracing::error!(error = %e, "RTP relay cannot watch a session's sockets; its media is not relayed");
                        }
                    }
                    Ok(Command::Remove(slot, reply)) => {
                        slab.remove(epfd_raw, slot);
                        // Only now may the slot carry another session's tokens.
                        slot_ids
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .free
                            .push(slot);
                        if let Some(r) = reply {
                            let _ = r.send(());
                        }
                    }
                    Ok(Command::Shutdown) | Err(TryRecvError::Disconnected) => return,
                    Err(TryRecvError::Empty) => break,
                }
            }
        }
    }
}

/// Reads what is waiting on socket `index` of `session` and forwards it.
fn pump(session: &SessionShared, index: usize, batch: &mut Batch, counters: &IoCounters) {
    let (leg, channel) = leg_channel(index);
    let (Some(in_sock), Some(out_sock)) =
        (session.sockets.get(index), session.sockets.get(index ^ 2))
    else {
        return;
    };
    for _ in 0..MAX_ROUNDS {
        let n = batch.recv(in_sock.as_raw_fd(), counters);
        if n == 0 {
            return;
        }
        let now = Instant::now();
        {
            let mut state = session.state.lock().unwrap_or_else(PoisonError::into_inner);
            for i in 0..n {
                let Some((src, data)) = batch.received(i) else {
                    continue;
                };
                if let Verdict::Forward { to, .. } = state.on_datagram(leg, channel, src, data, now)
                {
                    // The destination socket is always the other leg's same channel
                    // (`index ^ 2`): SessionState never changes the channel.
                    batch.queue(i, to);
                }
            }
        }
        batch.send(out_sock.as_raw_fd(), counters);
        if n < BATCH {
            return;
        }
    }
}

/// Buffers and message headers for one `recvmmsg` and one `sendmmsg`, reused for ever.
/// The headers point into the boxed buffers, whose heap addresses never move.
pub(crate) struct Batch {
    bufs: Box<[[u8; MAX_DATAGRAM]]>,
    lens: [usize; BATCH],
    srcs: Box<[libc::sockaddr_storage]>,
    recv_iov: Box<[libc::iovec]>,
    recv_hdr: Box<[libc::mmsghdr]>,
    dsts: Box<[libc::sockaddr_storage]>,
    send_iov: Box<[libc::iovec]>,
    send_hdr: Box<[libc::mmsghdr]>,
    queued: usize,
}

fn zeroed_boxed<T: Copy>(n: usize) -> Box<[T]> {
    // SAFETY: only used for libc plain-old-data structs (sockaddr_storage, iovec, mmsghdr),
    // for which all-zero bytes are a valid value.
    let z: T = unsafe { MaybeUninit::zeroed().assume_init() };
    vec![z; n].into_boxed_slice()
}

impl Batch {
    pub(crate) fn new() -> Self {
        let mut b = Self {
            bufs: vec![[0u8; MAX_DATAGRAM]; BATCH].into_boxed_slice(),
            lens: [0; BATCH],
            srcs: zeroed_boxed(BATCH),
            recv_iov: zeroed_boxed(BATCH),
            recv_hdr: zeroed_boxed(BATCH),
            dsts: zeroed_boxed(BATCH),
            send_iov: zeroed_boxed(BATCH),
            send_hdr: zeroed_boxed(BATCH),
            queued: 0,
        };
        for i in 0..BATCH {
            let buf = b.bufs[i].as_mut_ptr();
            b.recv_iov[i] = libc::iovec {
                iov_base: buf.cast(),
                iov_len: MAX_DATAGRAM,
            };
            let h = &mut b.recv_hdr[i].msg_hdr;
            h.msg_name = (&raw mut b.srcs[i]).cast();
            h.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            h.msg_iov = &raw mut b.recv_iov[i];
            h.msg_iovlen = 1;
            let h = &mut b.send_hdr[i].msg_hdr;
            h.msg_name = (&raw mut b.dsts[i]).cast();
            h.msg_iov = &raw mut b.send_iov[i];
            h.msg_iovlen = 1;
        }
        b
    }

    /// One non-blocking `recvmmsg`; returns how many datagrams arrived (0 on `EAGAIN`).
    pub(crate) fn recv(&mut self, fd: RawFd, counters: &IoCounters) -> usize {
        for h in self.recv_hdr.iter_mut() {
            h.msg_hdr.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            h.msg_hdr.msg_flags = 0;
            h.msg_len = 0;
        }
        // SAFETY: the headers point at live buffers owned by `self` (see `new`), and BATCH
        // matches their count.
        let n = unsafe {
            libc::recvmmsg(
                fd,
                self.recv_hdr.as_mut_ptr(),
                BATCH as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if n <= 0 {
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() != io::ErrorKind::WouldBlock && e.kind() != io::ErrorKind::Interrupted {
                    tracing::debug!(error = %e, "recvmmsg failed");
                }
            }
            return 0;
        }
        let n = (n as usize).min(BATCH);
        for i in 0..n {
            let h = &self.recv_hdr[i];
            self.lens[i] = if h.msg_hdr.msg_flags & libc::MSG_TRUNC != 0 {
                counters.truncated.fetch_add(1, Ordering::Relaxed);
                0
            } else {
                (h.msg_len as usize).min(MAX_DATAGRAM)
            };
        }
        n
    }

    /// Datagram `i` of the last `recv` and its source.
    pub(crate) fn received(&self, i: usize) -> Option<(SocketAddr, &[u8])> {
        let len = *self.lens.get(i)?;
        if len == 0 {
            return None;
        }
        let src = from_storage(self.srcs.get(i)?)?;
        Some((src, self.bufs.get(i)?.get(..len)?))
    }

    /// Queues received datagram `i` to be sent to `to` by the next `send`.
    pub(crate) fn queue(&mut self, i: usize, to: SocketAddr) {
        let q = self.queued;
        let (Some(len), Some(buf)) = (self.lens.get(i), self.bufs.get_mut(i)) else {
            return;
        };
        let (Some(dst), Some(iov), Some(hdr)) = (
            self.dsts.get_mut(q),
            self.send_iov.get_mut(q),
            self.send_hdr.get_mut(q),
        ) else {
            return;
        };
        hdr.msg_hdr.msg_namelen = to_storage(to, dst);
        *iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: *len,
        };
        self.queued += 1;
    }

    /// Sends everything queued out of `fd` with `sendmmsg`, skipping a datagram the kernel
    /// refuses and dropping the rest when the socket buffer is full.
    pub(crate) fn send(&mut self, fd: RawFd, counters: &IoCounters) {
        let total = self.queued;
        self.queued = 0;
        let mut off = 0;
        while off < total {
            let Some(rest) = self.send_hdr.get_mut(off..total) else {
                return;
            };
            // SAFETY: the headers point at buffers owned by `self`, filled by `queue`.
            let r = unsafe { libc::sendmmsg(fd, rest.as_mut_ptr(), rest.len() as libc::c_uint, 0) };
            if r > 0 {
                off += r as usize;
                continue;
            }
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            if e.kind() == io::ErrorKind::WouldBlock {
                counters
                    .send_errors
                    .fetch_add((total - off) as u64, Ordering::Relaxed);
                return;
            }
            // sendmmsg reports an error only for the first datagram: skip it.
            tracing::debug!(error = %e, "sendmmsg failed for one datagram");
            counters.send_errors.fetch_add(1, Ordering::Relaxed);
            off += 1;
        }
    }
}

/// Reads a socket address the kernel wrote.
pub(crate) fn from_storage(ss: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match libc::c_int::from(ss.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in, which it is large
            // and aligned enough for.
            let a: &libc::sockaddr_in = unsafe { &*(ss as *const _ as *const libc::sockaddr_in) };
            Some(SocketAddr::V4(SocketAddrV4::new(
                Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr)),
                u16::from_be(a.sin_port),
            )))
        }
        libc::AF_INET6 => {
            // SAFETY: as above, for sockaddr_in6.
            let a: &libc::sockaddr_in6 = unsafe { &*(ss as *const _ as *const libc::sockaddr_in6) };
            Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(a.sin6_addr.s6_addr),
                u16::from_be(a.sin6_port),
                a.sin6_flowinfo,
                a.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

/// Writes `addr` into `ss`; returns the length to pass to the kernel.
pub(crate) fn to_storage(addr: SocketAddr, ss: &mut libc::sockaddr_storage) -> libc::socklen_t {
    match addr {
        SocketAddr::V4(v4) => {
            // SAFETY: sockaddr_storage is large and aligned enough for sockaddr_in, and an
            // all-zero sockaddr_in is valid.
            let a: &mut libc::sockaddr_in =
                unsafe { &mut *(ss as *mut _ as *mut libc::sockaddr_in) };
            // SAFETY: all-zero is a valid sockaddr_in.
            *a = unsafe { zeroed() };
            a.sin_family = libc::AF_INET as libc::sa_family_t;
            a.sin_port = v4.port().to_be();
            a.sin_addr = libc::in_addr {
                s_addr: u32::from(*v4.ip()).to_be(),
            };
            size_of::<libc::sockaddr_in>() as libc::socklen_t
        }
        SocketAddr::V6(v6) => {
            // SAFETY: as above, for sockaddr_in6.
            let a: &mut libc::sockaddr_in6 =
                unsafe { &mut *(ss as *mut _ as *mut libc::sockaddr_in6) };
            // SAFETY: all-zero is a valid sockaddr_in6.
            *a = unsafe { zeroed() };
            a.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            a.sin6_port = v6.port().to_be();
            a.sin6_flowinfo = v6.flowinfo();
            a.sin6_addr = libc::in6_addr {
                s6_addr: v6.ip().octets(),
            };
            a.sin6_scope_id = v6.scope_id();
            size_of::<libc::sockaddr_in6>() as libc::socklen_t
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn socket_addresses_round_trip_through_storage() {
        for s in ["127.0.0.1:5004", "[::1]:6000", "[fe80::1%3]:7000"] {
            let a: SocketAddr = s.parse().unwrap();
            // SAFETY: all-zero is a valid sockaddr_storage.
            let mut ss: libc::sockaddr_storage = unsafe { zeroed() };
            to_storage(a, &mut ss);
            assert_eq!(from_storage(&ss), Some(a));
        }
    }

    #[test]
    fn socket_index_is_consistent() {
        for i in 0..4 {
            let (leg, ch) = leg_channel(i);
            assert_eq!(socket_index(leg, ch), i);
            let (other, och) = leg_channel(i ^ 2);
            assert_eq!(other, leg.other());
            assert_eq!(och, ch);
        }
    }
}
