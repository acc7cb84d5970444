//! Extensions: list with search and live registration state, create (SIP password
//! generated and shown once), edit, disable, delete, new password, CSV import (all lines
//! or none, errors per line) and CSV export.

use std::collections::{HashMap, HashSet};

use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use maud::{Markup, html};
use serde::Deserialize;
use store::{ClassOfService, Credentials, NewExtension};

use crate::AppState;
use crate::auth::Principal;
use crate::form::{self, FieldError};
use crate::http::error::{HttpError, HttpResult};
use crate::http::{audit, download};
use crate::i18n::{Lang, Msg};
use crate::layout::{csrf, page};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/extensions", get(list).post(create))
        .route("/extensions.csv", get(export))
        .route("/extensions.xlsx", get(export_xlsx))
        .route("/extensions/import", post(import))
        .route("/extensions/{number}", get(edit_form).post(edit))
        .route("/extensions/{number}/password", post(new_password))
        .route("/extensions/{number}/delete", post(delete))
}

const CLASSES: [ClassOfService; 4] = [
    ClassOfService::Internal,
    ClassOfService::National,
    ClassOfService::Mobile,
    ClassOfService::International,
];

#[derive(Deserialize, Default)]
struct ListQuery {
    #[serde(default)]
    q: String,
}

fn matches(e: &store::Extension, q: &str) -> bool {
    let q = q.trim().to_lowercase();
    q.is_empty()
        || e.number.contains(&q)
        || e.display_name.to_lowercase().contains(&q)
        || e.site.to_lowercase().contains(&q)
        || e.department
            .as_deref()
            .unwrap_or("")
            .to_lowercase()
            .contains(&q)
}

/// Extension numbers with at least one live contact.
fn registered(state: &AppState) -> HashSet<String> {
    state
        .live
        .registrations()
        .into_iter()
        .map(|r| r.extension)
        .collect()
}

fn reg_cell(lang: Lang, number: &str, up: bool) -> Markup {
    html! {
        span id={ "reg-" (number) } class=(if up { "ok" } else { "bad" }) {
            (if up { Msg::Registered } else { Msg::NotRegistered }.get(lang))
        }
    }
}

async fn list_page(
    state: &AppState,
    p: &Principal,
    q: &str,
    notice: Option<Markup>,
    csv_text: &str,
) -> HttpResult<Html<String>> {
    let lang = p.lang;
    let exts = state.store.extensions().await?;
    let sites = state.store.sites().await?;
    let reg = registered(state);
    Ok(page(
        p,
        "/extensions",
        Msg::Extensions.get(lang),
        html! {
            @if let Some(n) = notice { (n) }
            form method="get" action="/extensions" role="search" {
                label for="q" { (Msg::Search.get(lang)) }
                input id="q" name="q" type="search" value=(q);
                " " button type="submit" { (Msg::Search.get(lang)) }
            }
            (download::links(lang, "/extensions", ""))
            table data-live="registrations" {
                thead { tr {
                    th scope="col" { (Msg::Number.get(lang)) } th scope="col" { (Msg::Name.get(lang)) }
                    th scope="col" { (Msg::Site.get(lang)) } th scope="col" { (Msg::Department.get(lang)) }
                    th scope="col" { (Msg::ClassOfService.get(lang)) } th scope="col" { (Msg::Enabled.get(lang)) }
                    th scope="col" { (Msg::State.get(lang)) } th scope="col" { (Msg::Actions.get(lang)) }
                } }
                tbody { @for e in exts.iter().filter(|e| matches(e, q)) { tr {
                    td { (e.number) } td { (e.display_name) } td { (e.site) } td { (e.department.as_deref().unwrap_or("")) }
                    td { (e.class_of_service.as_str()) }
                    td { (if e.enabled { Msg::Yes } else { Msg::No }.get(lang)) }
                    td { (reg_cell(lang, &e.number, reg.contains(&e.number))) }
                    td { a href={ "/extensions/" (e.number) } aria-label={ (Msg::Edit.get(lang)) " " (e.number) } { (Msg::Edit.get(lang)) } }
                } } }
            }
            h2 { (Msg::NewExtension.get(lang)) }
            form method="post" action="/extensions" {
                (csrf(p))
                label for="number" { (Msg::Number.get(lang)) } input id="number" name="number" inputmode="numeric" required;
                label for="display_name" { (Msg::Name.get(lang)) } input id="display_name" name="display_name" required;
                label for="site" { (Msg::Site.get(lang)) }
                select id="site" name="site" required { @for s in &sites { option value=(s.code) { (s.name) " (" (s.code) ")" } } }
                label for="department" { (Msg::Department.get(lang)) } input id="department" name="department";
                label for="class_of_service" { (Msg::ClassOfService.get(lang)) }
                select id="class_of_service" name="class_of_service" { @for c in CLASSES { option value=(c.as_str()) { (c.as_str()) } } }
                label { input type="checkbox" name="premium_allowed" value="true"; " " (Msg::PremiumAllowed.get(lang)) }
                p { button type="submit" { (Msg::Create.get(lang)) } }
            }
            h2 { (Msg::ImportCsv.get(lang)) }
            form method="post" action="/extensions/import" {
                (csrf(p))
                p id="import-help" { (Msg::ImportHelp.get(lang)) }
                label for="csv" { (Msg::CsvText.get(lang)) }
                textarea id="csv" name="csv" rows="8" cols="80" aria-describedby="import-help" { (csv_text) }
                p { button type="submit" { (Msg::ImportCsv.get(lang)) } }
            }
        },
    ))
}

