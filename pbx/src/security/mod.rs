//! Security gate for every local request: digest authentication (the same challenge for
//! known and unknown extensions), brute-force lockout per source address, and the check
//! that trunk traffic comes from the trunk's allowed addresses.
//!
//! # The gate, in order
//! 1. **Trunk source**: a request whose packet source is in an enabled trunk's
//!    `allowed_sources` (IP or CIDR) is trunk traffic: no digest, [`AuthOutcome::Trunk`].
//!    The source is the real packet source ([`Flow::remote`]), never a header.
//! 2. **Ban**: a banned source gets `403 Forbidden` before any other work (see below).
//! 3. **Digest** (RFC 3261 §22, RFC 7616/8760 through sip-core's [`DigestServer`]):
//!    no credentials → 401/407 challenge; malformed → 400; right → the extension;
//!    stale nonce → challenge with `stale=true`; wrong password or unknown user → a
//!    fresh challenge and one failure on the source's lockout count.
//!
//! # A scanner cannot tell extensions apart
//! The challenge never depends on the user. Unknown, disabled and known extensions
//! with a wrong password all get the very same fresh challenge (same status, same
//! headers, the nonce is the only difference and it differs on every answer anyway), and
//! the work is the same too: an HA1 set is built for every request with credentials
//! (from a dummy for unknown users) and sip-core verifies against a dummy HA1 with the
//! same hashing. Unknown users count towards the lockout exactly like wrong passwords.
//!
//! # Digest algorithm order (default MD5, then SHA-256)
//! Both are offered, one challenge header each ([`LockoutConfig::digest_algorithms`]).
//! RFC 8760 §2.4 has a client take the topmost challenge it supports, so the order is
//! the server's preference. MD5 comes first by default because SIPp 3.6 and a good share
//! of deployed phones read only the *first* challenge and know only MD5: with SHA-256
//! first they fail to register at all, while MD5 first costs nothing in practice: over
//! plain UDP both are equally open to an offline dictionary attack on a captured
//! exchange (both are fast hashes of `user:realm:password`); what protects the account
//! is the random 20-character password Sentral generates and the lockout. Sites whose
//! phones all do SHA-256 set `[Sha256, Md5]`.
//!
//! # Banned sources get 403, not silence
//! Floods must cost little, and a 403 is the cheapest answer there is: it is sent before
//! any digest work or lookup, from a table in memory, inside the server transaction so
//! UDP retransmissions are absorbed by the transaction layer. Dropping silently would cost
//! *more*: a UDP client whose request is not answered retransmits it (Timer A, up to
//! 7 times over 32 s, RFC 3261 §17.1.1.2), so every attempt would arrive 7 times, and a
//! legitimate phone sharing the address (an office NAT) would show "timeout" instead of a
//! clear refusal its user can report. Telling an attacker it is banned gives it nothing.
//!
//! # Emergency calls pass the ban
//! [`Security::authenticate_emergency`] never answers 403: a ban must not stop a call to
//! 110/112/113. It still challenges once so a working phone identifies itself, and when
//! credentials are wrong the caller is simply unknown and the call goes out with the
//! site's main number.
//!
//! # No database on the request path
//! Everything here reads the in-memory [`Snapshot`] and the lockout table; a flood of
//! unauthenticated requests never touches the store. Lockout reports (event bus and
//! audit log) go through a bounded channel to a background task ([`spawn_reporter`]).

pub mod lockout;

use crate::config::{LockoutConfig, PbxConfig};
use crate::context::PbxContext;
use crate::directory::Snapshot;
use crate::error::PbxError;
use crate::events::PbxEvent;
pub use lockout::{FailureOutcome, LockoutTable};
use sip_core::auth::{
    Algorithm, ChallengeKind, CredentialsLookup, DigestRequest, DigestServer, DigestServerConfig,
    Ha1, Ha1Set, Verification,
};
use sip_core::driver::ServerRequest;
use sip_core::message::serialize::WriteWire;
use sip_core::message::{Header, HeaderName, Request, Response, SipStr};
use sip_core::transport::Flow;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};
use store::{Extension, NewAuditEntry, Trunk};
use tokio::sync::mpsc;

/// What the gate decided about a request.
#[derive(Debug, Clone)]
pub enum AuthOutcome {
    /// An enabled extension proved its password.
    Extension(Arc<Extension>),
    /// The request came from one of this trunk's allowed source addresses.
    Trunk(Arc<Trunk>),
    /// Answer with this (401/407 challenge, 400 malformed, 403 banned) and stop.
    Respond(Response),
}

