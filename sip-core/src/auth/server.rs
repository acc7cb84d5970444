//! The server side: challenges, stateless nonces and verification of credentials.
//!
//! Owns nonce minting and checking, the `nc` replay window and the comparison of
//! responses. Never does I/O, never looks users up itself (the caller fetches the HA1s,
//! possibly asynchronously, between [`DigestServer::find_credentials`] and
//! [`DigestServer::verify`]), never reads the clock (every call takes `now`).
//!
//! Flow for a registrar or B2BUA:
//! 1. [`DigestServer::find_credentials`] on the request's Authorization (or
//!    Proxy-Authorization) values. `Missing` → answer 401/407 with
//!    [`DigestServer::challenge_values`]; `Malformed` → 400.
//! 2. Look up the user's [`Ha1Set`] by `credentials.username` (`None` when unknown).
//! 3. [`DigestServer::verify`]: see [`Verification`] for what to answer.
//!
//! The challenge never depends on the user, and an unknown user is verified against a
//! dummy HA1 with the same hashing work, so neither the answers nor their timing tell a
//! scanner which extensions exist (issue 3, Security).

use super::algorithm::{Algorithm, Qop, ResponseInput, compute_response};
use super::ha1::{Ha1, Ha1Set};
use super::header::{Challenge, Credentials, DigestParseError, write_server_challenge};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use subtle::ConstantTimeEq;

/// Whether the exchange is with the origin server (401) or a proxy (407), RFC 3261 §22.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChallengeKind {
    /// 401, `WWW-Authenticate` / `Authorization`: the registrar.
    Www,
    /// 407, `Proxy-Authenticate` / `Proxy-Authorization`: calls through the B2BUA.
    Proxy,
}

impl ChallengeKind {
    /// The response status that carries the challenge.
    pub fn status(self) -> u16 {
        match self {
            ChallengeKind::Www => 401,
            ChallengeKind::Proxy => 407,
        }
    }

    /// The header the challenge goes in.
    pub fn challenge_header(self) -> &'static str {
        match self {
            ChallengeKind::Www => "WWW-Authenticate",
            ChallengeKind::Proxy => "Proxy-Authenticate",
        }
    }

    /// The header the credentials come back in.
    pub fn credentials_header(self) -> &'static str {
        match self {
            ChallengeKind::Www => "Authorization",
            ChallengeKind::Proxy => "Proxy-Authorization",
        }
    }

    /// The kind a response status asks for, if it is a challenge.
    pub fn from_status(status: u16) -> Option<ChallengeKind> {
        match status {
            401 => Some(ChallengeKind::Www),
            407 => Some(ChallengeKind::Proxy),
            _ => None,
        }
    }
}

/// How the credentials' `uri` must relate to the Request-URI.
///
/// RFC 7616 §3.4.6 and RFC 2617 §3.2.2.5 say the server must make sure the digest-uri
/// names the same resource as the request line and should answer 400 otherwise; RFC 3261
/// §22.4 carries digest over to SIP, where that resource is the Request-URI. Real clients differ: SIPp 3.6's `[authentication]` keyword puts
/// `uri="sip:HOST:PORT"` (our address) instead of the Request-URI, and Kamailio accepts
/// that, so a strict check would fail every SIPp test and load run.
///
/// The default, [`UriPolicy::RequestUriOrOwnHost`], accepts the Request-URI itself, or a
/// `sip:`/`sips:` URI whose host and port are the Request-URI's or one of
/// [`DigestServerConfig::local_hosts`]. Why that is safe enough: the check exists so a
/// response captured for one resource cannot be replayed for another. Here a response is
/// already bound to its method (HA2), to a nonce that expires, and to a strictly
/// increasing `nc`, so a captured request cannot be replayed at all; what the looser rule
/// still allows is a client naming *this server* rather than the exact user part, which
/// gives an attacker nothing they could not do with the client's own next request. The
/// digest uri must still point at us, so credentials computed for another server (a
/// phone's other account) are refused. Without TLS, digest with `qop=auth` never
/// protected the Request-URI against a man in the middle anyway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UriPolicy {
    /// The digest uri must be the Request-URI, byte for byte (RFC 3261 §22.4 as written).
    Exact,
    /// The Request-URI, or a SIP/SIPS URI at our host and port (see the type's docs).
    #[default]
    RequestUriOrOwnHost,
    /// No check: only for a server behind a trusted edge proxy that rewrites URIs.
    Any,
}

