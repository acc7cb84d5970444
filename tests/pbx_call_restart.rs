//! A crash in the middle of a call: the real `sentral serve` process is killed with
//! SIGKILL while a call rings (its record is open), and the next start closes the record
//! as interrupted, so no record stays open. SQLite only: `serve` opens a whole database,
//! while the PostgreSQL test harness isolates tests by schema.

mod support;

#[path = "interop/calls/phones.rs"]
mod phones;

use billing::CallDisposition;
use phones::{Phone, run_sipp, skip, spawn_sipp};
use std::net::{SocketAddr, UdpSocket};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::pbx::{Backend, seeded_store, start_on};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_a_call_leaves_no_open_record_after_restart() {
    if skip() {
        return;
    }
    let (store, dir, _) = seeded_store(Backend::Sqlite).await;
    let dir = dir.expect("sqlite dir");
    let sip: SocketAddr = {
        let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
        s.local_addr().expect("addr")
    };
    let mut serve = Command::new(env!("CARGO_BIN_EXE_sentral"))
        .arg("serve")
        .arg("--data-dir")
        .arg(dir.path())
        .args(["--sip-listen", &sip.to_string()])
        .args(["--rtp-ports", "36000-36999"])
        .args(["--http-listen", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sentral serve starts");

    // Registration succeeds once the server listens.
    let callee = Phone::new("1002");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let out = run_sipp(sip, "calls/register.xml", callee, "1002").await;
        if out.ok {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "serve never registered: {}",
            out.report
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    // A call that rings (serve's ring timeout is a minute) until the crash.
    let mut uas = spawn_sipp(sip, "calls/callee_rings.xml", callee, "1002");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let caller = Phone::new("1001");
    let mut uac = spawn_sipp(sip, "calls/caller_unavailable.xml", caller, "1002");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let open = store.open_call_records().await.expect("open records");
        if !open.is_empty() {
            assert_eq!(open.len(), 1);
            break;
        }
        assert!(Instant::now() < deadline, "the call never started");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    serve.kill().expect("SIGKILL");
    let status = serve.wait().expect("reaped");
    assert!(!status.success());
    let _ = uac.child.kill();
    let _ = uas.child.kill();
    let _ = uac.child.wait();
    let _ = uas.child.wait();
    assert_eq!(
        store.open_call_records().await.expect("open records").len(),
        1,
        "the killed server left its record open"
    );

    // The next start closes it.
    let pbx = start_on(
        store.clone(),
        Backend::Sqlite,
        pbx::PbxConfig::default(),
        Some(dir),
        None,
    )
    .await;
    assert!(
        pbx.store
            .open_call_records()
            .await
            .expect("open records")
            .is_empty()
    );
    let recs = pbx
        .store
        .call_records(&store::CallFilter::default())
        .await
        .expect("records");
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].disposition, Some(CallDisposition::Interrupted));
    assert!(recs[0].ended_at.is_some());
    pbx.finish().await;
}
