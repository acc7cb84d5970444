//! The registrar against real SIPp (UDP and TCP, digest auth) and a raw UDP agent, on
//! every store backend: register, refresh, unregister (Expires 0 and `*`), 423, contact
//! limit, wrong password, restart, expiry sweep, out-of-order CSeq, NAT flows, closed
//! TCP connections and OPTIONS keep-alives.

#[path = "interop/register/raw_ua.rs"]
mod raw_ua;
mod support;

use pbx::PbxConfig;
use pbx::events::PbxEvent;
use raw_ua::{RawUa, Req};
use sip_core::message::{Contact, Message, Method};
use sip_core::transport::TransportKind;
use std::net::SocketAddr;
use std::time::Duration;
use support::pbx::{TestPbx, backends, password, start_on, start_pbx};
use support::sipp::{self, SippRun, SippTransport};

fn config() -> PbxConfig {
    let mut c = PbxConfig::default();
    // The tests drive a few exchanges each; keep the lockout out of their way.
    c.lockout.max_failures = 1000;
    c
}

/// Runs a register scenario as `user` with its password and `-key expires`.
async fn sipp_register(
    target: SocketAddr,
    scenario: &str,
    transport: SippTransport,
    user: &str,
    pass: &str,
    expires: u32,
    extra: &[&str],
) -> SippRun {
    let scenario = sipp::scenario(&format!("register/{scenario}"));
    let mut args: Vec<String> = ["-s", user, "-au", user, "-ap", pass, "-key", "expires"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.push(expires.to_string());
    // A port of its own: SIPp would otherwise take 5060 every run, and runs meant as
    // different phones would share one contact.
    args.push("-p".into());
    args.push(free_port().to_string());
    args.extend(extra.iter().map(|s| s.to_string()));
    tokio::task::spawn_blocking(move || {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        sipp::run(
            &scenario,
            target,
            transport,
            1,
            &refs,
            Duration::from_secs(15),
        )
    })
    .await
    .expect("sipp task")
}

/// [`sipp_register`] over UDP as `user` with its own password and no other arguments,
/// as most cases run it.
async fn udp_register(target: SocketAddr, scenario: &str, user: &str, expires: u32) -> SippRun {
    sipp_register(
        target,
        scenario,
        SippTransport::Udp,
        user,
        password(user),
        expires,
        &[],
    )
    .await
}

fn free_port() -> u16 {
    // Free for both UDP and TCP at the moment of asking (SIPp binds both for -t t1).
    loop {
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        let port = udp.local_addr().expect("addr").port();
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

fn assert_ok(run: &SippRun, what: &str) {
    assert!(
        run.succeeded(),
        "{what} failed: {}\n{}\n{}",
        run.stdout,
        run.stderr,
        run.errors
    );
}

async fn wait_for(mut cond: impl FnMut() -> bool, within: Duration) -> bool {
    let end = tokio::time::Instant::now() + within;
    while tokio::time::Instant::now() < end {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    cond()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sipp_registers_with_digest_over_udp() {
    for backend in backends() {
        let pbx = start_pbx(backend, config()).await;
        let mut events = pbx.server.ctx.events.subscribe();
        let run = udp_register(pbx.udp, "register.xml", "1001", 120).await;
        assert_ok(&run, &format!("{backend:?} UDP register"));
        let b = pbx.server.ctx.registrar.contacts_for("1001");
        assert_eq!(b.len(), 1, "{backend:?}: {b:?}");
        assert_eq!(b[0].destination.kind, TransportKind::Udp);
        assert_eq!(b[0].destination.remote.ip().to_string(), "127.0.0.1");
        let left = (b[0].expires_at - chrono::Utc::now()).num_seconds();
        assert!((115..=120).contains(&left), "expires in {left}s");
        assert!(!b[0].behind_nat, "contact and source agree");
        assert_eq!(b[0].user_agent.as_deref(), Some("SIPp registrar test"));
        let stored = pbx.store.registrations().await.expect("registrations");
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].extension_number, "1001");
        assert_eq!(stored[0].transport, "udp");
        assert_eq!(
            tokio::time::timeout(Duration::from_secs(2), events.recv())
                .await
                .expect("event in time")
                .expect("event"),
            PbxEvent::Registration {
                extension: "1001".into(),
                contacts: 1
            }
        );
        assert!(pbx.server.ctx.registrar.contacts_for("1002").is_empty());
        pbx.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sipp_registers_over_tcp_and_the_binding_dies_with_its_connection() {
    for backend in backends() {
        let pbx = start_pbx(backend, config()).await;
        let target = pbx.tcp;
        // -d: SIPp keeps the connection open this long after the 200.
        let run = tokio::spawn(sipp_register(
            target,
            "register.xml",
            SippTransport::Tcp,
            "1002",
            password("1002"),
            300,
            &["-d", "2500"],
        ));
        let ctx = pbx.server.ctx.clone();
        assert!(
            wait_for(
                || ctx.registrar.contacts_for("1002").len() == 1,
                Duration::from_secs(10)
            )
            .await,
            "{backend:?}: TCP binding appears"
        );
        let b = &ctx.registrar.contacts_for("1002")[0];
        assert_eq!(b.destination.kind, TransportKind::Tcp);
        assert!(
            b.destination.connection.is_some(),
            "bound to its connection"
        );
        let run = run.await.expect("sipp task");
        assert_ok(&run, &format!("{backend:?} TCP register"));
        // SIPp has exited: the connection is closed, so is the binding (memory and store).
        assert!(
            wait_for(
                || ctx.registrar.contacts_for("1002").is_empty(),
                Duration::from_secs(5)
            )
            .await,
            "{backend:?}: binding removed when its connection closed"
        );
        let mut stored = 1;
        for _ in 0..40 {
            stored = pbx.store.registrations().await.expect("regs").len();
            if stored == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(stored, 0, "{backend:?}: removed from the store too");
        pbx.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_unregister_and_star() {
    for backend in backends() {
        let pbx = start_pbx(backend, config()).await;
        let reg = &pbx.server.ctx.registrar;
        let run = udp_register(pbx.udp, "refresh.xml", "1001", 600).await;
        assert_ok(&run, "refresh");
        let b = reg.contacts_for("1001");
        assert_eq!(b.len(), 1, "a refresh updates, never duplicates");
        assert_eq!(b[0].cseq, 4);
        let left = (b[0].expires_at - chrono::Utc::now()).num_seconds();
        assert!((590..=600).contains(&left), "refreshed to 600 s: {left}");

        let run = udp_register(pbx.udp, "unregister.xml", "1002", 0).await;
        assert_ok(&run, "unregister");
        assert!(reg.contacts_for("1002").is_empty(), "Expires: 0 removes");

        // Two more contacts for 1001 (each SIPp run has its own port), then `*`.
        for _ in 0..2 {
            let run = udp_register(pbx.udp, "register.xml", "1001", 120).await;
            assert_ok(&run, "register");
        }
        assert_eq!(reg.contacts_for("1001").len(), 3);
        let run = udp_register(pbx.udp, "star_bad.xml", "1001", 0).await;
        assert_ok(&run, "Contact * with Expires 60 gets 400");
        assert_eq!(reg.contacts_for("1001").len(), 3, "a bad * changes nothing");
        let run = udp_register(pbx.udp, "star.xml", "1001", 0).await;
        assert_ok(&run, "Contact *");
        assert!(
            reg.contacts_for("1001").is_empty(),
            "* removes every binding"
        );
        assert!(
            pbx.store.registrations().await.expect("regs").is_empty(),
            "{backend:?}: and from the store"
        );
        pbx.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_brief_wrong_password_and_contact_limit() {
    for backend in backends() {
        let mut c = config();
        c.registrar.max_contacts = 2;
        c.registrar.min_expires = 60;
        let pbx = start_pbx(backend, c).await;
        let reg = &pbx.server.ctx.registrar;
        let run = udp_register(pbx.udp, "too_brief.xml", "1001", 0).await;
        assert_ok(&run, "423 with Min-Expires");
        assert!(reg.contacts_for("1001").is_empty());

        // SIPp answers the challenge with -ap, here not the extension's password.
        let run = sipp_register(
            pbx.udp,
            "wrong_password.xml",
            SippTransport::Udp,
            "1001",
            "not-the-password",
            0,
            &[],
        )
        .await;
        assert_ok(&run, "wrong password challenged again");
        assert!(reg.contacts_for("1001").is_empty());

        let mut firsts = Vec::new();
        for _ in 0..3 {
            let run = udp_register(pbx.udp, "register.xml", "2001", 3600).await;
            assert_ok(&run, "register");
            let now = reg.contacts_for("2001");
            firsts.push(now[0].contact.clone());
            // Distinct timestamps, so "oldest" is well defined.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let now: Vec<_> = reg
            .contacts_for("2001")
            .into_iter()
            .map(|b| b.contact)
            .collect();
        assert_eq!(now.len(), 2, "{backend:?}: limited to max_contacts");
        assert!(!now.contains(&firsts[0]), "the oldest binding was replaced");
        assert!(now.contains(&firsts[1]) && now.contains(&firsts[2]));
        assert_eq!(pbx.store.registrations().await.expect("regs").len(), 2);
        pbx.finish().await;
    }
}

/// A refresh that changes only the expiry is not written while the stored expiry lags by
/// less than the slack (write-behind, `registrar::persist`); with no slack it is written
/// behind the 200, and in the store once the writer is flushed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refreshes_within_the_slack_skip_the_store() {
    for backend in backends() {
        for slack in [Duration::from_secs(60), Duration::ZERO] {
            let mut c = config();
            c.registrar.store_expiry_slack = slack;
            let pbx = start_pbx(backend, c).await;
            // 120 s, then a refresh to 150 s: the stored expiry lags by about 30 s.
            let run = sipp_register(
                pbx.udp,
                "refresh.xml",
                SippTransport::Udp,
                "1001",
                password("1001"),
                150,
                &[],
            )
            .await;
            assert_ok(&run, "refresh");
            let reg = &pbx.server.ctx.registrar;
            let live = reg.contacts_for("1001");
            assert_eq!(live.len(), 1);
            assert_eq!(live[0].cseq, 4);
            reg.flush().await;
            let stored = pbx.store.registrations().await.expect("regs");
            assert_eq!(stored.len(), 1, "{backend:?}: the binding is stored");
            let lag = (live[0].expires_at - stored[0].expires_at).num_seconds();
            if slack.is_zero() {
                assert_eq!(lag, 0, "{backend:?}: every refresh written");
                assert_eq!(stored[0].cseq, 4);
            } else {
                assert!(
                    (25..=35).contains(&lag),
                    "{backend:?}: refresh not written, lag {lag}s"
                );
                assert_eq!(stored[0].cseq, 2, "{backend:?}: the first REGISTER's row");
            }
            pbx.finish().await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registrations_survive_a_restart() {
    for backend in backends() {
        let pbx = start_pbx(backend, config()).await;
        let run = udp_register(pbx.udp, "register.xml", "1003", 900).await;
        assert_ok(&run, "register");
        let before = pbx.server.ctx.registrar.contacts_for("1003");
        assert_eq!(before.len(), 1);
        let TestPbx {
            server,
            store,
            data_dir,
            pg_schema,
            ..
        } = pbx;
        server.shutdown().await;
        let pbx = start_on(store, backend, config(), data_dir, pg_schema).await;
        let after = pbx.server.ctx.registrar.contacts_for("1003");
        assert_eq!(after.len(), 1, "{backend:?}: binding restored");
        assert_eq!(after[0].contact, before[0].contact);
        assert_eq!(after[0].destination.remote, before[0].destination.remote);
        assert_eq!(after[0].destination.kind, TransportKind::Udp);
        assert_eq!(
            after[0].expires_at.timestamp(),
            before[0].expires_at.timestamp()
        );
        assert_eq!(after[0].call_id, before[0].call_id);
        pbx.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_bindings_are_swept() {
    for backend in backends() {
        let mut c = config();
        c.registrar.min_expires = 1;
        c.registrar.sweep_interval = Duration::from_millis(200);
        let pbx = start_pbx(backend, c).await;
        let mut events = pbx.server.ctx.events.subscribe();
        let run = udp_register(pbx.udp, "register.xml", "1001", 2).await;
        assert_ok(&run, "register for 2 s");
        assert_eq!(pbx.store.registrations().await.expect("regs").len(), 1);
        tokio::time::sleep(Duration::from_millis(3000)).await;
        assert!(pbx.server.ctx.registrar.contacts_for("1001").is_empty());
        assert!(pbx.server.ctx.registrar.all().is_empty());
        assert!(
            pbx.store.registrations().await.expect("regs").is_empty(),
            "{backend:?}: swept from the store"
        );
        let mut seen = Vec::new();
        while let Ok(ev) = events.try_recv() {
            seen.push(ev);
        }
        assert!(
            seen.contains(&PbxEvent::Registration {
                extension: "1001".into(),
                contacts: 0
            }),
            "sweep announced: {seen:?}"
        );
        pbx.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nat_flow_out_of_order_query_and_options_ping() {
    for backend in backends() {
        let mut c = config();
        c.registrar.options_ping_interval = Duration::from_millis(400);
        let pbx = start_pbx(backend, c).await;
        let ua = RawUa::new(pbx.udp).await;
        // A phone behind NAT: its Contact names a private address.
        let contact = "<sip:1003@10.1.2.3:5060>".to_string();
        let ok = ua
            .register_with(
                "1003",
                password("1003"),
                "nat-call-1",
                Some(300),
                Some(contact.clone()),
            )
            .await;
        assert_eq!(ok.status.0, 200, "{backend:?}");
        assert!(
            ok.headers
                .raw_first(&sip_core::message::HeaderName::Date)
                .is_some()
        );
        let listed: Vec<String> = ok
            .headers
            .contacts()
            .filter_map(|c| match c {
                Contact::Addr(a) => Some(format!(
                    "{};expires={}",
                    sip_core::message::serialize::WriteWire::to_wire_string(&a.uri),
                    a.params.value("expires").unwrap_or("")
                )),
                Contact::Star => None,
            })
            .collect();
        assert_eq!(
            listed,
            vec!["sip:1003@10.1.2.3:5060;expires=300".to_string()]
        );
        let b = &pbx.server.ctx.registrar.contacts_for("1003")[0];
        assert!(b.behind_nat);
        assert_eq!(
            b.destination.remote, ua.local,
            "requests go to the flow's source, not the Contact's host"
        );

        // §10.3 step 7: same Call-ID, CSeq not higher than the stored one (2) → 500.
        let first = ua
            .exchange(&Req {
                contact: Some(contact.clone()),
                ..Req::register("1003", "nat-call-1", 3)
            })
            .await
            .expect("challenge");
        assert_eq!(first.status.0, 401);
        let mut stale = Req {
            contact: Some(contact.clone()),
            expires: Some(0),
            ..Req::register("1003", "nat-call-1", 2)
        };
        ua.authorize(&mut stale, &first, "1003", password("1003"));
        let resp = ua.exchange(&stale).await.expect("answer");
        assert_eq!(resp.status.0, 500, "out-of-order REGISTER fails");
        assert_eq!(
            pbx.server.ctx.registrar.contacts_for("1003").len(),
            1,
            "and changes nothing"
        );

        // No Contact: a query, answered with the bindings.
        let first = ua
            .exchange(&Req {
                contact: Some(String::new()),
                ..Req::register("1003", "query-call", 1)
            })
            .await
            .expect("challenge");
        let mut q = Req {
            contact: Some(String::new()),
            ..Req::register("1003", "query-call", 2)
        };
        ua.authorize(&mut q, &first, "1003", password("1003"));
        let resp = ua.exchange(&q).await.expect("answer");
        assert_eq!(resp.status.0, 200);
        assert_eq!(resp.headers.contacts().count(), 1);

        // Keep-alive: an OPTIONS to the Contact URI arrives over the flow.
        let mut got = None;
        let end = tokio::time::Instant::now() + Duration::from_secs(5);
        while tokio::time::Instant::now() < end {
            if let Some((Message::Request(r), from)) = ua.recv(Duration::from_secs(1)).await {
                if r.method == Method::Options {
                    raw_ua::answer_request(&ua, &r, from).await;
                    got = Some(r);
                    break;
                }
            }
        }
        let ping = got.expect("an OPTIONS ping within 5 s");
        assert_eq!(
            sip_core::message::serialize::WriteWire::to_wire_string(&ping.uri),
            "sip:1003@10.1.2.3:5060"
        );
        pbx.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_for_another_aor_is_forbidden() {
    for backend in backends() {
        let pbx = start_pbx(backend, config()).await;
        let ua = RawUa::new(pbx.udp).await;
        // Credentials of 1001, To of 1002.
        let first = ua
            .exchange(&Req::register("1002", "other-aor", 1))
            .await
            .expect("challenge");
        assert_eq!(first.status.0, 401);
        let mut r = Req::register("1002", "other-aor", 2);
        ua.authorize(&mut r, &first, "1001", password("1001"));
        let resp = ua.exchange(&r).await.expect("answer");
        assert_eq!(resp.status.0, 403, "{backend:?}");
        assert!(pbx.server.ctx.registrar.contacts_for("1002").is_empty());
        assert!(pbx.server.ctx.registrar.contacts_for("1001").is_empty());
        pbx.finish().await;
    }
}
