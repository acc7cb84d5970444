//! Reads behind the admin pages that must stay fast over a year of call records: the call
//! list paged and filtered in SQL with a count for its pager, and the per-day record
//! counts and change versions (`call_record_days`, kept by triggers, migration 0003) that
//! report caches key their per-day aggregates on.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use sqlx::QueryBuilder;

use crate::calls::{FULL_COLUMNS, FullRow};
use crate::error::{Result, StoreError};
use crate::ids::CallRecordId;
use crate::model::StoredCallRecord;
use crate::{Store, dispatch};

/// The call list's filters; every one optional. `from`/`to` bound `started_at` as
/// `[from, to)`. Site, department and extension match either party of the call;
/// `direction` and `outcome` are the stored names (`outbound`, `no_answer`, …), and a name
/// the store does not know matches nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallQuery {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub site: Option<String>,
    pub department: Option<String>,
    pub extension: Option<String>,
    pub direction: Option<String>,
    pub outcome: Option<String>,
}

impl CallQuery {
    /// True when only the period filters, so the per-day counts answer the count.
    fn period_only(&self) -> bool {
        self.site.is_none()
            && self.department.is_none()
            && self.extension.is_none()
            && self.direction.is_none()
            && self.outcome.is_none()
    }
}

/// A UTC midnight as its date; `None` for any other instant.
fn utc_day(t: DateTime<Utc>) -> Option<NaiveDate> {
    (t.time() == NaiveTime::MIN).then(|| t.date_naive())
}

/// Appends ` WHERE …` for `q` and, for a keyset walk, records after `after` in the
/// newest-first order (nothing when there is nothing to filter).
fn push_filters<'a, DB>(
    qb: &mut QueryBuilder<'a, DB>,
    q: &'a CallQuery,
    after: Option<(DateTime<Utc>, CallRecordId)>,
) where
    DB: sqlx::Database,
    DateTime<Utc>: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    &'a str: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    i64: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    let mut sep = " WHERE ";
    let mut next = |qb: &mut QueryBuilder<'a, DB>| {
        qb.push(sep);
        sep = " AND ";
    };
    if let Some(from) = q.from {
        next(qb);
        qb.push("started_at >= ").push_bind(from);
    }
    if let Some(to) = q.to {
        next(qb);
        qb.push("started_at < ").push_bind(to);
    }
    let mut either = |qb: &mut QueryBuilder<'a, DB>, column: &str, value: &'a Option<String>| {
        if let Some(v) = value.as_deref() {
            next(qb);
            qb.push(format!("(caller_{column} = "))
                .push_bind(v)
                .push(format!(" OR callee_{column} = "))
                .push_bind(v)
                .push(")");
        }
    };
    either(qb, "site", &q.site);
    either(qb, "department", &q.department);
    either(qb, "extension", &q.extension);
    if let Some(d) = q.direction.as_deref() {
        next(qb);
        qb.push("direction = ").push_bind(d);
    }
    if let Some(o) = q.outcome.as_deref() {
        next(qb);
        qb.push("disposition = ").push_bind(o);
    }
    if let Some((t, id)) = after {
        next(qb);
        qb.push("(started_at < ")
            .push_bind(t)
            .push(" OR (started_at = ")
            .push_bind(t)
            .push(" AND id < ")
            .push_bind(id.0)
            .push("))");
    }
}

impl Store {
    /// One page of the records matching `q`, newest first (ties: highest id first).
    pub async fn call_record_page(
        &self,
        q: &CallQuery,
        offset: u64,
        limit: u32,
    ) -> Result<Vec<StoredCallRecord>> {
        let offset =
            i64::try_from(offset).map_err(|_| StoreError::invalid("page offset", offset))?;
        self.newest_first(q, None, offset, limit).await
    }

    /// Up to `limit` records matching `q` that come after `after` (a record's `started_at`
    /// and id) in the newest-first order, or from the newest when `None`: a keyset walk,
    /// so reading a year in chunks (exports) costs the same per chunk at any depth.
    pub async fn call_records_after(
        &self,
        q: &CallQuery,
        after: Option<(DateTime<Utc>, CallRecordId)>,
        limit: u32,
    ) -> Result<Vec<StoredCallRecord>> {
        self.newest_first(q, after, 0, limit).await
    }

    async fn newest_first(
        &self,
        q: &CallQuery,
        after: Option<(DateTime<Utc>, CallRecordId)>,
        offset: i64,
        limit: u32,
    ) -> Result<Vec<StoredCallRecord>> {
        let rows: Vec<FullRow> = dispatch!(self, |pool, DB, money| {
            let mut qb: QueryBuilder<DB> =
                QueryBuilder::new(format!("SELECT {FULL_COLUMNS} FROM call_records"));
            push_filters(&mut qb, q, after);
            qb.push(" ORDER BY started_at DESC, id DESC LIMIT ")
                .push_bind(i64::from(limit))
                .push(" OFFSET ")
                .push_bind(offset);
            qb.build_query_as().fetch_all(pool).await?
        });
        rows.into_iter().map(StoredCallRecord::try_from).collect()
    }

    /// How many records match `q`. A period of whole UTC days (or none) without other
    /// filters is summed from the per-day counts; anything else is counted in SQL.
    pub async fn count_matching_calls(&self, q: &CallQuery) -> Result<u64> {
        let from_day = q.from.map(utc_day);
        let to_day = q.to.map(utc_day);
        let whole_days = !matches!(from_day, Some(None)) && !matches!(to_day, Some(None));
        let n: i64 = if q.period_only() && whole_days {
            // Open bounds become dates both backends hold and that sort as text in SQLite.
            let from = from_day
                .flatten()
                .or_else(|| NaiveDate::from_ymd_opt(1, 1, 1))
                .unwrap_or_default();
            let to = to_day
                .flatten()
                .or_else(|| NaiveDate::from_ymd_opt(9999, 12, 31))
                .unwrap_or_default();
            dispatch!(self, |pool| {
                let (sum,): (Option<i64>,) = sqlx::query_as(
                    "SELECT CAST(SUM(records) AS BIGINT) FROM call_record_days WHERE day >= $1 AND day < $2",
                )
                .bind(from)
                .bind(to)
                .fetch_one(pool)
                .await?;
                sum.unwrap_or(0)
            })
        } else {
            dispatch!(self, |pool, DB, money| {
                let mut qb: QueryBuilder<DB> =
                    QueryBuilder::new("SELECT COUNT(*) FROM call_records");
                push_filters(&mut qb, q, None);
                let (n,): (i64,) = qb.build_query_as().fetch_one(pool).await?;
                n
            })
        };
        u64::try_from(n).map_err(|e| StoreError::corrupt("call_record_days", "records", e))
    }

    /// The change version of every UTC day in `[from, to]` that ever held a record (by
    /// `started_at`); a day not listed never did. Any insert or delete of a record of a
    /// day, and any update of the columns billing reads, raises that day's version
    /// (PostgreSQL raises it for every update).
    pub async fn call_record_day_versions(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<(NaiveDate, i64)>> {
        dispatch!(self, |pool| {
            Ok(sqlx::query_as(
                "SELECT day, version FROM call_record_days WHERE day >= $1 AND day <= $2 ORDER BY day",
            )
            .bind(from)
            .bind(to)
            .fetch_all(pool)
            .await?)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn only_midnights_are_days() {
        let midnight = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).single();
        let later = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 1).single();
        assert_eq!(
            midnight.and_then(utc_day),
            NaiveDate::from_ymd_opt(2026, 3, 1)
        );
        assert_eq!(later.and_then(utc_day), None);
    }
}
