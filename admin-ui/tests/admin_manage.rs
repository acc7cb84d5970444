//! Management pages and their API: editing extensions, sites and departments, trunks
//! with a write-only password, the downloads of every table (XLSX read back with
//! calamine), per-field messages in both languages, and the refusals.

mod support;

use std::io::Cursor;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use calamine::{Data, DataType, Reader, Xlsx};
use serde_json::json;
use store::Store;
use support::{Browser, TestApp};

async fn seed_extension(app: &TestApp, number: &str, site: &str) {
    app.store
        .add_extension(&store::NewExtension {
            number: number.into(),
            display_name: "Resepsjon".into(),
            site: site.into(),
            department: None,
            class_of_service: store::ClassOfService::National,
            premium_allowed: false,
            credentials: store::Credentials::from_password(number, store::DEFAULT_REALM, "pw"),
            enabled: true,
        })
        .await
        .unwrap_or_else(|e| panic!("extension: {e}"));
}

async fn actions(store: &Store) -> Vec<String> {
    store
        .audit_log(100)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|e| format!("{} {}", e.action, e.detail))
        .collect()
}

/// Posts a form as a browser asking for English.
async fn post_en(
    app: &TestApp,
    path: &str,
    b: &Browser,
    fields: &[(&str, &str)],
) -> support::Reply {
    let mut all = vec![("csrf", b.csrf.as_str())];
    all.extend_from_slice(fields);
    let body = serde_urlencoded::to_string(&all).unwrap_or_default();
    let req = Request::post(path)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::COOKIE, &b.cookie)
        .header(header::ACCEPT_LANGUAGE, "en")
        .body(Body::from(body))
        .unwrap_or_default();
    app.send(req).await
}

fn sheet(bytes: &[u8], name: &str) -> Vec<Vec<Data>> {
    let mut book: Xlsx<_> =
        Xlsx::new(Cursor::new(bytes.to_vec())).unwrap_or_else(|e| panic!("XLSX opens: {e}"));
    let range = book
        .worksheet_range(name)
        .unwrap_or_else(|e| panic!("sheet {name}: {e}"));
    range.rows().map(|r| r.to_vec()).collect()
}

fn text(d: &Data) -> String {
    match d {
        Data::String(s) => s.clone(),
        Data::Empty => String::new(),
        other => other.to_string(),
    }
}

