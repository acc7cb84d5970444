//! The JSON API under `/api/v1`: the same operations as the pages, for bearer tokens.
//! Errors are `{"error": {"code", "message"}}` with stable codes (see
//! [`crate::http::error::HttpError::code`]). [`OPERATIONS`] documents every route and
//! becomes `/api/v1/openapi.json`; a test checks it against the route table.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post};
use axum::{Extension, Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use store::{ClassOfService, Credentials, NewExtension};

use crate::AppState;
use crate::app::{Access, ROUTES};
use crate::auth::Principal;
use crate::http::audit;
use crate::http::calls::{PAGE_SIZE, RecordQuery, select_page};
use crate::http::error::{HttpError, HttpResult};
use crate::http::extensions::{ExtensionEdit, apply_import, parse_import, save_edit};
use crate::http::sites::{SiteEdit, delete_department_checked, save_department, save_site};
use crate::http::trunks::TrunkEdit;
use crate::http::users::{TokenForm, new_token, revoke};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/sites", get(sites).post(create_site))
        .route(
            "/api/v1/sites/{code}",
            patch(update_site).delete(delete_site),
        )
        .route(
            "/api/v1/departments",
            get(departments).post(create_department),
        )
        .route(
            "/api/v1/departments/{id}",
            patch(update_department).delete(delete_department),
        )
        .route("/api/v1/extensions", get(extensions).post(create_extension))
        .route("/api/v1/extensions/import", post(import_extensions))
        .route(
            "/api/v1/extensions/{number}",
            get(extension)
                .patch(update_extension)
                .delete(delete_extension),
        )
        .route("/api/v1/extensions/{number}/password", post(new_password))
        .route("/api/v1/trunks", get(trunks).post(create_trunk))
        .route(
            "/api/v1/trunks/{name}",
            get(trunk).patch(update_trunk).delete(delete_trunk),
        )
        .route("/api/v1/audit", get(audit_log))
        .route("/api/v1/registrations", get(registrations))
        .route("/api/v1/calls/live", get(live_calls))
        .route("/api/v1/calls/live/{id}", delete(hang_up))
        .route("/api/v1/calls", get(call_records))
        .route("/api/v1/tokens", get(tokens).post(create_token))
        .route("/api/v1/tokens/{id}", delete(revoke_token))
}

fn body<T>(b: Result<Json<T>, JsonRejection>) -> HttpResult<T> {
    b.map(|Json(v)| v)
        .map_err(|e| HttpError::Invalid(e.body_text()))
}

async fn sites(State(state): State<AppState>) -> HttpResult<Json<Vec<store::Site>>> {
    Ok(Json(state.store.sites().await?))
}

#[derive(Deserialize)]
struct SiteBody {
    code: String,
    name: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    department: Option<String>,
    /// `"first-last"` entries (or one number each).
    #[serde(default)]
    number_ranges: Vec<String>,
}

async fn create_site(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    b: Result<Json<SiteBody>, JsonRejection>,
) -> HttpResult<Response> {
    let b = body(b)?;
    let site = store::NewSite {
        code: b.code,
        name: b.name,
        address: b.address,
        department: b.department,
    };
    let mut errors = Vec::new();
    let others = state.store.number_ranges().await?;
    let owner = crate::http::sites::range_owners(&state).await?;
    let ranges = crate::form::ranges("ranges", &b.number_ranges, &others, owner, &mut errors);
    if !errors.is_empty() {
        return Err(HttpError::Fields(errors));
    }
    let id = state.store.create_site(&site, &ranges).await?;
    audit(&state, &p, "site.add", format!("site {}", site.code)).await;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "id": id, "code": site.code })),
    )
        .into_response())
}

async fn delete_site(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(code): Path<String>,
) -> HttpResult<StatusCode> {
    state.store.remove_site(&code).await?;
    audit(&state, &p, "site.remove", format!("site {code}")).await;
    Ok(StatusCode::NO_CONTENT)
}

/// A site PATCH: fields left out keep their stored value.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SitePatch {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    address: Option<String>,
    /// A department name; `""` for none.
    #[serde(default)]
    department: Option<String>,
    /// `"first-last"` entries (or one number each); they replace the site's ranges.
    #[serde(default)]
    number_ranges: Option<Vec<String>>,
}

