//! Transaction benches (criterion): one full non-INVITE server transaction per iteration
//! (request in → passed up → 200 out → Timer J → Terminated), on typed messages and then
//! including parsing the request datagram and serializing the response, plus the INVITE
//! server transaction (INVITE → 100 → 486 → ACK → Timer I) and a client non-INVITE.
//!
//! The layer lives across iterations, like a running server; the fake clock jumps past
//! Timer J each time so every iteration really creates, completes and removes one
//! transaction.
//!
//! Every bench runs twice: `transaction/*` measures wall time as usual, and
//! `transaction_cpu/*` measures the thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`), which
//! is what to compare on a shared, loaded machine.

use bytes::Bytes;
use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{Criterion, black_box, criterion_group, criterion_main};
use sip_core::message::{Message, Method, Request, Response, parse_datagram, serialize};
use sip_core::transaction::{
    Action, LayerConfig, PassUp, Peer, TransactionLayer, TransportKind, TxId, build_ack_for_non_2xx,
};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const OPTIONS: &[u8] = b"OPTIONS sip:carol@chicago.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bKhjhs8ass877\r\n\
Max-Forwards: 70\r\n\
To: <sip:carol@chicago.example.com>\r\n\
From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710\r\n\
CSeq: 63104 OPTIONS\r\n\
Contact: <sip:alice@pc33.atlanta.example.com>\r\n\
Accept: application/sdp\r\n\
Content-Length: 0\r\n\r\n";

const INVITE: &[u8] = b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bK776asdhds\r\n\
Max-Forwards: 70\r\n\
To: Bob <sip:bob@biloxi.example.com>\r\n\
From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:alice@pc33.atlanta.example.com>\r\n\
Content-Length: 0\r\n\r\n";

fn peer() -> Peer {
    Peer::new(SocketAddr::from(([192, 0, 2, 1], 5060)), TransportKind::Udp)
}

fn parse_request(bytes: &'static [u8]) -> Request {
    match parse_datagram(Bytes::from_static(bytes)) {
        Ok(Message::Request(r)) => r,
        other => panic!("bench fixture does not parse as a request: {other:?}"),
    }
}

fn ok_for(req: &Request, status: u16) -> Response {
    let mut r = Response::to_request(req, status);
    if let Some(to) = r.headers.to_mut() {
        to.set_tag("a6c85cf");
    }
    r
}

/// Takes the TU's new server transaction out of the action queue.
fn new_tx(layer: &mut TransactionLayer) -> Option<(TxId, Request)> {
    let mut found = None;
    while let Some(a) = layer.poll_action() {
        if let Action::PassUp(PassUp::Request { tx, request, .. }) = a {
            found = Some((tx, request));
        }
    }
    found
}

/// Drains the queue, returning the last message sent.
fn last_sent(layer: &mut TransactionLayer) -> Option<Sent> {
    let mut sent = None;
    while let Some(a) = layer.poll_action() {
        match a {
            Action::Send { message, .. } => sent = Some(Sent::Message(Box::new(message))),
            Action::SendWire { wire, .. } => sent = Some(Sent::Wire(wire)),
            _ => {}
        }
    }
    sent
}

/// What a layer handed to the transport: a message still to serialize, or the bytes a
/// non-INVITE server transaction serialized itself when its final response was given.
enum Sent {
    Message(Box<Message>),
    Wire(Bytes),
}

/// CPU time of the calling thread, in nanoseconds, as a criterion measurement.
struct ThreadCpuTime;

static WALL: WallTime = WallTime;

fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the call only writes into it.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return 0;
    }
    (ts.tv_sec as u64) * 1_000_000_000 + ts.tv_nsec as u64
}

impl Measurement for ThreadCpuTime {
    type Intermediate = u64;
    type Value = u64;
    fn start(&self) -> u64 {
        thread_cpu_ns()
    }
    fn end(&self, start: u64) -> u64 {
        thread_cpu_ns().saturating_sub(start)
    }
    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }
    fn zero(&self) -> u64 {
        0
    }
    fn to_f64(&self, v: &u64) -> f64 {
        *v as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        // Same unit (ns) as wall time, so the same formatter fits.
        WALL.formatter()
    }
}

