//! Matching rules (RFC 3261 §17.1.3, §17.2.3) and the layer's TU commands.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod transaction_common;
use transaction_common::*;

use sip_core::message::{Host, Message, Method};
use sip_core::transaction::{
    Action, ClientInviteState, PassUp, TransactionError, TransactionState,
};
use std::time::Instant;

fn new_requests(acts: &[Action]) -> usize {
    acts.iter()
        .filter(|a| matches!(a, Action::PassUp(PassUp::Request { .. })))
        .count()
}

#[test]
fn server_matches_branch_sent_by_and_method() {
    let t0 = Instant::now();
    let mut l = layer();
    let req = request(Method::Options, Some("z9hG4bKm1"), 1);
    l.handle_message(Message::Request(req.clone()), udp(1), t0);
    assert_eq!(new_requests(&drain(&mut l)), 1);
    // Same branch, same sent-by (host case differs): a retransmission.
    let mut upper = req.clone();
    if let Some(v) = upper.headers.top_via_mut() {
        v.host = Host::Domain("PC33.Atlanta.Example.COM".into());
    }
    l.handle_message(Message::Request(upper), udp(1), t0);
    assert_eq!(new_requests(&drain(&mut l)), 0);
    // Same branch from another sent-by: another client, another transaction.
    let mut other = req.clone();
    if let Some(v) = other.headers.top_via_mut() {
        v.host = Host::Domain("client.chicago.example.com".into());
    }
    l.handle_message(Message::Request(other), udp(3), t0);
    assert_eq!(new_requests(&drain(&mut l)), 1);
    assert_eq!(l.len(), 2);
}

#[test]
fn client_matches_branch_and_cseq_method() {
    let t0 = Instant::now();
    let mut l = layer();
    let inv = invite("z9hG4bKm2");
    let tx = l.send_request(inv.clone(), udp(2), t0).unwrap();
    drain(&mut l);
    // A response with the INVITE's branch but CSeq method CANCEL is not the INVITE's.
    let mut wrong = response(&inv, 200, Some("b"));
    wrong
        .headers
        .set(sip_core::message::Header::CSeq(sip_core::message::CSeq {
            seq: 314159,
            method: Method::Cancel,
        }));
    l.handle_message(Message::Response(wrong), udp(2), t0 + ms(1));
    assert!(drain(&mut l).is_empty());
    assert!(matches!(
        l.state(tx),
        Some(TransactionState::ClientInvite(
            ClientInviteState::Calling { .. }
        ))
    ));
    // Another branch: stray, dropped.
    let stray = response(&invite("z9hG4bKother"), 180, Some("b"));
    l.handle_message(Message::Response(stray), udp(2), t0 + ms(1));
    assert!(drain(&mut l).is_empty());
}

#[test]
fn send_request_fills_in_a_branch_and_refuses_reuse_and_ack() {
    let t0 = Instant::now();
    let mut l = layer();
    let tx = l
        .send_request(request(Method::Options, None, 1), udp(2), t0)
        .unwrap();
    let acts = drain(&mut l);
    let branch = match sent(&acts).first() {
        Some(Message::Request(r)) => r
            .headers
            .top_via()
            .and_then(|v| v.branch())
            .map(String::from),
        _ => None,
    }
    .expect("branch");
    assert!(branch.starts_with("z9hG4bK") && branch.len() > 7);
    assert_eq!(
        l.request(tx)
            .and_then(|r| r.headers.top_via())
            .and_then(|v| v.branch()),
        Some(branch.as_str())
    );
    let reuse = request(Method::Options, Some(&branch), 2);
    assert!(matches!(
        l.send_request(reuse, udp(2), t0),
        Err(TransactionError::DuplicateBranch(_))
    ));
    assert_eq!(
        l.send_request(request(Method::Ack, Some("z9hG4bKx"), 1), udp(2), t0),
        Err(TransactionError::AckNeedsNoTransaction)
    );
    let mut no_via = request(Method::Options, None, 1);
    no_via.headers.remove(&sip_core::message::HeaderName::Via);
    assert!(matches!(
        l.send_request(no_via, udp(2), t0),
        Err(TransactionError::MissingHeader(_))
    ));
}

#[test]
fn branches_are_deterministic_per_seed() {
    let t0 = Instant::now();
    let run = || {
        let mut l = layer();
        l.send_request(request(Method::Options, None, 1), udp(2), t0)
            .unwrap();
        match sent(&drain(&mut l)).first() {
            Some(Message::Request(r)) => r.headers.top_via().cloned(),
            _ => None,
        }
    };
    assert_eq!(run(), run());
}

#[test]
fn responses_only_on_server_transactions() {
    let t0 = Instant::now();
    let mut l = layer();
    let inv = invite("z9hG4bKm3");
    let tx = l.send_request(inv.clone(), udp(2), t0).unwrap();
    assert_eq!(
        l.send_response(tx, response(&inv, 200, None), t0),
        Err(TransactionError::WrongKind(tx))
    );
    assert_eq!(
        l.send_response(
            sip_core::transaction::TxId(999),
            response(&inv, 200, None),
            t0
        ),
        Err(TransactionError::NoSuchTransaction(
            sip_core::transaction::TxId(999)
        ))
    );
}

#[test]
fn transport_error_reaches_the_tu_and_ends_the_transaction() {
    let t0 = Instant::now();
    let mut l = layer();
    let tx = l.send_request(invite("z9hG4bKm4"), tcp(2), t0).unwrap();
    drain(&mut l);
    l.handle_transport_error(tx, t0 + ms(3));
    let acts = drain(&mut l);
    assert_eq!(
        acts,
        [Action::TransportError { tx }, Action::Terminated { tx }]
    );
    assert!(l.is_empty());
    assert_eq!(l.poll_timeout(), None);
}

#[test]
fn poll_timeout_is_the_minimum_over_all_transactions() {
    let t0 = Instant::now();
    let mut l = layer();
    l.send_request(request(Method::Options, Some("z9hG4bKm5"), 1), tcp(2), t0)
        .unwrap();
    assert_eq!(l.poll_timeout(), Some(t0 + 64 * T1));
    l.send_request(invite("z9hG4bKm6"), udp(2), t0 + ms(100))
        .unwrap();
    assert_eq!(l.poll_timeout(), Some(t0 + ms(100) + T1));
    // Once the UDP INVITE is answered, the TCP OPTIONS' Timer F is next again.
    let inv = l
        .request(sip_core::transaction::TxId(2))
        .cloned()
        .expect("invite");
    l.handle_message(
        Message::Response(response(&inv, 180, Some("b"))),
        udp(2),
        t0 + ms(200),
    );
    assert_eq!(l.poll_timeout(), Some(t0 + 64 * T1));
}

#[test]
fn stateless_send_has_no_transaction() {
    let mut l = layer();
    let ack = request(Method::Ack, Some("z9hG4bKack"), 1);
    l.send_stateless(Message::Request(ack.clone()), udp(2));
    assert_eq!(
        drain(&mut l),
        [Action::Send {
            tx: None,
            message: Message::Request(ack),
            peer: udp(2)
        }]
    );
}