async fn list(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Query(q): Query<ListQuery>,
) -> HttpResult<Html<String>> {
    list_page(&state, &p, &q.q, None, "").await
}

#[derive(Deserialize)]
struct CreateForm {
    number: String,
    display_name: String,
    site: String,
    #[serde(default)]
    department: String,
    class_of_service: String,
    #[serde(default)]
    premium_allowed: Option<String>,
}

fn password_notice(lang: Lang, number: &str, password: &str) -> Markup {
    html! {
        div class="notice" role="status" {
            p { (Msg::PasswordShownOnce.get(lang)) }
            p { (Msg::Number.get(lang)) " " (number) ": " span class="secret" id="sip-password" { (password) } }
        }
    }
}

async fn create(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Form(f): Form<CreateForm>,
) -> HttpResult<Response> {
    // Checked field by field first so the page names each problem in its language; the
    // store checks again (and refuses a number in use).
    let mut errors = Vec::new();
    let number = f.number.trim().to_string();
    if !(2..=8).contains(&number.len()) || !number.bytes().all(|b| b.is_ascii_digit()) {
        errors.push(FieldError::with(
            "number",
            Msg::InvalidNumber,
            number.as_str(),
        ));
    }
    form::required("display_name", &f.display_name, &mut errors);
    if state.store.site_by_code(f.site.trim()).await?.is_none() {
        errors.push(FieldError::with("site", Msg::UnknownSite, f.site.trim()));
    }
    let class = f.class_of_service.parse::<ClassOfService>();
    if class.is_err() {
        errors.push(FieldError::with(
            "class_of_service",
            Msg::InvalidClass,
            f.class_of_service.as_str(),
        ));
    }
    let (true, Ok(class)) = (errors.is_empty(), class) else {
        let page = list_page(&state, &p, "", Some(form::summary(p.lang, &errors)), "").await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    };
    let password = store::generate_password();
    let dept = f.department.trim();
    let ext = NewExtension {
        number: number.clone(),
        display_name: f.display_name.trim().to_string(),
        site: f.site.trim().to_string(),
        department: (!dept.is_empty()).then(|| dept.to_string()),
        class_of_service: class,
        premium_allowed: f.premium_allowed.is_some(),
        credentials: Credentials::from_password(&number, &state.realm, &password),
        enabled: true,
    };
    state.store.add_extension(&ext).await?;
    audit(
        &state,
        &p,
        "extension.add",
        format!(
            "extension {number} ({}) on site {}",
            ext.display_name, ext.site
        ),
    )
    .await;
    Ok(list_page(
        &state,
        &p,
        "",
        Some(password_notice(p.lang, &number, &password)),
        "",
    )
    .await?
    .into_response())
}

