//! The numbering plan: turns any dialled string into a destination class.
//!
//! Owns normalisation (`+47`, `0047`, `00`, spaces) and the longest-prefix lookup with an
//! expected length, both driven by the data file's `[numbering]` table, and finding the
//! municipality's own numbers (on-net) from the sites' DID ranges. It never prices anything.
//!
//! Lookup is allocation-free: the dialled string is normalised into a stack buffer and walked
//! through a digit trie built once when the plan is loaded, so rating stays in the
//! millions of calls per second.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Where a call goes, as far as the price is concerned. The set is fixed by the sample
/// file's `numbering.classes`; a data file may use a subset, never a new name, because
/// some classes carry rules (on-net, emergency, mobile by operator).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DestinationClass {
    /// A number or extension of the municipality itself (any site).
    OnNet,
    Local,
    National,
    Mobile,
    Freephone,
    SharedCost,
    NonGeographic,
    Premium,
    PersonalUpt,
    FiveDigit,
    Directory,
    Emergency,
    #[serde(rename = "harmonised_116")]
    Harmonised116,
    ServiceShort,
    M2m,
    IntlNordic,
    IntlEurope,
    IntlWorld,
    Invalid,
}

impl DestinationClass {
    /// Number of classes (the size of per-class tables).
    pub const COUNT: usize = 19;

    pub const ALL: [DestinationClass; Self::COUNT] = [
        DestinationClass::OnNet,
        DestinationClass::Local,
        DestinationClass::National,
        DestinationClass::Mobile,
        DestinationClass::Freephone,
        DestinationClass::SharedCost,
        DestinationClass::NonGeographic,
        DestinationClass::Premium,
        DestinationClass::PersonalUpt,
        DestinationClass::FiveDigit,
        DestinationClass::Directory,
        DestinationClass::Emergency,
        DestinationClass::Harmonised116,
        DestinationClass::ServiceShort,
        DestinationClass::M2m,
        DestinationClass::IntlNordic,
        DestinationClass::IntlEurope,
        DestinationClass::IntlWorld,
        DestinationClass::Invalid,
    ];

    /// Position in [`DestinationClass::ALL`], for per-class arrays.
    pub fn index(self) -> usize {
        self as usize
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DestinationClass::OnNet => "on_net",
            DestinationClass::Local => "local",
            DestinationClass::National => "national",
            DestinationClass::Mobile => "mobile",
            DestinationClass::Freephone => "freephone",
            DestinationClass::SharedCost => "shared_cost",
            DestinationClass::NonGeographic => "non_geographic",
            DestinationClass::Premium => "premium",
            DestinationClass::PersonalUpt => "personal_upt",
            DestinationClass::FiveDigit => "five_digit",
            DestinationClass::Directory => "directory",
            DestinationClass::Emergency => "emergency",
            DestinationClass::Harmonised116 => "harmonised_116",
            DestinationClass::ServiceShort => "service_short",
            DestinationClass::M2m => "m2m",
            DestinationClass::IntlNordic => "intl_nordic",
            DestinationClass::IntlEurope => "intl_europe",
            DestinationClass::IntlWorld => "intl_world",
            DestinationClass::Invalid => "invalid",
        }
    }

    /// Parses a class name as written in the data file.
    pub fn parse(name: &str) -> Option<DestinationClass> {
        DestinationClass::ALL
            .iter()
            .copied()
            .find(|c| c.as_str() == name)
    }

    pub fn is_international(self) -> bool {
        matches!(
            self,
            DestinationClass::IntlNordic
                | DestinationClass::IntlEurope
                | DestinationClass::IntlWorld
        )
    }
}

impl fmt::Display for DestinationClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Longest dialled string we accept (E.164 allows 15 digits after the country code; the
/// international prefix adds two).
pub const MAX_DIGITS: usize = 20;

/// A dialled number reduced to digits: `+` became the international prefix, the own
/// country code was stripped, separators are gone. Lives on the stack.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct NormalisedNumber {
    digits: [u8; MAX_DIGITS],
    len: u8,
}

impl NormalisedNumber {
    pub fn as_str(&self) -> &str {
        // Only ASCII digits are ever stored, so this cannot fail; fall back to "" rather
        // than panic.
        std::str::from_utf8(self.digits.get(..usize::from(self.len)).unwrap_or(&[])).unwrap_or("")
    }