/// Who is making an emergency call ([`Security::authenticate_emergency`]).
#[derive(Debug, Clone)]
pub enum EmergencyCaller {
    /// Credentials verified: present this extension's identity.
    Extension(Arc<Extension>),
    /// From a trunk's allowed source.
    Trunk(Arc<Trunk>),
    /// Credentials missing the second time, wrong, unknown or malformed: route the call
    /// anyway with the site/main number as identity.
    Unknown,
    /// Send this challenge first (no credentials yet, or a stale nonce): a working phone
    /// answers it at once and is identified.
    Respond(Response),
}

/// A ban, for the admin UI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ban {
    pub address: IpAddr,
    pub remaining: Duration,
}

/// Sent to the reporter task when a ban engages.
#[derive(Debug)]
struct LockoutNotice {
    address: IpAddr,
    /// The digest user of the failure that engaged the ban (sanitized for logs).
    last_user: String,
}

/// Audit log action of a ban, for the UI to filter on.
pub const AUDIT_ACTION_LOCKOUT: &str = "security.lockout";

/// The security gate. One per PBX, shared through [`PbxContext`].
#[derive(Debug)]
pub struct Security {
    digest: DigestServer,
    realm: String,
    lockout: Mutex<LockoutTable>,
    /// HA1 set for users that do not exist, so building it costs the same.
    dummy: store::Credentials,
    notices: mpsc::Sender<LockoutNotice>,
    notice_rx: Mutex<Option<mpsc::Receiver<LockoutNotice>>>,
}

impl Security {
    pub fn new(config: &PbxConfig) -> Result<Self, PbxError> {
        let mut dc = DigestServerConfig::new(config.realm.clone());
        dc.algorithms = config.lockout.digest_algorithms.clone();
        let digest = DigestServer::new(dc, &config.nonce_secret)
            .map_err(|e| PbxError::Config(format!("digest: {e}")))?;
        let (notices, rx) = mpsc::channel(256);
        Ok(Security {
            digest,
            realm: config.realm.clone(),
            lockout: Mutex::new(LockoutTable::new(config.lockout.clone())),
            dummy: store::Credentials::from_password(
                "\u{0}sentral-no-such-user",
                &config.realm,
                &rand::random::<u64>().to_string(),
            ),
            notices,
            notice_rx: Mutex::new(Some(rx)),
        })
    }

    /// The digest server (algorithms offered, nonce settings).
    pub fn digest(&self) -> &DigestServer {
        &self.digest
    }

    /// Authenticates a local request (see the module docs for the order of checks).
    /// `kind` is [`ChallengeKind::Www`] (401) for REGISTER and [`ChallengeKind::Proxy`]
    /// (407) for INVITE and everything else.
    pub fn authenticate(
        &self,
        req: &ServerRequest,
        kind: ChallengeKind,
        snap: &Snapshot,
    ) -> AuthOutcome {
        self.authenticate_request(&req.request, &req.flow, kind, snap)
    }

    /// Whether `req` carries credentials of `kind` (well-formed or not).
    pub fn has_credentials(&self, req: &Request, kind: ChallengeKind) -> bool {
        req.headers.raw(&credentials_header(kind)).next().is_some()
    }

    /// The answer to a request without credentials of `kind`, for the driver's inline
    /// path: what [`Security::authenticate_request`] answers (the challenge, the same for
    /// known and unknown users, or 403 for a locked-out source). `None` when the request
    /// carries credentials or comes from a trunk's address: those take the full path.
    pub fn answer_without_credentials(
        &self,
        req: &Request,
        flow: &Flow,
        kind: ChallengeKind,
        snap: &Snapshot,
    ) -> Option<Response> {
        if self.has_credentials(req, kind) {
            return None;
        }
        match self.authenticate_request(req, flow, kind, snap) {
            AuthOutcome::Respond(r) => Some(r),
            AuthOutcome::Extension(_) | AuthOutcome::Trunk(_) => None,
        }
    }

