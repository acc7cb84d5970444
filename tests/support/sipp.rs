//! Runs SIPp (Debian `sip-tester`) scenarios against a server under test. SIPp is a real,
//! independent SIP implementation: if it accepts our answers, phones are likely to.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Transport flag for SIPp's `-t`.
#[derive(Clone, Copy, Debug)]
pub enum SippTransport {
    Udp,
    Tcp,
}

impl SippTransport {
    fn flag(self) -> &'static str {
        match self {
            SippTransport::Udp => "u1",
            SippTransport::Tcp => "t1",
        }
    }
}

/// What a SIPp run produced.
#[derive(Debug)]
pub struct SippRun {
    pub status: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// Contents of SIPp's error trace (messages it did not expect), if any.
    pub errors: String,
}

impl SippRun {
    /// SIPp exits 0 only when every call of the scenario succeeded.
    pub fn succeeded(&self) -> bool {
        self.status == Some(0)
    }
}

/// Path of a scenario under `tests/interop/`.
pub fn scenario(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/interop")
        .join(rel)
}

pub fn sipp_available() -> bool {
    Command::new("sipp")
        .arg("-v")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// Runs `scenario` once (`-m calls`) against `target`, bounded by `timeout`.
pub fn run(
    scenario: &Path,
    target: SocketAddr,
    transport: SippTransport,
    calls: u32,
    extra: &[&str],
    timeout: Duration,
) -> SippRun {
    let work = tempfile::tempdir().expect("temp dir for sipp traces");
    let err_file = work.path().join("errors.log");
    let mut cmd = Command::new("sipp");
    cmd.current_dir(work.path())
        .arg(target.to_string())
        .args(["-sf", &scenario.to_string_lossy()])
        .args(["-t", transport.flag()])
        .args(["-i", &target.ip().to_string()])
        .args(["-m", &calls.to_string()])
        .args(["-timeout", &format!("{}s", timeout.as_secs().max(1))])
        .arg("-timeout_error")
        .arg("-nostdin")
        .arg("-trace_err")
        .args(["-error_file", &err_file.to_string_lossy()])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let out = cmd
        .output()
        .expect("sipp runs (scripts/test installs sip-tester)");
    SippRun {
        status: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        errors: std::fs::read_to_string(&err_file).unwrap_or_default(),
    }
}