/// What to do with credentials that carry no `qop` (RFC 2069 style).
///
/// Every challenge offers `qop="auth"`, and RFC 7616 §3.4 makes it mandatory, so a
/// conforming client always answers with it; [`QopPolicy::Required`] is the default.
/// [`QopPolicy::AllowLegacyMd5`] exists for old phones that ignore qop: with no `nc`
/// there is no replay counter, so such a nonce is accepted exactly once (the tracker
/// treats it as `nc=1`) and a second request with it is answered as stale, costing the
/// phone one extra round trip instead of opening a replay hole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QopPolicy {
    /// `qop=auth` must be present.
    #[default]
    Required,
    /// Also accept MD5 credentials without qop, each nonce once.
    AllowLegacyMd5,
}

/// Settings of a [`DigestServer`].
#[derive(Debug, Clone)]
pub struct DigestServerConfig {
    /// The realm in every challenge (usually the SIP domain).
    pub realm: String,
    /// Algorithms offered, one challenge header each, in this order. Default SHA-256 then
    /// MD5: RFC 8760 §2.4 has the client take the topmost it supports, and many phones and
    /// SIPp know only MD5.
    pub algorithms: Vec<Algorithm>,
    /// How long a nonce is valid; after that a correct response gets `stale=true`.
    pub nonce_lifetime: Duration,
    /// How far in the future a nonce's time may be (clock skew between nodes).
    pub max_clock_skew: Duration,
    /// See [`UriPolicy`].
    pub uri_policy: UriPolicy,
    /// Extra `host` or `host:port` names that are us, for [`UriPolicy::RequestUriOrOwnHost`].
    pub local_hosts: Vec<String>,
    /// See [`QopPolicy`].
    pub qop_policy: QopPolicy,
    /// Most nonces whose `nc` is remembered; bounds memory under a flood.
    pub max_tracked_nonces: usize,
}

impl DigestServerConfig {
    /// Defaults for a realm: SHA-256 and MD5, 300 s nonces, 30 s skew, the
    /// [`UriPolicy`] and [`QopPolicy`] defaults, 65 536 tracked nonces.
    pub fn new(realm: impl Into<String>) -> DigestServerConfig {
        DigestServerConfig {
            realm: realm.into(),
            algorithms: vec![Algorithm::Sha256, Algorithm::Md5],
            nonce_lifetime: Duration::from_secs(300),
            max_clock_skew: Duration::from_secs(30),
            uri_policy: UriPolicy::default(),
            local_hosts: Vec::new(),
            qop_policy: QopPolicy::default(),
            max_tracked_nonces: 65_536,
        }
    }
}

/// A [`DigestServer`] cannot be built from this configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestConfigError {
    /// The nonce secret is shorter than 16 bytes.
    #[error("nonce secret must be at least 16 bytes")]
    WeakSecret,
    /// The realm is empty.
    #[error("realm must not be empty")]
    EmptyRealm,
    /// No algorithm to offer.
    #[error("at least one algorithm must be offered")]
    NoAlgorithm,
    /// `max_tracked_nonces` is zero.
    #[error("max_tracked_nonces must be positive")]
    NoNonceTracking,
}

/// Result of [`DigestServer::find_credentials`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialsLookup {
    /// Digest credentials for our realm (boxed: the other variants are small).
    Found(Box<Credentials>),
    /// No Authorization header, only other schemes (RFC 4475 §3.3.7), or only other
    /// realms: answer with a fresh challenge. Not a failed attempt.
    Missing,
    /// A Digest header that does not parse: answer 400.
    Malformed(DigestParseError),
}

/// Why a correct response still needs a new nonce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StaleReason {
    /// Older than the nonce lifetime.
    Expired,
    /// Not minted with our secret (another cluster, a rotated secret) or from the future.
    UnknownNonce,
    /// `nc` not above the highest seen for this nonce, or the nonce's counter was evicted.
    Replayed,
}

