//! Sentral PBX: what turns sip-core into a switchboard.
//!
//! - `directory/`: an in-memory snapshot of sites, extensions, number ranges and trunks
//!   from the store, refreshed when the store's config version changes (CLI and UI edits
//!   reach a running server within two seconds).
//! - `security/`: the digest gate every local request passes, brute-force lockout, and
//!   the trunk source-address check.
//! - `registrar/`: REGISTER, the location service (bindings persisted in the store),
//!   expiry sweeping and OPTIONS keep-alive pings.
//! - `dial_plan/`: dialled number → route (extension, on-net, emergency, trunk, deny).
//! - `calls/`: the B2BUA: two dialogs and a media bridge per call, call features.
//! - `trunk/`: registering to providers, calls out and in through them.
//! - `records`: call records written at start and completed at end (crash-safe).
//! - `app`: the [`sip_core::driver::Application`] that dispatches requests to the above.
//!
//! It never parses SIP bytes (sip-core does) and never prices a call (billing does).

pub mod app;
pub mod calls;
pub mod config;
pub mod context;
pub mod dial_plan;
pub mod directory;
pub mod error;
pub mod events;
pub mod records;
pub mod registrar;
pub mod security;
pub mod server;
pub mod trunk;

pub use app::PbxApp;
pub use config::PbxConfig;
pub use context::PbxContext;
pub use error::PbxError;
pub use server::PbxServer;
