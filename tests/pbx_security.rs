//! The security gate on every backend: a scanner cannot tell extensions apart (REGISTER,
//! INVITE and OPTIONS for existing, disabled and non-existing extensions, with no and
//! with wrong credentials), the brute-force lockout engages, answers 403, is reported
//! (event and audit log) and lifts; emergency calls pass a ban; trunk sources.

#[path = "interop/register/raw_ua.rs"]
mod raw_ua;
mod support;

use pbx::PbxConfig;
use pbx::events::PbxEvent;
use pbx::security::{AuthOutcome, EmergencyCaller};
use raw_ua::{RawUa, Req, header_names};
use sip_core::auth::{Challenge, ChallengeKind, DigestClient};
use sip_core::message::{HeaderName, Message, Request, Response, parse_datagram};
use sip_core::transport::{Flow, TransportKind};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use support::pbx::{backends, password, start_pbx};

fn lenient() -> PbxConfig {
    let mut c = PbxConfig::default();
    c.lockout.max_failures = 10_000;
    c
}

/// What a scanner sees of an answer: status, header names in order, and the challenge
/// parameters without the nonce (which differs on every answer, for everyone).
fn visible(r: &Response) -> (u16, Vec<String>, Vec<String>) {
    let challenges = r
        .headers
        .raw(&HeaderName::WwwAuthenticate)
        .chain(r.headers.raw(&HeaderName::ProxyAuthenticate))
        .map(|v| {
            let mut c = Challenge::parse(v.as_str()).expect("challenge parses");
            c.nonce.clear();
            c.to_string()
        })
        .collect();
    (r.status.0, header_names(r), challenges)
}

