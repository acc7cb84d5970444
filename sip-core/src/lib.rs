//! sip-core: Sentral's SIP and RTP foundation.
//!
//! It owns the wire (a strict SIP parser and serializer, transports), the protocol state
//! machines (transactions and dialogs, written sans-IO), digest authentication, SDP and
//! the RTP relay, plus an async driver that runs them on tokio. It never knows about
//! extensions, sites or money: that is `pbx` and `billing`.

pub mod message;
