//! Race: a CANCEL crosses the 200 OK to its INVITE (RFC 3261 §9.1, §9.2, §15; RFC 6026).
//! The UAC ends up with a 200 for the INVITE (and must ACK and BYE) and a 200 for the
//! CANCEL; the UAS's INVITE transaction is already Accepted when the CANCEL arrives, so the
//! CANCEL is matched to it but no 487 can follow.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod transaction_common;
use transaction_common::*;

use sip_core::message::{Message, Method, Request};
use sip_core::transaction::{
    Action, ClientInviteState, PassUp, ServerInviteState, TransactionError, TransactionLayer,
    TransactionState, TxId,
};
use std::time::Instant;

/// Delivers every message `from` sent to `to`; returns the non-Send actions of `from`.
fn deliver(
    from: &mut TransactionLayer,
    to: &mut TransactionLayer,
    peer: sip_core::transaction::Peer,
    now: Instant,
) -> Vec<Action> {
    let mut rest = Vec::new();
    for a in drain(from) {
        match a.into_sent() {
            Ok(message) => to.handle_message(message, peer, now),
            Err(other) => rest.push(other),
        }
    }
    rest
}

fn new_request(acts: &[Action]) -> Option<(TxId, Request, Option<TxId>)> {
    acts.iter().find_map(|a| match a {
        Action::PassUp(PassUp::Request {
            tx,
            request,
            cancels,
            ..
        }) => Some((*tx, request.clone(), *cancels)),
        _ => None,
    })
}

#[test]
fn cancel_crossing_200_ok() {
    let t0 = Instant::now();
    let mut uac = layer();
    let mut uas = layer();
    let inv_tx = uac.send_request(invite("z9hG4bKc200"), udp(2), t0).unwrap();
    deliver(&mut uac, &mut uas, udp(1), t0);
    let (s_inv, inv, _) = new_request(&drain(&mut uas)).unwrap();
    // (The auto 100 Trying was drained above and lost; send a 180 that arrives.)
    uas.send_response(s_inv, response(&inv, 180, Some("b")), t0)
        .unwrap();
    deliver(&mut uas, &mut uac, udp(2), t0);
    assert_eq!(passed_up_statuses(&drain(&mut uac)), [180]);

    // The UAS answers 200 and, at the same moment, the UAC cancels: both in flight.
    uas.send_response(s_inv, response(&inv, 200, Some("b")), t0 + ms(10))
        .unwrap();
    let cancel_tx = uac
        .cancel(inv_tx, t0 + ms(10))
        .unwrap()
        .expect("CANCEL sent");
    let uac_out = drain(&mut uac);
    assert_eq!(sent_methods(&uac_out), [Method::Cancel]);
    let uas_out = drain(&mut uas);

    // The 200 reaches the UAC: INVITE transaction Accepted, 200 passed up.
    for a in uas_out {
        if let Ok(message) = a.into_sent() {
            uac.handle_message(message, udp(2), t0 + ms(20));
        }
    }
    let acts = drain(&mut uac);
    assert!(acts.contains(&Action::PassUp(PassUp::Response {
        tx: inv_tx,
        response: response(&inv, 200, Some("b")),
    })));
    assert!(matches!(
        uac.state(inv_tx),
        Some(TransactionState::ClientInvite(
            ClientInviteState::Accepted { .. }
        ))
    ));

    // The CANCEL reaches the UAS: its own transaction, matched to the Accepted INVITE.
    for a in uac_out {
        if let Ok(message) = a.into_sent() {
            uas.handle_message(message, udp(1), t0 + ms(20));
        }
    }
    let (s_cancel, cancel, cancels) = new_request(&drain(&mut uas)).unwrap();
    assert_eq!(cancel.method, Method::Cancel);
    assert_eq!(cancels, Some(s_inv));
    assert_ne!(s_cancel, s_inv);
    assert!(matches!(
        uas.state(s_inv),
        Some(TransactionState::ServerInvite(
            ServerInviteState::Accepted { .. }
        ))
    ));
    // §9.2: the CANCEL gets its 200, but the INVITE can no longer be answered 487.
    uas.send_response(s_cancel, response(&cancel, 200, Some("b")), t0 + ms(20))
        .unwrap();
    assert_eq!(
        uas.send_response(s_inv, response(&inv, 487, Some("b")), t0 + ms(20)),
        Err(TransactionError::FinalAlreadySent(s_inv))
    );
    deliver(&mut uas, &mut uac, udp(2), t0 + ms(30));
    let acts = drain(&mut uac);
    assert!(acts.iter().any(|a| matches!(a,
        Action::PassUp(PassUp::Response { tx, response }) if *tx == cancel_tx && response.status.0 == 200)));
    // The INVITE transaction is still Accepted (Timer M), so a 2xx retransmission is
    // still passed up for the TU to ACK.
    assert!(uac.state(inv_tx).is_some());
}

#[test]
fn cancel_after_200_received_is_too_late() {
    let t0 = Instant::now();
    let mut uac = layer();
    let inv = invite("z9hG4bKc2002");
    let tx = uac.send_request(inv.clone(), udp(2), t0).unwrap();
    drain(&mut uac);
    uac.handle_message(
        Message::Response(response(&inv, 200, Some("b"))),
        udp(2),
        t0 + ms(5),
    );
    drain(&mut uac);
    // §9.1: a CANCEL after a final response has no effect; none is sent.
    assert_eq!(uac.cancel(tx, t0 + ms(6)), Ok(None));
    assert!(sent(&drain(&mut uac)).is_empty());
}
