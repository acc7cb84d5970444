//! The data file exactly as written (serde + toml), before validation. Values that later
//! checks may reject keep their span so the error can name the line.

use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

pub(crate) type S<T> = Spanned<T>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDataset {
    pub schema_version: Option<S<i64>>,
    pub meta: Option<RawMeta>,
    #[serde(default)]
    pub sources: BTreeMap<String, String>,
    pub numbering: Option<RawNumbering>,
    #[serde(default)]
    pub time_bands: BTreeMap<String, RawTimeBands>,
    #[serde(default)]
    pub tariffs: BTreeMap<String, S<RawTariff>>,
    pub fixed_costs: Option<RawFixedCosts>,
    #[serde(default)]
    pub sites: Vec<S<RawSite>>,
    pub traffic: Option<RawTraffic>,
}

/// `[meta]` is descriptive; unknown keys are allowed there.
#[derive(Debug, Deserialize)]
pub(crate) struct RawMeta {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub municipality: String,
    #[serde(default)]
    pub currency: Option<S<String>>,
    #[serde(default)]
    pub prices_include_vat: Option<S<bool>>,
    pub reference_year: Option<i32>,
    pub claimed_saving_per_year: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawNumbering {
    pub country_code: S<String>,
    pub international_prefix: S<String>,
    pub trunk_prefix: Option<S<String>>,
    pub national_number_length: S<u8>,
    /// Descriptive: the prefix table's `len` is what classification uses.
    #[allow(dead_code)]
    pub five_digit_length: Option<u8>,
    #[serde(default)]
    pub classes: Vec<S<String>>,
    pub prefixes: Vec<S<RawPrefix>>,
    #[serde(default)]
    pub international: Vec<S<RawPrefix>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPrefix {
    pub prefix: S<String>,
    pub class: S<String>,
    pub len: S<u8>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTimeBands {
    pub weekday_day_start_hour: S<u32>,
    pub weekday_day_end_hour: S<u32>,
    pub weekends_offpeak: bool,
    pub public_holidays_offpeak: bool,
    pub split_call_across_bands: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTariff {
    #[serde(default)]
    pub label: String,
    pub world: Option<S<String>>,
    pub valid_from: S<String>,
    pub valid_to: S<String>,
    pub time_bands: S<String>,
    pub first_increment_s: S<u32>,
    pub next_increment_s: S<u32>,
    #[serde(default)]
    pub minimum_charge_s: u32,
    pub minimum_charge: Option<S<String>>,
    pub on_net_other_site_rated_as: Option<S<String>>,
    #[serde(default = "yes")]
    pub on_net_same_site_free: bool,
    pub rates: BTreeMap<String, S<RawRate>>,
    #[serde(default)]
    pub mobile_by_operator: BTreeMap<String, S<String>>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRate {
    pub setup: S<String>,
    pub day: S<String>,
    pub offpeak: S<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFixedCosts {
    pub legacy: RawLegacyFixed,
    pub new: RawNewFixed,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLegacyFixed {
    pub unit_prices: RawLegacyUnitPrices,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLegacyUnitPrices {
    pub isdn_bri_per_month: S<String>,
    pub analogue_line_per_month: S<String>,
    pub isdn_pri_per_month: S<String>,
    pub pbx_service_large_per_year: S<String>,
    pub pbx_service_small_per_year: S<String>,
    pub voice_tie_line_per_month: S<String>,
    #[serde(default)]
    pub voice_tie_lines: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawNewFixed {
    pub sip_trunk_channels: u32,
    pub sip_trunk_per_channel_per_month: S<String>,
    pub platform_support_per_year: S<String>,
    pub internal_ops_fte: S<f64>,
    pub fte_cost_per_year: S<String>,
    pub licences_per_year: S<String>,
    pub investment: RawInvestment,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawInvestment {
    pub servers_and_gateways: S<String>,
    pub ip_phone_each: S<String>,
    pub lan_poe_per_site: S<String>,
    pub project_and_installation: S<String>,
    pub lifetime_years: S<u32>,
    pub interest_rate: S<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSite {
    pub id: S<String>,
    pub name: String,
    #[serde(default)]
    pub area: String,
    pub department: String,
    pub staff: u32,
    pub extensions: S<u32>,
    pub did_first: S<String>,
    pub did_last: S<String>,
    #[serde(default)]
    pub open_24_7: bool,
    pub legacy_pbx: S<String>,
    #[serde(default)]
    pub legacy_pri: u32,
    #[serde(default)]
    pub legacy_bri: u32,
    #[serde(default)]
    pub legacy_analogue: u32,
    #[serde(default)]
    pub legacy_analogue_kept: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTraffic {
    pub working_days_per_year: S<f64>,
    pub non_working_days_per_year: S<f64>,
    pub weekend_factor_24_7_sites: S<f64>,
    pub weekend_factor_other_sites: S<f64>,
    #[serde(default)]
    pub seed: u64,
    pub holding_time_distribution: S<String>,
    pub lognormal_sigma: S<f64>,
    pub per_extension_per_workday: RawPerExtension,
    pub external_mix: BTreeMap<String, S<f64>>,
    pub mean_duration_s: BTreeMap<String, S<f64>>,
    pub hourly_weekday: RawHourly,
    #[serde(default)]
    pub mobile_operator_share: BTreeMap<String, S<f64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPerExtension {
    pub outgoing_external_calls: S<f64>,
    pub incoming_external_calls: S<f64>,
    pub internal_calls: S<f64>,
    pub intersite_share_of_internal: S<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHourly {
    pub shares: S<Vec<f64>>,
}
