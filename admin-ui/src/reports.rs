//! The costs and savings pages over long periods without rating a year of calls per
//! request: each local (Oslo) day's calls are rated once into billing's aggregates, kept
//! here, and a period's reports are merged from its days.
//!
//! Why a cache and not stored costs summed in SQL: the pages price every call three ways
//! (the tariff in force, the old world, the new world), classify its destination, and the
//! savings report also needs counts of unrated calls by reason. Nothing stores all that
//! per call today (`cost_new`/`cost_old` are written only when something rates a record,
//! and a tariff import changes every price), so a SQL sum would be wrong or empty. A day's
//! aggregates are exact (whole øre) and merge exactly, so a year is 365 cheap merges.
//!
//! Invalidation: a day's entry is valid for the dataset it was rated with (the active
//! dataset file and tariff file ids: an import changes them and empties the cache) and for
//! the change versions of the UTC days it spans (`call_record_days`, raised by triggers on
//! every insert, update or delete of a record). A new call therefore re-rates one day, not
//! the year.

use std::collections::HashMap;
use std::sync::Arc;

use billing::rating::Rater;
use billing::savings::{SavingsBuilder, SavingsTraffic};
use billing::{CostReport, CostReportBuilder, Dataset, Dimension, Period, SavingsReport};
use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use chrono_tz::Europe::Oslo;
use futures_util::TryStreamExt;
use store::{Store, TariffFile, TariffFileId, TariffFileKind};
use tokio::sync::Mutex;

use crate::http::error::{HttpError, HttpResult};

/// Entries kept beyond the period asked for, at most (about three years of days); older
/// ones go when a request needs room. A day is some tens of kilobytes.
const MAX_CACHED_DAYS: usize = 1100;

/// Which stored files a dataset was loaded from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct DatasetKey {
    dataset_file: TariffFileId,
    tariff_file: Option<TariffFileId>,
}

struct LoadedDataset {
    key: DatasetKey,
    dataset: Arc<Dataset>,
    rater: Arc<Rater>,
}

/// One local day's calls, rated and aggregated.
#[derive(Debug)]
pub struct DayTotals {
    /// Versions of the UTC day before and the UTC day itself (a local day spans both).
    versions: (i64, i64),
    /// One report per [`Dimension::ALL`], in that order.
    costs: Vec<CostReport>,
    savings: SavingsTraffic,
}

/// A calendar month's days merged, so a year's report merges twelve of these rather than
/// 365 days (the extension breakdown alone has some hundred rows a day).
#[derive(Debug)]
struct MonthTotals {
    /// The day entries merged here: the month is stale when any of them was replaced.
    days: Vec<Arc<DayTotals>>,
    costs: Vec<CostReport>,
    savings: SavingsTraffic,
}

impl MonthTotals {
    fn merge(month: Period, days: Vec<Arc<DayTotals>>) -> MonthTotals {
        let costs = Dimension::ALL
            .iter()
            .enumerate()
            .map(|(i, dim)| {
                CostReport::combine(*dim, month, days.iter().filter_map(|d| d.costs.get(i)))
            })
            .collect();
        let mut savings = SavingsTraffic::default();
        for d in &days {
            savings.merge(&d.savings);
        }
        MonthTotals {
            days,
            costs,
            savings,
        }
    }

    fn is_made_of(&self, days: &[Arc<DayTotals>]) -> bool {
        self.days.len() == days.len() && self.days.iter().zip(days).all(|(a, b)| Arc::ptr_eq(a, b))
    }
}

#[derive(Default)]
struct Inner {
    dataset: Option<LoadedDataset>,
    days: HashMap<NaiveDate, Arc<DayTotals>>,
    /// By first day of the month.
    months: HashMap<NaiveDate, Arc<MonthTotals>>,
}

/// The per-day aggregates, shared by all requests (one in [`crate::AppState`]).
#[derive(Default)]
pub struct ReportCache {
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for ReportCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReportCache").finish_non_exhaustive()
    }
}

/// The days of a period, and its whole calendar months merged, with the dataset they were
/// rated under.
pub struct PeriodTotals {
    pub dataset: Arc<Dataset>,
    pub rater: Arc<Rater>,
    days: Vec<(NaiveDate, Arc<DayTotals>)>,
    months: Vec<(Period, Arc<MonthTotals>)>,
}

