//! Two transaction layers over a virtual link that loses and delays messages, on a fake
//! clock (quinn's `Pair`, PJSIP's loop transport with injected loss): retransmission
//! timers must carry requests through.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod transaction_common;
use transaction_common::*;

use sip_core::message::Method;
use sip_core::transaction::{Action, PassUp, Timer, TransportKind};
use std::time::Duration;

fn final_statuses(events: &[Action]) -> Vec<u16> {
    events
        .iter()
        .filter_map(|a| match a {
            Action::PassUp(PassUp::Response { response, .. }) if response.status.is_final() => {
                Some(response.status.0)
            }
            _ => None,
        })
        .collect()
}

#[test]
fn options_succeeds_despite_30_percent_loss() {
    let mut successes = 0;
    let mut dropped = 0;
    for seed in 0..50 {
        let mut p = Pair::new(seed, 0.3, ms(40), TransportKind::Udp);
        let now = p.now;
        let tx =
            p.a.send_request(request(Method::Options, None, 1), p.b_peer, now)
                .unwrap();
        p.drive(Duration::from_secs(60));
        dropped += p.dropped;
        let finals = final_statuses(&p.a_events);
        let timed_out = p
            .a_events
            .iter()
            .any(|a| matches!(a, Action::Timeout { .. }));
        // Exactly one of: the 200 arrives once, or Timer F fires.
        assert!(
            finals == [200] || (finals.is_empty() && timed_out),
            "seed {seed}: {finals:?}"
        );
        if finals == [200] {
            successes += 1;
        }
        assert!(
            p.a_events
                .iter()
                .any(|a| matches!(a, Action::Terminated { tx: t } if *t == tx))
        );
        // The server TU saw the request exactly once, however often it was retransmitted.
        let reqs = p
            .b_events
            .iter()
            .filter(|a| matches!(a, Action::PassUp(PassUp::Request { .. })))
            .count();
        assert_eq!(reqs, 1, "seed {seed}");
        assert!(
            p.a.is_empty() && p.b.is_empty(),
            "seed {seed}: all transactions end"
        );
    }
    assert!(dropped > 50, "the link really lost packets ({dropped})");
    // With 11 tries in 32 s and 30 % loss each way, failure is ~(1-0.49)^11 ≈ 0.06 %.
    assert_eq!(successes, 50);
}

#[test]
fn invite_rejected_over_lossy_link_is_acked_and_both_sides_finish() {
    for seed in 0..50 {
        let mut p = Pair::new(seed, 0.25, ms(60), TransportKind::Udp);
        p.answer = 486;
        p.answer_delay = ms(300);
        let now = p.now;
        p.a.send_request(invite(&format!("z9hG4bKloss{seed}")), p.b_peer, now)
            .unwrap();
        p.drive(Duration::from_secs(120));
        assert_eq!(final_statuses(&p.a_events), [486], "seed {seed}");
        // The server side either saw an ACK (Confirmed → Timer I) or gave up on H. With
        // 25 % loss over 11 G retransmissions, H should essentially never fire.
        let h = p.b_events.iter().any(|a| {
            matches!(
                a,
                Action::Timeout {
                    timer: Timer::H,
                    ..
                }
            )
        });
        assert!(!h, "seed {seed}: ACK never got through");
        assert!(p.a.is_empty() && p.b.is_empty(), "seed {seed}");
    }
}

#[test]
fn invite_answered_200_is_passed_up_once_per_2xx_and_no_ack_from_transaction() {
    let mut p = Pair::new(7, 0.0, ms(20), TransportKind::Udp);
    let now = p.now;
    p.a.send_request(invite("z9hG4bKok"), p.b_peer, now)
        .unwrap();
    p.drive(Duration::from_secs(60));
    assert_eq!(final_statuses(&p.a_events), [200]);
    // Timer M and Timer L end both sides; nothing is left.
    assert!(p.a.is_empty() && p.b.is_empty());
}

#[test]
fn total_loss_times_out_with_timer_f() {
    let mut p = Pair::new(1, 1.0, ms(20), TransportKind::Udp);
    let now = p.now;
    let tx =
        p.a.send_request(request(Method::Register, None, 1), p.b_peer, now)
            .unwrap();
    p.drive(Duration::from_secs(60));
    assert!(p.a_events.contains(&Action::Timeout {
        tx,
        timer: Timer::F
    }));
    assert_eq!(
        p.dropped, 11,
        "initial send plus 10 Timer E retransmissions"
    );
}
