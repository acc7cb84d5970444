//! Building RTP packets into a reused buffer, without panics and without stale bytes.

use rtp_rs::{Pad, RtpPacketBuilder};

use super::RtpError;

/// Header fields for RTP packets; [`RtpBuilder::write_into`] adds a payload and writes one.
///
/// Every invalid field is refused with an [`RtpError`] where `rtp-rs` would panic (more than
/// 15 CSRCs, a padding block below 2) or silently write something that reads back as RTCP
/// (payload types 64–95, RFC 5761 §4).
#[derive(Debug, Clone, Default)]
pub struct RtpBuilder<'a> {
    payload_type: u8,
    marker: bool,
    sequence: u16,
    timestamp: u32,
    ssrc: u32,
    csrcs: [u32; 15],
    csrc_count: u8,
    extension: Option<(u16, &'a [u8])>,
    pad_to: Option<u8>,
}

impl<'a> RtpBuilder<'a> {
    /// A builder for `payload_type`, refusing types outside 0–127 and the RTCP range 64–95.
    pub fn new(payload_type: u8) -> Result<Self, RtpError> {
        if payload_type > 127 || (64..=95).contains(&payload_type) {
            return Err(RtpError::InvalidPayloadType(payload_type));
        }
        Ok(Self {
            payload_type,
            ..Self::default()
        })
    }

    /// Sets the marker bit.
    pub fn marker(mut self, marker: bool) -> Self {
        self.marker = marker;
        self
    }

    /// Sets the sequence number.
    pub fn sequence(mut self, sequence: u16) -> Self {
        self.sequence = sequence;
        self
    }

    /// Sets the timestamp.
    pub fn timestamp(mut self, timestamp: u32) -> Self {
        self.timestamp = timestamp;
        self
    }

    /// Sets the SSRC.
    pub fn ssrc(mut self, ssrc: u32) -> Self {
        self.ssrc = ssrc;
        self
    }

    /// Sets the CSRC list; more than 15 is an error (the CC field has 4 bits, RFC 3550 §5.1),
    /// where `rtp-rs`'s `set_csrc` panics.
    pub fn csrcs(mut self, csrcs: &[u32]) -> Result<Self, RtpError> {
        let Some(slot) = self.csrcs.get_mut(..csrcs.len()) else {
            return Err(RtpError::TooManyCsrcs(csrcs.len()));
        };
        slot.copy_from_slice(csrcs);
        self.csrc_count = csrcs.len() as u8;
        Ok(self)
    }

    /// Sets a header extension; `data` must be whole 32-bit words (RFC 3550 §5.3.1).
    pub fn extension(mut self, profile: u16, data: &'a [u8]) -> Result<Self, RtpError> {
        if data.len() & 3 != 0 || data.len() > 0xFFFF {
            return Err(RtpError::InvalidExtension(data.len()));
        }
        self.extension = Some((profile, data));
        Ok(self)
    }

    /// Pads packets to a multiple of `block` bytes (2–255), setting the P bit when padding
    /// is added.
    pub fn pad_to(mut self, block: u8) -> Result<Self, RtpError> {
        if block < 2 {
            return Err(RtpError::InvalidPadBlock(block));
        }
        self.pad_to = Some(block);
        Ok(self)
    }

    /// Writes one packet with `payload` into `out`, replacing whatever `out` held: afterwards
    /// `out.len()` is the packet length and every byte is this packet's (padding bytes are
    /// zero except the count, RFC 3550 §5.1). Returns the length.
    ///
    /// `rtp-rs`'s `build_into` writes only the packet's own bytes and leaves the rest of a
    /// reused buffer, including the padding area, as it was; this clears and sizes first.
    pub fn write_into(&self, payload: &[u8], out: &mut Vec<u8>) -> Result<usize, RtpError> {
        let mut b = RtpPacketBuilder::new()
            .payload_type(self.payload_type)
            .marked(self.marker)
            .sequence(self.sequence.into())
            .timestamp(self.timestamp)
            .ssrc(self.ssrc)
            .payload(payload);
        for &csrc in self.csrcs.iter().take(usize::from(self.csrc_count)) {
            b = b.add_csrc(csrc);
        }
        if let Some((profile, data)) = self.extension {
            b = b.extension(profile, data);
        }
        if let Some(block) = self.pad_to {
            // `Pad::round_to` asserts `block >= 2`, checked in `pad_to`.
            b = b.padded(Pad::round_to(block));
        }
        out.clear();
        out.resize(b.target_length(), 0);
        let written = b.build_into(out.as_mut_slice()).map_err(|e| match e {
            rtp_rs::RtpPacketBuildError::PayloadTypeInvalid => {
                RtpError::InvalidPayloadType(self.payload_type)
            }
            rtp_rs::RtpPacketBuildError::ExtensionTooLarge
            | rtp_rs::RtpPacketBuildError::ExtensionMissingPadding => {
                RtpError::InvalidExtension(self.extension.map_or(0, |(_, d)| d.len()))
            }
            // The buffer was sized by target_length just above.
            rtp_rs::RtpPacketBuildError::BufferTooSmall => RtpError::TooShort {
                len: out.len(),
                need: b.target_length(),
            },
        })?;
        out.truncate(written);
        Ok(written)
    }
}
