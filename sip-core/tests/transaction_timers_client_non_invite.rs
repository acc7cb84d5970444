//! Non-INVITE client transaction timers on a fake clock: E, F and K (RFC 3261 §17.1.2.2).

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod transaction_common;
use transaction_common::*;

use sip_core::message::{Message, Method};
use sip_core::transaction::{Action, ClientNonInviteState, Timer, TransactionState};
use std::time::{Duration, Instant};

#[test]
fn timer_e_doubles_to_t2_then_timer_f() {
    let mut l = layer();
    let t0 = Instant::now();
    let tx = l
        .send_request(request(Method::Options, Some("z9hG4bKe1"), 1), udp(2), t0)
        .unwrap();
    drain(&mut l);
    let log = run_timers(&mut l, t0, t0 + Duration::from_secs(60));
    // E: 500, +1000, +2000, then every T2 = 4 s, until F at 64*T1 = 32 s.
    assert_eq!(
        send_times(&log),
        [
            500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500
        ]
    );
    assert!(log.iter().any(|(t, a)| t.as_millis() == 32000
        && matches!(a, Action::Timeout { tx: x, timer: Timer::F } if *x == tx)));
    assert!(l.is_empty());
}

#[test]
fn timer_e_runs_at_t2_in_proceeding() {
    let mut l = layer();
    let t0 = Instant::now();
    let req = request(Method::Register, Some("z9hG4bKe2"), 1);
    l.send_request(req.clone(), udp(2), t0).unwrap();
    drain(&mut l);
    // First E at 500 ms, then a 100 Trying moves us to Proceeding.
    l.handle_timeout(t0 + ms(500));
    drain(&mut l);
    l.handle_message(
        Message::Response(response(&req, 100, None)),
        udp(2),
        t0 + ms(600),
    );
    assert_eq!(passed_up_statuses(&drain(&mut l)), [100]);
    // The armed E (1 s interval, at 1500) still fires, then the interval is T2.
    let log = run_timers(&mut l, t0, t0 + ms(14_000));
    assert_eq!(send_times(&log), [1500, 5500, 9500, 13500]);
}

#[test]
fn tcp_sends_once_and_timer_f_ends_it() {
    let mut l = layer();
    let t0 = Instant::now();
    let tx = l
        .send_request(request(Method::Options, Some("z9hG4bKe3"), 1), tcp(2), t0)
        .unwrap();
    assert_eq!(sent_methods(&drain(&mut l)), [Method::Options]);
    let log = run_timers(&mut l, t0, t0 + Duration::from_secs(60));
    assert!(send_times(&log).is_empty());
    assert!(log.iter().any(|(t, a)| t.as_millis() == 32000
        && matches!(a, Action::Timeout { tx: x, timer: Timer::F } if *x == tx)));
}

#[test]
fn timer_k_absorbs_response_retransmissions_over_udp() {
    let mut l = layer();
    let t0 = Instant::now();
    let req = request(Method::Options, Some("z9hG4bKe4"), 1);
    let tx = l.send_request(req.clone(), udp(2), t0).unwrap();
    drain(&mut l);
    let ok = response(&req, 200, Some("x"));
    l.handle_message(Message::Response(ok.clone()), udp(2), t0 + ms(100));
    assert_eq!(passed_up_statuses(&drain(&mut l)), [200]);
    assert!(matches!(
        l.state(tx),
        Some(TransactionState::ClientNonInvite(
            ClientNonInviteState::Completed { .. }
        ))
    ));
    l.handle_message(Message::Response(ok), udp(2), t0 + ms(2000));
    assert!(drain(&mut l).is_empty());
    // K = T4 = 5 s; no retransmission of the request meanwhile.
    assert_eq!(l.poll_timeout(), Some(t0 + ms(5100)));
    let log = run_timers(&mut l, t0, t0 + ms(10_000));
    assert!(send_times(&log).is_empty());
    assert!(log.iter().any(
        |(t, a)| t.as_millis() == 5100 && matches!(a, Action::Terminated { tx: x } if *x == tx)
    ));
}

#[test]
fn timer_k_is_zero_over_tcp() {
    let mut l = layer();
    let t0 = Instant::now();
    let req = request(Method::Options, Some("z9hG4bKe5"), 1);
    let tx = l.send_request(req.clone(), tcp(2), t0).unwrap();
    drain(&mut l);
    l.handle_message(
        Message::Response(response(&req, 200, Some("x"))),
        tcp(2),
        t0 + ms(100),
    );
    let acts = drain(&mut l);
    assert_eq!(passed_up_statuses(&acts), [200]);
    assert!(terminated(&acts, tx));
}
