//! Users of the UI (admin creates them with a role; the password is shown once) and API
//! tokens (created for a role, shown once, stored hashed, revocable).

use axum::extract::{Form, Path, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use maud::{Markup, html};
use serde::Deserialize;

use crate::AppState;
use crate::auth::{self, Principal, Role};
use crate::form::FieldError;
use crate::http::audit;
use crate::http::error::{HttpError, HttpResult};
use crate::i18n::Msg;
use crate::layout::{csrf, page};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/users", get(users).post(create_user))
        .route("/users/{id}/disable", post(disable_user))
        .route("/tokens", get(tokens).post(create_token))
        .route("/tokens/{id}/revoke", post(revoke_token))
}

fn role_select(lang: crate::i18n::Lang) -> Markup {
    html! {
        label for="role" { (Msg::Role.get(lang)) }
        select id="role" name="role" { @for r in Role::ALL { option value=(r.as_str()) { (r.as_str()) } } }
    }
}

async fn users_page(
    state: &AppState,
    p: &Principal,
    notice: Option<Markup>,
) -> HttpResult<Html<String>> {
    let lang = p.lang;
    let users = state.store.admin_users().await?;
    Ok(page(
        p,
        "/users",
        Msg::Users.get(lang),
        html! {
            @if let Some(n) = notice { (n) }
            table {
                thead { tr { th scope="col" { (Msg::Username.get(lang)) } th scope="col" { (Msg::Role.get(lang)) } th scope="col" { "TOTP" } th scope="col" { (Msg::State.get(lang)) } th scope="col" { (Msg::Actions.get(lang)) } } }
                tbody { @for u in &users { tr {
                    td { (u.username) } td { (u.role) } td { (if u.totp_enrolled { Msg::Yes } else { Msg::No }.get(lang)) }
                    td { (if u.disabled { Msg::Disabled } else { Msg::Enabled }.get(lang)) }
                    td { @if !u.disabled && Some(u.id) != p.user_id {
                        form class="inline" method="post" action={ "/users/" (u.id) "/disable" } {
                            (csrf(p)) button class="danger" type="submit" aria-label={ (Msg::Disabled.get(lang)) " " (u.username) } { (Msg::Disabled.get(lang)) }
                        }
                    } }
                } } }
            }
            h2 { (Msg::NewUser.get(lang)) }
            form method="post" action="/users" {
                (csrf(p))
                label for="username" { (Msg::Username.get(lang)) } input id="username" name="username" required;
                (role_select(lang))
                p { button type="submit" { (Msg::Create.get(lang)) } }
            }
        },
    ))
}

async fn users(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
) -> HttpResult<Html<String>> {
    users_page(&state, &p, None).await
}

#[derive(Deserialize)]
struct UserForm {
    username: String,
    role: String,
}

async fn create_user(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Form(f): Form<UserForm>,
) -> HttpResult<Html<String>> {
    let role = Role::parse(&f.role).ok_or_else(|| {
        HttpError::Fields(vec![FieldError::with(
            "role",
            Msg::UnknownRole,
            f.role.as_str(),
        )])
    })?;
    let password = auth::random_password();
    let hash = auth::hash_password(&password, &state.argon2_params).map_err(|e| {
        tracing::error!(error = %e, "password hashing failed");
        HttpError::Internal
    })?;
    let name = f.username.trim();
    state
        .store
        .create_admin_user(name, role.as_str(), &hash)
        .await?;
    audit(
        &state,
        &p,
        "user.create",
        format!("user {name} with role {}", role.as_str()),
    )
    .await;
    let lang = p.lang;
    let notice = html! {
        div class="notice" role="status" {
            p { (Msg::UserPasswordShownOnce.get(lang)) }
            p { (name) ": " span class="secret" id="user-password" { (password) } }
        }
    };
    users_page(&state, &p, Some(notice)).await
}

