//! Digest authentication: RFC vectors, server and client round trips, stale nonces,
//! replay, expiry, tampering, and unknown users that look like wrong passwords.

use sip_core::auth::{
    Algorithm, ChallengeKind, ClientError, Credentials, CredentialsLookup, DigestClient,
    DigestRequest, DigestServer, DigestServerConfig, Ha1, Ha1Set, MalformedCredentials, QopPolicy,
    StaleReason, UriPolicy, Verification,
};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const REALM: &str = "sentral.example.no";
const SECRET: &[u8] = b"0123456789abcdef-cluster-secret";
const REQ_URI: &str = "sip:sentral.example.no";

fn t0() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_800_000_000)
}

fn server_with(config: DigestServerConfig) -> DigestServer {
    DigestServer::new(config, SECRET).expect("valid config")
}

fn server() -> DigestServer {
    server_with(DigestServerConfig::new(REALM))
}

fn alice() -> Ha1Set {
    Ha1Set::from_password("1001", REALM, "hemmelig")
}

fn register() -> DigestRequest<'static> {
    DigestRequest {
        method: "REGISTER",
        request_uri: REQ_URI,
    }
}

fn values(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// Challenge → client → credentials, for one account.
fn credentials_from(
    server: &DigestServer,
    client: &mut DigestClient,
    method: &str,
    uri: &str,
    cnonce: &str,
) -> Credentials {
    let challenge = server.challenge_values(t0(), false);
    client
        .handle_challenge(ChallengeKind::Www, values(&challenge))
        .expect("usable challenge");
    let auth = client.authorize_with_cnonce(method, uri, b"", cnonce);
    assert_eq!(auth.len(), 1);
    Credentials::parse(&auth[0].value).expect("client output parses")
}

fn verify(server: &DigestServer, c: &Credentials, user: Option<&Ha1Set>) -> Verification {
    server.verify(&register(), c, user, t0())
}

// --- RFC vectors -----------------------------------------------------------------------

/// RFC 7616 §3.9.1: the same request answered with SHA-256 and with MD5.
#[test]
fn rfc7616_example_vectors() {
    for (algorithm, expected) in [
        ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
        (
            "SHA-256",
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
        ),
    ] {
        let challenge = format!(
            "Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", \
             algorithm={algorithm}, nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", \
             opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\""
        );
        let mut client = DigestClient::new("Mufasa", "Circle of Life");
        client
            .handle_challenge(ChallengeKind::Www, [challenge.as_str()])
            .expect("usable");
        let auth = client.authorize_with_cnonce(
            "GET",
            "/dir/index.html",
            b"",
            "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
        );
        let c = Credentials::parse(&auth[0].value).expect("parses");
        assert_eq!(c.response, expected, "{algorithm}");
        assert_eq!(c.nc.as_deref(), Some("00000001"));
        assert_eq!(c.qop.as_deref(), Some("auth"));
        assert_eq!(
            c.opaque.as_deref(),
            Some("FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS")
        );
    }
}

/// RFC 2617 §3.5 (no algorithm parameter: MD5).
#[test]
fn rfc2617_example_vector() {
    let challenge = "Digest realm=\"testrealm@host.com\", qop=\"auth,auth-int\", \
                     nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", \
                     opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"";
    let mut client = DigestClient::new("Mufasa", "Circle Of Life");
    client
        .handle_challenge(ChallengeKind::Www, [challenge])
        .expect("usable");
    let auth = client.authorize_with_cnonce("GET", "/dir/index.html", b"", "0a4f113b");
    let c = Credentials::parse(&auth[0].value).expect("parses");
    assert_eq!(c.response, "6629fae49393a05397450978507c4ef1");
    assert_eq!(c.algorithm, None, "absent algorithm stays absent");
}

// --- server challenge ------------------------------------------------------------------

#[test]
fn challenge_offers_sha256_then_md5_with_one_nonce() {
    let s = server();
    let ch = s.challenge(t0(), false);
    assert_eq!(ch.len(), 2);
    assert_eq!(ch[0].algorithm(), Ok(Algorithm::Sha256));
    assert_eq!(ch[1].algorithm(), Ok(Algorithm::Md5));
    assert_eq!(ch[0].nonce, ch[1].nonce);
    assert_eq!(ch[0].qop, vec!["auth"]);
    assert!(!ch[0].stale);
    let v = s.challenge_values(t0(), true);
    assert!(v[0].starts_with("Digest realm=\"sentral.example.no\", nonce=\""));
    assert!(v[0].contains("stale=true") && v[0].contains("algorithm=SHA-256"));
    assert!(v[1].contains("algorithm=MD5") && v[1].contains("qop=\"auth\""));
}

#[test]
fn nonces_differ_within_one_second() {
    let s = server();
    let a = s.challenge(t0(), false);
    let b = s.challenge(t0(), false);
    assert_ne!(a[0].nonce, b[0].nonce);
}

#[test]
fn weak_config_is_refused() {
    assert!(DigestServer::new(DigestServerConfig::new(REALM), b"short").is_err());
    assert!(DigestServer::new(DigestServerConfig::new(""), SECRET).is_err());
    let mut c = DigestServerConfig::new(REALM);
    c.algorithms.clear();
    assert!(DigestServer::new(c, SECRET).is_err());
}

// --- round trips -----------------------------------------------------------------------

#[test]
fn round_trip_picks_sha256_and_reuses_nonce() {
    let s = server();
    let mut client = DigestClient::new("1001", "hemmelig");
    let c = credentials_from(&s, &mut client, "REGISTER", REQ_URI, "c1");
    assert_eq!(c.algorithm(), Ok(Algorithm::Sha256));
    assert_eq!(
        verify(&s, &c, Some(&alice())),
        Verification::Authenticated {
            username: "1001".into(),
            algorithm: Algorithm::Sha256
        }
    );
    // Later requests reuse the nonce with nc 2, 3, ...
    for n in 2..=5u32 {
        let auth = client.authorize_with_cnonce("REGISTER", REQ_URI, b"", &format!("c{n}"));
        let c2 = Credentials::parse(&auth[0].value).expect("parses");
        assert_eq!(c2.nonce, c.nonce);
        assert_eq!(c2.nonce_count(), Some(n));
        assert!(matches!(
            verify(&s, &c2, Some(&alice())),
            Verification::Authenticated { .. }
        ));
    }
}

#[test]
fn md5_only_client_authenticates() {
    // SIPp and many phones know only MD5: they skip the SHA-256 header.
    let s = server();
    let ch = s.challenge_values(t0(), false);
    let mut client = DigestClient::new("1001", "hemmelig");
    client
        .handle_challenge(ChallengeKind::Www, [ch[1].as_str()])
        .expect("usable");
    let auth = client.authorize_with_cnonce("REGISTER", REQ_URI, b"", "abc");
    let c = Credentials::parse(&auth[0].value).expect("parses");
    assert_eq!(c.algorithm(), Ok(Algorithm::Md5));
    assert!(matches!(
        verify(&s, &c, Some(&alice())),
        Verification::Authenticated {
            algorithm: Algorithm::Md5,
            ..
        }
    ));
}

#[test]
fn stored_ha1_from_hex_works() {
    let s = server();
    let stored = Ha1::compute(Algorithm::Sha256, "1001", REALM, "hemmelig")
        .as_hex()
        .to_uppercase();
    let user = Ha1Set::new().with(Ha1::from_hex(Algorithm::Sha256, &stored).expect("hex"));
    let mut client = DigestClient::new("1001", "hemmelig");
    let c = credentials_from(&s, &mut client, "REGISTER", REQ_URI, "c");
    assert!(matches!(
        verify(&s, &c, Some(&user)),
        Verification::Authenticated { .. }
    ));
}

#[test]
fn proxy_challenge_round_trip() {
    let s = server();
    let ch = s.challenge_values(t0(), false);
    let mut client = DigestClient::new("1001", "hemmelig");
    client
        .handle_challenge(ChallengeKind::Proxy, values(&ch))
        .expect("usable");
    let uri = "sip:1002@sentral.example.no";
    let auth = client.authorize_with_cnonce("INVITE", uri, b"v=0\r\n", "x");
    assert_eq!(auth[0].header_name(), "Proxy-Authorization");
    let c = Credentials::parse(&auth[0].value).expect("parses");
    let req = DigestRequest {
        method: "INVITE",
        request_uri: uri,
    };
    assert!(matches!(
        s.verify(&req, &c, Some(&alice()), t0()),
        Verification::Authenticated { .. }
    ));
    // The same credentials do not authenticate another method (HA2 covers it).
    let bye = DigestRequest {
        method: "BYE",
        request_uri: uri,
    };
    assert_eq!(
        s.verify(&bye, &c, Some(&alice()), t0()),
        Verification::WrongCredentials
    );
}

#[test]
fn www_and_proxy_challenges_both_answered() {
    let s = server();
    let ch = s.challenge_values(t0(), false);
    let mut client = DigestClient::new("1001", "hemmelig");
    client
        .handle_challenge(ChallengeKind::Www, values(&ch))
        .expect("usable");
    client
        .handle_challenge(ChallengeKind::Proxy, values(&ch))
        .expect("usable");
    let auth = client.authorize_with_cnonce("INVITE", REQ_URI, b"", "x");
    let names: Vec<_> = auth.iter().map(|a| a.header_name()).collect();
    assert_eq!(names, ["Authorization", "Proxy-Authorization"]);
}

// --- stale, replay, expiry ---------------------------------------------------------------

#[test]
fn replayed_request_is_stale_not_a_failure() {
    let s = server();
    let mut client = DigestClient::new("1001", "hemmelig");
    let c = credentials_from(&s, &mut client, "REGISTER", REQ_URI, "c1");
    assert!(matches!(
        verify(&s, &c, Some(&alice())),
        Verification::Authenticated { .. }
    ));
    let again = verify(&s, &c, Some(&alice()));
    assert_eq!(again, Verification::Stale(StaleReason::Replayed));
    assert!(!again.is_failed_attempt());
}

#[test]
fn lower_nc_after_higher_is_rejected() {
    let s = server();
    let mut client = DigestClient::new("1001", "hemmelig");
    let c1 = credentials_from(&s, &mut client, "REGISTER", REQ_URI, "a");
    let a2 = client.authorize_with_cnonce("REGISTER", REQ_URI, b"", "b");
    let c2 = Credentials::parse(&a2[0].value).expect("parses");
    assert!(matches!(
        verify(&s, &c2, Some(&alice())),
        Verification::Authenticated { .. }
    ));
    assert_eq!(
        verify(&s, &c1, Some(&alice())),
        Verification::Stale(StaleReason::Replayed)
    );
}

#[test]
fn expired_nonce_is_stale_and_client_recovers() {
    let s = server();
    let mut client = DigestClient::new("1001", "hemmelig");
    let c = credentials_from(&s, &mut client, "REGISTER", REQ_URI, "c");
    let later = t0() + Duration::from_secs(301);
    assert_eq!(
        s.verify(&register(), &c, Some(&alice()), later),
        Verification::Stale(StaleReason::Expired)
    );
    // Just inside the lifetime it was fine.
    let inside = t0() + Duration::from_secs(300);
    assert!(matches!(
        s.verify(&register(), &c, Some(&alice()), inside),
        Verification::Authenticated { .. }
    ));
    // stale=true challenge: the client retries instead of giving up.
    let stale = s.challenge_values(later, true);
    client
        .handle_challenge(ChallengeKind::Www, values(&stale))
        .expect("stale challenge accepted");
    let auth = client.authorize_with_cnonce("REGISTER", REQ_URI, b"", "d");
    let c2 = Credentials::parse(&auth[0].value).expect("parses");
    assert_eq!(c2.nonce_count(), Some(1));
    assert!(matches!(
        s.verify(&register(), &c2, Some(&alice()), later),
        Verification::Authenticated { .. }
    ));
}

#[test]
fn configurable_lifetime() {
    let mut cfg = DigestServerConfig::new(REALM);
    cfg.nonce_lifetime = Duration::from_secs(30);
    let s = server_with(cfg);
    let mut client = DigestClient::new("1001", "hemmelig");
    let c = credentials_from(&s, &mut client, "REGISTER", REQ_URI, "c");
    assert_eq!(
        s.verify(
            &register(),
            &c,
            Some(&alice()),
            t0() + Duration::from_secs(31)
        ),
        Verification::Stale(StaleReason::Expired)
    );
}

#[test]
fn nonce_from_the_future_or_other_secret_is_stale_if_response_right() {
    let s = server();
    let other =
        DigestServer::new(DigestServerConfig::new(REALM), b"another-secret-of-16+").expect("ok");
    let mut client = DigestClient::new("1001", "hemmelig");
    let c = credentials_from(&other, &mut client, "REGISTER", REQ_URI, "c");
    assert_eq!(
        verify(&s, &c, Some(&alice())),
        Verification::Stale(StaleReason::UnknownNonce)
    );
    // A nonce minted an hour ahead (beyond the 30 s skew) is not accepted either.
    let future = s.challenge_values(t0() + Duration::from_secs(3600), false);
    let mut client = DigestClient::new("1001", "hemmelig");
    client
        .handle_challenge(ChallengeKind::Www, values(&future))
        .expect("usable");
    let auth = client.authorize_with_cnonce("REGISTER", REQ_URI, b"", "c");
    let c = Credentials::parse(&auth[0].value).expect("parses");
    assert_eq!(
        verify(&s, &c, Some(&alice())),
        Verification::Stale(StaleReason::UnknownNonce)
    );
}

#[test]
fn shared_secret_nodes_accept_each_others_nonces() {
    let a = server();
    let b = server();
    let mut client = DigestClient::new("1001", "hemmelig");
    let c = credentials_from(&a, &mut client, "REGISTER", REQ_URI, "c");
    assert!(matches!(
        verify(&b, &c, Some(&alice())),
        Verification::Authenticated { .. }
    ));
}

#[test]
fn tracker_memory_is_bounded_and_evicted_nonces_stay_refused() {
    let mut cfg = DigestServerConfig::new(REALM);
    cfg.max_tracked_nonces = 4;
    let s = server_with(cfg);
    let mut first = DigestClient::new("1001", "hemmelig");
    let c_first = credentials_from(&s, &mut first, "REGISTER", REQ_URI, "x");
    assert!(matches!(
        verify(&s, &c_first, Some(&alice())),
        Verification::Authenticated { .. }
    ));
    for i in 0..10 {
        let mut cl = DigestClient::new("1001", "hemmelig");
        // Later issue times, so the first nonce is the oldest.
        let ch = s.challenge_values(t0() + Duration::from_secs(1 + i), false);
        cl.handle_challenge(ChallengeKind::Www, values(&ch))
            .expect("ok");
        let auth = cl.authorize_with_cnonce("REGISTER", REQ_URI, b"", "y");
        let c = Credentials::parse(&auth[0].value).expect("parses");
        let at = t0() + Duration::from_secs(1 + i);
        assert!(matches!(
            s.verify(&register(), &c, Some(&alice()), at),
            Verification::Authenticated { .. }
        ));
    }
    assert!(s.tracked_nonces() <= 4);
    // The evicted first nonce cannot be replayed, even with a higher nc.
    let a2 = first.authorize_with_cnonce("REGISTER", REQ_URI, b"", "z");
    let c2 = Credentials::parse(&a2[0].value).expect("parses");
    assert_eq!(
        s.verify(
            &register(),
            &c2,
            Some(&alice()),
            t0() + Duration::from_secs(20)
        ),
        Verification::Stale(StaleReason::Replayed)
    );
}

// --- wrong passwords, unknown users ----------------------------------------------------

#[test]
fn wrong_password_then_client_gives_up() {
    let s = server();
    let mut client = DigestClient::new("1001", "feil");
    let c = credentials_from(&s, &mut client, "REGISTER", REQ_URI, "c");
    let v = verify(&s, &c, Some(&alice()));
    assert_eq!(v, Verification::WrongCredentials);
    assert!(v.is_failed_attempt());
    // The server challenges again without stale: the client must not loop.
    let again = s.challenge_values(t0(), false);
    assert_eq!(
        client.handle_challenge(ChallengeKind::Www, values(&again)),
        Err(ClientError::CredentialsRejected {
            realm: REALM.into()
        })
    );
    assert!(!client.has_challenge());
}

#[test]
fn unknown_user_is_indistinguishable() {
    let s = server();
    // The challenge flow cannot depend on the user: it is built before the lookup.
    let known_ch = s.challenge(t0(), false);
    let unknown_ch = s.challenge(t0(), false);
    assert_eq!(known_ch.len(), unknown_ch.len());
    for (a, b) in known_ch.iter().zip(&unknown_ch) {
        assert_eq!(
            (
                a.realm.as_str(),
                a.algorithm.as_deref(),
                &a.qop,
                a.stale,
                a.nonce.len()
            ),
            (
                b.realm.as_str(),
                b.algorithm.as_deref(),
                &b.qop,
                b.stale,
                b.nonce.len()
            )
        );
    }
    let mut ghost = DigestClient::new("9999", "whatever");
    let c = credentials_from(&s, &mut ghost, "REGISTER", REQ_URI, "c");
    let v = verify(&s, &c, None);
    assert_eq!(v, Verification::UnknownUser);
    assert!(v.is_failed_attempt());
    // Even the right "password" for the dummy cannot exist: an unknown user never
    // authenticates, with either algorithm.
    let ch = s.challenge_values(t0(), false);
    let mut md5 = DigestClient::new("9999", "");
    md5.handle_challenge(ChallengeKind::Www, [ch[1].as_str()])
        .expect("ok");
    let a = md5.authorize_with_cnonce("REGISTER", REQ_URI, b"", "c");
    let c = Credentials::parse(&a[0].value).expect("parses");
    assert_eq!(verify(&s, &c, None), Verification::UnknownUser);
    // A user without an HA1 for the chosen algorithm is refused like a wrong password.
    let md5_only = Ha1Set::new().with(Ha1::compute(Algorithm::Md5, "1001", REALM, "hemmelig"));
    let mut cl = DigestClient::new("1001", "hemmelig");
    let c = credentials_from(&s, &mut cl, "REGISTER", REQ_URI, "c");
    assert_eq!(
        verify(&s, &c, Some(&md5_only)),
        Verification::WrongCredentials
    );
}

// --- tampering -------------------------------------------------------------------------

#[test]
fn tampering_any_field_fails() {
    let s = server();
    let mut client = DigestClient::new("1001", "hemmelig");
    let good = credentials_from(&s, &mut client, "REGISTER", REQ_URI, "cn");
    let alice = alice();
    let bob = Ha1Set::from_password("1002", REALM, "hemmelig");
    type Tamper = fn(&mut Credentials);
    let cases: Vec<(&str, Tamper, Verification)> = vec![
        (
            "response",
            |c| {
                c.response.replace_range(
                    0..1,
                    if c.response.starts_with('0') {
                        "1"
                    } else {
                        "0"
                    },
                )
            },
            Verification::WrongCredentials,
        ),
        (
            "cnonce",
            |c| c.cnonce = Some("other".into()),
            Verification::WrongCredentials,
        ),
        (
            "nc",
            |c| c.nc = Some("00000002".into()),
            Verification::WrongCredentials,
        ),
        (
            "nonce",
            |c| {
                let last = if c.nonce.ends_with('0') { "1" } else { "0" };
                let n = c.nonce.len();
                c.nonce.replace_range(n - 1..n, last);
            },
            Verification::WrongCredentials,
        ),
        (
            "uri same host",
            |c| c.uri = "sip:1001@sentral.example.no".into(),
            Verification::WrongCredentials,
        ),
        (
            "uri other host",
            |c| c.uri = "sip:evil.example.com".into(),
            Verification::Malformed(MalformedCredentials::UriMismatch),
        ),
        (
            "realm",
            |c| c.realm = "other".into(),
            Verification::Malformed(MalformedCredentials::RealmMismatch),
        ),
        (
            "algorithm md5",
            |c| c.algorithm = Some("MD5".into()),
            Verification::WrongCredentials,
        ),
        (
            "algorithm unknown",
            |c| c.algorithm = Some("SHA-1".into()),
            Verification::Malformed(MalformedCredentials::AlgorithmNotOffered),
        ),
        (
            "algorithm not offered",
            |c| c.algorithm = Some("SHA-512-256".into()),
            Verification::Malformed(MalformedCredentials::AlgorithmNotOffered),
        ),
        (
            "qop auth-int",
            |c| c.qop = Some("auth-int".into()),
            Verification::Malformed(MalformedCredentials::UnsupportedQop),
        ),
        (
            "qop missing",
            |c| c.qop = None,
            Verification::Malformed(MalformedCredentials::QopRequired),
        ),
        (
            "nc zero",
            |c| c.nc = Some("00000000".into()),
            Verification::Malformed(MalformedCredentials::MissingCnonceOrNc),
        ),
        (
            "cnonce missing",
            |c| c.cnonce = None,
            Verification::Malformed(MalformedCredentials::MissingCnonceOrNc),
        ),
        (
            "userhash",
            |c| c.userhash = true,
            Verification::Malformed(MalformedCredentials::UserhashNotOffered),
        ),
    ];
    for (name, tamper, expected) in cases {
        let mut c = good.clone();
        tamper(&mut c);
        assert_eq!(verify(&s, &c, Some(&alice)), expected, "{name}");
    }
    // Another user's username with the same response (bob's record).
    let mut c = good.clone();
    c.username = "1002".into();
    assert_eq!(verify(&s, &c, Some(&bob)), Verification::WrongCredentials);
    // Different method.
    let invite = DigestRequest {
        method: "INVITE",
        request_uri: REQ_URI,
    };
    assert_eq!(
        s.verify(&invite, &good, Some(&alice), t0()),
        Verification::WrongCredentials
    );
    // And the untouched one still works (tampering attempts did not burn its nc).
    assert!(matches!(
        verify(&s, &good, Some(&alice)),
        Verification::Authenticated { .. }
    ));
}

#[test]
fn uppercase_response_hex_is_accepted() {
    let s = server();
    let mut client = DigestClient::new("1001", "hemmelig");
    let mut c = credentials_from(&s, &mut client, "REGISTER", REQ_URI, "c");
    c.response = c.response.to_uppercase();
    assert!(matches!(
        verify(&s, &c, Some(&alice())),
        Verification::Authenticated { .. }
    ));
}

// --- digest uri policy (SIPp) ----------------------------------------------------------

#[test]
fn sipp_style_uri_policy() {
    // SIPp 3.6 [authentication]: uri="sip:HOST:PORT" on an INVITE to sip:1002@HOST:PORT.
    let req = DigestRequest {
        method: "INVITE",
        request_uri: "sip:1002@127.0.0.1:5060",
    };
    let cred = |s: &DigestServer, uri: &str| {
        let ch = s.challenge_values(t0(), false);
        let mut cl = DigestClient::new("1001", "hemmelig");
        cl.handle_challenge(ChallengeKind::Proxy, [ch[1].as_str()])
            .expect("ok");
        let a = cl.authorize_with_cnonce("INVITE", uri, b"", "c");
        Credentials::parse(&a[0].value).expect("parses")
    };
    let s = server();
    for ok in [
        "sip:127.0.0.1:5060",
        "sip:127.0.0.1",
        "sip:1002@127.0.0.1:5060",
    ] {
        let c = cred(&s, ok);
        assert!(
            matches!(
                s.verify(&req, &c, Some(&alice()), t0()),
                Verification::Authenticated { .. }
            ),
            "{ok}"
        );
    }
    for bad in [
        "sip:127.0.0.1:5080",
        "sip:10.0.0.1:5060",
        "tel:+4712345678",
        "/",
    ] {
        let c = cred(&s, bad);
        assert_eq!(
            s.verify(&req, &c, Some(&alice()), t0()),
            Verification::Malformed(MalformedCredentials::UriMismatch),
            "{bad}"
        );
    }
    // A configured local name counts as ours.
    let mut cfg = DigestServerConfig::new(REALM);
    cfg.local_hosts = vec!["pbx.example.no:5060".into()];
    let s = server_with(cfg);
    let c = cred(&s, "sip:pbx.example.no");
    assert!(matches!(
        s.verify(&req, &c, Some(&alice()), t0()),
        Verification::Authenticated { .. }
    ));
    // Exact refuses SIPp's form; Any takes anything.
    let mut cfg = DigestServerConfig::new(REALM);
    cfg.uri_policy = UriPolicy::Exact;
    let s = server_with(cfg);
    let c = cred(&s, "sip:127.0.0.1:5060");
    assert_eq!(
        s.verify(&req, &c, Some(&alice()), t0()),
        Verification::Malformed(MalformedCredentials::UriMismatch)
    );
    let mut cfg = DigestServerConfig::new(REALM);
    cfg.uri_policy = UriPolicy::Any;
    let s = server_with(cfg);
    let c = cred(&s, "sip:10.0.0.1");
    assert!(matches!(
        s.verify(&req, &c, Some(&alice()), t0()),
        Verification::Authenticated { .. }
    ));
}

// --- legacy clients without qop ----------------------------------------------------------

#[test]
fn legacy_md5_without_qop_only_when_allowed_and_only_once() {
    let legacy_creds = |s: &DigestServer| {
        let mut ch = s.challenge(t0(), false).remove(1);
        ch.qop.clear(); // what an RFC 2069 client effectively answers
        let mut cl = DigestClient::new("1001", "hemmelig");
        cl.handle_challenge(ChallengeKind::Www, [ch.to_string().as_str()])
            .expect("ok");
        let a = cl.authorize_with_cnonce("REGISTER", REQ_URI, b"", "unused");
        Credentials::parse(&a[0].value).expect("parses")
    };
    let s = server();
    let c = legacy_creds(&s);
    assert_eq!(c.qop, None);
    assert_eq!(c.nc, None);
    assert_eq!(
        verify(&s, &c, Some(&alice())),
        Verification::Malformed(MalformedCredentials::QopRequired)
    );
    let mut cfg = DigestServerConfig::new(REALM);
    cfg.qop_policy = QopPolicy::AllowLegacyMd5;
    let s = server_with(cfg);
    let c = legacy_creds(&s);
    assert!(matches!(
        verify(&s, &c, Some(&alice())),
        Verification::Authenticated { .. }
    ));
    assert_eq!(
        verify(&s, &c, Some(&alice())),
        Verification::Stale(StaleReason::Replayed)
    );
}

// --- finding the credentials -----------------------------------------------------------

#[test]
fn find_credentials_picks_our_realm_and_ignores_other_schemes() {
    let s = server();
    // RFC 4475 §3.3.7 (regaut01): an unknown scheme → fresh challenge, not 400.
    let fixture = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/torture/valid/regaut01.dat"
    ))
    .expect("fixture present");
    let value = fixture
        .lines()
        .find_map(|l| l.strip_prefix("Authorization:"))
        .map(str::trim)
        .expect("Authorization header in regaut01");
    assert_eq!(value, "NoOneKnowsThisScheme opaque-data=here");
    assert_eq!(s.find_credentials([value]), CredentialsLookup::Missing);
    assert_eq!(
        s.find_credentials(std::iter::empty()),
        CredentialsLookup::Missing
    );

    let other =
        "Digest username=\"u\", realm=\"upstream\", nonce=\"n\", uri=\"sip:x\", response=\"00\"";
    let ours = "Digest username=\"u\", realm=\"sentral.example.no\", nonce=\"n\", uri=\"sip:x\", response=\"00\"";
    assert_eq!(s.find_credentials([other]), CredentialsLookup::Missing);
    match s.find_credentials([value, other, ours]) {
        CredentialsLookup::Found(c) => assert_eq!(c.realm, REALM),
        x => panic!("expected Found, got {x:?}"),
    }
    assert!(matches!(
        s.find_credentials(["Digest username=\"u\", username=\"v\""]),
        CredentialsLookup::Malformed(_)
    ));
}

