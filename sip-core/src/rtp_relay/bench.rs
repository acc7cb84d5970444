//! Bench-only helpers (feature `bench`) for `benches/rtp_relay.rs`: a G.711 load generator,
//! a bare `recvmmsg`/`sendmmsg` forwarder as the lower bound, and CPU time of threads and
//! processes from `/proc/*/task/*/schedstat` (nanoseconds, unlike the 10 ms ticks of
//! `/proc/*/stat`).
//!
//! The same load generator drives Sentral's relay, rtpengine and the bare forwarder, so only
//! the forwarder under test differs between runs.

use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::io::{Batch, IoCounters, to_storage};

/// G.711 at 20 ms: 160 payload bytes, 172 with the RTP header.
pub const G711_PACKET: usize = 172;
const PAYLOAD: usize = 160;
const SEND_CHUNK: usize = 64;

/// CPU time of the calling thread (`CLOCK_THREAD_CPUTIME_ID`): unlike wall time, it does
/// not grow when other processes take the cores.
pub fn current_thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into a live timespec.
    let r = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &raw mut ts) };
    if r != 0 {
        return Duration::ZERO;
    }
    Duration::new(
        ts.tv_sec.max(0) as u64,
        ts.tv_nsec.clamp(0, 999_999_999) as u32,
    )
}

/// Sum of on-CPU nanoseconds of this process's threads whose name starts with `prefix`.
pub fn threads_cpu_time(prefix: &str) -> Duration {
    tasks_cpu_time("/proc/self/task", |comm| comm.starts_with(prefix))
}

/// Sum of on-CPU nanoseconds of every thread of process `pid`.
pub fn process_cpu_time(pid: u32) -> Duration {
    tasks_cpu_time(&format!("/proc/{pid}/task"), |_| true)
}

/// On-CPU time of each thread of process `pid`, by thread name.
pub fn process_cpu_by_thread(pid: u32) -> Vec<(String, Duration)> {
    let Ok(entries) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    entries
        .flatten()
        .map(|e| {
            let path = e.path();
            let comm = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
            (comm.trim().to_string(), schedstat(&path))
        })
        .collect()
}

fn tasks_cpu_time(dir: &str, keep: impl Fn(&str) -> bool) -> Duration {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Duration::ZERO;
    };
    let mut ns = 0u64;
    for e in entries.flatten() {
        let path = e.path();
        let comm = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
        if !keep(comm.trim()) {
            continue;
        }
        ns += schedstat(&path).as_nanos() as u64;
    }
    Duration::from_nanos(ns)
}

/// The first field of a task's `schedstat`: nanoseconds spent on a CPU.
fn schedstat(task: &std::path::Path) -> Duration {
    let stat = std::fs::read_to_string(task.join("schedstat")).unwrap_or_default();
    Duration::from_nanos(
        stat.split_whitespace()
            .next()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0),
    )
}

