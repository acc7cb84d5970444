//! Trunks to SIP providers. The secret is stored as given (encryption at rest is not
//! required here) but never logged: `Secret` redacts in `Debug`.

use std::collections::HashMap;

use crate::error::{Result, StoreError, map_write_err};
use crate::ids::*;
use crate::model::*;
use crate::sites::{check_overlap, replace_ranges};
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
        self.create_trunk(trunk, &[]).await
    }

    /// Creates a trunk with its number ranges (inbound DIDs) in one transaction.
    pub async fn create_trunk(
        &self,
        trunk: &NewTrunk,
        ranges: &[(String, String)],
    ) -> Result<TrunkId> {
        let sources = validate_trunk(trunk, ranges)?;
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
            replace_ranges!(tx, "trunk_id", id, ranges);
            bump_config!(tx)?;
            tx.commit().await?;
            Ok(TrunkId(id))
        })
    }

    /// Changes trunk `name` (the new name may differ) and replaces its number ranges in
    /// one transaction. `trunk.secret` is ignored: `secret` says whether the stored one is
    /// kept, cleared or replaced. The running PBX sees the change through the config
    /// version and restarts the trunk's registration when its registration settings moved.
    pub async fn update_trunk(
        &self,
        name: &str,
        trunk: &NewTrunk,
        secret: &SecretChange,
        ranges: &[(String, String)],
    ) -> Result<()> {
        let sources = validate_trunk(trunk, ranges)?;
        dispatch!(self, |pool| {
            let mut tx = pool
                .begin_with(crate::WriteBegin::write_begin(pool))
                .await?;
            let row: Option<(i64,)> = sqlx::query_as(
                "UPDATE trunks SET name = $2, host = $3, port = $4, transport = $5, username = $6, \
                 register = $7, channel_limit = $8, allowed_sources = $9, enabled = $10 \
                 WHERE name = $1 RETURNING id",
            )
            .bind(name)
            .bind(&trunk.name)
            .bind(&trunk.host)
            .bind(i64::from(trunk.port))
            .bind(trunk.transport.as_str())
            .bind(&trunk.username)
            .bind(trunk.register)
            .bind(trunk.channel_limit.map(i64::from))
            .bind(&sources)
            .bind(trunk.enabled)
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| map_write_err(e, "trunk", &trunk.name, "trunk"))?;
            let Some((id,)) = row else {
                return Err(StoreError::not_found("trunk", name));
            };
            let new_secret = match secret {
                SecretChange::Keep => None,
                SecretChange::Clear => Some(None),
                SecretChange::Set(s) => Some(Some(s.expose())),
            };
            if let Some(value) = new_secret {
                sqlx::query("UPDATE trunks SET secret = $2 WHERE id = $1")
                    .bind(id)
                    .bind(value)
                    .execute(&mut *tx)
                    .await?;
            }
            replace_ranges!(tx, "trunk_id", id, ranges);
            bump_config!(tx)?;
            tx.commit().await?;
            Ok(())
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

/// Checks a trunk before it is stored; returns `allowed_sources` as the stored JSON.
fn validate_trunk(trunk: &NewTrunk, ranges: &[(String, String)]) -> Result<String> {
    let name_ok = !trunk.name.is_empty()
        && trunk.name.len() <= 64
        && trunk
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !name_ok {
        return Err(StoreError::invalid(
            "trunk name",
            format!("{:?}: use 1 to 64 letters, digits, '-' or '_'", trunk.name),
        ));
    }
    if trunk.host.trim().is_empty() || trunk.host.contains(char::is_whitespace) {
        return Err(StoreError::invalid(
            "trunk host",
            format!("{:?}: a host name or address without spaces", trunk.host),
        ));
    }
    if trunk.port == 0 {
        return Err(StoreError::invalid("trunk port", "0"));
    }
    for s in &trunk.allowed_sources {
        validate_source(s)?;
    }
    for (first, last) in ranges {
        validate_range(first, last)?;
    }
    serde_json::to_string(&trunk.allowed_sources)
        .map_err(|e| StoreError::invalid("trunk allowed sources", e))
}
