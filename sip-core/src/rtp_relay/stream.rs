//! Receive statistics for one RTP stream, sans-IO: updated with (packet, now), never reads a
//! clock. Sequence and loss follow RFC 3550 Appendix A.1/A.3, jitter §6.4.1 and A.8.

use std::time::{Duration, Instant};

use crate::rtp::RtpPacket;

/// RFC 3550 A.1: packets a new source must send in sequence before it counts as valid.
const MIN_SEQUENTIAL: u32 = 2;
/// RFC 3550 A.1: a forward jump larger than this is treated as a restart or garbage.
const MAX_DROPOUT: u16 = 3000;
/// RFC 3550 A.1: a backward jump up to this is an old, reordered packet.
const MAX_MISORDER: u16 = 100;
const RTP_SEQ_MOD: u32 = 1 << 16;

/// The sequence-tracking state of one SSRC (RFC 3550 A.1 `source`).
#[derive(Debug, Clone)]
struct Source {
    ssrc: u32,
    max_seq: u16,
    /// Shifted count of sequence number cycles (multiples of 2^16).
    cycles: u32,
    base_seq: u32,
    /// The sequence number after a large jump: if it arrives next, the sender restarted.
    bad_seq: u32,
    probation: u32,
    /// Packets counted by the A.1 algorithm (after probation).
    received: u64,
    /// Relative transit time of the previous packet, in timestamp units (A.8).
    transit: Option<u32>,
    /// Jitter estimate times 16 (A.8 keeps it scaled to avoid fractions).
    jitter_q4: u32,
    /// Clock rate the last transit was computed with; a change restarts the estimate.
    clock_rate: u32,
}

impl Source {
    fn new(ssrc: u32, seq: u16) -> Self {
        let mut s = Self {
            ssrc,
            max_seq: seq,
            cycles: 0,
            base_seq: u32::from(seq),
            bad_seq: RTP_SEQ_MOD + 1,
            probation: MIN_SEQUENTIAL,
            received: 0,
            transit: None,
            jitter_q4: 0,
            clock_rate: 0,
        };
        // A.1: max_seq = seq - 1 so the first packet is "in sequence".
        s.max_seq = seq.wrapping_sub(1);
        s
    }

    fn init_seq(&mut self, seq: u16) {
        self.base_seq = u32::from(seq);
        self.max_seq = seq;
        self.bad_seq = RTP_SEQ_MOD + 1;
        self.cycles = 0;
        self.received = 0;
    }

    /// RFC 3550 A.1 `update_seq`: returns whether the packet is valid for statistics.
    fn update_seq(&mut self, seq: u16) -> bool {
        let udelta = seq.wrapping_sub(self.max_seq);
        if self.probation > 0 {
            if seq == self.max_seq.wrapping_add(1) {
                self.probation -= 1;
                self.max_seq = seq;
                if self.probation == 0 {
                    self.init_seq(seq);
                    self.received += 1;
                    return true;
                }
            } else {
                self.probation = MIN_SEQUENTIAL - 1;
                self.max_seq = seq;
            }
            return false;
        }
        if udelta < MAX_DROPOUT {
            // In order, with permissible gap; a wrap means one more cycle.
            if seq < self.max_seq {
                self.cycles = self.cycles.wrapping_add(RTP_SEQ_MOD);
            }
            self.max_seq = seq;
        } else if u32::from(udelta) <= RTP_SEQ_MOD - u32::from(MAX_MISORDER) {
            // A very large jump: accept only if the next packet follows it (sender restart).
            if u32::from(seq) == self.bad_seq {
                self.init_seq(seq);
            } else {
                self.bad_seq = (u32::from(seq) + 1) & (RTP_SEQ_MOD - 1);
                return false;
            }
        }
        // Otherwise a duplicate or reordered packet: counted, max_seq unchanged.
        self.received += 1;
        true
    }

    fn extended_max(&self) -> u64 {
        u64::from(self.cycles) + u64::from(self.max_seq)
    }

    /// RFC 3550 A.3: expected = extended max - base + 1, before probation ended: 0.
    fn expected(&self) -> u64 {
        if self.probation > 0 {
            return 0;
        }
        (self.extended_max() + 1).saturating_sub(u64::from(self.base_seq))
    }

