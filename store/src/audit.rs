//! The audit log: who changed what, when, from where.

use chrono::{DateTime, Utc};

use crate::error::Result;
use crate::ids::*;
use crate::model::*;
use crate::{Store, dispatch};

impl Store {
    /// Appends an entry stamped now.
    pub async fn audit(&self, entry: &NewAuditEntry) -> Result<AuditId> {
        let now = Utc::now();
        dispatch!(self, |pool| {
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO audit_log (at, actor, action, detail, source) VALUES ($1, $2, $3, $4, $5) RETURNING id",
            )
            .bind(now)
            .bind(&entry.actor)
            .bind(&entry.action)
            .bind(&entry.detail)
            .bind(&entry.source)
            .fetch_one(pool)
            .await?;
            Ok(AuditId(id))
        })
    }

    /// The newest `limit` entries, newest first.
    pub async fn audit_log(&self, limit: u32) -> Result<Vec<AuditEntry>> {
        let rows: Vec<(i64, DateTime<Utc>, String, String, String, String)> = dispatch!(
            self,
            |pool| {
                sqlx::query_as(
                "SELECT id, at, actor, action, detail, source FROM audit_log ORDER BY id DESC LIMIT $1",
            )
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?
            }
        );
        Ok(rows
            .into_iter()
            .map(|(id, at, actor, action, detail, source)| AuditEntry {
                id: AuditId(id),
                at,
                actor,
                action,
                detail,
                source,
            })
            .collect())
    }
}
