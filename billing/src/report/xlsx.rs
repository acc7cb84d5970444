//! XLSX export (rust_xlsxwriter): one sheet per breakdown, money formatted with thousands
//! separators and two decimals, a bold header row frozen at the top.
//!
//! XLSX stores numbers as IEEE doubles, so cells hold the exact decimal amounts converted
//! once; amounts below 10¹³ NOK keep every øre.

use super::{CostReport, ReportError};
use crate::savings::{BreakdownRow, SavingsReport};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use rust_xlsxwriter::{Format, Workbook, Worksheet};
use std::io::Write;

pub(super) struct Formats {
    pub(super) header: Format,
    pub(super) money: Format,
    pub(super) int: Format,
    pub(super) minutes: Format,
    pub(super) bold_money: Format,
}

pub(super) fn formats() -> Formats {
    Formats {
        header: Format::new().set_bold(),
        money: Format::new().set_num_format("#,##0.00"),
        int: Format::new().set_num_format("#,##0"),
        minutes: Format::new().set_num_format("#,##0.0"),
        bold_money: Format::new().set_bold().set_num_format("#,##0.00"),
    }
}

pub(super) fn num(d: Decimal) -> f64 {
    d.to_f64().unwrap_or(0.0)
}

/// Sheet names: at most 31 characters, none of `[]:*?/\`.
pub(super) fn sheet_name(s: &str) -> String {
    s.chars()
        .filter(|c| !"[]:*?/\\".contains(*c))
        .take(31)
        .collect()
}

pub(super) fn header(ws: &mut Worksheet, f: &Formats, cols: &[&str]) -> Result<(), ReportError> {
    for (i, c) in cols.iter().enumerate() {
        ws.write_string_with_format(0, i as u16, *c, &f.header)?;
    }
    ws.set_freeze_panes(1, 0)?;
    Ok(())
}

pub(super) fn finish<W: Write>(mut wb: Workbook, mut w: W) -> Result<(), ReportError> {
    let bytes = wb.save_to_buffer()?;
    w.write_all(&bytes)?;
    w.flush()?;
    Ok(())
}

/// Cost reports, one sheet each (e.g. all five dimensions from one `CostReportBuilder`).
pub fn write_costs_xlsx<W: Write>(reports: &[CostReport], w: W) -> Result<(), ReportError> {
    let f = formats();
    let mut wb = Workbook::new();
    for rep in reports {
        let ws = wb.add_worksheet();
        ws.set_name(sheet_name(&format!("by {}", rep.dimension.as_str())))?;
        header(
            ws,
            &f,
            &[
                rep.dimension.as_str(),
                "label",
                "calls",
                "answered",
                "talk minutes",
                "cost NOK",
                "legacy NOK",
                "new NOK",
            ],
        )?;
        for (row, r) in (1u32..).zip(rep.rows.iter().chain(std::iter::once(&rep.total))) {
            let money = if row as usize == rep.rows.len() + 1 {
                &f.bold_money
            } else {
                &f.money
            };
            ws.write_string(row, 0, &r.key)?;
            ws.write_string(row, 1, &r.label)?;
            ws.write_number_with_format(row, 2, r.calls as f64, &f.int)?;
            ws.write_number_with_format(row, 3, r.answered as f64, &f.int)?;
            ws.write_number_with_format(row, 4, r.talk_seconds as f64 / 60.0, &f.minutes)?;
            ws.write_number_with_format(row, 5, num(r.cost), money)?;
            ws.write_number_with_format(row, 6, num(r.legacy_cost), money)?;
            ws.write_number_with_format(row, 7, num(r.new_cost), money)?;
        }
        ws.autofit();
    }
    finish(wb, w)
}

fn breakdown_sheet(
    wb: &mut Workbook,
    f: &Formats,
    name: &str,
    rows: &[BreakdownRow],
) -> Result<(), ReportError> {
    let ws = wb.add_worksheet();
    ws.set_name(sheet_name(name))?;
    header(
        ws,
        f,
        &[
            "key",
            "label",
            "calls",
            "talk minutes",
            "legacy traffic NOK",
            "new traffic NOK",
            "legacy fixed NOK/year",
            "new fixed NOK/year",
            "saving NOK/year",
        ],
    )?;
    for (i, r) in rows.iter().enumerate() {
        let row = i as u32 + 1;
        ws.write_string(row, 0, &r.key)?;
        ws.write_string(row, 1, &r.label)?;
        ws.write_number_with_format(row, 2, r.calls as f64, &f.int)?;
        ws.write_number_with_format(row, 3, num(r.talk_minutes), &f.minutes)?;
        for (c, v) in [
            r.legacy_traffic,
            r.new_traffic,
            r.legacy_fixed_per_year,
            r.new_fixed_per_year,
            r.saving_per_year,
        ]
        .into_iter()
        .enumerate()
        {
            ws.write_number_with_format(row, 4 + c as u16, num(v), &f.money)?;
        }
    }
    ws.autofit();
    Ok(())
}