// --- what real clients send --------------------------------------------------------------

/// Header layouts seen from SIPp 3.6 (no spaces, uri="sip:HOST:PORT", MD5 only) and from
/// phones that quote qop or use uppercase hex: all must verify.
#[test]
fn real_client_layouts_verify() {
    let s = server();
    let ch = s.challenge(t0(), false);
    let nonce = ch[1].nonce.clone();
    let uri = "sip:127.0.0.1:5060";
    let mut client = DigestClient::new("1001", "hemmelig");
    client
        .handle_challenge(ChallengeKind::Www, [ch[1].to_string().as_str()])
        .expect("usable");
    let a = client.authorize_with_cnonce("REGISTER", uri, b"", "6b8b4567");
    let response = Credentials::parse(&a[0].value).expect("parses").response;
    let req = DigestRequest {
        method: "REGISTER",
        request_uri: "sip:127.0.0.1:5060",
    };
    let sipp = format!(
        "Digest username=\"1001\",realm=\"{REALM}\",cnonce=\"6b8b4567\",nc=00000001,\
         qop=auth,uri=\"{uri}\",nonce=\"{nonce}\",response=\"{response}\",algorithm=MD5"
    );
    match s.find_credentials([sipp.as_str()]) {
        CredentialsLookup::Found(c) => assert!(matches!(
            s.verify(&req, &c, Some(&alice()), t0()),
            Verification::Authenticated { .. }
        )),
        x => panic!("SIPp layout not found: {x:?}"),
    }
    // Quoted qop, uppercase response, extra spaces, nc 2, unknown parameter.
    let a = client.authorize_with_cnonce("REGISTER", uri, b"", "6b8b4567");
    let response = Credentials::parse(&a[0].value).expect("parses").response;
    let phone = format!(
        "DIGEST  username = \"1001\" , realm=\"{REALM}\", nonce=\"{nonce}\", uri=\"{uri}\", \
         response=\"{}\", algorithm=md5, cnonce=\"6b8b4567\", qop=\"auth\", nc=00000002, \
         x-vendor=\"yealink\"",
        response.to_uppercase()
    );
    match s.find_credentials([phone.as_str()]) {
        CredentialsLookup::Found(c) => assert!(matches!(
            s.verify(&req, &c, Some(&alice()), t0()),
            Verification::Authenticated { .. }
        )),
        x => panic!("phone layout not found: {x:?}"),
    }
}
