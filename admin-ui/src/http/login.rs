//! Sign-in: password (argon2id), then the second factor (TOTP, RFC 6238, or a one-time
//! recovery code); first-time TOTP enrolment; sign-out. The session id is rotated at
//! every step up, so an id seen before sign-in is worthless after (session fixation).

use axum::extract::{Form, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use chrono::Utc;
use maud::{PreEscaped, html};
use serde::Deserialize;

use crate::AppState;
use crate::auth::{self, Principal, Via};
use crate::http::audit;
use crate::http::error::{HttpError, HttpResult};
use crate::i18n::Msg;
use crate::layout::bare;
use crate::totp;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login", get(login_form).post(login))
        .route("/logout", post(logout))
        .route("/login/totp", get(totp_form).post(totp_check))
        .route("/enrol", get(enrol_form).post(enrol_confirm))
}

/// Creates a session and returns its Set-Cookie value and CSRF token.
async fn start_session(
    state: &AppState,
    user_id: Option<i64>,
    stage: &str,
    source: &str,
) -> HttpResult<(String, String)> {
    let id = auth::random_token();
    let csrf = auth::random_token();
    let ttl = if stage == "full" {
        auth::SESSION_TTL
    } else {
        auth::PENDING_TTL
    };
    state
        .store
        .create_admin_session(&store::NewAdminSession {
            id_hash: auth::sha256_hex(&id),
            user_id,
            stage: stage.into(),
            csrf_token: csrf.clone(),
            expires_at: Utc::now() + ttl,
            source: source.into(),
        })
        .await?;
    Ok((auth::session_cookie(&id, state.secure_cookies, None), csrf))
}

/// Replaces the current session (if any) with a new one at `stage`.
async fn rotate(state: &AppState, p: &Principal, user_id: i64, stage: &str) -> HttpResult<String> {
    if let Via::Session { id_hash, .. } = &p.via {
        state.store.delete_admin_session(id_hash).await?;
    }
    Ok(start_session(state, Some(user_id), stage, &p.source)
        .await?
        .0)
}

fn login_page(p: &Principal, csrf: &str, failed: bool) -> axum::response::Html<String> {
    let lang = p.lang;
    bare(
        lang,
        Msg::SignIn.get(lang),
        html! {
            h1 { (Msg::SignIn.get(lang)) }
            @if failed { p class="error" role="alert" { (Msg::SignInFailed.get(lang)) } }
            form method="post" action="/login" {
                input type="hidden" name="csrf" value=(csrf);
                label for="username" { (Msg::Username.get(lang)) }
                input id="username" name="username" autocomplete="username" required;
                label for="password" { (Msg::Password.get(lang)) }
                input id="password" name="password" type="password" autocomplete="current-password" required;
                p { button type="submit" { (Msg::SignIn.get(lang)) } }
            }
        },
    )
}

async fn login_form(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
) -> HttpResult<Response> {
    match &p.via {
        Via::Session { stage, .. } if stage == "full" => Ok(Redirect::to("/").into_response()),
        Via::Session { csrf, .. } => Ok(login_page(&p, csrf, false).into_response()),
        _ => {
            let (cookie, csrf) = start_session(&state, None, "anonymous", &p.source).await?;
            Ok(([(header::SET_COOKIE, cookie)], login_page(&p, &csrf, false)).into_response())
        }
    }
}

#[derive(Deserialize)]
struct LoginForm {
    username: String,
    password: String,
}

/// Counts a failure and locks the account when it reaches the limit.
async fn fail(state: &AppState, p: &Principal, user: &store::AdminUser) -> HttpResult<()> {
    let lock =
        (user.failed_logins + 1 >= auth::MAX_FAILED_LOGINS).then(|| Utc::now() + auth::LOCKOUT);
    state.store.record_failed_login(user.id, lock).await?;
    if lock.is_some() && user.locked_until.is_none_or(|t| t <= Utc::now()) {
        let who = Principal {
            name: user.username.clone(),
            ..p.clone()
        };
        audit(
            state,
            &who,
            "auth.lockout",
            format!(
                "user {} locked after {} failed sign-ins",
                user.username,
                user.failed_logins + 1
            ),
        )
        .await;
    }
    Ok(())
}

