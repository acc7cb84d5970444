//! Parsers for command-line values, so a bad value is a usage error (exit 2) that names
//! the option and says what was expected.

use std::net::SocketAddr;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Europe::Oslo;

/// `YYYY-MM-DD`.
pub fn date(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|e| format!("invalid date {s:?} ({e}): expected YYYY-MM-DD, e.g. 2026-01-31"))
}

/// `FROM-TO`, two digit strings of the same length, FROM ≤ TO.
pub fn number_range(s: &str) -> Result<(String, String), String> {
    let (first, last) = s.split_once('-').ok_or_else(|| {
        format!("invalid number range {s:?}: expected FROM-TO, e.g. 63869000-63869399")
    })?;
    let (first, last) = (first.trim(), last.trim());
    store::validate_range(first, last).map_err(|e| format!("{e}"))?;
    Ok((first.to_string(), last.to_string()))
}

/// `LOW-HIGH`, an inclusive port range.
pub fn port_range(s: &str) -> Result<(u16, u16), String> {
    let bad = || {
        format!(
            "invalid port range {s:?}: expected LOW-HIGH with 1 <= LOW <= HIGH <= 65535, e.g. 20000-29999"
        )
    };
    let (low, high) = s.split_once('-').ok_or_else(bad)?;
    let low: u16 = low.trim().parse().map_err(|_| bad())?;
    let high: u16 = high.trim().parse().map_err(|_| bad())?;
    if low == 0 || low > high {
        return Err(bad());
    }
    Ok((low, high))
}

/// `ADDR:PORT`, e.g. `0.0.0.0:5060` or `[::]:5060`.
pub fn socket_addr(s: &str) -> Result<SocketAddr, String> {
    s.parse()
        .map_err(|e| format!("invalid address {s:?} ({e}): expected ADDR:PORT, e.g. 0.0.0.0:5060"))
}

/// The UTC instants bounding the local (Europe/Oslo) dates `from..=to`, as `[start, end)`;
/// the same rule as `billing::period::Period`.
pub fn utc_bounds(
    from: NaiveDate,
    to: NaiveDate,
) -> Result<(DateTime<Utc>, DateTime<Utc>), String> {
    if to < from {
        return Err(format!("the period ends ({to}) before it starts ({from})"));
    }
    let end_date = to
        .succ_opt()
        .ok_or_else(|| format!("date {to} is too late"))?;
    Ok((local_midnight(from)?, local_midnight(end_date)?))
}

fn local_midnight(d: NaiveDate) -> Result<DateTime<Utc>, String> {
    let naive = d
        .and_hms_opt(0, 0, 0)
        .ok_or_else(|| format!("no midnight on {d}"))?;
    // Norway's DST changes happen at 02:00/03:00, so midnight always exists once; take
    // the earliest reading anyway should the zone rules ever differ.
    Oslo.from_local_datetime(&naive)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| format!("no local midnight on {d}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert!(date("2026-01-31").is_ok());
        for bad in ["2026-13-01", "2026-02-30", "31.01.2026", "", "2026-1-1x"] {
            let e = date(bad).expect_err(bad);
            assert!(e.contains("YYYY-MM-DD"), "{e}");
        }
    }

    #[test]
    fn ranges() {
        assert_eq!(
            number_range("63869000-63869399"),
            Ok(("63869000".into(), "63869399".into()))
        );
        for bad in [
            "63869000",
            "6386900-63869399",
            "63869399-63869000",
            "a-b",
            "-",
        ] {
            assert!(number_range(bad).is_err(), "{bad}");
        }
        assert_eq!(port_range("20000-29999"), Ok((20000, 29999)));
        for bad in ["0-10", "10-5", "20000", "x-y", "1-70000"] {
            assert!(port_range(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn local_day_bounds() {
        let d = |s| date(s).expect("date");
        // Winter: UTC+1; summer: UTC+2.
        let (a, b) = utc_bounds(d("2026-01-01"), d("2026-01-01")).expect("bounds");
        assert_eq!(a.to_rfc3339(), "2025-12-31T23:00:00+00:00");
        assert_eq!(b.to_rfc3339(), "2026-01-01T23:00:00+00:00");
        let (a, _) = utc_bounds(d("2026-07-01"), d("2026-07-31")).expect("bounds");
        assert_eq!(a.to_rfc3339(), "2026-06-30T22:00:00+00:00");
        assert!(utc_bounds(d("2026-02-01"), d("2026-01-01")).is_err());
    }
}
