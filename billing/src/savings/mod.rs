//! The savings report: did the move from per-site exchanges to one IP PBX save what the
//! plan promised?
//!
//! Owns the comparison. For any period every call is rated in both worlds (a
//! counterfactual: validity dates choose the tariff for live rating, but here each call is
//! priced under the old and the new tariff alike), fixed costs are pro-rated to the
//! period and added, the result is annualised, broken down by site, department and
//! destination class, compared with the target from the data file, and turned into a
//! plain verdict with the data it rests on, the assumptions behind it and the value at
//! which each large input would flip it. Serializable for JSON and the UI.
//!
//! Annualisation: traffic × 365 / calendar days of the period (the headline), and
//! traffic × working days of the reference year / working days in the period (shown
//! beside it: it corrects a period with more or fewer working days than average, e.g.
//! one containing Easter). Fixed costs are annual amounts already and are not scaled.

use crate::call_record::{CallDirection, CallRecord};
use crate::dataset::Dataset;
use crate::legacy::{self, FixedCostLine, LegacyPbx, annuity_factor};
use crate::money::{format_nok, ore_to_decimal, round_ore};
use crate::numbering::DestinationClass;
use crate::period::Period;
use crate::rating::{Rater, RatingError, call_date};
use crate::tariff::{World, holidays};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::borrow::Borrow;
use std::collections::{BTreeMap, HashMap};

/// Label of the row that collects calls whose site or department is not known.
pub const UNKNOWN: &str = "(unknown)";
/// Label of the row of costs that belong to no site (trunk, support, operations).
pub const CENTRAL: &str = "(central)";

#[derive(Clone, Copy, Debug, Default)]
struct Acc {
    calls: u64,
    talk_seconds: u64,
    legacy_ore: i64,
    new_ore: i64,
}

impl Acc {
    fn add(&mut self, talk: u32, legacy: i64, new: i64) {
        self.calls += 1;
        self.talk_seconds += u64::from(talk);
        self.legacy_ore += legacy;
        self.new_ore += new;
    }

    fn merge(&mut self, other: &Acc) {
        self.calls += other.calls;
        self.talk_seconds += other.talk_seconds;
        self.legacy_ore += other.legacy_ore;
        self.new_ore += other.new_ore;
    }
}

fn merge_accs(into: &mut Vec<Acc>, from: &[Acc]) {
    if into.len() < from.len() {
        into.resize(from.len(), Acc::default());
    }
    for (a, b) in into.iter_mut().zip(from) {
        a.merge(b);
    }
}

/// The traffic a [`SavingsBuilder`] has accumulated, owned and detached from the dataset:
/// what a cache keeps for a stretch of days and merges back into a builder for any period
/// made of such stretches. Site and department slots are the dataset's, so traffic must be
/// merged into a builder over the same dataset that produced it.
#[derive(Clone, Debug, Default)]
pub struct SavingsTraffic {
    by_site: Vec<Acc>,
    by_dept: Vec<Acc>,
    by_class: [Acc; DestinationClass::COUNT],
    total: Acc,
    basis: DataBasis,
}

impl SavingsTraffic {
    /// Adds `other`'s traffic to this one. Days with calls add up, so the stretches merged
    /// must not overlap.
    pub fn merge(&mut self, other: &SavingsTraffic) {
        merge_accs(&mut self.by_site, &other.by_site);
        merge_accs(&mut self.by_dept, &other.by_dept);
        for (a, b) in self.by_class.iter_mut().zip(&other.by_class) {
            a.merge(b);
        }
        self.total.merge(&other.total);
        let (b, o) = (&mut self.basis, &other.basis);
        b.records += o.records;
        b.records_outside_period += o.records_outside_period;
        b.synthetic_records += o.synthetic_records;
        b.answered += o.answered;
        b.inbound += o.inbound;
        b.placed_answered += o.placed_answered;
        b.unrated_legacy += o.unrated_legacy;
        b.unrated_new += o.unrated_new;
        for (reason, n) in &o.unrated_reasons {
            *b.unrated_reasons.entry(reason.clone()).or_insert(0) += n;
        }
        b.days_with_calls += o.days_with_calls;
        b.first_call = match (b.first_call, o.first_call) {
            (Some(x), Some(y)) => Some(x.min(y)),
            (x, y) => x.or(y),
        };
        b.last_call = match (b.last_call, o.last_call) {
            (Some(x), Some(y)) => Some(x.max(y)),
            (x, y) => x.or(y),
        };
    }
}

