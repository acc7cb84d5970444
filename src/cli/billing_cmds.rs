//! The billing-backed commands: call listing, synthetic traffic, reports. Records come
//! from the store as a stream, so a year of calls never sits in memory.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use billing::period::Period;
use billing::savings::SavingsBuilder;
use billing::{CostReportBuilder, Dimension};
use chrono::NaiveDate;
use futures_util::stream::BoxStream;
use futures_util::{StreamExt, TryStreamExt};
use store::{CallFilter, Store, StoredCallRecord};

use super::import::active_dataset;
use super::{CallsCmd, ExportFormat, ReportCmd, ReportFormat, TrafficCmd, UsageError, args, audit};

fn period(from: NaiveDate, to: NaiveDate) -> anyhow::Result<Period> {
    Period::new(from, to).map_err(|e| UsageError(e.to_string()).into())
}

pub async fn calls(store: &Store, cmd: CallsCmd) -> anyhow::Result<()> {
    match cmd {
        CallsCmd::List { from, to, json } => {
            let (from, to) = match (from, to) {
                (None, None) => (None, None),
                (f, t) => {
                    let f = f.unwrap_or(NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default());
                    let t = t.unwrap_or(NaiveDate::from_ymd_opt(9998, 12, 31).unwrap_or_default());
                    let (a, b) = args::utc_bounds(f, t).map_err(UsageError)?;
                    (Some(a), Some(b))
                }
            };
            let records = store
                .call_records(&CallFilter {
                    from,
                    to,
                    limit: None,
                })
                .await
                .context("cannot read call records")?;
            let mut out = std::io::stdout().lock();
            if json {
                serde_json::to_writer_pretty(&mut out, &records).context("cannot write JSON")?;
                writeln!(out)?;
            } else {
                print_calls(&mut out, &records)?;
            }
            Ok(())
        }
        CallsCmd::Export {
            from,
            to,
            format: ExportFormat::Csv,
            output,
        } => export(store, from, to, output.as_deref()).await,
    }
}

fn print_calls(out: &mut impl Write, records: &[StoredCallRecord]) -> anyhow::Result<()> {
    writeln!(
        out,
        "{:>8}  {:<25}  {:<19}  {:<14}  {:<14}  {:>6}  {:<18}  COST",
        "ID", "STARTED (UTC)", "DIRECTION", "FROM", "TO", "TALK", "DISPOSITION"
    )?;
    for r in records {
        writeln!(
            out,
            "{:>8}  {:<25}  {:<19}  {:<14}  {:<14}  {:>6}  {:<18}  {}",
            r.id.0,
            r.started_at.format("%Y-%m-%d %H:%M:%S"),
            r.direction.as_str(),
            r.caller_number,
            r.callee_number,
            r.talk_seconds,
            r.disposition.map_or("in progress", |d| d.as_str()),
            r.cost_new.map(|c| c.to_string()).unwrap_or_default()
        )?;
    }
    writeln!(out, "{} call(s)", records.len())?;
    Ok(())
}

/// Records written per store batch while generating.
const GENERATE_BATCH: usize = 20_000;

pub async fn traffic(store: &Store, cmd: TrafficCmd) -> anyhow::Result<()> {
    match cmd {
        TrafficCmd::Generate { from, to, seed } => {
            period(from, to)?;
            let dataset = active_dataset(store).await?;
            let generator = billing::synthetic::Generator::new(&dataset, from, to, seed)
                .context("cannot generate traffic from the active dataset")?;
            let (start, end) = args::utc_bounds(from, to).map_err(UsageError)?;
            let started = std::time::Instant::now();
            let removed = store
                .delete_synthetic_calls(start, end)
                .await
                .context("cannot remove earlier synthetic records")?;
            let mut written = 0u64;
            let mut batch = Vec::with_capacity(GENERATE_BATCH);
            for record in generator {
                batch.push(record);
                if batch.len() == GENERATE_BATCH {
                    written += store
                        .insert_call_records(&batch)
                        .await
                        .context("cannot store call records")?;
                    batch.clear();
                }
            }
            written += store
                .insert_call_records(&batch)
                .await
                .context("cannot store call records")?;
            audit(
                store,
                "traffic.generate",
                format!("{from}..={to} seed={seed:?} records={written}"),
            )
            .await?;
            println!(
                "generated {written} synthetic call records for {from} to {to} in {:.1} s{}",
                started.elapsed().as_secs_f64(),
                if removed > 0 {
                    format!(" (replacing {removed} earlier synthetic records)")
                } else {
                    String::new()
                }
            );
            Ok(())
        }
    }
}