fn first_of_next_month(d: NaiveDate) -> Option<NaiveDate> {
    if d.month() == 12 {
        NaiveDate::from_ymd_opt(d.year() + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(d.year(), d.month() + 1, 1)
    }
}

/// The calendar months lying wholly inside `period`.
fn whole_months(period: Period) -> Vec<Period> {
    let mut out = Vec::new();
    let mut first = if period.from.day() == 1 {
        Some(period.from)
    } else {
        first_of_next_month(period.from)
    };
    while let Some(start) = first {
        let next = first_of_next_month(start);
        match next.and_then(|n| n.pred_opt()) {
            Some(last) if last <= period.to => {
                if let Ok(m) = Period::new(start, last) {
                    out.push(m);
                }
                first = next;
            }
            _ => break,
        }
    }
    out
}

/// Local midnight of `day` in UTC. Norway changes clocks at 02:00/03:00, so midnight
/// exists exactly once.
fn oslo_midnight(day: NaiveDate) -> HttpResult<DateTime<Utc>> {
    day.and_hms_opt(0, 0, 0)
        .and_then(|t| Oslo.from_local_datetime(&t).earliest())
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| HttpError::Invalid(format!("no local midnight on {day}")))
}

fn days_of(period: Period) -> impl Iterator<Item = NaiveDate> {
    period.from.iter_days().take_while(move |d| *d <= period.to)
}

/// The files the billing dataset in force comes from: the active dataset file, and a
/// tariff file imported after it, whose tariffs replace the dataset's (as `sentral report`
/// does).
async fn dataset_files(store: &Store) -> HttpResult<(DatasetKey, TariffFile, Option<TariffFile>)> {
    let Some(file) = store.active_tariff_file(TariffFileKind::Dataset).await? else {
        return Err(HttpError::Invalid(
            "no billing dataset imported yet (sentral import FILE.toml)".into(),
        ));
    };
    let tariff = store
        .active_tariff_file(TariffFileKind::Tariff)
        .await?
        .filter(|t| t.imported_at >= file.imported_at);
    let key = DatasetKey {
        dataset_file: file.id,
        tariff_file: tariff.as_ref().map(|t| t.id),
    };
    Ok((key, file, tariff))
}

fn dataset_from_files(file: &TariffFile, tariff: Option<&TariffFile>) -> HttpResult<Dataset> {
    let mut dataset = Dataset::from_toml_str(&file.content).map_err(|e| {
        tracing::error!(error = %e, name = %file.name, "stored dataset no longer loads");
        HttpError::Internal
    })?;
    if let Some(t) = tariff {
        let tariffs = billing::TariffFile::from_toml_str(&t.content).map_err(|e| {
            tracing::error!(error = %e, name = %t.name, "stored tariff file no longer loads");
            HttpError::Internal
        })?;
        dataset.replace_tariffs(tariffs);
    }
    Ok(dataset)
}

/// The dataset in force, loaded afresh (the tariffs page shows what it holds).
pub async fn active_dataset(store: &Store) -> HttpResult<Dataset> {
    let (_, file, tariff) = dataset_files(store).await?;
    dataset_from_files(&file, tariff.as_ref())
}

/// Rates one local day's records (`versions` as read before the records).
async fn rate_day(
    store: &Store,
    dataset: &Dataset,
    rater: &Rater,
    day: NaiveDate,
    versions: (i64, i64),
) -> HttpResult<DayTotals> {
    let period = Period::new(day, day).map_err(|e| HttpError::Invalid(e.to_string()))?;
    let mut costs = CostReportBuilder::new(dataset, rater, period, &Dimension::ALL);
    let mut savings = SavingsBuilder::new(dataset, rater, period);
    // Version 0 on both UTC days: no record ever started then.
    if versions != (0, 0) {
        let next = day
            .succ_opt()
            .ok_or_else(|| HttpError::Invalid(format!("no day after {day}")))?;
        let mut stream = store.stream_call_records(oslo_midnight(day)?, oslo_midnight(next)?);
        while let Some(record) = stream.try_next().await? {
            costs.add(&record);
            savings.add(&record);
        }
    }
    Ok(DayTotals {
        versions,
        costs: costs.finish(),
        savings: savings.into_traffic(),
    })
}

