//! An INVITE with Replaces from a local phone (RFC 3891 §3), with SIPp as the phones:
//! 1001 calls 1002's desk phone; another device of 1002 sends INVITE with Replaces
//! naming the desk phone's dialog. The PBX re-INVITEs 1001 with the new device's offer,
//! answers the new device, BYEs the desk phone, and the call goes on (RTP from the new
//! device reaches the call's relay) until the new device hangs up. A Replaces naming no
//! dialog gets 481, one from another extension 403 (RFC 3891 §6), one with `early-only`
//! for a confirmed dialog 486; the call is untouched by the refusals. A new device that
//! never ACKs our 200 is treated like a caller that never ACKs: when the ACK wait runs
//! out, both remaining dialogs get a BYE.

mod support;

#[path = "interop/calls/phones.rs"]
mod phones;

use billing::{CallDirection, CallDisposition};
use phones::{
    Phone, SippOutcome, last_record, logged_dialog, register, run_sipp, skip, spawn_sipp_with,
    wait_bound, wait_idle, wait_sipp,
};
use std::time::{Duration, Instant};
use support::pbx::{Backend, TestPbx, backends, start_pbx};

/// 1001 (`caller_scenario`) calls 1002's desk phone; once the call is answered (and
/// 1002 moved to site `moved_to`, if given), `phone` runs `scenario` with a Replaces
/// naming the desk phone's dialog (followed by `extra_params`). Returns the SIPp
/// outcomes of (`phone`, the caller, the desk phone).
async fn take_over(
    pbx: &TestPbx,
    caller_scenario: &'static str,
    phone: Phone,
    scenario: &'static str,
    extra_params: &str,
    moved_to: Option<&str>,
) -> [SippOutcome; 3] {
    let addr = pbx.udp;
    let caller = Phone::new("1001");
    let desk = Phone::new("1002");
    register(pbx, caller).await;
    register(pbx, desk).await;
    let desk_sipp = spawn_sipp_with(
        addr,
        "calls/replaces/desk_phone.xml",
        desk,
        "1002",
        &["-trace_logs".to_string()],
    );
    let desk_dir = desk_sipp.dir().to_path_buf();
    let desk_run = tokio::task::spawn_blocking(move || wait_sipp(desk_sipp));
    wait_bound(desk).await;
    let caller_run = tokio::spawn(run_sipp(addr, caller_scenario, caller, "1002"));
    let (call_id, pbx_tag, desk_tag) = logged_dialog(&desk_dir, "DIALOG ").await;
    // Let the call be answered before it is taken over.
    tokio::time::sleep(Duration::from_millis(800)).await;
    if let Some(site) = moved_to {
        move_extension(pbx, "1002", site).await;
    }
    // As the desk phone sees its dialog: to-tag is the PBX's, from-tag its own.
    let replaces = format!("{call_id};to-tag={pbx_tag};from-tag={desk_tag}{extra_params}");
    let other = tokio::task::spawn_blocking(move || {
        wait_sipp(spawn_sipp_with(
            addr,
            scenario,
            phone,
            "1001",
            &["-key".to_string(), "replaces".to_string(), replaces],
        ))
    });
    let s = other.await.expect("other device task");
    let a = caller_run.await.expect("caller task");
    let d = desk_run.await.expect("desk task");
    [s, a, d]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_device_takes_over_the_call_with_replaces() {
    if skip() {
        return;
    }
    for backend in backends() {
        let pbx = start_pbx(backend, pbx::PbxConfig::default()).await;
        let [s, a, d] = take_over(
            &pbx,
            "calls/replaces/caller_stays.xml",
            Phone::new("1002"),
            "calls/replaces/other_device.xml",
            "",
            None,
        )
        .await;
        assert!(s.ok, "{backend:?}: other device: {}", s.report);
        assert!(a.ok, "{backend:?}: caller: {}", a.report);
        assert!(d.ok, "{backend:?}: desk phone: {}", d.report);
        let r = last_record(&pbx).await;
        assert_eq!(r.disposition, Some(CallDisposition::Answered), "{r:?}");
        assert_eq!(r.caller_extension.as_deref(), Some("1001"));
        assert_eq!(r.callee_extension.as_deref(), Some("1002"));
        assert_eq!(r.sip_reason.as_deref(), Some("callee hung up"), "{r:?}");
        assert!(r.transfer_chain.is_empty(), "{r:?}");
        // The desk phone sent no RTP: what the callee leg counted came from the new device.
        assert!(
            r.callee_leg.as_ref().is_some_and(|l| l.packets > 20),
            "{r:?}"
        );
        wait_idle(&pbx).await;
        pbx.finish().await;
    }
}

/// Moves extension `number` to site `site` in the store and the running PBX, as the
/// admin UI does (its name, class and the rest unchanged).
async fn move_extension(pbx: &TestPbx, number: &str, site: &str) {
    let ext = pbx
        .server
        .ctx
        .directory
        .snapshot()
        .extension(number)
        .map(|e| (**e).clone())
        .expect("extension in the directory");
    pbx.store
        .update_extension(
            number,
            &store::ExtensionUpdate {
                display_name: ext.display_name,
                site: site.to_string(),
                department: None,
                class_of_service: ext.class_of_service,
                premium_allowed: ext.premium_allowed,
                enabled: ext.enabled,
            },
        )
        .await
        .expect("move extension");
    pbx.server
        .ctx
        .directory
        .reload(&pbx.store)
        .await
        .expect("reload directory");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_record_names_the_replacing_device_as_the_directory_has_it_now() {
    if skip() {
        return;
    }
    for backend in backends() {
        let pbx = start_pbx(backend, pbx::PbxConfig::default()).await;
        // 1002 sat at rådhus with 1001 when the call began (internal, same site); the
        // user has since moved to fjuk and takes the call over on the phone there.
        let [s, a, d] = take_over(
            &pbx,
            "calls/replaces/caller_stays.xml",
            Phone::new("1002"),
            "calls/replaces/other_device.xml",
            "",
            Some("fjuk"),
        )
        .await;
        assert!(s.ok, "{backend:?}: other device: {}", s.report);
        assert!(a.ok, "{backend:?}: caller: {}", a.report);
        assert!(d.ok, "{backend:?}: desk phone: {}", d.report);
        let r = last_record(&pbx).await;
        assert_eq!(r.disposition, Some(CallDisposition::Answered), "{r:?}");
        assert_eq!(r.callee_extension.as_deref(), Some("1002"), "{r:?}");
        assert_eq!(r.callee_site.as_deref(), Some("fjuk"), "{r:?}");
        assert_eq!(r.callee_department.as_deref(), Some("Dept fjuk"), "{r:?}");
        // Direction follows the parties that remain: 1001 at rådhus, 1002 now at fjuk.
        assert_eq!(r.direction, CallDirection::InternalOtherSite, "{r:?}");
        assert_eq!(r.trunk, None, "{r:?}");
        assert!(r.transfer_chain.is_empty(), "{r:?}");
        wait_idle(&pbx).await;
        pbx.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replacing_device_that_never_acks_is_hung_up_when_the_ack_wait_runs_out() {
    if skip() {
        return;
    }
    for backend in backends() {
        let mut config = pbx::PbxConfig::default();
        config.calls.ack_timeout = Duration::from_secs(3);
        let pbx = start_pbx(backend, config).await;
        let started = Instant::now();
        // The new device gets our 200 retransmitted, then a BYE; so does the caller, who
        // would otherwise stay in a call with nobody (the desk phone was BYEd already).
        let [s, a, d] = take_over(
            &pbx,
            "calls/replaces/caller_stays.xml",
            Phone::new("1002"),
            "calls/replaces/other_device_no_ack.xml",
            "",
            None,
        )
        .await;
        assert!(s.ok, "{backend:?}: other device: {}", s.report);
        assert!(a.ok, "{backend:?}: caller: {}", a.report);
        assert!(d.ok, "{backend:?}: desk phone: {}", d.report);
        assert!(
            started.elapsed() >= Duration::from_secs(3),
            "the BYEs came after the ACK wait"
        );
        let r = last_record(&pbx).await;
        // The call was talked on before the takeover: still an answered call.
        assert_eq!(r.disposition, Some(CallDisposition::Answered), "{r:?}");
        assert_eq!(
            r.sip_reason.as_deref(),
            Some("no ACK from the replacing device"),
            "{r:?}"
        );
        assert_eq!(r.callee_extension.as_deref(), Some("1002"), "{r:?}");
        wait_idle(&pbx).await;
        pbx.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replaces_naming_no_dialog_gets_481() {
    if skip() {
        return;
    }
    for backend in backends() {
        let pbx = start_pbx(backend, pbx::PbxConfig::default()).await;
        let phone = Phone::new("1002");
        let replaces = "no-such-call@127.0.0.1;to-tag=nobody;from-tag=nothing";
        let addr = pbx.udp;
        let out = tokio::task::spawn_blocking(move || {
            wait_sipp(spawn_sipp_with(
                addr,
                "calls/replaces/no_dialog.xml",
                phone,
                "1001",
                &[
                    "-key".to_string(),
                    "replaces".to_string(),
                    replaces.to_string(),
                ],
            ))
        })
        .await
        .expect("sipp task");
        assert!(out.ok, "{backend:?}: {}", out.report);
        assert_eq!(pbx.server.ctx.calls.count(), 0);
        wait_idle(&pbx).await;
        pbx.finish().await;
    }
}

/// 1001 calls 1002's desk phone; once answered, `phone` sends `scenario` with a
/// Replaces naming the desk phone's dialog (plus `extra_params`), which must be refused;
/// the call then goes on until 1001 hangs up.
async fn refused_replaces(
    backend: Backend,
    phone: Phone,
    scenario: &'static str,
    extra_params: &str,
) {
    let pbx = start_pbx(backend, pbx::PbxConfig::default()).await;
    let [out, a, d] = take_over(
        &pbx,
        "calls/caller_answered.xml",
        phone,
        scenario,
        extra_params,
        None,
    )
    .await;
    assert!(out.ok, "{backend:?}: replacing phone: {}", out.report);
    assert!(a.ok, "{backend:?}: caller: {}", a.report);
    assert!(d.ok, "{backend:?}: desk phone: {}", d.report);
    let r = last_record(&pbx).await;
    assert_eq!(r.callee_extension.as_deref(), Some("1002"), "{r:?}");
    assert_eq!(r.sip_reason.as_deref(), Some("caller hung up"), "{r:?}");
    wait_idle(&pbx).await;
    pbx.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_extension_cannot_take_over_a_call() {
    if skip() {
        return;
    }
    for backend in backends() {
        // 1003 knows the dialog but is not the party on it (RFC 3891 §6): 403.
        refused_replaces(
            backend,
            Phone::new("1003"),
            "calls/replaces/refused.xml",
            "",
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn early_only_replaces_of_a_confirmed_dialog_gets_486() {
    if skip() {
        return;
    }
    for backend in backends() {
        refused_replaces(
            backend,
            Phone::new("1002"),
            "calls/replaces/early_only.xml",
            ";early-only",
        )
        .await;
    }
}
