//! Savings (finance): old world versus new per month, cumulative saving against the
//! yearly target, operating and full-cost views, the verdict sentence, assumptions and
//! the sensitivity table, all from `billing::savings`. Whether the data is real or
//! synthetic is shown at the top of the page, always.

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use billing::{Period, SavingsReport};
use chrono::{Datelike, NaiveDate};
use maud::{Markup, html};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use crate::AppState;
use crate::auth::Principal;
use crate::http::costs::CostQuery;
use crate::http::error::{HttpError, HttpResult};
use crate::i18n::Msg;
use crate::layout::page;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/savings", get(savings))
        .route("/savings.csv", get(savings_csv))
        .route("/savings.xlsx", get(savings_xlsx))
}

fn period(q: &CostQuery) -> HttpResult<Period> {
    let parse = |s: &Option<String>, what: &str| -> HttpResult<Option<NaiveDate>> {
        match s.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => Ok(None),
            Some(v) => NaiveDate::parse_from_str(v, "%Y-%m-%d")
                .map(Some)
                .map_err(|_| HttpError::Invalid(format!("{what} {v:?}: use YYYY-MM-DD"))),
        }
    };
    let today = chrono::Utc::now().date_naive();
    let from = parse(&q.from, "from")?
        .or_else(|| NaiveDate::from_ymd_opt(today.year(), 1, 1))
        .unwrap_or(today);
    let to = parse(&q.to, "to")?.unwrap_or(today);
    Period::new(from, to).map_err(|e| HttpError::Invalid(e.to_string()))
}

/// The months of a period, each clipped to it.
fn months(p: Period) -> Vec<Period> {
    let mut out = Vec::new();
    let mut start = p.from;
    while start <= p.to {
        let next = if start.month() == 12 {
            NaiveDate::from_ymd_opt(start.year() + 1, 1, 1)
        } else {
            NaiveDate::from_ymd_opt(start.year(), start.month() + 1, 1)
        };
        let Some(next) = next else { break };
        let end = next.pred_opt().unwrap_or(next).min(p.to);
        if let Ok(m) = Period::new(start, end) {
            out.push(m);
        }
        start = next;
    }
    out
}

/// The whole-period report and one per month, merged from the per-day aggregates (only
/// days with new or changed records are rated again).
pub async fn build(
    state: &AppState,
    period: Period,
) -> HttpResult<(SavingsReport, Vec<SavingsReport>)> {
    let month_periods = months(period);
    if month_periods.len() > 120 {
        return Err(HttpError::Invalid("period longer than ten years".into()));
    }
    let totals = state.reports.period(&state.store, period).await?;
    Ok((
        totals.savings(period),
        month_periods.iter().map(|m| totals.savings(*m)).collect(),
    ))
}

fn nok(d: Decimal) -> String {
    format!("{:.0}", d.round_dp(0))
}

/// Per month: old (legacy total) and new (operating total) bars side by side.
fn month_bars(title: &str, legend: (&str, &str), rows: &[(String, Decimal, Decimal)]) -> Markup {
    let max = rows
        .iter()
        .flat_map(|(_, a, b)| [*a, *b])
        .max()
        .unwrap_or(Decimal::ZERO)
        .to_f64()
        .unwrap_or(0.0)
        .max(1e-9);
    let slot = 600.0 / rows.len().max(1) as f64;
    let bar = (slot / 2.0 - 4.0).clamp(2.0, 30.0);
    html! {
        svg class="chart" id="savings-chart" xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 640 260" width="640" height="260" {
            title { (title) }
            line x1="30" y1="220" x2="630" y2="220" stroke="#4a4a4a" {}
            @for (i, (label, old, new)) in rows.iter().enumerate() {
                @let x = 30.0 + i as f64 * slot + 4.0;
                @let ho = old.to_f64().unwrap_or(0.0) / max * 190.0;
                @let hn = new.to_f64().unwrap_or(0.0) / max * 190.0;
                rect x=(format!("{x:.1}")) y=(format!("{:.1}", 220.0 - ho)) width=(format!("{bar:.1}")) height=(format!("{ho:.1}")) fill="#a3161b" {}
                rect x=(format!("{:.1}", x + bar + 2.0)) y=(format!("{:.1}", 220.0 - hn)) width=(format!("{bar:.1}")) height=(format!("{hn:.1}")) fill="#17612b" {}
                text x=(format!("{x:.1}")) y="238" font-size="11" fill="#1b1b1b" { (label) }
            }
            rect x="30" y="248" width="10" height="10" fill="#a3161b" {}
            text x="44" y="257" font-size="11" fill="#1b1b1b" { (legend.0) }
            rect x="140" y="248" width="10" height="10" fill="#17612b" {}
            text x="154" y="257" font-size="11" fill="#1b1b1b" { (legend.1) }
        }
    }
}

