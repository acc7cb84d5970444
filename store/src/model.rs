//! The rows the store keeps, as typed values. Inputs are `New*` structs; outputs carry
//! their typed id.

use std::net::SocketAddr;

use billing::{CallDirection, CallDisposition};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::credentials::Credentials;
use crate::error::StoreError;
use crate::ids::*;

/// A department (cost centre) that extensions and sites are charged to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Department {
    pub id: DepartmentId,
    pub name: String,
    pub cost_centre: Option<String>,
}

/// A site to create or update.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewSite {
    /// Short unique code, e.g. `radhus`.
    pub code: String,
    pub name: String,
    /// Street address; sent as the caller's location on emergency calls.
    pub address: String,
    /// Default department of the site's extensions, by name (created when missing).
    pub department: Option<String>,
}

/// A site of the municipality.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Site {
    pub id: SiteId,
    pub code: String,
    pub name: String,
    pub address: String,
    pub department_id: Option<DepartmentId>,
    pub department: Option<String>,
    /// The site's direct-dial numbers.
    pub number_ranges: Vec<NumberRange>,
}

/// Who owns a block of numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RangeOwner {
    Site(SiteId),
    Trunk(TrunkId),
}

/// A block of direct-dial numbers, `first..=last`, both the same length, digits only.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NumberRange {
    pub id: NumberRangeId,
    pub first: String,
    pub last: String,
    pub owner: RangeOwner,
}

impl NumberRange {
    /// Whether `number` (digits, same length) lies inside the range. Equal-length digit
    /// strings compare like the numbers they spell.
    pub fn contains(&self, number: &str) -> bool {
        number.len() == self.first.len()
            && number.bytes().all(|b| b.is_ascii_digit())
            && self.first.as_str() <= number
            && number <= self.last.as_str()
    }
}

/// Checks a range before it is stored: digits only, same length, first ≤ last.
pub fn validate_range(first: &str, last: &str) -> Result<(), StoreError> {
    let digits = |s: &str| !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(first) || !digits(last) {
        return Err(StoreError::invalid(
            "number range",
            format!("{first}-{last}: numbers must be 1 to 20 digits"),
        ));
    }
    if first.len() != last.len() {
        return Err(StoreError::invalid(
            "number range",
            format!("{first}-{last}: both ends must have the same length"),
        ));
    }
    if first > last {
        return Err(StoreError::invalid(
            "number range",
            format!("{first}-{last}: first is after last"),
        ));
    }
    Ok(())
}

/// What an extension may dial. Each class includes the ones before it; premium-rate
/// numbers (820/829) additionally need `premium_allowed`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClassOfService {
    /// Extensions and emergency numbers only.
    Internal,
    /// Plus national fixed numbers.
    National,
    /// Plus mobile numbers.
    Mobile,
    /// Plus international numbers.
    International,
}

impl ClassOfService {
    pub fn as_str(self) -> &'static str {
        match self {
            ClassOfService::Internal => "internal",
            ClassOfService::National => "national",
            ClassOfService::Mobile => "mobile",
            ClassOfService::International => "international",
        }
    }
}

impl std::str::FromStr for ClassOfService {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, StoreError> {
        match s {
            "internal" => Ok(ClassOfService::Internal),
            "national" => Ok(ClassOfService::National),
            "mobile" => Ok(ClassOfService::Mobile),
            "international" => Ok(ClassOfService::International),
            other => Err(StoreError::invalid(
                "class of service",
                format!("{other:?} (expected internal, national, mobile or international)"),
            )),
        }
    }
}

/// An extension to create.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewExtension {
    pub number: String,
    pub display_name: String,
    /// Site code.
    pub site: String,
    /// Department name (created when missing); `None` takes the site's department.
    pub department: Option<String>,
    pub class_of_service: ClassOfService,
    pub premium_allowed: bool,
    pub credentials: Credentials,
    pub enabled: bool,
}

