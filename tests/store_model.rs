//! Store tests for the configuration model: sites, departments, number ranges,
//! extensions, trunks, tariff files, audit log, the configuration counter. Each case runs
//! on SQLite and on PostgreSQL.

mod store_support;

use store::*;

both_backends!(
    sites_departments_and_ranges,
    extensions_crud,
    trunks_and_secrets,
    tariff_files_and_audit
);

fn site(code: &str, dept: Option<&str>) -> NewSite {
    NewSite {
        code: code.into(),
        name: format!("Site {code}"),
        address: "Rådhusveien 1, Sørumsand".into(),
        department: dept.map(str::to_string),
    }
}

fn ext(number: &str, site: &str) -> NewExtension {
    NewExtension {
        number: number.into(),
        display_name: format!("Phone {number}"),
        site: site.into(),
        department: None,
        class_of_service: ClassOfService::National,
        premium_allowed: false,
        credentials: Credentials::from_password(number, DEFAULT_REALM, "secret-pw"),
        enabled: true,
    }
}

async fn sites_departments_and_ranges(s: Store) {
    let v0 = s.config_version().await.expect("version").version;
    let radhus = s
        .add_site(&site("radhus", Some("Administrasjon")))
        .await
        .expect("add site");
    assert!(
        s.config_version().await.expect("version").version > v0,
        "a config write bumps the counter"
    );

    match s.add_site(&site("radhus", None)).await {
        Err(StoreError::Duplicate {
            entity: "site",
            key,
        }) => assert_eq!(key, "radhus"),
        other => panic!("expected duplicate site, got {other:?}"),
    }
    assert!(matches!(
        s.add_site(&site("bad code!", None)).await,
        Err(StoreError::Invalid { .. })
    ));

    s.add_number_range(RangeOwner::Site(radhus), "63869000", "63869399")
        .await
        .expect("range");
    for (first, last) in [
        ("63869399", "63869500"),
        ("63868000", "63869000"),
        ("63869100", "63869100"),
    ] {
        match s
            .add_number_range(RangeOwner::Site(radhus), first, last)
            .await
        {
            Err(StoreError::Invalid {
                what: "number range",
                reason,
            }) => assert!(reason.contains("overlaps"), "{reason}"),
            other => panic!("{first}-{last} overlaps but got {other:?}"),
        }
    }
    for (first, last) in [
        ("6386a000", "63869999"),
        ("1000", "999"),
        ("63869999", "63869400"),
    ] {
        assert!(
            matches!(
                s.add_number_range(RangeOwner::Site(radhus), first, last)
                    .await,
                Err(StoreError::Invalid { .. })
            ),
            "{first}-{last} must be refused"
        );
    }
    // Same digits, other length: no overlap.
    s.add_number_range(RangeOwner::Site(radhus), "6386", "6386")
        .await
        .expect("short range");

    let got = s
        .site_by_code("radhus")
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(got.id, radhus);
    assert_eq!(got.department.as_deref(), Some("Administrasjon"));
    assert_eq!(got.address, "Rådhusveien 1, Sørumsand");
    assert_eq!(got.number_ranges.len(), 2);
    assert!(got.number_ranges.iter().any(|r| r.contains("63869002")));
    assert!(s.site_by_code("nope").await.expect("get").is_none());

    let hit = s
        .find_number_range("63869320")
        .await
        .expect("find")
        .expect("in range");
    assert_eq!(hit.owner, RangeOwner::Site(radhus));
    assert!(
        s.find_number_range("63869400")
            .await
            .expect("find")
            .is_none()
    );
    assert!(
        s.find_number_range("638690001")
            .await
            .expect("find")
            .is_none()
    );

    // Upsert keeps the id and updates the fields.
    let mut changed = site("radhus", Some("Økonomi"));
    changed.name = "Sørum rådhus".into();
    assert_eq!(s.upsert_site(&changed).await.expect("upsert"), radhus);
    s.add_site(&site("vektergarden", None))
        .await
        .expect("second site");
    let all = s.sites().await.expect("sites");
    assert_eq!(
        all.iter().map(|x| x.code.as_str()).collect::<Vec<_>>(),
        ["radhus", "vektergarden"]
    );
    assert_eq!(all[0].name, "Sørum rådhus");
    assert_eq!(all[0].department.as_deref(), Some("Økonomi"));
    let depts = s.departments().await.expect("departments");
    assert_eq!(
        depts.iter().map(|d| d.name.as_str()).collect::<Vec<_>>(),
        ["Administrasjon", "Økonomi"]
    );

    assert_eq!(
        s.clear_number_ranges(RangeOwner::Site(radhus))
            .await
            .expect("clear"),
        2
    );
    s.remove_site("vektergarden").await.expect("remove");
    assert!(matches!(
        s.remove_site("vektergarden").await,
        Err(StoreError::NotFound { .. })
    ));
}

