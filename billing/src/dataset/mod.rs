//! Loading the data file (`sorum-sample.toml` format) into typed, validated structures.
//!
//! Owns the file format: serde + toml for the shape, then checks that name the table, key
//! and line of each mistake ("tariffs.new.rates.mobile.day (line 312): not a decimal:
//! \"0,17\""), all problems at once. Money is read from decimal strings into
//! `rust_decimal`, never through `f64`. Also reads the comments to tell which inputs are
//! marked "assumption:" (see [`provenance`]). Does no I/O except [`Dataset::from_path`].

mod problem;
pub mod provenance;
mod raw;

pub use problem::ProblemKind;

use crate::legacy::{
    FixedCosts, Investment, LegacyPbx, LegacyUnitPrices, NewFixedCosts, SiteLines,
};
use crate::numbering::{DestinationClass, NumberingPlan, OwnRange, PrefixRule};
use crate::rating::Rater;
use crate::tariff::{ClassRate, Tariff, TariffBook, TimeBands, World};
use chrono::NaiveDate;
use provenance::Provenance;
use raw::{RawDataset, S};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// One mistake in a data file, located.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Problem {
    /// Table and key, e.g. `tariffs.new.rates.mobile.day` or `sites[3].did_first`.
    pub path: String,
    /// 1-based line in the file, when known.
    pub line: Option<usize>,
    /// What is wrong; `Display` gives the English message.
    pub kind: ProblemKind,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.path.is_empty(), self.line) {
            (false, Some(l)) => write!(f, "{} (line {l}): {}", self.path, self.kind),
            (false, None) => write!(f, "{}: {}", self.path, self.kind),
            (true, Some(l)) => write!(f, "line {l}: {}", self.kind),
            (true, None) => write!(f, "{}", self.kind),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    /// The file is not TOML or a value has the wrong type or an unknown key.
    #[error("{0}")]
    Syntax(Problem),
    /// The file parsed but some values are wrong; every problem found is listed.
    #[error("{} problem(s) in the data file:\n{}", .0.len(), .0.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<Problem>),
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl DatasetError {
    /// All located problems (one for a syntax error).
    pub fn problems(&self) -> Vec<Problem> {
        match self {
            DatasetError::Syntax(p) => vec![p.clone()],
            DatasetError::Invalid(ps) => ps.clone(),
            DatasetError::Io { path, source } => {
                vec![Problem {
                    path: path.display().to_string(),
                    line: None,
                    kind: ProblemKind::Io {
                        message: source.to_string(),
                    },
                }]
            }
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    pub name: String,
    pub municipality: String,
    pub currency: String,
    pub reference_year: Option<i32>,
    /// The saving the plan promised (`meta.claimed_saving_per_year`), NOK per year.
    pub target_saving_per_year: Decimal,
}

/// One of the municipality's sites, with its old-world inventory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Site {
    pub id: String,
    pub name: String,
    pub area: String,
    pub department: String,
    pub staff: u32,
    pub extensions: u32,
    pub did_first: u64,
    pub did_last: u64,
    pub open_24_7: bool,
    pub legacy_pbx: LegacyPbx,
    pub legacy_pri: u32,
    pub legacy_bri: u32,
    pub legacy_analogue: u32,
    pub legacy_analogue_kept: u32,
}

impl Site {
    /// The site's extensions: the first `extensions` numbers of its DID range.
    pub fn extension_numbers(&self) -> impl Iterator<Item = u64> + '_ {
        (0..u64::from(self.extensions)).map(move |i| self.did_first + i)
    }

    pub fn lines(&self) -> SiteLines {
        SiteLines {
            site: self.id.clone(),
            extensions: self.extensions,
            legacy_pbx: self.legacy_pbx,
            legacy_pri: self.legacy_pri,
            legacy_bri: self.legacy_bri,
            legacy_analogue: self.legacy_analogue,
            legacy_analogue_kept: self.legacy_analogue_kept,
        }
    }
}

/// `[traffic]`: the profile the synthetic generator draws from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrafficProfile {
    pub working_days_per_year: f64,
    pub non_working_days_per_year: f64,
    pub weekend_factor_24_7_sites: f64,
    pub weekend_factor_other_sites: f64,
    pub seed: u64,
    pub lognormal_sigma: f64,
    pub outgoing_external_calls: f64,
    pub incoming_external_calls: f64,
    pub internal_calls: f64,
    pub intersite_share_of_internal: f64,
    /// Shares of outgoing external calls by class (sum 1).
    pub external_mix: Vec<(DestinationClass, f64)>,
    /// Mean answered duration by class, seconds.
    pub mean_duration_s: BTreeMap<DestinationClass, f64>,
    /// Share of a weekday's calls starting in each local hour (sum 1).
    pub hourly_weekday: [f64; 24],
    pub mobile_operator_share: Vec<(String, f64)>,
}

