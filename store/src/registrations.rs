//! Registrar bindings (RFC 3261 §10.3), persisted so they survive a restart.

use chrono::{DateTime, Utc};

use crate::error::{Result, StoreError, map_write_err};
use crate::ids::*;
use crate::model::*;
use crate::{Store, dispatch};

#[derive(sqlx::FromRow)]
struct RegistrationRow {
    id: i64,
    extension_id: i64,
    extension_number: String,
    contact_uri: String,
    expires_at: DateTime<Utc>,
    transport: String,
    source_addr: String,
    connection_id: Option<String>,
    instance_id: Option<String>,
    reg_id: Option<i64>,
    call_id: String,
    cseq: i64,
    user_agent: Option<String>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<RegistrationRow> for Registration {
    type Error = StoreError;
    fn try_from(r: RegistrationRow) -> Result<Registration> {
        Ok(Registration {
            id: RegistrationId(r.id),
            extension_id: ExtensionId(r.extension_id),
            extension_number: r.extension_number,
            contact_uri: r.contact_uri,
            expires_at: r.expires_at,
            transport: r.transport,
            source_addr: r
                .source_addr
                .parse()
                .map_err(|e| StoreError::corrupt("registrations", "source_addr", e))?,
            connection_id: r.connection_id,
            instance_id: r.instance_id,
            reg_id: r
                .reg_id
                .map(u32::try_from)
                .transpose()
                .map_err(|e| StoreError::corrupt("registrations", "reg_id", e))?,
            call_id: r.call_id,
            cseq: u32::try_from(r.cseq)
                .map_err(|e| StoreError::corrupt("registrations", "cseq", e))?,
            user_agent: r.user_agent,
            updated_at: r.updated_at,
        })
    }
}

const REG_SELECT: &str = "SELECT r.id, r.extension_id, e.number AS extension_number, r.contact_uri, \
     r.expires_at, r.transport, r.source_addr, r.connection_id, r.instance_id, r.reg_id, r.call_id, \
     r.cseq, r.user_agent, r.updated_at FROM registrations r JOIN extensions e ON e.id = r.extension_id";

/// One change to the stored bindings, for [`Store::write_registrations`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegistrationWrite {
    /// Adds or refreshes a binding, as [`Store::upsert_registration`].
    Upsert(NewRegistration),
    /// Removes one binding, as [`Store::remove_registration`].
    Remove {
        extension_id: ExtensionId,
        contact_uri: String,
    },
    /// Removes every binding of an extension, as [`Store::remove_registrations`].
    RemoveAll(ExtensionId),
}

/// Bindings per multi-row upsert: 12 columns × 400 = 4 800 parameters, well under
/// SQLite's 32 766 and PostgreSQL's 65 535.
const UPSERT_ROWS_PER_STATEMENT: usize = 400;

const UPSERT_CONFLICT: &str = " ON CONFLICT (extension_id, contact_uri) DO UPDATE SET expires_at = excluded.expires_at, \
     transport = excluded.transport, source_addr = excluded.source_addr, \
     connection_id = excluded.connection_id, instance_id = excluded.instance_id, \
     reg_id = excluded.reg_id, call_id = excluded.call_id, cseq = excluded.cseq, \
     user_agent = excluded.user_agent, updated_at = excluded.updated_at";

