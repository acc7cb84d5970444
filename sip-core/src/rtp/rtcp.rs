//! RTCP compound packets (RFC 3550 §6): validated once, then read without allocation.
//!
//! Only what a relay and call records need is typed: sender and receiver reports with their
//! report blocks (§6.4) and BYE (§6.6). Every other packet type (SDES, APP, feedback, XR) is
//! kept as opaque bytes; a relay passes RTCP through unchanged anyway.

use super::RtpError;

const SR: u8 = 200;
const RR: u8 = 201;
const BYE: u8 = 203;
const HEADER_LEN: usize = 4;
const REPORT_BLOCK_LEN: usize = 24;
/// SSRC, NTP timestamp, RTP timestamp, packet and octet counts (RFC 3550 §6.4.1).
const SENDER_INFO_LEN: usize = 24;

fn be32(b: &[u8], at: usize) -> u32 {
    match b.get(at..at + 4) {
        Some(&[a, b, c, d]) => u32::from_be_bytes([a, b, c, d]),
        _ => 0,
    }
}

/// One RTCP compound packet: a datagram of stacked RTCP packets (RFC 3550 §6.1).
///
/// [`RtcpCompound::parse`] applies the validity checks of RFC 3550 Appendix A.2 that do not
/// depend on session state: every packet has version 2, the length fields add up to the
/// datagram exactly, and only the last packet may carry padding. It accepts a compound whose
/// first packet is not SR or RR, because reduced-size RTCP (RFC 5506) allows that.
#[derive(Debug, Clone, Copy)]
pub struct RtcpCompound<'a> {
    buf: &'a [u8],
}

impl<'a> RtcpCompound<'a> {
    /// Validates `datagram` as an RTCP compound packet.
    pub fn parse(datagram: &'a [u8]) -> Result<Self, RtpError> {
        if datagram.len() < HEADER_LEN {
            return Err(RtpError::TooShort {
                len: datagram.len(),
                need: HEADER_LEN,
            });
        }
        let mut rest = datagram;
        while !rest.is_empty() {
            let (Some(&b0), Some(&pt)) = (rest.first(), rest.get(1)) else {
                return Err(RtpError::MalformedRtcp("trailing bytes after last packet"));
            };
            if b0 >> 6 != 2 {
                return Err(RtpError::UnsupportedVersion(b0 >> 6));
            }
            if !(192..=223).contains(&pt) {
                return Err(RtpError::MalformedRtcp("packet type outside 192-223"));
            }
            // The length field counts 32-bit words minus one (RFC 3550 §6.4.1).
            let words = usize::from(u16::from_be_bytes([
                rest.get(2).copied().unwrap_or(0),
                rest.get(3).copied().unwrap_or(0),
            ]));
            let len = (words + 1) * 4;
            if rest.len() < HEADER_LEN || len > rest.len() {
                return Err(RtpError::MalformedRtcp("length field past end of datagram"));
            }
            let (packet, tail) = rest.split_at(len);
            let padded = b0 & 0x20 != 0;
            if padded && !tail.is_empty() {
                return Err(RtpError::MalformedRtcp("padding before the last packet"));
            }
            let body = body_of(packet, padded)?;
            check_body(pt, b0 & 0x1F, body)?;
            rest = tail;
        }
        Ok(Self { buf: datagram })
    }

    /// The raw datagram.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.buf
    }

    /// The packets, in order.
    pub fn packets(&self) -> impl Iterator<Item = RtcpPacket<'a>> + 'a {
        let mut rest = self.buf;
        std::iter::from_fn(move || {
            let b0 = *rest.first()?;
            let pt = *rest.get(1)?;
            let words = usize::from(u16::from_be_bytes([*rest.get(2)?, *rest.get(3)?]));
            let len = ((words + 1) * 4).min(rest.len());
            let (packet, tail) = rest.split_at(len);
            rest = tail;
            // parse() checked every body, so this cannot fail; stop rather than panic anyway.
            let body = body_of(packet, b0 & 0x20 != 0).ok()?;
            Some(RtcpPacket::from_parts(pt, b0 & 0x1F, body))
        })
    }

    /// Every report block in the compound, from SRs and RRs alike.
    pub fn report_blocks(&self) -> impl Iterator<Item = ReportBlock> + 'a {
        self.packets().flat_map(|p| {
            let blocks: &'a [u8] = match p {
                RtcpPacket::SenderReport(sr) => sr.blocks,
                RtcpPacket::ReceiverReport(rr) => rr.blocks,
                _ => &[],
            };
            blocks.chunks_exact(REPORT_BLOCK_LEN).map(ReportBlock::read)
        })
    }
}

