//! In-dialog request construction (RFC 3261 §12.2.1.1), the 2xx ACK (§13.2.2.4), target
//! refresh (§12.2) and dialog termination.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod transaction_common;
use transaction_common::*;

use sip_core::dialog::{Dialog, DialogError, DialogSet, DialogState};
use sip_core::message::{CSeq, Contact, Header, Method, Request};
use sip_core::transaction::TransactionLayer;
use std::time::Instant;

fn confirmed_uac() -> (Request, Dialog) {
    let inv = invite("z9hG4bKd1");
    let mut ok = response(&inv, 200, Some("bob-tag"));
    ok.headers.push(Header::RecordRoute(vec![name_addr(
        host_uri("p.example.com", true),
        None,
    )]));
    let d = Dialog::new_uac(&inv, &ok).unwrap();
    (inv, d)
}

#[test]
fn every_in_dialog_method_is_built_per_12_2_1_1() {
    let (inv, mut d) = confirmed_uac();
    let methods = [
        Method::Invite,
        Method::Update,
        Method::Bye,
        Method::Refer,
        Method::Notify,
        Method::Info,
        Method::Options,
    ];
    for (expected_seq, m) in (314160..).zip(methods) {
        let r = d
            .request(m.clone(), via("pc33.atlanta.example.com", "UDP", None))
            .unwrap();
        assert_eq!(r.method, m);
        assert_eq!(r.headers.call_id(), inv.headers.call_id());
        assert_eq!(r.headers.from().and_then(|f| f.tag()), Some("1928301774"));
        assert_eq!(r.headers.to().and_then(|t| t.tag()), Some("bob-tag"));
        assert_eq!(
            r.headers.cseq(),
            Some(&CSeq {
                seq: expected_seq,
                method: m.clone()
            })
        );
        assert_eq!(r.headers.max_forwards(), Some(70));
        assert_eq!(r.headers.vias().count(), 1);
        assert_eq!(r.headers.routes().count(), 1);
        assert_eq!(r.uri, sip_uri("bob", "192.0.2.4"));
        // Contact only where the method refreshes the target (and REFER, RFC 3515).
        let wants_contact = matches!(
            m,
            Method::Invite | Method::Update | Method::Notify | Method::Refer
        );
        assert_eq!(r.headers.contacts().count() == 1, wants_contact, "{m}");
    }
}

#[test]
fn ack_for_2xx_reuses_the_invite_cseq() {
    let (_, mut d) = confirmed_uac();
    let ack = d.ack(via("h", "UDP", Some("z9hG4bKack"))).unwrap();
    assert_eq!(
        ack.headers.cseq(),
        Some(&CSeq {
            seq: 314159,
            method: Method::Ack
        })
    );
    assert_eq!(ack.headers.to().and_then(|t| t.tag()), Some("bob-tag"));
    assert_eq!(
        ack.headers.routes().count(),
        1,
        "ACK follows the route set too"
    );
    assert_eq!(ack.headers.contacts().count(), 0);
    // ACK does not consume a CSeq; a later re-INVITE's ACK uses the re-INVITE's number.
    let bye_seq = |d: &mut Dialog| {
        d.request(Method::Info, via("h", "UDP", None))
            .unwrap()
            .headers
            .cseq()
            .unwrap()
            .seq
    };
    assert_eq!(bye_seq(&mut d), 314160);
    let reinvite = d.request(Method::Invite, via("h", "UDP", None)).unwrap();
    assert_eq!(reinvite.headers.cseq().map(|c| c.seq), Some(314161));
    let ack2 = d
        .request(Method::Ack, via("h", "UDP", Some("z9hG4bKack2")))
        .unwrap();
    assert_eq!(ack2.headers.cseq().map(|c| c.seq), Some(314161));
}

#[test]
fn uas_without_invite_has_no_ack_to_build() {
    let inv = invite("z9hG4bKd2");
    let d = Dialog::new_uas(&inv, &response(&inv, 200, Some("u"))).unwrap();
    assert_eq!(d.ack(via("h", "UDP", None)), Err(DialogError::NoInvite));
}

