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
