//! The billing commands end to end through the binary: import the sample, generate a
//! month of synthetic traffic, and run the savings and cost reports and the call export
//! in every format.

mod cli_support;

use cli_support::{Env, json, sample_path};

/// `to` is the last day (included); `day` a working day inside the period.
async fn traffic_and_reports(env: &Env, from: &str, to: &str, day: &str) {
    env.run(&["import", &sample_path().to_string_lossy()]).ok();
    let out = env
        .run(&[
            "traffic", "generate", "--from", from, "--to", to, "--seed", "42",
        ])
        .ok();
    let generated: u64 = out
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("count in {out:?}"));
    assert!(
        generated > 5_000,
        "a week of the sample is thousands of calls: {out}"
    );

    // Generating the same period again replaces the synthetic records, deterministically.
    let again = env
        .run(&[
            "traffic", "generate", "--from", from, "--to", to, "--seed", "42",
        ])
        .ok();
    assert!(
        again.contains(&format!("generated {generated} ")),
        "{again}"
    );
    assert!(
        again.contains(&format!("replacing {generated} earlier")),
        "{again}"
    );

    let savings = json(
        &env.run(&[
            "report", "savings", "--from", from, "--to", to, "--format", "json",
        ])
        .ok(),
    );
    assert_eq!(
        savings["basis"]["records"].as_u64(),
        Some(generated),
        "the report reads every stored call"
    );
    assert_eq!(
        savings["basis"]["synthetic_records"].as_u64(),
        Some(generated)
    );
    assert_eq!(savings["period"]["from"], from);
    let sentence = savings["verdict"]["sentence"].as_str().expect("verdict");
    assert!(sentence.contains("250 000"), "{sentence}");
    let saving: f64 = savings["annual"]["operating_saving"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("decimal string");
    assert!(
        saving > 0.0,
        "the sample's operating saving is positive: {saving}"
    );

    let table = env
        .run(&["report", "savings", "--from", from, "--to", to])
        .ok();
    assert!(
        table.contains(sentence) && table.contains("By site:") && table.contains("Sørum rådhus"),
        "{table}"
    );

    let csv = env
        .run(&[
            "report", "savings", "--from", from, "--to", to, "--format", "csv",
        ])
        .ok();
    assert!(csv.lines().count() > 20, "{csv}");

    let costs = json(
        &env.run(&[
            "report", "costs", "--from", from, "--to", to, "--by", "site", "--format", "json",
        ])
        .ok(),
    );
    assert_eq!(costs["dimension"], "site");
    assert_eq!(costs["total"]["calls"].as_u64(), Some(generated));
    let rows = costs["rows"].as_array().expect("rows");
    assert!(rows.iter().any(|r| r["key"] == "radhus"), "{rows:?}");
    let month = json(
        &env.run(&[
            "report", "costs", "--from", from, "--to", to, "--by", "month", "--format", "json",
        ])
        .ok(),
    );
    assert_eq!(month["rows"].as_array().map(Vec::len), Some(1));
    let table = env
        .run(&[
            "report",
            "costs",
            "--from",
            from,
            "--to",
            to,
            "--by",
            "department",
        ])
        .ok();
    assert!(
        table.contains("Administrasjon") && table.contains("total"),
        "{table}"
    );

    let xlsx = env.data_dir().join("costs.xlsx");
    env.run(&[
        "report",
        "costs",
        "--from",
        from,
        "--to",
        to,
        "--by",
        "class",
        "--format",
        "xlsx",
        "--output",
        &xlsx.to_string_lossy(),
    ])
    .ok();
    let bytes = std::fs::read(&xlsx).expect("xlsx written");
    assert!(bytes.starts_with(b"PK"), "an XLSX file is a zip archive");
    let xlsx = env.data_dir().join("savings.xlsx");
    env.run(&[
        "report",
        "savings",
        "--from",
        from,
        "--to",
        to,
        "--format",
        "xlsx",
        "--output",
        &xlsx.to_string_lossy(),
    ])
    .ok();
    assert!(std::fs::read(&xlsx).expect("xlsx").starts_with(b"PK"));

    // One day exported with costs in both worlds; the count matches `calls list`.
    let export = env
        .run(&[
            "calls", "export", "--from", day, "--to", day, "--format", "csv",
        ])
        .ok();
    let mut lines = export.lines();
    let header = lines.next().expect("header");
    assert!(
        header.contains("legacy_cost_nok") && header.contains("new_cost_nok"),
        "{header}"
    );
    let exported = lines.count();
    let listed = json(
        &env.run(&["calls", "list", "--from", day, "--to", day, "--json"])
            .ok(),
    );
    assert_eq!(listed.as_array().map(Vec::len), Some(exported));
    assert!(exported > 100, "a working day has many calls: {exported}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn month_of_traffic_sqlite() {
    let env = Env::sqlite();
    traffic_and_reports(&env, "2006-03-01", "2006-03-31", "2006-03-06").await;
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn week_of_traffic_postgres() {
    let Some(env) = Env::postgres().await else {
        eprintln!("SENTRAL_TEST_POSTGRES not set: PostgreSQL variant skipped");
        return;
    };
    // A week: the same code paths as the month on SQLite, at a quarter of the debug-build
    // rating time.
    traffic_and_reports(&env, "2006-03-06", "2006-03-12", "2006-03-07").await;
    env.finish().await;
}

#[test]
fn reports_need_a_period_that_does_not_end_before_it_starts() {
    let env = Env::sqlite();
    env.run(&[
        "report",
        "costs",
        "--from",
        "2006-03-02",
        "--to",
        "2006-03-01",
        "--by",
        "site",
    ])
    .fails(2, "before it starts");
    env.run(&[
        "report",
        "costs",
        "--from",
        "2006-03-01",
        "--to",
        "2006-03-02",
        "--by",
        "planet",
    ])
    .fails(2, "invalid value 'planet'");
    env.run(&[
        "calls",
        "export",
        "--from",
        "2006-03-01",
        "--to",
        "2006-03-02",
        "--format",
        "pdf",
    ])
    .fails(2, "invalid value 'pdf'");
}
