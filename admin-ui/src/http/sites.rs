//! Sites and departments pages: list, create, edit (site name, address, department and
//! number ranges; department name and cost centre), delete (a department only while
//! nothing uses it), CSV and XLSX downloads.

use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use maud::{Markup, html};
use serde::Deserialize;

use crate::AppState;
use crate::auth::Principal;
use crate::form::{self, FieldError};
use crate::http::audit;
use crate::http::download::{self, Format};
use crate::http::error::{HttpError, HttpResult};
use crate::i18n::Msg;
use crate::layout::{csrf, page};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/sites", get(list).post(create))
        .route("/sites.csv", get(sites_csv))
        .route("/sites.xlsx", get(sites_xlsx))
        .route("/sites/{code}", get(edit_form).post(edit))
        .route("/sites/{code}/delete", post(delete))
        .route("/departments", get(departments).post(create_department))
        .route("/departments.csv", get(departments_csv))
        .route("/departments.xlsx", get(departments_xlsx))
        .route(
            "/departments/{id}",
            get(edit_department_form).post(edit_department),
        )
        .route("/departments/{id}/delete", post(delete_department))
}

async fn list(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
) -> HttpResult<Html<String>> {
    list_page(&state, &p, &[]).await
}

async fn list_page(
    state: &AppState,
    p: &Principal,
    errors: &[FieldError],
) -> HttpResult<Html<String>> {
    let lang = p.lang;
    let sites = state.store.sites().await?;
    Ok(page(
        p,
        "/sites",
        Msg::Sites.get(lang),
        html! {
            (download::links(lang, "/sites", ""))
            table {
                thead { tr {
                    th scope="col" { (Msg::Code.get(lang)) } th scope="col" { (Msg::Name.get(lang)) }
                    th scope="col" { (Msg::Address.get(lang)) } th scope="col" { (Msg::Department.get(lang)) }
                    th scope="col" { (Msg::NumberRanges.get(lang)) }
                    @if p.is_admin() { th scope="col" { (Msg::Actions.get(lang)) } }
                } }
                tbody { @for s in &sites { tr {
                    td { (s.code) } td { (s.name) } td { (s.address) } td { (s.department.as_deref().unwrap_or("")) }
                    td { @for r in &s.number_ranges { (r.first) "–" (r.last) " " } }
                    @if p.is_admin() { td {
                        a href={ "/sites/" (s.code) } aria-label={ (Msg::Edit.get(lang)) " " (s.code) } { (Msg::Edit.get(lang)) } " "
                        form class="inline" method="post" action={ "/sites/" (s.code) "/delete" } {
                            (csrf(p))
                            button class="danger" type="submit" aria-label={ (Msg::Delete.get(lang)) " " (s.code) } { (Msg::Delete.get(lang)) }
                        }
                    } }
                } } }
            }
            @if p.is_admin() {
                h2 { (Msg::Create.get(lang)) }
                (form::summary(lang, errors))
                form method="post" action="/sites" novalidate {
                    (csrf(p))
                    label for="code" { (Msg::Code.get(lang)) }
                    input id="code" name="code" required aria-invalid=[form::invalid(errors, "code")] aria-describedby=[form::described_by(errors, "code")];
                    (form::message(lang, errors, "code"))
                    label for="name" { (Msg::Name.get(lang)) }
                    input id="name" name="name" required aria-invalid=[form::invalid(errors, "name")] aria-describedby=[form::described_by(errors, "name")];
                    (form::message(lang, errors, "name"))
                    label for="address" { (Msg::Address.get(lang)) } input id="address" name="address";
                    label for="department" { (Msg::Department.get(lang)) } input id="department" name="department";
                    (ranges_field(lang, errors, ""))
                    p { button type="submit" { (Msg::Create.get(lang)) } }
                }
            }
        },
    ))
}

#[derive(Deserialize)]
struct SiteForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    department: String,
    #[serde(default)]
    ranges: String,
}

