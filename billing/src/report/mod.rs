//! Cost reports: totals and top lists by site, department, extension, destination class and
//! month, and the CSV and XLSX writers for them and for the savings report.
//!
//! Owns aggregation of live-rated calls and the export formats. Writes only to the
//! `std::io::Write` the caller passes; never opens files or a store.

mod csv;
mod table;
mod text;
mod xlsx;

pub use csv::{write_calls_csv, write_costs_csv, write_savings_csv};
pub use table::{Cell, Table, write_table_csv, write_tables_xlsx};
pub use text::{costs_table, savings_table};
pub use xlsx::{write_costs_xlsx, write_savings_xlsx};

use crate::call_record::{CallDirection, CallDisposition, CallRecord};
use crate::dataset::Dataset;
use crate::money::ore_to_decimal;
use crate::period::Period;
use crate::rating::{Rater, call_date, oslo_local};
use chrono::Datelike;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::borrow::Borrow;
use std::collections::HashMap;

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("writing the report failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("building the XLSX workbook failed: {0}")]
    Xlsx(#[from] rust_xlsxwriter::XlsxError),
}

/// What a cost report groups by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    Site,
    Department,
    Extension,
    Class,
    Month,
}

impl Dimension {
    pub const ALL: [Dimension; 5] = [
        Dimension::Site,
        Dimension::Department,
        Dimension::Extension,
        Dimension::Class,
        Dimension::Month,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Dimension::Site => "site",
            Dimension::Department => "department",
            Dimension::Extension => "extension",
            Dimension::Class => "class",
            Dimension::Month => "month",
        }
    }

    /// Parses the CLI's `--by` value.
    pub fn parse(s: &str) -> Option<Dimension> {
        Dimension::ALL.iter().copied().find(|d| d.as_str() == s)
    }
}

/// One group of calls. `cost` is the live cost (the tariff valid on each call's date);
/// `legacy_cost` and `new_cost` price the same calls in each world.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CostRow {
    pub key: String,
    pub label: String,
    pub calls: u64,
    pub answered: u64,
    pub talk_seconds: u64,
    pub cost: Decimal,
    pub legacy_cost: Decimal,
    pub new_cost: Decimal,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CostReport {
    pub dimension: Dimension,
    pub period: Period,
    /// By cost, highest first (months: in date order).
    pub rows: Vec<CostRow>,
    pub total: CostRow,
    /// Calls that could not be rated live (no tariff that day, invalid number…), at 0.
    pub unrated: u64,
}

impl CostReport {
    /// The first `n` rows (the top list).
    pub fn top(&self, n: usize) -> &[CostRow] {
        self.rows.get(..n.min(self.rows.len())).unwrap_or(&[])
    }

    /// One report over any records (those outside the period are skipped).
    pub fn build<I>(
        dataset: &Dataset,
        rater: &Rater,
        period: Period,
        dimension: Dimension,
        records: I,
    ) -> CostReport
    where
        I: IntoIterator,
        I::Item: Borrow<CallRecord>,
    {
        let mut b = CostReportBuilder::new(dataset, rater, period, &[dimension]);
        for r in records {
            b.add(r.borrow());
        }
        b.finish().pop().unwrap_or_else(|| CostReport {
            dimension,
            period,
            rows: Vec::new(),
            total: CostRow::default(),
            unrated: 0,
        })
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct Acc {
    calls: u64,
    answered: u64,
    talk: u64,
    live: i64,
    legacy: i64,
    new: i64,
}

/// Builds reports for several dimensions in one pass over the calls.
#[derive(Debug)]
pub struct CostReportBuilder<'a> {
    dataset: &'a Dataset,
    rater: &'a Rater,
    period: Period,
    groups: Vec<(Dimension, HashMap<String, Acc>)>,
    total: Acc,
    unrated: u64,
}

impl<'a> CostReportBuilder<'a> {
    pub fn new(
        dataset: &'a Dataset,
        rater: &'a Rater,
        period: Period,
        dimensions: &[Dimension],
    ) -> Self {
        CostReportBuilder {
            dataset,
            rater,
            period,
            groups: dimensions.iter().map(|d| (*d, HashMap::new())).collect(),
            total: Acc::default(),
            unrated: 0,
        }
    }

