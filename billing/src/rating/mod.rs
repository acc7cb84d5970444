//! Rating: the pure function from a call record and a tariff to a cost and the rule that
//! produced it.
//!
//! Owns the order in which rules apply (unanswered, inbound, inside one site, between
//! sites, mobile by operator, the class price) and the arithmetic: billed seconds after
//! increments, split over time bands in Europe/Oslo local time, computed exactly in
//! integer micro-NOK and rounded once to the øre, half up. Never reads a clock, a file or
//! a store; allocates nothing per call.

use crate::call_record::{CallDirection, CallDisposition, CallRecord};
use crate::money;
use crate::numbering::{Classification, DestinationClass, InvalidReason, NumberingPlan};
use crate::tariff::{ClassRate, Tariff, TariffBook, World};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use chrono_tz::Europe::Oslo;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Why a call cost what it cost.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "rule")]
pub enum Rule {
    /// Not answered: nothing is charged (the set-up fee is due only on answer).
    NotAnswered,
    /// A call from outside: the caller pays, the municipality does not.
    Inbound,
    /// Between two extensions of one site's exchange: free.
    SameSiteFree,
    /// Between two of the municipality's sites, priced as `rated_as` (old world: it
    /// crossed the public network like a local call; new world: own fibre, `on_net`).
    OtherSite { rated_as: DestinationClass },
    /// The class price from the tariff (for mobile: the blended price, operator unknown).
    ClassPrice,
    /// Mobile with the called operator known: that operator's price.
    MobileOperator,
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rule::NotAnswered => f.write_str("not answered: no charge"),
            Rule::Inbound => f.write_str("inbound call: the caller pays"),
            Rule::SameSiteFree => f.write_str("internal call inside one site: free"),
            Rule::OtherSite { rated_as } => {
                write!(f, "call between two sites, priced as {rated_as}")
            }
            Rule::ClassPrice => f.write_str("class price"),
            Rule::MobileOperator => f.write_str("mobile, price of the called operator"),
        }
    }
}

/// A call that could not be priced. The report counts these instead of pricing them at 0.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RatingError {
    #[error("no tariff is valid on {0}")]
    NoTariff(NaiveDate),
    #[error("tariff {tariff} has no price for class {class}")]
    NoRate {
        tariff: String,
        class: DestinationClass,
    },
    #[error("answered call to an invalid number ({0:?})")]
    InvalidNumber(InvalidReason),
}

/// The destination of a call, decided once and priced under any tariff.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CallClass {
    pub class: DestinationClass,
    /// For on-net calls: both ends on the same site.
    pub same_site: bool,
    pub invalid_reason: Option<InvalidReason>,
}

/// The result of rating one call under one tariff.
#[derive(Clone, Copy, Debug)]
pub struct Rated<'t> {
    /// Rounded once to the øre, half up.
    pub cost: Decimal,
    pub cost_ore: i64,
    pub class: DestinationClass,
    pub rule: Rule,
    pub tariff: &'t Tariff,
    pub billed_seconds: u32,
    pub day_seconds: u32,
    pub offpeak_seconds: u32,
    /// The prices used (None when nothing was charged by rule).
    pub rate: Option<&'t ClassRate>,
}

/// A rated call detached from the tariff, for storing and JSON.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RatedCall {
    pub cost: Decimal,
    pub class: DestinationClass,
    pub rule: Rule,
    pub tariff_version: String,
    pub billed_seconds: u32,
    pub day_seconds: u32,
    pub offpeak_seconds: u32,
    pub explanation: String,
}

