//! Server transaction timers on a fake clock: G, H, I, J and L (RFC 3261 §17.2.1,
//! §17.2.2, RFC 6026 §8.7).

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod transaction_common;
use transaction_common::*;

use sip_core::message::{Message, Method, Request};
use sip_core::transaction::{
    Action, PassUp, ServerInviteState, Timer, TransactionError, TransactionLayer, TransactionState,
    TxId,
};
use std::time::{Duration, Instant};

/// Feeds `req` to a fresh server layer and returns its transaction.
fn receive(
    l: &mut TransactionLayer,
    req: &Request,
    from: sip_core::transaction::Peer,
    now: Instant,
) -> TxId {
    l.handle_message(Message::Request(req.clone()), from, now);
    let acts = drain(l);
    acts.iter()
        .find_map(|a| match a {
            Action::PassUp(PassUp::Request { tx, .. }) => Some(*tx),
            _ => None,
        })
        .expect("request passed up")
}

fn ack_for(req: &Request, tag: &str) -> Request {
    let resp = response(req, 486, Some(tag));
    sip_core::transaction::build_ack_for_non_2xx(req, &resp)
}

#[test]
fn invite_gets_100_trying_and_retransmission_resends_last_provisional() {
    let mut l = layer();
    let t0 = Instant::now();
    let inv = invite("z9hG4bKs1");
    l.handle_message(Message::Request(inv.clone()), udp(1), t0);
    let acts = drain(&mut l);
    assert_eq!(sent_statuses(&acts), [100]);
    let tx = acts
        .iter()
        .find_map(|a| match a {
            Action::PassUp(PassUp::Request { tx, .. }) => Some(*tx),
            _ => None,
        })
        .unwrap();
    l.send_response(tx, response(&inv, 180, Some("s")), t0 + ms(50))
        .unwrap();
    assert_eq!(sent_statuses(&drain(&mut l)), [180]);
    // §17.2.1: a retransmitted INVITE gets the last provisional, and is not passed up.
    l.handle_message(Message::Request(inv), udp(1), t0 + ms(500));
    let acts = drain(&mut l);
    assert_eq!(sent_statuses(&acts), [180]);
    assert!(!acts.iter().any(|a| matches!(a, Action::PassUp(_))));
}

#[test]
fn timer_g_capped_at_t2_and_timer_h_reports() {
    let mut l = layer();
    let t0 = Instant::now();
    let inv = invite("z9hG4bKs2");
    let tx = receive(&mut l, &inv, udp(1), t0);
    l.send_response(tx, response(&inv, 486, Some("s")), t0)
        .unwrap();
    assert_eq!(sent_statuses(&drain(&mut l)), [486]);
    let log = run_timers(&mut l, t0, t0 + Duration::from_secs(60));
    // G: T1, 2T1, 4T1, then T2 (4 s) until H at 64*T1.
    assert_eq!(
        send_times(&log),
        [
            500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500
        ]
    );
    assert!(log.iter().any(|(t, a)| t.as_millis() == 32000
        && matches!(a, Action::Timeout { tx: x, timer: Timer::H } if *x == tx)));
    assert!(l.is_empty());
}

#[test]
fn ack_moves_to_confirmed_and_timer_i_absorbs_acks() {
    let mut l = layer();
    let t0 = Instant::now();
    let inv = invite("z9hG4bKs3");
    let tx = receive(&mut l, &inv, udp(1), t0);
    l.send_response(tx, response(&inv, 486, Some("s")), t0)
        .unwrap();
    drain(&mut l);
    // A retransmitted INVITE gets the final again.
    l.handle_message(Message::Request(inv.clone()), udp(1), t0 + ms(100));
    assert_eq!(sent_statuses(&drain(&mut l)), [486]);
    let ack = ack_for(&inv, "s");
    l.handle_message(Message::Request(ack.clone()), udp(1), t0 + ms(700));
    // The ACK is absorbed by the transaction, not passed up (§17.2.1).
    assert!(drain(&mut l).is_empty());
    assert!(matches!(
        l.state(tx),
        Some(TransactionState::ServerInvite(
            ServerInviteState::Confirmed { .. }
        ))
    ));
    l.handle_message(Message::Request(ack), udp(1), t0 + ms(900));
    assert!(drain(&mut l).is_empty());
    // G stopped: Timer I (T4 = 5 s) is the only timer left.
    let log = run_timers(&mut l, t0, t0 + Duration::from_secs(60));
    assert!(send_times(&log).is_empty());
    assert!(log.iter().any(
        |(t, a)| t.as_millis() == 5700 && matches!(a, Action::Terminated { tx: x } if *x == tx)
    ));
}

