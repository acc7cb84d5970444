//! Sentral's SQL store: the one place that reads and writes the database.
//!
//! SQLite is the default (a file in the data directory, WAL mode, foreign keys on, a busy
//! timeout so the CLI and a running server can share it); PostgreSQL is used when the URL
//! says `postgres://`. One [`Store`] type serves both: an enum over the two pools (as
//! atuin keeps one storage interface over two backends), with one migration set per
//! backend run on open. Every query is written once with `$N` placeholders, which both
//! sqlx drivers accept, and expanded per backend by the `dispatch!` macro.
//!
//! Money is exact: `NUMERIC` in PostgreSQL, the decimal string as `TEXT` in SQLite, never a
//! float. Nothing here logs secrets: trunk secrets redact in `Debug`, passwords never reach
//! the store (only digest HA1 hashes do).

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::ConnectOptions;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

pub mod admin;
mod audit;
mod call_reports;
mod calls;
pub mod credentials;
mod error;
mod extensions;
mod ids;
mod model;
mod registrations;
mod sites;
mod tariffs;
mod trunks;

pub use admin::{AdminSession, AdminUser, ApiToken, NewAdminSession};
pub use call_reports::CallQuery;
pub use calls::{CallFilter, CallRecordSink, CallRecordWrite, CallWriteOutcome};
pub use credentials::{Credentials, DEFAULT_REALM, generate_password};
pub use error::{Result, StoreError};
pub use ids::*;
pub use model::*;
pub use registrations::RegistrationWrite;
pub use sites::{ImportSummary, SiteImport};

/// Runs `$body` once per backend with `$pool` bound to the backend's pool. The full form
/// also names the backend's `sqlx::Database` type and a `money` function turning an
/// `Option<Decimal>` into what the backend stores (decimal text for SQLite, NUMERIC for
/// PostgreSQL).
macro_rules! dispatch {
    ($store:expr, |$pool:ident| $body:expr) => {
        match &$store.backend {
            $crate::Backend::Sqlite($pool) => $body,
            $crate::Backend::Postgres($pool) => $body,
        }
    };
    ($store:expr, |$pool:ident, $db:ident, $money:ident| $body:expr) => {
        match &$store.backend {
            $crate::Backend::Sqlite($pool) => {
                #[allow(dead_code)]
                type $db = sqlx::Sqlite;
                #[allow(unused_variables)]
                let $money = |d: Option<rust_decimal::Decimal>| d.map(|d| d.to_string());
                $body
            }
            $crate::Backend::Postgres($pool) => {
                #[allow(dead_code)]
                type $db = sqlx::Postgres;
                #[allow(unused_variables)]
                let $money = |d: Option<rust_decimal::Decimal>| d;
                $body
            }
        }
    };
}
pub(crate) use dispatch;

/// Bumps the configuration counter inside the transaction of a configuration write, so a
/// running server polling [`Store::config_version`] sees the change.
macro_rules! bump_config {
    ($tx:expr) => {
        sqlx::query("UPDATE config_version SET version = version + 1, updated_at = $1 WHERE id = 1")
            .bind(chrono::Utc::now())
            .execute(&mut *$tx)
            .await
    };
}
pub(crate) use bump_config;

/// The statement that opens a write transaction. SQLite gets `BEGIN IMMEDIATE`: a
/// deferred transaction that reads first and then writes fails with SQLITE_BUSY, without
/// waiting out the busy timeout, when another connection wrote in between (SQLite docs,
/// "BEGIN TRANSACTION" and WAL); taking the write lock up front makes it wait instead.
pub(crate) trait WriteBegin {
    fn write_begin(&self) -> &'static str;
}

impl WriteBegin for SqlitePool {
    fn write_begin(&self) -> &'static str {
        "BEGIN IMMEDIATE"
    }
}

impl WriteBegin for PgPool {
    fn write_begin(&self) -> &'static str {
        "BEGIN"
    }
}

#[derive(Clone, Debug)]
pub(crate) enum Backend {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Which database a [`Store`] talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendKind {
    Sqlite,
    Postgres,
}

/// The store: cheap to clone (a pool handle), safe to share between tasks.
#[derive(Clone, Debug)]
pub struct Store {
    pub(crate) backend: Backend,
}

/// The configuration counter: bumped by every write to sites, departments, extensions,
/// trunks, number ranges and tariff files, by the CLI and the server alike.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConfigVersion {
    pub version: i64,
    pub updated_at: DateTime<Utc>,
}

/// The file name of the SQLite database inside the data directory.
pub const SQLITE_FILE: &str = "sentral.db";

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// Streaming a year of call records is one long statement by design, so slow statements
/// are logged at debug level, not as warnings on the CLI's stderr.
const SLOW_STATEMENT: Duration = Duration::from_secs(1);

/// How long a writer waits for another connection's write lock before giving up. The CLI
/// and the server write the same file; their writes are short.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

impl Store {
    /// The default URL for a data directory: `sqlite://<data-dir>/sentral.db`.
    pub fn default_url(data_dir: &Path) -> String {
        format!("sqlite://{}", data_dir.join(SQLITE_FILE).display())
    }