impl Rated<'_> {
    /// The tariff version to store with the call.
    pub fn tariff_version(&self) -> &str {
        &self.tariff.id
    }

    /// One line a person can check by hand, e.g. "local, class price: set-up 0.40 +
    /// 120 s day at 0.17/min + 0 s off-peak at 0.11/min (billed 120 s for 120 s, 1/1) =
    /// 0.74 NOK [tariff legacy]".
    pub fn explain(&self) -> String {
        match self.rate {
            None => format!(
                "{}: {} = {} NOK [tariff {}]",
                self.class, self.rule, self.cost, self.tariff.id
            ),
            Some(r) => format!(
                "{}, {}: set-up {} + {} s day at {}/min + {} s off-peak at {}/min (billed {} s, increments {}/{}, minimum {} s) = {} NOK [tariff {}]",
                self.class,
                self.rule,
                r.setup,
                self.day_seconds,
                r.day,
                self.offpeak_seconds,
                r.offpeak,
                self.billed_seconds,
                self.tariff.first_increment_s,
                self.tariff.next_increment_s,
                self.tariff.minimum_charge_s,
                self.cost,
                self.tariff.id
            ),
        }
    }

    pub fn to_rated_call(&self) -> RatedCall {
        RatedCall {
            cost: self.cost,
            class: self.class,
            rule: self.rule,
            tariff_version: self.tariff.id.clone(),
            billed_seconds: self.billed_seconds,
            day_seconds: self.day_seconds,
            offpeak_seconds: self.offpeak_seconds,
            explanation: self.explain(),
        }
    }
}

/// Europe/Oslo offsets from UTC as (first UTC second, offset seconds), sorted, taken once
/// from chrono-tz's tz database for 1970–2100. Looking an instant up here is a binary
/// search over ~260 entries instead of chrono-tz's per-call work, which made time-zone
/// conversion the largest cost of rating.
static OSLO_OFFSETS: std::sync::LazyLock<Vec<(i64, i32)>> =
    std::sync::LazyLock::new(build_oslo_offsets);

const OSLO_TABLE_FROM: i64 = 0; // 1970-01-01T00:00:00Z
const OSLO_TABLE_TO: i64 = 4_133_980_800; // 2101-01-01T00:00:00Z

fn chrono_tz_offset(ts: i64) -> i32 {
    use chrono::Offset;
    match DateTime::<Utc>::from_timestamp(ts, 0) {
        Some(t) => t.with_timezone(&Oslo).offset().fix().local_minus_utc(),
        None => 3600,
    }
}

fn build_oslo_offsets() -> Vec<(i64, i32)> {
    const STEP: i64 = 86_400; // transitions are months apart; daily steps cannot miss one
    let mut out = vec![(OSLO_TABLE_FROM, chrono_tz_offset(OSLO_TABLE_FROM))];
    let mut prev = out[0].1;
    let mut t = OSLO_TABLE_FROM;
    while t < OSLO_TABLE_TO {
        let next = t + STEP;
        let off = chrono_tz_offset(next);
        if off != prev {
            // Bisect to the first second with the new offset.
            let (mut lo, mut hi) = (t, next);
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                if chrono_tz_offset(mid) == prev {
                    lo = mid
                } else {
                    hi = mid
                }
            }
            out.push((hi, off));
            prev = off;
        }
        t = next;
    }
    out
}

thread_local! {
    /// The offset interval of the last lookup: calls are rated mostly in time order, so
    /// the next one almost always falls in the same interval.
    static LAST_OFFSET: std::cell::Cell<(i64, i64, i32)> = const { std::cell::Cell::new((0, 0, 0)) };
}

/// Oslo's offset from UTC at a UTC second.
fn oslo_offset(ts: i64) -> i32 {
    if !(OSLO_TABLE_FROM..OSLO_TABLE_TO).contains(&ts) {
        return chrono_tz_offset(ts);
    }
    let (lo, hi, off) = LAST_OFFSET.with(std::cell::Cell::get);
    if lo <= ts && ts < hi {
        return off;
    }
    let table = &*OSLO_OFFSETS;
    let i = table.partition_point(|(start, _)| *start <= ts);
    match table.get(i.wrapping_sub(1)) {
        Some(&(start, off)) => {
            let end = table.get(i).map_or(OSLO_TABLE_TO, |(s, _)| *s);
            LAST_OFFSET.with(|c| c.set((start, end, off)));
            off
        }
        None => chrono_tz_offset(ts),
    }
}

