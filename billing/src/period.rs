//! A reporting period: local (Europe/Oslo) dates, both ends included. A call belongs to
//! the period when its start, in local time, falls on one of those dates.

use crate::call_record::CallRecord;
use crate::legacy::days_inclusive;
use crate::rating::call_date;
use crate::tariff::holidays;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Period {
    pub from: NaiveDate,
    /// Included.
    pub to: NaiveDate,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("the period ends ({to}) before it starts ({from})")]
pub struct PeriodError {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl Period {
    pub fn new(from: NaiveDate, to: NaiveDate) -> Result<Period, PeriodError> {
        if to < from {
            return Err(PeriodError { from, to });
        }
        Ok(Period { from, to })
    }

    /// A whole calendar year.
    pub fn year(year: i32) -> Option<Period> {
        Some(Period {
            from: NaiveDate::from_ymd_opt(year, 1, 1)?,
            to: NaiveDate::from_ymd_opt(year, 12, 31)?,
        })
    }

    pub fn calendar_days(&self) -> i64 {
        days_inclusive(self.from, self.to)
    }

    /// Monday–Friday days that are not Norwegian public holidays.
    pub fn working_days(&self) -> u32 {
        holidays::working_days(self.from, self.to)
    }

    pub fn contains_date(&self, d: NaiveDate) -> bool {
        self.from <= d && d <= self.to
    }

    pub fn contains(&self, record: &CallRecord) -> bool {
        self.contains_date(call_date(record))
    }
}
