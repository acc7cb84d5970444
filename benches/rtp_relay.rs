//! RTP relay benches.
//!
//! `cargo bench --bench rtp_relay` runs criterion over (all figures are CPU time of the
//! measured thread, not wall time, so other load on the machine does not inflate them):
//! - `rtp_relay/parse_rtp_172B`: [`RtpPacket::parse`] of a G.711 packet;
//! - `rtp_relay/stream_update`: the RFC 3550 receive statistics of one packet;
//! - `rtp_relay/session_on_datagram_172B`: the whole sans-IO decision per packet (demux,
//!   parse, latch check, statistics, destination);
//! - `rtp_relay/forward_cpu_per_packet/sessions=N`: CPU time of the relay's worker thread
//!   per forwarded packet, syscalls included (read from `/proc/self/task/*/schedstat`),
//!   with packets blasted back to back over N sessions.
//!
//! With `SENTRAL_RTP_COMPARE=calls=1000,seconds=10,rounds=2[,workers=1]` it instead runs the comparison
//! of issue 2: the same paced G.711 load (every call sends one 172-byte packet per 20 ms
//! each way) through Sentral's relay, through rtpengine (when `RTPENGINE_PID` and
//! `RTPENGINE_NG` are set; `benches/rtpengine/run.sh` starts it) and through a bare
//! `recvmmsg`/`sendmmsg` forwarder, and prints CPU per packet and calls per core.
#![allow(clippy::unwrap_used, clippy::expect_used)] // A bench that cannot set up should stop.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group};
use sip_core::rtp::{RtpBuilder, RtpPacket};
use sip_core::rtp_relay::bench::{
    BareForwarder, LoadGen, LoadReport, current_thread_cpu_time, process_cpu_by_thread,
    process_cpu_time, threads_cpu_time,
};
use sip_core::rtp_relay::{
    Channel, ClockRates, LatchConfig, LegId, RelayConfig, RemoteMedia, RtpRelay, RtpStreamState,
    SessionState,
};

const LOOPBACK: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

fn g711(seq: u16) -> Vec<u8> {
    let mut out = Vec::new();
    RtpBuilder::new(0)
        .unwrap()
        .sequence(seq)
        .timestamp(u32::from(seq) * 160)
        .ssrc(0x1234_5678)
        .write_into(&[0xFF; 160], &mut out)
        .unwrap();
    out
}

/// Rewrites sequence number and timestamp in place, as the next packet of the stream.
fn advance(packet: &mut [u8], seq: u16) {
    packet[2..4].copy_from_slice(&seq.to_be_bytes());
    packet[4..8].copy_from_slice(&(u32::from(seq) * 160).to_be_bytes());
}

/// Runs `f` `iters` times; returns the calling thread's CPU time for it.
fn cpu_time_of<R>(iters: u64, mut f: impl FnMut() -> R) -> Duration {
    let start = current_thread_cpu_time();
    for _ in 0..iters {
        std::hint::black_box(f());
    }
    current_thread_cpu_time().saturating_sub(start)
}

fn pure(c: &mut Criterion) {
    let mut g = c.benchmark_group("rtp_relay");
    g.throughput(Throughput::Elements(1));
    let packet = g711(1);
    g.bench_function("parse_rtp_172B", |b| {
        b.iter_custom(|iters| {
            cpu_time_of(iters, || {
                RtpPacket::parse(std::hint::black_box(&packet)).map(|p| p.ssrc())
            })
        })
    });

    let mut stream = RtpStreamState::new();
    let rates = ClockRates::default();
    let mut seq = 0u16;
    let mut p = g711(0);
    let t0 = Instant::now();
    g.bench_function("stream_update", |b| {
        b.iter_custom(|iters| {
            cpu_time_of(iters, || {
                seq = seq.wrapping_add(1);
                advance(&mut p, seq);
                let parsed = RtpPacket::parse(&p).unwrap();
                let now = t0 + Duration::from_millis(u64::from(seq) * 20);
                stream.update(&parsed, p.len(), now, &rates);
            })
        })
    });

    let mut state = SessionState::new(LatchConfig::default());
    state.set_remote(
        LegId::A,
        RemoteMedia::new("192.0.2.1:4000".parse().unwrap()),
    );
    state.set_remote(
        LegId::B,
        RemoteMedia::new("192.0.2.2:4000".parse().unwrap()),
    );
    let src: SocketAddr = "198.51.100.7:31000".parse().unwrap();
    g.bench_function("session_on_datagram_172B", |b| {
        b.iter_custom(|iters| {
            cpu_time_of(iters, || {
                seq = seq.wrapping_add(1);
                advance(&mut p, seq);
                let now = t0 + Duration::from_millis(u64::from(seq) * 20);
                state.on_datagram(LegId::A, Channel::Rtp, src, std::hint::black_box(&p), now)
            })
        })
    });
    g.finish();
}

