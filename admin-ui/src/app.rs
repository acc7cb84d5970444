//! The router and the one table that says who may use which route.
//!
//! Every route is listed in [`ROUTES`] with the roles allowed; the guard middleware looks
//! up the matched route there on every request and refuses what is not listed (fail
//! closed). It also authenticates (session cookie for pages, bearer token for the API),
//! checks the CSRF token on every unsafe method of a page, and adds security headers.

use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;

use crate::AppState;
use crate::auth::{self, Principal, Role, Via};
use crate::http::{self, error::ErrorInfo, error::HttpError};
use crate::i18n::Lang;

/// Who may use a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone (sign-in page, static assets).
    Public,
    /// A session past the password but not yet the second factor.
    Pending,
    /// Fully signed-in users (or API tokens) with one of these roles.
    Roles(&'static [Role]),
}

/// One row of the route table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub access: Access,
}

const ALL: &[Role] = &Role::ALL;
const ADMIN: &[Role] = &[Role::Admin];
const IT_FINANCE: &[Role] = &[Role::Admin, Role::Finance];
const IT_DESK: &[Role] = &[Role::Admin, Role::Receptionist];

macro_rules! routes {
    ($($method:literal $path:literal => $access:expr;)*) => {
        &[$(Route { method: $method, path: $path, access: $access }),*]
    };
}

