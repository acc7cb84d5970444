//! The shared state of a running PBX: one `Arc<PbxContext>` is handed to every request
//! task. Each part is owned by its module (`registrar::Registrar`, `calls::Calls`, …);
//! this file only assembles them and starts their background tasks.

use crate::calls::Calls;
use crate::config::PbxConfig;
use crate::directory::Directory;
use crate::error::PbxError;
use crate::events::EventBus;
use crate::records::RecordWriter;
use crate::registrar::Registrar;
use crate::security::Security;
use crate::trunk::Trunks;
use sip_core::driver::DriverHandle;
use sip_core::rtp_relay::RtpRelay;
use std::sync::{Arc, OnceLock};
use store::Store;

#[derive(Debug)]
pub struct PbxContext {
    pub config: PbxConfig,
    pub store: Store,
    pub directory: Directory,
    pub security: Security,
    pub registrar: Registrar,
    pub calls: Calls,
    pub trunks: Trunks,
    pub relay: RtpRelay,
    pub events: EventBus,
    /// The single writer of call records (group commit, off the SIP path).
    pub records: RecordWriter,
    driver: OnceLock<DriverHandle>,
}

impl PbxContext {
    /// Loads the directory from the store and builds every part. The SIP driver is
    /// attached afterwards ([`PbxContext::attach_driver`]) because it needs the
    /// application, which needs this context.
    pub async fn new(
        config: PbxConfig,
        store: Store,
        relay: RtpRelay,
    ) -> Result<Arc<Self>, PbxError> {
        let directory = Directory::load(&store).await?;
        let security = Security::new(&config)?;
        let registrar = Registrar::new(&config, &store).await?;
        let calls = Calls::new(&config, &store).await?;
        let trunks = Trunks::new(&config);
        let records = RecordWriter::spawn(store.clone());
        Ok(Arc::new(PbxContext {
            config,
            store,
            directory,
            security,
            registrar,
            calls,
            trunks,
            relay,
            events: EventBus::new(),
            records,
            driver: OnceLock::new(),
        }))
    }

    /// Gives the context the running driver. Only the first call has an effect.
    pub fn attach_driver(&self, handle: DriverHandle) {
        let _ = self.driver.set(handle);
    }

    /// The SIP driver. Requests only reach the PBX after `attach_driver`, so inside
    /// request handling this is always set.
    pub fn driver(&self) -> Option<&DriverHandle> {
        self.driver.get()
    }

    /// Starts every background task (directory refresh, registration sweep and pings,
    /// trunk registration, call safety timers). They stop when the runtime shuts down.
    pub fn spawn_background(self: &Arc<Self>) {
        crate::directory::spawn_refresh(self.clone());
        crate::registrar::spawn_maintenance(self.clone());
        crate::trunk::spawn_registrations(self.clone());
    }
}
