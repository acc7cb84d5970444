//! Costs (finance): a period picker; totals by site, department, extension, destination
//! class and month from `billing::report`, as tables and SVG charts drawn here (bars, and
//! a line for the months); CSV of one breakdown and XLSX of all, with billing's writers.

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use billing::{CostReport, Dataset, Dimension, Period};
use chrono::{Datelike, NaiveDate, Utc};
use maud::{Markup, html};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::Deserialize;

use crate::AppState;
use crate::auth::Principal;
use crate::http::error::{HttpError, HttpResult};
use crate::i18n::Msg;
use crate::layout::page;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/costs", get(costs))
        .route("/costs.csv", get(costs_csv))
        .route("/costs.xlsx", get(costs_xlsx))
}

#[derive(Deserialize, Default, Clone)]
pub struct CostQuery {
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub to: Option<String>,
    #[serde(default)]
    pub by: Option<String>,
}

/// The billing dataset in force: the active dataset file, with a newer tariff file's
/// tariffs in place of its own (as `sentral report` does).
pub async fn active_dataset(state: &AppState) -> HttpResult<Dataset> {
    crate::reports::active_dataset(&state.store).await
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
    let today = Utc::now().date_naive();
    let from = parse(&q.from, "from")?
        .or_else(|| NaiveDate::from_ymd_opt(today.year(), 1, 1))
        .unwrap_or(today);
    let to = parse(&q.to, "to")?.unwrap_or(today);
    Period::new(from, to).map_err(|e| HttpError::Invalid(e.to_string()))
}

fn dimension(s: Option<&str>) -> HttpResult<Dimension> {
    match s.unwrap_or("site") {
        "site" => Ok(Dimension::Site),
        "department" => Ok(Dimension::Department),
        "extension" => Ok(Dimension::Extension),
        "class" => Ok(Dimension::Class),
        "month" => Ok(Dimension::Month),
        other => Err(HttpError::Invalid(format!(
            "by {other:?}: site, department, extension, class or month"
        ))),
    }
}

/// One report per dimension in `dims` over the period, merged from the per-day
/// aggregates (only days with new or changed records are rated again).
pub async fn build(
    state: &AppState,
    period: Period,
    dims: &[Dimension],
) -> HttpResult<Vec<CostReport>> {
    Ok(state
        .reports
        .period(&state.store, period)
        .await?
        .cost_reports(period, dims))
}

fn nok(d: Decimal) -> String {
    format!("{:.2}", d.round_dp(2))
}

/// Horizontal bars, longest = full width. Drawn as plain SVG (no script), with a title
/// for assistive technology; the table next to it carries the same numbers.
pub fn bar_chart(title: &str, rows: &[(String, Decimal)]) -> Markup {
    let max = rows
        .iter()
        .map(|(_, v)| *v)
        .max()
        .unwrap_or(Decimal::ZERO)
        .to_f64()
        .unwrap_or(0.0)
        .max(1e-9);
    let row_h = 24.0;
    let height = row_h * rows.len() as f64 + 10.0;
    html! {
        svg class="chart" xmlns="http://www.w3.org/2000/svg" role="img" viewBox={ "0 0 640 " (height) } width="640" height=(height) {
            title { (title) }
            @for (i, (label, value)) in rows.iter().enumerate() {
                @let y = i as f64 * row_h + 5.0;
                @let w = (value.to_f64().unwrap_or(0.0) / max * 380.0).max(0.0);
                text x="0" y=(y + 16.0) font-size="13" fill="#1b1b1b" { (label) }
                rect x="170" y=(y + 3.0) width=(format!("{w:.1}")) height="16" fill="#0b4f8a" {}
                text x=(format!("{:.1}", 176.0 + w)) y=(y + 16.0) font-size="13" fill="#1b1b1b" { (nok(*value)) }
            }
        }
    }
}

/// A line through the monthly totals, with a dot and label per month.
pub fn line_chart(title: &str, points: &[(String, Decimal)]) -> Markup {
    let max = points
        .iter()
        .map(|(_, v)| *v)
        .max()
        .unwrap_or(Decimal::ZERO)
        .to_f64()
        .unwrap_or(0.0)
        .max(1e-9);
    let n = points.len().max(1) as f64;
    let step = if n > 1.0 { 560.0 / (n - 1.0) } else { 0.0 };
    let coords: Vec<(f64, f64)> = points
        .iter()
        .enumerate()
        .map(|(i, (_, v))| {
            (
                40.0 + i as f64 * step,
                200.0 - v.to_f64().unwrap_or(0.0) / max * 170.0,
            )
        })
        .collect();
    let path: String = coords
        .iter()
        .map(|(x, y)| format!("{x:.1},{y:.1}"))
        .collect::<Vec<_>>()
        .join(" ");
    html! {
        svg class="chart" xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 640 240" width="640" height="240" {
            title { (title) }
            line x1="40" y1="200" x2="600" y2="200" stroke="#4a4a4a" {}
            polyline points=(path) fill="none" stroke="#0b4f8a" stroke-width="2" {}
            @for ((x, y), (label, value)) in coords.iter().zip(points) {
                circle cx=(format!("{x:.1}")) cy=(format!("{y:.1}")) r="3" fill="#0b4f8a" {}
                text x=(format!("{x:.1}")) y="220" font-size="11" text-anchor="middle" fill="#1b1b1b" { (label) }
                text x=(format!("{x:.1}")) y=(format!("{:.1}", y - 8.0)) font-size="11" text-anchor="middle" fill="#1b1b1b" { (nok(*value)) }
            }
        }
    }
}

