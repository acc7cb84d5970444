//! Digest hash algorithms (RFC 7616 §3.4.1, RFC 8760 §2) and the three hash steps
//! (HA1, HA2, response) every digest computation is built from.

use md5::Md5;
use sha2::{Digest, Sha256, Sha512_256};
use std::fmt;

/// A digest algorithm, with its `-sess` variant (RFC 7616 §3.4.2).
///
/// SIP uses MD5 (RFC 3261 §22.4), SHA-256 and SHA-512/256 (RFC 8760 §2.1). Anything else
/// in a challenge is skipped by the client; in credentials the server rejects it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// `MD5`: the only algorithm most phones and SIPp know; the default when a header
    /// has no `algorithm` parameter (RFC 7616 §3.3).
    Md5,
    /// `MD5-sess`.
    Md5Sess,
    /// `SHA-256` (RFC 7616, RFC 8760).
    Sha256,
    /// `SHA-256-sess`.
    Sha256Sess,
    /// `SHA-512-256` (RFC 8760 §2.1: SHA-512 truncated to 256 bits).
    Sha512_256,
    /// `SHA-512-256-sess`.
    Sha512_256Sess,
}

impl Algorithm {
    /// Every algorithm this crate computes, strongest first.
    pub const ALL: [Algorithm; 6] = [
        Algorithm::Sha512_256,
        Algorithm::Sha512_256Sess,
        Algorithm::Sha256,
        Algorithm::Sha256Sess,
        Algorithm::Md5,
        Algorithm::Md5Sess,
    ];

