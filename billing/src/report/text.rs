//! Plain-text tables for a terminal (`--format table`).

use super::CostReport;
use crate::money::format_nok;
use crate::savings::SavingsReport;
use rust_decimal::Decimal;
use std::fmt::Write as _;

fn nok2(d: Decimal) -> String {
    // Whole kroner with thousands spaces, then the øre.
    let ore = (d.abs().fract() * Decimal::from(100)).round().to_string();
    let sign = if d.is_sign_negative() && !d.is_zero() {
        "−"
    } else {
        ""
    };
    format!("{sign}{}.{:0>2}", format_nok(d.abs().trunc()), ore)
}

/// A cost report as an aligned table; `top` limits the rows (the total is always shown).
pub fn costs_table(report: &CostReport, top: Option<usize>) -> String {
    let rows = top.map_or(&report.rows[..], |n| report.top(n));
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Call costs by {} from {} to {} (NOK ex VAT; live = tariff valid on the day)",
        report.dimension.as_str(),
        report.period.from,
        report.period.to
    );
    let _ = writeln!(
        out,
        "{:<40} {:>9} {:>11} {:>14} {:>14} {:>14}",
        "", "calls", "minutes", "live", "old world", "new world"
    );
    for r in rows.iter().chain(std::iter::once(&report.total)) {
        let label: String = r.label.chars().take(40).collect();
        let _ = writeln!(
            out,
            "{:<40} {:>9} {:>11.1} {:>14} {:>14} {:>14}",
            label,
            r.calls,
            r.talk_seconds as f64 / 60.0,
            nok2(r.cost),
            nok2(r.legacy_cost),
            nok2(r.new_cost)
        );
    }
    if report.unrated > 0 {
        let _ = writeln!(
            out,
            "{} calls could not be rated and count as 0.",
            report.unrated
        );
    }
    out
}

/// The savings report as text: verdict, yearly figures, basis, breakdowns, sensitivity.
pub fn savings_table(r: &SavingsReport) -> String {
    let mut out = String::new();
    let a = &r.annual;
    let _ = writeln!(out, "{}\n", r.verdict.sentence);
    let _ = writeln!(
        out,
        "Per year (NOK ex VAT)                      {:>14} {:>14} {:>14}",
        "old world", "new world", "saving"
    );
    for (label, l, n) in [
        (
            "calls (annualised by calendar days)",
            a.legacy_traffic,
            a.new_traffic,
        ),
        ("fixed costs", a.legacy_fixed, a.new_fixed),
        ("operating view", a.legacy_total, a.new_operating_total),
        (
            "full-cost view (incl. investment annuity)",
            a.legacy_total,
            a.new_full_total,
        ),
    ] {
        let _ = writeln!(
            out,
            "{label:<42} {:>14} {:>14} {:>14}",
            format_nok(l),
            format_nok(n),
            format_nok(l - n)
        );
    }
    let w = &r.annual_by_working_days;
    let _ = writeln!(
        out,
        "annualised by working days instead: operating saving {}, full-cost {}; target {}\n",
        format_nok(w.operating_saving),
        format_nok(w.full_cost_saving),
        format_nok(r.target_per_year)
    );
    let b = &r.basis;
    let _ = writeln!(
        out,
        "Data: {} to {}, {} calendar days ({} working days), {} calls ({:.1} % synthetic), {} days with calls; not rated: {} old world, {} new world.\n",
        r.period.from,
        r.period.to,
        b.calendar_days,
        b.working_days,
        b.records,
        b.share_synthetic * 100.0,
        b.days_with_calls,
        b.unrated_legacy,
        b.unrated_new
    );
    for (title, rows) in [
        ("site", &r.by_site),
        ("department", &r.by_department),
        ("destination class", &r.by_class),
    ] {
        let _ = writeln!(
            out,
            "By {title:<37} {:>9} {:>14} {:>14} {:>14}",
            "calls", "old calls", "new calls", "saving/year"
        );
        for x in rows.iter() {
            let label: String = x.label.chars().take(40).collect();
            let _ = writeln!(
                out,
                "  {label:<40} {:>9} {:>14} {:>14} {:>14}",
                x.calls,
                nok2(x.legacy_traffic),
                nok2(x.new_traffic),
                format_nok(x.saving_per_year)
            );
        }
        out.push('\n');
    }
    let _ = writeln!(out, "What would flip the verdict (one input at a time):");
    for s in &r.sensitivity {
        let show = |v: Option<Decimal>| {
            v.map_or_else(|| "no flip".to_owned(), |d| d.normalize().to_string())
        };
        let _ = writeln!(
            out,
            "  {:<52} base {:>10} {:<10} operating flips at {:>12}, full cost at {:>12}{}",
            s.description,
            s.base_value.normalize().to_string(),
            s.unit,
            show(s.operating_flip_at),
            show(s.full_cost_flip_at),
            if s.is_assumption {
                "  (assumption)"
            } else {
                ""
            }
        );
    }
    let _ = writeln!(
        out,
        "\nAssumptions behind these figures (from the data file's comments):"
    );
    for x in &r.assumptions {
        let _ = writeln!(out, "  {}: {}", x.input, x.comment);
    }
    let _ = writeln!(out, "\nNotes:");
    for n in &r.notes {
        let _ = writeln!(out, "  - {n}");
    }
    out
}
