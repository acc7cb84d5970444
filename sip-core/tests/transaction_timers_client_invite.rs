//! INVITE client transaction timers on a fake clock: A, B, C, D and M (RFC 3261
//! §17.1.1.2, RFC 6026 §8.4).

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod transaction_common;
use transaction_common::*;

use sip_core::message::{Message, Method};
use sip_core::transaction::{
    Action, ClientInviteState, LayerConfig, Timer, TimerConfig, TransactionLayer, TransactionState,
};
use std::time::{Duration, Instant};

#[test]
fn timer_a_doubles_over_udp_until_timer_b() {
    let mut l = layer();
    let t0 = Instant::now();
    let tx = l.send_request(invite("z9hG4bKa1"), udp(2), t0).unwrap();
    assert_eq!(sent_methods(&drain(&mut l)), [Method::Invite]);
    let log = run_timers(&mut l, t0, t0 + Duration::from_secs(60));
    // §17.1.1.2: A starts at T1 and doubles (no T2 cap for INVITE); B = 64*T1 = 32 s.
    assert_eq!(send_times(&log), [500, 1500, 3500, 7500, 15500, 31500]);
    let timeouts: Vec<_> = log
        .iter()
        .filter_map(|(t, a)| match a {
            Action::Timeout { tx: x, timer } if *x == tx => Some((t.as_millis(), *timer)),
            _ => None,
        })
        .collect();
    assert_eq!(timeouts, [(32000, Timer::B)]);
    assert!(
        log.iter()
            .any(|(_, a)| matches!(a, Action::Terminated { tx: x } if *x == tx))
    );
    assert!(l.is_empty());
    assert_eq!(l.poll_timeout(), None);
}

#[test]
fn no_retransmission_over_tcp_but_timer_b_still_runs() {
    let mut l = layer();
    let t0 = Instant::now();
    let tx = l.send_request(invite("z9hG4bKa2"), tcp(2), t0).unwrap();
    drain(&mut l);
    assert_eq!(l.poll_timeout(), Some(t0 + 64 * T1));
    let log = run_timers(&mut l, t0, t0 + Duration::from_secs(60));
    assert!(send_times(&log).is_empty());
    assert!(log.iter().any(|(t, a)| t.as_millis() == 32000
        && matches!(a, Action::Timeout { tx: x, timer: Timer::B } if *x == tx)));
}

#[test]
fn provisional_stops_timer_a_and_b() {
    let mut l = layer();
    let t0 = Instant::now();
    let inv = invite("z9hG4bKa3");
    let tx = l.send_request(inv.clone(), udp(2), t0).unwrap();
    drain(&mut l);
    l.handle_message(
        Message::Response(response(&inv, 180, Some("t"))),
        udp(2),
        t0 + ms(100),
    );
    assert_eq!(passed_up_statuses(&drain(&mut l)), [180]);
    assert!(matches!(
        l.state(tx),
        Some(TransactionState::ClientInvite(
            ClientInviteState::Proceeding { .. }
        ))
    ));
    // Proceeding has no timer of its own (Timer C is off by default).
    assert_eq!(l.poll_timeout(), None);
}

#[test]
fn timer_d_absorbs_final_retransmissions_over_udp() {
    let mut l = layer();
    let t0 = Instant::now();
    let inv = invite("z9hG4bKa4");
    let tx = l.send_request(inv.clone(), udp(2), t0).unwrap();
    drain(&mut l);
    let busy = response(&inv, 486, Some("t"));
    l.handle_message(Message::Response(busy.clone()), udp(2), t0 + ms(200));
    let acts = drain(&mut l);
    assert_eq!(sent_methods(&acts), [Method::Ack]);
    assert_eq!(passed_up_statuses(&acts), [486]);
    // A retransmitted 486 is ACKed again and not passed up (§17.1.1.2).
    l.handle_message(Message::Response(busy), udp(2), t0 + ms(5000));
    let acts = drain(&mut l);
    assert_eq!(sent_methods(&acts), [Method::Ack]);
    assert!(passed_up_statuses(&acts).is_empty());
    // Timer D: 32 s after the first final.
    assert_eq!(
        l.poll_timeout(),
        Some(t0 + ms(200) + Duration::from_secs(32))
    );
    l.handle_timeout(t0 + ms(200) + Duration::from_secs(32) - ms(1));
    assert!(l.state(tx).is_some());
    l.handle_timeout(t0 + ms(200) + Duration::from_secs(32));
    assert!(terminated(&drain(&mut l), tx));
    assert!(l.is_empty());
}

