//! Sites and departments pages.

use axum::extract::{Form, Path, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use maud::html;
use serde::Deserialize;

use crate::AppState;
use crate::auth::Principal;
use crate::http::audit;
use crate::http::error::HttpResult;
use crate::i18n::Msg;
use crate::layout::{csrf, page};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/sites", get(list).post(create))
        .route("/sites/{code}/delete", post(delete))
        .route("/departments", get(departments).post(create_department))
}

async fn list(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
) -> HttpResult<Html<String>> {
    let lang = p.lang;
    let sites = state.store.sites().await?;
    Ok(page(
        &p,
        "/sites",
        Msg::Sites.get(lang),
        html! {
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
                        form class="inline" method="post" action={ "/sites/" (s.code) "/delete" } {
                            (csrf(&p))
                            button class="danger" type="submit" aria-label={ (Msg::Delete.get(lang)) " " (s.code) } { (Msg::Delete.get(lang)) }
                        }
                    } }
                } } }
            }
            @if p.is_admin() {
                h2 { (Msg::Create.get(lang)) }
                form method="post" action="/sites" {
                    (csrf(&p))
                    label for="code" { (Msg::Code.get(lang)) } input id="code" name="code" required;
                    label for="name" { (Msg::Name.get(lang)) } input id="name" name="name" required;
                    label for="address" { (Msg::Address.get(lang)) } input id="address" name="address";
                    label for="department" { (Msg::Department.get(lang)) } input id="department" name="department";
                    p { button type="submit" { (Msg::Create.get(lang)) } }
                }
            }
        },
    ))
}

#[derive(Deserialize)]
struct SiteForm {
    code: String,
    name: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    department: String,
}

async fn create(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Form(f): Form<SiteForm>,
) -> HttpResult<Response> {
    let dept = f.department.trim();
    let site = store::NewSite {
        code: f.code.trim().to_string(),
        name: f.name.trim().to_string(),
        address: f.address.trim().to_string(),
        department: (!dept.is_empty()).then(|| dept.to_string()),
    };
    state.store.add_site(&site).await?;
    audit(&state, &p, "site.add", format!("site {}", site.code)).await;
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
            table {
                thead { tr { th scope="col" { (Msg::Name.get(lang)) } th scope="col" { (Msg::CostCentre.get(lang)) } } }
                tbody { @for d in &depts { tr { td { (d.name) } td { (d.cost_centre.as_deref().unwrap_or("")) } } } }
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
