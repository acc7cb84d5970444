use super::*;
use crate::directory::Snapshot;
use store::{
    Credentials, ExtensionId, NumberRange, NumberRangeId, RangeOwner, Site, SiteId, TrunkId,
    TrunkTransport,
};

fn site(id: i64, code: &str, ranges: &[(&str, &str)]) -> Site {
    Site {
        id: SiteId(id),
        code: code.into(),
        name: format!("Site {code}"),
        address: format!("{code}veien 1, 1920 Sørumsand"),
        department_id: None,
        department: None,
        number_ranges: ranges
            .iter()
            .enumerate()
            .map(|(i, (f, l))| NumberRange {
                id: NumberRangeId(id * 10 + i as i64),
                first: (*f).into(),
                last: (*l).into(),
                owner: RangeOwner::Site(SiteId(id)),
            })
            .collect(),
    }
}

fn ext(id: i64, number: &str, site: &str, cos: ClassOfService) -> Extension {
    Extension {
        id: ExtensionId(id),
        number: number.into(),
        display_name: format!("Ext {number}"),
        site_id: SiteId(if site == "radhus" { 1 } else { 2 }),
        site: site.into(),
        department_id: None,
        department: None,
        class_of_service: cos,
        premium_allowed: false,
        credentials: Credentials::from_password(number, "sentral", "pw"),
        enabled: true,
    }
}

fn trunk(id: i64, name: &str, enabled: bool, ranges: &[(&str, &str)]) -> Trunk {
    Trunk {
        id: TrunkId(id),
        name: name.into(),
        host: "127.0.0.2".into(),
        port: 5060,
        transport: TrunkTransport::Udp,
        username: Some("sorum".into()),
        secret: Some(store::Secret::new("s")),
        register: true,
        channel_limit: Some(2),
        allowed_sources: vec!["127.0.0.2".into()],
        enabled,
        number_ranges: ranges
            .iter()
            .map(|(f, l)| NumberRange {
                id: NumberRangeId(100 + id),
                first: (*f).into(),
                last: (*l).into(),
                owner: RangeOwner::Trunk(TrunkId(id)),
            })
            .collect(),
    }
}

/// Two sites like the test PBX: rådhus 63869000-63869399, fjuk 63869400-63869499.
fn snapshot() -> Snapshot {
    let mut snap = Snapshot::default();
    for s in [
        site(1, "radhus", &[("63869000", "63869399")]),
        site(2, "fjuk", &[("63869400", "63869499")]),
    ] {
        for r in &s.number_ranges {
            snap.site_ranges.push((r.clone(), s.code.clone()));
        }
        snap.sites.insert(s.code.clone(), Arc::new(s));
    }
    let mut exts = vec![
        ext(1, "1001", "radhus", ClassOfService::International),
        ext(2, "1002", "radhus", ClassOfService::National),
        ext(3, "1003", "radhus", ClassOfService::Internal),
        ext(4, "2001", "fjuk", ClassOfService::Mobile),
        ext(5, "9001", "radhus", ClassOfService::National),
        ext(6, "9401", "fjuk", ClassOfService::National),
        // 9002 lives at fjuk although 63869002 is a rådhus number.
        ext(7, "9002", "fjuk", ClassOfService::National),
    ];
    let mut disabled = ext(8, "1004", "radhus", ClassOfService::International);
    disabled.enabled = false;
    exts.push(disabled);
    let mut premium = ext(9, "1005", "radhus", ClassOfService::National);
    premium.premium_allowed = true;
    exts.push(premium);
    for e in exts {
        snap.extensions.insert(e.number.clone(), Arc::new(e));
    }
    snap.trunks = vec![
        Arc::new(trunk(1, "a-disabled", false, &[])),
        Arc::new(trunk(2, "b-main", true, &[])),
        Arc::new(trunk(3, "c-fjuk", true, &[("63869400", "63869499")])),
    ];
    snap
}

