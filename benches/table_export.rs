//! The shared table writer behind every CSV and XLSX download of the admin UI: one
//! generated year of call records (the Sørum sample) as a 19-column table, written as CSV
//! and as XLSX. Prints CPU time per row (the machine is shared, so wall time alone says
//! little) and lets criterion time a month.
//!
//! Run: `cargo bench --bench table_export` (a year; under `cargo test` a week).

use admin_ui::CALL_RECORD_COLUMNS;
use billing::dataset::SAMPLE_TOML;
use billing::report::{Cell, Table, write_table_csv, write_tables_xlsx};
use billing::synthetic::Generator;
use billing::{CallRecord, Dataset, Period};
use criterion::{Criterion, Throughput, black_box, criterion_group, criterion_main};
use std::time::Duration;

fn year() -> Vec<CallRecord> {
    let ds = Dataset::from_toml_str(SAMPLE_TOML).unwrap_or_else(|e| panic!("sample: {e}"));
    let period = Period::year(2006).unwrap_or_else(|| panic!("2006 is a valid year"));
    match Generator::new(&ds, period.from, period.to, None) {
        Ok(g) => g.collect(),
        Err(e) => panic!("generator: {e}"),
    }
}

/// The call-record table as the admin UI's download builds it (same columns and types).
fn table(calls: &[CallRecord]) -> Table {
    let mut t = Table::new("call records", &CALL_RECORD_COLUMNS);
    for r in calls {
        t.push(vec![
            Cell::Int(r.id),
            Cell::Text(r.started_at.to_rfc3339()),
            r.answered_at
                .map_or(Cell::Empty, |t| Cell::Text(t.to_rfc3339())),
            Cell::Text(r.ended_at.to_rfc3339()),
            r.direction.as_str().into(),
            r.disposition.as_str().into(),
            r.caller_extension.clone().into(),
            r.caller_number.as_str().into(),
            r.caller_site.clone().into(),
            r.caller_department.clone().into(),
            r.callee_extension.clone().into(),
            r.callee_number.as_str().into(),
            r.callee_site.clone().into(),
            r.callee_department.clone().into(),
            r.trunk.clone().into(),
            Cell::Int(i64::from(r.talk_seconds)),
            Cell::Money(rust_decimal::Decimal::new(i64::from(r.talk_seconds) * 3, 2)),
            Cell::Money(rust_decimal::Decimal::new(i64::from(r.talk_seconds) * 5, 2)),
            r.synthetic.into(),
        ]);
    }
    t
}

/// CPU time of this thread (Linux `/proc/thread-self/schedstat`), 0 elsewhere.
fn thread_cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .next()
                .and_then(|ns| ns.parse::<f64>().ok())
        })
        .map_or(0.0, |ns| ns / 1e9)
}

/// Runs `f` once, printing CPU time per row; `f` returns the bytes written (0: none).
fn per_row(label: &str, rows: usize, f: impl FnOnce() -> usize) {
    let t0 = thread_cpu_seconds();
    let wall = std::time::Instant::now();
    let bytes = f();
    let cpu = thread_cpu_seconds() - t0;
    eprintln!(
        "{label}: {rows} rows, {:.2} MB, {:.2} µs CPU per row ({:.2} s CPU, {:.2} s wall)",
        bytes as f64 / 1e6,
        cpu / rows as f64 * 1e6,
        cpu,
        wall.elapsed().as_secs_f64()
    );
}

fn export(c: &mut Criterion) {
    let mut calls = year();
    // `cargo test --all-targets` runs this without `--bench` just to see it work: a week
    // is enough there, and a year's XLSX in a debug build would take minutes of the suite.
    if !std::env::args().any(|a| a == "--bench") {
        calls.truncate(calls.len() / 52);
    }
    let rows = calls.len();
    per_row("build table", rows, || 0);
    let t = table(&calls);
    per_row("CSV", rows, || {
        let mut out = Vec::new();
        write_table_csv(&t, &mut out).unwrap_or_else(|e| panic!("csv: {e}"));
        out.len()
    });
    per_row("XLSX", rows, || {
        let mut out = Vec::new();
        write_tables_xlsx(std::slice::from_ref(&t), &mut out)
            .unwrap_or_else(|e| panic!("xlsx: {e}"));
        out.len()
    });
    let month = table(&calls[..rows / 12]);
    let mut g = c.benchmark_group("table_export");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(8))
        .warm_up_time(Duration::from_secs(1));
    g.throughput(Throughput::Elements(month.rows.len() as u64));
    g.bench_function("CSV, one month of call records", |b| {
        b.iter(|| {
            let mut out = Vec::new();
            write_table_csv(black_box(&month), &mut out).map(|()| out.len())
        })
    });
    g.bench_function("XLSX, one month of call records", |b| {
        b.iter(|| {
            let mut out = Vec::new();
            write_tables_xlsx(std::slice::from_ref(black_box(&month)), &mut out).map(|()| out.len())
        })
    });
    g.finish();
}

criterion_group!(benches, export);
criterion_main!(benches);