async fn create(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Form(f): Form<SiteForm>,
) -> HttpResult<Response> {
    let mut errors = Vec::new();
    let code = f.code.trim().to_string();
    let code_ok = !code.is_empty()
        && code.len() <= 64
        && code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !code_ok {
        errors.push(FieldError::with(
            "code",
            Msg::InvalidCodeName,
            code.as_str(),
        ));
    }
    let name = form::required("name", &f.name, &mut errors);
    let others = state.store.number_ranges().await?;
    let owner = range_owners(&state).await?;
    let ranges = form::ranges(
        "ranges",
        &form::entries(&f.ranges),
        &others,
        owner,
        &mut errors,
    );
    if !errors.is_empty() {
        let page = list_page(&state, &p, &errors).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    }
    let site = store::NewSite {
        code,
        name,
        address: f.address.trim().to_string(),
        department: form::optional(Some(&f.department)),
    };
    state.store.create_site(&site, &ranges).await?;
    let listed: Vec<String> = ranges.iter().map(|(a, b)| format!("{a}-{b}")).collect();
    audit(
        &state,
        &p,
        "site.add",
        format!("site {} ranges [{}]", site.code, listed.join(" ")),
    )
    .await;
    Ok(Redirect::to("/sites").into_response())
}

async fn delete(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(code): Path<String>,
) -> HttpResult<Response> {
    state.store.remove_site(&code).await?;
    audit(&state, &p, "site.remove", format!("site {code}")).await;
    Ok(Redirect::to("/sites").into_response())
}

async fn departments(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
) -> HttpResult<Html<String>> {
    let lang = p.lang;
    let depts = state.store.departments().await?;
    Ok(page(
        &p,
        "/departments",
        Msg::Departments.get(lang),
        html! {
            (download::links(lang, "/departments", ""))
            table {
                thead { tr {
                    th scope="col" { (Msg::Name.get(lang)) } th scope="col" { (Msg::CostCentre.get(lang)) }
                    @if p.is_admin() { th scope="col" { (Msg::Actions.get(lang)) } }
                } }
                tbody { @for d in &depts { tr {
                    td { (d.name) } td { (d.cost_centre.as_deref().unwrap_or("")) }
                    @if p.is_admin() { td {
                        a href={ "/departments/" (d.id.0) } aria-label={ (Msg::Edit.get(lang)) " " (d.name) } { (Msg::Edit.get(lang)) }
                    } }
                } } }
            }
            @if p.is_admin() {
                h2 { (Msg::Create.get(lang)) }
                form method="post" action="/departments" {
                    (csrf(&p))
                    label for="name" { (Msg::Name.get(lang)) } input id="name" name="name" required;
                    label for="cost_centre" { (Msg::CostCentre.get(lang)) } input id="cost_centre" name="cost_centre";
                    p { button type="submit" { (Msg::Save.get(lang)) } }
                }
            }
        },
    ))
}

#[derive(Deserialize)]
struct DeptForm {
    name: String,
    #[serde(default)]
    cost_centre: String,
}

async fn create_department(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Form(f): Form<DeptForm>,
) -> HttpResult<Response> {
    let cc = f.cost_centre.trim();
    state
        .store
        .ensure_department(f.name.trim(), (!cc.is_empty()).then_some(cc))
        .await?;
    audit(
        &state,
        &p,
        "department.save",
        format!("department {}", f.name.trim()),
    )
    .await;
    Ok(Redirect::to("/departments").into_response())
}

async fn sites_download(state: &AppState, format: Format) -> HttpResult<Response> {
    let sites = state.store.sites().await?;
    download::send(&[download::sites(&sites)], format, "sites")
}

async fn sites_csv(State(state): State<AppState>) -> HttpResult<Response> {
    sites_download(&state, Format::Csv).await
}