fn big_buffers(s: &UdpSocket) {
    let size: libc::c_int = 16 << 20;
    for opt in [libc::SO_RCVBUFFORCE, libc::SO_SNDBUFFORCE] {
        // SAFETY: setsockopt with a live c_int; failure (not root) just keeps the default.
        unsafe {
            libc::setsockopt(
                s.as_raw_fd(),
                libc::SOL_SOCKET,
                opt,
                (&raw const size).cast(),
                size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
    }
}

/// What a load run saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// Datagrams sent (both sides).
    pub sent: u64,
    /// Datagrams received back through the forwarder (both sides).
    pub received: u64,
    /// Received datagrams whose length or payload pattern was wrong.
    pub corrupt: u64,
}

/// Plays both phones of many G.711 calls from two sockets (side A and side B): every
/// `interval`, each call sends one 172-byte RTP packet from each side.
#[derive(Debug)]
pub struct LoadGen {
    a: UdpSocket,
    b: UdpSocket,
}

impl LoadGen {
    /// Binds the two sides on `bind`, port 0, with 16 MiB buffers where allowed.
    pub fn new(bind: IpAddr) -> io::Result<Self> {
        let a = UdpSocket::bind(SocketAddr::new(bind, 0))?;
        let b = UdpSocket::bind(SocketAddr::new(bind, 0))?;
        for s in [&a, &b] {
            big_buffers(s);
            s.set_nonblocking(true)?;
        }
        Ok(Self { a, b })
    }

    /// Where side A sends from and receives on (its "SDP" address).
    pub fn side_a(&self) -> io::Result<SocketAddr> {
        self.a.local_addr()
    }

    /// Where side B sends from and receives on.
    pub fn side_b(&self) -> io::Result<SocketAddr> {
        self.b.local_addr()
    }

    /// Sends `ticks` rounds; `calls[i]` is (where side A sends, where side B sends) for
    /// call `i`. Waits 300 ms after the last round for stragglers.
    pub fn run(
        &self,
        calls: &[(SocketAddr, SocketAddr)],
        ticks: u32,
        interval: Duration,
    ) -> LoadReport {
        self.drive(|sender, report| {
            let start = Instant::now();
            for tick in 0..ticks {
                report.sent += sender.round(calls, tick);
                let next = start + interval * (tick + 1);
                if let Some(wait) = next.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
            }
        })
    }

    /// Sends `rounds` rounds back to back (no pacing), then waits until everything came back
    /// or nothing arrived for 200 ms.
    pub fn blast(&self, calls: &[(SocketAddr, SocketAddr)], rounds: u32) -> LoadReport {
        self.drive(|sender, report| {
            for tick in 0..rounds {
                report.sent += sender.round(calls, tick);
            }
        })
    }

    fn drive(&self, send: impl FnOnce(&mut Sender, &mut LoadReport)) -> LoadReport {
        let stop = AtomicBool::new(false);
        let received = AtomicU64::new(0);
        let corrupt = AtomicU64::new(0);
        let mut report = LoadReport::default();
        let fds = [self.a.as_raw_fd(), self.b.as_raw_fd()];
        std::thread::scope(|scope| {
            let rx = std::thread::Builder::new()
                .name("loadgen-rx".into())
                .spawn_scoped(scope, || receive(&fds, &stop, &received, &corrupt));
            let mut sender = Sender::new(self.a.as_raw_fd(), self.b.as_raw_fd());
            send(&mut sender, &mut report);
            // Wait for stragglers: until all arrived, or 200 ms without progress.
            let mut last = received.load(Ordering::Relaxed);
            let mut idle_since = Instant::now();
            while last < report.sent && idle_since.elapsed() < Duration::from_millis(200) {
                std::thread::sleep(Duration::from_millis(5));
                let now = received.load(Ordering::Relaxed);
                if now != last {
                    last = now;
                    idle_since = Instant::now();
                }
            }
            stop.store(true, Ordering::Relaxed);
            if let Ok(h) = rx {
                let _ = h.join();
            }
        });
        report.received = received.load(Ordering::Relaxed);
        report.corrupt = corrupt.load(Ordering::Relaxed);
        report
    }
}

fn payload_byte(ssrc: u32, seq: u16, j: usize) -> u8 {
    (ssrc as u8).wrapping_add(seq as u8).wrapping_add(j as u8)
}

struct Sender {
    fds: [RawFd; 2],
    bufs: Vec<[u8; G711_PACKET]>,
    dsts: Vec<libc::sockaddr_storage>,
    iovs: Vec<libc::iovec>,
    hdrs: Vec<libc::mmsghdr>,
}

impl Sender {
    fn new(a: RawFd, b: RawFd) -> Self {
        // SAFETY: all-zero is valid for these libc plain-old-data structs.
        let (ss, iov, hdr) =
            unsafe { (std::mem::zeroed(), std::mem::zeroed(), std::mem::zeroed()) };
        Self {
            fds: [a, b],
            bufs: vec![[0u8; G711_PACKET]; SEND_CHUNK],
            dsts: vec![ss; SEND_CHUNK],
            iovs: vec![iov; SEND_CHUNK],
            hdrs: vec![hdr; SEND_CHUNK],
        }
    }

    /// One packet per call from each side; returns how many the kernel took.
    fn round(&mut self, calls: &[(SocketAddr, SocketAddr)], tick: u32) -> u64 {
        let mut sent = 0;
        for side in 0..2u32 {
            let fd = self.fds[side as usize];
            for (chunk_no, chunk) in calls.chunks(SEND_CHUNK).enumerate() {
                sent += self.send(fd, chunk, (chunk_no * SEND_CHUNK) as u32, side, tick);
            }
        }
        sent
    }

    /// Sends one packet per call of `chunk` (at most SEND_CHUNK) from `fd`; returns how many
    /// the kernel took.
    fn send(
        &mut self,
        fd: RawFd,
        chunk: &[(SocketAddr, SocketAddr)],
        first_call: u32,
        side: u32,
        tick: u32,
    ) -> u64 {
        let n = chunk.len().min(SEND_CHUNK);
        for (i, call) in chunk.iter().take(n).enumerate() {
            let ssrc = (first_call + i as u32) * 2 + side;
            let seq = tick as u16;
            let buf = &mut self.bufs[i];
            buf[0] = 0x80;
            buf[1] = 0; // PCMU
            buf[2..4].copy_from_slice(&seq.to_be_bytes());
            buf[4..8].copy_from_slice(&(tick.wrapping_mul(160)).to_be_bytes());
            buf[8..12].copy_from_slice(&ssrc.to_be_bytes());
            for (j, b) in buf[12..].iter_mut().enumerate() {
                *b = payload_byte(ssrc, seq, j);
            }
            let to = if side == 0 { call.0 } else { call.1 };
            let len = to_storage(to, &mut self.dsts[i]);
            self.iovs[i] = libc::iovec {
                iov_base: buf.as_mut_ptr().cast(),
                iov_len: G711_PACKET,
            };
            let h = &mut self.hdrs[i].msg_hdr;
            h.msg_name = (&raw mut self.dsts[i]).cast();
            h.msg_namelen = len;
            h.msg_iov = &raw mut self.iovs[i];
            h.msg_iovlen = 1;
        }
        let mut off = 0usize;
        let mut tries = 0;
        while off < n && tries < 1000 {
            tries += 1;
            // SAFETY: headers point at buffers in `self`, filled just above.
            let r = unsafe {
                libc::sendmmsg(
                    fd,
                    self.hdrs[off..n].as_mut_ptr(),
                    (n - off) as libc::c_uint,
                    0,
                )
            };
            if r > 0 {
                off += r as usize;
            } else {
                std::thread::yield_now();
            }
        }
        off as u64
    }
}

fn receive(fds: &[RawFd], stop: &AtomicBool, received: &AtomicU64, corrupt: &AtomicU64) {
    let counters = IoCounters::default();
    let mut batch = Batch::new();
    let mut pfds: Vec<libc::pollfd> = fds
        .iter()
        .map(|&fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    while !stop.load(Ordering::Relaxed) {
        // SAFETY: `pfds` is a live array of the length passed.
        let r = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, 50) };
        if r <= 0 {
            continue;
        }
        for p in &pfds {
            if p.revents & libc::POLLIN == 0 {
                continue;
            }
            loop {
                let n = batch.recv(p.fd, &counters);
                for i in 0..n {
                    let Some((_, data)) = batch.received(i) else {
                        corrupt.fetch_add(1, Ordering::Relaxed);
                        continue;
                    };
                    received.fetch_add(1, Ordering::Relaxed);
                    if !well_formed(data) {
                        corrupt.fetch_add(1, Ordering::Relaxed);
                    }
                }
                if n < super::io::BATCH {
                    break;
                }
            }
        }
    }
}

