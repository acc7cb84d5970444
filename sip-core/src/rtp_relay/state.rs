//! The per-session forwarding logic, sans-IO: [`SessionState::on_datagram`] takes one
//! datagram with its source and arrival time and says where it goes. No sockets, no clock;
//! the I/O shell in `io.rs` owns those.
//!
//! # Symmetric RTP latching
//!
//! A phone behind NAT sends from another address and port than its SDP says, so the SDP
//! address is only the first guess of where to send. Each leg keeps one latch for its RTP
//! socket and one for its RTCP socket:
//!
//! - **Unlatched**: the first valid packet (RTP that parses, or RTCP that validates) on the
//!   socket latches its source, subject to [`LatchPolicy`]. Until then media to the leg goes
//!   to the SDP address.
//! - **Latched**: packets from any other source are dropped and counted
//!   ([`DropCounters::foreign_source`]); media to the leg goes to the latched source.
//! - **Re-latch** happens only (a) when the latched source has been silent for
//!   [`LatchConfig::relatch_after`] and another source sends (the phone's NAT binding
//!   changed, or the phone moved), or (b) when the PBX sets a new remote address from a
//!   re-INVITE ([`SessionState::set_remote`]), which unlatches the leg, or when the PBX
//!   unlatches it explicitly ([`SessionState::unlatch`]) after a re-INVITE or transfer
//!   that keeps the address but changes the sender.
//!
//! Security trade-off: latching on the first packet lets whoever reaches the port first take
//! the stream, and re-latching after silence lets a source that keeps sending during a
//! pause (hold, silence suppression) take it then; the "RTP Bleed" attacks on Asterisk and
//! rtpengine were of this kind. Ports are random within the range, valid RTP is required,
//! a latched source is never replaced while it is sending, and [`LatchPolicy::SameIpAsSdp`]
//! pins the source IP to the SDP's where phones are not behind NAT (an internal network).
//! A changed SSRC alone never moves the latch: an attacker chooses any SSRC.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::rtp::{PacketKind, RtcpCompound, RtpPacket, classify};

use super::stream::{ClockRates, RtcpStats, RtpStreamState, RtpStreamStats};

/// One of a session's two legs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LegId {
    /// The first leg (by convention the caller's).
    A,
    /// The second leg.
    B,
}

impl LegId {
    /// The other leg.
    pub fn other(self) -> LegId {
        match self {
            LegId::A => LegId::B,
            LegId::B => LegId::A,
        }
    }

    fn index(self) -> usize {
        match self {
            LegId::A => 0,
            LegId::B => 1,
        }
    }
}

/// Which of a leg's two local sockets a datagram came in on or goes out of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    /// The even RTP port (also carries RTCP when the peer multiplexes, RFC 5761).
    Rtp,
    /// The odd RTCP port.
    Rtcp,
}

/// Whom a leg accepts the first packet from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LatchPolicy {
    /// Any source (phones behind NAT): the default.
    #[default]
    AnySource,
    /// Only sources with the SDP's IP address (any port); with no SDP address yet, any.
    SameIpAsSdp,
}

/// Latching rules, the same for every leg of a relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LatchConfig {
    /// Whom to latch.
    pub policy: LatchPolicy,
    /// Silence of the latched source after which another source may take over.
    pub relatch_after: Duration,
}

impl Default for LatchConfig {
    fn default() -> Self {
        Self {
            policy: LatchPolicy::AnySource,
            relatch_after: Duration::from_secs(2),
        }
    }
}

/// Where a leg's peer said (in SDP) it receives media.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteMedia {
    /// The `c=` address and `m=` port.
    pub rtp: SocketAddr,
    /// The RTCP address: `a=rtcp` (RFC 3605) if given, else `rtp` port + 1 (RFC 3550 §11).
    pub rtcp: SocketAddr,
    /// Dynamic payload types' clock rates from `a=rtpmap`, and the telephone-event type.
    pub clock_rates: ClockRates,
}

impl RemoteMedia {
    /// RTP at `rtp`, RTCP on the next port, static payload types only.
    pub fn new(rtp: SocketAddr) -> Self {
        let mut rtcp = rtp;
        rtcp.set_port(rtp.port().wrapping_add(1));
        Self {
            rtp,
            rtcp,
            clock_rates: ClockRates::default(),
        }
    }
}

/// Why a datagram was not forwarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// Not RTP/RTCP (STUN, garbage) or failed validation.
    Invalid,
    /// From a source other than the latched one.
    ForeignSource,
    /// The direction is on hold.
    OnHold,
    /// The other leg has neither a latched source nor an SDP address yet.
    NoDestination,
}

