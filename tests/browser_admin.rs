//! The admin UI in real headless Chromium (issue 5, "Done means"): first sign-in with
//! TOTP enrolment, every page screenshotted and checked with axe-core, an extension made in
//! the UI and registered by a real SIP phone (SIPp against the real PBX on the same store)
//! turning "registered" on the page without a reload (server-sent events), a CSV import
//! with one bad line refused whole, and a finance user refused the IT pages.
//!
//! Screenshots: tests/output/screenshots/<test>/; axe reports: tests/output/axe/<test>/.

mod support;

use admin_ui::app::Access;
use pbx::PbxConfig;
use std::sync::Arc;
use std::time::Duration;
use support::browser::{AdminServer, Browser, FakeLive, PbxLive};
use support::pbx::{Backend, backends, seeded_store, start_pbx};
use support::sipp::{self, SippTransport};

/// Every page a role may GET (from the UI's own route table, so new pages are checked as
/// they land), with path parameters filled from the seeded store.
fn pages_for(role: admin_ui::Role) -> Vec<String> {
    admin_ui::ROUTES
        .iter()
        .filter(|r| r.method == "GET")
        .filter(|r| matches!(r.access, Access::Roles(roles) if roles.contains(&role)))
        .map(|r| r.path)
        // Pages only: no API, event stream, static files or downloads.
        .filter(|p| {
            !p.starts_with("/api/")
                && !p.starts_with("/static/")
                && *p != "/events"
                && !p.ends_with(".csv")
                && !p.ends_with(".xlsx")
        })
        .map(|p| {
            p.replace("{number}", "1001")
                .replace("{code}", "radhus")
                .replace("{name}", BROWSER_TRUNK)
                .replace("{id}", "1")
        })
        .filter(|p| !p.contains('{'))
        .collect()
}

/// The trunk the page walks edit (`/trunks/{name}`); [`seed_trunk`] adds it.
const BROWSER_TRUNK: &str = "provider";

async fn seed_trunk(store: &store::Store) {
    store
        .add_trunk(&store::NewTrunk {
            name: BROWSER_TRUNK.into(),
            host: "127.0.0.1".into(),
            port: 5060,
            transport: store::TrunkTransport::Udp,
            username: Some("kommune".into()),
            secret: Some(store::Secret::new("never-shown-9931")),
            register: false,
            channel_limit: Some(10),
            allowed_sources: vec!["127.0.0.1".into()],
            enabled: true,
        })
        .await
        .expect("add trunk");
}

/// Screenshot name for a path: `/` is `overview`, `/extensions/1001` is
/// `extensions-1001`.
fn page_name(path: &str) -> String {
    let name = path.trim_matches('/').replace('/', "-");
    if name.is_empty() {
        "overview".into()
    } else {
        name
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_sign_in_with_totp_then_every_admin_page_is_accessible() {
    let (store, _dir, _) = seeded_store(Backend::Sqlite).await;
    seed_trunk(&store).await;
    let ui = AdminServer::start(store.clone(), Arc::new(FakeLive::default())).await;
    // The first password is saved for the owner only.
    let file = ui.data_dir.path().join(admin_ui::ADMIN_PASSWORD_FILE);
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&file)
            .expect("password file")
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600, "{}", file.display());

    let browser = Browser::start("first_sign_in", "nb").await;
    // Signed out, every page sends the browser to the sign-in form.
    browser.goto(&ui.at("/extensions")).await;
    assert_eq!(browser.current_path().await, "/login");

    let password = ui.admin_password.clone();
    browser
        .first_sign_in(&ui, "admin", &password, "admin")
        .await;
    browser.click("a[href='/']").await;
    let (ok, text) = browser
        .wait_for_text(Duration::from_secs(5), |t| {
            t.contains("Registrerte telefoner")
        })
        .await;
    assert!(ok, "overview in bokmål after enrolment: {text}");

    let pages = pages_for(admin_ui::Role::Admin);
    assert!(pages.len() >= 9, "admin pages: {pages:?}");
    for path in &pages {
        browser.visit(&ui.at(path), &page_name(path)).await;
        assert_eq!(&browser.current_path().await, path, "stays signed in");
    }
    browser.close().await;

    // English when the browser asks for it.
    let en = Browser::start("first_sign_in_en", "en-GB").await;
    en.visit(&ui.at("/login"), "login-en").await;
    let text = en.body_text().await;
    assert!(text.contains("Sign in"), "{text}");
    en.close().await;
    ui.stop().await;
    store.close().await;
}