fn plan() -> DialPlan {
    DialPlan::new(&PbxConfig::default()).expect("default dial plan")
}

fn plan_with(mappings: Vec<DidMapping>) -> DialPlan {
    let mut c = PbxConfig::default();
    c.dial_plan.did_mappings = mappings;
    DialPlan::new(&c).expect("dial plan")
}

fn caller(snap: &Snapshot, number: &str) -> CallerInfo {
    CallerInfo::extension(snap.extension(number).expect("test extension").clone())
}

fn route(p: &DialPlan, snap: &Snapshot, from: &str, dialled: &str) -> Route {
    p.route(&caller(snap, from), dialled, snap)
}

fn ext_of(r: &Route) -> Option<&str> {
    match r {
        Route::Extension(e) => Some(e.number.as_str()),
        _ => None,
    }
}

fn status_of(r: &Route) -> Option<u16> {
    match r {
        Route::Deny { status, .. } => Some(*status),
        _ => None,
    }
}

fn trunk_of(r: &Route) -> Option<(&str, &str, DestinationClass)> {
    match r {
        Route::Trunk {
            trunk,
            number,
            class,
        } => Some((trunk.name.as_str(), number.as_str(), *class)),
        _ => None,
    }
}

fn offset_mapping() -> DidMapping {
    DidMapping {
        first: "63869000".into(),
        last: "63869399".into(),
        target: DidTarget::Offset {
            extension_first: "1000".into(),
        },
    }
}

#[test]
fn extensions_route_to_enabled_extensions_only() {
    let (p, s) = (plan(), snapshot());
    assert_eq!(ext_of(&route(&p, &s, "1001", "1002")), Some("1002"));
    // Internal-only callers reach other extensions, also at other sites.
    assert_eq!(ext_of(&route(&p, &s, "1003", "2001")), Some("2001"));
    assert_eq!(
        status_of(&route(&p, &s, "1001", "1004")),
        Some(404),
        "disabled"
    );
    assert_eq!(
        status_of(&route(&p, &s, "1001", "1999")),
        Some(404),
        "missing"
    );
    assert_eq!(
        status_of(&route(&p, &s, "1001", "10a1")),
        Some(404),
        "not a number"
    );
    assert_eq!(status_of(&route(&p, &s, "1001", "")), Some(404), "empty");
}

#[test]
fn extension_digits_is_configurable() {
    let c = PbxConfig {
        extension_digits: 3,
        ..PbxConfig::default()
    };
    let p = DialPlan::new(&c).expect("plan");
    let mut s = snapshot();
    let e = ext(20, "555", "radhus", ClassOfService::Internal);
    s.extensions.insert("555".into(), Arc::new(e));
    assert_eq!(ext_of(&route(&p, &s, "1001", "555")), Some("555"));
    // A 4-digit number is no longer an extension: 1002 is not a valid public number.
    assert_eq!(status_of(&route(&p, &s, "1001", "1002")), Some(404));
}

#[test]
fn emergency_numbers_match_whole_numbers_for_everyone() {
    let (p, s) = (plan(), snapshot());
    for n in [
        "110",
        "112",
        "113",
        "1412",
        "+47112",
        "0047 113",
        "112;phone-context=x",
    ] {
        for from in ["1003", "1001", "1004"] {
            let r = route(&p, &s, from, n);
            assert!(
                matches!(&r, Route::Emergency { number } if ["110","112","113","1412"].contains(&number.as_str())),
                "{from} dialling {n}: {r:?}"
            );
        }
        assert!(matches!(
            p.route(&CallerInfo::unknown(), n, &s),
            Route::Emergency { .. }
        ));
    }
    for n in [
        "1120", "01129", "11", "1122", "2112", "141", "14120", "0112", "+112",
    ] {
        let r = route(&p, &s, "1001", n);
        assert!(
            !matches!(r, Route::Emergency { .. }),
            "{n} is not emergency: {r:?}"
        );
        assert_eq!(p.emergency_number(n), None, "{n}");
    }
    assert_eq!(p.emergency_number("112").as_deref(), Some("112"));
}