    fn lost(&self) -> i64 {
        self.expected() as i64 - self.received as i64
    }

    /// RFC 3550 A.8, with `arrival` already in timestamp units.
    fn update_jitter(&mut self, arrival: u32, rtp_ts: u32, clock_rate: u32) {
        let transit = arrival.wrapping_sub(rtp_ts);
        if self.clock_rate != clock_rate {
            self.clock_rate = clock_rate;
            self.transit = None;
        }
        if let Some(prev) = self.transit {
            let d = (transit.wrapping_sub(prev) as i32).unsigned_abs();
            // J += (|D| - J) / 16, kept times 16: J16 += |D| - round(J16 / 16).
            self.jitter_q4 = self
                .jitter_q4
                .saturating_add(d)
                .saturating_sub((self.jitter_q4 + 8) >> 4);
        }
        self.transit = Some(transit);
    }
}

/// The clock rates a stream's payload types run at, from SDP `a=rtpmap` plus RFC 3551's
/// static table. Small: a call offers a handful of formats.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClockRates {
    dynamic: Vec<(u8, u32)>,
    /// RFC 4733 telephone-event type: its timestamps stay fixed for a whole event, so it is
    /// left out of the jitter estimate.
    telephone_event: Option<u8>,
}

impl ClockRates {
    /// Static payload types only, no telephone-event.
    pub const fn empty() -> Self {
        Self {
            dynamic: Vec::new(),
            telephone_event: None,
        }
    }

    /// Rates for dynamic payload types (e.g. `(101, 8000)` for telephone-event/8000).
    pub fn new(dynamic: &[(u8, u32)], telephone_event: Option<u8>) -> Self {
        Self {
            dynamic: dynamic.to_vec(),
            telephone_event,
        }
    }

    /// The clock rate of `payload_type`: SDP first, then RFC 3551's static table.
    pub fn rate(&self, payload_type: u8) -> Option<u32> {
        self.dynamic
            .iter()
            .find(|(pt, _)| *pt == payload_type)
            .map(|(_, r)| *r)
            .or_else(|| crate::rtp::clock_rate_for_static_payload_type(payload_type))
    }

    fn is_event(&self, payload_type: u8) -> bool {
        self.telephone_event == Some(payload_type)
    }
}

/// Receive-side state of the RTP stream arriving on one leg.
#[derive(Debug, Clone)]
pub struct RtpStreamState {
    epoch: Option<Instant>,
    source: Option<Source>,
    /// Totals of sources that came before the current SSRC (a re-INVITE or transfer
    /// changes the sender), so call-end figures cover the whole call.
    prior_expected: u64,
    prior_lost: i64,
    packets: u64,
    bytes: u64,
    payload_bytes: u64,
    ssrc_changes: u32,
    /// Highest jitter so far, as (timestamp units, clock rate), converted only in `stats`.
    max_jitter: (u32, u32),
    last_payload_type: Option<u8>,
}

impl Default for RtpStreamState {
    fn default() -> Self {
        Self::new()
    }
}

impl RtpStreamState {
    /// No packets yet.
    pub fn new() -> Self {
        Self {
            epoch: None,
            source: None,
            prior_expected: 0,
            prior_lost: 0,
            packets: 0,
            bytes: 0,
            payload_bytes: 0,
            ssrc_changes: 0,
            max_jitter: (0, 0),
            last_payload_type: None,
        }
    }

