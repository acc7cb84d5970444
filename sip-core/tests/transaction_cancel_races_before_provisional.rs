//! Race: the TU cancels before any provisional arrived (RFC 3261 §9.1: the CANCEL waits
//! for one), and the final beats the provisional. Also the §9.1 guard: a CANCELled
//! INVITE that never gets a final is given up after 64*T1.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod transaction_common;
use transaction_common::*;

use sip_core::message::{Message, Method};
use sip_core::transaction::{Action, Timer};
use std::time::Instant;

#[test]
fn cancel_waits_for_a_provisional() {
    let t0 = Instant::now();
    let mut uac = layer();
    let inv = invite("z9hG4bKcp1");
    let tx = uac.send_request(inv.clone(), udp(2), t0).unwrap();
    drain(&mut uac);
    let cancel_tx = uac.cancel(tx, t0 + ms(10)).unwrap().expect("reserved");
    assert!(
        sent(&drain(&mut uac)).is_empty(),
        "CANCEL must not precede a provisional"
    );
    // Asking again returns the same reserved transaction.
    assert_eq!(uac.cancel(tx, t0 + ms(11)), Ok(Some(cancel_tx)));
    uac.handle_message(
        Message::Response(response(&inv, 100, None)),
        udp(2),
        t0 + ms(50),
    );
    let acts = drain(&mut uac);
    assert_eq!(sent_methods(&acts), [Method::Cancel]);
    assert!(
        acts.iter()
            .any(|a| matches!(a, Action::Send { tx: Some(t), .. } if *t == cancel_tx))
    );
    // Cancelling again returns the running CANCEL instead of sending a second one.
    assert_eq!(uac.cancel(tx, t0 + ms(60)), Ok(Some(cancel_tx)));
    assert!(drain(&mut uac).is_empty());
    // The CANCEL shares the INVITE's branch (§9.1).
    let Some(Message::Request(cancel)) = sent(&acts).first().map(|m| (*m).clone()) else {
        panic!("no CANCEL");
    };
    assert_eq!(
        cancel.headers.top_via().and_then(|v| v.branch()),
        Some("z9hG4bKcp1")
    );
}

#[test]
fn final_before_provisional_drops_the_pending_cancel() {
    let t0 = Instant::now();
    let mut uac = layer();
    let inv = invite("z9hG4bKcp2");
    let tx = uac.send_request(inv.clone(), udp(2), t0).unwrap();
    drain(&mut uac);
    let cancel_tx = uac.cancel(tx, t0 + ms(10)).unwrap().expect("reserved");
    uac.handle_message(
        Message::Response(response(&inv, 486, Some("b"))),
        udp(2),
        t0 + ms(20),
    );
    let acts = drain(&mut uac);
    // Only the ACK goes out; the reserved CANCEL terminates unsent.
    assert_eq!(sent_methods(&acts), [Method::Ack]);
    assert!(terminated(&acts, cancel_tx));
}

#[test]
fn cancel_guard_gives_up_after_64_t1() {
    let t0 = Instant::now();
    let mut uac = layer();
    let inv = invite("z9hG4bKcp3");
    let tx = uac.send_request(inv.clone(), tcp(2), t0).unwrap();
    uac.handle_message(
        Message::Response(response(&inv, 180, Some("b"))),
        tcp(2),
        t0 + ms(5),
    );
    let cancel_tx = uac.cancel(tx, t0 + ms(100)).unwrap().expect("sent");
    uac.handle_message(
        Message::Response(response(
            &sip_core::transaction::build_cancel(&inv),
            200,
            Some("b"),
        )),
        tcp(2),
        t0 + ms(200),
    );
    drain(&mut uac);
    // No 487 ever comes. The CANCEL transaction ended (TCP, K = 0); the INVITE's guard
    // fires 64*T1 after the CANCEL.
    assert!(uac.state(cancel_tx).is_none());
    uac.handle_timeout(t0 + ms(100) + 64 * T1 - ms(1));
    assert!(drain(&mut uac).is_empty());
    uac.handle_timeout(t0 + ms(100) + 64 * T1);
    let acts = drain(&mut uac);
    assert!(acts.contains(&Action::Timeout {
        tx,
        timer: Timer::CancelGuard
    }));
    assert!(terminated(&acts, tx));
}