#[test]
fn emergency_list_is_configurable_and_beats_extensions() {
    let mut c = PbxConfig {
        emergency_numbers: vec!["112".into(), "1001".into()],
        ..PbxConfig::default()
    };
    let p = DialPlan::new(&c).expect("plan");
    let s = snapshot();
    assert!(matches!(
        route(&p, &s, "1002", "1001"),
        Route::Emergency { .. }
    ));
    // 110 is no longer emergency: a 3-digit 1xx service number for national callers.
    assert_eq!(
        trunk_of(&route(&p, &s, "1002", "110")).map(|t| t.2),
        Some(DestinationClass::Emergency)
    );
    c.emergency_numbers = vec!["11x".into()];
    assert!(matches!(
        DialPlan::new(&c),
        Err(DialPlanError::BadEmergencyNumber(_))
    ));
}

#[test]
fn unknown_and_disabled_callers_reach_only_emergency() {
    let (p, s) = (plan(), snapshot());
    let r = p.route(&CallerInfo::unknown(), "1002", &s);
    assert_eq!(status_of(&r), Some(403));
    let r = route(&p, &s, "1004", "22334455");
    assert_eq!(status_of(&r), Some(403));
}

#[test]
fn own_numbers_are_on_net_by_default_rule() {
    let (p, s) = (plan(), snapshot());
    // Default rule: last 4 digits, at the site owning the range.
    assert_eq!(ext_of(&route(&p, &s, "1003", "63869001")), Some("9001"));
    assert_eq!(
        ext_of(&route(&p, &s, "1003", "+47 638 69 401")),
        Some("9401")
    );
    // 9002 exists but at fjuk, while 63869002 is rådhus's: unassigned, never the trunk.
    assert_eq!(status_of(&route(&p, &s, "1001", "63869002")), Some(404));
    assert_eq!(status_of(&route(&p, &s, "1001", "63869399")), Some(404));
}

#[test]
fn explicit_did_mappings_win() {
    let switchboard = DidMapping {
        first: "63869400".into(),
        last: "63869400".into(),
        target: DidTarget::Extension("2001".into()),
    };
    let p = plan_with(vec![switchboard, offset_mapping()]);
    let s = snapshot();
    assert_eq!(ext_of(&route(&p, &s, "1003", "63869001")), Some("1001"));
    assert_eq!(ext_of(&route(&p, &s, "1003", "63869003")), Some("1003"));
    assert_eq!(ext_of(&route(&p, &s, "1003", "63869400")), Some("2001"));
    // Not covered by a mapping: the default rule still applies.
    assert_eq!(ext_of(&route(&p, &s, "1003", "63869401")), Some("9401"));
    // Mapped to a disabled / missing extension: 404, not the trunk.
    assert_eq!(status_of(&route(&p, &s, "1001", "63869004")), Some(404));
    assert_eq!(status_of(&route(&p, &s, "1001", "63869099")), Some(404));
}

