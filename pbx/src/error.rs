//! Errors of the PBX crate.

#[derive(Debug, thiserror::Error)]
pub enum PbxError {
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error(transparent)]
    Relay(#[from] sip_core::rtp_relay::RelayError),
    #[error(transparent)]
    Driver(#[from] sip_core::driver::DriverError),
    #[error("invalid configuration: {0}")]
    Config(String),
}
