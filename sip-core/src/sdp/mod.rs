//! SDP (RFC 4566) and the offer/answer model (RFC 3264) for Sentral's calls.
//!
//! Owns: parsing and building session descriptions ([`SessionDescription::parse`],
//! [`fmt::Display`](std::fmt::Display)), typed access to the attributes a PBX reads
//! (rtpmap, fmtp, ptime, direction, rtcp, rtcp-mux), hold detection (including the old
//! `c=0.0.0.0` form), answers for PCMU/PCMA/G.722/telephone-event ([`answer`]), and the
//! relay's rewrite of addresses and ports ([`SessionDescription::rewrite_connection`],
//! [`OriginKeeper`]). IPv4 and IPv6 (`IN IP6` addresses without brackets, RFC 5118 §4.6).
//! Never does: I/O, port allocation (the caller's closure or the relay does), or anything
//! about SIP messages (the body comes in as bytes).

mod model;
mod offer_answer;
mod parse;
mod rewrite;

pub use model::{
    Attribute, Bandwidth, Connection, Direction, MediaDescription, Origin, Rtcp, RtpMap,
    SessionDescription, Timing,
};
pub use offer_answer::{AnswerOptions, Codec, OfferAnswerError, answer, negotiated_formats};
pub use parse::{MAX_MEDIA, MAX_SDP_LEN, SdpError, SdpErrorKind};
pub use rewrite::{ICE_ATTRIBUTES, OriginKeeper, PortCountMismatch};