    pub fn digits(&self) -> &[u8] {
        self.digits.get(..usize::from(self.len)).unwrap_or(&[])
    }

    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl fmt::Debug for NormalisedNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NormalisedNumber({})", self.as_str())
    }
}

/// One row of `numbering.prefixes` or `numbering.international`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrefixRule {
    pub prefix: String,
    pub class: DestinationClass,
    /// Expected total number of digits; 0 means any length.
    pub len: u8,
}

/// A block of the municipality's own numbers, belonging to one site.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnRange {
    pub first: u64,
    pub last: u64,
    /// Index into the dataset's sites.
    pub site: usize,
}

/// What the plan says about one dialled number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Classification {
    pub class: DestinationClass,
    /// For on-net numbers: the index of the site whose range holds the number.
    pub site: Option<usize>,
    /// Why a number is `Invalid`.
    pub invalid_reason: Option<InvalidReason>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvalidReason {
    /// A character other than digits, `+` and separators, or too long.
    NotANumber,
    /// No prefix rule matched.
    NoPrefix,
    /// A prefix matched but the number has the wrong length for it.
    WrongLength,
    /// The plan maps the prefix to `invalid` (e.g. reserved `01`).
    Reserved,
}

/// A digit trie node: children by digit, and the rule ending here (index into `rules`).
#[derive(Clone, Debug, Default)]
struct Node {
    child: [u32; 10],
    rule: Option<u32>,
}

#[derive(Clone, Debug, Default)]
struct Trie {
    nodes: Vec<Node>,
    rules: Vec<(DestinationClass, u8)>,
}

impl Trie {
    fn new() -> Self {
        Trie {
            nodes: vec![Node::default()],
            rules: Vec::new(),
        }
    }

    /// Inserts a prefix; a later duplicate replaces an earlier one (the loader rejects
    /// duplicates before this).
    fn insert(&mut self, prefix: &[u8], class: DestinationClass, len: u8) {
        let mut at = 0usize;
        for &b in prefix {
            let d = usize::from(b - b'0');
            let next = self.nodes[at].child[d];
            at = if next == 0 {
                self.nodes.push(Node::default());
                let id = self.nodes.len() - 1;
                self.nodes[at].child[d] = id as u32;
                id
            } else {
                next as usize
            };
        }
        self.rules.push((class, len));
        self.nodes[at].rule = Some((self.rules.len() - 1) as u32);
    }

    /// Longest matching prefix's rule.
    fn longest(&self, digits: &[u8]) -> Option<(DestinationClass, u8)> {
        let mut at = 0usize;
        let mut best = self.nodes.first().and_then(|n| n.rule);
        for &b in digits {
            let Some(node) = self.nodes.get(at) else {
                break;
            };
            let next = node.child[usize::from(b.wrapping_sub(b'0')).min(9)];
            if next == 0 {
                break;
            }
            at = next as usize;
            if let Some(r) = self.nodes.get(at).and_then(|n| n.rule) {
                best = Some(r);
            }
        }
        best.and_then(|r| self.rules.get(r as usize).copied())
    }
}

/// The numbering plan as loaded from `[numbering]` plus the own ranges from `[[sites]]`.
#[derive(Clone, Debug)]
pub struct NumberingPlan {
    country_code: Vec<u8>,
    international_prefix: Vec<u8>,
    national: Trie,
    international: Trie,
    /// Sorted by `first`, non-overlapping (checked by the loader).
    own: Vec<OwnRange>,
    /// Site ids, indexed by `OwnRange::site`.
    site_ids: Vec<String>,
    pub national_number_length: u8,
    prefixes: Vec<PrefixRule>,
    international_rules: Vec<PrefixRule>,
}

/// Error building a plan (the dataset loader turns these into located problems).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PlanError {
    #[error("prefix {0:?} is not all digits")]
    NotDigits(String),
    #[error("prefix {0:?} appears twice")]
    Duplicate(String),
    #[error("international prefix {prefix:?} does not start with {intl:?}")]
    NotInternational { prefix: String, intl: String },
    #[error("own number ranges of two sites overlap ({0} and {1})")]
    Overlap(usize, usize),
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

