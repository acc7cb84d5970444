//! Errors of the RTP relay.

/// Why the relay could not start or open a session.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// The configured range holds no even/odd port pair.
    #[error("port range {min}-{max} holds no RTP/RTCP port pair")]
    EmptyPortRange {
        /// Configured minimum.
        min: u16,
        /// Configured maximum.
        max: u16,
    },
    /// Every port pair of the range is leased.
    #[error("all {capacity} RTP port pairs are in use")]
    PortsExhausted {
        /// Pairs in the range.
        capacity: usize,
    },
    /// No leased pair could be bound (other processes hold them).
    #[error("cannot bind an RTP port pair: {0}")]
    Bind(#[source] std::io::Error),
    /// A worker thread could not start or register sockets.
    #[error("relay worker: {0}")]
    Worker(#[source] std::io::Error),
    /// The relay was shut down.
    #[error("the relay is shut down")]
    ShutDown,
}
