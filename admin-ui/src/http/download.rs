//! Downloads: every table of the UI as CSV and XLSX through the billing crate's shared
//! table writer. Each resource builds its [`Table`] here; the page routes (in the
//! resource's own file) pick the format.

use axum::http::header;
use axum::response::{IntoResponse, Response};
use billing::report::{Cell, Table, write_table_csv, write_tables_xlsx};

use crate::http::error::{HttpError, HttpResult};

/// The two download formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Csv,
    Xlsx,
}

impl Format {
    fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Xlsx => "xlsx",
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        }
    }
}

/// Answers with the tables as an attachment `<stem>.csv|xlsx`. CSV holds the first
/// table (a CSV file has one); XLSX holds each as a sheet.
pub fn send(tables: &[Table], format: Format, stem: &str) -> HttpResult<Response> {
    let mut bytes = Vec::new();
    let written = match format {
        Format::Csv => match tables.first() {
            Some(t) => write_table_csv(t, &mut bytes),
            None => Ok(()),
        },
        Format::Xlsx => write_tables_xlsx(tables, &mut bytes),
    };
    written.map_err(|e| {
        tracing::error!(error = %e, stem, "writing a download failed");
        HttpError::Internal
    })?;
    let disposition = format!("attachment; filename=\"{stem}.{}\"", format.extension());
    Ok((
        [
            (header::CONTENT_TYPE, format.content_type().to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response())
}

/// Links to both formats of a download (`path` without extension; `query` with its `?`
/// or empty).
pub fn links(lang: crate::i18n::Lang, path: &str, query: &str) -> maud::Markup {
    use crate::i18n::Msg;
    maud::html! {
        p class="downloads" {
            a href={ (path) ".csv" (query) } download { (Msg::ExportCsv.get(lang)) }
            " · "
            a href={ (path) ".xlsx" (query) } download { (Msg::DownloadXlsx.get(lang)) }
        }
    }
}

fn ranges(r: &[store::NumberRange]) -> String {
    r.iter()
        .map(|r| format!("{}-{}", r.first, r.last))
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn sites(sites: &[store::Site]) -> Table {
    let mut t = Table::new(
        "sites",
        &["code", "name", "address", "department", "number_ranges"],
    );
    for s in sites {
        t.push(vec![
            s.code.as_str().into(),
            s.name.as_str().into(),
            s.address.as_str().into(),
            s.department.as_deref().into(),
            ranges(&s.number_ranges).into(),
        ]);
    }
    t
}

pub fn departments(depts: &[store::Department]) -> Table {
    let mut t = Table::new("departments", &["id", "name", "cost_centre"]);
    for d in depts {
        t.push(vec![
            Cell::Int(d.id.0),
            d.name.as_str().into(),
            d.cost_centre.as_deref().into(),
        ]);
    }
    t
}

/// The columns of the extensions CSV, which is also the import format.
pub const EXTENSION_COLUMNS: [&str; 7] = [
    "number",
    "display_name",
    "site",
    "department",
    "class_of_service",
    "premium_allowed",
    "enabled",
];

pub fn extensions(exts: &[store::Extension]) -> Table {
    let mut t = Table::new("extensions", &EXTENSION_COLUMNS);
    for e in exts {
        t.push(vec![
            e.number.as_str().into(),
            e.display_name.as_str().into(),
            e.site.as_str().into(),
            e.department.as_deref().into(),
            e.class_of_service.as_str().into(),
            e.premium_allowed.into(),
            e.enabled.into(),
        ]);
    }
    t
}

/// Trunks without secrets: only whether one is set. The provider user name only for
/// admins (`with_username`), as on the page.
pub fn trunks(trunks: &[store::Trunk], with_username: bool) -> Table {
    let mut t = Table::new(
        "trunks",
        &[
            "name",
            "host",
            "port",
            "transport",
            "username",
            "secret_set",
            "register",
            "channel_limit",
            "allowed_sources",
            "number_ranges",
            "enabled",
        ],
    );
    for tr in trunks {
        t.push(vec![
            tr.name.as_str().into(),
            tr.host.as_str().into(),
            Cell::Int(i64::from(tr.port)),
            tr.transport.as_str().into(),
            if with_username {
                tr.username.as_deref().into()
            } else {
                Cell::Empty
            },
            tr.secret.is_some().into(),
            tr.register.into(),
            tr.channel_limit
                .map_or(Cell::Empty, |c| Cell::Int(i64::from(c))),
            tr.allowed_sources.join(" ").into(),
            ranges(&tr.number_ranges).into(),
            tr.enabled.into(),
        ]);
    }
    t
}

/// The columns of a call-record download, in order: the table here, the CSV stream in
/// `calls.rs` and the export benchmark all write these.
pub const CALL_RECORD_COLUMNS: [&str; 19] = [
    "id",
    "started_at",
    "answered_at",
    "ended_at",
    "direction",
    "disposition",
    "caller_extension",
    "caller_number",
    "caller_site",
    "caller_department",
    "callee_extension",
    "callee_number",
    "callee_site",
    "callee_department",
    "trunk",
    "talk_seconds",
    "cost_new",
    "cost_old",
    "synthetic",
];

pub fn call_records(rows: &[store::StoredCallRecord]) -> Table {
    let mut t = Table::new("call records", &CALL_RECORD_COLUMNS);
    let time = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map_or(Cell::Empty, |t| Cell::Text(t.to_rfc3339()))
    };
    for r in rows {
        t.push(vec![
            Cell::Int(r.id.0),
            Cell::Text(r.started_at.to_rfc3339()),
            time(r.answered_at),
            time(r.ended_at),
            r.direction.as_str().into(),
            r.disposition.map(|d| d.as_str()).into(),
            r.caller_extension.clone().into(),
            r.caller_number.as_str().into(),
            r.caller_site.clone().into(),
            r.caller_department.clone().into(),
            r.callee_extension.clone().into(),
            r.callee_number.as_str().into(),
            r.callee_site.clone().into(),
            r.callee_department.clone().into(),
            r.trunk.clone().into(),
            Cell::Int(i64::from(r.talk_seconds)),
            r.cost_new.map_or(Cell::Empty, Cell::Money),
            r.cost_old.map_or(Cell::Empty, Cell::Money),
            r.synthetic.into(),
        ]);
    }
    t
}

pub fn audit(entries: &[store::AuditEntry]) -> Table {
    let mut t = Table::new(
        "audit log",
        &["id", "at", "actor", "action", "detail", "source"],
    );
    for e in entries {
        t.push(vec![
            Cell::Int(e.id.0),
            Cell::Text(e.at.to_rfc3339()),
            e.actor.as_str().into(),
            e.action.as_str().into(),
            e.detail.as_str().into(),
            e.source.as_str().into(),
        ]);
    }
    t
}
