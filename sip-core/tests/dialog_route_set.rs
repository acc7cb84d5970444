//! Route sets (RFC 3261 §12.1.1, §12.1.2) and the Request-URI/Route of in-dialog requests
//! with loose and strict routing (§12.2.1.1).

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod transaction_common;
use transaction_common::*;

use sip_core::dialog::Dialog;
use sip_core::message::{Header, Method, NameAddr, Request, Response, Uri};

fn rr(hosts: &[(&str, bool)]) -> Header {
    Header::RecordRoute(
        hosts
            .iter()
            .map(|(h, lr)| name_addr(host_uri(h, *lr), None))
            .collect(),
    )
}

fn hosts(routes: &[NameAddr]) -> Vec<String> {
    routes
        .iter()
        .map(|r| match &r.uri {
            Uri::Sip(s) => match &s.host {
                sip_core::message::Host::Domain(d) => d.to_string(),
                h => format!("{h:?}"),
            },
            u => format!("{u:?}"),
        })
        .collect()
}

fn uac_dialog(record_route: &[(&str, bool)]) -> (Request, Dialog) {
    let inv = invite("z9hG4bKr1");
    let mut ok: Response = response(&inv, 200, Some("b"));
    ok.headers.push(rr(record_route));
    let d = Dialog::new_uac(&inv, &ok).unwrap();
    (inv, d)
}

#[test]
fn uac_route_set_is_record_route_reversed() {
    let (_, d) = uac_dialog(&[
        ("p3.example.com", true),
        ("p2.example.com", true),
        ("p1.example.com", true),
    ]);
    assert_eq!(
        hosts(d.route_set()),
        ["p1.example.com", "p2.example.com", "p3.example.com"]
    );
}

#[test]
fn uas_route_set_is_record_route_in_order() {
    let mut inv = invite("z9hG4bKr2");
    inv.headers
        .push(rr(&[("p3.example.com", true), ("p2.example.com", true)]));
    let ok = response(&inv, 200, Some("uas"));
    let d = Dialog::new_uas(&inv, &ok).unwrap();
    assert_eq!(hosts(d.route_set()), ["p3.example.com", "p2.example.com"]);
    assert_eq!(d.id().local_tag, "uas");
    assert_eq!(d.id().remote_tag, "1928301774");
    assert_eq!(
        d.remote_target(),
        &sip_uri("alice", "pc33.atlanta.example.com")
    );
}

#[test]
fn route_set_is_recomputed_by_the_2xx() {
    let inv = invite("z9hG4bKr3");
    let mut ringing = response(&inv, 180, Some("b"));
    ringing.headers.push(rr(&[("early.example.com", true)]));
    let mut d = Dialog::new_uac(&inv, &ringing).unwrap();
    assert_eq!(hosts(d.route_set()), ["early.example.com"]);
    let mut ok = response(&inv, 200, Some("b"));
    ok.headers
        .push(rr(&[("b.example.com", true), ("a.example.com", true)]));
    d.on_response_received(&ok);
    assert_eq!(hosts(d.route_set()), ["a.example.com", "b.example.com"]);
}

#[test]
fn loose_routing_keeps_the_remote_target_as_request_uri() {
    let (_, mut d) = uac_dialog(&[("p2.example.com", true), ("p1.example.com", true)]);
    let bye = d
        .request(Method::Bye, via("pc33.atlanta.example.com", "UDP", None))
        .unwrap();
    assert_eq!(bye.uri, sip_uri("bob", "192.0.2.4"));
    assert_eq!(
        hosts(&bye.headers.routes().cloned().collect::<Vec<_>>()),
        ["p1.example.com", "p2.example.com"]
    );
}

#[test]
fn strict_routing_puts_the_first_route_in_the_request_uri() {
    let (_, mut d) = uac_dialog(&[("p2.example.com", true), ("strict.example.com", false)]);
    // The strict router's URI carries a parameter not allowed in a Request-URI.
    let mut rs = d.route_set().to_vec();
    if let Uri::Sip(s) = &mut rs[0].uri {
        s.params.set("method", Some("INVITE".into()));
        s.params.set("transport", Some("udp".into()));
    }
    let mut inv = invite("z9hG4bKr4");
    let mut ok = response(&inv, 200, Some("b"));
    rs.reverse();
    ok.headers.push(Header::RecordRoute(rs));
    inv.headers.remove(&sip_core::message::HeaderName::Route);
    d = Dialog::new_uac(&inv, &ok).unwrap();
    let bye = d
        .request(Method::Bye, via("pc33.atlanta.example.com", "UDP", None))
        .unwrap();
    let Uri::Sip(ruri) = &bye.uri else {
        panic!("sip uri")
    };
    assert_eq!(
        ruri.host,
        sip_core::message::Host::Domain("strict.example.com".into())
    );
    assert!(
        !ruri.params.contains("method"),
        "method is not allowed in a Request-URI"
    );
    assert!(ruri.params.contains("transport"));
    // Route: the rest of the route set, then the remote target last.
    let routes: Vec<NameAddr> = bye.headers.routes().cloned().collect();
    assert_eq!(hosts(&routes[..1]), ["p2.example.com"]);
    assert_eq!(routes.len(), 2);
    assert_eq!(routes[1].uri, sip_uri("bob", "192.0.2.4"));
}

#[test]
fn empty_route_set_sends_straight_to_the_remote_target() {
    let inv = invite("z9hG4bKr5");
    let mut d = Dialog::new_uac(&inv, &response(&inv, 200, Some("b"))).unwrap();
    let opts = d.request(Method::Options, via("h", "UDP", None)).unwrap();
    assert_eq!(opts.uri, sip_uri("bob", "192.0.2.4"));
    assert_eq!(opts.headers.routes().count(), 0);
}