#[test]
fn timer_d_is_zero_over_tcp() {
    let mut l = layer();
    let t0 = Instant::now();
    let inv = invite("z9hG4bKa5");
    let tx = l.send_request(inv.clone(), tcp(2), t0).unwrap();
    drain(&mut l);
    l.handle_message(
        Message::Response(response(&inv, 404, Some("t"))),
        tcp(2),
        t0 + ms(10),
    );
    let acts = drain(&mut l);
    assert_eq!(sent_methods(&acts), [Method::Ack]);
    assert!(terminated(&acts, tx));
    assert!(l.is_empty());
}

#[test]
fn timer_m_passes_2xx_retransmissions_up_in_accepted() {
    let mut l = layer();
    let t0 = Instant::now();
    let inv = invite("z9hG4bKa6");
    let tx = l.send_request(inv.clone(), udp(2), t0).unwrap();
    drain(&mut l);
    let ok = response(&inv, 200, Some("t"));
    l.handle_message(Message::Response(ok.clone()), udp(2), t0 + ms(300));
    let acts = drain(&mut l);
    // The transaction never ACKs a 2xx: that is the TU's (§13.2.2.4).
    assert!(sent(&acts).is_empty());
    assert_eq!(passed_up_statuses(&acts), [200]);
    assert!(matches!(
        l.state(tx),
        Some(TransactionState::ClientInvite(
            ClientInviteState::Accepted { .. }
        ))
    ));
    // RFC 6026 §8.4: every retransmitted 2xx (and a forked one) goes up again.
    l.handle_message(Message::Response(ok.clone()), udp(2), t0 + ms(800));
    let mut forked = ok.clone();
    if let Some(to) = forked.headers.to_mut() {
        to.set_tag("other-fork");
    }
    l.handle_message(Message::Response(forked), udp(2), t0 + ms(900));
    assert_eq!(passed_up_statuses(&drain(&mut l)), [200, 200]);
    // A late non-2xx is dropped.
    l.handle_message(
        Message::Response(response(&inv, 500, Some("t"))),
        udp(2),
        t0 + ms(950),
    );
    assert!(passed_up_statuses(&drain(&mut l)).is_empty());
    // Timer M = 64*T1 after the first 2xx.
    let m = t0 + ms(300) + 64 * T1;
    assert_eq!(l.poll_timeout(), Some(m));
    l.handle_timeout(m);
    assert!(terminated(&drain(&mut l), tx));
    // After Timer M a 2xx matches nothing.
    l.handle_message(Message::Response(ok), udp(2), m + ms(1));
    assert!(drain(&mut l).is_empty());
}

#[test]
fn timer_c_reports_and_is_reset_by_provisionals() {
    let c = Duration::from_secs(181);
    let mut l = TransactionLayer::new(LayerConfig {
        timers: TimerConfig {
            timer_c: Some(c),
            ..TimerConfig::default()
        },
        ..LayerConfig::default()
    });
    let t0 = Instant::now();
    let inv = invite("z9hG4bKa7");
    let tx = l.send_request(inv.clone(), tcp(2), t0).unwrap();
    drain(&mut l);
    l.handle_message(
        Message::Response(response(&inv, 180, Some("t"))),
        tcp(2),
        t0 + ms(1000),
    );
    drain(&mut l);
    l.handle_message(
        Message::Response(response(&inv, 183, Some("t"))),
        tcp(2),
        t0 + ms(60_000),
    );
    drain(&mut l);
    // §16.6 step 11: reset by each provisional, so it fires at 60 s + 181 s.
    assert_eq!(l.poll_timeout(), Some(t0 + ms(60_000) + c));
    l.handle_timeout(t0 + ms(60_000) + c);
    let acts = drain(&mut l);
    assert!(acts.contains(&Action::Timeout {
        tx,
        timer: Timer::C
    }));
    // The transaction keeps waiting for the CANCEL's 487.
    assert!(l.state(tx).is_some());
}
