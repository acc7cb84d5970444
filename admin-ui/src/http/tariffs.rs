//! Tariffs (finance and admin): the tariff versions in force and the imported files;
//! import of a new tariff file (TOML, as `sentral tariff import` takes) with its problems
//! listed by line, nothing stored unless the whole file is valid.

use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use billing::TariffFile;
use maud::{Markup, html};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::auth::Principal;
use crate::form::FieldError;
use crate::http::audit;
use crate::http::costs::active_dataset;
use crate::http::download::{self, Format};
use crate::http::error::{HttpError, HttpResult};
use crate::i18n::{Lang, Msg};
use crate::layout::{csrf, page};
use billing::report::{Cell, Table};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/tariffs", get(list).post(import))
        .route("/tariffs.csv", get(tariffs_csv))
        .route("/tariffs.xlsx", get(tariffs_xlsx))
}

/// The tariffs in force, as on the page.
async fn in_force(state: &AppState) -> HttpResult<Vec<billing::Tariff>> {
    // No dataset yet is not an error here: the page still lists files and takes imports.
    match active_dataset(state).await {
        Ok(ds) => Ok(ds.tariffs.tariffs.clone()),
        Err(HttpError::Invalid(_)) => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

fn tariffs_table(tariffs: &[billing::Tariff]) -> Table {
    let mut t = Table::new(
        "tariffs in force",
        &[
            "id",
            "label",
            "world",
            "valid_from",
            "valid_to",
            "first_increment_s",
            "next_increment_s",
            "minimum_charge_s",
            "minimum_charge",
        ],
    );
    for x in tariffs {
        t.push(vec![
            x.id.as_str().into(),
            x.label.as_str().into(),
            x.world.as_str().into(),
            x.valid_from.to_string().into(),
            x.valid_to.to_string().into(),
            Cell::Int(i64::from(x.first_increment_s)),
            Cell::Int(i64::from(x.next_increment_s)),
            Cell::Int(i64::from(x.minimum_charge_s)),
            Cell::Money(x.minimum_charge),
        ]);
    }
    t
}

fn files_table(files: &[store::TariffFile]) -> Table {
    let mut t = Table::new(
        "imported files",
        &[
            "name",
            "kind",
            "version",
            "valid_from",
            "valid_to",
            "imported_at",
            "active",
        ],
    );
    for f in files {
        t.push(vec![
            f.name.as_str().into(),
            f.kind.as_str().into(),
            f.version.as_str().into(),
            f.valid_from.map(|d| d.to_string()).into(),
            f.valid_to.map(|d| d.to_string()).into(),
            f.imported_at.to_rfc3339().into(),
            f.active.into(),
        ]);
    }
    t
}

#[derive(Deserialize, Default)]
struct DownloadQuery {
    /// `files` for the imported files; the tariffs in force otherwise (CSV holds one table).
    #[serde(default)]
    table: String,
}

async fn tariffs_download(
    state: &AppState,
    format: Format,
    which: &DownloadQuery,
) -> HttpResult<Response> {
    let tariffs = tariffs_table(&in_force(state).await?);
    let files = files_table(&state.store.tariff_files().await?);
    let tables = if which.table == "files" {
        [files, tariffs]
    } else {
        [tariffs, files]
    };
    download::send(&tables, format, "tariffs")
}

async fn tariffs_csv(
    State(state): State<AppState>,
    Query(q): Query<DownloadQuery>,
) -> HttpResult<Response> {
    tariffs_download(&state, Format::Csv, &q).await
}

async fn tariffs_xlsx(
    State(state): State<AppState>,
    Query(q): Query<DownloadQuery>,
) -> HttpResult<Response> {
    tariffs_download(&state, Format::Xlsx, &q).await
}

async fn list_page(
    state: &AppState,
    p: &Principal,
    notice: Option<Markup>,
    toml: &str,
) -> HttpResult<Html<String>> {
    let lang = p.lang;
    let files = state.store.tariff_files().await?;
    let in_force = in_force(state).await?;
    Ok(page(
        p,
        "/tariffs",
        Msg::Tariffs.get(lang),
        html! {
            @if let Some(n) = notice { (n) }
            h2 { (Msg::InForce.get(lang)) }
            (download::links(lang, "/tariffs", ""))
            table {
                thead { tr { th scope="col" { (Msg::Id.get(lang)) } th scope="col" { (Msg::Name.get(lang)) } th scope="col" { (Msg::From.get(lang)) } th scope="col" { (Msg::To.get(lang)) } } }
                tbody { @for t in &in_force { tr { td { (t.id) } td { (t.label) } td { (t.valid_from) } td { (t.valid_to) } } } }
            }
            h2 { (Msg::ImportedFiles.get(lang)) }
            (download::links(lang, "/tariffs", "?table=files"))
            table {
                thead { tr { th scope="col" { (Msg::Name.get(lang)) } th scope="col" { (Msg::Version.get(lang)) } th scope="col" { (Msg::From.get(lang)) } th scope="col" { (Msg::To.get(lang)) } th scope="col" { (Msg::Time.get(lang)) } th scope="col" { (Msg::State.get(lang)) } } }
                tbody { @for f in &files { tr {
                    td { (f.name) " (" (f.kind.as_str()) ")" } td { (f.version) }
                    td { (f.valid_from.map(|d| d.to_string()).unwrap_or_default()) } td { (f.valid_to.map(|d| d.to_string()).unwrap_or_default()) }
                    td { (f.imported_at.format("%Y-%m-%d %H:%M")) } td { (if f.active { Msg::Enabled } else { Msg::No }.get(lang)) }
                } } }
            }
            h2 { (Msg::ImportTariff.get(lang)) }
            form method="post" action="/tariffs" {
                (csrf(p))
                label for="name" { (Msg::Name.get(lang)) } input id="name" name="name" required;
                label for="toml" { "TOML" }
                textarea id="toml" name="toml" rows="12" cols="80" { (toml) }
                p { button type="submit" { (Msg::ImportTariff.get(lang)) } }
            }
        },
    ))
}

async fn list(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
) -> HttpResult<Html<String>> {
    list_page(&state, &p, None, "").await
}

/// A tariff file's mistake in the page's language.
fn problem_message(kind: &billing::ProblemKind, lang: Lang) -> String {
    match lang {
        Lang::Nb => kind.to_bokmal(),
        Lang::En => kind.to_string(),
    }
}

#[derive(Deserialize)]
struct ImportForm {
    name: String,
    toml: String,
}

async fn import(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Form(f): Form<ImportForm>,
) -> HttpResult<Response> {
    let lang = p.lang;
    let file = match TariffFile::from_toml_str(&f.toml) {
        Ok(file) => file,
        Err(e) => {
            let problems = e.problems();
            let notice = html! {
                div class="error" role="alert" id="tariff-errors" {
                    p { (Msg::ImportFailed.get(lang)) }
                    table {
                        thead { tr { th scope="col" { (Msg::Line.get(lang)) } th scope="col" { (Msg::Key.get(lang)) } th scope="col" { (Msg::Error.get(lang)) } } }
                        tbody { @for pr in &problems { tr { td { (pr.line.map(|l| l.to_string()).unwrap_or_default()) } td { (pr.path) } td { (problem_message(&pr.kind, lang)) } } } }
                    }
                }
            };
            let page = list_page(&state, &p, Some(notice), &f.toml).await?;
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
        }
    };
    let book = &file.tariffs.tariffs;
    let ids: Vec<&str> = book.iter().map(|t| t.id.as_str()).collect();
    let digest = hex::encode(
        Sha256::digest(f.toml.as_bytes())
            .get(..6)
            .unwrap_or_default(),
    );
    let version = format!("{} sha256:{digest}", ids.join("+"));
    let name = f.name.trim();
    if name.is_empty() {
        return Err(HttpError::Fields(vec![FieldError::new(
            "name",
            Msg::Required,
        )]));
    }
    state
        .store
        .import_tariff_file(
            &store::NewTariffFile {
                kind: store::TariffFileKind::Tariff,
                name: name.to_string(),
                version: version.clone(),
                valid_from: book.iter().map(|t| t.valid_from).min(),
                valid_to: book.iter().map(|t| t.valid_to).max(),
                content: f.toml.clone(),
            },
            true,
        )
        .await?;
    audit(&state, &p, "tariff.import", format!("{name} ({version})")).await;
    let notice =
        html! { p class="notice" role="status" { (Msg::Imported.get(lang)) ": " (version) } };
    Ok(list_page(&state, &p, Some(notice), "")
        .await?
        .into_response())
}
