//! The media side of a call: one relay session, each leg's SDP pointed at the relay, and
//! what each side's SDP tells the relay (where to send, hold).
//!
//! The relay has one RTP/RTCP port pair per leg, so the first active audio stream is
//! relayed and any other stream (video, a second audio) is declined with port 0 on the
//! way through (RFC 3264 §6: the answerer then rejects it too).

use sip_core::rtp_relay::{ClockRates, LegId, MediaSession, RemoteMedia, RtpRelay};
use sip_core::sdp::{Direction, OriginKeeper, SessionDescription};
use std::net::{IpAddr, SocketAddr};

/// A call's relay session and the `o=` keepers of both legs.
#[derive(Debug)]
pub(crate) struct CallMedia {
    pub(crate) session: MediaSession,
    keepers: [OriginKeeper; 2],
    /// The address to advertise when the relay is bound to the unspecified address.
    advertise: Option<IpAddr>,
    /// The last valid SDP each leg's peer sent, so a transfer can offer the transferee's
    /// media to a new party without asking the transferee again.
    last_sdp: [Option<Vec<u8>>; 2],
    /// Whether the last SDP relayed to each leg's peer asked it not to send (the other
    /// side held the call): after a transfer that peer must be told to resume.
    held_by_other: [bool; 2],
}

fn idx(leg: LegId) -> usize {
    match leg {
        LegId::A => 0,
        LegId::B => 1,
    }
}

impl CallMedia {
    pub(crate) fn open(
        relay: &RtpRelay,
        advertise: Option<IpAddr>,
    ) -> Result<CallMedia, sip_core::rtp_relay::RelayError> {
        let session = relay.create_session()?;
        let sid = format!("{}", rand::random::<u32>());
        Ok(CallMedia {
            session,
            keepers: [
                OriginKeeper::new("sentral", sid.clone(), 1),
                OriginKeeper::new("sentral", format!("{}", rand::random::<u32>()), 1),
            ],
            advertise,
            last_sdp: [None, None],
            held_by_other: [false, false],
        })
    }

    /// The relay address leg `leg`'s peer must send to.
    pub(crate) fn local(&self, leg: LegId) -> SocketAddr {
        let mut a = self.session.local_rtp(leg);
        if a.ip().is_unspecified()
            && let Some(ip) = self.advertise
        {
            a.set_ip(ip);
        }
        a
    }

    /// Takes SDP that arrived from leg `from` and returns the body to send to the other
    /// leg: addresses rewritten to the relay's socket for that leg, `o=` from that leg's
    /// keeper. Also tells the relay where `from`'s peer receives and whether it holds
    /// the call (RFC 3264 §8.4: `sendonly`/`inactive`/`c=0.0.0.0` means it wants nothing
    /// from the other side, so the relay stops forwarding towards it).
    /// `None` when the body is not valid SDP.
    pub(crate) fn relay_sdp(&mut self, from: LegId, body: &[u8]) -> Option<Vec<u8>> {
        let sd = match SessionDescription::parse(body) {
            Ok(sd) => sd,
            Err(e) => {
                tracing::debug!(error = %e, "unparseable SDP");
                return None;
            }
        };
        if let Some(slot) = self.last_sdp.get_mut(idx(from)) {
            *slot = Some(body.to_vec());
        }
        let relayed = relayed_stream(&sd);
        if let Some(i) = relayed {
            if let Some(remote) = remote_media(&sd, i) {
                self.session.set_remote(from, remote);
            }
            // `from` putting the call on hold stops media going to it; resuming restarts.
            let held = sd.is_held(i);
            self.session.set_forwarding(from.other(), !held);
            // The same direction goes on to the other leg: `sendonly` tells it to listen.
            if let Some(h) = self.held_by_other.get_mut(idx(from.other())) {
                *h = held;
            }
        }
        let to = from.other();
        let local = self.local(to);
        let mut out = sd;
        let ports: Vec<u16> = (0..out.media.len())
            .map(|i| if Some(i) == relayed { local.port() } else { 0 })
            .collect();
        if out.rewrite_connection(local.ip(), &ports).is_err() {
            return None;
        }
        self.keepers[idx(to)].stamp(&mut out);
        Some(out.to_bytes())
    }
}

