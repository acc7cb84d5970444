//! CSV (RFC 4180: comma separated, CRLF line ends, fields with `,`, `"` or line breaks
//! quoted, quotes doubled). Money is written as plain decimals with a point ("1234.50"),
//! which every spreadsheet imports as a number.

use super::{CostReport, ReportError, call_costs, local_time_string};
use crate::call_record::CallRecord;
use crate::period::Period;
use crate::rating::Rater;
use crate::savings::{BreakdownRow, SavingsReport};
use std::borrow::Borrow;
use std::io::Write;

/// Quotes a field when RFC 4180 requires it. A text field starting with `=` or `@` gets a
/// leading apostrophe so a spreadsheet does not run it as a formula (CSV injection).
pub(crate) fn field(s: &str) -> String {
    let s = if s.starts_with('=') || s.starts_with('@') {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

pub(super) fn line<W: Write>(w: &mut W, fields: &[String]) -> Result<(), ReportError> {
    let joined: Vec<String> = fields.iter().map(|f| field(f)).collect();
    w.write_all(joined.join(",").as_bytes())?;
    w.write_all(b"\r\n")?;
    Ok(())
}

/// A cost report: one row per group, then the total.
pub fn write_costs_csv<W: Write>(report: &CostReport, mut w: W) -> Result<(), ReportError> {
    line(
        &mut w,
        &[
            report.dimension.as_str(),
            "label",
            "calls",
            "answered",
            "talk_minutes",
            "cost_nok",
            "legacy_cost_nok",
            "new_cost_nok",
        ]
        .map(str::to_owned),
    )?;
    for r in report.rows.iter().chain(std::iter::once(&report.total)) {
        line(
            &mut w,
            &[
                r.key.clone(),
                r.label.clone(),
                r.calls.to_string(),
                r.answered.to_string(),
                format!("{:.1}", r.talk_seconds as f64 / 60.0),
                r.cost.to_string(),
                r.legacy_cost.to_string(),
                r.new_cost.to_string(),
            ],
        )?;
    }
    w.flush()?;
    Ok(())
}

/// The savings report as one table: summary rows, then the breakdowns by site,
/// department and class, then the sensitivity rows.
pub fn write_savings_csv<W: Write>(report: &SavingsReport, mut w: W) -> Result<(), ReportError> {
    line(
        &mut w,
        &[
            "section",
            "key",
            "label",
            "calls",
            "talk_minutes",
            "legacy_nok",
            "new_nok",
            "legacy_fixed_per_year_nok",
            "new_fixed_per_year_nok",
            "saving_per_year_nok",
        ]
        .map(str::to_owned),
    )?;
    let a = &report.annual;
    let s = |x: &str| x.to_owned();
    let e = String::new;
    let summary: Vec<[String; 10]> = vec![
        [
            s("summary"),
            s("traffic_per_year"),
            s("call costs per year (calendar days)"),
            e(),
            e(),
            a.legacy_traffic.to_string(),
            a.new_traffic.to_string(),
            e(),
            e(),
            (a.legacy_traffic - a.new_traffic).to_string(),
        ],
        [
            s("summary"),
            s("fixed_per_year"),
            s("fixed costs per year"),
            e(),
            e(),
            a.legacy_fixed.to_string(),
            a.new_fixed.to_string(),
            e(),
            e(),
            (a.legacy_fixed - a.new_fixed).to_string(),
        ],
        [
            s("summary"),
            s("operating_per_year"),
            s("operating view"),
            e(),
            e(),
            a.legacy_total.to_string(),
            a.new_operating_total.to_string(),
            e(),
            e(),
            a.operating_saving.to_string(),
        ],
        [
            s("summary"),
            s("investment_annuity_per_year"),
            s("investment annuity"),
            e(),
            e(),
            e(),
            a.investment_annuity.to_string(),
            e(),
            e(),
            e(),
        ],
        [
            s("summary"),
            s("full_cost_per_year"),
            s("full-cost view"),
            e(),
            e(),
            a.legacy_total.to_string(),
            a.new_full_total.to_string(),
            e(),
            e(),
            a.full_cost_saving.to_string(),
        ],
        [
            s("summary"),
            s("target_per_year"),
            s("target"),
            e(),
            e(),
            e(),
            e(),
            e(),
            e(),
            report.target_per_year.to_string(),
        ],
        [
            s("summary"),
            s("verdict"),
            report.verdict.sentence.clone(),
            report.basis.records.to_string(),
            e(),
            e(),
            e(),
            e(),
            e(),
            e(),
        ],
    ];
    for row in &summary {
        line(&mut w, row)?;
    }
    let rows = |w: &mut W, section: &str, rows: &[BreakdownRow]| -> Result<(), ReportError> {
        for r in rows {
            line(
                w,
                &[
                    section.to_owned(),
                    r.key.clone(),
                    r.label.clone(),
                    r.calls.to_string(),
                    r.talk_minutes.to_string(),
                    r.legacy_traffic.to_string(),
                    r.new_traffic.to_string(),
                    r.legacy_fixed_per_year.to_string(),
                    r.new_fixed_per_year.to_string(),
                    r.saving_per_year.to_string(),
                ],
            )?;
        }
        Ok(())
    };
    rows(&mut w, "by_site", &report.by_site)?;
    rows(&mut w, "by_department", &report.by_department)?;
    rows(&mut w, "by_class", &report.by_class)?;
    for x in &report.sensitivity {
        let opt = |v: Option<rust_decimal::Decimal>| v.map(|d| d.to_string()).unwrap_or_default();
        line(
            &mut w,
            &[
                s("sensitivity"),
                x.input.clone(),
                format!(
                    "{} ({}); base {}; flips operating at {}, full cost at {}",
                    x.description,
                    x.unit,
                    x.base_value,
                    opt(x.operating_flip_at),
                    opt(x.full_cost_flip_at)
                ),
                e(),
                e(),
                opt(x.operating_flip_at),
                opt(x.full_cost_flip_at),
                e(),
                e(),
                x.weight_per_year.to_string(),
            ],
        )?;
    }
    w.flush()?;
    Ok(())
}

/// Every call in the period with its cost live and in both worlds
/// (`sentral calls export --format csv`). Streams: one record in memory at a time.
pub fn write_calls_csv<W, I>(
    rater: &Rater,
    period: Period,
    records: I,
    mut w: W,
) -> Result<u64, ReportError>
where
    W: Write,
    I: IntoIterator,
    I::Item: Borrow<CallRecord>,
{
    line(
        &mut w,
        &[
            "id",
            "started_at_utc",
            "started_local",
            "direction",
            "disposition",
            "caller_extension",
            "caller_site",
            "caller_department",
            "callee_number",
            "callee_site",
            "class",
            "talk_seconds",
            "cost_nok",
            "tariff",
            "legacy_cost_nok",
            "new_cost_nok",
            "legacy_rule",
            "new_rule",
            "synthetic",
        ]
        .map(str::to_owned),
    )?;
    let mut n = 0u64;
    for r in records {
        let r = r.borrow();
        if !period.contains(r) {
            continue;
        }
        let c = call_costs(rater, r);
        let opt = |d: Option<rust_decimal::Decimal>| d.map(|d| d.to_string()).unwrap_or_default();
        line(
            &mut w,
            &[
                r.id.to_string(),
                r.started_at.to_rfc3339(),
                local_time_string(r),
                r.direction.as_str().to_owned(),
                r.disposition.as_str().to_owned(),
                r.caller_extension.clone().unwrap_or_default(),
                r.caller_site.clone().unwrap_or_default(),
                r.caller_department.clone().unwrap_or_default(),
                r.callee_number.clone(),
                r.callee_site.clone().unwrap_or_default(),
                c.class,
                r.talk_seconds.to_string(),
                opt(c.live_cost),
                c.live_tariff.unwrap_or_default(),
                opt(c.legacy_cost),
                opt(c.new_cost),
                c.legacy_rule,
                c.new_rule,
                r.synthetic.to_string(),
            ],
        )?;
        n += 1;
    }
    w.flush()?;
    Ok(n)
}
