//! Attended transfer through the B2BUA (RFC 5589 §7: REFER whose Refer-To carries
//! Replaces, RFC 3891) with SIPp as three phones. 1001 calls 1002; 1002 holds it and
//! calls 2001 from a second line (a second SIPp as 1002), then REFERs 1001 to 2001 with
//! Replaces naming that consultation dialog as 1002 sees it. The PBX splices 1001 and
//! 2001 in the first call (2001 re-INVITEd onto its relay, 1001 re-INVITEd to resume),
//! BYEs both of 1002's legs, NOTIFYs 1002 with 200, and both records carry the step.
//! RTP that 1001 and 2001 send only after the splice must reach the first call's relay.
//! The same when 1002 sends the REFER on the consultation call instead (Refer-To 1001
//! with Replaces naming its first call): 1001 is moved into the consultation call.
//! A Replaces naming no dialog ends in NOTIFY 481 and leaves the call alone.

mod support;

#[path = "interop/calls/phones.rs"]
mod phones;

use billing::{CallDirection, CallDisposition};
use phones::{
    Phone, SippOutcome, completed_records, logged_dialog, on_each_backend, register, run_sipp,
    skip, spawn_sipp, spawn_sipp_with, uri_escape, wait_bound, wait_idle, wait_sipp,
};
use std::time::Duration;
use store::TransferKind;
use support::pbx::{TestPbx, backends, start_pbx};

fn config() -> pbx::PbxConfig {
    let mut c = pbx::PbxConfig::default();
    c.calls.ring_timeout = Duration::from_secs(3);
    c
}

/// The four phones of an attended transfer, the caller, 1002's desk phone and 2001
/// registered: (caller 1001, desk 1002, second line 1002, target 2001). The second line
/// shares the desk phone's registration (it only calls out).
async fn four_phones(pbx: &TestPbx) -> (Phone, Phone, Phone, Phone) {
    let caller = Phone::new("1001");
    let desk = Phone::new("1002");
    let second_line = Phone::new("1002");
    let target = Phone::new("2001");
    register(pbx, caller).await;
    register(pbx, desk).await;
    register(pbx, target).await;
    (caller, desk, second_line, target)
}

