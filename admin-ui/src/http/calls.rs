//! Live calls (with a hang-up button) and call records (filtered, paged, CSV export).

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use chrono::{DateTime, NaiveDate, Utc};
use maud::html;
use serde::{Deserialize, Serialize};
use store::StoredCallRecord;

use crate::AppState;
use crate::auth::Principal;
use crate::http::audit;
use crate::http::error::{HttpError, HttpResult};
use crate::i18n::Msg;
use crate::layout::{csrf, page};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/live", get(live))
        .route("/live/{id}/hangup", post(hang_up))
        .route("/calls", get(records))
        .route("/calls.csv", get(records_csv))
        .route("/calls.xlsx", get(records_xlsx))
}

fn duration(since: DateTime<Utc>) -> String {
    let s = (Utc::now() - since).num_seconds().max(0);
    format!("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
}

async fn live(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
) -> HttpResult<Html<String>> {
    let lang = p.lang;
    let calls = state.live.active_calls();
    Ok(page(
        &p,
        "/live",
        Msg::LiveCalls.get(lang),
        html! {
            p class="visually-hidden" { (Msg::LiveUpdates.get(lang)) }
            table data-live="reload" {
                thead { tr {
                    th scope="col" { (Msg::Caller.get(lang)) } th scope="col" { (Msg::Callee.get(lang)) }
                    th scope="col" { (Msg::Started.get(lang)) } th scope="col" { (Msg::Duration.get(lang)) }
                    th scope="col" { (Msg::State.get(lang)) }
                    @if p.is_admin() { th scope="col" { (Msg::Actions.get(lang)) } }
                } }
                tbody { @for c in &calls { tr {
                    td { (c.caller) } td { (c.callee) } td { (c.started_at.format("%H:%M:%S")) }
                    td { (duration(c.answered_at.unwrap_or(c.started_at))) } td { (c.state) }
                    @if p.is_admin() { td {
                        form class="inline" method="post" action={ "/live/" (c.id) "/hangup" } {
                            (csrf(&p))
                            button class="danger" type="submit" aria-label={ (Msg::HangUp.get(lang)) ": " (c.caller) " → " (c.callee) } { (Msg::HangUp.get(lang)) }
                        }
                    } }
                } } }
            }
            @if calls.is_empty() { p { (Msg::None.get(lang)) } }
        },
    ))
}

async fn hang_up(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<u64>,
) -> HttpResult<Response> {
    if !state.live.hang_up(id) {
        return Err(HttpError::NotFound);
    }
    audit(&state, &p, "call.hang_up", format!("call {id}")).await;
    Ok(Redirect::to("/live").into_response())
}

/// Filters of the call record list; every field optional. Dates are whole UTC days,
/// `to` inclusive.
#[derive(Deserialize, Serialize, Default, Debug, Clone)]
pub struct RecordQuery {
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub to: Option<String>,
    #[serde(default)]
    pub site: Option<String>,
    #[serde(default)]
    pub department: Option<String>,
    #[serde(default)]
    pub extension: Option<String>,
    #[serde(default)]
    pub direction: Option<String>,
    #[serde(default)]
    pub outcome: Option<String>,
    #[serde(default)]
    pub page: Option<u32>,
}

pub const PAGE_SIZE: usize = 50;

fn day(s: &Option<String>, what: &str) -> HttpResult<Option<NaiveDate>> {
    match s.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(v) => NaiveDate::parse_from_str(v, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| HttpError::Invalid(format!("{what} {v:?}: use YYYY-MM-DD"))),
    }
}

fn opt(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// The store's filter for `q`: dates are whole UTC days, `to` inclusive.
fn call_query(q: &RecordQuery) -> HttpResult<store::CallQuery> {
    let from = day(&q.from, "from")?
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc());
    let to = day(&q.to, "to")?
        .and_then(|d| d.succ_opt())
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc());
    let owned = |s: &Option<String>| opt(s).map(str::to_owned);
    Ok(store::CallQuery {
        from,
        to,
        site: owned(&q.site),
        department: owned(&q.department),
        extension: owned(&q.extension),
        direction: owned(&q.direction),
        outcome: owned(&q.outcome),
    })
}

/// Every record matching `q`, newest first (all pages), filtered in SQL (the XLSX
/// download: the workbook is built in memory anyway).
pub async fn select(state: &AppState, q: &RecordQuery) -> HttpResult<Vec<StoredCallRecord>> {
    Ok(state
        .store
        .call_record_page(&call_query(q)?, 0, u32::MAX)
        .await?)
}