fn locked(user: &store::AdminUser) -> bool {
    user.locked_until.is_some_and(|t| t > Utc::now())
}

async fn login(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Form(form): Form<LoginForm>,
) -> HttpResult<Response> {
    let user = state.store.admin_user(form.username.trim()).await?;
    let refused = || (StatusCode::UNAUTHORIZED, login_page(&p, p.csrf(), true)).into_response();
    let Some(user) = user.filter(|u| !u.disabled) else {
        // Same work as for a real user, so timing does not reveal which names exist.
        let _ = auth::verify_password(&form.password, &auth::dummy_hash(&state.argon2_params));
        return Ok(refused());
    };
    let ok = auth::verify_password(&form.password, &user.password_hash);
    if locked(&user) {
        return Ok(refused());
    }
    if !ok {
        fail(&state, &p, &user).await?;
        return Ok(refused());
    }
    let cookie = rotate(&state, &p, user.id, "password").await?;
    let next = if user.totp_enrolled {
        "/login/totp"
    } else {
        "/enrol"
    };
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to(next)).into_response())
}

async fn logout(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
) -> HttpResult<Response> {
    if let Via::Session { id_hash, .. } = &p.via {
        state.store.delete_admin_session(id_hash).await?;
    }
    let clear = auth::session_cookie("", state.secure_cookies, Some(0));
    Ok(([(header::SET_COOKIE, clear)], Redirect::to("/login")).into_response())
}

async fn pending_user(state: &AppState, p: &Principal) -> HttpResult<store::AdminUser> {
    let id = p.user_id.ok_or(HttpError::Unauthorized)?;
    state
        .store
        .admin_user_by_id(id)
        .await?
        .ok_or(HttpError::Unauthorized)
}

fn totp_page(p: &Principal, failed: bool) -> axum::response::Html<String> {
    let lang = p.lang;
    bare(
        lang,
        Msg::TotpTitle.get(lang),
        html! {
            h1 { (Msg::TotpTitle.get(lang)) }
            @if failed { p class="error" role="alert" { (Msg::TotpFailed.get(lang)) } }
            form method="post" action="/login/totp" {
                input type="hidden" name="csrf" value=(p.csrf());
                label for="code" { (Msg::TotpCode.get(lang)) }
                input id="code" name="code" autocomplete="one-time-code" inputmode="text" required;
                p { button type="submit" { (Msg::Confirm.get(lang)) } }
            }
        },
    )
}

async fn totp_form(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
) -> HttpResult<Response> {
    let user = pending_user(&state, &p).await?;
    if !user.totp_enrolled {
        return Ok(Redirect::to("/enrol").into_response());
    }
    Ok(totp_page(&p, false).into_response())
}

#[derive(Deserialize)]
struct CodeForm {
    code: String,
}

async fn totp_check(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Form(form): Form<CodeForm>,
) -> HttpResult<Response> {
    let user = pending_user(&state, &p).await?;
    if !user.totp_enrolled {
        return Ok(Redirect::to("/enrol").into_response());
    }
    let refused = || (StatusCode::UNAUTHORIZED, totp_page(&p, true)).into_response();
    if locked(&user) {
        return Ok(refused());
    }
    let code = form.code.trim();
    let mut ok = false;
    let mut how = "totp";
    if code.len() == totp::DIGITS as usize {
        let secret = user
            .totp_secret
            .as_deref()
            .and_then(totp::base32_decode)
            .unwrap_or_default();
        if let Some(step) = totp::verify(&secret, code, totp::step_at(Utc::now().timestamp())) {
            // A code is good once only (RFC 6238 §5.2).
            ok = state.store.advance_totp_step(user.id, step).await?;
        }
    } else {
        let hash = auth::sha256_hex(&auth::normalise_recovery_code(code));
        ok = state.store.use_recovery_code(user.id, &hash).await?;
        how = "recovery code";
    }
    if !ok {
        fail(&state, &p, &user).await?;
        return Ok(refused());
    }
    state.store.reset_failed_logins(user.id).await?;
    let cookie = rotate(&state, &p, user.id, "full").await?;
    let who = Principal {
        name: user.username.clone(),
        ..p.clone()
    };
    audit(
        &state,
        &who,
        "auth.sign_in",
        format!("signed in with password and {how}"),
    )
    .await;
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to("/")).into_response())
}

