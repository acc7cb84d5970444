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
    pub dial_plan: DialPlanConfig,
    pub trunk: TrunkConfig,
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
    /// A contact that leaves this many OPTIONS pings in a row unanswered (timeout or
    /// transport error) is dropped; 0 never drops. Any response, even an error, proves
    /// the path works and resets the count.
    pub options_ping_failures: u32,
    /// Hosts accepted in the To (address of record) of a REGISTER besides the realm and
    /// the address the request arrived at (e.g. a public IP forwarded to us, a DNS name).
    pub domains: Vec<String>,
    /// How far the stored expiry of a binding may lag behind the real one before a
    /// refresh is written to the store (see `registrar::persist`): after a crash a binding
    /// may expire this much early. Zero writes every refresh (behind, not waited for).
    pub store_expiry_slack: Duration,
}

#[derive(Clone, Debug)]
pub struct LockoutConfig {
    pub enabled: bool,
    /// Failed authentications from one address within `window` that trigger a ban.
    pub max_failures: u32,
    pub window: Duration,
    /// How long a ban lasts.
    pub ban: Duration,
    /// Most addresses whose failures are tracked at once (bounds memory under a flood
    /// from many sources); existing bans are always kept.
    pub max_tracked_addresses: usize,
    /// Digest algorithms offered in every challenge, in this order (the security gate's
    /// setting; it lives here with the other knobs of `security/`). Default MD5 first,
    /// then SHA-256: see `security` module docs for why.
    pub digest_algorithms: Vec<sip_core::auth::Algorithm>,
}

#[derive(Clone, Debug)]
pub struct CallConfig {
    /// Unanswered calls are ended with 480 after this.
    pub ring_timeout: Duration,
    /// Safety net: any call is hung up after this.
    pub max_call_duration: Duration,
    /// How long our 2xx to an INVITE is retransmitted waiting for its ACK before the call
    /// is ended (RFC 3261 §13.3.1.4: 64*T1, 32 s).
    pub ack_timeout: Duration,
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
            dial_plan: DialPlanConfig::default(),
            trunk: TrunkConfig::default(),
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
            options_ping_failures: 4,
            domains: Vec::new(),
            store_expiry_slack: Duration::from_secs(60),
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
            max_tracked_addresses: 65_536,
            digest_algorithms: vec![
                sip_core::auth::Algorithm::Md5,
                sip_core::auth::Algorithm::Sha256,
            ],
        }
    }
}

impl Default for CallConfig {
    fn default() -> Self {
        CallConfig {
            ring_timeout: Duration::from_secs(60),
            max_call_duration: Duration::from_secs(4 * 3600),
            ack_timeout: Duration::from_secs(32),
        }
    }
}

/// How direct-dial numbers (DIDs) map to extensions and which destination classes each
/// class of service may call. See `dial_plan` for the rules.
#[derive(Clone, Debug, Default)]
pub struct DialPlanConfig {
    /// Explicit DID → extension mappings, tried in order before the default rule (the
    /// extension whose number is the DID's last `extension_digits` digits, at the site
    /// owning the DID).
    pub did_mappings: Vec<crate::dial_plan::DidMapping>,
    /// Overrides of the class of service a destination class needs (the defaults are in
    /// `dial_plan::default_requirement`).
    pub class_overrides: Vec<(billing::DestinationClass, crate::dial_plan::Requirement)>,
}

/// SIP trunk behaviour (the trunks themselves live in the store).
#[derive(Clone, Debug)]
pub struct TrunkConfig {
    /// Expires asked for in the REGISTER to a provider.
    pub register_expires: u32,
    /// First retry delay after a failed registration; doubles up to `retry_max`.
    pub retry_min: Duration,
    pub retry_max: Duration,
    /// How long to wait for a provider's answer to REGISTER before counting a failure.
    pub register_timeout: Duration,
    /// Header carrying the site address on emergency calls (see `trunk` docs).
    pub emergency_location_header: String,
    /// User-Agent sent to providers.
    pub user_agent: String,
}

impl Default for TrunkConfig {
    fn default() -> Self {
        TrunkConfig {
            register_expires: 600,
            retry_min: Duration::from_secs(2),
            retry_max: Duration::from_secs(300),
            register_timeout: Duration::from_secs(35),
            emergency_location_header: "X-Sentral-Location".to_string(),
            user_agent: "Sentral".to_string(),
        }
    }
}