    /// [`Security::authenticate`] on a bare request and flow (tests, tools).
    pub fn authenticate_request(
        &self,
        req: &Request,
        flow: &Flow,
        kind: ChallengeKind,
        snap: &Snapshot,
    ) -> AuthOutcome {
        let ip = canonical(flow.remote.ip());
        if let Some(trunk) = self.trunk_for_source(ip, snap) {
            return AuthOutcome::Trunk(trunk);
        }
        if self.is_banned(ip) {
            tracing::debug!(source = %ip, method = %req.method.as_str(), "refused: source is locked out");
            return AuthOutcome::Respond(reply(req, 403, None));
        }
        match self.check_digest(req, ip, kind, snap) {
            DigestResult::Ok(ext) => AuthOutcome::Extension(ext),
            DigestResult::Challenge { stale } => {
                AuthOutcome::Respond(self.challenge(req, kind, stale))
            }
            DigestResult::Failed { banned: true } => AuthOutcome::Respond(reply(req, 403, None)),
            DigestResult::Failed { banned: false } => {
                AuthOutcome::Respond(self.challenge(req, kind, false))
            }
            DigestResult::Malformed(why) => AuthOutcome::Respond(reply(req, 400, Some(why))),
        }
    }

    /// The gate for an emergency INVITE: never refused because of a ban (issue 3:
    /// emergency calls go out "whatever the caller's … lockouts"). See
    /// [`EmergencyCaller`] for the answers. Failures still count towards the source's
    /// lockout, so dialling 112 is no way around it for guessing passwords.
    pub fn authenticate_emergency(
        &self,
        req: &ServerRequest,
        kind: ChallengeKind,
        snap: &Snapshot,
    ) -> EmergencyCaller {
        self.authenticate_emergency_request(&req.request, &req.flow, kind, snap)
    }

    /// [`Security::authenticate_emergency`] on a bare request and flow.
    pub fn authenticate_emergency_request(
        &self,
        req: &Request,
        flow: &Flow,
        kind: ChallengeKind,
        snap: &Snapshot,
    ) -> EmergencyCaller {
        let ip = canonical(flow.remote.ip());
        if let Some(trunk) = self.trunk_for_source(ip, snap) {
            return EmergencyCaller::Trunk(trunk);
        }
        let has_credentials = self.has_credentials(req, kind);
        match self.check_digest(req, ip, kind, snap) {
            DigestResult::Ok(ext) => EmergencyCaller::Extension(ext),
            // First INVITE: challenge once so a configured phone identifies itself.
            DigestResult::Challenge { stale } if stale || !has_credentials => {
                EmergencyCaller::Respond(self.challenge(req, kind, stale))
            }
            DigestResult::Challenge { .. }
            | DigestResult::Failed { .. }
            | DigestResult::Malformed(_) => EmergencyCaller::Unknown,
        }
    }

    /// The enabled trunk whose allowed sources include `ip` (IP or CIDR entries).
    pub fn trunk_for_source(&self, ip: IpAddr, snap: &Snapshot) -> Option<Arc<Trunk>> {
        let ip = canonical(ip);
        snap.trunks
            .iter()
            .filter(|t| t.enabled)
            .find(|t| t.allowed_sources.iter().any(|s| source_matches(s, ip)))
            .cloned()
    }

    /// Whether `ip` is locked out now.
    pub fn is_banned(&self, ip: IpAddr) -> bool {
        self.table().is_banned(canonical(ip), Instant::now())
    }

    /// Current bans, longest remaining first (admin UI).
    pub fn bans(&self) -> Vec<Ban> {
        self.table()
            .bans(Instant::now())
            .into_iter()
            .map(|(address, remaining)| Ban { address, remaining })
            .collect()
    }

    /// Lifts a ban by hand; true when there was one.
    pub fn unban(&self, ip: IpAddr) -> bool {
        let lifted = self.table().unban(canonical(ip));
        if lifted {
            tracing::info!(source = %ip, "lockout lifted by hand");
        }
        lifted
    }

    fn table(&self) -> std::sync::MutexGuard<'_, LockoutTable> {
        self.lockout.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A fresh challenge (401 or 407) with one header per offered algorithm.
    pub fn challenge(&self, req: &Request, kind: ChallengeKind, stale: bool) -> Response {
        let mut resp = reply(req, kind.status(), None);
        let name = match kind {
            ChallengeKind::Www => HeaderName::WwwAuthenticate,
            ChallengeKind::Proxy => HeaderName::ProxyAuthenticate,
        };
        self.digest
            .write_challenge_values(SystemTime::now(), stale, |v| {
                resp.headers
                    .push(Header::Other(name.clone(), SipStr::from(v)));
            });
        resp
    }

