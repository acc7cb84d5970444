//! Blind transfer through the B2BUA (RFC 3515 REFER, RFC 3892 Referred-By) with SIPp as
//! the phones: 1001 calls 1002, 1002 answers and REFERs the call to 2001. The PBX answers
//! 202, reports progress in NOTIFYs (message/sipfrag), connects 1001 to 2001 through the
//! same relay session and BYEs 1002; the record shows the transfer and 2001 as callee.
//! When 2001 is busy, 1002 hears 486 in the final NOTIFY and keeps its call. When 1002
//! put 1001 on hold before transferring, the PBX re-INVITEs 1001 to resume.

mod support;

#[path = "interop/calls/phones.rs"]
mod phones;

use billing::CallDisposition;
use phones::{
    Phone, last_record, register, run_sipp, skip, spawn_sipp, spawn_sipp_with, wait_bound,
    wait_idle, wait_sipp,
};
use std::time::Duration;
use store::TransferKind;
use support::pbx::{TestPbx, backends, start_pbx};

fn config() -> pbx::PbxConfig {
    let mut c = pbx::PbxConfig::default();
    c.calls.ring_timeout = Duration::from_secs(2);
    c
}

/// Registers the three phones, starts 2001 (`target_scenario`) and 1002
/// (`transferor_scenario`) in the background and runs the caller 1001 in the foreground.
/// Returns each SIPp outcome (caller, transferor, target).
async fn transfer_call(
    pbx: &TestPbx,
    transferor_scenario: &'static str,
    target_scenario: &'static str,
) -> [phones::SippOutcome; 3] {
    let caller = Phone::new("1001");
    let transferor = Phone::new("1002");
    let target = Phone::new("2001");
    register(pbx, caller).await;
    register(pbx, transferor).await;
    register(pbx, target).await;
    let addr = pbx.udp;
    let t = tokio::task::spawn_blocking(move || {
        wait_sipp(spawn_sipp(addr, target_scenario, target, target.number))
    });
    let b = tokio::task::spawn_blocking(move || {
        wait_sipp(spawn_sipp(
            addr,
            transferor_scenario,
            transferor,
            transferor.number,
        ))
    });
    // Let both SIPp processes bind their ports before the INVITEs come.
    wait_bound(target).await;
    wait_bound(transferor).await;
    let a = run_sipp(pbx.udp, "calls/caller_answered.xml", caller, "1002").await;
    let b = b.await.expect("transferor task");
    let t = t.await.expect("target task");
    [a, b, t]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blind_transfer_connects_the_caller_to_the_target_and_records_it() {
    if skip() {
        return;
    }
    for backend in backends() {
        let pbx = start_pbx(backend, config()).await;
        let [a, b, t] = transfer_call(
            &pbx,
            "calls/transfer/transferor_refers.xml",
            "calls/callee_answers.xml",
        )
        .await;
        assert!(b.ok, "{backend:?}: transferor: {}", b.report);
        assert!(t.ok, "{backend:?}: target: {}", t.report);
        assert!(a.ok, "{backend:?}: caller: {}", a.report);
        let r = last_record(&pbx).await;
        assert_eq!(r.disposition, Some(CallDisposition::Answered), "{r:?}");
        assert_eq!(r.caller_extension.as_deref(), Some("1001"));
        assert_eq!(r.callee_extension.as_deref(), Some("2001"), "{r:?}");
        assert_eq!(r.callee_number, "2001");
        assert_eq!(r.callee_site.as_deref(), Some("fjuk"));
        assert_eq!(r.sip_reason.as_deref(), Some("caller hung up"));
        assert_eq!(r.transfer_chain.len(), 1, "{r:?}");
        let step = &r.transfer_chain[0];
        assert_eq!(step.kind, TransferKind::Blind);
        assert_eq!(step.by, "1002");
        assert_eq!(step.to, "2001");
        wait_idle(&pbx).await;
        pbx.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busy_target_is_notified_and_the_original_call_stays() {
    if skip() {
        return;
    }
    for backend in backends() {
        let pbx = start_pbx(backend, config()).await;
        let [a, b, t] = transfer_call(
            &pbx,
            "calls/transfer/transferor_refused.xml",
            "calls/callee_busy.xml",
        )
        .await;
        assert!(b.ok, "{backend:?}: transferor: {}", b.report);
        assert!(t.ok, "{backend:?}: target: {}", t.report);
        assert!(a.ok, "{backend:?}: caller: {}", a.report);
        let r = last_record(&pbx).await;
        assert_eq!(r.disposition, Some(CallDisposition::Answered), "{r:?}");
        assert_eq!(r.callee_extension.as_deref(), Some("1002"), "{r:?}");
        assert!(r.transfer_chain.is_empty(), "{r:?}");
        wait_idle(&pbx).await;
        pbx.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transferee_left_on_hold_is_resumed_after_a_blind_transfer() {
    if skip() {
        return;
    }
    for backend in backends() {
        let pbx = start_pbx(backend, config()).await;
        let addr = pbx.udp;
        let caller = Phone::new("1001");
        let transferor = Phone::new("1002");
        let target = Phone::new("2001");
        register(&pbx, caller).await;
        register(&pbx, transferor).await;
        register(&pbx, target).await;
        let t = tokio::task::spawn_blocking(move || {
            wait_sipp(spawn_sipp(addr, "calls/callee_answers.xml", target, "2001"))
        });
        // The transferor holds the caller (sendonly), then REFERs it to 2001.
        let refer_to = format!("sip:2001@{addr}");
        let b = tokio::task::spawn_blocking(move || {
            wait_sipp(spawn_sipp_with(
                addr,
                "calls/attended/transferor.xml",
                transferor,
                "1002",
                &["-key".to_string(), "refer_to".to_string(), refer_to],
            ))
        });
        wait_bound(target).await;
        wait_bound(transferor).await;
        // The caller checks the resume re-INVITE is sendrecv, and only then sends RTP.
        let a = run_sipp(addr, "calls/attended/transferee.xml", caller, "1002").await;
        let b = b.await.expect("transferor task");
        let t = t.await.expect("target task");
        assert!(b.ok, "{backend:?}: transferor: {}", b.report);
        assert!(t.ok, "{backend:?}: target: {}", t.report);
        assert!(a.ok, "{backend:?}: caller: {}", a.report);
        let r = last_record(&pbx).await;
        assert_eq!(r.callee_extension.as_deref(), Some("2001"), "{r:?}");
        assert_eq!(r.transfer_chain.len(), 1, "{r:?}");
        assert_eq!(r.transfer_chain[0].kind, TransferKind::Blind);
        let caller_rtp = r.caller_leg.as_ref().map_or(0, |l| l.packets);
        assert!(
            caller_rtp > 20,
            "{backend:?}: caller RTP after resume: {r:?}"
        );
        wait_idle(&pbx).await;
        pbx.finish().await;
    }
}