async fn find(state: &AppState, number: &str) -> HttpResult<store::Extension> {
    state
        .store
        .extension(number)
        .await?
        .ok_or(HttpError::NotFound)
}

async fn edit_form(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(number): Path<String>,
) -> HttpResult<Html<String>> {
    let e = find(&state, &number).await?;
    let edit = ExtensionEdit {
        display_name: e.display_name.clone(),
        site: e.site.clone(),
        department: e.department.clone(),
        class_of_service: e.class_of_service.as_str().to_string(),
        premium_allowed: e.premium_allowed,
        enabled: e.enabled,
    };
    edit_page(&state, &p, &e, &edit, &[]).await
}

async fn edit_page(
    state: &AppState,
    p: &Principal,
    e: &store::Extension,
    edit: &ExtensionEdit,
    errors: &[FieldError],
) -> HttpResult<Html<String>> {
    let lang = p.lang;
    let up = registered(state).contains(&e.number);
    let sites = state.store.sites().await?;
    let depts = state.store.departments().await?;
    let title = format!("{} {}", Msg::Extensions.get(lang), e.number);
    let dept = edit.department.as_deref().unwrap_or("");
    Ok(page(
        p,
        "/extensions",
        &title,
        html! {
            (form::summary(lang, errors))
            p { (e.display_name) " · " (e.site) " · " (reg_cell(lang, &e.number, up)) }
            form method="post" action={ "/extensions/" (e.number) } novalidate {
                (csrf(p))
                label for="display_name" { (Msg::Name.get(lang)) }
                input id="display_name" name="display_name" required value=(edit.display_name)
                    aria-invalid=[form::invalid(errors, "display_name")] aria-describedby=[form::described_by(errors, "display_name")];
                (form::message(lang, errors, "display_name"))
                label for="site" { (Msg::Site.get(lang)) }
                select id="site" name="site" aria-invalid=[form::invalid(errors, "site")] aria-describedby=[form::described_by(errors, "site")] {
                    @for s in &sites { option value=(s.code) selected[s.code == edit.site] { (s.name) " (" (s.code) ")" } }
                }
                (form::message(lang, errors, "site"))
                label for="department" { (Msg::Department.get(lang)) }
                select id="department" name="department" {
                    option value="" selected[dept.is_empty()] { (Msg::SiteDefault.get(lang)) }
                    @for d in &depts { option value=(d.name) selected[d.name == dept] { (d.name) } }
                }
                label for="class_of_service" { (Msg::ClassOfService.get(lang)) }
                select id="class_of_service" name="class_of_service" aria-invalid=[form::invalid(errors, "class_of_service")] aria-describedby=[form::described_by(errors, "class_of_service")] {
                    @for c in CLASSES { option value=(c.as_str()) selected[c.as_str() == edit.class_of_service] { (c.as_str()) } }
                }
                (form::message(lang, errors, "class_of_service"))
                label { input type="checkbox" name="premium_allowed" value="true" checked[edit.premium_allowed]; " " (Msg::PremiumAllowed.get(lang)) }
                label { input type="checkbox" name="enabled" value="true" checked[edit.enabled]; " " (Msg::Enabled.get(lang)) }
                p { button type="submit" { (Msg::Save.get(lang)) } }
            }
            form method="post" action={ "/extensions/" (e.number) "/password" } {
                (csrf(p)) p { button type="submit" { (Msg::NewPassword.get(lang)) } }
            }
            form method="post" action={ "/extensions/" (e.number) "/delete" } {
                (csrf(p)) p { button class="danger" type="submit" { (Msg::Delete.get(lang)) } }
            }
        },
    ))
}

