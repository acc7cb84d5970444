use super::*;
use crate::dataset::SAMPLE_TOML;
use crate::rating::call_date;

fn sample() -> Dataset {
    match Dataset::from_toml_str(SAMPLE_TOML) {
        Ok(d) => d,
        Err(e) => panic!("{e}"),
    }
}

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).expect("date")
}

#[test]
fn deterministic_and_sub_periods_match() {
    let ds = sample();
    let a: Vec<_> = Generator::new(&ds, d(2006, 3, 1), d(2006, 3, 7), None)
        .expect("gen")
        .collect();
    let b: Vec<_> = Generator::new(&ds, d(2006, 3, 1), d(2006, 3, 7), None)
        .expect("gen")
        .collect();
    assert_eq!(a, b);
    assert!(!a.is_empty());
    // The same days inside a longer period give the same calls.
    let long: Vec<_> = Generator::new(&ds, d(2006, 2, 20), d(2006, 3, 10), None)
        .expect("gen")
        .filter(|r| (d(2006, 3, 1)..=d(2006, 3, 7)).contains(&call_date(r)))
        .collect();
    assert_eq!(a, long);
    let other: Vec<_> = Generator::new(&ds, d(2006, 3, 1), d(2006, 3, 7), Some(7))
        .expect("gen")
        .collect();
    assert_ne!(a, other);
}

#[test]
fn records_are_synthetic_ordered_and_classify_back() {
    let ds = sample();
    let r = ds.rater();
    let recs: Vec<_> = Generator::new(&ds, d(2006, 3, 6), d(2006, 3, 12), None)
        .expect("gen")
        .collect();
    assert!(recs.iter().all(|c| c.synthetic));
    assert!(recs.windows(2).all(|w| w[0].started_at <= w[1].started_at));
    for c in &recs {
        assert!((d(2006, 3, 6)..=d(2006, 3, 12)).contains(&call_date(c)));
        assert!(c.talk_seconds >= 1);
        // Every generated call rates in both worlds (no invalid numbers, every class priced).
        let (_, l, n) = r.rate_both(c);
        assert!(l.is_ok() && n.is_ok(), "{c:?}");
        if c.direction == CallDirection::InternalOtherSite {
            assert_ne!(c.caller_site, c.callee_site);
        }
        if c.direction == CallDirection::InternalSameSite {
            assert_eq!(c.caller_site, c.callee_site);
        }
    }
    // Saturday 11 March: only the two 24/7 nursing homes call.
    let sat: Vec<_> = recs
        .iter()
        .filter(|c| call_date(c) == d(2006, 3, 11))
        .collect();
    assert!(!sat.is_empty());
    assert!(sat.iter().all(|c| {
        let site = c.caller_site.as_deref().or(c.callee_site.as_deref());
        matches!(site, Some("sorum-sykehjem" | "blaker-bos"))
    }));
}

#[test]
fn weekday_volume_matches_profile() {
    let ds = sample();
    // Four weeks of working days; expected outgoing external calls per working day:
    // 313 × 3 × (225/251) + 32 × 3 × 0.25 × (1 − 225/251) = 841.7 + 2.5 ≈ 844.2.
    let from = d(2006, 3, 6);
    let to = d(2006, 3, 31);
    let days = holidays::working_days(from, to);
    let out = Generator::new(&ds, from, to, None)
        .expect("gen")
        .filter(|c| {
            matches!(
                c.direction,
                CallDirection::Outbound | CallDirection::Emergency
            )
        })
        .filter(|c| holidays::is_working_day(call_date(c)))
        .count() as f64;
    let expected = 844.2 * f64::from(days);
    // Poisson: sd = √(16 900) ≈ 130; allow 4 sd.
    assert!(
        (out - expected).abs() < 4.0 * expected.sqrt(),
        "{out} vs {expected}"
    );
}

#[test]
fn lognormal_mean_is_the_profile_mean() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let n = 200_000;
    let sum: f64 = (0..n)
        .map(|_| f64::from(lognormal_seconds(&mut rng, 130.0, 1.0)))
        .sum();
    let mean = sum / f64::from(n);
    // sd of the mean = 130 × √(e − 1) / √n ≈ 0.38 s.
    assert!((mean - 130.0).abs() < 2.0, "{mean}");
}

#[test]
fn errors() {
    let mut ds = sample();
    assert!(matches!(
        Generator::new(&ds, d(2006, 3, 2), d(2006, 3, 1), None),
        Err(SyntheticError::EmptyPeriod { .. })
    ));
    ds.traffic = None;
    assert!(matches!(
        Generator::new(&ds, d(2006, 3, 1), d(2006, 3, 1), None),
        Err(SyntheticError::NoProfile)
    ));
}
