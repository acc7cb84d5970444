//! Two "phones" (UDP sockets on loopback) talk through the relay. Their SDP addresses are
//! decoy sockets, and they send from other ports, as phones behind NAT do: the relay must
//! learn the real sources (symmetric latching), carry payloads intact both ways, pass RTCP
//! through, and count packets, bytes and induced loss.
#![allow(clippy::unwrap_used)] // A failed unwrap is a failed test.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::time::Duration;

use sip_core::rtp::{RtcpCompound, RtpBuilder, RtpPacket};
use sip_core::rtp_relay::{LegId, RelayConfig, RelayError, RemoteMedia, RtpRelay};

fn relay(bind: &str, min: u16, max: u16) -> RtpRelay {
    RtpRelay::new(RelayConfig {
        bind: bind.parse().unwrap(),
        port_min: min,
        port_max: max,
        ..RelayConfig::default()
    })
    .unwrap()
}

fn socket(ip: IpAddr) -> UdpSocket {
    let s = UdpSocket::bind(SocketAddr::new(ip, 0)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    s
}

fn rtp(seq: u16, ssrc: u32) -> Vec<u8> {
    let payload: Vec<u8> = (0..160u32)
        .map(|j| (j as u8) ^ (seq as u8) ^ (ssrc as u8))
        .collect();
    let mut out = Vec::new();
    RtpBuilder::new(0)
        .unwrap()
        .sequence(seq)
        .timestamp(u32::from(seq) * 160)
        .ssrc(ssrc)
        .write_into(&payload, &mut out)
        .unwrap();
    out
}

fn recv(s: &UdpSocket) -> Vec<u8> {
    let mut buf = [0u8; 2048];
    let (n, _) = s.recv_from(&mut buf).expect("datagram through the relay");
    buf[..n].to_vec()
}

fn nothing_waiting(s: &UdpSocket) -> bool {
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut buf = [0u8; 2048];
    let none = s.recv_from(&mut buf).is_err();
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    none
}

fn receiver_report(ssrc: u32, about: u32, lost: u8) -> Vec<u8> {
    let mut p = vec![0x81, 201, 0, 7];
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(&about.to_be_bytes());
    p.extend_from_slice(&[lost, 0, 0, 3]);
    p.extend_from_slice(&[0u8; 16]);
    p
}

#[test]
fn latching_forwarding_rtcp_and_loss_counters() {
    let ip: IpAddr = "127.0.0.1".parse().unwrap();
    let relay = relay("127.0.0.1", 42000, 42099);
    let session = relay.create_session().unwrap();
    let (relay_a, relay_a_rtcp) = (session.local_rtp(LegId::A), session.local_rtcp(LegId::A));
    let (relay_b, relay_b_rtcp) = (session.local_rtp(LegId::B), session.local_rtcp(LegId::B));
    assert_eq!(relay_a.port() % 2, 0);
    assert_eq!(relay_a_rtcp.port(), relay_a.port() + 1);
    assert_ne!(relay_a.port(), relay_b.port());

    // What each phone's SDP claims, and the sockets it really sends from.
    let (decoy_a, decoy_b) = (socket(ip), socket(ip));
    let (phone_a, phone_b) = (socket(ip), socket(ip));
    let (phone_a_rtcp, phone_b_rtcp) = (socket(ip), socket(ip));
    session.set_remote(LegId::A, RemoteMedia::new(decoy_a.local_addr().unwrap()));
    session.set_remote(LegId::B, RemoteMedia::new(decoy_b.local_addr().unwrap()));
    assert_ne!(phone_a.local_addr().unwrap(), decoy_a.local_addr().unwrap());

    // A speaks first: B has not sent yet, so the SDP address is all the relay knows.
    let first = rtp(0, 0xA);
    phone_a.send_to(&first, relay_a).unwrap();
    assert_eq!(recv(&decoy_b), first);
    // B speaks from behind "NAT": A is latched already, so A's real socket gets it.
    let first_b = rtp(0, 0xB);
    phone_b.send_to(&first_b, relay_b).unwrap();
    assert_eq!(recv(&phone_a), first_b);

    // 100 packets each way; A skips sequence numbers 5, 15, …, 95.
    let mut a_sent = 1u64;
    for seq in 1..=100u16 {
        if seq % 10 != 5 {
            let p = rtp(seq, 0xA);
            phone_a.send_to(&p, relay_a).unwrap();
            assert_eq!(recv(&phone_b), p, "A→B seq {seq} intact at B's real socket");
            a_sent += 1;
        }
        let p = rtp(seq, 0xB);
        phone_b.send_to(&p, relay_b).unwrap();
        let got = recv(&phone_a);
        assert_eq!(got, p, "B→A seq {seq}");
        assert_eq!(RtpPacket::parse(&got).unwrap().sequence(), seq);
    }
    assert!(nothing_waiting(&decoy_a), "nothing went to A's SDP address");
    assert!(
        nothing_waiting(&decoy_b),
        "only the pre-latch packet went to B's SDP address"
    );

    // RTCP: B's RTCP latches first, then A's receiver report reaches B's real RTCP socket.
    let rr_b = receiver_report(0xB, 0xA, 0);
    phone_b_rtcp.send_to(&rr_b, relay_b_rtcp).unwrap();
    // A's RTCP destination is its SDP RTCP port (decoy port + 1): nobody listens, fine.
    let rr_a = receiver_report(0xA, 0xB, 25);
    phone_a_rtcp.send_to(&rr_a, relay_a_rtcp).unwrap();
    let got = recv(&phone_b_rtcp);
    assert_eq!(got, rr_a, "RTCP passed through unchanged");
    assert!(RtcpCompound::parse(&got).is_ok());

    // A stranger sending to leg A's RTP port is ignored once A is latched.
    let stranger = socket(ip);
    stranger.send_to(&rtp(500, 0x666), relay_a).unwrap();
    assert!(nothing_waiting(&phone_b));

    let stats = session.close();
    let a = &stats.a;
    assert_eq!(a.latched_rtp, Some(phone_a.local_addr().unwrap()));
    assert_eq!(a.latched_rtcp, Some(phone_a_rtcp.local_addr().unwrap()));
    assert_eq!(stats.b.latched_rtp, Some(phone_b.local_addr().unwrap()));
    assert_eq!(a.rtp.packets, a_sent);
    assert_eq!(a.rtp.bytes, a_sent * 172);
    assert_eq!(a.rtp.payload_bytes, a_sent * 160);
    assert_eq!(a.rtp.lost, 10, "10 skipped sequence numbers");
    assert_eq!(a.rtp.expected, 100);
    assert_eq!(stats.b.rtp.packets, 101);
    assert_eq!(stats.b.rtp.lost, 0);
    assert_eq!(a.dropped.foreign_source, 1);
    assert_eq!(a.rtcp.packets, 1);
    assert_eq!(a.rtcp.last_report.map(|r| r.fraction_lost), Some(25));
    assert_eq!(stats.b.rtcp.packets, 1);
    // Sent to B's peer: all of A's RTP plus A's RR.
    assert_eq!(stats.b.sent_packets, a_sent + 1);
    // Sent to A's peer: B's 101 RTP packets plus B's RR (to A's SDP RTCP port).
    assert_eq!(stats.a.sent_packets, 102);
    assert!(a.rtp.mos < stats.b.rtp.mos, "loss lowers the MOS estimate");
    assert_eq!(relay.stats().ports_in_use, 0, "close released both pairs");
    assert_eq!(relay.stats().sessions, 0);
}

#[test]
fn hold_stops_one_direction_only() {
    let ip: IpAddr = "127.0.0.1".parse().unwrap();
    let relay = relay("127.0.0.1", 42100, 42199);
    let session = relay.create_session().unwrap();
    let (phone_a, phone_b) = (socket(ip), socket(ip));
    session.set_remote(LegId::A, RemoteMedia::new(phone_a.local_addr().unwrap()));
    session.set_remote(LegId::B, RemoteMedia::new(phone_b.local_addr().unwrap()));
    session.set_forwarding(LegId::A, false);
    phone_a
        .send_to(&rtp(1, 1), session.local_rtp(LegId::A))
        .unwrap();
    assert!(nothing_waiting(&phone_b), "A is held");
    phone_b
        .send_to(&rtp(1, 2), session.local_rtp(LegId::B))
        .unwrap();
    assert_eq!(recv(&phone_a), rtp(1, 2));
    session.set_forwarding(LegId::A, true);
    phone_a
        .send_to(&rtp(2, 1), session.local_rtp(LegId::A))
        .unwrap();
    assert_eq!(recv(&phone_b), rtp(2, 1));
    let st = session.stats();
    assert_eq!(st.a.rtp.packets, 2);
    assert_eq!(st.a.dropped.on_hold, 1);
}

#[test]
fn ports_run_out_and_come_back() {
    // 42200..=42207: four pairs, two sessions.
    let relay = relay("127.0.0.1", 42200, 42207);
    let s1 = relay.create_session().unwrap();
    let s2 = relay.create_session().unwrap();
    assert_eq!(relay.stats().ports_in_use, 4);
    assert!(matches!(
        relay.create_session(),
        Err(RelayError::PortsExhausted { capacity: 4 })
    ));
    drop(s1);
    // Dropping unregisters without waiting; the ports return when the worker lets go.
    let mut s3 = None;
    for _ in 0..100 {
        match relay.create_session() {
            Ok(s) => {
                s3 = Some(s);
                break;
            }
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
    assert!(s3.is_some(), "released ports are reused");
    s2.close();
    drop(s3);
    relay.shutdown();
    assert!(matches!(relay.create_session(), Err(RelayError::ShutDown)));
    assert!(
        relay.stats().ports_in_use <= 2,
        "closed sessions gave their ports back"
    );
}

#[test]
fn ipv6_loopback() {
    let Ok(probe) = UdpSocket::bind("[::1]:0") else {
        eprintln!("no IPv6 loopback here; skipped");
        return;
    };
    drop(probe);
    let ip: IpAddr = "::1".parse().unwrap();
    let relay = relay("::1", 42300, 42399);
    let session = relay.create_session().unwrap();
    assert!(session.local_rtp(LegId::A).is_ipv6());
    let (phone_a, phone_b) = (socket(ip), socket(ip));
    session.set_remote(LegId::A, RemoteMedia::new(phone_a.local_addr().unwrap()));
    session.set_remote(LegId::B, RemoteMedia::new(phone_b.local_addr().unwrap()));
    phone_a
        .send_to(&rtp(1, 1), session.local_rtp(LegId::A))
        .unwrap();
    assert_eq!(recv(&phone_b), rtp(1, 1));
    phone_b
        .send_to(&rtp(1, 2), session.local_rtp(LegId::B))
        .unwrap();
    assert_eq!(recv(&phone_a), rtp(1, 2));
    assert_eq!(
        session.close().b.latched_rtp,
        Some(phone_b.local_addr().unwrap())
    );
}

/// A bind error other than "address in use" (here: an address this host does not have)
/// would fail on every port alike: the relay reports it at once instead of leasing pair
/// after pair until the range runs out.
#[test]
fn bind_error_other_than_busy_is_reported_not_retried() {
    // TEST-NET-1 (RFC 5737): never a local address. One port pair in the range, so a
    // retry would end in PortsExhausted instead of the bind error.
    let relay = relay("192.0.2.1", 47000, 47001);
    match relay.create_session() {
        Err(RelayError::Bind(e)) => {
            assert_eq!(e.kind(), std::io::ErrorKind::AddrNotAvailable, "{e}")
        }
        other => panic!("expected the bind error, got {other:?}"),
    }
}