fn qr_svg(uri: &str) -> String {
    match qrcode::QrCode::new(uri.as_bytes()) {
        Ok(code) => code
            .render::<qrcode::render::svg::Color>()
            .min_dimensions(200, 200)
            .build(),
        Err(e) => {
            tracing::error!(error = %e, "QR code generation failed");
            String::new()
        }
    }
}

fn enrol_page(p: &Principal, secret_b32: &str, failed: bool) -> axum::response::Html<String> {
    let lang = p.lang;
    let uri = totp::otpauth_uri("Sentral", &p.name, secret_b32);
    bare(
        lang,
        Msg::EnrolTitle.get(lang),
        html! {
            h1 { (Msg::EnrolTitle.get(lang)) }
            @if failed { p class="error" role="alert" { (Msg::TotpFailed.get(lang)) } }
            p { (Msg::EnrolIntro.get(lang)) }
            div class="qr" role="img" aria-label=(Msg::QrAlt.get(lang)) { (PreEscaped(qr_svg(&uri))) }
            p { (Msg::Secret.get(lang)) ": " span class="secret" id="totp-secret" { (secret_b32) } }
            form method="post" action="/enrol" {
                input type="hidden" name="csrf" value=(p.csrf());
                label for="code" { (Msg::TotpCode.get(lang)) }
                input id="code" name="code" autocomplete="one-time-code" inputmode="numeric" required;
                p { button type="submit" { (Msg::Confirm.get(lang)) } }
            }
        },
    )
}

/// Shows a fresh secret each time: it is shown once, and only a confirmed one counts.
async fn enrol_form(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
) -> HttpResult<Response> {
    let user = pending_user(&state, &p).await?;
    if user.totp_enrolled {
        return Ok(Redirect::to("/login/totp").into_response());
    }
    let secret: [u8; 20] = rand::Rng::r#gen(&mut rand::rngs::OsRng);
    let b32 = totp::base32_encode(&secret);
    state.store.set_totp_pending(user.id, &b32).await?;
    let p = Principal {
        name: user.username.clone(),
        ..p
    };
    Ok(enrol_page(&p, &b32, false).into_response())
}

async fn enrol_confirm(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Form(form): Form<CodeForm>,
) -> HttpResult<Response> {
    let user = pending_user(&state, &p).await?;
    if user.totp_enrolled {
        return Ok(Redirect::to("/login/totp").into_response());
    }
    let Some(pending) = user.totp_pending.clone() else {
        return Ok(Redirect::to("/enrol").into_response());
    };
    let secret = totp::base32_decode(&pending).unwrap_or_default();
    let Some(step) = totp::verify(&secret, &form.code, totp::step_at(Utc::now().timestamp()))
    else {
        fail(&state, &p, &user).await?;
        let p = Principal {
            name: user.username.clone(),
            ..p
        };
        // The same pending secret stays in force until confirmed; show the form again.
        return Ok((StatusCode::UNAUTHORIZED, enrol_page(&p, &pending, true)).into_response());
    };
    let codes: Vec<String> = (0..10).map(|_| auth::random_recovery_code()).collect();
    let hashes: Vec<String> = codes
        .iter()
        .map(|c| auth::sha256_hex(&auth::normalise_recovery_code(c)))
        .collect();
    state.store.confirm_totp(user.id, step, &hashes).await?;
    state.store.reset_failed_logins(user.id).await?;
    let cookie = rotate(&state, &p, user.id, "full").await?;
    let who = Principal {
        name: user.username.clone(),
        ..p.clone()
    };
    audit(
        &state,
        &who,
        "auth.totp_enrol",
        "TOTP enrolled, 10 recovery codes issued",
    )
    .await;
    let lang = p.lang;
    let page = bare(
        lang,
        Msg::RecoveryTitle.get(lang),
        html! {
            h1 { (Msg::RecoveryTitle.get(lang)) }
            p { (Msg::RecoveryIntro.get(lang)) }
            ul id="recovery-codes" { @for c in &codes { li class="secret" { (c) } } }
            p { a href="/" { (Msg::Continue.get(lang)) } }
        },
    );
    Ok(([(header::SET_COOKIE, cookie)], page).into_response())
}