fn blocking(s: phones::Sipp) -> tokio::task::JoinHandle<SippOutcome> {
    tokio::task::spawn_blocking(move || wait_sipp(s))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attended_transfer_splices_the_held_caller_to_the_consulted_party() {
    on_each_backend(config, async |pbx: &TestPbx| {
        let backend = pbx.backend;
        let addr = pbx.udp;
        let (caller, desk, second_line, target) = four_phones(pbx).await;

        let target_run = blocking(spawn_sipp(
            addr,
            "calls/attended/target.xml",
            target,
            "2001",
        ));
        wait_bound(target).await;
        let consult = spawn_sipp_with(
            addr,
            "calls/attended/consult.xml",
            second_line,
            "2001",
            &["-trace_logs".to_string()],
        );
        let (call_id, pbx_tag, our_tag) = logged_dialog(consult.dir(), "REPLACES ").await;
        let consult_run = blocking(consult);
        // As 1002 sees its consultation dialog: to-tag is the PBX's, from-tag its own.
        let replaces = format!("{call_id};to-tag={pbx_tag};from-tag={our_tag}");
        let refer_to = format!("sip:2001@{addr}?Replaces={}", uri_escape(&replaces));
        let transferor_run = blocking(spawn_sipp_with(
            addr,
            "calls/attended/transferor.xml",
            desk,
            "1002",
            &["-key".to_string(), "refer_to".to_string(), refer_to],
        ));
        wait_bound(desk).await;
        let a = run_sipp(addr, "calls/attended/transferee.xml", caller, "1002").await;
        let b = transferor_run.await.expect("transferor task");
        let b2 = consult_run.await.expect("consultation task");
        let c = target_run.await.expect("target task");
        assert!(b.ok, "{backend:?}: transferor: {}", b.report);
        assert!(b2.ok, "{backend:?}: consultation: {}", b2.report);
        assert!(c.ok, "{backend:?}: target: {}", c.report);
        assert!(a.ok, "{backend:?}: transferee: {}", a.report);

        let recs = completed_records(pbx, 2).await;
        assert_eq!(recs.len(), 2, "{recs:?}");
        let first = recs
            .iter()
            .find(|r| r.caller_extension.as_deref() == Some("1001"))
            .expect("the transferred call's record");
        let consultation = recs
            .iter()
            .find(|r| r.caller_extension.as_deref() == Some("1002"))
            .expect("the consultation call's record");
        // The first call now ends between 1001 and 2001.
        assert_eq!(
            first.disposition,
            Some(CallDisposition::Answered),
            "{first:?}"
        );
        assert_eq!(first.callee_extension.as_deref(), Some("2001"), "{first:?}");
        assert_eq!(first.callee_number, "2001");
        assert_eq!(first.callee_site.as_deref(), Some("fjuk"));
        // It began inside rådhus (1001 to 1002) and ends between sites (1001 to 2001).
        assert_eq!(
            first.direction,
            CallDirection::InternalOtherSite,
            "{first:?}"
        );
        assert_eq!(first.sip_reason.as_deref(), Some("caller hung up"));
        assert_eq!(first.transfer_chain.len(), 1, "{first:?}");
        let step = &first.transfer_chain[0];
        assert_eq!(step.kind, TransferKind::Attended);
        assert_eq!((step.by.as_str(), step.to.as_str()), ("1002", "2001"));
        // 1001 and 2001 sent RTP only after the splice: it reached this call's relay.
        let caller_rtp = first.caller_leg.as_ref().map_or(0, |l| l.packets);
        let callee_rtp = first.callee_leg.as_ref().map_or(0, |l| l.packets);
        assert!(
            caller_rtp > 20,
            "{backend:?}: caller RTP after resume: {first:?}"
        );
        assert!(
            callee_rtp > 20,
            "{backend:?}: target RTP after splice: {first:?}"
        );
        // The consultation call ended at the transfer, with the same step seen from it.
        assert_eq!(consultation.disposition, Some(CallDisposition::Answered));
        assert_eq!(consultation.callee_extension.as_deref(), Some("2001"));
        assert_eq!(
            consultation.sip_reason.as_deref(),
            Some("attended transfer"),
            "{consultation:?}"
        );
        assert_eq!(consultation.transfer_chain.len(), 1, "{consultation:?}");
        let step = &consultation.transfer_chain[0];
        assert_eq!(step.kind, TransferKind::Attended);
        assert_eq!((step.by.as_str(), step.to.as_str()), ("1002", "1001"));
        assert!(consultation.ended_at <= first.ended_at);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attended_transfer_referred_on_the_consultation_call_moves_the_caller_into_it() {
    on_each_backend(config, async |pbx: &TestPbx| {
        let backend = pbx.backend;
        let addr = pbx.udp;
        let (caller, desk, second_line, target) = four_phones(pbx).await;
        let target_run = blocking(spawn_sipp(addr, "calls/callee_answers.xml", target, "2001"));
        wait_bound(target).await;
        let desk_sipp = spawn_sipp_with(
            addr,
            "calls/attended/holder.xml",
            desk,
            "1002",
            &["-trace_logs".to_string()],
        );
        let desk_dir = desk_sipp.dir().to_path_buf();
        let desk_run = blocking(desk_sipp);
        wait_bound(desk).await;
        let caller_run = tokio::spawn(run_sipp(
            addr,
            "calls/attended/transferee.xml",
            caller,
            "1002",
        ));
        let (call_id, pbx_tag, desk_tag) = logged_dialog(&desk_dir, "DIALOG ").await;
        // The desk phone answers and holds the caller before the second line calls.
        tokio::time::sleep(Duration::from_millis(800)).await;
        let replaces = format!("{call_id};to-tag={pbx_tag};from-tag={desk_tag}");
        let refer_to = format!("sip:1001@{addr}?Replaces={}", uri_escape(&replaces));
        let consult_run = blocking(spawn_sipp_with(
            addr,
            "calls/attended/consult_refers.xml",
            second_line,
            "2001",
            &["-key".to_string(), "refer_to".to_string(), refer_to],
        ));
        let b2 = consult_run.await.expect("second line task");
        let a = caller_run.await.expect("caller task");
        let b = desk_run.await.expect("desk task");
        let c = target_run.await.expect("target task");
        assert!(b2.ok, "{backend:?}: second line: {}", b2.report);
        assert!(b.ok, "{backend:?}: desk phone: {}", b.report);
        assert!(c.ok, "{backend:?}: target: {}", c.report);
        assert!(a.ok, "{backend:?}: caller: {}", a.report);

        let recs = completed_records(pbx, 2).await;
        // Told apart by callee: the consultation call's caller is no longer 1002.
        let first = recs
            .iter()
            .find(|r| r.callee_extension.as_deref() == Some("1002"))
            .expect("the first call's record");
        let consultation = recs
            .iter()
            .find(|r| r.callee_extension.as_deref() == Some("2001"))
            .expect("the consultation call's record");
        assert_eq!(first.caller_extension.as_deref(), Some("1001"), "{first:?}");
        // 1001 took the transferor's place in the consultation call: the record names the
        // parties that remained (the chain keeps who made the move).
        assert_eq!(
            consultation.caller_extension.as_deref(),
            Some("1001"),
            "{consultation:?}"
        );
        assert_eq!(consultation.caller_number, "1001", "{consultation:?}");
        // The first call handed 1001 over and ended.
        assert_eq!(
            first.sip_reason.as_deref(),
            Some("attended transfer"),
            "{first:?}"
        );
        assert_eq!(first.callee_extension.as_deref(), Some("1002"));
        let step = &first.transfer_chain[..];
        assert_eq!(step.len(), 1, "{first:?}");
        assert_eq!(step[0].kind, TransferKind::Attended);
        assert_eq!((step[0].by.as_str(), step[0].to.as_str()), ("1002", "2001"));
        // The consultation call went on between 1001 and 2001 until 1001 hung up.
        assert_eq!(
            consultation.sip_reason.as_deref(),
            Some("caller hung up"),
            "{consultation:?}"
        );
        assert_eq!(consultation.callee_extension.as_deref(), Some("2001"));
        let step = &consultation.transfer_chain[..];
        assert_eq!(step.len(), 1, "{consultation:?}");
        assert_eq!(step[0].kind, TransferKind::Attended);
        assert_eq!((step[0].by.as_str(), step[0].to.as_str()), ("1002", "1001"));
        // 1001 sent RTP only once moved: it reached the consultation call's relay.
        let moved_rtp = consultation.caller_leg.as_ref().map_or(0, |l| l.packets);
        assert!(moved_rtp > 20, "{backend:?}: {consultation:?}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replaces_naming_no_dialog_is_reported_481_and_the_call_stays() {
    if skip() {
        return;
    }
    for backend in backends() {
        let pbx = start_pbx(backend, config()).await;
        let addr = pbx.udp;
        let caller = Phone::new("1001");
        let desk = Phone::new("1002");
        register(&pbx, caller).await;
        register(&pbx, desk).await;
        let replaces = "no-such-call@127.0.0.1;to-tag=nobody;from-tag=nothing";
        let refer_to = format!("sip:2001@{addr}?Replaces={}", uri_escape(replaces));
        let transferor_run = blocking(spawn_sipp_with(
            addr,
            "calls/attended/transferor_unknown_dialog.xml",
            desk,
            "1002",
            &["-key".to_string(), "refer_to".to_string(), refer_to],
        ));
        wait_bound(desk).await;
        let a = run_sipp(addr, "calls/caller_answered.xml", caller, "1002").await;
        let b = transferor_run.await.expect("transferor task");
        assert!(b.ok, "{backend:?}: transferor: {}", b.report);
        assert!(a.ok, "{backend:?}: caller: {}", a.report);
        let recs = completed_records(&pbx, 1).await;
        assert_eq!(recs.len(), 1, "{recs:?}");
        let r = &recs[0];
        assert_eq!(r.disposition, Some(CallDisposition::Answered), "{r:?}");
        assert_eq!(r.callee_extension.as_deref(), Some("1002"), "{r:?}");
        assert_eq!(r.sip_reason.as_deref(), Some("caller hung up"));
        assert!(r.transfer_chain.is_empty(), "{r:?}");
        wait_idle(&pbx).await;
        pbx.finish().await;
    }
}