#[derive(Deserialize)]
struct EditForm {
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    site: String,
    #[serde(default)]
    department: String,
    #[serde(default)]
    class_of_service: String,
    #[serde(default)]
    premium_allowed: Option<String>,
    #[serde(default)]
    enabled: Option<String>,
}

/// Everything an edit may change on an extension, as given (not yet checked). The page
/// fills it from the form, the PATCH API from the body over the stored values.
#[derive(Clone, Debug)]
pub(crate) struct ExtensionEdit {
    pub display_name: String,
    pub site: String,
    /// `None` takes the site's department.
    pub department: Option<String>,
    pub class_of_service: String,
    pub premium_allowed: bool,
    pub enabled: bool,
}

/// Checks and stores an edit of extension `number`, audits what changed. Wrong fields
/// come back as [`HttpError::Fields`]. The page and the API share it.
pub(crate) async fn save_edit(
    state: &AppState,
    p: &Principal,
    number: &str,
    edit: &ExtensionEdit,
) -> HttpResult<()> {
    let before = find(state, number).await?;
    let mut errors = Vec::new();
    let display_name = form::required("display_name", &edit.display_name, &mut errors);
    let site = edit.site.trim().to_string();
    if state.store.site_by_code(&site).await?.is_none() {
        errors.push(FieldError::with("site", Msg::UnknownSite, site.as_str()));
    }
    let class = match edit.class_of_service.parse::<ClassOfService>() {
        Ok(c) => Some(c),
        Err(_) => {
            errors.push(FieldError::with(
                "class_of_service",
                Msg::InvalidClass,
                edit.class_of_service.as_str(),
            ));
            None
        }
    };
    let Some(class) = class.filter(|_| errors.is_empty()) else {
        return Err(HttpError::Fields(errors));
    };
    let update = store::ExtensionUpdate {
        display_name,
        site,
        department: form::optional(edit.department.as_deref()),
        class_of_service: class,
        premium_allowed: edit.premium_allowed,
        enabled: edit.enabled,
    };
    state.store.update_extension(number, &update).await?;
    let after = find(state, number).await?;
    let mut changes = Vec::new();
    let mut note = |what: &str, old: String, new: String| {
        if old != new {
            changes.push(format!("{what} {old:?} -> {new:?}"));
        }
    };
    note("name", before.display_name, after.display_name);
    note("site", before.site, after.site);
    note(
        "department",
        before.department.unwrap_or_default(),
        after.department.unwrap_or_default(),
    );
    note(
        "class",
        before.class_of_service.as_str().into(),
        after.class_of_service.as_str().into(),
    );
    note(
        "premium",
        before.premium_allowed.to_string(),
        after.premium_allowed.to_string(),
    );
    note(
        "enabled",
        before.enabled.to_string(),
        after.enabled.to_string(),
    );
    if !changes.is_empty() {
        audit(
            state,
            p,
            "extension.update",
            format!("extension {number}: {}", changes.join(", ")),
        )
        .await;
    }
    Ok(())
}

