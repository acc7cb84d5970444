//! What can go wrong in the store. Callers match on the variants that mean "your input"
//! (`Duplicate`, `NotFound`, `Invalid`) and log the rest.

use thiserror::Error;

/// Every failure of the store.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The database URL is neither `sqlite:` nor `postgres:`/`postgresql:`, or malformed.
    #[error("unsupported or malformed database URL: {0}")]
    InvalidUrl(String),
    /// A row with the same unique key exists already.
    #[error("{entity} {key:?} already exists")]
    Duplicate { entity: &'static str, key: String },
    /// The row asked for (or referred to) does not exist.
    #[error("no {entity} {key:?}")]
    NotFound { entity: &'static str, key: String },
    /// Input the store refuses before it reaches the database (bad number range, …).
    #[error("invalid {what}: {reason}")]
    Invalid { what: &'static str, reason: String },
    /// A value read from the database does not fit the model (edited by hand, or a bug).
    #[error("bad value in {table}.{column}: {reason}")]
    Corrupt {
        table: &'static str,
        column: &'static str,
        reason: String,
    },
    /// Creating the data directory failed.
    #[error("cannot create data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

impl StoreError {
    pub(crate) fn corrupt(
        table: &'static str,
        column: &'static str,
        reason: impl ToString,
    ) -> Self {
        StoreError::Corrupt {
            table,
            column,
            reason: reason.to_string(),
        }
    }

    pub(crate) fn not_found(entity: &'static str, key: impl ToString) -> Self {
        StoreError::NotFound {
            entity,
            key: key.to_string(),
        }
    }

    pub(crate) fn invalid(what: &'static str, reason: impl ToString) -> Self {
        StoreError::Invalid {
            what,
            reason: reason.to_string(),
        }
    }
}

/// Turns a unique-key violation into `Duplicate` and a foreign-key violation into
/// `NotFound`, so callers can tell the user what was wrong with their input.
pub(crate) fn map_write_err(
    err: sqlx::Error,
    entity: &'static str,
    key: &str,
    referenced: &'static str,
) -> StoreError {
    if let sqlx::Error::Database(db) = &err {
        if db.is_unique_violation() {
            return StoreError::Duplicate {
                entity,
                key: key.to_string(),
            };
        }
        if is_fk_violation(db.as_ref()) {
            return StoreError::NotFound {
                entity: referenced,
                key: key.to_string(),
            };
        }
    }
    StoreError::Database(err)
}

/// SQLite reports a RESTRICT violation with SQLITE_CONSTRAINT_TRIGGER (1811), not the
/// FOREIGNKEY code sqlx looks for, so the message is checked too.
pub(crate) fn is_fk_violation(db: &dyn sqlx::error::DatabaseError) -> bool {
    db.is_foreign_key_violation() || db.message().contains("FOREIGN KEY constraint failed")
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;
