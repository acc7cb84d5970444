//! Fuzzes RTP/RTCP parsing and the relay's per-packet state: the input is split into
//! datagrams, each parsed as RTP or RTCP (after the RFC 5761 demultiplexing) and fed to a
//! media session's sans-IO state from a source and at a time the input also chooses.
#![no_main]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use sip_core::rtp::{RtcpCompound, RtpPacket, classify};
use sip_core::rtp_relay::{Channel, LatchConfig, LegId, RemoteMedia, SessionState};

fuzz_target!(|data: &[u8]| {
    let t0 = Instant::now();
    let mut session = SessionState::new(LatchConfig::default());
    session.set_remote(
        LegId::B,
        RemoteMedia::new(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 4000)),
    );
    let mut now = t0;
    // Each record: a control byte (leg, channel, source port bits, hold), a time step byte,
    // a length byte, then that many bytes of datagram.
    let mut rest = data;
    while let [control, step, len, tail @ ..] = rest {
        let n = usize::from(*len).min(tail.len());
        let (datagram, next) = tail.split_at(n);
        rest = next;
        now += Duration::from_millis(u64::from(*step) * 8);
        let _ = classify(datagram);
        if let Ok(p) = RtpPacket::parse(datagram) {
            let _ = (p.payload(), p.extension(), p.csrcs().count(), p.padding());
        }
        if let Ok(c) = RtcpCompound::parse(datagram) {
            let _ = c.packets().count();
            let _ = c.report_blocks().count();
        }
        let leg = if control & 1 == 0 { LegId::A } else { LegId::B };
        let channel = if control & 2 == 0 {
            Channel::Rtp
        } else {
            Channel::Rtcp
        };
        if control & 0x80 != 0 {
            session.set_forwarding(leg, control & 0x40 != 0);
        }
        let src = SocketAddr::new(
            IpAddr::V4(Ipv4Addr::new(10, 0, 0, control >> 4 & 3)),
            5000 + u16::from(control >> 2 & 3),
        );
        let _ = session.on_datagram(leg, channel, src, datagram, now);
    }
    let _ = session.stats();
});