/// How much data the report rests on.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DataBasis {
    pub calendar_days: i64,
    pub working_days: u32,
    /// Records whose local start date lies in the period.
    pub records: u64,
    /// Records handed in but outside the period (ignored).
    pub records_outside_period: u64,
    pub synthetic_records: u64,
    /// Synthetic records / records (0..1).
    pub share_synthetic: f64,
    pub answered: u64,
    pub inbound: u64,
    /// Calls placed by the municipality (not inbound) and answered: the ones that cost.
    pub placed_answered: u64,
    pub unrated_legacy: u64,
    pub unrated_new: u64,
    /// Why calls could not be rated, with counts.
    pub unrated_reasons: BTreeMap<String, u64>,
    pub days_with_calls: u64,
    pub first_call: Option<NaiveDate>,
    pub last_call: Option<NaiveDate>,
}

/// Totals of both worlds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Costs {
    pub legacy_traffic: Decimal,
    pub legacy_fixed: Decimal,
    pub legacy_total: Decimal,
    pub new_traffic: Decimal,
    pub new_fixed: Decimal,
    pub new_operating_total: Decimal,
    pub investment_annuity: Decimal,
    pub new_full_total: Decimal,
    pub operating_saving: Decimal,
    pub full_cost_saving: Decimal,
}