/// The editable fields of an extension, all given (an edit form or a PATCH fills the
/// unchanged ones from the stored extension).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExtensionUpdate {
    pub display_name: String,
    /// Site code.
    pub site: String,
    /// Department name (created when missing); `None` takes the site's department.
    pub department: Option<String>,
    pub class_of_service: ClassOfService,
    pub premium_allowed: bool,
    pub enabled: bool,
}

/// The editable fields of a site (the code is its key and stays).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SiteUpdate {
    pub name: String,
    pub address: String,
    /// Default department by name (created when missing); `None` for none.
    pub department: Option<String>,
    /// `(first, last)` pairs replacing the site's number ranges.
    pub ranges: Vec<(String, String)>,
}

/// How an edit treats a trunk's secret: it is write-only, so a form that leaves the
/// field empty keeps the stored one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecretChange {
    Keep,
    Clear,
    Set(Secret),
}

/// How often each department is referred to; one in use cannot be deleted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DepartmentUsage {
    pub sites: u64,
    pub extensions: u64,
}

impl DepartmentUsage {
    pub fn in_use(&self) -> bool {
        self.sites > 0 || self.extensions > 0
    }
}

/// Checks one trunk `allowed_sources` entry: an IP address or a CIDR block
/// (`192.0.2.1`, `192.0.2.0/24`, `2001:db8::/32`); the prefix may not exceed the
/// address length.
pub fn validate_source(entry: &str) -> Result<(), StoreError> {
    let bad = || {
        StoreError::invalid(
            "trunk allowed source",
            format!("{entry:?}: use an IP address or a CIDR block such as 192.0.2.0/24"),
        )
    };
    let (ip, prefix) = match entry.split_once('/') {
        Some((ip, p)) => (ip, Some(p.parse::<u8>().map_err(|_| bad())?)),
        None => (entry, None),
    };
    let addr: std::net::IpAddr = ip
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .map_err(|_| bad())?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    if prefix.unwrap_or(max) > max {
        return Err(bad());
    }
    Ok(())
}

/// A phone extension.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Extension {
    pub id: ExtensionId,
    pub number: String,
    pub display_name: String,
    pub site_id: SiteId,
    pub site: String,
    pub department_id: Option<DepartmentId>,
    pub department: Option<String>,
    pub class_of_service: ClassOfService,
    pub premium_allowed: bool,
    /// Never serialised: HA1 is password-equivalent.
    #[serde(skip)]
    pub credentials: Credentials,
    pub enabled: bool,
}

/// SIP transport of a trunk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrunkTransport {
    Udp,
    Tcp,
    Tls,
}

impl TrunkTransport {
    pub fn as_str(self) -> &'static str {
        match self {
            TrunkTransport::Udp => "udp",
            TrunkTransport::Tcp => "tcp",
            TrunkTransport::Tls => "tls",
        }
    }
}

impl std::str::FromStr for TrunkTransport {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, StoreError> {
        match s {
            "udp" => Ok(TrunkTransport::Udp),
            "tcp" => Ok(TrunkTransport::Tcp),
            "tls" => Ok(TrunkTransport::Tls),
            other => Err(StoreError::invalid(
                "trunk transport",
                format!("{other:?} (expected udp, tcp or tls)"),
            )),
        }
    }
}

/// A secret (trunk password). `Debug` and `Display` never show it; read it with
/// [`Secret::expose`] where it is really needed (computing a digest response).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// A trunk to create.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewTrunk {
    pub name: String,
    pub host: String,
    pub port: u16,
    pub transport: TrunkTransport,
    pub username: Option<String>,
    pub secret: Option<Secret>,
    /// Whether Sentral REGISTERs with the provider.
    pub register: bool,
    /// Maximum simultaneous calls; `None` for no limit.
    pub channel_limit: Option<u32>,
    /// Addresses (IP or CIDR, as text) the provider may send from.
    pub allowed_sources: Vec<String>,
    pub enabled: bool,
}