/// What to do with one datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Send it unchanged out of leg `leg`'s `channel` socket to `to`.
    Forward {
        /// The leg whose socket sends.
        leg: LegId,
        /// Which of its sockets.
        channel: Channel,
        /// The destination.
        to: SocketAddr,
    },
    /// Drop it.
    Drop(DropReason),
}

/// Datagrams a leg dropped, by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DropCounters {
    /// Not RTP/RTCP, or malformed.
    pub invalid: u64,
    /// From a source other than the latched one.
    pub foreign_source: u64,
    /// Counted but not forwarded because of hold.
    pub on_hold: u64,
    /// Nowhere to send yet.
    pub no_destination: u64,
}

#[derive(Debug, Clone, Copy)]
struct Latch {
    addr: SocketAddr,
    last_seen: Instant,
}

#[derive(Debug, Clone, Default)]
struct LegState {
    remote: Option<RemoteMedia>,
    rtp_latch: Option<Latch>,
    rtcp_latch: Option<Latch>,
    relatches: u32,
    rx_rtp: RtpStreamState,
    rx_rtcp: RtcpStats,
    /// Packets and bytes sent to this leg's peer.
    tx_packets: u64,
    tx_bytes: u64,
    drops: DropCounters,
}

/// Figures for one leg, read at any time and at call end.
#[derive(Debug, Clone, PartialEq)]
pub struct LegStats {
    /// The RTP stream received from this leg's peer.
    pub rtp: RtpStreamStats,
    /// The RTCP received from this leg's peer.
    pub rtcp: RtcpStats,
    /// Datagrams (RTP and RTCP) sent to this leg's peer.
    pub sent_packets: u64,
    /// Their bytes.
    pub sent_bytes: u64,
    /// Dropped datagrams from this leg's side.
    pub dropped: DropCounters,
    /// The latched RTP source, if any.
    pub latched_rtp: Option<SocketAddr>,
    /// The latched RTCP source, if any.
    pub latched_rtcp: Option<SocketAddr>,
    /// How often a latch moved to a new source after silence.
    pub relatches: u32,
}

/// Figures for both legs.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionStats {
    /// Leg A.
    pub a: LegStats,
    /// Leg B.
    pub b: LegStats,
}

/// The two legs of one media session and the forwarding rules between them.
#[derive(Debug, Clone)]
pub struct SessionState {
    legs: [LegState; 2],
    /// Indexed by source leg: whether media from it is forwarded to the other leg.
    forwarding: [bool; 2],
    latch: LatchConfig,
}

impl SessionState {
    /// A session with no remotes known yet, forwarding both ways.
    pub fn new(latch: LatchConfig) -> Self {
        Self {
            legs: [LegState::default(), LegState::default()],
            forwarding: [true, true],
            latch,
        }
    }

    fn leg(&self, id: LegId) -> &LegState {
        match id {
            LegId::A => &self.legs[0],
            LegId::B => &self.legs[1],
        }
    }

    fn leg_mut(&mut self, id: LegId) -> &mut LegState {
        match id {
            LegId::A => &mut self.legs[0],
            LegId::B => &mut self.legs[1],
        }
    }

    /// Sets where leg `id`'s peer receives (from its SDP). A changed RTP or RTCP address
    /// (a re-INVITE) unlatches the leg so it learns the new source.
    pub fn set_remote(&mut self, id: LegId, remote: RemoteMedia) {
        let leg = self.leg_mut(id);
        let moved = leg
            .remote
            .as_ref()
            .is_none_or(|old| old.rtp != remote.rtp || old.rtcp != remote.rtcp);
        if moved && leg.remote.is_some() {
            leg.rtp_latch = None;
            leg.rtcp_latch = None;
        }
        leg.remote = Some(remote);
    }

    /// Forgets leg `id`'s latched sources, so the next valid packet latches again. For the
    /// PBX after a re-INVITE or transfer that changes the sender but not the SDP address
    /// (otherwise [`SessionState::set_remote`] already does this).
    pub fn unlatch(&mut self, id: LegId) {
        let leg = self.leg_mut(id);
        leg.rtp_latch = None;
        leg.rtcp_latch = None;
    }

    /// Starts or stops forwarding media that comes from leg `from` (hold: RFC 3264 §8.4
    /// `sendonly`/`inactive`). Packets are still counted while held.
    pub fn set_forwarding(&mut self, from: LegId, enabled: bool) {
        if let Some(f) = self.forwarding.get_mut(from.index()) {
            *f = enabled;
        }
    }