/// A relay with `n` sessions whose legs point at the load generator's two sides.
fn relay_with_sessions(
    n: usize,
    workers: usize,
    lg: &LoadGen,
) -> (
    RtpRelay,
    Vec<sip_core::rtp_relay::MediaSession>,
    Vec<(SocketAddr, SocketAddr)>,
) {
    let relay = RtpRelay::new(RelayConfig {
        bind: LOOPBACK,
        port_min: 30000,
        port_max: 39999,
        workers,
        ..RelayConfig::default()
    })
    .unwrap();
    let (side_a, side_b) = (lg.side_a().unwrap(), lg.side_b().unwrap());
    let mut sessions = Vec::with_capacity(n);
    let mut calls = Vec::with_capacity(n);
    for _ in 0..n {
        let s = relay.create_session().unwrap();
        s.set_remote(LegId::A, RemoteMedia::new(side_a));
        s.set_remote(LegId::B, RemoteMedia::new(side_b));
        calls.push((s.local_rtp(LegId::A), s.local_rtp(LegId::B)));
        sessions.push(s);
    }
    (relay, sessions, calls)
}

fn forwarding(c: &mut Criterion) {
    let mut g = c.benchmark_group("rtp_relay/forward_cpu_per_packet");
    g.throughput(Throughput::Elements(1));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(4));
    let lg = LoadGen::new(LOOPBACK).unwrap();
    for n in [10usize, 500] {
        let (relay, sessions, calls) = relay_with_sessions(n, 1, &lg);
        lg.blast(&calls, 2);
        g.bench_function(format!("sessions={n}"), |b| {
            b.iter_custom(|iters| {
                let rounds = iters.div_ceil(2 * n as u64).max(1) as u32;
                let before = threads_cpu_time("rtp-relay-");
                let r = lg.blast(&calls, rounds);
                let cpu = threads_cpu_time("rtp-relay-") - before;
                // Criterion wants the time for `iters` packets: scale the measured
                // per-packet CPU.
                cpu.mul_f64(iters as f64 / r.received.max(1) as f64)
            })
        });
        drop(sessions);
        relay.shutdown();
    }
    g.finish();
}

criterion_group!(benches, pure, forwarding);

fn main() {
    if let Ok(spec) = std::env::var("SENTRAL_RTP_COMPARE") {
        compare(&spec);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}

struct Run {
    name: &'static str,
    report: LoadReport,
    cpu: Duration,
    wall: Duration,
}

impl Run {
    fn ns_per_packet(&self) -> f64 {
        self.cpu.as_nanos() as f64 / self.report.received.max(1) as f64
    }

    /// A G.711 call is 2 × 50 packets/s; calls one fully busy core could relay.
    fn calls_per_core(&self) -> f64 {
        1e9 / (self.ns_per_packet() * 100.0)
    }

    fn print(&self) {
        let loss = 1.0 - self.report.received as f64 / self.report.sent.max(1) as f64;
        println!(
            "{:<10} sent {:>8} received {:>8} loss {:>6.3}% corrupt {} | CPU {:>7.3} s over {:>5.1} s wall ({:>5.1}% of a core) | {:>6.0} ns/packet | {:>6.0} calls/core",
            self.name,
            self.report.sent,
            self.report.received,
            loss * 100.0,
            self.report.corrupt,
            self.cpu.as_secs_f64(),
            self.wall.as_secs_f64(),
            100.0 * self.cpu.as_secs_f64() / self.wall.as_secs_f64(),
            self.ns_per_packet(),
            self.calls_per_core(),
        );
    }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// Warms up (latching, caches) for 0.5 s, then measures `ticks` paced rounds.
fn measure(
    name: &'static str,
    lg: &LoadGen,
    calls: &[(SocketAddr, SocketAddr)],
    ticks: u32,
    cpu: impl Fn() -> Duration,
) -> Run {
    lg.run(calls, 25, Duration::from_millis(20));
    let before = cpu();
    let start = Instant::now();
    let report = lg.run(calls, ticks, Duration::from_millis(20));
    let wall = start.elapsed();
    let run = Run {
        name,
        report,
        cpu: cpu() - before,
        wall,
    };
    run.print();
    run
}

fn rtpengine_calls(ng: &str, n: usize, tag: &str, lg: &LoadGen) -> Vec<(SocketAddr, SocketAddr)> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/rtpengine/ng.py");
    let out = std::process::Command::new("python3")
        .args([
            script,
            "setup",
            "--ng",
            ng,
            "--calls",
            &n.to_string(),
            "--tag",
            tag,
        ])
        .args(["--a", &lg.side_a().unwrap().to_string()])
        .args(["--b", &lg.side_b().unwrap().to_string()])
        .output()
        .expect("run ng.py");
    assert!(
        out.status.success(),
        "ng.py setup: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let mut it = l
                .split_whitespace()
                .map(|a| a.parse::<SocketAddr>().unwrap());
            (it.next().unwrap(), it.next().unwrap())
        })
        .collect()
}

