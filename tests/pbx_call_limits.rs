//! The B2BUA's safety nets with SIPp as the phones: a call that outlasts the maximum
//! call duration is hung up on both sides, and a caller that never ACKs our 200 has it
//! retransmitted until the ACK wait runs out, then both legs get a BYE (RFC 3261
//! §13.3.1.4) and the record is a failed call without talk time (billing rates only
//! answered calls). A phone that never ACKs our 200 to its re-INVITE gets the same BYE
//! after the same wait (§13.3.1.4 via §14.2), but that call was answered and talked on:
//! its record stays answered, with talk time up to the BYE. Short limits are configured
//! so the tests take seconds, and each record says why the call ended.

mod support;

#[path = "interop/calls/phones.rs"]
mod phones;

use billing::CallDisposition;
use phones::{Phone, completed_call, on_each_backend, register};
use std::time::{Duration, Instant};
use support::pbx::TestPbx;

/// 1001 (`caller_scenario`) calls 1002, which answers and takes the BYE; both phones must
/// get through their scenarios. The call's record.
async fn answered_call(pbx: &TestPbx, caller_scenario: &'static str) -> store::StoredCallRecord {
    call_between(pbx, caller_scenario, "calls/callee_answers.xml").await
}

/// 1001 running `caller_scenario` calls 1002 running `callee_scenario`; both must get
/// through their scenarios. The call's record.
async fn call_between(
    pbx: &TestPbx,
    caller_scenario: &'static str,
    callee_scenario: &'static str,
) -> store::StoredCallRecord {
    let caller = Phone::new("1001");
    let callee = Phone::new("1002");
    register(pbx, caller).await;
    register(pbx, callee).await;
    completed_call(
        pbx,
        caller,
        caller_scenario,
        Some((callee, callee_scenario)),
        "1002",
    )
    .await
}

/// The default configuration with the ACK wait set to `secs`.
fn ack_wait(secs: u64) -> impl Fn() -> pbx::PbxConfig {
    move || {
        let mut c = pbx::PbxConfig::default();
        c.calls.ack_timeout = Duration::from_secs(secs);
        c
    }
}

/// How the sample dataset's new tariffs rate a finished record: rule, cost in øre and
/// billed seconds. Priced in the new world whatever the date (the sample's tariffs end
/// before today).
fn rated_new(r: &store::StoredCallRecord) -> (billing::Rule, i64, u32) {
    let billed = r.to_billing().expect("finished record");
    let dataset =
        billing::Dataset::from_toml_str(billing::dataset::SAMPLE_TOML).expect("the sample dataset");
    let rater = dataset.rater();
    let rated = rater.rate_in(&billed, billing::World::New).expect("rated");
    (rated.rule, rated.cost_ore, rated.billed_seconds)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_longer_than_the_maximum_duration_is_hung_up_on_both_sides() {
    let config = || {
        let mut c = pbx::PbxConfig::default();
        c.calls.max_call_duration = Duration::from_secs(2);
        c
    };
    on_each_backend(config, async |pbx: &TestPbx| {
        let backend = pbx.backend;
        let r = answered_call(pbx, "calls/limits/caller_until_bye.xml").await;
        assert_eq!(r.disposition, Some(CallDisposition::Answered), "{r:?}");
        assert_eq!(
            r.sip_reason.as_deref(),
            Some("maximum call duration"),
            "{r:?}"
        );
        assert_eq!(r.sip_code, Some(200), "{r:?}");
        assert!((1..=3).contains(&r.talk_seconds), "{backend:?}: {r:?}");
        assert!(
            r.caller_leg.as_ref().is_some_and(|l| l.packets > 20),
            "{r:?}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_that_never_acks_is_hung_up_when_the_ack_wait_runs_out() {
    on_each_backend(ack_wait(3), async |pbx: &TestPbx| {
        let backend = pbx.backend;
        let started = Instant::now();
        let r = answered_call(pbx, "calls/limits/caller_no_ack.xml").await;
        // The BYEs came after the ACK wait, not at once.
        assert!(started.elapsed() >= Duration::from_secs(3));
        assert_eq!(r.disposition, Some(CallDisposition::Failed), "{r:?}");
        assert_eq!(r.sip_code, Some(408), "{r:?}");
        assert_eq!(
            r.sip_reason.as_deref(),
            Some("no ACK: the callee answered, the caller never confirmed"),
            "{r:?}"
        );
        // The callee did answer; no conversation followed.
        assert!(r.ended_at.is_some() && r.answered_at.is_some(), "{r:?}");
        assert_eq!(r.talk_seconds, 0, "{r:?}");
        assert_eq!(
            rated_new(&r),
            (billing::Rule::NotAnswered, 0, 0),
            "{backend:?}: an unconfirmed call is not billed"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_re_invite_whose_200_is_never_acked_ends_the_answered_call() {
    on_each_backend(ack_wait(2), async |pbx: &TestPbx| {
        let backend = pbx.backend;
        let started = Instant::now();
        // The caller talks for a second, then holds with a re-INVITE and never ACKs the
        // 200; the callee, held, ACKed by the PBX, waits for the BYE.
        let r = call_between(
            pbx,
            "calls/limits/caller_reinvite_no_ack.xml",
            "calls/limits/callee_held_until_bye.xml",
        )
        .await;
        // The BYEs came after the ACK wait (1 s of talk, then 2 s), not at once.
        assert!(started.elapsed() >= Duration::from_secs(3), "{backend:?}");
        assert_eq!(r.disposition, Some(CallDisposition::Answered), "{r:?}");
        assert_eq!(r.sip_code, Some(200), "{r:?}");
        assert_eq!(
            r.sip_reason.as_deref(),
            Some("no ACK: the caller never confirmed its re-INVITE"),
            "{r:?}"
        );
        assert!(r.answered_at.is_some() && r.ended_at.is_some(), "{r:?}");
        // Talk time runs from the answer to the BYE: about 1 s + the 2 s ACK wait.
        assert!((2..=5).contains(&r.talk_seconds), "{backend:?}: {r:?}");
        assert!(
            r.caller_leg.as_ref().is_some_and(|l| l.packets > 20),
            "{r:?}"
        );
        // An answered call between two extensions of one site: rated as talked, not as
        // an unanswered attempt.
        let (rule, ..) = rated_new(&r);
        assert_eq!(rule, billing::Rule::SameSiteFree, "{backend:?}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callee_that_never_acks_our_200_to_its_re_invite_is_hung_up_too() {
    on_each_backend(ack_wait(2), async |pbx: &TestPbx| {
        let backend = pbx.backend;
        let started = Instant::now();
        // The callee holds the caller with a re-INVITE (relayed to the caller, whose 200
        // the PBX ACKs) and never ACKs the PBX's 200.
        let r = call_between(
            pbx,
            "calls/limits/caller_held_until_bye.xml",
            "calls/limits/callee_reinvite_no_ack.xml",
        )
        .await;
        assert!(started.elapsed() >= Duration::from_secs(3), "{backend:?}");
        assert_eq!(r.disposition, Some(CallDisposition::Answered), "{r:?}");
        assert_eq!(r.sip_code, Some(200), "{r:?}");
        assert_eq!(
            r.sip_reason.as_deref(),
            Some("no ACK: the callee never confirmed its re-INVITE"),
            "{r:?}"
        );
        assert!((2..=5).contains(&r.talk_seconds), "{backend:?}: {r:?}");
    })
    .await;
}
