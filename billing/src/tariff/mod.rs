//! Tariffs: price lists with validity dates, per-class prices, billing increments, minimum
//! charges and time bands in Norwegian local time.
//!
//! Owns what a price list says; never classifies numbers (that is `numbering`) and never
//! decides which rule applies to a call (that is `rating`).

pub mod holidays;

use crate::money;
use crate::numbering::DestinationClass;
use chrono::{NaiveDate, NaiveDateTime, Timelike};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// Which world a price list belongs to: the old per-site exchanges or the new IP PBX.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum World {
    Legacy,
    New,
}

impl World {
    pub fn as_str(self) -> &'static str {
        match self {
            World::Legacy => "legacy",
            World::New => "new",
        }
    }
}

/// When the day price applies, in Norwegian local time (Europe/Oslo).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeBands {
    pub name: String,
    /// Day band starts at this local hour on a working day (inclusive: 08:00:00 is day).
    pub weekday_day_start_hour: u32,
    /// Day band ends at this local hour (exclusive: 17:00:00 is off-peak). 24 = midnight.
    pub weekday_day_end_hour: u32,
    pub weekends_offpeak: bool,
    pub public_holidays_offpeak: bool,
    /// Price each second in the band it falls in (a call crossing 17:00 pays both prices);
    /// otherwise the band at the start of the call prices the whole call.
    pub split_call_across_bands: bool,
}

const DAY_SECONDS: u32 = 86_400;

impl TimeBands {
    /// One band around the clock: every second is "day".
    pub fn flat(name: &str) -> Self {
        TimeBands {
            name: name.to_owned(),
            weekday_day_start_hour: 0,
            weekday_day_end_hour: 24,
            weekends_offpeak: false,
            public_holidays_offpeak: false,
            split_call_across_bands: false,
        }
    }

    /// Every second is priced as day (no walking through bands needed).
    pub fn always_day(&self) -> bool {
        self.weekday_day_start_hour == 0
            && self.weekday_day_end_hour >= 24
            && !self.weekends_offpeak
            && !self.public_holidays_offpeak
    }

    /// Whether a date has a day band at all (a working day under these bands' rules).
    pub fn date_has_day_band(&self, date: NaiveDate) -> bool {
        use chrono::Datelike;
        if self.weekends_offpeak && date.weekday().number_from_monday() > 5 {
            return false;
        }
        !(self.public_holidays_offpeak && holidays::is_public_holiday(date))
    }

    fn bounds(&self) -> (u32, u32) {
        let start = self.weekday_day_start_hour.min(24) * 3600;
        let end = self.weekday_day_end_hour.min(24) * 3600;
        (start, end.max(start))
    }

    /// Whether the day price applies at this local instant.
    pub fn is_day(&self, local: NaiveDateTime) -> bool {
        if self.always_day() {
            return true;
        }
        let (ds, de) = self.bounds();
        let sod = local.num_seconds_from_midnight();
        self.date_has_day_band(local.date()) && sod >= ds && sod < de
    }

    /// Splits `seconds` starting at local time `start` into (day, off-peak) seconds.
    pub fn split(&self, start: NaiveDateTime, seconds: u32) -> (u32, u32) {
        if seconds == 0 {
            return (0, 0);
        }
        if self.always_day() {
            return (seconds, 0);
        }
        if !self.split_call_across_bands {
            return if self.is_day(start) {
                (seconds, 0)
            } else {
                (0, seconds)
            };
        }
        let (ds, de) = self.bounds();
        let mut date = start.date();
        let mut sod = start.num_seconds_from_midnight();
        let mut remaining = seconds;
        let (mut day, mut off) = (0u32, 0u32);
        loop {
            let (is_day, until) = if !self.date_has_day_band(date) {
                (false, DAY_SECONDS)
            } else if sod < ds {
                (false, ds)
            } else if sod < de {
                (true, de)
            } else {
                (false, DAY_SECONDS)
            };
            let take = remaining.min(until.saturating_sub(sod).max(1));
            if is_day {
                day += take;
            } else {
                off += take;
            }
            remaining -= take;
            if remaining == 0 {
                return (day, off);
            }
            sod += take;
            if sod >= DAY_SECONDS {
                sod = 0;
                match date.succ_opt() {
                    Some(d) => date = d,
                    // Past chrono's last date: price the rest off-peak.
                    None => return (day, off + remaining),
                }
            }
        }
    }
}

