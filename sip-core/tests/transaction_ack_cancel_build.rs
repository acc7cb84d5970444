//! The ACK for a non-2xx final (RFC 3261 §17.1.1.3) and CANCEL (§9.1), field by field.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod transaction_common;
use transaction_common::*;

use sip_core::message::{Header, Message, Method, Request};
use sip_core::transaction::{Action, build_ack_for_non_2xx, build_cancel};
use std::time::Instant;

fn routed_invite() -> Request {
    let mut inv = invite("z9hG4bKack1");
    inv.headers.push(Header::Route(vec![
        name_addr(host_uri("p1.example.com", true), None),
        name_addr(host_uri("p2.example.com", true), None),
    ]));
    // A second Via line, as if a proxy had sent it: the ACK keeps only the top one.
    inv.headers.push(Header::Via(vec![via(
        "proxy.example.com",
        "UDP",
        Some("z9hG4bKlower"),
    )]));
    inv.body = bytes::Bytes::from_static(b"v=0\r\n");
    inv
}

#[test]
fn ack_for_non_2xx_follows_17_1_1_3() {
    let inv = routed_invite();
    let resp = response(&inv, 486, Some("uas-tag"));
    let ack = build_ack_for_non_2xx(&inv, &resp);
    assert_eq!(ack.method, Method::Ack);
    assert_eq!(ack.uri, inv.uri);
    assert_eq!(ack.headers.call_id(), inv.headers.call_id());
    assert_eq!(ack.headers.from(), inv.headers.from());
    // To comes from the response, with the UAS's tag.
    assert_eq!(ack.headers.to().and_then(|t| t.tag()), Some("uas-tag"));
    // Exactly one Via, equal to the INVITE's top Via.
    assert_eq!(ack.headers.vias().count(), 1);
    assert_eq!(ack.headers.top_via(), inv.headers.top_via());
    let cseq = ack.headers.cseq().expect("CSeq");
    assert_eq!((cseq.seq, &cseq.method), (314159, &Method::Ack));
    assert_eq!(
        ack.headers.routes().collect::<Vec<_>>(),
        inv.headers.routes().collect::<Vec<_>>()
    );
    assert!(ack.body.is_empty());
    assert_eq!(ack.headers.contacts().count(), 0);
}

#[test]
fn cancel_follows_9_1() {
    let inv = routed_invite();
    let c = build_cancel(&inv);
    assert_eq!(c.method, Method::Cancel);
    assert_eq!(c.uri, inv.uri);
    assert_eq!(c.headers.call_id(), inv.headers.call_id());
    assert_eq!(c.headers.from(), inv.headers.from());
    assert_eq!(c.headers.to(), inv.headers.to());
    assert_eq!(
        c.headers.vias().collect::<Vec<_>>(),
        [inv.headers.top_via().unwrap()]
    );
    let cseq = c.headers.cseq().expect("CSeq");
    assert_eq!((cseq.seq, &cseq.method), (314159, &Method::Cancel));
    assert_eq!(c.headers.routes().count(), 2);
    assert!(c.body.is_empty());
}

#[test]
fn the_layer_sends_exactly_that_ack() {
    let t0 = Instant::now();
    let mut l = layer();
    let inv = routed_invite();
    l.send_request(inv.clone(), udp(2), t0).unwrap();
    drain(&mut l);
    let resp = response(&inv, 404, Some("u"));
    l.handle_message(Message::Response(resp.clone()), udp(2), t0 + ms(10));
    let acts = drain(&mut l);
    let expected = build_ack_for_non_2xx(&inv, &resp);
    assert!(acts.iter().any(|a| matches!(a,
        Action::Send { message: Message::Request(r), peer, .. } if *r == expected && *peer == udp(2))));
}