    fn check_digest(
        &self,
        req: &Request,
        ip: IpAddr,
        kind: ChallengeKind,
        snap: &Snapshot,
    ) -> DigestResult {
        let values = req
            .headers
            .raw(&credentials_header(kind))
            .map(|v| v.as_str());
        let creds = match self.digest.find_credentials(values) {
            CredentialsLookup::Missing => return DigestResult::Challenge { stale: false },
            CredentialsLookup::Malformed(e) => {
                return DigestResult::Malformed(format!("Bad Request: {e}"));
            }
            CredentialsLookup::Found(c) => c,
        };
        // Disabled extensions are exactly unknown ones. The HA1 set is built either way,
        // from the dummy when there is no usable user, so the work does not differ.
        let ext = snap
            .extension(&creds.username)
            .filter(|e| e.enabled && e.credentials.realm == self.realm);
        let stored = ext.map_or(&self.dummy, |e| &e.credentials);
        let set = ha1_set(stored);
        let uri = req.uri.to_wire_string();
        let dreq = DigestRequest {
            method: req.method.as_str(),
            request_uri: &uri,
        };
        let verdict = self
            .digest
            .verify(&dreq, &creds, ext.map(|_| &set), SystemTime::now());
        match verdict {
            Verification::Authenticated { .. } => match ext {
                Some(e) => DigestResult::Ok(e.clone()),
                // verify() only authenticates against a real HA1 set.
                None => DigestResult::Failed { banned: false },
            },
            Verification::Stale(reason) => {
                tracing::debug!(source = %ip, ?reason, "stale nonce; challenging again");
                DigestResult::Challenge { stale: true }
            }
            v @ (Verification::WrongCredentials | Verification::UnknownUser) => {
                let banned = self.record_failure(ip, &creds.username);
                tracing::info!(
                    source = %ip,
                    user = %sanitize(&creds.username),
                    unknown_user = matches!(v, Verification::UnknownUser),
                    method = %req.method.as_str(),
                    "digest authentication failed"
                );
                DigestResult::Failed { banned }
            }
            Verification::Malformed(m) => {
                tracing::debug!(source = %ip, problem = ?m, "malformed credentials");
                DigestResult::Malformed(format!("Bad Request: {m:?}"))
            }
        }
    }

    /// Counts a failure; true when it engaged a ban.
    fn record_failure(&self, ip: IpAddr, user: &str) -> bool {
        let outcome = self.table().record_failure(ip, Instant::now());
        match outcome {
            FailureOutcome::Banned { .. } => {
                let ban = self.table().config().ban;
                tracing::warn!(
                    source = %ip,
                    ban_secs = ban.as_secs(),
                    "too many failed authentications: source locked out"
                );
                let notice = LockoutNotice {
                    address: ip,
                    last_user: sanitize(user),
                };
                if self.notices.try_send(notice).is_err() {
                    tracing::warn!(source = %ip, "lockout report queue full; event and audit entry skipped");
                }
                true
            }
            FailureOutcome::Counted { .. } | FailureOutcome::Ignored => false,
        }
    }
}

enum DigestResult {
    Ok(Arc<Extension>),
    Challenge { stale: bool },
    Failed { banned: bool },
    Malformed(String),
}

fn credentials_header(kind: ChallengeKind) -> HeaderName {
    match kind {
        ChallengeKind::Www => HeaderName::Authorization,
        ChallengeKind::Proxy => HeaderName::ProxyAuthorization,
    }
}

/// The HA1s of stored credentials. A value that does not parse is left out (that
/// algorithm then fails like a wrong password) and logged without the value.
fn ha1_set(c: &store::Credentials) -> Ha1Set {
    let mut set = Ha1Set::new();
    for (alg, hex) in [
        (Algorithm::Md5, c.ha1_md5.as_str()),
        (Algorithm::Sha256, c.ha1_sha256.as_str()),
    ] {
        match Ha1::from_hex(alg, hex) {
            Ok(h) => set.insert(h),
            Err(_) => tracing::warn!(%alg, "stored HA1 is not valid hex of the right length"),
        }
    }
    set
}

/// A response to `req` with a To tag (RFC 3261 §8.2.6.2), and an optional reason.
pub(crate) fn reply(req: &Request, status: u16, reason: Option<String>) -> Response {
    let mut resp = Response::to_request(req, status);
    if let Some(r) = reason {
        resp.reason = r.into();
    }
    if let Some(to) = resp.headers.to_mut() {
        if to.tag().is_none() {
            to.set_tag(SipStr::hex_u64(rand::random::<u64>()));
        }
    }
    resp
}

/// IPv4-mapped IPv6 (`::ffff:192.0.2.1`, from a dual-stack socket) is the IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    ip.to_canonical()
}

