//! Round trips on generated messages: build a `Message` from the typed model, serialize it,
//! parse it back, and require the same value (RFC 3261 §7; the only difference allowed is
//! the Content-Length the serializer always writes). Also: serialize(parse(bytes)) is a
//! fixed point for generated wire text.

use bytes::Bytes;
use proptest::prelude::*;
use sip_core::message::*;
use std::net::{Ipv4Addr, Ipv6Addr};

fn s(v: String) -> SipStr {
    SipStr::from(v)
}

fn host() -> impl Strategy<Value = Host> {
    prop_oneof![
        "[a-z][a-z0-9-]{0,8}(\\.[a-z][a-z0-9]{0,8}){0,2}".prop_map(|d| Host::Domain(s(d))),
        any::<u32>().prop_map(|a| Host::Ipv4(Ipv4Addr::from(a))),
        any::<u128>().prop_map(|a| Host::Ipv6(Ipv6Addr::from(a))),
    ]
}

fn uri_params() -> impl Strategy<Value = Params> {
    prop::collection::vec(
        (
            "[a-zA-Z][a-zA-Z0-9-]{0,6}",
            prop::option::of("[a-zA-Z0-9.-]{1,8}(%3[a-f0-9])?"),
        )
            .prop_map(|(n, v)| Param {
                name: s(n),
                value: v.map(s),
            }),
        0..3,
    )
    .prop_map(Params)
}

fn header_params() -> impl Strategy<Value = Params> {
    prop::collection::vec(
        (
            "[a-zA-Z+][a-zA-Z0-9.!%*_+`'~-]{0,8}",
            prop::option::of(prop_oneof![
                "[a-zA-Z0-9.-]{1,8}",
                "\"[a-zA-Z0-9 ,;:<>=@]{0,10}\""
            ]),
        )
            .prop_map(|(n, v)| Param {
                name: s(n),
                value: v.map(s),
            }),
        0..3,
    )
    .prop_map(Params)
}

fn sip_uri(with_headers: bool) -> impl Strategy<Value = SipUri> {
    (
        any::<bool>(),
        prop::option::of("[a-zA-Z0-9._;?=+-]{1,10}(%4[1-9]){0,1}"),
        prop::option::of("[a-z0-9]{1,5}"),
        host(),
        prop::option::of(any::<u16>()),
        uri_params(),
        prop::option::of("[A-Za-z]{1,6}=[a-zA-Z0-9]{1,8}(%3[A-F])?")
            .prop_map(move |h| if with_headers { h } else { None }),
    )
        .prop_map(
            |(secure, user, password, host, port, params, headers)| SipUri {
                secure,
                password: if user.is_some() {
                    password.map(s)
                } else {
                    None
                },
                user: user.map(s),
                host,
                port,
                params,
                headers: headers.map(s),
            },
        )
}

fn uri(with_headers: bool) -> impl Strategy<Value = Uri> {
    prop_oneof![
        4 => sip_uri(with_headers).prop_map(Uri::Sip),
        1 => ("\\+?[0-9]{3,12}", uri_params()).prop_map(|(n, params)| Uri::Tel(TelUri { number: s(n), params })),
        1 => ("[a-z][a-z0-9+.-]{0,6}", "[a-zA-Z0-9/:.@;=]{1,16}")
            .prop_filter("not a parsed scheme", |(sc, _)| !["sip", "sips", "tel"].contains(&sc.as_str()))
            .prop_map(|(scheme, opaque)| Uri::Other(OtherUri { scheme: s(scheme), opaque: s(opaque) })),
    ]
}

fn name_addr(with_headers: bool) -> impl Strategy<Value = NameAddr> {
    (
        prop::option::of(prop_oneof![
            "[A-Za-z]{1,8}( [A-Za-z.]{1,8}){0,2}",
            "\"[a-zA-Z0-9 ,.<>@;:]{0,12}\""
        ]),
        uri(with_headers),
        header_params(),
    )
        .prop_map(|(d, uri, params)| NameAddr {
            display_name: d.map(s),
            uri,
            params,
        })
}

fn method() -> impl Strategy<Value = Method> {
    prop_oneof![
        Just("INVITE".to_string()),
        Just("ACK".to_string()),
        Just("BYE".to_string()),
        Just("REGISTER".to_string()),
        Just("OPTIONS".to_string()),
        "[A-Z!%*_+`'~.-]{1,10}",
    ]
    .prop_map(|m| Method::from_token(&SipStr::from(m)))
}

