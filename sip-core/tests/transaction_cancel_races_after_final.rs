//! Race: CANCEL arrives after the INVITE's final response (RFC 3261 §9.2). While the
//! INVITE transaction lives the CANCEL is still matched to it (the TU answers 200 and
//! does nothing else); once it is gone the TU answers 481.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod transaction_common;
use transaction_common::*;

use sip_core::message::{Message, Method};
use sip_core::transaction::{Action, PassUp, build_cancel};
use std::time::Instant;

fn cancels_of(acts: &[Action]) -> Option<Option<sip_core::transaction::TxId>> {
    acts.iter().find_map(|a| match a {
        Action::PassUp(PassUp::Request {
            request, cancels, ..
        }) if request.method == Method::Cancel => Some(*cancels),
        _ => None,
    })
}

#[test]
fn cancel_after_non_2xx_final_matches_completed_invite() {
    let t0 = Instant::now();
    let mut uas = layer();
    let inv = invite("z9hG4bKcf1");
    uas.handle_message(Message::Request(inv.clone()), udp(1), t0);
    let inv_tx = drain(&mut uas)
        .iter()
        .find_map(|a| match a {
            Action::PassUp(PassUp::Request { tx, .. }) => Some(*tx),
            _ => None,
        })
        .unwrap();
    uas.send_response(inv_tx, response(&inv, 486, Some("b")), t0)
        .unwrap();
    drain(&mut uas);
    uas.handle_message(Message::Request(build_cancel(&inv)), udp(1), t0 + ms(100));
    let acts = drain(&mut uas);
    assert_eq!(cancels_of(&acts), Some(Some(inv_tx)));
    // The CANCEL itself is not a retransmission of the INVITE: no 486 resent.
    assert!(sent_statuses(&acts).is_empty());
}

#[test]
fn cancel_after_invite_transaction_ended_matches_nothing() {
    let t0 = Instant::now();
    let mut uas = layer();
    let inv = invite("z9hG4bKcf2");
    // Over TCP a 486 + ACK ends the INVITE server transaction at once (Timer I = 0).
    uas.handle_message(Message::Request(inv.clone()), tcp(1), t0);
    let inv_tx = drain(&mut uas)
        .iter()
        .find_map(|a| match a {
            Action::PassUp(PassUp::Request { tx, .. }) => Some(*tx),
            _ => None,
        })
        .unwrap();
    let busy = response(&inv, 486, Some("b"));
    uas.send_response(inv_tx, busy.clone(), t0).unwrap();
    let ack = sip_core::transaction::build_ack_for_non_2xx(&inv, &busy);
    uas.handle_message(Message::Request(ack), tcp(1), t0 + ms(5));
    assert!(terminated(&drain(&mut uas), inv_tx));
    uas.handle_message(Message::Request(build_cancel(&inv)), tcp(1), t0 + ms(10));
    // §9.2: no matching INVITE transaction: the TU answers 481.
    assert_eq!(cancels_of(&drain(&mut uas)), Some(None));
}

#[test]
fn uac_cancel_after_final_is_a_no_op() {
    let t0 = Instant::now();
    let mut uac = layer();
    let inv = invite("z9hG4bKcf3");
    let tx = uac.send_request(inv.clone(), udp(2), t0).unwrap();
    drain(&mut uac);
    uac.handle_message(
        Message::Response(response(&inv, 603, Some("b"))),
        udp(2),
        t0 + ms(5),
    );
    drain(&mut uac);
    assert_eq!(uac.cancel(tx, t0 + ms(6)), Ok(None));
    assert!(drain(&mut uac).is_empty());
}