    pub fn add(&mut self, r: &CallRecord) {
        if !self.period.contains(r) {
            return;
        }
        let inbound = r.direction == CallDirection::Inbound;
        let live = match self.rater.rate(r) {
            Ok(x) => x.cost_ore,
            Err(_) => {
                self.unrated += 1;
                0
            }
        };
        let (cc, legacy, new) = self.rater.rate_both(r);
        let legacy = legacy.map_or(0, |x| x.cost_ore);
        let new = new.map_or(0, |x| x.cost_ore);
        let answered = r.disposition == CallDisposition::Answered;
        let talk = if answered {
            u64::from(r.talk_seconds)
        } else {
            0
        };
        let add = |a: &mut Acc| {
            a.calls += 1;
            a.answered += u64::from(answered);
            a.talk += talk;
            a.live += live;
            a.legacy += legacy;
            a.new += new;
        };
        add(&mut self.total);
        // The municipality's side of the call: the caller, or the callee of an inbound call.
        let (site, dept, ext) = if inbound {
            (&r.callee_site, &r.callee_department, &r.callee_extension)
        } else {
            (&r.caller_site, &r.caller_department, &r.caller_extension)
        };
        let unknown = crate::savings::UNKNOWN;
        let mut month = [0u8; 7];
        for (dim, map) in &mut self.groups {
            // Keys borrow from the record where they can: no allocation for a known group.
            let key: &str = match dim {
                Dimension::Site => site.as_deref().unwrap_or(unknown),
                Dimension::Department => dept
                    .as_deref()
                    .or_else(|| {
                        site.as_deref()
                            .and_then(|s| self.dataset.site(s))
                            .map(|s| s.department.as_str())
                    })
                    .unwrap_or(unknown),
                Dimension::Extension => ext.as_deref().unwrap_or(unknown),
                Dimension::Class => cc.class.as_str(),
                Dimension::Month => month_key(call_date(r), &mut month),
            };
            match map.get_mut(key) {
                Some(a) => add(a),
                None => add(map.entry(key.to_owned()).or_default()),
            }
        }
    }

