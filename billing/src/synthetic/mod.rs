//! Synthetic traffic: a deterministic generator of realistic call records from the data
//! file's `[traffic]` profile, so a new user sees reports before real traffic exists and
//! benches have data.
//!
//! Owns the model below; never rates calls. The generator is an iterator that produces
//! one day at a time (a few thousand records), so a year never sits in memory.
//!
//! Model (every figure from `[traffic]` unless marked as this module's assumption):
//! - Per extension per working day: `outgoing_external_calls`, `incoming_external_calls`
//!   and `internal_calls`, each a Poisson count. `working_days_per_year` (225) is below the
//!   ~251 Monday–Friday non-holidays of a year because of vacation, so a working day
//!   carries 225/251 of a full day's traffic; sites open 24/7 also call at
//!   `weekend_factor_24_7_sites` on the remaining days (vacation days, weekends and public
//!   holidays), others at `weekend_factor_other_sites`. Over a year this gives exactly
//!   the research's 225 + factor × 140 days.
//! - Start times: hour by `hourly_weekday.shares` (also on weekends: assumption), second
//!   uniform within the hour; local Europe/Oslo time.
//! - Destination of outgoing calls by `external_mix`; a number drawn from the numbering
//!   plan's prefixes of that class (and checked to classify back to it).
//! - Internal calls go to another site with `intersite_share_of_internal`, the site
//!   weighted by its extensions.
//! - Holding times lognormal with `lognormal_sigma` and the class's `mean_duration_s`
//!   (µ = ln mean − σ²/2), whole seconds, at least 1. Incoming calls use the `local` mean
//!   (assumption: no inbound figure in the file).
//! - Every call is answered (the profile has no unanswered share); ringing 2–12 s before
//!   answer (assumption; not billed).
//! - Each day has its own ChaCha8 stream (seed, day number), so any sub-period of a year
//!   generates the same calls as the year does.

use crate::call_record::{CallDirection, CallDisposition, CallRecord};
use crate::dataset::{Dataset, Site, TrafficProfile};
use crate::numbering::DestinationClass;
use crate::tariff::holidays;
use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Europe::Oslo;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::HashMap;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SyntheticError {
    #[error("the data file has no [traffic] profile")]
    NoProfile,
    #[error("no site has an extension")]
    NoExtensions,
    #[error("cannot draw a number of class {0} from the numbering plan")]
    NoNumbers(DestinationClass),
    #[error("the period ends ({to}) before it starts ({from})")]
    EmptyPeriod { from: NaiveDate, to: NaiveDate },
}

/// How many candidate numbers per class are drawn up front.
const POOL: usize = 64;
/// Longest holding time generated (8 h); the lognormal tail beyond it is ~10⁻⁸.
const MAX_TALK_S: f64 = 8.0 * 3600.0;

#[derive(Debug, Clone)]
struct Ext {
    number: String,
    site: usize,
}

/// The generator; iterate it for records in time order.
#[derive(Debug)]
pub struct Generator<'d> {
    dataset: &'d Dataset,
    profile: &'d TrafficProfile,
    seed: u64,
    day: NaiveDate,
    to: NaiveDate,
    exts: Vec<Ext>,
    /// Per site: indices into `exts`.
    site_exts: Vec<Vec<usize>>,
    mix: Vec<(DestinationClass, f64)>,
    inbound_mix: Vec<(DestinationClass, f64)>,
    numbers: HashMap<DestinationClass, Vec<String>>,
    working_days: HashMap<i32, u32>,
    hours: Vec<(u32, f64)>,
    /// Extensions per site, as weights for choosing the other site of an internal call.
    site_weights: Vec<f64>,
    /// Today's records, reversed (pop from the end).
    today: Vec<CallRecord>,
}

