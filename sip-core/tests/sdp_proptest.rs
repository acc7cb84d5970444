//! Property tests: any description we can build serializes to text that parses back to
//! the same description; arbitrary input never panics the parser.

use proptest::prelude::*;
use sip_core::sdp::{
    Attribute, Bandwidth, Connection, MediaDescription, Origin, SessionDescription, Timing,
};
use std::net::IpAddr;

fn text() -> impl Strategy<Value = String> {
    // RFC 4566 text: anything but NUL, CR, LF (and we refuse other controls too).
    "[^\\x00-\\x1f]{0,16}"
}

fn token() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9][a-zA-Z0-9._+-]{0,8}"
}

fn ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<std::net::Ipv4Addr>().prop_map(IpAddr::V4),
        any::<std::net::Ipv6Addr>().prop_map(IpAddr::V6),
    ]
}

fn connection() -> impl Strategy<Value = Connection> {
    ip().prop_map(Connection::from_ip)
}

fn origin() -> impl Strategy<Value = Origin> {
    ("[a-zA-Z0-9_-]{1,8}", "[0-9]{1,19}", any::<u64>(), ip()).prop_map(|(u, id, v, ip)| {
        let c = Connection::from_ip(ip);
        Origin {
            username: u,
            session_id: id,
            session_version: v,
            net_type: c.net_type,
            addr_type: c.addr_type,
            address: c.address,
        }
    })
}

fn bandwidth() -> impl Strategy<Value = Bandwidth> {
    (token(), any::<u64>()).prop_map(|(t, b)| Bandwidth {
        bw_type: t,
        bandwidth: b,
    })
}

fn attribute() -> impl Strategy<Value = Attribute> {
    (token(), proptest::option::of(text())).prop_map(|(name, value)| Attribute { name, value })
}

fn timing() -> impl Strategy<Value = Timing> {
    (
        any::<u64>(),
        any::<u64>(),
        proptest::collection::vec("[0-9][0-9a-z ]{0,10}", 0..3),
    )
        .prop_map(|(start, stop, repeats)| Timing {
            start,
            stop,
            repeats,
        })
}

fn media(needs_connection: bool) -> impl Strategy<Value = MediaDescription> {
    let min_c = usize::from(needs_connection);
    (
        (
            token(),
            any::<u16>(),
            proptest::option::of(any::<u32>()),
            prop_oneof![
                Just("RTP/AVP".to_owned()),
                Just("UDP/TLS/RTP/SAVPF".to_owned()),
                token()
            ],
            proptest::collection::vec(prop_oneof!["[0-9]{1,3}", token()], 1..5),
        ),
        (
            proptest::option::of(text()),
            proptest::collection::vec(connection(), min_c..3),
            proptest::collection::vec(bandwidth(), 0..2),
            proptest::option::of(text()),
            proptest::collection::vec(attribute(), 0..6),
        ),
    )
        .prop_map(
            |(
                (media, port, port_count, protocol, formats),
                (information, connections, bandwidths, key, attributes),
            )| {
                MediaDescription {
                    media,
                    port,
                    port_count,
                    protocol,
                    formats,
                    information,
                    connections,
                    bandwidths,
                    key,
                    attributes,
                }
            },
        )
}

fn session() -> impl Strategy<Value = SessionDescription> {
    proptest::option::of(connection()).prop_flat_map(|conn| {
        let needs = conn.is_none();
        (
            (
                origin(),
                text(),
                proptest::option::of(text()),
                proptest::option::of(text()),
                proptest::collection::vec(text(), 0..2),
                proptest::collection::vec(text(), 0..2),
            ),
            (
                Just(conn),
                proptest::collection::vec(bandwidth(), 0..2),
                proptest::collection::vec(timing(), 1..3),
                proptest::option::of(text()),
                proptest::option::of(text()),
                proptest::collection::vec(attribute(), 0..4),
                proptest::collection::vec(media(needs), 0..4),
            ),
        )
            .prop_map(
                |(
                    (origin, session_name, information, uri, emails, phones),
                    (connection, bandwidths, times, time_zones, key, attributes, media),
                )| SessionDescription {
                    origin,
                    session_name,
                    information,
                    uri,
                    emails,
                    phones,
                    connection,
                    bandwidths,
                    times,
                    time_zones,
                    key,
                    attributes,
                    media,
                },
            )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn build_parse_round_trip(sd in session()) {
        let text = sd.to_string();
        let parsed = SessionDescription::parse(text.as_bytes());
        prop_assert_eq!(parsed.as_ref(), Ok(&sd), "{}", text);
        // LF-only line ends parse to the same thing.
        let lf = text.replace("\r\n", "\n");
        let parsed_lf = SessionDescription::parse(lf.as_bytes());
        prop_assert_eq!(parsed_lf.as_ref(), Ok(&sd));
    }

    #[test]
    fn rewrite_keeps_it_parseable(sd in session(), relay in ip()) {
        let mut sd = sd;
        let ports: Vec<u16> = (0..sd.media.len()).map(|i| 20_000 + 2 * i as u16).collect();
        sd.rewrite_connection(relay, &ports).expect("one port per m-line");
        let parsed = SessionDescription::parse(sd.to_string().as_bytes());
        prop_assert_eq!(parsed.as_ref(), Ok(&sd));
        prop_assert_eq!(sd.connection.as_ref().and_then(Connection::ip), Some(relay));
    }

    #[test]
    fn arbitrary_input_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = SessionDescription::parse(&bytes);
    }

    #[test]
    fn line_noise_never_panics(lines in proptest::collection::vec("[vosiuepcbtrzkam]=[ -~]{0,30}", 0..20)) {
        let body = lines.join("\r\n");
        if let Ok(sd) = SessionDescription::parse(body.as_bytes()) {
            let again = SessionDescription::parse(sd.to_string().as_bytes());
            prop_assert_eq!(again.as_ref(), Ok(&sd));
        }
    }
}
