//! RFC 3264 answers to what real phones offer, hold and resume, and rejections.

use sip_core::sdp::{
    AnswerOptions, Codec, Direction, OfferAnswerError, SessionDescription, answer,
};
use std::net::IpAddr;

const YEALINK: &str = "v=0\r\n\
o=- 20044 20044 IN IP4 192.0.2.50\r\n\
s=SDP data\r\n\
c=IN IP4 192.0.2.50\r\n\
t=0 0\r\n\
m=audio 11796 RTP/AVP 0 8 18 9 101\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:18 G729/8000\r\n\
a=fmtp:18 annexb=no\r\n\
a=rtpmap:9 G722/8000\r\n\
a=fmtp:101 0-15\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=ptime:20\r\n\
a=sendrecv\r\n";

const POLYCOM: &str = "v=0\r\n\
o=- 1626341238 1626341238 IN IP4 192.0.2.23\r\n\
s=Polycom IP Phone\r\n\
c=IN IP4 192.0.2.23\r\n\
t=0 0\r\n\
a=sendrecv\r\n\
m=audio 2222 RTP/AVP 9 102 0 8 18 127\r\n\
a=rtpmap:9 G722/8000\r\n\
a=rtpmap:102 G7221/16000\r\n\
a=fmtp:102 bitrate=32000\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:18 G729/8000\r\n\
a=fmtp:18 annexb=no\r\n\
a=rtpmap:127 telephone-event/8000\r\n";

// baresip 3.x over IPv6, LF line ends, with a video stream and rtcp-mux.
const BARESIP: &str = "v=0\n\
o=- 2790552738 2221546375 IN IP6 2001:db8::77\n\
s=-\n\
c=IN IP6 2001:db8::77\n\
t=0 0\n\
m=audio 10012 RTP/AVP 96 9 0 8 101\n\
b=AS:128\n\
a=rtpmap:96 opus/48000/2\n\
a=fmtp:96 stereo=1;sprop-stereo=1\n\
a=rtpmap:9 G722/8000\n\
a=rtpmap:0 PCMU/8000\n\
a=rtpmap:8 PCMA/8000\n\
a=rtpmap:101 telephone-event/8000\n\
a=fmtp:101 0-15\n\
a=rtcp-mux\n\
a=ptime:20\n\
a=sendrecv\n\
a=label:1\n\
m=video 10014 RTP/AVP 96\n\
a=rtpmap:96 H264/90000\n\
a=sendrecv\n";

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn parse(s: &str) -> SessionDescription {
    SessionDescription::parse(s.as_bytes()).unwrap_or_else(|e| panic!("{e}: {s}"))
}

fn opts() -> AnswerOptions {
    AnswerOptions::new(ip("198.51.100.10"), "777", 1)
}

fn answer_to(offer: &SessionDescription) -> SessionDescription {
    let a = answer(offer, &opts(), |i| Some(20000 + 2 * i as u16)).expect("acceptable");
    // Whatever we build must parse back to the same thing.
    assert_eq!(SessionDescription::parse(&a.to_bytes()).as_ref(), Ok(&a));
    a
}

#[test]
fn yealink_offer() {
    let offer = parse(YEALINK);
    let m = &offer.media[0];
    assert_eq!(m.ptime(), Some(20));
    assert_eq!(m.fmtp(18), Some("annexb=no"));
    assert_eq!(m.fmtp(101), Some("0-15"));
    assert_eq!(m.direction_attribute(), Some(Direction::SendRecv));
    assert!(!offer.is_on_hold());

    let a = answer_to(&offer);
    assert_eq!(a.media.len(), 1);
    let am = &a.media[0];
    assert_eq!(am.port, 20000);
    assert_eq!(
        am.formats,
        ["0", "8", "9", "101"],
        "offer order, G.729 dropped"
    );
    assert_eq!(am.rtpmap(9).map(|m| m.encoding), Some("G722".to_owned()));
    assert_eq!(am.fmtp(101), Some("0-15"), "offered events kept");
    assert_eq!(am.direction_attribute(), Some(Direction::SendRecv));
    assert_eq!(am.ptime(), Some(20));
    assert_eq!(
        a.connection_for(0).and_then(|c| c.ip()),
        Some(ip("198.51.100.10"))
    );
    assert_eq!(a.origin.session_id, "777");
    assert_eq!(a.times, offer.times, "RFC 3264 §6: same t=");
}

#[test]
fn polycom_offer_session_level_direction() {
    let offer = parse(POLYCOM);
    assert_eq!(offer.direction(0), Direction::SendRecv);
    let a = answer_to(&offer);
    assert_eq!(a.media[0].formats, ["9", "0", "8", "127"]);
    assert_eq!(
        a.media[0].fmtp(127),
        Some("0-16"),
        "default events when none offered"
    );
}

#[test]
fn baresip_ipv6_with_video() {
    let offer = parse(BARESIP);
    assert!(offer.media[0].rtcp_mux());
    assert_eq!(offer.media[0].rtpmap(96).and_then(|m| m.channels), Some(2));
    assert_eq!(
        offer.media[0].attribute("label"),
        Some("1"),
        "unknown attribute kept"
    );
    let mut o = opts();
    o.address = ip("2001:db8::1");
    o.rtcp_mux = true;
    let a = answer(&offer, &o, |_| Some(40000)).expect("acceptable");
    assert_eq!(a.media.len(), 2, "same m-line count");
    assert_eq!(a.media[0].formats, ["9", "0", "8", "101"], "opus not ours");
    assert!(a.media[0].rtcp_mux());
    assert_eq!(a.media[1].media, "video");
    assert_eq!(a.media[1].port, 0, "video rejected");
    assert_eq!(a.media[1].formats, ["96"]);
    assert_eq!(a.origin.addr_type, "IP6");
    assert!(a.to_string().contains("c=IN IP6 2001:db8::1\r\n"));
    // Without our rtcp-mux support, no rtcp-mux in the answer.
    let a = answer(&offer, &opts(), |_| Some(40000)).expect("acceptable");
    assert!(!a.media[0].rtcp_mux());
}

