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
//! - 112: always routed, whatever the transferor's class of service and however full
//!   the trunk; the provider sees the site's number and address; the record says
//!   emergency.

mod support;

#[path = "interop/calls/phones.rs"]
mod phones;

use billing::{CallDirection, CallDisposition};
use phones::{
    Phone, on_each_backend, register, run_sipp, spawn_sipp_with, wait_bound, wait_sipp_logs,
};
use std::net::UdpSocket;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use store::{NewTrunk, Secret, StoredCallRecord, TransferKind, TrunkTransport};
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