#[test]
fn mapping_arithmetic_and_validation() {
    let m = offset_mapping();
    assert_eq!(m.map("63869000").as_deref(), Some("1000"));
    assert_eq!(m.map("63869399").as_deref(), Some("1399"));
    assert_eq!(m.map("63869400"), None);
    assert_eq!(m.map("6386900"), None);
    assert_eq!(m.reverse("1001").as_deref(), Some("63869001"));
    assert_eq!(m.reverse("1400"), None);
    assert_eq!(m.reverse("0999"), None);
    let overflow = DidMapping {
        first: "100".into(),
        last: "199".into(),
        target: DidTarget::Offset {
            extension_first: "95".into(),
        },
    };
    assert_eq!(overflow.map("104").as_deref(), Some("99"));
    assert_eq!(overflow.map("105"), None, "95 + 5 runs past two digits");
    let leading_zero = DidMapping {
        first: "50".into(),
        last: "59".into(),
        target: DidTarget::Offset {
            extension_first: "0100".into(),
        },
    };
    assert_eq!(leading_zero.map("53").as_deref(), Some("0103"));
    for bad in [
        ("6386900x", "63869010"),
        ("63869010", "63869000"),
        ("6386900", "63869000"),
        ("", ""),
    ] {
        let mut c = PbxConfig::default();
        c.dial_plan.did_mappings = vec![DidMapping {
            first: bad.0.into(),
            last: bad.1.into(),
            target: DidTarget::Extension("1001".into()),
        }];
        assert!(DialPlan::new(&c).is_err(), "{bad:?}");
    }
}

#[test]
fn class_of_service_gates_destination_classes() {
    let (p, s) = (plan(), snapshot());
    // (dialled, class, lowest class of service allowed)
    let cases = [
        (
            "22334455",
            DestinationClass::Local,
            ClassOfService::National,
        ),
        (
            "33445566",
            DestinationClass::National,
            ClassOfService::National,
        ),
        ("41234567", DestinationClass::Mobile, ClassOfService::Mobile),
        ("91234567", DestinationClass::Mobile, ClassOfService::Mobile),
        (
            "80012345",
            DestinationClass::Freephone,
            ClassOfService::National,
        ),
        (
            "1881",
            DestinationClass::Directory,
            ClassOfService::National,
        ),
        (
            "117",
            DestinationClass::ServiceShort,
            ClassOfService::National,
        ),
        (
            "02800",
            DestinationClass::FiveDigit,
            ClassOfService::National,
        ),
        (
            "116117",
            DestinationClass::Harmonised116,
            ClassOfService::National,
        ),
        (
            "004681234567",
            DestinationClass::IntlNordic,
            ClassOfService::International,
        ),
        (
            "+4681234567",
            DestinationClass::IntlNordic,
            ClassOfService::International,
        ),
        (
            "0012125551234",
            DestinationClass::IntlWorld,
            ClassOfService::International,
        ),
    ];
    let callers = [
        ("1003", ClassOfService::Internal),
        ("1002", ClassOfService::National),
        ("2001", ClassOfService::Mobile),
        ("1001", ClassOfService::International),
    ];
    for (dialled, class, min) in cases {
        for (from, cos) in callers {
            let r = route(&p, &s, from, dialled);
            if cos >= min {
                let t = trunk_of(&r).unwrap_or_else(|| panic!("{from} → {dialled}: {r:?}"));
                assert_eq!(t.2, class, "{dialled}");
            } else {
                match &r {
                    Route::Deny {
                        status: 403,
                        reason,
                    } => assert!(
                        reason.contains("not allowed for class of service")
                            && reason.contains(cos.as_str()),
                        "{reason}"
                    ),
                    other => panic!("{from} ({cos:?}) → {dialled}: {other:?}"),
                }
            }
        }
    }
}

#[test]
fn trunk_numbers_are_normalised() {
    let (p, s) = (plan(), snapshot());
    assert_eq!(
        trunk_of(&route(&p, &s, "1001", "+47 22 33 44 55")).map(|t| t.1),
        Some("22334455")
    );
    assert_eq!(
        trunk_of(&route(&p, &s, "1001", "0047-22334455")).map(|t| t.1),
        Some("22334455")
    );
    assert_eq!(
        trunk_of(&route(&p, &s, "1001", "+46 8 123 45 67")).map(|t| t.1),
        Some("004681234567")
    );
}