fn dim_title(d: Dimension) -> Msg {
    match d {
        Dimension::Site => Msg::Site,
        Dimension::Department => Msg::Department,
        Dimension::Extension => Msg::Extensions,
        Dimension::Class => Msg::DestinationClass,
        Dimension::Month => Msg::Month,
    }
}

async fn costs(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Query(q): Query<CostQuery>,
) -> HttpResult<Html<String>> {
    let lang = p.lang;
    let period = period(&q)?;
    let reports = build(&state, period, &Dimension::ALL).await?;
    let qs = format!("from={}&to={}", period.from, period.to);
    Ok(page(
        &p,
        "/costs",
        Msg::Costs.get(lang),
        html! {
            form method="get" action="/costs" {
                label for="from" { (Msg::From.get(lang)) } input id="from" name="from" type="date" value=(period.from.to_string());
                label for="to" { (Msg::To.get(lang)) } input id="to" name="to" type="date" value=(period.to.to_string());
                p { button type="submit" { (Msg::Filter.get(lang)) } }
            }
            p { a href={ "/costs.xlsx?" (qs) } { (Msg::DownloadXlsx.get(lang)) } }
            @if let Some(first) = reports.first() {
                p { (Msg::Total.get(lang)) ": " strong id="cost-total" { (nok(first.total.cost)) " NOK" } " · " (first.total.calls) " " (Msg::CallRecords.get(lang).to_lowercase()) }
            }
            @for r in &reports {
                @let title = dim_title(r.dimension).get(lang);
                section aria-labelledby={ "h-" (r.dimension.as_str()) } {
                    h2 id={ "h-" (r.dimension.as_str()) } { (title) }
                    @let top: Vec<(String, Decimal)> = r.top(10).iter().map(|row| (row.label.clone(), row.cost)).collect();
                    @if r.dimension == Dimension::Month {
                        (line_chart(title, &r.rows.iter().map(|row| (row.label.clone(), row.cost)).collect::<Vec<_>>()))
                    } @else {
                        (bar_chart(title, &top))
                    }
                    table {
                        thead { tr { th scope="col" { (title) } th scope="col" { (Msg::Calls.get(lang)) } th scope="col" { (Msg::Minutes.get(lang)) } th scope="col" { (Msg::Cost.get(lang)) " (NOK)" } } }
                        tbody { @for row in &r.rows { tr { td { (row.label) } td { (row.calls) } td { (row.talk_seconds / 60) } td { (nok(row.cost)) } } } }
                    }
                    p { a href={ "/costs.csv?" (qs) "&by=" (r.dimension.as_str()) } { (Msg::ExportCsv.get(lang)) } }
                }
            }
        },
    ))
}

async fn costs_csv(
    State(state): State<AppState>,
    Query(q): Query<CostQuery>,
) -> HttpResult<Response> {
    let period = period(&q)?;
    let dim = dimension(q.by.as_deref())?;
    let reports = build(&state, period, &[dim]).await?;
    let report = reports.first().ok_or(HttpError::Internal)?;
    let mut out = Vec::new();
    billing::report::write_costs_csv(report, &mut out).map_err(|e| {
        tracing::error!(error = %e, "costs CSV failed");
        HttpError::Internal
    })?;
    let name = format!("attachment; filename=\"costs-{}.csv\"", dim.as_str());
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, name),
        ],
        out,
    )
        .into_response())
}

async fn costs_xlsx(
    State(state): State<AppState>,
    Query(q): Query<CostQuery>,
) -> HttpResult<Response> {
    let period = period(&q)?;
    let reports = build(&state, period, &Dimension::ALL).await?;
    let mut out = Vec::new();
    billing::report::write_costs_xlsx(&reports, &mut out).map_err(|e| {
        tracing::error!(error = %e, "costs XLSX failed");
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
                "attachment; filename=\"costs.xlsx\"",
            ),
        ],
        out,
    )
        .into_response())
}