fn wall(c: &mut Criterion) {
    bench_transactions(c, "transaction");
}

fn cpu(c: &mut Criterion<ThreadCpuTime>) {
    bench_transactions(c, "transaction_cpu");
}

fn bench_transactions<M: Measurement>(c: &mut Criterion<M>, group: &str) {
    let req = parse_request(OPTIONS);
    let mut g = c.benchmark_group(group);

    let mut layer = TransactionLayer::new(LayerConfig::default());
    let mut now = Instant::now();
    g.bench_function("server_non_invite_typed", |b| {
        b.iter(|| {
            layer.handle_message(Message::Request(req.clone()), peer(), now);
            let Some((tx, r)) = new_tx(&mut layer) else {
                panic!("request not passed up")
            };
            let _ = layer.send_response(tx, ok_for(&r, 200), now);
            black_box(last_sent(&mut layer));
            now += Duration::from_secs(33);
            layer.handle_timeout(now);
            while layer.poll_action().is_some() {}
            assert!(layer.is_empty());
        })
    });

    let mut layer = TransactionLayer::new(LayerConfig::default());
    let mut now = Instant::now();
    let wire = Bytes::from_static(OPTIONS);
    g.bench_function("server_non_invite_parse_serialize", |b| {
        b.iter(|| {
            let Ok(msg) = parse_datagram(wire.clone()) else {
                panic!("parse failed")
            };
            layer.handle_message(msg, peer(), now);
            let Some((tx, r)) = new_tx(&mut layer) else {
                panic!("request not passed up")
            };
            let _ = layer.send_response(tx, ok_for(&r, 200), now);
            let Some(out) = last_sent(&mut layer) else {
                panic!("no response sent")
            };
            match out {
                Sent::Message(m) => black_box(serialize::to_bytes(&m)),
                Sent::Wire(w) => black_box(w),
            };
            now += Duration::from_secs(33);
            layer.handle_timeout(now);
            while layer.poll_action().is_some() {}
            assert!(layer.is_empty());
        })
    });

    let invite = parse_request(INVITE);
    let busy = ok_for(&invite, 486);
    let ack = build_ack_for_non_2xx(&invite, &busy);
    let mut layer = TransactionLayer::new(LayerConfig::default());
    let mut now = Instant::now();
    g.bench_function("server_invite_486_ack_typed", |b| {
        b.iter(|| {
            layer.handle_message(Message::Request(invite.clone()), peer(), now);
            let Some((tx, _)) = new_tx(&mut layer) else {
                panic!("INVITE not passed up")
            };
            let _ = layer.send_response(tx, busy.clone(), now);
            black_box(last_sent(&mut layer));
            layer.handle_message(Message::Request(ack.clone()), peer(), now);
            now += Duration::from_secs(6);
            layer.handle_timeout(now);
            while layer.poll_action().is_some() {}
            assert!(layer.is_empty());
        })
    });

    let mut layer = TransactionLayer::new(LayerConfig::default());
    let mut now = Instant::now();
    let options = {
        let mut r = req.clone();
        r.method = Method::Options;
        r
    };
    g.bench_function("client_non_invite_typed", |b| {
        b.iter(|| {
            let Ok(tx) = layer.send_request(options.clone(), peer(), now) else {
                panic!("send_request failed")
            };
            black_box(last_sent(&mut layer));
            let resp = match layer.request(tx) {
                Some(sent) => ok_for(sent, 200),
                None => panic!("transaction vanished"),
            };
            layer.handle_message(Message::Response(resp), peer(), now);
            now += Duration::from_secs(6);
            layer.handle_timeout(now);
            while layer.poll_action().is_some() {}
            assert!(layer.is_empty());
        })
    });
    g.finish();
}

criterion_group!(wall_time, wall);
criterion_group! {
    name = cpu_time;
    config = Criterion::default().with_measurement(ThreadCpuTime);
    targets = cpu
}
criterion_main!(wall_time, cpu_time);