impl CallMedia {
    /// A new offer for whoever takes over leg `from.other()` (a transfer), or to resume
    /// `from.other()` after one: the last SDP leg `from`'s peer sent, pointed at the
    /// relay's socket for the other leg, with the relayed stream `sendrecv` (a transfer
    /// starts a conversation; a hold belonged to the party that left). The peer on
    /// `from` keeps its relay port (RFC 3264 §8: its session did not change). `None` when
    /// that leg never sent SDP.
    pub(crate) fn offer_from(&mut self, from: LegId) -> Option<Vec<u8>> {
        let last = self.last_sdp.get(idx(from)).cloned().flatten()?;
        let mut sd = SessionDescription::parse(&last).ok()?;
        if let Some(i) = relayed_stream(&sd)
            && let Some(m) = sd.media.get_mut(i)
        {
            m.set_direction(Direction::SendRecv);
        }
        self.relay_sdp(from, &sd.to_bytes())
    }

    /// The last SDP leg `leg`'s peer sent (handed to another call with the peer).
    pub(crate) fn last_sdp(&self, leg: LegId) -> Option<Vec<u8>> {
        self.last_sdp.get(idx(leg)).cloned().flatten()
    }

    /// Whether leg `leg`'s peer was last told not to send (held by the other side).
    pub(crate) fn held_by_other(&self, leg: LegId) -> bool {
        self.held_by_other.get(idx(leg)).copied().unwrap_or(false)
    }

    /// Takes a peer from another call: its SDP becomes leg `leg`'s last SDP (so an offer
    /// can be built for it) and the relay forgets the previous peer's source.
    pub(crate) fn adopt(&mut self, leg: LegId, sdp: Option<Vec<u8>>) {
        if let Some(slot) = self.last_sdp.get_mut(idx(leg)) {
            *slot = sdp;
        }
        self.session.unlatch(leg);
    }
}

/// The stream the relay carries: the first audio m-line with a port.
fn relayed_stream(sd: &SessionDescription) -> Option<usize> {
    sd.media
        .iter()
        .position(|m| m.media.eq_ignore_ascii_case("audio") && m.port != 0)
}

