//! CSeq rules in dialogs (RFC 3261 §12.2.1.1, §12.2.2).

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod transaction_common;
use transaction_common::*;

use sip_core::dialog::{Dialog, DialogError, DialogSet};
use sip_core::message::{CSeq, Header, Method, Request};

fn uas() -> (Request, Dialog) {
    let inv = invite("z9hG4bKq1");
    let d = Dialog::new_uas(&inv, &response(&inv, 200, Some("uas"))).unwrap();
    (inv, d)
}

/// A request from the UAC side inside the dialog with CSeq `seq`.
fn in_dialog(inv: &Request, method: Method, seq: u32) -> Request {
    let mut r = inv.clone();
    r.method = method.clone();
    if let Some(to) = r.headers.to_mut() {
        to.set_tag("uas");
    }
    r.headers.set(Header::CSeq(CSeq { seq, method }));
    r
}

#[test]
fn lower_remote_cseq_is_rejected_with_500() {
    let (inv, mut d) = uas();
    assert_eq!(d.remote_cseq(), Some(314159));
    let err = d
        .on_request_received(&in_dialog(&inv, Method::Info, 314158))
        .unwrap_err();
    assert_eq!(
        err,
        DialogError::CSeqOutOfOrder {
            received: 314158,
            remote: 314159
        }
    );
    assert_eq!(err.status(), Some(500));
    assert_eq!(
        d.remote_cseq(),
        Some(314159),
        "a rejected request changes nothing"
    );
    d.on_request_received(&in_dialog(&inv, Method::Info, 314170))
        .unwrap();
    assert_eq!(d.remote_cseq(), Some(314170));
    // Gaps are fine (§12.2.2 only forbids going down).
    d.on_request_received(&in_dialog(&inv, Method::Bye, 400000))
        .unwrap();
    assert_eq!(d.remote_cseq(), Some(400000));
}

#[test]
fn ack_and_cancel_are_not_cseq_checked() {
    let (inv, mut d) = uas();
    d.on_request_received(&in_dialog(&inv, Method::Info, 314170))
        .unwrap();
    // The 2xx ACK carries the INVITE's (older) number.
    d.on_request_received(&in_dialog(&inv, Method::Ack, 314159))
        .unwrap();
    assert_eq!(d.remote_cseq(), Some(314170));
}

#[test]
fn local_cseq_continues_from_the_invite_for_the_uac() {
    let inv = invite("z9hG4bKq2");
    let mut d = Dialog::new_uac(&inv, &response(&inv, 200, Some("b"))).unwrap();
    let seqs: Vec<u32> = [Method::Info, Method::Update, Method::Bye]
        .into_iter()
        .map(|m| {
            d.request(m, via("h", "UDP", None))
                .unwrap()
                .headers
                .cseq()
                .unwrap()
                .seq
        })
        .collect();
    assert_eq!(seqs, [314160, 314161, 314162]);
}

#[test]
fn uas_local_cseq_starts_when_it_first_sends() {
    let (_, mut d) = uas();
    assert_eq!(d.local_cseq(), None);
    let bye = d.request(Method::Bye, via("h", "UDP", None)).unwrap();
    assert_eq!(bye.headers.cseq().map(|c| c.seq), Some(1));
    assert_eq!(d.local_cseq(), Some(1));
}

#[test]
fn cseq_space_ends_below_2_pow_31() {
    let mut inv = invite("z9hG4bKq3");
    inv.headers.set(Header::CSeq(CSeq {
        seq: (1 << 31) - 1,
        method: Method::Invite,
    }));
    let mut d = Dialog::new_uac(&inv, &response(&inv, 200, Some("b"))).unwrap();
    assert_eq!(
        d.request(Method::Bye, via("h", "UDP", None)),
        Err(DialogError::CSeqExhausted)
    );
}

#[test]
fn dialog_set_routes_requests_and_answers_481_for_unknown_dialogs() {
    let (inv, d) = uas();
    let mut set = DialogSet::new();
    set.insert(d);
    let id = set
        .handle_request(&in_dialog(&inv, Method::Info, 314160))
        .unwrap();
    assert_eq!(id.local_tag, "uas");
    let mut stranger = in_dialog(&inv, Method::Info, 314161);
    if let Some(to) = stranger.headers.to_mut() {
        to.set_tag("nope");
    }
    let err = set.handle_request(&stranger).unwrap_err();
    assert_eq!(
        (err.clone(), err.status()),
        (DialogError::NoDialog, Some(481))
    );
    assert_eq!(
        set.handle_request(&in_dialog(&inv, Method::Info, 2))
            .unwrap_err()
            .status(),
        Some(500)
    );
}