async fn extensions_crud(s: Store) {
    s.add_site(&site("radhus", Some("Administrasjon")))
        .await
        .expect("site");
    match s.add_extension(&ext("1001", "nope")).await {
        Err(StoreError::NotFound {
            entity: "site",
            key,
        }) => assert_eq!(key, "nope"),
        other => panic!("expected unknown site, got {other:?}"),
    }
    s.add_extension(&ext("1001", "radhus")).await.expect("add");
    match s.add_extension(&ext("1001", "radhus")).await {
        Err(StoreError::Duplicate {
            entity: "extension",
            key,
        }) => assert_eq!(key, "1001"),
        other => panic!("expected duplicate extension, got {other:?}"),
    }
    assert!(matches!(
        s.add_extension(&ext("10a1", "radhus")).await,
        Err(StoreError::Invalid { .. })
    ));
    let mut other = ext("1002", "radhus");
    other.department = Some("Oppvekst".into());
    other.class_of_service = ClassOfService::Internal;
    s.add_extension(&other).await.expect("add second");

    let e = s.extension("1001").await.expect("get").expect("exists");
    assert_eq!(e.site, "radhus");
    assert_eq!(
        e.department.as_deref(),
        Some("Administrasjon"),
        "defaults to the site's department"
    );
    assert_eq!(e.class_of_service, ClassOfService::National);
    assert_eq!(
        e.credentials,
        Credentials::from_password("1001", DEFAULT_REALM, "secret-pw")
    );
    assert!(e.enabled);
    let json = serde_json::to_string(&e).expect("json");
    assert!(
        !json.contains(&e.credentials.ha1_md5),
        "HA1 never serialised: {json}"
    );

    let list = s.extensions().await.expect("list");
    assert_eq!(list.len(), 2);
    assert_eq!(list[1].department.as_deref(), Some("Oppvekst"));
    assert_eq!(list[1].class_of_service, ClassOfService::Internal);

    s.set_extension_enabled("1002", false)
        .await
        .expect("disable");
    s.set_extension_class("1002", ClassOfService::International, true)
        .await
        .expect("class");
    let new_creds = Credentials::from_password("1002", DEFAULT_REALM, "new");
    s.set_extension_credentials("1002", &new_creds)
        .await
        .expect("creds");
    let e2 = s.extension("1002").await.expect("get").expect("exists");
    assert!(!e2.enabled && e2.premium_allowed);
    assert_eq!(e2.class_of_service, ClassOfService::International);
    assert_eq!(e2.credentials, new_creds);
    assert!(matches!(
        s.set_extension_enabled("9999", true).await,
        Err(StoreError::NotFound { .. })
    ));

    // A site with extensions cannot be removed.
    let r = s.remove_site("radhus").await;
    assert!(matches!(r, Err(StoreError::Invalid { .. })), "{r:?}");
    s.remove_extension("1002").await.expect("remove");
    assert!(s.extension("1002").await.expect("get").is_none());
}

async fn trunks_and_secrets(s: Store) {
    let t = NewTrunk {
        name: "telenor".into(),
        host: "sip.provider.example".into(),
        port: 5060,
        transport: TrunkTransport::Udp,
        username: Some("sorum".into()),
        secret: Some(Secret::new("trunk-secret-42")),
        register: true,
        channel_limit: Some(30),
        allowed_sources: vec!["192.0.2.10".into(), "198.51.100.0/24".into()],
        enabled: true,
    };
    let id = s.add_trunk(&t).await.expect("add trunk");
    assert!(matches!(
        s.add_trunk(&t).await,
        Err(StoreError::Duplicate {
            entity: "trunk",
            ..
        })
    ));
    s.add_number_range(RangeOwner::Trunk(id), "63860000", "63860099")
        .await
        .expect("trunk range");
    let got = s.trunk("telenor").await.expect("get").expect("exists");
    assert_eq!(got.id, id);
    assert_eq!(
        got.secret.as_ref().map(Secret::expose),
        Some("trunk-secret-42")
    );
    assert_eq!(got.allowed_sources, t.allowed_sources);
    assert_eq!(got.channel_limit, Some(30));
    assert_eq!(got.number_ranges.len(), 1);
    let debug = format!("{got:?}");
    assert!(
        !debug.contains("trunk-secret-42"),
        "secret leaked in Debug: {debug}"
    );
    s.remove_trunk("telenor").await.expect("remove");
    assert!(s.trunks().await.expect("list").is_empty());
    assert!(
        s.number_ranges().await.expect("ranges").is_empty(),
        "ranges go with their trunk"
    );
}

