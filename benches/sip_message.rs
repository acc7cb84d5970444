//! Parse and serialize a typical phone INVITE (about 600 bytes with an SDP offer) and
//! parse a REGISTER. Goal (issue 2): at least 1 000 000 INVITE parses per second per core.
//!
//! Run: `cargo bench --bench sip_message`.

use bytes::Bytes;
use criterion::{Criterion, Throughput, black_box, criterion_group, criterion_main};
use sip_core::message::{Message, Policy, parse_datagram, serialize, validate_request};

/// An INVITE as a desk phone sends it through an outbound proxy.
const INVITE: &str = "INVITE sip:2001@pbx.kommune.example SIP/2.0\r\n\
Via: SIP/2.0/UDP 10.20.30.40:5060;branch=z9hG4bK776asdhds;rport\r\n\
Max-Forwards: 70\r\n\
Route: <sip:pbx.kommune.example;lr>\r\n\
From: \"Kari Nordmann\" <sip:1001@pbx.kommune.example>;tag=1928301774\r\n\
To: <sip:2001@pbx.kommune.example>\r\n\
Call-ID: a84b4c76e66710@10.20.30.40\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:1001@10.20.30.40:5060;transport=udp>\r\n\
Supported: replaces, timer\r\n\
User-Agent: Yealink SIP-T46U\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 175\r\n\
\r\n\
v=0\r\n\
o=- 20518 0 IN IP4 10.20.30.40\r\n\
s=SDP data\r\n\
c=IN IP4 10.20.30.40\r\n\
t=0 0\r\n\
m=audio 11780 RTP/AVP 0 8 9 101\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-15\r\n\
a=sendrecv\r\n";

const REGISTER: &str = "REGISTER sip:pbx.kommune.example SIP/2.0\r\n\
Via: SIP/2.0/UDP 10.20.30.40:5060;branch=z9hG4bKnashds7;rport\r\n\
Max-Forwards: 70\r\n\
From: <sip:1001@pbx.kommune.example>;tag=456248\r\n\
To: <sip:1001@pbx.kommune.example>\r\n\
Call-ID: 843817637684230@10.20.30.40\r\n\
CSeq: 1826 REGISTER\r\n\
Contact: <sip:1001@10.20.30.40:5060>;expires=3600\r\n\
Expires: 3600\r\n\
User-Agent: Yealink SIP-T46U 108.86.0.20\r\n\
Content-Length: 0\r\n\
\r\n";

fn benches(c: &mut Criterion) {
    let invite = Bytes::from_static(INVITE.as_bytes());
    let register = Bytes::from_static(REGISTER.as_bytes());
    let parsed = parse_datagram(invite.clone()).expect("the bench INVITE parses");
    let Message::Request(req) = &parsed else {
        panic!("request")
    };
    assert_eq!(
        req.headers.content_length().map(|n| n as usize),
        Some(req.body.len())
    );
    assert!(
        (550..=700).contains(&invite.len()),
        "a typical ~600-byte INVITE, got {}",
        invite.len()
    );
    let policy = Policy::default();

    let mut g = c.benchmark_group("sip_message");
    g.throughput(Throughput::Bytes(invite.len() as u64));
    g.bench_function("parse_invite", |b| {
        b.iter(|| parse_datagram(black_box(invite.clone())))
    });
    g.bench_function("serialize_invite", |b| {
        b.iter(|| serialize::to_vec(black_box(&parsed)))
    });
    g.bench_function("validate_invite", |b| {
        b.iter(|| validate_request(black_box(req), &policy))
    });
    g.throughput(Throughput::Bytes(register.len() as u64));
    g.bench_function("parse_register", |b| {
        b.iter(|| parse_datagram(black_box(register.clone())))
    });
    g.finish();
}

criterion_group!(sip_message, benches);
criterion_main!(sip_message);