impl Costs {
    fn from_parts(lt: Decimal, lf: Decimal, nt: Decimal, nf: Decimal, annuity: Decimal) -> Costs {
        let (lt, lf, nt, nf, a) = (
            round_ore(lt),
            round_ore(lf),
            round_ore(nt),
            round_ore(nf),
            round_ore(annuity),
        );
        Costs {
            legacy_traffic: lt,
            legacy_fixed: lf,
            legacy_total: lt + lf,
            new_traffic: nt,
            new_fixed: nf,
            new_operating_total: nt + nf,
            investment_annuity: a,
            new_full_total: nt + nf + a,
            operating_saving: lt + lf - nt - nf,
            full_cost_saving: lt + lf - nt - nf - a,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Annualisation {
    pub method: String,
    /// 365 / calendar days of the period.
    pub calendar_factor: Decimal,
    /// Working days of the reference year / working days of the period (None if the
    /// period has no working day).
    pub working_days_factor: Option<Decimal>,
    pub reference_year_working_days: u32,
}

/// One row of a breakdown (site, department or class). Traffic for the period, fixed costs
/// per year, saving per year (traffic annualised by calendar days).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreakdownRow {
    pub key: String,
    pub label: String,
    pub calls: u64,
    pub talk_minutes: Decimal,
    pub legacy_traffic: Decimal,
    pub new_traffic: Decimal,
    pub legacy_fixed_per_year: Decimal,
    pub new_fixed_per_year: Decimal,
    pub saving_per_year: Decimal,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    pub operating_meets_target: bool,
    pub full_cost_meets_target: bool,
    pub sentence: String,
}

/// What an input would have to be for a verdict to flip, all else equal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sensitivity {
    /// Data file key, or a derived input (`derived.call_volume_factor`).
    pub input: String,
    pub description: String,
    pub unit: String,
    pub base_value: Decimal,
    /// Yearly NOK this input moves the saving by at its base value (its weight).
    pub weight_per_year: Decimal,
    /// The value at which the operating verdict flips; None if no sensible value does.
    pub operating_flip_at: Option<Decimal>,
    /// The value at which the full-cost verdict flips.
    pub full_cost_flip_at: Option<Decimal>,
    pub is_assumption: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssumedInput {
    pub input: String,
    pub comment: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SavingsReport {
    pub dataset: String,
    pub period: Period,
    pub basis: DataBasis,
    pub annualisation: Annualisation,
    /// The period itself: traffic as rated, fixed costs pro-rated by days.
    pub period_costs: Costs,
    /// Per year, traffic annualised by calendar days (the headline).
    pub annual: Costs,
    /// Per year, traffic annualised by working days.
    pub annual_by_working_days: Costs,
    pub target_per_year: Decimal,
    pub verdict: Verdict,
    pub by_site: Vec<BreakdownRow>,
    pub by_department: Vec<BreakdownRow>,
    pub by_class: Vec<BreakdownRow>,
    pub fixed_costs: Vec<FixedCostLine>,
    pub sensitivity: Vec<Sensitivity>,
    pub assumptions: Vec<AssumedInput>,
    /// [`SavingsReport::note_items`] in English (the CLI and the exports print these).
    pub notes: Vec<String>,
    /// How the figures were made, as data, so a UI can word them in its own language.
    #[serde(default)]
    pub note_items: Vec<SavingsNote>,
}

/// One note on how a savings report was computed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SavingsNote {
    /// Every call is priced under both tariffs whatever their validity dates.
    Counterfactual,
    Annualised {
        calendar_days: i64,
        reference_working_days: u32,
        working_days: u32,
        reference_year: i32,
    },
    /// Inbound and unanswered calls cost nothing.
    InboundFree,
    /// A period shorter than a year is scaled as if the year looked like it.
    Seasonality,
    /// Share (0..1) of the calls that are synthetic.
    Synthetic { share: f64 },
    /// Calls that could not be rated, per world.
    Unrated { legacy: u64, new: u64 },
    /// The file's mobile price differs from the blend of operator prices by traffic share.
    MobileBlend {
        tariff: String,
        file_price: Decimal,
        blend: Decimal,
    },
}

impl SavingsNote {
    pub fn english(&self) -> String {
        match self {
            SavingsNote::Counterfactual => "Counterfactual: every call is priced under both the legacy and the new tariff, whatever their validity dates.".to_owned(),
            SavingsNote::Annualised {
                calendar_days,
                reference_working_days,
                working_days,
                reference_year,
            } => format!(
                "Annualised by calendar days: traffic × 365 / {calendar_days} days; by working days: × {reference_working_days} / {working_days} (working days of {reference_year} / of the period). Fixed costs are yearly amounts."
            ),
            SavingsNote::InboundFree => "Inbound calls cost nothing in either world (the caller pays); unanswered calls cost nothing.".to_owned(),
            SavingsNote::Seasonality => "Seasonality: a period shorter than a year is scaled as if every part of the year looked like it (summer holidays and Christmas are quieter).".to_owned(),
            SavingsNote::Synthetic { share } => format!(
                "{:.1} % of the calls are synthetic (generated from the traffic profile), not real traffic.",
                share * 100.0
            ),
            SavingsNote::Unrated { legacy, new } => format!(
                "{legacy} calls could not be rated in the legacy world and {new} in the new; they are counted at 0."
            ),
            SavingsNote::MobileBlend {
                tariff,
                file_price,
                blend,
            } => format!(
                "Tariff {tariff}: mobile price {file_price} used when the operator is unknown; the operator prices weighted by the profile's operator shares give {blend}."
            ),
        }
    }
}

/// Accumulates calls one at a time (from a store cursor or a generator), then builds the
/// report. Memory does not grow with the number of calls.
#[derive(Debug)]
pub struct SavingsBuilder<'a> {
    dataset: &'a Dataset,
    rater: &'a Rater,
    period: Period,
    site_index: HashMap<&'a str, usize>,
    dept_index: HashMap<String, usize>,
    departments: Vec<String>,
    /// Last slot: unknown.
    by_site: Vec<Acc>,
    by_dept: Vec<Acc>,
    by_class: [Acc; DestinationClass::COUNT],
    total: Acc,
    basis: DataBasis,
    last_day: Option<NaiveDate>,
}

impl<'a> SavingsBuilder<'a> {
    pub fn new(dataset: &'a Dataset, rater: &'a Rater, period: Period) -> Self {
        let departments = dataset.departments();
        SavingsBuilder {
            dataset,
            rater,
            period,
            site_index: dataset
                .sites
                .iter()
                .enumerate()
                .map(|(i, s)| (s.id.as_str(), i))
                .collect(),
            dept_index: departments
                .iter()
                .enumerate()
                .map(|(i, d)| (d.clone(), i))
                .collect(),
            by_site: vec![Acc::default(); dataset.sites.len() + 1],
            by_dept: vec![Acc::default(); departments.len() + 1],
            departments,
            by_class: [Acc::default(); DestinationClass::COUNT],
            total: Acc::default(),
            basis: DataBasis::default(),
            last_day: None,
        }
    }