/// Prices of one destination class: set-up fee per answered call, NOK per minute in the
/// day band and off-peak.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassRate {
    pub setup: Decimal,
    pub day: Decimal,
    pub offpeak: Decimal,
    #[serde(skip)]
    pub(crate) setup_u: i64,
    #[serde(skip)]
    pub(crate) day_u: i64,
    #[serde(skip)]
    pub(crate) off_u: i64,
}

impl ClassRate {
    /// `None` when a price is negative or has more than 6 decimals.
    pub fn new(setup: Decimal, day: Decimal, offpeak: Decimal) -> Option<Self> {
        Some(ClassRate {
            setup_u: money::to_micro(setup)?,
            day_u: money::to_micro(day)?,
            off_u: money::to_micro(offpeak)?,
            setup,
            day,
            offpeak,
        })
    }

    pub fn is_zero(&self) -> bool {
        self.setup_u == 0 && self.day_u == 0 && self.off_u == 0
    }
}

/// One version of a price list.
#[derive(Clone, Debug, Serialize)]
pub struct Tariff {
    /// The key in the data file (`tariffs.<id>`); stored with each rated call.
    pub id: String,
    pub label: String,
    pub world: World,
    pub valid_from: NaiveDate,
    /// Inclusive.
    pub valid_to: NaiveDate,
    pub bands: TimeBands,
    /// Billing increments: the first `first_increment_s` seconds are charged as a block,
    /// then blocks of `next_increment_s` (1/1 = per second, 60/60 = per started minute).
    pub first_increment_s: u32,
    pub next_increment_s: u32,
    /// Billed duration is at least this (seconds) for an answered call.
    pub minimum_charge_s: u32,
    /// A call's cost is at least this (NOK) for an answered call (0 = none).
    pub minimum_charge: Decimal,
    #[serde(skip)]
    pub(crate) minimum_charge_ore: i64,
    /// A call between two of the municipality's sites is priced as this class (the old
    /// world: it left one exchange, crossed the public network, and was paid like a
    /// local call; the new world: `on_net`, free over the own fibre).
    pub on_net_other_site_rated_as: DestinationClass,
    /// A call inside one site (one exchange) is free.
    pub on_net_same_site_free: bool,
    rates: Vec<Option<ClassRate>>,
    /// Mobile per-minute prices when the called operator is known (set-up from `mobile`).
    pub mobile_by_operator: Vec<(String, ClassRate)>,
}

impl Tariff {
    /// A tariff without any class prices yet; add them with [`Tariff::set_rate`].
    pub fn new(
        id: &str,
        world: World,
        valid_from: NaiveDate,
        valid_to: NaiveDate,
        bands: TimeBands,
    ) -> Self {
        Tariff {
            id: id.to_owned(),
            label: String::new(),
            world,
            valid_from,
            valid_to,
            bands,
            first_increment_s: 1,
            next_increment_s: 1,
            minimum_charge_s: 0,
            minimum_charge: Decimal::ZERO,
            minimum_charge_ore: 0,
            on_net_other_site_rated_as: DestinationClass::OnNet,
            on_net_same_site_free: true,
            rates: vec![None; DestinationClass::COUNT],
            mobile_by_operator: Vec::new(),
        }
    }

    pub fn set_rate(&mut self, class: DestinationClass, rate: ClassRate) {
        if let Some(slot) = self.rates.get_mut(class.index()) {
            *slot = Some(rate);
        }
    }

    /// Sets the minimum charge per answered call; `None` if negative or finer than øre.
    pub fn set_minimum_charge(&mut self, amount: Decimal) -> Option<()> {
        let micro = money::to_micro(amount)?;
        if micro % money::MICRO_PER_ORE != 0 {
            return None;
        }
        self.minimum_charge = amount;
        self.minimum_charge_ore = micro / money::MICRO_PER_ORE;
        Some(())
    }

    pub fn rate_for(&self, class: DestinationClass) -> Option<&ClassRate> {
        self.rates.get(class.index()).and_then(Option::as_ref)
    }

    /// Every class that has a price.
    pub fn rates(&self) -> impl Iterator<Item = (DestinationClass, &ClassRate)> {
        DestinationClass::ALL
            .iter()
            .filter_map(|c| self.rate_for(*c).map(|r| (*c, r)))
    }

