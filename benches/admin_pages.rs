//! Every admin page answered in-process through the axum router (issue 5: "pages answer in
//! under 50 ms at the median with a year of sample call records in the store").
//!
//! Setup, once per backend: a store holding the Sørum sample as `sentral import` leaves it
//! (sites, departments, number ranges, the active billing dataset), one extension per
//! sample desk phone, and one year of synthetic call records up to today from the same
//! generator as `sentral traffic generate`, each rated with the dataset (`cost_new` live,
//! `cost_old` legacy, as `Store::set_call_costs` stores them). An admin session and an
//! admin API token are made directly in the store. Each iteration sends one `GET` through
//! `admin_ui::app` with `tower::ServiceExt::oneshot` and reads the whole body. The
//! `*_after_new_call` benches store one more call before each request, as a server sees
//! the year's reports while calls keep ending.
//!
//! SQLite always (a file in a temporary directory); PostgreSQL too when
//! `SENTRAL_TEST_POSTGRES` is set (a schema of its own, dropped at exit).
//! Medians are in `target/criterion/admin_pages_<backend>/<page>/new/estimates.json`.
//!
//! Run: `cargo bench --bench admin_pages` (release; setup takes a minute or two). Under
//! `cargo test` it seeds a week instead, to check that every page answers.

use std::sync::Arc;
use std::time::Duration;

use admin_ui::{AppState, LiveCall, LiveEvent, LiveRegistration, LiveView};
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use billing::dataset::SAMPLE_TOML;
use billing::synthetic::Generator;
use billing::{CallRecord, Dataset};
use chrono::{NaiveDate, Utc};
use criterion::{Criterion, black_box, criterion_group, criterion_main};
use futures_util::TryStreamExt;
use http_body_util::BodyExt;
use store::{
    CallCost, CallRecordId, ClassOfService, Credentials, NewAdminSession, NewExtension, NewSite,
    NewTariffFile, SiteImport, Store, TariffFileKind,
};
use tokio::sync::broadcast;
use tower::ServiceExt;

/// A PBX with nothing registered and no call in progress: the live pages render their
/// empty state, which is all the PBX side contributes to their cost.
struct IdlePbx {
    events: broadcast::Sender<LiveEvent>,
}

impl LiveView for IdlePbx {
    fn registrations(&self) -> Vec<LiveRegistration> {
        Vec::new()
    }
    fn active_calls(&self) -> Vec<LiveCall> {
        Vec::new()
    }
    fn hang_up(&self, _call_id: u64) -> bool {
        false
    }
    fn trunk_states(&self) -> Vec<(String, bool)> {
        vec![("sip-trunk".into(), true)]
    }
    fn subscribe(&self) -> broadcast::Receiver<LiveEvent> {
        self.events.subscribe()
    }
}

struct Fixture {
    store: Store,
    state: AppState,
    cookie: String,
    token: String,
    from: NaiveDate,
    to: NaiveDate,
    /// One extension that made calls, for the filtered call list.
    busy_extension: String,
    /// A generated call, stored again as a new call ending now by the `*_after_new_call`
    /// benches.
    template_call: CallRecord,
}

/// Records are rated and their costs stored in batches of this many.
const RATE_BATCH: usize = 20_000;

/// Stores the sample as the active billing dataset (again: a new file, as an import makes).
async fn import_dataset(store: &Store) {
    store
        .import_tariff_file(
            &NewTariffFile {
                kind: TariffFileKind::Dataset,
                name: "Sørum sample".into(),
                version: "bench".into(),
                valid_from: None,
                valid_to: None,
                content: SAMPLE_TOML.to_string(),
            },
            true,
        )
        .await
        .unwrap_or_else(|e| panic!("dataset: {e}"));
}

