//! Rating throughput and the savings report over one generated year of the Sørum sample,
//! all in memory (issue 4: at least 5 million calls per second per core; a year's savings
//! report in under a second).
//!
//! Run: `cargo bench -p billing --bench rating` (builds only billing) or
//! `cargo bench --bench rating` from the workspace root.

use billing::dataset::SAMPLE_TOML;
use billing::synthetic::Generator;
use billing::{CallRecord, CostReportBuilder, Dataset, Dimension, Period, SavingsReport, World};
use criterion::{Criterion, Throughput, black_box, criterion_group, criterion_main};
use std::time::Duration;

fn year() -> (Dataset, Period, Vec<CallRecord>) {
    let ds = match Dataset::from_toml_str(SAMPLE_TOML) {
        Ok(d) => d,
        Err(e) => panic!("sample must load: {e}"),
    };
    let period = Period::year(2006).unwrap_or_else(|| panic!("2006 is a valid year"));
    let calls: Vec<CallRecord> = match Generator::new(&ds, period.from, period.to, None) {
        Ok(g) => g.collect(),
        Err(e) => panic!("generator: {e}"),
    };
    (ds, period, calls)
}

fn rating(c: &mut Criterion) {
    let (ds, period, calls) = year();
    let rater = ds.rater();
    let n = calls.len() as u64;
    let mut g = c.benchmark_group("rating");
    g.sample_size(10).measurement_time(Duration::from_secs(8)).warm_up_time(Duration::from_secs(1));
    g.throughput(Throughput::Elements(n));
    g.bench_function("live (tariff by date), one year", |b| {
        b.iter(|| {
            let mut sum = 0i64;
            for r in &calls {
                if let Ok(x) = rater.rate(black_box(r)) {
                    sum += x.cost_ore;
                }
            }
            sum
        })
    });
    g.bench_function("legacy tariff (time bands, holidays), one year", |b| {
        b.iter(|| {
            let mut sum = 0i64;
            for r in &calls {
                if let Ok(x) = rater.rate_in(black_box(r), World::Legacy) {
                    sum += x.cost_ore;
                }
            }
            sum
        })
    });
    g.bench_function("both worlds, one year", |b| {
        b.iter(|| {
            let mut sum = 0i64;
            for r in &calls {
                let (_, l, nw) = rater.rate_both(black_box(r));
                sum += l.map_or(0, |x| x.cost_ore) + nw.map_or(0, |x| x.cost_ore);
            }
            sum
        })
    });
    g.finish();

    let mut g = c.benchmark_group("reports");
    g.sample_size(10).measurement_time(Duration::from_secs(8)).warm_up_time(Duration::from_secs(1));
    g.throughput(Throughput::Elements(n));
    g.bench_function("savings report, one year", |b| {
        b.iter(|| SavingsReport::build(&ds, &rater, period, black_box(&calls)))
    });
    g.bench_function("cost reports, five dimensions, one year", |b| {
        b.iter(|| {
            let mut builder = CostReportBuilder::new(&ds, &rater, period, &Dimension::ALL);
            for r in &calls {
                builder.add(black_box(r));
            }
            builder.finish()
        })
    });
    g.finish();
    eprintln!("one year of the sample: {n} call records");
}

criterion_group!(benches, rating);
criterion_main!(benches);