async fn edit(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(number): Path<String>,
    Form(f): Form<EditForm>,
) -> HttpResult<Response> {
    let edit = ExtensionEdit {
        display_name: f.display_name,
        site: f.site,
        department: Some(f.department),
        class_of_service: f.class_of_service,
        premium_allowed: f.premium_allowed.is_some(),
        enabled: f.enabled.is_some(),
    };
    match save_edit(&state, &p, &number, &edit).await {
        Ok(()) => Ok(Redirect::to("/extensions").into_response()),
        Err(HttpError::Fields(errors)) => {
            let e = find(&state, &number).await?;
            let page = edit_page(&state, &p, &e, &edit, &errors).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(other) => Err(other),
    }
}

/// Gives extension `number` a new generated SIP password (stored as HA1 only), audits
/// it, and returns the password so the caller shows it once. The page and the API share it.
pub(crate) async fn regenerate_password(
    state: &AppState,
    p: &Principal,
    number: &str,
) -> HttpResult<String> {
    find(state, number).await?;
    let password = store::generate_password();
    state
        .store
        .set_extension_credentials(
            number,
            &Credentials::from_password(number, &state.realm, &password),
        )
        .await?;
    audit(
        state,
        p,
        "extension.password",
        format!("extension {number}: new SIP password"),
    )
    .await;
    Ok(password)
}

async fn new_password(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(number): Path<String>,
) -> HttpResult<Html<String>> {
    let password = regenerate_password(&state, &p, &number).await?;
    list_page(
        &state,
        &p,
        "",
        Some(password_notice(p.lang, &number, &password)),
        "",
    )
    .await
}

async fn delete(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(number): Path<String>,
) -> HttpResult<Response> {
    state.store.remove_extension(&number).await?;
    audit(
        &state,
        &p,
        "extension.remove",
        format!("extension {number}"),
    )
    .await;
    Ok(Redirect::to("/extensions").into_response())
}

const CSV_HEADER: [&str; 7] = download::EXTENSION_COLUMNS;

async fn export(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
) -> HttpResult<Response> {
    export_as(&state, &p, download::Format::Csv).await
}

async fn export_xlsx(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
) -> HttpResult<Response> {
    export_as(&state, &p, download::Format::Xlsx).await
}

async fn export_as(
    state: &AppState,
    p: &Principal,
    format: download::Format,
) -> HttpResult<Response> {
    let exts = state.store.extensions().await?;
    let response = download::send(&[download::extensions(&exts)], format, "extensions")?;
    audit(
        state,
        p,
        "extension.export",
        format!("{} extensions exported as {format:?}", exts.len()),
    )
    .await;
    Ok(response)
}

/// One CSV line's problems, by its line number in the file (header is line 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    pub line: u64,
    pub problems: Vec<CsvProblem>,
}

impl LineError {
    fn one(line: u64, problem: CsvProblem) -> LineError {
        LineError {
            line,
            problems: vec![problem],
        }
    }

    /// The line's problems in `lang`, joined with "; ".
    pub fn message(&self, lang: Lang) -> String {
        self.problems
            .iter()
            .map(|p| p.message(lang))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// The API reports `{ "line", "message" }` with the message in English, as it always has.
impl serde::Serialize for LineError {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("LineError", 2)?;
        st.serialize_field("line", &self.line)?;
        st.serialize_field("message", &self.message(Lang::En))?;
        st.end()
    }
}

/// What is wrong on a CSV import line. Quoted values are the file's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CsvProblem {
    BadHeader,
    /// The csv crate could not read the record; its detail is English only.
    Unreadable {
        detail: String,
    },
    FieldCount {
        found: usize,
    },
    BadNumber {
        number: String,
    },
    NumberExists {
        number: String,
    },
    NumberRepeated {
        number: String,
        first_line: u64,
    },
    EmptyDisplayName,
    UnknownSite {
        site: String,
    },
    BadClassOfService {
        value: String,
    },
    NotBool {
        column: &'static str,
        value: String,
    },
    NoExtensions,
}

