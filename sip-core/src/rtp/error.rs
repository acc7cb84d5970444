//! Errors from parsing and building RTP/RTCP packets.

/// Why an RTP or RTCP packet was refused, or could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RtpError {
    /// Fewer bytes than the fixed header needs (12 for RTP, 4 for an RTCP packet).
    #[error("packet too short: {len} bytes, need at least {need}")]
    TooShort {
        /// Bytes available.
        len: usize,
        /// Bytes the header needs.
        need: usize,
    },
    /// Version bits other than 2 (RFC 3550 §5.1).
    #[error("unsupported RTP version {0}")]
    UnsupportedVersion(u8),
    /// The second byte is in the RTCP range 192–223 (RFC 5761 §4): not an RTP packet.
    #[error("packet is RTCP (packet type {0}), not RTP")]
    IsRtcp(u8),
    /// The CSRC list or header extension runs past the end of the datagram.
    #[error("header truncated: header needs {header_len} bytes, datagram has {len}")]
    HeaderTruncated {
        /// Bytes the header claims.
        header_len: usize,
        /// Bytes available.
        len: usize,
    },
    /// The padding count is 0 or longer than the payload (RFC 3550 §5.1 "P").
    #[error("invalid padding length {0}")]
    InvalidPadding(u8),
    /// The packet's payload type is outside 0–127 or in 64–95, which RFC 5761 §4 keeps for
    /// RTCP demultiplexing (72–76 with the marker bit would read back as RTCP).
    #[error("payload type {0} not allowed for RTP")]
    InvalidPayloadType(u8),
    /// More than 15 CSRCs: the CC field has 4 bits (RFC 3550 §5.1).
    #[error("{0} CSRCs given, at most 15 fit in the CC field")]
    TooManyCsrcs(usize),
    /// The header extension is not a whole number of 32-bit words or is too long
    /// (RFC 3550 §5.3.1).
    #[error("invalid header extension of {0} bytes")]
    InvalidExtension(usize),
    /// Padding must round to at least 2 and at most 255 bytes.
    #[error("invalid padding block {0}")]
    InvalidPadBlock(u8),
    /// An RTCP compound packet whose lengths do not add up, whose first packet is not SR or
    /// RR, or with padding before the last packet (RFC 3550 §6.1 and Appendix A.2).
    #[error("malformed RTCP: {0}")]
    MalformedRtcp(&'static str),
}
