//! Credentials and who is asking: roles, argon2id password hashes, random secrets, the
//! session cookie, and the [`Principal`] the guard attaches to every request.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::Rng;
use rand::rngs::OsRng;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::i18n::Lang;

/// What a user or API token may do. Checked on the server for every route.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// IT: everything.
    Admin,
    /// Costs, savings, tariffs, call records; never SIP secrets.
    Finance,
    Receptionist,
    Staff,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Admin, Role::Finance, Role::Receptionist, Role::Staff];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Finance => "finance",
            Role::Receptionist => "receptionist",
            Role::Staff => "staff",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// Failed sign-ins (password or second factor) before the account locks.
pub const MAX_FAILED_LOGINS: i64 = 5;
/// How long a locked account stays locked.
pub const LOCKOUT: chrono::Duration = chrono::Duration::minutes(15);
/// A full session lasts a working day; a half-signed-in one ten minutes.
pub const SESSION_TTL: chrono::Duration = chrono::Duration::hours(8);
pub const PENDING_TTL: chrono::Duration = chrono::Duration::minutes(10);
pub const COOKIE: &str = "sentral_session";

/// OWASP's argon2id recommendation (m = 19 MiB, t = 2, p = 1).
pub fn default_argon2_params() -> Params {
    Params::new(19 * 1024, 2, 1, None).unwrap_or_default()
}

pub fn hash_password(password: &str, params: &Params) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// Verifies against a PHC string (its own parameters apply).
pub fn verify_password(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// A hash to verify against when the user does not exist, so the response takes as
/// long as for a real user and does not reveal which names exist.
pub fn dummy_hash(params: &Params) -> String {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY
        .get_or_init(|| hash_password("not a real password", params).unwrap_or_default())
        .clone()
}

/// 32 random bytes, hex: session ids, CSRF tokens, API tokens.
pub fn random_token() -> String {
    let bytes: [u8; 32] = OsRng.r#gen();
    hex::encode(bytes)
}

/// A 20-character password from an alphabet without look-alikes (≈ 113 bits).
pub fn random_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    (0..20)
        .map(|_| char::from(ALPHABET[OsRng.gen_range(0..ALPHABET.len())]))
        .collect()
}

/// A recovery code `xxxxx-xxxxx` (base32, 50 bits).
pub fn random_recovery_code() -> String {
    let bytes: [u8; 7] = OsRng.r#gen();
    let s = crate::totp::base32_encode(&bytes);
    let s: String = s.chars().take(10).collect();
    format!("{}-{}", &s[..5], &s[5..])
}

/// Recovery codes are compared without case and dashes.
pub fn normalise_recovery_code(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// SHA-256 hex: how session ids, API tokens and recovery codes are stored. These are
/// high-entropy random values, so a fast hash suffices (no dictionary to attack).
pub fn sha256_hex(value: &str) -> String {
    hex::encode(Sha256::digest(value.as_bytes()))
}

/// How the request was authenticated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Via {
    /// No credentials (login pages).
    Anonymous,
    /// A browser session; carries the session's CSRF token.
    Session {
        id_hash: String,
        csrf: String,
        stage: String,
    },
    /// An API bearer token.
    Token { id: i64 },
}

/// Who is asking, attached to every request by the guard.
#[derive(Clone, Debug)]
pub struct Principal {
    pub user_id: Option<i64>,
    pub name: String,
    pub role: Option<Role>,
    pub via: Via,
    /// Client address, for the audit log.
    pub source: String,
    pub lang: Lang,
}

impl Principal {
    pub fn csrf(&self) -> &str {
        match &self.via {
            Via::Session { csrf, .. } => csrf,
            _ => "",
        }
    }

    pub fn is_admin(&self) -> bool {
        self.role == Some(Role::Admin)
    }
}

/// The session cookie: HttpOnly, SameSite=Strict, Path=/, Secure under TLS.
pub fn session_cookie(value: &str, secure: bool, max_age: Option<i64>) -> String {
    let mut c = format!("{COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict");
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    if secure {
        c.push_str("; Secure");
    }
    c
}

/// The session id from a Cookie header, if present.
pub fn session_from_cookies(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_string())
        .filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_hash_is_argon2id_and_verifies() {
        let params = Params::new(1024, 1, 1, None).unwrap_or_default();
        let hash = hash_password("hemmelig", &params).unwrap_or_default();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(verify_password("hemmelig", &hash));
        assert!(!verify_password("Hemmelig", &hash));
        assert!(!verify_password("x", "not a phc string"));
    }

    #[test]
    fn recovery_codes_normalise() {
        let code = random_recovery_code();
        assert_eq!(code.len(), 11);
        assert_eq!(
            normalise_recovery_code(&code.to_lowercase()),
            normalise_recovery_code(&code)
        );
    }

    #[test]
    fn cookie_flags() {
        let c = session_cookie("ab", true, None);
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Strict") && c.contains("Secure"));
        assert!(!session_cookie("ab", false, None).contains("Secure"));
    }
}