    /// Parses the `algorithm` token; names are case-insensitive (RFC 7616 §3.3).
    pub fn parse(token: &str) -> Option<Algorithm> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(token))
    }

    /// The token as RFC 7616 spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Md5Sess => "MD5-sess",
            Algorithm::Sha256 => "SHA-256",
            Algorithm::Sha256Sess => "SHA-256-sess",
            Algorithm::Sha512_256 => "SHA-512-256",
            Algorithm::Sha512_256Sess => "SHA-512-256-sess",
        }
    }

    /// Whether this is a `-sess` variant, whose HA1 also covers nonce and cnonce.
    pub fn is_session(self) -> bool {
        matches!(
            self,
            Algorithm::Md5Sess | Algorithm::Sha256Sess | Algorithm::Sha512_256Sess
        )
    }

    /// The hash family: the variant without `-sess`. Stored HA1s are kept per family,
    /// since a `-sess` HA1 is derived from the plain one per request.
    pub fn family(self) -> Algorithm {
        match self {
            Algorithm::Md5 | Algorithm::Md5Sess => Algorithm::Md5,
            Algorithm::Sha256 | Algorithm::Sha256Sess => Algorithm::Sha256,
            Algorithm::Sha512_256 | Algorithm::Sha512_256Sess => Algorithm::Sha512_256,
        }
    }

    /// Length of a hash of this algorithm in lowercase hex.
    pub fn hex_len(self) -> usize {
        match self.family() {
            Algorithm::Md5 => 32,
            _ => 64,
        }
    }

    /// `H(p1 ":" p2 ":" ...)` as lowercase hex: RFC 7616 §3.4.1 joins every input with
    /// colons, so callers pass the parts and never build the joined string themselves.
    pub(crate) fn hash_parts(self, parts: &[&[u8]]) -> String {
        fn run<D: Digest>(parts: &[&[u8]]) -> String {
            let mut d = D::new();
            for (i, p) in parts.iter().enumerate() {
                if i > 0 {
                    d.update(b":");
                }
                d.update(p);
            }
            hex::encode(d.finalize())
        }
        match self.family() {
            Algorithm::Md5 => run::<Md5>(parts),
            Algorithm::Sha256 => run::<Sha256>(parts),
            _ => run::<Sha512_256>(parts),
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The quality of protection in use (RFC 7616 §3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Qop {
    /// `auth`: method and URI are covered.
    Auth,
    /// `auth-int`: the body is covered too. The server never offers it (SIP bodies are
    /// rewritten by B2BUAs and SBCs all the time); the client answers it if a trunk asks.
    AuthInt,
}

impl Qop {
    /// Parses a qop token, case-insensitively.
    pub fn parse(token: &str) -> Option<Qop> {
        if token.eq_ignore_ascii_case("auth") {
            Some(Qop::Auth)
        } else if token.eq_ignore_ascii_case("auth-int") {
            Some(Qop::AuthInt)
        } else {
            None
        }
    }

    /// The token.
    pub fn as_str(self) -> &'static str {
        match self {
            Qop::Auth => "auth",
            Qop::AuthInt => "auth-int",
        }
    }
}

/// The per-request inputs of a digest response.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ResponseInput<'a> {
    pub algorithm: Algorithm,
    /// HA1 of the algorithm's family, lowercase hex (`H(username:realm:password)`).
    pub ha1_hex: &'a str,
    pub nonce: &'a str,
    pub method: &'a str,
    pub digest_uri: &'a str,
    /// `None` for RFC 2069 style credentials without qop.
    pub qop: Option<Qop>,
    pub nc: &'a str,
    pub cnonce: &'a str,
    /// Only read for `auth-int`.
    pub body: &'a [u8],
}

/// The `response` value, RFC 7616 §3.4.1 (and RFC 2617 §3.2.2.1 when qop is absent).
pub(crate) fn compute_response(input: &ResponseInput<'_>) -> String {
    let alg = input.algorithm;
    // RFC 7616 §3.4.2: for -sess, HA1 = H(H(user:realm:pass):nonce:cnonce).
    let sess_ha1;
    let ha1 = if alg.is_session() {
        sess_ha1 = alg.hash_parts(&[
            input.ha1_hex.as_bytes(),
            input.nonce.as_bytes(),
            input.cnonce.as_bytes(),
        ]);
        sess_ha1.as_str()
    } else {
        input.ha1_hex
    };
    // RFC 7616 §3.4.3: HA2 = H(method:uri) or H(method:uri:H(body)) for auth-int.
    let ha2 = match input.qop {
        Some(Qop::AuthInt) => {
            let body_hash = alg.hash_parts(&[input.body]);
            alg.hash_parts(&[
                input.method.as_bytes(),
                input.digest_uri.as_bytes(),
                body_hash.as_bytes(),
            ])
        }
        _ => alg.hash_parts(&[input.method.as_bytes(), input.digest_uri.as_bytes()]),
    };
    match input.qop {
        Some(qop) => alg.hash_parts(&[
            ha1.as_bytes(),
            input.nonce.as_bytes(),
            input.nc.as_bytes(),
            input.cnonce.as_bytes(),
            qop.as_str().as_bytes(),
            ha2.as_bytes(),
        ]),
        // RFC 2069 / RFC 2617 §3.2.2.1 without qop.
        None => alg.hash_parts(&[ha1.as_bytes(), input.nonce.as_bytes(), ha2.as_bytes()]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_case_insensitively() {
        for a in Algorithm::ALL {
            assert_eq!(Algorithm::parse(a.as_str()), Some(a));
            assert_eq!(Algorithm::parse(&a.as_str().to_ascii_lowercase()), Some(a));
        }
        assert_eq!(Algorithm::parse("SHA-1"), None);
        assert_eq!(Algorithm::parse(""), None);
    }

    #[test]
    fn hash_parts_joins_with_colons() {
        assert_eq!(
            Algorithm::Md5.hash_parts(&[b"a", b"b"]),
            Algorithm::Md5.hash_parts(&[b"a:b"])
        );
        // MD5("") is well known.
        assert_eq!(
            Algorithm::Md5.hash_parts(&[b""]),
            "d41d8cd98f00b204e9800998ecf8427e"
        );
        assert_eq!(Algorithm::Sha512_256.hash_parts(&[b"x"]).len(), 64);
    }
}