impl Store {
    /// Applies `writes` in order, in ONE transaction (the registrar's group commit: one
    /// commit for every REGISTER that arrived while the previous batch was being written).
    /// Consecutive upserts go out as multi-row statements. All or nothing: on error
    /// nothing is written.
    pub async fn write_registrations(&self, writes: &[RegistrationWrite]) -> Result<()> {
        if writes.is_empty() {
            return Ok(());
        }
        let now = Utc::now();
        dispatch!(self, |pool, DB, _money| {
            let mut tx = pool
                .begin_with(crate::WriteBegin::write_begin(pool))
                .await?;
            let mut i = 0;
            while i < writes.len() {
                match &writes[i] {
                    RegistrationWrite::Upsert(_) => {
                        // A run of upserts with distinct keys (PostgreSQL refuses to touch
                        // one row twice in a statement), capped per statement.
                        let mut run: Vec<&NewRegistration> = Vec::new();
                        while let Some(RegistrationWrite::Upsert(r)) = writes.get(i) {
                            if run.len() == UPSERT_ROWS_PER_STATEMENT
                                || run.iter().any(|x| {
                                    x.extension_id == r.extension_id
                                        && x.contact_uri == r.contact_uri
                                })
                            {
                                break;
                            }
                            run.push(r);
                            i += 1;
                        }
                        let mut qb: sqlx::QueryBuilder<DB> = sqlx::QueryBuilder::new(
                            "INSERT INTO registrations (extension_id, contact_uri, expires_at, transport, \
                             source_addr, connection_id, instance_id, reg_id, call_id, cseq, user_agent, updated_at) ",
                        );
                        qb.push_values(&run, |mut b, r| {
                            b.push_bind(r.extension_id.0)
                                .push_bind(r.contact_uri.as_str())
                                .push_bind(r.expires_at)
                                .push_bind(r.transport.as_str())
                                .push_bind(r.source_addr.to_string())
                                .push_bind(r.connection_id.as_deref())
                                .push_bind(r.instance_id.as_deref())
                                .push_bind(r.reg_id.map(i64::from))
                                .push_bind(r.call_id.as_str())
                                .push_bind(i64::from(r.cseq))
                                .push_bind(r.user_agent.as_deref())
                                .push_bind(now);
                        });
                        qb.push(UPSERT_CONFLICT);
                        let key = run.first().map(|r| r.contact_uri.as_str()).unwrap_or("");
                        qb.build()
                            .execute(&mut *tx)
                            .await
                            .map_err(|e| map_write_err(e, "registration", key, "extension"))?;
                    }
                    RegistrationWrite::Remove {
                        extension_id,
                        contact_uri,
                    } => {
                        sqlx::query(
                            "DELETE FROM registrations WHERE extension_id = $1 AND contact_uri = $2",
                        )
                        .bind(extension_id.0)
                        .bind(contact_uri)
                        .execute(&mut *tx)
                        .await?;
                        i += 1;
                    }
                    RegistrationWrite::RemoveAll(extension_id) => {
                        sqlx::query("DELETE FROM registrations WHERE extension_id = $1")
                            .bind(extension_id.0)
                            .execute(&mut *tx)
                            .await?;
                        i += 1;
                    }
                }
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// Adds or refreshes the binding of `contact_uri` for the extension (one row per
    /// extension and contact). The registrar decides ordering and limits before calling.
    pub async fn upsert_registration(&self, reg: &NewRegistration) -> Result<RegistrationId> {
        let now = Utc::now();
        dispatch!(self, |pool| {
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO registrations (extension_id, contact_uri, expires_at, transport, source_addr, \
                 connection_id, instance_id, reg_id, call_id, cseq, user_agent, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
                 ON CONFLICT (extension_id, contact_uri) DO UPDATE SET expires_at = excluded.expires_at, \
                 transport = excluded.transport, source_addr = excluded.source_addr, \
                 connection_id = excluded.connection_id, instance_id = excluded.instance_id, \
                 reg_id = excluded.reg_id, call_id = excluded.call_id, cseq = excluded.cseq, \
                 user_agent = excluded.user_agent, updated_at = excluded.updated_at RETURNING id",
            )
            .bind(reg.extension_id.0)
            .bind(&reg.contact_uri)
            .bind(reg.expires_at)
            .bind(&reg.transport)
            .bind(reg.source_addr.to_string())
            .bind(&reg.connection_id)
            .bind(&reg.instance_id)
            .bind(reg.reg_id.map(i64::from))
            .bind(&reg.call_id)
            .bind(i64::from(reg.cseq))
            .bind(&reg.user_agent)
            .bind(now)
            .fetch_one(pool)
            .await
            .map_err(|e| map_write_err(e, "registration", &reg.contact_uri, "extension"))?;
            Ok(RegistrationId(id))
        })
    }

    /// Removes one binding (`Expires: 0` on a contact); true when it existed.
    pub async fn remove_registration(
        &self,
        extension: ExtensionId,
        contact_uri: &str,
    ) -> Result<bool> {
        dispatch!(self, |pool| {
            let n = sqlx::query(
                "DELETE FROM registrations WHERE extension_id = $1 AND contact_uri = $2",
            )
            .bind(extension.0)
            .bind(contact_uri)
            .execute(pool)
            .await?
            .rows_affected();
            Ok(n > 0)
        })
    }

    /// Removes every binding of an extension (`Contact: *`, RFC 3261 §10.2.2).
    pub async fn remove_registrations(&self, extension: ExtensionId) -> Result<u64> {
        dispatch!(self, |pool| {
            Ok(
                sqlx::query("DELETE FROM registrations WHERE extension_id = $1")
                    .bind(extension.0)
                    .execute(pool)
                    .await?
                    .rows_affected(),
            )
        })
    }

    /// The extension's bindings that have not expired at `now`, soonest expiry first.
    pub async fn registrations_for(
        &self,
        extension: ExtensionId,
        now: DateTime<Utc>,
    ) -> Result<Vec<Registration>> {
        let rows: Vec<RegistrationRow> = dispatch!(self, |pool| {
            sqlx::query_as(&format!(
                "{REG_SELECT} WHERE r.extension_id = $1 AND r.expires_at > $2 ORDER BY r.expires_at, r.id"
            ))
            .bind(extension.0)
            .bind(now)
            .fetch_all(pool)
            .await?
        });
        rows.into_iter().map(Registration::try_from).collect()
    }

    /// Every stored binding (expired ones too, until swept), by extension number.
    pub async fn registrations(&self) -> Result<Vec<Registration>> {
        let rows: Vec<RegistrationRow> = dispatch!(self, |pool| {
            sqlx::query_as(&format!("{REG_SELECT} ORDER BY e.number, r.id"))
                .fetch_all(pool)
                .await?
        });
        rows.into_iter().map(Registration::try_from).collect()
    }

    /// Deletes bindings that expired at or before `now`; returns how many.
    pub async fn sweep_expired_registrations(&self, now: DateTime<Utc>) -> Result<u64> {
        dispatch!(self, |pool| {
            Ok(
                sqlx::query("DELETE FROM registrations WHERE expires_at <= $1")
                    .bind(now)
                    .execute(pool)
                    .await?
                    .rows_affected(),
            )
        })
    }
}