/// Why credentials are refused with 400 (RFC 2617 §3.2.2.5) rather than a challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MalformedCredentials {
    /// The header did not parse.
    Parse(DigestParseError),
    /// `realm` is not ours.
    RealmMismatch,
    /// `algorithm` is not one we offered.
    AlgorithmNotOffered,
    /// `qop` missing although [`QopPolicy::Required`] (or the algorithm is not MD5).
    QopRequired,
    /// `qop` other than `auth`.
    UnsupportedQop,
    /// `qop` present but `cnonce` or `nc` missing, or `nc` is zero.
    MissingCnonceOrNc,
    /// `userhash=true`: never offered (RFC 7616 §3.4.4).
    UserhashNotOffered,
    /// The digest `uri` fails the [`UriPolicy`].
    UriMismatch,
}

/// Outcome of [`DigestServer::verify`], and what to answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    /// Authenticated: go on with the request.
    Authenticated {
        /// `username` from the credentials.
        username: String,
        /// The algorithm the client used.
        algorithm: Algorithm,
    },
    /// The response was right but the nonce is no longer usable: challenge again with
    /// `stale=true` ([`DigestServer::challenge_values`] with `stale = true`). Not a failed
    /// attempt: the client knows the password.
    Stale(StaleReason),
    /// Wrong password (or wrong HA1): answer exactly as for [`Verification::UnknownUser`],
    /// a fresh challenge without `stale`. Counts as a failed attempt.
    WrongCredentials,
    /// No such user. Must get the same answer as [`Verification::WrongCredentials`]; kept
    /// apart only for logs and metrics. Counts as a failed attempt.
    UnknownUser,
    /// Answer 400 Bad Request.
    Malformed(MalformedCredentials),
}

impl Verification {
    /// Whether a brute-force counter should count this (wrong password or unknown user).
    pub fn is_failed_attempt(&self) -> bool {
        matches!(
            self,
            Verification::WrongCredentials | Verification::UnknownUser
        )
    }
}

/// What the request looked like, as far as digest is concerned.
#[derive(Debug, Clone, Copy)]
pub struct DigestRequest<'a> {
    /// The request method (`REGISTER`, `INVITE`, ...).
    pub method: &'a str,
    /// The Request-URI as it appears on the request line.
    pub request_uri: &'a str,
}

/// Length of the MAC kept in a nonce (128 bits).
const MAC_LEN: usize = 16;
/// Nonce bytes: issue time (8) ‖ salt (8) ‖ MAC (16); hex on the wire, 64 characters.
const NONCE_LEN: usize = 8 + 8 + MAC_LEN;

/// The digest server. Cheap to share (`&self` everywhere; the replay tracker sits behind a
/// mutex held for a hash-map update).
pub struct DigestServer {
    config: DigestServerConfig,
    secret: Vec<u8>,
    /// Salt for the next nonce, so nonces minted in the same second differ; otherwise two
    /// phones would share a nonce and one's `nc` would reject the other's.
    salt: AtomicU64,
    /// Dummy HA1s (per family) for unknown users, derived from the secret.
    dummy: Ha1Set,
    tracker: Mutex<NonceTracker>,
}