/// Sends `req` (no credentials) and, when challenged, again with `pw` for `user`.
async fn probe(ua: &RawUa, mut req: Req<'_>, user: &str, pw: Option<&str>) -> Response {
    let first = ua.exchange(&req).await.expect("an answer");
    let Some(pw) = pw else { return first };
    if ChallengeKind::from_status(first.status.0).is_none() {
        return first;
    }
    req.cseq += 1;
    ua.authorize(&mut req, &first, user, pw);
    ua.exchange(&req).await.expect("an answer")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scanner_cannot_tell_extensions_apart() {
    for backend in backends() {
        let pbx = start_pbx(backend, lenient()).await;
        // A disabled extension must look exactly like a missing one.
        pbx.store
            .set_extension_enabled("1003", false)
            .await
            .expect("disable");
        pbx.server
            .ctx
            .directory
            .reload(&pbx.store)
            .await
            .expect("reload");
        let ua = RawUa::new(pbx.udp).await;
        for method in ["REGISTER", "INVITE", "OPTIONS"] {
            for pw in [None, Some("wrong-password")] {
                let mut seen = Vec::new();
                for (i, user) in ["1001", "9999", "1003"].iter().enumerate() {
                    let call_id = format!("scan-{method}-{}-{i}", pw.is_some());
                    let req = match method {
                        "REGISTER" => Req::register(user, &call_id, 1),
                        "INVITE" => Req::invite(user, &call_id, 1),
                        _ => Req::options(user, &call_id, 1),
                    };
                    let resp = probe(&ua, req, user, pw).await;
                    seen.push((user.to_string(), visible(&resp)));
                }
                let first = &seen[0].1;
                for (user, v) in &seen[1..] {
                    assert_eq!(
                        v, first,
                        "{backend:?} {method} pw={pw:?}: {user} answered unlike 1001"
                    );
                }
                let expected = match method {
                    "REGISTER" => 401,
                    "INVITE" => 407,
                    _ => 200,
                };
                assert_eq!(first.0, expected, "{backend:?} {method} pw={pw:?}");
            }
        }
        // Timing class: wrong password for a real extension vs an unknown one.
        let mut median = Vec::new();
        for user in ["1001", "9999"] {
            let mut times = Vec::new();
            for i in 0..15 {
                let call_id = format!("timing-{user}-{i}");
                let first = ua
                    .exchange(&Req::register(user, &call_id, 1))
                    .await
                    .expect("challenge");
                let mut r = Req::register(user, &call_id, 2);
                ua.authorize(&mut r, &first, user, "wrong-password");
                let t = Instant::now();
                let resp = ua.exchange(&r).await.expect("answer");
                times.push(t.elapsed());
                assert_eq!(resp.status.0, 401);
            }
            times.sort();
            median.push(times[times.len() / 2]);
        }
        let (known, unknown) = (median[0], median[1]);
        eprintln!("{backend:?}: median wrong-password answer known {known:?}, unknown {unknown:?}");
        let slack = Duration::from_millis(20);
        assert!(
            known <= unknown * 3 + slack && unknown <= known * 3 + slack,
            "same timing class: known {known:?} unknown {unknown:?}"
        );
        pbx.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lockout_engages_answers_403_is_reported_and_lifts() {
    for backend in backends() {
        let mut c = PbxConfig::default();
        c.lockout.max_failures = 3;
        c.lockout.window = Duration::from_secs(30);
        c.lockout.ban = Duration::from_secs(2);
        let pbx = start_pbx(backend, c).await;
        let ctx = pbx.server.ctx.clone();
        let mut events = ctx.events.subscribe();
        let ua = RawUa::new(pbx.udp).await;

        // Requests without credentials and correct logins are not failures.
        for i in 0..6 {
            let r = ua
                .exchange(&Req::register("1001", &format!("nocred-{i}"), 1))
                .await
                .expect("answer");
            assert_eq!(r.status.0, 401);
        }
        let ok = ua
            .register_with("1001", password("1001"), "good-1", Some(120), None)
            .await;
        assert_eq!(ok.status.0, 200);

        // Two wrong passwords and one unknown user: three failures.
        let r = probe(&ua, Req::register("1001", "bad-1", 1), "1001", Some("nope")).await;
        assert_eq!(r.status.0, 401, "first failure: challenged again");
        let r = probe(&ua, Req::register("1002", "bad-2", 1), "1002", Some("nope")).await;
        assert_eq!(r.status.0, 401, "second failure: challenged again");
        assert!(ctx.security.bans().is_empty());
        let r = probe(&ua, Req::register("7777", "bad-3", 1), "7777", Some("nope")).await;
        assert_eq!(
            r.status.0, 403,
            "{backend:?}: the third failure engages the ban"
        );
        let banned_at = Instant::now();
        let bans = ctx.security.bans();
        assert_eq!(bans.len(), 1);
        assert_eq!(bans[0].address.to_string(), "127.0.0.1");

        // While banned: 403 for everything, even the right password.
        let r = ua
            .exchange(&Req::register("1001", "banned-1", 1))
            .await
            .expect("answer");
        assert_eq!(r.status.0, 403);
        assert!(
            r.headers.raw_first(&HeaderName::WwwAuthenticate).is_none(),
            "no challenge, no digest work"
        );
        let r = ua
            .exchange(&Req::invite("1002", "banned-2", 1))
            .await
            .expect("answer");
        assert_eq!(r.status.0, 403, "INVITE refused too");
        // Another address is not affected.
        let other = RawUa::new(pbx.udp).await;
        let flow_other = Flow {
            kind: TransportKind::Udp,
            local: pbx.udp,
            remote: "192.0.2.44:5060".parse().expect("addr"),
            connection: None,
        };
        let req = parse_request(&other.text(&Req::register("1001", "elsewhere", 1)));
        assert!(matches!(
            ctx.security.authenticate_request(
                &req,
                &flow_other,
                ChallengeKind::Www,
                &ctx.directory.snapshot()
            ),
            AuthOutcome::Respond(r) if r.status.0 == 401
        ));

        // Reported: live event and audit log entry.
        let ev = tokio::time::timeout(Duration::from_secs(2), async {
            loop {
                match events.recv().await {
                    Ok(PbxEvent::Lockout { address }) => return address,
                    Ok(_) => continue,
                    Err(e) => panic!("event bus: {e}"),
                }
            }
        })
        .await
        .expect("lockout event");
        assert_eq!(ev.to_string(), "127.0.0.1");
        let mut audited = None;
        for _ in 0..40 {
            let log = pbx.store.audit_log(20).await.expect("audit log");
            audited = log
                .into_iter()
                .find(|e| e.action == pbx::security::AUDIT_ACTION_LOCKOUT);
            if audited.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let entry = audited.expect("lockout in the audit log");
        assert_eq!(entry.source, "127.0.0.1");
        assert!(entry.detail.contains("banned for 2 s"), "{}", entry.detail);

        // The ban lifts after its time.
        let wait = Duration::from_millis(2200).saturating_sub(banned_at.elapsed());
        tokio::time::sleep(wait).await;
        assert!(ctx.security.bans().is_empty());
        let r = ua
            .exchange(&Req::register("1001", "after-1", 1))
            .await
            .expect("answer");
        assert_eq!(
            r.status.0, 401,
            "{backend:?}: challenged again after the ban"
        );
        let ok = ua
            .register_with("1001", password("1001"), "after-2", Some(120), None)
            .await;
        assert_eq!(ok.status.0, 200);
        pbx.finish().await;
    }
}

fn parse_request(text: &str) -> Request {
    match parse_datagram(text.as_bytes().to_vec().into()).expect("parses") {
        Message::Request(r) => r,
        Message::Response(_) => panic!("not a request"),
    }
}

fn with_credentials(ctx_challenge: &Response, text: &str, user: &str, pw: &str) -> Request {
    let mut req = parse_request(text);
    let mut c = DigestClient::new(user, pw);
    c.handle_challenge(
        ChallengeKind::Proxy,
        ctx_challenge
            .headers
            .raw(&HeaderName::ProxyAuthenticate)
            .map(|v| v.as_str()),
    )
    .expect("usable");
    let uri = sip_core::message::serialize::WriteWire::to_wire_string(&req.uri);
    for a in c.authorize("INVITE", &uri, b"", &mut rand::thread_rng()) {
        req.headers.push(sip_core::message::Header::Other(
            HeaderName::ProxyAuthorization,
            a.value.into(),
        ));
    }
    req
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emergency_invite_passes_a_ban() {
    for backend in backends() {
        let mut c = PbxConfig::default();
        c.lockout.max_failures = 1;
        c.lockout.ban = Duration::from_secs(600);
        let pbx = start_pbx(backend, c).await;
        let ctx = pbx.server.ctx.clone();
        let ua = RawUa::new(pbx.udp).await;
        let r = probe(
            &ua,
            Req::register("1003", "ban-me", 1),
            "1003",
            Some("nope"),
        )
        .await;
        assert_eq!(r.status.0, 403, "banned after one failure");
        assert!(ctx.security.is_banned(ua.local.ip()));

        let snap = ctx.directory.snapshot();
        let flow = Flow {
            kind: TransportKind::Udp,
            local: pbx.udp,
            remote: ua.local,
            connection: None,
        };
        let text = ua.text(&Req::invite("112", "sos-1", 1));
        let bare = parse_request(&text);
        // The ordinary gate refuses the banned source …
        assert!(matches!(
            ctx.security.authenticate_request(&bare, &flow, ChallengeKind::Proxy, &snap),
            AuthOutcome::Respond(r) if r.status.0 == 403
        ));
        // … the emergency gate challenges once, so the phone can say who it is …
        let challenge = match ctx.security.authenticate_emergency_request(
            &bare,
            &flow,
            ChallengeKind::Proxy,
            &snap,
        ) {
            EmergencyCaller::Respond(r) => r,
            other => panic!("expected a challenge, got {other:?}"),
        };
        assert_eq!(challenge.status.0, 407);
        // … identifies it with the right password (1003 is internal-only, still fine) …
        let good = with_credentials(&challenge, &text, "1003", password("1003"));
        match ctx
            .security
            .authenticate_emergency_request(&good, &flow, ChallengeKind::Proxy, &snap)
        {
            EmergencyCaller::Extension(e) => assert_eq!(e.number, "1003"),
            other => panic!("{backend:?}: expected extension 1003, got {other:?}"),
        }
        // … and lets it through as unknown with a wrong one.
        let bad = with_credentials(&challenge, &text, "1003", "wrong");
        assert!(matches!(
            ctx.security
                .authenticate_emergency_request(&bad, &flow, ChallengeKind::Proxy, &snap),
            EmergencyCaller::Unknown
        ));
        assert!(ctx.security.is_banned(ua.local.ip()), "still banned");
        assert!(ctx.security.unban(ua.local.ip()));
        assert!(!ctx.security.is_banned(ua.local.ip()));
        pbx.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trunk_traffic_only_from_its_sources() {
    let pbx = start_pbx(support::pbx::Backend::Sqlite, lenient()).await;
    pbx.store
        .add_trunk(&store::NewTrunk {
            name: "provider".into(),
            host: "192.0.2.1".into(),
            port: 5060,
            transport: store::TrunkTransport::Udp,
            username: None,
            secret: None,
            register: false,
            channel_limit: None,
            allowed_sources: vec!["192.0.2.0/28".into(), "2001:db8::7".into()],
            enabled: true,
        })
        .await
        .expect("add trunk");
    let ctx = pbx.server.ctx.clone();
    ctx.directory.reload(&pbx.store).await.expect("reload");
    let snap = ctx.directory.snapshot();
    let ip = |s: &str| s.parse::<std::net::IpAddr>().expect("ip");
    assert_eq!(
        ctx.security
            .trunk_for_source(ip("192.0.2.9"), &snap)
            .map(|t| t.name.clone()),
        Some("provider".into())
    );
    assert!(
        ctx.security
            .trunk_for_source(ip("::ffff:192.0.2.3"), &snap)
            .is_some()
    );
    assert!(
        ctx.security
            .trunk_for_source(ip("2001:db8::7"), &snap)
            .is_some()
    );
    assert!(
        ctx.security
            .trunk_for_source(ip("192.0.2.16"), &snap)
            .is_none()
    );
    assert!(
        ctx.security
            .trunk_for_source(ip("127.0.0.1"), &snap)
            .is_none()
    );

    let ua = RawUa::new(pbx.udp).await;
    let req = parse_request(&ua.text(&Req::invite("63869001", "from-trunk", 1)));
    let from = |remote: &str| Flow {
        kind: TransportKind::Udp,
        local: pbx.udp,
        remote: remote.parse::<SocketAddr>().expect("addr"),
        connection: None,
    };
    assert!(matches!(
        ctx.security
            .authenticate_request(&req, &from("192.0.2.5:5060"), ChallengeKind::Proxy, &snap),
        AuthOutcome::Trunk(t) if t.name == "provider"
    ));
    // The same request from elsewhere is a local request: challenged.
    assert!(matches!(
        ctx.security
            .authenticate_request(&req, &from("198.51.100.5:5060"), ChallengeKind::Proxy, &snap),
        AuthOutcome::Respond(r) if r.status.0 == 407
    ));
    pbx.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_nonces_are_not_failures() {
    let mut c = PbxConfig::default();
    c.lockout.max_failures = 2;
    let pbx = start_pbx(support::pbx::Backend::Sqlite, c).await;
    let ua = RawUa::new(pbx.udp).await;
    // Another node's nonce (another secret): the right password with it is stale, not
    // wrong (RFC 7616 §3.3), and must never lock the phone out.
    let foreign = pbx::security::Security::new(&PbxConfig::default()).expect("security");
    let template = parse_request(&ua.text(&Req::register("1001", "stale", 1)));
    let challenge = foreign.challenge(&template, ChallengeKind::Www, false);
    for cseq in 2..7 {
        let mut r = Req::register("1001", "stale", cseq);
        ua.authorize(&mut r, &challenge, "1001", password("1001"));
        let resp = ua.exchange(&r).await.expect("answer");
        assert_eq!(resp.status.0, 401, "stale nonce: challenged again");
        let stale = resp
            .headers
            .raw(&HeaderName::WwwAuthenticate)
            .all(|v| Challenge::parse(v.as_str()).is_ok_and(|c| c.stale));
        assert!(stale, "with stale=true");
    }
    assert!(pbx.server.ctx.security.bans().is_empty());
    let ok = ua
        .register_with("1001", password("1001"), "fresh", Some(120), None)
        .await;
    assert_eq!(ok.status.0, 200);
    pbx.finish().await;
}