/// A SIP trunk to a provider.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trunk {
    pub id: TrunkId,
    pub name: String,
    pub host: String,
    pub port: u16,
    pub transport: TrunkTransport,
    pub username: Option<String>,
    pub secret: Option<Secret>,
    pub register: bool,
    pub channel_limit: Option<u32>,
    pub allowed_sources: Vec<String>,
    pub enabled: bool,
    pub number_ranges: Vec<NumberRange>,
}

/// A contact binding to store (RFC 3261 §10.3), with the flow it arrived on so a phone
/// behind NAT can be reached over the same connection (RFC 5626 §5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewRegistration {
    pub extension_id: ExtensionId,
    pub contact_uri: String,
    pub expires_at: DateTime<Utc>,
    /// `udp`, `tcp`, `tls`, `ws`, `wss`.
    pub transport: String,
    pub source_addr: SocketAddr,
    /// The server's id for the connection (stream transports).
    pub connection_id: Option<String>,
    /// `+sip.instance` (RFC 5626 §4.1).
    pub instance_id: Option<String>,
    /// `reg-id` (RFC 5626 §4.2).
    pub reg_id: Option<u32>,
    /// Call-ID and CSeq of the REGISTER, for the ordering rule of RFC 3261 §10.3 step 7.
    pub call_id: String,
    pub cseq: u32,
    pub user_agent: Option<String>,
}

/// A stored contact binding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Registration {
    pub id: RegistrationId,
    pub extension_id: ExtensionId,
    pub extension_number: String,
    pub contact_uri: String,
    pub expires_at: DateTime<Utc>,
    pub transport: String,
    pub source_addr: SocketAddr,
    pub connection_id: Option<String>,
    pub instance_id: Option<String>,
    pub reg_id: Option<u32>,
    pub call_id: String,
    pub cseq: u32,
    pub user_agent: Option<String>,
    pub updated_at: DateTime<Utc>,
}

/// A call record as written when the call starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewCallRecord {
    pub started_at: DateTime<Utc>,
    pub direction: CallDirection,
    pub caller_extension: Option<String>,
    pub caller_number: String,
    pub caller_site: Option<String>,
    pub caller_department: Option<String>,
    pub callee_extension: Option<String>,
    pub callee_number: String,
    pub callee_site: Option<String>,
    pub callee_department: Option<String>,
    pub trunk: Option<String>,
    pub synthetic: bool,
}

/// One end of a call as the record names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallParty {
    pub extension: Option<String>,
    pub number: String,
    pub site: Option<String>,
    pub department: Option<String>,
}

/// How a call reaches its parties: direction and trunk. A transfer that changes who
/// remains in the call can change both (an internal call handed to a party that came in
/// through a trunk is inbound from then on).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallRoute {
    pub direction: CallDirection,
    pub trunk: Option<String>,
}

/// How a transfer was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransferKind {
    /// REFER with a plain Refer-To (RFC 3515).
    Blind,
    /// REFER with Replaces (RFC 3891).
    Attended,
}

/// One step of a call's transfer chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferStep {
    pub at: DateTime<Utc>,
    pub kind: TransferKind,
    /// Who transferred (extension or number).
    pub by: String,
    /// Where the call went.
    pub to: String,
}

/// Media quality of one leg, as the relay measured it.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LegQuality {
    pub packets: u64,
    pub lost: u64,
    pub jitter_ms: f64,
    /// Estimated MOS (1.0 to 4.5, E-model).
    pub mos: f64,
}

/// What is known when a call ends.
#[derive(Clone, Debug, PartialEq)]
pub struct CallCompletion {
    pub answered_at: Option<DateTime<Utc>>,
    pub ended_at: DateTime<Utc>,
    pub talk_seconds: u32,
    pub disposition: CallDisposition,
    /// Final SIP status code and reason phrase, e.g. 486 "Busy Here".
    pub sip_code: Option<u16>,
    pub sip_reason: Option<String>,
    pub transfer_chain: Vec<TransferStep>,
    pub caller_leg: Option<LegQuality>,
    pub callee_leg: Option<LegQuality>,
}