async fn disable_user(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<i64>,
) -> HttpResult<Response> {
    if Some(id) == p.user_id {
        return Err(HttpError::Fields(vec![FieldError::new(
            "user",
            Msg::CannotDisableSelf,
        )]));
    }
    let user = state
        .store
        .admin_user_by_id(id)
        .await?
        .ok_or(HttpError::NotFound)?;
    state.store.set_admin_disabled(id, true).await?;
    state.store.delete_admin_sessions_of(id).await?;
    audit(
        &state,
        &p,
        "user.disable",
        format!("user {}", user.username),
    )
    .await;
    Ok(Redirect::to("/users").into_response())
}

async fn tokens_page(
    state: &AppState,
    p: &Principal,
    notice: Option<Markup>,
) -> HttpResult<Html<String>> {
    let lang = p.lang;
    let tokens = state.store.api_tokens().await?;
    Ok(page(
        p,
        "/tokens",
        Msg::ApiTokens.get(lang),
        html! {
            @if let Some(n) = notice { (n) }
            table {
                thead { tr { th scope="col" { (Msg::Name.get(lang)) } th scope="col" { (Msg::Role.get(lang)) } th scope="col" { (Msg::CreatedBy.get(lang)) } th scope="col" { (Msg::State.get(lang)) } th scope="col" { (Msg::Actions.get(lang)) } } }
                tbody { @for t in &tokens { tr {
                    td { (t.name) } td { (t.role) } td { (t.created_by) " " (t.created_at.format("%Y-%m-%d")) }
                    td { @if t.revoked_at.is_some() { (Msg::Revoked.get(lang)) } @else { (Msg::Enabled.get(lang)) } }
                    td { @if t.revoked_at.is_none() {
                        form class="inline" method="post" action={ "/tokens/" (t.id) "/revoke" } {
                            (csrf(p)) button class="danger" type="submit" aria-label={ (Msg::Revoke.get(lang)) " " (t.name) } { (Msg::Revoke.get(lang)) }
                        }
                    } }
                } } }
            }
            h2 { (Msg::NewToken.get(lang)) }
            form method="post" action="/tokens" {
                (csrf(p))
                label for="name" { (Msg::Name.get(lang)) } input id="name" name="name" required;
                (role_select(lang))
                p { button type="submit" { (Msg::Create.get(lang)) } }
            }
        },
    ))
}

async fn tokens(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
) -> HttpResult<Html<String>> {
    tokens_page(&state, &p, None).await
}

#[derive(Deserialize)]
pub(crate) struct TokenForm {
    pub name: String,
    pub role: String,
}

/// Creates a token; returns its id and the token itself (shown once).
pub(crate) async fn new_token(
    state: &AppState,
    p: &Principal,
    f: &TokenForm,
) -> HttpResult<(i64, String)> {
    let role = Role::parse(&f.role).ok_or_else(|| {
        HttpError::Fields(vec![FieldError::with(
            "role",
            Msg::UnknownRole,
            f.role.as_str(),
        )])
    })?;
    let token = format!("snt_{}", auth::random_token());
    let id = state
        .store
        .create_api_token(
            f.name.trim(),
            role.as_str(),
            &auth::sha256_hex(&token),
            &p.name,
        )
        .await?;
    audit(
        state,
        p,
        "token.create",
        format!(
            "API token {} ({}) for role {}",
            f.name.trim(),
            id,
            role.as_str()
        ),
    )
    .await;
    Ok((id, token))
}

pub(crate) async fn revoke(state: &AppState, p: &Principal, id: i64) -> HttpResult<()> {
    if !state.store.revoke_api_token(id).await? {
        return Err(HttpError::NotFound);
    }
    audit(state, p, "token.revoke", format!("API token {id}")).await;
    Ok(())
}

async fn create_token(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Form(f): Form<TokenForm>,
) -> HttpResult<Html<String>> {
    let (_, token) = new_token(&state, &p, &f).await?;
    let lang = p.lang;
    let notice = html! {
        div class="notice" role="status" {
            p { (Msg::TokenShownOnce.get(lang)) }
            p { span class="secret" id="api-token" { (token) } }
        }
    };
    tokens_page(&state, &p, Some(notice)).await
}

async fn revoke_token(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<i64>,
) -> HttpResult<Response> {
    revoke(&state, &p, id).await?;
    Ok(Redirect::to("/tokens").into_response())
}