fn well_formed(data: &[u8]) -> bool {
    if data.len() != G711_PACKET {
        return false;
    }
    let (Some(seq), Some(ssrc)) = (data.get(2..4), data.get(8..12)) else {
        return false;
    };
    let seq = u16::from_be_bytes([seq[0], seq[1]]);
    let ssrc = u32::from_be_bytes([ssrc[0], ssrc[1], ssrc[2], ssrc[3]]);
    data.get(12) == Some(&payload_byte(ssrc, seq, 0))
        && data.get(G711_PACKET - 1) == Some(&payload_byte(ssrc, seq, PAYLOAD - 1))
}

/// The least a forwarder can do: one thread, epoll, `recvmmsg` on a readable socket,
/// `sendmmsg` out of its partner to the partner's last source. No validation, no counters,
/// no locks: the lower bound the relay is measured against.
#[derive(Debug)]
pub struct BareForwarder {
    sockets: Arc<Vec<UdpSocket>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl BareForwarder {
    /// Binds `pairs` socket pairs on `bind` (port 0) and starts thread `rtp-bare`.
    pub fn start(bind: IpAddr, pairs: usize) -> io::Result<Self> {
        let sockets = (0..pairs * 2)
            .map(|_| {
                let s = UdpSocket::bind(SocketAddr::new(bind, 0))?;
                s.set_nonblocking(true)?;
                Ok(s)
            })
            .collect::<io::Result<Vec<_>>>()?;
        let sockets = Arc::new(sockets);
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st) = (Arc::clone(&sockets), Arc::clone(&stop));
        let thread = std::thread::Builder::new()
            .name("rtp-bare".into())
            .spawn(move || bare_loop(&s, &st))?;
        Ok(Self {
            sockets,
            stop,
            thread: Some(thread),
        })
    }

