//! Trunks: settings and registration state; admins create, edit and delete them. The
//! provider password is write-only: never shown again, to anyone (the page says only
//! whether one is stored), and finance sees neither it nor the user name. The running PBX
//! picks changes up through the store's config version (its directory reload and the
//! registration supervisor, which restarts a trunk's registration when its settings move).

use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use maud::{Markup, html};
use serde::Deserialize;
use store::{NewTrunk, SecretChange, TrunkTransport};

use crate::AppState;
use crate::auth::Principal;
use crate::form::{self, FieldError};
use crate::http::audit;
use crate::http::download::{self, Format};
use crate::http::error::{HttpError, HttpResult};
use crate::http::sites::{range_owners, ranges_field};
use crate::i18n::{Lang, Msg};
use crate::layout::{csrf, page};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/trunks", get(list).post(create))
        .route("/trunks.csv", get(trunks_csv))
        .route("/trunks.xlsx", get(trunks_xlsx))
        .route("/trunks/{name}", get(edit_form).post(edit))
        .route("/trunks/{name}/delete", post(delete))
}

const TRANSPORTS: [TrunkTransport; 3] = [
    TrunkTransport::Udp,
    TrunkTransport::Tcp,
    TrunkTransport::Tls,
];

async fn list(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
) -> HttpResult<Html<String>> {
    list_page(&state, &p, &TrunkEdit::new_default(), &[]).await
}

async fn list_page(
    state: &AppState,
    p: &Principal,
    new: &TrunkEdit,
    errors: &[FieldError],
) -> HttpResult<Html<String>> {
    let lang = p.lang;
    let trunks = state.store.trunks().await?;
    let states = state.live.trunk_states();
    Ok(page(
        p,
        "/trunks",
        Msg::Trunks.get(lang),
        html! {
            (download::links(lang, "/trunks", ""))
            table {
                thead { tr {
                    th scope="col" { (Msg::Name.get(lang)) } th scope="col" { (Msg::Host.get(lang)) }
                    th scope="col" { (Msg::Transport.get(lang)) } th scope="col" { (Msg::RegisterWithProvider.get(lang)) }
                    th scope="col" { (Msg::ChannelLimit.get(lang)) } th scope="col" { (Msg::NumberRanges.get(lang)) }
                    th scope="col" { (Msg::Enabled.get(lang)) } th scope="col" { (Msg::State.get(lang)) }
                    @if p.is_admin() { th scope="col" { (Msg::Actions.get(lang)) } }
                } }
                tbody { @for t in &trunks {
                    @let up = states.iter().find(|(n, _)| *n == t.name).map(|(_, u)| *u);
                    tr {
                        td { (t.name) } td { (t.host) ":" (t.port) } td { (t.transport.as_str()) }
                        td { (if t.register { Msg::Yes } else { Msg::No }.get(lang)) }
                        td { (t.channel_limit.map(|c| c.to_string()).unwrap_or_else(|| "–".into())) }
                        td { @for r in &t.number_ranges { (r.first) "–" (r.last) " " } }
                        td { (if t.enabled { Msg::Yes } else { Msg::No }.get(lang)) }
                        td { @match up {
                            Some(true) => span class="ok" { (Msg::Up.get(lang)) },
                            Some(false) => span class="bad" { (Msg::Down.get(lang)) },
                            None => "–",
                        } }
                        @if p.is_admin() { td {
                            a href={ "/trunks/" (t.name) } aria-label={ (Msg::Edit.get(lang)) " " (t.name) } { (Msg::Edit.get(lang)) }
                        } }
                    }
                } }
            }
            @if p.is_admin() {
                h2 { (Msg::NewTrunk.get(lang)) }
                (form::summary(lang, errors))
                form method="post" action="/trunks" novalidate {
                    (csrf(p))
                    (fields(lang, new, errors, None))
                    p { button type="submit" { (Msg::Create.get(lang)) } }
                }
            }
        },
    ))
}

