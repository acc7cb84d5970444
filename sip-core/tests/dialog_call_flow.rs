//! A whole call through two transaction layers and two dialog sets: INVITE, 180, 200,
//! ACK for the 2xx (§13.2.2.4), INFO from the callee, BYE from the caller. Each side must
//! find its dialog from the other side's requests, which checks tag and CSeq handling
//! end to end.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod transaction_common;
use transaction_common::*;

use sip_core::dialog::{Dialog, DialogEvent, DialogSet, DialogState};
use sip_core::message::{Contact, Header, Message, Method, Request, Response};
use sip_core::transaction::{Action, PassUp, TransactionLayer};
use std::time::Instant;

/// Delivers messages both ways until both layers are quiet; returns what each TU got.
fn exchange(
    a: &mut TransactionLayer,
    b: &mut TransactionLayer,
    now: Instant,
) -> (Vec<Action>, Vec<Action>) {
    let (mut a_tu, mut b_tu) = (Vec::new(), Vec::new());
    loop {
        let (from_a, from_b) = (drain(a), drain(b));
        if from_a.is_empty() && from_b.is_empty() {
            return (a_tu, b_tu);
        }
        for act in from_a {
            match act.into_sent() {
                Ok(message) => b.handle_message(message, udp(1), now),
                Err(other) => a_tu.push(other),
            }
        }
        for act in from_b {
            match act.into_sent() {
                Ok(message) => a.handle_message(message, udp(2), now),
                Err(other) => b_tu.push(other),
            }
        }
    }
}

fn requests(acts: &[Action]) -> Vec<(Option<sip_core::transaction::TxId>, Request)> {
    acts.iter()
        .filter_map(|a| match a {
            Action::PassUp(PassUp::Request { tx, request, .. }) => {
                Some((Some(*tx), request.clone()))
            }
            Action::PassUp(PassUp::Ack { tx, request, .. }) => Some((*tx, request.clone())),
            _ => None,
        })
        .collect()
}

fn responses(acts: &[Action]) -> Vec<Response> {
    acts.iter()
        .filter_map(|a| match a {
            Action::PassUp(PassUp::Response { response, .. }) => Some(response.clone()),
            _ => None,
        })
        .collect()
}

fn uas_answer(req: &Request, status: u16) -> Response {
    let mut r = Response::to_request(req, status);
    if let Some(to) = r.headers.to_mut() {
        to.set_tag("bob-tag");
    }
    if (101..300).contains(&status) && req.method == Method::Invite {
        r.headers.push(Header::Contact(vec![Contact::Addr(name_addr(
            sip_uri("bob", "192.0.2.2"),
            None,
        ))]));
    }
    r
}

