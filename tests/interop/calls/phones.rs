//! SIPp phones for the call tests (included by tests/pbx_call*.rs with `#[path]`): free
//! ports, SIPp runs bounded by `-timeout`, registration, a caller/callee pair, records.
#![allow(dead_code)]

use crate::support::pbx::{TestPbx, password};
use crate::support::sipp::{scenario, sipp_available};
use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use store::{CallFilter, StoredCallRecord};

/// Every SIPp run is bounded by this (`-timeout`), so nothing hangs.
pub const SIPP_TIMEOUT: Duration = Duration::from_secs(30);

/// A SIPp phone: its extension, SIP port and RTP port.
#[derive(Clone, Copy, Debug)]
pub struct Phone {
    pub number: &'static str,
    pub sip_port: u16,
    pub media_port: u16,
}

/// A free UDP port (even, with the next three free too: RTP, RTCP, video RTP/RTCP), above the test
/// relay's range (30000-39999) so a phone never takes a port the relay is about to use.
///
/// The probe sockets close before SIPp binds, so tests running in parallel in one test binary
/// could be handed overlapping blocks (a phone's SIP port inside another's media block). Every
/// block handed out is remembered for the life of the process and never handed out again.
pub fn free_port_pair() -> u16 {
    static HANDED_OUT: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut handed_out = HANDED_OUT.lock().unwrap_or_else(|e| e.into_inner());
    for _ in 0..2000 {
        let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let p = s.local_addr().expect("addr").port();
        // SIPp binds RTP, RTCP and a video pair from its media port up.
        if p % 2 == 0
            && (40000..65530).contains(&p)
            && !handed_out.iter().any(|&q| p.abs_diff(q) < 4)
            && (1..4).all(|i| UdpSocket::bind(("127.0.0.1", p + i)).is_ok())
        {
            handed_out.push(p);
            return p;
        }
    }
    panic!("no free port pair");
}