async fn update_site(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(code): Path<String>,
    b: Result<Json<SitePatch>, JsonRejection>,
) -> HttpResult<Json<store::Site>> {
    let b = body(b)?;
    let site = state
        .store
        .site_by_code(&code)
        .await?
        .ok_or(HttpError::NotFound)?;
    let edit = SiteEdit {
        name: b.name.unwrap_or(site.name),
        address: b.address.unwrap_or(site.address),
        department: b.department.or(site.department),
        ranges: b.number_ranges.unwrap_or_else(|| {
            site.number_ranges
                .iter()
                .map(|r| format!("{}-{}", r.first, r.last))
                .collect()
        }),
    };
    save_site(&state, &p, &code, &edit).await?;
    Ok(Json(
        state
            .store
            .site_by_code(&code)
            .await?
            .ok_or(HttpError::Internal)?,
    ))
}

async fn departments(State(state): State<AppState>) -> HttpResult<Json<Vec<store::Department>>> {
    Ok(Json(state.store.departments().await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DepartmentBody {
    name: String,
    #[serde(default)]
    cost_centre: Option<String>,
}

async fn create_department(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    b: Result<Json<DepartmentBody>, JsonRejection>,
) -> HttpResult<Response> {
    let b = body(b)?;
    let name = b.name.trim();
    if name.is_empty() {
        return Err(HttpError::Fields(vec![crate::form::FieldError::new(
            "name",
            crate::i18n::Msg::Required,
        )]));
    }
    if state
        .store
        .departments()
        .await?
        .iter()
        .any(|d| d.name == name)
    {
        return Err(HttpError::Conflict(format!(
            "department {name} already exists"
        )));
    }
    let cc = crate::form::optional(b.cost_centre.as_deref());
    let id = state.store.ensure_department(name, cc.as_deref()).await?;
    audit(&state, &p, "department.save", format!("department {name}")).await;
    Ok((StatusCode::CREATED, Json(json!({ "id": id, "name": name }))).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DepartmentPatch {
    #[serde(default)]
    name: Option<String>,
    /// `""` clears it.
    #[serde(default)]
    cost_centre: Option<String>,
}

async fn update_department(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<i64>,
    b: Result<Json<DepartmentPatch>, JsonRejection>,
) -> HttpResult<Json<store::Department>> {
    let b = body(b)?;
    let d = crate::http::sites::department_by_id(&state, id).await?;
    let name = b.name.unwrap_or(d.name);
    let cc = b.cost_centre.or(d.cost_centre);
    save_department(&state, &p, id, &name, cc.as_deref()).await?;
    Ok(Json(
        crate::http::sites::department_by_id(&state, id).await?,
    ))
}

async fn delete_department(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<i64>,
) -> HttpResult<StatusCode> {
    delete_department_checked(&state, &p, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn ext_json(e: &store::Extension, registered: bool) -> Value {
    json!({
        "id": e.id, "number": e.number, "display_name": e.display_name, "site": e.site,
        "department": e.department, "class_of_service": e.class_of_service, "premium_allowed": e.premium_allowed,
        "enabled": e.enabled, "registered": registered,
    })
}

#[derive(Deserialize, Default)]
struct Search {
    #[serde(default)]
    q: String,
}

async fn extensions(
    State(state): State<AppState>,
    Query(s): Query<Search>,
) -> HttpResult<Json<Vec<Value>>> {
    let reg: std::collections::HashSet<String> = state
        .live
        .registrations()
        .into_iter()
        .map(|r| r.extension)
        .collect();
    let q = s.q.trim().to_lowercase();
    Ok(Json(
        state
            .store
            .extensions()
            .await?
            .iter()
            .filter(|e| {
                q.is_empty() || e.number.contains(&q) || e.display_name.to_lowercase().contains(&q)
            })
            .map(|e| ext_json(e, reg.contains(&e.number)))
            .collect(),
    ))
}

#[derive(Deserialize)]
struct ExtBody {
    number: String,
    display_name: String,
    site: String,
    #[serde(default)]
    department: Option<String>,
    class_of_service: ClassOfService,
    #[serde(default)]
    premium_allowed: bool,
    #[serde(default = "yes")]
    enabled: bool,
}

fn yes() -> bool {
    true
}

async fn create_extension(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    b: Result<Json<ExtBody>, JsonRejection>,
) -> HttpResult<Response> {
    let b = body(b)?;
    let password = store::generate_password();
    let ext = NewExtension {
        credentials: Credentials::from_password(&b.number, &state.realm, &password),
        number: b.number,
        display_name: b.display_name,
        site: b.site,
        department: b.department,
        class_of_service: b.class_of_service,
        premium_allowed: b.premium_allowed,
        enabled: b.enabled,
    };
    state.store.add_extension(&ext).await?;
    audit(
        &state,
        &p,
        "extension.add",
        format!(
            "extension {} ({}) on site {}",
            ext.number, ext.display_name, ext.site
        ),
    )
    .await;
    let stored = state
        .store
        .extension(&ext.number)
        .await?
        .ok_or(HttpError::Internal)?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "extension": ext_json(&stored, false), "sip_password": password })),
    )
        .into_response())
}

async fn import_extensions(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    text: String,
) -> HttpResult<Response> {
    match parse_import(&state, &text).await? {
        Err(lines) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({ "error": { "code": "import_failed", "message": "nothing imported", "lines": lines } })),
        )
            .into_response()),
        Ok(items) => {
            let done = apply_import(&state, &p, items).await?;
            let list: Vec<Value> = done.iter().map(|(n, pw)| json!({ "number": n, "sip_password": pw })).collect();
            Ok((StatusCode::CREATED, Json(json!({ "imported": list.len(), "extensions": list }))).into_response())
        }
    }
}