/// Seeds the store; returns how many records it holds and the last one generated.
async fn seed(
    store: &Store,
    dataset: &Dataset,
    from: NaiveDate,
    to: NaiveDate,
) -> (u64, CallRecord) {
    let sites: Vec<SiteImport> = dataset
        .sites
        .iter()
        .map(|s| SiteImport {
            site: NewSite {
                code: s.id.clone(),
                name: s.name.clone(),
                address: s.area.clone(),
                department: Some(s.department.clone()),
            },
            ranges: vec![(s.did_first.to_string(), s.did_last.to_string())],
        })
        .collect();
    store
        .import_sites(&sites)
        .await
        .unwrap_or_else(|e| panic!("sites: {e}"));
    import_dataset(store).await;
    let extensions: Vec<NewExtension> = dataset
        .sites
        .iter()
        .flat_map(|s| {
            s.extension_numbers().map(move |n| NewExtension {
                number: n.to_string(),
                display_name: format!("Phone {n}"),
                site: s.id.clone(),
                department: None,
                class_of_service: ClassOfService::National,
                premium_allowed: false,
                credentials: Credentials::from_password(
                    &n.to_string(),
                    store::DEFAULT_REALM,
                    "bench",
                ),
                enabled: true,
            })
        })
        .collect();
    store
        .import_extensions(&extensions)
        .await
        .unwrap_or_else(|(line, e)| panic!("extension {line}: {e}"));

    let records: Vec<CallRecord> = Generator::new(dataset, from, to, None)
        .unwrap_or_else(|e| panic!("generator: {e}"))
        .collect();
    store
        .insert_call_records(&records)
        .await
        .unwrap_or_else(|e| panic!("insert: {e}"));
    let last = records
        .last()
        .cloned()
        .unwrap_or_else(|| panic!("the generator made no calls"));
    drop(records);

    // Rated as a running system would have rated them when each call ended.
    let rater = dataset.rater();
    let rated_at = Utc::now();
    let start = chrono::DateTime::<Utc>::UNIX_EPOCH;
    let end = Utc::now() + chrono::Duration::days(2);
    let mut costs: Vec<(CallRecordId, CallCost)> = Vec::new();
    {
        let mut stream = store.stream_call_records(start, end);
        while let Some(r) = stream
            .try_next()
            .await
            .unwrap_or_else(|e| panic!("read: {e}"))
        {
            let Ok(live) = rater.rate(&r) else { continue };
            let (_, legacy, _) = rater.rate_both(&r);
            costs.push((
                CallRecordId(r.id),
                CallCost {
                    cost_new: live.cost,
                    cost_old: legacy.ok().map(|x| x.cost),
                    tariff_version: live.tariff_version().to_owned(),
                    rated_at,
                },
            ));
        }
    }
    for batch in costs.chunks(RATE_BATCH) {
        store
            .set_call_costs(batch)
            .await
            .unwrap_or_else(|e| panic!("costs: {e}"));
    }
    let calls = store
        .count_call_records(start, end)
        .await
        .unwrap_or_else(|e| panic!("count: {e}"));
    (calls, last)
}

async fn fixture(store: Store, data_dir: std::path::PathBuf) -> Fixture {
    let dataset = Dataset::from_toml_str(SAMPLE_TOML).unwrap_or_else(|e| panic!("sample: {e}"));
    let to = Utc::now().date_naive();
    // `cargo test --all-targets` runs this without `--bench` only to see every page answer:
    // a week of records is enough there; the year is for `cargo bench`.
    let days = if std::env::args().any(|a| a == "--bench") {
        364
    } else {
        6
    };
    let from = to - chrono::Duration::days(days);
    let started = std::time::Instant::now();
    let (calls, template_call) = seed(&store, &dataset, from, to).await;
    eprintln!(
        "admin_pages: {calls} call records {from}..={to} seeded in {:.0} s",
        started.elapsed().as_secs_f64()
    );

    // Nobody signs in with a password here: the session below is made directly.
    let user = store
        .create_admin_user("bench-admin", "admin", "no-password-login")
        .await
        .unwrap_or_else(|e| panic!("user: {e}"));
    let session = admin_ui::auth::random_token();
    store
        .create_admin_session(&NewAdminSession {
            id_hash: admin_ui::auth::sha256_hex(&session),
            user_id: Some(user),
            stage: "full".into(),
            csrf_token: admin_ui::auth::random_token(),
            expires_at: Utc::now() + chrono::Duration::days(1),
            source: "bench".into(),
        })
        .await
        .unwrap_or_else(|e| panic!("session: {e}"));
    let token = format!("snt_{}", admin_ui::auth::random_token());
    store
        .create_api_token(
            "bench",
            "admin",
            &admin_ui::auth::sha256_hex(&token),
            "bench",
        )
        .await
        .unwrap_or_else(|e| panic!("token: {e}"));

    let (events, _) = broadcast::channel(16);
    let state = AppState::new(store.clone(), Arc::new(IdlePbx { events }), data_dir);
    let busy_extension = dataset
        .sites
        .first()
        .map(|s| s.did_first.to_string())
        .unwrap_or_else(|| panic!("the sample has sites"));
    Fixture {
        store,
        state,
        cookie: format!("sentral_session={session}"),
        token,
        from,
        to,
        busy_extension,
        template_call,
    }
}

/// Stores one more call, ended a moment ago (as the PBX does when a call ends).
async fn new_call(f: &Fixture) {
    let mut r = f.template_call.clone();
    let now = Utc::now();
    r.started_at = now - chrono::Duration::seconds(90);
    r.answered_at = Some(now - chrono::Duration::seconds(80));
    r.ended_at = now;
    r.talk_seconds = 80;
    f.store
        .insert_call_records(std::slice::from_ref(&r))
        .await
        .unwrap_or_else(|e| panic!("new call: {e}"));
}