#[test]
fn premium_needs_the_premium_flag() {
    let (p, s) = (plan(), snapshot());
    for n in ["82012345", "82912345"] {
        for from in ["1001", "1002", "1003", "2001"] {
            match route(&p, &s, from, n) {
                Route::Deny {
                    status: 403,
                    reason,
                } => {
                    assert!(
                        reason.contains("not allowed for class of service"),
                        "{reason}"
                    )
                }
                other => panic!("{from} → {n}: {other:?}"),
            }
        }
        assert_eq!(
            trunk_of(&route(&p, &s, "1005", n)).map(|t| t.2),
            Some(DestinationClass::Premium)
        );
    }
}

#[test]
fn class_overrides_apply() {
    let mut c = PbxConfig::default();
    c.dial_plan.class_overrides = vec![
        (
            DestinationClass::Freephone,
            Requirement::Class(ClassOfService::Internal),
        ),
        (DestinationClass::Directory, Requirement::Blocked),
    ];
    let p = DialPlan::new(&c).expect("plan");
    let s = snapshot();
    assert!(trunk_of(&route(&p, &s, "1003", "80012345")).is_some());
    assert_eq!(status_of(&route(&p, &s, "1001", "1881")), Some(403));
}

#[test]
fn invalid_numbers_are_refused() {
    let (p, s) = (plan(), snapshot());
    assert_eq!(
        status_of(&route(&p, &s, "1001", "2233445")),
        Some(484),
        "too short"
    );
    assert_eq!(
        status_of(&route(&p, &s, "1001", "223344556")),
        Some(404),
        "too long"
    );
    assert_eq!(
        status_of(&route(&p, &s, "1001", "01234567")),
        Some(404),
        "reserved 01"
    );
    assert_eq!(status_of(&route(&p, &s, "1001", "*21#")), Some(404));
    assert_eq!(
        status_of(&route(&p, &s, "1001", "123456789012345678901234")),
        Some(404)
    );
}

#[test]
fn trunk_selection_by_owned_range_else_first_enabled() {
    let (p, s) = (plan(), snapshot());
    // 1001's identity is rådhus's main number: no trunk owns it → first enabled (b-main).
    assert_eq!(
        trunk_of(&route(&p, &s, "1001", "22334455")).map(|t| t.0),
        Some("b-main")
    );
    // 9401 at fjuk presents 63869401, owned by c-fjuk.
    assert_eq!(
        trunk_of(&route(&p, &s, "9401", "22334455")).map(|t| t.0),
        Some("c-fjuk")
    );
    let mut none = snapshot();
    none.trunks.retain(|t| !t.enabled);
    assert_eq!(status_of(&route(&p, &none, "1001", "22334455")), Some(503));
    assert_eq!(
        p.emergency_trunk(&caller(&s, "1003"), &s)
            .map(|t| t.name.clone())
            .as_deref(),
        Some("b-main")
    );
    assert!(p.emergency_trunk(&CallerInfo::unknown(), &none).is_none());
}

#[test]
fn inbound_routes_direct_numbers_only() {
    let p = plan_with(vec![offset_mapping()]);
    let s = snapshot();
    assert_eq!(ext_of(&p.route_inbound("63869001", &s)), Some("1001"));
    assert_eq!(ext_of(&p.route_inbound("+4763869002", &s)), Some("1002"));
    assert_eq!(ext_of(&p.route_inbound("63869401", &s)), Some("9401"));
    assert_eq!(
        status_of(&p.route_inbound("63869004", &s)),
        Some(404),
        "disabled"
    );
    assert_eq!(
        status_of(&p.route_inbound("22334455", &s)),
        Some(404),
        "not ours"
    );
    assert_eq!(
        status_of(&p.route_inbound("1001", &s)),
        Some(404),
        "extensions are not DIDs"
    );
    assert_eq!(status_of(&p.route_inbound("112", &s)), Some(404));
    assert_eq!(status_of(&p.route_inbound("abc", &s)), Some(404));
}

