use super::*;
use store::{NumberRange, NumberRangeId, RangeOwner};

fn trunk(id: i64, host: &str, sources: &[&str], limit: Option<u32>) -> Trunk {
    Trunk {
        id: TrunkId(id),
        name: format!("t{id}"),
        host: host.into(),
        port: 5070,
        transport: TrunkTransport::Udp,
        username: Some("sorum".into()),
        secret: Some(store::Secret::new("hemmelig")),
        register: true,
        channel_limit: limit,
        allowed_sources: sources.iter().map(|s| s.to_string()).collect(),
        enabled: true,
        number_ranges: vec![NumberRange {
            id: NumberRangeId(1),
            first: "63869000".into(),
            last: "63869999".into(),
            owner: RangeOwner::Trunk(TrunkId(id)),
        }],
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("ip")
}

#[test]
fn source_nets_parse_and_match() {
    let n = SourceNet::parse("192.0.2.0/24").expect("cidr");
    assert!(n.contains(ip("192.0.2.77")));
    assert!(!n.contains(ip("192.0.3.1")));
    assert!(n.contains(ip("::ffff:192.0.2.5")), "v4-mapped v6 peer");
    let host = SourceNet::parse(" 127.0.0.2 ").expect("host");
    assert!(host.contains(ip("127.0.0.2")));
    assert!(!host.contains(ip("127.0.0.1")));
    let any = SourceNet::parse("0.0.0.0/0").expect("any");
    assert!(any.contains(ip("203.0.113.9")));
    assert!(!any.contains(ip("2001:db8::1")), "families never mix");
    let v6 = SourceNet::parse("2001:db8::/32").expect("v6");
    assert!(v6.contains(ip("2001:db8:1::5")));
    assert!(!v6.contains(ip("2001:db9::1")));
    assert!(SourceNet::parse("[2001:db8::1]").is_some());
    for bad in [
        "",
        "example.com",
        "10.0.0.0/33",
        "10.0.0.0/x",
        "::/129",
        "10.0.0/8",
    ] {
        assert_eq!(SourceNet::parse(bad), None, "{bad:?}");
    }
}

#[test]
fn trunk_sources_checked() {
    let t = trunk(
        1,
        "provider.example",
        &["127.0.0.2", "198.51.100.0/28"],
        None,
    );
    assert!(is_trunk_source(&t, ip("127.0.0.2")));
    assert!(is_trunk_source(&t, ip("198.51.100.15")));
    assert!(!is_trunk_source(&t, ip("198.51.100.16")));
    assert!(!is_trunk_source(&t, ip("127.0.0.1")));
    // No list: the host's literal address only; a name trusts nobody.
    assert!(is_trunk_source(
        &trunk(2, "192.0.2.10", &[], None),
        ip("192.0.2.10")
    ));
    assert!(!is_trunk_source(
        &trunk(2, "192.0.2.10", &[], None),
        ip("192.0.2.11")
    ));
    assert!(!is_trunk_source(
        &trunk(3, "provider.example", &[], None),
        ip("192.0.2.10")
    ));
    // Garbage entries are ignored, not treated as "any".
    assert!(!is_trunk_source(
        &trunk(4, "h", &["garbage"], None),
        ip("127.0.0.2")
    ));

    let mut snap = Snapshot::default();
    let mut disabled = trunk(5, "h", &["127.0.0.2"], None);
    disabled.enabled = false;
    snap.trunks = vec![Arc::new(disabled), Arc::new(t)];
    assert_eq!(
        trunk_for_source(&snap, ip("127.0.0.2")).map(|t| t.id),
        Some(TrunkId(1))
    );
    assert!(trunk_for_source(&snap, ip("127.0.0.3")).is_none());
}

#[test]
fn channel_limit_counts_and_emergency_bypasses() {
    let trunks = Trunks::new(&PbxConfig::default());
    let t = trunk(1, "127.0.0.2", &[], Some(2));
    let a = trunks.try_acquire_channel(&t, false).expect("first");
    let b = trunks.try_acquire_channel(&t, false).expect("second");
    assert!(trunks.try_acquire_channel(&t, false).is_none(), "limit 2");
    let e = trunks
        .try_acquire_channel(&t, true)
        .expect("emergency always");
    assert_eq!(trunks.channels_in_use(t.id), 3);
    drop(a);
    assert!(
        trunks.try_acquire_channel(&t, false).is_none(),
        "still 2 in use besides emergency"
    );
    drop(e);
    let c = trunks.try_acquire_channel(&t, false).expect("freed");
    drop((b, c));
    assert_eq!(trunks.channels_in_use(t.id), 0);
    let unlimited = trunk(2, "127.0.0.2", &[], None);
    let many: Vec<_> = (0..100)
        .filter_map(|_| trunks.try_acquire_channel(&unlimited, false))
        .collect();
    assert_eq!(many.len(), 100);
    let zero = trunk(3, "127.0.0.2", &[], Some(0));
    assert!(trunks.try_acquire_channel(&zero, false).is_none());
    assert!(trunks.try_acquire_channel(&zero, true).is_some());
}

#[test]
fn granted_interval_prefers_our_contact() {
    let ours = contact_uri(
        "sorum",
        "127.0.0.1:5060".parse().expect("addr"),
        TransportKind::Udp,
    );
    let mut other = NameAddr::new(contact_uri(
        "x",
        "127.0.0.9:5060".parse().expect("addr"),
        TransportKind::Udp,
    ));
    other.params.set("expires", Some("10".into()));
    let mut mine = NameAddr::new(ours.clone());
    mine.params.set("expires", Some("120".into()));
    let mut r = Response::new(200);
    r.headers.push(Header::Contact(vec![
        Contact::Addr(other),
        Contact::Addr(mine),
    ]));
    r.headers.push(Header::Expires(300));
    assert_eq!(granted_expires(&r, &ours, 600), 120);
    let mut r2 = Response::new(200);
    r2.headers.push(Header::Expires(300));
    assert_eq!(granted_expires(&r2, &ours, 600), 300);
    assert_eq!(granted_expires(&Response::new(200), &ours, 600), 600);
}

#[test]
fn header_values_are_sanitised() {
    assert_eq!(
        header_safe("Rådhusveien 1\r\nX-Evil: 1"),
        "Rådhusveien 1  X-Evil: 1"
    );
    assert_eq!(
        quote_display("A \"B\" \\ C\n").as_str(),
        "\"A \\\"B\\\" \\\\ C\""
    );
}

#[test]
fn credentials_need_a_username() {
    assert_eq!(
        credentials(&trunk(1, "h", &[], None))
            .map(|c| c.username().to_owned())
            .as_deref(),
        Some("sorum")
    );
    let mut t = trunk(1, "h", &[], None);
    t.username = None;
    assert!(credentials(&t).is_none());
}
