#![no_main]
//! Feeds arbitrary bodies to the SDP parser, then drives what a call does with a parsed
//! offer: answer it and rewrite it for the relay. Checks: no panic; anything that parses
//! serializes to text that parses to the same description; answers and rewrites
//! serialize to descriptions that parse.

use libfuzzer_sys::fuzz_target;
use sip_core::sdp::{AnswerOptions, OriginKeeper, SessionDescription, answer};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

fuzz_target!(|data: &[u8]| {
    let Ok(sd) = SessionDescription::parse(data) else {
        return;
    };
    let text = sd.to_string();
    let again = SessionDescription::parse(text.as_bytes()).expect("serialized SDP parses");
    assert_eq!(again, sd);

    for i in 0..sd.media.len() {
        let m = &sd.media[i];
        let _ = (m.rtpmaps().count(), m.ptime(), m.rtcp(), m.rtcp_mux());
        let _ = (sd.effective_direction(i), sd.is_held(i));
        for pt in m.payload_types() {
            let _ = m.fmtp(pt);
        }
    }
    let _ = sd.is_on_hold();

    let v4 = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7));
    let options = AnswerOptions::new(v4, "1", 1);
    if let Ok(ans) = answer(&sd, &options, |i| Some(20_000 + 2 * i as u16)) {
        assert_eq!(ans.media.len(), sd.media.len());
        SessionDescription::parse(ans.to_string().as_bytes()).expect("answer parses");
    }
    for addr in [v4, IpAddr::V6(Ipv6Addr::LOCALHOST)] {
        let mut rewritten = sd.clone();
        let ports: Vec<u16> = (0..sd.media.len()).map(|i| 30_000 + 2 * i as u16).collect();
        if rewritten.rewrite_connection(addr, &ports).is_ok() {
            let mut keeper = OriginKeeper::new("-", "42", 1);
            keeper.stamp(&mut rewritten);
            SessionDescription::parse(rewritten.to_string().as_bytes())
                .expect("rewritten SDP parses");
        }
    }
});