async fn find(state: &AppState, number: &str) -> HttpResult<store::Extension> {
    state
        .store
        .extension(number)
        .await?
        .ok_or(HttpError::NotFound)
}

async fn extension(
    State(state): State<AppState>,
    Path(number): Path<String>,
) -> HttpResult<Json<Value>> {
    let e = find(&state, &number).await?;
    let reg = state
        .live
        .registrations()
        .iter()
        .any(|r| r.extension == e.number);
    Ok(Json(ext_json(&e, reg)))
}

/// An extension PATCH: fields left out keep their stored value.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExtPatch {
    #[serde(default)]
    display_name: Option<String>,
    /// Site code.
    #[serde(default)]
    site: Option<String>,
    /// Department name; `""` takes the site's department.
    #[serde(default)]
    department: Option<String>,
    #[serde(default)]
    class_of_service: Option<String>,
    #[serde(default)]
    premium_allowed: Option<bool>,
    #[serde(default)]
    enabled: Option<bool>,
}

async fn update_extension(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(number): Path<String>,
    b: Result<Json<ExtPatch>, JsonRejection>,
) -> HttpResult<Json<Value>> {
    let b = body(b)?;
    let e = find(&state, &number).await?;
    let edit = ExtensionEdit {
        display_name: b.display_name.unwrap_or(e.display_name),
        site: b.site.unwrap_or(e.site),
        department: b.department.or(e.department),
        class_of_service: b
            .class_of_service
            .unwrap_or_else(|| e.class_of_service.as_str().to_string()),
        premium_allowed: b.premium_allowed.unwrap_or(e.premium_allowed),
        enabled: b.enabled.unwrap_or(e.enabled),
    };
    save_edit(&state, &p, &number, &edit).await?;
    let e = find(&state, &number).await?;
    Ok(Json(ext_json(
        &e,
        state
            .live
            .registrations()
            .iter()
            .any(|r| r.extension == e.number),
    )))
}

