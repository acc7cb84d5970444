//! Assembles a running PBX: the context, the RTP relay, the SIP driver and the
//! background tasks. `sentral serve` and the integration tests both start it this way.

use crate::app::PbxApp;
use crate::config::PbxConfig;
use crate::context::PbxContext;
use crate::error::PbxError;
use sip_core::driver::{Driver, DriverConfig};
use sip_core::rtp_relay::{RelayConfig, RtpRelay};
use sip_core::transport::TransportKind;
use std::net::SocketAddr;
use std::sync::Arc;
use store::Store;

/// A started PBX. Stop it with [`PbxServer::shutdown`].
#[derive(Debug)]
pub struct PbxServer {
    pub ctx: Arc<PbxContext>,
    driver: Driver,
}

impl PbxServer {
    /// Closes call records a crash left open, starts the relay, the PBX and the SIP
    /// driver (listening as `driver` says), and the background tasks.
    pub async fn start(
        config: PbxConfig,
        store: Store,
        relay: RelayConfig,
        driver: DriverConfig,
    ) -> Result<PbxServer, PbxError> {
        let closed = store
            .close_open_calls_as_interrupted(chrono::Utc::now())
            .await?;
        if closed > 0 {
            tracing::warn!(
                closed,
                "closed call records left open by an earlier run as interrupted"
            );
        }
        let relay = RtpRelay::new(relay)?;
        let ctx = PbxContext::new(config, store, relay).await?;
        let app = Arc::new(PbxApp::new(ctx.clone()));
        let driver = Driver::start(driver, app).await?;
        ctx.attach_driver(driver.handle());
        ctx.spawn_background();
        Ok(PbxServer { ctx, driver })
    }

    /// Where SIP listens (real ports when 0 was asked for).
    pub fn sip_addrs(&self) -> Vec<(TransportKind, SocketAddr)> {
        self.driver.local_addrs()
    }

    /// The first listening address of `kind`.
    pub fn sip_addr(&self, kind: TransportKind) -> Option<SocketAddr> {
        self.sip_addrs()
            .into_iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, a)| a)
    }

    /// Stops taking SIP traffic and releases sockets, then waits until every queued
    /// binding and call record change is in the store. Calls still up are cut off; their
    /// records are closed as interrupted on the next start.
    pub async fn shutdown(self) {
        self.driver.shutdown().await;
        self.ctx.relay.shutdown();
        self.ctx.registrar.flush().await;
        self.ctx.records.flush().await;
    }
}