impl NumberingPlan {
    /// Builds the tries. `own` are the sites' DID ranges.
    pub fn new(
        country_code: &str,
        international_prefix: &str,
        national_number_length: u8,
        prefixes: Vec<PrefixRule>,
        international: Vec<PrefixRule>,
        mut own: Vec<OwnRange>,
        site_ids: Vec<String>,
    ) -> Result<Self, PlanError> {
        for s in [country_code, international_prefix] {
            if !all_digits(s) {
                return Err(PlanError::NotDigits(s.to_owned()));
            }
        }
        let mut national = Trie::new();
        let mut seen = std::collections::HashSet::new();
        for r in &prefixes {
            if !all_digits(&r.prefix) {
                return Err(PlanError::NotDigits(r.prefix.clone()));
            }
            if !seen.insert(r.prefix.clone()) {
                return Err(PlanError::Duplicate(r.prefix.clone()));
            }
            national.insert(r.prefix.as_bytes(), r.class, r.len);
        }
        let mut intl = Trie::new();
        seen.clear();
        for r in &international {
            if !all_digits(&r.prefix) {
                return Err(PlanError::NotDigits(r.prefix.clone()));
            }
            if !r.prefix.starts_with(international_prefix) {
                return Err(PlanError::NotInternational {
                    prefix: r.prefix.clone(),
                    intl: international_prefix.to_owned(),
                });
            }
            if !seen.insert(r.prefix.clone()) {
                return Err(PlanError::Duplicate(r.prefix.clone()));
            }
            intl.insert(r.prefix.as_bytes(), r.class, r.len);
        }
        own.sort_by_key(|r| r.first);
        for w in own.windows(2) {
            if let [a, b] = w
                && b.first <= a.last
            {
                return Err(PlanError::Overlap(a.site, b.site));
            }
        }
        Ok(NumberingPlan {
            country_code: country_code.as_bytes().to_vec(),
            international_prefix: international_prefix.as_bytes().to_vec(),
            national,
            international: intl,
            own,
            site_ids,
            national_number_length,
            prefixes,
            international_rules: international,
        })
    }

    pub fn prefixes(&self) -> &[PrefixRule] {
        &self.prefixes
    }

    pub fn international_rules(&self) -> &[PrefixRule] {
        &self.international_rules
    }

    pub fn own_ranges(&self) -> &[OwnRange] {
        &self.own
    }

    /// The id of a site by its index (as in `Classification::site`).
    pub fn site_id(&self, site: usize) -> Option<&str> {
        self.site_ids.get(site).map(String::as_str)
    }

    /// The index of a site by its id.
    pub fn site_index(&self, id: &str) -> Option<usize> {
        self.site_ids.iter().position(|s| s == id)
    }

    /// Reduces a dialled string to digits: drops spaces and the separators `-`, `.`, `(`,
    /// `)`, `/`; turns a leading `+` into the international prefix; strips the own country
    /// code after the international prefix (`+47`/`0047`), so the number is rated as
    /// national. `None` for anything else (letters, `*`, `#`, too long).
    pub fn normalise(&self, dialled: &str) -> Option<NormalisedNumber> {
        let mut out = NormalisedNumber {
            digits: [0; MAX_DIGITS],
            len: 0,
        };
        let mut n = 0usize;
        let mut plus_allowed = true;
        for &b in dialled.as_bytes() {
            match b {
                b'0'..=b'9' => {
                    *out.digits.get_mut(n)? = b;
                    n += 1;
                    plus_allowed = false;
                }
                b' ' | b'-' | b'.' | b'(' | b')' | b'/' | b'\t' => {}
                b'+' if plus_allowed => {
                    for &p in &self.international_prefix {
                        *out.digits.get_mut(n)? = p;
                        n += 1;
                    }
                    plus_allowed = false;
                }
                _ => return None,
            }
        }
        // Strip "00" + "47": the rest is a national number.
        let ip = self.international_prefix.len();
        let cc = self.country_code.len();
        let d = out.digits.get(..n)?;
        if n > ip + cc
            && starts_with(d, &self.international_prefix)
            && d.get(ip..)
                .is_some_and(|rest| starts_with(rest, &self.country_code))
        {
            out.digits.copy_within(ip + cc..n, 0);
            n -= ip + cc;
        }
        out.len = n as u8;
        Some(out)
    }