fn via() -> impl Strategy<Value = Via> {
    (
        prop::sample::select(vec!["UDP", "TCP", "TLS", "WS", "SCTP"]),
        host(),
        prop::option::of(any::<u16>()),
        "z9hG4bK[a-zA-Z0-9.-]{1,12}",
        header_params(),
    )
        .prop_map(|(t, host, port, branch, mut params)| {
            params.0.insert(
                0,
                Param {
                    name: SipStr::from("branch"),
                    value: Some(s(branch)),
                },
            );
            Via {
                protocol: SipStr::from("SIP"),
                version: SipStr::from("2.0"),
                transport: SipStr::from(t),
                host,
                port,
                params,
            }
        })
}

fn verbatim_header() -> impl Strategy<Value = Header> {
    (
        prop_oneof![
            Just(HeaderName::Subject),
            Just(HeaderName::UserAgent),
            Just(HeaderName::Supported),
            Just(HeaderName::Allow),
            Just(HeaderName::Accept),
            Just(HeaderName::ContentType),
            "X-[A-Za-z0-9-]{1,10}".prop_map(|n| HeaderName::Other(SipStr::from(n))),
        ],
        "([!-~]([ -~]{0,30}[!-~])?)?",
    )
        .prop_map(|(n, v)| Header::Other(n, s(v)))
}

fn header() -> impl Strategy<Value = Header> {
    prop_oneof![
        prop::collection::vec(via(), 1..3).prop_map(Header::Via),
        name_addr(false).prop_map(Header::From),
        name_addr(false).prop_map(Header::To),
        "[a-zA-Z0-9.!%*_+`'~()<>:/\\[\\]?{}-]{1,20}(@[a-z0-9.]{1,10})?"
            .prop_map(|c| Header::CallId(s(c))),
        (any::<u32>(), method()).prop_map(|(seq, method)| Header::CSeq(CSeq { seq, method })),
        prop_oneof![
            3 => prop::collection::vec(name_addr(true).prop_map(Contact::Addr), 1..3),
            1 => Just(vec![Contact::Star]),
        ]
        .prop_map(Header::Contact),
        prop::collection::vec(name_addr(false), 1..3).prop_map(Header::Route),
        prop::collection::vec(name_addr(false), 1..3).prop_map(Header::RecordRoute),
        (0u32..=255).prop_map(Header::MaxForwards),
        any::<u32>().prop_map(Header::Expires),
        any::<u32>().prop_map(Header::MinExpires),
        verbatim_header(),
    ]
}

fn request_uri() -> impl Strategy<Value = Uri> {
    uri(false)
}

fn message() -> impl Strategy<Value = Message> {
    let headers = || prop::collection::vec(header(), 0..12).prop_map(Headers);
    let body = || prop::collection::vec(any::<u8>(), 0..64).prop_map(Bytes::from);
    prop_oneof![
        (method(), request_uri(), headers(), body()).prop_map(|(method, uri, headers, body)| {
            Message::Request(Request {
                method,
                uri,
                headers,
                body,
            })
        }),
        (100u16..=699, "([ -~]{0,20})", headers(), body()).prop_map(
            |(code, reason, headers, body)| {
                Message::Response(Response {
                    status: StatusCode(code),
                    reason: s(reason),
                    headers,
                    body,
                })
            }
        ),
    ]
}

fn without_content_length(mut m: Message) -> Message {
    m.headers_mut().remove(&HeaderName::ContentLength);
    m
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn serialize_then_parse_is_identity(m in message()) {
        let wire = serialize::to_bytes(&m);
        let parsed = parse_datagram(wire.clone());
        prop_assert!(parsed.is_ok(), "{:?}\n{}", parsed, String::from_utf8_lossy(&wire));
        let parsed = parsed.unwrap_or_else(|_| unreachable!());
        prop_assert_eq!(without_content_length(parsed.clone()), without_content_length(m));
        // Serializing again gives the same bytes (a fixed point).
        prop_assert_eq!(serialize::to_bytes(&parsed), wire.clone());
        // Over a stream the same bytes frame to one message.
        prop_assert_eq!(frame_stream(&wire), Framing::Message(wire.len()));
    }

    #[test]
    fn typed_values_round_trip(na in name_addr(true), v in via()) {
        let text = na.to_string();
        let back = parse_datagram(Bytes::from(format!(
            "OPTIONS sip:a@b SIP/2.0\r\nContact: {text}\r\nVia: {v}\r\nContent-Length: 0\r\n\r\n"
        )));
        let Ok(Message::Request(r)) = back else { panic!("reparse of {text}") };
        prop_assert_eq!(r.headers.contacts().next(), Some(&Contact::Addr(na)));
        prop_assert_eq!(r.headers.top_via(), Some(&v));
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..512)) {
        let b = Bytes::from(data);
        let _ = frame_stream(&b);
        if let Ok(Message::Request(r)) = parse_datagram(b) {
            let _ = validate_request(&r, &Policy::default());
        }
    }
}