/// Page `q.page` (from 1) of the records matching `q`, newest first, and how many match
/// in all: both in SQL, so a year of records is never read for one page.
pub async fn select_page(
    state: &AppState,
    q: &RecordQuery,
) -> HttpResult<(Vec<StoredCallRecord>, u64)> {
    let query = call_query(q)?;
    let page_no = u64::from(q.page.unwrap_or(1).max(1));
    let offset = (page_no - 1) * PAGE_SIZE as u64;
    let (rows, total) = tokio::try_join!(
        state
            .store
            .call_record_page(&query, offset, PAGE_SIZE as u32),
        state.store.count_matching_calls(&query),
    )?;
    Ok((rows, total))
}

const DIRECTIONS: [&str; 5] = [
    "internal_same_site",
    "internal_other_site",
    "outbound",
    "inbound",
    "emergency",
];
const OUTCOMES: [&str; 7] = [
    "answered",
    "busy",
    "no_answer",
    "cancelled",
    "failed",
    "rejected_by_policy",
    "interrupted",
];

async fn records(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Query(q): Query<RecordQuery>,
) -> HttpResult<Html<String>> {
    let lang = p.lang;
    let (shown, total) = select_page(&state, &q).await?;
    let page_no = q.page.unwrap_or(1).max(1) as usize;
    let pages = usize::try_from(total)
        .unwrap_or(usize::MAX)
        .div_ceil(PAGE_SIZE)
        .max(1);
    let sites = state.store.sites().await?;
    let depts = state.store.departments().await?;
    let link = |n: usize| {
        let mut q2 = q.clone();
        q2.page = Some(n as u32);
        format!(
            "/calls?{}",
            serde_urlencoded::to_string(&q2).unwrap_or_default()
        )
    };
    let csv_link = format!(
        "/calls.csv?{}",
        serde_urlencoded::to_string(RecordQuery {
            page: None,
            ..q.clone()
        })
        .unwrap_or_default()
    );
    let sel = |v: &Option<String>, o: &str| v.as_deref() == Some(o);
    Ok(page(
        &p,
        "/calls",
        Msg::CallRecords.get(lang),
        html! {
            form method="get" action="/calls" {
                label for="from" { (Msg::From.get(lang)) } input id="from" name="from" type="date" value=(q.from.clone().unwrap_or_default());
                label for="to" { (Msg::To.get(lang)) } input id="to" name="to" type="date" value=(q.to.clone().unwrap_or_default());
                label for="site" { (Msg::Site.get(lang)) }
                select id="site" name="site" { option value="" { (Msg::Any.get(lang)) } @for s in &sites { option value=(s.code) selected[sel(&q.site, &s.code)] { (s.name) } } }
                label for="department" { (Msg::Department.get(lang)) }
                select id="department" name="department" { option value="" { (Msg::Any.get(lang)) } @for d in &depts { option value=(d.name) selected[sel(&q.department, &d.name)] { (d.name) } } }
                label for="extension" { (Msg::Extensions.get(lang)) } input id="extension" name="extension" value=(q.extension.clone().unwrap_or_default());
                label for="direction" { (Msg::Direction.get(lang)) }
                select id="direction" name="direction" { option value="" { (Msg::Any.get(lang)) } @for d in DIRECTIONS { option value=(d) selected[sel(&q.direction, d)] { (d) } } }
                label for="outcome" { (Msg::Outcome.get(lang)) }
                select id="outcome" name="outcome" { option value="" { (Msg::Any.get(lang)) } @for o in OUTCOMES { option value=(o) selected[sel(&q.outcome, o)] { (o) } } }
                p { button type="submit" { (Msg::Filter.get(lang)) } }
            }
            p { a href=(csv_link) { (Msg::ExportCsv.get(lang)) } " · " a href=(csv_link.replacen("/calls.csv", "/calls.xlsx", 1)) { (Msg::DownloadXlsx.get(lang)) } " · " (total) }
            table {
                thead { tr {
                    th scope="col" { (Msg::Started.get(lang)) } th scope="col" { (Msg::Caller.get(lang)) } th scope="col" { (Msg::Callee.get(lang)) }
                    th scope="col" { (Msg::Direction.get(lang)) } th scope="col" { (Msg::Outcome.get(lang)) }
                    th scope="col" { (Msg::Duration.get(lang)) } th scope="col" { (Msg::Cost.get(lang)) }
                } }
                tbody { @for r in &shown { tr {
                    td { (r.started_at.format("%Y-%m-%d %H:%M")) }
                    td { (r.caller_extension.as_deref().unwrap_or(&r.caller_number)) }
                    td { (r.callee_extension.as_deref().unwrap_or(&r.callee_number)) }
                    td { (r.direction.as_str()) } td { (r.disposition.map(|d| d.as_str()).unwrap_or("–")) }
                    td { (r.talk_seconds) " s" } td { (r.cost_new.map(|c| c.to_string()).unwrap_or_default()) }
                } } }
            }
            nav aria-label=(Msg::Page.get(lang)) {
                p {
                    @if page_no > 1 { a href=(link(page_no - 1)) rel="prev" { (Msg::Previous.get(lang)) } " " }
                    (Msg::Page.get(lang)) " " (page_no) " / " (pages)
                    @if page_no < pages { " " a href=(link(page_no + 1)) rel="next" { (Msg::Next.get(lang)) } }
                }
            }
        },
    ))
}

