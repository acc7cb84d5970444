//! Trunks with SIPp playing the provider (on 127.0.0.2, so its source address differs
//! from the phones' 127.0.0.1): registration answering a 401, and outgoing calls through
//! the trunk layer (dial plan → outbound target → INVITE answering a 407 → BYE).
//! The end-to-end tests then go through the B2BUA: a SIPp phone on 127.0.0.1 calls out
//! (national, emergency while locked out, premium refused), the provider calls a direct
//! number in, and an impostor on 127.0.0.3 is not let in as the trunk.

mod support;

use pbx::PbxConfig;
use pbx::dial_plan::{CallerInfo, DidMapping, DidTarget, Route};
use pbx::events::PbxEvent;
use sip_core::dialog::Dialog;
use sip_core::driver::ClientEvent;
use sip_core::message::{Method, Request};
use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;
use store::{NewTrunk, Secret, TrunkTransport};
use support::pbx::{TestPbx, backends, start_pbx};
use support::sipp;

const PROVIDER_IP: &str = "127.0.0.2";

/// A free UDP port on the provider's address (bound and released; SIPp takes it next).
fn free_port(ip: &str) -> u16 {
    UdpSocket::bind((ip, 0))
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("free port on the provider address")
}

/// What a SIPp provider run left behind.
struct ProviderRun {
    ok: bool,
    stdout: String,
    errors: String,
    log: String,
}