/// Whether `ip` matches an allowed-source entry: an address, or `address/prefix`.
/// Entries that do not parse match nothing (and never everything).
pub fn source_matches(entry: &str, ip: IpAddr) -> bool {
    let entry = entry.trim();
    let (addr, prefix) = match entry.split_once('/') {
        Some((a, p)) => match p.trim().parse::<u8>() {
            Ok(p) => (a.trim(), Some(p)),
            Err(_) => return false,
        },
        None => (entry, None),
    };
    let Ok(net) = addr.trim_matches(['[', ']']).parse::<IpAddr>() else {
        return false;
    };
    match (canonical(net), ip) {
        (IpAddr::V4(n), IpAddr::V4(a)) => {
            let p = prefix.unwrap_or(32);
            if p > 32 {
                return false;
            }
            let mask = u32::MAX.checked_shl(32 - u32::from(p)).unwrap_or(0);
            u32::from(n) & mask == u32::from(a) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(a)) => {
            let p = prefix.unwrap_or(128);
            if p > 128 {
                return false;
            }
            let mask = u128::MAX.checked_shl(128 - u32::from(p)).unwrap_or(0);
            u128::from(n) & mask == u128::from(a) & mask
        }
        _ => false,
    }
}

/// A user name from the network, safe for logs and the audit log: printable, at most
/// 64 characters.
fn sanitize(s: &str) -> String {
    s.chars()
        .take(64)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// Reports bans (event bus, audit log) and prunes the lockout table. Started by the
/// registrar's maintenance ([`crate::registrar::spawn_maintenance`]) so that the
/// request path never waits on the store.
pub fn spawn_reporter(ctx: Arc<PbxContext>) {
    let rx = ctx
        .security
        .notice_rx
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take();
    let Some(mut rx) = rx else {
        return;
    };
    tokio::spawn(async move {
        let cfg: LockoutConfig = ctx.security.table().config().clone();
        let mut prune = tokio::time::interval(cfg.window.max(Duration::from_secs(1)));
        prune.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                notice = rx.recv() => {
                    let Some(n) = notice else { break };
                    ctx.events.publish(PbxEvent::Lockout { address: n.address });
                    let entry = NewAuditEntry {
                        actor: "server".to_string(),
                        action: AUDIT_ACTION_LOCKOUT.to_string(),
                        detail: format!(
                            "{} failed authentications within {} s; banned for {} s (last user tried: {:?})",
                            cfg.max_failures,
                            cfg.window.as_secs(),
                            cfg.ban.as_secs(),
                            n.last_user
                        ),
                        source: n.address.to_string(),
                    };
                    if let Err(e) = ctx.store.audit(&entry).await {
                        tracing::warn!(error = %e, "could not write lockout to the audit log");
                    }
                }
                _ = prune.tick() => ctx.security.table().prune(Instant::now()),
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip literal")
    }

    #[test]
    fn source_entries_match_addresses_and_networks() {
        assert!(source_matches("192.0.2.10", ip("192.0.2.10")));
        assert!(!source_matches("192.0.2.10", ip("192.0.2.11")));
        assert!(source_matches("192.0.2.0/24", ip("192.0.2.200")));
        assert!(!source_matches("192.0.2.0/24", ip("192.0.3.1")));
        assert!(source_matches("0.0.0.0/0", ip("203.0.113.9")));
        assert!(source_matches(" 2001:db8::/32 ", ip("2001:db8:1::5")));
        assert!(!source_matches("2001:db8::/32", ip("2001:db9::5")));
        assert!(source_matches("[2001:db8::1]", ip("2001:db8::1")));
        // Mapped addresses are compared as IPv4.
        assert!(source_matches(
            "192.0.2.10",
            canonical(ip("::ffff:192.0.2.10"))
        ));
        assert!(!source_matches("192.0.2.10", ip("2001:db8::1")));
        for bad in [
            "",
            "example.com",
            "192.0.2.0/33",
            "192.0.2.0/x",
            "10.0.0.1/",
        ] {
            assert!(!source_matches(bad, ip("192.0.2.1")), "{bad}");
        }
    }

    #[test]
    fn sanitize_strips_controls_and_bounds_length() {
        assert_eq!(sanitize("10\r\n01"), "10??01");
        assert_eq!(sanitize(&"x".repeat(200)).len(), 64);
    }

    #[test]
    fn default_offers_md5_first_then_sha256() {
        let s = Security::new(&PbxConfig::default()).expect("security");
        assert_eq!(
            s.digest().config().algorithms,
            vec![Algorithm::Md5, Algorithm::Sha256]
        );
    }
}
