//! Calls through the B2BUA with SIPp as the phones: both register with digest, the caller
//! authenticates its INVITE (407) and the callee answers, is busy, rings out, is
//! cancelled or is not registered. RTP from a pcap goes both ways through the relay.
//! Every call must leave a complete, correct call record.

mod support;

#[path = "interop/calls/phones.rs"]
mod phones;

use billing::{CallDirection, CallDisposition};
use phones::{Phone, completed_call, on_each_backend, register, wait_idle};
use std::time::{Duration, Instant};
use support::pbx::TestPbx;

fn config() -> pbx::PbxConfig {
    let mut c = pbx::PbxConfig::default();
    c.calls.ring_timeout = Duration::from_secs(2);
    c
}

/// 1001 runs `caller_scenario` dialling `callee`, whose phone is registered and runs
/// `callee_scenario`; both must get through. The call's record.
async fn call_registered(
    pbx: &TestPbx,
    callee: &'static str,
    caller_scenario: &'static str,
    callee_scenario: &'static str,
) -> store::StoredCallRecord {
    let phone = Phone::new(callee);
    register(pbx, phone).await;
    completed_call(
        pbx,
        Phone::new("1001"),
        caller_scenario,
        Some((phone, callee_scenario)),
        callee,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answered_call_carries_rtp_both_ways_and_is_recorded() {
    on_each_backend(config, async |pbx: &TestPbx| {
        let backend = pbx.backend;
        let caller = Phone::new("1001");
        let callee = Phone::new("1002");
        register(pbx, callee).await;
        register(pbx, caller).await;
        let mut events = pbx.server.ctx.events.subscribe();
        let started = Instant::now();
        let r = completed_call(
            pbx,
            caller,
            "calls/caller_answered.xml",
            Some((callee, "calls/callee_answers.xml")),
            "1002",
        )
        .await;
        let elapsed = started.elapsed();
        assert_eq!(r.disposition, Some(CallDisposition::Answered), "{r:?}");
        assert_eq!(r.direction, CallDirection::InternalSameSite);
        assert_eq!(r.caller_extension.as_deref(), Some("1001"));
        assert_eq!(r.caller_number, "1001");
        assert_eq!(r.callee_extension.as_deref(), Some("1002"));
        assert_eq!(r.callee_number, "1002");
        assert_eq!(r.caller_site.as_deref(), Some("radhus"));
        assert_eq!(r.callee_site.as_deref(), Some("radhus"));
        assert_eq!(r.caller_department.as_deref(), Some("Dept radhus"));
        assert_eq!(r.sip_code, Some(200));
        assert_eq!(r.sip_reason.as_deref(), Some("caller hung up"));
        assert!(r.answered_at.is_some());
        assert!(r.trunk.is_none());
        let a = r.caller_leg.expect("caller leg quality");
        let b = r.callee_leg.expect("callee leg quality");
        assert!(a.packets > 20, "{backend:?}: RTP from the caller: {a:?}");
        assert!(b.packets > 20, "{backend:?}: RTP from the callee: {b:?}");
        assert!(a.mos > 4.0 && b.mos > 4.0, "{a:?} {b:?}");
        eprintln!("{backend:?}: answered call {elapsed:?}, caller leg {a:?}, callee leg {b:?}");
        let mut seen = Vec::new();
        while let Ok(ev) = events.try_recv() {
            seen.push(ev);
        }
        assert!(
            seen.iter()
                .any(|e| matches!(e, pbx::events::PbxEvent::CallAnswered { .. })),
            "{seen:?}"
        );
        assert!(
            seen.iter()
                .any(|e| matches!(e, pbx::events::PbxEvent::CallEnded { .. })),
            "{seen:?}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busy_callee_gives_486_and_a_busy_record() {
    on_each_backend(config, async |pbx: &TestPbx| {
        let r = call_registered(
            pbx,
            "2001",
            "calls/caller_busy.xml",
            "calls/callee_busy.xml",
        )
        .await;
        assert_eq!(r.disposition, Some(CallDisposition::Busy), "{r:?}");
        assert_eq!(r.direction, CallDirection::InternalOtherSite);
        assert_eq!(r.sip_code, Some(486));
        assert_eq!(r.callee_site.as_deref(), Some("fjuk"));
        assert!(r.answered_at.is_none());
        assert_eq!(r.talk_seconds, 0);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unanswered_call_times_out_with_480() {
    on_each_backend(config, async |pbx: &TestPbx| {
        let callee = Phone::new("1002");
        register(pbx, callee).await;
        // Timed from the INVITE on (not the registration): the ring timeout is 2 s.
        let started = Instant::now();
        let r = completed_call(
            pbx,
            Phone::new("1001"),
            "calls/caller_unavailable.xml",
            Some((callee, "calls/callee_rings.xml")),
            "1002",
        )
        .await;
        assert_eq!(r.disposition, Some(CallDisposition::NoAnswer), "{r:?}");
        assert_eq!(r.sip_code, Some(480));
        assert!(started.elapsed() >= Duration::from_secs(2));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caller_cancel_cancels_the_callee_and_is_recorded() {
    on_each_backend(config, async |pbx: &TestPbx| {
        let r = call_registered(
            pbx,
            "1002",
            "calls/caller_cancel.xml",
            "calls/callee_rings.xml",
        )
        .await;
        assert_eq!(r.disposition, Some(CallDisposition::Cancelled), "{r:?}");
        assert_eq!(r.sip_code, Some(487));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unregistered_callee_gives_480() {
    on_each_backend(config, async |pbx: &TestPbx| {
        let caller = Phone::new("1001");
        let r = completed_call(pbx, caller, "calls/caller_unavailable.xml", None, "1003").await;
        assert_eq!(r.disposition, Some(CallDisposition::Failed), "{r:?}");
        assert_eq!(r.sip_code, Some(480));
        assert_eq!(r.callee_extension.as_deref(), Some("1003"));
        assert!(r.caller_leg.is_none() && r.callee_leg.is_none());
    })
    .await;
}

/// A provider on 127.0.0.1 (a SIPp UAS) as the only trunk, without registration or
/// digest. No allowed sources: nothing from 127.0.0.1 is taken for the provider.
async fn add_provider(pbx: &TestPbx, provider: Phone) {
    pbx.add_trunk(&store::NewTrunk {
        name: "provider".into(),
        host: "127.0.0.1".into(),
        port: provider.sip_port,
        transport: store::TrunkTransport::Udp,
        username: None,
        secret: None,
        register: false,
        channel_limit: Some(2),
        allowed_sources: Vec::new(),
        enabled: true,
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbound_and_emergency_calls_go_through_the_trunk() {
    on_each_backend(config, async |pbx: &TestPbx| {
        let provider = Phone::new("1002");
        add_provider(pbx, provider).await;
        for (dialled, direction) in [
            ("22225555", CallDirection::Outbound),
            ("112", CallDirection::Emergency),
        ] {
            let r = completed_call(
                pbx,
                Phone::new("1001"),
                "calls/caller_answered.xml",
                Some((provider, "calls/callee_answers.xml")),
                dialled,
            )
            .await;
            assert_eq!(r.disposition, Some(CallDisposition::Answered), "{r:?}");
            assert_eq!(r.direction, direction, "{r:?}");
            assert_eq!(r.trunk.as_deref(), Some("provider"));
            assert_eq!(r.callee_number, dialled);
            assert!(r.callee_extension.is_none());
            assert!(r.caller_leg.is_some_and(|l| l.packets > 20), "{r:?}");
            assert!(r.callee_leg.is_some_and(|l| l.packets > 20), "{r:?}");
            wait_idle(pbx).await;
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hold_and_resume_pass_through_with_their_directions() {
    on_each_backend(config, async |pbx: &TestPbx| {
        let r = call_registered(
            pbx,
            "1002",
            "calls/caller_hold.xml",
            "calls/callee_held.xml",
        )
        .await;
        assert_eq!(r.disposition, Some(CallDisposition::Answered), "{r:?}");
        assert!(r.caller_leg.is_some_and(|l| l.packets > 20), "{r:?}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_rings_every_contact_and_the_loser_is_cancelled() {
    on_each_backend(config, async |pbx: &TestPbx| {
        let backend = pbx.backend;
        let desk = Phone::new("1002");
        let softphone = Phone::new("1002");
        register(pbx, desk).await;
        register(pbx, softphone).await;
        assert_eq!(pbx.server.ctx.registrar.contacts_for("1002").len(), 2);
        let target = pbx.udp;
        let ringing = tokio::task::spawn_blocking(move || {
            phones::wait_sipp(phones::spawn_sipp(
                target,
                "calls/callee_rings.xml",
                softphone,
                "1002",
            ))
        });
        let r = completed_call(
            pbx,
            Phone::new("1001"),
            "calls/caller_answered.xml",
            Some((desk, "calls/callee_answers.xml")),
            "1002",
        )
        .await;
        let other = ringing.await.expect("softphone task");
        assert!(
            other.ok,
            "{backend:?}: softphone (CANCELled): {}",
            other.report
        );
        assert_eq!(r.disposition, Some(CallDisposition::Answered), "{r:?}");
    })
    .await;
}
