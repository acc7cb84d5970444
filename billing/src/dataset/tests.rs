//! Loading the sample and broken variants of it.

use super::*;
use crate::legacy::LegacyPbx;
use crate::numbering::DestinationClass;
use rust_decimal_macros::dec;

fn sample() -> Dataset {
    match Dataset::from_toml_str(SAMPLE_TOML) {
        Ok(d) => d,
        Err(e) => panic!("sample must load: {e}"),
    }
}

/// The sample with one line replaced; returns the error text.
fn broken(find: &str, replace: &str) -> String {
    assert!(
        SAMPLE_TOML.contains(find),
        "fixture text {find:?} not in the sample"
    );
    let text = SAMPLE_TOML.replacen(find, replace, 1);
    match Dataset::from_toml_str(&text) {
        Ok(_) => panic!("{replace:?} must be rejected"),
        Err(e) => e.to_string(),
    }
}

fn line_of_text(needle: &str) -> usize {
    let at = SAMPLE_TOML.find(needle).unwrap_or(0);
    SAMPLE_TOML[..at].matches('\n').count() + 1
}

#[test]
fn sample_loads_with_every_table() {
    let d = sample();
    assert_eq!(d.meta.target_saving_per_year, dec!(250000));
    assert_eq!(d.sites.len(), 24);
    assert_eq!(d.total_extensions(), 313);
    assert_eq!(d.sites.iter().map(|s| s.staff).sum::<u32>(), 840);
    assert_eq!(d.sites.iter().map(|s| s.legacy_bri).sum::<u32>(), 39);
    assert_eq!(
        d.sites
            .iter()
            .filter(|s| s.legacy_pbx == LegacyPbx::Small)
            .count(),
        14
    );
    assert_eq!(d.tariffs.tariffs.len(), 2);
    let legacy = d.tariffs.get("legacy").expect("legacy tariff");
    assert_eq!(legacy.world, World::Legacy);
    assert_eq!(
        legacy.rate_for(DestinationClass::Mobile).map(|r| r.day),
        Some(dec!(1.13))
    );
    assert_eq!(legacy.on_net_other_site_rated_as, DestinationClass::Local);
    assert_eq!(
        legacy.operator_rate("netcom").map(|r| r.day),
        Some(dec!(1.31))
    );
    let new = d.tariffs.get("new").expect("new tariff");
    assert!(new.bands.always_day());
    assert_eq!(d.fixed_costs.new.internal_ops_fte, dec!(0.1));
    assert_eq!(d.fixed_costs.new.investment.interest_rate, dec!(0.04));
    let t = d.traffic.as_ref().expect("traffic");
    assert_eq!(t.external_mix.len(), 16);
    assert!((t.hourly_weekday.iter().sum::<f64>() - 1.0).abs() < 1e-9);
    assert_eq!(d.departments().len(), 6);
    assert_eq!(
        d.numbering
            .classify("63869002")
            .site
            .and_then(|s| d.numbering.site_id(s)),
        Some("radhus")
    );
}

#[test]
fn provenance_marks_assumptions() {
    let d = sample();
    assert!(
        d.provenance
            .is_assumption("fixed_costs.legacy.unit_prices.isdn_pri_per_month")
    );
    assert!(
        !d.provenance
            .is_assumption("fixed_costs.legacy.unit_prices.isdn_bri_per_month")
    );
    assert!(d.provenance.is_assumption("sites[0].staff"));
    assert!(d.provenance.is_assumption("tariffs.new.rates.mobile.day"));
}

#[test]
fn mobile_blend_matches_file() {
    let d = sample();
    let checks = d.mobile_blend_check();
    // 0.55 × 0.95 + 0.34 × 1.31 + 0.11 × 1.48 = 1.1307; the file rounds it to 1.13.
    assert_eq!(
        checks,
        vec![("legacy".to_owned(), Some(dec!(1.13)), dec!(1.1307))]
    );
}

#[test]
fn comma_decimal_names_table_key_and_line() {
    let e = broken(
        "day = \"1.00\"      # assumption: about 12 %",
        "day = \"1,00\"      # assumption: about 12 %",
    );
    let line = line_of_text("day = \"1.00\"      # assumption: about 12 %");
    assert!(
        e.contains(&format!(
            "tariffs.new.rates.mobile.day (line {line}): not a decimal: \"1,00\""
        )),
        "{e}"
    );
}

#[test]
fn number_instead_of_string_is_a_syntax_error_with_path() {
    let e = broken("isdn_bri_per_month = \"193\"", "isdn_bri_per_month = 193");
    let line = line_of_text("isdn_bri_per_month = \"193\"");
    assert!(
        e.contains("fixed_costs.legacy.unit_prices.isdn_bri_per_month"),
        "{e}"
    );
    assert!(e.contains(&format!("line {line}")), "{e}");
}