#[test]
fn invite_ack_info_bye() {
    let t0 = Instant::now();
    let (alice_peer, bob_peer) = (udp(1), udp(2));
    let mut a = layer();
    let mut b = layer();
    let mut a_dialogs = DialogSet::new();
    let mut b_dialogs = DialogSet::new();

    // INVITE (the layer adds the branch).
    let inv = request(Method::Invite, None, 1);
    let inv_tx = a.send_request(inv, bob_peer, t0).unwrap();
    let inv = a.request(inv_tx).unwrap().clone();
    let (a_tu, b_tu) = exchange(&mut a, &mut b, t0);
    // The server layer's 100 Trying (§17.2.1) already reached Alice.
    assert_eq!(passed_up_statuses(&a_tu), [100]);
    let got = requests(&b_tu);
    let (Some(s_tx), s_inv) = got[0].clone() else {
        panic!("no INVITE")
    };

    // 180 with a tag: early dialogs on both sides.
    let ringing = uas_answer(&s_inv, 180);
    b.send_response(s_tx, ringing.clone(), t0).unwrap();
    b_dialogs.insert(Dialog::new_uas(&s_inv, &ringing).unwrap());
    let got = responses(&exchange(&mut a, &mut b, t0).0);
    let statuses: Vec<u16> = got.iter().map(|r| r.status.0).collect();
    assert_eq!(statuses, [180]);
    for r in &got {
        a_dialogs.handle_uac_response(&inv, r).unwrap();
    }
    assert_eq!(a_dialogs.len(), 1);
    let a_id = a_dialogs.iter().next().unwrap().id().clone();
    assert_eq!(a_dialogs.get(&a_id).unwrap().state(), DialogState::Early);

    // 200: both confirmed; Alice ACKs it outside any transaction.
    let ok = uas_answer(&s_inv, 200);
    b.send_response(s_tx, ok.clone(), t0 + ms(10)).unwrap();
    let b_id = b_dialogs.iter().next().unwrap().id().clone();
    b_dialogs.get_mut(&b_id).unwrap().on_response_sent(&ok);
    let got = responses(&exchange(&mut a, &mut b, t0 + ms(10)).0);
    assert_eq!(
        a_dialogs.handle_uac_response(&inv, &got[0]),
        Ok(DialogEvent::Updated(a_id.clone()))
    );
    let d = a_dialogs.get_mut(&a_id).unwrap();
    assert_eq!(d.state(), DialogState::Confirmed);
    let ack_branch = a.new_branch();
    let ack = d
        .ack(via(
            "pc33.atlanta.example.com",
            "UDP",
            Some(ack_branch.as_str()),
        ))
        .unwrap();
    assert_eq!(
        ack.uri,
        sip_uri("bob", "192.0.2.2"),
        "ACK goes to the remote target"
    );
    a.send_stateless(Message::Request(ack), bob_peer);
    let got = requests(&exchange(&mut a, &mut b, t0 + ms(20)).1);
    assert!(matches!(&got[..], [(None, r)] if r.method == Method::Ack));
    assert_eq!(b_dialogs.handle_request(&got[0].1), Ok(b_id.clone()));

    // Bob sends INFO in the dialog: Alice's set must find her dialog from it.
    let info = b_dialogs
        .get_mut(&b_id)
        .unwrap()
        .request(Method::Info, via("192.0.2.2", "UDP", None))
        .unwrap();
    assert_eq!(info.uri, sip_uri("alice", "pc33.atlanta.example.com"));
    let info_tx = b.send_request(info, alice_peer, t0 + ms(30)).unwrap();
    let got = requests(&exchange(&mut a, &mut b, t0 + ms(30)).0);
    let (Some(a_info_tx), a_info) = got[0].clone() else {
        panic!("no INFO")
    };
    assert_eq!(a_dialogs.handle_request(&a_info), Ok(a_id.clone()));
    assert_eq!(a_dialogs.get(&a_id).unwrap().remote_cseq(), Some(1));
    a.send_response(a_info_tx, Response::to_request(&a_info, 200), t0 + ms(31))
        .unwrap();
    let got = exchange(&mut a, &mut b, t0 + ms(31)).1;
    assert!(
        got.iter()
            .any(|x| matches!(x, Action::PassUp(PassUp::Response { tx, .. }) if *tx == info_tx))
    );

    // Alice hangs up: her BYE continues her CSeq space after the INVITE.
    let bye = a_dialogs
        .get_mut(&a_id)
        .unwrap()
        .request(Method::Bye, via("pc33.atlanta.example.com", "UDP", None))
        .unwrap();
    assert_eq!(bye.headers.cseq().map(|c| c.seq), Some(2));
    a.send_request(bye, bob_peer, t0 + ms(40)).unwrap();
    let got = requests(&exchange(&mut a, &mut b, t0 + ms(40)).1);
    let (Some(b_bye_tx), b_bye) = got[0].clone() else {
        panic!("no BYE")
    };
    assert_eq!(b_dialogs.handle_request(&b_bye), Ok(b_id.clone()));
    assert_eq!(
        b_dialogs.get(&b_id).unwrap().state(),
        DialogState::Terminated
    );
    b.send_response(b_bye_tx, Response::to_request(&b_bye, 200), t0 + ms(41))
        .unwrap();
    let got = responses(&exchange(&mut a, &mut b, t0 + ms(41)).0);
    a_dialogs
        .get_mut(&a_id)
        .unwrap()
        .on_response_received(&got[0]);
    assert_eq!(
        a_dialogs.get(&a_id).unwrap().state(),
        DialogState::Terminated
    );
    assert_eq!(a_dialogs.reap(), vec![a_id]);
    assert_eq!(b_dialogs.reap(), vec![b_id]);
}
