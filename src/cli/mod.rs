//! The `sentral` command line (clap derive). Each command opens the same store a running
//! server uses (the server notices configuration changes through the store's config
//! counter), does its work and exits.
//!
//! Exit codes: 0 success; 2 a usage error (unknown option, a value that does not parse:
//! bad date, bad number range, bad address); 1 a failure (unknown site, duplicate
//! extension, a data file with mistakes, a database error). Never a panic.

mod admin;
mod args;
mod billing_cmds;
pub(crate) mod import;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::serve::ServeArgs;

#[derive(Debug, Parser)]
#[command(
    name = "sentral",
    version,
    about = "Sentral: an IP telephony switchboard and call accounting system"
)]
pub struct Cli {
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Where the store is. Global, so it may follow the subcommand.
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// Data directory (the SQLite database, generated passwords).
    #[arg(
        long,
        global = true,
        env = "SENTRAL_DATA_DIR",
        default_value = "./data",
        value_name = "DIR"
    )]
    pub data_dir: PathBuf,
    /// Database URL: sqlite://FILE or postgres://USER@HOST/DB (default: SQLite in the data directory).
    #[arg(
        long,
        global = true,
        env = "SENTRAL_DATABASE_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub database_url: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the switchboard: SIP, media relay, admin UI.
    Serve(ServeCmd),
    /// Manage sites.
    #[command(subcommand)]
    Site(SiteCmd),
    /// Manage extensions.
    #[command(subcommand)]
    Extension(ExtensionCmd),
    /// Import a data file: sites, departments and number ranges, and the rest (numbering,
    /// tariffs, fixed costs, traffic profile) as the active billing dataset.
    Import {
        /// The TOML data file (the format of sorum-sample.toml).
        file: PathBuf,
    },
    /// Manage tariffs.
    #[command(subcommand)]
    Tariff(TariffCmd),
    /// Call records.
    #[command(subcommand)]
    Calls(CallsCmd),
    /// Synthetic traffic.
    #[command(subcommand)]
    Traffic(TrafficCmd),
    /// Reports on call costs and the old-versus-new savings.
    #[command(subcommand)]
    Report(ReportCmd),
}

#[derive(Debug, Args)]
pub struct ServeCmd {
    /// Configuration file (TOML).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// SIP listen address, UDP and TCP; repeat for several.
    #[arg(long, value_name = "ADDR:PORT", value_parser = args::socket_addr, env = "SENTRAL_SIP_LISTEN", value_delimiter = ',', default_value = "0.0.0.0:5060")]
    pub sip_listen: Vec<std::net::SocketAddr>,
    /// RTP port range for the media relay, inclusive.
    #[arg(long, value_name = "LOW-HIGH", value_parser = args::port_range, env = "SENTRAL_RTP_PORTS", default_value = "20000-29999")]
    pub rtp_ports: (u16, u16),
    /// Admin UI listen address.
    #[arg(long, value_name = "ADDR:PORT", value_parser = args::socket_addr, env = "SENTRAL_HTTP_LISTEN", default_value = "127.0.0.1:8080")]
    pub http_listen: std::net::SocketAddr,
    /// Load the sample municipality with demo extensions (passwords printed once).
    #[arg(long)]
    pub demo: bool,
}