/// Starts SIPp as the provider's UAS on 127.0.0.2:`port` for one call, in the background.
fn spawn_provider(scenario: &str, port: u16) -> tokio::task::JoinHandle<ProviderRun> {
    let path: PathBuf = sipp::scenario(scenario);
    tokio::task::spawn_blocking(move || {
        let work = tempfile::tempdir().expect("temp dir");
        let err = work.path().join("errors.log");
        let log = work.path().join("provider.log");
        let out = Command::new("sipp")
            .current_dir(work.path())
            .args(["-sf", &path.to_string_lossy()])
            .args(["-i", PROVIDER_IP, "-p", &port.to_string()])
            .args(["-t", "u1", "-m", "1", "-timeout", "20s"])
            .args(["-timeout_error", "-nostdin", "-trace_err", "-trace_logs"])
            .args(["-error_file", &err.to_string_lossy()])
            .args(["-log_file", &log.to_string_lossy()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .expect("sipp runs");
        ProviderRun {
            ok: out.status.code() == Some(0),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            errors: std::fs::read_to_string(&err).unwrap_or_default(),
            log: std::fs::read_to_string(&log).unwrap_or_default(),
        }
    })
}

async fn add_trunk(pbx: &TestPbx, port: u16, register: bool, limit: Option<u32>) -> store::Trunk {
    pbx.add_trunk(&NewTrunk {
        name: "provider".into(),
        host: PROVIDER_IP.into(),
        port,
        transport: TrunkTransport::Udp,
        username: Some("sorum".into()),
        secret: Some(Secret::new("hemmelig")),
        register,
        channel_limit: limit,
        allowed_sources: vec![PROVIDER_IP.into()],
        enabled: true,
    })
    .await
}

/// The test PBX's DIDs: rådhus 63869000-63869399 → extensions 1000-1399.
fn config() -> PbxConfig {
    let mut c = PbxConfig::default();
    c.dial_plan.did_mappings = vec![DidMapping {
        first: "63869000".into(),
        last: "63869399".into(),
        target: DidTarget::Offset {
            extension_first: "1000".into(),
        },
    }];
    c
}

/// The values the provider scenario logged for the answered INVITE.
fn check_line(log: &str) -> Option<&str> {
    log.lines().find(|l| l.contains("CHECK "))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trunk_registers_answering_the_providers_401() {
    if !sipp::sipp_available() {
        panic!("sipp is required (scripts/test installs sip-tester)");
    }
    for backend in backends() {
        let pbx = start_pbx(backend, config()).await;
        let mut events = pbx.server.ctx.events.subscribe();
        let port = free_port(PROVIDER_IP);
        let provider = spawn_provider("trunk/provider_register.xml", port);
        // Let SIPp bind before Sentral starts registering.
        tokio::time::sleep(Duration::from_millis(300)).await;
        add_trunk(&pbx, port, true, None).await;
        let registered = tokio::time::timeout(Duration::from_secs(15), async {
            loop {
                match events.recv().await {
                    Ok(PbxEvent::TrunkRegistration { trunk, registered })
                        if trunk == "provider" =>
                    {
                        return registered;
                    }
                    Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(e) => panic!("event bus closed: {e}"),
                }
            }
        })
        .await
        .expect("a registration event within 15 s");
        let run = provider.await.expect("provider task");
        assert!(
            run.ok,
            "{backend:?}: provider scenario failed:\n{}\n{}",
            run.stdout, run.errors
        );
        assert!(
            registered,
            "{backend:?}: first registration event says registered"
        );
        let status = pbx
            .server
            .ctx
            .trunks
            .registration("provider")
            .expect("status recorded");
        assert!(status.registered && status.failures == 0, "{status:?}");
        // The provider granted 300 s: the binding runs out in (300 s - elapsed).
        let left = status
            .expires_at
            .expect("expiry while registered")
            .saturating_duration_since(std::time::Instant::now());
        assert!(
            left > Duration::from_secs(290) && left <= Duration::from_secs(300),
            "{left:?}"
        );
        pbx.finish().await;
    }
}

/// Places a call through the trunk layer the way the B2BUA does: dial plan, outbound
/// target, INVITE through `send_with_auth`, ACK and BYE from the dialog. Returns the
/// provider's CHECK line.
async fn call_through_trunk(pbx: &TestPbx, from_ext: &str, dialled: &str) -> (Route, String) {
    let ctx = &pbx.server.ctx;
    let port = free_port(PROVIDER_IP);
    let provider = spawn_provider("trunk/provider_invite.xml", port);
    tokio::time::sleep(Duration::from_millis(300)).await;
    add_trunk(pbx, port, false, Some(0)).await;
    let snap = ctx.directory.snapshot();
    let plan = ctx.trunks.dial_plan();
    let caller = CallerInfo::extension(snap.extension(from_ext).expect("caller").clone());
    let route = plan.route(&caller, dialled, &snap);
    let (trunk, number, emergency) = match &route {
        Route::Trunk { trunk, number, .. } => (trunk.clone(), number.clone(), false),
        Route::Emergency { number } => (
            plan.emergency_trunk(&caller, &snap)
                .expect("emergency trunk"),
            number.clone(),
            true,
        ),
        other => {
            provider.abort();
            return (other.clone(), String::new());
        }
    };
    // Channel limit 0: only an emergency call gets a channel.
    let guard = ctx.trunks.try_acquire_channel(&trunk, emergency);
    assert_eq!(
        guard.is_some(),
        emergency,
        "channel for emergency={emergency}"
    );
    let identity = plan.identity(&caller, emergency, &snap);
    let driver = ctx.driver().expect("driver attached");
    let target = ctx
        .trunks
        .outbound_target(driver, &trunk, &number, &identity)
        .await
        .expect("outbound target");
    let sdp = bytes::Bytes::from_static(
        b"v=0\r\no=sentral 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 30000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n",
    );
    let invite = target.request(
        Method::Invite,
        &format!("{:016x}@test", rand::random::<u64>()),
        "fromtag1",
        1,
        "sentral",
        Some(("application/sdp", sdp)),
    );
    let mut tx = pbx::trunk::send_with_auth(
        driver,
        invite,
        target.destination,
        target.credentials.clone(),
    )
    .await
    .expect("INVITE sent");
    let answer = match tokio::time::timeout(Duration::from_secs(10), tx.final_response()).await {
        Ok(Some(ClientEvent::Response(r))) => r,
        other => {
            let run = provider.await.expect("provider task");
            panic!(
                "no final response: {other:?}\nprovider:\n{}\n{}\n{}",
                run.stdout, run.errors, run.log
            )
        }
    };
    assert_eq!(answer.status.0, 200, "provider answered {answer:?}");
    assert!(tx.retried(), "the 407 was answered");
    let sent: &Request = tx.request();
    assert_eq!(
        sent.headers.cseq().map(|c| c.seq),
        Some(2),
        "CSeq + 1 on the retry"
    );
    let mut dialog = Dialog::new_uac(sent, &answer).expect("dialog from the 2xx");
    let ack = dialog.ack(target.via()).expect("ACK");
    driver.send_stateless(sip_core::message::Message::Request(ack), target.destination);
    let bye = dialog.request(Method::Bye, target.via()).expect("BYE");
    let mut bye_tx = driver
        .send_request(bye, target.destination)
        .await
        .expect("BYE sent");
    match tokio::time::timeout(Duration::from_secs(10), bye_tx.final_response()).await {
        Ok(Some(ClientEvent::Response(r))) => assert_eq!(r.status.0, 200),
        other => panic!("BYE not answered: {other:?}"),
    }
    drop(guard);
    let run = provider.await.expect("provider task");
    assert!(
        run.ok,
        "provider scenario failed:\n{}\n{}",
        run.stdout, run.errors
    );
    let line = check_line(&run.log)
        .unwrap_or_else(|| panic!("no CHECK line in {}", run.log))
        .to_owned();
    (route, line)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn national_call_goes_out_with_the_callers_did() {
    for backend in backends() {
        let pbx = start_pbx(backend, config()).await;
        // 1002 (national) dials an 8-digit Oslo number, written the way people do.
        let (route, line) = call_through_trunk(&pbx, "1002", "+47 22 33 44 55").await;
        assert!(matches!(route, Route::Trunk { .. }), "{route:?}");
        // provider_invite.xml fails unless the retry carried our Proxy-Authorization.
        assert!(line.contains("dialled=22334455"), "{line}");
        // The extension's own direct number (63869000 + 2) as identity.
        assert!(line.contains("from=63869002"), "{line}");
        assert!(line.contains("pai=63869002"), "{line}");
        assert!(
            line.ends_with("location=") || line.contains("location= "),
            "no location on a normal call: {line}"
        );
        pbx.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emergency_call_from_internal_only_extension_goes_out_with_site_identity() {
    for backend in backends() {
        let pbx = start_pbx(backend, config()).await;
        // 1003 is internal-only; the trunk's channel limit is 0.
        let (route, line) = call_through_trunk(&pbx, "1003", "112").await;
        assert!(matches!(route, Route::Emergency { .. }), "{route:?}");

        assert!(line.contains("dialled=112"), "{line}");
        // Rådhus's main number and address.
        assert!(line.contains("from=63869000"), "{line}");
        assert!(line.contains("pai=63869000"), "{line}");
        assert!(line.contains("1920"), "site address as location: {line}");
        pbx.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn internal_only_extension_cannot_call_out_and_premium_is_refused() {
    for backend in backends() {
        let pbx = start_pbx(backend, config()).await;
        let port = free_port(PROVIDER_IP);
        add_trunk(&pbx, port, false, None).await;
        let ctx = &pbx.server.ctx;
        let snap = ctx.directory.snapshot();
        let plan = ctx.trunks.dial_plan();
        let who = |n: &str| CallerInfo::extension(snap.extension(n).expect("ext").clone());
        for (from, dialled) in [
            ("1003", "22334455"),
            ("1001", "82012345"),
            ("1002", "82912345"),
        ] {
            match plan.route(&who(from), dialled, &snap) {
                Route::Deny {
                    status: 403,
                    reason,
                } => {
                    assert!(
                        reason.contains("not allowed for class of service"),
                        "{reason}"
                    )
                }
                other => panic!("{from} → {dialled}: {other:?}"),
            }
        }
        // An own number is on-net, never the trunk.
        assert!(matches!(
            plan.route(&who("1003"), "63869001", &snap),
            Route::Extension(e) if e.number == "1001"
        ));
        // Inbound: the provider's DID reaches the mapped extension.
        assert!(matches!(
            plan.route_inbound("+4763869002", &snap),
            Route::Extension(e) if e.number == "1002"
        ));
        // Source checks: the provider's address is the trunk, the phones' is not.
        let from = |ip: &str| -> Option<String> {
            pbx::trunk::trunk_for_source(&snap, ip.parse().expect("ip")).map(|t| t.name.clone())
        };
        assert_eq!(from(PROVIDER_IP).as_deref(), Some("provider"));
        assert_eq!(from("127.0.0.1"), None);
        let _: SocketAddr = pbx.udp;
        pbx.finish().await;
    }
}

// ---- end to end through the B2BUA ------------------------------------------------------

/// Runs SIPp as a UAC from `local_ip` towards `target` (the provider calling in, or an
/// impostor), blocking.
fn run_uac_from(local_ip: &str, scenario: &str, target: SocketAddr, service: &str) -> ProviderRun {
    let work = tempfile::tempdir().expect("temp dir");
    let err = work.path().join("errors.log");
    let out = Command::new("sipp")
        .current_dir(work.path())
        .arg(target.to_string())
        .args(["-sf", &sipp::scenario(scenario).to_string_lossy()])
        .args(["-i", local_ip, "-p", &free_port(local_ip).to_string()])
        .args(["-s", service, "-t", "u1", "-m", "1", "-timeout", "20s"])
        .args(["-timeout_error", "-nostdin", "-trace_err"])
        .args(["-error_file", &err.to_string_lossy()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .expect("sipp runs");
    ProviderRun {
        ok: out.status.code() == Some(0),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        errors: std::fs::read_to_string(&err).unwrap_or_default(),
        log: String::new(),
    }
}

/// A phone (SIPp on 127.0.0.1) running `scenario` as extension `ext`, dialling `service`.
async fn phone(
    pbx: &TestPbx,
    scenario: &'static str,
    ext: &str,
    service: &str,
    port: Option<u16>,
) -> sipp::SippRun {
    let target = pbx.udp;
    let pw = support::pbx::password(ext).to_owned();
    let (ext, service) = (ext.to_owned(), service.to_owned());
    tokio::task::spawn_blocking(move || {
        let port = port.map(|p| p.to_string());
        let mut extra = vec!["-s", service.as_str(), "-key", "caller", ext.as_str()];
        extra.extend(["-au", ext.as_str(), "-ap", pw.as_str()]);
        if let Some(p) = &port {
            extra.extend(["-p", p.as_str()]);
        }
        sipp::run(
            &sipp::scenario(scenario),
            target,
            sipp::SippTransport::Udp,
            1,
            &extra,
            Duration::from_secs(20),
        )
    })
    .await
    .expect("phone task")
}

/// The newest call record, once it is complete (records are completed after the BYE).
async fn last_record(pbx: &TestPbx) -> store::StoredCallRecord {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let recs = pbx
            .store
            .call_records(&store::CallFilter {
                limit: Some(1),
                ..Default::default()
            })
            .await
            .expect("call records");
        if let Some(r) = recs.into_iter().next()
            && (r.disposition.is_some() || std::time::Instant::now() > deadline)
        {
            return r;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no call record written"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A provider (SIPp UAS logging what it received) as the only trunk, with
/// `channel_limit`; `ext`'s phone dials `dialled` through the B2BUA. Both SIPp runs
/// must succeed; the provider's check line (what the INVITE said) is returned.
async fn b2bua_call_out(
    pbx: &TestPbx,
    channel_limit: Option<u32>,
    ext: &str,
    dialled: &str,
) -> String {
    let backend = pbx.backend;
    let port = free_port(PROVIDER_IP);
    let provider = spawn_provider("trunk/provider_invite.xml", port);
    tokio::time::sleep(Duration::from_millis(300)).await;
    add_trunk(pbx, port, false, channel_limit).await;
    let run = phone(pbx, "trunk/phone_call.xml", ext, dialled, None).await;
    let prov = provider.await.expect("provider task");
    assert!(
        run.succeeded(),
        "{backend:?} phone: {}\n{}",
        run.stdout,
        run.errors
    );
    assert!(
        prov.ok,
        "{backend:?} provider: {}\n{}",
        prov.stdout, prov.errors
    );
    check_line(&prov.log).unwrap_or_default().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn b2bua_national_call_leaves_through_the_provider() {
    for backend in backends() {
        let pbx = start_pbx(backend, config()).await;
        let line = b2bua_call_out(&pbx, Some(4), "1002", "22334455").await;
        assert!(line.contains("dialled=22334455"), "{line}");
        assert!(
            line.contains("from=63869002") && line.contains("pai=63869002"),
            "{line}"
        );
        let rec = last_record(&pbx).await;
        assert_eq!(rec.direction, billing::CallDirection::Outbound, "{rec:?}");
        assert_eq!(
            rec.disposition,
            Some(billing::CallDisposition::Answered),
            "{rec:?}"
        );
        assert_eq!(rec.trunk.as_deref(), Some("provider"));
        assert_eq!(rec.caller_extension.as_deref(), Some("1002"));
        assert_eq!(rec.callee_number, "22334455");
        assert_eq!(
            pbx.server.ctx.trunks.channels_in_use(store::TrunkId(1)),
            0,
            "channel freed"
        );
        pbx.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn b2bua_emergency_call_from_locked_out_internal_only_phone_goes_out() {
    for backend in backends() {
        let mut cfg = config();
        cfg.lockout.max_failures = 2;
        let pbx = start_pbx(backend, cfg).await;
        // Lock out 127.0.0.1 (the phones' address) with wrong passwords.
        let target = pbx.udp;
        for _ in 0..3 {
            let _ = tokio::task::spawn_blocking(move || {
                sipp::run(
                    &sipp::scenario("driver/register_wrong_password.xml"),
                    target,
                    sipp::SippTransport::Udp,
                    1,
                    &["-s", "1003", "-au", "1003", "-ap", "wrong-password"],
                    Duration::from_secs(5),
                )
            })
            .await;
        }
        assert!(
            pbx.server
                .ctx
                .security
                .is_banned("127.0.0.1".parse().expect("ip")),
            "{backend:?}: the phones' address is locked out"
        );
        // Channel limit 0: only an emergency call may use the trunk.
        let line = b2bua_call_out(&pbx, Some(0), "1003", "112").await;
        assert!(line.contains("dialled=112"), "{line}");
        assert!(
            line.contains("from=63869000") && line.contains("pai=63869000"),
            "site number: {line}"
        );
        assert!(line.contains("1920"), "site address as location: {line}");
        let rec = last_record(&pbx).await;
        assert_eq!(rec.direction, billing::CallDirection::Emergency, "{rec:?}");
        assert_eq!(rec.callee_number, "112");
        assert_eq!(rec.trunk.as_deref(), Some("provider"));
        pbx.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn b2bua_premium_call_is_refused_with_a_record_saying_why() {
    for backend in backends() {
        let pbx = start_pbx(backend, config()).await;
        add_trunk(&pbx, free_port(PROVIDER_IP), false, None).await;
        // 1001 may call internationally but has no premium access.
        let run = phone(
            &pbx,
            "trunk/phone_call_refused.xml",
            "1001",
            "82012345",
            None,
        )
        .await;
        assert!(
            run.succeeded(),
            "{backend:?} phone: {}\n{}",
            run.stdout,
            run.errors
        );
        let rec = last_record(&pbx).await;
        assert_eq!(
            rec.disposition,
            Some(billing::CallDisposition::RejectedByPolicy),
            "{rec:?}"
        );
        assert_eq!(rec.sip_code, Some(403));
        assert!(
            rec.sip_reason
                .as_deref()
                .is_some_and(|r| r.contains("not allowed for class of service")),
            "{rec:?}"
        );
        assert_eq!(rec.callee_number, "82012345");
        pbx.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn b2bua_inbound_call_on_a_direct_number_reaches_the_extension() {
    for backend in backends() {
        let pbx = start_pbx(backend, config()).await;
        add_trunk(&pbx, free_port(PROVIDER_IP), false, None).await;
        // 1002's phone registers from a fixed port and then answers there.
        let phone_port = free_port("127.0.0.1");
        let reg = phone(
            &pbx,
            "trunk/phone_register.xml",
            "1002",
            "1002",
            Some(phone_port),
        )
        .await;
        assert!(
            reg.succeeded(),
            "{backend:?} register: {}\n{}",
            reg.stdout,
            reg.errors
        );
        let target = pbx.udp;
        let answer = tokio::task::spawn_blocking(move || {
            let work = tempfile::tempdir().expect("temp dir");
            let out = Command::new("sipp")
                .current_dir(work.path())
                .args([
                    "-sf",
                    &sipp::scenario("trunk/phone_answer.xml").to_string_lossy(),
                ])
                .args(["-i", "127.0.0.1", "-p", &phone_port.to_string()])
                .args(["-s", "1002", "-t", "u1", "-m", "1", "-timeout", "20s"])
                .args(["-timeout_error", "-nostdin"])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .output()
                .expect("sipp runs");
            (
                out.status.code() == Some(0),
                String::from_utf8_lossy(&out.stdout).into_owned(),
            )
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        let prov = tokio::task::spawn_blocking(move || {
            run_uac_from(
                PROVIDER_IP,
                "trunk/provider_inbound.xml",
                target,
                "63869002",
            )
        })
        .await
        .expect("provider task");
        let (answered, out) = answer.await.expect("phone task");
        assert!(
            prov.ok,
            "{backend:?} provider: {}\n{}",
            prov.stdout, prov.errors
        );
        assert!(answered, "{backend:?} phone: {out}");
        let rec = last_record(&pbx).await;
        assert_eq!(rec.direction, billing::CallDirection::Inbound, "{rec:?}");
        assert_eq!(rec.callee_extension.as_deref(), Some("1002"));
        assert_eq!(rec.trunk.as_deref(), Some("provider"));
        assert_eq!(rec.disposition, Some(billing::CallDisposition::Answered));
        pbx.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn b2bua_impostor_claiming_to_be_the_trunk_is_not_let_in() {
    for backend in backends() {
        let pbx = start_pbx(backend, config()).await;
        add_trunk(&pbx, free_port(PROVIDER_IP), false, None).await;
        let target = pbx.udp;
        let run = tokio::task::spawn_blocking(move || {
            run_uac_from(
                "127.0.0.3",
                "trunk/impostor_inbound.xml",
                target,
                "63869002",
            )
        })
        .await
        .expect("impostor task");
        assert!(
            run.ok,
            "{backend:?}: challenged or refused: {}\n{}",
            run.stdout, run.errors
        );
        let answered = pbx
            .store
            .call_records(&store::CallFilter::default())
            .await
            .expect("records")
            .into_iter()
            .any(|r| r.answered_at.is_some());
        assert!(!answered, "no call was connected");
        pbx.finish().await;
    }
}