pub async fn report(store: &Store, cmd: ReportCmd) -> anyhow::Result<()> {
    match cmd {
        ReportCmd::Savings {
            from,
            to,
            format,
            output,
        } => {
            check_binary_output(format, output.as_deref())?;
            let period = period(from, to)?;
            let dataset = active_dataset(store).await?;
            let rater = dataset.rater();
            let (start, end) = args::utc_bounds(from, to).map_err(UsageError)?;
            let mut builder = SavingsBuilder::new(&dataset, &rater, period);
            let mut stream = store.stream_call_records(start, end);
            while let Some(record) = stream
                .try_next()
                .await
                .context("cannot read call records")?
            {
                builder.add(&record);
            }
            drop(stream);
            let report = builder.finish();
            write_output(output.as_deref(), |w| {
                match format {
                    ReportFormat::Json => {
                        serde_json::to_writer_pretty(&mut *w, &report)?;
                        writeln!(w)?;
                    }
                    ReportFormat::Table => savings_table(w, &report)?,
                    ReportFormat::Csv => billing::report::write_savings_csv(&report, w)?,
                    ReportFormat::Xlsx => billing::report::write_savings_xlsx(&report, w)?,
                }
                Ok(())
            })
        }
        ReportCmd::Costs {
            from,
            to,
            by,
            format,
            output,
        } => {
            check_binary_output(format, output.as_deref())?;
            let period = period(from, to)?;
            let dataset = active_dataset(store).await?;
            let rater = dataset.rater();
            let (start, end) = args::utc_bounds(from, to).map_err(UsageError)?;
            let wanted = Dimension::from(by);
            // XLSX gets one sheet per breakdown, the one asked for first.
            let dims: Vec<Dimension> = if format == ReportFormat::Xlsx {
                std::iter::once(wanted)
                    .chain(Dimension::ALL.into_iter().filter(|d| *d != wanted))
                    .collect()
            } else {
                vec![wanted]
            };
            let mut builder = CostReportBuilder::new(&dataset, &rater, period, &dims);
            let mut stream = store.stream_call_records(start, end);
            while let Some(record) = stream
                .try_next()
                .await
                .context("cannot read call records")?
            {
                builder.add(&record);
            }
            drop(stream);
            let reports = builder.finish();
            let first = reports
                .first()
                .ok_or_else(|| anyhow::anyhow!("the cost report came back empty"))?;
            write_output(output.as_deref(), |w| {
                match format {
                    ReportFormat::Json => {
                        serde_json::to_writer_pretty(&mut *w, first)?;
                        writeln!(w)?;
                    }
                    ReportFormat::Table => costs_table(w, first)?,
                    ReportFormat::Csv => billing::report::write_costs_csv(first, w)?,
                    ReportFormat::Xlsx => billing::report::write_costs_xlsx(&reports, w)?,
                }
                Ok(())
            })
        }
    }
}

/// Refuses to write a binary XLSX file to a terminal.
fn check_binary_output(format: ReportFormat, output: Option<&Path>) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    if format == ReportFormat::Xlsx && output.is_none() && std::io::stdout().is_terminal() {
        return Err(UsageError(
            "--format xlsx writes a binary file: give --output FILE.xlsx".into(),
        )
        .into());
    }
    Ok(())
}

/// Writes to `--output FILE` or standard output.
fn write_output(
    output: Option<&Path>,
    write: impl FnOnce(&mut dyn Write) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    match output {
        Some(path) => {
            let file = std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?;
            let mut w = std::io::BufWriter::new(file);
            write(&mut w).with_context(|| format!("cannot write {}", path.display()))?;
            w.flush()
                .with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!("wrote {}", path.display());
            Ok(())
        }
        None => {
            let mut out = std::io::stdout().lock();
            write(&mut out).context("cannot write the report")?;
            out.flush()?;
            Ok(())
        }
    }
}

/// The store's async stream as the blocking iterator billing's streaming writers take.
/// Used inside `block_in_place`, so the runtime's other tasks keep running; one record
/// is in memory at a time. A read error ends the iteration and is kept in `error`.
struct BlockingRecords<'a> {
    stream: BoxStream<'a, store::Result<billing::CallRecord>>,
    handle: tokio::runtime::Handle,
    error: Option<store::StoreError>,
}

impl Iterator for BlockingRecords<'_> {
    type Item = billing::CallRecord;
    fn next(&mut self) -> Option<billing::CallRecord> {
        if self.error.is_some() {
            return None;
        }
        match self.handle.block_on(self.stream.next()) {
            Some(Ok(r)) => Some(r),
            Some(Err(e)) => {
                self.error = Some(e);
                None
            }
            None => None,
        }
    }
}

async fn export(
    store: &Store,
    from: NaiveDate,
    to: NaiveDate,
    output: Option<&Path>,
) -> anyhow::Result<()> {
    let period = period(from, to)?;
    let dataset = active_dataset(store).await?;
    let rater = dataset.rater();
    let (start, end) = args::utc_bounds(from, to).map_err(UsageError)?;
    let mut records = BlockingRecords {
        stream: store.stream_call_records(start, end),
        handle: tokio::runtime::Handle::current(),
        error: None,
    };
    let mut count = 0u64;
    tokio::task::block_in_place(|| {
        write_output(output, |w| {
            count = billing::report::write_calls_csv(&rater, period, &mut records, w)?;
            Ok(())
        })
    })?;
    if let Some(e) = records.error {
        return Err(
            anyhow::Error::new(e).context("cannot read call records (the export is incomplete)")
        );
    }
    eprintln!("exported {count} call(s)");
    Ok(())
}