/// The bytes after the 4-byte header, without trailing padding.
fn body_of(packet: &[u8], padded: bool) -> Result<&[u8], RtpError> {
    let body = packet.get(HEADER_LEN..).unwrap_or(&[]);
    if !padded {
        return Ok(body);
    }
    let pad = usize::from(body.last().copied().unwrap_or(0));
    if pad == 0 || pad > body.len() {
        return Err(RtpError::InvalidPadding(pad.min(255) as u8));
    }
    Ok(body.get(..body.len() - pad).unwrap_or(&[]))
}

fn check_body(pt: u8, count: u8, body: &[u8]) -> Result<(), RtpError> {
    let blocks = usize::from(count) * REPORT_BLOCK_LEN;
    let need = match pt {
        SR => SENDER_INFO_LEN + blocks,
        RR => 4 + blocks,
        BYE => usize::from(count) * 4,
        _ => 0,
    };
    if body.len() < need {
        return Err(RtpError::MalformedRtcp(
            "report count exceeds packet length",
        ));
    }
    if pt == BYE && body.len() > need {
        // An optional reason: a length octet and that many bytes (RFC 3550 §6.6).
        let reason_len = usize::from(body.get(need).copied().unwrap_or(0));
        if need + 1 + reason_len > body.len() {
            return Err(RtpError::MalformedRtcp("BYE reason past end of packet"));
        }
    }
    Ok(())
}

/// One packet inside a compound.
#[derive(Debug, Clone, Copy)]
pub enum RtcpPacket<'a> {
    /// SR, packet type 200 (RFC 3550 §6.4.1).
    SenderReport(SenderReport<'a>),
    /// RR, packet type 201 (RFC 3550 §6.4.2).
    ReceiverReport(ReceiverReport<'a>),
    /// BYE, packet type 203 (RFC 3550 §6.6).
    Bye(Bye<'a>),
    /// Any other packet type, body without header and padding.
    Other {
        /// Packet type, 192–223.
        packet_type: u8,
        /// The 5-bit count/format field.
        count: u8,
        /// The body after the 4-byte header.
        body: &'a [u8],
    },
}

impl<'a> RtcpPacket<'a> {
    fn from_parts(pt: u8, count: u8, body: &'a [u8]) -> Self {
        let blocks_len = usize::from(count) * REPORT_BLOCK_LEN;
        match pt {
            SR => RtcpPacket::SenderReport(SenderReport {
                ssrc: be32(body, 0),
                ntp_timestamp: (u64::from(be32(body, 4)) << 32) | u64::from(be32(body, 8)),
                rtp_timestamp: be32(body, 12),
                packet_count: be32(body, 16),
                octet_count: be32(body, 20),
                blocks: body
                    .get(SENDER_INFO_LEN..SENDER_INFO_LEN + blocks_len)
                    .unwrap_or(&[]),
            }),
            RR => RtcpPacket::ReceiverReport(ReceiverReport {
                ssrc: be32(body, 0),
                blocks: body.get(4..4 + blocks_len).unwrap_or(&[]),
            }),
            BYE => {
                let ssrcs = body.get(..usize::from(count) * 4).unwrap_or(&[]);
                let after = body.get(ssrcs.len()..).unwrap_or(&[]);
                let reason = after
                    .split_first()
                    .and_then(|(&n, text)| text.get(..usize::from(n)));
                RtcpPacket::Bye(Bye { ssrcs, reason })
            }
            _ => RtcpPacket::Other {
                packet_type: pt,
                count,
                body,
            },
        }
    }
}

/// Sender report (RFC 3550 §6.4.1).
#[derive(Debug, Clone, Copy)]
pub struct SenderReport<'a> {
    /// SSRC of the sender.
    pub ssrc: u32,
    /// 64-bit NTP wallclock of this report.
    pub ntp_timestamp: u64,
    /// RTP timestamp matching `ntp_timestamp`.
    pub rtp_timestamp: u32,
    /// Packets sent so far.
    pub packet_count: u32,
    /// Payload octets sent so far.
    pub octet_count: u32,
    blocks: &'a [u8],
}

impl SenderReport<'_> {
    /// Report blocks about the streams this sender receives.
    pub fn report_blocks(&self) -> impl Iterator<Item = ReportBlock> + '_ {
        self.blocks
            .chunks_exact(REPORT_BLOCK_LEN)
            .map(ReportBlock::read)
    }
}

