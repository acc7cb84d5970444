//! The client side: answering a provider's 401/407 challenges, e.g. when Sentral
//! registers to and calls through a SIP trunk.
//!
//! Owns the chosen challenge per kind (401 and 407 may both be pending, RFC 3261 §22.3),
//! the nonce count, and the decision that a repeated challenge means the password is
//! wrong. Never does I/O or reads the clock; randomness for the cnonce comes from the
//! caller's RNG (or the caller gives the cnonce), so tests are deterministic.

use super::algorithm::{Algorithm, Qop, ResponseInput, compute_response};
use super::ha1::Ha1;
use super::header::{Challenge, Credentials};
use super::server::ChallengeKind;
use rand::RngCore;
use std::fmt;

/// Why a challenge cannot be answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// No Digest challenge with an algorithm and qop this client supports.
    #[error("no usable Digest challenge")]
    NoUsableChallenge,
    /// Challenged again, without `stale=true`, after sending credentials for this realm:
    /// the username or password is wrong. Retrying would only feed a lockout counter.
    #[error("credentials rejected for realm {realm:?}")]
    CredentialsRejected {
        /// The realm that rejected them.
        realm: String,
    },
}

/// A header to add to the re-sent request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    /// Which challenge it answers; [`ChallengeKind::credentials_header`] names the header.
    pub kind: ChallengeKind,
    /// The header value (`Digest username=..., ...`).
    pub value: String,
}

impl Authorization {
    /// `Authorization` or `Proxy-Authorization`.
    pub fn header_name(&self) -> &'static str {
        self.kind.credentials_header()
    }
}

#[derive(Debug, Clone)]
struct Pending {
    challenge: Challenge,
    algorithm: Algorithm,
    qop: Option<Qop>,
    /// Requests sent with this nonce so far (the last `nc` used).
    nc: u32,
}

/// A digest client for one account (username and password).
///
/// Use: send the request; on 401/407 call [`DigestClient::handle_challenge`] with the
/// challenge header values; then [`DigestClient::authorize`] for the re-sent request and
/// every later one (the nonce is reused with an increasing `nc` until the server says
/// `stale=true` or challenges again).
#[derive(Clone)]
pub struct DigestClient {
    username: String,
    password: String,
    www: Option<Pending>,
    proxy: Option<Pending>,
}

impl fmt::Debug for DigestClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DigestClient")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field(
                "www",
                &self.www.as_ref().map(|p| (&p.challenge.realm, p.algorithm)),
            )
            .field(
                "proxy",
                &self
                    .proxy
                    .as_ref()
                    .map(|p| (&p.challenge.realm, p.algorithm)),
            )
            .finish()
    }
}