fn free_port() -> u16 {
    // Free for both UDP and TCP at the moment of asking (SIPp binds both).
    loop {
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        let port = udp.local_addr().expect("addr").port();
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extension_made_in_the_ui_shows_registered_live_when_a_phone_registers() {
    // On every store backend: the UI and the PBX share it.
    for backend in backends() {
        let mut config = PbxConfig::default();
        config.lockout.max_failures = 1000;
        let pbx = start_pbx(backend, config).await;
        let ui =
            AdminServer::start(pbx.store.clone(), Arc::new(PbxLive(pbx.server.ctx.clone()))).await;
        let browser = Browser::start(&format!("extension_registers_live_{backend:?}"), "nb").await;
        let password = ui.admin_password.clone();
        browser
            .first_sign_in(&ui, "admin", &password, "admin")
            .await;

        browser.goto(&ui.at("/extensions")).await;
        browser.fill("#number", "1050").await;
        browser.fill("#display_name", "Resepsjon Fjuk").await;
        browser.fill("#department", "Resepsjon").await;
        browser
            .click("form[action='/extensions'][method=post] button[type=submit]")
            .await;
        let sip_password = browser.find("#sip-password").await;
        let sip_password = support::browser::step("password", sip_password.text()).await;
        let sip_password = sip_password.trim().to_string();
        assert!(
            sip_password.len() >= 12,
            "a strong SIP password: {sip_password:?}"
        );
        browser.look("extension-created").await;

        browser
            .visit(&ui.at("/extensions"), "extensions-before")
            .await;
        let cell = browser.find("#reg-1050").await;
        assert_eq!(
            support::browser::step("state", cell.text()).await,
            "Ikke registrert"
        );
        // A mark that a reload would wipe.
        browser
            .js("window.__sentralNoReload = 42; return true;", vec![])
            .await;

        // The PBX picks the new extension up from the store within a second or so; a phone
        // retries until it is known.
        let target = pbx.udp;
        let scenario = sipp::scenario("driver/register.xml");
        let mut last = None;
        for _ in 0..10 {
            let scenario = scenario.clone();
            let pw = sip_password.clone();
            let run = tokio::task::spawn_blocking(move || {
                let port = free_port().to_string();
                sipp::run(
                    &scenario,
                    target,
                    SippTransport::Udp,
                    1,
                    &["-s", "1050", "-au", "1050", "-ap", &pw, "-p", &port],
                    Duration::from_secs(10),
                )
            })
            .await
            .expect("sipp task");
            if run.succeeded() {
                last = Some(run);
                break;
            }
            last = Some(run);
            tokio::time::sleep(Duration::from_millis(700)).await;
        }
        let run = last.expect("sipp ran");
        assert!(
            run.succeeded(),
            "SIPp registers as 1050: {}\n{}\n{}",
            run.stdout,
            run.stderr,
            run.errors
        );

        let end = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let text = browser
                .js(
                    "var e = document.getElementById('reg-1050'); return e ? e.textContent : '';",
                    vec![],
                )
                .await;
            if text.as_str() == Some("Registrert") {
                break;
            }
            assert!(
                tokio::time::Instant::now() < end,
                "the page shows 1050 registered within 10 s, shows {text}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let mark = browser
            .js("return window.__sentralNoReload || null;", vec![])
            .await;
        assert_eq!(
            mark,
            serde_json::json!(42),
            "updated in place, not reloaded"
        );
        browser.look("extensions-registered").await;
        // And on a fresh load too (from the registrar, not only the event).
        browser
            .visit(&ui.at("/extensions/1050"), "extension-1050")
            .await;
        assert!(browser.body_text().await.contains("Registrert"));

        browser.close().await;
        ui.stop().await;
        pbx.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edit_an_extension_site_in_the_page_and_see_it_in_the_list() {
    let (store, _dir, _) = seeded_store(Backend::Sqlite).await;
    seed_trunk(&store).await;
    let ui = AdminServer::start(store.clone(), Arc::new(FakeLive::default())).await;
    let browser = Browser::start("edit_extension", "nb").await;
    let password = ui.admin_password.clone();
    browser
        .first_sign_in(&ui, "admin", &password, "admin")
        .await;
    browser
        .visit(&ui.at("/extensions/1001"), "extension-1001-edit")
        .await;
    let site = browser.find("#site").await;
    support::browser::step("select site fjuk", site.select_by_value("fjuk")).await;
    browser.fill("#display_name", "Bibliotek skranke").await;
    browser
        .click("form[action='/extensions/1001'] button[type=submit]")
        .await;
    // The import form is on the list only: waiting for it waits out the redirect.
    browser.find("form[action='/extensions/import']").await;
    assert_eq!(browser.current_path().await, "/extensions");
    let text = browser.body_text().await;
    assert!(
        text.contains("Bibliotek skranke"),
        "back on the list with the new name: {text}"
    );
    let row = browser
        .js(
            "return [...document.querySelectorAll('tbody tr')].map(r => r.innerText).find(t => t.startsWith('1001')) || '';",
            vec![],
        )
        .await;
    let row = row.as_str().unwrap_or_default().to_string();
    assert!(row.contains("fjuk"), "the list shows the new site: {row:?}");
    browser.look("extensions-after-edit").await;
    let stored = store.extension("1001").await.expect("read").expect("kept");
    assert_eq!(stored.site, "fjuk");

    // A wrong field is named next to the field and in the summary; the page with errors
    // passes axe too.
    browser
        .goto(&ui.at(&format!("/trunks/{BROWSER_TRUNK}")))
        .await;
    let page_text = browser.body_text().await;
    assert!(
        !page_text.contains("never-shown-9931"),
        "the trunk password is never shown"
    );
    browser.fill("#port", "seksti").await;
    browser.fill("#allowed_sources", "10.0.0.0/40").await;
    browser
        .click(&format!(
            "form[action='/trunks/{BROWSER_TRUNK}'] button[type=submit]"
        ))
        .await;
    let summary = browser.find("#form-errors").await;
    let summary = support::browser::step("form errors", summary.text()).await;
    assert!(summary.contains("Port må være et tall"), "{summary}");
    assert!(summary.contains("10.0.0.0/40"), "{summary}");
    browser.look("trunk-edit-errors").await;
    // Department in use: deleting it is refused with the reason.
    browser.goto(&ui.at("/departments/1")).await;
    browser
        .click("form[action='/departments/1/delete'] button[type=submit]")
        .await;
    let refusal = browser.find("#delete-refused").await;
    let refusal = support::browser::step("refusal", refusal.text()).await;
    assert!(refusal.contains("i bruk"), "{refusal}");
    browser.look("department-delete-refused").await;
    browser.close().await;
    ui.stop().await;
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_import_with_one_bad_line_shows_the_error_and_imports_nothing() {
    let (store, _dir, _) = seeded_store(Backend::Sqlite).await;
    let before = store.extensions().await.expect("extensions").len();
    let ui = AdminServer::start(store.clone(), Arc::new(FakeLive::default())).await;
    let browser = Browser::start("csv_import", "nb").await;
    let password = ui.admin_password.clone();
    browser
        .first_sign_in(&ui, "admin", &password, "admin")
        .await;
    browser.goto(&ui.at("/extensions")).await;
    // Line 3 names a site that does not exist.
    let csv = "number,display_name,site,department,class_of_service,premium_allowed,enabled\n\
               1060,Bibliotek,radhus,Kultur,national,false,true\n\
               1061,Ukjent,nowhere,Kultur,national,false,true\n\
               1062,Kantine,radhus,Drift,internal,false,true\n";
    browser.fill("#csv", csv).await;
    browser
        .click("form[action='/extensions/import'] button[type=submit]")
        .await;
    let errors = browser.find("#import-errors").await;
    let text = support::browser::step("errors", errors.text()).await;
    let sent = browser
        .js("return document.getElementById('csv').value;", vec![])
        .await;
    assert!(
        text.lines()
            .any(|l| l.starts_with("3 ") && l.contains("nowhere")),
        "the bad line is named by its line in the file (3): {text}\nsent: {sent}"
    );
    assert!(
        text.contains("nowhere"),
        "and what is wrong with it: {text}"
    );
    browser.look("import-error").await;
    let after = store.extensions().await.expect("extensions");
    assert_eq!(after.len(), before, "nothing imported");
    assert!(
        !after
            .iter()
            .any(|e| e.number == "1060" || e.number == "1062")
    );
    browser.close().await;
    ui.stop().await;
    store.close().await;
}

/// As the signed-in admin, creates finance user `username` on the users page (its
/// one-time password read from the page), signs out, and signs in as that user with TOTP
/// enrolment.
async fn switch_to_new_finance_user(browser: &Browser, ui: &AdminServer, username: &str) {
    browser.goto(&ui.at("/users")).await;
    browser.fill("#username", username).await;
    let role = browser.find("#role").await;
    support::browser::step("choose finance", role.select_by_value("finance")).await;
    browser
        .click("form[action='/users'] button[type=submit]")
        .await;
    let pw = browser.find("#user-password").await;
    let password = support::browser::step("password", pw.text()).await;
    browser.look(&format!("user-created-{username}")).await;
    browser.click("form.logout button[type=submit]").await;
    browser.find("#username").await;
    browser
        .first_sign_in(ui, username, password.trim(), "finance")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finance_user_sees_finance_pages_and_is_refused_the_extensions_page() {
    let (store, _dir, _) = seeded_store(Backend::Sqlite).await;
    let ui = AdminServer::start(store.clone(), Arc::new(FakeLive::default())).await;
    let browser = Browser::start("finance_user", "nb").await;
    let password = ui.admin_password.clone();
    browser
        .first_sign_in(&ui, "admin", &password, "admin")
        .await;
    switch_to_new_finance_user(&browser, &ui, "kari.finans").await;
    for path in pages_for(admin_ui::Role::Finance) {
        browser
            .visit(&ui.at(&path), &format!("finance-{}", page_name(&path)))
            .await;
        assert_eq!(browser.current_path().await, path);
        let text = browser.body_text().await;
        assert!(!text.contains("Du har ikke tilgang"), "{path}: {text}");
    }
    // IT pages are refused on the server, not only hidden from the menu.
    for path in ["/extensions", "/users", "/tokens"] {
        browser.goto(&ui.at(path)).await;
        let text = browser.body_text().await;
        assert!(
            text.contains("Du har ikke tilgang"),
            "finance is refused {path}: {text}"
        );
    }
    browser.goto(&ui.at("/extensions")).await;
    browser.look("finance-refused-extensions").await;
    browser.close().await;
    ui.stop().await;
    store.close().await;
}

/// Runs the `sentral` binary on `data_dir` and returns its standard output.
fn sentral(data_dir: &std::path::Path, args: &[&str]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sentral"))
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("sentral runs");
    assert!(
        out.status.success(),
        "sentral {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn money(v: &serde_json::Value) -> f64 {
    v.as_str()
        .and_then(|s| s.parse::<f64>().ok())
        .or_else(|| v.as_f64())
        .unwrap_or_else(|| panic!("a money value: {v}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finance_reads_costs_and_savings_and_the_xlsx_export_holds_the_report_numbers() {
    use calamine::{Data, Reader, Xlsx, open_workbook};
    const FROM: &str = "2026-01-05";
    const TO: &str = "2026-01-11";
    // The sample dataset and a week of synthetic traffic, put in the way an operator does.
    let dir = tempfile::tempdir().expect("data dir");
    let sample =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("billing/data/sorum-sample.toml");
    sentral(dir.path(), &["import", &sample.to_string_lossy()]);
    sentral(
        dir.path(),
        &[
            "traffic", "generate", "--from", FROM, "--to", TO, "--seed", "7",
        ],
    );
    // The same numbers through the command line: what the spreadsheet must hold.
    let expected: serde_json::Value = serde_json::from_str(&sentral(
        dir.path(),
        &[
            "report", "costs", "--from", FROM, "--to", TO, "--by", "site", "--format", "json",
        ],
    ))
    .expect("report JSON");
    let expected_rows = expected["rows"].as_array().expect("rows").clone();
    assert!(expected_rows.len() > 5, "{expected}");

    let store = store::Store::open_in(dir.path(), None)
        .await
        .expect("open store");
    let ui = AdminServer::start(store.clone(), Arc::new(FakeLive::default())).await;
    let browser = Browser::start("finance_reports", "nb").await;
    let password = ui.admin_password.clone();
    browser
        .first_sign_in(&ui, "admin", &password, "admin")
        .await;
    switch_to_new_finance_user(&browser, &ui, "finans").await;

    // Savings: the chart, the verdict, and that the data is synthetic, all visible.
    browser
        .visit(&ui.at(&format!("/savings?from={FROM}&to={TO}")), "savings")
        .await;
    let chart = browser.find("svg#savings-chart").await;
    let shown = support::browser::step("chart shown", chart.is_displayed()).await;
    assert!(shown, "the savings chart is on screen");
    let marks = browser
        .js(
            "return document.querySelectorAll('#savings-chart rect, #savings-chart polyline, #savings-chart path, #savings-chart circle').length;",
            vec![],
        )
        .await;
    assert!(
        marks.as_u64().unwrap_or(0) > 0,
        "the chart draws data: {marks}"
    );
    let verdict = browser.find("#verdict").await;
    let verdict = support::browser::step("verdict", verdict.text()).await;
    assert!(
        verdict.contains("250 000"),
        "verdict against the target: {verdict}"
    );
    let basis = browser.find("#data-basis").await;
    let basis = support::browser::step("basis", basis.text()).await;
    assert!(!basis.trim().is_empty(), "real or synthetic is said");

    // Costs with the period picker, then the XLSX download.
    browser.goto(&ui.at("/costs")).await;
    browser.find("#from").await;
    // Date inputs take the value through script (typing depends on the locale's format).
    browser
        .js(
            "document.getElementById('from').value = arguments[0]; \
             document.getElementById('to').value = arguments[1]; return true;",
            vec![serde_json::json!(FROM), serde_json::json!(TO)],
        )
        .await;
    browser
        .click("form[action='/costs'] button[type=submit]")
        .await;
    // The old page has charts too: wait for the new URL, not just for a chart (a loaded
    // machine answers the form after the first look).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let url = loop {
        let url = support::browser::step("url", browser.client.current_url()).await;
        let picked = url
            .query()
            .is_some_and(|q| q.contains(FROM) && q.contains(TO));
        if picked || tokio::time::Instant::now() >= deadline {
            break url;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        url.query()
            .is_some_and(|q| q.contains(FROM) && q.contains(TO)),
        "period picked: {url}"
    );
    browser.find("svg.chart").await;
    browser.look("costs").await;
    browser.click("a[href^='/costs.xlsx']").await;
    let file = browser
        .wait_for_download(".xlsx", Duration::from_secs(20))
        .await;
    let mut book: Xlsx<_> = open_workbook(&file).expect("the download opens as XLSX");
    let sheet = book.worksheet_range("by site").expect("a 'by site' sheet");
    let rows: Vec<Vec<Data>> = sheet.rows().map(|r| r.to_vec()).collect();
    let cell_f = |r: &[Data], i: usize| -> f64 {
        match r.get(i) {
            Some(Data::Float(f)) => *f,
            Some(Data::Int(n)) => *n as f64,
            other => panic!("number in column {i}: {other:?}"),
        }
    };
    // Header, one row per site, and the total.
    assert_eq!(rows.len(), expected_rows.len() + 2, "rows: {rows:?}");
    for (got, want) in rows.iter().skip(1).zip(&expected_rows) {
        assert_eq!(
            got.first().map(|d| d.to_string()),
            want["key"].as_str().map(str::to_string)
        );
        assert_eq!(cell_f(got, 2), want["calls"].as_f64().unwrap_or(-1.0));
        assert!(
            (cell_f(got, 6) - money(&want["legacy_cost"])).abs() < 0.005,
            "{got:?} vs {want}"
        );
        assert!(
            (cell_f(got, 7) - money(&want["new_cost"])).abs() < 0.005,
            "{got:?} vs {want}"
        );
    }
    let total = rows.last().expect("total row");
    assert_eq!(
        cell_f(total, 2),
        expected["total"]["calls"].as_f64().unwrap_or(-1.0)
    );
    assert!((cell_f(total, 6) - money(&expected["total"]["legacy_cost"])).abs() < 0.005);
    assert!((cell_f(total, 7) - money(&expected["total"]["new_cost"])).abs() < 0.005);
    // And the same total is what the page shows.
    let page = browser.body_text().await;
    let calls = expected["total"]["calls"].as_u64().unwrap_or(0);
    let grouped = {
        let s = calls.to_string();
        let mut out = String::new();
        for (i, c) in s.chars().enumerate() {
            if i > 0 && (s.len() - i) % 3 == 0 {
                out.push('\u{a0}');
            }
            out.push(c);
        }
        out
    };
    assert!(
        page.contains(&calls.to_string())
            || page.contains(&grouped)
            || page.contains(&grouped.replace('\u{a0}', " ")),
        "the page shows the {calls} calls"
    );

    browser.close().await;
    ui.stop().await;
    store.close().await;
}
