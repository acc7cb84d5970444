//! Request errors: each maps to a status code and a stable machine-readable code. Store
//! and internal failures are logged here and answered with a generic message only.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::i18n::{Lang, Msg};

#[derive(Debug, Clone, thiserror::Error)]
pub enum HttpError {
    #[error("sign-in required")]
    Unauthorized,
    #[error("forbidden")]
    Forbidden,
    #[error("CSRF token missing or wrong")]
    CsrfFailed,
    #[error("not found")]
    NotFound,
    #[error("invalid input: {0}")]
    Invalid(String),
    #[error("conflict: {0}")]
    Conflict(String),
    /// A row with this key exists already (a store refusal, worded per language).
    #[error("{entity} {key} already exists")]
    Exists { entity: &'static str, key: String },
    /// The request refers to a row that does not exist.
    #[error("no {entity} {key}")]
    Missing { entity: &'static str, key: String },
    /// Fields of a form or body that are wrong, each with its message.
    #[error("invalid fields")]
    Fields(Vec<crate::form::FieldError>),
    /// Internal details stay in the log (already written when this was made).
    #[error("internal error")]
    Internal,
}

/// Put on error responses so the guard can re-render them as a page.
#[derive(Clone, Debug)]
pub struct ErrorInfo {
    pub error: HttpError,
}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    code: &'a str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    fields: Option<Vec<crate::form::FieldErrorJson>>,
}

impl HttpError {
    pub fn status(&self) -> StatusCode {
        match self {
            HttpError::Unauthorized => StatusCode::UNAUTHORIZED,
            HttpError::Forbidden | HttpError::CsrfFailed => StatusCode::FORBIDDEN,
            HttpError::NotFound => StatusCode::NOT_FOUND,
            HttpError::Invalid(_) | HttpError::Fields(_) | HttpError::Missing { .. } => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            HttpError::Conflict(_) | HttpError::Exists { .. } => StatusCode::CONFLICT,
            HttpError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable code clients match on.
    pub fn code(&self) -> &'static str {
        match self {
            HttpError::Unauthorized => "unauthorized",
            HttpError::Forbidden => "forbidden",
            HttpError::CsrfFailed => "csrf_failed",
            HttpError::NotFound => "not_found",
            HttpError::Invalid(_) | HttpError::Fields(_) | HttpError::Missing { .. } => {
                "invalid_input"
            }
            HttpError::Conflict(_) | HttpError::Exists { .. } => "conflict",
            HttpError::Internal => "internal",
        }
    }

    fn msg(&self) -> Msg {
        match self {
            HttpError::Unauthorized => Msg::SignIn,
            HttpError::Forbidden => Msg::Forbidden,
            HttpError::CsrfFailed => Msg::CsrfFailed,
            HttpError::NotFound => Msg::NotFound,
            HttpError::Invalid(_)
            | HttpError::Conflict(_)
            | HttpError::Fields(_)
            | HttpError::Exists { .. }
            | HttpError::Missing { .. } => Msg::BadInput,
            HttpError::Internal => Msg::ServerError,
        }
    }

    fn message(&self, lang: Lang) -> String {
        match self {
            HttpError::Invalid(m) | HttpError::Conflict(m) => {
                format!("{}: {m}", self.msg().get(lang))
            }
            HttpError::Exists { .. } | HttpError::Missing { .. } => {
                format!("{}: {}", self.msg().get(lang), self.detail(lang))
            }
            HttpError::Fields(errors) => {
                let all: Vec<String> = errors
                    .iter()
                    .map(|e| format!("{}: {}", e.field, e.text(lang)))
                    .collect();
                format!("{}: {}", self.msg().get(lang), all.join("; "))
            }
            _ => self.msg().get(lang).to_string(),
        }
    }

    /// What exists already or is missing, in `lang`.
    fn detail(&self, lang: Lang) -> String {
        match self {
            HttpError::Exists { entity, key } => {
                format!(
                    "{} {key}: {}",
                    entity_word(entity, lang),
                    Msg::AlreadyExists.get(lang)
                )
            }
            HttpError::Missing { entity, key } => {
                format!(
                    "{} {key}: {}",
                    entity_word(entity, lang),
                    Msg::DoesNotExist.get(lang)
                )
            }
            _ => String::new(),
        }
    }

    /// As JSON (API) or as a small page (browser).
    pub fn render(&self, lang: Lang, api: bool) -> Response {
        if api {
            let body = Body {
                error: Inner {
                    code: self.code(),
                    message: self.message(Lang::En),
                    fields: match self {
                        HttpError::Fields(errors) => Some(crate::form::to_json(errors, Lang::En)),
                        _ => None,
                    },
                },
            };
            return (self.status(), Json(body)).into_response();
        }
        let page = crate::layout::bare(
            lang,
            self.msg().get(lang),
            maud::html! {
                h1 { (self.msg().get(lang)) }
                @if let HttpError::Invalid(m) | HttpError::Conflict(m) = self { p { (m) } }
                @if let HttpError::Exists { .. } | HttpError::Missing { .. } = self { p { (self.detail(lang)) } }
                @if let HttpError::Fields(errors) = self { (crate::form::summary(lang, errors)) }
                p { a href="/" { (Msg::Overview.get(lang)) } " · " a href="/login" { (Msg::SignIn.get(lang)) } }
            },
        );
        (self.status(), page).into_response()
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let mut response = self.render(Lang::En, true);
        response.extensions_mut().insert(ErrorInfo { error: self });
        response
    }
}

impl From<store::StoreError> for HttpError {
    fn from(e: store::StoreError) -> Self {
        use store::StoreError as E;
        match e {
            E::Duplicate { entity, key } => HttpError::Exists { entity, key },
            E::NotFound { entity, key } => HttpError::Missing { entity, key },
            E::Invalid { what, reason } => HttpError::Invalid(format!("{what}: {reason}")),
            other => {
                tracing::error!(error = %other, "store error");
                HttpError::Internal
            }
        }
    }
}

/// The store's entity names in `lang` (English as the store names them).
fn entity_word(entity: &str, lang: Lang) -> String {
    let msg = match entity {
        "site" => Msg::Site,
        "extension" => Msg::Number,
        "department" => Msg::Department,
        "trunk" => Msg::Trunk,
        "number range" => Msg::NumberRanges,
        "user" | "admin user" => Msg::Username,
        _ => return entity.to_string(),
    };
    if lang == Lang::En {
        entity.to_string()
    } else {
        msg.get(lang).to_lowercase()
    }
}

pub type HttpResult<T> = Result<T, HttpError>;