/// The trunk form's fields. `stored_secret` is `Some(set?)` when editing: the password
/// field is always empty (write-only) and the text says whether one is stored.
fn fields(lang: Lang, t: &TrunkEdit, errors: &[FieldError], stored_secret: Option<bool>) -> Markup {
    let text = |id: &'static str, label: Msg, value: &str, required: bool| {
        html! {
            label for=(id) { (label.get(lang)) }
            input id=(id) name=(id) value=(value) required[required]
                aria-invalid=[form::invalid(errors, id)] aria-describedby=[form::described_by(errors, id)];
            (form::message(lang, errors, id))
        }
    };
    html! {
        (text("name", Msg::Name, &t.name, true))
        (text("host", Msg::Host, &t.host, true))
        (text("port", Msg::Port, &t.port, true))
        label for="transport" { (Msg::Transport.get(lang)) }
        select id="transport" name="transport" aria-invalid=[form::invalid(errors, "transport")] aria-describedby=[form::described_by(errors, "transport")] {
            @for tr in TRANSPORTS { option value=(tr.as_str()) selected[tr.as_str() == t.transport] { (tr.as_str()) } }
        }
        (form::message(lang, errors, "transport"))
        (text("username", Msg::Username, &t.username, false))
        label for="password" { (Msg::TrunkPassword.get(lang)) }
        @if let Some(set) = stored_secret {
            p id="password-help" class="help" { (if set { Msg::SecretIsSet } else { Msg::SecretNotSet }.get(lang)) }
            input id="password" name="password" type="password" autocomplete="new-password" aria-describedby="password-help";
            @if set { label { input type="checkbox" name="clear_password" value="true"; " " (Msg::ClearSecret.get(lang)) } }
        } @else {
            input id="password" name="password" type="password" autocomplete="new-password";
        }
        label { input type="checkbox" name="register" value="true" checked[t.register]; " " (Msg::RegisterWithProvider.get(lang)) }
        label for="channel_limit" { (Msg::ChannelLimit.get(lang)) }
        p id="channel_limit-help" class="help" { (Msg::NoLimit.get(lang)) }
        input id="channel_limit" name="channel_limit" inputmode="numeric" value=(t.channel_limit)
            aria-invalid=[form::invalid(errors, "channel_limit")]
            aria-describedby=(form::described_with("channel_limit-help", errors, "channel_limit"));
        (form::message(lang, errors, "channel_limit"))
        label for="allowed_sources" { (Msg::AllowedSources.get(lang)) }
        p id="allowed_sources-help" class="help" { (Msg::AllowedSourcesHelp.get(lang)) }
        textarea id="allowed_sources" name="allowed_sources" rows="3" cols="40"
            aria-invalid=[form::invalid(errors, "allowed_sources")]
            aria-describedby=(form::described_with("allowed_sources-help", errors, "allowed_sources")) {
            (t.allowed_sources.join("\n"))
        }
        (form::message(lang, errors, "allowed_sources"))
        (ranges_field(lang, errors, &t.ranges.join("\n")))
        label { input type="checkbox" name="enabled" value="true" checked[t.enabled]; " " (Msg::Enabled.get(lang)) }
    }
}

/// A trunk as given by the form or the API, not yet checked.
#[derive(Clone, Debug, Default)]
pub(crate) struct TrunkEdit {
    pub name: String,
    pub host: String,
    pub port: String,
    pub transport: String,
    pub username: String,
    /// A new password; empty or `None` keeps the stored one.
    pub password: Option<String>,
    pub clear_password: bool,
    pub register: bool,
    pub channel_limit: String,
    pub allowed_sources: Vec<String>,
    pub ranges: Vec<String>,
    pub enabled: bool,
}

impl TrunkEdit {
    fn new_default() -> TrunkEdit {
        TrunkEdit {
            port: "5060".into(),
            transport: "udp".into(),
            enabled: true,
            ..TrunkEdit::default()
        }
    }

    /// The stored trunk as an edit (the password left out: it is never shown).
    pub(crate) fn of(t: &store::Trunk) -> TrunkEdit {
        TrunkEdit {
            name: t.name.clone(),
            host: t.host.clone(),
            port: t.port.to_string(),
            transport: t.transport.as_str().into(),
            username: t.username.clone().unwrap_or_default(),
            password: None,
            clear_password: false,
            register: t.register,
            channel_limit: t.channel_limit.map(|c| c.to_string()).unwrap_or_default(),
            allowed_sources: t.allowed_sources.clone(),
            ranges: t
                .number_ranges
                .iter()
                .map(|r| format!("{}-{}", r.first, r.last))
                .collect(),
            enabled: t.enabled,
        }
    }
}