/// Receiver report (RFC 3550 §6.4.2).
#[derive(Debug, Clone, Copy)]
pub struct ReceiverReport<'a> {
    /// SSRC of the reporter.
    pub ssrc: u32,
    blocks: &'a [u8],
}

impl ReceiverReport<'_> {
    /// Report blocks, one per source received.
    pub fn report_blocks(&self) -> impl Iterator<Item = ReportBlock> + '_ {
        self.blocks
            .chunks_exact(REPORT_BLOCK_LEN)
            .map(ReportBlock::read)
    }
}

/// BYE (RFC 3550 §6.6).
#[derive(Debug, Clone, Copy)]
pub struct Bye<'a> {
    ssrcs: &'a [u8],
    reason: Option<&'a [u8]>,
}

impl<'a> Bye<'a> {
    /// The sources leaving.
    pub fn ssrcs(&self) -> impl Iterator<Item = u32> + 'a {
        self.ssrcs.chunks_exact(4).map(|c| be32(c, 0))
    }

    /// The optional reason text, as sent (RFC 3550 says UTF-8; not checked here).
    pub fn reason(&self) -> Option<&'a [u8]> {
        self.reason
    }
}

/// One reception report block (RFC 3550 §6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportBlock {
    /// The source this block reports on.
    pub ssrc: u32,
    /// Fraction of packets lost since the previous report, in 1/256 units.
    pub fraction_lost: u8,
    /// Cumulative packets lost, a signed 24-bit number (duplicates can make it negative).
    pub cumulative_lost: i32,
    /// Extended highest sequence number received (cycles in the top 16 bits).
    pub extended_highest_seq: u32,
    /// Interarrival jitter in RTP timestamp units (RFC 3550 §6.4.1, A.8).
    pub jitter: u32,
    /// Middle 32 bits of the NTP timestamp of the last SR received from this source.
    pub last_sr: u32,
    /// Delay since that SR, in 1/65536 s.
    pub delay_since_last_sr: u32,
}

impl ReportBlock {
    fn read(b: &[u8]) -> Self {
        let lost_word = be32(b, 4);
        // Sign-extend the 24-bit cumulative loss.
        let cumulative_lost = ((lost_word << 8) as i32) >> 8;
        Self {
            ssrc: be32(b, 0),
            fraction_lost: (lost_word >> 24) as u8,
            cumulative_lost,
            extended_highest_seq: be32(b, 8),
            jitter: be32(b, 12),
            last_sr: be32(b, 16),
            delay_since_last_sr: be32(b, 20),
        }
    }