    pub fn operator_rate(&self, operator: &str) -> Option<&ClassRate> {
        self.mobile_by_operator
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(operator))
            .map(|(_, r)| r)
    }

    pub fn valid_on(&self, date: NaiveDate) -> bool {
        self.valid_from <= date && date <= self.valid_to
    }

    /// Seconds billed for `talk` seconds of an answered call, after the increments and the
    /// minimum. A 0-second answered call is billed only the minimum.
    pub fn billed_seconds(&self, talk: u32) -> u32 {
        let first = self.first_increment_s.max(1);
        let next = self.next_increment_s.max(1);
        let billed = if talk == 0 {
            0
        } else if talk <= first {
            first
        } else {
            let rest = talk - first;
            first.saturating_add(rest.div_ceil(next).saturating_mul(next))
        };
        billed.max(self.minimum_charge_s)
    }
}

/// All tariff versions of a dataset.
#[derive(Clone, Debug, Default, Serialize)]
pub struct TariffBook {
    pub tariffs: Vec<Tariff>,
}

impl TariffBook {
    pub fn get(&self, id: &str) -> Option<&Tariff> {
        self.tariffs.iter().find(|t| t.id == id)
    }

    /// The tariff for live rating on a (local) date: the new world's version valid that
    /// day, else the legacy version valid that day. Sentral is the new world, so when the
    /// two overlap (the sample's 2006) a real call is priced as the new world prices it.
    pub fn live(&self, date: NaiveDate) -> Option<&Tariff> {
        self.valid(World::New, date)
            .or_else(|| self.valid(World::Legacy, date))
    }

    /// The version of `world` valid on `date`; if several, the one that started last.
    pub fn valid(&self, world: World, date: NaiveDate) -> Option<&Tariff> {
        self.tariffs
            .iter()
            .filter(|t| t.world == world && t.valid_on(date))
            .max_by_key(|t| t.valid_from)
    }

    /// The counterfactual choice: the version of `world` valid on `date`, or else the
    /// version of that world whose validity lies nearest to the date (the comparison
    /// prices every call in both worlds, whatever the validity dates say).
    pub fn for_world(&self, world: World, date: NaiveDate) -> Option<&Tariff> {
        self.valid(world, date).or_else(|| {
            self.tariffs
                .iter()
                .filter(|t| t.world == world)
                .min_by_key(|t| {
                    if date < t.valid_from {
                        (t.valid_from - date).num_days()
                    } else {
                        (date - t.valid_to).num_days()
                    }
                })
        })
    }

    pub fn of_world(&self, world: World) -> impl Iterator<Item = &Tariff> {
        self.tariffs.iter().filter(move |t| t.world == world)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn at(y: i32, m: u32, d: u32, h: u32, mi: u32, s: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, m, d)
            .and_then(|d| d.and_hms_opt(h, mi, s))
            .expect("valid")
    }

    fn telenor() -> TimeBands {
        TimeBands {
            name: "telenor".into(),
            weekday_day_start_hour: 8,
            weekday_day_end_hour: 17,
            weekends_offpeak: true,
            public_holidays_offpeak: true,
            split_call_across_bands: true,
        }
    }

    #[test]
    fn band_edges_exactly_at_08_and_17() {
        let b = telenor();
        // Wednesday 1 March 2006.
        assert!(!b.is_day(at(2006, 3, 1, 7, 59, 59)));
        assert!(b.is_day(at(2006, 3, 1, 8, 0, 0)));
        assert!(b.is_day(at(2006, 3, 1, 16, 59, 59)));
        assert!(!b.is_day(at(2006, 3, 1, 17, 0, 0)));
        // A call from 16:59:30 lasting 60 s: 30 s day, 30 s off-peak.
        assert_eq!(b.split(at(2006, 3, 1, 16, 59, 30), 60), (30, 30));
        // From 07:59:50, 20 s: 10 off-peak then 10 day.
        assert_eq!(b.split(at(2006, 3, 1, 7, 59, 50), 20), (10, 10));
        // Exactly 08:00:00 to 17:00:00 is all day.
        assert_eq!(b.split(at(2006, 3, 1, 8, 0, 0), 9 * 3600), (9 * 3600, 0));
        // Over midnight into a working day's night: all off-peak.
        assert_eq!(b.split(at(2006, 3, 1, 23, 59, 0), 120), (0, 120));
    }