impl<'d> Generator<'d> {
    /// Records for the local dates `from..=to`, with the profile's seed unless one is given.
    pub fn new(
        dataset: &'d Dataset,
        from: NaiveDate,
        to: NaiveDate,
        seed: Option<u64>,
    ) -> Result<Self, SyntheticError> {
        let profile = dataset.traffic.as_ref().ok_or(SyntheticError::NoProfile)?;
        if to < from {
            return Err(SyntheticError::EmptyPeriod { from, to });
        }
        let mut exts = Vec::new();
        let mut site_exts = vec![Vec::new(); dataset.sites.len()];
        for (si, site) in dataset.sites.iter().enumerate() {
            for n in site.extension_numbers() {
                if let Some(v) = site_exts.get_mut(si) {
                    v.push(exts.len());
                }
                exts.push(Ext {
                    number: n.to_string(),
                    site: si,
                });
            }
        }
        if exts.is_empty() {
            return Err(SyntheticError::NoExtensions);
        }
        let seed = seed.unwrap_or(profile.seed);
        let mut numbers = HashMap::new();
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x006e_756d_6265_7273);
        let mix: Vec<_> = profile
            .external_mix
            .iter()
            .filter(|(_, s)| *s > 0.0)
            .copied()
            .collect();
        let inbound_mix: Vec<_> = mix
            .iter()
            .filter(|(c, _)| {
                matches!(
                    c,
                    DestinationClass::Local | DestinationClass::National | DestinationClass::Mobile
                )
            })
            .copied()
            .collect();
        for (class, _) in &mix {
            numbers.insert(*class, number_pool(dataset, *class, &mut rng)?);
        }
        Ok(Generator {
            dataset,
            profile,
            seed,
            day: from,
            to,
            exts,
            site_exts,
            mix,
            inbound_mix,
            numbers,
            working_days: HashMap::new(),
            hours: profile
                .hourly_weekday
                .iter()
                .enumerate()
                .map(|(h, w)| (h as u32, *w))
                .collect(),
            site_weights: dataset
                .sites
                .iter()
                .map(|s| f64::from(s.extensions))
                .collect(),
            today: Vec::new(),
        })
    }

    fn working_days_in(&mut self, year: i32) -> u32 {
        *self.working_days.entry(year).or_insert_with(|| {
            match (
                NaiveDate::from_ymd_opt(year, 1, 1),
                NaiveDate::from_ymd_opt(year, 12, 31),
            ) {
                (Some(a), Some(b)) => holidays::working_days(a, b),
                _ => 251,
            }
        })
    }

    /// Generates the records of one day into `self.today` (reversed).
    fn fill_day(&mut self, date: NaiveDate) {
        let p = self.profile;
        let year_wd = f64::from(self.working_days_in(date.year()).max(1));
        // Share of a Monday–Friday non-holiday that is a full working day (the rest is
        // vacation, priced like a weekend day for the 24/7 sites).
        let work_share = (p.working_days_per_year / year_wd).min(1.0);
        let is_wd = holidays::is_working_day(date);
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        rng.set_stream(date.num_days_from_ce().unsigned_abs().into());
        let mut out = Vec::new();
        for ei in 0..self.exts.len() {
            let Some(ext) = self.exts.get(ei) else {
                continue;
            };
            let Some(site) = self.dataset.sites.get(ext.site) else {
                continue;
            };
            let wf = if site.open_24_7 {
                p.weekend_factor_24_7_sites
            } else {
                p.weekend_factor_other_sites
            };
            let factor = if is_wd {
                work_share + wf * (1.0 - work_share)
            } else {
                wf
            };
            if factor <= 0.0 {
                continue;
            }
            for _ in 0..poisson(&mut rng, p.outgoing_external_calls * factor) {
                if let Some(r) = self.outgoing(&mut rng, date, ext, site) {
                    out.push(r);
                }
            }
            for _ in 0..poisson(&mut rng, p.incoming_external_calls * factor) {
                if let Some(r) = self.incoming(&mut rng, date, ext, site) {
                    out.push(r);
                }
            }
            for _ in 0..poisson(&mut rng, p.internal_calls * factor) {
                if let Some(r) = self.internal(&mut rng, date, ei) {
                    out.push(r);
                }
            }
        }
        out.sort_by_key(|r| std::cmp::Reverse(r.started_at));
        self.today = out;
    }

    fn start_time(&self, rng: &mut ChaCha8Rng, date: NaiveDate) -> Option<chrono::DateTime<Utc>> {
        let hour = pick_weighted(rng, &self.hours)?;
        let sec = rng.gen_range(0..3600u32);
        let local: NaiveDateTime = date.and_hms_opt(hour, sec / 60, sec % 60)?;
        // In the spring-forward gap (02:00–03:00 on the last Sunday of March) no such
        // local time exists: move it an hour later.
        Oslo.from_local_datetime(&local)
            .earliest()
            .or_else(|| {
                Oslo.from_local_datetime(&(local + Duration::hours(1)))
                    .earliest()
            })
            .map(|t| t.with_timezone(&Utc))
    }

    fn duration(&self, rng: &mut ChaCha8Rng, class: DestinationClass) -> u32 {
        let mean = self
            .profile
            .mean_duration_s
            .get(&class)
            .copied()
            .unwrap_or(180.0)
            .max(1.0);
        lognormal_seconds(rng, mean, self.profile.lognormal_sigma)
    }

    #[allow(clippy::too_many_arguments)]
    fn record(
        &self,
        rng: &mut ChaCha8Rng,
        date: NaiveDate,
        direction: CallDirection,
        talk: u32,
        caller: (Option<&Ext>, String),
        callee: (Option<&Ext>, String),
    ) -> Option<CallRecord> {
        let started = self.start_time(rng, date)?;
        let ring = rng.gen_range(2..=12i64);
        let answered = started + Duration::seconds(ring);
        let site_of = |e: Option<&Ext>| e.and_then(|e| self.dataset.sites.get(e.site));
        let (cs, ds) = (site_of(caller.0), site_of(callee.0));
        let external = !matches!(
            direction,
            CallDirection::InternalSameSite | CallDirection::InternalOtherSite
        );
        Some(CallRecord {
            id: 0,
            started_at: started,
            answered_at: Some(answered),
            ended_at: answered + Duration::seconds(i64::from(talk)),
            talk_seconds: talk,
            direction,
            disposition: CallDisposition::Answered,
            caller_extension: caller.0.map(|e| e.number.clone()),
            caller_number: caller.1,
            caller_site: cs.map(|s| s.id.clone()),
            caller_department: cs.map(|s| s.department.clone()),
            callee_extension: callee.0.map(|e| e.number.clone()),
            callee_number: callee.1,
            callee_site: ds.map(|s| s.id.clone()),
            callee_department: ds.map(|s| s.department.clone()),
            trunk: external.then(|| "sip-trunk".to_owned()),
            synthetic: true,
        })
    }

    fn outgoing(
        &self,
        rng: &mut ChaCha8Rng,
        date: NaiveDate,
        ext: &Ext,
        _site: &Site,
    ) -> Option<CallRecord> {
        let class = pick_weighted(rng, &self.mix)?;
        let pool = self.numbers.get(&class)?;
        let number = pool.get(rng.gen_range(0..pool.len()))?.clone();
        let talk = self.duration(rng, class);
        let dir = if class == DestinationClass::Emergency {
            CallDirection::Emergency
        } else {
            CallDirection::Outbound
        };
        self.record(
            rng,
            date,
            dir,
            talk,
            (Some(ext), ext.number.clone()),
            (None, number),
        )
    }

    fn incoming(
        &self,
        rng: &mut ChaCha8Rng,
        date: NaiveDate,
        ext: &Ext,
        _site: &Site,
    ) -> Option<CallRecord> {
        let class = pick_weighted(rng, &self.inbound_mix)?;
        let pool = self.numbers.get(&class)?;
        let number = pool.get(rng.gen_range(0..pool.len()))?.clone();
        let talk = self.duration(rng, DestinationClass::Local);
        self.record(
            rng,
            date,
            CallDirection::Inbound,
            talk,
            (None, number),
            (Some(ext), ext.number.clone()),
        )
    }

    fn internal(&self, rng: &mut ChaCha8Rng, date: NaiveDate, caller: usize) -> Option<CallRecord> {
        let ext = self.exts.get(caller)?;
        let other_site = rng.gen_range(0.0..1.0) < self.profile.intersite_share_of_internal;
        let target_site = if other_site {
            // Another site, weighted by its extensions (the caller's own weight left out).
            let own = self.site_weights.get(ext.site).copied().unwrap_or(0.0);
            let total: f64 = self.site_weights.iter().sum::<f64>() - own;
            let mut chosen = ext.site;
            if total > 0.0 {
                let mut x = rng.gen_range(0.0..total);
                for (i, w) in self.site_weights.iter().enumerate() {
                    if i == ext.site || *w <= 0.0 {
                        continue;
                    }
                    chosen = i;
                    if x < *w {
                        break;
                    }
                    x -= w;
                }
            }
            chosen
        } else {
            ext.site
        };
        let candidates = self.site_exts.get(target_site)?;
        let mut callee = *candidates.get(rng.gen_range(0..candidates.len()))?;
        if callee == caller && candidates.len() > 1 {
            // Re-draw among the others: nobody calls themselves.
            let i = rng.gen_range(0..candidates.len() - 1);
            callee = candidates.iter().copied().filter(|c| *c != caller).nth(i)?;
        }
        let callee_ext = self.exts.get(callee)?;
        let dir = if target_site == ext.site {
            CallDirection::InternalSameSite
        } else {
            CallDirection::InternalOtherSite
        };
        let talk = self.duration(rng, DestinationClass::OnNet);
        self.record(
            rng,
            date,
            dir,
            talk,
            (Some(ext), ext.number.clone()),
            (Some(callee_ext), callee_ext.number.clone()),
        )
    }
}