#[test]
fn misspelt_key_is_rejected() {
    let e = broken(
        "offpeak = \"0.11\"  # nearest documented",
        "ofpeak = \"0.11\"  # nearest documented",
    );
    assert!(e.contains("tariffs.legacy.rates.local"), "{e}");
    assert!(e.contains("ofpeak"), "{e}");
}

#[test]
fn unknown_class_and_bad_date_and_negative_price_all_reported() {
    let text = SAMPLE_TOML
        .replacen(
            "{ prefix = \"4\", class = \"mobile\", len = 8 }",
            "{ prefix = \"4\", class = \"mobil\", len = 8 }",
            1,
        )
        .replacen(
            "valid_from = \"2006-01-01\"",
            "valid_from = \"2006-13-01\"",
            1,
        )
        .replacen(
            "setup = \"0.59\"    # nearest documented (current, not 2005)",
            "setup = \"-0.59\"    # x",
            1,
        );
    let e = match Dataset::from_toml_str(&text) {
        Ok(_) => panic!("must be rejected"),
        Err(e) => e,
    };
    let problems = e.problems();
    assert_eq!(problems.len(), 3, "{e}");
    let s = e.to_string();
    assert!(
        s.contains(&format!(
            "numbering.prefixes[12].class (line {}): unknown destination class \"mobil\"",
            line_of_text("{ prefix = \"4\", class = \"mobile\"")
        )),
        "{s}"
    );
    assert!(s.contains("tariffs.new.valid_from"), "{s}");
    assert!(s.contains("tariffs.legacy.rates.shared_cost.setup"), "{s}");
    assert!(s.contains("must not be negative"), "{s}");
}

#[test]
fn overlapping_and_malformed_sites() {
    let e = broken("did_first = \"63869800\"", "did_first = \"6386980\"");
    assert!(e.contains("sites[1].did_first"), "{e}");
    assert!(e.contains("not a 8-digit national number"), "{e}");
    let e = broken("did_last = \"63869399\"", "did_last = \"63869400\"");
    assert!(e.contains("overlap"), "{e}");
    let e = broken("legacy_pbx = \"large\"", "legacy_pbx = \"huge\"");
    assert!(e.contains("sites[0].legacy_pbx"), "{e}");
}

#[test]
fn missing_time_band_and_not_toml() {
    let e = broken("time_bands = \"flat\"", "time_bands = \"flatt\"");
    assert!(e.contains("tariffs.new.time_bands"), "{e}");
    assert!(e.contains("no [time_bands.flatt] table"), "{e}");
    match Dataset::from_toml_str("[meta\nname = 1") {
        Err(DatasetError::Syntax(p)) => assert_eq!(p.line, Some(1)),
        other => panic!("expected a syntax error, got {other:?}"),
    }
}

#[test]
fn hourly_shares_must_sum_to_one() {
    let e = broken(
        "0.001, 0.0,                      # 22-23",
        "0.001, 0.1,                      # 22-23",
    );
    assert!(e.contains("traffic.hourly_weekday.shares"), "{e}");
    assert!(e.contains("not 1"), "{e}");
}

#[test]
fn tariff_file_alone() {
    let text = r#"
[time_bands.flat]
weekday_day_start_hour = 0
weekday_day_end_hour = 24
weekends_offpeak = false
public_holidays_offpeak = false
split_call_across_bands = false

[tariffs.new-2007]
valid_from = "2007-01-01"
valid_to = "2007-12-31"
time_bands = "flat"
first_increment_s = 30
next_increment_s = 10
minimum_charge = "0.50"
[tariffs.new-2007.rates.on_net]
setup = "0"
day = "0"
offpeak = "0"
[tariffs.new-2007.rates.local]
setup = "0.10"
day = "0.12"
offpeak = "0.12"
"#;
    let f = match TariffFile::from_toml_str(text) {
        Ok(f) => f,
        Err(e) => panic!("{e}"),
    };
    let t = f.tariffs.get("new-2007").expect("tariff");
    assert_eq!(t.world, World::New);
    assert_eq!(t.minimum_charge, dec!(0.50));
    assert_eq!(t.billed_seconds(31), 40);
    let bad = text
        .replace("[tariffs.new-2007]", "[tariffs.tender-2007]")
        .replace("tariffs.new-2007.", "tariffs.tender-2007.");
    let e = TariffFile::from_toml_str(&bad)
        .map(|_| ())
        .expect_err("world cannot be inferred");
    assert!(e.to_string().contains("tariffs.tender-2007"), "{e}");
    assert!(e.to_string().contains("world"), "{e}");
}
