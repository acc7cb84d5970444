#![no_main]
//! Feeds raw bytes to every SIP message entry point: datagram parse, stream framing and
//! stream parse, stateless validation, the stateless answer to a bad request, and the
//! typed on-demand headers. Whatever parses must serialize and parse back to the same
//! message (modulo Content-Length) and serialize to the same bytes a second time.

use libfuzzer_sys::fuzz_target;
use sip_core::message::{
    Framing, HeaderName, Message, Policy, frame_stream, parse_datagram, parse_stream_message,
    serialize, should_drop_response, validate_request,
};

fn strip_content_length(mut m: Message) -> Message {
    m.headers_mut().remove(&HeaderName::ContentLength);
    m
}

fn typed_headers(m: &Message) {
    let h = m.headers();
    let _ = h.require();
    let _ = h.supported();
    let _ = h.allow();
    let _ = h.accept();
    let _ = h.content_type();
    let _ = h.event();
    let _ = h.subscription_state();
    if let Some(Ok(rt)) = h.refer_to() {
        let _ = sip_core::message::typed::embedded_replaces(&rt.uri);
    }
    let _ = h.referred_by();
    let _ = h.replaces();
    let _ = h.p_asserted_identity();
    let _ = h.diversion();
    let _ = h.user_agent();
    let _ = h.date();
}

fuzz_target!(|data: &[u8]| {
    let buf = bytes::Bytes::copy_from_slice(data);
    if let Framing::Message(n) = frame_stream(data) {
        let _ = parse_stream_message(buf.slice(..n));
    }
    match parse_datagram(buf) {
        Ok(m) => {
            typed_headers(&m);
            match &m {
                Message::Request(r) => {
                    let _ = validate_request(r, &Policy::default());
                }
                Message::Response(r) => {
                    let _ = should_drop_response(r);
                }
            }
            let wire = serialize::to_bytes(&m);
            let again = match parse_datagram(wire.clone()) {
                Ok(a) => a,
                Err(e) => panic!("reparse failed: {e}\n{:?}", String::from_utf8_lossy(&wire)),
            };
            assert_eq!(strip_content_length(again.clone()), strip_content_length(m));
            assert_eq!(serialize::to_bytes(&again), wire);
        }
        Err(e) => {
            if let Some(resp) = e.response() {
                let _ = serialize::to_bytes(&Message::Response(resp));
            }
        }
    }
});