/// Norwegian local time of a UTC instant (tariff bands are local: 08:00 is 08:00 in Oslo,
/// summer or winter).
pub fn oslo_local(t: DateTime<Utc>) -> NaiveDateTime {
    let ts = t.timestamp();
    let local = ts + i64::from(oslo_offset(ts));
    DateTime::<Utc>::from_timestamp(local, t.timestamp_subsec_nanos())
        .map_or_else(|| t.naive_utc(), |l| l.naive_utc())
}

/// The local date a call belongs to (its start), for periods and tariff validity.
pub fn call_date(record: &CallRecord) -> NaiveDate {
    oslo_local(record.started_at).date()
}

/// Where a call goes: decided by the PBX's direction for internal and emergency calls,
/// by the numbering plan for calls out through a trunk (a dialled municipal number is
/// on-net, same site when it belongs to the caller's site).
pub fn classify_call(record: &CallRecord, plan: &NumberingPlan) -> CallClass {
    let on_net = |same_site| CallClass {
        class: DestinationClass::OnNet,
        same_site,
        invalid_reason: None,
    };
    match record.direction {
        CallDirection::InternalSameSite => on_net(true),
        CallDirection::InternalOtherSite => on_net(false),
        CallDirection::Emergency => CallClass {
            class: DestinationClass::Emergency,
            same_site: false,
            invalid_reason: None,
        },
        CallDirection::Inbound => {
            let c = plan.classify(&record.caller_number);
            CallClass {
                class: c.class,
                same_site: false,
                invalid_reason: c.invalid_reason,
            }
        }
        CallDirection::Outbound => {
            let Classification {
                class,
                site,
                invalid_reason,
            } = plan.classify(&record.callee_number);
            let same_site = match (site, record.caller_site.as_deref()) {
                (Some(s), Some(caller)) => plan.site_id(s) == Some(caller),
                _ => false,
            };
            CallClass {
                class,
                same_site,
                invalid_reason,
            }
        }
    }
}

/// Rates one call under one tariff. Pure; `operator` is the called mobile operator when
/// known (number portability means it cannot be read from the number).
pub fn rate<'t>(
    record: &CallRecord,
    tariff: &'t Tariff,
    plan: &NumberingPlan,
) -> Result<Rated<'t>, RatingError> {
    let cc = classify_call(record, plan);
    price(record, cc, tariff, None)
}

/// Prices a call whose destination is already classified (classify once, price in both
/// worlds).
pub fn price<'t>(
    record: &CallRecord,
    cc: CallClass,
    tariff: &'t Tariff,
    operator: Option<&str>,
) -> Result<Rated<'t>, RatingError> {
    let free = |rule| Rated {
        cost: Decimal::ZERO,
        cost_ore: 0,
        class: cc.class,
        rule,
        tariff,
        billed_seconds: 0,
        day_seconds: 0,
        offpeak_seconds: 0,
        rate: None,
    };
    if record.disposition != CallDisposition::Answered {
        return Ok(free(Rule::NotAnswered));
    }
    if record.direction == CallDirection::Inbound {
        return Ok(free(Rule::Inbound));
    }
    let (rule, rate) = match cc.class {
        DestinationClass::Invalid => {
            return Err(RatingError::InvalidNumber(
                cc.invalid_reason.unwrap_or(InvalidReason::NoPrefix),
            ));
        }
        DestinationClass::OnNet if cc.same_site && tariff.on_net_same_site_free => {
            return Ok(free(Rule::SameSiteFree));
        }
        DestinationClass::OnNet => {
            let as_class = tariff.on_net_other_site_rated_as;
            let r = tariff
                .rate_for(as_class)
                .ok_or_else(|| RatingError::NoRate {
                    tariff: tariff.id.clone(),
                    class: as_class,
                })?;
            (Rule::OtherSite { rated_as: as_class }, r)
        }
        DestinationClass::Mobile => match operator.and_then(|op| tariff.operator_rate(op)) {
            Some(r) => (Rule::MobileOperator, r),
            None => (
                Rule::ClassPrice,
                tariff
                    .rate_for(DestinationClass::Mobile)
                    .ok_or_else(|| RatingError::NoRate {
                        tariff: tariff.id.clone(),
                        class: cc.class,
                    })?,
            ),
        },
        class => (
            Rule::ClassPrice,
            tariff.rate_for(class).ok_or_else(|| RatingError::NoRate {
                tariff: tariff.id.clone(),
                class,
            })?,
        ),
    };
    let billed = tariff.billed_seconds(record.talk_seconds);
    let (day, off) = if tariff.bands.always_day() {
        (billed, 0)
    } else {
        let start = record.answered_at.unwrap_or(record.started_at);
        tariff.bands.split(oslo_local(start), billed)
    };
    // Exact cost in 1/60 micro-NOK: set-up × 60 + Σ price-per-minute × seconds.
    let num = i128::from(rate.setup_u) * 60
        + i128::from(rate.day_u) * i128::from(day)
        + i128::from(rate.off_u) * i128::from(off);
    let ore = money::round_half_up_div(num, 60 * i128::from(money::MICRO_PER_ORE))
        .max(tariff.minimum_charge_ore);
    Ok(Rated {
        cost: money::ore_to_decimal(ore),
        cost_ore: ore,
        class: cc.class,
        rule,
        tariff,
        billed_seconds: billed,
        day_seconds: day,
        offpeak_seconds: off,
        rate: Some(rate),
    })
}

