use super::*;
use crate::dataset::SAMPLE_TOML;
use crate::savings::SavingsReport;
use crate::synthetic::Generator;
use chrono::NaiveDate;

static SAMPLE: std::sync::LazyLock<Dataset> =
    std::sync::LazyLock::new(|| match Dataset::from_toml_str(SAMPLE_TOML) {
        Ok(d) => d,
        Err(e) => panic!("{e}"),
    });

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).expect("date")
}

fn two_weeks() -> (Period, Vec<CallRecord>) {
    let p = Period::new(d(2006, 3, 27), d(2006, 4, 9)).expect("period");
    let calls = Generator::new(&SAMPLE, p.from, p.to, None)
        .expect("gen")
        .collect();
    (p, calls)
}

#[test]
fn totals_agree_across_dimensions() {
    let ds = &*SAMPLE;
    let rater = ds.rater();
    let (p, calls) = two_weeks();
    let mut b = CostReportBuilder::new(ds, &rater, p, &Dimension::ALL);
    for c in &calls {
        b.add(c);
    }
    let reports = b.finish();
    assert_eq!(reports.len(), 5);
    for r in &reports {
        let sum: Decimal = r.rows.iter().map(|x| x.cost).sum();
        assert_eq!(sum, r.total.cost, "{:?}", r.dimension);
        let calls_sum: u64 = r.rows.iter().map(|x| x.calls).sum();
        assert_eq!(calls_sum, calls.len() as u64);
        assert_eq!(r.unrated, 0);
    }
    let by_site = &reports[0];
    // Top list: highest cost first.
    assert!(by_site.rows.windows(2).all(|w| w[0].cost >= w[1].cost));
    assert_eq!(by_site.top(3).len(), 3);
    assert_eq!(by_site.top(100).len(), 24);
    assert_eq!(by_site.rows[0].key, "radhus");
    assert_eq!(by_site.rows[0].label, "Sørum rådhus");
    // 2006: the new tariff is live, so live cost = new-world cost.
    assert_eq!(by_site.total.cost, by_site.total.new_cost);
    let months = &reports[4];
    assert_eq!(
        months
            .rows
            .iter()
            .map(|r| r.key.as_str())
            .collect::<Vec<_>>(),
        vec!["2006-03", "2006-04"]
    );
    let ext = &reports[2];
    assert!(ext.rows[0].label.contains('('), "{}", ext.rows[0].label);
    assert_eq!(
        CostReport::build(ds, &rater, p, Dimension::Class, &calls),
        reports[3]
    );
}

#[test]
fn csv_is_rfc4180() {
    assert_eq!(csv::field("plain"), "plain");
    assert_eq!(csv::field("a,b"), "\"a,b\"");
    assert_eq!(csv::field("say \"hi\""), "\"say \"\"hi\"\"\"");
    assert_eq!(csv::field("=SUM(A1)"), "'=SUM(A1)");
    let ds = &*SAMPLE;
    let rater = ds.rater();
    let (p, calls) = two_weeks();
    let rep = CostReport::build(ds, &rater, p, Dimension::Department, &calls);
    let mut out = Vec::new();
    write_costs_csv(&rep, &mut out).expect("csv");
    let text = String::from_utf8(out).expect("utf8");
    let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(
        lines[0],
        "department,label,calls,answered,talk_minutes,cost_nok,legacy_cost_nok,new_cost_nok"
    );
    assert_eq!(lines.len(), 1 + rep.rows.len() + 1);
    assert!(
        lines
            .last()
            .is_some_and(|l| l.starts_with("total,all calls,"))
    );
    let mut calls_out = Vec::new();
    let n = write_calls_csv(&rater, p, &calls, &mut calls_out).expect("calls csv");
    assert_eq!(n, calls.len() as u64);
    let text = String::from_utf8(calls_out).expect("utf8");
    assert!(text.lines().nth(1).is_some_and(|l| l.contains(",true")));
    let sav = SavingsReport::build(ds, &rater, p, &calls);
    let mut out = Vec::new();
    write_savings_csv(&sav, &mut out).expect("csv");
    let text = String::from_utf8(out).expect("utf8");
    assert!(text.contains("summary,operating_per_year,operating view,"));
    assert!(text.contains("by_site,radhus,Sørum rådhus,"));
    assert!(
        text.contains("sensitivity,fixed_costs.legacy.unit_prices.pbx_service_small_per_year,")
    );
}