fn name_ok(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Checks a trunk edit against the rules and the other owners' number ranges.
/// `existing` is the trunk being edited (`None` when creating).
async fn check(
    state: &AppState,
    t: &TrunkEdit,
    existing: Option<&store::Trunk>,
) -> HttpResult<(NewTrunk, SecretChange, Vec<(String, String)>)> {
    let mut errors = Vec::new();
    let name = t.name.trim().to_string();
    if !name_ok(&name) {
        errors.push(FieldError::with(
            "name",
            Msg::InvalidCodeName,
            name.as_str(),
        ));
    } else if existing.is_none_or(|e| e.name != name) && state.store.trunk(&name).await?.is_some() {
        errors.push(FieldError::with("name", Msg::NameTaken, name.as_str()));
    }
    let host = t.host.trim().to_string();
    if host.is_empty() || host.contains(char::is_whitespace) {
        errors.push(FieldError::with("host", Msg::InvalidHost, host.as_str()));
    }
    let port = match t.port.trim().parse::<u16>() {
        Ok(p) if p > 0 => p,
        _ => {
            errors.push(FieldError::with("port", Msg::InvalidPort, t.port.trim()));
            0
        }
    };
    let transport = match t.transport.trim().parse::<TrunkTransport>() {
        Ok(tr) => tr,
        Err(_) => {
            errors.push(FieldError::with(
                "transport",
                Msg::InvalidTransport,
                t.transport.trim(),
            ));
            TrunkTransport::Udp
        }
    };
    let limit = t.channel_limit.trim();
    let channel_limit = if limit.is_empty() {
        None
    } else {
        match limit.parse::<u32>() {
            Ok(n) if n >= 1 => Some(n),
            _ => {
                errors.push(FieldError::with(
                    "channel_limit",
                    Msg::InvalidChannelLimit,
                    limit,
                ));
                None
            }
        }
    };
    let mut sources = Vec::new();
    for s in &t.allowed_sources {
        match store::validate_source(s) {
            Ok(()) => sources.push(s.clone()),
            Err(_) => errors.push(FieldError::with(
                "allowed_sources",
                Msg::InvalidSource,
                s.as_str(),
            )),
        }
    }
    let others: Vec<store::NumberRange> = state
        .store
        .number_ranges()
        .await?
        .into_iter()
        .filter(|r| existing.is_none_or(|e| r.owner != store::RangeOwner::Trunk(e.id)))
        .collect();
    let owner = range_owners(state).await?;
    let ranges = form::ranges("ranges", &t.ranges, &others, owner, &mut errors);
    if !errors.is_empty() {
        return Err(HttpError::Fields(errors));
    }
    let new_password = t.password.as_deref().filter(|pw| !pw.is_empty());
    let secret = match (new_password, t.clear_password) {
        (Some(pw), _) => SecretChange::Set(store::Secret::new(pw)),
        (None, true) => SecretChange::Clear,
        (None, false) => SecretChange::Keep,
    };
    let trunk = NewTrunk {
        name,
        host,
        port,
        transport,
        username: form::optional(Some(&t.username)),
        secret: new_password.map(store::Secret::new),
        register: t.register,
        channel_limit,
        allowed_sources: sources,
        enabled: t.enabled,
    };
    Ok((trunk, secret, ranges))
}

/// What an audit entry says about a trunk: settings, never the password (only whether
/// it changed).
fn describe(t: &NewTrunk, secret: &SecretChange, ranges: &[(String, String)]) -> String {
    let listed: Vec<String> = ranges.iter().map(|(f, l)| format!("{f}-{l}")).collect();
    format!(
        "trunk {}: {}:{} {} user {:?} register={} limit={} sources [{}] ranges [{}] enabled={} password {}",
        t.name,
        t.host,
        t.port,
        t.transport.as_str(),
        t.username.as_deref().unwrap_or(""),
        t.register,
        t.channel_limit
            .map(|c| c.to_string())
            .unwrap_or_else(|| "none".into()),
        t.allowed_sources.join(" "),
        listed.join(" "),
        t.enabled,
        match secret {
            SecretChange::Keep => "kept",
            SecretChange::Clear => "removed",
            SecretChange::Set(_) => "set",
        }
    )
}

/// Checks and creates a trunk; audits. Shared by page and API.
pub(crate) async fn create_trunk(
    state: &AppState,
    p: &Principal,
    t: &TrunkEdit,
) -> HttpResult<NewTrunk> {
    let (trunk, secret, ranges) = check(state, t, None).await?;
    state.store.create_trunk(&trunk, &ranges).await?;
    audit(state, p, "trunk.add", describe(&trunk, &secret, &ranges)).await;
    Ok(trunk)
}

/// Checks and stores an edit of trunk `name`; audits. Shared by page and API.
pub(crate) async fn update_trunk(
    state: &AppState,
    p: &Principal,
    name: &str,
    t: &TrunkEdit,
) -> HttpResult<NewTrunk> {
    let existing = state.store.trunk(name).await?.ok_or(HttpError::NotFound)?;
    let (trunk, secret, ranges) = check(state, t, Some(&existing)).await?;
    state
        .store
        .update_trunk(name, &trunk, &secret, &ranges)
        .await?;
    audit(state, p, "trunk.update", describe(&trunk, &secret, &ranges)).await;
    Ok(trunk)
}

/// Deletes trunk `name` and its number ranges; audits. Shared by page and API.
pub(crate) async fn delete_trunk(state: &AppState, p: &Principal, name: &str) -> HttpResult<()> {
    state.store.remove_trunk(name).await?;
    audit(state, p, "trunk.remove", format!("trunk {name}")).await;
    Ok(())
}

#[derive(Deserialize)]
struct TrunkForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    host: String,
    #[serde(default)]
    port: String,
    #[serde(default)]
    transport: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    clear_password: Option<String>,
    #[serde(default)]
    register: Option<String>,
    #[serde(default)]
    channel_limit: String,
    #[serde(default)]
    allowed_sources: String,
    #[serde(default)]
    ranges: String,
    #[serde(default)]
    enabled: Option<String>,
}