/// The rating engine of a dataset: its numbering plan and tariff book, with the choice of
/// tariff by date (live) or by world (the comparison).
#[derive(Clone, Debug)]
pub struct Rater {
    plan: NumberingPlan,
    book: TariffBook,
}

impl Rater {
    pub fn new(plan: NumberingPlan, book: TariffBook) -> Self {
        Rater { plan, book }
    }

    pub fn plan(&self) -> &NumberingPlan {
        &self.plan
    }

    pub fn tariffs(&self) -> &TariffBook {
        &self.book
    }

    pub fn classify(&self, record: &CallRecord) -> CallClass {
        classify_call(record, &self.plan)
    }

    /// Live rating: the tariff valid on the call's local date (new world first).
    pub fn rate(&self, record: &CallRecord) -> Result<Rated<'_>, RatingError> {
        let date = call_date(record);
        let t = self.book.live(date).ok_or(RatingError::NoTariff(date))?;
        price(record, self.classify(record), t, None)
    }

    /// Live rating with the called mobile operator known.
    pub fn rate_with_operator(
        &self,
        record: &CallRecord,
        operator: Option<&str>,
    ) -> Result<Rated<'_>, RatingError> {
        let date = call_date(record);
        let t = self.book.live(date).ok_or(RatingError::NoTariff(date))?;
        price(record, self.classify(record), t, operator)
    }

    /// The counterfactual: this call priced by `world`'s tariff, whatever its validity.
    pub fn rate_in(&self, record: &CallRecord, world: World) -> Result<Rated<'_>, RatingError> {
        let date = call_date(record);
        let t = self
            .book
            .for_world(world, date)
            .ok_or(RatingError::NoTariff(date))?;
        price(record, self.classify(record), t, None)
    }

    /// The call priced in both worlds (classified once): (legacy, new).
    #[allow(clippy::type_complexity)]
    pub fn rate_both(
        &self,
        record: &CallRecord,
    ) -> (
        CallClass,
        Result<Rated<'_>, RatingError>,
        Result<Rated<'_>, RatingError>,
    ) {
        let date = call_date(record);
        let cc = self.classify(record);
        let legacy = match self.book.for_world(World::Legacy, date) {
            Some(t) => price(record, cc, t, None),
            None => Err(RatingError::NoTariff(date)),
        };
        let new = match self.book.for_world(World::New, date) {
            Some(t) => price(record, cc, t, None),
            None => Err(RatingError::NoTariff(date)),
        };
        (cc, legacy, new)
    }
}

#[cfg(test)]
mod tests;
