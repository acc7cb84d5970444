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
//!
//! ```
//! use sip_core::sdp::*;
//!
//! let offer = SessionDescription::parse(
//!     b"v=0\r\no=- 1 1 IN IP4 192.0.2.5\r\ns=-\r\nc=IN IP4 192.0.2.5\r\nt=0 0\r\n\
//!       m=audio 4000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=sendonly\r\n",
//! )
//! .expect("valid SDP");
//! assert!(offer.is_on_hold());
//!
//! // Terminating media ourselves (music on hold, voicemail): answer it.
//! let options = AnswerOptions::new("198.51.100.1".parse().expect("ip"), "42", 1);
//! let ours = answer(&offer, &options, |_m_line| Some(20_000)).expect("PCMU/PCMA offered");
//! assert_eq!(ours.media[0].direction_attribute(), Some(Direction::RecvOnly));
//!
//! // Relaying: point the offer at the relay, then stamp this leg's o= line.
//! let mut to_callee = offer.clone();
//! to_callee
//!     .rewrite_connection("198.51.100.1".parse().expect("ip"), &[30_000])
//!     .expect("one port per m-line");
//! let mut leg_b = OriginKeeper::new("sentral", "7", 1);
//! leg_b.stamp(&mut to_callee);
//! let body: Vec<u8> = to_callee.to_bytes();
//! assert!(body.starts_with(b"v=0\r\no=sentral 7 1 IN IP4 198.51.100.1\r\n"));
//! ```

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