    /// Adds one call (ignored, but counted, when outside the period).
    pub fn add(&mut self, r: &CallRecord) {
        let date = call_date(r);
        if !self.period.contains_date(date) {
            self.basis.records_outside_period += 1;
            return;
        }
        let b = &mut self.basis;
        b.records += 1;
        b.synthetic_records += u64::from(r.synthetic);
        if self.last_day != Some(date) {
            // Records usually arrive in time order; a day seen again out of order is
            // counted again, so days_with_calls is exact only for ordered input.
            b.days_with_calls += 1;
            self.last_day = Some(date);
        }
        b.first_call = Some(b.first_call.map_or(date, |d| d.min(date)));
        b.last_call = Some(b.last_call.map_or(date, |d| d.max(date)));
        let answered = r.disposition == crate::call_record::CallDisposition::Answered;
        b.answered += u64::from(answered);
        if r.direction == CallDirection::Inbound {
            b.inbound += 1;
            return;
        }
        b.placed_answered += u64::from(answered);
        let (cc, legacy, new) = self.rater.rate_both(r);
        let lo = take(
            legacy,
            &mut b.unrated_legacy,
            &mut b.unrated_reasons,
            "legacy",
        );
        let no = take(new, &mut b.unrated_new, &mut b.unrated_reasons, "new");
        let talk = if answered { r.talk_seconds } else { 0 };
        let site = r
            .caller_site
            .as_deref()
            .and_then(|s| self.site_index.get(s).copied())
            .unwrap_or(self.dataset.sites.len());
        let dept_name = r
            .caller_department
            .as_deref()
            .or_else(|| self.dataset.sites.get(site).map(|s| s.department.as_str()));
        let dept = dept_name
            .and_then(|d| self.dept_index.get(d).copied())
            .unwrap_or(self.departments.len());
        if let Some(a) = self.by_site.get_mut(site) {
            a.add(talk, lo, no);
        }
        if let Some(a) = self.by_dept.get_mut(dept) {
            a.add(talk, lo, no);
        }
        if let Some(a) = self.by_class.get_mut(cc.class.index()) {
            a.add(talk, lo, no);
        }
        self.total.add(talk, lo, no);
    }

    pub fn finish(self) -> SavingsReport {
        build_report(self)
    }

    /// The traffic added so far, without the dataset (see [`SavingsTraffic`]).
    pub fn into_traffic(self) -> SavingsTraffic {
        SavingsTraffic {
            by_site: self.by_site,
            by_dept: self.by_dept,
            by_class: self.by_class,
            total: self.total,
            basis: self.basis,
        }
    }

    /// Adds traffic accumulated by another builder over the same dataset, as if its calls
    /// had been added here (they are not checked against this builder's period).
    pub fn add_traffic(&mut self, traffic: &SavingsTraffic) {
        let mut mine = SavingsTraffic {
            by_site: std::mem::take(&mut self.by_site),
            by_dept: std::mem::take(&mut self.by_dept),
            by_class: self.by_class,
            total: self.total,
            basis: std::mem::take(&mut self.basis),
        };
        mine.merge(traffic);
        self.by_site = mine.by_site;
        self.by_dept = mine.by_dept;
        self.by_class = mine.by_class;
        self.total = mine.total;
        self.basis = mine.basis;
    }
}

/// The cost in øre, or 0 with the failure counted.
fn take(
    res: Result<crate::rating::Rated<'_>, RatingError>,
    count: &mut u64,
    reasons: &mut BTreeMap<String, u64>,
    world: &str,
) -> i64 {
    match res {
        Ok(x) => x.cost_ore,
        Err(e) => {
            *count += 1;
            *reasons.entry(format!("{world}: {e}")).or_insert(0) += 1;
            0
        }
    }
}

impl SavingsReport {
    /// The report over any records (those outside the period are skipped).
    pub fn build<I>(dataset: &Dataset, rater: &Rater, period: Period, records: I) -> SavingsReport
    where
        I: IntoIterator,
        I::Item: Borrow<CallRecord>,
    {
        let mut b = SavingsBuilder::new(dataset, rater, period);
        for r in records {
            b.add(r.borrow());
        }
        b.finish()
    }
}

fn minutes(seconds: u64) -> Decimal {
    (Decimal::from(seconds) / Decimal::from(60)).round_dp(1)
}

/// The model of the yearly saving that the sensitivity analysis varies.
#[derive(Clone, Copy, Debug)]
struct Model {
    legacy_traffic: Decimal,
    new_traffic: Decimal,
    legacy_fixed: Decimal,
    new_fixed: Decimal,
    annuity: Decimal,
    target: Decimal,
}

impl Model {
    fn operating(&self) -> Decimal {
        self.legacy_traffic + self.legacy_fixed - self.new_traffic - self.new_fixed
    }

