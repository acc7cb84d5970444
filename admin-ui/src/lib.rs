//! Sentral's admin UI: server-rendered pages (maud) and a JSON API under `/api/v1` for IT
//! and finance, over the same store as the PBX and billing.
//!
//! Owns: sign-in (argon2id passwords, mandatory TOTP per RFC 6238, recovery codes,
//! lockout), sessions and CSRF tokens, roles checked on the server from one route table
//! ([`app::ROUTES`]), security headers, the audit trail of every change. Never talks SIP:
//! what only the running PBX knows comes through the [`LiveView`] trait.
//!
//! `sentral serve` wires it with [`AppState::new`], [`ensure_admin`] and [`serve`].

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::broadcast;

pub mod app;
pub mod auth;
mod form;
mod http;
pub mod i18n;
mod layout;
mod reports;
pub mod totp;

pub use app::{ROUTES, Route, app};
pub use auth::Role;
pub use http::download::CALL_RECORD_COLUMNS;

/// The OpenAPI 3 document served at `/api/v1/openapi.json`.
pub fn http_api_openapi() -> serde_json::Value {
    http::api::openapi_document()
}

/// A phone's registered contact, as the registrar holds it now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LiveRegistration {
    pub extension: String,
    pub contact: String,
    pub transport: String,
    pub source: SocketAddr,
    pub expires_at: DateTime<Utc>,
    pub user_agent: Option<String>,
}

/// A call in progress.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LiveCall {
    pub id: u64,
    pub caller: String,
    pub callee: String,
    pub started_at: DateTime<Utc>,
    pub answered_at: Option<DateTime<Utc>>,
    /// `ringing`, `answered`, … as the PBX names it.
    pub state: String,
}

/// A live event, mirroring `pbx::events::PbxEvent` so this crate does not depend on the
/// PBX (the implementor forwards one into the other).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LiveEvent {
    Registration {
        extension: String,
        contacts: usize,
    },
    CallStarted {
        call_id: u64,
        caller: String,
        callee: String,
    },
    CallAnswered {
        call_id: u64,
    },
    CallEnded {
        call_id: u64,
    },
    Lockout {
        address: std::net::IpAddr,
    },
    TrunkRegistration {
        trunk: String,
        registered: bool,
    },
}

/// What only the running PBX knows. Implemented for the PBX by `sentral serve`; tests use
/// a fake. Methods must not block for long: they are called from request handlers.
pub trait LiveView: Send + Sync + 'static {
    fn registrations(&self) -> Vec<LiveRegistration>;
    fn active_calls(&self) -> Vec<LiveCall>;
    /// Ends a call; `false` when no such call is up.
    fn hang_up(&self, call_id: u64) -> bool;
    /// `(trunk name, registered)`.
    fn trunk_states(&self) -> Vec<(String, bool)>;
    fn subscribe(&self) -> broadcast::Receiver<LiveEvent>;
}

/// Everything a handler needs; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub(crate) store: store::Store,
    pub(crate) live: Arc<dyn LiveView>,
    pub(crate) data_dir: PathBuf,
    /// Digest realm new SIP passwords are hashed for; must be the PBX's realm.
    pub(crate) realm: String,
    pub(crate) secure_cookies: bool,
    pub(crate) argon2_params: argon2::Params,
    /// Per-day aggregates behind the costs and savings pages.
    pub(crate) reports: Arc<reports::ReportCache>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("data_dir", &self.data_dir)
            .field("secure_cookies", &self.secure_cookies)
            .finish_non_exhaustive()
    }
}

impl AppState {
    pub fn new(store: store::Store, live: Arc<dyn LiveView>, data_dir: PathBuf) -> AppState {
        AppState {
            store,
            live,
            data_dir,
            realm: store::DEFAULT_REALM.to_string(),
            secure_cookies: false,
            argon2_params: auth::default_argon2_params(),
            reports: Arc::default(),
        }
    }

    /// The digest realm the PBX authenticates with (default `store::DEFAULT_REALM`):
    /// SIP passwords the UI generates are stored as HA1 for this realm.
    pub fn with_realm(mut self, realm: impl Into<String>) -> AppState {
        self.realm = realm.into();
        self
    }

    /// Marks cookies `Secure`: set when the UI is served over TLS (directly or behind a
    /// TLS-terminating proxy).
    pub fn with_secure_cookies(mut self, secure: bool) -> AppState {
        self.secure_cookies = secure;
        self
    }

    /// Cheaper argon2id parameters for new hashes (tests only: production keeps the
    /// OWASP-recommended defaults). Existing hashes carry their own parameters.
    #[doc(hidden)]
    pub fn with_argon2_params(mut self, params: argon2::Params) -> AppState {
        self.argon2_params = params;
        self
    }
}

/// Errors of the setup functions (not of requests: those are [`http::error::HttpError`]).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("store: {0}")]
    Store(#[from] store::StoreError),
    #[error("cannot write {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error("HTTP server: {0}")]
    Serve(std::io::Error),
}

/// The name of the file holding the first admin password.
pub const ADMIN_PASSWORD_FILE: &str = "admin-password.txt";

/// On the first start (no users yet) creates `admin` with a random password, writes it to
/// `<data_dir>/admin-password.txt` readable by the owner only (0600), and returns it so
/// the caller prints it once. `None` when users exist already.
pub async fn ensure_admin(store: &store::Store, data_dir: &Path) -> Result<Option<String>, Error> {
    if store.count_admin_users().await? > 0 {
        return Ok(None);
    }
    let password = auth::random_password();
    let hash =
        auth::hash_password(&password, &auth::default_argon2_params()).map_err(Error::Hash)?;
    let path = data_dir.join(ADMIN_PASSWORD_FILE);
    write_private(&path, &format!("{password}\n")).map_err(|source| Error::Io {
        path: path.display().to_string(),
        source,
    })?;
    store.create_admin_user("admin", "admin", &hash).await?;
    store
        .audit(&store::NewAuditEntry {
            actor: "server".into(),
            action: "user.create".into(),
            detail: "first start: admin created".into(),
            source: "server".into(),
        })
        .await?;
    Ok(Some(password))
}

fn write_private(path: &Path, content: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    #[cfg(unix)]
    {
        // An existing file keeps its mode on open; make sure it is owner-only.
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    file.write_all(content.as_bytes())
}

/// Serves the UI on `listener` until `shutdown` completes, then drains open requests.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let sweeper = {
        let store = state.store.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(300));
            loop {
                tick.tick().await;
                if let Err(e) = store.delete_expired_admin_sessions(Utc::now()).await {
                    tracing::warn!(error = %e, "sweeping expired sessions failed");
                }
            }
        })
    };
    let router = app(state).into_make_service_with_connect_info::<SocketAddr>();
    let result = axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(Error::Serve);
    sweeper.abort();
    result
}