/// Cumulative operating saving against the target pro-rated by days.
fn cumulative_line(title: &str, points: &[(String, Decimal, Decimal)]) -> Markup {
    let max = points
        .iter()
        .flat_map(|(_, s, t)| [s.abs(), t.abs()])
        .max()
        .unwrap_or(Decimal::ZERO)
        .to_f64()
        .unwrap_or(0.0)
        .max(1e-9);
    let n = points.len().max(1) as f64;
    let step = if n > 1.0 { 560.0 / (n - 1.0) } else { 0.0 };
    let y = |v: &Decimal| 120.0 - v.to_f64().unwrap_or(0.0) / max * 100.0;
    let line = |pick: fn(&(String, Decimal, Decimal)) -> Decimal| -> String {
        points
            .iter()
            .enumerate()
            .map(|(i, p)| format!("{:.1},{:.1}", 40.0 + i as f64 * step, y(&pick(p))))
            .collect::<Vec<_>>()
            .join(" ")
    };
    html! {
        svg class="chart" xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 640 250" width="640" height="250" {
            title { (title) }
            line x1="40" y1="120" x2="600" y2="120" stroke="#4a4a4a" {}
            polyline points=(line(|p| p.2)) fill="none" stroke="#4a4a4a" stroke-dasharray="6 4" stroke-width="2" {}
            polyline points=(line(|p| p.1)) fill="none" stroke="#17612b" stroke-width="3" {}
            @for (i, (label, saving, _)) in points.iter().enumerate() {
                @let x = 40.0 + i as f64 * step;
                text x=(format!("{x:.1}")) y="240" font-size="11" text-anchor="middle" fill="#1b1b1b" { (label) }
                text x=(format!("{x:.1}")) y=(format!("{:.1}", y(saving) - 8.0)) font-size="11" text-anchor="middle" fill="#1b1b1b" { (nok(*saving)) }
            }
        }
    }
}

