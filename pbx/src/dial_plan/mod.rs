//! The dial plan: dialled number → route. Pure: no I/O, no clock, no locks; it reads one
//! directory [`Snapshot`] and answers.
//!
//! Rules for a call from a local phone ([`DialPlan::route`]), in this order:
//! 1. The number is normalised with the billing numbering plan (separators dropped,
//!    `+47`/`0047` stripped, `+` → `00`); anything after `;` (URI user parameters) is
//!    ignored. A string that is not a number is `Deny 404`.
//! 2. **Emergency** numbers (`PbxConfig::emergency_numbers`, default 110, 112, 113, 1412)
//!    match the *whole* normalised number, never a prefix or substring (`1120` and `01129`
//!    are not emergency calls). They are routed whatever the caller's class of service,
//!    lockouts or channel limits, and even when the caller is unknown.
//! 3. A number of `extension_digits` digits is an **extension**: enabled → that
//!    extension; existing but disabled → `Deny 404`. When no extension has that number
//!    and the numbering plan knows it as a public number of that length (e.g. `1881`
//!    directory enquiries), it is treated like any other public number (rule 5);
//!    otherwise `Deny 404`. Extensions win over public short numbers on purpose: the
//!    municipality chose its extension numbers and must be able to reach them.
//! 4. A **direct-dial number of the municipality** (inside an explicit
//!    [`DidMapping`] or a site's number range) is **on-net**: it goes straight to the
//!    extension owning it and never out through a trunk. An unassigned own number is
//!    `Deny 404`, not a trunk call (the provider would only loop it back).
//! 5. Everything else is classified by the billing numbering plan into a
//!    [`DestinationClass`], which needs a [`Requirement`] from the caller: a minimum
//!    [`ClassOfService`] (`National` for 8-digit fixed, 1xx, 18xx, 5-digit, 116xxx, 8xx;
//!    `Mobile` for 4x/9x; `International` for `00`…), premium rate (820/829) needing
//!    `premium_allowed` as well as `National`. Refused: `Deny 403` with a reason saying
//!    "… not allowed for class of service …". Allowed: `Route::Trunk` on the selected
//!    trunk, or `Deny 503` when no trunk is enabled.
//!
//! DID → extension mapping (inbound calls and on-net calls): explicit
//! [`DialPlanConfig::did_mappings`](crate::config::DialPlanConfig) first, in order (an
//! offset mapping `63869000-63869399 → 1000…` or a whole range to one extension such as a
//! switchboard); otherwise the default rule: the extension whose number is the DID's last
//! `extension_digits` digits **and** whose site owns the range holding the DID.
//!
//! Trunk selection ([`DialPlan::select_trunk`]): the enabled trunk whose own number
//! ranges hold the caller's identity number (so a site behind its own provider uses it);
//! otherwise the first enabled trunk in the directory's order (the store lists trunks by
//! name). Disabled trunks are never used, also not for emergency calls: a disabled trunk
//! is one an administrator knows is broken.

use crate::config::PbxConfig;
use crate::directory::Snapshot;
use billing::DestinationClass;
use billing::numbering::{Classification, InvalidReason, NumberingPlan, PrefixRule};
use std::sync::{Arc, OnceLock};
use store::{ClassOfService, Extension, Trunk};

/// Where a dialled number goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// A local extension (dialled directly or by its direct number).
    Extension(Arc<Extension>),
    /// An emergency number, as dialled after normalisation (`112`). The caller must be
    /// connected whatever else is true; pick the trunk with
    /// [`DialPlan::emergency_trunk`].
    Emergency { number: String },
    /// Out through a trunk. `number` is normalised: national numbers without a country
    /// code, international ones with the `00` prefix.
    Trunk {
        trunk: Arc<Trunk>,
        number: String,
        class: DestinationClass,
    },
    /// Refused; answer with `status` and record `reason`.
    Deny { status: u16, reason: String },
}

impl Route {
    fn deny(status: u16, reason: impl Into<String>) -> Route {
        Route::Deny {
            status,
            reason: reason.into(),
        }
    }
}

/// Who is calling, as far as routing cares.
#[derive(Clone, Debug, Default)]
pub struct CallerInfo {
    /// The authenticated extension; `None` when the caller could not be identified (only
    /// emergency calls are routed for an unknown caller).
    pub extension: Option<Arc<Extension>>,
}