    /// Accounts one RTP packet of `datagram_len` bytes that arrived at `now`.
    pub fn update(
        &mut self,
        packet: &RtpPacket<'_>,
        datagram_len: usize,
        now: Instant,
        rates: &ClockRates,
    ) {
        self.packets += 1;
        self.bytes += datagram_len as u64;
        self.payload_bytes += packet.payload().len() as u64;
        let pt = packet.payload_type();
        self.last_payload_type = Some(pt);
        let ssrc = packet.ssrc();
        let seq = packet.sequence();
        let source = match &mut self.source {
            Some(s) if s.ssrc == ssrc => s,
            slot => {
                if let Some(old) = slot.take() {
                    self.prior_expected += old.expected();
                    self.prior_lost += old.lost();
                    self.ssrc_changes += 1;
                }
                slot.insert(Source::new(ssrc, seq))
            }
        };
        if !source.update_seq(seq) || rates.is_event(pt) {
            return;
        }
        let Some(rate) = rates.rate(pt) else {
            return;
        };
        let epoch = *self.epoch.get_or_insert(now);
        let elapsed = now.saturating_duration_since(epoch);
        // Arrival time in timestamp units; only differences matter, so wrapping is fine.
        // u64 arithmetic (a u128 division costs more than the rest of the update); the
        // seconds part wraps as RTP timestamps do.
        let rate64 = u64::from(rate);
        let arrival = elapsed
            .as_secs()
            .wrapping_mul(rate64)
            .wrapping_add(u64::from(elapsed.subsec_nanos()) * rate64 / 1_000_000_000)
            as u32;
        source.update_jitter(arrival, packet.timestamp(), rate);
        let jitter = source.jitter_q4 >> 4;
        let (max, max_rate) = self.max_jitter;
        // Compare in time, cross-multiplied, to stay in integers.
        if u64::from(jitter) * u64::from(max_rate) > u64::from(max) * rate64 || max_rate == 0 {
            self.max_jitter = (jitter, rate);
        }
    }

    /// A snapshot of the figures.
    pub fn stats(&self) -> RtpStreamStats {
        let (expected, lost, jitter, rate, ssrc) = match &self.source {
            Some(s) => (
                s.expected(),
                s.lost(),
                s.jitter_q4 >> 4,
                s.clock_rate,
                Some(s.ssrc),
            ),
            None => (0, 0, 0, 0, None),
        };
        let expected = self.prior_expected + expected;
        let lost = self.prior_lost + lost;
        let jitter_ms = if rate > 0 {
            f64::from(jitter) * 1000.0 / f64::from(rate)
        } else {
            0.0
        };
        let loss_fraction = if expected > 0 {
            (lost.max(0) as f64 / expected as f64).min(1.0)
        } else {
            0.0
        };
        RtpStreamStats {
            ssrc,
            payload_type: self.last_payload_type,
            packets: self.packets,
            bytes: self.bytes,
            payload_bytes: self.payload_bytes,
            expected,
            lost,
            loss_fraction,
            jitter,
            clock_rate: rate,
            jitter_ms,
            max_jitter_ms: match self.max_jitter {
                (_, 0) => 0.0,
                (units, rate) => f64::from(units) * 1000.0 / f64::from(rate),
            },
            ssrc_changes: self.ssrc_changes,
            mos: estimate_mos(loss_fraction, jitter_ms),
        }
    }
}

/// Call-end figures for one received RTP stream.
#[derive(Debug, Clone, PartialEq)]
pub struct RtpStreamStats {
    /// The current sender's SSRC.
    pub ssrc: Option<u32>,
    /// Payload type of the last packet.
    pub payload_type: Option<u8>,
    /// RTP packets received from the latched source (including probation).
    pub packets: u64,
    /// UDP payload bytes of those packets (RTP header included).
    pub bytes: u64,
    /// RTP payload bytes (without RTP header and padding).
    pub payload_bytes: u64,
    /// Packets expected from sequence numbers (RFC 3550 A.3), summed over SSRCs.
    pub expected: u64,
    /// Expected minus received (RFC 3550 A.3); negative with duplicates.
    pub lost: i64,
    /// `lost / expected`, clamped to 0–1.
    pub loss_fraction: f64,
    /// Interarrival jitter in timestamp units (RFC 3550 §6.4.1), of the current source.
    pub jitter: u32,
    /// The clock rate `jitter` is in (0 when unknown).
    pub clock_rate: u32,
    /// `jitter` in milliseconds.
    pub jitter_ms: f64,
    /// Highest jitter seen during the call, in milliseconds.
    pub max_jitter_ms: f64,
    /// How often the SSRC changed.
    pub ssrc_changes: u32,
    /// Estimated listening MOS, see [`estimate_mos`].
    pub mos: f64,
}