async fn tariff_files_and_audit(s: Store) {
    assert!(
        s.active_tariff_file(TariffFileKind::Dataset)
            .await
            .expect("active")
            .is_none()
    );
    let mut f = NewTariffFile {
        kind: TariffFileKind::Dataset,
        name: "sorum-sample".into(),
        version: "1".into(),
        valid_from: chrono::NaiveDate::from_ymd_opt(2005, 1, 1),
        valid_to: chrono::NaiveDate::from_ymd_opt(2006, 12, 31),
        content: "schema_version = 1\n# æøå\n".into(),
    };
    let first = s.import_tariff_file(&f, true).await.expect("import");
    f.version = "2".into();
    let second = s.import_tariff_file(&f, true).await.expect("import 2");
    f.kind = TariffFileKind::Tariff;
    f.version = "3".into();
    let tariff = s.import_tariff_file(&f, true).await.expect("import 3");
    let active = s
        .active_tariff_file(TariffFileKind::Dataset)
        .await
        .expect("active")
        .expect("one active");
    assert_eq!(active.id, second);
    assert_eq!(active.content, f.content);
    assert_eq!(active.valid_to, f.valid_to);
    assert_eq!(active.version, "2");
    let active_tariff = s
        .active_tariff_file(TariffFileKind::Tariff)
        .await
        .expect("active")
        .expect("one active");
    assert_eq!(
        active_tariff.id, tariff,
        "each kind has its own active file"
    );
    let all = s.tariff_files().await.expect("all");
    assert_eq!(all.len(), 3);
    assert!(all.iter().any(|x| x.id == first && !x.active));

    s.audit(&NewAuditEntry {
        actor: "cli:root".into(),
        action: "site.add".into(),
        detail: "radhus".into(),
        source: "cli".into(),
    })
    .await
    .expect("audit");
    let log = s.audit_log(10).await.expect("log");
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].action, "site.add");
}

both_backends!(import_sites_is_atomic_and_repeatable);

fn import(code: &str, dept: &str, first: &str, last: &str) -> SiteImport {
    SiteImport {
        site: NewSite {
            code: code.into(),
            name: code.to_uppercase(),
            address: "Sørumsand".into(),
            department: Some(dept.into()),
        },
        ranges: vec![(first.into(), last.into())],
    }
}

async fn import_sites_is_atomic_and_repeatable(s: Store) {
    let file = vec![
        import("a", "Oppvekst", "63869000", "63869099"),
        import("b", "Kultur", "63869100", "63869199"),
    ];
    let sum = s.import_sites(&file).await.expect("import");
    assert_eq!(
        (
            sum.sites_created,
            sum.sites_updated,
            sum.departments,
            sum.ranges
        ),
        (2, 0, 2, 2)
    );

    // Again, with the ranges swapped between the sites: updates, no clash with old selves.
    let swapped = vec![
        import("a", "Oppvekst", "63869100", "63869199"),
        import("b", "Kultur", "63869000", "63869099"),
    ];
    let sum = s.import_sites(&swapped).await.expect("re-import");
    assert_eq!((sum.sites_created, sum.sites_updated), (0, 2));
    let a = s.site_by_code("a").await.expect("get").expect("a");
    assert_eq!(
        a.number_ranges
            .iter()
            .map(|r| r.first.as_str())
            .collect::<Vec<_>>(),
        ["63869100"]
    );
    assert_eq!(s.number_ranges().await.expect("ranges").len(), 2);

    // A file whose ranges overlap stores nothing at all.
    let v = s.config_version().await.expect("version").version;
    let bad = vec![
        import("c", "Teknisk", "63870000", "63870099"),
        import("d", "Teknisk", "63870050", "63870150"),
    ];
    match s.import_sites(&bad).await {
        Err(StoreError::Invalid {
            what: "number range",
            reason,
        }) => assert!(reason.contains("overlaps"), "{reason}"),
        other => panic!("expected an overlap, got {other:?}"),
    }
    assert!(
        s.site_by_code("c").await.expect("get").is_none(),
        "rolled back"
    );
    assert_eq!(
        s.config_version().await.expect("version").version,
        v,
        "nothing written, nothing bumped"
    );
    let bad_range = vec![import("e", "Teknisk", "6387", "63870099")];
    assert!(matches!(
        s.import_sites(&bad_range).await,
        Err(StoreError::Invalid { .. })
    ));
}