    pub fn finish(self) -> Vec<CostReport> {
        let row = |key: String, label: String, a: &Acc| CostRow {
            key,
            label,
            calls: a.calls,
            answered: a.answered,
            talk_seconds: a.talk,
            cost: ore_to_decimal(a.live),
            legacy_cost: ore_to_decimal(a.legacy),
            new_cost: ore_to_decimal(a.new),
        };
        let ds = self.dataset;
        let total = row("total".to_owned(), "all calls".to_owned(), &self.total);
        self.groups
            .into_iter()
            .map(|(dimension, map)| {
                let mut rows: Vec<CostRow> = map
                    .into_iter()
                    .map(|(k, a)| {
                        let label = match dimension {
                            Dimension::Site => {
                                ds.site(&k).map_or_else(|| k.clone(), |s| s.name.clone())
                            }
                            Dimension::Extension => ds
                                .numbering
                                .own_site(&k)
                                .and_then(|i| ds.sites.get(i))
                                .map_or_else(|| k.clone(), |s| format!("{k} ({})", s.name)),
                            _ => k.clone(),
                        };
                        row(k, label, &a)
                    })
                    .collect();
                sort_rows(dimension, &mut rows);
                CostReport {
                    dimension,
                    period: self.period,
                    rows,
                    total: total.clone(),
                    unrated: self.unrated,
                }
            })
            .collect()
    }
}

/// Months in date order; every other breakdown by cost, highest first.
fn sort_rows(dimension: Dimension, rows: &mut [CostRow]) {
    if dimension == Dimension::Month {
        rows.sort_by(|a, b| a.key.cmp(&b.key));
    } else {
        rows.sort_by(|a, b| b.cost.cmp(&a.cost).then_with(|| a.key.cmp(&b.key)));
    }
}

impl CostRow {
    fn merge(&mut self, other: &CostRow) {
        self.calls += other.calls;
        self.answered += other.answered;
        self.talk_seconds += other.talk_seconds;
        self.cost += other.cost;
        self.legacy_cost += other.legacy_cost;
        self.new_cost += other.new_cost;
    }
}

impl CostReport {
    /// One report for `period` from reports of `dimension` over parts of it that do not
    /// overlap (e.g. one per day): rows with the same key add up. Exact, since every
    /// amount is a whole number of øre.
    pub fn combine<'r>(
        dimension: Dimension,
        period: Period,
        parts: impl IntoIterator<Item = &'r CostReport>,
    ) -> CostReport {
        let mut rows: HashMap<&str, CostRow> = HashMap::new();
        let mut total = CostRow {
            key: "total".to_owned(),
            label: "all calls".to_owned(),
            ..CostRow::default()
        };
        let mut unrated = 0;
        for part in parts {
            for row in &part.rows {
                match rows.get_mut(row.key.as_str()) {
                    Some(r) => r.merge(row),
                    None => {
                        rows.insert(row.key.as_str(), row.clone());
                    }
                }
            }
            total.merge(&part.total);
            unrated += part.unrated;
        }
        let mut rows: Vec<CostRow> = rows.into_values().collect();
        sort_rows(dimension, &mut rows);
        CostReport {
            dimension,
            period,
            rows,
            total,
            unrated,
        }
    }
}

/// "YYYY-MM" written into a stack buffer.
fn month_key(d: chrono::NaiveDate, buf: &mut [u8; 7]) -> &str {
    let y = d.year().clamp(0, 9999) as u32;
    let m = d.month();
    let digits = [y / 1000, y / 100 % 10, y / 10 % 10, y % 10];
    for (slot, v) in buf.iter_mut().zip(digits) {
        *slot = b'0' + v as u8;
    }
    buf[4] = b'-';
    buf[5] = b'0' + (m / 10) as u8;
    buf[6] = b'0' + (m % 10) as u8;
    std::str::from_utf8(buf).unwrap_or("0000-00")
}

/// One call with its cost in both worlds, for `sentral calls export`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallCosts {
    pub live_cost: Option<Decimal>,
    pub live_tariff: Option<String>,
    pub legacy_cost: Option<Decimal>,
    pub new_cost: Option<Decimal>,
    pub class: String,
    pub legacy_rule: String,
    pub new_rule: String,
}

/// Rates a call live and in both worlds.
pub fn call_costs(rater: &Rater, r: &CallRecord) -> CallCosts {
    let live = rater.rate(r).ok();
    let (cc, legacy, new) = rater.rate_both(r);
    let rule = |x: &Result<crate::rating::Rated<'_>, crate::rating::RatingError>| match x {
        Ok(x) => x.rule.to_string(),
        Err(e) => format!("not rated: {e}"),
    };
    CallCosts {
        live_cost: live.map(|x| x.cost),
        live_tariff: live.map(|x| x.tariff_version().to_owned()),
        legacy_cost: legacy.as_ref().ok().map(|x| x.cost),
        new_cost: new.as_ref().ok().map(|x| x.cost),
        class: cc.class.as_str().to_owned(),
        legacy_rule: rule(&legacy),
        new_rule: rule(&new),
    }
}

/// Local (Oslo) start time as "YYYY-MM-DD HH:MM:SS".
pub(crate) fn local_time_string(r: &CallRecord) -> String {
    oslo_local(r.started_at)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

#[cfg(test)]
mod tests;