#[test]
fn xlsx_is_a_zip_with_one_sheet_per_breakdown() {
    let ds = &*SAMPLE;
    let rater = ds.rater();
    let (p, calls) = two_weeks();
    let mut b = CostReportBuilder::new(ds, &rater, p, &Dimension::ALL);
    for c in &calls {
        b.add(c);
    }
    let mut out = Vec::new();
    write_costs_xlsx(&b.finish(), &mut out).expect("xlsx");
    assert!(out.starts_with(b"PK\x03\x04"));
    let names = String::from_utf8_lossy(&out)
        .matches("xl/worksheets/sheet")
        .count();
    assert!(names >= 5, "{names}");
    let sav = SavingsReport::build(ds, &rater, p, &calls);
    let mut out = Vec::new();
    write_savings_xlsx(&sav, &mut out).expect("xlsx");
    assert!(out.starts_with(b"PK\x03\x04"));
    assert_eq!(Dimension::parse("class"), Some(Dimension::Class));
    assert_eq!(Dimension::parse("bogus"), None);
}

#[test]
fn text_tables() {
    let ds = &*SAMPLE;
    let rater = ds.rater();
    let (p, calls) = two_weeks();
    let rep = CostReport::build(ds, &rater, p, Dimension::Site, &calls);
    let t = costs_table(&rep, Some(5));
    assert_eq!(t.lines().count(), 2 + 5 + 1);
    assert!(t.contains("Sørum rådhus"));
    let sav = SavingsReport::build(ds, &rater, p, &calls);
    let t = savings_table(&sav);
    assert!(t.starts_with("Operating saving "));
    assert!(t.contains("What would flip the verdict"));
    assert!(t.contains("(assumption)"));
}

/// Reports per day, combined, equal the report of the whole period; so does savings
/// traffic per day merged into one builder (what the admin UI's cache relies on).
#[test]
fn per_day_parts_combine_into_the_whole() {
    let ds = &*SAMPLE;
    let rater = ds.rater();
    let (p, calls) = two_weeks();
    let whole = {
        let mut b = CostReportBuilder::new(ds, &rater, p, &Dimension::ALL);
        calls.iter().for_each(|c| b.add(c));
        b.finish()
    };
    let mut days: Vec<Vec<CostReport>> = Vec::new();
    let mut merged = crate::savings::SavingsBuilder::new(ds, &rater, p);
    let mut day = p.from;
    while day <= p.to {
        let one = Period::new(day, day).expect("day");
        let mut b = CostReportBuilder::new(ds, &rater, one, &Dimension::ALL);
        let mut s = crate::savings::SavingsBuilder::new(ds, &rater, one);
        for c in &calls {
            b.add(c);
            s.add(c);
        }
        days.push(b.finish());
        merged.add_traffic(&s.into_traffic());
        day = day.succ_opt().expect("next day");
    }
    for (i, want) in whole.iter().enumerate() {
        let got = CostReport::combine(want.dimension, p, days.iter().map(|d| &d[i]));
        assert_eq!(&got, want, "{:?}", want.dimension);
    }
    let mut merged_report = merged.finish();
    let want = SavingsReport::build(ds, &rater, p, &calls);
    // Each day's builder saw the other days' calls as outside its period.
    assert!(merged_report.basis.records_outside_period > 0);
    merged_report.basis.records_outside_period = want.basis.records_outside_period;
    assert_eq!(merged_report, want);
}
