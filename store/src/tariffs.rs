//! Imported TOML files (billing datasets and tariffs), kept verbatim so a report can
//! always say which file it priced with.

use chrono::{DateTime, NaiveDate, Utc};

use crate::error::{Result, StoreError};
use crate::ids::*;
use crate::model::*;
use crate::{Store, bump_config, dispatch};

type TariffRow = (
    i64,
    String,
    String,
    String,
    Option<NaiveDate>,
    Option<NaiveDate>,
    String,
    DateTime<Utc>,
    bool,
);

fn tariff_from_row(r: TariffRow) -> Result<TariffFile> {
    let (id, kind, name, version, valid_from, valid_to, content, imported_at, active) = r;
    let kind = match kind.as_str() {
        "dataset" => TariffFileKind::Dataset,
        "tariff" => TariffFileKind::Tariff,
        other => return Err(StoreError::corrupt("tariff_files", "kind", other)),
    };
    Ok(TariffFile {
        id: TariffFileId(id),
        kind,
        name,
        version,
        valid_from,
        valid_to,
        content,
        imported_at,
        active,
    })
}

const TARIFF_SELECT: &str = "SELECT id, kind, name, version, valid_from, valid_to, content, imported_at, active FROM tariff_files";

impl Store {
    /// Keeps an imported file. With `activate`, it becomes the active file of its kind
    /// (the other files of that kind are deactivated in the same transaction): billing
    /// loads the active dataset and, when there is one, replaces its tariffs with those of
    /// the active tariff file.
    pub async fn import_tariff_file(
        &self,
        file: &NewTariffFile,
        activate: bool,
    ) -> Result<TariffFileId> {
        let now = Utc::now();
        dispatch!(self, |pool| {
            let mut tx = pool
                .begin_with(crate::WriteBegin::write_begin(pool))
                .await?;
            if activate {
                sqlx::query("UPDATE tariff_files SET active = $1 WHERE active = $2 AND kind = $3")
                    .bind(false)
                    .bind(true)
                    .bind(file.kind.as_str())
                    .execute(&mut *tx)
                    .await?;
            }
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO tariff_files (kind, name, version, valid_from, valid_to, content, imported_at, active) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
            )
            .bind(file.kind.as_str())
            .bind(&file.name)
            .bind(&file.version)
            .bind(file.valid_from)
            .bind(file.valid_to)
            .bind(&file.content)
            .bind(now)
            .bind(activate)
            .fetch_one(&mut *tx)
            .await?;
            bump_config!(tx)?;
            tx.commit().await?;
            Ok(TariffFileId(id))
        })
    }

    /// The active file of a kind, if any was imported.
    pub async fn active_tariff_file(&self, kind: TariffFileKind) -> Result<Option<TariffFile>> {
        let row: Option<TariffRow> = dispatch!(self, |pool| {
            sqlx::query_as(&format!(
                "{TARIFF_SELECT} WHERE active = $1 AND kind = $2 ORDER BY id DESC LIMIT 1"
            ))
            .bind(true)
            .bind(kind.as_str())
            .fetch_optional(pool)
            .await?
        });
        row.map(tariff_from_row).transpose()
    }

    /// Every imported file, newest first.
    pub async fn tariff_files(&self) -> Result<Vec<TariffFile>> {
        let rows: Vec<TariffRow> = dispatch!(self, |pool| {
            sqlx::query_as(&format!("{TARIFF_SELECT} ORDER BY id DESC"))
                .fetch_all(pool)
                .await?
        });
        rows.into_iter().map(tariff_from_row).collect()
    }
}
