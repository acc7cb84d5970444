//! Digest authentication for SIP: RFC 7616 and RFC 8760 (SHA-256, SHA-512/256), with
//! RFC 2617 and RFC 3261 §22 compatibility (MD5, `qop` absent when allowed).
//!
//! Owns: parsing and serializing the Digest header values ([`Challenge`],
//! [`Credentials`]), the server ([`DigestServer`]: stateless HMAC nonces, expiry,
//! `stale=true`, `nc` replay protection, constant-time comparison, HA1-only credential
//! storage) and the client ([`DigestClient`], for registering to a provider's trunk).
//! Never does: I/O, user lookup, reading the clock, or deciding on lockouts (the pbx does
//! that with [`Verification::is_failed_attempt`]). It works on header value strings, the
//! method and the Request-URI, so it does not depend on the message model.
//!
//! A registrar (the B2BUA is the same with [`ChallengeKind::Proxy`]):
//!
//! ```
//! use sip_core::auth::*;
//! use std::time::SystemTime;
//!
//! let server = DigestServer::new(DigestServerConfig::new("pbx.example"), b"random-32-byte-cluster-secret!!!")
//!     .expect("valid config");
//! // Provisioning stores HA1s, never the password.
//! let stored = Ha1Set::from_password("1001", "pbx.example", "secret");
//! let now = SystemTime::now();
//!
//! // REGISTER without credentials: 401 with one WWW-Authenticate per value.
//! let challenge = server.challenge_values(now, false);
//!
//! // (a phone answers; here our own client plays it)
//! let mut phone = DigestClient::new("1001", "secret");
//! phone.handle_challenge(ChallengeKind::Www, challenge.iter().map(String::as_str)).expect("usable");
//! let auth = phone.authorize_with_cnonce("REGISTER", "sip:pbx.example", b"", "0a4f113b");
//!
//! // REGISTER with credentials.
//! let request = DigestRequest { method: "REGISTER", request_uri: "sip:pbx.example" };
//! let answer = match server.find_credentials(auth.iter().map(|a| a.value.as_str())) {
//!     CredentialsLookup::Missing => "401 fresh challenge",
//!     CredentialsLookup::Malformed(_) => "400",
//!     CredentialsLookup::Found(creds) => {
//!         let user = (creds.username == "1001").then_some(&stored); // the store lookup
//!         match server.verify(&request, &creds, user, now) {
//!             Verification::Authenticated { .. } => "200",
//!             Verification::Stale(_) => "401 with stale=true",
//!             Verification::WrongCredentials | Verification::UnknownUser => "401 fresh challenge",
//!             Verification::Malformed(_) => "400",
//!         }
//!     }
//! };
//! assert_eq!(answer, "200");
//! ```

mod algorithm;
mod client;
mod ha1;
mod header;
mod server;

pub use algorithm::{Algorithm, Qop};
pub use client::{Authorization, ClientError, DigestClient};
pub use ha1::{Ha1, Ha1Set, InvalidHa1};
pub use header::{
    Challenge, Credentials, DigestParseError, MAX_PARAMS, MAX_VALUE_LEN, OtherParam,
    UnsupportedAlgorithm,
};
pub use server::{
    ChallengeKind, CredentialsLookup, DigestConfigError, DigestRequest, DigestServer,
    DigestServerConfig, MalformedCredentials, QopPolicy, StaleReason, UriPolicy, Verification,
};
