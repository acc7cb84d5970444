//! Import errors speak the page's language: a bad tariff file and a bad extensions CSV,
//! posted once with Accept-Language nb and once with en, list each mistake in that
//! language (bokmål is also what a browser without the header gets).

mod support;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use store::Store;
use support::{Browser, Reply, TestApp};

async fn post_in(
    app: &TestApp,
    path: &str,
    b: &Browser,
    accept_language: &str,
    fields: &[(&str, &str)],
) -> Reply {
    let mut all = vec![("csrf", b.csrf.as_str())];
    all.extend_from_slice(fields);
    let body = serde_urlencoded::to_string(&all).unwrap_or_default();
    let req = Request::post(path)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::COOKIE, &b.cookie)
        .header(header::ACCEPT_LANGUAGE, accept_language)
        .body(Body::from(body))
        .unwrap_or_default();
    app.send(req).await
}

fn line_of(text: &str, start: &str) -> usize {
    text.lines()
        .position(|l| l.starts_with(start))
        .map_or(0, |i| i + 1)
}

async fn tariff_import_errors_in_page_language(store: Store) {
    let app = TestApp::new(store.clone()).await;
    let fin = app.session("finance").await;
    let good = billing::dataset::SAMPLE_TOML;
    let date_line = line_of(good, "valid_to = \"2006-12-31\"");
    // In the new tariff: the legacy one stops at its bad date before its rates are read.
    let setup_line = line_of(good, "setup = \"0.59\"    # assumption");
    assert!(date_line > 0 && setup_line > 0);
    let bad = good
        .replacen("valid_to = \"2006-12-31\"", "valid_to = \"2006-13-45\"", 1)
        .replacen(
            "setup = \"0.59\"    # assumption",
            "setup = \"-0.59\"    # assumption",
            1,
        );

    let nb = post_in(
        &app,
        "/tariffs",
        &fin,
        "nb-NO,nb;q=0.9,en;q=0.5",
        &[("name", "ny"), ("toml", &bad)],
    )
    .await;
    assert_eq!(nb.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", nb.body);
    assert!(nb.body.contains("<html lang=\"nb\""));
    assert!(
        nb.body.contains(&format!(
            "<td>{date_line}</td><td>tariffs.legacy.valid_to</td><td>ikke en dato (ÅÅÅÅ-MM-DD): &quot;2006-13-45&quot;</td>"
        )),
        "{}",
        nb.body
    );
    assert!(
        nb.body
            .contains(&format!("<td>{setup_line}</td><td>tariffs.new.rates.")),
        "{}",
        nb.body
    );
    assert!(
        nb.body
            .contains(".setup</td><td>kan ikke være negativ: &quot;-0.59&quot;</td>"),
        "{}",
        nb.body
    );
    assert!(!nb.body.contains("not a date"), "no English on the nb page");
    assert!(!nb.body.contains("must not be negative"));

    let en = post_in(
        &app,
        "/tariffs",
        &fin,
        "en-GB,en;q=0.9",
        &[("name", "ny"), ("toml", &bad)],
    )
    .await;
    assert_eq!(en.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", en.body);
    assert!(en.body.contains("<html lang=\"en\""));
    assert!(
        en.body.contains(&format!(
            "<td>{date_line}</td><td>tariffs.legacy.valid_to</td><td>not a date (YYYY-MM-DD): &quot;2006-13-45&quot;</td>"
        )),
        "{}",
        en.body
    );
    assert!(
        en.body
            .contains(".setup</td><td>must not be negative: &quot;-0.59&quot;</td>"),
        "{}",
        en.body
    );
    assert!(!en.body.contains("ikke en dato"));

    // A file the toml parser rejects: its own (English) text, marked as TOML in bokmål.
    let broken = "[tariffs.legacy\nvalid_from = 1\n";
    let nb = post_in(
        &app,
        "/tariffs",
        &fin,
        "nb",
        &[("name", "x"), ("toml", broken)],
    )
    .await;
    assert_eq!(nb.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", nb.body);
    assert!(nb.body.contains("<td>TOML-feil: "), "{}", nb.body);
    let en = post_in(
        &app,
        "/tariffs",
        &fin,
        "en",
        &[("name", "x"), ("toml", broken)],
    )
    .await;
    assert_eq!(en.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", en.body);
    assert!(!en.body.contains("TOML-feil"), "{}", en.body);
    assert!(store.tariff_files().await.unwrap_or_default().is_empty());
}

const HEADER: &str =
    "number,display_name,site,department,class_of_service,premium_allowed,enabled\n";

async fn csv_import_errors_in_page_language(store: Store) {
    let app = TestApp::new(store.clone()).await;
    app.seed_site("radhus").await;
    let b = app.session("admin").await;
    let bad = format!(
        "{HEADER}3001,Ola,radhus,,national,false,true\n\
         3001,,nowhere,,galaxy,kanskje,true\n\
         12\n"
    );
    let nb = post_in(&app, "/extensions/import", &b, "nb", &[("csv", &bad)]).await;
    assert_eq!(nb.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", nb.body);
    assert!(
        nb.body.contains(
            "<td>3</td><td>nummer 3001 står også på linje 2; display_name er tomt; \
             ingen lokasjon &quot;nowhere&quot;; ugyldig tjenesteklasse: &quot;galaxy&quot; \
             (skal være internal, national, mobile eller international); \
             premium_allowed &quot;kanskje&quot;: bruk true eller false</td>"
        ),
        "{}",
        nb.body
    );
    assert!(
        nb.body.contains("<td>4</td><td>1 felt, skal være 7</td>"),
        "{}",
        nb.body
    );

    let en = post_in(&app, "/extensions/import", &b, "en", &[("csv", &bad)]).await;
    assert_eq!(en.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", en.body);
    assert!(
        en.body.contains(
            "<td>3</td><td>number 3001 also on line 2; display_name is empty; \
             no site &quot;nowhere&quot;; invalid class of service: &quot;galaxy&quot; \
             (expected internal, national, mobile or international); \
             premium_allowed &quot;kanskje&quot;: use true or false</td>"
        ),
        "{}",
        en.body
    );
    assert!(
        en.body.contains("<td>4</td><td>1 fields, expected 7</td>"),
        "{}",
        en.body
    );

    // A wrong header and an empty file.
    let nb = post_in(&app, "/extensions/import", &b, "nb", &[("csv", "nummer\n")]).await;
    assert!(
        nb.body.contains(&format!(
            "<td>1</td><td>overskriftslinjen må være {}",
            HEADER.trim_end()
        )),
        "{}",
        nb.body
    );
    let nb = post_in(&app, "/extensions/import", &b, "nb", &[("csv", HEADER)]).await;
    assert!(
        nb.body
            .contains("<td>1</td><td>ingen internnumre i filen</td>"),
        "{}",
        nb.body
    );
    assert!(store.extensions().await.unwrap_or_default().is_empty());
}

both_backends!(
    tariff_import_errors_in_page_language,
    csv_import_errors_in_page_language
);