/// CSV lines of `rows`, after the header line when `header` is set.
fn csv_lines(rows: &[StoredCallRecord], header: bool) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    if header {
        w.write_record(super::download::CALL_RECORD_COLUMNS)?;
    }
    for r in rows {
        let o = |s: &Option<String>| s.clone().unwrap_or_default();
        w.write_record([
            r.id.to_string(),
            r.started_at.to_rfc3339(),
            r.answered_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
            r.ended_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
            r.direction.as_str().to_string(),
            r.disposition
                .map(|d| d.as_str().to_string())
                .unwrap_or_default(),
            o(&r.caller_extension),
            r.caller_number.clone(),
            o(&r.caller_site),
            o(&r.caller_department),
            o(&r.callee_extension),
            r.callee_number.clone(),
            o(&r.callee_site),
            o(&r.callee_department),
            o(&r.trunk),
            r.talk_seconds.to_string(),
            r.cost_new.map(|c| c.to_string()).unwrap_or_default(),
            r.cost_old.map(|c| c.to_string()).unwrap_or_default(),
            r.synthetic.to_string(),
        ])?;
    }
    w.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}

/// XLSX of every matching record (all pages).
async fn records_xlsx(
    State(state): State<AppState>,
    Query(q): Query<RecordQuery>,
) -> HttpResult<Response> {
    let rows = select(&state, &q).await?;
    crate::http::download::send(
        &[crate::http::download::call_records(&rows)],
        crate::http::download::Format::Xlsx,
        "calls",
    )
}

/// Records per chunk of a CSV export: one query and one piece of the response each.
const CSV_CHUNK: u32 = 5_000;

/// Where a CSV export stands between chunks.
struct CsvExport {
    state: AppState,
    query: store::CallQuery,
    /// The last record sent (keyset position); `None` before the first chunk.
    after: Option<(DateTime<Utc>, store::CallRecordId)>,
    started: bool,
    done: bool,
}

/// The next chunk of a CSV export: the header first, then records newest first.
async fn next_csv_chunk(
    mut export: CsvExport,
) -> Result<Option<(Bytes, CsvExport)>, std::io::Error> {
    if export.done {
        return Ok(None);
    }
    let rows = export
        .state
        .store
        .call_records_after(&export.query, export.after, CSV_CHUNK)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "CSV export: reading call records failed");
            std::io::Error::other(e)
        })?;
    let bytes = csv_lines(&rows, !export.started).map_err(|e| {
        tracing::error!(error = %e, "CSV export failed");
        std::io::Error::other(e)
    })?;
    export.started = true;
    export.done = rows.len() < CSV_CHUNK as usize;
    export.after = rows.last().map(|r| (r.started_at, r.id)).or(export.after);
    Ok(Some((Bytes::from(bytes), export)))
}

/// CSV of every matching record, streamed in chunks read by keyset from the store, so a
/// year of records is never in memory at once. A failure after the first chunk can only
/// cut the download short (logged); the status line has gone by then.
async fn records_csv(
    State(state): State<AppState>,
    Query(q): Query<RecordQuery>,
) -> HttpResult<Response> {
    let export = CsvExport {
        state,
        query: call_query(&q)?,
        after: None,
        started: false,
        done: false,
    };
    let body = Body::from_stream(futures_util::stream::try_unfold(export, next_csv_chunk));
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"calls.csv\"",
            ),
        ],
        body,
    )
        .into_response())
}
