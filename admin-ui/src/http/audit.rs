//! The audit log (admin): the newest entries on the page, the whole log as CSV or XLSX.

use axum::extract::State;
use axum::response::{Html, Response};
use axum::routing::get;
use axum::{Extension, Router};
use maud::html;

use crate::AppState;
use crate::auth::Principal;
use crate::http::download::{self, Format};
use crate::http::error::HttpResult;
use crate::i18n::Msg;
use crate::layout::page;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/audit", get(list))
        .route("/audit.csv", get(audit_csv))
        .route("/audit.xlsx", get(audit_xlsx))
}

/// Entries on the page; the downloads hold every entry.
const SHOWN: u32 = 200;

async fn list(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
) -> HttpResult<Html<String>> {
    let lang = p.lang;
    let entries = state.store.audit_log(SHOWN).await?;
    Ok(page(
        &p,
        "/audit",
        Msg::AuditLog.get(lang),
        html! {
            p { (Msg::AuditShowsNewest.get(lang)) }
            (download::links(lang, "/audit", ""))
            table {
                thead { tr {
                    th scope="col" { (Msg::Time.get(lang)) } th scope="col" { (Msg::Who.get(lang)) }
                    th scope="col" { (Msg::Action.get(lang)) } th scope="col" { (Msg::Detail.get(lang)) }
                    th scope="col" { (Msg::FromWhere.get(lang)) }
                } }
                tbody { @for e in &entries { tr {
                    td { (e.at.format("%Y-%m-%d %H:%M:%S")) } td { (e.actor) } td { (e.action) }
                    td { (e.detail) } td { (e.source) }
                } } }
            }
        },
    ))
}

async fn audit_download(state: &AppState, format: Format) -> HttpResult<Response> {
    let entries = state.store.audit_log(u32::MAX).await?;
    download::send(&[download::audit(&entries)], format, "audit")
}

async fn audit_csv(State(state): State<AppState>) -> HttpResult<Response> {
    audit_download(&state, Format::Csv).await
}

async fn audit_xlsx(State(state): State<AppState>) -> HttpResult<Response> {
    audit_download(&state, Format::Xlsx).await
}
