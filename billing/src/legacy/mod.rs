//! Fixed costs of both worlds: the old world's per-site exchanges and lines, the new
//! world's trunk, support and operations, and the investment as an annuity.
//!
//! Owns turning the data file's unit prices and the sites' inventories into annual cost
//! lines, and pro-rating an annual amount exactly to any period by days. Never rates calls.

use crate::money;
use crate::tariff::World;
use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// What kind of exchange a site had in the old world.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LegacyPbx {
    Large,
    Small,
    None,
}

/// `[fixed_costs.legacy.unit_prices]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegacyUnitPrices {
    pub isdn_bri_per_month: Decimal,
    pub analogue_line_per_month: Decimal,
    pub isdn_pri_per_month: Decimal,
    pub pbx_service_large_per_year: Decimal,
    pub pbx_service_small_per_year: Decimal,
    pub voice_tie_line_per_month: Decimal,
    pub voice_tie_lines: u32,
}

/// `[fixed_costs.new.investment]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Investment {
    pub servers_and_gateways: Decimal,
    pub ip_phone_each: Decimal,
    pub lan_poe_per_site: Decimal,
    pub project_and_installation: Decimal,
    pub lifetime_years: u32,
    pub interest_rate: Decimal,
}

/// `[fixed_costs.new]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewFixedCosts {
    pub sip_trunk_channels: u32,
    pub sip_trunk_per_channel_per_month: Decimal,
    pub platform_support_per_year: Decimal,
    pub internal_ops_fte: Decimal,
    pub fte_cost_per_year: Decimal,
    pub licences_per_year: Decimal,
    pub investment: Investment,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FixedCosts {
    pub legacy: LegacyUnitPrices,
    pub new: NewFixedCosts,
}

/// The parts of a site the fixed costs depend on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteLines {
    pub site: String,
    pub extensions: u32,
    pub legacy_pbx: LegacyPbx,
    pub legacy_pri: u32,
    pub legacy_bri: u32,
    pub legacy_analogue: u32,
    pub legacy_analogue_kept: u32,
}

/// One line of the fixed-cost table: quantity × unit price × periods per year.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FixedCostLine {
    pub world: World,
    /// Stable key, also the data file key the unit price comes from.
    pub item: String,
    pub description: String,
    /// The site the cost belongs to; `None` for central costs.
    pub site: Option<String>,
    pub quantity: Decimal,
    pub unit_price: Decimal,
    /// 12 for monthly prices, 1 for yearly ones.
    pub periods_per_year: u32,
    pub annual: Decimal,
    /// Included in the operating view (false only for the investment annuity).
    pub operating: bool,
}

fn line(
    world: World,
    item: &str,
    description: &str,
    site: Option<&str>,
    quantity: Decimal,
    unit_price: Decimal,
    periods_per_year: u32,
) -> FixedCostLine {
    FixedCostLine {
        world,
        item: item.to_owned(),
        description: description.to_owned(),
        site: site.map(str::to_owned),
        quantity,
        unit_price,
        periods_per_year,
        annual: quantity * unit_price * Decimal::from(periods_per_year),
        operating: true,
    }
}

/// The annuity factor r / (1 − (1 + r)^−n): the constant yearly payment per NOK invested
/// that repays it with interest over n years. With r = 0 it is 1/n.
pub fn annuity_factor(rate: Decimal, years: u32) -> Decimal {
    if years == 0 {
        return Decimal::ZERO;
    }
    if rate.is_zero() {
        return Decimal::ONE / Decimal::from(years);
    }
    let mut growth = Decimal::ONE;
    for _ in 0..years {
        growth *= Decimal::ONE + rate;
    }
    // r·(1+r)^n / ((1+r)^n − 1), the same value without a negative power.
    rate * growth / (growth - Decimal::ONE)
}

impl Investment {
    /// Total investment for a number of extensions (one phone each) and sites.
    pub fn total(&self, extensions: u32, sites: u32) -> Decimal {
        self.servers_and_gateways
            + self.ip_phone_each * Decimal::from(extensions)
            + self.lan_poe_per_site * Decimal::from(sites)
            + self.project_and_installation
    }

