//! Property tests for the Digest header values and the server/client pair.

use proptest::prelude::*;
use sip_core::auth::{
    Challenge, ChallengeKind, Credentials, DigestClient, DigestRequest, DigestServer,
    DigestServerConfig, Ha1Set, OtherParam, Verification,
};
use std::time::{Duration, UNIX_EPOCH};

fn text() -> impl Strategy<Value = String> {
    // Anything printable, quotes and backslashes included, plus some non-ASCII.
    "[ -~\u{e6}\u{f8}\u{e5}\t]{0,20}"
}

fn token() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9!%*_+`'~.-]{1,10}"
}

fn other() -> impl Strategy<Value = Vec<OtherParam>> {
    proptest::collection::vec(
        ("x-[a-z]{1,6}", prop_oneof![text(), token()], any::<bool>()).prop_map(
            |(name, value, quoted)| OtherParam {
                // Unquoted values must be tokens.
                quoted: quoted
                    || value.is_empty()
                    || !value.bytes().all(|b| b.is_ascii_alphanumeric()),
                name,
                value,
            },
        ),
        0..3,
    )
    .prop_map(|mut v| {
        // Names are unique (duplicates are an error by design).
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v.dedup_by(|a, b| a.name.eq_ignore_ascii_case(&b.name));
        v
    })
}

fn challenge() -> impl Strategy<Value = Challenge> {
    (
        (
            text(),
            text(),
            proptest::option::of(text()),
            proptest::option::of(text()),
        ),
        (
            any::<bool>(),
            proptest::option::of(prop_oneof![
                Just("MD5".to_owned()),
                Just("SHA-256".to_owned()),
                token()
            ]),
            proptest::collection::vec("[a-z-]{1,8}", 0..3),
            any::<bool>(),
            other(),
        ),
    )
        .prop_map(
            |((realm, nonce, domain, opaque), (stale, algorithm, qop, userhash, other))| {
                Challenge {
                    realm,
                    nonce,
                    domain,
                    opaque,
                    stale,
                    algorithm,
                    qop,
                    charset: None,
                    userhash,
                    other,
                }
            },
        )
}

fn credentials() -> impl Strategy<Value = Credentials> {
    (
        (text(), text(), text(), text(), "[0-9a-f]{32}"),
        (
            proptest::option::of(token()),
            proptest::option::of(text()),
            proptest::option::of(text()),
            proptest::option::of(prop_oneof![Just("auth".to_owned()), token()]),
            proptest::option::of("[0-9a-fA-F]{8}"),
            any::<bool>(),
            other(),
        ),
    )
        .prop_map(
            |(
                (username, realm, nonce, uri, response),
                (algorithm, cnonce, opaque, qop, nc, userhash, other),
            )| {
                Credentials {
                    username,
                    realm,
                    nonce,
                    uri,
                    response,
                    algorithm,
                    cnonce,
                    opaque,
                    qop,
                    nc,
                    userhash,
                    other,
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn challenge_round_trip(c in challenge()) {
        let text = c.to_string();
        prop_assert_eq!(Challenge::parse(&text), Ok(c), "{}", text);
    }

    #[test]
    fn credentials_round_trip(c in credentials()) {
        let text = c.to_string();
        prop_assert_eq!(Credentials::parse(&text), Ok(c), "{}", text);
    }

    #[test]
    fn any_account_authenticates(user in "[ -~]{1,16}", password in "[ -~]{0,16}", uri_user in "[a-z0-9]{1,8}") {
        let server = DigestServer::new(DigestServerConfig::new("realm.example"), b"0123456789abcdef!").expect("ok");
        let now = UNIX_EPOCH + Duration::from_secs(1_900_000_000);
        let ch = server.challenge_values(now, false);
        let mut client = DigestClient::new(user.clone(), password.clone());
        client.handle_challenge(ChallengeKind::Proxy, ch.iter().map(String::as_str)).expect("usable");
        let uri = format!("sip:{uri_user}@realm.example");
        let auth = client.authorize_with_cnonce("INVITE", &uri, b"", "cn");
        let creds = Credentials::parse(&auth[0].value).expect("parses");
        let req = DigestRequest { method: "INVITE", request_uri: &uri };
        let ha1 = Ha1Set::from_password(&user, "realm.example", &password);
        let ok = matches!(server.verify(&req, &creds, Some(&ha1), now), Verification::Authenticated { .. });
        prop_assert!(ok);
        let wrong = Ha1Set::from_password(&user, "realm.example", &format!("{password}x"));
        prop_assert_eq!(server.verify(&req, &creds, Some(&wrong), now), Verification::WrongCredentials);
    }

    #[test]
    fn arbitrary_header_values_never_panic(s in "\\PC{0,200}") {
        let _ = Challenge::parse(&s);
        let _ = Credentials::parse(&s);
    }
}
