//! sip-core: Sentral's SIP and RTP foundation.
//!
//! It owns the wire (a strict SIP parser and serializer, transports), the protocol state
//! machines (transactions and dialogs, written sans-IO), digest authentication, SDP and
//! the RTP relay, plus an async driver that runs them on tokio. It never knows about
//! extensions, sites or money: that is `pbx` and `billing`.

pub mod auth;
pub mod dialog;
pub mod driver;
pub mod message;
pub mod rtp;
pub mod rtp_relay;
pub mod sdp;
pub mod transaction;
pub mod transport;