async fn get(f: &Fixture, path: &str, api: bool) -> (StatusCode, usize) {
    let mut req = Request::get(path);
    req = if api {
        req.header(header::AUTHORIZATION, format!("Bearer {}", f.token))
    } else {
        req.header(header::COOKIE, &f.cookie)
    };
    let req = req
        .body(Body::empty())
        .unwrap_or_else(|e| panic!("request {path}: {e}"));
    let response = admin_ui::app(f.state.clone())
        .oneshot(req)
        .await
        .unwrap_or_else(|e| match e {});
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .unwrap_or_else(|e| panic!("body of {path}: {e}"))
        .to_bytes();
    (status, body.len())
}

/// (criterion name, path, through the API?)
fn pages(f: &Fixture) -> Vec<(String, String, bool)> {
    let year = format!("from={}&to={}", f.from, f.to);
    let month_from = f.to - chrono::Duration::days(30);
    let p = |name: &str, path: String, api: bool| (name.to_string(), path, api);
    vec![
        p("overview", "/".into(), false),
        p("sites", "/sites".into(), false),
        p("departments", "/departments".into(), false),
        p("extensions", "/extensions".into(), false),
        p("trunks", "/trunks".into(), false),
        p("live", "/live".into(), false),
        p("calls_default", "/calls".into(), false),
        p(
            "calls_filtered",
            format!(
                "/calls?from={month_from}&to={}&extension={}&direction=outbound&page=2",
                f.to, f.busy_extension
            ),
            false,
        ),
        p("calls_page_100", "/calls?page=100".into(), false),
        p("costs_year", format!("/costs?{year}"), false),
        p("savings_year", format!("/savings?{year}"), false),
        p("tariffs", "/tariffs".into(), false),
        p("users", "/users".into(), false),
        p("tokens", "/tokens".into(), false),
        p("api_calls", "/api/v1/calls".into(), true),
    ]
}

fn bench_backend(c: &mut Criterion, rt: &tokio::runtime::Runtime, backend: &str, f: &Fixture) {
    let pages = pages(f);
    for (name, path, api) in &pages {
        let (status, len) = rt.block_on(get(f, path, *api));
        assert_eq!(status, StatusCode::OK, "{backend} {path}");
        eprintln!("admin_pages {backend}: {name} {path} -> {len} bytes");
    }
    let mut g = c.benchmark_group(format!("admin_pages_{backend}"));
    g.sample_size(10)
        .measurement_time(Duration::from_secs(5))
        .warm_up_time(Duration::from_secs(1));
    for (name, path, api) in &pages {
        g.bench_function(name.as_str(), |b| {
            b.iter(|| black_box(rt.block_on(get(f, path, *api))))
        });
    }
    // The year's reports while calls keep ending: each request follows a new record.
    let year = format!("from={}&to={}", f.from, f.to);
    for (name, path) in [
        ("costs_year_after_new_call", format!("/costs?{year}")),
        ("savings_year_after_new_call", format!("/savings?{year}")),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| {
                black_box(rt.block_on(async {
                    new_call(f).await;
                    get(f, &path, false).await
                }))
            })
        });
    }
    // The first request after a tariff import (or a server start): every day re-rated.
    let cold = format!("/costs?{year}");
    g.bench_function("costs_year_after_tariff_import", |b| {
        b.iter(|| {
            black_box(rt.block_on(async {
                import_dataset(&f.store).await;
                get(f, &cold, false).await
            }))
        })
    });
    g.finish();
}

fn admin_pages(c: &mut Criterion) {
    // The server's shape: a multi-threaded runtime, small like the machine.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));

    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
    let sqlite = rt.block_on(async {
        let store = Store::open_in(&dir.path().join("data"), None)
            .await
            .unwrap_or_else(|e| panic!("sqlite store: {e}"));
        fixture(store, dir.path().to_path_buf()).await
    });
    bench_backend(c, &rt, "sqlite", &sqlite);
    rt.block_on(sqlite.store.close());

    let Some(url) = std::env::var("SENTRAL_TEST_POSTGRES")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        eprintln!("SENTRAL_TEST_POSTGRES not set: PostgreSQL pages not measured");
        return;
    };
    let schema = format!("bench_pages_{}", std::process::id());
    let pg = rt.block_on(async {
        let store = Store::open_postgres_schema(&url, &schema)
            .await
            .unwrap_or_else(|e| panic!("postgres store: {e}"));
        fixture(store, dir.path().to_path_buf()).await
    });
    bench_backend(c, &rt, "postgres", &pg);
    rt.block_on(async {
        pg.store
            .clone()
            .drop_postgres_schema(&schema)
            .await
            .unwrap_or_else(|e| panic!("drop schema: {e}"))
    });
}

criterion_group!(benches, admin_pages);
criterion_main!(benches);
