//! Transfers that reach outside through the trunk, with SIPp as the phones (127.0.0.1)
//! and as the provider (127.0.0.2, challenging every INVITE with 407 as
//! tests/pbx_trunk.rs's provider does).
//!
//! - Blind: 1001 calls 1002, which REFERs the call to an outside number. The PBX routes
//!   it as if 1002 dialled it and calls the provider as an ordinary call out from 1002
//!   (its direct number as From and P-Asserted-Identity, the trunk account answering
//!   the 407); the record ends between 1001 and the outside number, outbound on the
//!   trunk, with the transfer step.
//! - A full trunk: the final NOTIFY says 503 and the call between 1001 and 1002 stays.
//! - A number the transferor may not call (premium): the REFER gets the dial plan's 403.
//!   An outside caller may not send its call out at all, not even to 112: 403.
//! - 112: always routed, whatever the transferor's class of service and however full
//!   the trunk; the provider sees the site's number and address; the record says
//!   emergency.
//! - Attended: 1002 consults an outside number from a second line and REFERs 1001 to it
//!   with Replaces: the outside party (and its trunk channel, the only one) moves into
//!   1001's call. And the other way round: 1002 called the outside number, holds it,
//!   consults 2001 from a second line and REFERs there with Replaces naming the first
//!   call: the outside party (and its channel) moves into the consultation call. The
//!   channel is counted exactly once the whole time.

mod support;

#[path = "interop/calls/phones.rs"]
mod phones;

use billing::{CallDirection, CallDisposition};
use phones::{
    Phone, SippOutcome, completed_records, logged_dialog, on_each_backend, register, run_sipp,
    spawn_sipp, spawn_sipp_with, uri_escape, wait_bound, wait_sipp, wait_sipp_logs,
};
use std::net::UdpSocket;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use store::{CallFilter, NewTrunk, Secret, StoredCallRecord, TransferKind, TrunkTransport};
use support::pbx::TestPbx;

/// The provider's address: the trunk's only allowed source.
const PROVIDER_IP: &str = "127.0.0.2";

/// DIDs 63869000-63869399 are rådhus's extensions 1000-1399 (1002's own number, shown to
/// the provider, is 63869002).
fn config() -> pbx::PbxConfig {
    let mut c = pbx::PbxConfig::default();
    c.calls.ring_timeout = Duration::from_secs(5);
    c.dial_plan.did_mappings = vec![pbx::dial_plan::DidMapping {
        first: "63869000".into(),
        last: "63869399".into(),
        target: pbx::dial_plan::DidTarget::Offset {
            extension_first: "1000".into(),
        },
    }];
    c
}

fn free_provider_port() -> u16 {
    UdpSocket::bind((PROVIDER_IP, 0))
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("free port on the provider address")
}

/// What a SIPp provider run left: whether it got through, a report, its `<log>` lines.
struct ProviderRun {
    ok: bool,
    report: String,
    log: String,
}

