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
    let generated: Vec<CallRecord> = match Generator::new(&ds, period.from, period.to, None) {
        Ok(g) => g.collect(),
        Err(e) => panic!("generator: {e}"),
    };
    // The generator sorts each day after building it, so a record's strings sit where the
    // record was first built. Cloning lays the strings out in time order, as rows read
    // from a store cursor would be; rating is bound by reading the dialled number, so
    // this is the layout that measures rating rather than cache misses.
    let calls = generated.to_vec();
    drop(generated);
    (ds, period, calls)
}

/// CPU time of this thread (Linux `/proc/thread-self/schedstat`, first field: ns on a
/// CPU), so the rate per core can be read even when the machine is shared (criterion's
/// figures are wall-clock). 0 where the file does not exist.
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

/// Runs `f` over the year `rounds` times and prints calls per CPU-second.
fn per_core(
    label: &str,
    calls: &[CallRecord],
    rounds: u32,
    mut f: impl FnMut(&[CallRecord]) -> i64,
) {
    let t0 = thread_cpu_seconds();
    let wall = std::time::Instant::now();
    let mut sink = 0i64;
    for _ in 0..rounds {
        sink = sink.wrapping_add(f(black_box(calls)));
    }
    let cpu = thread_cpu_seconds() - t0;
    let n = calls.len() as f64 * f64::from(rounds);
    eprintln!(
        "{label}: {:.2} M calls per CPU-second ({:.2} M/s wall; checksum {sink})",
        n / cpu.max(1e-9) / 1e6,
        n / wall.elapsed().as_secs_f64() / 1e6
    );
}

fn rating(c: &mut Criterion) {
    let (ds, period, calls) = year();
    let rater = ds.rater();
    let n = calls.len() as u64;
    per_core("live rating", &calls, 5, |cs| {
        cs.iter()
            .filter_map(|r| rater.rate(r).ok())
            .map(|x| x.cost_ore)
            .sum()
    });
    per_core("legacy rating", &calls, 5, |cs| {
        cs.iter()
            .filter_map(|r| rater.rate_in(r, World::Legacy).ok())
            .map(|x| x.cost_ore)
            .sum()
    });
    per_core("savings report", &calls, 3, |cs| {
        SavingsReport::build(&ds, &rater, period, cs).basis.records as i64
    });
    let mut g = c.benchmark_group("rating");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(8))
        .warm_up_time(Duration::from_secs(1));
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
    g.sample_size(10)
        .measurement_time(Duration::from_secs(8))
        .warm_up_time(Duration::from_secs(1));
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