impl CallerInfo {
    pub fn extension(ext: Arc<Extension>) -> Self {
        CallerInfo {
            extension: Some(ext),
        }
    }

    pub fn unknown() -> Self {
        CallerInfo { extension: None }
    }
}

/// What a destination class asks of the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Requirement {
    /// At least this class of service.
    Class(ClassOfService),
    /// Premium rate: at least `National` and the extension's `premium_allowed`.
    Premium,
    /// Nobody may call it.
    Blocked,
}

/// The built-in requirement of each destination class (see the module docs).
pub fn default_requirement(class: DestinationClass) -> Requirement {
    use DestinationClass as D;
    match class {
        D::OnNet | D::Emergency => Requirement::Class(ClassOfService::Internal),
        D::Local
        | D::National
        | D::Freephone
        | D::SharedCost
        | D::NonGeographic
        | D::PersonalUpt
        | D::FiveDigit
        | D::Directory
        | D::Harmonised116
        | D::ServiceShort => Requirement::Class(ClassOfService::National),
        D::Mobile | D::M2m => Requirement::Class(ClassOfService::Mobile),
        D::Premium => Requirement::Premium,
        D::IntlNordic | D::IntlEurope | D::IntlWorld => {
            Requirement::Class(ClassOfService::International)
        }
        D::Invalid => Requirement::Blocked,
    }
}

/// An explicit mapping of direct-dial numbers `first..=last` (same length, digits) to
/// extensions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DidMapping {
    pub first: String,
    pub last: String,
    pub target: DidTarget,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DidTarget {
    /// `first` maps to `extension_first`, `first + 1` to `extension_first + 1`, …
    Offset { extension_first: String },
    /// Every number of the range reaches this extension (a switchboard, a main number).
    Extension(String),
}

/// Longest digit string handled as an integer (u64 holds 19 digits).
const MAX_MAPPED_DIGITS: usize = 18;

fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn to_u64(s: &str) -> Option<u64> {
    if !is_digits(s) || s.len() > MAX_MAPPED_DIGITS {
        return None;
    }
    s.parse().ok()
}

impl DidMapping {
    fn contains(&self, did: &str) -> bool {
        did.len() == self.first.len()
            && is_digits(did)
            && self.first.as_str() <= did
            && did <= self.last.as_str()
    }

    /// The extension number `did` maps to, if the range holds it.
    fn map(&self, did: &str) -> Option<String> {
        if !self.contains(did) {
            return None;
        }
        match &self.target {
            DidTarget::Extension(e) => Some(e.clone()),
            DidTarget::Offset { extension_first } => {
                let off = to_u64(did)?.checked_sub(to_u64(&self.first)?)?;
                let ext = to_u64(extension_first)?.checked_add(off)?;
                let s = format!("{ext:0width$}", width = extension_first.len());
                // An offset running past the extension width is no extension.
                (s.len() == extension_first.len()).then_some(s)
            }
        }
    }

    /// The DID that reaches `extension` through this mapping (its identity number).
    fn reverse(&self, extension: &str) -> Option<String> {
        match &self.target {
            DidTarget::Extension(e) => (e == extension).then(|| self.first.clone()),
            DidTarget::Offset { extension_first } => {
                if extension.len() != extension_first.len() {
                    return None;
                }
                let off = to_u64(extension)?.checked_sub(to_u64(extension_first)?)?;
                let did = to_u64(&self.first)?.checked_add(off)?;
                let s = format!("{did:0width$}", width = self.first.len());
                self.contains(&s).then_some(s)
            }
        }
    }