#[test]
fn target_refresh_updates_the_remote_target() {
    let inv = invite("z9hG4bKd3");
    let mut d = Dialog::new_uas(&inv, &response(&inv, 200, Some("u"))).unwrap();
    let moved = |method: Method, seq: u32, host: &str| {
        let mut r = inv.clone();
        r.method = method.clone();
        r.headers.set(Header::CSeq(CSeq { seq, method }));
        if let Some(to) = r.headers.to_mut() {
            to.set_tag("u");
        }
        r.headers.set(Header::Contact(vec![Contact::Addr(name_addr(
            sip_uri("alice", host),
            None,
        ))]));
        r
    };
    // INFO is not a target refresh: its Contact is ignored.
    d.on_request_received(&moved(Method::Info, 314160, "info.example.com"))
        .unwrap();
    assert_eq!(
        d.remote_target(),
        &sip_uri("alice", "pc33.atlanta.example.com")
    );
    d.on_request_received(&moved(Method::Invite, 314161, "new.example.com"))
        .unwrap();
    assert_eq!(d.remote_target(), &sip_uri("alice", "new.example.com"));
    d.on_request_received(&moved(Method::Update, 314162, "upd.example.com"))
        .unwrap();
    assert_eq!(d.remote_target(), &sip_uri("alice", "upd.example.com"));
}

#[test]
fn a_2xx_to_our_update_refreshes_the_target() {
    let (_, mut d) = confirmed_uac();
    let upd = d.request(Method::Update, via("h", "UDP", None)).unwrap();
    let mut ok = response(&upd, 200, None);
    ok.headers.set(Header::Contact(vec![Contact::Addr(name_addr(
        sip_uri("bob", "moved.example.com"),
        None,
    ))]));
    d.on_response_received(&ok);
    assert_eq!(d.remote_target(), &sip_uri("bob", "moved.example.com"));
}

#[test]
fn dialog_ends_on_481_and_408_and_bye() {
    let (_, mut d) = confirmed_uac();
    let info = d.request(Method::Info, via("h", "UDP", None)).unwrap();
    d.on_response_received(&response(&info, 481, None));
    assert_eq!(d.state(), DialogState::Terminated);
    assert_eq!(
        d.request(Method::Bye, via("h", "UDP", None)),
        Err(DialogError::Terminated)
    );

    let (_, mut d) = confirmed_uac();
    let bye = d.request(Method::Bye, via("h", "UDP", None)).unwrap();
    d.on_response_received(&response(&bye, 200, None));
    assert_eq!(d.state(), DialogState::Terminated);

    // UAS side: a received BYE ends the dialog in the set.
    let inv = invite("z9hG4bKd4");
    let mut set = DialogSet::new();
    set.insert(Dialog::new_uas(&inv, &response(&inv, 200, Some("u"))).unwrap());
    let mut bye = inv.clone();
    bye.method = Method::Bye;
    bye.headers.set(Header::CSeq(CSeq {
        seq: 314160,
        method: Method::Bye,
    }));
    if let Some(to) = bye.headers.to_mut() {
        to.set_tag("u");
    }
    let id = set.handle_request(&bye).unwrap();
    assert_eq!(
        set.get(&id).map(|d| d.state()),
        Some(DialogState::Terminated)
    );
}

#[test]
fn uas_early_dialog_confirms_on_2xx_sent_and_ends_on_non_2xx() {
    let inv = invite("z9hG4bKd5");
    let mut d = Dialog::new_uas(&inv, &response(&inv, 180, Some("u"))).unwrap();
    assert_eq!(d.state(), DialogState::Early);
    d.on_response_sent(&response(&inv, 200, Some("u")));
    assert_eq!(d.state(), DialogState::Confirmed);
    let mut d = Dialog::new_uas(&inv, &response(&inv, 180, Some("u"))).unwrap();
    d.on_response_sent(&response(&inv, 486, Some("u")));
    assert_eq!(d.state(), DialogState::Terminated);
    // A response without a To tag cannot make a UAS dialog.
    assert!(Dialog::new_uas(&inv, &response(&inv, 180, None)).is_err());
}

#[test]
fn in_dialog_request_goes_through_the_transaction_layer() {
    // A dialog request leaves its branch to the layer (§8.1.1.7).
    let (_, mut d) = confirmed_uac();
    let mut l: TransactionLayer = layer();
    let bye = d
        .request(Method::Bye, via("pc33.atlanta.example.com", "UDP", None))
        .unwrap();
    let tx = l.send_request(bye, udp(2), Instant::now()).unwrap();
    let sent_bye = l.request(tx).unwrap();
    assert!(
        sent_bye
            .headers
            .top_via()
            .is_some_and(|v| v.has_rfc3261_branch())
    );
}