/// Costs of a rated call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallCost {
    /// Cost under the tariff in force (the new world).
    pub cost_new: Decimal,
    /// Cost the old world would have charged, when rated.
    pub cost_old: Option<Decimal>,
    pub tariff_version: String,
    pub rated_at: DateTime<Utc>,
}

/// A call record with everything the store keeps.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StoredCallRecord {
    pub id: CallRecordId,
    pub started_at: DateTime<Utc>,
    pub answered_at: Option<DateTime<Utc>>,
    /// `None` while the call is in progress.
    pub ended_at: Option<DateTime<Utc>>,
    pub talk_seconds: u32,
    pub direction: CallDirection,
    /// `None` while the call is in progress.
    pub disposition: Option<CallDisposition>,
    pub caller_extension: Option<String>,
    pub caller_number: String,
    pub caller_site: Option<String>,
    pub caller_department: Option<String>,
    pub callee_extension: Option<String>,
    pub callee_number: String,
    pub callee_site: Option<String>,
    pub callee_department: Option<String>,
    pub trunk: Option<String>,
    pub sip_code: Option<u16>,
    pub sip_reason: Option<String>,
    pub transfer_chain: Vec<TransferStep>,
    pub caller_leg: Option<LegQuality>,
    pub callee_leg: Option<LegQuality>,
    pub synthetic: bool,
    #[serde(with = "rust_decimal::serde::str_option")]
    pub cost_new: Option<Decimal>,
    #[serde(with = "rust_decimal::serde::str_option")]
    pub cost_old: Option<Decimal>,
    pub tariff_version: Option<String>,
    pub rated_at: Option<DateTime<Utc>>,
}

impl StoredCallRecord {
    /// The billing view, for finished calls only.
    pub fn to_billing(&self) -> Option<billing::CallRecord> {
        Some(billing::CallRecord {
            id: self.id.0,
            started_at: self.started_at,
            answered_at: self.answered_at,
            ended_at: self.ended_at?,
            talk_seconds: self.talk_seconds,
            direction: self.direction,
            disposition: self.disposition?,
            caller_extension: self.caller_extension.clone(),
            caller_number: self.caller_number.clone(),
            caller_site: self.caller_site.clone(),
            caller_department: self.caller_department.clone(),
            callee_extension: self.callee_extension.clone(),
            callee_number: self.callee_number.clone(),
            callee_site: self.callee_site.clone(),
            callee_department: self.callee_department.clone(),
            trunk: self.trunk.clone(),
            synthetic: self.synthetic,
        })
    }
}

/// What an imported TOML file holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TariffFileKind {
    /// A whole billing dataset (numbering, tariffs, fixed costs, traffic profile, sites).
    Dataset,
    /// A tariff file in the same format, imported with `sentral tariff import`.
    Tariff,
}

impl TariffFileKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TariffFileKind::Dataset => "dataset",
            TariffFileKind::Tariff => "tariff",
        }
    }
}

/// A TOML file to keep verbatim.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewTariffFile {
    pub kind: TariffFileKind,
    pub name: String,
    pub version: String,
    pub valid_from: Option<NaiveDate>,
    pub valid_to: Option<NaiveDate>,
    pub content: String,
}

/// An imported TOML file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TariffFile {
    pub id: TariffFileId,
    pub kind: TariffFileKind,
    pub name: String,
    pub version: String,
    pub valid_from: Option<NaiveDate>,
    pub valid_to: Option<NaiveDate>,
    pub content: String,
    pub imported_at: DateTime<Utc>,
    /// The active file is the one billing loads.
    pub active: bool,
}

/// An audit entry to append.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewAuditEntry {
    /// Who: a user name, `cli:<os user>`, `server`.
    pub actor: String,
    /// What, as a short verb phrase: `extension.add`.
    pub action: String,
    pub detail: String,
    /// From where: an IP address, `cli`.
    pub source: String,
}

/// An audit log entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    pub id: AuditId,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub detail: String,
    pub source: String,
}