    /// Classifies a dialled number: longest prefix, then the expected length, then the
    /// own ranges (a number of a municipal site is on-net whatever its prefix says).
    pub fn classify(&self, dialled: &str) -> Classification {
        match self.normalise(dialled) {
            Some(n) => self.classify_normalised(&n),
            None => invalid(InvalidReason::NotANumber),
        }
    }

    pub fn classify_normalised(&self, n: &NormalisedNumber) -> Classification {
        let d = n.digits();
        if d.is_empty() {
            return invalid(InvalidReason::NotANumber);
        }
        let is_intl = starts_with(d, &self.international_prefix);
        let trie = if is_intl {
            &self.international
        } else {
            &self.national
        };
        let Some((class, len)) = trie.longest(d) else {
            return invalid(InvalidReason::NoPrefix);
        };
        if class == DestinationClass::Invalid {
            return invalid(InvalidReason::Reserved);
        }
        if len != 0 && usize::from(len) != d.len() {
            return invalid(InvalidReason::WrongLength);
        }
        if !is_intl
            && d.len() == usize::from(self.national_number_length)
            && let Some(site) = self.own_site_of_digits(d)
        {
            return Classification {
                class: DestinationClass::OnNet,
                site: Some(site),
                invalid_reason: None,
            };
        }
        Classification {
            class,
            site: None,
            invalid_reason: None,
        }
    }

    /// The site whose DID range holds this number, if any.
    pub fn own_site(&self, dialled: &str) -> Option<usize> {
        let n = self.normalise(dialled)?;
        self.own_site_of_digits(n.digits())
    }

    fn own_site_of_digits(&self, d: &[u8]) -> Option<usize> {
        if self.own.is_empty() || d.len() > 18 {
            return None;
        }
        let mut v: u64 = 0;
        for &b in d {
            v = v * 10 + u64::from(b - b'0');
        }
        // Last range starting at or below v.
        let i = self.own.partition_point(|r| r.first <= v);
        let r = self.own.get(i.checked_sub(1)?)?;
        (v <= r.last).then_some(r.site)
    }
}

/// Prefix test as a plain loop: the slices are a few bytes long and `<[u8]>::starts_with`
/// calls `memcmp`, which showed up in profiles of rating.
#[inline]
fn starts_with(d: &[u8], prefix: &[u8]) -> bool {
    prefix.len() <= d.len() && prefix.iter().zip(d).all(|(a, b)| a == b)
}