/// The Sørum sample (`shared/data/sorum-sample.toml`, copied into this crate) for demos,
/// tests and benches; see `RESEARCH.md` beside the original for its sources.
pub const SAMPLE_TOML: &str = include_str!("../../data/sorum-sample.toml");

/// A validated data file.
#[derive(Clone, Debug)]
pub struct Dataset {
    pub schema_version: i64,
    pub meta: Meta,
    pub sources: BTreeMap<String, String>,
    pub numbering: NumberingPlan,
    pub time_bands: BTreeMap<String, TimeBands>,
    pub tariffs: TariffBook,
    pub fixed_costs: FixedCosts,
    pub sites: Vec<Site>,
    pub traffic: Option<TrafficProfile>,
    /// Which inputs are sourced and which are assumptions, from the file's comments.
    pub provenance: Provenance,
}

impl Dataset {
    /// Parses and validates a whole data file.
    pub fn from_toml_str(text: &str) -> Result<Dataset, DatasetError> {
        let raw = parse(text)?;
        let mut v = Validator {
            text,
            problems: Vec::new(),
        };
        let ds = v.dataset(raw);
        match ds {
            Some(ds) if v.problems.is_empty() => {
                let provenance = Provenance::from_toml(text);
                Ok(Dataset { provenance, ..ds })
            }
            _ => Err(DatasetError::Invalid(v.problems)),
        }
    }

    /// Reads and parses a data file.
    pub fn from_path(path: &Path) -> Result<Dataset, DatasetError> {
        let text = std::fs::read_to_string(path).map_err(|source| DatasetError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Dataset::from_toml_str(&text)
    }

    /// The rating engine for this dataset's numbering plan and tariffs.
    pub fn rater(&self) -> Rater {
        Rater::new(self.numbering.clone(), self.tariffs.clone())
    }

    /// Replaces the tariffs (and their time bands) with those of a tariff file.
    pub fn replace_tariffs(&mut self, tariffs: TariffFile) {
        self.tariffs = tariffs.tariffs;
        self.time_bands = tariffs.time_bands;
    }

    pub fn site(&self, id: &str) -> Option<&Site> {
        self.sites.iter().find(|s| s.id == id)
    }

    pub fn total_extensions(&self) -> u32 {
        self.sites.iter().map(|s| s.extensions).sum()
    }

    /// Departments in file order, without repeats.
    pub fn departments(&self) -> Vec<String> {
        let mut seen = HashSet::new();
        self.sites
            .iter()
            .filter(|s| seen.insert(s.department.clone()))
            .map(|s| s.department.clone())
            .collect()
    }

    pub fn site_lines(&self) -> Vec<SiteLines> {
        self.sites.iter().map(Site::lines).collect()
    }

    /// The blended mobile price implied by the operator prices and the traffic profile's
    /// operator shares, per tariff that has operator prices: (tariff id, file's mobile day
    /// price, computed blend). The file's `rates.mobile` is what rating uses when the
    /// operator is unknown; this is the cross-check.
    pub fn mobile_blend_check(&self) -> Vec<(String, Option<Decimal>, Decimal)> {
        let Some(traffic) = &self.traffic else {
            return Vec::new();
        };
        self.tariffs
            .tariffs
            .iter()
            .filter(|t| !t.mobile_by_operator.is_empty())
            .map(|t| {
                let blend = traffic
                    .mobile_operator_share
                    .iter()
                    .filter_map(|(op, share)| {
                        let price = t.operator_rate(op)?.day;
                        Some(price * decimal_from_f64(*share)?)
                    })
                    .sum();
                (
                    t.id.clone(),
                    t.rate_for(DestinationClass::Mobile).map(|r| r.day),
                    blend,
                )
            })
            .collect()
    }
}

/// A file holding only `[time_bands.*]` and `[tariffs.*]` (`sentral tariff import`).
#[derive(Clone, Debug)]
pub struct TariffFile {
    pub time_bands: BTreeMap<String, TimeBands>,
    pub tariffs: TariffBook,
}

impl TariffFile {
    pub fn from_toml_str(text: &str) -> Result<TariffFile, DatasetError> {
        let raw = parse(text)?;
        let mut v = Validator {
            text,
            problems: Vec::new(),
        };
        if raw.tariffs.is_empty() {
            v.problem("tariffs", None, ProblemKind::NoTariffs);
        }
        let time_bands = v.time_bands(&raw.time_bands);
        let tariffs = v.tariffs(&raw.tariffs, &time_bands);
        if v.problems.is_empty() {
            Ok(TariffFile {
                time_bands,
                tariffs,
            })
        } else {
            Err(DatasetError::Invalid(v.problems))
        }
    }
}

/// An `f64` from the file as the decimal it was written as (Rust prints the shortest
/// string that reads back to the same float, so 0.04 becomes exactly 0.04).
pub fn decimal_from_f64(f: f64) -> Option<Decimal> {
    if !f.is_finite() {
        return None;
    }
    Decimal::from_str(&format!("{f}")).ok()
}

fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset.min(text.len()))
        .map_or(1, |s| s.bytes().filter(|b| *b == b'\n').count() + 1)
}

