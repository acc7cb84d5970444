//! Norwegian public holidays ("helligdager" under lov om helligdager og helligdagsfred,
//! plus 1 and 17 May under lov om 1. og 17. mai som høgtidsdager), computed, not listed.
//!
//! Fixed: 1 January, 1 May, 17 May, 25 and 26 December. Moveable, from Easter Sunday:
//! Maundy Thursday (−3), Good Friday (−2), Easter Sunday, Easter Monday (+1), Ascension
//! Day (+39), Whit Sunday (+49), Whit Monday (+50). Christmas Eve and New Year's Eve are
//! not public holidays (offices close early, tariffs did not change).

use chrono::{Datelike, Days, NaiveDate};

/// Easter Sunday in the Gregorian calendar (the "anonymous Gregorian" computus, Meeus/
/// Jones/Butcher), valid for every year chrono can represent after 1583.
pub fn easter_sunday(year: i32) -> Option<NaiveDate> {
    let a = year.rem_euclid(19);
    let b = year.div_euclid(100);
    let c = year.rem_euclid(100);
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15).rem_euclid(30);
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k).rem_euclid(7);
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    NaiveDate::from_ymd_opt(year, month as u32, day as u32)
}

const EASTER_TABLE_FROM: i32 = 1900;
const EASTER_TABLE_TO: i32 = 2200;

/// Easter Sunday's day of the year for 1900–2200, computed once: rating asks for every
/// call between March and June.
static EASTER_ORDINALS: std::sync::LazyLock<Vec<u32>> = std::sync::LazyLock::new(|| {
    (EASTER_TABLE_FROM..=EASTER_TABLE_TO)
        .map(|y| easter_sunday(y).map_or(0, |d| d.ordinal()))
        .collect()
});

fn easter_ordinal(year: i32) -> Option<u32> {
    if (EASTER_TABLE_FROM..=EASTER_TABLE_TO).contains(&year) {
        let i = usize::try_from(year - EASTER_TABLE_FROM).ok()?;
        EASTER_ORDINALS.get(i).copied().filter(|o| *o > 0)
    } else {
        easter_sunday(year).map(|d| d.ordinal())
    }
}

/// Which holiday a date is, if any.
pub fn holiday_name(date: NaiveDate) -> Option<&'static str> {
    match (date.month(), date.day()) {
        (1, 1) => return Some("Første nyttårsdag"),
        (5, 1) => return Some("Arbeidernes dag"),
        (5, 17) => return Some("Grunnlovsdag"),
        (12, 25) => return Some("Første juledag"),
        (12, 26) => return Some("Andre juledag"),
        _ => {}
    }
    // Moveable feasts fall between 19 March (Maundy Thursday at the earliest) and 14 June
    // (Whit Monday at the latest); skip the computus outside that window.
    if !(3..=6).contains(&date.month()) {
        return None;
    }
    let offset = i64::from(date.ordinal()) - i64::from(easter_ordinal(date.year())?);
    match offset {
        -3 => Some("Skjærtorsdag"),
        -2 => Some("Langfredag"),
        0 => Some("Første påskedag"),
        1 => Some("Andre påskedag"),
        39 => Some("Kristi himmelfartsdag"),
        49 => Some("Første pinsedag"),
        50 => Some("Andre pinsedag"),
        _ => None,
    }
}

pub fn is_public_holiday(date: NaiveDate) -> bool {
    holiday_name(date).is_some()
}

/// All public holidays of a year, in date order.
pub fn public_holidays(year: i32) -> Vec<(NaiveDate, &'static str)> {
    let mut out = Vec::new();
    let Some(mut d) = NaiveDate::from_ymd_opt(year, 1, 1) else {
        return out;
    };
    while d.year() == year {
        if let Some(name) = holiday_name(d) {
            out.push((d, name));
        }
        match d.checked_add_days(Days::new(1)) {
            Some(n) => d = n,
            None => break,
        }
    }
    out
}

/// A working day: Monday to Friday and not a public holiday.
pub fn is_working_day(date: NaiveDate) -> bool {
    date.weekday().number_from_monday() <= 5 && !is_public_holiday(date)
}

/// Working days from `from` to `to`, both included.
pub fn working_days(from: NaiveDate, to: NaiveDate) -> u32 {
    from.iter_days()
        .take_while(|d| *d <= to)
        .filter(|d| is_working_day(*d))
        .count() as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("valid date")
    }

    #[test]
    fn easter_known_years() {
        // Published Easter Sundays.
        assert_eq!(easter_sunday(2005), Some(d(2005, 3, 27)));
        assert_eq!(easter_sunday(2006), Some(d(2006, 4, 16)));
        assert_eq!(easter_sunday(2026), Some(d(2026, 4, 5)));
        assert_eq!(easter_sunday(2019), Some(d(2019, 4, 21)));
        assert_eq!(easter_sunday(2038), Some(d(2038, 4, 25))); // latest possible
        assert_eq!(easter_sunday(2285), Some(d(2285, 3, 22))); // earliest possible
    }

    #[test]
    fn holidays_2005() {
        let got: Vec<NaiveDate> = public_holidays(2005).into_iter().map(|(d, _)| d).collect();
        assert_eq!(
            got,
            vec![
                d(2005, 1, 1),
                d(2005, 3, 24), // Maundy Thursday
                d(2005, 3, 25), // Good Friday
                d(2005, 3, 27),
                d(2005, 3, 28), // Easter Monday
                d(2005, 5, 1),
                d(2005, 5, 5), // Ascension
                d(2005, 5, 15),
                d(2005, 5, 16), // Whit Monday
                d(2005, 5, 17),
                d(2005, 12, 25),
                d(2005, 12, 26),
            ]
        );
    }

    #[test]
    fn holidays_2026() {
        assert_eq!(holiday_name(d(2026, 4, 2)), Some("Skjærtorsdag"));
        assert_eq!(holiday_name(d(2026, 4, 3)), Some("Langfredag"));
        assert_eq!(holiday_name(d(2026, 4, 6)), Some("Andre påskedag"));
        assert_eq!(holiday_name(d(2026, 5, 14)), Some("Kristi himmelfartsdag"));
        assert_eq!(holiday_name(d(2026, 5, 25)), Some("Andre pinsedag"));
        assert_eq!(holiday_name(d(2026, 5, 17)), Some("Grunnlovsdag"));
        assert_eq!(holiday_name(d(2026, 4, 7)), None);
        assert_eq!(holiday_name(d(2026, 12, 24)), None);
        assert_eq!(public_holidays(2026).len(), 12);
    }

    #[test]
    fn working_days_2006() {
        // 260 weekdays; holidays on weekdays in 2006: 13, 14, 17 April, 1, 17, 25 May,
        // 5 June, 25, 26 December (1 January was a Sunday).
        assert_eq!(working_days(d(2006, 1, 1), d(2006, 12, 31)), 251);
        assert!(!is_working_day(d(2006, 4, 14)));
        assert!(is_working_day(d(2006, 4, 18)));
    }
}