async fn delete_extension(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(number): Path<String>,
) -> HttpResult<StatusCode> {
    state.store.remove_extension(&number).await?;
    audit(
        &state,
        &p,
        "extension.remove",
        format!("extension {number}"),
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}

async fn new_password(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(number): Path<String>,
) -> HttpResult<Json<Value>> {
    let password = super::extensions::regenerate_password(&state, &p, &number).await?;
    Ok(Json(json!({ "number": number, "sip_password": password })))
}

/// A trunk as JSON: never the secret (only whether one is set), the user name only for
/// admins.
fn trunk_json(t: &store::Trunk, admin: bool, registered: Option<bool>) -> Value {
    json!({
        "name": t.name, "host": t.host, "port": t.port, "transport": t.transport,
        "username": if admin { t.username.clone() } else { None },
        "secret_set": t.secret.is_some(), "register": t.register, "channel_limit": t.channel_limit,
        "allowed_sources": t.allowed_sources,
        "number_ranges": t.number_ranges.iter().map(|r| format!("{}-{}", r.first, r.last)).collect::<Vec<_>>(),
        "enabled": t.enabled,
        "registered": registered,
    })
}

async fn trunks(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
) -> HttpResult<Json<Vec<Value>>> {
    let states = state.live.trunk_states();
    Ok(Json(
        state
            .store
            .trunks()
            .await?
            .iter()
            .map(|t| {
                let up = states.iter().find(|(n, _)| *n == t.name).map(|(_, up)| *up);
                trunk_json(t, p.is_admin(), up)
            })
            .collect(),
    ))
}

async fn trunk(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
) -> HttpResult<Json<Value>> {
    let t = state.store.trunk(&name).await?.ok_or(HttpError::NotFound)?;
    let up = state
        .live
        .trunk_states()
        .into_iter()
        .find(|(n, _)| *n == t.name)
        .map(|(_, up)| up);
    Ok(Json(trunk_json(&t, p.is_admin(), up)))
}

/// A trunk body: every field for POST (name and host required), any for PATCH. The
/// password is write-only; `clear_password` removes the stored one.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct TrunkBody {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    host: Option<String>,
    #[serde(default)]
    port: Option<u32>,
    #[serde(default)]
    transport: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    clear_password: bool,
    #[serde(default)]
    register: Option<bool>,
    /// `null` or `0`: no limit; left out: unchanged.
    #[serde(default, deserialize_with = "present")]
    channel_limit: Option<Option<u32>>,
    #[serde(default)]
    allowed_sources: Option<Vec<String>>,
    #[serde(default)]
    number_ranges: Option<Vec<String>>,
    #[serde(default)]
    enabled: Option<bool>,
}

/// Tells a field given as `null` (`Some(None)`) from one left out (`None`, by default).
fn present<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

impl TrunkBody {
    /// The body over `base` (the stored trunk, or defaults for a new one).
    fn over(self, mut base: TrunkEdit) -> TrunkEdit {
        if let Some(v) = self.name {
            base.name = v;
        }
        if let Some(v) = self.host {
            base.host = v;
        }
        if let Some(v) = self.port {
            base.port = v.to_string();
        }
        if let Some(v) = self.transport {
            base.transport = v;
        }
        if let Some(v) = self.username {
            base.username = v;
        }
        base.password = self.password;
        base.clear_password = self.clear_password;
        if let Some(v) = self.register {
            base.register = v;
        }
        if let Some(v) = self.channel_limit {
            base.channel_limit = v
                .filter(|n| *n > 0)
                .map(|n| n.to_string())
                .unwrap_or_default();
        }
        if let Some(v) = self.allowed_sources {
            base.allowed_sources = v;
        }
        if let Some(v) = self.number_ranges {
            base.ranges = v;
        }
        if let Some(v) = self.enabled {
            base.enabled = v;
        }
        base
    }
}

async fn create_trunk(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    b: Result<Json<TrunkBody>, JsonRejection>,
) -> HttpResult<Response> {
    let b = body(b)?;
    let base = TrunkEdit {
        port: "5060".into(),
        transport: "udp".into(),
        enabled: true,
        ..TrunkEdit::default()
    };
    let created = crate::http::trunks::create_trunk(&state, &p, &b.over(base)).await?;
    let t = state
        .store
        .trunk(&created.name)
        .await?
        .ok_or(HttpError::Internal)?;
    Ok((StatusCode::CREATED, Json(trunk_json(&t, true, None))).into_response())
}

