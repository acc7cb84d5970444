//! Web UI and API accounts: users (argon2id password hash, role, TOTP state, failed-login
//! counter and lock), their recovery codes, sessions and API tokens.
//!
//! This module stores what the admin UI decides; it never hashes, verifies or generates
//! secrets itself. Session ids, API tokens and recovery codes arrive already hashed
//! (SHA-256 hex of a high-entropy random value), so a copy of the database gives nobody a
//! usable session or token.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::error::{Result, StoreError, map_write_err};
use crate::{Store, dispatch};

/// A web UI user.
#[derive(Clone, PartialEq, Eq)]
pub struct AdminUser {
    pub id: i64,
    pub username: String,
    /// `admin`, `finance`, `receptionist` or `staff`.
    pub role: String,
    /// argon2id PHC string.
    pub password_hash: String,
    /// Base32 TOTP secret in force (RFC 6238), once enrolment is confirmed.
    pub totp_secret: Option<String>,
    /// Base32 secret shown on the enrolment page, not yet confirmed by a code.
    pub totp_pending: Option<String>,
    pub totp_enrolled: bool,
    /// The last TOTP time step accepted, so a code cannot be replayed (RFC 6238 §5.2).
    pub totp_last_step: Option<i64>,
    pub failed_logins: i64,
    pub locked_until: Option<DateTime<Utc>>,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
}

impl std::fmt::Debug for AdminUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminUser")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("role", &self.role)
            .field("totp_enrolled", &self.totp_enrolled)
            .field("failed_logins", &self.failed_logins)
            .field("locked_until", &self.locked_until)
            .field("disabled", &self.disabled)
            .finish_non_exhaustive()
    }
}

/// A session: anonymous (login form only), `password` (first factor passed) or `full`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdminSession {
    pub id_hash: String,
    pub user_id: Option<i64>,
    pub stage: String,
    pub csrf_token: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub source: String,
}

/// A session to create.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewAdminSession {
    pub id_hash: String,
    pub user_id: Option<i64>,
    pub stage: String,
    pub csrf_token: String,
    pub expires_at: DateTime<Utc>,
    pub source: String,
}

/// An API bearer token (only its hash is stored).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ApiToken {
    pub id: i64,
    pub name: String,
    pub role: String,
    #[serde(skip)]
    pub token_hash: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

type UserRow = (
    i64,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    bool,
    Option<i64>,
    i64,
    Option<DateTime<Utc>>,
    bool,
    DateTime<Utc>,
);

fn user_from_row(r: UserRow) -> AdminUser {
    AdminUser {
        id: r.0,
        username: r.1,
        role: r.2,
        password_hash: r.3,
        totp_secret: r.4,
        totp_pending: r.5,
        totp_enrolled: r.6,
        totp_last_step: r.7,
        failed_logins: r.8,
        locked_until: r.9,
        disabled: r.10,
        created_at: r.11,
    }
}

const USER_SELECT: &str = "SELECT id, username, role, password_hash, totp_secret, totp_pending, totp_enrolled, \
     totp_last_step, failed_logins, locked_until, disabled, created_at FROM admin_users";

type SessionRow = (
    String,
    Option<i64>,
    String,
    String,
    DateTime<Utc>,
    DateTime<Utc>,
    String,
);
type TokenRow = (
    i64,
    String,
    String,
    String,
    String,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
);

fn token_from_row(r: TokenRow) -> ApiToken {
    ApiToken {
        id: r.0,
        name: r.1,
        role: r.2,
        token_hash: r.3,
        created_by: r.4,
        created_at: r.5,
        revoked_at: r.6,
    }
}

const TOKEN_SELECT: &str =
    "SELECT id, name, role, token_hash, created_by, created_at, revoked_at FROM api_tokens";

fn check_role(role: &str) -> Result<()> {
    match role {
        "admin" | "finance" | "receptionist" | "staff" => Ok(()),
        other => Err(StoreError::invalid(
            "role",
            format!("{other:?} (expected admin, finance, receptionist or staff)"),
        )),
    }
}

impl Store {
    /// Creates a user; `Duplicate` when the name is taken.
    pub async fn create_admin_user(
        &self,
        username: &str,
        role: &str,
        password_hash: &str,
    ) -> Result<i64> {
        check_role(role)?;
        let name_ok = !username.is_empty()
            && username.len() <= 64
            && username
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
        if !name_ok {
            return Err(StoreError::invalid(
                "user name",
                format!("{username:?}: use 1 to 64 letters, digits, . - _"),
            ));
        }
        dispatch!(self, |pool| {
            let row: std::result::Result<(i64,), sqlx::Error> = sqlx::query_as(
                "INSERT INTO admin_users (username, role, password_hash, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
            )
            .bind(username)
            .bind(role)
            .bind(password_hash)
            .bind(Utc::now())
            .fetch_one(pool)
            .await;
            row.map(|(id,)| id)
                .map_err(|e| map_write_err(e, "user", username, "user"))
        })
    }