/// SIPp as the provider's UAS on 127.0.0.2:`port` for one call, in the background; it
/// has bound its port when this returns.
async fn spawn_provider(scenario: &str, port: u16) -> tokio::task::JoinHandle<ProviderRun> {
    let path = support::sipp::scenario(scenario);
    let media_port = phones::free_port_pair().to_string();
    let run = tokio::task::spawn_blocking(move || {
        let work = tempfile::tempdir().expect("temp dir");
        let err = work.path().join("errors.log");
        let log = work.path().join("provider.log");
        let out = Command::new("sipp")
            .current_dir(work.path())
            .args(["-sf", &path.to_string_lossy()])
            .args(["-i", PROVIDER_IP, "-p", &port.to_string()])
            .args(["-mp", &media_port])
            .args(["-t", "u1", "-m", "1"])
            .args(["-timeout", &format!("{}s", phones::SIPP_TIMEOUT.as_secs())])
            .args(["-timeout_error", "-nostdin", "-trace_err", "-trace_logs"])
            .args(["-error_file", &err.to_string_lossy()])
            .args(["-log_file", &log.to_string_lossy()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .expect("sipp runs");
        let log = std::fs::read_to_string(&log).unwrap_or_default();
        ProviderRun {
            ok: out.status.code() == Some(0),
            report: format!(
                "exited {:?}\n--- stdout\n{}\n--- errors\n{}\n--- log\n{log}",
                out.status.code(),
                phones::tail(&String::from_utf8_lossy(&out.stdout)),
                std::fs::read_to_string(&err).unwrap_or_default(),
            ),
            log,
        }
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    while UdpSocket::bind((PROVIDER_IP, port)).is_ok() {
        assert!(Instant::now() < deadline, "the provider never bound {port}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    run
}

/// The provider as the only trunk, with its account (sorum) and `channel_limit`.
async fn add_trunk(pbx: &TestPbx, port: u16, channel_limit: Option<u32>) -> store::Trunk {
    pbx.add_trunk(&NewTrunk {
        name: "provider".into(),
        host: PROVIDER_IP.into(),
        port,
        transport: TrunkTransport::Udp,
        username: Some("sorum".into()),
        secret: Some(Secret::new("hemmelig")),
        register: false,
        channel_limit,
        allowed_sources: vec![PROVIDER_IP.into()],
        enabled: true,
    })
    .await
}

/// 1001 calls `transferor`, which answers and runs `scenario` REFERring the call to
/// `transfer_to`; 1001 talks for 2.5 s and hangs up. Both phones must get through their
/// scenarios; returns the record and what the transferor's scenario logged.
async fn blind_transfer(
    pbx: &TestPbx,
    transferor: &'static str,
    scenario: &'static str,
    transfer_to: &str,
) -> (StoredCallRecord, String) {
    let backend = pbx.backend;
    let caller = Phone::new("1001");
    let callee = Phone::new(transferor);
    register(pbx, caller).await;
    register(pbx, callee).await;
    let addr = pbx.udp;
    let extra = vec![
        "-trace_logs".to_string(),
        "-key".to_string(),
        "transfer_to".to_string(),
        transfer_to.to_string(),
    ];
    let b = tokio::task::spawn_blocking(move || {
        wait_sipp_logs(spawn_sipp_with(
            addr,
            scenario,
            callee,
            callee.number,
            &extra,
        ))
    });
    wait_bound(callee).await;
    let a = run_sipp(addr, "calls/caller_answered.xml", caller, transferor).await;
    let (b, logged) = b.await.expect("transferor task");
    assert!(b.ok, "{backend:?}: transferor {transferor}: {}", b.report);
    assert!(a.ok, "{backend:?}: caller 1001: {}", a.report);
    (phones::last_record(pbx).await, logged)
}

fn check_line(log: &str) -> &str {
    log.lines()
        .find(|l| l.contains("CHECK "))
        .unwrap_or_else(|| panic!("no CHECK line in {log}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blind_transfer_to_an_outside_number_goes_out_as_a_call_from_the_transferor() {
    on_each_backend(config, async |pbx: &TestPbx| {
        let backend = pbx.backend;
        let port = free_provider_port();
        let provider = spawn_provider("trunk/provider_invite.xml", port).await;
        let trunk = add_trunk(pbx, port, Some(2)).await;
        let (r, _) = blind_transfer(
            pbx,
            "1002",
            "calls/transfer/transferor_refers.xml",
            "22334455",
        )
        .await;
        let prov = provider.await.expect("provider task");
        // provider_invite.xml fails unless the retried INVITE answered its 407.
        assert!(prov.ok, "{backend:?}: provider: {}", prov.report);
        let line = check_line(&prov.log);
        assert!(line.contains("dialled=22334455"), "{line}");
        // As 1002's own call out would present itself: its direct number.
        assert!(
            line.contains("from=63869002") && line.contains("pai=63869002"),
            "{line}"
        );
        assert_eq!(r.disposition, Some(CallDisposition::Answered), "{r:?}");
        assert_eq!(r.caller_extension.as_deref(), Some("1001"), "{r:?}");
        assert_eq!(r.callee_extension, None, "{r:?}");
        assert_eq!(r.callee_number, "22334455", "{r:?}");
        assert_eq!(r.callee_site, None, "{r:?}");
        // From the transfer on, 1001 talks to the outside through the trunk: rated so.
        assert_eq!(r.direction, CallDirection::Outbound, "{r:?}");
        assert_eq!(r.trunk.as_deref(), Some("provider"), "{r:?}");
        assert_eq!(r.sip_reason.as_deref(), Some("caller hung up"), "{r:?}");
        assert_eq!(r.transfer_chain.len(), 1, "{r:?}");
        let step = &r.transfer_chain[0];
        assert_eq!(step.kind, TransferKind::Blind);
        assert_eq!((step.by.as_str(), step.to.as_str()), ("1002", "22334455"));
        phones::wait_idle(pbx).await;
        assert_eq!(pbx.server.ctx.trunks.channels_in_use(trunk.id), 0);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blind_transfer_out_on_a_full_trunk_is_notified_and_the_call_stays() {
    on_each_backend(config, async |pbx: &TestPbx| {
        // No channel at all for ordinary calls; no provider is needed, none is asked.
        let trunk = add_trunk(pbx, free_provider_port(), Some(0)).await;
        let (r, logged) = blind_transfer(
            pbx,
            "1002",
            "calls/transfer/transferor_refused.xml",
            "22334455",
        )
        .await;
        assert!(
            logged.contains("FINAL SIP/2.0 503 Trunk channels busy"),
            "{logged}"
        );
        assert_eq!(r.disposition, Some(CallDisposition::Answered), "{r:?}");
        assert_eq!(r.callee_extension.as_deref(), Some("1002"), "{r:?}");
        assert_eq!(r.direction, CallDirection::InternalSameSite, "{r:?}");
        assert_eq!(r.trunk, None, "{r:?}");
        assert!(r.transfer_chain.is_empty(), "{r:?}");
        assert_eq!(r.sip_reason.as_deref(), Some("caller hung up"), "{r:?}");
        phones::wait_idle(pbx).await;
        assert_eq!(pbx.server.ctx.trunks.channels_in_use(trunk.id), 0);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blind_transfer_to_a_number_the_transferor_may_not_call_is_refused_by_the_dial_plan() {
    on_each_backend(config, async |pbx: &TestPbx| {
        // The trunk is there and has room; 1002 (national, no premium access) may not
        // call a premium number, so nor may it send a call there.
        let trunk = add_trunk(pbx, free_provider_port(), None).await;
        let (r, logged) =
            blind_transfer(pbx, "1002", "calls/transfer/refer_refused.xml", "82912345").await;
        let refusal = logged
            .lines()
            .find(|l| l.contains("REFUSED "))
            .unwrap_or_else(|| panic!("no REFUSED line in {logged}"));
        // The dial plan's own status and reason, as for 1002 dialling it.
        assert!(
            refusal.contains("SIP/2.0 403") && refusal.contains("not allowed for class of service"),
            "{refusal}"
        );
        assert_eq!(r.callee_extension.as_deref(), Some("1002"), "{r:?}");
        assert_eq!(r.direction, CallDirection::InternalSameSite, "{r:?}");
        assert_eq!(r.trunk, None, "{r:?}");
        assert!(r.transfer_chain.is_empty(), "{r:?}");
        phones::wait_idle(pbx).await;
        assert_eq!(pbx.server.ctx.trunks.channels_in_use(trunk.id), 0);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blind_transfer_to_112_is_always_routed_with_the_site_identity() {
    on_each_backend(config, async |pbx: &TestPbx| {
        let backend = pbx.backend;
        let port = free_provider_port();
        let provider = spawn_provider("trunk/provider_invite.xml", port).await;
        // Channel limit 0 and 1003 internal-only: neither stops an emergency call.
        let trunk = add_trunk(pbx, port, Some(0)).await;
        let (r, _) =
            blind_transfer(pbx, "1003", "calls/transfer/transferor_refers.xml", "112").await;
        let prov = provider.await.expect("provider task");
        assert!(prov.ok, "{backend:?}: provider: {}", prov.report);
        let line = check_line(&prov.log);
        assert!(line.contains("dialled=112"), "{line}");
        // Rådhus's main number and street address, as for 1003 dialling 112 itself.
        assert!(
            line.contains("from=63869000") && line.contains("pai=63869000"),
            "{line}"
        );
        assert!(line.contains("1920"), "site address as location: {line}");
        assert_eq!(r.disposition, Some(CallDisposition::Answered), "{r:?}");
        assert_eq!(r.callee_number, "112", "{r:?}");
        assert_eq!(r.callee_extension, None, "{r:?}");
        assert_eq!(r.direction, CallDirection::Emergency, "{r:?}");
        assert_eq!(r.trunk.as_deref(), Some("provider"), "{r:?}");
        assert_eq!(r.transfer_chain.len(), 1, "{r:?}");
        let step = &r.transfer_chain[0];
        assert_eq!((step.by.as_str(), step.to.as_str()), ("1003", "112"));
        phones::wait_idle(pbx).await;
        assert_eq!(pbx.server.ctx.trunks.channels_in_use(trunk.id), 0);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outside_caller_cannot_transfer_its_call_out_not_even_to_112() {
    on_each_backend(config, async |pbx: &TestPbx| {
        let backend = pbx.backend;
        // The dial plan routes 112 for anyone; a REFER from the outside party must not
        // make Sentral place calls on its trunk (here an emergency call) for it.
        let port = free_provider_port();
        let trunk = add_trunk(pbx, port, None).await;
        let callee = Phone::new("1002");
        register(pbx, callee).await;
        let addr = pbx.udp;
        let b = tokio::task::spawn_blocking(move || {
            wait_sipp(phones::spawn_sipp(
                addr,
                "calls/callee_answers.xml",
                callee,
                callee.number,
            ))
        });
        wait_bound(callee).await;
        let media_port = phones::free_port_pair().to_string();
        let provider = tokio::task::spawn_blocking(move || {
            let work = tempfile::tempdir().expect("temp dir");
            let out = Command::new("sipp")
                .current_dir(work.path())
                .arg(addr.to_string())
                .args([
                    "-sf",
                    &support::sipp::scenario("calls/transfer/provider_refers_out.xml")
                        .to_string_lossy(),
                ])
                .args(["-i", PROVIDER_IP, "-p", &port.to_string()])
                .args(["-mp", &media_port])
                .args(["-s", "63869002", "-key", "transfer_to", "112"])
                .args(["-t", "u1", "-m", "1"])
                .args(["-timeout", &format!("{}s", phones::SIPP_TIMEOUT.as_secs())])
                .args(["-timeout_error", "-nostdin"])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
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
        assert!(provider.0, "{backend:?}: provider: {}", provider.1);
        assert!(b.ok, "{backend:?}: callee 1002: {}", b.report);
        let r = phones::last_record(pbx).await;
        assert_eq!(r.disposition, Some(CallDisposition::Answered), "{r:?}");
        assert_eq!(r.caller_number, "22334455", "{r:?}");
        assert_eq!(r.callee_extension.as_deref(), Some("1002"), "{r:?}");
        assert_eq!(r.direction, CallDirection::Inbound, "{r:?}");
        assert!(r.transfer_chain.is_empty(), "{r:?}");
        phones::wait_idle(pbx).await;
        assert_eq!(pbx.server.ctx.trunks.channels_in_use(trunk.id), 0);
        let calls = pbx
            .store
            .call_records(&CallFilter::default())
            .await
            .expect("records");
        assert_eq!(calls.len(), 1, "no other call was placed: {calls:?}");
    })
    .await;
}

/// Samples (channels in use on a trunk, calls in progress) every 10 ms, in that order:
/// a call is unregistered before its channel is freed, so a sample with a call in
/// progress and no channel means a channel was lost on the way.
struct ChannelWatch {
    trunk: store::TrunkId,
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<Vec<(u32, usize)>>,
}

fn watch_channels(pbx: &TestPbx, trunk: store::TrunkId) -> ChannelWatch {
    let stop = Arc::new(AtomicBool::new(false));
    let ctx = pbx.server.ctx.clone();
    let task = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut samples = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let channels = ctx.trunks.channels_in_use(trunk);
                samples.push((channels, ctx.calls.count()));
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            samples
        })
    };
    ChannelWatch { trunk, stop, task }
}

impl ChannelWatch {
    /// Stops sampling (once the PBX is idle) and checks that the one outside party's
    /// channel was counted exactly once whenever a call was up, whichever call held
    /// it, and freed at the end.
    async fn one_channel_throughout(self, pbx: &TestPbx) {
        self.stop.store(true, Ordering::Relaxed);
        let samples = self.task.await.expect("watcher");
        let backend = pbx.backend;
        assert_eq!(
            pbx.server.ctx.trunks.channels_in_use(self.trunk),
            0,
            "{backend:?}: the channel is freed at the end"
        );
        assert!(
            samples.iter().any(|&(_, calls)| calls == 2),
            "{backend:?}: both calls were seen: {samples:?}"
        );
        assert!(
            samples
                .iter()
                .all(|&(channels, calls)| channels <= 1 && (calls == 0 || channels == 1)),
            "{backend:?}: (channels, calls) samples: {samples:?}"
        );
    }
}

fn blocking(s: phones::Sipp) -> tokio::task::JoinHandle<SippOutcome> {
    tokio::task::spawn_blocking(move || wait_sipp(s))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attended_transfer_to_a_consulted_outside_party_moves_it_with_its_channel() {
    on_each_backend(config, async |pbx: &TestPbx| {
        let backend = pbx.backend;
        let addr = pbx.udp;
        let port = free_provider_port();
        let provider = spawn_provider("trunk/provider_consulted.xml", port).await;
        // One channel: the consultation takes it, and the spliced call must keep it.
        let trunk = add_trunk(pbx, port, Some(1)).await;
        let caller = Phone::new("1001");
        let desk = Phone::new("1002");
        let second_line = Phone::new("1002");
        register(pbx, caller).await;
        register(pbx, desk).await;

        let watch = watch_channels(pbx, trunk.id);

        let consult = spawn_sipp_with(
            addr,
            "calls/attended/consult.xml",
            second_line,
            "22334455",
            &["-trace_logs".to_string()],
        );
        let (call_id, pbx_tag, our_tag) = logged_dialog(consult.dir(), "REPLACES ").await;
        let consult_run = blocking(consult);
        let replaces = format!("{call_id};to-tag={pbx_tag};from-tag={our_tag}");
        let refer_to = format!("sip:22334455@{addr}?Replaces={}", uri_escape(&replaces));
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
        let prov = provider.await.expect("provider task");
        assert!(b.ok, "{backend:?}: transferor: {}", b.report);
        assert!(b2.ok, "{backend:?}: consultation: {}", b2.report);
        assert!(prov.ok, "{backend:?}: provider: {}", prov.report);
        assert!(a.ok, "{backend:?}: transferee: {}", a.report);

        let recs = completed_records(pbx, 2).await;
        phones::wait_idle(pbx).await;
        watch.one_channel_throughout(pbx).await;

        let first = recs
            .iter()
            .find(|r| r.caller_extension.as_deref() == Some("1001"))
            .expect("the transferred call's record");
        let consultation = recs
            .iter()
            .find(|r| r.caller_extension.as_deref() == Some("1002"))
            .expect("the consultation call's record");
        // 1001 ends up talking to the outside party: outbound on the trunk from then on.
        assert_eq!(
            first.disposition,
            Some(CallDisposition::Answered),
            "{first:?}"
        );
        assert_eq!(first.callee_extension, None, "{first:?}");
        assert_eq!(first.callee_number, "22334455", "{first:?}");
        assert_eq!(first.direction, CallDirection::Outbound, "{first:?}");
        assert_eq!(first.trunk.as_deref(), Some("provider"), "{first:?}");
        assert_eq!(
            first.sip_reason.as_deref(),
            Some("caller hung up"),
            "{first:?}"
        );
        assert_eq!(first.transfer_chain.len(), 1, "{first:?}");
        let step = &first.transfer_chain[0];
        assert_eq!(step.kind, TransferKind::Attended);
        assert_eq!((step.by.as_str(), step.to.as_str()), ("1002", "22334455"));
        // The provider sent RTP only after the splice: it reached this call's relay.
        let callee_rtp = first.callee_leg.as_ref().map_or(0, |l| l.packets);
        assert!(callee_rtp > 20, "{backend:?}: provider RTP: {first:?}");
        // The consultation was a call out and ended at the transfer.
        assert_eq!(consultation.direction, CallDirection::Outbound);
        assert_eq!(consultation.trunk.as_deref(), Some("provider"));
        assert_eq!(consultation.callee_number, "22334455");
        assert_eq!(
            consultation.sip_reason.as_deref(),
            Some("attended transfer"),
            "{consultation:?}"
        );
        let step = &consultation.transfer_chain[..];
        assert_eq!(step.len(), 1, "{consultation:?}");
        assert_eq!((step[0].by.as_str(), step[0].to.as_str()), ("1002", "1001"));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attended_transfer_moves_an_outside_party_called_out_into_the_consultation_call() {
    on_each_backend(config, async |pbx: &TestPbx| {
        let backend = pbx.backend;
        let addr = pbx.udp;
        let port = free_provider_port();
        let provider = spawn_provider("trunk/provider_held_then_moved.xml", port).await;
        // One channel: the first call takes it, and the consultation call must keep it.
        let trunk = add_trunk(pbx, port, Some(1)).await;
        let desk = Phone::new("1002");
        let second_line = Phone::new("1002");
        let target = Phone::new("2001");
        register(pbx, target).await;
        let watch = watch_channels(pbx, trunk.id);

        // 2001 answers the consultation and, once the outside party is put through,
        // talks to it and hangs up after 4 s.
        let target_run = blocking(spawn_sipp(
            addr,
            "calls/transfer/transferee_hangs_up.xml",
            target,
            "2001",
        ));
        wait_bound(target).await;
        let desk_sipp = spawn_sipp_with(
            addr,
            "calls/attended/caller_holds.xml",
            desk,
            "22334455",
            &["-trace_logs".to_string()],
        );
        let (call_id, pbx_tag, desk_tag) = logged_dialog(desk_sipp.dir(), "DIALOG ").await;
        let desk_run = blocking(desk_sipp);
        // The desk phone holds the outside party before the second line calls.
        tokio::time::sleep(Duration::from_millis(800)).await;
        let replaces = format!("{call_id};to-tag={pbx_tag};from-tag={desk_tag}");
        let refer_to = format!("sip:22334455@{addr}?Replaces={}", uri_escape(&replaces));
        let consult = run_blocking(spawn_sipp_with(
            addr,
            "calls/attended/consult_refers.xml",
            second_line,
            "2001",
            &["-key".to_string(), "refer_to".to_string(), refer_to],
        ))
        .await;
        let d = desk_run.await.expect("desk task");
        let t = target_run.await.expect("target task");
        let prov = provider.await.expect("provider task");
        assert!(consult.ok, "{backend:?}: second line: {}", consult.report);
        assert!(d.ok, "{backend:?}: desk phone: {}", d.report);
        assert!(t.ok, "{backend:?}: target: {}", t.report);
        assert!(prov.ok, "{backend:?}: provider: {}", prov.report);

        let recs = completed_records(pbx, 2).await;
        phones::wait_idle(pbx).await;
        watch.one_channel_throughout(pbx).await;

        let first = recs
            .iter()
            .find(|r| r.callee_number == "22334455")
            .expect("the first call's record");
        let consultation = recs
            .iter()
            .find(|r| r.callee_extension.as_deref() == Some("2001"))
            .expect("the consultation call's record");
        // The call out handed its outside party over and ended.
        assert_eq!(first.caller_extension.as_deref(), Some("1002"), "{first:?}");
        assert_eq!(first.direction, CallDirection::Outbound, "{first:?}");
        assert_eq!(first.trunk.as_deref(), Some("provider"), "{first:?}");
        assert_eq!(
            first.sip_reason.as_deref(),
            Some("attended transfer"),
            "{first:?}"
        );
        let step = &first.transfer_chain[..];
        assert_eq!(step.len(), 1, "{first:?}");
        assert_eq!((step[0].by.as_str(), step[0].to.as_str()), ("1002", "2001"));
        // The consultation call went on between the outside party and 2001: it began
        // between sites inside the municipality and ends as a call out on the trunk.
        assert_eq!(
            consultation.disposition,
            Some(CallDisposition::Answered),
            "{consultation:?}"
        );
        assert_eq!(consultation.caller_extension, None, "{consultation:?}");
        assert_eq!(consultation.caller_number, "22334455", "{consultation:?}");
        assert_eq!(consultation.caller_site, None, "{consultation:?}");
        assert_eq!(
            consultation.direction,
            CallDirection::Outbound,
            "{consultation:?}"
        );
        assert_eq!(
            consultation.trunk.as_deref(),
            Some("provider"),
            "{consultation:?}"
        );
        assert_eq!(
            consultation.sip_reason.as_deref(),
            Some("callee hung up"),
            "{consultation:?}"
        );
        let step = &consultation.transfer_chain[..];
        assert_eq!(step.len(), 1, "{consultation:?}");
        assert_eq!(step[0].kind, TransferKind::Attended);
        assert_eq!(
            (step[0].by.as_str(), step[0].to.as_str()),
            ("1002", "22334455")
        );
        // The provider sent RTP only once moved: it reached the consultation's relay.
        let moved_rtp = consultation.caller_leg.as_ref().map_or(0, |l| l.packets);
        assert!(moved_rtp > 20, "{backend:?}: {consultation:?}");
    })
    .await;
}

async fn run_blocking(s: phones::Sipp) -> SippOutcome {
    blocking(s).await.expect("sipp task")
}