    fn validate(&self) -> Result<(), DialPlanError> {
        let bad = |why: &str| {
            Err(DialPlanError::BadMapping(format!(
                "{}-{}: {why}",
                self.first, self.last
            )))
        };
        if to_u64(&self.first).is_none() || to_u64(&self.last).is_none() {
            return bad("numbers must be 1 to 18 digits");
        }
        if self.first.len() != self.last.len() || self.first > self.last {
            return bad("both ends must have the same length and first ≤ last");
        }
        let target = match &self.target {
            DidTarget::Offset { extension_first } => extension_first,
            DidTarget::Extension(e) => e,
        };
        if to_u64(target).is_none() {
            return bad("the extension must be digits");
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DialPlanError {
    #[error("invalid DID mapping {0}")]
    BadMapping(String),
    #[error("invalid emergency number {0:?} (digits only)")]
    BadEmergencyNumber(String),
    #[error("the billing numbering plan could not be loaded: {0}")]
    Numbering(String),
    /// A setting that would make a plan the PBX should not run with. `key` names it as
    /// the configuration file does (`pbx.emergency_numbers`, `dial_plan.did_mappings[1]`).
    #[error("{key}: {problem}")]
    Config { key: String, problem: String },
}

/// Extension numbers the dial plan handles: 2 to 8 digits (fewer collide with emergency
/// and service numbers, more with national numbers).
pub const EXTENSION_DIGITS: std::ops::RangeInclusive<usize> = 2..=8;

/// The number every emergency list must hold: 112 is the EU-wide emergency number and
/// phones dial it from anywhere (EN 112, ECC Decision (91)01).
pub const EU_EMERGENCY_NUMBER: &str = "112";

fn config_error(key: impl Into<String>, problem: impl Into<String>) -> DialPlanError {
    DialPlanError::Config {
        key: key.into(),
        problem: problem.into(),
    }
}

/// Checks a configuration for a dial plan that must not run: extension length out of
/// range, an emergency list that is empty, malformed, repeats a number or lacks 112,
/// DID mappings that are malformed, map to numbers that are not extensions, or overlap
/// (the first would silently win), and destination class rules that repeat a class or
/// restrict emergency calls. The error names the configuration key.
pub fn validate(config: &PbxConfig) -> Result<(), DialPlanError> {
    let digits = config.extension_digits;
    if !EXTENSION_DIGITS.contains(&digits) {
        return Err(config_error(
            "pbx.extension_digits",
            format!(
                "must be {} to {}, not {digits}",
                EXTENSION_DIGITS.start(),
                EXTENSION_DIGITS.end()
            ),
        ));
    }
    let emergency = &config.emergency_numbers;
    if emergency.is_empty() {
        return Err(config_error(
            "pbx.emergency_numbers",
            "must not be empty (emergency calls would not route)",
        ));
    }
    for (i, n) in emergency.iter().enumerate() {
        if !is_digits(n) {
            return Err(config_error(
                "pbx.emergency_numbers",
                format!("{n:?} is not a number (digits only)"),
            ));
        }
        if emergency[..i].contains(n) {
            return Err(config_error(
                "pbx.emergency_numbers",
                format!("{n} is listed twice"),
            ));
        }
    }
    if !emergency.iter().any(|n| n == EU_EMERGENCY_NUMBER) {
        return Err(config_error(
            "pbx.emergency_numbers",
            format!("must contain {EU_EMERGENCY_NUMBER}"),
        ));
    }
    let mappings = &config.dial_plan.did_mappings;
    for (i, m) in mappings.iter().enumerate() {
        let key = format!("dial_plan.did_mappings[{i}]");
        if let Err(DialPlanError::BadMapping(why)) = m.validate() {
            return Err(config_error(key, why));
        }
        let (target, last_target) = match &m.target {
            DidTarget::Extension(e) => (e.clone(), e.clone()),
            DidTarget::Offset { extension_first } => {
                let span = to_u64(&m.last)
                    .zip(to_u64(&m.first))
                    .map(|(l, f)| l - f)
                    .unwrap_or(0);
                let last = to_u64(extension_first)
                    .and_then(|e| e.checked_add(span))
                    .map(|e| format!("{e:0width$}", width = extension_first.len()))
                    .unwrap_or_default();
                (extension_first.clone(), last)
            }
        };
        if target.len() != digits || last_target.len() != digits {
            return Err(config_error(
                key,
                format!(
                    "{}-{} maps to {target}…{last_target}, not all {digits}-digit extensions",
                    m.first, m.last
                ),
            ));
        }
        if let Some(j) = mappings[..i].iter().position(|o| overlap(o, m)) {
            return Err(config_error(
                key,
                format!(
                    "{}-{} overlaps dial_plan.did_mappings[{j}] ({}-{})",
                    m.first, m.last, mappings[j].first, mappings[j].last
                ),
            ));
        }
    }
    let overrides = &config.dial_plan.class_overrides;
    for (i, (class, req)) in overrides.iter().enumerate() {
        let key = format!("dial_plan.classes.{}", class.as_str());
        if overrides[..i].iter().any(|(c, _)| c == class) {
            return Err(config_error(key, "set twice"));
        }
        if *class == DestinationClass::Emergency
            && *req != Requirement::Class(ClassOfService::Internal)
        {
            return Err(config_error(
                key,
                "emergency calls are open to every class of service and cannot be restricted",
            ));
        }
    }
    Ok(())
}

/// Whether two DID ranges share a number (same length; the ends compare as strings).
fn overlap(a: &DidMapping, b: &DidMapping) -> bool {
    a.first.len() == b.first.len() && a.first <= b.last && b.first <= a.last
}

/// The identity Sentral presents to a provider for an outgoing call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallerIdentity {
    /// National number shown to the called party (From user, P-Asserted-Identity).
    pub number: Option<String>,
    /// Display name (the extension's name; the site's name on emergency calls).
    pub display_name: Option<String>,
    /// On emergency calls: the site's street address, sent as the caller's location.
    pub location: Option<String>,
}

/// The dial plan. Cheap to share; built once per configuration.
#[derive(Clone, Debug)]
pub struct DialPlan {
    extension_digits: usize,
    emergency: Vec<String>,
    mappings: Vec<DidMapping>,
    requirements: [Requirement; DestinationClass::COUNT],
    /// `None` only in the lenient fallback when the billing plan would not load: then
    /// emergency numbers, extensions and own numbers still route, and every public
    /// number is refused.
    plan: Option<Arc<NumberingPlan>>,
}

impl DialPlan {
    /// The dial plan for `config`. Fails on a malformed DID mapping or emergency number,
    /// on anything [`validate`] refuses (or if the billing crate's embedded numbering
    /// plan would not load).
    pub fn new(config: &PbxConfig) -> Result<DialPlan, DialPlanError> {
        for m in &config.dial_plan.did_mappings {
            m.validate()?;
        }
        for e in &config.emergency_numbers {
            if !is_digits(e) {
                return Err(DialPlanError::BadEmergencyNumber(e.clone()));
            }
        }
        validate(config)?;
        let mut requirements = DestinationClass::ALL.map(default_requirement);
        for (class, req) in &config.dial_plan.class_overrides {
            if let Some(slot) = requirements.get_mut(class.index()) {
                *slot = *req;
            }
        }
        Ok(DialPlan {
            extension_digits: config.extension_digits,
            emergency: config.emergency_numbers.clone(),
            mappings: config.dial_plan.did_mappings.clone(),
            requirements,
            plan: Some(numbering_plan()?),
        })
    }

    /// Like [`DialPlan::new`] but never fails: malformed DID mappings and emergency
    /// numbers are left out (each logged as an error), and without the numbering plan
    /// only emergency, extension and own-number calls route. Used where the PBX must keep
    /// running (emergency calls must go out even with a broken configuration).
    pub fn lenient(config: &PbxConfig) -> DialPlan {
        let mut c = config.clone();
        c.dial_plan.did_mappings.retain(|m| match m.validate() {
            Ok(()) => true,
            Err(e) => {
                tracing::error!(error = %e, "DID mapping ignored");
                false
            }
        });
        c.emergency_numbers.retain(|n| {
            let ok = is_digits(n);
            if !ok {
                tracing::error!(number = %n, "emergency number ignored: digits only");
            }
            ok
        });
        let plan = match numbering_plan() {
            Ok(p) => Some(p),
            Err(e) => {
                tracing::error!(error = %e, "no numbering plan: public numbers are refused");
                None
            }
        };
        let mut requirements = DestinationClass::ALL.map(default_requirement);
        for (class, req) in &c.dial_plan.class_overrides {
            if let Some(slot) = requirements.get_mut(class.index()) {
                *slot = *req;
            }
        }
        DialPlan {
            extension_digits: c.extension_digits,
            emergency: c.emergency_numbers,
            mappings: c.dial_plan.did_mappings,
            requirements,
            plan,
        }
    }

    fn classify(&self, number: &str) -> Classification {
        match &self.plan {
            Some(p) => p.classify(number),
            None => Classification {
                class: DestinationClass::Invalid,
                site: None,
                invalid_reason: Some(InvalidReason::NoPrefix),
            },
        }
    }

    /// The requirement in force for a destination class.
    pub fn requirement(&self, class: DestinationClass) -> Requirement {
        self.requirements
            .get(class.index())
            .copied()
            .unwrap_or(Requirement::Blocked)
    }

    /// The numbering plan used for classification (own ranges come from the directory,
    /// not from it).
    pub fn numbering(&self) -> Option<&NumberingPlan> {
        self.plan.as_deref()
    }

    /// Digits of a dialled string after normalisation (see module docs); `None` when it
    /// is not a number.
    pub fn normalise(&self, dialled: &str) -> Option<String> {
        // RFC 3261 §19.1.1: a user part may carry parameters after ';' (phone-context,
        // isub); they do not change the number.
        let user = dialled.split(';').next().unwrap_or("");
        let n = match &self.plan {
            Some(p) => p.normalise(user)?.as_str().to_owned(),
            None => fallback_normalise(user)?,
        };
        (!n.is_empty()).then_some(n)
    }

    /// The emergency number `dialled` is, matched as a whole normalised number.
    pub fn emergency_number(&self, dialled: &str) -> Option<String> {
        let n = self.normalise(dialled)?;
        self.emergency.contains(&n).then_some(n)
    }

    /// Routes a call from a local phone (see the module docs for the rules).
    pub fn route(&self, caller: &CallerInfo, dialled: &str, snap: &Snapshot) -> Route {
        let Some(number) = self.normalise(dialled) else {
            return Route::deny(404, format!("{dialled:?} is not a dialable number"));
        };
        if self.emergency.contains(&number) {
            return Route::Emergency { number };
        }
        let ext = match &caller.extension {
            Some(e) if e.enabled => e,
            Some(e) => {
                return Route::deny(403, format!("extension {} is disabled", e.number));
            }
            None => return Route::deny(403, "caller not identified: only emergency calls"),
        };
        if number.len() == self.extension_digits {
            match snap.extension(&number) {
                Some(callee) if callee.enabled => return Route::Extension(callee.clone()),
                Some(_) => return Route::deny(404, format!("extension {number} is disabled")),
                None => {
                    let c = self.classify(&number);
                    if c.class == DestinationClass::Invalid {
                        return Route::deny(404, format!("no extension {number}"));
                    }
                }
            }
        }
        if let Some(own) = self.extension_for_did(&number, snap) {
            return own;
        }
        let c = self.classify(&number);
        if c.class == DestinationClass::Invalid {
            return self.invalid(&number, c.invalid_reason);
        }
        if let Err(reason) = self.allowed(ext, c.class) {
            return Route::deny(403, reason);
        }
        let identity = self.caller_number(ext, snap);
        match self.select_trunk(snap, identity.as_deref()) {
            Some(trunk) => Route::Trunk {
                trunk,
                number,
                class: c.class,
            },
            None => Route::deny(503, "no trunk available for outside calls"),
        }
    }

    /// Routes a call arriving from a trunk for `dialled_did` (Request-URI user, or To
    /// user: see [`inbound_number`]).
    pub fn route_inbound(&self, dialled_did: &str, snap: &Snapshot) -> Route {
        let Some(number) = self.normalise(dialled_did) else {
            return Route::deny(404, format!("{dialled_did:?} is not a number"));
        };
        match self.extension_for_did(&number, snap) {
            Some(route) => route,
            None => Route::deny(404, format!("{number} is not a direct number of ours")),
        }
    }

    /// `Some(route)` when `did` is one of our numbers: the extension or a 404 deny.
    fn extension_for_did(&self, did: &str, snap: &Snapshot) -> Option<Route> {
        let target = if let Some(m) = self.mappings.iter().find(|m| m.contains(did)) {
            m.map(did)
        } else {
            let site = snap.site_for_number(did)?;
            let start = did.len().checked_sub(self.extension_digits)?;
            did.get(start..)
                .map(str::to_owned)
                .filter(|e| snap.extension(e).is_some_and(|x| x.site == site.code))
        };
        Some(match target.as_deref().and_then(|e| snap.extension(e)) {
            Some(ext) if ext.enabled => Route::Extension(ext.clone()),
            _ => Route::deny(404, format!("direct number {did} is not assigned")),
        })
    }

    fn allowed(&self, ext: &Extension, class: DestinationClass) -> Result<(), String> {
        let cos = ext.class_of_service;
        let refuse = |what: &str| {
            Err(format!(
                "{what} calls not allowed for class of service {}",
                cos.as_str()
            ))
        };
        match self.requirement(class) {
            Requirement::Class(min) if cos >= min => Ok(()),
            Requirement::Class(_) => refuse(class.as_str()),
            Requirement::Premium if cos >= ClassOfService::National && ext.premium_allowed => {
                Ok(())
            }
            Requirement::Premium if cos >= ClassOfService::National => Err(format!(
                "premium calls not allowed for class of service {} without premium access",
                cos.as_str()
            )),
            Requirement::Premium => refuse("premium"),
            Requirement::Blocked => refuse(class.as_str()),
        }
    }

    fn invalid(&self, number: &str, reason: Option<InvalidReason>) -> Route {
        if reason == Some(InvalidReason::WrongLength) {
            // RFC 3261 §21.4.22: 484 tells the phone more digits are needed.
            let expected = self.expected_len(number);
            if expected.is_some_and(|l| number.len() < l) {
                return Route::deny(484, format!("{number} is incomplete"));
            }
        }
        Route::deny(404, format!("{number} is not a valid number"))
    }

    /// The length the longest matching prefix rule expects.
    fn expected_len(&self, number: &str) -> Option<usize> {
        let plan = self.plan.as_deref()?;
        let rules: &[PrefixRule] = if number.starts_with("00") {
            plan.international_rules()
        } else {
            plan.prefixes()
        };
        rules
            .iter()
            .filter(|r| number.starts_with(r.prefix.as_str()))
            .max_by_key(|r| r.prefix.len())
            .map(|r| usize::from(r.len))
            .filter(|l| *l > 0)
    }

    /// The caller's own direct number: a reverse DID mapping, or the default rule's DID
    /// (site range prefix + extension number) when that DID lies in the site's ranges.
    pub fn did_for_extension(&self, ext: &Extension, snap: &Snapshot) -> Option<String> {
        if let Some(d) = self.mappings.iter().find_map(|m| m.reverse(&ext.number)) {
            return Some(d);
        }
        let site = snap.site(&ext.site)?;
        site.number_ranges.iter().find_map(|r| {
            let keep = r.first.len().checked_sub(ext.number.len())?;
            let did = format!("{}{}", r.first.get(..keep)?, ext.number);
            (r.contains(&did) && self.mappings.iter().all(|m| !m.contains(&did))).then_some(did)
        })
    }

    /// A site's main number: the first number of its lowest range.
    pub fn site_number(&self, site_code: &str, snap: &Snapshot) -> Option<String> {
        snap.site(site_code)?
            .number_ranges
            .iter()
            .map(|r| r.first.clone())
            .min()
    }

    /// The number an extension calls out with: its own DID, else its site's main number.
    pub fn caller_number(&self, ext: &Extension, snap: &Snapshot) -> Option<String> {
        self.did_for_extension(ext, snap)
            .or_else(|| self.site_number(&ext.site, snap))
    }

    /// The identity for an outgoing call. Emergency calls present the caller's **site**
    /// number and the site's address (the issue: "with the caller's site number as
    /// identity"); an unknown caller on an emergency call presents the main number of the
    /// first site, so the emergency centre can still call back.
    pub fn identity(
        &self,
        caller: &CallerInfo,
        emergency: bool,
        snap: &Snapshot,
    ) -> CallerIdentity {
        match (&caller.extension, emergency) {
            (Some(ext), false) => CallerIdentity {
                number: self.caller_number(ext, snap),
                display_name: Some(ext.display_name.clone()).filter(|s| !s.is_empty()),
                location: None,
            },
            (Some(ext), true) => {
                let site = snap.site(&ext.site);
                CallerIdentity {
                    number: self
                        .site_number(&ext.site, snap)
                        .or_else(|| self.did_for_extension(ext, snap)),
                    display_name: site.map(|s| s.name.clone()),
                    location: site.map(|s| s.address.clone()).filter(|a| !a.is_empty()),
                }
            }
            (None, _) => {
                let mut sites: Vec<_> = snap.sites.values().collect();
                sites.sort_by(|a, b| a.code.cmp(&b.code));
                let site = sites.into_iter().find(|s| !s.number_ranges.is_empty());
                CallerIdentity {
                    number: site.and_then(|s| self.site_number(&s.code, snap)),
                    display_name: site.map(|s| s.name.clone()),
                    location: if emergency {
                        site.map(|s| s.address.clone())
                    } else {
                        None
                    },
                }
            }
        }
    }

    /// The trunk for a call whose caller presents `caller_number` (see module docs).
    pub fn select_trunk(&self, snap: &Snapshot, caller_number: Option<&str>) -> Option<Arc<Trunk>> {
        let enabled = || snap.trunks.iter().filter(|t| t.enabled);
        caller_number
            .and_then(|n| enabled().find(|t| t.number_ranges.iter().any(|r| r.contains(n))))
            .or_else(|| enabled().next())
            .cloned()
    }

    /// The trunk for an emergency call from `caller`.
    pub fn emergency_trunk(&self, caller: &CallerInfo, snap: &Snapshot) -> Option<Arc<Trunk>> {
        let id = self.identity(caller, true, snap);
        self.select_trunk(snap, id.number.as_deref())
    }
}

/// The number an inbound INVITE from a trunk is for: the Request-URI user when it holds
/// digits (providers put the DID there), otherwise the To user (some providers send the
/// Request-URI to the registered Contact, RFC 3261 §10, and keep the DID only in To).
pub fn inbound_number(req: &sip_core::message::Request) -> Option<String> {
    let user_of = |uri: &sip_core::message::Uri| -> Option<String> {
        match uri {
            sip_core::message::Uri::Sip(s) => s.user.as_ref().map(|u| u.as_str().to_owned()),
            sip_core::message::Uri::Tel(t) => Some(t.number.as_str().to_owned()),
            _ => None,
        }
    };
    let digits = |u: &str| {
        let u = u.split(';').next().unwrap_or("");
        u.bytes().any(|b| b.is_ascii_digit())
            && u.bytes()
                .all(|b| b.is_ascii_digit() || b"+-. ()".contains(&b))
    };
    user_of(&req.uri).filter(|u| digits(u)).or_else(|| {
        req.headers
            .to()
            .and_then(|t| user_of(&t.uri))
            .filter(|u| digits(u))
    })
}

/// The billing crate's numbering plan for Norway (its shipped sample data), without own
/// ranges: which numbers are ours is the directory's business, so a number is only
/// on-net when a configured site range or DID mapping says so. Built once per process.
fn numbering_plan() -> Result<Arc<NumberingPlan>, DialPlanError> {
    static PLAN: OnceLock<Result<Arc<NumberingPlan>, String>> = OnceLock::new();
    PLAN.get_or_init(|| {
        let ds = billing::Dataset::from_toml_str(billing::dataset::SAMPLE_TOML)
            .map_err(|e| e.to_string())?;
        let n = &ds.numbering;
        NumberingPlan::new(
            NORWAY_COUNTRY_CODE,
            NORWAY_INTERNATIONAL_PREFIX,
            n.national_number_length,
            n.prefixes().to_vec(),
            n.international_rules().to_vec(),
            Vec::new(),
            Vec::new(),
        )
        .map(Arc::new)
        .map_err(|e| e.to_string())
    })
    .clone()
    .map_err(DialPlanError::Numbering)
}

/// The billing plan's normalisation without the plan: separators dropped, `+` → `00`,
/// `0047` stripped.
fn fallback_normalise(user: &str) -> Option<String> {
    let mut out = String::with_capacity(user.len());
    for (i, c) in user.chars().enumerate() {
        match c {
            ' ' | '-' | '.' | '(' | ')' | '/' | '\t' => {}
            '+' if i == 0 => out.push_str(NORWAY_INTERNATIONAL_PREFIX),
            '0'..='9' => out.push(c),
            _ => return None,
        }
    }
    if out.len() > billing::numbering::MAX_DIGITS {
        return None;
    }
    let own = format!("{NORWAY_INTERNATIONAL_PREFIX}{NORWAY_COUNTRY_CODE}");
    match out.strip_prefix(own.as_str()) {
        Some(rest) if !rest.is_empty() => Some(rest.to_owned()),
        _ => Some(out),
    }
}

/// The sample data's `[numbering]` country code and international prefix (the plan does
/// not expose them).
const NORWAY_COUNTRY_CODE: &str = "47";
const NORWAY_INTERNATIONAL_PREFIX: &str = "00";

#[cfg(test)]
mod tests;