async fn update_trunk(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
    b: Result<Json<TrunkBody>, JsonRejection>,
) -> HttpResult<Json<Value>> {
    let b = body(b)?;
    let existing = state.store.trunk(&name).await?.ok_or(HttpError::NotFound)?;
    let updated =
        crate::http::trunks::update_trunk(&state, &p, &name, &b.over(TrunkEdit::of(&existing)))
            .await?;
    let t = state
        .store
        .trunk(&updated.name)
        .await?
        .ok_or(HttpError::Internal)?;
    Ok(Json(trunk_json(&t, true, None)))
}

async fn delete_trunk(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
) -> HttpResult<StatusCode> {
    crate::http::trunks::delete_trunk(&state, &p, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct AuditQuery {
    #[serde(default)]
    limit: Option<u32>,
}

async fn audit_log(
    State(state): State<AppState>,
    Query(q): Query<AuditQuery>,
) -> HttpResult<Json<Vec<Value>>> {
    let entries = state.store.audit_log(q.limit.unwrap_or(200)).await?;
    Ok(Json(
        entries
            .iter()
            .map(|e| {
                json!({ "id": e.id, "at": e.at, "actor": e.actor, "action": e.action,
                        "detail": e.detail, "source": e.source })
            })
            .collect(),
    ))
}

async fn registrations(State(state): State<AppState>) -> Json<Vec<crate::LiveRegistration>> {
    Json(state.live.registrations())
}

async fn live_calls(State(state): State<AppState>) -> Json<Vec<crate::LiveCall>> {
    Json(state.live.active_calls())
}

async fn hang_up(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<u64>,
) -> HttpResult<StatusCode> {
    if !state.live.hang_up(id) {
        return Err(HttpError::NotFound);
    }
    audit(&state, &p, "call.hang_up", format!("call {id}")).await;
    Ok(StatusCode::NO_CONTENT)
}

async fn call_records(
    State(state): State<AppState>,
    Query(q): Query<RecordQuery>,
) -> HttpResult<Json<Value>> {
    let (shown, total) = select_page(&state, &q).await?;
    let page = q.page.unwrap_or(1).max(1);
    Ok(Json(
        json!({ "total": total, "page": page, "page_size": PAGE_SIZE, "records": shown }),
    ))
}

async fn tokens(State(state): State<AppState>) -> HttpResult<Json<Vec<store::ApiToken>>> {
    Ok(Json(state.store.api_tokens().await?))
}

#[derive(Deserialize)]
struct TokenBody {
    name: String,
    role: String,
}

async fn create_token(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    b: Result<Json<TokenBody>, JsonRejection>,
) -> HttpResult<Response> {
    let b = body(b)?;
    let (id, token) = new_token(
        &state,
        &p,
        &TokenForm {
            name: b.name,
            role: b.role,
        },
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "id": id, "token": token })),
    )
        .into_response())
}