impl ReportCache {
    /// The aggregates of every day of `period`, rating the days that are new or changed.
    pub async fn period(&self, store: &Store, period: Period) -> HttpResult<PeriodTotals> {
        let mut inner = self.inner.lock().await;
        let (key, file, tariff) = dataset_files(store).await?;
        let fresh = match &inner.dataset {
            Some(d) if d.key == key => None,
            _ => Some(dataset_from_files(&file, tariff.as_ref())?),
        };
        if let Some(dataset) = fresh {
            tracing::debug!(?key, "billing dataset changed: report cache emptied");
            inner.days.clear();
            inner.months.clear();
            inner.dataset = Some(LoadedDataset {
                key,
                rater: Arc::new(dataset.rater()),
                dataset: Arc::new(dataset),
            });
        }
        let Some(loaded) = &inner.dataset else {
            return Err(HttpError::Internal);
        };
        let (dataset, rater) = (loaded.dataset.clone(), loaded.rater.clone());

        let first_utc_day = period.from.pred_opt().unwrap_or(period.from);
        let versions: HashMap<NaiveDate, i64> = store
            .call_record_day_versions(first_utc_day, period.to)
            .await?
            .into_iter()
            .collect();
        let version = |d: Option<NaiveDate>| d.and_then(|d| versions.get(&d).copied()).unwrap_or(0);
        let mut days = Vec::new();
        let mut rated = 0usize;
        for day in days_of(period) {
            let want = (version(day.pred_opt()), version(Some(day)));
            let cached = inner.days.get(&day).filter(|t| t.versions == want).cloned();
            let totals = match cached {
                Some(t) => t,
                None => {
                    let t = Arc::new(rate_day(store, &dataset, &rater, day, want).await?);
                    inner.days.insert(day, t.clone());
                    rated += 1;
                    t
                }
            };
            days.push((day, totals));
        }
        let mut months = Vec::new();
        for month in whole_months(period) {
            let month_days: Vec<Arc<DayTotals>> = days
                .iter()
                .filter(|(d, _)| month.contains_date(*d))
                .map(|(_, t)| t.clone())
                .collect();
            let cached = inner
                .months
                .get(&month.from)
                .filter(|m| m.is_made_of(&month_days))
                .cloned();
            let merged = match cached {
                Some(m) => m,
                None => {
                    let m = Arc::new(MonthTotals::merge(month, month_days));
                    inner.months.insert(month.from, m.clone());
                    m
                }
            };
            months.push((month, merged));
        }
        if inner.days.len() > MAX_CACHED_DAYS {
            inner.days.retain(|d, _| period.contains_date(*d));
            inner.months.retain(|d, _| period.contains_date(*d));
        }
        if rated > 0 {
            tracing::debug!(rated, days = days.len(), "report cache: days rated");
        }
        Ok(PeriodTotals {
            dataset,
            rater,
            days,
            months,
        })
    }
}

impl PeriodTotals {
    /// The aggregates covering exactly `period` (within the cached one): whole months
    /// merged already, and the days outside them.
    fn within(&self, period: Period) -> Vec<(&[CostReport], &SavingsTraffic)> {
        let months: Vec<&(Period, Arc<MonthTotals>)> = self
            .months
            .iter()
            .filter(|(m, _)| m.from >= period.from && m.to <= period.to)
            .collect();
        let in_a_month = |d: NaiveDate| months.iter().any(|(m, _)| m.contains_date(d));
        let mut out: Vec<(&[CostReport], &SavingsTraffic)> = months
            .iter()
            .map(|(_, m)| (m.costs.as_slice(), &m.savings))
            .collect();
        out.extend(
            self.days
                .iter()
                .filter(|(d, _)| period.contains_date(*d) && !in_a_month(*d))
                .map(|(_, t)| (t.costs.as_slice(), &t.savings)),
        );
        out
    }

    /// One cost report per dimension in `dims`, over `period` (within the cached one).
    pub fn cost_reports(&self, period: Period, dims: &[Dimension]) -> Vec<CostReport> {
        let parts = self.within(period);
        dims.iter()
            .map(|dim| {
                let i = Dimension::ALL.iter().position(|d| d == dim).unwrap_or(0);
                CostReport::combine(
                    *dim,
                    period,
                    parts.iter().filter_map(|(costs, _)| costs.get(i)),
                )
            })
            .collect()
    }

    /// The savings report over `period` (within the cached one).
    pub fn savings(&self, period: Period) -> SavingsReport {
        let mut builder = SavingsBuilder::new(&self.dataset, &self.rater, period);
        for (_, traffic) in self.within(period) {
            builder.add_traffic(traffic);
        }
        builder.finish()
    }
}

#[cfg(test)]
mod tests;
