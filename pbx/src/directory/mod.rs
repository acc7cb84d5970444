//! The directory: an in-memory snapshot of sites, extensions, number ranges and trunks,
//! so request handling never waits on the database. A background task re-reads the store
//! whenever its config version changes (checked every second), which is how a CLI or UI
//! change reaches a running server within two seconds.

use crate::context::PbxContext;
use crate::error::PbxError;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use store::{Extension, NumberRange, Site, Store, Trunk};

/// One consistent view of the configuration.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// Enabled and disabled extensions by number.
    pub extensions: HashMap<String, Arc<Extension>>,
    /// Sites by code.
    pub sites: HashMap<String, Arc<Site>>,
    /// Every site's direct-dial ranges, with the site's code.
    pub site_ranges: Vec<(NumberRange, String)>,
    pub trunks: Vec<Arc<Trunk>>,
    /// The store's config version this snapshot was read at.
    pub version: i64,
}

impl Snapshot {
    pub fn extension(&self, number: &str) -> Option<&Arc<Extension>> {
        self.extensions.get(number)
    }

    pub fn site(&self, code: &str) -> Option<&Arc<Site>> {
        self.sites.get(code)
    }

    /// The site whose direct-dial range holds `number` (an 8-digit national number).
    pub fn site_for_number(&self, number: &str) -> Option<&Arc<Site>> {
        self.site_ranges
            .iter()
            .find(|(r, _)| r.contains(number))
            .and_then(|(_, code)| self.sites.get(code))
    }

    pub fn trunk(&self, name: &str) -> Option<&Arc<Trunk>> {
        self.trunks.iter().find(|t| t.name == name)
    }
}

#[derive(Debug)]
pub struct Directory {
    current: RwLock<Arc<Snapshot>>,
}

impl Directory {
    pub async fn load(store: &Store) -> Result<Directory, PbxError> {
        let snap = read_snapshot(store).await?;
        Ok(Directory {
            current: RwLock::new(Arc::new(snap)),
        })
    }

    /// The current snapshot (cheap: an `Arc` clone).
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Re-reads the store now.
    pub async fn reload(&self, store: &Store) -> Result<(), PbxError> {
        let snap = read_snapshot(store).await?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(snap);
        Ok(())
    }
}

async fn read_snapshot(store: &Store) -> Result<Snapshot, PbxError> {
    // Version first: a change racing with the reads below bumps it again and triggers
    // another reload, so the snapshot is never newer-labelled than its contents.
    let version = store.config_version().await?.version;
    let sites = store.sites().await?;
    let extensions = store.extensions().await?;
    let trunks = store.trunks().await?;
    let mut snap = Snapshot {
        version,
        ..Snapshot::default()
    };
    for site in sites {
        for r in &site.number_ranges {
            snap.site_ranges.push((r.clone(), site.code.clone()));
        }
        snap.sites.insert(site.code.clone(), Arc::new(site));
    }
    for ext in extensions {
        snap.extensions.insert(ext.number.clone(), Arc::new(ext));
    }
    snap.trunks = trunks.into_iter().map(Arc::new).collect();
    Ok(snap)
}

/// Polls the store's config version every second and reloads on change.
pub fn spawn_refresh(ctx: Arc<PbxContext>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tick.tick().await;
            let current = ctx.directory.snapshot().version;
            match ctx.store.config_version().await {
                Ok(v) if v.version != current => {
                    if let Err(e) = ctx.directory.reload(&ctx.store).await {
                        tracing::warn!(error = %e, "directory reload failed");
                    } else {
                        tracing::info!(version = v.version, "directory reloaded");
                    }
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "reading config version failed"),
            }
        }
    });
}