async fn revoke_token(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<i64>,
) -> HttpResult<StatusCode> {
    revoke(&state, &p, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// One documented operation: method, path (as in the route table) and summary.
pub const OPERATIONS: &[(&str, &str, &str)] = &[
    ("GET", "/api/v1/openapi.json", "This document"),
    ("GET", "/api/v1/sites", "List sites"),
    (
        "POST",
        "/api/v1/sites",
        "Create a site (code, name, address, department, number_ranges)",
    ),
    (
        "PATCH",
        "/api/v1/sites/{code}",
        "Change a site: name, address, department, number_ranges (replaced)",
    ),
    ("DELETE", "/api/v1/sites/{code}", "Delete a site"),
    ("GET", "/api/v1/departments", "List departments"),
    ("POST", "/api/v1/departments", "Create a department"),
    (
        "PATCH",
        "/api/v1/departments/{id}",
        "Rename a department or set its cost centre",
    ),
    (
        "DELETE",
        "/api/v1/departments/{id}",
        "Delete a department (refused while a site or extension uses it)",
    ),
    (
        "GET",
        "/api/v1/extensions",
        "List extensions with live registration state (q searches)",
    ),
    (
        "POST",
        "/api/v1/extensions",
        "Create an extension; the SIP password is returned once",
    ),
    (
        "POST",
        "/api/v1/extensions/import",
        "Import extensions from CSV (text/csv body): all lines or none",
    ),
    ("GET", "/api/v1/extensions/{number}", "One extension"),
    (
        "PATCH",
        "/api/v1/extensions/{number}",
        "Change name, site, department, class of service, premium, enabled",
    ),
    (
        "DELETE",
        "/api/v1/extensions/{number}",
        "Delete an extension",
    ),
    (
        "POST",
        "/api/v1/extensions/{number}/password",
        "Generate a new SIP password (returned once)",
    ),
    (
        "GET",
        "/api/v1/trunks",
        "List trunks and registration state (no secrets)",
    ),
    (
        "POST",
        "/api/v1/trunks",
        "Create a trunk (the password is write-only)",
    ),
    (
        "GET",
        "/api/v1/trunks/{name}",
        "One trunk and its registration state (no secrets)",
    ),
    (
        "PATCH",
        "/api/v1/trunks/{name}",
        "Change a trunk; a password given replaces the stored one, clear_password removes it",
    ),
    ("DELETE", "/api/v1/trunks/{name}", "Delete a trunk"),
    (
        "GET",
        "/api/v1/audit",
        "The newest audit log entries (limit, default 200)",
    ),
    ("GET", "/api/v1/registrations", "Live registrations"),
    ("GET", "/api/v1/calls/live", "Calls in progress"),
    ("DELETE", "/api/v1/calls/live/{id}", "Hang up a call"),
    (
        "GET",
        "/api/v1/calls",
        "Call records: from, to (YYYY-MM-DD), site, department, extension, direction, outcome, page",
    ),
    (
        "GET",
        "/api/v1/tokens",
        "List API tokens (never the tokens themselves)",
    ),
    (
        "POST",
        "/api/v1/tokens",
        "Create an API token for a role; returned once",
    ),
    ("DELETE", "/api/v1/tokens/{id}", "Revoke an API token"),
];

/// The OpenAPI 3.0 document of [`OPERATIONS`], with each operation's roles from the
/// route table.
pub fn openapi_document() -> Value {
    let mut paths = serde_json::Map::new();
    for (method, path, summary) in OPERATIONS {
        let roles: Vec<&str> = match ROUTES
            .iter()
            .find(|r| r.method == *method && r.path == *path)
            .map(|r| r.access)
        {
            Some(Access::Roles(roles)) => roles.iter().map(|r| r.as_str()).collect(),
            _ => Vec::new(),
        };
        let params: Vec<Value> = path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } }))
            .collect();
        let mut op = json!({
            "summary": summary,
            "operationId": format!("{}{}", method.to_lowercase(), path.replace(['/', '{', '}', '.'], "_")),
            "parameters": params,
            "responses": {
                "200": { "description": "OK" },
                "201": { "description": "Created" },
                "204": { "description": "No content" },
                "default": { "description": "Error", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } }
            }
        });
        if roles.is_empty() {
            op["security"] = json!([]);
        } else {
            op["x-roles"] = json!(roles);
        }
        let entry = paths.entry(path.to_string()).or_insert_with(|| json!({}));
        entry[method.to_lowercase()] = op;
    }
    json!({
        "openapi": "3.0.3",
        "info": { "title": "Sentral API", "version": env!("CARGO_PKG_VERSION") },
        "servers": [{ "url": "/" }],
        "security": [{ "bearer": [] }],
        "paths": paths,
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": { "error": { "type": "object", "required": ["code", "message"], "properties": {
                        "code": { "type": "string", "enum": ["unauthorized", "forbidden", "csrf_failed", "not_found", "invalid_input", "conflict", "internal", "import_failed"] },
                        "message": { "type": "string" },
                        "fields": { "type": "array", "items": { "type": "object", "required": ["field", "message"], "properties": {
                            "field": { "type": "string" }, "message": { "type": "string" }
                        } } }
                    } } }
                }
            }
        }
    })
}

async fn openapi() -> Json<Value> {
    Json(openapi_document())
}