    /// Writes this block as the 24 bytes of RFC 3550 §6.4.1 (the cumulative loss clamped to
    /// the 24-bit signed range).
    pub fn write(&self, out: &mut Vec<u8>) {
        let lost = self.cumulative_lost.clamp(-0x80_0000, 0x7F_FFFF);
        let lost_word = (u32::from(self.fraction_lost) << 24) | ((lost as u32) & 0x00FF_FFFF);
        for word in [
            self.ssrc,
            lost_word,
            self.extended_highest_seq,
            self.jitter,
            self.last_sr,
            self.delay_since_last_sr,
        ] {
            out.extend_from_slice(&word.to_be_bytes());
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn rr_with_block(block: &ReportBlock) -> Vec<u8> {
        let mut p = vec![0x81, RR, 0, 7];
        p.extend_from_slice(&0x1111_2222u32.to_be_bytes());
        block.write(&mut p);
        p
    }

    fn block() -> ReportBlock {
        ReportBlock {
            ssrc: 0xDEAD_BEEF,
            fraction_lost: 25,
            cumulative_lost: -3,
            extended_highest_seq: 0x0001_0010,
            jitter: 42,
            last_sr: 7,
            delay_since_last_sr: 9,
        }
    }

    #[test]
    fn receiver_report_block_round_trips_with_negative_loss() {
        let p = rr_with_block(&block());
        let c = RtcpCompound::parse(&p).unwrap();
        let blocks: Vec<_> = c.report_blocks().collect();
        assert_eq!(blocks, vec![block()]);
    }

    #[test]
    fn sender_report_then_bye_with_reason() {
        let mut p = vec![0x81, SR, 0, 12];
        p.extend_from_slice(&1u32.to_be_bytes()); // ssrc
        p.extend_from_slice(&[0, 0, 0, 2, 0, 0, 0, 3]); // ntp
        p.extend_from_slice(&160u32.to_be_bytes());
        p.extend_from_slice(&50u32.to_be_bytes());
        p.extend_from_slice(&8000u32.to_be_bytes());
        block().write(&mut p);
        // BYE with one SSRC and reason "end" (1 + 3 bytes = one word).
        p.extend_from_slice(&[0x81, BYE, 0, 2]);
        p.extend_from_slice(&1u32.to_be_bytes());
        p.extend_from_slice(&[3, b'e', b'n', b'd']);
        let c = RtcpCompound::parse(&p).unwrap();
        let packets: Vec<_> = c.packets().collect();
        assert_eq!(packets.len(), 2);
        match packets[0] {
            RtcpPacket::SenderReport(sr) => {
                assert_eq!(sr.ssrc, 1);
                assert_eq!(sr.ntp_timestamp, (2u64 << 32) | 3);
                assert_eq!(sr.packet_count, 50);
                assert_eq!(sr.octet_count, 8000);
                assert_eq!(sr.report_blocks().count(), 1);
            }
            ref other => panic!("expected SR, got {other:?}"),
        }
        match packets[1] {
            RtcpPacket::Bye(bye) => {
                assert_eq!(bye.ssrcs().collect::<Vec<_>>(), vec![1]);
                assert_eq!(bye.reason(), Some(&b"end"[..]));
            }
            ref other => panic!("expected BYE, got {other:?}"),
        }
    }

    #[test]
    fn refuses_lengths_that_do_not_add_up() {
        let mut p = rr_with_block(&block());
        p.push(0);
        assert!(RtcpCompound::parse(&p).is_err());
        let mut p = rr_with_block(&block());
        p.truncate(p.len() - 4);
        assert!(RtcpCompound::parse(&p).is_err());
        // RC says 2 blocks, only one present.
        let mut p = rr_with_block(&block());
        p[0] = 0x82;
        assert!(RtcpCompound::parse(&p).is_err());
    }

    #[test]
    fn padding_only_on_last_packet() {
        // RR (no blocks) with 4 bytes of padding, then another RR: refused.
        let mut p = vec![0xA0, RR, 0, 2, 0, 0, 0, 1, 0, 0, 0, 4];
        assert!(RtcpCompound::parse(&p).is_ok());
        p.extend_from_slice(&[0x80, RR, 0, 1, 0, 0, 0, 1]);
        assert_eq!(
            RtcpCompound::parse(&p).unwrap_err(),
            RtpError::MalformedRtcp("padding before the last packet")
        );
        // Zero padding count.
        assert!(RtcpCompound::parse(&[0xA0, RR, 0, 1, 0, 0, 0, 0]).is_err());
    }

    #[test]
    fn bye_reason_must_fit() {
        let p = [0x81, BYE, 0, 2, 0, 0, 0, 1, 9, b'x', b'y', b'z'];
        assert!(RtcpCompound::parse(&p).is_err());
    }
}
