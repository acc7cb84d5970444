//! `sentral serve`: starts the SIP driver, the PBX and the admin UI over one store.
//! Owned by the lead engineer; the CLI module only parses the arguments into `ServeArgs`.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Everything `sentral serve` takes from the command line (after config and environment).
#[derive(Debug, Clone)]
pub struct ServeArgs {
    pub config: Option<PathBuf>,
    pub data_dir: PathBuf,
    pub database_url: Option<String>,
    pub sip_listen: Vec<SocketAddr>,
    /// Inclusive RTP port range.
    pub rtp_ports: (u16, u16),
    pub http_listen: SocketAddr,
    pub demo: bool,
}

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    tracing::info!(?args.sip_listen, "sentral serve is being written (issue 3)");
    anyhow::bail!("`sentral serve` is not built yet (issue 3)")
}
