#![no_main]
//! Feeds arbitrary header values to the Digest parsers and the server's verification.
//! Checks: no panic; whatever parses re-serializes to something that parses to the same.

use libfuzzer_sys::fuzz_target;
use sip_core::auth::{
    Challenge, ChallengeKind, Credentials, CredentialsLookup, DigestClient, DigestRequest,
    DigestServer, DigestServerConfig, Ha1Set,
};
use std::sync::OnceLock;
use std::time::{Duration, UNIX_EPOCH};

fn server() -> &'static DigestServer {
    static S: OnceLock<DigestServer> = OnceLock::new();
    S.get_or_init(|| {
        DigestServer::new(
            DigestServerConfig::new("fuzz.example"),
            b"fuzz-secret-0123456789",
        )
        .expect("valid config")
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(c) = Challenge::parse(text) {
        let again = Challenge::parse(&c.to_string()).expect("serialized challenge parses");
        assert_eq!(again, c);
        // The client must cope with any challenge.
        let mut client = DigestClient::new("u", "p");
        if client.handle_challenge(ChallengeKind::Www, [text]).is_ok() {
            let _ = client.authorize_with_cnonce("REGISTER", "sip:x", b"", "c");
        }
    }
    if let Ok(c) = Credentials::parse(text) {
        let again = Credentials::parse(&c.to_string()).expect("serialized credentials parse");
        assert_eq!(again, c);
    }
    let s = server();
    if let CredentialsLookup::Found(c) = s.find_credentials([text]) {
        let user = Ha1Set::from_password(&c.username, "fuzz.example", "pw");
        let req = DigestRequest {
            method: "REGISTER",
            request_uri: "sip:fuzz.example",
        };
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let _ = s.verify(&req, &c, Some(&user), now);
        let _ = s.verify(&req, &c, None, now);
    }
});
