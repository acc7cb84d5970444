//! The cache's reports against one pass of billing's builders over the same records (what
//! the pages did before the cache), on SQLite and, when `SENTRAL_TEST_POSTGRES` is set,
//! PostgreSQL; after records are added to a day and removed from another, the cache must
//! agree again (it re-rates the changed days only).

use super::*;
use billing::dataset::SAMPLE_TOML;
use billing::synthetic::Generator;
use store::NewTariffFile;

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or_else(|| panic!("bad date {y}-{m}-{d}"))
}

fn period(from: NaiveDate, to: NaiveDate) -> Period {
    Period::new(from, to).unwrap_or_else(|e| panic!("period: {e}"))
}

fn sample() -> Dataset {
    Dataset::from_toml_str(SAMPLE_TOML).unwrap_or_else(|e| panic!("sample: {e}"))
}

async fn generate(store: &Store, from: NaiveDate, to: NaiveDate, seed: Option<u64>) -> u64 {
    let records: Vec<billing::CallRecord> = Generator::new(&sample(), from, to, seed)
        .unwrap_or_else(|e| panic!("generator: {e}"))
        .collect();
    store
        .insert_call_records(&records)
        .await
        .unwrap_or_else(|e| panic!("insert: {e}"))
}

/// Every record of `p` (by local date) read in one stream, as the pages used to.
async fn one_pass(store: &Store, p: Period) -> (Vec<CostReport>, SavingsReport) {
    let dataset = sample();
    let rater = dataset.rater();
    let mut costs = CostReportBuilder::new(&dataset, &rater, p, &Dimension::ALL);
    let mut savings = SavingsBuilder::new(&dataset, &rater, p);
    let start = oslo_midnight(p.from).unwrap_or_else(|e| panic!("{e:?}"));
    let end = oslo_midnight(p.to.succ_opt().unwrap_or(p.to)).unwrap_or_else(|e| panic!("{e:?}"));
    let mut stream = store.stream_call_records(start, end);
    while let Some(r) = stream
        .try_next()
        .await
        .unwrap_or_else(|e| panic!("read: {e}"))
    {
        costs.add(&r);
        savings.add(&r);
    }
    (costs.finish(), savings.finish())
}

/// The cache's reports for `p` equal one pass's; returns the number of calls.
async fn agrees(cache: &ReportCache, store: &Store, p: Period) -> u64 {
    let totals = cache
        .period(store, p)
        .await
        .unwrap_or_else(|e| panic!("cache: {e:?}"));
    let (want_costs, want_savings) = one_pass(store, p).await;
    let got_costs = totals.cost_reports(p, &Dimension::ALL);
    assert_eq!(got_costs, want_costs, "cost reports {p:?}");
    assert_eq!(totals.savings(p), want_savings, "savings {p:?}");
    // A sub-period of the cached one (a month's slice, as the savings page asks for).
    let first_week = period(p.from, p.from + chrono::Duration::days(6));
    assert_eq!(
        totals.savings(first_week),
        one_pass(store, first_week).await.1,
        "savings {first_week:?}"
    );
    want_costs.first().map_or(0, |r| r.total.calls)
}

async fn scenario(store: Store) {
    store
        .import_tariff_file(
            &NewTariffFile {
                kind: TariffFileKind::Dataset,
                name: "sample".into(),
                version: "test".into(),
                valid_from: None,
                valid_to: None,
                content: SAMPLE_TOML.to_string(),
            },
            true,
        )
        .await
        .unwrap_or_else(|e| panic!("dataset: {e}"));
    // Across the switch to summer time (29 March) and a month end.
    generate(&store, date(2026, 3, 20), date(2026, 4, 5), None).await;
    let cache = ReportCache::default();
    let p = period(date(2026, 3, 25), date(2026, 4, 2));
    let before = agrees(&cache, &store, p).await;
    assert!(before > 1000, "the sample makes traffic: {before} calls");

    // New records on one day: only that day is stale, and the cache must see them.
    let added = generate(&store, date(2026, 3, 30), date(2026, 3, 30), Some(7)).await;
    assert!(added > 0);
    let after_insert = agrees(&cache, &store, p).await;
    assert_eq!(after_insert, before + added, "added records counted");

    // Removed records (a UTC day of them): the cache must drop them too.
    let removed = store
        .delete_synthetic_calls(
            oslo_midnight(date(2026, 3, 27)).unwrap_or_else(|e| panic!("{e:?}")),
            oslo_midnight(date(2026, 3, 28)).unwrap_or_else(|e| panic!("{e:?}")),
        )
        .await
        .unwrap_or_else(|e| panic!("delete: {e}"));
    assert!(removed > 0);
    let after_delete = agrees(&cache, &store, p).await;
    assert_eq!(after_delete, after_insert - removed, "removed records gone");

    // A period with no calls at all, and one reaching past the data.
    assert_eq!(
        agrees(&cache, &store, period(date(2026, 5, 1), date(2026, 5, 9))).await,
        0
    );
    agrees(&cache, &store, period(date(2026, 3, 15), date(2026, 4, 10))).await;
    // Whole months (merged once, then reused) next to loose days; then a change inside
    // a whole month must reach the merged month too.
    let long = period(date(2026, 2, 20), date(2026, 5, 3));
    let long_before = agrees(&cache, &store, long).await;
    let more = generate(&store, date(2026, 4, 3), date(2026, 4, 3), Some(9)).await;
    assert_eq!(agrees(&cache, &store, long).await, long_before + more);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_reports_equal_one_pass_sqlite() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let store = Store::open_in(dir.path(), None)
        .await
        .unwrap_or_else(|e| panic!("open sqlite: {e}"));
    scenario(store.clone()).await;
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_reports_equal_one_pass_postgres() {
    let Some(url) = std::env::var("SENTRAL_TEST_POSTGRES")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        eprintln!("SENTRAL_TEST_POSTGRES not set: PostgreSQL variant skipped");
        return;
    };
    let schema = format!("t_reports_{}", &crate::auth::random_token()[..16]);
    let store = Store::open_postgres_schema(&url, &schema)
        .await
        .unwrap_or_else(|e| panic!("open postgres: {e}"));
    scenario(store.clone()).await;
    store
        .drop_postgres_schema(&schema)
        .await
        .unwrap_or_else(|e| panic!("drop schema: {e}"));
}

#[test]
fn whole_months_inside_a_period() {
    let months = |from, to| -> Vec<(NaiveDate, NaiveDate)> {
        whole_months(period(from, to))
            .into_iter()
            .map(|m| (m.from, m.to))
            .collect()
    };
    assert_eq!(
        months(date(2025, 11, 29), date(2026, 2, 28)),
        vec![
            (date(2025, 12, 1), date(2025, 12, 31)),
            (date(2026, 1, 1), date(2026, 1, 31)),
            (date(2026, 2, 1), date(2026, 2, 28)),
        ]
    );
    assert_eq!(months(date(2026, 3, 1), date(2026, 3, 30)), vec![]);
    assert_eq!(
        months(date(2026, 3, 1), date(2026, 3, 31)),
        vec![(date(2026, 3, 1), date(2026, 3, 31))]
    );
}
