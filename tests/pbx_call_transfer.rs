//! Blind transfer through the B2BUA (RFC 3515 REFER, RFC 3892 Referred-By) with SIPp as
//! the phones: 1001 calls 1002, 1002 answers and REFERs the call to 2001. The PBX answers
//! 202, reports progress in NOTIFYs (message/sipfrag), connects 1001 to 2001 through the
//! same relay session and BYEs 1002; the record shows the transfer and 2001 as callee.
//! When 2001 is busy, 1002 hears 486 in the final NOTIFY and keeps its call. When 1002
//! put 1001 on hold before transferring, the PBX re-INVITEs 1001 to resume. When the
//! caller 1001 is the one who transfers, 2001 takes its place and the record names
//! 2001 as the caller. The record's direction follows the parties that remain: 1001 and
//! 1002 share a site, 2001 is at another, so either transfer makes the call
//! internal_other_site; a call from outside transferred to another extension stays
//! inbound on its trunk.

mod support;

#[path = "interop/calls/phones.rs"]
mod phones;

use billing::{CallDirection, CallDisposition};
use phones::{
    Phone, last_record, on_each_backend, register, run_sipp, spawn_sipp, spawn_sipp_with,
    wait_bound, wait_sipp, wait_sipp_logs,
};
use std::time::Duration;
use store::{StoredCallRecord, TransferKind};
use support::pbx::TestPbx;

fn config() -> pbx::PbxConfig {
    let mut c = pbx::PbxConfig::default();
    c.calls.ring_timeout = Duration::from_secs(2);
    c
}

