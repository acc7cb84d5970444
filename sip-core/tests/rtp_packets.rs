//! The three `rtp-rs` 0.6 traps of issue 2, each shown on `rtp-rs` itself and then shown
//! handled by `sip_core::rtp`; plus round trips and no-panic properties.
#![allow(clippy::unwrap_used)] // A failed unwrap is a failed test.

use proptest::prelude::*;
use sip_core::rtp::{PacketKind, RtcpCompound, RtpBuilder, RtpError, RtpPacket, classify};
use sip_core::rtp_relay::{Channel, LatchConfig, LegId, RemoteMedia, SessionState};

/// An RTCP receiver report with one report block (RFC 3550 §6.4.2).
fn receiver_report() -> Vec<u8> {
    let mut p = vec![0x81, 201, 0x00, 0x07];
    p.extend_from_slice(&0x0102_0304u32.to_be_bytes());
    p.extend_from_slice(&[0u8; 24]);
    p
}

#[test]
fn trap_1_rtp_rs_reads_rtcp_as_rtp_the_wrapper_demultiplexes() {
    let rr = receiver_report();
    // rtp-rs takes the RR for RTP with the marker bit and payload type 73.
    let misread = rtp_rs::RtpReader::new(&rr).expect("rtp-rs accepts RTCP as RTP");
    assert!(misread.mark());
    assert_eq!(misread.payload_type(), 73);
    // The wrapper classifies it as RTCP first (RFC 5761 §4) and refuses it as RTP.
    assert_eq!(classify(&rr), PacketKind::Rtcp);
    assert_eq!(RtpPacket::parse(&rr).unwrap_err(), RtpError::IsRtcp(201));
    assert!(RtcpCompound::parse(&rr).is_ok());
    // Every RTCP type 200–204 is caught.
    for pt in 200u8..=204 {
        let mut p = rr.clone();
        p[1] = pt;
        assert!(
            matches!(RtpPacket::parse(&p), Err(RtpError::IsRtcp(_))),
            "{pt}"
        );
    }
}

#[test]
fn trap_2_rtp_rs_set_csrc_panics_over_15_the_wrapper_returns_an_error() {
    let sixteen = [7u32; 16];
    let panicked = std::panic::catch_unwind(|| {
        let _ = rtp_rs::RtpPacketBuilder::new().set_csrc(&sixteen);
    });
    assert!(panicked.is_err(), "rtp-rs 0.6 panics on 16 CSRCs");

    let err = RtpBuilder::new(0).unwrap().csrcs(&sixteen).unwrap_err();
    assert_eq!(err, RtpError::TooManyCsrcs(16));

    let fifteen: Vec<u32> = (1..=15).collect();
    let mut out = Vec::new();
    RtpBuilder::new(0)
        .unwrap()
        .csrcs(&fifteen)
        .unwrap()
        .write_into(b"x", &mut out)
        .unwrap();
    let p = RtpPacket::parse(&out).unwrap();
    assert_eq!(p.csrcs().collect::<Vec<_>>(), fifteen);
    assert_eq!(p.payload(), b"x");
}

#[test]
fn trap_3_rtp_rs_build_into_leaves_stale_bytes_the_wrapper_does_not() {
    let payload = [1u8, 2, 3];
    // rtp-rs: a reused 64-byte buffer keeps old bytes past the packet and in the padding.
    let mut buf = [0xAAu8; 64];
    let n = rtp_rs::RtpPacketBuilder::new()
        .payload_type(0)
        .payload(&payload)
        .padded(rtp_rs::Pad::round_to(8))
        .build_into(&mut buf)
        .unwrap();
    assert_eq!(n, 16);
    assert_eq!(buf[15], 1, "pad count");
    assert!(
        buf[n..].iter().all(|&b| b == 0xAA),
        "stale tail left behind"
    );

    // With a bigger pad the bytes before the count stay stale.
    let mut buf = [0xAAu8; 64];
    let n = rtp_rs::RtpPacketBuilder::new()
        .payload_type(0)
        .payload(&[9u8])
        .padded(rtp_rs::Pad::round_to(8))
        .build_into(&mut buf)
        .unwrap();
    assert_eq!(n, 16);
    assert!(
        buf[13..15].iter().all(|&b| b == 0xAA),
        "stale padding bytes"
    );
    assert_eq!(buf[15], 3);

    // The wrapper: the Vec holds exactly the packet, padding zeroed except its count.
    let mut out = vec![0xAAu8; 500];
    let b = RtpBuilder::new(0).unwrap().pad_to(8).unwrap();
    let n = b.write_into(&[9u8], &mut out).unwrap();
    assert_eq!(out.len(), n);
    assert_eq!(n, 16);
    assert_eq!(&out[13..], &[0, 0, 3]);
    let p = RtpPacket::parse(&out).unwrap();
    assert_eq!(p.payload(), &[9]);
    assert_eq!(p.padding(), Some(3));

    // Reusing the Vec for a shorter packet leaves nothing of the longer one.
    let long = RtpBuilder::new(8).unwrap();
    long.write_into(&[0x55; 160], &mut out).unwrap();
    assert_eq!(out.len(), 172);
    let n = RtpBuilder::new(8)
        .unwrap()
        .write_into(&[0x11; 4], &mut out)
        .unwrap();
    assert_eq!(out.len(), n);
    assert_eq!(out.len(), 16);
    assert_eq!(RtpPacket::parse(&out).unwrap().payload(), &[0x11; 4]);
}