    /// Whether media from leg `from` is forwarded.
    pub fn is_forwarding(&self, from: LegId) -> bool {
        self.forwarding.get(from.index()).copied().unwrap_or(false)
    }

    /// Decides the fate of one datagram that arrived on leg `leg`'s `channel` socket from
    /// `src` at `now`, updating latches and counters.
    pub fn on_datagram(
        &mut self,
        leg: LegId,
        channel: Channel,
        src: SocketAddr,
        datagram: &[u8],
        now: Instant,
    ) -> Verdict {
        let kind = classify(datagram);
        // RTCP multiplexed on the RTP port (RFC 5761) latches and travels with RTP.
        let out_channel = match (channel, kind) {
            (_, PacketKind::Other) | (Channel::Rtcp, PacketKind::Rtp) => {
                self.leg_mut(leg).drops.invalid += 1;
                return Verdict::Drop(DropReason::Invalid);
            }
            (c, _) => c,
        };
        let latch_config = self.latch;
        let state = self.leg_mut(leg);
        match kind {
            PacketKind::Rtp => {
                let Ok(packet) = RtpPacket::parse(datagram) else {
                    state.drops.invalid += 1;
                    return Verdict::Drop(DropReason::Invalid);
                };
                if !latch_source(state, out_channel, src, now, &latch_config) {
                    state.drops.foreign_source += 1;
                    return Verdict::Drop(DropReason::ForeignSource);
                }
                let rates = state
                    .remote
                    .as_ref()
                    .map(|r| &r.clock_rates)
                    .unwrap_or(&DEFAULT_RATES);
                state.rx_rtp.update(&packet, datagram.len(), now, rates);
            }
            PacketKind::Rtcp => {
                let Ok(compound) = RtcpCompound::parse(datagram) else {
                    state.rx_rtcp.invalid += 1;
                    state.drops.invalid += 1;
                    return Verdict::Drop(DropReason::Invalid);
                };
                if !latch_source(state, out_channel, src, now, &latch_config) {
                    state.drops.foreign_source += 1;
                    return Verdict::Drop(DropReason::ForeignSource);
                }
                state.rx_rtcp.packets += 1;
                state.rx_rtcp.bytes += datagram.len() as u64;
                for p in compound.packets() {
                    if matches!(p, crate::rtp::RtcpPacket::Bye(_)) {
                        state.rx_rtcp.byes += 1;
                    }
                }
                if let Some(block) = compound.report_blocks().last() {
                    state.rx_rtcp.last_report = Some(block);
                }
            }
            PacketKind::Other => {}
        }
        if !self.is_forwarding(leg) {
            self.leg_mut(leg).drops.on_hold += 1;
            return Verdict::Drop(DropReason::OnHold);
        }
        let to_leg = leg.other();
        let peer = self.leg(to_leg);
        let to = match out_channel {
            Channel::Rtp => peer
                .rtp_latch
                .map(|l| l.addr)
                .or(peer.remote.as_ref().map(|r| r.rtp)),
            Channel::Rtcp => peer
                .rtcp_latch
                .map(|l| l.addr)
                .or(peer.remote.as_ref().map(|r| r.rtcp)),
        };
        let Some(to) = to else {
            self.leg_mut(leg).drops.no_destination += 1;
            return Verdict::Drop(DropReason::NoDestination);
        };
        let peer = self.leg_mut(to_leg);
        peer.tx_packets += 1;
        peer.tx_bytes += datagram.len() as u64;
        Verdict::Forward {
            leg: to_leg,
            channel: out_channel,
            to,
        }
    }

    /// A snapshot of both legs' figures.
    pub fn stats(&self) -> SessionStats {
        SessionStats {
            a: leg_stats(self.leg(LegId::A)),
            b: leg_stats(self.leg(LegId::B)),
        }
    }
}

static DEFAULT_RATES: ClockRates = ClockRates::empty();

/// Applies the latching rules of the module docs; returns whether `src` may send.
fn latch_source(
    leg: &mut LegState,
    channel: Channel,
    src: SocketAddr,
    now: Instant,
    config: &LatchConfig,
) -> bool {
    let allowed_ip = match (config.policy, &leg.remote) {
        (LatchPolicy::SameIpAsSdp, Some(r)) => r.rtp.ip() == src.ip(),
        _ => true,
    };
    let slot = match channel {
        Channel::Rtp => &mut leg.rtp_latch,
        Channel::Rtcp => &mut leg.rtcp_latch,
    };
    match slot {
        Some(l) if l.addr == src => {
            l.last_seen = now;
            true
        }
        Some(l) => {
            if !allowed_ip || now.saturating_duration_since(l.last_seen) < config.relatch_after {
                return false;
            }
            tracing::debug!(old = %l.addr, new = %src, ?channel, "RTP source re-latched after silence");
            *l = Latch {
                addr: src,
                last_seen: now,
            };
            leg.relatches += 1;
            true
        }
        None => {
            if !allowed_ip {
                return false;
            }
            *slot = Some(Latch {
                addr: src,
                last_seen: now,
            });
            true
        }
    }
}