async fn sites_xlsx(State(state): State<AppState>) -> HttpResult<Response> {
    sites_download(&state, Format::Xlsx).await
}

async fn departments_download(state: &AppState, format: Format) -> HttpResult<Response> {
    let depts = state.store.departments().await?;
    download::send(&[download::departments(&depts)], format, "departments")
}

async fn departments_csv(State(state): State<AppState>) -> HttpResult<Response> {
    departments_download(&state, Format::Csv).await
}

async fn departments_xlsx(State(state): State<AppState>) -> HttpResult<Response> {
    departments_download(&state, Format::Xlsx).await
}

/// A site edit as given: the page's textarea or the API's list of ranges, split into
/// entries (`first-last` or one number).
#[derive(Clone, Debug, Default)]
pub(crate) struct SiteEdit {
    pub name: String,
    pub address: String,
    pub department: Option<String>,
    pub ranges: Vec<String>,
}

/// Owner of a range, for the overlap message.
pub(crate) async fn range_owners(
    state: &AppState,
) -> HttpResult<Box<dyn Fn(&store::NumberRange) -> String + Send + Sync>> {
    let sites: Vec<(store::SiteId, String)> = state
        .store
        .sites()
        .await?
        .into_iter()
        .map(|s| (s.id, s.code))
        .collect();
    let trunks: Vec<(store::TrunkId, String)> = state
        .store
        .trunks()
        .await?
        .into_iter()
        .map(|t| (t.id, t.name))
        .collect();
    Ok(Box::new(move |r: &store::NumberRange| match r.owner {
        store::RangeOwner::Site(id) => sites
            .iter()
            .find(|(s, _)| *s == id)
            .map(|(_, c)| format!("site {c}"))
            .unwrap_or_default(),
        store::RangeOwner::Trunk(id) => trunks
            .iter()
            .find(|(t, _)| *t == id)
            .map(|(_, n)| format!("trunk {n}"))
            .unwrap_or_default(),
    }))
}

/// Checks and stores an edit of site `code`, audits it. Wrong fields come back as
/// [`HttpError::Fields`]. The page and the API share it.
pub(crate) async fn save_site(
    state: &AppState,
    p: &Principal,
    code: &str,
    edit: &SiteEdit,
) -> HttpResult<()> {
    let Some(site) = state.store.site_by_code(code).await? else {
        return Err(HttpError::NotFound);
    };
    let mut errors = Vec::new();
    let name = form::required("name", &edit.name, &mut errors);
    let others: Vec<store::NumberRange> = state
        .store
        .number_ranges()
        .await?
        .into_iter()
        .filter(|r| r.owner != store::RangeOwner::Site(site.id))
        .collect();
    let owner = range_owners(state).await?;
    let ranges = form::ranges("ranges", &edit.ranges, &others, owner, &mut errors);
    if !errors.is_empty() {
        return Err(HttpError::Fields(errors));
    }
    let update = store::SiteUpdate {
        name,
        address: edit.address.trim().to_string(),
        department: form::optional(edit.department.as_deref()),
        ranges,
    };
    state.store.update_site(code, &update).await?;
    let listed: Vec<String> = update
        .ranges
        .iter()
        .map(|(f, l)| format!("{f}-{l}"))
        .collect();
    audit(
        state,
        p,
        "site.update",
        format!(
            "site {code}: name {:?}, address {:?}, department {:?}, ranges [{}]",
            update.name,
            update.address,
            update.department.as_deref().unwrap_or(""),
            listed.join(" ")
        ),
    )
    .await;
    Ok(())
}