#[test]
fn identities() {
    let p = plan_with(vec![offset_mapping()]);
    let s = snapshot();
    let id = p.identity(&caller(&s, "1002"), false, &s);
    assert_eq!(id.number.as_deref(), Some("63869002"));
    assert_eq!(id.location, None);
    // Emergency: the site's number and address.
    let id = p.identity(&caller(&s, "1002"), true, &s);
    assert_eq!(id.number.as_deref(), Some("63869000"));
    assert_eq!(
        id.location.as_deref(),
        Some("radhusveien 1, 1920 Sørumsand")
    );
    let id = p.identity(&caller(&s, "2001"), true, &s);
    assert_eq!(id.number.as_deref(), Some("63869400"));
    // Without a mapping: the default-rule DID if it is in range, else the main number.
    let d = plan();
    assert_eq!(
        d.identity(&caller(&s, "9401"), false, &s).number.as_deref(),
        Some("63869401")
    );
    assert_eq!(
        d.identity(&caller(&s, "1002"), false, &s).number.as_deref(),
        Some("63869000")
    );
    let unknown = d.identity(&CallerInfo::unknown(), true, &s);
    assert_eq!(
        unknown.number.as_deref(),
        Some("63869400"),
        "first site by code: fjuk"
    );
    assert!(unknown.location.is_some());
}

#[test]
fn inbound_number_prefers_request_uri_digits() {
    use sip_core::message::{Header, Host, Method, NameAddr, Request, SipUri, Uri};
    let uri = |user: Option<&str>| {
        let mut u = SipUri::new(Host::Domain("sentral".into()));
        u.user = user.map(Into::into);
        Uri::Sip(u)
    };
    let mut req = Request::new(Method::Invite, uri(Some("+4763869001")));
    req.headers
        .push(Header::To(NameAddr::new(uri(Some("63869002")))));
    assert_eq!(inbound_number(&req).as_deref(), Some("+4763869001"));
    req.uri = uri(Some("sorum-trunk"));
    assert_eq!(inbound_number(&req).as_deref(), Some("63869002"));
    req.uri = uri(None);
    req.headers = Default::default();
    assert_eq!(inbound_number(&req), None);
}

#[test]
fn lenient_plan_drops_bad_entries_and_keeps_emergency() {
    let mut c = PbxConfig::default();
    c.emergency_numbers.push("11x".into());
    c.dial_plan.did_mappings = vec![
        DidMapping {
            first: "bad".into(),
            last: "bad".into(),
            target: DidTarget::Extension("1001".into()),
        },
        offset_mapping(),
    ];
    assert!(DialPlan::new(&c).is_err());
    let p = DialPlan::lenient(&c);
    let s = snapshot();
    assert!(matches!(
        route(&p, &s, "1003", "112"),
        Route::Emergency { .. }
    ));
    assert_eq!(ext_of(&route(&p, &s, "1003", "63869001")), Some("1001"));
}

#[test]
fn fallback_normalisation_matches_the_plan() {
    let p = plan();
    for s in [
        "+47 22 33 44 55",
        "0047-112",
        "+46 8 1234567",
        "112",
        "(0)22",
        "1 12",
    ] {
        assert_eq!(fallback_normalise(s), p.normalise(s), "{s}");
    }
    assert_eq!(fallback_normalise("12#"), None);
}

/// The key a refused configuration names, or `None` when the plan is accepted.
fn refused_key(c: &PbxConfig) -> Option<String> {
    match DialPlan::new(c) {
        Ok(_) => None,
        Err(DialPlanError::Config { key, .. }) => Some(key),
        Err(e) => panic!("expected a configuration error naming a key, got {e}"),
    }
}

#[test]
fn the_default_configuration_is_a_valid_dial_plan() {
    assert_eq!(refused_key(&PbxConfig::default()), None);
    assert_eq!(validate(&PbxConfig::default()), Ok(()));
}