    /// (side A address, side B address) of each pair.
    pub fn pairs(&self) -> io::Result<Vec<(SocketAddr, SocketAddr)>> {
        self.sockets
            .chunks_exact(2)
            .map(|p| Ok((p[0].local_addr()?, p[1].local_addr()?)))
            .collect()
    }
}

impl Drop for BareForwarder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn bare_loop(sockets: &[UdpSocket], stop: &AtomicBool) {
    // SAFETY: plain syscall; the fd is closed at the end of this function.
    let epfd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    if epfd < 0 {
        return;
    }
    for (i, s) in sockets.iter().enumerate() {
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: i as u64,
        };
        // SAFETY: valid fds and a live event.
        unsafe { libc::epoll_ctl(epfd, libc::EPOLL_CTL_ADD, s.as_raw_fd(), &raw mut ev) };
    }
    let counters = IoCounters::default();
    let mut batch = Batch::new();
    let mut last_src: Vec<Option<SocketAddr>> = vec![None; sockets.len()];
    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 256];
    while !stop.load(Ordering::Relaxed) {
        // SAFETY: live buffer of the length passed.
        let n = unsafe { libc::epoll_wait(epfd, events.as_mut_ptr(), events.len() as i32, 100) };
        for ev in events.iter().take(n.max(0) as usize) {
            let i = ev.u64 as usize;
            let (Some(sock), Some(out)) = (sockets.get(i), sockets.get(i ^ 1)) else {
                continue;
            };
            let got = batch.recv(sock.as_raw_fd(), &counters);
            for k in 0..got {
                let Some((src, _)) = batch.received(k) else {
                    continue;
                };
                if let Some(slot) = last_src.get_mut(i) {
                    *slot = Some(src);
                }
                if let Some(Some(to)) = last_src.get(i ^ 1) {
                    batch.queue(k, *to);
                }
            }
            batch.send(out.as_raw_fd(), &counters);
        }
    }
    // SAFETY: closing the epoll fd created above.
    unsafe { libc::close(epfd) };
}
