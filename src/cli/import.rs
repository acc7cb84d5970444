//! `sentral import FILE` and `sentral tariff import FILE`: validated by billing's loader
//! (every mistake named by table, key and line), then stored.

use std::path::Path;

use anyhow::Context;
use billing::{Dataset, DatasetError, TariffFile};
use chrono::NaiveDate;
use sha2::{Digest, Sha256};
use store::{NewSite, NewTariffFile, SiteImport, Store, TariffFileKind};

use super::audit;

/// A data file with mistakes: each problem on its own line.
#[derive(Debug, thiserror::Error)]
#[error("{file} has mistakes:\n{}", .problems.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n"))]
struct BadFile {
    file: String,
    problems: Vec<billing::Problem>,
}

fn bad_file(path: &Path, e: DatasetError) -> anyhow::Error {
    BadFile {
        file: path.display().to_string(),
        problems: e.problems(),
    }
    .into()
}

fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

/// Identifies a file's content: the first 12 hex digits of its SHA-256.
fn digest(text: &str) -> String {
    hex::encode(&Sha256::digest(text.as_bytes())[..6])
}

fn validity(book: &billing::TariffBook) -> (Option<NaiveDate>, Option<NaiveDate>) {
    (
        book.tariffs.iter().map(|t| t.valid_from).min(),
        book.tariffs.iter().map(|t| t.valid_to).max(),
    )
}

pub async fn import(store: &Store, path: &Path) -> anyhow::Result<()> {
    let text = read(path)?;
    import_text(store, path, text).await
}

/// Imports a data file's text; `path` names it in messages and the audit log (the demo
/// passes the embedded sample this way).
pub(crate) async fn import_text(store: &Store, path: &Path, text: String) -> anyhow::Result<()> {
    let dataset = Dataset::from_toml_str(&text).map_err(|e| bad_file(path, e))?;

    let sites: Vec<SiteImport> = dataset
        .sites
        .iter()
        .map(|s| SiteImport {
            site: NewSite {
                code: s.id.clone(),
                name: s.name.clone(),
                address: s.area.clone(),
                department: Some(s.department.clone()),
            },
            ranges: vec![(s.did_first.to_string(), s.did_last.to_string())],
        })
        .collect();
    let summary = store
        .import_sites(&sites)
        .await
        .with_context(|| format!("cannot import the sites of {}", path.display()))?;

    let (valid_from, valid_to) = validity(&dataset.tariffs);
    let version = format!("schema {} sha256:{}", dataset.schema_version, digest(&text));
    store
        .import_tariff_file(
            &NewTariffFile {
                kind: TariffFileKind::Dataset,
                name: dataset.meta.name.clone(),
                version: version.clone(),
                valid_from,
                valid_to,
                content: text,
            },
            true,
        )
        .await
        .context("cannot store the billing dataset")?;
    audit(store, "import", format!("{} ({version})", path.display())).await?;
    println!(
        "imported {}: {} sites ({} new, {} updated), {} departments, {} number ranges; billing dataset {:?} ({}) is active",
        path.display(),
        sites.len(),
        summary.sites_created,
        summary.sites_updated,
        summary.departments,
        summary.ranges,
        dataset.meta.name,
        version
    );
    Ok(())
}

pub async fn tariff_import(store: &Store, path: &Path) -> anyhow::Result<()> {
    let text = read(path)?;
    let file = TariffFile::from_toml_str(&text).map_err(|e| bad_file(path, e))?;
    let (valid_from, valid_to) = validity(&file.tariffs);
    let ids: Vec<&str> = file.tariffs.tariffs.iter().map(|t| t.id.as_str()).collect();
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "tariff".into());
    let version = format!("{} sha256:{}", ids.join("+"), digest(&text));
    store
        .import_tariff_file(
            &NewTariffFile {
                kind: TariffFileKind::Tariff,
                name,
                version: version.clone(),
                valid_from,
                valid_to,
                content: text,
            },
            true,
        )
        .await
        .context("cannot store the tariff file")?;
    audit(
        store,
        "tariff.import",
        format!("{} ({version})", path.display()),
    )
    .await?;
    println!(
        "imported tariffs {} from {} ({version}); they now price calls and reports",
        ids.join(", "),
        path.display()
    );
    Ok(())
}

/// The billing dataset reports and the generator use: the active dataset, its tariffs
/// replaced by the active tariff file's when one was imported later.
pub async fn active_dataset(store: &Store) -> anyhow::Result<Dataset> {
    let file = store
        .active_tariff_file(TariffFileKind::Dataset)
        .await
        .context("cannot read the billing dataset")?
        .ok_or_else(|| {
            anyhow::anyhow!("no billing dataset: run `sentral import FILE.toml` first")
        })?;
    let mut dataset = Dataset::from_toml_str(&file.content)
        .map_err(|e| anyhow::anyhow!("the stored dataset {:?} no longer loads: {e}", file.name))?;
    if let Some(t) = store
        .active_tariff_file(TariffFileKind::Tariff)
        .await
        .context("cannot read the tariff file")?
    {
        if t.imported_at >= file.imported_at {
            let tariffs = TariffFile::from_toml_str(&t.content).map_err(|e| {
                anyhow::anyhow!("the stored tariff file {:?} no longer loads: {e}", t.name)
            })?;
            dataset.replace_tariffs(tariffs);
        }
    }
    Ok(dataset)
}