/// Every route of the application with the roles allowed. `tests/admin_roles.rs` walks
/// every row with every role.
pub const ROUTES: &[Route] = routes! {
    "GET" "/static/app.js" => Access::Public;
    "GET" "/static/style.css" => Access::Public;
    "GET" "/login" => Access::Public;
    "POST" "/login" => Access::Public;
    "POST" "/logout" => Access::Public;
    "GET" "/login/totp" => Access::Pending;
    "POST" "/login/totp" => Access::Pending;
    "GET" "/enrol" => Access::Pending;
    "POST" "/enrol" => Access::Pending;
    "GET" "/" => Access::Roles(ALL);
    "GET" "/events" => Access::Roles(IT_DESK);
    "GET" "/sites" => Access::Roles(IT_FINANCE);
    "POST" "/sites" => Access::Roles(ADMIN);
    "GET" "/sites.csv" => Access::Roles(IT_FINANCE);
    "GET" "/sites.xlsx" => Access::Roles(IT_FINANCE);
    "GET" "/sites/{code}" => Access::Roles(ADMIN);
    "POST" "/sites/{code}" => Access::Roles(ADMIN);
    "POST" "/sites/{code}/delete" => Access::Roles(ADMIN);
    "GET" "/departments" => Access::Roles(IT_FINANCE);
    "POST" "/departments" => Access::Roles(ADMIN);
    "GET" "/departments.csv" => Access::Roles(IT_FINANCE);
    "GET" "/departments.xlsx" => Access::Roles(IT_FINANCE);
    "GET" "/departments/{id}" => Access::Roles(ADMIN);
    "POST" "/departments/{id}" => Access::Roles(ADMIN);
    "POST" "/departments/{id}/delete" => Access::Roles(ADMIN);
    "GET" "/extensions" => Access::Roles(ADMIN);
    "POST" "/extensions" => Access::Roles(ADMIN);
    "GET" "/extensions.csv" => Access::Roles(ADMIN);
    "GET" "/extensions.xlsx" => Access::Roles(ADMIN);
    "POST" "/extensions/import" => Access::Roles(ADMIN);
    "GET" "/extensions/{number}" => Access::Roles(ADMIN);
    "POST" "/extensions/{number}" => Access::Roles(ADMIN);
    "POST" "/extensions/{number}/password" => Access::Roles(ADMIN);
    "POST" "/extensions/{number}/delete" => Access::Roles(ADMIN);
    "GET" "/trunks" => Access::Roles(IT_FINANCE);
    "POST" "/trunks" => Access::Roles(ADMIN);
    "GET" "/trunks.csv" => Access::Roles(IT_FINANCE);
    "GET" "/trunks.xlsx" => Access::Roles(IT_FINANCE);
    "GET" "/trunks/{name}" => Access::Roles(ADMIN);
    "POST" "/trunks/{name}" => Access::Roles(ADMIN);
    "POST" "/trunks/{name}/delete" => Access::Roles(ADMIN);
    "GET" "/live" => Access::Roles(IT_DESK);
    "POST" "/live/{id}/hangup" => Access::Roles(ADMIN);
    "GET" "/calls" => Access::Roles(IT_FINANCE);
    "GET" "/calls.csv" => Access::Roles(IT_FINANCE);
    "GET" "/calls.xlsx" => Access::Roles(IT_FINANCE);
    "GET" "/costs" => Access::Roles(IT_FINANCE);
    "GET" "/costs.csv" => Access::Roles(IT_FINANCE);
    "GET" "/costs.xlsx" => Access::Roles(IT_FINANCE);
    "GET" "/savings" => Access::Roles(IT_FINANCE);
    "GET" "/savings.csv" => Access::Roles(IT_FINANCE);
    "GET" "/savings.xlsx" => Access::Roles(IT_FINANCE);
    "GET" "/tariffs" => Access::Roles(IT_FINANCE);
    "POST" "/tariffs" => Access::Roles(IT_FINANCE);
    "GET" "/tariffs.csv" => Access::Roles(IT_FINANCE);
    "GET" "/tariffs.xlsx" => Access::Roles(IT_FINANCE);
    "GET" "/users" => Access::Roles(ADMIN);
    "POST" "/users" => Access::Roles(ADMIN);
    "POST" "/users/{id}/disable" => Access::Roles(ADMIN);
    "GET" "/tokens" => Access::Roles(ADMIN);
    "POST" "/tokens" => Access::Roles(ADMIN);
    "POST" "/tokens/{id}/revoke" => Access::Roles(ADMIN);
    "GET" "/audit" => Access::Roles(ADMIN);
    "GET" "/audit.csv" => Access::Roles(ADMIN);
    "GET" "/audit.xlsx" => Access::Roles(ADMIN);
    "GET" "/api/v1/openapi.json" => Access::Public;
    "GET" "/api/v1/sites" => Access::Roles(IT_FINANCE);
    "POST" "/api/v1/sites" => Access::Roles(ADMIN);
    "PATCH" "/api/v1/sites/{code}" => Access::Roles(ADMIN);
    "DELETE" "/api/v1/sites/{code}" => Access::Roles(ADMIN);
    "GET" "/api/v1/departments" => Access::Roles(IT_FINANCE);
    "POST" "/api/v1/departments" => Access::Roles(ADMIN);
    "PATCH" "/api/v1/departments/{id}" => Access::Roles(ADMIN);
    "DELETE" "/api/v1/departments/{id}" => Access::Roles(ADMIN);
    "GET" "/api/v1/extensions" => Access::Roles(ADMIN);
    "POST" "/api/v1/extensions" => Access::Roles(ADMIN);
    "POST" "/api/v1/extensions/import" => Access::Roles(ADMIN);
    "GET" "/api/v1/extensions/{number}" => Access::Roles(ADMIN);
    "PATCH" "/api/v1/extensions/{number}" => Access::Roles(ADMIN);
    "DELETE" "/api/v1/extensions/{number}" => Access::Roles(ADMIN);
    "POST" "/api/v1/extensions/{number}/password" => Access::Roles(ADMIN);
    "GET" "/api/v1/trunks" => Access::Roles(IT_FINANCE);
    "POST" "/api/v1/trunks" => Access::Roles(ADMIN);
    "GET" "/api/v1/trunks/{name}" => Access::Roles(IT_FINANCE);
    "PATCH" "/api/v1/trunks/{name}" => Access::Roles(ADMIN);
    "DELETE" "/api/v1/trunks/{name}" => Access::Roles(ADMIN);
    "GET" "/api/v1/audit" => Access::Roles(ADMIN);
    "GET" "/api/v1/registrations" => Access::Roles(IT_DESK);
    "GET" "/api/v1/calls/live" => Access::Roles(IT_DESK);
    "DELETE" "/api/v1/calls/live/{id}" => Access::Roles(ADMIN);
    "GET" "/api/v1/calls" => Access::Roles(IT_FINANCE);
    "GET" "/api/v1/tokens" => Access::Roles(ADMIN);
    "POST" "/api/v1/tokens" => Access::Roles(ADMIN);
    "DELETE" "/api/v1/tokens/{id}" => Access::Roles(ADMIN);
};