async fn edit_extension_every_field(store: Store) {
    let app = TestApp::new(store.clone()).await;
    app.seed_site("radhus").await;
    app.seed_site("skole").await;
    store
        .ensure_department("Helse", None)
        .await
        .unwrap_or_else(|e| panic!("department: {e}"));
    seed_extension(&app, "2001", "radhus").await;
    let b = app.session("admin").await;
    let form = app.get("/extensions/2001", Some(&b)).await;
    assert_eq!(form.status, StatusCode::OK);
    for field in [
        "id=\"display_name\"",
        "id=\"site\"",
        "id=\"department\"",
        "id=\"class_of_service\"",
        "name=\"enabled\"",
    ] {
        assert!(form.body.contains(field), "{field} on the edit page");
    }
    let r = app
        .post(
            "/extensions/2001",
            &b,
            &[
                ("display_name", "Sentralbord"),
                ("site", "skole"),
                ("department", "Helse"),
                ("class_of_service", "mobile"),
                ("premium_allowed", "true"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), Some("/extensions"));
    let e = store
        .extension("2001")
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("kept"));
    assert_eq!(e.display_name, "Sentralbord");
    assert_eq!(e.site, "skole");
    assert_eq!(e.department.as_deref(), Some("Helse"));
    assert_eq!(e.class_of_service, store::ClassOfService::Mobile);
    assert!(e.premium_allowed && !e.enabled);
    let list = app.get("/extensions", Some(&b)).await;
    assert!(
        list.body.contains("<td>Sentralbord</td><td>skole</td>"),
        "{}",
        list.body
    );
    assert!(
        actions(&store)
            .await
            .iter()
            .any(|a| a.starts_with("extension.update extension 2001:")
                && a.contains("site \"radhus\" -> \"skole\"")),
        "audited with what changed"
    );
    // Wrong fields: each named next to its field, in bokmål by default and in English
    // when asked; nothing stored.
    let bad = [
        ("display_name", " "),
        ("site", "nowhere"),
        ("department", ""),
        ("class_of_service", "galactic"),
        ("enabled", "true"),
    ];
    let r = app.post("/extensions/2001", &b, &bad).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("id=\"form-errors\""));
    assert!(
        r.body
            .contains("<p class=\"field-error\" id=\"display_name-error\">Må fylles ut</p>"),
        "{}",
        r.body
    );
    assert!(
        r.body
            .contains("id=\"site-error\">Lokasjonen finnes ikke: nowhere")
    );
    assert!(
        r.body
            .contains("id=\"class_of_service-error\">Ukjent tjenesteklasse: galactic")
    );
    assert!(r.body.contains("aria-describedby=\"display_name-error\""));
    let r = post_en(&app, "/extensions/2001", &b, &bad).await;
    assert!(
        r.body.contains("id=\"display_name-error\">Required</p>"),
        "{}",
        r.body
    );
    assert!(r.body.contains("id=\"site-error\">No such site: nowhere"));
    let e = store
        .extension("2001")
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("kept"));
    assert_eq!(e.display_name, "Sentralbord");
    // Creating is checked the same way.
    let r = app
        .post(
            "/extensions",
            &b,
            &[
                ("number", "12a"),
                ("display_name", ""),
                ("site", "radhus"),
                ("class_of_service", "mobile"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.body.contains("Internnummer må være 2 til 8 siffer: 12a"),
        "{}",
        r.body
    );
    assert!(r.body.contains("href=\"#display_name\">Må fylles ut"));
    assert!(store.extension("12a").await.ok().flatten().is_none());
    // The same through the API: a partial PATCH, then field errors as JSON.
    let admin = app.token("admin").await;
    let r = app
        .api(
            "PATCH",
            "/api/v1/extensions/2001",
            Some(&admin),
            Some(json!({ "site": "radhus", "display_name": "Vakt", "enabled": true })),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["site"], "radhus");
    assert_eq!(r.json()["display_name"], "Vakt");
    assert_eq!(r.json()["department"], "Helse", "department kept");
    assert_eq!(r.json()["class_of_service"], "mobile", "class kept");
    let r = app
        .api(
            "PATCH",
            "/api/v1/extensions/2001",
            Some(&admin),
            Some(json!({ "site": "nowhere", "class_of_service": "x" })),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json()["error"]["code"], "invalid_input");
    let fields: Vec<String> = r.json()["error"]["fields"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| f["field"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(fields, ["site", "class_of_service"]);
    let r = app
        .api(
            "PATCH",
            "/api/v1/extensions/2001",
            Some(&admin),
            Some(json!({ "secret": 1 })),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown fields are refused"
    );
}

async fn edit_sites_and_departments(store: Store) {
    let app = TestApp::new(store.clone()).await;
    app.seed_site("radhus").await;
    app.seed_site("skole").await;
    let skole = store
        .site_by_code("skole")
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("site"));
    store
        .add_number_range(store::RangeOwner::Site(skole.id), "22335000", "22335099")
        .await
        .unwrap_or_else(|e| panic!("range: {e}"));
    let b = app.session("admin").await;
    let before = store
        .config_version()
        .await
        .map(|v| v.version)
        .unwrap_or_default();
    let r = app
        .post(
            "/sites/radhus",
            &b,
            &[
                ("name", "Rådhuset"),
                ("address", "Storgata 1"),
                ("department", ""),
                ("ranges", "22334400-22334499\r\n22334600"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let s = store
        .site_by_code("radhus")
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("site"));
    assert_eq!(
        (s.name.as_str(), s.address.as_str()),
        ("Rådhuset", "Storgata 1")
    );
    assert_eq!(s.department, None);
    let ranges: Vec<(String, String)> = s
        .number_ranges
        .iter()
        .map(|r| (r.first.clone(), r.last.clone()))
        .collect();
    assert_eq!(
        ranges,
        [
            ("22334400".to_string(), "22334499".to_string()),
            ("22334600".to_string(), "22334600".to_string())
        ]
    );
    assert!(
        store
            .config_version()
            .await
            .map(|v| v.version)
            .unwrap_or_default()
            > before,
        "the PBX sees the change"
    );
    // An overlap with another site's range and a reversed range are named; nothing stored.
    let r = app
        .post(
            "/sites/radhus",
            &b,
            &[
                ("name", "Rådhuset"),
                ("ranges", "22335050-22335060\n22334499-22334400"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.body.contains(
            "Overlapper en annen nummerserie: 22335050-22335060 / 22335000-22335099 (site skole)"
        ),
        "{}",
        r.body
    );
    assert!(
        r.body
            .contains("Første nummer i serien kommer etter siste: 22334499-22334400")
    );
    let s = store
        .site_by_code("radhus")
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("site"));
    assert_eq!(s.number_ranges.len(), 2, "unchanged");
    assert_eq!(s.address, "Storgata 1");
    // API PATCH: only the ranges.
    let admin = app.token("admin").await;
    let r = app
        .api(
            "PATCH",
            "/api/v1/sites/radhus",
            Some(&admin),
            Some(json!({ "number_ranges": ["22334700-22334799"] })),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["name"], "Rådhuset");
    assert_eq!(r.json()["number_ranges"][0]["first"], "22334700");
    let r = app
        .api(
            "PATCH",
            "/api/v1/sites/radhus",
            Some(&admin),
            Some(json!({ "number_ranges": ["22335000"] })),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json()["error"]["fields"][0]["field"], "ranges");
    // Departments: rename, then delete refused while in use, allowed when not.
    let it = store
        .departments()
        .await
        .unwrap_or_default()
        .into_iter()
        .find(|d| d.name == "IT")
        .unwrap_or_else(|| panic!("IT"));
    let r = app
        .post(
            &format!("/departments/{}", it.id.0),
            &b,
            &[("name", "IKT"), ("cost_centre", "1200")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let s = store
        .site_by_code("skole")
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("site"));
    assert_eq!(
        s.department.as_deref(),
        Some("IKT"),
        "the site follows the rename"
    );
    let r = app
        .post(&format!("/departments/{}/delete", it.id.0), &b, &[])
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(
        r.body.contains(
            "Avdelingen kan ikke slettes fordi den er i bruk (1 lokasjoner, 0 internnumre)"
        ),
        "{}",
        r.body
    );
    let r = app
        .api(
            "DELETE",
            &format!("/api/v1/departments/{}", it.id.0),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.json()["error"]["code"], "conflict");
    assert!(
        store
            .departments()
            .await
            .unwrap_or_default()
            .iter()
            .any(|d| d.name == "IKT")
    );
    // A taken name is a field error.
    store
        .ensure_department("Helse", None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let r = app
        .api(
            "PATCH",
            &format!("/api/v1/departments/{}", it.id.0),
            Some(&admin),
            Some(json!({ "name": "Helse" })),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    // Free the department, then it goes.
    let r = app
        .api(
            "PATCH",
            "/api/v1/sites/skole",
            Some(&admin),
            Some(json!({ "department": "Helse" })),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = app
        .post(&format!("/departments/{}/delete", it.id.0), &b, &[])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert!(
        !store
            .departments()
            .await
            .unwrap_or_default()
            .iter()
            .any(|d| d.name == "IKT")
    );
    let log = actions(&store).await;
    for a in ["site.update", "department.update", "department.remove"] {
        assert!(log.iter().any(|x| x.starts_with(a)), "{a} audited: {log:?}");
    }
    // A new site takes its ranges along; a bad code and an overlapping range are named.
    let r = app
        .post(
            "/sites",
            &b,
            &[("code", "ny skole"), ("name", ""), ("ranges", "22334750")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.body.contains("id=\"code-error\">Bruk 1 til 64 bokstaver"),
        "{}",
        r.body
    );
    assert!(r.body.contains("id=\"name-error\">Må fylles ut"));
    assert!(
        r.body
            .contains("22334750 / 22334700-22334799 (site radhus)")
    );
    let r = app
        .post(
            "/sites",
            &b,
            &[
                ("code", "bibliotek"),
                ("name", "Biblioteket"),
                ("ranges", "22336000-22336099"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let s = store
        .site_by_code("bibliotek")
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("created"));
    assert_eq!(s.number_ranges.len(), 1);
    let r = app
        .api(
            "POST",
            "/api/v1/sites",
            Some(&admin),
            Some(json!({ "code": "hall", "name": "Hallen", "number_ranges": ["22336050"] })),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(
        store.site_by_code("hall").await.ok().flatten().is_none(),
        "nothing stored"
    );
    // A store refusal is worded in the page's language too.
    let r = app
        .post("/sites", &b, &[("code", "radhus"), ("name", "Igjen")])
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(
        r.body.contains("lokasjon radhus: finnes allerede"),
        "{}",
        r.body
    );
    let r = app
        .api(
            "PATCH",
            "/api/v1/sites/nowhere",
            Some(&admin),
            Some(json!({ "name": "x" })),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // Finance reads but does not edit.
    let fin = app.session("finance").await;
    assert_eq!(
        app.get("/sites/radhus", Some(&fin)).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.post("/sites/radhus", &fin, &[("name", "x")])
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let fin_token = app.token("finance").await;
    assert_eq!(
        app.api(
            "PATCH",
            "/api/v1/sites/radhus",
            Some(&fin_token),
            Some(json!({ "name": "x" }))
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
}

const SECRET: &str = "provider-Secret-8841";

async fn trunks_with_write_only_password(store: Store) {
    let app = TestApp::new(store.clone()).await;
    let b = app.session("admin").await;
    let before = store
        .config_version()
        .await
        .map(|v| v.version)
        .unwrap_or_default();
    let fields = [
        ("name", "telenor"),
        ("host", "sip.example.net"),
        ("port", "5061"),
        ("transport", "tls"),
        ("username", "kommune"),
        ("password", SECRET),
        ("register", "true"),
        ("channel_limit", "30"),
        ("allowed_sources", "192.0.2.0/28\n2001:db8::7"),
        ("ranges", "22330000-22339999"),
        ("enabled", "true"),
    ];
    let r = app.post("/trunks", &b, &fields).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let t = store
        .trunk("telenor")
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("created"));
    assert_eq!(t.secret.as_ref().map(|s| s.expose()), Some(SECRET));
    assert_eq!(
        (t.port, t.transport, t.channel_limit),
        (5061, store::TrunkTransport::Tls, Some(30))
    );
    assert_eq!(t.allowed_sources, ["192.0.2.0/28", "2001:db8::7"]);
    assert_eq!(t.number_ranges.len(), 1);
    assert!(
        store
            .config_version()
            .await
            .map(|v| v.version)
            .unwrap_or_default()
            > before
    );
    // Never shown again: not on the list, the edit page, the API, the downloads or the log.
    let edit = app.get("/trunks/telenor", Some(&b)).await;
    assert_eq!(edit.status, StatusCode::OK);
    assert!(edit.body.contains("Et passord er lagret"));
    let admin = app.token("admin").await;
    let api = app
        .api("GET", "/api/v1/trunks/telenor", Some(&admin), None)
        .await;
    assert_eq!(api.json()["secret_set"], true);
    assert_eq!(api.json()["username"], "kommune");
    for body in [
        app.get("/trunks", Some(&b)).await.body,
        edit.body.clone(),
        api.body.clone(),
        app.get("/trunks.csv", Some(&b)).await.body,
        String::from_utf8_lossy(&app.get("/trunks.xlsx", Some(&b)).await.bytes).into_owned(),
        app.get("/audit.csv", Some(&b)).await.body,
    ] {
        assert!(!body.contains(SECRET), "the password leaked: {body}");
    }
    // Edit without a password keeps it; with one replaces it; clear removes it.
    let mut edit_fields: Vec<(&str, &str)> = fields.to_vec();
    edit_fields.retain(|(k, _)| *k != "password");
    edit_fields.push(("password", ""));
    let r = app.post("/trunks/telenor", &b, &edit_fields).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let t = store
        .trunk("telenor")
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("kept"));
    assert_eq!(t.secret.as_ref().map(|s| s.expose()), Some(SECRET), "kept");
    let r = app
        .api(
            "PATCH",
            "/api/v1/trunks/telenor",
            Some(&admin),
            Some(json!({ "password": "new-one", "channel_limit": null, "register": false })),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(!r.body.contains("new-one"));
    let t = store
        .trunk("telenor")
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("kept"));
    assert_eq!(t.secret.as_ref().map(|s| s.expose()), Some("new-one"));
    assert_eq!((t.channel_limit, t.register, t.port), (None, false, 5061));
    let r = app
        .api(
            "PATCH",
            "/api/v1/trunks/telenor",
            Some(&admin),
            Some(json!({ "clear_password": true })),
        )
        .await;
    assert_eq!(r.json()["secret_set"], false);
    // Wrong fields, each named (English from the API).
    let r = app
        .api(
            "POST",
            "/api/v1/trunks",
            Some(&admin),
            Some(
                json!({ "name": "bad name", "host": "", "port": 70000, "transport": "sctp",
                         "channel_limit": 0, "allowed_sources": ["10.0.0.0/33", "example.org"],
                         "number_ranges": ["22330500-22330600"] }),
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let fields: Vec<String> = r.json()["error"]["fields"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| f["field"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(
        fields,
        [
            "name",
            "host",
            "port",
            "transport",
            "allowed_sources",
            "allowed_sources",
            "ranges"
        ],
        "{}",
        r.body
    );
    assert!(
        r.body
            .contains("Not an IP address or CIDR block (like 192.0.2.0/24): 10.0.0.0/33")
    );
    // The page shows the same in bokmål, and never echoes a password typed into it.
    let r = app
        .post(
            "/trunks",
            &b,
            &[
                ("name", "ice"),
                ("host", "sip.ice.no"),
                ("port", "x"),
                ("transport", "udp"),
                ("password", "typed-secret-77"),
                ("allowed_sources", "300.1.1.1"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.body
            .contains("id=\"port-error\">Port må være et tall fra 1 til 65535: x"),
        "{}",
        r.body
    );
    assert!(r.body.contains("Ikke en IP-adresse eller CIDR-blokk"));
    assert!(!r.body.contains("typed-secret-77"));
    assert!(store.trunk("ice").await.ok().flatten().is_none());
    // Finance: reads trunks without user name or secret; every change refused.
    let fin = app.token("finance").await;
    let r = app.api("GET", "/api/v1/trunks", Some(&fin), None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()[0]["username"], serde_json::Value::Null);
    assert!(!r.body.contains("kommune"));
    for (method, path, body) in [
        (
            "POST",
            "/api/v1/trunks",
            Some(json!({ "name": "x", "host": "h" })),
        ),
        (
            "PATCH",
            "/api/v1/trunks/telenor",
            Some(json!({ "password": "x" })),
        ),
        ("DELETE", "/api/v1/trunks/telenor", None),
    ] {
        let r = app.api(method, path, Some(&fin), body).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{method} {path}");
    }
    let fin_b = app.session("finance").await;
    let page = app.get("/trunks", Some(&fin_b)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        !page.body.contains("action=\"/trunks\""),
        "no create form for finance"
    );
    assert!(
        !app.get("/trunks.csv", Some(&fin_b))
            .await
            .body
            .contains("kommune")
    );
    assert_eq!(
        app.get("/trunks/telenor", Some(&fin_b)).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.post("/trunks/telenor/delete", &fin_b, &[]).await.status,
        StatusCode::FORBIDDEN
    );
    // Delete, audited.
    let r = app.post("/trunks/telenor/delete", &b, &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(store.trunk("telenor").await.ok().flatten().is_none());
    assert!(
        store.number_ranges().await.unwrap_or_default().is_empty(),
        "its ranges went with it"
    );
    let log = actions(&store).await;
    for a in ["trunk.add", "trunk.update", "trunk.remove"] {
        assert!(log.iter().any(|x| x.starts_with(a)), "{a} audited");
    }
    assert!(
        log.iter()
            .any(|x| x.starts_with("trunk.update") && x.ends_with("password set"))
    );
}

async fn downloads_of_every_table(store: Store) {
    let app = TestApp::new(store.clone()).await;
    app.seed_site("radhus").await;
    seed_extension(&app, "2001", "radhus").await;
    seed_extension(&app, "2002", "radhus").await;
    store
        .add_trunk(&store::NewTrunk {
            name: "telenor".into(),
            host: "sip.example.net".into(),
            port: 5060,
            transport: store::TrunkTransport::Udp,
            username: Some("kommune".into()),
            secret: Some(store::Secret::new(SECRET)),
            register: true,
            channel_limit: Some(30),
            allowed_sources: vec![],
            enabled: true,
        })
        .await
        .unwrap_or_else(|e| panic!("trunk: {e}"));
    let day = chrono::NaiveDate::from_ymd_opt(2026, 3, 10)
        .and_then(|d| d.and_hms_opt(10, 0, 0))
        .map(|t| t.and_utc())
        .unwrap_or_default();
    let talk = [125u32, 61, 3600];
    for (i, secs) in talk.iter().enumerate() {
        let start = day + chrono::Duration::hours(i as i64);
        support::store_answered_call(
            &store,
            store::NewCallRecord {
                trunk: Some("telenor".into()),
                ..support::outbound_call("2001", "=41234567", start)
            },
            *secs,
        )
        .await;
    }
    let b = app.session("admin").await;
    // Every download route answers both formats with a header row, and the page that
    // shows the table links to it.
    for (page, stem) in [
        ("/sites", "/sites"),
        ("/departments", "/departments"),
        ("/extensions", "/extensions"),
        ("/trunks", "/trunks"),
        ("/calls", "/calls"),
        ("/tariffs", "/tariffs"),
        ("/audit", "/audit"),
    ] {
        let p = app.get(page, Some(&b)).await;
        assert_eq!(p.status, StatusCode::OK, "{page}");
        assert!(
            p.body.contains(&format!("href=\"{stem}.csv")),
            "{page} links the CSV"
        );
        assert!(
            p.body.contains(&format!("href=\"{stem}.xlsx")),
            "{page} links the XLSX"
        );
        let csv = app.get(&format!("{stem}.csv"), Some(&b)).await;
        assert_eq!(csv.status, StatusCode::OK, "{stem}.csv");
        assert!(csv.headers.get(header::CONTENT_DISPOSITION).is_some());
        assert!(
            csv.body.lines().next().is_some_and(|l| l.contains(',')),
            "{stem}.csv header"
        );
        let xlsx = app.get(&format!("{stem}.xlsx"), Some(&b)).await;
        assert_eq!(xlsx.status, StatusCode::OK, "{stem}.xlsx");
        assert!(xlsx.bytes.starts_with(b"PK"), "{stem}.xlsx is a zip");
    }
    // Extensions: CSV is still the import format; XLSX holds the same rows.
    let csv = app.get("/extensions.csv", Some(&b)).await;
    assert_eq!(
        csv.body.lines().next(),
        Some("number,display_name,site,department,class_of_service,premium_allowed,enabled")
    );
    let rows = sheet(
        &app.get("/extensions.xlsx", Some(&b)).await.bytes,
        "extensions",
    );
    assert_eq!(rows.len(), 3);
    assert_eq!(text(&rows[1][0]), "2001");
    assert_eq!(rows[1][6], Data::Bool(true));
    // Call records: numbers stay numbers; the talk time and the count match the store.
    let x = app.get("/calls.xlsx", Some(&b)).await;
    let rows = sheet(&x.bytes, "call records");
    assert_eq!(rows.len(), talk.len() + 1);
    let col = rows[0]
        .iter()
        .position(|c| text(c) == "talk_seconds")
        .unwrap_or(usize::MAX);
    let sum: f64 = rows[1..]
        .iter()
        .filter_map(|r| r.get(col))
        .filter_map(|c| c.get_float())
        .sum();
    assert_eq!(sum, talk.iter().map(|s| f64::from(*s)).sum::<f64>());
    // A formula-looking value stays text in XLSX and is neutralised in CSV (CSV injection).
    let number_col = rows[0]
        .iter()
        .position(|c| text(c) == "callee_number")
        .unwrap_or(usize::MAX);
    assert_eq!(
        rows[1].get(number_col),
        Some(&Data::String("=41234567".into()))
    );
    store
        .add_site(&store::NewSite {
            code: "formel".into(),
            name: "=SUM(A1:A9)".into(),
            address: String::new(),
            department: None,
        })
        .await
        .unwrap_or_else(|e| panic!("site: {e}"));
    let csv = app.get("/sites.csv", Some(&b)).await;
    assert!(csv.body.contains("formel,'=SUM(A1:A9),"), "{}", csv.body);
    // Trunks: no secret anywhere; the channel limit is a number.
    let rows = sheet(&app.get("/trunks.xlsx", Some(&b)).await.bytes, "trunks");
    assert_eq!(text(&rows[0][5]), "secret_set");
    assert_eq!(rows[1][5], Data::Bool(true));
    assert_eq!(rows[1][7].get_float(), Some(30.0));
    assert!(rows.iter().flatten().all(|c| text(c) != SECRET));
    // Audit log: every entry, newest first, as many rows as the store holds.
    let all = store.audit_log(u32::MAX).await.unwrap_or_default();
    let rows = sheet(&app.get("/audit.xlsx", Some(&b)).await.bytes, "audit log");
    assert_eq!(rows.len(), all.len() + 1);
    // Finance may download what it may read, not the admin tables.
    let fin = app.session("finance").await;
    for path in [
        "/sites.xlsx",
        "/departments.csv",
        "/trunks.csv",
        "/calls.xlsx",
        "/tariffs.csv",
    ] {
        assert_eq!(
            app.get(path, Some(&fin)).await.status,
            StatusCode::OK,
            "{path}"
        );
    }
    for path in ["/extensions.xlsx", "/audit.csv", "/audit.xlsx"] {
        assert_eq!(
            app.get(path, Some(&fin)).await.status,
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }
}

async fn savings_verdict_in_both_languages(store: Store) {
    let app = TestApp::new(store.clone()).await;
    store
        .import_tariff_file(
            &store::NewTariffFile {
                kind: store::TariffFileKind::Dataset,
                name: "sample".into(),
                version: "1".into(),
                valid_from: None,
                valid_to: None,
                content: billing::dataset::SAMPLE_TOML.to_string(),
            },
            true,
        )
        .await
        .unwrap_or_else(|e| panic!("dataset: {e}"));
    let fin = app.session("finance").await;
    let r = app
        .get("/savings?from=2006-01-01&to=2006-03-31", Some(&fin))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let verdict = r
        .find("<p id=\"verdict\" class=\"notice\"><strong>")
        .unwrap_or_default();
    assert!(verdict.starts_with("Driftsbesparelse "), "{verdict}");
    assert!(
        verdict.contains("kr/år") && verdict.contains("250 000"),
        "{verdict}"
    );
    // The notes and the sensitivity table are in bokmål too.
    assert!(
        r.body.contains("Kontrafaktisk: hver samtale prises"),
        "notes in bokmål"
    );
    assert!(r.body.contains("serviceavtale for den store sentralen"));
    // Everything but the assumptions list, which quotes the data file's own comments.
    let ui_text = format!(
        "{}{}",
        r.body
            .split("<h2>Forutsetninger</h2>")
            .next()
            .unwrap_or_default(),
        r.body.split("id=\"notes\"").nth(1).unwrap_or_default()
    );
    assert!(
        ui_text.contains("Kontrafaktisk"),
        "the notes are checked too"
    );
    for english in [
        "Operating saving",
        "Counterfactual",
        "NOK/year",
        "Seasonality",
    ] {
        assert!(
            !ui_text.contains(english),
            "English on the bokmål page: {english} in {}",
            ui_text
                .find(english)
                .and_then(|i| ui_text.get(i.saturating_sub(200)..i + 50))
                .unwrap_or_default()
        );
    }
    let sensitivity = r
        .body
        .split("<h2>Følsomhet</h2>")
        .nth(1)
        .and_then(|rest| rest.split("<h2>").next())
        .unwrap_or_default();
    assert!(
        sensitivity.contains("årsverk") && !sensitivity.contains("service contract"),
        "{sensitivity}"
    );
    let req = Request::get("/savings?from=2006-01-01&to=2006-03-31")
        .header(header::COOKIE, &fin.cookie)
        .header(header::ACCEPT_LANGUAGE, "en-GB")
        .body(Body::empty())
        .unwrap_or_default();
    let r = app.send(req).await;
    let verdict = r
        .find("<p id=\"verdict\" class=\"notice\"><strong>")
        .unwrap_or_default();
    assert!(verdict.starts_with("Operating saving "), "{verdict}");
    assert!(
        r.body.contains("Counterfactual: every call"),
        "billing's notes in English"
    );
    assert!(r.body.contains("service contract of the large exchange"));
}

both_backends!(
    edit_extension_every_field,
    edit_sites_and_departments,
    trunks_with_write_only_password,
    downloads_of_every_table,
    savings_verdict_in_both_languages,
);