impl Iterator for Generator<'_> {
    type Item = CallRecord;

    fn next(&mut self) -> Option<CallRecord> {
        loop {
            if let Some(r) = self.today.pop() {
                return Some(r);
            }
            if self.day > self.to {
                return None;
            }
            let d = self.day;
            self.fill_day(d);
            self.day = match d.succ_opt() {
                Some(n) => n,
                None => {
                    self.to = d;
                    d + Duration::days(1)
                }
            };
        }
    }
}

/// A pool of numbers that the plan classifies as `class`, drawn from its prefix rules.
fn number_pool(
    dataset: &Dataset,
    class: DestinationClass,
    rng: &mut ChaCha8Rng,
) -> Result<Vec<String>, SyntheticError> {
    let plan = &dataset.numbering;
    let rules: Vec<_> = plan
        .prefixes()
        .iter()
        .chain(plan.international_rules())
        .filter(|r| r.class == class)
        .collect();
    if rules.is_empty() {
        return Err(SyntheticError::NoNumbers(class));
    }
    let mut out = Vec::with_capacity(POOL);
    for _ in 0..POOL * 50 {
        if out.len() == POOL {
            break;
        }
        let Some(rule) = rules.get(rng.gen_range(0..rules.len())) else {
            break;
        };
        // Variable-length (international) numbers: 12 digits with the "00".
        let len = if rule.len == 0 {
            12
        } else {
            usize::from(rule.len)
        };
        let mut n = rule.prefix.clone();
        while n.len() < len {
            n.push(char::from(b'0' + rng.gen_range(0..10u8)));
        }
        if plan.classify(&n).class == class {
            out.push(n);
        }
    }
    if out.is_empty() {
        Err(SyntheticError::NoNumbers(class))
    } else {
        Ok(out)
    }
}