    fn full(&self) -> Decimal {
        self.operating() - self.annuity
    }

    /// x* with saving(x*) = target for a saving linear in x with slope k per unit.
    fn flip_linear(
        &self,
        base: Decimal,
        slope: Decimal,
        saving: Decimal,
        min: Decimal,
    ) -> Option<Decimal> {
        if slope.is_zero() {
            return None;
        }
        let x = base + (self.target - saving) / slope;
        (x >= min).then(|| x.round_dp(4))
    }
}

fn build_report(b: SavingsBuilder<'_>) -> SavingsReport {
    let ds = b.dataset;
    let period = b.period;
    let mut basis = b.basis;
    basis.calendar_days = period.calendar_days();
    basis.working_days = period.working_days();
    basis.share_synthetic = if basis.records == 0 {
        0.0
    } else {
        basis.synthetic_records as f64 / basis.records as f64
    };

    let ref_year = chrono::Datelike::year(&period.from);
    let ref_wd = Period::year(ref_year).map_or(251, |p| p.working_days());
    let calendar_factor = Decimal::from(365) / Decimal::from(basis.calendar_days.max(1));
    let wd_factor =
        (basis.working_days > 0).then(|| Decimal::from(ref_wd) / Decimal::from(basis.working_days));

    let sites = ds.site_lines();
    let legacy_lines = ds.fixed_costs.legacy_lines(&sites);
    let new_lines = ds.fixed_costs.new_lines(&sites);
    let lf_year = legacy::sum_annual(&legacy_lines);
    let nf_year = legacy::sum_annual(new_lines.iter().filter(|l| l.operating));
    let annuity_year = legacy::sum_annual(new_lines.iter().filter(|l| !l.operating));
    let pro = |annual| legacy::pro_rate(annual, period.from, period.to);

    let lt = ore_to_decimal(b.total.legacy_ore);
    let nt = ore_to_decimal(b.total.new_ore);
    let period_costs = Costs::from_parts(lt, pro(lf_year), nt, pro(nf_year), pro(annuity_year));
    let annual = Costs::from_parts(
        lt * calendar_factor,
        lf_year,
        nt * calendar_factor,
        nf_year,
        annuity_year,
    );
    let wf = wd_factor.unwrap_or(calendar_factor);
    let annual_wd = Costs::from_parts(lt * wf, lf_year, nt * wf, nf_year, annuity_year);

    let target = ds.meta.target_saving_per_year;
    let op_ok = annual.operating_saving >= target;
    let full_ok = annual.full_cost_saving >= target;
    let word = |ok: bool| if ok { "above" } else { "below" };
    let sentence = format!(
        "Operating saving {} NOK/year: {} the {} target; including investment (annuity {} NOK/year) {} NOK/year: {}.",
        format_nok(annual.operating_saving),
        word(op_ok),
        format_nok(target),
        format_nok(annual.investment_annuity),
        format_nok(annual.full_cost_saving),
        word(full_ok),
    );
    let verdict = Verdict {
        operating_meets_target: op_ok,
        full_cost_meets_target: full_ok,
        sentence,
    };

    // Breakdowns.
    let fixed_by = |lines: &[FixedCostLine], key: &dyn Fn(&FixedCostLine) -> String| {
        let mut m: HashMap<String, Decimal> = HashMap::new();
        for l in lines.iter().filter(|l| l.operating) {
            *m.entry(key(l)).or_default() += l.annual;
        }
        m
    };
    let site_key = |l: &FixedCostLine| l.site.clone().unwrap_or_else(|| CENTRAL.to_owned());
    let dept_of_site = |id: &str| {
        ds.site(id)
            .map(|s| s.department.clone())
            .unwrap_or_else(|| UNKNOWN.to_owned())
    };
    let dept_key = |l: &FixedCostLine| {
        l.site
            .as_deref()
            .map_or_else(|| CENTRAL.to_owned(), dept_of_site)
    };
    let lf_site = fixed_by(&legacy_lines, &site_key);
    let nf_site = fixed_by(&new_lines, &site_key);
    let lf_dept = fixed_by(&legacy_lines, &dept_key);
    let nf_dept = fixed_by(&new_lines, &dept_key);
    let row = |key: &str, label: &str, a: &Acc, lf: Decimal, nf: Decimal| {
        let l = ore_to_decimal(a.legacy_ore);
        let n = ore_to_decimal(a.new_ore);
        BreakdownRow {
            key: key.to_owned(),
            label: label.to_owned(),
            calls: a.calls,
            talk_minutes: minutes(a.talk_seconds),
            legacy_traffic: l,
            new_traffic: n,
            legacy_fixed_per_year: round_ore(lf),
            new_fixed_per_year: round_ore(nf),
            saving_per_year: round_ore((l - n) * calendar_factor + lf - nf),
        }
    };
    let get = |m: &HashMap<String, Decimal>, k: &str| m.get(k).copied().unwrap_or_default();
    let mut by_site: Vec<BreakdownRow> = ds
        .sites
        .iter()
        .zip(&b.by_site)
        .map(|(s, a)| {
            row(
                &s.id,
                &s.name,
                a,
                get(&lf_site, &s.id),
                get(&nf_site, &s.id),
            )
        })
        .collect();
    let empty = Acc::default();
    if let Some(u) = b.by_site.last().filter(|u| u.calls > 0) {
        by_site.push(row(
            UNKNOWN,
            "site not known",
            u,
            Decimal::ZERO,
            Decimal::ZERO,
        ));
    }
    by_site.push(row(
        CENTRAL,
        "central costs (no site)",
        &empty,
        get(&lf_site, CENTRAL),
        get(&nf_site, CENTRAL),
    ));
    let mut by_department: Vec<BreakdownRow> = b
        .departments
        .iter()
        .zip(&b.by_dept)
        .map(|(d, a)| row(d, d, a, get(&lf_dept, d), get(&nf_dept, d)))
        .collect();
    if let Some(u) = b.by_dept.last().filter(|u| u.calls > 0) {
        by_department.push(row(
            UNKNOWN,
            "department not known",
            u,
            Decimal::ZERO,
            Decimal::ZERO,
        ));
    }
    by_department.push(row(
        CENTRAL,
        "central costs (no department)",
        &empty,
        get(&lf_dept, CENTRAL),
        get(&nf_dept, CENTRAL),
    ));
    let by_class: Vec<BreakdownRow> = DestinationClass::ALL
        .iter()
        .zip(&b.by_class)
        .filter(|(_, a)| a.calls > 0)
        .map(|(c, a)| row(c.as_str(), c.as_str(), a, Decimal::ZERO, Decimal::ZERO))
        .collect();

    let model = Model {
        legacy_traffic: annual.legacy_traffic,
        new_traffic: annual.new_traffic,
        legacy_fixed: annual.legacy_fixed,
        new_fixed: annual.new_fixed,
        annuity: annual.investment_annuity,
        target,
    };
    let sensitivity = sensitivities(ds, &model);

    let mut assumptions = Vec::new();
    for prefix in ["fixed_costs.", "tariffs.", "traffic."] {
        for (k, o) in ds.provenance.assumptions_under(prefix) {
            assumptions.push(AssumedInput {
                input: k.clone(),
                comment: o.comment.clone(),
            });
        }
    }
    // Per-site inventories: one line per key, with how many sites assume it.
    let mut site_keys: BTreeMap<String, (usize, String)> = BTreeMap::new();
    for (k, o) in ds.provenance.assumptions_under("sites[") {
        if let Some((_, key)) = k.split_once("].") {
            let e = site_keys
                .entry(key.to_owned())
                .or_insert((0, o.comment.clone()));
            e.0 += 1;
        }
    }
    for (key, (n, comment)) in site_keys {
        assumptions.push(AssumedInput {
            input: format!("sites[*].{key}"),
            comment: format!(
                "assumption at {n} of {} sites (e.g. \"{comment}\")",
                ds.sites.len()
            ),
        });
    }

    let mut note_items = vec![
        SavingsNote::Counterfactual,
        SavingsNote::Annualised {
            calendar_days: basis.calendar_days,
            reference_working_days: ref_wd,
            working_days: basis.working_days,
            reference_year: ref_year,
        },
        SavingsNote::InboundFree,
        SavingsNote::Seasonality,
    ];
    if basis.records > 0 && basis.share_synthetic > 0.0 {
        note_items.push(SavingsNote::Synthetic {
            share: basis.share_synthetic,
        });
    }
    if basis.unrated_legacy + basis.unrated_new > 0 {
        note_items.push(SavingsNote::Unrated {
            legacy: basis.unrated_legacy,
            new: basis.unrated_new,
        });
    }
    for (tariff, file, blend) in ds.mobile_blend_check() {
        if let Some(file_price) = file {
            note_items.push(SavingsNote::MobileBlend {
                tariff,
                file_price,
                blend,
            });
        }
    }
    let notes = note_items.iter().map(SavingsNote::english).collect();

    SavingsReport {
        dataset: ds.meta.name.clone(),
        period,
        basis,
        annualisation: Annualisation {
            method: "calendar_days".to_owned(),
            calendar_factor: calendar_factor.round_dp(6),
            working_days_factor: wd_factor.map(|f| f.round_dp(6)),
            reference_year_working_days: ref_wd,
        },
        period_costs,
        annual,
        annual_by_working_days: annual_wd,
        target_per_year: target,
        verdict,
        by_site,
        by_department,
        by_class,
        fixed_costs: legacy_lines.into_iter().chain(new_lines).collect(),
        sensitivity,
        assumptions,
        notes,
        note_items,
    }
}

fn sensitivities(ds: &Dataset, m: &Model) -> Vec<Sensitivity> {
    let lp = &ds.fixed_costs.legacy;
    let np = &ds.fixed_costs.new;
    let inv = &np.investment;
    let count = |f: &dyn Fn(&crate::dataset::Site) -> u32| {
        Decimal::from(ds.sites.iter().map(f).sum::<u32>())
    };
    let n_large = count(&|s| u32::from(s.legacy_pbx == LegacyPbx::Large));
    let n_small = count(&|s| u32::from(s.legacy_pbx == LegacyPbx::Small));
    let n_bri = count(&|s| s.legacy_bri);
    let n_pri = count(&|s| s.legacy_pri);
    let n_analogue = count(&|s| s.legacy_analogue);
    let twelve = Decimal::from(12);
    let zero = Decimal::ZERO;
    let prov = &ds.provenance;

    // (input, description, unit, base, slope of the yearly saving per unit)
    let linear: Vec<(&str, &str, &str, Decimal, Decimal)> = vec![
        (
            "fixed_costs.legacy.unit_prices.pbx_service_large_per_year",
            "service contract of the large exchange",
            "NOK/year",
            lp.pbx_service_large_per_year,
            n_large,
        ),
        (
            "fixed_costs.legacy.unit_prices.pbx_service_small_per_year",
            "service contract of each small exchange",
            "NOK/year",
            lp.pbx_service_small_per_year,
            n_small,
        ),
        (
            "fixed_costs.legacy.unit_prices.isdn_bri_per_month",
            "ISDN-2 line",
            "NOK/month",
            lp.isdn_bri_per_month,
            n_bri * twelve,
        ),
        (
            "fixed_costs.legacy.unit_prices.isdn_pri_per_month",
            "ISDN-30 line",
            "NOK/month",
            lp.isdn_pri_per_month,
            n_pri * twelve,
        ),
        (
            "fixed_costs.legacy.unit_prices.analogue_line_per_month",
            "analogue voice line replaced",
            "NOK/month",
            lp.analogue_line_per_month,
            n_analogue * twelve,
        ),
        (
            "derived.call_volume_factor",
            "call volume (1 = as measured)",
            "factor",
            Decimal::ONE,
            m.legacy_traffic - m.new_traffic,
        ),
        (
            "derived.legacy_call_price_factor",
            "all legacy call prices (1 = as in the file)",
            "factor",
            Decimal::ONE,
            m.legacy_traffic,
        ),
        (
            "derived.new_call_price_factor",
            "all new call prices (1 = as in the file)",
            "factor",
            Decimal::ONE,
            -m.new_traffic,
        ),
        (
            "fixed_costs.new.internal_ops_fte",
            "internal operations staff",
            "FTE",
            np.internal_ops_fte,
            -np.fte_cost_per_year,
        ),
        (
            "fixed_costs.new.sip_trunk_per_channel_per_month",
            "SIP trunk channel",
            "NOK/month",
            np.sip_trunk_per_channel_per_month,
            -Decimal::from(np.sip_trunk_channels) * twelve,
        ),
        (
            "fixed_costs.new.platform_support_per_year",
            "platform support",
            "NOK/year",
            np.platform_support_per_year,
            -Decimal::ONE,
        ),
        (
            "fixed_costs.new.licences_per_year",
            "licences",
            "NOK/year",
            np.licences_per_year,
            -Decimal::ONE,
        ),
    ];
    let mut out: Vec<Sensitivity> = linear
        .into_iter()
        .map(|(input, description, unit, base, slope)| Sensitivity {
            input: input.to_owned(),
            description: description.to_owned(),
            unit: unit.to_owned(),
            base_value: base,
            weight_per_year: round_ore((base * slope).abs()),
            operating_flip_at: m.flip_linear(base, slope, m.operating(), zero),
            full_cost_flip_at: m.flip_linear(base, slope, m.full(), zero),
            is_assumption: prov.is_assumption(input),
        })
        .collect();

    // Investment (full cost only).
    let extensions = ds.total_extensions();
    let total = inv.total(extensions, ds.sites.len() as u32);
    let factor = annuity_factor(inv.interest_rate, inv.lifetime_years);
    out.push(Sensitivity {
        input: "derived.investment_total".to_owned(),
        description: "total investment (servers, phones, LAN, project)".to_owned(),
        unit: "NOK".to_owned(),
        base_value: total,
        weight_per_year: round_ore(m.annuity),
        operating_flip_at: None,
        full_cost_flip_at: m.flip_linear(total, -factor, m.full(), zero),
        is_assumption: prov.is_assumption("fixed_costs.new.investment.servers_and_gateways"),
    });
    // Lifetime: the first whole number of years at which the full-cost verdict flips.
    let full_at = |years: u32, rate: Decimal| m.operating() - total * annuity_factor(rate, years);
    let base_ok = m.full() >= m.target;
    let life_flip = (1..=50u32)
        .find(|y| (full_at(*y, inv.interest_rate) >= m.target) != base_ok)
        .map(Decimal::from);
    out.push(Sensitivity {
        input: "fixed_costs.new.investment.lifetime_years".to_owned(),
        description: "years the investment is paid off over".to_owned(),
        unit: "years".to_owned(),
        base_value: Decimal::from(inv.lifetime_years),
        weight_per_year: round_ore(m.annuity),
        operating_flip_at: None,
        full_cost_flip_at: life_flip,
        is_assumption: prov.is_assumption("fixed_costs.new.investment.lifetime_years"),
    });
    // Interest: bisection on [0, 1] (the annuity grows with the rate).
    let rate_flip = {
        let at0 = full_at(inv.lifetime_years, Decimal::ZERO) >= m.target;
        let at1 = full_at(inv.lifetime_years, Decimal::ONE) >= m.target;
        if at0 == at1 {
            None
        } else {
            let (mut lo, mut hi) = (Decimal::ZERO, Decimal::ONE);
            for _ in 0..40 {
                let mid = (lo + hi) / Decimal::from(2);
                if (full_at(inv.lifetime_years, mid) >= m.target) == at0 {
                    lo = mid
                } else {
                    hi = mid
                }
            }
            Some(hi.round_dp(4))
        }
    };
    out.push(Sensitivity {
        input: "fixed_costs.new.investment.interest_rate".to_owned(),
        description: "interest rate of the investment".to_owned(),
        unit: "per year".to_owned(),
        base_value: inv.interest_rate,
        weight_per_year: round_ore(m.annuity - total / Decimal::from(inv.lifetime_years.max(1))),
        operating_flip_at: None,
        full_cost_flip_at: rate_flip,
        is_assumption: prov.is_assumption("fixed_costs.new.investment.interest_rate"),
    });
    out.sort_by_key(|s| std::cmp::Reverse(s.weight_per_year));
    out
}

/// Which world a cost belongs to, for callers that label columns.
pub fn world_label(w: World) -> &'static str {
    match w {
        World::Legacy => "old world (per-site exchanges)",
        World::New => "new world (IP PBX)",
    }
}

/// Working days in the calendar year, as used for the working-day annualisation.
pub fn reference_working_days(year: i32) -> u32 {
    match (
        NaiveDate::from_ymd_opt(year, 1, 1),
        NaiveDate::from_ymd_opt(year, 12, 31),
    ) {
        (Some(a), Some(b)) => holidays::working_days(a, b),
        _ => 0,
    }
}

#[cfg(test)]
mod tests;