/// The savings report: summary, breakdowns by site, department and class, fixed costs,
/// sensitivity and assumptions, one sheet each.
pub fn write_savings_xlsx<W: Write>(report: &SavingsReport, w: W) -> Result<(), ReportError> {
    let f = formats();
    let mut wb = Workbook::new();
    {
        let ws = wb.add_worksheet();
        ws.set_name("summary")?;
        header(
            ws,
            &f,
            &["per year", "old world NOK", "new world NOK", "saving NOK"],
        )?;
        let a = &report.annual;
        type SummaryRow<'a> = (&'a str, Option<Decimal>, Option<Decimal>, Option<Decimal>);
        let rows: [SummaryRow<'_>; 6] = [
            (
                "call costs (annualised by calendar days)",
                Some(a.legacy_traffic),
                Some(a.new_traffic),
                Some(a.legacy_traffic - a.new_traffic),
            ),
            (
                "fixed costs",
                Some(a.legacy_fixed),
                Some(a.new_fixed),
                Some(a.legacy_fixed - a.new_fixed),
            ),
            (
                "operating view",
                Some(a.legacy_total),
                Some(a.new_operating_total),
                Some(a.operating_saving),
            ),
            ("investment annuity", None, Some(a.investment_annuity), None),
            (
                "full-cost view",
                Some(a.legacy_total),
                Some(a.new_full_total),
                Some(a.full_cost_saving),
            ),
            ("target", None, None, Some(report.target_per_year)),
        ];
        for (i, (label, l, n, s)) in rows.iter().enumerate() {
            let row = i as u32 + 1;
            ws.write_string(row, 0, *label)?;
            for (c, v) in [l, n, s].into_iter().enumerate() {
                if let Some(v) = v {
                    ws.write_number_with_format(row, 1 + c as u16, num(*v), &f.money)?;
                }
            }
        }
        let mut row = rows.len() as u32 + 2;
        ws.write_string_with_format(row, 0, &report.verdict.sentence, &f.header)?;
        row += 2;
        let b = &report.basis;
        for (k, v) in [
            (
                "period",
                format!("{} to {}", report.period.from, report.period.to),
            ),
            ("calendar days", b.calendar_days.to_string()),
            ("working days", b.working_days.to_string()),
            ("calls in period", b.records.to_string()),
            (
                "share synthetic",
                format!("{:.1} %", b.share_synthetic * 100.0),
            ),
            (
                "not rated (legacy / new)",
                format!("{} / {}", b.unrated_legacy, b.unrated_new),
            ),
        ] {
            ws.write_string(row, 0, k)?;
            ws.write_string(row, 1, &v)?;
            row += 1;
        }
        row += 1;
        for n in &report.notes {
            ws.write_string(row, 0, n)?;
            row += 1;
        }
        ws.set_column_width(0, 45)?;
        ws.set_column_width(1, 16)?;
        ws.set_column_width(2, 16)?;
        ws.set_column_width(3, 16)?;
    }
    breakdown_sheet(&mut wb, &f, "by site", &report.by_site)?;
    breakdown_sheet(&mut wb, &f, "by department", &report.by_department)?;
    breakdown_sheet(&mut wb, &f, "by class", &report.by_class)?;
    {
        let ws = wb.add_worksheet();
        ws.set_name("fixed costs")?;
        header(
            ws,
            &f,
            &[
                "world",
                "item",
                "site",
                "quantity",
                "unit price NOK",
                "per year ×",
                "NOK/year",
                "operating",
            ],
        )?;
        for (i, l) in report.fixed_costs.iter().enumerate() {
            let row = i as u32 + 1;
            ws.write_string(row, 0, l.world.as_str())?;
            ws.write_string(row, 1, &l.description)?;
            ws.write_string(row, 2, l.site.as_deref().unwrap_or(crate::savings::CENTRAL))?;
            ws.write_number(row, 3, num(l.quantity))?;
            ws.write_number_with_format(row, 4, num(l.unit_price), &f.money)?;
            ws.write_number(row, 5, f64::from(l.periods_per_year))?;
            ws.write_number_with_format(row, 6, num(l.annual), &f.money)?;
            ws.write_boolean(row, 7, l.operating)?;
        }
        ws.autofit();
    }
    {
        let ws = wb.add_worksheet();
        ws.set_name("sensitivity")?;
        header(
            ws,
            &f,
            &[
                "input",
                "description",
                "unit",
                "base",
                "weight NOK/year",
                "operating verdict flips at",
                "full-cost verdict flips at",
                "assumption",
            ],
        )?;
        for (i, s) in report.sensitivity.iter().enumerate() {
            let row = i as u32 + 1;
            ws.write_string(row, 0, &s.input)?;
            ws.write_string(row, 1, &s.description)?;
            ws.write_string(row, 2, &s.unit)?;
            ws.write_number(row, 3, num(s.base_value))?;
            ws.write_number_with_format(row, 4, num(s.weight_per_year), &f.money)?;
            for (c, v) in [s.operating_flip_at, s.full_cost_flip_at]
                .into_iter()
                .enumerate()
            {
                match v {
                    Some(v) => ws.write_number(row, 5 + c as u16, num(v))?,
                    None => ws.write_string(row, 5 + c as u16, "no flip")?,
                };
            }
            ws.write_boolean(row, 7, s.is_assumption)?;
        }
        ws.autofit();
    }
    {
        let ws = wb.add_worksheet();
        ws.set_name("assumptions")?;
        header(ws, &f, &["input", "comment in the data file"])?;
        for (i, a) in report.assumptions.iter().enumerate() {
            ws.write_string(i as u32 + 1, 0, &a.input)?;
            ws.write_string(i as u32 + 1, 1, &a.comment)?;
        }
        ws.autofit();
    }
    finish(wb, w)
}
