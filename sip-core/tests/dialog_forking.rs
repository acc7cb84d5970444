//! Forking (RFC 3261 §12.1.2, §13.2.2.4): every To tag in a 1xx/2xx to one INVITE is its
//! own dialog; a non-2xx final or the end of the INVITE transaction ends the early ones.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod transaction_common;
use transaction_common::*;

use sip_core::dialog::{DialogEvent, DialogId, DialogSet, DialogState, Role};
use sip_core::message::{Contact, Header, Response};

fn from_fork(
    inv: &sip_core::message::Request,
    status: u16,
    tag: &str,
    contact_host: &str,
) -> Response {
    let mut r = response(inv, status, Some(tag));
    r.headers.set(Header::Contact(vec![Contact::Addr(name_addr(
        sip_uri("bob", contact_host),
        None,
    ))]));
    r
}

fn id(tag: &str) -> DialogId {
    DialogId {
        call_id: "a84b4c76e66710@pc33.atlanta.example.com".into(),
        local_tag: "1928301774".into(),
        remote_tag: tag.into(),
    }
}

#[test]
fn two_forks_make_two_early_dialogs_and_one_gets_confirmed() {
    let inv = invite("z9hG4bKf1");
    let mut set = DialogSet::new();
    assert_eq!(
        set.handle_uac_response(&inv, &from_fork(&inv, 180, "a", "a.example.com")),
        Ok(DialogEvent::Created(id("a")))
    );
    assert_eq!(
        set.handle_uac_response(&inv, &from_fork(&inv, 183, "b", "b.example.com")),
        Ok(DialogEvent::Created(id("b")))
    );
    assert_eq!(set.len(), 2);
    for t in ["a", "b"] {
        let d = set.get(&id(t)).unwrap();
        assert_eq!(d.state(), DialogState::Early);
        assert_eq!(d.role(), Role::Uac);
        assert_eq!(d.local_cseq(), Some(314159));
        assert_eq!(d.remote_cseq(), None);
    }
    // Each fork has its own remote target.
    assert_ne!(
        set.get(&id("a")).unwrap().remote_target(),
        set.get(&id("b")).unwrap().remote_target()
    );
    assert_eq!(
        set.handle_uac_response(&inv, &from_fork(&inv, 200, "b", "b2.example.com")),
        Ok(DialogEvent::Updated(id("b")))
    );
    let b = set.get(&id("b")).unwrap();
    assert_eq!(b.state(), DialogState::Confirmed);
    assert_eq!(b.remote_target(), &sip_uri("bob", "b2.example.com"));
    assert_eq!(set.get(&id("a")).unwrap().state(), DialogState::Early);
    // The INVITE transaction ends (Timer M): fork a never answered.
    assert_eq!(set.invite_transaction_ended(&inv), Ok(vec![id("a")]));
    assert_eq!(set.reap(), vec![id("a")]);
    assert_eq!(set.len(), 1);
}

#[test]
fn two_2xx_from_two_forks_are_two_confirmed_dialogs() {
    let inv = invite("z9hG4bKf2");
    let mut set = DialogSet::new();
    set.handle_uac_response(&inv, &from_fork(&inv, 200, "a", "a.example.com"))
        .unwrap();
    assert_eq!(
        set.handle_uac_response(&inv, &from_fork(&inv, 200, "b", "b.example.com")),
        Ok(DialogEvent::Created(id("b")))
    );
    assert!(set.iter().all(|d| d.state() == DialogState::Confirmed));
}

#[test]
fn non_2xx_final_ends_all_early_dialogs_of_the_invite() {
    let inv = invite("z9hG4bKf3");
    let mut set = DialogSet::new();
    set.handle_uac_response(&inv, &from_fork(&inv, 180, "a", "a.example.com"))
        .unwrap();
    set.handle_uac_response(&inv, &from_fork(&inv, 180, "b", "b.example.com"))
        .unwrap();
    assert_eq!(
        set.handle_uac_response(&inv, &response(&inv, 486, Some("c"))),
        Ok(DialogEvent::Terminated(vec![id("a"), id("b")]))
    );
    assert!(set.iter().all(|d| d.state() == DialogState::Terminated));
}

#[test]
fn trying_and_tagless_provisionals_make_no_dialog() {
    let inv = invite("z9hG4bKf4");
    let mut set = DialogSet::new();
    assert_eq!(
        set.handle_uac_response(&inv, &response(&inv, 100, None)),
        Ok(DialogEvent::None)
    );
    assert_eq!(
        set.handle_uac_response(&inv, &response(&inv, 180, None)),
        Ok(DialogEvent::None)
    );
    assert!(set.is_empty());
}