impl TrunkForm {
    fn into_edit(self) -> TrunkEdit {
        TrunkEdit {
            name: self.name,
            host: self.host,
            port: self.port,
            transport: self.transport,
            username: self.username,
            password: Some(self.password),
            clear_password: self.clear_password.is_some(),
            register: self.register.is_some(),
            channel_limit: self.channel_limit,
            allowed_sources: form::entries(&self.allowed_sources),
            ranges: form::entries(&self.ranges),
            enabled: self.enabled.is_some(),
        }
    }
}

async fn create(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Form(f): Form<TrunkForm>,
) -> HttpResult<Response> {
    let mut edit = f.into_edit();
    match create_trunk(&state, &p, &edit).await {
        Ok(_) => Ok(Redirect::to("/trunks").into_response()),
        Err(HttpError::Fields(errors)) => {
            // Never echo a password back into the page.
            edit.password = None;
            let page = list_page(&state, &p, &edit, &errors).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(other) => Err(other),
    }
}

fn edit_page(
    p: &Principal,
    name: &str,
    t: &TrunkEdit,
    secret_set: bool,
    errors: &[FieldError],
) -> Html<String> {
    let lang = p.lang;
    let title = format!("{} {name}", Msg::EditTrunk.get(lang));
    page(
        p,
        "/trunks",
        &title,
        html! {
            (form::summary(lang, errors))
            form method="post" action={ "/trunks/" (name) } novalidate {
                (csrf(p))
                (fields(lang, t, errors, Some(secret_set)))
                p { button type="submit" { (Msg::Save.get(lang)) } }
            }
            form method="post" action={ "/trunks/" (name) "/delete" } {
                (csrf(p)) p { button class="danger" type="submit" { (Msg::Delete.get(lang)) } }
            }
        },
    )
}

async fn edit_form(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
) -> HttpResult<Html<String>> {
    let t = state.store.trunk(&name).await?.ok_or(HttpError::NotFound)?;
    Ok(edit_page(
        &p,
        &name,
        &TrunkEdit::of(&t),
        t.secret.is_some(),
        &[],
    ))
}

async fn edit(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
    Form(f): Form<TrunkForm>,
) -> HttpResult<Response> {
    let mut edit = f.into_edit();
    match update_trunk(&state, &p, &name, &edit).await {
        Ok(_) => Ok(Redirect::to("/trunks").into_response()),
        Err(HttpError::Fields(errors)) => {
            edit.password = None;
            let t = state.store.trunk(&name).await?.ok_or(HttpError::NotFound)?;
            let page = edit_page(&p, &name, &edit, t.secret.is_some(), &errors);
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(other) => Err(other),
    }
}

async fn delete(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
) -> HttpResult<Response> {
    delete_trunk(&state, &p, &name).await?;
    Ok(Redirect::to("/trunks").into_response())
}

async fn trunks_download(state: &AppState, p: &Principal, format: Format) -> HttpResult<Response> {
    let trunks = state.store.trunks().await?;
    download::send(&[download::trunks(&trunks, p.is_admin())], format, "trunks")
}

async fn trunks_csv(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
) -> HttpResult<Response> {
    trunks_download(&state, &p, Format::Csv).await
}

async fn trunks_xlsx(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
) -> HttpResult<Response> {
    trunks_download(&state, &p, Format::Xlsx).await
}