#[test]
fn static_payload_types_without_rtpmap() {
    let offer = parse(
        "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 8 0 3\r\n",
    );
    let a = answer_to(&offer);
    assert_eq!(a.media[0].formats, ["8", "0"]);
    assert_eq!(
        a.media[0].rtpmap(8).map(|m| m.encoding),
        Some("PCMA".to_owned())
    );
}

#[test]
fn codec_set_and_dtmf_rate_are_respected() {
    let offer = parse(YEALINK);
    let mut o = opts();
    o.codecs = vec![Codec::PCMA];
    o.telephone_event_rates = vec![16000];
    let a = answer(&offer, &o, |_| Some(20000)).expect("PCMA common");
    assert_eq!(a.media[0].formats, ["8"]);
}

fn with_direction(dir: &str) -> SessionDescription {
    parse(&YEALINK.replace("a=sendrecv", dir))
}

#[test]
fn hold_and_resume() {
    // RFC 3264 §6.1 / §8.4.
    for (offered, answered, held) in [
        ("a=sendonly", Direction::RecvOnly, true),
        ("a=inactive", Direction::Inactive, true),
        ("a=recvonly", Direction::SendOnly, false),
        ("a=sendrecv", Direction::SendRecv, false),
    ] {
        let offer = with_direction(offered);
        assert_eq!(offer.is_on_hold(), held, "{offered}");
        assert_eq!(offer.is_held(0), held, "{offered}");
        let a = answer_to(&offer);
        assert_eq!(
            a.media[0].direction_attribute(),
            Some(answered),
            "{offered}"
        );
    }
    // The RFC 2543 form: c=0.0.0.0 with no direction attribute.
    let old = parse(
        &YEALINK
            .replace("c=IN IP4 192.0.2.50", "c=IN IP4 0.0.0.0")
            .replace("a=sendrecv\r\n", ""),
    );
    assert_eq!(old.direction(0), Direction::SendRecv);
    assert_eq!(old.effective_direction(0), Direction::SendOnly);
    assert!(old.is_on_hold());
    assert_eq!(
        answer_to(&old).media[0].direction_attribute(),
        Some(Direction::RecvOnly)
    );
    // Resume: the phone offers sendrecv again with a real address.
    let resumed = with_direction("a=sendrecv");
    assert!(!resumed.is_on_hold());
    assert_eq!(
        answer_to(&resumed).media[0].direction_attribute(),
        Some(Direction::SendRecv)
    );
}

#[test]
fn we_hold_the_call() {
    let mut o = opts();
    o.direction = Direction::SendOnly; // playing music on hold
    let a = answer(&with_direction("a=sendrecv"), &o, |_| Some(1)).expect("ok");
    assert_eq!(a.media[0].direction_attribute(), Some(Direction::SendOnly));
    let a = answer(&with_direction("a=sendonly"), &o, |_| Some(1)).expect("ok");
    assert_eq!(a.media[0].direction_attribute(), Some(Direction::Inactive));
}

#[test]
fn media_level_direction_beats_session_level() {
    let sd = parse(&POLYCOM.replace("a=rtpmap:127", "a=sendonly\r\na=rtpmap:127"));
    assert_eq!(sd.direction(0), Direction::SendOnly);
    assert!(sd.is_on_hold());
}

#[test]
fn rejections() {
    // Secure RTP is not ours: rejected with port 0, formats kept.
    let srtp = parse(&YEALINK.replace("RTP/AVP", "RTP/SAVP"));
    assert_eq!(
        answer(&srtp, &opts(), |_| Some(1)),
        Err(OfferAnswerError::NotAcceptable)
    );

    // Two audio streams, the second only G.729: same count and order, second rejected.
    let two = parse(&format!(
        "{YEALINK}m=audio 11798 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\nm=audio 0 RTP/AVP 0\r\n"
    ));
    let a = answer_to(&two);
    assert_eq!(a.media.len(), 3);
    assert_eq!(
        a.media.iter().map(|m| m.port).collect::<Vec<_>>(),
        [20000, 0, 0]
    );
    assert_eq!(a.media[1].formats, ["18"]);
    assert!(a.media[1].attributes.is_empty());

    // Only telephone-event is not a call.
    let dtmf_only = parse(
        "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 101\r\na=rtpmap:101 telephone-event/8000\r\n",
    );
    assert_eq!(
        answer(&dtmf_only, &opts(), |_| Some(1)),
        Err(OfferAnswerError::NotAcceptable)
    );

    // No media at all.
    let none = parse("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\n");
    assert_eq!(
        answer(&none, &opts(), |_| Some(1)),
        Err(OfferAnswerError::NoMedia)
    );

    // No port left: the caller's allocator says no.
    assert_eq!(
        answer(&parse(YEALINK), &opts(), |_| None),
        Err(OfferAnswerError::NotAcceptable)
    );
}