#[test]
fn extension_length_out_of_range_is_refused() {
    for digits in [0, 1, 9, 12] {
        let c = PbxConfig {
            extension_digits: digits,
            ..PbxConfig::default()
        };
        assert_eq!(
            refused_key(&c).as_deref(),
            Some("pbx.extension_digits"),
            "{digits}"
        );
    }
    for digits in [2, 8] {
        let mut c = PbxConfig {
            extension_digits: digits,
            ..PbxConfig::default()
        };
        // The default 1412 is a 4-digit number; keep the list valid for any length.
        c.emergency_numbers = vec!["112".into()];
        assert_eq!(refused_key(&c), None, "{digits}");
    }
}

#[test]
fn emergency_list_must_hold_112_once_and_only_numbers() {
    let with = |numbers: &[&str]| PbxConfig {
        emergency_numbers: numbers.iter().map(|n| n.to_string()).collect(),
        ..PbxConfig::default()
    };
    let key = Some("pbx.emergency_numbers");
    assert_eq!(refused_key(&with(&[])).as_deref(), key, "empty");
    assert_eq!(
        refused_key(&with(&["110", "113"])).as_deref(),
        key,
        "no 112"
    );
    assert_eq!(
        refused_key(&with(&["112", "110", "112"])).as_deref(),
        key,
        "twice"
    );
    assert_eq!(refused_key(&with(&["112"])), None);
    let err = DialPlan::new(&with(&["110"])).expect_err("no 112");
    assert_eq!(
        err.to_string(),
        "pbx.emergency_numbers: must contain 112",
        "the message names the key and the fix"
    );
}

#[test]
fn overlapping_did_mappings_are_refused_naming_both() {
    let switchboard = DidMapping {
        first: "63869100".into(),
        last: "63869100".into(),
        target: DidTarget::Extension("2001".into()),
    };
    let mut c = PbxConfig::default();
    c.dial_plan.did_mappings = vec![offset_mapping(), switchboard.clone()];
    let err = DialPlan::new(&c).expect_err("63869100 is in both");
    let text = err.to_string();
    assert!(text.starts_with("dial_plan.did_mappings[1]: "), "{text}");
    assert!(text.contains("dial_plan.did_mappings[0]"), "{text}");
    // Ranges of another length never overlap, whatever their digits.
    let short = DidMapping {
        first: "6386".into(),
        last: "6387".into(),
        target: DidTarget::Extension("2001".into()),
    };
    c.dial_plan.did_mappings = vec![offset_mapping(), short];
    assert_eq!(refused_key(&c), None);
}

#[test]
fn did_mappings_must_reach_extensions_of_the_configured_length() {
    let mut c = PbxConfig::default();
    c.dial_plan.did_mappings = vec![DidMapping {
        first: "63869000".into(),
        last: "63869000".into(),
        target: DidTarget::Extension("20011".into()),
    }];
    assert_eq!(
        refused_key(&c).as_deref(),
        Some("dial_plan.did_mappings[0]")
    );
    // An offset range that runs past the extension width (9000 + 1999 = 10999).
    c.dial_plan.did_mappings = vec![DidMapping {
        first: "63868000".into(),
        last: "63869999".into(),
        target: DidTarget::Offset {
            extension_first: "9000".into(),
        },
    }];
    assert_eq!(
        refused_key(&c).as_deref(),
        Some("dial_plan.did_mappings[0]")
    );
}

#[test]
fn class_rules_cannot_repeat_or_restrict_emergency_calls() {
    let mut c = PbxConfig::default();
    c.dial_plan.class_overrides = vec![
        (DestinationClass::Directory, Requirement::Blocked),
        (
            DestinationClass::Directory,
            Requirement::Class(ClassOfService::National),
        ),
    ];
    assert_eq!(
        refused_key(&c).as_deref(),
        Some("dial_plan.classes.directory")
    );
    c.dial_plan.class_overrides = vec![(DestinationClass::Emergency, Requirement::Blocked)];
    assert_eq!(
        refused_key(&c).as_deref(),
        Some("dial_plan.classes.emergency")
    );
}