/// Where the sender of `sd` receives stream `i`, for the relay's first latching guess.
fn remote_media(sd: &SessionDescription, i: usize) -> Option<RemoteMedia> {
    let m = sd.media.get(i)?;
    let ip = sd.connection_for(i)?.ip()?;
    if ip.is_unspecified() {
        // The RFC 2543 hold form says nothing about where media goes.
        return None;
    }
    let mut remote = RemoteMedia::new(SocketAddr::new(ip, m.port));
    if m.rtcp_mux() {
        remote.rtcp = remote.rtp;
    } else if let Some(r) = m.rtcp() {
        let rip = r.connection.as_ref().and_then(|c| c.ip()).unwrap_or(ip);
        remote.rtcp = SocketAddr::new(rip, r.port);
    }
    let dynamic: Vec<(u8, u32)> = m
        .rtpmaps()
        .filter(|r| r.payload_type >= 96)
        .map(|r| (r.payload_type, r.clock_rate))
        .collect();
    let te = m
        .rtpmaps()
        .find(|r| r.encoding.eq_ignore_ascii_case("telephone-event"))
        .map(|r| r.payload_type);
    remote.clock_rates = ClockRates::new(&dynamic, te);
    Some(remote)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sip_core::rtp_relay::RelayConfig;

    fn relay() -> RtpRelay {
        RtpRelay::new(RelayConfig {
            bind: "127.0.0.1".parse().expect("ip"),
            port_min: 41000,
            port_max: 41999,
            ..RelayConfig::default()
        })
        .expect("relay")
    }

    fn offer(direction: &str) -> Vec<u8> {
        format!(
            "v=0\r\no=phone 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n\
             m=audio 4000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\na={direction}\r\n\
             m=video 5000 RTP/AVP 96\r\na=rtpmap:96 VP8/90000\r\n"
        )
        .into_bytes()
    }

    #[test]
    fn offer_is_pointed_at_the_other_legs_relay_port_and_extra_streams_declined() {
        let relay = relay();
        let mut m = CallMedia::open(&relay, None).expect("session");
        let out = m.relay_sdp(LegId::A, &offer("sendrecv")).expect("sdp");
        let sd = SessionDescription::parse(&out).expect("valid");
        let b = m.local(LegId::B);
        assert_eq!(sd.connection_for(0).and_then(|c| c.ip()), Some(b.ip()));
        assert_eq!(sd.media[0].port, b.port());
        assert_eq!(sd.media[1].port, 0, "video cannot be relayed: declined");
        assert_eq!(sd.origin.username, "sentral");
        // The phone's own address is gone from the body the other side sees.
        assert!(!String::from_utf8_lossy(&out).contains("192.0.2.10"));
        let _ = m.session.close();
    }

    #[test]
    fn hold_and_resume_keep_their_direction_and_bump_the_version() {
        let relay = relay();
        let mut m = CallMedia::open(&relay, None).expect("session");
        let held = m.relay_sdp(LegId::A, &offer("sendonly")).expect("sdp");
        let sd = SessionDescription::parse(&held).expect("valid");
        assert_eq!(sd.direction(0), Direction::SendOnly);
        let v1 = sd.origin.session_version;
        // Resume: a new version on the same leg's o= line (RFC 3264 §8).
        let resumed = m.relay_sdp(LegId::A, &offer("sendrecv")).expect("sdp");
        let sd2 = SessionDescription::parse(&resumed).expect("valid");
        assert_eq!(sd2.direction(0), Direction::SendRecv);
        assert_eq!(sd2.origin.session_version, v1 + 1);
        assert_eq!(sd2.origin.session_id, sd.origin.session_id);
        let _ = m.session.close();
    }

    #[test]
    fn a_hold_is_remembered_for_the_held_leg_and_a_transfer_offer_is_sendrecv() {
        let relay = relay();
        let mut m = CallMedia::open(&relay, None).expect("session");
        let _ = m.relay_sdp(LegId::A, &offer("sendrecv")).expect("sdp");
        let _ = m.relay_sdp(LegId::B, &offer("sendrecv")).expect("sdp");
        assert!(!m.held_by_other(LegId::A) && !m.held_by_other(LegId::B));
        // B holds: A is told to listen only; A's answer (recvonly) does not hold B.
        let _ = m.relay_sdp(LegId::B, &offer("sendonly")).expect("sdp");
        let _ = m.relay_sdp(LegId::A, &offer("recvonly")).expect("sdp");
        assert!(m.held_by_other(LegId::A));
        assert!(!m.held_by_other(LegId::B));
        // An offer for whoever replaces B, built from A's last (recvonly) SDP, and the
        // resume offer for A: both sendrecv, each pointed at the right relay port.
        let to_new_party = m.offer_from(LegId::A).expect("A sent SDP");
        let sd = SessionDescription::parse(&to_new_party).expect("valid");
        assert_eq!(sd.direction(0), Direction::SendRecv);
        assert_eq!(sd.media[0].port, m.local(LegId::B).port());
        let to_a = m.offer_from(LegId::B).expect("B sent SDP");
        let sd = SessionDescription::parse(&to_a).expect("valid");
        assert_eq!(sd.direction(0), Direction::SendRecv);
        assert_eq!(sd.media[0].port, m.local(LegId::A).port());
        assert!(!m.held_by_other(LegId::A), "A was offered sendrecv");
        let _ = m.session.close();
    }

    #[test]
    fn garbage_is_not_sdp() {
        let relay = relay();
        let mut m = CallMedia::open(&relay, None).expect("session");
        assert!(m.relay_sdp(LegId::A, b"hello").is_none());
        let _ = m.session.close();
    }
}
