//! `sentral serve`: opens the store, seeds the demo municipality when asked, and runs the
//! PBX (SIP driver, RTP relay, registrar, calls) and the admin UI over the same store
//! until SIGINT/SIGTERM.

use crate::settings::Settings;
use crate::sip_thread::SipThread;
use anyhow::Context;
use pbx::PbxServer;
use sip_core::driver::DriverConfig;
use sip_core::rtp_relay::RelayConfig;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use store::Store;

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
    let settings = match &args.config {
        Some(path) => Settings::from_file(path)?,
        None => Settings::default(),
    };
    // A configuration mistake (a bad dial plan) stops us before anything is created.
    let mut pbx_config = settings.pbx_config()?;
    let sip_threads = settings.sip_threads()?;
    // The store creates the data directory, owner-only, when it is new.
    let store = Store::open_in(&args.data_dir, args.database_url.as_deref())
        .await
        .context("cannot open the store")?;
    tracing::info!(backend = ?store.kind(), "store open");

    // One realm for everything that hashes SIP passwords: the PBX, the demo, the UI.
    pbx_config.nonce_secret = nonce_secret(&args.data_dir)?;
    let realm = pbx_config.realm.clone();

    if args.demo {
        crate::demo::seed(&store, &args.data_dir, &realm).await?;
    } else if store.sites().await?.is_empty() {
        tracing::warn!(
            "the store is empty: add sites and extensions (`sentral import`, `sentral extension add`) or start with --demo"
        );
    }

    let relay = RelayConfig {
        bind: media_bind_address(&args.sip_listen),
        port_min: args.rtp_ports.0,
        port_max: args.rtp_ports.1,
        ..RelayConfig::default()
    };
    raise_open_file_limit(&relay);
    let driver = DriverConfig {
        udp: args.sip_listen.clone(),
        tcp: args.sip_listen.clone(),
        ..DriverConfig::default()
    };
    let sip = SipThread::start(sip_threads).context("cannot start the SIP thread")?;
    let server = sip
        .run(PbxServer::start(pbx_config, store.clone(), relay, driver))
        .await
        .context("the PBX's start-up task failed")?
        .context("cannot start the PBX")?;
    for (kind, addr) in server.sip_addrs() {
        tracing::info!(transport = ?kind, %addr, "SIP listening");
    }
    if let Some(password) = admin_ui::ensure_admin(&store, &args.data_dir)
        .await
        .context("cannot create the first admin")?
    {
        println!(
            "Admin UI: first start, user `admin` with password {password} (also in {}, owner-only). Enrol two-factor login at first sign-in.",
            args.data_dir.join(admin_ui::ADMIN_PASSWORD_FILE).display()
        );
    }
    let listener = tokio::net::TcpListener::bind(args.http_listen)
        .await
        .with_context(|| format!("cannot listen for the admin UI on {}", args.http_listen))?;
    let ui_state = admin_ui::AppState::new(
        store.clone(),
        crate::live::PbxLiveView::new(server.ctx.clone()),
        args.data_dir.clone(),
    )
    .with_realm(realm);
    let (stop_ui, ui_stopped) = tokio::sync::oneshot::channel::<()>();
    let ui = tokio::spawn(admin_ui::serve(listener, ui_state, async move {
        let _ = ui_stopped.await;
    }));
    tracing::info!(http = %args.http_listen, "admin UI listening");
    println!(
        "Sentral is running: SIP on {:?}, admin UI on http://{}. Ctrl-C stops it.",
        args.sip_listen, args.http_listen
    );

    wait_for_shutdown().await;
    tracing::info!("shutting down");
    let _ = stop_ui.send(());
    match ui.await {
        Ok(Err(e)) => tracing::warn!(error = %e, "admin UI stopped with an error"),
        Err(e) => tracing::warn!(error = %e, "admin UI task failed"),
        Ok(Ok(())) => {}
    }
    if let Err(e) = sip.run(server.shutdown()).await {
        tracing::warn!(error = %e, "PBX shutdown task failed");
    }
    sip.stop().await;
    store.close().await;
    Ok(())
}

/// The relay binds where SIP listens when that is one specific address (so SDP carries
/// an address phones can reach); with a wildcard SIP address it binds the wildcard too.
fn media_bind_address(sip: &[SocketAddr]) -> IpAddr {
    match sip.first() {
        Some(a) if !a.ip().is_unspecified() => a.ip(),
        Some(a) if a.is_ipv6() => IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
        _ => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
    }
}

/// Raises the soft open-file limit to the hard one, as every call with media holds four
/// relay sockets: under the common soft limit of 1024 calls would be refused with 503
/// from about the 250th on. Warns when the limit still leaves room for fewer calls than
/// the RTP port range could carry.
fn raise_open_file_limit(relay: &RelayConfig) {
    use sip_core::rtp_relay::SOCKETS_PER_SESSION;
    // Descriptors kept for everything but the relay: store, SIP, the UI's connections.
    const RESERVED: u64 = 256;
    let limit = match sip_core::rtp_relay::raise_open_file_limit() {
        Ok(limit) => limit,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read or raise the open-file limit");
            return;
        }
    };
    if limit.now > limit.before {
        tracing::info!(
            from = limit.before,
            to = limit.now,
            "open-file limit raised"
        );
    }
    // A session takes two RTP/RTCP port pairs: four ports, as many as its sockets.
    let ports = u64::from(relay.port_max.saturating_sub(relay.port_min)) + 1;
    let port_calls = ports / SOCKETS_PER_SESSION;
    let fd_calls = limit.sessions(RESERVED);
    if fd_calls < port_calls {
        tracing::warn!(
            open_file_limit = limit.now,
            calls = fd_calls,
            rtp_port_range_calls = port_calls,
            "the open-file limit leaves room for fewer calls with media than the RTP port range; raise the hard limit (LimitNOFILE= in a systemd unit)"
        );
    }
}

/// The digest nonce secret survives restarts (phones' nonces stay valid) and lives in
/// the data directory, readable only by the owner. Nodes sharing a PostgreSQL database
/// must be given the same file.
fn nonce_secret(data_dir: &Path) -> anyhow::Result<Vec<u8>> {
    let path = data_dir.join("nonce-secret");
    if let Ok(text) = std::fs::read_to_string(&path) {
        if let Ok(bytes) = hex::decode(text.trim()) {
            if bytes.len() >= 16 {
                return Ok(bytes);
            }
        }
        tracing::warn!(path = %path.display(), "nonce secret unreadable; making a new one");
    }
    let secret: [u8; 32] = rand::random();
    crate::settings::write_private(&path, &hex::encode(secret))?;
    Ok(secret.to_vec())
}

async fn wait_for_shutdown() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
