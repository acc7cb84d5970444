//! RFC 2543 fallback matching (RFC 3261 §17.2.3, second half): without the `z9hG4bK`
//! cookie a request matches by Request-URI, To tag, From tag, Call-ID, CSeq and top Via;
//! an ACK matches by the To tag of the response the transaction sent.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod transaction_common;
use transaction_common::*;

use sip_core::message::{Message, Method, Request};
use sip_core::transaction::{
    Action, PassUp, ServerInviteState, TransactionLayer, TransactionState, TxId,
    build_ack_for_non_2xx, build_cancel,
};
use std::time::Instant;

fn old_invite() -> Request {
    // A branch without the magic cookie, as an RFC 2543 client would send.
    request(Method::Invite, Some("1a2b3c"), 42)
}

fn passed_up(acts: &[Action]) -> Vec<PassUp> {
    acts.iter()
        .filter_map(|a| match a {
            Action::PassUp(p) => Some(p.clone()),
            _ => None,
        })
        .collect()
}

fn start(l: &mut TransactionLayer, req: &Request, now: Instant) -> TxId {
    l.handle_message(Message::Request(req.clone()), udp(1), now);
    match passed_up(&drain(l)).first() {
        Some(PassUp::Request { tx, .. }) => *tx,
        other => panic!("expected a new request, got {other:?}"),
    }
}

#[test]
fn retransmission_matches_by_the_2543_fields() {
    let t0 = Instant::now();
    let mut l = layer();
    let inv = old_invite();
    start(&mut l, &inv, t0);
    l.handle_message(Message::Request(inv.clone()), udp(1), t0 + ms(500));
    let acts = drain(&mut l);
    assert!(
        passed_up(&acts).is_empty(),
        "a retransmission is not a new request"
    );
    assert_eq!(sent_statuses(&acts), [100]);
    // No branch at all is matched the same way.
    let no_branch = request(Method::Invite, None, 43);
    start(&mut l, &no_branch, t0);
    l.handle_message(Message::Request(no_branch), udp(1), t0 + ms(500));
    assert!(passed_up(&drain(&mut l)).is_empty());
}

#[test]
fn any_differing_field_is_a_new_transaction() {
    let t0 = Instant::now();
    let mut l = layer();
    let inv = old_invite();
    let first = start(&mut l, &inv, t0);
    let mut other_uri = inv.clone();
    other_uri.uri = sip_uri("carol", "chicago.example.com");
    assert_ne!(start(&mut l, &other_uri, t0), first);
    let mut other_cseq = inv.clone();
    other_cseq
        .headers
        .set(sip_core::message::Header::CSeq(sip_core::message::CSeq {
            seq: 43,
            method: Method::Invite,
        }));
    start(&mut l, &other_cseq, t0);
    let mut other_via = inv.clone();
    if let Some(v) = other_via.headers.top_via_mut() {
        v.port = Some(5070);
    }
    start(&mut l, &other_via, t0);
    assert_eq!(l.len(), 4);
}

#[test]
fn ack_matches_by_the_response_to_tag() {
    let t0 = Instant::now();
    let mut l = layer();
    let inv = old_invite();
    let tx = start(&mut l, &inv, t0);
    let busy = response(&inv, 486, Some("srv-tag"));
    l.send_response(tx, busy.clone(), t0).unwrap();
    drain(&mut l);
    // An ACK with some other To tag does not match: it goes up as a stray ACK.
    let wrong = build_ack_for_non_2xx(&inv, &response(&inv, 486, Some("other")));
    l.handle_message(Message::Request(wrong), udp(1), t0 + ms(10));
    assert!(matches!(
        passed_up(&drain(&mut l)).as_slice(),
        [PassUp::Ack { tx: None, .. }]
    ));
    assert!(matches!(
        l.state(tx),
        Some(TransactionState::ServerInvite(
            ServerInviteState::Completed { .. }
        ))
    ));
    let right = build_ack_for_non_2xx(&inv, &busy);
    l.handle_message(Message::Request(right), udp(1), t0 + ms(20));
    assert!(drain(&mut l).is_empty());
    assert!(matches!(
        l.state(tx),
        Some(TransactionState::ServerInvite(
            ServerInviteState::Confirmed { .. }
        ))
    ));
}

#[test]
fn ack_to_2xx_in_accepted_goes_to_the_tu_with_its_transaction() {
    let t0 = Instant::now();
    let mut l = layer();
    let inv = old_invite();
    let tx = start(&mut l, &inv, t0);
    let ok = response(&inv, 200, Some("srv-tag"));
    l.send_response(tx, ok.clone(), t0).unwrap();
    drain(&mut l);
    l.handle_message(
        Message::Request(build_ack_for_non_2xx(&inv, &ok)),
        udp(1),
        t0 + ms(5),
    );
    assert!(matches!(
        passed_up(&drain(&mut l)).as_slice(),
        [PassUp::Ack { tx: Some(t), .. }] if *t == tx
    ));
}

#[test]
fn cancel_matches_its_2543_invite() {
    let t0 = Instant::now();
    let mut l = layer();
    let inv = old_invite();
    let tx = start(&mut l, &inv, t0);
    l.handle_message(Message::Request(build_cancel(&inv)), udp(1), t0 + ms(5));
    assert!(matches!(
        passed_up(&drain(&mut l)).as_slice(),
        [PassUp::Request { cancels: Some(t), request, .. }] if *t == tx && request.method == Method::Cancel
    ));
}

#[test]
fn rfc3261_ack_for_2xx_never_matches_the_invite() {
    // §17.2.3 / §13.2.2.4: the 2xx ACK has a new branch, so it is its own transaction.
    let t0 = Instant::now();
    let mut l = layer();
    let inv = invite("z9hG4bKnew1");
    let tx = start(&mut l, &inv, t0);
    let ok = response(&inv, 200, Some("s"));
    l.send_response(tx, ok.clone(), t0).unwrap();
    drain(&mut l);
    let mut ack = build_ack_for_non_2xx(&inv, &ok);
    if let Some(v) = ack.headers.top_via_mut() {
        v.params.set("branch", Some("z9hG4bKack2xx".into()));
    }
    l.handle_message(Message::Request(ack), udp(1), t0 + ms(5));
    assert!(matches!(
        passed_up(&drain(&mut l)).as_slice(),
        [PassUp::Ack { tx: None, .. }]
    ));
}