impl fmt::Debug for DigestServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DigestServer")
            .field("config", &self.config)
            .field("secret", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl DigestServer {
    /// Builds a server. Nodes sharing `secret` (at least 16 bytes, random) and realm
    /// accept each other's nonces; only the `nc` window is per node, so a request that
    /// lands on another node with `nc > 1` is answered as stale once.
    pub fn new(
        config: DigestServerConfig,
        secret: &[u8],
    ) -> Result<DigestServer, DigestConfigError> {
        if secret.len() < 16 {
            return Err(DigestConfigError::WeakSecret);
        }
        if config.realm.is_empty() {
            return Err(DigestConfigError::EmptyRealm);
        }
        if config.algorithms.is_empty() {
            return Err(DigestConfigError::NoAlgorithm);
        }
        if config.max_tracked_nonces == 0 {
            return Err(DigestConfigError::NoNonceTracking);
        }
        let dummy_key = hmac_parts(secret, &[b"sentral-digest-dummy-ha1-v1"]);
        let mut dummy = Ha1Set::new();
        for a in [Algorithm::Md5, Algorithm::Sha256, Algorithm::Sha512_256] {
            let hex = a.hash_parts(&[&dummy_key]);
            if let Ok(h) = Ha1::from_hex(a, &hex) {
                dummy.insert(h);
            }
        }
        Ok(DigestServer {
            tracker: Mutex::new(NonceTracker::new(config.max_tracked_nonces)),
            config,
            secret: secret.to_vec(),
            salt: AtomicU64::new(rand::random()),
            dummy,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &DigestServerConfig {
        &self.config
    }

    /// One challenge per configured algorithm, all with one fresh nonce. `stale` is set
    /// after [`Verification::Stale`].
    pub fn challenge(&self, now: SystemTime, stale: bool) -> Vec<Challenge> {
        let nonce = self.mint_nonce(unix_secs(now));
        self.config
            .algorithms
            .iter()
            .map(|a| Challenge {
                realm: self.config.realm.clone(),
                nonce: nonce.clone(),
                stale,
                algorithm: Some(a.as_str().to_owned()),
                qop: vec![Qop::Auth.as_str().to_owned()],
                ..Challenge::default()
            })
            .collect()
    }

    /// [`DigestServer::challenge`] serialized: the values of the WWW-Authenticate (or
    /// Proxy-Authenticate) headers, in order.
    pub fn challenge_values(&self, now: SystemTime, stale: bool) -> Vec<String> {
        let mut values = Vec::with_capacity(self.config.algorithms.len());
        self.write_challenge_values(now, stale, |v| values.push(v.to_owned()));
        values
    }

    /// [`DigestServer::challenge_values`] handed to `emit` one by one, written into one
    /// buffer and with the nonce on the stack: no `Challenge` values are built. Every
    /// REGISTER or INVITE without credentials costs this.
    pub fn write_challenge_values(&self, now: SystemTime, stale: bool, mut emit: impl FnMut(&str)) {
        let nonce = self.mint_nonce_hex(unix_secs(now));
        // Hex digits are ASCII.
        let nonce = std::str::from_utf8(&nonce).unwrap_or_default();
        let realm = &self.config.realm;
        let mut value = String::with_capacity(96 + realm.len() + nonce.len());
        for a in &self.config.algorithms {
            value.clear();
            // Writing into a String cannot fail.
            let _ = write_server_challenge(
                &mut value,
                realm,
                nonce,
                stale,
                a.as_str(),
                Qop::Auth.as_str(),
            );
            emit(&value);
        }
    }

    /// Picks the Digest credentials for our realm among a request's Authorization (or
    /// Proxy-Authorization) header values. RFC 3261 §22.4: a request may carry credentials
    /// for several realms; the ones for other realms or schemes are not ours to judge.
    pub fn find_credentials<'a, I>(&self, values: I) -> CredentialsLookup
    where
        I: IntoIterator<Item = &'a str>,
    {
        let mut malformed = None;
        for v in values {
            match Credentials::parse(v) {
                Ok(c) if c.realm == self.config.realm => {
                    return CredentialsLookup::Found(Box::new(c));
                }
                Ok(_) | Err(DigestParseError::NotDigest(_)) => {}
                Err(e) => {
                    malformed.get_or_insert(e);
                }
            }
        }
        match malformed {
            Some(e) => CredentialsLookup::Malformed(e),
            None => CredentialsLookup::Missing,
        }
    }

    /// Verifies credentials for a request. `user` is the HA1 set of
    /// `credentials.username`, or `None` if there is no such user.
    pub fn verify(
        &self,
        request: &DigestRequest<'_>,
        credentials: &Credentials,
        user: Option<&Ha1Set>,
        now: SystemTime,
    ) -> Verification {
        use MalformedCredentials as M;
        let c = credentials;
        if c.realm != self.config.realm {
            return Verification::Malformed(M::RealmMismatch);
        }
        let algorithm = match c.algorithm() {
            Ok(a) if self.config.algorithms.contains(&a) => a,
            _ => return Verification::Malformed(M::AlgorithmNotOffered),
        };
        if c.userhash {
            return Verification::Malformed(M::UserhashNotOffered);
        }
        let (qop, nc) = match c.qop.as_deref() {
            Some(q) => {
                if Qop::parse(q) != Some(Qop::Auth) {
                    return Verification::Malformed(M::UnsupportedQop);
                }
                match (c.nonce_count(), c.cnonce.as_deref()) {
                    (Some(nc), Some(cn)) if nc > 0 && !cn.is_empty() => (Some(Qop::Auth), nc),
                    _ => return Verification::Malformed(M::MissingCnonceOrNc),
                }
            }
            None if self.config.qop_policy == QopPolicy::AllowLegacyMd5
                && algorithm == Algorithm::Md5 =>
            {
                // Single use: see QopPolicy::AllowLegacyMd5.
                (None, 1)
            }
            None => return Verification::Malformed(M::QopRequired),
        };
        if !self.uri_acceptable(request.request_uri, &c.uri) {
            return Verification::Malformed(M::UriMismatch);
        }

        // Same work whether or not the user exists: one response computation against a
        // real or a dummy HA1, one constant-time comparison, one nonce check.
        let real = user.and_then(|u| u.get(algorithm));
        let known = real.is_some();
        if user.is_some() && !known {
            tracing::debug!(%algorithm, "user has no HA1 for the chosen algorithm");
        }
        let ha1 = real.or_else(|| self.dummy.get(algorithm));
        let ha1_hex = ha1.map(Ha1::as_hex).unwrap_or_default();
        let expected = compute_response(&ResponseInput {
            algorithm,
            ha1_hex,
            nonce: &c.nonce,
            method: request.method,
            digest_uri: &c.uri,
            qop,
            nc: c.nc.as_deref().unwrap_or(""),
            cnonce: c.cnonce.as_deref().unwrap_or(""),
            body: &[],
        });
        let response_ok = hex_eq_ignoring_case(expected.as_bytes(), c.response.as_bytes());
        let nonce = self.check_nonce(&c.nonce, unix_secs(now));

        if !(response_ok && known) {
            return if user.is_some() {
                Verification::WrongCredentials
            } else {
                Verification::UnknownUser
            };
        }
        let issued = match nonce {
            NonceStatus::Valid { issued, key } => (issued, key),
            NonceStatus::Expired => return Verification::Stale(StaleReason::Expired),
            NonceStatus::Invalid => return Verification::Stale(StaleReason::UnknownNonce),
        };
        let now_s = unix_secs(now);
        let lifetime = self.config.nonce_lifetime.as_secs();
        let fresh = {
            let mut t = self.tracker.lock().unwrap_or_else(|p| p.into_inner());
            t.check_and_record(issued.1, issued.0, nc, now_s, lifetime)
        };
        if !fresh {
            return Verification::Stale(StaleReason::Replayed);
        }
        Verification::Authenticated {
            username: c.username.clone(),
            algorithm,
        }
    }

    /// Number of nonces whose `nc` is currently tracked.
    pub fn tracked_nonces(&self) -> usize {
        self.tracker.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    fn mint_nonce(&self, issued: u64) -> String {
        let hex = self.mint_nonce_hex(issued);
        String::from_utf8_lossy(&hex).into_owned()
    }

    /// A fresh nonce in hex, on the stack.
    fn mint_nonce_hex(&self, issued: u64) -> [u8; 2 * NONCE_LEN] {
        let salt = self.salt.fetch_add(1, Ordering::Relaxed);
        let mac = self.nonce_mac(issued, salt);
        let mut raw = [0u8; NONCE_LEN];
        raw[..8].copy_from_slice(&issued.to_be_bytes());
        raw[8..16].copy_from_slice(&salt.to_be_bytes());
        raw[16..].copy_from_slice(&mac);
        let mut hex = [0u8; 2 * NONCE_LEN];
        // The output is exactly twice the input's length, so this cannot fail.
        let _ = hex::encode_to_slice(raw, &mut hex);
        hex
    }

    fn nonce_mac(&self, issued: u64, salt: u64) -> [u8; MAC_LEN] {
        let realm = self.config.realm.as_bytes();
        let full = hmac_parts(
            &self.secret,
            &[
                b"sentral-digest-nonce-v1",
                &issued.to_be_bytes(),
                &salt.to_be_bytes(),
                &(realm.len() as u64).to_be_bytes(),
                realm,
            ],
        );
        let mut mac = [0u8; MAC_LEN];
        mac.copy_from_slice(&full[..MAC_LEN]);
        mac
    }

    fn check_nonce(&self, nonce: &str, now: u64) -> NonceStatus {
        let mut raw = [0u8; NONCE_LEN];
        if hex::decode_to_slice(nonce, &mut raw).is_err() {
            return NonceStatus::Invalid;
        }
        let mut word = [0u8; 8];
        word.copy_from_slice(&raw[..8]);
        let issued = u64::from_be_bytes(word);
        word.copy_from_slice(&raw[8..16]);
        let salt = u64::from_be_bytes(word);
        let mut mac = [0u8; MAC_LEN];
        mac.copy_from_slice(&raw[16..]);
        let expected = self.nonce_mac(issued, salt);
        if !bool::from(expected.ct_eq(&mac)) {
            return NonceStatus::Invalid;
        }
        if issued > now.saturating_add(self.config.max_clock_skew.as_secs()) {
            return NonceStatus::Invalid;
        }
        if now.saturating_sub(issued) > self.config.nonce_lifetime.as_secs() {
            return NonceStatus::Expired;
        }
        NonceStatus::Valid { issued, key: mac }
    }

    fn uri_acceptable(&self, request_uri: &str, digest_uri: &str) -> bool {
        match self.config.uri_policy {
            UriPolicy::Any => true,
            UriPolicy::Exact => request_uri == digest_uri,
            UriPolicy::RequestUriOrOwnHost => {
                if request_uri == digest_uri {
                    return true;
                }
                let Some(d) = SipHostPort::parse(digest_uri) else {
                    return false;
                };
                if SipHostPort::parse(request_uri).is_some_and(|r| r.same_place(&d)) {
                    return true;
                }
                self.config.local_hosts.iter().any(|h| {
                    SipHostPort::parse(&format!("{}:{h}", d.scheme))
                        .is_some_and(|l| l.same_place(&d))
                })
            }
        }
    }
}

enum NonceStatus {
    Valid { issued: u64, key: [u8; MAC_LEN] },
    Expired,
    Invalid,
}

/// Whether `received` is `expected` (lower-case hex) in any letter case, compared in
/// constant time for equal lengths. Lower-cased on the stack: no allocation per request.
fn hex_eq_ignoring_case(expected: &[u8], received: &[u8]) -> bool {
    // SHA-512/256 gives the longest response, 64 hex digits.
    let mut lowered = [0u8; 128];
    if received.len() != expected.len() || received.len() > lowered.len() {
        return false;
    }
    let lowered = &mut lowered[..received.len()];
    for (l, r) in lowered.iter_mut().zip(received) {
        *l = r.to_ascii_lowercase();
    }
    expected.ct_eq(lowered).into()
}

fn hmac_parts(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC accepts keys of any length, so this cannot fail; fall back to a keyed hash of
    // nothing rather than panic if the crate ever changes that.
    let mut out = [0u8; 32];
    if let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(key) {
        for p in parts {
            mac.update(p);
        }
        out.copy_from_slice(&mac.finalize().into_bytes());
    }
    out
}

fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Scheme, host and port of a `sip:`/`sips:` URI, enough to tell whether it names us.
#[derive(Debug, PartialEq, Eq)]
struct SipHostPort<'a> {
    scheme: &'a str,
    host: &'a str,
    port: u16,
}

impl<'a> SipHostPort<'a> {
    fn parse(uri: &'a str) -> Option<SipHostPort<'a>> {
        let (scheme, rest) = uri.split_once(':')?;
        let default_port = if scheme.eq_ignore_ascii_case("sip") {
            5060
        } else if scheme.eq_ignore_ascii_case("sips") {
            5061
        } else {
            return None;
        };
        // userinfo ends at the last '@' before any parameter (RFC 3261 §19.1.1).
        let end = rest.find([';', '?']).unwrap_or(rest.len());
        let hostport = &rest[..end];
        let hostport = hostport.rsplit_once('@').map_or(hostport, |(_, h)| h);
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (h, after) = v6.split_once(']')?;
            match after {
                "" => (h, None),
                p => (h, Some(p.strip_prefix(':')?)),
            }
        } else {
            match hostport.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (hostport, None),
            }
        };
        if host.is_empty() {
            return None;
        }
        let port = match port {
            Some(p) => p.parse().ok()?,
            None => default_port,
        };
        Some(SipHostPort { scheme, host, port })
    }

    fn same_place(&self, other: &SipHostPort<'_>) -> bool {
        self.host.eq_ignore_ascii_case(other.host) && self.port == other.port
    }
}

/// Highest `nc` seen per nonce, bounded in memory.
///
/// Only requests whose response was correct create entries, so unauthenticated floods
/// cannot fill it; the bound is for many phones with the password, not for attackers.
///
/// Entries leave when their nonce expires or, under pressure, oldest first. Evicting an
/// entry would forget its `nc` and allow a replay, so the tracker remembers the newest
/// issue time it ever evicted (`floor`) and refuses any untracked nonce issued at or
/// before it: such a client just gets one `stale=true` round trip.
#[derive(Debug)]
struct NonceTracker {
    max: usize,
    map: HashMap<[u8; MAC_LEN], (u64, u32)>,
    by_issue: BTreeSet<(u64, [u8; MAC_LEN])>,
    floor: Option<u64>,
}

impl NonceTracker {
    fn new(max: usize) -> NonceTracker {
        NonceTracker {
            max,
            map: HashMap::new(),
            by_issue: BTreeSet::new(),
            floor: None,
        }
    }

    fn len(&self) -> usize {
        self.map.len()
    }

    /// True when `nc` is above the highest seen for this nonce (and records it).
    fn check_and_record(
        &mut self,
        key: [u8; MAC_LEN],
        issued: u64,
        nc: u32,
        now: u64,
        lifetime: u64,
    ) -> bool {
        // Expired nonces are refused before reaching here, so their entries can go.
        while let Some(&(t, k)) = self.by_issue.first() {
            if now.saturating_sub(t) <= lifetime {
                break;
            }
            self.by_issue.pop_first();
            self.map.remove(&k);
        }
        if let Some(entry) = self.map.get_mut(&key) {
            if nc <= entry.1 {
                return false;
            }
            entry.1 = nc;
            return true;
        }
        if self.floor.is_some_and(|f| issued <= f) {
            return false;
        }
        while self.map.len() >= self.max {
            let Some((t, k)) = self.by_issue.pop_first() else {
                break;
            };
            self.map.remove(&k);
            self.floor = Some(self.floor.map_or(t, |f| f.max(t)));
        }
        if self.floor.is_some_and(|f| issued <= f) {
            return false;
        }
        self.map.insert(key, (issued, nc));
        self.by_issue.insert((issued, key));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sip_host_port() {
        let p = |s| SipHostPort::parse(s);
        assert_eq!(
            p("sip:1001@pbx.example.com;transport=tcp"),
            Some(SipHostPort {
                scheme: "sip",
                host: "pbx.example.com",
                port: 5060
            })
        );
        assert_eq!(p("sips:[2001:db8::1]:5071").map(|h| h.port), Some(5071));
        assert_eq!(p("sips:[2001:db8::1]").map(|h| h.port), Some(5061));
        assert!(p("tel:+4712345678").is_none());
        assert!(p("sip:a@").is_none());
        assert!(p("sip:host:99999").is_none());
        assert!(p("sip:[::1").is_none());
    }

    #[test]
    fn responses_compare_in_any_case_and_length_must_match() {
        assert!(hex_eq_ignoring_case(b"0a1b", b"0A1b"));
        assert!(!hex_eq_ignoring_case(b"0a1b", b"0a1c"));
        assert!(!hex_eq_ignoring_case(b"0a1b", b"0a1"));
        assert!(!hex_eq_ignoring_case(b"0a1b", b"0a1b0"));
        let long = [b'a'; 200];
        assert!(!hex_eq_ignoring_case(&long, &long));
    }

    #[test]
    fn tracker_evicts_with_floor() {
        let mut t = NonceTracker::new(2);
        assert!(t.check_and_record([1; 16], 10, 1, 10, 300));
        assert!(t.check_and_record([2; 16], 11, 1, 11, 300));
        assert!(!t.check_and_record([1; 16], 10, 1, 12, 300));
        assert!(t.check_and_record([1; 16], 10, 2, 12, 300));
        // Full: the oldest (issued 10) goes, and cannot come back.
        assert!(t.check_and_record([3; 16], 12, 1, 12, 300));
        assert_eq!(t.len(), 2);
        assert!(!t.check_and_record([1; 16], 10, 3, 12, 300));
        // Expired entries are dropped as time passes.
        assert!(t.check_and_record([4; 16], 400, 1, 400, 300));
        assert_eq!(t.len(), 1);
    }
}