/// The table row for a method and matched path.
pub fn route_for(method: &Method, path: &str) -> Option<&'static Route> {
    ROUTES
        .iter()
        .find(|r| r.method == method.as_str() && r.path == path)
}

/// Whether `role` may `GET` `path` (used to build the menu).
pub fn may_get(role: Option<Role>, path: &str) -> bool {
    match (route_for(&Method::GET, path).map(|r| r.access), role) {
        (Some(Access::Public), _) => true,
        (Some(Access::Roles(roles)), Some(role)) => roles.contains(&role),
        _ => false,
    }
}

/// The application router over `state` (handler tests call it with `oneshot`).
pub fn app(state: AppState) -> Router {
    Router::new()
        .merge(http::assets::router())
        .merge(http::login::router())
        .merge(http::overview::router())
        .merge(http::sites::router())
        .merge(http::extensions::router())
        .merge(http::trunks::router())
        .merge(http::calls::router())
        .merge(http::costs::router())
        .merge(http::savings::router())
        .merge(http::tariffs::router())
        .merge(http::users::router())
        .merge(http::audit::router())
        .merge(http::api::router())
        .route_layer(middleware::from_fn_with_state(state.clone(), guard))
        .fallback(not_found)
        .layer(middleware::from_fn(security_headers))
        .with_state(state)
}

async fn not_found() -> HttpError {
    HttpError::NotFound
}

/// Largest form body read for the CSRF check (CSV imports are pasted as text).
const MAX_FORM: usize = 4 * 1024 * 1024;