/// Registers the three phones, starts 2001 (`target_scenario`) and 1002
/// (`callee_scenario`, transferring to 2001, with `callee_extra` SIPp arguments) in the
/// background and runs the caller 1001 (`caller_scenario`) in the foreground. Every
/// phone must get through its scenario; returns the call's record and what 1002's
/// scenario logged.
async fn transfer_call(
    pbx: &TestPbx,
    caller_scenario: &'static str,
    callee_scenario: &'static str,
    callee_extra: Vec<String>,
    target_scenario: &'static str,
) -> (StoredCallRecord, String) {
    let backend = pbx.backend;
    let caller = Phone::new("1001");
    let callee = Phone::new("1002");
    let target = Phone::new("2001");
    register(pbx, caller).await;
    register(pbx, callee).await;
    register(pbx, target).await;
    let addr = pbx.udp;
    let t = tokio::task::spawn_blocking(move || {
        wait_sipp(spawn_sipp(addr, target_scenario, target, target.number))
    });
    let mut extra = vec![
        "-trace_logs".to_string(),
        "-key".to_string(),
        "transfer_to".to_string(),
        "2001".to_string(),
    ];
    extra.extend(callee_extra);
    let b = tokio::task::spawn_blocking(move || {
        wait_sipp_logs(spawn_sipp_with(
            addr,
            callee_scenario,
            callee,
            callee.number,
            &extra,
        ))
    });
    // Let both SIPp processes bind their ports before the INVITEs come.
    wait_bound(target).await;
    wait_bound(callee).await;
    let a = run_sipp(pbx.udp, caller_scenario, caller, "1002").await;
    let (b, logged) = b.await.expect("callee task");
    let t = t.await.expect("target task");
    assert!(b.ok, "{backend:?}: callee 1002: {}", b.report);
    assert!(t.ok, "{backend:?}: target 2001: {}", t.report);
    assert!(a.ok, "{backend:?}: caller 1001: {}", a.report);
    (last_record(pbx).await, logged)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blind_transfer_connects_the_caller_to_the_target_and_records_it() {
    on_each_backend(config, async |pbx: &TestPbx| {
        let (r, _) = transfer_call(
            pbx,
            "calls/caller_answered.xml",
            "calls/transfer/transferor_refers.xml",
            Vec::new(),
            "calls/callee_answers.xml",
        )
        .await;
        assert_eq!(r.disposition, Some(CallDisposition::Answered), "{r:?}");
        assert_eq!(r.caller_extension.as_deref(), Some("1001"));
        assert_eq!(r.callee_extension.as_deref(), Some("2001"), "{r:?}");
        assert_eq!(r.callee_number, "2001");
        assert_eq!(r.callee_site.as_deref(), Some("fjuk"));
        // 1001 (rådhus) now talks to 2001 (fjuk): rated between sites from the transfer on.
        assert_eq!(r.direction, CallDirection::InternalOtherSite, "{r:?}");
        assert_eq!(r.trunk, None, "{r:?}");
        assert_eq!(r.sip_reason.as_deref(), Some("caller hung up"));
        assert_eq!(r.transfer_chain.len(), 1, "{r:?}");
        let step = &r.transfer_chain[0];
        assert_eq!(step.kind, TransferKind::Blind);
        assert_eq!(step.by, "1002");
        assert_eq!(step.to, "2001");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busy_target_is_notified_and_the_original_call_stays() {
    on_each_backend(config, async |pbx: &TestPbx| {
        let (r, logged) = transfer_call(
            pbx,
            "calls/caller_answered.xml",
            "calls/transfer/transferor_refused.xml",
            Vec::new(),
            "calls/callee_busy.xml",
        )
        .await;
        assert!(logged.contains("FINAL SIP/2.0 486"), "{logged}");
        assert_eq!(r.disposition, Some(CallDisposition::Answered), "{r:?}");
        assert_eq!(r.callee_extension.as_deref(), Some("1002"), "{r:?}");
        // No transfer happened: 1001 and 1002 share a site.
        assert_eq!(r.direction, CallDirection::InternalSameSite, "{r:?}");
        assert!(r.transfer_chain.is_empty(), "{r:?}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transferee_left_on_hold_is_resumed_after_a_blind_transfer() {
    on_each_backend(config, async |pbx: &TestPbx| {
        let backend = pbx.backend;
        // The transferor holds the caller (sendonly), then REFERs it to 2001; the caller
        // checks the resume re-INVITE is sendrecv, and only then sends RTP.
        let refer_to = format!("sip:2001@{}", pbx.udp);
        let (r, _) = transfer_call(
            pbx,
            "calls/attended/transferee.xml",
            "calls/attended/transferor.xml",
            vec!["-key".to_string(), "refer_to".to_string(), refer_to],
            "calls/callee_answers.xml",
        )
        .await;
        assert_eq!(r.callee_extension.as_deref(), Some("2001"), "{r:?}");
        assert_eq!(r.transfer_chain.len(), 1, "{r:?}");
        assert_eq!(r.transfer_chain[0].kind, TransferKind::Blind);
        let caller_rtp = r.caller_leg.as_ref().map_or(0, |l| l.packets);
        assert!(
            caller_rtp > 20,
            "{backend:?}: caller RTP after resume: {r:?}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_that_transfers_is_replaced_by_the_target_in_the_record() {
    on_each_backend(config, async |pbx: &TestPbx| {
        let (r, _) = transfer_call(
            pbx,
            "calls/transfer/caller_refers.xml",
            "calls/transfer/transferee_hangs_up.xml",
            Vec::new(),
            "calls/callee_answers.xml",
        )
        .await;
        assert_eq!(r.disposition, Some(CallDisposition::Answered), "{r:?}");
        // The parties that remained: 2001 (the target, now on the caller's side) and 1002.
        assert_eq!(r.caller_extension.as_deref(), Some("2001"), "{r:?}");
        assert_eq!(r.caller_number, "2001", "{r:?}");
        assert_eq!(r.caller_site.as_deref(), Some("fjuk"), "{r:?}");
        assert_eq!(r.callee_extension.as_deref(), Some("1002"), "{r:?}");
        assert_eq!(r.direction, CallDirection::InternalOtherSite, "{r:?}");
        assert_eq!(r.sip_reason.as_deref(), Some("callee hung up"), "{r:?}");
        assert_eq!(r.transfer_chain.len(), 1, "{r:?}");
        let step = &r.transfer_chain[0];
        assert_eq!(step.kind, TransferKind::Blind);
        assert_eq!(step.by, "1001");
        assert_eq!(step.to, "2001");
    })
    .await;
}

/// The provider's address: the trunk's allowed source (as in tests/pbx_trunk.rs).
const PROVIDER_IP: &str = "127.0.0.2";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inbound_call_transferred_to_another_extension_stays_inbound_on_its_trunk() {
    let config = || {
        let mut c = config();
        // Direct numbers 63869000-63869399 reach extensions 1000-1399.
        c.dial_plan.did_mappings = vec![pbx::dial_plan::DidMapping {
            first: "63869000".into(),
            last: "63869399".into(),
            target: pbx::dial_plan::DidTarget::Offset {
                extension_first: "1000".into(),
            },
        }];
        c
    };
    on_each_backend(config, async |pbx: &TestPbx| {
        let backend = pbx.backend;
        let provider_port = std::net::UdpSocket::bind((PROVIDER_IP, 0))
            .and_then(|s| s.local_addr())
            .map(|a| a.port())
            .expect("free port on the provider address");
        pbx.add_trunk(&store::NewTrunk {
            name: "provider".into(),
            host: PROVIDER_IP.into(),
            port: provider_port,
            transport: store::TrunkTransport::Udp,
            username: None,
            secret: None,
            register: false,
            channel_limit: None,
            allowed_sources: vec![PROVIDER_IP.into()],
            enabled: true,
        })
        .await;
        let callee = Phone::new("1002");
        let target = Phone::new("2001");
        register(pbx, callee).await;
        register(pbx, target).await;
        let addr = pbx.udp;
        let t = tokio::task::spawn_blocking(move || {
            wait_sipp(spawn_sipp(
                addr,
                "calls/callee_answers.xml",
                target,
                target.number,
            ))
        });
        let b = tokio::task::spawn_blocking(move || {
            wait_sipp(spawn_sipp_with(
                addr,
                "calls/transfer/transferor_refers.xml",
                callee,
                callee.number,
                &[
                    "-key".to_string(),
                    "transfer_to".to_string(),
                    "2001".to_string(),
                ],
            ))
        });
        wait_bound(target).await;
        wait_bound(callee).await;
        // 22334455 outside calls 1002's direct number through the provider.
        let media_port = phones::free_port_pair().to_string();
        let provider = tokio::task::spawn_blocking(move || {
            let work = tempfile::tempdir().expect("temp dir");
            let out = std::process::Command::new("sipp")
                .current_dir(work.path())
                .arg(addr.to_string())
                .args([
                    "-sf",
                    &support::sipp::scenario("calls/transfer/provider_calls_in.xml")
                        .to_string_lossy(),
                ])
                .args(["-i", PROVIDER_IP, "-p", &provider_port.to_string()])
                .args(["-mp", &media_port])
                .args(["-s", "63869002", "-t", "u1", "-m", "1"])
                .args(["-timeout", &format!("{}s", phones::SIPP_TIMEOUT.as_secs())])
                .args(["-timeout_error", "-nostdin"])
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .output()
                .expect("sipp runs");
            (
                out.status.code() == Some(0),
                phones::tail(&String::from_utf8_lossy(&out.stdout)),
            )
        })
        .await
        .expect("provider task");
        let b = b.await.expect("callee task");
        let t = t.await.expect("target task");
        assert!(provider.0, "{backend:?}: provider: {}", provider.1);
        assert!(b.ok, "{backend:?}: callee 1002: {}", b.report);
        assert!(t.ok, "{backend:?}: target 2001: {}", t.report);
        let r = last_record(pbx).await;
        assert_eq!(r.disposition, Some(CallDisposition::Answered), "{r:?}");
        assert_eq!(r.caller_extension, None, "{r:?}");
        assert_eq!(r.caller_number, "22334455", "{r:?}");
        assert_eq!(r.callee_extension.as_deref(), Some("2001"), "{r:?}");
        assert_eq!(r.transfer_chain.len(), 1, "{r:?}");
        // The outside caller remains: still a call in through the provider, not an
        // internal call between sites.
        assert_eq!(r.direction, CallDirection::Inbound, "{r:?}");
        assert_eq!(r.trunk.as_deref(), Some("provider"), "{r:?}");
    })
    .await;
}
