//! A validated, zero-copy view of one RTP packet.

use rtp_rs::{RtpReader, RtpReaderError};

use super::{PacketKind, RtpError, classify};

/// One RTP packet, checked once on parse: version 2, not RTCP (RFC 5761 §4), CSRC list,
/// header extension and padding all inside the datagram (RFC 3550 §5.1, §5.3.1).
///
/// Every accessor is then infallible and cannot panic.
#[derive(Debug)]
pub struct RtpPacket<'a> {
    reader: RtpReader<'a>,
}

impl<'a> RtpPacket<'a> {
    /// Smallest RTP header: 12 bytes (RFC 3550 §5.1).
    pub const MIN_LEN: usize = 12;

    /// Parses `datagram` as RTP, refusing RTCP first (rtp-rs alone would read an RTCP sender
    /// report as RTP with payload type 72).
    pub fn parse(datagram: &'a [u8]) -> Result<Self, RtpError> {
        match classify(datagram) {
            PacketKind::Rtp => {}
            PacketKind::Rtcp => {
                return Err(RtpError::IsRtcp(datagram.get(1).copied().unwrap_or(0)));
            }
            PacketKind::Other => {
                return Err(match datagram.first() {
                    Some(b) if datagram.len() >= 2 => RtpError::UnsupportedVersion(b >> 6),
                    _ => RtpError::TooShort {
                        len: datagram.len(),
                        need: Self::MIN_LEN,
                    },
                });
            }
        }
        let reader = RtpReader::new(datagram).map_err(|e| match e {
            RtpReaderError::BufferTooShort(len) => RtpError::TooShort {
                len,
                need: Self::MIN_LEN,
            },
            RtpReaderError::UnsupportedVersion(v) => RtpError::UnsupportedVersion(v),
            RtpReaderError::HeadersTruncated {
                header_len,
                buffer_len,
            } => RtpError::HeaderTruncated {
                header_len,
                len: buffer_len,
            },
            RtpReaderError::PaddingLengthInvalid(p) => RtpError::InvalidPadding(p),
        })?;
        Ok(Self { reader })
    }

    /// The marker bit (RFC 3550 §5.1 "M"; for audio, the first packet of a talkspurt).
    pub fn marker(&self) -> bool {
        self.reader.mark()
    }

    /// Payload type, 0–127.
    pub fn payload_type(&self) -> u8 {
        self.reader.payload_type()
    }

    /// 16-bit sequence number.
    pub fn sequence(&self) -> u16 {
        self.reader.sequence_number().into()
    }

    /// RTP timestamp, in the payload type's clock.
    pub fn timestamp(&self) -> u32 {
        self.reader.timestamp()
    }

    /// Synchronisation source.
    pub fn ssrc(&self) -> u32 {
        self.reader.ssrc()
    }

    /// Contributing sources, 0 to 15 of them.
    pub fn csrcs(&self) -> impl Iterator<Item = u32> + '_ {
        self.reader.csrc()
    }

    /// The header extension's profile id and data, if the X bit is set.
    pub fn extension(&self) -> Option<(u16, &'a [u8])> {
        self.reader.extension()
    }

    /// Number of padding bytes (including the count byte), if the P bit is set.
    pub fn padding(&self) -> Option<u8> {
        self.reader.padding()
    }

    /// The payload, without header, extension and padding.
    pub fn payload(&self) -> &'a [u8] {
        self.reader.payload()
    }
}

/// The RTP clock rate of a static payload type (RFC 3551 §6, table 4), or `None` for dynamic
/// (96–127) and unassigned types, whose rate comes from SDP `a=rtpmap`.
///
/// G.722 (9) is listed at 8000 Hz although it samples at 16 kHz: RFC 3551 §4.5.2 keeps the
/// RTP clock at 8000 for historical reasons.
pub fn clock_rate_for_static_payload_type(payload_type: u8) -> Option<u32> {
    match payload_type {
        0 | 3 | 4 | 5 | 7 | 8 | 9 | 12 | 13 | 15 | 18 => Some(8000),
        6 => Some(16000),
        10 | 11 => Some(44100),
        16 => Some(11025),
        17 => Some(22050),
        14 | 25 | 26 | 28 | 31 | 32 | 33 | 34 => Some(90000),
        _ => None,
    }
}