impl CsvProblem {
    pub fn message(&self, lang: Lang) -> String {
        use CsvProblem as P;
        let header = CSV_HEADER.join(",");
        let expected = CSV_HEADER.len();
        match (self, lang) {
            (P::BadHeader, Lang::En) => format!("header must be {header}"),
            (P::BadHeader, Lang::Nb) => format!("overskriftslinjen må være {header}"),
            (P::Unreadable { detail }, Lang::En) => format!("unreadable: {detail}"),
            (P::Unreadable { detail }, Lang::Nb) => format!("kan ikke leses: {detail}"),
            (P::FieldCount { found }, Lang::En) => format!("{found} fields, expected {expected}"),
            (P::FieldCount { found }, Lang::Nb) => format!("{found} felt, skal være {expected}"),
            (P::BadNumber { number }, Lang::En) => format!("number {number:?}: use 2 to 8 digits"),
            (P::BadNumber { number }, Lang::Nb) => format!("nummer {number:?}: bruk 2 til 8 sifre"),
            (P::NumberExists { number }, Lang::En) => format!("number {number} exists already"),
            (P::NumberExists { number }, Lang::Nb) => format!("nummer {number} finnes allerede"),
            (P::NumberRepeated { number, first_line }, Lang::En) => {
                format!("number {number} also on line {first_line}")
            }
            (P::NumberRepeated { number, first_line }, Lang::Nb) => {
                format!("nummer {number} står også på linje {first_line}")
            }
            (P::EmptyDisplayName, Lang::En) => "display_name is empty".into(),
            (P::EmptyDisplayName, Lang::Nb) => "display_name er tomt".into(),
            (P::UnknownSite { site }, Lang::En) => format!("no site {site:?}"),
            (P::UnknownSite { site }, Lang::Nb) => format!("ingen lokasjon {site:?}"),
            (P::BadClassOfService { value }, Lang::En) => format!(
                "invalid class of service: {value:?} (expected internal, national, mobile or international)"
            ),
            (P::BadClassOfService { value }, Lang::Nb) => format!(
                "ugyldig tjenesteklasse: {value:?} (skal være internal, national, mobile eller international)"
            ),
            (P::NotBool { column, value }, Lang::En) => {
                format!("{column} {value:?}: use true or false")
            }
            (P::NotBool { column, value }, Lang::Nb) => {
                format!("{column} {value:?}: bruk true eller false")
            }
            (P::NoExtensions, Lang::En) => "no extensions in the file".into(),
            (P::NoExtensions, Lang::Nb) => "ingen internnumre i filen".into(),
        }
    }
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "" | "false" | "0" | "no" | "nei" => Some(false),
        "true" | "1" | "yes" | "ja" => Some(true),
        _ => None,
    }
}

/// Parses and checks every line against the store; returns the extensions with their new
/// passwords, or every line's error. Nothing is written here.
pub async fn parse_import(
    state: &AppState,
    text: &str,
) -> HttpResult<Result<Vec<(NewExtension, String)>, Vec<LineError>>> {
    let sites: HashSet<String> = state
        .store
        .sites()
        .await?
        .into_iter()
        .map(|s| s.code)
        .collect();
    let existing: HashSet<String> = state
        .store
        .extensions()
        .await?
        .into_iter()
        .map(|e| e.number)
        .collect();
    let mut seen: HashMap<String, u64> = HashMap::new();
    let mut errors = Vec::new();
    let mut out = Vec::new();
    // Browsers submit form text with CRLF line ends, which shifts the csv crate's line
    // positions by one; with LF they name the file's real lines.
    let text = text.replace("\r\n", "\n");
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    match reader.headers() {
        Ok(h) if h.iter().collect::<Vec<_>>() == CSV_HEADER => {}
        _ => errors.push(LineError::one(1, CsvProblem::BadHeader)),
    }
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                errors.push(LineError::one(
                    line,
                    CsvProblem::Unreadable {
                        detail: e.to_string(),
                    },
                ));
                continue;
            }
        };
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        if record.len() != CSV_HEADER.len() {
            errors.push(LineError::one(
                line,
                CsvProblem::FieldCount {
                    found: record.len(),
                },
            ));
            continue;
        }
        let field = |i: usize| record.get(i).unwrap_or("").to_string();
        let number = field(0);
        let mut problems = Vec::new();
        if !(2..=8).contains(&number.len()) || !number.bytes().all(|b| b.is_ascii_digit()) {
            problems.push(CsvProblem::BadNumber {
                number: number.clone(),
            });
        } else if existing.contains(&number) {
            problems.push(CsvProblem::NumberExists {
                number: number.clone(),
            });
        } else if let Some(first) = seen.insert(number.clone(), line) {
            problems.push(CsvProblem::NumberRepeated {
                number: number.clone(),
                first_line: first,
            });
        }
        if field(1).is_empty() {
            problems.push(CsvProblem::EmptyDisplayName);
        }
        if !sites.contains(&field(2)) {
            problems.push(CsvProblem::UnknownSite { site: field(2) });
        }
        let class = field(4).parse::<ClassOfService>();
        if class.is_err() {
            problems.push(CsvProblem::BadClassOfService { value: field(4) });
        }
        let premium = parse_bool(&field(5));
        let enabled = if field(6).is_empty() {
            Some(true)
        } else {
            parse_bool(&field(6))
        };
        if premium.is_none() {
            problems.push(CsvProblem::NotBool {
                column: "premium_allowed",
                value: field(5),
            });
        }
        if enabled.is_none() {
            problems.push(CsvProblem::NotBool {
                column: "enabled",
                value: field(6),
            });
        }
        match (problems.is_empty(), class, premium, enabled) {
            (true, Ok(class), Some(premium), Some(enabled)) => {
                let password = store::generate_password();
                let dept = field(3);
                out.push((
                    NewExtension {
                        credentials: Credentials::from_password(&number, &state.realm, &password),
                        number,
                        display_name: field(1),
                        site: field(2),
                        department: (!dept.is_empty()).then_some(dept),
                        class_of_service: class,
                        premium_allowed: premium,
                        enabled,
                    },
                    password,
                ));
            }
            _ => errors.push(LineError { line, problems }),
        }
    }
    if out.is_empty() && errors.is_empty() {
        errors.push(LineError::one(1, CsvProblem::NoExtensions));
    }
    Ok(if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    })
}