fn invalid(reason: InvalidReason) -> Classification {
    Classification {
        class: DestinationClass::Invalid,
        site: None,
        invalid_reason: Some(reason),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(prefix: &str, class: DestinationClass, len: u8) -> PrefixRule {
        PrefixRule {
            prefix: prefix.into(),
            class,
            len,
        }
    }

    fn plan() -> NumberingPlan {
        use DestinationClass::*;
        NumberingPlan::new(
            "47",
            "00",
            8,
            vec![
                rule("110", Emergency, 3),
                rule("112", Emergency, 3),
                rule("113", Emergency, 3),
                rule("1412", Emergency, 4),
                rule("18", Directory, 4),
                rule("1", ServiceShort, 3),
                rule("01", Invalid, 0),
                rule("0", FiveDigit, 5),
                rule("6", National, 8),
                rule("63", Local, 8),
                rule("4", Mobile, 8),
                rule("8", NonGeographic, 8),
                rule("800", Freephone, 8),
            ],
            vec![
                rule("00", IntlWorld, 0),
                rule("0046", IntlNordic, 0),
                rule("0044", IntlEurope, 0),
            ],
            vec![
                OwnRange {
                    first: 63869000,
                    last: 63869399,
                    site: 0,
                },
                OwnRange {
                    first: 63869400,
                    last: 63869449,
                    site: 1,
                },
            ],
            vec!["radhus".into(), "sykehjem".into()],
        )
        .expect("valid plan")
    }

    #[test]
    fn normalises_country_code_and_separators() {
        let p = plan();
        for s in [
            "+47 63 86 90 02",
            "0047 6386 9002",
            "63-86-90-02",
            "(63) 86.90.02",
            "+4763869002",
        ] {
            assert_eq!(
                p.normalise(s).map(|n| n.as_str().to_owned()).as_deref(),
                Some("63869002"),
                "{s}"
            );
        }
        assert_eq!(
            p.normalise("+46 8 123 456")
                .map(|n| n.as_str().to_owned())
                .as_deref(),
            Some("00468123456")
        );
        assert_eq!(p.normalise("*21#"), None);
        assert_eq!(p.normalise("123456789012345678901"), None);
    }

    #[test]
    fn longest_prefix_and_length() {
        use DestinationClass::*;
        let p = plan();
        assert_eq!(p.classify("63123456").class, Local);
        assert_eq!(p.classify("61123456").class, National);
        assert_eq!(p.classify("80012345").class, Freephone);
        assert_eq!(p.classify("81512345").class, NonGeographic);
        assert_eq!(p.classify("1881").class, Directory);
        assert_eq!(p.classify("145").class, ServiceShort);
        assert_eq!(p.classify("02800").class, FiveDigit);
        assert_eq!(
            p.classify("0123").invalid_reason,
            Some(InvalidReason::Reserved)
        );
        assert_eq!(
            p.classify("6312345").invalid_reason,
            Some(InvalidReason::WrongLength)
        );
        assert_eq!(
            p.classify("4123456789").invalid_reason,
            Some(InvalidReason::WrongLength)
        );
        assert_eq!(
            p.classify("").invalid_reason,
            Some(InvalidReason::NotANumber)
        );
    }

    #[test]
    fn emergency_numbers_are_whole_numbers() {
        use DestinationClass::*;
        let p = plan();
        for n in ["110", "112", "113", "1412", "+47 112", "0047113"] {
            assert_eq!(p.classify(n).class, Emergency, "{n}");
        }
        // 1121 is not 112 followed by a digit: wrong length for the emergency rule.
        assert_eq!(p.classify("1121").class, Invalid);
        assert_eq!(p.classify("114").class, ServiceShort);
    }

    #[test]
    fn international_zones() {
        use DestinationClass::*;
        let p = plan();
        assert_eq!(p.classify("+46 8 123 456 78").class, IntlNordic);
        assert_eq!(p.classify("0044 20 7946 0000").class, IntlEurope);
        assert_eq!(p.classify("+1 212 555 0100").class, IntlWorld);
        // Own country code dialled internationally is national.
        assert_eq!(p.classify("+47 41234567").class, Mobile);
    }

    #[test]
    fn own_ranges_are_on_net() {
        let p = plan();
        let c = p.classify("63869002");
        assert_eq!((c.class, c.site), (DestinationClass::OnNet, Some(0)));
        assert_eq!(p.classify("+47 6386 9449").site, Some(1));
        assert_eq!(p.classify("63869450").class, DestinationClass::Local);
        assert_eq!(p.classify("63868999").class, DestinationClass::Local);
    }

    #[test]
    fn bad_plans_are_rejected() {
        use DestinationClass::*;
        assert!(matches!(
            NumberingPlan::new(
                "47",
                "00",
                8,
                vec![rule("6a", Local, 8)],
                vec![],
                vec![],
                vec![]
            ),
            Err(PlanError::NotDigits(_))
        ));
        assert!(matches!(
            NumberingPlan::new(
                "47",
                "00",
                8,
                vec![rule("6", Local, 8), rule("6", National, 8)],
                vec![],
                vec![],
                vec![]
            ),
            Err(PlanError::Duplicate(_))
        ));
        assert!(matches!(
            NumberingPlan::new(
                "47",
                "00",
                8,
                vec![],
                vec![rule("46", IntlNordic, 0)],
                vec![],
                vec![]
            ),
            Err(PlanError::NotInternational { .. })
        ));
        assert!(matches!(
            NumberingPlan::new(
                "47",
                "00",
                8,
                vec![],
                vec![],
                vec![
                    OwnRange {
                        first: 1,
                        last: 10,
                        site: 0
                    },
                    OwnRange {
                        first: 10,
                        last: 20,
                        site: 1
                    }
                ],
                vec![]
            ),
            Err(PlanError::Overlap(0, 1))
        ));
    }
}
