//! `sentral report savings` end to end through the store (issue 4: a savings report over
//! one year of the sample, all calls, from the SQLite store, in under one second).
//!
//! Setup, once: a temporary SQLite store holding one generated year of the Sørum sample
//! (as `sentral import` + `sentral traffic generate` make it). Each iteration then does
//! what the CLI does after loading the dataset: `Store::stream_call_records` over the
//! year's local-midnight bounds into `billing::savings::SavingsBuilder`, and `finish`.
//!
//! Every bench runs twice: `savings_store/*` measures wall time, `savings_store_cpu/*`
//! the process's CPU time (`CLOCK_PROCESS_CPUTIME_ID`), which is what to compare on a
//! shared, loaded machine. Process rather than thread time because sqlx-sqlite does part
//! of the work on its connection worker thread.
//!
//! Run: `cargo bench --bench savings_store` (release; the setup takes ~10-20 s).

use std::sync::LazyLock;
use std::time::Duration;

use billing::dataset::SAMPLE_TOML;
use billing::savings::SavingsBuilder;
use billing::synthetic::Generator;
use billing::{CallRecord, Dataset, Period};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Europe::Oslo;
use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{Criterion, Throughput, black_box, criterion_group, criterion_main};
use futures_util::TryStreamExt;
use store::Store;

struct Fixture {
    // Kept so the directory outlives the benches.
    _dir: tempfile::TempDir,
    rt: tokio::runtime::Runtime,
    store: Store,
    dataset: Dataset,
    period: Period,
    calls: u64,
}

fn local_midnight(d: NaiveDate) -> DateTime<Utc> {
    let naive = d
        .and_hms_opt(0, 0, 0)
        .unwrap_or_else(|| panic!("no midnight on {d}"));
    Oslo.from_local_datetime(&naive)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| panic!("no local midnight on {d}"))
}

impl Fixture {
    fn bounds(&self) -> (DateTime<Utc>, DateTime<Utc>) {
        let end = self
            .period
            .to
            .succ_opt()
            .unwrap_or_else(|| panic!("2006 has a next day"));
        (local_midnight(self.period.from), local_midnight(end))
    }
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let dataset = Dataset::from_toml_str(SAMPLE_TOML).unwrap_or_else(|e| panic!("sample: {e}"));
    let period = Period::year(2006).unwrap_or_else(|| panic!("2006 is a valid year"));
    let records: Vec<CallRecord> = Generator::new(&dataset, period.from, period.to, None)
        .unwrap_or_else(|e| panic!("generator: {e}"))
        .collect();
    // A current-thread runtime: the stream and the report run on the measured thread, as
    // far as the driver lets them.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
    let store = rt.block_on(async {
        let store = Store::open_in(dir.path(), None)
            .await
            .unwrap_or_else(|e| panic!("store: {e}"));
        store
            .insert_call_records(&records)
            .await
            .unwrap_or_else(|e| panic!("insert: {e}"));
        store
    });
    let fixture = Fixture {
        _dir: dir,
        rt,
        store,
        dataset,
        period,
        calls: records.len() as u64,
    };
    // The bench must read every call back, or it measures nothing.
    let report = savings(&fixture);
    assert_eq!(report.basis.records, fixture.calls, "calls read back");
    eprintln!("savings_store: {} calls in the store", fixture.calls);
    fixture
});

/// One `report savings` over the year, from the store.
fn savings(f: &Fixture) -> billing::SavingsReport {
    let rater = f.dataset.rater();
    let (start, end) = f.bounds();
    f.rt.block_on(async {
        let mut builder = SavingsBuilder::new(&f.dataset, &rater, f.period);
        let mut stream = f.store.stream_call_records(start, end);
        while let Some(r) = stream
            .try_next()
            .await
            .unwrap_or_else(|e| panic!("read: {e}"))
        {
            builder.add(&r);
        }
        builder.finish()
    })
}

/// CPU time of the whole process, in nanoseconds, as a criterion measurement.
struct ProcessCpuTime;

static WALL: WallTime = WallTime;

fn process_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the call only writes into it.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return 0;
    }
    (ts.tv_sec as u64) * 1_000_000_000 + ts.tv_nsec as u64
}

impl Measurement for ProcessCpuTime {
    type Intermediate = u64;
    type Value = u64;
    fn start(&self) -> u64 {
        process_cpu_ns()
    }
    fn end(&self, start: u64) -> u64 {
        process_cpu_ns().saturating_sub(start)
    }
    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }
    fn zero(&self) -> u64 {
        0
    }
    fn to_f64(&self, v: &u64) -> f64 {
        *v as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        // Same unit (ns) as wall time, so the same formatter fits.
        WALL.formatter()
    }
}

fn bench<M: Measurement>(c: &mut Criterion<M>, group: &str) {
    let f = &*FIXTURE;
    let mut g = c.benchmark_group(group);
    g.sample_size(10)
        .measurement_time(Duration::from_secs(6))
        .warm_up_time(Duration::from_secs(1));
    g.throughput(Throughput::Elements(f.calls));
    g.bench_function("report savings, one year from SQLite", |b| {
        b.iter(|| black_box(savings(f)))
    });
    g.finish();
}

fn wall(c: &mut Criterion) {
    bench(c, "savings_store");
}

fn cpu(c: &mut Criterion<ProcessCpuTime>) {
    bench(c, "savings_store_cpu");
}

criterion_group!(wall_time, wall);
criterion_group! {
    name = cpu_time;
    config = Criterion::default().with_measurement(ProcessCpuTime);
    targets = cpu
}
criterion_main!(wall_time, cpu_time);