#[test]
fn tcp_final_is_not_retransmitted_and_timer_i_is_zero() {
    let mut l = layer();
    let t0 = Instant::now();
    let inv = invite("z9hG4bKs4");
    let tx = receive(&mut l, &inv, tcp(1), t0);
    l.send_response(tx, response(&inv, 603, Some("s")), t0)
        .unwrap();
    drain(&mut l);
    // Only Timer H runs over TCP.
    assert_eq!(l.poll_timeout(), Some(t0 + 64 * T1));
    l.handle_message(Message::Request(ack_for(&inv, "s")), tcp(1), t0 + ms(30));
    assert!(terminated(&drain(&mut l), tx));
    assert!(l.is_empty());
}

#[test]
fn timer_l_keeps_accepted_absorbing_invites_and_sending_tu_2xx() {
    let mut l = layer();
    let t0 = Instant::now();
    let inv = invite("z9hG4bKs5");
    let tx = receive(&mut l, &inv, udp(1), t0);
    let ok = response(&inv, 200, Some("s"));
    l.send_response(tx, ok.clone(), t0 + ms(100)).unwrap();
    assert_eq!(sent_statuses(&drain(&mut l)), [200]);
    assert!(matches!(
        l.state(tx),
        Some(TransactionState::ServerInvite(
            ServerInviteState::Accepted { .. }
        ))
    ));
    // The transaction itself never retransmits a 2xx...
    assert_eq!(l.poll_timeout(), Some(t0 + ms(100) + 64 * T1));
    // ...an INVITE retransmission is absorbed, not a new request (RFC 6026 §8.7)...
    l.handle_message(Message::Request(inv.clone()), udp(1), t0 + ms(600));
    assert!(drain(&mut l).is_empty());
    // ...and the TU's own 2xx retransmissions (§13.3.1.4) go out.
    l.send_response(tx, ok.clone(), t0 + ms(600)).unwrap();
    assert_eq!(sent_statuses(&drain(&mut l)), [200]);
    // Non-2xx after a 2xx is refused.
    assert_eq!(
        l.send_response(tx, response(&inv, 500, Some("s")), t0 + ms(700)),
        Err(TransactionError::FinalAlreadySent(tx))
    );
    l.handle_timeout(t0 + ms(100) + 64 * T1);
    assert!(terminated(&drain(&mut l), tx));
    // After Timer L the same INVITE is a new request.
    l.handle_message(Message::Request(inv), udp(1), t0 + ms(40_000));
    assert!(
        drain(&mut l)
            .iter()
            .any(|a| matches!(a, Action::PassUp(PassUp::Request { .. })))
    );
}

#[test]
fn timer_j_answers_retransmissions_over_udp() {
    let mut l = layer();
    let t0 = Instant::now();
    let req = request(Method::Options, Some("z9hG4bKs6"), 7);
    let tx = receive(&mut l, &req, udp(1), t0);
    // No 100 Trying for non-INVITE; a retransmission in Trying is absorbed silently.
    l.handle_message(Message::Request(req.clone()), udp(1), t0 + ms(500));
    assert!(drain(&mut l).is_empty());
    l.send_response(tx, response(&req, 200, Some("s")), t0 + ms(600))
        .unwrap();
    assert_eq!(sent_statuses(&drain(&mut l)), [200]);
    l.handle_message(Message::Request(req.clone()), udp(1), t0 + ms(1500));
    let acts = drain(&mut l);
    assert_eq!(sent_statuses(&acts), [200]);
    assert!(!acts.iter().any(|a| matches!(a, Action::PassUp(_))));
    assert_eq!(l.poll_timeout(), Some(t0 + ms(600) + 64 * T1));
    l.handle_timeout(t0 + ms(600) + 64 * T1);
    assert!(terminated(&drain(&mut l), tx));
}

#[test]
fn timer_j_is_zero_over_tcp() {
    let mut l = layer();
    let t0 = Instant::now();
    let req = request(Method::Options, Some("z9hG4bKs7"), 7);
    let tx = receive(&mut l, &req, tcp(1), t0);
    l.send_response(tx, response(&req, 200, Some("s")), t0)
        .unwrap();
    let acts = drain(&mut l);
    assert_eq!(sent_statuses(&acts), [200]);
    assert!(terminated(&acts, tx));
}

#[test]
fn non_invite_provisional_is_resent_on_retransmission() {
    let mut l = layer();
    let t0 = Instant::now();
    let req = request(Method::Register, Some("z9hG4bKs8"), 7);
    let tx = receive(&mut l, &req, udp(1), t0);
    l.send_response(tx, response(&req, 100, None), t0).unwrap();
    drain(&mut l);
    l.handle_message(Message::Request(req), udp(1), t0 + ms(500));
    assert_eq!(sent_statuses(&drain(&mut l)), [100]);
}
