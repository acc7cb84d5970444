//! Digest credentials as the store keeps them: HA1 hashes, never the password.
//!
//! RFC 7616 §3.4.2: HA1 = H(username ":" realm ":" password). Keeping HA1 for both MD5 and
//! SHA-256 lets the registrar answer either algorithm (RFC 7616 §3.7 lets a server offer
//! both; many phones and SIPp know only MD5) without ever storing the password. HA1 is
//! still password-equivalent for that realm, so `Debug` redacts it and it is never
//! serialised.

use md5::Md5;
use rand::Rng;
use rand::distributions::Alphanumeric;
use sha2::{Digest, Sha256};

/// The realm extensions are created with unless told otherwise.
pub const DEFAULT_REALM: &str = "sentral";

/// An extension's digest credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub realm: String,
    /// Lower-case hex MD5(user:realm:password).
    pub ha1_md5: String,
    /// Lower-case hex SHA-256(user:realm:password).
    pub ha1_sha256: String,
}

impl Credentials {
    /// Hashes `password` for `username` (the extension number) in `realm`.
    pub fn from_password(username: &str, realm: &str, password: &str) -> Credentials {
        let input = format!("{username}:{realm}:{password}");
        Credentials {
            realm: realm.to_string(),
            ha1_md5: hex::encode(Md5::digest(input.as_bytes())),
            ha1_sha256: hex::encode(Sha256::digest(input.as_bytes())),
        }
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("realm", &self.realm)
            .field("ha1_md5", &"<redacted>")
            .field("ha1_sha256", &"<redacted>")
            .finish()
    }
}

/// A strong random password for a phone: 20 characters from [A-Za-z0-9] from the OS
/// generator, about 119 bits.
pub fn generate_password() -> String {
    rand::rngs::OsRng
        .sample_iter(&Alphanumeric)
        .take(20)
        .map(char::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ha1_matches_rfc_2617_example() {
        // RFC 2617 §3.5: Mufasa / testrealm@host.com / Circle Of Life; the response there
        // is built on HA1 = 939e7578ed9e3c518a452acee763bce9.
        let c = Credentials::from_password("Mufasa", "testrealm@host.com", "Circle Of Life");
        assert_eq!(c.ha1_md5, "939e7578ed9e3c518a452acee763bce9");
        assert_eq!(c.ha1_sha256.len(), 64);
    }

    #[test]
    fn debug_redacts_hashes() {
        let c = Credentials::from_password("1001", DEFAULT_REALM, "pw");
        let s = format!("{c:?}");
        assert!(!s.contains(&c.ha1_md5) && !s.contains(&c.ha1_sha256), "{s}");
    }

    #[test]
    fn generated_passwords_are_long_and_differ() {
        let a = generate_password();
        assert_eq!(a.len(), 20);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, generate_password());
    }
}
