//! RTP and RTCP packets: a safe wrapper over `rtp-rs` 0.6.
//!
//! This module owns the wire format of media packets and nothing else: no sockets, no clocks,
//! no session state (that is [`crate::rtp_relay`]). It exists because `rtp-rs` alone has three
//! traps, each handled here and pinned by a test in `sip-core/tests/rtp_packets.rs`:
//!
//! 1. `RtpReader::new` accepts RTCP as RTP: an RTCP sender report (`0x80 0xC8 …`) reads as
//!    an RTP packet with the marker bit and payload type 72. [`classify`] demultiplexes first,
//!    per RFC 5761 §4, and [`RtpPacket::parse`] refuses what [`classify`] calls RTCP.
//! 2. `RtpPacketBuilder::set_csrc` panics (a slice copy of mismatched length) with more than
//!    15 CSRCs; [`RtpBuilder::csrcs`] returns [`RtpError::TooManyCsrcs`] instead.
//! 3. `RtpPacketBuilder::build_into` writes only the packet's own bytes, so a reused buffer
//!    keeps stale bytes past the new end and inside the padding; [`RtpBuilder::write_into`]
//!    clears, sizes and truncates the `Vec` so it holds exactly the new packet.

mod builder;
mod error;
mod packet;
mod rtcp;

pub use builder::RtpBuilder;
pub use error::RtpError;
pub use packet::{RtpPacket, clock_rate_for_static_payload_type};
pub use rtcp::{Bye, ReceiverReport, ReportBlock, RtcpCompound, RtcpPacket, SenderReport};

/// What a datagram that arrived on an RTP or RTCP port is, decided from its first two bytes.
///
/// RFC 5761 §4: when RTP and RTCP share a port, a packet whose second byte is 192–223 (that
/// is, payload type 64–95 with the marker bit set) is RTCP; RTP must not use payload types
/// 64–95. RTCP packet types in use (SR 200, RR 201, SDES 202, BYE 203, APP 204, RTPFB 205,
/// PSFB 206, XR 207) all fall in that range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketKind {
    /// Version 2, second byte outside 192–223: parse with [`RtpPacket::parse`].
    Rtp,
    /// Version 2, second byte 192–223: parse with [`RtcpCompound::parse`].
    Rtcp,
    /// Too short, or not version 2 (STUN, DTLS, ZRTP or garbage share media ports; RFC 7983
    /// §7 tells them apart by the first byte, and none of them has version bits `10`).
    Other,
}

/// Demultiplexes one datagram (RFC 5761 §4, RFC 7983 §7) without validating it further.
pub fn classify(datagram: &[u8]) -> PacketKind {
    let (Some(&first), Some(&second)) = (datagram.first(), datagram.get(1)) else {
        return PacketKind::Other;
    };
    if first >> 6 != 2 {
        return PacketKind::Other;
    }
    if (192..=223).contains(&second) {
        PacketKind::Rtcp
    } else {
        PacketKind::Rtp
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn sender_report_is_rtcp_not_rtp_with_payload_type_72() {
        let sr = [0x80, 0xC8, 0x00, 0x06, 0, 0, 0, 1];
        assert_eq!(classify(&sr), PacketKind::Rtcp);
        // PCMU with the marker bit is RTP (second byte 0x80).
        assert_eq!(classify(&[0x80, 0x80, 0, 1]), PacketKind::Rtp);
        // Payload type 100 with marker: 0xE4 = 228, outside 192–223.
        assert_eq!(classify(&[0x80, 0xE4]), PacketKind::Rtp);
    }

    #[test]
    fn rtcp_range_bounds_follow_rfc_5761() {
        assert_eq!(classify(&[0x80, 191]), PacketKind::Rtp);
        assert_eq!(classify(&[0x80, 192]), PacketKind::Rtcp);
        assert_eq!(classify(&[0x80, 223]), PacketKind::Rtcp);
        assert_eq!(classify(&[0x80, 224]), PacketKind::Rtp);
    }

    #[test]
    fn non_version_2_and_short_are_other() {
        assert_eq!(classify(&[]), PacketKind::Other);
        assert_eq!(classify(&[0x80]), PacketKind::Other);
        // STUN binding request starts with 0x00 0x01.
        assert_eq!(classify(&[0x00, 0x01, 0, 0]), PacketKind::Other);
        // DTLS handshake record: 22.
        assert_eq!(classify(&[22, 0xFE, 0xFD]), PacketKind::Other);
        assert_eq!(classify(&[0x40, 0x00]), PacketKind::Other);
    }
}