fn parse(text: &str) -> Result<RawDataset, DatasetError> {
    let de = toml::Deserializer::new(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        // Spanned<T> adds private segments to the path; they mean nothing to a user.
        let path = e
            .path()
            .to_string()
            .split('.')
            .filter(|seg| !seg.starts_with("$__"))
            .collect::<Vec<_>>()
            .join(".");
        let inner = e.into_inner();
        let line = inner.span().map(|s| line_of(text, s.start));
        let path = if path == "." { String::new() } else { path };
        DatasetError::Syntax(Problem {
            path,
            line,
            kind: ProblemKind::Toml {
                message: inner.message().trim().to_owned(),
            },
        })
    })
}

struct Validator<'a> {
    text: &'a str,
    problems: Vec<Problem>,
}

impl Validator<'_> {
    fn problem(&mut self, path: &str, span: Option<Range<usize>>, kind: ProblemKind) {
        let line = span.map(|s| line_of(self.text, s.start));
        self.problems.push(Problem {
            path: path.to_owned(),
            line,
            kind,
        });
    }

    fn at<T>(&mut self, path: &str, v: &S<T>, kind: ProblemKind) {
        self.problem(path, Some(v.span()), kind);
    }

    /// A non-negative money amount from a decimal string.
    fn money(&mut self, path: &str, v: &S<String>) -> Decimal {
        match Decimal::from_str(v.get_ref().trim()) {
            Ok(d) if d.is_sign_negative() && !d.is_zero() => {
                self.at(
                    path,
                    v,
                    ProblemKind::Negative {
                        value: v.get_ref().clone(),
                    },
                );
                Decimal::ZERO
            }
            Ok(d) if d.scale() > 6 => {
                self.at(
                    path,
                    v,
                    ProblemKind::TooManyDecimals {
                        value: v.get_ref().clone(),
                    },
                );
                Decimal::ZERO
            }
            Ok(d) => d,
            Err(_) => {
                self.at(
                    path,
                    v,
                    ProblemKind::NotDecimal {
                        value: v.get_ref().clone(),
                    },
                );
                Decimal::ZERO
            }
        }
    }

    fn fraction(&mut self, path: &str, v: &S<f64>) -> f64 {
        let f = *v.get_ref();
        if !(0.0..=1.0).contains(&f) {
            self.at(path, v, ProblemKind::NotFraction { value: f });
            return 0.0;
        }
        f
    }

    fn non_negative(&mut self, path: &str, v: &S<f64>) -> f64 {
        let f = *v.get_ref();
        if !(f.is_finite() && f >= 0.0) {
            self.at(path, v, ProblemKind::NotNonNegative { value: f });
            return 0.0;
        }
        f
    }

    fn decimal_f64(&mut self, path: &str, v: &S<f64>) -> Decimal {
        let f = self.non_negative(path, v);
        decimal_from_f64(f).unwrap_or(Decimal::ZERO)
    }

    fn class(&mut self, path: &str, v: &S<String>) -> Option<DestinationClass> {
        let c = DestinationClass::parse(v.get_ref());
        if c.is_none() {
            self.at(
                path,
                v,
                ProblemKind::UnknownClass {
                    name: v.get_ref().clone(),
                },
            );
        }
        c
    }

    fn date(&mut self, path: &str, v: &S<String>) -> Option<NaiveDate> {
        let d = NaiveDate::parse_from_str(v.get_ref(), "%Y-%m-%d").ok();
        if d.is_none() {
            self.at(
                path,
                v,
                ProblemKind::NotDate {
                    value: v.get_ref().clone(),
                },
            );
        }
        d
    }

    fn dataset(&mut self, raw: RawDataset) -> Option<Dataset> {
        let schema_version = match &raw.schema_version {
            Some(v) if *v.get_ref() == 1 => 1,
            Some(v) => {
                self.at(
                    "schema_version",
                    v,
                    ProblemKind::UnsupportedVersion {
                        version: *v.get_ref(),
                    },
                );
                1
            }
            None => 1,
        };
        let meta = match &raw.meta {
            Some(m) => self.meta(m),
            None => {
                self.problem(
                    "meta",
                    None,
                    ProblemKind::MissingTable {
                        table: "meta".into(),
                    },
                );
                None
            }
        };
        let time_bands = self.time_bands(&raw.time_bands);
        if raw.tariffs.is_empty() {
            self.problem("tariffs", None, ProblemKind::NoTariffs);
        }
        let before = self.problems.len();
        let tariffs = self.tariffs(&raw.tariffs, &time_bands);
        for (world, name) in [(World::Legacy, "legacy"), (World::New, "new")] {
            // Only when every tariff loaded: a broken one has already been reported.
            if !raw.tariffs.is_empty()
                && self.problems.len() == before
                && tariffs.of_world(world).next().is_none()
            {
                self.problem(
                    "tariffs",
                    None,
                    ProblemKind::NoTariffOfWorld { world: name.into() },
                );
            }
        }
        let sites = self.sites(
            &raw.sites,
            raw.numbering
                .as_ref()
                .map_or(8, |n| *n.national_number_length.get_ref()),
        );
        let numbering = match &raw.numbering {
            Some(n) => self.numbering(n, &sites),
            None => {
                self.problem(
                    "numbering",
                    None,
                    ProblemKind::MissingTable {
                        table: "numbering".into(),
                    },
                );
                None
            }
        };
        let fixed_costs = match &raw.fixed_costs {
            Some(f) => Some(self.fixed_costs(f)),
            None => {
                self.problem(
                    "fixed_costs",
                    None,
                    ProblemKind::MissingTable {
                        table: "fixed_costs".into(),
                    },
                );
                None
            }
        };
        let traffic = raw.traffic.as_ref().map(|t| self.traffic(t));
        Some(Dataset {
            schema_version,
            meta: meta?,
            sources: raw.sources,
            numbering: numbering?,
            time_bands,
            tariffs,
            fixed_costs: fixed_costs?,
            sites,
            traffic,
            provenance: Provenance::default(),
        })
    }

    fn meta(&mut self, m: &raw::RawMeta) -> Option<Meta> {
        let currency = m
            .currency
            .as_ref()
            .map_or_else(|| "NOK".to_owned(), |c| c.get_ref().clone());
        if let Some(c) = &m.currency
            && c.get_ref() != "NOK"
        {
            self.at(
                "meta.currency",
                c,
                ProblemKind::OnlyNok {
                    currency: c.get_ref().clone(),
                },
            );
        }
        if let Some(v) = &m.prices_include_vat
            && *v.get_ref()
        {
            self.at("meta.prices_include_vat", v, ProblemKind::PricesIncludeVat);
        }
        let target = match &m.claimed_saving_per_year {
            Some(v) => self.money("meta.claimed_saving_per_year", v),
            None => {
                self.problem(
                    "meta.claimed_saving_per_year",
                    None,
                    ProblemKind::MissingClaimedSaving,
                );
                return None;
            }
        };
        Some(Meta {
            name: m.name.clone(),
            municipality: m.municipality.clone(),
            currency,
            reference_year: m.reference_year,
            target_saving_per_year: target,
        })
    }

    fn numbering(&mut self, n: &raw::RawNumbering, sites: &[Site]) -> Option<NumberingPlan> {
        if let Some(tp) = &n.trunk_prefix
            && !tp.get_ref().is_empty()
        {
            // Norway has had a closed plan without a trunk prefix since 1993; a plan with one
            // would need it stripped before lookup, which this build does not do.
            self.at("numbering.trunk_prefix", tp, ProblemKind::TrunkPrefix);
        }
        let mut declared = HashSet::new();
        for (i, c) in n.classes.iter().enumerate() {
            if let Some(c) = self.class(&format!("numbering.classes[{i}]"), c) {
                declared.insert(c);
            }
        }
        let rules = |v: &mut Self, list: &[S<raw::RawPrefix>], table: &str| -> Vec<PrefixRule> {
            let mut out = Vec::new();
            let mut seen = HashSet::new();
            for (i, p) in list.iter().enumerate() {
                let path = format!("numbering.{table}[{i}]");
                let r = p.get_ref();
                let prefix = r.prefix.get_ref().trim().to_owned();
                if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_digit()) {
                    v.at(
                        &format!("{path}.prefix"),
                        &r.prefix,
                        ProblemKind::NotDigits {
                            value: r.prefix.get_ref().clone(),
                        },
                    );
                    continue;
                }
                if !seen.insert(prefix.clone()) {
                    v.at(
                        &format!("{path}.prefix"),
                        &r.prefix,
                        ProblemKind::DuplicatePrefix {
                            prefix: prefix.clone(),
                        },
                    );
                    continue;
                }
                if table == "international"
                    && !prefix.starts_with(n.international_prefix.get_ref().as_str())
                {
                    v.at(
                        &format!("{path}.prefix"),
                        &r.prefix,
                        ProblemKind::InternationalPrefix {
                            required: n.international_prefix.get_ref().clone(),
                        },
                    );
                    continue;
                }
                let Some(class) = v.class(&format!("{path}.class"), &r.class) else {
                    continue;
                };
                if !declared.is_empty() && !declared.contains(&class) {
                    v.at(
                        &format!("{path}.class"),
                        &r.class,
                        ProblemKind::ClassNotListed { class },
                    );
                }
                let len = *r.len.get_ref();
                if len != 0 && usize::from(len) < prefix.len() {
                    v.at(
                        &format!("{path}.len"),
                        &r.len,
                        ProblemKind::LengthShorterThanPrefix {
                            len,
                            prefix: prefix.clone(),
                        },
                    );
                }
                out.push(PrefixRule { prefix, class, len });
            }
            out
        };
        let national = rules(self, &n.prefixes, "prefixes");
        let international = rules(self, &n.international, "international");
        for (name, v) in [
            ("country_code", &n.country_code),
            ("international_prefix", &n.international_prefix),
        ] {
            if v.get_ref().is_empty() || !v.get_ref().bytes().all(|b| b.is_ascii_digit()) {
                self.at(
                    &format!("numbering.{name}"),
                    v,
                    ProblemKind::NotDigits {
                        value: v.get_ref().clone(),
                    },
                );
                return None;
            }
        }
        let own = sites
            .iter()
            .enumerate()
            .map(|(i, s)| OwnRange {
                first: s.did_first,
                last: s.did_last,
                site: i,
            })
            .collect();
        let ids = sites.iter().map(|s| s.id.clone()).collect();
        match NumberingPlan::new(
            n.country_code.get_ref(),
            n.international_prefix.get_ref(),
            *n.national_number_length.get_ref(),
            national,
            international,
            own,
            ids,
        ) {
            Ok(p) => Some(p),
            Err(crate::numbering::PlanError::Overlap(a, b)) => {
                let name = |i: usize| sites.get(i).map_or("?", |s| s.id.as_str()).to_owned();
                self.problem(
                    "sites",
                    None,
                    ProblemKind::DidOverlap {
                        site_a: name(a),
                        site_b: name(b),
                    },
                );
                None
            }
            Err(e) => {
                // Everything else was reported with its line above.
                if self.problems.is_empty() {
                    self.problem(
                        "numbering",
                        None,
                        ProblemKind::NumberingPlan {
                            detail: e.to_string(),
                        },
                    );
                }
                None
            }
        }
    }

    fn time_bands(
        &mut self,
        raw: &BTreeMap<String, raw::RawTimeBands>,
    ) -> BTreeMap<String, TimeBands> {
        let mut out = BTreeMap::new();
        for (name, b) in raw {
            let path = format!("time_bands.{name}");
            let start = *b.weekday_day_start_hour.get_ref();
            let end = *b.weekday_day_end_hour.get_ref();
            if start > 24 {
                self.at(
                    &format!("{path}.weekday_day_start_hour"),
                    &b.weekday_day_start_hour,
                    ProblemKind::HourOutOfRange,
                );
            }
            if end > 24 || end < start {
                self.at(
                    &format!("{path}.weekday_day_end_hour"),
                    &b.weekday_day_end_hour,
                    ProblemKind::EndHourOutOfRange { start, end },
                );
            }
            out.insert(
                name.clone(),
                TimeBands {
                    name: name.clone(),
                    weekday_day_start_hour: start,
                    weekday_day_end_hour: end,
                    weekends_offpeak: b.weekends_offpeak,
                    public_holidays_offpeak: b.public_holidays_offpeak,
                    split_call_across_bands: b.split_call_across_bands,
                },
            );
        }
        out
    }

    fn tariffs(
        &mut self,
        raw: &BTreeMap<String, S<raw::RawTariff>>,
        bands: &BTreeMap<String, TimeBands>,
    ) -> TariffBook {
        let mut book = TariffBook::default();
        for (id, st) in raw {
            let t = st.get_ref();
            let path = format!("tariffs.{id}");
            let world = match &t.world {
                Some(w) => match w.get_ref().as_str() {
                    "legacy" => Some(World::Legacy),
                    "new" => Some(World::New),
                    other => {
                        self.at(
                            &format!("{path}.world"),
                            w,
                            ProblemKind::BadWorld {
                                value: other.to_owned(),
                            },
                        );
                        None
                    }
                },
                None if id.starts_with("legacy") => Some(World::Legacy),
                None if id.starts_with("new") => Some(World::New),
                None => {
                    self.problem(&path, Some(st.span()), ProblemKind::MissingWorld);
                    None
                }
            };
            let from = self.date(&format!("{path}.valid_from"), &t.valid_from);
            let to = self.date(&format!("{path}.valid_to"), &t.valid_to);
            if let (Some(f), Some(tt)) = (from, to)
                && tt < f
            {
                self.at(
                    &format!("{path}.valid_to"),
                    &t.valid_to,
                    ProblemKind::EndsBeforeStart { start: f },
                );
            }
            let band = match bands.get(t.time_bands.get_ref()) {
                Some(b) => Some(b.clone()),
                None => {
                    self.at(
                        &format!("{path}.time_bands"),
                        &t.time_bands,
                        ProblemKind::NoTimeBands {
                            name: t.time_bands.get_ref().clone(),
                        },
                    );
                    None
                }
            };
            for (name, v) in [
                ("first_increment_s", &t.first_increment_s),
                ("next_increment_s", &t.next_increment_s),
            ] {
                if *v.get_ref() == 0 {
                    self.at(&format!("{path}.{name}"), v, ProblemKind::ZeroIncrement);
                }
            }
            let (Some(world), Some(from), Some(to), Some(band)) = (world, from, to, band) else {
                continue;
            };
            let mut tariff = Tariff::new(id, world, from, to, band);
            tariff.label = t.label.clone();
            tariff.first_increment_s = (*t.first_increment_s.get_ref()).max(1);
            tariff.next_increment_s = (*t.next_increment_s.get_ref()).max(1);
            tariff.minimum_charge_s = t.minimum_charge_s;
            if let Some(m) = &t.minimum_charge {
                let amount = self.money(&format!("{path}.minimum_charge"), m);
                if tariff.set_minimum_charge(amount).is_none() {
                    self.at(
                        &format!("{path}.minimum_charge"),
                        m,
                        ProblemKind::NotWholeOre,
                    );
                }
            }
            tariff.on_net_same_site_free = t.on_net_same_site_free;
            if let Some(c) = &t.on_net_other_site_rated_as
                && let Some(class) = self.class(&format!("{path}.on_net_other_site_rated_as"), c)
            {
                tariff.on_net_other_site_rated_as = class;
            }
            for (class_name, r) in &t.rates {
                let rpath = format!("{path}.rates.{class_name}");
                let Some(class) = DestinationClass::parse(class_name) else {
                    self.problem(
                        &rpath,
                        Some(r.span()),
                        ProblemKind::UnknownClass {
                            name: class_name.clone(),
                        },
                    );
                    continue;
                };
                let rr = r.get_ref();
                let setup = self.money(&format!("{rpath}.setup"), &rr.setup);
                let day = self.money(&format!("{rpath}.day"), &rr.day);
                let off = self.money(&format!("{rpath}.offpeak"), &rr.offpeak);
                if let Some(rate) = ClassRate::new(setup, day, off) {
                    tariff.set_rate(class, rate);
                }
            }
            let as_class = tariff.on_net_other_site_rated_as;
            if tariff.rate_for(as_class).is_none() {
                let span = t
                    .on_net_other_site_rated_as
                    .as_ref()
                    .map(|s| s.span())
                    .unwrap_or(st.span());
                self.problem(
                    &format!("{path}.on_net_other_site_rated_as"),
                    Some(span),
                    ProblemKind::NoRateForOtherSite {
                        class: as_class,
                        tariff_path: path.clone(),
                    },
                );
            }
            if !t.mobile_by_operator.is_empty() {
                let mobile_setup = tariff
                    .rate_for(DestinationClass::Mobile)
                    .map_or(Decimal::ZERO, |r| r.setup);
                for (op, price) in &t.mobile_by_operator {
                    let p = self.money(&format!("{path}.mobile_by_operator.{op}"), price);
                    if let Some(r) = ClassRate::new(mobile_setup, p, p) {
                        tariff.mobile_by_operator.push((op.clone(), r));
                    }
                }
            }
            book.tariffs.push(tariff);
        }
        book
    }

    fn fixed_costs(&mut self, f: &raw::RawFixedCosts) -> FixedCosts {
        let u = &f.legacy.unit_prices;
        let lp = "fixed_costs.legacy.unit_prices";
        let legacy = LegacyUnitPrices {
            isdn_bri_per_month: self
                .money(&format!("{lp}.isdn_bri_per_month"), &u.isdn_bri_per_month),
            analogue_line_per_month: self.money(
                &format!("{lp}.analogue_line_per_month"),
                &u.analogue_line_per_month,
            ),
            isdn_pri_per_month: self
                .money(&format!("{lp}.isdn_pri_per_month"), &u.isdn_pri_per_month),
            pbx_service_large_per_year: self.money(
                &format!("{lp}.pbx_service_large_per_year"),
                &u.pbx_service_large_per_year,
            ),
            pbx_service_small_per_year: self.money(
                &format!("{lp}.pbx_service_small_per_year"),
                &u.pbx_service_small_per_year,
            ),
            voice_tie_line_per_month: self.money(
                &format!("{lp}.voice_tie_line_per_month"),
                &u.voice_tie_line_per_month,
            ),
            voice_tie_lines: u.voice_tie_lines,
        };
        let n = &f.new;
        let np = "fixed_costs.new";
        let i = &n.investment;
        let ip = "fixed_costs.new.investment";
        if *i.lifetime_years.get_ref() == 0 {
            self.at(
                &format!("{ip}.lifetime_years"),
                &i.lifetime_years,
                ProblemKind::ZeroLifetime,
            );
        }
        let interest = *i.interest_rate.get_ref();
        if !(0.0..1.0).contains(&interest) {
            self.at(
                &format!("{ip}.interest_rate"),
                &i.interest_rate,
                ProblemKind::InterestRate { value: interest },
            );
        }
        let new = NewFixedCosts {
            sip_trunk_channels: n.sip_trunk_channels,
            sip_trunk_per_channel_per_month: self.money(
                &format!("{np}.sip_trunk_per_channel_per_month"),
                &n.sip_trunk_per_channel_per_month,
            ),
            platform_support_per_year: self.money(
                &format!("{np}.platform_support_per_year"),
                &n.platform_support_per_year,
            ),
            internal_ops_fte: self
                .decimal_f64(&format!("{np}.internal_ops_fte"), &n.internal_ops_fte),
            fte_cost_per_year: self.money(&format!("{np}.fte_cost_per_year"), &n.fte_cost_per_year),
            licences_per_year: self.money(&format!("{np}.licences_per_year"), &n.licences_per_year),
            investment: Investment {
                servers_and_gateways: self.money(
                    &format!("{ip}.servers_and_gateways"),
                    &i.servers_and_gateways,
                ),
                ip_phone_each: self.money(&format!("{ip}.ip_phone_each"), &i.ip_phone_each),
                lan_poe_per_site: self
                    .money(&format!("{ip}.lan_poe_per_site"), &i.lan_poe_per_site),
                project_and_installation: self.money(
                    &format!("{ip}.project_and_installation"),
                    &i.project_and_installation,
                ),
                lifetime_years: (*i.lifetime_years.get_ref()).max(1),
                interest_rate: self.decimal_f64(&format!("{ip}.interest_rate"), &i.interest_rate),
            },
        };
        FixedCosts { legacy, new }
    }

    fn sites(&mut self, raw: &[S<raw::RawSite>], national_len: u8) -> Vec<Site> {
        let mut out = Vec::new();
        let mut ids = HashSet::new();
        for (i, ss) in raw.iter().enumerate() {
            let s = ss.get_ref();
            let path = format!("sites[{i}]");
            let id = s.id.get_ref().clone();
            if id.is_empty() || !ids.insert(id.clone()) {
                self.at(
                    &format!("{path}.id"),
                    &s.id,
                    ProblemKind::SiteIdReused { id: id.clone() },
                );
            }
            let did = |v: &mut Self, key: &str, val: &S<String>| -> u64 {
                let t = val.get_ref().trim();
                if t.len() != usize::from(national_len) || !t.bytes().all(|b| b.is_ascii_digit()) {
                    v.at(
                        &format!("{path}.{key}"),
                        val,
                        ProblemKind::NotNationalNumber {
                            digits: national_len,
                            value: val.get_ref().clone(),
                        },
                    );
                    return 0;
                }
                t.parse().unwrap_or(0)
            };
            let first = did(self, "did_first", &s.did_first);
            let last = did(self, "did_last", &s.did_last);
            if last < first {
                self.at(
                    &format!("{path}.did_last"),
                    &s.did_last,
                    ProblemKind::RangeEndsBeforeStart,
                );
            }
            let size = last.saturating_sub(first) + 1;
            if u64::from(*s.extensions.get_ref()) > size {
                self.at(
                    &format!("{path}.extensions"),
                    &s.extensions,
                    ProblemKind::TooManyExtensions {
                        extensions: *s.extensions.get_ref(),
                        range_size: size,
                    },
                );
            }
            let pbx = match s.legacy_pbx.get_ref().as_str() {
                "large" => LegacyPbx::Large,
                "small" => LegacyPbx::Small,
                "none" => LegacyPbx::None,
                other => {
                    self.at(
                        &format!("{path}.legacy_pbx"),
                        &s.legacy_pbx,
                        ProblemKind::BadLegacyPbx {
                            value: other.to_owned(),
                        },
                    );
                    LegacyPbx::None
                }
            };
            out.push(Site {
                id,
                name: s.name.clone(),
                area: s.area.clone(),
                department: s.department.clone(),
                staff: s.staff,
                extensions: *s.extensions.get_ref(),
                did_first: first,
                did_last: last,
                open_24_7: s.open_24_7,
                legacy_pbx: pbx,
                legacy_pri: s.legacy_pri,
                legacy_bri: s.legacy_bri,
                legacy_analogue: s.legacy_analogue,
                legacy_analogue_kept: s.legacy_analogue_kept,
            });
        }
        if raw.is_empty() {
            self.problem("sites", None, ProblemKind::NoSites);
        }
        out
    }

    fn traffic(&mut self, t: &raw::RawTraffic) -> TrafficProfile {
        let p = "traffic";
        if t.holding_time_distribution.get_ref() != "lognormal" {
            self.at(
                &format!("{p}.holding_time_distribution"),
                &t.holding_time_distribution,
                ProblemKind::OnlyLognormal {
                    value: t.holding_time_distribution.get_ref().clone(),
                },
            );
        }
        let shares = |v: &mut Self,
                      table: &str,
                      map: &BTreeMap<String, S<f64>>|
         -> Vec<(DestinationClass, f64)> {
            let mut out = Vec::new();
            for (k, val) in map {
                let path = format!("{p}.{table}.{k}");
                let Some(c) = DestinationClass::parse(k) else {
                    v.at(&path, val, ProblemKind::UnknownClass { name: k.clone() });
                    continue;
                };
                out.push((c, v.non_negative(&path, val)));
            }
            out
        };
        let mix = shares(self, "external_mix", &t.external_mix);
        let sum: f64 = mix.iter().map(|(_, s)| s).sum();
        if (sum - 1.0).abs() > 1e-6 {
            self.problem(
                &format!("{p}.external_mix"),
                None,
                ProblemKind::SharesSum { sum },
            );
        }
        if let Some((c, _)) = mix
            .iter()
            .find(|(c, _)| matches!(c, DestinationClass::OnNet | DestinationClass::Invalid))
        {
            self.problem(
                &format!("{p}.external_mix.{c}"),
                None,
                ProblemKind::NotExternal,
            );
        }
        let durations: BTreeMap<DestinationClass, f64> =
            shares(self, "mean_duration_s", &t.mean_duration_s)
                .into_iter()
                .collect();
        for (c, share) in &mix {
            if *share > 0.0 && !durations.contains_key(c) {
                self.problem(
                    &format!("{p}.mean_duration_s.{c}"),
                    None,
                    ProblemKind::MissingDuration,
                );
            }
        }
        let mut hourly = [0.0; 24];
        let hs = t.hourly_weekday.shares.get_ref();
        if hs.len() != 24 {
            self.at(
                &format!("{p}.hourly_weekday.shares"),
                &t.hourly_weekday.shares,
                ProblemKind::HourlyCount { count: hs.len() },
            );
        } else {
            for (slot, v) in hourly.iter_mut().zip(hs) {
                *slot = v.max(0.0);
            }
            let s: f64 = hs.iter().sum();
            if (s - 1.0).abs() > 1e-6 || hs.iter().any(|v| *v < 0.0) {
                self.at(
                    &format!("{p}.hourly_weekday.shares"),
                    &t.hourly_weekday.shares,
                    ProblemKind::SharesSum { sum: s },
                );
            }
        }
        let mut ops = Vec::new();
        for (op, v) in &t.mobile_operator_share {
            ops.push((
                op.clone(),
                self.fraction(&format!("{p}.mobile_operator_share.{op}"), v),
            ));
        }
        let pe = &t.per_extension_per_workday;
        let pep = "traffic.per_extension_per_workday";
        let sigma = self.non_negative(&format!("{p}.lognormal_sigma"), &t.lognormal_sigma);
        TrafficProfile {
            working_days_per_year: self.non_negative(
                &format!("{p}.working_days_per_year"),
                &t.working_days_per_year,
            ),
            non_working_days_per_year: self.non_negative(
                &format!("{p}.non_working_days_per_year"),
                &t.non_working_days_per_year,
            ),
            weekend_factor_24_7_sites: self.non_negative(
                &format!("{p}.weekend_factor_24_7_sites"),
                &t.weekend_factor_24_7_sites,
            ),
            weekend_factor_other_sites: self.non_negative(
                &format!("{p}.weekend_factor_other_sites"),
                &t.weekend_factor_other_sites,
            ),
            seed: t.seed,
            lognormal_sigma: sigma,
            outgoing_external_calls: self.non_negative(
                &format!("{pep}.outgoing_external_calls"),
                &pe.outgoing_external_calls,
            ),
            incoming_external_calls: self.non_negative(
                &format!("{pep}.incoming_external_calls"),
                &pe.incoming_external_calls,
            ),
            internal_calls: self.non_negative(&format!("{pep}.internal_calls"), &pe.internal_calls),
            intersite_share_of_internal: self.fraction(
                &format!("{pep}.intersite_share_of_internal"),
                &pe.intersite_share_of_internal,
            ),
            external_mix: mix,
            mean_duration_s: durations,
            hourly_weekday: hourly,
            mobile_operator_share: ops,
        }
    }
}

#[cfg(test)]
mod tests;