async fn savings(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Query(q): Query<CostQuery>,
) -> HttpResult<Html<String>> {
    let lang = p.lang;
    let period = period(&q)?;
    let (r, monthly) = build(&state, period).await?;
    let qs = format!("from={}&to={}", period.from, period.to);
    let synthetic = r.basis.synthetic_records > 0;
    let rows: Vec<(String, Decimal, Decimal)> = monthly
        .iter()
        .map(|m| {
            (
                m.period.from.format("%Y-%m").to_string(),
                m.period_costs.legacy_total,
                m.period_costs.new_operating_total,
            )
        })
        .collect();
    let mut cum = Decimal::ZERO;
    let mut days = 0i64;
    let cumulative: Vec<(String, Decimal, Decimal)> = monthly
        .iter()
        .map(|m| {
            cum += m.period_costs.operating_saving;
            days += m.basis.calendar_days;
            (
                m.period.from.format("%Y-%m").to_string(),
                cum,
                r.target_per_year * Decimal::from(days) / Decimal::from(365),
            )
        })
        .collect();
    let views = [
        (Msg::OldWorld, r.annual.legacy_total, r.annual.legacy_total),
        (
            Msg::NewWorld,
            r.annual.new_operating_total,
            r.annual.new_full_total,
        ),
        (
            Msg::Saving,
            r.annual.operating_saving,
            r.annual.full_cost_saving,
        ),
    ];
    Ok(page(
        &p,
        "/savings",
        Msg::Savings.get(lang),
        html! {
            p id="data-basis" class=(if synthetic { "error" } else { "notice" }) {
                @if synthetic {
                    (Msg::SyntheticData.get(lang)) " (" (r.basis.synthetic_records) " / " (r.basis.records) ")"
                } @else {
                    (Msg::RealData.get(lang)) " (" (r.basis.records) ")"
                }
            }
            form method="get" action="/savings" {
                label for="from" { (Msg::From.get(lang)) } input id="from" name="from" type="date" value=(period.from.to_string());
                label for="to" { (Msg::To.get(lang)) } input id="to" name="to" type="date" value=(period.to.to_string());
                p { button type="submit" { (Msg::Filter.get(lang)) } }
            }
            p id="verdict" class="notice" { strong { (crate::i18n::savings_verdict(lang, &r)) } }
            p { a href={ "/savings.csv?" (qs) } { (Msg::ExportCsv.get(lang)) } " · " a href={ "/savings.xlsx?" (qs) } { (Msg::DownloadXlsx.get(lang)) } }
            h2 { (Msg::PerYear.get(lang)) }
            table {
                thead { tr { th scope="col" {} th scope="col" { (Msg::Operating.get(lang)) } th scope="col" { (Msg::FullCost.get(lang)) } } }
                tbody {
                    @for (label, op, full) in views { tr { th scope="row" { (label.get(lang)) } td { (nok(op)) } td { (nok(full)) } } }
                    tr { th scope="row" { (Msg::Target.get(lang)) } td { (nok(r.target_per_year)) } td { (nok(r.target_per_year)) } }
                }
            }
            h2 { (Msg::PerMonth.get(lang)) }
            (month_bars(Msg::PerMonth.get(lang), (Msg::OldWorld.get(lang), Msg::NewWorld.get(lang)), &rows))
            table {
                thead { tr { th scope="col" { (Msg::Month.get(lang)) } th scope="col" { (Msg::OldWorld.get(lang)) } th scope="col" { (Msg::NewWorld.get(lang)) } th scope="col" { (Msg::Cumulative.get(lang)) } th scope="col" { (Msg::Target.get(lang)) } } }
                tbody { @for ((m, old, new), (_, c, t)) in rows.iter().zip(&cumulative) { tr { td { (m) } td { (nok(*old)) } td { (nok(*new)) } td { (nok(*c)) } td { (nok(*t)) } } } }
            }
            h2 { (Msg::Cumulative.get(lang)) }
            (cumulative_line(Msg::Cumulative.get(lang), &cumulative))
            h2 { (Msg::Sensitivity.get(lang)) }
            table {
                thead { tr { th scope="col" { (Msg::Input.get(lang)) } th scope="col" { (Msg::BaseValue.get(lang)) } th scope="col" { (Msg::Weight.get(lang)) } th scope="col" { (Msg::FlipOperating.get(lang)) } th scope="col" { (Msg::FlipFull.get(lang)) } } }
                tbody { @for s in &r.sensitivity { @let (description, unit) = crate::i18n::sensitivity_words(lang, s); tr {
                    td { (description) @if s.is_assumption { " *" } } td { (s.base_value) " " (unit) } td { (nok(s.weight_per_year)) }
                    td { (s.operating_flip_at.map(|v| v.round_dp(2).to_string()).unwrap_or_else(|| "–".into())) }
                    td { (s.full_cost_flip_at.map(|v| v.round_dp(2).to_string()).unwrap_or_else(|| "–".into())) }
                } } }
            }
            h2 { (Msg::Assumptions.get(lang)) }
            ul { @for a in &r.assumptions { li { code { (a.input) } ": " (a.comment) } } }
            @if !r.notes.is_empty() { ul id="notes" { @for n in crate::i18n::savings_notes(lang, &r) { li { (n) } } } }
        },
    ))
}

async fn savings_csv(
    State(state): State<AppState>,
    Query(q): Query<CostQuery>,
) -> HttpResult<Response> {
    let (r, _) = build(&state, period(&q)?).await?;
    let mut out = Vec::new();
    billing::report::write_savings_csv(&r, &mut out).map_err(|e| {
        tracing::error!(error = %e, "savings CSV failed");
        HttpError::Internal
    })?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"savings.csv\"",
            ),
        ],
        out,
    )
        .into_response())
}

async fn savings_xlsx(
    State(state): State<AppState>,
    Query(q): Query<CostQuery>,
) -> HttpResult<Response> {
    let (r, _) = build(&state, period(&q)?).await?;
    let mut out = Vec::new();
    billing::report::write_savings_xlsx(&r, &mut out).map_err(|e| {
        tracing::error!(error = %e, "savings XLSX failed");
        HttpError::Internal
    })?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            ),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"savings.xlsx\"",
            ),
        ],
        out,
    )
        .into_response())
}