fn rtpengine_delete(ng: &str, n: usize, tag: &str) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/rtpengine/ng.py");
    let _ = std::process::Command::new("python3")
        .args([
            script,
            "delete",
            "--ng",
            ng,
            "--calls",
            &n.to_string(),
            "--tag",
            tag,
        ])
        .output();
}

fn compare(spec: &str) {
    let get = |key: &str, default: u64| -> u64 {
        spec.split(',')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == key)
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(default)
    };
    let n = get("calls", 1000).clamp(1, 2400) as usize;
    let seconds = get("seconds", 10).clamp(1, 60);
    let rounds = get("rounds", 2).clamp(1, 5);
    let workers = get("workers", 1).clamp(1, 8) as usize;
    let ticks = (seconds * 50) as u32;
    let engine = match (
        std::env::var("RTPENGINE_PID"),
        std::env::var("RTPENGINE_NG"),
    ) {
        (Ok(pid), Ok(ng)) => pid.trim().parse::<u32>().ok().map(|p| (p, ng)),
        _ => None,
    };
    println!(
        "RTP relay comparison: {n} G.711 calls ({} packets/s), {seconds} s per run, {rounds} rounds, \
         {workers} Sentral worker(s); {} CPUs; load before: {}",
        n * 100,
        std::thread::available_parallelism().map_or(0, |p| p.get()),
        loadavg()
    );
    let lg = LoadGen::new(LOOPBACK).unwrap();
    let mut runs: Vec<Run> = Vec::new();
    for round in 0..rounds {
        println!("-- round {} (load {})", round + 1, loadavg());
        {
            let (relay, sessions, calls) = relay_with_sessions(n, workers, &lg);
            runs.push(measure("sentral", &lg, &calls, ticks, || {
                threads_cpu_time("rtp-relay-")
            }));
            let st = relay.stats();
            if st.send_errors > 0 {
                println!("   sentral send errors: {}", st.send_errors);
            }
            drop(sessions);
            relay.shutdown();
        }
        if let Some((pid, ng)) = &engine {
            let tag = format!("{}-{round}", std::process::id());
            let calls = rtpengine_calls(ng, n, &tag, &lg);
            let pid = *pid;
            runs.push(measure("rtpengine", &lg, &calls, ticks, || {
                process_cpu_time(pid)
            }));
            rtpengine_delete(ng, n, &tag);
        }
        {
            let bare = BareForwarder::start(LOOPBACK, n).unwrap();
            let calls = bare.pairs().unwrap();
            runs.push(measure("bare", &lg, &calls, ticks, || {
                threads_cpu_time("rtp-bare")
            }));
        }
    }
    if let Some((pid, _)) = &engine {
        println!("rtpengine CPU by thread over the whole run:");
        for (name, t) in process_cpu_by_thread(*pid) {
            println!("   {name:<16} {:>8.3} s", t.as_secs_f64());
        }
    }
    println!("== summary (mean over rounds), load after: {}", loadavg());
    let mean = |name: &str| -> Option<(f64, f64)> {
        let rs: Vec<&Run> = runs.iter().filter(|r| r.name == name).collect();
        if rs.is_empty() {
            return None;
        }
        let ns = rs.iter().map(|r| r.ns_per_packet()).sum::<f64>() / rs.len() as f64;
        Some((ns, 1e9 / (ns * 100.0)))
    };
    for name in ["sentral", "rtpengine", "bare"] {
        if let Some((ns, calls)) = mean(name) {
            println!("{name:<10} {ns:>7.0} ns CPU/packet  {calls:>7.0} G.711 calls per core");
        }
    }
    if let (Some((s, _)), Some((r, _))) = (mean("sentral"), mean("rtpengine")) {
        println!("sentral/rtpengine CPU per packet: {:.2}", s / r);
    }
    if let (Some((s, _)), Some((b, _))) = (mean("sentral"), mean("bare")) {
        println!("sentral/bare CPU per packet: {:.2}", s / b);
    }
}
