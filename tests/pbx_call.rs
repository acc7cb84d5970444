//! Calls through the B2BUA with SIPp as the phones: both register with digest, the caller
//! authenticates its INVITE (407) and the callee answers, is busy, rings out, is
//! cancelled or is not registered. RTP from a pcap goes both ways through the relay.
//! Every call must leave a complete, correct call record.

mod support;

use billing::{CallDirection, CallDisposition};
use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use store::{CallFilter, StoredCallRecord};
use support::pbx::{TestPbx, backends, password, start_pbx};
use support::sipp::{scenario, sipp_available};

/// Every SIPp run is bounded by this (`-timeout`), so nothing hangs.
const SIPP_TIMEOUT: Duration = Duration::from_secs(30);

/// A SIPp phone: its extension, SIP port and RTP port.
#[derive(Clone, Copy, Debug)]
struct Phone {
    number: &'static str,
    sip_port: u16,
    media_port: u16,
}

/// A free UDP port (even, with the next three free too: RTP, RTCP, video RTP/RTCP), above the test
/// relay's range (30000-39999) so a phone never takes a port the relay is about to use.
fn free_port_pair() -> u16 {
    for _ in 0..2000 {
        let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let p = s.local_addr().expect("addr").port();
        if p % 2 == 0 && p >= 40000 && p < 65534 && UdpSocket::bind(("127.0.0.1", p + 1)).is_ok() {
            return p;
        }
    }
    panic!("no free port pair");
}

impl Phone {
    fn new(number: &'static str) -> Phone {
        let sip_port = free_port_pair();
        let mut media_port = free_port_pair();
        while media_port == sip_port {
            media_port = free_port_pair();
        }
        Phone {
            number,
            sip_port,
            media_port,
        }
    }
}

struct Sipp {
    child: Child,
    dir: tempfile::TempDir,
    what: String,
}

struct SippOutcome {
    ok: bool,
    report: String,
}

/// Starts SIPp as `phone` running `scenario` against the PBX. `service` is the
/// Request-URI user (the callee when calling).
fn spawn_sipp(pbx: SocketAddr, scenario_rel: &str, phone: Phone, service: &str) -> Sipp {
    let dir = tempfile::tempdir().expect("temp dir");
    let err_file = dir.path().join("errors.log");
    let path = scenario(scenario_rel);
    let child = Command::new("sipp")
        .current_dir(dir.path())
        .arg(pbx.to_string())
        .args(["-sf", &path.to_string_lossy()])
        .args(["-t", "u1", "-i", "127.0.0.1"])
        .args(["-p", &phone.sip_port.to_string()])
        .args(["-mp", &phone.media_port.to_string()])
        .args(["-m", "1"])
        .args(["-timeout", &format!("{}s", SIPP_TIMEOUT.as_secs())])
        .args(["-timeout_error", "-nostdin", "-trace_err"])
        .args(["-error_file", &err_file.to_string_lossy()])
        .args(["-s", service])
        .args(["-au", phone.number, "-ap", password(phone.number)])
        .args(["-key", "caller", phone.number])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sipp runs (scripts/test installs sip-tester)");
    Sipp {
        child,
        dir,
        what: format!("{} as {}", scenario_rel, phone.number),
    }
}

fn wait_sipp(s: Sipp) -> SippOutcome {
    let out = s.child.wait_with_output().expect("sipp output");
    let errors = std::fs::read_to_string(s.dir.path().join("errors.log")).unwrap_or_default();
    SippOutcome {
        ok: out.status.code() == Some(0),
        report: format!(
            "{} exited {:?}\n--- stdout\n{}\n--- stderr\n{}\n--- errors\n{}",
            s.what,
            out.status.code(),
            tail(&String::from_utf8_lossy(&out.stdout)),
            String::from_utf8_lossy(&out.stderr),
            errors
        ),
    }
}

fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

async fn run_sipp(
    pbx: SocketAddr,
    scenario_rel: &'static str,
    phone: Phone,
    service: &'static str,
) -> SippOutcome {
    tokio::task::spawn_blocking(move || wait_sipp(spawn_sipp(pbx, scenario_rel, phone, service)))
        .await
        .expect("sipp task")
}

async fn register(pbx: &TestPbx, phone: Phone) {
    let out = run_sipp(pbx.udp, "calls/register.xml", phone, phone.number).await;
    assert!(
        out.ok,
        "{:?}: register {}: {}",
        pbx.backend, phone.number, out.report
    );
}

