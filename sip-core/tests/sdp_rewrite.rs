//! The relay's rewrite of addresses and ports, and per-leg `o=` versions.

use sip_core::sdp::{OriginKeeper, PortCountMismatch, SessionDescription};
use std::net::IpAddr;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn parse(s: &str) -> SessionDescription {
    SessionDescription::parse(s.as_bytes()).unwrap_or_else(|e| panic!("{e}: {s}"))
}

const PHONE: &str = "v=0\r\n\
o=yealink 100 5 IN IP4 192.0.2.50\r\n\
s=-\r\n\
c=IN IP4 192.0.2.50\r\n\
t=0 0\r\n\
a=ice-lite\r\n\
m=audio 11796 RTP/AVP 0 101\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=rtcp:11797 IN IP4 192.0.2.50\r\n\
a=candidate:1 1 UDP 2130706431 192.0.2.50 11796 typ host\r\n\
a=ice-ufrag:abcd\r\n\
a=ice-pwd:0123456789abcdef0123\r\n\
a=sendrecv\r\n\
m=video 0 RTP/AVP 96\r\n\
a=rtpmap:96 H264/90000\r\n";

#[test]
fn rewrite_points_everything_at_the_relay() {
    let mut sd = parse(PHONE);
    sd.rewrite_connection(ip("203.0.113.9"), &[30000, 30002])
        .expect("2 ports");
    let text = sd.to_string();
    assert!(!text.contains("192.0.2.50"), "{text}");
    assert!(
        !text.contains("candidate") && !text.contains("ice-"),
        "{text}"
    );
    assert_eq!(sd.origin.address, "203.0.113.9");
    assert_eq!(sd.origin.session_version, 5, "version is the keeper's job");
    assert_eq!(sd.media[0].port, 30000);
    assert_eq!(
        sd.media[0].attribute("rtcp"),
        Some("30001 IN IP4 203.0.113.9")
    );
    assert_eq!(sd.media[1].port, 0, "rejected stays rejected");
    assert_eq!(sd.media[0].attribute("sendrecv"), Some(""));
    assert_eq!(SessionDescription::parse(text.as_bytes()).as_ref(), Ok(&sd));
}

#[test]
fn rewrite_to_ipv6_and_media_level_connections() {
    let mut sd = parse(
        "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\n\
         m=audio 4000 RTP/AVP 0\r\nc=IN IP4 192.0.2.1\r\na=rtcp-mux\r\na=rtcp:4000\r\n\
         m=audio 4002 RTP/AVP 8\r\nc=IN IP6 2001:db8::1\r\n",
    );
    sd.rewrite_connection(ip("2001:db8::99"), &[5000, 5002])
        .expect("ok");
    assert_eq!(sd.origin.addr_type, "IP6");
    for i in 0..2 {
        assert_eq!(
            sd.connection_for(i).and_then(|c| c.ip()),
            Some(ip("2001:db8::99"))
        );
        assert_eq!(sd.media[i].connections.len(), 1);
    }
    assert_eq!(
        sd.media[0].attribute("rtcp"),
        Some("5000 IN IP6 2001:db8::99"),
        "rtcp-mux"
    );
    assert!(sd.to_string().contains("c=IN IP6 2001:db8::99\r\n"));
}

#[test]
fn rewrite_keeps_the_old_hold_form() {
    let mut sd = parse(&PHONE.replace("c=IN IP4 192.0.2.50", "c=IN IP4 0.0.0.0"));
    assert!(sd.is_on_hold());
    sd.rewrite_connection(ip("203.0.113.9"), &[30000, 30002])
        .expect("ok");
    assert!(sd.is_on_hold(), "the other leg still sees the hold");
    assert_eq!(
        sd.connection.as_ref().and_then(|c| c.ip()),
        Some(ip("203.0.113.9"))
    );
    assert_eq!(
        sd.connection_for(0).and_then(|c| c.ip()),
        Some(ip("0.0.0.0"))
    );
}

#[test]
fn port_count_must_match() {
    let mut sd = parse(PHONE);
    assert_eq!(
        sd.rewrite_connection(ip("203.0.113.9"), &[30000]),
        Err(PortCountMismatch {
            expected: 2,
            got: 1
        })
    );
    assert_eq!(sd, parse(PHONE), "nothing changed on error");
}

#[test]
fn origin_keeper_versions_per_leg() {
    let mut leg = OriginKeeper::new("sentral", "424242", 1);
    let mut first = parse(PHONE);
    first
        .rewrite_connection(ip("203.0.113.9"), &[30000, 30002])
        .expect("ok");
    assert!(!leg.stamp(&mut first));
    assert_eq!(
        (
            first.origin.username.as_str(),
            first.origin.session_id.as_str(),
            first.origin.session_version
        ),
        ("sentral", "424242", 1)
    );
    // A session refresh with the same content keeps the version (RFC 3264 §8).
    let mut same = parse(PHONE);
    same.rewrite_connection(ip("203.0.113.9"), &[30000, 30002])
        .expect("ok");
    assert!(!leg.stamp(&mut same));
    assert_eq!(same.origin.session_version, 1);
    assert_eq!(same, first);
    // Hold: content changes, version + 1.
    let mut hold = parse(&PHONE.replace("a=sendrecv", "a=sendonly"));
    hold.rewrite_connection(ip("203.0.113.9"), &[30000, 30002])
        .expect("ok");
    assert!(leg.stamp(&mut hold));
    assert_eq!(hold.origin.session_version, 2);
    // After a transfer the other side is a new phone with its own o=; this leg's o=
    // stays the same session, one version up.
    let mut other_phone = parse(&PHONE.replace("o=yealink 100 5", "o=polycom 999 1"));
    other_phone
        .rewrite_connection(ip("203.0.113.9"), &[30004, 30006])
        .expect("ok");
    assert!(leg.stamp(&mut other_phone));
    assert_eq!(other_phone.origin.session_id, "424242");
    assert_eq!(other_phone.origin.session_version, 3);
    assert_eq!(leg.version(), 3);
}
