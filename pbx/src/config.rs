//! PBX settings with the defaults a Norwegian municipality starts from.

use std::time::Duration;

/// Everything the PBX can be tuned by. `Default` is what `sentral serve` runs with when
/// nothing is configured.
#[derive(Clone, Debug)]
pub struct PbxConfig {
    /// Digest realm and the SIP domain phones register to.
    pub realm: String,
    /// Secret for stateless digest nonces; nodes sharing a database must share it.
    pub nonce_secret: Vec<u8>,
    /// Digits in an extension number.
    pub extension_digits: usize,
    /// Numbers that are always routed to the trunk, whatever the caller's class of
    /// service, lockouts or channel limits (whole-number match).
    pub emergency_numbers: Vec<String>,
    pub registrar: RegistrarConfig,
    pub lockout: LockoutConfig,
    pub calls: CallConfig,
}

#[derive(Clone, Debug)]
pub struct RegistrarConfig {
    /// Most contacts per extension; the oldest binding is replaced beyond it.
    pub max_contacts: usize,
    /// Shorter Expires get 423 Interval Too Brief with Min-Expires (RFC 3261 §10.3 step 7).
    pub min_expires: u32,
    /// Longer Expires are shortened to this.
    pub max_expires: u32,
    /// Used when the REGISTER names no expiry.
    pub default_expires: u32,
    /// How often registered contacts get an OPTIONS ping (keeps NAT bindings open).
    pub options_ping_interval: Duration,
    /// How often expired bindings are swept.
    pub sweep_interval: Duration,
}

#[derive(Clone, Debug)]
pub struct LockoutConfig {
    pub enabled: bool,
    /// Failed authentications from one address within `window` that trigger a ban.
    pub max_failures: u32,
    pub window: Duration,
    /// How long a ban lasts.
    pub ban: Duration,
}

#[derive(Clone, Debug)]
pub struct CallConfig {
    /// Unanswered calls are ended with 480 after this.
    pub ring_timeout: Duration,
    /// Safety net: any call is hung up after this.
    pub max_call_duration: Duration,
}

impl Default for PbxConfig {
    fn default() -> Self {
        PbxConfig {
            realm: store::DEFAULT_REALM.to_string(),
            nonce_secret: rand::random::<[u8; 32]>().to_vec(),
            extension_digits: 4,
            emergency_numbers: ["110", "112", "113", "1412"].map(String::from).to_vec(),
            registrar: RegistrarConfig::default(),
            lockout: LockoutConfig::default(),
            calls: CallConfig::default(),
        }
    }
}

impl Default for RegistrarConfig {
    fn default() -> Self {
        RegistrarConfig {
            max_contacts: 5,
            min_expires: 60,
            max_expires: 3600,
            default_expires: 3600,
            options_ping_interval: Duration::from_secs(30),
            sweep_interval: Duration::from_secs(10),
        }
    }
}

impl Default for LockoutConfig {
    fn default() -> Self {
        LockoutConfig {
            enabled: true,
            max_failures: 10,
            window: Duration::from_secs(60),
            ban: Duration::from_secs(600),
        }
    }
}

impl Default for CallConfig {
    fn default() -> Self {
        CallConfig {
            ring_timeout: Duration::from_secs(60),
            max_call_duration: Duration::from_secs(4 * 3600),
        }
    }
}