    /// How many users exist (zero on the first start).
    pub async fn count_admin_users(&self) -> Result<i64> {
        let (n,): (i64,) = dispatch!(self, |pool| sqlx::query_as(
            "SELECT COUNT(*) FROM admin_users"
        )
        .fetch_one(pool)
        .await?);
        Ok(n)
    }

    pub async fn admin_user(&self, username: &str) -> Result<Option<AdminUser>> {
        let row: Option<UserRow> = dispatch!(self, |pool| {
            sqlx::query_as(&format!("{USER_SELECT} WHERE username = $1"))
                .bind(username)
                .fetch_optional(pool)
                .await?
        });
        Ok(row.map(user_from_row))
    }

    pub async fn admin_user_by_id(&self, id: i64) -> Result<Option<AdminUser>> {
        let row: Option<UserRow> = dispatch!(self, |pool| {
            sqlx::query_as(&format!("{USER_SELECT} WHERE id = $1"))
                .bind(id)
                .fetch_optional(pool)
                .await?
        });
        Ok(row.map(user_from_row))
    }

    pub async fn admin_users(&self) -> Result<Vec<AdminUser>> {
        let rows: Vec<UserRow> = dispatch!(self, |pool| {
            sqlx::query_as(&format!("{USER_SELECT} ORDER BY username"))
                .fetch_all(pool)
                .await?
        });
        Ok(rows.into_iter().map(user_from_row).collect())
    }

    /// Counts a failed sign-in; sets the lock when `lock_until` is given. Returns the new
    /// count. One statement, so concurrent failures cannot lose an increment.
    pub async fn record_failed_login(
        &self,
        id: i64,
        lock_until: Option<DateTime<Utc>>,
    ) -> Result<i64> {
        let (n,): (i64,) = dispatch!(self, |pool| {
            sqlx::query_as(
                "UPDATE admin_users SET failed_logins = failed_logins + 1, \
                 locked_until = COALESCE($2, locked_until) WHERE id = $1 RETURNING failed_logins",
            )
            .bind(id)
            .bind(lock_until)
            .fetch_one(pool)
            .await?
        });
        Ok(n)
    }