impl DigestClient {
    /// A client for one account.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> DigestClient {
        DigestClient {
            username: username.into(),
            password: password.into(),
            www: None,
            proxy: None,
        }
    }

    /// The account's username.
    pub fn username(&self) -> &str {
        &self.username
    }

    /// Takes the challenges of a 401 (`Www`) or 407 (`Proxy`) response.
    ///
    /// Picks the topmost challenge whose algorithm and qop this client supports: RFC 8760
    /// §2.4 has servers list their preferred algorithm first and clients take the topmost
    /// they support. `auth` is preferred over `auth-int` when both are offered.
    pub fn handle_challenge<'a, I>(
        &mut self,
        kind: ChallengeKind,
        values: I,
    ) -> Result<(), ClientError>
    where
        I: IntoIterator<Item = &'a str>,
    {
        let chosen = values.into_iter().find_map(|v| {
            let c = Challenge::parse(v).ok()?;
            let algorithm = c.algorithm().ok()?;
            let qop = if c.qop.is_empty() {
                None
            } else if c.offers(Qop::Auth) {
                Some(Qop::Auth)
            } else if c.offers(Qop::AuthInt) {
                Some(Qop::AuthInt)
            } else {
                return None;
            };
            Some(Pending {
                challenge: c,
                algorithm,
                qop,
                nc: 0,
            })
        });
        let slot = match kind {
            ChallengeKind::Www => &mut self.www,
            ChallengeKind::Proxy => &mut self.proxy,
        };
        let Some(new) = chosen else {
            return Err(ClientError::NoUsableChallenge);
        };
        if let Some(old) = slot.as_ref() {
            // RFC 7616 §3.3: without stale=true a new challenge after our credentials
            // means they were wrong.
            if old.nc > 0 && old.challenge.realm == new.challenge.realm && !new.challenge.stale {
                let realm = new.challenge.realm.clone();
                *slot = None;
                return Err(ClientError::CredentialsRejected { realm });
            }
        }
        *slot = Some(new);
        Ok(())
    }

    /// Whether any challenge is pending, i.e. [`DigestClient::authorize`] adds headers.
    pub fn has_challenge(&self) -> bool {
        self.www.is_some() || self.proxy.is_some()
    }

    /// Forgets the challenges (e.g. after the trunk's configuration changed).
    pub fn reset(&mut self) {
        self.www = None;
        self.proxy = None;
    }

    /// Headers for a request, with a fresh random cnonce. `uri` is the Request-URI;
    /// `body` matters only if the server insisted on `auth-int`.
    pub fn authorize<R: RngCore + ?Sized>(
        &mut self,
        method: &str,
        uri: &str,
        body: &[u8],
        rng: &mut R,
    ) -> Vec<Authorization> {
        let mut bytes = [0u8; 16];
        rng.fill_bytes(&mut bytes);
        let cnonce = hex::encode(bytes);
        self.authorize_with_cnonce(method, uri, body, &cnonce)
    }

    /// [`DigestClient::authorize`] with a given cnonce (tests, RFC vectors).
    pub fn authorize_with_cnonce(
        &mut self,
        method: &str,
        uri: &str,
        body: &[u8],
        cnonce: &str,
    ) -> Vec<Authorization> {
        let mut out = Vec::with_capacity(2);
        let (username, password) = (&self.username, &self.password);
        for (kind, slot) in [
            (ChallengeKind::Www, &mut self.www),
            (ChallengeKind::Proxy, &mut self.proxy),
        ] {
            if let Some(p) = slot.as_mut() {
                p.nc = p.nc.saturating_add(1);
                out.push(Authorization {
                    kind,
                    value: credentials_for(p, username, password, method, uri, body, cnonce)
                        .to_string(),
                });
            }
        }
        out
    }
}

fn credentials_for(
    p: &Pending,
    username: &str,
    password: &str,
    method: &str,
    uri: &str,
    body: &[u8],
    cnonce: &str,
) -> Credentials {
    let c = &p.challenge;
    let ha1 = Ha1::compute(p.algorithm, username, &c.realm, password);
    let nc = format!("{:08x}", p.nc);
    let response = compute_response(&ResponseInput {
        algorithm: p.algorithm,
        ha1_hex: ha1.as_hex(),
        nonce: &c.nonce,
        method,
        digest_uri: uri,
        qop: p.qop,
        nc: &nc,
        cnonce,
        body,
    });
    // RFC 7616 §3.4.4: with userhash the username is H(username:realm).
    let shown_user = if c.userhash {
        p.algorithm
            .family()
            .hash_parts(&[username.as_bytes(), c.realm.as_bytes()])
    } else {
        username.to_owned()
    };
    Credentials {
        username: shown_user,
        realm: c.realm.clone(),
        nonce: c.nonce.clone(),
        uri: uri.to_owned(),
        response,
        // Echo the token as the server spelled it; absent stays absent (MD5).
        algorithm: c.algorithm.clone(),
        cnonce: p.qop.map(|_| cnonce.to_owned()),
        opaque: c.opaque.clone(),
        qop: p.qop.map(|q| q.as_str().to_owned()),
        nc: p.qop.map(|_| nc),
        userhash: c.userhash,
        other: Vec::new(),
    }
}
