//! SIPp (a real, independent SIP implementation) talks to a small registrar application
//! running on sip-core's driver, over UDP and over TCP: OPTIONS gets 200 with Allow;
//! REGISTER is challenged with digest, accepted with the right password and refused with
//! a wrong one. This exercises transports, parsing, validation, transactions, digest
//! auth and serialization against a peer we did not write.

mod support;

use sip_core::auth::{
    Algorithm, CredentialsLookup, DigestRequest, DigestServer, DigestServerConfig, Ha1Set,
    Verification,
};
use sip_core::driver::{Application, Driver, DriverConfig, ServerRequest};
use sip_core::message::serialize::WriteWire;
use sip_core::message::validate::Policy;
use sip_core::message::{Contact, Header, HeaderName, Method, Response};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use support::sipp::{self, SippTransport};

const REALM: &str = "sentral.test";

/// A registrar with one user, kept in memory: just enough application to answer SIPp.
struct TestRegistrar {
    policy: Policy,
    digest: DigestServer,
    users: HashMap<String, Ha1Set>,
    bindings: Mutex<HashMap<String, Vec<String>>>,
}

impl TestRegistrar {
    fn new() -> Self {
        // SIPp 3.6 answers only the first challenge and knows only MD5 (it fails with
        // "authentication must use MD5" on a SHA-256 one), so MD5 goes first here.
        let mut config = DigestServerConfig::new(REALM);
        config.algorithms = vec![Algorithm::Md5, Algorithm::Sha256];
        let digest =
            DigestServer::new(config, b"0123456789abcdef-test-secret").expect("digest config");
        let mut users = HashMap::new();
        users.insert(
            "alice".to_string(),
            Ha1Set::from_password("alice", REALM, "wonderland"),
        );
        TestRegistrar {
            policy: Policy::default(),
            digest,
            users,
            bindings: Mutex::new(HashMap::new()),
        }
    }

    fn challenge(&self, req: &ServerRequest, stale: bool) -> Response {
        let mut resp = Response::to_request(&req.request, 401);
        for v in self.digest.challenge_values(SystemTime::now(), stale) {
            resp.headers
                .push(Header::Other(HeaderName::WwwAuthenticate, v.into()));
        }
        resp
    }

    fn register(&self, req: &ServerRequest) -> Response {
        let creds = self.digest.find_credentials(
            req.request
                .headers
                .raw(&HeaderName::Authorization)
                .map(|v| v.as_str()),
        );
        let creds = match creds {
            CredentialsLookup::Found(c) => c,
            CredentialsLookup::Missing => return self.challenge(req, false),
            CredentialsLookup::Malformed(_) => return Response::to_request(&req.request, 400),
        };
        let uri = req.request.uri.to_wire_string();
        let dreq = DigestRequest {
            method: req.request.method.as_str(),
            request_uri: &uri,
        };
        match self.digest.verify(
            &dreq,
            &creds,
            self.users.get(&creds.username),
            SystemTime::now(),
        ) {
            Verification::Authenticated { username, .. } => {
                let contacts: Vec<String> = req
                    .request
                    .headers
                    .contacts()
                    .filter_map(|c| match c {
                        Contact::Addr(a) => Some(a.uri.to_wire_string()),
                        Contact::Star => None,
                    })
                    .collect();
                let expires = req.request.headers.expires().unwrap_or(3600);
                let mut resp = Response::to_request(&req.request, 200);
                for c in &contacts {
                    resp.headers.push(Header::Other(
                        HeaderName::Contact,
                        format!("<{c}>;expires={expires}").into(),
                    ));
                }
                self.bindings
                    .lock()
                    .expect("bindings lock")
                    .insert(username, contacts);
                resp
            }
            Verification::Stale(_) => self.challenge(req, true),
            Verification::WrongCredentials | Verification::UnknownUser => {
                self.challenge(req, false)
            }
            Verification::Malformed(_) => Response::to_request(&req.request, 400),
        }
    }
}

impl Application for TestRegistrar {
    fn on_request(&self, req: ServerRequest) {
        let resp = match req.request.method {
            Method::Options => {
                let mut r = Response::to_request(&req.request, 200);
                r.headers.push(Header::Other(
                    HeaderName::Allow,
                    "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER".into(),
                ));
                r
            }
            Method::Register => self.register(&req),
            _ => Response::to_request(&req.request, 405),
        };
        req.respond(resp);
    }

    fn validation_policy(&self) -> &Policy {
        &self.policy
    }
}

async fn start() -> (Driver, Arc<TestRegistrar>, SocketAddr, SocketAddr) {
    let app = Arc::new(TestRegistrar::new());
    let loopback: SocketAddr = "127.0.0.1:0".parse().expect("addr");
    let config = DriverConfig {
        udp: vec![loopback],
        tcp: vec![loopback],
        ..Default::default()
    };
    let driver = Driver::start(config, app.clone())
        .await
        .expect("driver starts");
    let addrs = driver.local_addrs();
    let udp = addrs
        .iter()
        .find(|(k, _)| !k.is_reliable())
        .map(|(_, a)| *a)
        .expect("udp addr");
    let tcp = addrs
        .iter()
        .find(|(k, _)| k.is_reliable())
        .map(|(_, a)| *a)
        .expect("tcp addr");
    (driver, app, udp, tcp)
}

async fn run_sipp(
    scenario: &str,
    target: SocketAddr,
    transport: SippTransport,
    extra: &'static [&'static str],
) -> sipp::SippRun {
    let path = sipp::scenario(scenario);
    tokio::task::spawn_blocking(move || {
        sipp::run(&path, target, transport, 1, extra, Duration::from_secs(10))
    })
    .await
    .expect("sipp task")
}

fn assert_ok(run: &sipp::SippRun, what: &str) {
    assert!(
        run.succeeded(),
        "{what}: sipp exit {:?}\nstdout:\n{}\nstderr:\n{}\nerrors:\n{}",
        run.status,
        run.stdout,
        run.stderr,
        run.errors
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sipp_options_and_register_over_udp_and_tcp() {
    let (driver, app, udp, tcp) = start().await;
    for (target, transport, name) in [
        (udp, SippTransport::Udp, "udp"),
        (tcp, SippTransport::Tcp, "tcp"),
    ] {
        let run = run_sipp("driver/options.xml", target, transport, &[]).await;
        assert_ok(&run, &format!("OPTIONS over {name}"));
        app.bindings.lock().expect("lock").clear();
        let run = run_sipp(
            "driver/register.xml",
            target,
            transport,
            &["-s", "alice", "-au", "alice", "-ap", "wonderland"],
        )
        .await;
        assert_ok(&run, &format!("REGISTER over {name}"));
        let bindings = app.bindings.lock().expect("lock").clone();
        let contacts = bindings
            .get("alice")
            .unwrap_or_else(|| panic!("alice registered over {name}"));
        assert_eq!(contacts.len(), 1, "one contact over {name}: {contacts:?}");
        assert!(
            contacts[0].starts_with("sip:alice@127.0.0.1:"),
            "contact {contacts:?}"
        );
        let run = run_sipp(
            "driver/register_wrong_password.xml",
            target,
            transport,
            &["-s", "alice", "-au", "alice"],
        )
        .await;
        assert_ok(&run, &format!("wrong password refused over {name}"));
    }
    driver.shutdown().await;
}