    /// Opens the store in `data_dir` (`database_url` when given, else the SQLite file in
    /// `data_dir`, creating the directory), and migrates it.
    pub async fn open_in(data_dir: &Path, database_url: Option<&str>) -> Result<Store> {
        match database_url {
            Some(url) => Store::open(url).await,
            None => {
                create_private_dir(data_dir).map_err(|source| StoreError::DataDir {
                    path: data_dir.display().to_string(),
                    source,
                })?;
                Store::open(&Store::default_url(data_dir)).await
            }
        }
    }

    /// Opens `sqlite:…` or `postgres://…` and runs the backend's migrations.
    pub async fn open(url: &str) -> Result<Store> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let options = PgConnectOptions::from_str(url)
                .map_err(|e| StoreError::InvalidUrl(format!("{}: {e}", redact_url(url))))?;
            Store::open_postgres(options).await
        } else if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .map_err(|e| StoreError::InvalidUrl(format!("{url}: {e}")))?;
            Store::open_sqlite(options).await
        } else {
            Err(StoreError::InvalidUrl(redact_url(url)))
        }
    }

    async fn open_sqlite(options: SqliteConnectOptions) -> Result<Store> {
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // NORMAL is durable across application crashes in WAL mode; only a power cut
            // can lose the last transactions (SQLite docs, "synchronous").
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(SQLITE_BUSY_TIMEOUT)
            .log_slow_statements(log::LevelFilter::Debug, SLOW_STATEMENT);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        SQLITE_MIGRATIONS.run(&pool).await?;
        tracing::debug!("sqlite store open and migrated");
        Ok(Store {
            backend: Backend::Sqlite(pool),
        })
    }

    async fn open_postgres(options: PgConnectOptions) -> Result<Store> {
        let options = options.log_slow_statements(log::LevelFilter::Debug, SLOW_STATEMENT);
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        POSTGRES_MIGRATIONS.run(&pool).await?;
        tracing::debug!("postgres store open and migrated");
        Ok(Store {
            backend: Backend::Postgres(pool),
        })
    }

    /// Opens a PostgreSQL store inside `schema` (created when missing), e.g. one schema per
    /// test so parallel tests never see each other's rows. `schema` must be a plain
    /// identifier (letters, digits, `_`).
    pub async fn open_postgres_schema(url: &str, schema: &str) -> Result<Store> {
        check_identifier(schema)?;
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::InvalidUrl(format!("{}: {e}", redact_url(url))))?;
        {
            use sqlx::Connection;
            let mut conn = sqlx::PgConnection::connect_with(&options).await?;
            sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
                .execute(&mut conn)
                .await?;
            conn.close().await?;
        }
        Store::open_postgres(options.options([("search_path", schema)])).await
    }

    /// Drops a schema made by [`Store::open_postgres_schema`] and closes this store.
    pub async fn drop_postgres_schema(self, schema: &str) -> Result<()> {
        check_identifier(schema)?;
        let Backend::Postgres(pool) = &self.backend else {
            return Err(StoreError::invalid("backend", "not a PostgreSQL store"));
        };
        sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
            .execute(pool)
            .await?;
        self.close().await;
        Ok(())
    }

    /// Which backend this store uses.
    pub fn kind(&self) -> BackendKind {
        match self.backend {
            Backend::Sqlite(_) => BackendKind::Sqlite,
            Backend::Postgres(_) => BackendKind::Postgres,
        }
    }

    /// Closes every pooled connection (SQLite then checkpoints its WAL).
    pub async fn close(&self) {
        dispatch!(self, |pool| pool.close().await)
    }

    /// The configuration counter. Cheap (one row by primary key): poll it every second or
    /// two and reload configuration when `version` changes.
    pub async fn config_version(&self) -> Result<ConfigVersion> {
        let (version, updated_at): (i64, DateTime<Utc>) = dispatch!(self, |pool| {
            sqlx::query_as("SELECT version, updated_at FROM config_version WHERE id = 1")
                .fetch_one(pool)
                .await?
        });
        Ok(ConfigVersion {
            version,
            updated_at,
        })
    }
}

/// Creates the data directory readable by its owner only: it holds the database (digest
/// HA1 hashes, trunk secrets) and generated passwords. An existing directory is left as
/// the administrator set it.
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

fn check_identifier(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(StoreError::invalid("schema name", name))
    }
}

/// A database URL fit for messages and logs: the password, if any, replaced by `***`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, tail) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_password_in_url() {
        assert_eq!(
            redact_url("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(
            redact_url("sqlite://data/sentral.db"),
            "sqlite://data/sentral.db"
        );
    }

    #[test]
    fn schema_names_are_plain_identifiers() {
        assert!(check_identifier("t_abc123").is_ok());
        assert!(check_identifier("x; DROP TABLE sites").is_err());
        assert!(check_identifier("1abc").is_err());
        assert!(check_identifier("").is_err());
    }
}