/// Estimated MOS (1–4.5) for G.711 from packet loss and jitter: a simplified ITU-T G.107
/// E-model, as the relay sees neither one-way delay nor the phones' jitter buffers.
///
/// - Delay: the relay cannot measure one-way delay, so the effective latency is taken as
///   `2 × jitter + 10 ms` (a jitter buffer of twice the jitter plus packetisation), and
///   `Id = 0.024·d + 0.11·(d − 177.3)·H(d − 177.3)` (G.107 §7.3 simplified, Cole and
///   Rosenbluth 2001).
/// - Loss: `Ie_eff = Ie + (95 − Ie)·Ppl/(Ppl + Bpl)` with G.711's `Ie = 0` and `Bpl = 25.1`
///   (G.113 Appendix I, random loss with packet loss concealment), Ppl in percent.
/// - `R = 93.2 − Id − Ie_eff`, then `MOS = 1 + 0.035R + 7·10⁻⁶·R(R − 60)(100 − R)`
///   (G.107 Annex B), 1 below R = 0 and 4.5 above R = 100.
///
/// No loss and no jitter gives 4.41, G.711's usual ceiling.
pub fn estimate_mos(loss_fraction: f64, jitter_ms: f64) -> f64 {
    let d = 2.0 * jitter_ms.max(0.0) + 10.0;
    let id = 0.024 * d + if d > 177.3 { 0.11 * (d - 177.3) } else { 0.0 };
    let ppl = loss_fraction.clamp(0.0, 1.0) * 100.0;
    let ie_eff = 95.0 * ppl / (ppl + 25.1);
    let r = 93.2 - id - ie_eff;
    if r <= 0.0 {
        1.0
    } else if r >= 100.0 {
        4.5
    } else {
        1.0 + 0.035 * r + 7e-6 * r * (r - 60.0) * (100.0 - r)
    }
}

/// Counters for the RTCP arriving on one leg, plus the last report the peer sent about the
/// stream it receives (RFC 3550 §6.4: its own view of loss and jitter).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RtcpStats {
    /// RTCP compound packets received from the latched source.
    pub packets: u64,
    /// Their bytes.
    pub bytes: u64,
    /// RTCP packets that failed validation (dropped).
    pub invalid: u64,
    /// BYE packets seen.
    pub byes: u64,
    /// The last report block the peer sent, if any.
    pub last_report: Option<crate::rtp::ReportBlock>,
}