/// Writes a checked import in one transaction; returns the passwords to show.
pub async fn apply_import(
    state: &AppState,
    p: &Principal,
    items: Vec<(NewExtension, String)>,
) -> HttpResult<Vec<(String, String)>> {
    let exts: Vec<NewExtension> = items.iter().map(|(e, _)| e.clone()).collect();
    state
        .store
        .import_extensions(&exts)
        .await
        .map_err(|(i, e)| {
            let number = exts.get(i).map(|e| e.number.clone()).unwrap_or_default();
            match HttpError::from(e) {
                HttpError::Internal => HttpError::Internal,
                other => HttpError::Invalid(format!("extension {number}: {other}")),
            }
        })?;
    audit(
        state,
        p,
        "extension.import",
        format!("{} extensions imported from CSV", exts.len()),
    )
    .await;
    Ok(items.into_iter().map(|(e, pw)| (e.number, pw)).collect())
}

#[derive(Deserialize)]
struct ImportForm {
    csv: String,
}

async fn import(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Form(f): Form<ImportForm>,
) -> HttpResult<Response> {
    let lang = p.lang;
    match parse_import(&state, &f.csv).await? {
        Err(errors) => {
            let notice = html! {
                div class="error" role="alert" id="import-errors" {
                    p { (Msg::ImportFailed.get(lang)) }
                    table {
                        thead { tr { th scope="col" { (Msg::Line.get(lang)) } th scope="col" { (Msg::Error.get(lang)) } } }
                        tbody { @for e in &errors { tr { td { (e.line) } td { (e.message(lang)) } } } }
                    }
                }
            };
            let page = list_page(&state, &p, "", Some(notice), &f.csv).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Ok(items) => {
            let done = apply_import(&state, &p, items).await?;
            let notice = html! {
                div class="notice" role="status" {
                    p { (Msg::Imported.get(lang)) ": " (done.len()) ". " (Msg::PasswordShownOnce.get(lang)) }
                    table {
                        thead { tr { th scope="col" { (Msg::Number.get(lang)) } th scope="col" { (Msg::Password.get(lang)) } } }
                        tbody { @for (n, pw) in &done { tr { td { (n) } td class="secret" { (pw) } } } }
                    }
                }
            };
            Ok(list_page(&state, &p, "", Some(notice), "")
                .await?
                .into_response())
        }
    }
}