async fn edit_page(
    state: &AppState,
    p: &Principal,
    code: &str,
    edit: &SiteEdit,
    errors: &[FieldError],
) -> HttpResult<Html<String>> {
    let lang = p.lang;
    let depts = state.store.departments().await?;
    let dept = edit.department.as_deref().unwrap_or("");
    let title = format!("{} {code}", Msg::EditSite.get(lang));
    Ok(page(
        p,
        "/sites",
        &title,
        html! {
            (form::summary(lang, errors))
            form method="post" action={ "/sites/" (code) } novalidate {
                (csrf(p))
                label for="name" { (Msg::Name.get(lang)) }
                input id="name" name="name" required value=(edit.name)
                    aria-invalid=[form::invalid(errors, "name")] aria-describedby=[form::described_by(errors, "name")];
                (form::message(lang, errors, "name"))
                label for="address" { (Msg::Address.get(lang)) }
                input id="address" name="address" value=(edit.address);
                label for="department" { (Msg::Department.get(lang)) }
                select id="department" name="department" {
                    option value="" selected[dept.is_empty()] { (Msg::NoDepartment.get(lang)) }
                    @for d in &depts { option value=(d.name) selected[d.name == dept] { (d.name) } }
                }
                (ranges_field(lang, errors, &edit.ranges.join("\n")))
                p { button type="submit" { (Msg::Save.get(lang)) } }
            }
        },
    ))
}

/// The number-range textarea with its help and error text (sites and trunks).
pub(crate) fn ranges_field(lang: crate::i18n::Lang, errors: &[FieldError], text: &str) -> Markup {
    let described = form::described_with("ranges-help", errors, "ranges");
    html! {
        label for="ranges" { (Msg::NumberRanges.get(lang)) }
        p id="ranges-help" class="help" { (Msg::RangesHelp.get(lang)) }
        textarea id="ranges" name="ranges" rows="4" cols="40" aria-describedby=(described)
            aria-invalid=[form::invalid(errors, "ranges")] { (text) }
        (form::message(lang, errors, "ranges"))
    }
}

async fn edit_form(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(code): Path<String>,
) -> HttpResult<Html<String>> {
    let site = state
        .store
        .site_by_code(&code)
        .await?
        .ok_or(HttpError::NotFound)?;
    let edit = SiteEdit {
        name: site.name,
        address: site.address,
        department: site.department,
        ranges: form::entries(&form::ranges_text(&site.number_ranges)),
    };
    edit_page(&state, &p, &code, &edit, &[]).await
}

#[derive(Deserialize)]
struct SiteEditForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    department: String,
    #[serde(default)]
    ranges: String,
}