/// Converts a duration in the given clock to milliseconds; used by callers that read
/// [`RtpStreamStats::jitter`] from an RTCP report.
pub fn timestamp_units_to_duration(units: u32, clock_rate: u32) -> Duration {
    if clock_rate == 0 {
        return Duration::ZERO;
    }
    Duration::from_nanos(u64::from(units) * 1_000_000_000 / u64::from(clock_rate))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::rtp::RtpBuilder;

    fn pkt(seq: u16, ts: u32, ssrc: u32) -> Vec<u8> {
        let mut out = Vec::new();
        RtpBuilder::new(0)
            .unwrap()
            .sequence(seq)
            .timestamp(ts)
            .ssrc(ssrc)
            .write_into(&[0xFF; 160], &mut out)
            .unwrap();
        out
    }

    fn feed(s: &mut RtpStreamState, seqs: &[u16], t0: Instant, jitter_ms: &[u64]) {
        let rates = ClockRates::default();
        for (i, &seq) in seqs.iter().enumerate() {
            let ts = u32::from(seq).wrapping_mul(160);
            let extra = jitter_ms.get(i).copied().unwrap_or(0);
            let at = t0 + Duration::from_millis(u64::from(seq) * 20 + extra);
            let b = pkt(seq, ts, 7);
            s.update(&RtpPacket::parse(&b).unwrap(), b.len(), at, &rates);
        }
    }

    #[test]
    fn no_loss_no_jitter_on_a_perfect_stream() {
        let mut s = RtpStreamState::new();
        let seqs: Vec<u16> = (0..100).collect();
        feed(&mut s, &seqs, Instant::now(), &[]);
        let st = s.stats();
        assert_eq!(st.packets, 100);
        assert_eq!(st.bytes, 100 * 172);
        assert_eq!(st.payload_bytes, 100 * 160);
        // Probation swallows the first packet: A.1 counts from the second.
        assert_eq!(st.expected, 99);
        assert_eq!(st.lost, 0);
        assert_eq!(st.jitter, 0);
        assert!((st.mos - 4.41).abs() < 0.02, "{}", st.mos);
    }

    #[test]
    fn skipped_sequence_numbers_are_lost() {
        let mut s = RtpStreamState::new();
        let seqs: Vec<u16> = (0..100).filter(|n| n % 10 != 5).collect();
        feed(&mut s, &seqs, Instant::now(), &[]);
        let st = s.stats();
        assert_eq!(st.lost, 10);
        assert!((st.loss_fraction - 10.0 / 99.0).abs() < 1e-9);
        assert!(st.mos < 3.6, "{}", st.mos);
    }

    #[test]
    fn sequence_wrap_counts_a_cycle_not_a_loss() {
        let mut s = RtpStreamState::new();
        let seqs: Vec<u16> = (65500u32..65700).map(|n| (n % 65536) as u16).collect();
        let t0 = Instant::now();
        let rates = ClockRates::default();
        for (i, &seq) in seqs.iter().enumerate() {
            let b = pkt(seq, i as u32 * 160, 7);
            let at = t0 + Duration::from_millis(i as u64 * 20);
            s.update(&RtpPacket::parse(&b).unwrap(), b.len(), at, &rates);
        }
        let st = s.stats();
        assert_eq!(st.lost, 0);
        assert_eq!(st.expected, 199);
    }

    #[test]
    fn duplicates_make_loss_negative_as_rfc_3550_says() {
        let mut s = RtpStreamState::new();
        feed(&mut s, &[0, 1, 2, 3, 3, 4], Instant::now(), &[]);
        assert_eq!(s.stats().lost, -1);
    }

    #[test]
    fn alternating_delay_gives_jitter_in_timestamp_units() {
        let mut s = RtpStreamState::new();
        let seqs: Vec<u16> = (0..400).collect();
        // Every other packet 10 ms late: |D| = 80 timestamp units each time, so J tends
        // to 80.
        let delays: Vec<u64> = (0..400).map(|i| if i % 2 == 1 { 10 } else { 0 }).collect();
        let t0 = Instant::now();
        feed(&mut s, &seqs, t0, &delays);
        let st = s.stats();
        assert!((75..=80).contains(&st.jitter), "{}", st.jitter);
        assert_eq!(st.clock_rate, 8000);
        assert!((st.jitter_ms - 10.0).abs() < 1.0);
        assert!(st.max_jitter_ms >= st.jitter_ms);
        // A calm stretch lowers the current jitter but not the maximum.
        let calm: Vec<u16> = (400..800).collect();
        feed(&mut s, &calm, t0, &[]);
        let st = s.stats();
        assert!(st.jitter < 10, "{}", st.jitter);
        assert!(st.max_jitter_ms > 9.0, "{}", st.max_jitter_ms);
    }

    #[test]
    fn large_jump_is_a_restart_only_when_confirmed() {
        let mut s = RtpStreamState::new();
        feed(&mut s, &[0, 1, 2, 3, 30000], Instant::now(), &[]);
        // The lone jump is not counted.
        assert_eq!(s.stats().expected, 3);
        feed(&mut s, &[30001, 30002], Instant::now(), &[]);
        let st = s.stats();
        assert_eq!(st.lost, 0);
    }

    #[test]
    fn ssrc_change_keeps_earlier_totals() {
        let mut s = RtpStreamState::new();
        let rates = ClockRates::default();
        let t0 = Instant::now();
        for (seq, ssrc) in [(0, 1), (1, 1), (3, 1), (100, 2), (101, 2), (102, 2)] {
            let b = pkt(seq, u32::from(seq) * 160, ssrc);
            s.update(&RtpPacket::parse(&b).unwrap(), b.len(), t0, &rates);
        }
        let st = s.stats();
        assert_eq!(st.ssrc_changes, 1);
        assert_eq!(st.lost, 1);
        assert_eq!(st.ssrc, Some(2));
    }

    #[test]
    fn mos_falls_with_loss_and_jitter() {
        assert!(estimate_mos(0.0, 0.0) > 4.3);
        assert!(estimate_mos(0.05, 0.0) < estimate_mos(0.01, 0.0));
        assert!(estimate_mos(0.0, 200.0) < estimate_mos(0.0, 20.0));
        assert_eq!(estimate_mos(1.0, 1000.0), 1.0);
    }
}
