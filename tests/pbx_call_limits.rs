//! The B2BUA's safety nets with SIPp as the phones: a call that outlasts the maximum
//! call duration is hung up on both sides, and a caller that never ACKs our 200 has it
//! retransmitted until the ACK wait runs out, then both legs get a BYE (RFC 3261
//! §13.3.1.4). Short limits are configured so the tests take seconds, and each record
//! says why the call ended.

mod support;

#[path = "interop/calls/phones.rs"]
mod phones;

use billing::CallDisposition;
use phones::{Phone, call, last_record, register, skip, wait_idle};
use std::time::Duration;
use support::pbx::{backends, start_pbx};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_longer_than_the_maximum_duration_is_hung_up_on_both_sides() {
    if skip() {
        return;
    }
    for backend in backends() {
        let mut config = pbx::PbxConfig::default();
        config.calls.max_call_duration = Duration::from_secs(2);
        let pbx = start_pbx(backend, config).await;
        let caller = Phone::new("1001");
        let callee = Phone::new("1002");
        register(&pbx, caller).await;
        register(&pbx, callee).await;
        let (a, b) = call(
            &pbx,
            caller,
            "calls/limits/caller_until_bye.xml",
            Some((callee, "calls/callee_answers.xml")),
            "1002",
        )
        .await;
        let b = b.expect("callee ran");
        assert!(a.ok, "{backend:?}: caller: {}", a.report);
        assert!(b.ok, "{backend:?}: callee: {}", b.report);
        let r = last_record(&pbx).await;
        assert_eq!(r.disposition, Some(CallDisposition::Answered), "{r:?}");
        assert_eq!(
            r.sip_reason.as_deref(),
            Some("maximum call duration"),
            "{r:?}"
        );
        assert_eq!(r.sip_code, Some(200), "{r:?}");
        assert!((1..=3).contains(&r.talk_seconds), "{backend:?}: {r:?}");
        assert!(
            r.caller_leg.as_ref().is_some_and(|l| l.packets > 0),
            "{r:?}"
        );
        wait_idle(&pbx).await;
        pbx.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_that_never_acks_is_hung_up_when_the_ack_wait_runs_out() {
    if skip() {
        return;
    }
    for backend in backends() {
        let mut config = pbx::PbxConfig::default();
        config.calls.ack_timeout = Duration::from_secs(3);
        let pbx = start_pbx(backend, config).await;
        let caller = Phone::new("1001");
        let callee = Phone::new("1002");
        register(&pbx, caller).await;
        register(&pbx, callee).await;
        let started = std::time::Instant::now();
        let (a, b) = call(
            &pbx,
            caller,
            "calls/limits/caller_no_ack.xml",
            Some((callee, "calls/callee_answers.xml")),
            "1002",
        )
        .await;
        let b = b.expect("callee ran");
        assert!(a.ok, "{backend:?}: caller: {}", a.report);
        assert!(b.ok, "{backend:?}: callee: {}", b.report);
        // The BYEs came after the ACK wait, not at once.
        assert!(started.elapsed() >= Duration::from_secs(3));
        let r = last_record(&pbx).await;
        assert_eq!(r.disposition, Some(CallDisposition::Answered), "{r:?}");
        assert_eq!(r.sip_reason.as_deref(), Some("no ACK"), "{r:?}");
        assert!(r.ended_at.is_some() && r.answered_at.is_some(), "{r:?}");
        wait_idle(&pbx).await;
        pbx.finish().await;
    }
}
