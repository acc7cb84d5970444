//! Trunks to SIP providers. The secret is stored as given (encryption at rest is not
//! required here) but never logged: `Secret` redacts in `Debug`.

use std::collections::HashMap;

use crate::error::{Result, StoreError, map_write_err};
use crate::ids::*;
use crate::model::*;
use crate::{Store, bump_config, dispatch};

#[derive(sqlx::FromRow)]
struct TrunkRow {
    id: i64,
    name: String,
    host: String,
    port: i64,
    transport: String,
    username: Option<String>,
    secret: Option<String>,
    register: bool,
    channel_limit: Option<i64>,
    allowed_sources: String,
    enabled: bool,
}

fn trunk_from_row(r: TrunkRow, number_ranges: Vec<NumberRange>) -> Result<Trunk> {
    Ok(Trunk {
        id: TrunkId(r.id),
        port: u16::try_from(r.port).map_err(|e| StoreError::corrupt("trunks", "port", e))?,
        transport: r
            .transport
            .parse()
            .map_err(|e| StoreError::corrupt("trunks", "transport", e))?,
        channel_limit: r
            .channel_limit
            .map(u32::try_from)
            .transpose()
            .map_err(|e| StoreError::corrupt("trunks", "channel_limit", e))?,
        allowed_sources: serde_json::from_str(&r.allowed_sources)
            .map_err(|e| StoreError::corrupt("trunks", "allowed_sources", e))?,
        name: r.name,
        host: r.host,
        username: r.username,
        secret: r.secret.map(Secret::new),
        register: r.register,
        enabled: r.enabled,
        number_ranges,
    })
}

const TRUNK_SELECT: &str = "SELECT id, name, host, port, transport, username, secret, register, \
     channel_limit, allowed_sources, enabled FROM trunks";

impl Store {
    /// Creates a trunk; `Duplicate` when the name exists.
    pub async fn add_trunk(&self, trunk: &NewTrunk) -> Result<TrunkId> {
        if trunk.name.trim().is_empty() || trunk.host.trim().is_empty() {
            return Err(StoreError::invalid(
                "trunk",
                "name and host must not be empty",
            ));
        }
        if trunk.port == 0 {
            return Err(StoreError::invalid("trunk port", "0"));
        }
        let sources = serde_json::to_string(&trunk.allowed_sources)
            .map_err(|e| StoreError::invalid("trunk allowed sources", e))?;
        dispatch!(self, |pool| {
            let mut tx = pool
                .begin_with(crate::WriteBegin::write_begin(pool))
                .await?;
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO trunks (name, host, port, transport, username, secret, register, channel_limit, \
                 allowed_sources, enabled) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
            )
            .bind(&trunk.name)
            .bind(&trunk.host)
            .bind(i64::from(trunk.port))
            .bind(trunk.transport.as_str())
            .bind(&trunk.username)
            .bind(trunk.secret.as_ref().map(Secret::expose))
            .bind(trunk.register)
            .bind(trunk.channel_limit.map(i64::from))
            .bind(&sources)
            .bind(trunk.enabled)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| map_write_err(e, "trunk", &trunk.name, "trunk"))?;
            bump_config!(tx)?;
            tx.commit().await?;
            Ok(TrunkId(id))
        })
    }

    /// Every trunk with its number ranges, by name.
    pub async fn trunks(&self) -> Result<Vec<Trunk>> {
        let rows: Vec<TrunkRow> = dispatch!(self, |pool| {
            sqlx::query_as(&format!("{TRUNK_SELECT} ORDER BY name"))
                .fetch_all(pool)
                .await?
        });
        let mut by_trunk: HashMap<TrunkId, Vec<NumberRange>> = HashMap::new();
        for range in self.number_ranges().await? {
            if let RangeOwner::Trunk(t) = range.owner {
                by_trunk.entry(t).or_default().push(range);
            }
        }
        rows.into_iter()
            .map(|r| {
                let ranges = by_trunk.remove(&TrunkId(r.id)).unwrap_or_default();
                trunk_from_row(r, ranges)
            })
            .collect()
    }

    /// One trunk by name.
    pub async fn trunk(&self, name: &str) -> Result<Option<Trunk>> {
        Ok(self.trunks().await?.into_iter().find(|t| t.name == name))
    }

    /// Removes a trunk and its number ranges.
    pub async fn remove_trunk(&self, name: &str) -> Result<()> {
        dispatch!(self, |pool| {
            let mut tx = pool
                .begin_with(crate::WriteBegin::write_begin(pool))
                .await?;
            let n = sqlx::query("DELETE FROM trunks WHERE name = $1")
                .bind(name)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if n == 0 {
                return Err(StoreError::not_found("trunk", name));
            }
            bump_config!(tx)?;
            tx.commit().await?;
            Ok(())
        })
    }
}