async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let lang = Lang::from_accept_language(
        req.headers()
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    );
    let Some(path) = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
    else {
        return HttpError::NotFound.render(lang, false);
    };
    let is_api = path.starts_with("/api/");
    let Some(route) = route_for(req.method(), &path) else {
        // A route outside the table is refused to everyone: the table is the policy.
        tracing::error!(%path, method = %req.method(), "route missing from the access table");
        return HttpError::Forbidden.render(lang, is_api);
    };
    let source = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ci| ci.0.ip().to_string())
        .unwrap_or_else(|| "unknown".to_string());
    let headers = req.headers().clone();
    let principal = match authenticate(&state, &headers, is_api, &source, lang).await {
        Ok(p) => p,
        Err(e) => return e.render(lang, is_api),
    };
    // Access decision.
    let allowed = match route.access {
        Access::Public => true,
        Access::Pending => {
            matches!(&principal.via, Via::Session { stage, .. } if stage == "password")
        }
        Access::Roles(roles) => {
            let full = match &principal.via {
                Via::Session { stage, .. } => stage == "full",
                Via::Token { .. } => true,
                Via::Anonymous => false,
            };
            full && principal.role.is_some_and(|r| roles.contains(&r))
        }
    };
    if !allowed {
        let signed_in = match &principal.via {
            Via::Session { stage, .. } => stage == "full",
            Via::Token { .. } => true,
            Via::Anonymous => false,
        };
        if !signed_in {
            if is_api {
                return HttpError::Unauthorized.render(lang, true);
            }
            if req.method() == Method::GET {
                return Redirect::to("/login").into_response();
            }
            return HttpError::Unauthorized.render(lang, false);
        }
        return HttpError::Forbidden.render(lang, is_api);
    }
    // CSRF: every unsafe method of a page needs the session's token, in the form field
    // `csrf` or the `X-CSRF-Token` header. The API uses bearer tokens, which a browser
    // never sends on its own, so it needs none.
    let mut req = req;
    if !is_api && !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        let expected = principal.csrf().to_string();
        let (parts, body) = req.into_parts();
        let bytes = match axum::body::to_bytes(body, MAX_FORM).await {
            Ok(b) => b,
            Err(_) => {
                return HttpError::Invalid("request body too large".into()).render(lang, false);
            }
        };
        let header_token = parts
            .headers
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let form_token = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&bytes)
            .ok()
            .and_then(|pairs| pairs.into_iter().find(|(k, _)| k == "csrf").map(|(_, v)| v));
        let given = header_token.or(form_token).unwrap_or_default();
        let ok = !expected.is_empty()
            && bool::from(subtle::ConstantTimeEq::ct_eq(
                given.as_bytes(),
                expected.as_bytes(),
            ));
        if !ok {
            tracing::info!(%path, "CSRF token missing or wrong");
            return HttpError::CsrfFailed.render(lang, false);
        }
        req = Request::from_parts(parts, Body::from(bytes));
    }
    req.extensions_mut().insert(principal);
    let response = next.run(req).await;
    if !is_api {
        // Errors are JSON by default; pages get them as a page in the user's language.
        if let Some(info) = response.extensions().get::<ErrorInfo>().cloned() {
            return info.error.render(lang, false);
        }
    }
    response
}

async fn authenticate(
    state: &AppState,
    headers: &axum::http::HeaderMap,
    is_api: bool,
    source: &str,
    lang: Lang,
) -> Result<Principal, HttpError> {
    let anonymous = || Principal {
        user_id: None,
        name: String::new(),
        role: None,
        via: Via::Anonymous,
        source: source.to_string(),
        lang,
    };
    if is_api {
        let Some(value) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        else {
            return Ok(anonymous());
        };
        let Some(token) = value.strip_prefix("Bearer ") else {
            return Err(HttpError::Unauthorized);
        };
        let Some(row) = state
            .store
            .active_api_token(&auth::sha256_hex(token.trim()))
            .await?
        else {
            return Err(HttpError::Unauthorized);
        };
        return Ok(Principal {
            user_id: None,
            name: format!("token:{}", row.name),
            role: Role::parse(&row.role),
            via: Via::Token { id: row.id },
            source: source.to_string(),
            lang,
        });
    }
    let Some(id) = auth::session_from_cookies(headers) else {
        return Ok(anonymous());
    };
    let id_hash = auth::sha256_hex(&id);
    let Some(session) = state.store.admin_session(&id_hash, Utc::now()).await? else {
        return Ok(anonymous());
    };
    let user = match session.user_id {
        Some(uid) => state.store.admin_user_by_id(uid).await?,
        None => None,
    };
    if let Some(user) = &user {
        if user.disabled {
            return Ok(anonymous());
        }
    }
    Ok(Principal {
        user_id: user.as_ref().map(|u| u.id),
        name: user
            .as_ref()
            .map(|u| u.username.clone())
            .unwrap_or_default(),
        role: user.as_ref().and_then(|u| Role::parse(&u.role)),
        via: Via::Session {
            id_hash,
            csrf: session.csrf_token,
            stage: session.stage,
        },
        source: source.to_string(),
        lang,
    })
}

/// Security headers on every response: a CSP without inline script or style, no framing
/// (frame-ancestors and the older X-Frame-Options), no MIME sniffing, no referrer.
async fn security_headers(req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// Status of a refused request, for tests and logs.
pub fn is_refusal(status: StatusCode) -> bool {
    matches!(
        status,
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN | StatusCode::SEE_OTHER
    )
}