    /// Clears the failed-login counter and lock after a successful sign-in.
    pub async fn reset_failed_logins(&self, id: i64) -> Result<()> {
        dispatch!(self, |pool| {
            sqlx::query(
                "UPDATE admin_users SET failed_logins = 0, locked_until = NULL WHERE id = $1",
            )
            .bind(id)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    pub async fn set_admin_password(&self, id: i64, password_hash: &str) -> Result<()> {
        let n = dispatch!(self, |pool| {
            sqlx::query("UPDATE admin_users SET password_hash = $2 WHERE id = $1")
                .bind(id)
                .bind(password_hash)
                .execute(pool)
                .await?
                .rows_affected()
        });
        if n == 0 {
            Err(StoreError::not_found("user", id))
        } else {
            Ok(())
        }
    }

    pub async fn set_admin_disabled(&self, id: i64, disabled: bool) -> Result<()> {
        let n = dispatch!(self, |pool| {
            sqlx::query("UPDATE admin_users SET disabled = $2 WHERE id = $1")
                .bind(id)
                .bind(disabled)
                .execute(pool)
                .await?
                .rows_affected()
        });
        if n == 0 {
            Err(StoreError::not_found("user", id))
        } else {
            Ok(())
        }
    }

    /// Stores the secret shown on the enrolment page; it takes effect only through
    /// [`Store::confirm_totp`].
    pub async fn set_totp_pending(&self, id: i64, secret: &str) -> Result<()> {
        dispatch!(self, |pool| {
            sqlx::query("UPDATE admin_users SET totp_pending = $2 WHERE id = $1")
                .bind(id)
                .bind(secret)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Makes the pending secret the one in force, records the step of the confirming code
    /// and replaces the recovery codes, in one transaction.
    pub async fn confirm_totp(&self, id: i64, step: i64, recovery_hashes: &[String]) -> Result<()> {
        dispatch!(self, |pool| {
            let mut tx = pool
                .begin_with(crate::WriteBegin::write_begin(pool))
                .await?;
            let n = sqlx::query(
                "UPDATE admin_users SET totp_secret = totp_pending, totp_pending = NULL, totp_enrolled = $2, \
                 totp_last_step = $3 WHERE id = $1 AND totp_pending IS NOT NULL",
            )
            .bind(id)
            .bind(true)
            .bind(step)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n == 0 {
                return Err(StoreError::invalid("TOTP enrolment", "no pending secret"));
            }
            sqlx::query("DELETE FROM admin_recovery_codes WHERE user_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            for hash in recovery_hashes {
                sqlx::query(
                    "INSERT INTO admin_recovery_codes (user_id, code_hash) VALUES ($1, $2)",
                )
                .bind(id)
                .bind(hash)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// Records an accepted TOTP step only if it is newer than the last one, so the same
    /// code cannot be used twice (RFC 6238 §5.2). Returns whether it was newer.
    pub async fn advance_totp_step(&self, id: i64, step: i64) -> Result<bool> {
        let n = dispatch!(self, |pool| {
            sqlx::query(
                "UPDATE admin_users SET totp_last_step = $2 WHERE id = $1 \
                 AND (totp_last_step IS NULL OR totp_last_step < $2)",
            )
            .bind(id)
            .bind(step)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(n == 1)
    }

    /// Marks an unused recovery code used; `false` when there is no such unused code.
    pub async fn use_recovery_code(&self, id: i64, code_hash: &str) -> Result<bool> {
        let n = dispatch!(self, |pool| {
            sqlx::query(
                "UPDATE admin_recovery_codes SET used_at = $3 WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL",
            )
            .bind(id)
            .bind(code_hash)
            .bind(Utc::now())
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(n >= 1)
    }

    /// Unused recovery codes left.
    pub async fn recovery_codes_left(&self, id: i64) -> Result<i64> {
        let (n,): (i64,) = dispatch!(self, |pool| {
            sqlx::query_as(
                "SELECT COUNT(*) FROM admin_recovery_codes WHERE user_id = $1 AND used_at IS NULL",
            )
            .bind(id)
            .fetch_one(pool)
            .await?
        });
        Ok(n)
    }

    pub async fn create_admin_session(&self, s: &NewAdminSession) -> Result<()> {
        dispatch!(self, |pool| {
            sqlx::query(
                "INSERT INTO admin_sessions (id_hash, user_id, stage, csrf_token, created_at, expires_at, source) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&s.id_hash)
            .bind(s.user_id)
            .bind(&s.stage)
            .bind(&s.csrf_token)
            .bind(Utc::now())
            .bind(s.expires_at)
            .bind(&s.source)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// The session with this id hash, if it has not expired at `now`.
    pub async fn admin_session(
        &self,
        id_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<AdminSession>> {
        let row: Option<SessionRow> = dispatch!(self, |pool| {
            sqlx::query_as(
                "SELECT id_hash, user_id, stage, csrf_token, created_at, expires_at, source FROM admin_sessions \
                 WHERE id_hash = $1 AND expires_at > $2",
            )
            .bind(id_hash)
            .bind(now)
            .fetch_optional(pool)
            .await?
        });
        Ok(row.map(|r| AdminSession {
            id_hash: r.0,
            user_id: r.1,
            stage: r.2,
            csrf_token: r.3,
            created_at: r.4,
            expires_at: r.5,
            source: r.6,
        }))
    }

    pub async fn delete_admin_session(&self, id_hash: &str) -> Result<()> {
        dispatch!(self, |pool| {
            sqlx::query("DELETE FROM admin_sessions WHERE id_hash = $1")
                .bind(id_hash)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Ends every session of a user (password change, disabling).
    pub async fn delete_admin_sessions_of(&self, user_id: i64) -> Result<()> {
        dispatch!(self, |pool| {
            sqlx::query("DELETE FROM admin_sessions WHERE user_id = $1")
                .bind(user_id)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    pub async fn delete_expired_admin_sessions(&self, now: DateTime<Utc>) -> Result<u64> {
        Ok(dispatch!(self, |pool| {
            sqlx::query("DELETE FROM admin_sessions WHERE expires_at <= $1")
                .bind(now)
                .execute(pool)
                .await?
                .rows_affected()
        }))
    }

    pub async fn create_api_token(
        &self,
        name: &str,
        role: &str,
        token_hash: &str,
        created_by: &str,
    ) -> Result<i64> {
        check_role(role)?;
        if name.trim().is_empty() || name.len() > 100 {
            return Err(StoreError::invalid("token name", "use 1 to 100 characters"));
        }
        let (id,): (i64,) = dispatch!(self, |pool| {
            sqlx::query_as(
                "INSERT INTO api_tokens (name, role, token_hash, created_by, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
            )
            .bind(name)
            .bind(role)
            .bind(token_hash)
            .bind(created_by)
            .bind(Utc::now())
            .fetch_one(pool)
            .await?
        });
        Ok(id)
    }

    /// The unrevoked token with this hash.
    pub async fn active_api_token(&self, token_hash: &str) -> Result<Option<ApiToken>> {
        let row: Option<TokenRow> = dispatch!(self, |pool| {
            sqlx::query_as(&format!(
                "{TOKEN_SELECT} WHERE token_hash = $1 AND revoked_at IS NULL"
            ))
            .bind(token_hash)
            .fetch_optional(pool)
            .await?
        });
        Ok(row.map(token_from_row))
    }

    pub async fn api_tokens(&self) -> Result<Vec<ApiToken>> {
        let rows: Vec<TokenRow> = dispatch!(self, |pool| sqlx::query_as(&format!(
            "{TOKEN_SELECT} ORDER BY id"
        ))
        .fetch_all(pool)
        .await?);
        Ok(rows.into_iter().map(token_from_row).collect())
    }

    /// Revokes a token; `false` when there is no such unrevoked token.
    pub async fn revoke_api_token(&self, id: i64) -> Result<bool> {
        let n = dispatch!(self, |pool| {
            sqlx::query(
                "UPDATE api_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
            )
            .bind(id)
            .bind(Utc::now())
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(n == 1)
    }

    /// Audit entries with this action, newest first (e.g. recent lockouts for the
    /// overview page).
    pub async fn audit_log_action(
        &self,
        action: &str,
        limit: u32,
    ) -> Result<Vec<crate::AuditEntry>> {
        let rows: Vec<(i64, DateTime<Utc>, String, String, String, String)> = dispatch!(
            self,
            |pool| {
                sqlx::query_as(
                "SELECT id, at, actor, action, detail, source FROM audit_log WHERE action = $1 ORDER BY id DESC LIMIT $2",
            )
            .bind(action)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?
            }
        );
        Ok(rows
            .into_iter()
            .map(
                |(id, at, actor, action, detail, source)| crate::AuditEntry {
                    id: crate::AuditId(id),
                    at,
                    actor,
                    action,
                    detail,
                    source,
                },
            )
            .collect())
    }

    /// Adds every extension in one transaction: all or none (bulk CSV import). The first
    /// failing row's error is returned with its index in `extensions`.
    pub async fn import_extensions(
        &self,
        extensions: &[crate::NewExtension],
    ) -> std::result::Result<usize, (usize, StoreError)> {
        use crate::ids::DepartmentId;
        use crate::sites::ensure_department;
        dispatch!(self, |pool| {
            let mut tx = pool
                .begin_with(crate::WriteBegin::write_begin(pool))
                .await
                .map_err(|e| (0, StoreError::from(e)))?;
            for (i, ext) in extensions.iter().enumerate() {
                let step: Result<()> = async {
                    let site: Option<(i64, Option<i64>)> =
                        sqlx::query_as("SELECT id, department_id FROM sites WHERE code = $1")
                            .bind(&ext.site)
                            .fetch_optional(&mut *tx)
                            .await?;
                    let Some((site_id, site_dept)) = site else {
                        return Err(StoreError::not_found("site", &ext.site));
                    };
                    let dept = match &ext.department {
                        Some(d) => Some(ensure_department!(tx, d.as_str()).0),
                        None => site_dept,
                    };
                    sqlx::query(
                        "INSERT INTO extensions (number, display_name, site_id, department_id, class_of_service, \
                         premium_allowed, realm, ha1_md5, ha1_sha256, enabled) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                    )
                    .bind(&ext.number)
                    .bind(&ext.display_name)
                    .bind(site_id)
                    .bind(dept)
                    .bind(ext.class_of_service.as_str())
                    .bind(ext.premium_allowed)
                    .bind(&ext.credentials.realm)
                    .bind(&ext.credentials.ha1_md5)
                    .bind(&ext.credentials.ha1_sha256)
                    .bind(ext.enabled)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| map_write_err(e, "extension", &ext.number, "site"))?;
                    Ok(())
                }
                .await;
                step.map_err(|e| (i, e))?;
            }
            crate::bump_config!(tx).map_err(|e| (0, StoreError::from(e)))?;
            tx.commit().await.map_err(|e| (0, StoreError::from(e)))?;
            Ok(extensions.len())
        })
    }
}
