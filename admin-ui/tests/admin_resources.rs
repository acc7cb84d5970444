//! Pages and API over the store: extensions (create, password once, edit, CSV import all
//! or none with the bad line named, export), API tokens (create, use, revoke), live calls,
//! call records, the SSE feed.

mod support;

use axum::http::StatusCode;
use serde_json::json;
use store::Store;
use support::TestApp;

async fn extension_pages(store: Store) {
    let app = TestApp::new(store.clone()).await;
    app.seed_site("radhus").await;
    let b = app.session("admin").await;
    let r = app
        .post(
            "/extensions",
            &b,
            &[
                ("number", "2001"),
                ("display_name", "Sentralbord"),
                ("site", "radhus"),
                ("department", ""),
                ("class_of_service", "mobile"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let password = r.find("id=\"sip-password\">").unwrap_or_default();
    assert!(password.len() >= 12, "a generated SIP password is shown");
    let ext = store
        .extension("2001")
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("created"));
    assert_eq!(
        ext.credentials,
        store::Credentials::from_password("2001", store::DEFAULT_REALM, &password)
    );
    // Shown once: the list does not show it again.
    let list = app.get("/extensions", Some(&b)).await;
    assert!(!list.body.contains(&password));
    assert!(
        list.body.contains("id=\"reg-2001\" class=\"bad\""),
        "not registered yet"
    );
    app.live.register("2001");
    let list = app.get("/extensions?q=sentral", Some(&b)).await;
    assert!(
        list.body.contains("id=\"reg-2001\" class=\"ok\""),
        "live registration state"
    );
    assert!(
        !app.get("/extensions?q=nomatch", Some(&b))
            .await
            .body
            .contains("reg-2001")
    );
    // Edit: disable and change class (the form sends every field; an unchecked box is
    // left out).
    let r = app
        .post(
            "/extensions/2001",
            &b,
            &[
                ("display_name", "Sentralbord"),
                ("site", "radhus"),
                ("department", ""),
                ("class_of_service", "internal"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let ext = store
        .extension("2001")
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("still there"));
    assert!(!ext.enabled);
    assert_eq!(ext.class_of_service, store::ClassOfService::Internal);
    // Duplicate number: a 409 page, not a crash.
    let dup = app
        .post(
            "/extensions",
            &b,
            &[
                ("number", "2001"),
                ("display_name", "X"),
                ("site", "radhus"),
                ("class_of_service", "mobile"),
            ],
        )
        .await;
    assert_eq!(dup.status, StatusCode::CONFLICT);
    assert!(dup.body.contains("<html lang=\"nb\""));
    // New password, then delete; every change is audited.
    let r = app.post("/extensions/2001/password", &b, &[]).await;
    let new_pw = r.find("id=\"sip-password\">").unwrap_or_default();
    assert!(!new_pw.is_empty() && new_pw != password);
    assert_eq!(
        app.post("/extensions/2001/delete", &b, &[]).await.status,
        StatusCode::SEE_OTHER
    );
    assert!(store.extension("2001").await.ok().flatten().is_none());
    let actions: Vec<String> = store
        .audit_log(20)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|e| e.action)
        .collect();
    for a in [
        "extension.add",
        "extension.update",
        "extension.password",
        "extension.remove",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a} audited: {actions:?}");
    }
}

const GOOD: &str = "number,display_name,site,department,class_of_service,premium_allowed,enabled\n\
3001,Ola,radhus,Helse,national,false,true\n\
3002,Kari,radhus,,mobile,true,true\n";

async fn csv_import_all_or_nothing(store: Store) {
    let app = TestApp::new(store.clone()).await;
    app.seed_site("radhus").await;
    let b = app.session("admin").await;
    let bad = format!(
        "{GOOD}3003,Per,nowhere,,national,false,true\n3004,Liv,radhus,,galaxy,false,true\n"
    );
    let r = app.post("/extensions/import", &b, &[("csv", &bad)]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("id=\"import-errors\""));
    assert!(
        r.body
            .contains("<td>4</td><td>ingen lokasjon &quot;nowhere&quot;</td>"),
        "line 4 named: {}",
        r.body
    );
    assert!(r.body.contains("<td>5</td>"), "line 5 named");
    assert!(
        store.extensions().await.unwrap_or_default().is_empty(),
        "nothing imported"
    );
    // Same number twice in the file.
    let dup = format!("{GOOD}3001,Again,radhus,,national,false,true\n");
    let r = app.post("/extensions/import", &b, &[("csv", &dup)]).await;
    assert!(r.body.contains("står også på linje 2"), "{}", r.body);
    // The API reports per line too.
    let t = app.token("admin").await;
    let req = axum::http::Request::post("/api/v1/extensions/import")
        .header("authorization", format!("Bearer {t}"))
        .header("content-type", "text/csv")
        .body(axum::body::Body::from(bad.clone()))
        .unwrap_or_default();
    let r = app.send(req).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json()["error"]["code"], "import_failed");
    assert_eq!(r.json()["error"]["lines"][0]["line"], 4);
    // The API's messages stay English whatever the client's language.
    assert_eq!(
        r.json()["error"]["lines"][0]["message"],
        "no site \"nowhere\""
    );
    assert!(
        store.extensions().await.unwrap_or_default().is_empty(),
        "nothing imported"
    );
    // A good file imports every line and shows each password once.
    let r = app.post("/extensions/import", &b, &[("csv", GOOD)]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let exts = store.extensions().await.unwrap_or_default();
    assert_eq!(exts.len(), 2);
    assert_eq!(
        exts.iter()
            .find(|e| e.number == "3001")
            .and_then(|e| e.department.clone())
            .as_deref(),
        Some("Helse")
    );
    assert_eq!(r.body.matches("<td class=\"secret\">").count(), 2);
    // Export round-trips the rows.
    let csv = app.get("/extensions.csv", Some(&b)).await;
    assert_eq!(
        csv.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("text/csv; charset=utf-8")
    );
    assert!(csv.body.starts_with(
        "number,display_name,site,department,class_of_service,premium_allowed,enabled\r\n"
    ));
    assert!(
        csv.body.contains("3002,Kari,radhus,IT,mobile,true,true"),
        "{}",
        csv.body
    );
}

async fn api_tokens_create_use_revoke(store: Store) {
    let app = TestApp::new(store.clone()).await;
    app.seed_site("radhus").await;
    let admin = app.token("admin").await;
    let r = app
        .api(
            "POST",
            "/api/v1/tokens",
            Some(&admin),
            Some(json!({ "name": "rapport", "role": "finance" })),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let token = r.json()["token"].as_str().unwrap_or_default().to_string();
    let id = r.json()["id"].as_i64().unwrap_or_default();
    // Stored hashed only.
    let listed = app.api("GET", "/api/v1/tokens", Some(&admin), None).await;
    assert!(!listed.body.contains(&token) && listed.body.contains("rapport"));
    // Finance can read sites and call records, not extensions.
    assert_eq!(
        app.api("GET", "/api/v1/sites", Some(&token), None)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        app.api("GET", "/api/v1/calls?from=2026-01-01", Some(&token), None)
            .await
            .status,
        StatusCode::OK
    );
    let refused = app
        .api("GET", "/api/v1/extensions", Some(&token), None)
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(refused.json()["error"]["code"], "forbidden");
    // Bad input: stable codes.
    let r = app
        .api("GET", "/api/v1/calls?from=yesterday", Some(&token), None)
        .await;
    assert_eq!(r.json()["error"]["code"], "invalid_input");
    let r = app
        .api(
            "POST",
            "/api/v1/extensions",
            Some(&admin),
            Some(json!({ "number": "12" })),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json()["error"]["code"], "invalid_input");
    // Admin creates an extension over the API: the password once, then PATCH and GET.
    let r = app
        .api("POST", "/api/v1/extensions", Some(&admin), Some(json!({ "number": "4001", "display_name": "Vakt", "site": "radhus", "class_of_service": "national" })))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert!(
        r.json()["sip_password"]
            .as_str()
            .is_some_and(|p| !p.is_empty())
    );
    let r = app
        .api(
            "PATCH",
            "/api/v1/extensions/4001",
            Some(&admin),
            Some(json!({ "enabled": false })),
        )
        .await;
    assert_eq!(r.json()["enabled"], false);
    let r = app.api("POST", "/api/v1/extensions", Some(&admin), Some(json!({ "number": "4001", "display_name": "Vakt", "site": "radhus", "class_of_service": "national" }))).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.json()["error"]["code"], "conflict");
    assert_eq!(
        app.api("GET", "/api/v1/extensions/9999", Some(&admin), None)
            .await
            .json()["error"]["code"],
        "not_found"
    );
    // Trunks never carry a secret.
    store
        .add_trunk(&store::NewTrunk {
            name: "telenor".into(),
            host: "sip.example.net".into(),
            port: 5060,
            transport: store::TrunkTransport::Udp,
            username: Some("kommune".into()),
            secret: Some(store::Secret::new("topphemmelig")),
            register: true,
            channel_limit: Some(30),
            allowed_sources: vec![],
            enabled: true,
        })
        .await
        .unwrap_or_else(|e| panic!("trunk: {e}"));
    let t = app.api("GET", "/api/v1/trunks", Some(&token), None).await;
    assert!(
        !t.body.contains("topphemmelig") && !t.body.contains("kommune"),
        "{}",
        t.body
    );
    assert_eq!(t.json()[0]["registered"], true);
    let b = app.session("finance").await;
    assert!(
        !app.get("/trunks", Some(&b))
            .await
            .body
            .contains("topphemmelig")
    );
    // Revoke: the token stops working at once.
    assert_eq!(
        app.api(
            "DELETE",
            &format!("/api/v1/tokens/{id}"),
            Some(&admin),
            None
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
    let r = app.api("GET", "/api/v1/sites", Some(&token), None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.json()["error"]["code"], "unauthorized");
    assert_eq!(
        app.api(
            "DELETE",
            &format!("/api/v1/tokens/{id}"),
            Some(&admin),
            None
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    let actions: Vec<String> = store
        .audit_log(20)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert!(
        actions.contains(&"token.create".to_string())
            && actions.contains(&"token.revoke".to_string())
    );
}

async fn live_calls_and_records(store: Store) {
    let app = TestApp::new(store.clone()).await;
    let b = app.session("admin").await;
    let live = app.get("/live", Some(&b)).await;
    assert!(live.body.contains("action=\"/live/1/hangup\""));
    // Receptionists see live calls but have no hang-up button (and may not use it).
    let desk = app.session("receptionist").await;
    let page = app.get("/live", Some(&desk)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains("hangup"));
    assert_eq!(
        app.post("/live/1/hangup", &desk, &[]).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.post("/live/1/hangup", &b, &[]).await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        app.live
            .hung_up
            .lock()
            .map(|h| h.clone())
            .unwrap_or_default(),
        vec![1]
    );
    assert_eq!(
        app.post("/live/1/hangup", &b, &[]).await.status,
        StatusCode::NOT_FOUND
    );
    // Call records: filter, page, CSV.
    let day = chrono::NaiveDate::from_ymd_opt(2026, 3, 2)
        .and_then(|d| d.and_hms_opt(9, 0, 0))
        .map(|t| t.and_utc())
        .unwrap_or_default();
    for i in 0..60u32 {
        let direction = if i % 2 == 0 {
            billing::CallDirection::Outbound
        } else {
            billing::CallDirection::InternalSameSite
        };
        let start = day + chrono::Duration::minutes(i64::from(i));
        support::store_answered_call(
            &store,
            store::NewCallRecord {
                direction,
                synthetic: true,
                ..support::outbound_call("1000", "22334455", start)
            },
            30,
        )
        .await;
    }
    let fin = app.session("finance").await;
    let p1 = app
        .get("/calls?from=2026-03-01&to=2026-03-31", Some(&fin))
        .await;
    assert_eq!(p1.status, StatusCode::OK);
    assert!(
        p1.body.contains(" · 60") && p1.body.contains("1 / 2") && p1.body.contains("rel=\"next\"")
    );
    let out = app
        .get(
            "/calls?from=2026-03-01&to=2026-03-31&direction=outbound",
            Some(&fin),
        )
        .await;
    assert!(out.body.contains(" · 30"), "direction filter");
    let none = app
        .get("/calls?from=2026-04-01&to=2026-04-30", Some(&fin))
        .await;
    assert!(none.body.contains(" · 0"));
    let csv = app
        .get(
            "/calls.csv?from=2026-03-01&to=2026-03-31&direction=outbound",
            Some(&fin),
        )
        .await;
    assert_eq!(csv.body.lines().count(), 31, "header + 30 rows");
    let t = app.token("finance").await;
    let api = app
        .api(
            "GET",
            "/api/v1/calls?from=2026-03-01&to=2026-03-31&page=2",
            Some(&t),
            None,
        )
        .await;
    assert_eq!(api.json()["total"], 60);
    assert_eq!(api.json()["records"].as_array().map(|a| a.len()), Some(10));
}

async fn sse_feed_sends_updates(store: Store) {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let app = TestApp::new(store).await;
    let b = app.session("admin").await;
    let req = axum::http::Request::get("/events")
        .header("cookie", &b.cookie)
        .body(axum::body::Body::empty())
        .unwrap_or_default();
    let response = admin_ui::app(app.state.clone())
        .oneshot(req)
        .await
        .unwrap_or_else(|e| match e {});
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("text/event-stream")
    );
    let mut body = response.into_body();
    app.live.register("1000");
    let _ = app.live.events.send(admin_ui::LiveEvent::Registration {
        extension: "1000".into(),
        contacts: 1,
    });
    let mut text = String::new();
    while !text.contains("event: summary") {
        let frame = tokio::time::timeout(std::time::Duration::from_secs(5), body.frame()).await;
        let Ok(Some(Ok(frame))) = frame else {
            panic!("no SSE frame: {text}")
        };
        if let Some(data) = frame.data_ref() {
            text.push_str(&String::from_utf8_lossy(data));
        }
    }
    assert!(
        text.contains("event: registration") && text.contains("\"extension\":\"1000\""),
        "{text}"
    );
    assert!(text.contains("\"phones_registered\":1"), "{text}");
}

async fn costs_page_charts_and_downloads(store: Store) {
    let app = TestApp::new(store.clone()).await;
    let fin = app.session("finance").await;
    // The sample dataset's tariffs are in force in 2006.
    // No dataset yet: a clear refusal, not a crash.
    let r = app
        .get("/costs?from=2006-03-01&to=2006-03-31", Some(&fin))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
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
    let day = chrono::NaiveDate::from_ymd_opt(2006, 3, 10)
        .and_then(|d| d.and_hms_opt(10, 0, 0))
        .map(|t| t.and_utc())
        .unwrap_or_default();
    for i in 0..5i64 {
        let start = day + chrono::Duration::hours(i);
        support::store_answered_call(
            &store,
            store::NewCallRecord {
                trunk: Some("telenor".into()),
                ..support::outbound_call("1000", "41234567", start)
            },
            125,
        )
        .await;
    }
    let r = app
        .get("/costs?from=2006-03-01&to=2006-03-31", Some(&fin))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(
        r.body.matches("<svg class=\"chart\"").count() == 5,
        "a chart per breakdown"
    );
    assert!(r.body.contains("<polyline"), "month line");
    let total = r.find("id=\"cost-total\">").unwrap_or_default();
    assert!(
        !total.starts_with("0.00"),
        "mobile calls cost something: {total}"
    );
    let csv = app
        .get(
            "/costs.csv?from=2006-03-01&to=2006-03-31&by=month",
            Some(&fin),
        )
        .await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(csv.body.lines().count() >= 2, "{}", csv.body);
    let xlsx = app
        .get("/costs.xlsx?from=2006-03-01&to=2006-03-31", Some(&fin))
        .await;
    assert_eq!(xlsx.status, StatusCode::OK);
    assert!(
        xlsx.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("spreadsheetml"))
    );
    // Finance is refused the extensions page.
    assert_eq!(
        app.get("/extensions", Some(&fin)).await.status,
        StatusCode::FORBIDDEN
    );
    // A bad period is named.
    let r = app
        .get("/costs?from=2006-03-31&to=2006-03-01", Some(&fin))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    // Savings: verdict, monthly chart, real data named as such; three months, three rows.
    let r = app
        .get("/savings?from=2006-01-01&to=2006-03-31", Some(&fin))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("id=\"verdict\"") && r.body.contains("id=\"savings-chart\""));
    assert!(
        r.body.contains("<p id=\"data-basis\" class=\"notice\">"),
        "real data"
    );
    for m in ["2006-01", "2006-02", "2006-03"] {
        assert!(r.body.contains(&format!("<td>{m}</td>")), "{m}");
    }
    let x = app
        .get("/savings.xlsx?from=2006-01-01&to=2006-03-31", Some(&fin))
        .await;
    assert_eq!(x.status, StatusCode::OK);
    assert!(x.body.starts_with("PK"), "an XLSX (zip) file");
    // One synthetic call makes the page say so.
    let start = day + chrono::Duration::days(1);
    support::store_answered_call(
        &store,
        store::NewCallRecord {
            caller_department: None,
            synthetic: true,
            ..support::outbound_call("1000", "41234567", start)
        },
        60,
    )
    .await;
    let r = app
        .get("/savings?from=2006-01-01&to=2006-03-31", Some(&fin))
        .await;
    assert!(
        r.body.contains("<p id=\"data-basis\" class=\"error\">"),
        "synthetic data named"
    );
    let staff = app.session("staff").await;
    assert_eq!(
        app.get("/savings", Some(&staff)).await.status,
        StatusCode::FORBIDDEN
    );
}

async fn tariff_import_with_line_errors(store: Store) {
    let app = TestApp::new(store.clone()).await;
    let fin = app.session("finance").await;
    let good = billing::dataset::SAMPLE_TOML;
    let line = good
        .lines()
        .position(|l| l.starts_with("valid_to = \"2006-12-31\""))
        .map(|i| i + 1)
        .unwrap_or(0);
    assert!(line > 0);
    let bad = good.replacen("valid_to = \"2006-12-31\"", "valid_to = \"2006-13-45\"", 1);
    let r = app
        .post("/tariffs", &fin, &[("name", "ny-avtale"), ("toml", &bad)])
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("id=\"tariff-errors\""));
    assert!(
        r.body.contains(&format!("<td>{line}</td>")),
        "line {line} named: {}",
        r.body
    );
    assert!(
        store.tariff_files().await.unwrap_or_default().is_empty(),
        "nothing stored"
    );
    let r = app
        .post("/tariffs", &fin, &[("name", "ny-avtale"), ("toml", good)])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let files = store.tariff_files().await.unwrap_or_default();
    assert_eq!(files.len(), 1);
    assert!(files.iter().all(|f| f.active && f.name == "ny-avtale"));
    assert!(
        store
            .audit_log(5)
            .await
            .unwrap_or_default()
            .iter()
            .any(|e| e.action == "tariff.import" && e.actor == "finance-user")
    );
    let staff = app.session("staff").await;
    assert_eq!(
        app.post("/tariffs", &staff, &[("name", "x"), ("toml", good)])
            .await
            .status,
        StatusCode::FORBIDDEN
    );
}

/// SIP passwords the UI generates are hashed for the PBX's realm, not a built-in one:
/// a site that changes its realm must still be able to register the phones it adds.
async fn generated_sip_passwords_use_the_pbx_realm(store: Store) {
    let mut app = TestApp::new(store.clone()).await;
    app.state = app.state.clone().with_realm("kommune.example");
    app.seed_site("radhus").await;
    let admin = app.token("admin").await;
    let r = app
        .api("POST", "/api/v1/extensions", Some(&admin), Some(json!({ "number": "4002", "display_name": "Vakt", "site": "radhus", "class_of_service": "national" })))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let password = r.json()["sip_password"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let stored = store
        .extension("4002")
        .await
        .unwrap_or_else(|e| panic!("read extension: {e}"))
        .unwrap_or_else(|| panic!("extension stored"));
    let expected = store::Credentials::from_password("4002", "kommune.example", &password);
    assert_eq!(stored.credentials, expected, "HA1 for the configured realm");
    assert_ne!(
        stored.credentials,
        store::Credentials::from_password("4002", store::DEFAULT_REALM, &password)
    );
}

both_backends!(
    generated_sip_passwords_use_the_pbx_realm,
    tariff_import_with_line_errors,
    costs_page_charts_and_downloads,
    extension_pages,
    csv_import_all_or_nothing,
    api_tokens_create_use_revoke,
    live_calls_and_records,
    sse_feed_sends_updates
);
