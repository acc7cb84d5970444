//! Stored credentials: HA1 = H(username ":" realm ":" password) per hash family
//! (RFC 7616 §3.4.2), so the store never holds a password.
//!
//! An HA1 is bound to its realm: changing the realm means provisioning new HA1s. It is
//! still a password equivalent for that realm, so `Debug` never shows it.

use super::algorithm::Algorithm;
use std::fmt;

/// One HA1, lowercase hex of the algorithm family's length.
#[derive(Clone, PartialEq, Eq)]
pub struct Ha1 {
    family: Algorithm,
    hex: String,
}

/// An HA1 string is not hex of the right length.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("HA1 for {algorithm} must be {expected} hex digits")]
pub struct InvalidHa1 {
    /// The family it was meant for.
    pub algorithm: Algorithm,
    /// Hex digits expected.
    pub expected: usize,
}

impl Ha1 {
    /// Computes the HA1 for a password.
    pub fn compute(algorithm: Algorithm, username: &str, realm: &str, password: &str) -> Ha1 {
        let family = algorithm.family();
        Ha1 {
            family,
            hex: family.hash_parts(&[username.as_bytes(), realm.as_bytes(), password.as_bytes()]),
        }
    }

    /// Reads a stored HA1 (hex, either case).
    pub fn from_hex(algorithm: Algorithm, hex: &str) -> Result<Ha1, InvalidHa1> {
        let family = algorithm.family();
        if hex.len() != family.hex_len() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(InvalidHa1 {
                algorithm: family,
                expected: family.hex_len(),
            });
        }
        Ok(Ha1 {
            family,
            hex: hex.to_ascii_lowercase(),
        })
    }

    /// The hash family (never a `-sess` variant).
    pub fn algorithm(&self) -> Algorithm {
        self.family
    }

    /// Lowercase hex, for storing.
    pub fn as_hex(&self) -> &str {
        &self.hex
    }
}

impl fmt::Debug for Ha1 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ha1({}, <redacted>)", self.family)
    }
}

/// The HA1s of one user in one realm, one per hash family.
///
/// Provision every family the server offers ([`Ha1Set::from_password`] does): the
/// challenge is sent before the user is known, so a phone may pick any offered algorithm.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Ha1Set {
    md5: Option<Ha1>,
    sha256: Option<Ha1>,
    sha512_256: Option<Ha1>,
}

impl Ha1Set {
    /// An empty set.
    pub fn new() -> Ha1Set {
        Ha1Set::default()
    }

    /// HA1s for MD5, SHA-256 and SHA-512-256 from a password, for provisioning.
    pub fn from_password(username: &str, realm: &str, password: &str) -> Ha1Set {
        let mut set = Ha1Set::new();
        for a in [Algorithm::Md5, Algorithm::Sha256, Algorithm::Sha512_256] {
            set.insert(Ha1::compute(a, username, realm, password));
        }
        set
    }

    /// Adds or replaces the HA1 of its family.
    pub fn insert(&mut self, ha1: Ha1) {
        let slot = match ha1.family {
            Algorithm::Md5 => &mut self.md5,
            Algorithm::Sha256 => &mut self.sha256,
            _ => &mut self.sha512_256,
        };
        *slot = Some(ha1);
    }

    /// Builder form of [`Ha1Set::insert`].
    pub fn with(mut self, ha1: Ha1) -> Ha1Set {
        self.insert(ha1);
        self
    }

    /// The HA1 for an algorithm's family.
    pub fn get(&self, algorithm: Algorithm) -> Option<&Ha1> {
        match algorithm.family() {
            Algorithm::Md5 => self.md5.as_ref(),
            Algorithm::Sha256 => self.sha256.as_ref(),
            _ => self.sha512_256.as_ref(),
        }
    }
}

impl fmt::Debug for Ha1Set {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ha1Set")
            .field("md5", &self.md5.is_some())
            .field("sha256", &self.sha256.is_some())
            .field("sha512_256", &self.sha512_256.is_some())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc2617_ha1() {
        // RFC 2617 §3.5: HA1 for Mufasa / testrealm@host.com / "Circle Of Life".
        let h = Ha1::compute(
            Algorithm::Md5,
            "Mufasa",
            "testrealm@host.com",
            "Circle Of Life",
        );
        assert_eq!(h.as_hex(), "939e7578ed9e3c518a452acee763bce9");
        assert!(!format!("{h:?}").contains("939e"));
    }

    #[test]
    fn from_hex_checks_length_and_digits() {
        assert!(Ha1::from_hex(Algorithm::Md5, "939E7578ED9E3C518A452ACEE763BCE9").is_ok());
        assert!(Ha1::from_hex(Algorithm::Sha256, "939e7578ed9e3c518a452acee763bce9").is_err());
        assert!(Ha1::from_hex(Algorithm::Md5, "zz9e7578ed9e3c518a452acee763bce9").is_err());
    }

    #[test]
    fn set_is_per_family() {
        let s = Ha1Set::from_password("u", "r", "p");
        assert_eq!(
            s.get(Algorithm::Md5Sess).map(Ha1::as_hex),
            s.get(Algorithm::Md5).map(Ha1::as_hex)
        );
        assert_eq!(s.get(Algorithm::Sha256).map(|h| h.as_hex().len()), Some(64));
        assert!(Ha1Set::new().get(Algorithm::Md5).is_none());
    }
}