async fn edit(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(code): Path<String>,
    Form(f): Form<SiteEditForm>,
) -> HttpResult<Response> {
    let edit = SiteEdit {
        name: f.name,
        address: f.address,
        department: Some(f.department),
        ranges: form::entries(&f.ranges),
    };
    match save_site(&state, &p, &code, &edit).await {
        Ok(()) => Ok(Redirect::to("/sites").into_response()),
        Err(HttpError::Fields(errors)) => {
            let page = edit_page(&state, &p, &code, &edit, &errors).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(other) => Err(other),
    }
}

/// The department with id `id`.
pub(crate) async fn department_by_id(state: &AppState, id: i64) -> HttpResult<store::Department> {
    state
        .store
        .departments()
        .await?
        .into_iter()
        .find(|d| d.id.0 == id)
        .ok_or(HttpError::NotFound)
}

/// Renames department `id` and sets its cost centre; audits. Shared by page and API.
pub(crate) async fn save_department(
    state: &AppState,
    p: &Principal,
    id: i64,
    name: &str,
    cost_centre: Option<&str>,
) -> HttpResult<()> {
    let d = department_by_id(state, id).await?;
    let mut errors = Vec::new();
    let new_name = form::required("name", name, &mut errors);
    if new_name != d.name
        && state
            .store
            .departments()
            .await?
            .iter()
            .any(|x| x.name == new_name)
    {
        errors.push(FieldError::with("name", Msg::NameTaken, new_name.as_str()));
    }
    if !errors.is_empty() {
        return Err(HttpError::Fields(errors));
    }
    let cc = form::optional(cost_centre);
    state
        .store
        .update_department(&d.name, &new_name, cc.as_deref())
        .await?;
    audit(
        state,
        p,
        "department.update",
        format!(
            "department {:?} -> {new_name:?}, cost centre {:?}",
            d.name,
            cc.as_deref().unwrap_or("")
        ),
    )
    .await;
    Ok(())
}

/// Deletes department `id` unless a site or an extension uses it; the refusal names
/// how many of each (in the user's language). Shared by page and API.
pub(crate) async fn delete_department_checked(
    state: &AppState,
    p: &Principal,
    id: i64,
) -> HttpResult<()> {
    let d = department_by_id(state, id).await?;
    let usage = state
        .store
        .department_usage(&d.name)
        .await?
        .unwrap_or_default();
    if usage.in_use() {
        let lang = p.lang;
        return Err(HttpError::Conflict(format!(
            "{} ({} {}, {} {})",
            Msg::DepartmentInUse.get(lang),
            usage.sites,
            Msg::InUseBySites.get(lang),
            usage.extensions,
            Msg::InUseByExtensions.get(lang)
        )));
    }
    state.store.remove_department(&d.name).await?;
    audit(
        state,
        p,
        "department.remove",
        format!("department {:?}", d.name),
    )
    .await;
    Ok(())
}

fn department_page(
    p: &Principal,
    d: &store::Department,
    name: &str,
    cost_centre: &str,
    errors: &[FieldError],
    refusal: Option<String>,
) -> Html<String> {
    let lang = p.lang;
    let title = format!("{} {}", Msg::EditDepartment.get(lang), d.name);
    page(
        p,
        "/departments",
        &title,
        html! {
            (form::summary(lang, errors))
            @if let Some(r) = refusal { div class="error" role="alert" id="delete-refused" { p { (r) } } }
            form method="post" action={ "/departments/" (d.id.0) } novalidate {
                (csrf(p))
                label for="name" { (Msg::Name.get(lang)) }
                input id="name" name="name" required value=(name)
                    aria-invalid=[form::invalid(errors, "name")] aria-describedby=[form::described_by(errors, "name")];
                (form::message(lang, errors, "name"))
                label for="cost_centre" { (Msg::CostCentre.get(lang)) }
                input id="cost_centre" name="cost_centre" value=(cost_centre);
                p { button type="submit" { (Msg::Save.get(lang)) } }
            }
            form method="post" action={ "/departments/" (d.id.0) "/delete" } {
                (csrf(p)) p { button class="danger" type="submit" { (Msg::Delete.get(lang)) } }
            }
        },
    )
}

async fn edit_department_form(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<i64>,
) -> HttpResult<Html<String>> {
    let d = department_by_id(&state, id).await?;
    let cc = d.cost_centre.clone().unwrap_or_default();
    Ok(department_page(&p, &d, &d.name, &cc, &[], None))
}

async fn edit_department(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<i64>,
    Form(f): Form<DeptForm>,
) -> HttpResult<Response> {
    match save_department(&state, &p, id, &f.name, Some(&f.cost_centre)).await {
        Ok(()) => Ok(Redirect::to("/departments").into_response()),
        Err(HttpError::Fields(errors)) => {
            let d = department_by_id(&state, id).await?;
            let page = department_page(&p, &d, &f.name, &f.cost_centre, &errors, None);
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(other) => Err(other),
    }
}

async fn delete_department(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<i64>,
) -> HttpResult<Response> {
    match delete_department_checked(&state, &p, id).await {
        Ok(()) => Ok(Redirect::to("/departments").into_response()),
        Err(HttpError::Conflict(why)) => {
            let d = department_by_id(&state, id).await?;
            let cc = d.cost_centre.clone().unwrap_or_default();
            let page = department_page(&p, &d, &d.name, &cc, &[], Some(why));
            Ok((StatusCode::CONFLICT, page).into_response())
        }
        Err(other) => Err(other),
    }
}