    #[test]
    fn weekends_and_holidays_are_offpeak() {
        let b = telenor();
        assert!(!b.is_day(at(2006, 3, 4, 10, 0, 0))); // Saturday
        assert!(!b.is_day(at(2006, 4, 14, 10, 0, 0))); // Good Friday 2006
        assert!(!b.is_day(at(2005, 5, 5, 10, 0, 0))); // Ascension 2005
        assert!(!b.is_day(at(2026, 5, 25, 10, 0, 0))); // Whit Monday 2026
        assert!(b.is_day(at(2026, 5, 26, 10, 0, 0)));
        // Friday 16:00 for 26 hours: 1 h day, the rest off-peak (weekend).
        assert_eq!(
            b.split(at(2006, 3, 3, 16, 0, 0), 26 * 3600),
            (3600, 25 * 3600)
        );
    }

    #[test]
    fn unsplit_bands_price_by_start() {
        let mut b = telenor();
        b.split_call_across_bands = false;
        assert_eq!(b.split(at(2006, 3, 1, 16, 59, 30), 60), (60, 0));
        assert_eq!(b.split(at(2006, 3, 1, 17, 0, 0), 60), (0, 60));
    }

    #[test]
    fn flat_is_always_day() {
        let b = TimeBands::flat("flat");
        assert!(b.always_day());
        assert_eq!(b.split(at(2006, 4, 14, 3, 0, 0), 100), (100, 0));
    }

    #[test]
    fn increments_and_minimum() {
        let d = NaiveDate::from_ymd_opt(2006, 1, 1).expect("date");
        let mut t = Tariff::new("t", World::New, d, d, TimeBands::flat("f"));
        t.first_increment_s = 60;
        t.next_increment_s = 60;
        assert_eq!(t.billed_seconds(1), 60);
        assert_eq!(t.billed_seconds(60), 60);
        assert_eq!(t.billed_seconds(61), 120);
        t.first_increment_s = 30;
        t.next_increment_s = 10;
        assert_eq!(t.billed_seconds(5), 30);
        assert_eq!(t.billed_seconds(31), 40);
        assert_eq!(t.billed_seconds(40), 40);
        assert_eq!(t.billed_seconds(41), 50);
        t.first_increment_s = 1;
        t.next_increment_s = 1;
        t.minimum_charge_s = 30;
        assert_eq!(t.billed_seconds(0), 30);
        assert_eq!(t.billed_seconds(29), 30);
        assert_eq!(t.billed_seconds(31), 31);
    }

    #[test]
    fn live_and_counterfactual_choice() {
        let d = |y, m, dd| NaiveDate::from_ymd_opt(y, m, dd).expect("date");
        let book = TariffBook {
            tariffs: vec![
                Tariff::new(
                    "legacy",
                    World::Legacy,
                    d(2005, 1, 1),
                    d(2006, 12, 31),
                    telenor(),
                ),
                Tariff::new(
                    "new",
                    World::New,
                    d(2006, 1, 1),
                    d(2006, 12, 31),
                    TimeBands::flat("f"),
                ),
                Tariff::new(
                    "new-2007",
                    World::New,
                    d(2007, 1, 1),
                    d(2007, 12, 31),
                    TimeBands::flat("f"),
                ),
            ],
        };
        assert_eq!(
            book.live(d(2005, 6, 1)).map(|t| t.id.as_str()),
            Some("legacy")
        );
        assert_eq!(book.live(d(2006, 6, 1)).map(|t| t.id.as_str()), Some("new"));
        assert_eq!(
            book.live(d(2007, 6, 1)).map(|t| t.id.as_str()),
            Some("new-2007")
        );
        assert!(book.live(d(2009, 6, 1)).is_none());
        assert_eq!(
            book.for_world(World::New, d(2005, 6, 1))
                .map(|t| t.id.as_str()),
            Some("new")
        );
        assert_eq!(
            book.for_world(World::Legacy, d(2007, 6, 1))
                .map(|t| t.id.as_str()),
            Some("legacy")
        );
        assert_eq!(
            book.for_world(World::New, d(2009, 6, 1))
                .map(|t| t.id.as_str()),
            Some("new-2007")
        );
    }
}