#[derive(Debug, Subcommand)]
pub enum SiteCmd {
    /// Add a site.
    Add {
        /// Short unique code, e.g. radhus.
        code: String,
        #[arg(long)]
        name: String,
        /// Street address, sent as the location of emergency calls.
        #[arg(long, default_value = "")]
        address: String,
        /// Default department (cost centre) of the site's extensions.
        #[arg(long)]
        department: Option<String>,
        /// Direct-dial numbers of the site; repeat for several ranges.
        #[arg(long, value_name = "FROM-TO", value_parser = args::number_range)]
        numbers: Vec<(String, String)>,
    },
    /// List sites.
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ClassArg {
    Internal,
    National,
    Mobile,
    International,
}

impl From<ClassArg> for store::ClassOfService {
    fn from(c: ClassArg) -> Self {
        match c {
            ClassArg::Internal => store::ClassOfService::Internal,
            ClassArg::National => store::ClassOfService::National,
            ClassArg::Mobile => store::ClassOfService::Mobile,
            ClassArg::International => store::ClassOfService::International,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum ExtensionCmd {
    /// Add an extension. Without --password a strong one is generated and printed once.
    Add {
        /// Extension number (digits).
        number: String,
        /// Display name.
        #[arg(long)]
        name: String,
        /// Site code.
        #[arg(long)]
        site: String,
        /// Department (cost centre); default: the site's.
        #[arg(long)]
        department: Option<String>,
        /// SIP password (prefer the SENTRAL_EXTENSION_PASSWORD variable: a flag shows in `ps`).
        #[arg(long, env = "SENTRAL_EXTENSION_PASSWORD", hide_env_values = true)]
        password: Option<String>,
        /// What the extension may dial.
        #[arg(long = "class", value_enum, default_value = "mobile")]
        class: ClassArg,
        /// Also allow premium-rate numbers (820/829).
        #[arg(long)]
        premium: bool,
        /// Digest realm the credentials are hashed for.
        #[arg(long, default_value = store::DEFAULT_REALM)]
        realm: String,
    },
    /// List extensions.
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum TariffCmd {
    /// Import a tariff file (time bands and tariffs in the data file's format); its
    /// tariffs replace the active dataset's for rating and reports.
    Import { file: PathBuf },
}

#[derive(Debug, Subcommand)]
pub enum CallsCmd {
    /// List call records (local dates, both included).
    List {
        #[arg(long, value_parser = args::date, value_name = "DATE")]
        from: Option<NaiveDate>,
        #[arg(long, value_parser = args::date, value_name = "DATE")]
        to: Option<NaiveDate>,
        #[arg(long)]
        json: bool,
    },
    /// Export call records with each call's cost in both worlds.
    Export {
        #[arg(long, value_parser = args::date, value_name = "DATE")]
        from: NaiveDate,
        #[arg(long, value_parser = args::date, value_name = "DATE")]
        to: NaiveDate,
        #[arg(long, value_enum, default_value = "csv")]
        format: ExportFormat,
        /// Write here instead of standard output.
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum TrafficCmd {
    /// Generate synthetic call records from the active dataset's traffic profile (replaces
    /// earlier synthetic records of the period).
    Generate {
        #[arg(long, value_parser = args::date, value_name = "DATE")]
        from: NaiveDate,
        #[arg(long, value_parser = args::date, value_name = "DATE")]
        to: NaiveDate,
        #[arg(long)]
        seed: Option<u64>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Table,
    Json,
    Csv,
    Xlsx,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    Csv,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CostsBy {
    Site,
    Department,
    Extension,
    Class,
    Month,
}

impl From<CostsBy> for billing::Dimension {
    fn from(b: CostsBy) -> Self {
        match b {
            CostsBy::Site => billing::Dimension::Site,
            CostsBy::Department => billing::Dimension::Department,
            CostsBy::Extension => billing::Dimension::Extension,
            CostsBy::Class => billing::Dimension::Class,
            CostsBy::Month => billing::Dimension::Month,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum ReportCmd {
    /// Old-versus-new savings for a period, annualised, with the verdict.
    Savings {
        #[arg(long, value_parser = args::date, value_name = "DATE")]
        from: NaiveDate,
        #[arg(long, value_parser = args::date, value_name = "DATE")]
        to: NaiveDate,
        #[arg(long, value_enum, default_value = "table")]
        format: ReportFormat,
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Call costs by site, department, extension, destination class or month.
    Costs {
        #[arg(long, value_parser = args::date, value_name = "DATE")]
        from: NaiveDate,
        #[arg(long, value_parser = args::date, value_name = "DATE")]
        to: NaiveDate,
        #[arg(long, value_enum)]
        by: CostsBy,
        #[arg(long, value_enum, default_value = "table")]
        format: ReportFormat,
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

/// A mistake in what the user typed that clap could not see (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let serving = matches!(cli.command, Command::Serve(_));
    init_logging(serving);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            if err.chain().any(|e| e.is::<UsageError>()) {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}

/// Logs go to stderr (stdout is for the command's output); `RUST_LOG` overrides the level.
fn init_logging(serving: bool) {
    let default = if serving { "info" } else { "warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let store_args = cli.store;
    match cli.command {
        Command::Serve(s) => {
            let args = ServeArgs {
                config: s.config,
                data_dir: store_args.data_dir,
                database_url: store_args.database_url,
                sip_listen: s.sip_listen,
                rtp_ports: s.rtp_ports,
                http_listen: s.http_listen,
                demo: s.demo,
            };
            crate::serve::run(args).await
        }
        Command::Site(cmd) => admin::site(&open(&store_args).await?, cmd).await,
        Command::Extension(cmd) => admin::extension(&open(&store_args).await?, cmd).await,
        Command::Import { file } => import::import(&open(&store_args).await?, &file).await,
        Command::Tariff(TariffCmd::Import { file }) => {
            import::tariff_import(&open(&store_args).await?, &file).await
        }
        Command::Calls(cmd) => billing_cmds::calls(&open(&store_args).await?, cmd).await,
        Command::Traffic(cmd) => billing_cmds::traffic(&open(&store_args).await?, cmd).await,
        Command::Report(cmd) => billing_cmds::report(&open(&store_args).await?, cmd).await,
    }
}

async fn open(args: &StoreArgs) -> anyhow::Result<store::Store> {
    let where_ = match &args.database_url {
        Some(url) => store::redact_url(url),
        None => args.data_dir.display().to_string(),
    };
    store::Store::open_in(&args.data_dir, args.database_url.as_deref())
        .await
        .with_context(|| format!("cannot open the store at {where_}"))
}

/// Who is acting, for the audit log.
pub fn actor() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "unknown".into());
    format!("cli:{user}")
}

pub async fn audit(store: &store::Store, action: &str, detail: String) -> anyhow::Result<()> {
    store
        .audit(&store::NewAuditEntry {
            actor: actor(),
            action: action.into(),
            detail,
            source: "cli".into(),
        })
        .await
        .context("cannot write the audit log")?;
    Ok(())
}