impl Phone {
    pub fn new(number: &'static str) -> Phone {
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

pub struct Sipp {
    pub child: Child,
    dir: tempfile::TempDir,
    what: String,
}

pub struct SippOutcome {
    pub ok: bool,
    pub report: String,
}

/// Starts SIPp as `phone` running `scenario` against the PBX. `service` is the
/// Request-URI user (the callee when calling).
pub fn spawn_sipp(pbx: SocketAddr, scenario_rel: &str, phone: Phone, service: &str) -> Sipp {
    spawn_sipp_with(pbx, scenario_rel, phone, service, &[])
}

/// [`spawn_sipp`] with more SIPp arguments (`-key NAME VALUE`, `-trace_logs`, …).
pub fn spawn_sipp_with(
    pbx: SocketAddr,
    scenario_rel: &str,
    phone: Phone,
    service: &str,
    extra: &[String],
) -> Sipp {
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
        .args(extra)
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

impl Sipp {
    /// SIPp's working directory (its `-trace_logs` files are written there).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

pub fn wait_sipp(s: Sipp) -> SippOutcome {
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

/// [`wait_sipp`] for a run started with `-trace_logs`: also the lines its `<log>`
/// actions wrote.
pub fn wait_sipp_logs(s: Sipp) -> (SippOutcome, String) {
    let dir = s.dir.path().to_path_buf();
    let child = s.child;
    let out = child.wait_with_output().expect("sipp output");
    let logs = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().ends_with("_logs.log"))
                .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
                .collect::<String>()
        })
        .unwrap_or_default();
    let errors = std::fs::read_to_string(dir.join("errors.log")).unwrap_or_default();
    let outcome = SippOutcome {
        ok: out.status.code() == Some(0),
        report: format!(
            "{} exited {:?}\n--- stdout\n{}\n--- stderr\n{}\n--- errors\n{}\n--- logs\n{}",
            s.what,
            out.status.code(),
            tail(&String::from_utf8_lossy(&out.stdout)),
            String::from_utf8_lossy(&out.stderr),
            errors,
            logs
        ),
    };
    drop(s.dir);
    (outcome, logs)
}

pub fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// The dialog a SIPp run with `-trace_logs` in `dir` logged (`<log>`) on a line
/// `PREFIX CALL-ID PBX-TAG PHONE-TAG`: (Call-ID, the PBX's tag, the phone's tag), as soon
/// as it appears (10 s at the most).
pub async fn logged_dialog(dir: &Path, prefix: &str) -> (String, String, String) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let logs = std::fs::read_dir(dir)
            .expect("sipp dir")
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().ends_with("_logs.log"));
        for entry in logs {
            let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
            if let Some(line) = text.lines().find(|l| l.starts_with(prefix)) {
                let parts: Vec<&str> = line.split_whitespace().collect();
                assert_eq!(parts.len(), 4, "log line {line:?}");
                return (parts[1].into(), parts[2].into(), parts[3].into());
            }
        }
        assert!(
            Instant::now() < deadline,
            "no dialog logged as {prefix:?} in {}: the call was not answered",
            dir.display()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until a SIPp started as `phone` has bound its SIP port (so a request sent to it
/// now is not lost), at most 10 s. A fixed pause is not enough on a loaded machine.
pub async fn wait_bound(phone: Phone) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while UdpSocket::bind(("127.0.0.1", phone.sip_port)).is_ok() {
        assert!(
            Instant::now() < deadline,
            "SIPp as {} never bound port {}",
            phone.number,
            phone.sip_port
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub async fn run_sipp(
    pbx: SocketAddr,
    scenario_rel: &'static str,
    phone: Phone,
    service: &'static str,
) -> SippOutcome {
    tokio::task::spawn_blocking(move || wait_sipp(spawn_sipp(pbx, scenario_rel, phone, service)))
        .await
        .expect("sipp task")
}

pub async fn register(pbx: &TestPbx, phone: Phone) {
    let out = run_sipp(pbx.udp, "calls/register.xml", phone, phone.number).await;
    assert!(
        out.ok,
        "{:?}: register {}: {}",
        pbx.backend, phone.number, out.report
    );
}

/// Runs the callee's scenario in the background and the caller's in the foreground.
pub async fn call(
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
    if let Some((phone, _)) = callee {
        wait_bound(phone).await;
    }
    let uac = run_sipp(pbx.udp, caller_scenario, caller, dialled).await;
    let uas = match uas {
        Some(h) => Some(h.await.expect("callee task")),
        None => None,
    };
    (uac, uas)
}

/// [`call`] in which both phones must get through their scenarios; returns the call's
/// record once it is complete.
pub async fn completed_call(
    pbx: &TestPbx,
    caller: Phone,
    caller_scenario: &'static str,
    callee: Option<(Phone, &'static str)>,
    dialled: &'static str,
) -> StoredCallRecord {
    let (uac, uas) = call(pbx, caller, caller_scenario, callee, dialled).await;
    assert!(
        uac.ok,
        "{:?}: caller {} dialling {dialled}: {}",
        pbx.backend, caller.number, uac.report
    );
    if let Some(uas) = uas {
        assert!(
            uas.ok,
            "{:?}: called phone dialled as {dialled}: {}",
            pbx.backend, uas.report
        );
    }
    last_record(pbx).await
}

/// Runs `test` on a fresh PBX started with `config()` on every backend (nothing when SIPp
/// is missing); after each run no call or media session may be left, and the PBX stops.
pub async fn on_each_backend(config: impl Fn() -> pbx::PbxConfig, test: impl AsyncFn(&TestPbx)) {
    if skip() {
        return;
    }
    for backend in crate::support::pbx::backends() {
        let pbx = crate::support::pbx::start_pbx(backend, config()).await;
        test(&pbx).await;
        wait_idle(&pbx).await;
        pbx.finish().await;
    }
}

/// The newest call record once it is complete.
pub async fn last_record(pbx: &TestPbx) -> StoredCallRecord {
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

/// Every call record, once `count` of them are complete.
pub async fn completed_records(pbx: &TestPbx, count: usize) -> Vec<StoredCallRecord> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let recs = pbx
            .store
            .call_records(&CallFilter::default())
            .await
            .expect("records");
        if recs.len() >= count && recs.iter().all(|r| r.ended_at.is_some()) {
            return recs;
        }
        assert!(
            Instant::now() < deadline,
            "{:?}: {count} completed records expected: {recs:?}",
            pbx.backend
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// RFC 3261 §19.1.1: a header value inside a URI (a Refer-To's `?Replaces=`) escapes
/// everything but unreserved characters (the Replaces value has `;`, `=` and usually `@`).
pub fn uri_escape(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub async fn wait_idle(pbx: &TestPbx) {
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

pub fn skip() -> bool {
    if !sipp_available() {
        eprintln!("sipp not installed: skipped (scripts/test installs sip-tester)");
        return true;
    }
    !Path::new("/usr/share/sip-tester/g711a.pcap").exists() && {
        eprintln!("sip-tester pcap files missing: skipped");
        true
    }
}