fn costs_table(w: &mut dyn Write, r: &billing::CostReport) -> anyhow::Result<()> {
    writeln!(
        w,
        "Call costs by {} ({} to {}), NOK",
        r.dimension.as_str(),
        r.period.from,
        r.period.to
    )?;
    writeln!(
        w,
        "{:<40} {:>9} {:>9} {:>11} {:>14} {:>14} {:>14}",
        r.dimension.as_str(),
        "calls",
        "answered",
        "minutes",
        "cost",
        "old world",
        "new world"
    )?;
    for row in r.rows.iter().chain(std::iter::once(&r.total)) {
        let label = if std::ptr::eq(row, &r.total) {
            "total"
        } else {
            row.label.as_str()
        };
        writeln!(
            w,
            "{:<40} {:>9} {:>9} {:>11.1} {:>14.2} {:>14.2} {:>14.2}",
            label,
            row.calls,
            row.answered,
            row.talk_seconds as f64 / 60.0,
            row.cost,
            row.legacy_cost,
            row.new_cost
        )?;
    }
    if r.unrated > 0 {
        writeln!(
            w,
            "{} call(s) could not be rated live and count as 0",
            r.unrated
        )?;
    }
    Ok(())
}

fn savings_table(w: &mut dyn Write, r: &billing::savings::SavingsReport) -> anyhow::Result<()> {
    let b = &r.basis;
    writeln!(
        w,
        "Savings report: {} ({} to {})",
        r.dataset, r.period.from, r.period.to
    )?;
    writeln!(w, "{}", r.verdict.sentence)?;
    writeln!(w)?;
    writeln!(
        w,
        "Data: {} calendar days, {} working days, {} calls ({:.0} % synthetic), {} answered; unrated: {} old, {} new",
        b.calendar_days,
        b.working_days,
        b.records,
        b.share_synthetic * 100.0,
        b.answered,
        b.unrated_legacy,
        b.unrated_new
    )?;
    writeln!(w, "Annualised: {}", r.annualisation.method)?;
    writeln!(w)?;
    writeln!(w, "{:<34} {:>16} {:>16}", "NOK", "period", "per year")?;
    let rows = [
        (
            "old world: traffic",
            r.period_costs.legacy_traffic,
            r.annual.legacy_traffic,
        ),
        (
            "old world: fixed costs",
            r.period_costs.legacy_fixed,
            r.annual.legacy_fixed,
        ),
        (
            "old world: total",
            r.period_costs.legacy_total,
            r.annual.legacy_total,
        ),
        (
            "new world: traffic",
            r.period_costs.new_traffic,
            r.annual.new_traffic,
        ),
        (
            "new world: fixed costs",
            r.period_costs.new_fixed,
            r.annual.new_fixed,
        ),
        (
            "new world: operating total",
            r.period_costs.new_operating_total,
            r.annual.new_operating_total,
        ),
        (
            "investment annuity",
            r.period_costs.investment_annuity,
            r.annual.investment_annuity,
        ),
        (
            "new world: full cost",
            r.period_costs.new_full_total,
            r.annual.new_full_total,
        ),
        (
            "operating saving",
            r.period_costs.operating_saving,
            r.annual.operating_saving,
        ),
        (
            "saving incl. investment",
            r.period_costs.full_cost_saving,
            r.annual.full_cost_saving,
        ),
    ];
    for (label, period, year) in rows {
        writeln!(w, "{label:<34} {period:>16.2} {year:>16.2}")?;
    }
    writeln!(w, "{:<34} {:>16} {:>16.2}", "target", "", r.target_per_year)?;
    for (title, rows) in [
        ("site", &r.by_site),
        ("department", &r.by_department),
        ("destination class", &r.by_class),
    ] {
        writeln!(w)?;
        writeln!(w, "By {title}:")?;
        writeln!(
            w,
            "  {:<34} {:>9} {:>12} {:>14} {:>14} {:>16}",
            "", "calls", "minutes", "old traffic", "new traffic", "saving/year"
        )?;
        for row in rows.iter() {
            writeln!(
                w,
                "  {:<34} {:>9} {:>12} {:>14.2} {:>14.2} {:>16.2}",
                row.label,
                row.calls,
                row.talk_minutes,
                row.legacy_traffic,
                row.new_traffic,
                row.saving_per_year
            )?;
        }
    }
    if !r.sensitivity.is_empty() {
        writeln!(w)?;
        writeln!(w, "What would flip the verdict (all else equal):")?;
        for s in &r.sensitivity {
            let flip =
                |v: Option<rust_decimal::Decimal>| v.map_or("-".to_string(), |v| format!("{v:.2}"));
            writeln!(
                w,
                "  {:<48} now {:>12.2} {:<10} operating flips at {:>12}, full cost at {:>12}{}",
                s.description,
                s.base_value,
                s.unit,
                flip(s.operating_flip_at),
                flip(s.full_cost_flip_at),
                if s.is_assumption {
                    "  (assumption)"
                } else {
                    ""
                }
            )?;
        }
    }
    for note in &r.notes {
        writeln!(w, "Note: {note}")?;
    }
    Ok(())
}