/// Poisson count (Knuth's method for small means, normal approximation above 30).
fn poisson(rng: &mut ChaCha8Rng, mean: f64) -> u32 {
    if mean <= 0.0 || !mean.is_finite() {
        return 0;
    }
    if mean > 30.0 {
        let z = standard_normal(rng);
        return (mean + mean.sqrt() * z).round().max(0.0) as u32;
    }
    let limit = (-mean).exp();
    let mut k = 0u32;
    let mut p = 1.0;
    loop {
        p *= rng.gen_range(0.0..1.0f64);
        if p <= limit {
            return k;
        }
        k += 1;
    }
}

/// Box–Muller.
fn standard_normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = rng.gen_range(f64::MIN_POSITIVE..1.0);
    let u2: f64 = rng.gen_range(0.0..1.0);
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Whole seconds from a lognormal with the given mean and σ.
fn lognormal_seconds(rng: &mut ChaCha8Rng, mean: f64, sigma: f64) -> u32 {
    let mu = mean.ln() - sigma * sigma / 2.0;
    let x = (mu + sigma * standard_normal(rng)).exp();
    x.round().clamp(1.0, MAX_TALK_S) as u32
}

fn pick_weighted<T: Copy>(rng: &mut ChaCha8Rng, items: &[(T, f64)]) -> Option<T> {
    let total: f64 = items.iter().map(|(_, w)| w).sum();
    if total <= 0.0 {
        return None;
    }
    let mut x = rng.gen_range(0.0..total);
    for (item, w) in items {
        if x < *w {
            return Some(*item);
        }
        x -= w;
    }
    items.last().map(|(i, _)| *i)
}

#[cfg(test)]
mod tests;