    pub fn annuity(&self, extensions: u32, sites: u32) -> Decimal {
        self.total(extensions, sites) * annuity_factor(self.interest_rate, self.lifetime_years)
    }
}

impl FixedCosts {
    /// The old world's fixed cost lines, per site, exact (not rounded).
    pub fn legacy_lines(&self, sites: &[SiteLines]) -> Vec<FixedCostLine> {
        let p = &self.legacy;
        let mut out = Vec::new();
        for s in sites {
            let site = Some(s.site.as_str());
            let q = |n: u32| Decimal::from(n);
            if s.legacy_pri > 0 {
                out.push(line(
                    World::Legacy,
                    "isdn_pri_per_month",
                    "ISDN-30 (PRI)",
                    site,
                    q(s.legacy_pri),
                    p.isdn_pri_per_month,
                    12,
                ));
            }
            if s.legacy_bri > 0 {
                out.push(line(
                    World::Legacy,
                    "isdn_bri_per_month",
                    "ISDN-2 (BRI)",
                    site,
                    q(s.legacy_bri),
                    p.isdn_bri_per_month,
                    12,
                ));
            }
            if s.legacy_analogue > 0 {
                out.push(line(
                    World::Legacy,
                    "analogue_line_per_month",
                    "analogue voice line (replaced)",
                    site,
                    q(s.legacy_analogue),
                    p.analogue_line_per_month,
                    12,
                ));
            }
            match s.legacy_pbx {
                LegacyPbx::Large => out.push(line(
                    World::Legacy,
                    "pbx_service_large_per_year",
                    "exchange service, large",
                    site,
                    Decimal::ONE,
                    p.pbx_service_large_per_year,
                    1,
                )),
                LegacyPbx::Small => out.push(line(
                    World::Legacy,
                    "pbx_service_small_per_year",
                    "exchange service, small",
                    site,
                    Decimal::ONE,
                    p.pbx_service_small_per_year,
                    1,
                )),
                LegacyPbx::None => {}
            }
            if s.legacy_analogue_kept > 0 {
                out.push(line(
                    World::Legacy,
                    "analogue_line_per_month",
                    "analogue alarm/lift line (kept)",
                    site,
                    q(s.legacy_analogue_kept),
                    p.analogue_line_per_month,
                    12,
                ));
            }
        }
        if p.voice_tie_lines > 0 {
            out.push(line(
                World::Legacy,
                "voice_tie_line_per_month",
                "leased tie line between exchanges",
                None,
                Decimal::from(p.voice_tie_lines),
                p.voice_tie_line_per_month,
                12,
            ));
        }
        out
    }

    /// The new world's fixed cost lines; the investment annuity last, marked not operating.
    pub fn new_lines(&self, sites: &[SiteLines]) -> Vec<FixedCostLine> {
        let n = &self.new;
        let mut out = Vec::new();
        for s in sites {
            if s.legacy_analogue_kept > 0 {
                out.push(line(
                    World::New,
                    "analogue_line_per_month",
                    "analogue alarm/lift line (kept)",
                    Some(&s.site),
                    Decimal::from(s.legacy_analogue_kept),
                    self.legacy.analogue_line_per_month,
                    12,
                ));
            }
        }
        out.push(line(
            World::New,
            "sip_trunk_per_channel_per_month",
            "SIP trunk channels",
            None,
            Decimal::from(n.sip_trunk_channels),
            n.sip_trunk_per_channel_per_month,
            12,
        ));
        out.push(line(
            World::New,
            "platform_support_per_year",
            "platform support",
            None,
            Decimal::ONE,
            n.platform_support_per_year,
            1,
        ));
        out.push(line(
            World::New,
            "fte_cost_per_year",
            "internal operations (FTE share)",
            None,
            n.internal_ops_fte,
            n.fte_cost_per_year,
            1,
        ));
        out.push(line(
            World::New,
            "licences_per_year",
            "licences",
            None,
            Decimal::ONE,
            n.licences_per_year,
            1,
        ));
        let extensions: u32 = sites.iter().map(|s| s.extensions).sum();
        let inv = &n.investment;
        let mut annuity = line(
            World::New,
            "investment",
            "investment annuity",
            None,
            inv.total(extensions, sites.len() as u32),
            annuity_factor(inv.interest_rate, inv.lifetime_years),
            1,
        );
        annuity.operating = false;
        out.push(annuity);
        out
    }
}