fn leg_stats(leg: &LegState) -> LegStats {
    LegStats {
        rtp: leg.rx_rtp.stats(),
        rtcp: leg.rx_rtcp.clone(),
        sent_packets: leg.tx_packets,
        sent_bytes: leg.tx_bytes,
        dropped: leg.drops,
        latched_rtp: leg.rtp_latch.map(|l| l.addr),
        latched_rtcp: leg.rtcp_latch.map(|l| l.addr),
        relatches: leg.relatches,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::rtp::RtpBuilder;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn rtp(seq: u16) -> Vec<u8> {
        let mut out = Vec::new();
        RtpBuilder::new(8)
            .unwrap()
            .sequence(seq)
            .timestamp(u32::from(seq) * 160)
            .ssrc(99)
            .write_into(&[0xD5; 160], &mut out)
            .unwrap();
        out
    }

    fn rr() -> Vec<u8> {
        vec![0x80, 201, 0, 1, 0, 0, 0, 99]
    }

    fn session() -> SessionState {
        let mut s = SessionState::new(LatchConfig::default());
        s.set_remote(LegId::A, RemoteMedia::new(addr("192.0.2.10:4000")));
        s.set_remote(LegId::B, RemoteMedia::new(addr("198.51.100.20:5000")));
        s
    }

    #[test]
    fn sdp_address_until_latched_then_the_real_source() {
        let mut s = session();
        let t = Instant::now();
        // A sends before B has sent anything: B's SDP address is the destination.
        let v = s.on_datagram(
            LegId::A,
            Channel::Rtp,
            addr("203.0.113.1:31000"),
            &rtp(1),
            t,
        );
        assert_eq!(
            v,
            Verdict::Forward {
                leg: LegId::B,
                channel: Channel::Rtp,
                to: addr("198.51.100.20:5000")
            }
        );
        // B sends from behind NAT; A's media now goes to the latched address.
        s.on_datagram(
            LegId::B,
            Channel::Rtp,
            addr("203.0.113.2:41000"),
            &rtp(1),
            t,
        );
        let v = s.on_datagram(
            LegId::A,
            Channel::Rtp,
            addr("203.0.113.1:31000"),
            &rtp(2),
            t,
        );
        assert_eq!(
            v,
            Verdict::Forward {
                leg: LegId::B,
                channel: Channel::Rtp,
                to: addr("203.0.113.2:41000")
            }
        );
        assert_eq!(s.stats().b.latched_rtp, Some(addr("203.0.113.2:41000")));
    }

    #[test]
    fn foreign_source_dropped_until_silence_then_relatched() {
        let mut s = session();
        let t = Instant::now();
        let real = addr("203.0.113.1:31000");
        let other = addr("203.0.113.66:9999");
        s.on_datagram(LegId::A, Channel::Rtp, real, &rtp(1), t);
        let v = s.on_datagram(
            LegId::A,
            Channel::Rtp,
            other,
            &rtp(2),
            t + Duration::from_millis(500),
        );
        assert_eq!(v, Verdict::Drop(DropReason::ForeignSource));
        let later = t + Duration::from_millis(2500);
        let v = s.on_datagram(LegId::A, Channel::Rtp, other, &rtp(3), later);
        assert!(matches!(v, Verdict::Forward { .. }));
        let st = s.stats().a;
        assert_eq!(st.latched_rtp, Some(other));
        assert_eq!(st.relatches, 1);
        assert_eq!(st.dropped.foreign_source, 1);
    }

    #[test]
    fn same_ip_policy_refuses_other_ips() {
        let mut s = SessionState::new(LatchConfig {
            policy: LatchPolicy::SameIpAsSdp,
            ..LatchConfig::default()
        });
        s.set_remote(LegId::A, RemoteMedia::new(addr("192.0.2.10:4000")));
        s.set_remote(LegId::B, RemoteMedia::new(addr("198.51.100.20:5000")));
        let t = Instant::now();
        let v = s.on_datagram(LegId::A, Channel::Rtp, addr("192.0.2.99:4000"), &rtp(1), t);
        assert_eq!(v, Verdict::Drop(DropReason::ForeignSource));
        let v = s.on_datagram(LegId::A, Channel::Rtp, addr("192.0.2.10:4002"), &rtp(1), t);
        assert!(matches!(v, Verdict::Forward { .. }));
    }

    #[test]
    fn reinvite_with_new_address_unlatches() {
        let mut s = session();
        let t = Instant::now();
        s.on_datagram(
            LegId::A,
            Channel::Rtp,
            addr("203.0.113.1:31000"),
            &rtp(1),
            t,
        );
        s.set_remote(LegId::A, RemoteMedia::new(addr("192.0.2.10:4000")));
        assert!(
            s.stats().a.latched_rtp.is_some(),
            "same SDP keeps the latch"
        );
        s.set_remote(LegId::A, RemoteMedia::new(addr("192.0.2.11:4100")));
        assert_eq!(s.stats().a.latched_rtp, None);
        s.on_datagram(LegId::A, Channel::Rtp, addr("203.0.113.5:1000"), &rtp(2), t);
        assert_eq!(s.stats().a.latched_rtp, Some(addr("203.0.113.5:1000")));
        s.unlatch(LegId::A);
        assert_eq!(s.stats().a.latched_rtp, None, "explicit unlatch");
        let v = s.on_datagram(LegId::A, Channel::Rtp, addr("203.0.113.7:1000"), &rtp(2), t);
        assert!(matches!(v, Verdict::Forward { .. }));
    }

    #[test]
    fn rtcp_on_both_ports_and_rtp_on_rtcp_port_refused() {
        let mut s = session();
        let t = Instant::now();
        let v = s.on_datagram(LegId::A, Channel::Rtcp, addr("203.0.113.1:31001"), &rr(), t);
        assert_eq!(
            v,
            Verdict::Forward {
                leg: LegId::B,
                channel: Channel::Rtcp,
                to: addr("198.51.100.20:5001")
            }
        );
        // rtcp-mux: RTCP on the RTP port goes out of the other leg's RTP port.
        let v = s.on_datagram(LegId::A, Channel::Rtp, addr("203.0.113.1:31000"), &rr(), t);
        assert!(matches!(
            v,
            Verdict::Forward {
                channel: Channel::Rtp,
                ..
            }
        ));
        let v = s.on_datagram(
            LegId::A,
            Channel::Rtcp,
            addr("203.0.113.1:31001"),
            &rtp(1),
            t,
        );
        assert_eq!(v, Verdict::Drop(DropReason::Invalid));
        assert_eq!(s.stats().a.rtcp.packets, 2);
    }

    #[test]
    fn hold_counts_but_does_not_forward() {
        let mut s = session();
        let t = Instant::now();
        s.set_forwarding(LegId::A, false);
        let v = s.on_datagram(
            LegId::A,
            Channel::Rtp,
            addr("203.0.113.1:31000"),
            &rtp(1),
            t,
        );
        assert_eq!(v, Verdict::Drop(DropReason::OnHold));
        let v = s.on_datagram(
            LegId::B,
            Channel::Rtp,
            addr("203.0.113.2:31000"),
            &rtp(1),
            t,
        );
        assert!(matches!(v, Verdict::Forward { .. }));
        s.set_forwarding(LegId::A, true);
        let v = s.on_datagram(
            LegId::A,
            Channel::Rtp,
            addr("203.0.113.1:31000"),
            &rtp(2),
            t,
        );
        assert!(matches!(v, Verdict::Forward { .. }));
        let st = s.stats();
        assert_eq!(st.a.rtp.packets, 2);
        assert_eq!(st.a.dropped.on_hold, 1);
        assert_eq!(st.b.sent_packets, 1);
    }

    #[test]
    fn garbage_and_no_destination() {
        let mut s = SessionState::new(LatchConfig::default());
        let t = Instant::now();
        let v = s.on_datagram(
            LegId::A,
            Channel::Rtp,
            addr("203.0.113.1:1"),
            &[0, 1, 0, 0],
            t,
        );
        assert_eq!(v, Verdict::Drop(DropReason::Invalid));
        let v = s.on_datagram(LegId::A, Channel::Rtp, addr("203.0.113.1:1"), &rtp(1), t);
        assert_eq!(v, Verdict::Drop(DropReason::NoDestination));
        // Truncated RTP (CSRC count says 15, nothing follows).
        let mut bad = rtp(2);
        bad.truncate(12);
        bad[0] |= 0x0F;
        let v = s.on_datagram(LegId::A, Channel::Rtp, addr("203.0.113.1:1"), &bad, t);
        assert_eq!(v, Verdict::Drop(DropReason::Invalid));
    }
}
