//! The SDP bodies of the RFC 5118 torture messages (tests/fixtures/torture/rfc5118-wire):
//! IPv6 `c=` without brackets, media-level `c=` overriding the session (several address
//! families in one description), IPv4-mapped IPv6.

use sip_core::sdp::{AnswerOptions, OfferAnswerError, SessionDescription, answer};
use std::net::IpAddr;

/// The body after the blank line, exactly as on the wire.
fn body(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../tests/fixtures/torture/rfc5118-wire/{name}.dat",
        env!("CARGO_MANIFEST_DIR")
    );
    let raw = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let at = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("{path}: no blank line"));
    raw[at + 4..].to_vec()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

#[test]
fn ipv6_in_sdp() {
    // RFC 5118 §4.6.
    let b = body("ipv6-in-sdp");
    let sd = SessionDescription::parse(&b).expect("parses");
    assert_eq!(sd.origin.addr_type, "IP6");
    assert_eq!(sd.origin.address, "2001:db8::20");
    assert_eq!(sd.origin.session_id, "971731711378798081");
    assert_eq!(sd.session_name, "Live video feed for today's meeting");
    assert_eq!(sd.media.len(), 2);
    for i in 0..2 {
        assert_eq!(
            sd.connection_for(i).and_then(|c| c.ip()),
            Some(ip("2001:db8::20"))
        );
    }
    assert_eq!(
        sd.media[0].rtpmap(2).map(|m| m.encoding),
        Some("G726-32".to_owned())
    );
    assert_eq!(sd.media[1].rtpmap(107).map(|m| m.clock_rate), Some(90000));
    assert_eq!(sd.times[0].start, 3338481189);
    // Byte-exact round trip.
    assert_eq!(sd.to_bytes(), b);
    // G.726 and H.263 are not ours: nothing to accept.
    let opts = AnswerOptions::new(ip("2001:db8::1"), "1", 1);
    assert_eq!(
        answer(&sd, &opts, |_| Some(20000)),
        Err(OfferAnswerError::NotAcceptable)
    );
}

#[test]
fn mult_ip_in_sdp_media_level_overrides() {
    // RFC 5118 §4.8: no session c=, an IPv4 audio stream and an IPv6 video stream.
    let b = body("mult-ip-in-sdp");
    let sd = SessionDescription::parse(&b).expect("parses");
    assert!(sd.connection.is_none());
    assert_eq!(sd.session_name, "", "empty s= accepted");
    assert_eq!(sd.origin.address, "host.example.com");
    assert_eq!(
        sd.connection_for(0).and_then(|c| c.ip()),
        Some(ip("192.0.2.1"))
    );
    assert_eq!(
        sd.connection_for(1).and_then(|c| c.ip()),
        Some(ip("2001:db8::1"))
    );
    assert_eq!(sd.to_bytes(), b);
}

#[test]
fn ipv4_mapped_ipv6() {
    // RFC 5118 §4.7.
    let b = body("ipv4-mapped-ipv6");
    let sd = SessionDescription::parse(&b).expect("parses");
    let c = sd.connection_for(0).and_then(|c| c.ip());
    assert_eq!(c, Some(ip("::ffff:192.0.2.2")));
    assert!(
        matches!(c, Some(IpAddr::V6(_))),
        "stays IPv6, not folded to IPv4"
    );
    assert_eq!(sd.to_bytes(), b);
}

#[test]
fn fixtures_rewrite_for_the_relay() {
    for name in ["ipv6-in-sdp", "mult-ip-in-sdp", "ipv4-mapped-ipv6"] {
        let mut sd = SessionDescription::parse(&body(name)).expect("parses");
        sd.rewrite_connection(ip("203.0.113.5"), &[30000, 30002])
            .expect("two m-lines");
        let text = sd.to_string();
        assert!(
            !text.contains("2001:db8") && !text.contains("192.0.2."),
            "{name}: {text}"
        );
        let again = SessionDescription::parse(text.as_bytes()).expect("reparses");
        for i in 0..2 {
            assert_eq!(
                again.connection_for(i).and_then(|c| c.ip()),
                Some(ip("203.0.113.5"))
            );
        }
        assert_eq!(again.media[1].port, 30002);
    }
}