#[test]
fn builder_refuses_rtcp_range_payload_types_and_bad_extensions() {
    for pt in [64u8, 72, 76, 95, 128, 255] {
        assert_eq!(
            RtpBuilder::new(pt).unwrap_err(),
            RtpError::InvalidPayloadType(pt)
        );
    }
    assert!(RtpBuilder::new(63).is_ok());
    assert!(RtpBuilder::new(96).is_ok());
    assert_eq!(
        RtpBuilder::new(0)
            .unwrap()
            .extension(1, &[0; 3])
            .unwrap_err(),
        RtpError::InvalidExtension(3)
    );
    assert_eq!(
        RtpBuilder::new(0).unwrap().pad_to(1).unwrap_err(),
        RtpError::InvalidPadBlock(1)
    );
}

#[test]
fn parser_checks_version_and_lengths() {
    let mut out = Vec::new();
    RtpBuilder::new(0)
        .unwrap()
        .write_into(&[0; 10], &mut out)
        .unwrap();
    let mut v1 = out.clone();
    v1[0] = (v1[0] & 0x3F) | 0x40;
    assert_eq!(
        RtpPacket::parse(&v1).unwrap_err(),
        RtpError::UnsupportedVersion(1)
    );
    assert!(matches!(
        RtpPacket::parse(&out[..11]),
        Err(RtpError::TooShort { .. })
    ));
    // CSRC count 2 but only 4 bytes after the fixed header.
    let mut cc = out[..16].to_vec();
    cc[0] |= 0x02;
    assert!(matches!(
        RtpPacket::parse(&cc),
        Err(RtpError::HeaderTruncated { .. })
    ));
    // Extension bit with a length running past the end.
    let mut x = out[..16].to_vec();
    x[0] |= 0x10;
    x[14] = 0;
    x[15] = 9;
    assert!(matches!(
        RtpPacket::parse(&x),
        Err(RtpError::HeaderTruncated { .. })
    ));
    // Padding count larger than the payload.
    let mut p = out.clone();
    p[0] |= 0x20;
    *p.last_mut().unwrap() = 200;
    assert_eq!(
        RtpPacket::parse(&p).unwrap_err(),
        RtpError::InvalidPadding(200)
    );
}

proptest! {
    #[test]
    fn built_packets_parse_back(
        pt in prop_oneof![0u8..64, 96u8..128],
        marker: bool,
        seq: u16,
        ts: u32,
        ssrc: u32,
        csrcs in proptest::collection::vec(any::<u32>(), 0..=15),
        ext in proptest::option::of((any::<u16>(), proptest::collection::vec(any::<u8>(), 0..4usize).prop_map(|v| { let mut w = v; w.resize(w.len() * 4, 0); w }))),
        pad in proptest::option::of(2u8..=32),
        payload in proptest::collection::vec(any::<u8>(), 0..400),
        stale in proptest::collection::vec(any::<u8>(), 0..1000),
    ) {
        let mut b = RtpBuilder::new(pt).unwrap().marker(marker).sequence(seq).timestamp(ts).ssrc(ssrc).csrcs(&csrcs).unwrap();
        if let Some((id, data)) = &ext {
            b = b.extension(*id, data).unwrap();
        }
        if let Some(block) = pad {
            b = b.pad_to(block).unwrap();
        }
        let mut out = stale;
        let n = b.write_into(&payload, &mut out).unwrap();
        prop_assert_eq!(out.len(), n);
        if let Some(block) = pad {
            prop_assert_eq!(n % usize::from(block), 0);
        }
        prop_assert_eq!(classify(&out), PacketKind::Rtp);
        let p = RtpPacket::parse(&out).unwrap();
        prop_assert_eq!(p.payload_type(), pt);
        prop_assert_eq!(p.marker(), marker);
        prop_assert_eq!(p.sequence(), seq);
        prop_assert_eq!(p.timestamp(), ts);
        prop_assert_eq!(p.ssrc(), ssrc);
        prop_assert_eq!(p.csrcs().collect::<Vec<_>>(), csrcs);
        prop_assert_eq!(p.extension().map(|(i, d)| (i, d.to_vec())), ext);
        prop_assert_eq!(p.payload(), &payload[..]);
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..300), first in 0x80u8..0xC0) {
        let mut data = data;
        if let Some(b) = data.first_mut() { *b = first; }
        let _ = classify(&data);
        if let Ok(p) = RtpPacket::parse(&data) {
            let _ = (p.payload(), p.extension(), p.csrcs().count(), p.padding());
        }
        if let Ok(c) = RtcpCompound::parse(&data) {
            for p in c.packets() { let _ = format!("{p:?}"); }
            let _ = c.report_blocks().count();
        }
        let mut s = SessionState::new(LatchConfig::default());
        s.set_remote(LegId::B, RemoteMedia::new("127.0.0.1:4000".parse().unwrap()));
        let now = std::time::Instant::now();
        let _ = s.on_datagram(LegId::A, Channel::Rtp, "127.0.0.1:5000".parse().unwrap(), &data, now);
        let _ = s.on_datagram(LegId::A, Channel::Rtcp, "127.0.0.1:5001".parse().unwrap(), &data, now);
        let _ = s.stats();
    }
}