/// Runs the callee's scenario in the background and the caller's in the foreground.
async fn call(
    pbx: &TestPbx,
    caller: Phone,
    caller_scenario: &'static str,
    callee: Option<(Phone, &'static str)>,
    dialled: &'static str,
) -> (SippOutcome, Option<SippOutcome>) {
    let uas = callee.map(|(phone, sc)| {
        let target = pbx.udp;
        tokio::task::spawn_blocking(move || wait_sipp(spawn_sipp(target, sc, phone, phone.number)))
    });
    // Let the callee's SIPp bind its port before the INVITE comes.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let uac = run_sipp(pbx.udp, caller_scenario, caller, dialled).await;
    let uas = match uas {
        Some(h) => Some(h.await.expect("callee task")),
        None => None,
    };
    (uac, uas)
}

/// The newest call record once it is complete.
async fn last_record(pbx: &TestPbx) -> StoredCallRecord {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let recs = pbx
            .store
            .call_records(&CallFilter {
                limit: Some(1),
                ..CallFilter::default()
            })
            .await
            .expect("records");
        if let Some(r) = recs.into_iter().next()
            && r.ended_at.is_some()
        {
            return r;
        }
        assert!(
            Instant::now() < deadline,
            "{:?}: no completed call record",
            pbx.backend
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn wait_idle(pbx: &TestPbx) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while pbx.server.ctx.calls.count() > 0 || pbx.server.ctx.relay.stats().sessions > 0 {
        assert!(
            Instant::now() < deadline,
            "{:?}: calls or media sessions left over",
            pbx.backend
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn skip() -> bool {
    if !sipp_available() {
        eprintln!("sipp not installed: skipped (scripts/test installs sip-tester)");
        return true;
    }
    !Path::new("/usr/share/sip-tester/g711a.pcap").exists() && {
        eprintln!("sip-tester pcap files missing: skipped");
        true
    }
}

fn config() -> pbx::PbxConfig {
    let mut c = pbx::PbxConfig::default();
    c.calls.ring_timeout = Duration::from_secs(2);
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answered_call_carries_rtp_both_ways_and_is_recorded() {
    if skip() {
        return;
    }
    for backend in backends() {
        let pbx = start_pbx(backend, config()).await;
        let caller = Phone::new("1001");
        let callee = Phone::new("1002");
        register(&pbx, callee).await;
        register(&pbx, caller).await;
        let mut events = pbx.server.ctx.events.subscribe();
        let started = Instant::now();
        let (uac, uas) = call(
            &pbx,
            caller,
            "calls/caller_answered.xml",
            Some((callee, "calls/callee_answers.xml")),
            "1002",
        )
        .await;
        let elapsed = started.elapsed();
        assert!(uac.ok, "{backend:?}: caller: {}", uac.report);
        let uas = uas.expect("callee ran");
        assert!(uas.ok, "{backend:?}: callee: {}", uas.report);
        let r = last_record(&pbx).await;
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
        wait_idle(&pbx).await;
        pbx.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busy_callee_gives_486_and_a_busy_record() {
    if skip() {
        return;
    }
    for backend in backends() {
        let pbx = start_pbx(backend, config()).await;
        let caller = Phone::new("1001");
        let callee = Phone::new("2001");
        register(&pbx, callee).await;
        let (uac, uas) = call(
            &pbx,
            caller,
            "calls/caller_busy.xml",
            Some((callee, "calls/callee_busy.xml")),
            "2001",
        )
        .await;
        assert!(uac.ok, "{backend:?}: caller: {}", uac.report);
        assert!(uas.expect("callee ran").ok, "{backend:?}: callee");
        let r = last_record(&pbx).await;
        assert_eq!(r.disposition, Some(CallDisposition::Busy), "{r:?}");
        assert_eq!(r.direction, CallDirection::InternalOtherSite);
        assert_eq!(r.sip_code, Some(486));
        assert_eq!(r.callee_site.as_deref(), Some("fjuk"));
        assert!(r.answered_at.is_none());
        assert_eq!(r.talk_seconds, 0);
        wait_idle(&pbx).await;
        pbx.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unanswered_call_times_out_with_480() {
    if skip() {
        return;
    }
    for backend in backends() {
        let pbx = start_pbx(backend, config()).await;
        let caller = Phone::new("1001");
        let callee = Phone::new("1002");
        register(&pbx, callee).await;
        let started = Instant::now();
        let (uac, uas) = call(
            &pbx,
            caller,
            "calls/caller_unavailable.xml",
            Some((callee, "calls/callee_rings.xml")),
            "1002",
        )
        .await;
        assert!(uac.ok, "{backend:?}: caller: {}", uac.report);
        let uas = uas.expect("callee ran");
        assert!(uas.ok, "{backend:?}: callee: {}", uas.report);
        let r = last_record(&pbx).await;
        assert_eq!(r.disposition, Some(CallDisposition::NoAnswer), "{r:?}");
        assert_eq!(r.sip_code, Some(480));
        assert!(started.elapsed() >= Duration::from_secs(2));
        wait_idle(&pbx).await;
        pbx.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caller_cancel_cancels_the_callee_and_is_recorded() {
    if skip() {
        return;
    }
    for backend in backends() {
        let pbx = start_pbx(backend, config()).await;
        let caller = Phone::new("1001");
        let callee = Phone::new("1002");
        register(&pbx, callee).await;
        let (uac, uas) = call(
            &pbx,
            caller,
            "calls/caller_cancel.xml",
            Some((callee, "calls/callee_rings.xml")),
            "1002",
        )
        .await;
        assert!(uac.ok, "{backend:?}: caller: {}", uac.report);
        let uas = uas.expect("callee ran");
        assert!(uas.ok, "{backend:?}: callee: {}", uas.report);
        let r = last_record(&pbx).await;
        assert_eq!(r.disposition, Some(CallDisposition::Cancelled), "{r:?}");
        assert_eq!(r.sip_code, Some(487));
        wait_idle(&pbx).await;
        pbx.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unregistered_callee_gives_480() {
    if skip() {
        return;
    }
    for backend in backends() {
        let pbx = start_pbx(backend, config()).await;
        let caller = Phone::new("1001");
        let (uac, _) = call(&pbx, caller, "calls/caller_unavailable.xml", None, "1003").await;
        assert!(uac.ok, "{backend:?}: caller: {}", uac.report);
        let r = last_record(&pbx).await;
        assert_eq!(r.disposition, Some(CallDisposition::Failed), "{r:?}");
        assert_eq!(r.sip_code, Some(480));
        assert_eq!(r.callee_extension.as_deref(), Some("1003"));
        assert!(r.caller_leg.is_none() && r.callee_leg.is_none());
        wait_idle(&pbx).await;
        pbx.finish().await;
    }
}

/// A provider on 127.0.0.1 (a SIPp UAS) as the only trunk, without registration or
/// digest. No allowed sources: nothing from 127.0.0.1 is taken for the provider.
async fn add_provider(pbx: &TestPbx, provider: Phone) {
    pbx.store
        .add_trunk(&store::NewTrunk {
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
        .await
        .expect("add trunk");
    pbx.server
        .ctx
        .directory
        .reload(&pbx.store)
        .await
        .expect("reload directory");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbound_and_emergency_calls_go_through_the_trunk() {
    if skip() {
        return;
    }
    for backend in backends() {
        let pbx = start_pbx(backend, config()).await;
        let provider = Phone::new("1002");
        add_provider(&pbx, provider).await;
        for (dialled, direction) in [
            ("22225555", CallDirection::Outbound),
            ("112", CallDirection::Emergency),
        ] {
            let caller = Phone::new("1001");
            let (uac, uas) = call(
                &pbx,
                caller,
                "calls/caller_answered.xml",
                Some((provider, "calls/callee_answers.xml")),
                dialled,
            )
            .await;
            assert!(uac.ok, "{backend:?} {dialled}: caller: {}", uac.report);
            let uas = uas.expect("provider ran");
            assert!(uas.ok, "{backend:?} {dialled}: provider: {}", uas.report);
            let r = last_record(&pbx).await;
            assert_eq!(r.disposition, Some(CallDisposition::Answered), "{r:?}");
            assert_eq!(r.direction, direction, "{r:?}");
            assert_eq!(r.trunk.as_deref(), Some("provider"));
            assert_eq!(r.callee_number, dialled);
            assert!(r.callee_extension.is_none());
            assert!(r.caller_leg.is_some_and(|l| l.packets > 20), "{r:?}");
            assert!(r.callee_leg.is_some_and(|l| l.packets > 20), "{r:?}");
            wait_idle(&pbx).await;
        }
        pbx.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hold_and_resume_pass_through_with_their_directions() {
    if skip() {
        return;
    }
    for backend in backends() {
        let pbx = start_pbx(backend, config()).await;
        let caller = Phone::new("1001");
        let callee = Phone::new("1002");
        register(&pbx, callee).await;
        let (uac, uas) = call(
            &pbx,
            caller,
            "calls/caller_hold.xml",
            Some((callee, "calls/callee_held.xml")),
            "1002",
        )
        .await;
        assert!(uac.ok, "{backend:?}: caller: {}", uac.report);
        let uas = uas.expect("callee ran");
        assert!(uas.ok, "{backend:?}: callee: {}", uas.report);
        let r = last_record(&pbx).await;
        assert_eq!(r.disposition, Some(CallDisposition::Answered), "{r:?}");
        assert!(r.caller_leg.is_some_and(|l| l.packets > 20), "{r:?}");
        wait_idle(&pbx).await;
        pbx.finish().await;
    }
}