/// Number of days from `from` to `to`, both included (0 if `to` < `from`).
pub fn days_inclusive(from: NaiveDate, to: NaiveDate) -> i64 {
    ((to - from).num_days() + 1).max(0)
}

fn days_in_year(year: i32) -> i64 {
    if NaiveDate::from_ymd_opt(year, 2, 29).is_some() {
        366
    } else {
        365
    }
}

/// An annual amount pro-rated to the days `from..=to`: each day carries 1/365 (1/366 in
/// a leap year) of the amount, so a whole calendar year gets exactly the annual amount
/// and any split of a period into parts adds up (before rounding) to the whole.
pub fn pro_rate(annual: Decimal, from: NaiveDate, to: NaiveDate) -> Decimal {
    if to < from {
        return Decimal::ZERO;
    }
    let mut total = Decimal::ZERO;
    let mut start = from;
    loop {
        let year = start.year();
        let year_end = NaiveDate::from_ymd_opt(year, 12, 31).unwrap_or(to);
        let end = year_end.min(to);
        let days = days_inclusive(start, end);
        total += annual * Decimal::from(days) / Decimal::from(days_in_year(year));
        match end.succ_opt() {
            Some(next) if end < to => start = next,
            _ => break,
        }
    }
    total
}

/// Sum of the annual amounts of some lines.
pub fn sum_annual<'a>(lines: impl IntoIterator<Item = &'a FixedCostLine>) -> Decimal {
    lines.into_iter().map(|l| l.annual).sum()
}

/// Rounded to øre for display; the sums above stay exact.
pub fn rounded(d: Decimal) -> Decimal {
    money::round_ore(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("date")
    }

    #[test]
    fn annuity_4_percent_5_years() {
        let f = annuity_factor(dec!(0.04), 5);
        // 0.04 · 1.04^5 / (1.04^5 − 1) = 0.2246271135…
        assert_eq!(f.round_dp(10), dec!(0.2246271135));
        let inv = Investment {
            servers_and_gateways: dec!(150000),
            ip_phone_each: dec!(1500),
            lan_poe_per_site: dec!(7500),
            project_and_installation: dec!(150000),
            lifetime_years: 5,
            interest_rate: dec!(0.04),
        };
        assert_eq!(inv.total(313, 24), dec!(949500));
        // RESEARCH.md: 213 283 per year.
        assert_eq!(inv.annuity(313, 24).round_dp(0), dec!(213283));
        assert_eq!(annuity_factor(dec!(0), 4), dec!(0.25));
    }

    #[test]
    fn pro_rating_by_days() {
        assert_eq!(
            pro_rate(dec!(36500), d(2006, 1, 1), d(2006, 12, 31)),
            dec!(36500)
        );
        assert_eq!(
            pro_rate(dec!(36500), d(2006, 1, 1), d(2006, 1, 31)),
            dec!(3100)
        );
        // Leap year: 366 days carry the whole amount.
        assert_eq!(
            pro_rate(dec!(36600), d(2008, 1, 1), d(2008, 12, 31)),
            dec!(36600)
        );
        // Across a year end: 1 day of 2005 and 1 day of 2006.
        assert_eq!(pro_rate(dec!(365), d(2005, 12, 31), d(2006, 1, 1)), dec!(2));
        assert_eq!(pro_rate(dec!(365), d(2006, 1, 2), d(2006, 1, 1)), dec!(0));
        // Parts add up to the whole.
        let a = pro_rate(dec!(1000), d(2006, 1, 1), d(2006, 4, 17));
        let b = pro_rate(dec!(1000), d(2006, 4, 18), d(2006, 12, 31));
        assert_eq!((a + b).round_dp(20), dec!(1000));
    }
}
