//! Money: `rust_decimal` NOK at the edges, whole øre or micro-NOK integers inside hot loops.
//!
//! Prices are kept as integer micro-NOK (10⁻⁶ NOK) so that rating a call is integer
//! arithmetic; a call's cost is computed exactly and rounded once, to the øre, half up.
//! Sums are kept in øre (`i64`), which is exact for any sum of rounded call costs.

use rust_decimal::Decimal;

/// Micro-NOK per NOK.
pub const MICRO: i64 = 1_000_000;
/// Micro-NOK per øre.
pub const MICRO_PER_ORE: i64 = 10_000;

/// A non-negative price with at most 6 decimals, as integer micro-NOK.
pub fn to_micro(d: Decimal) -> Option<i64> {
    if d.is_sign_negative() && !d.is_zero() {
        return None;
    }
    if d.scale() > 6 {
        return None;
    }
    let scaled = d.checked_mul(Decimal::from(MICRO))?;
    if !scaled.fract().is_zero() {
        return None;
    }
    rust_decimal::prelude::ToPrimitive::to_i64(&scaled)
}

/// Øre to NOK.
pub fn ore_to_decimal(ore: i64) -> Decimal {
    Decimal::new(ore, 2)
}

/// Micro-NOK to NOK.
pub fn micro_to_decimal(micro: i64) -> Decimal {
    Decimal::new(micro, 6).normalize()
}

/// Rounds a non-negative amount in 1/`den` øre to whole øre, half up.
pub fn round_half_up_div(num: i128, den: i128) -> i64 {
    if den <= 0 {
        return 0;
    }
    let q = if num >= 0 {
        (num + den / 2) / den
    } else {
        -((-num + den / 2) / den)
    };
    i64::try_from(q).unwrap_or(i64::MAX)
}

/// Rounds a decimal amount to øre, half up (away from zero at exactly half).
pub fn round_ore(d: Decimal) -> Decimal {
    d.round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
}

/// Formats whole NOK with spaces between thousands ("299 071"), as Norwegian finance
/// documents do; the amount is rounded half up to whole kroner.
pub fn format_nok(d: Decimal) -> String {
    let r = d.round_dp_with_strategy(0, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
    let s = r.abs().trunc().to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3 + 1);
    if r.is_sign_negative() && !r.is_zero() {
        out.push('−');
    }
    let n = s.len();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (n - i) % 3 == 0 {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn micro_conversion() {
        assert_eq!(to_micro(dec!(0.17)), Some(170_000));
        assert_eq!(to_micro(dec!(24.99)), Some(24_990_000));
        assert_eq!(to_micro(dec!(0.000001)), Some(1));
        assert_eq!(to_micro(dec!(0.0000001)), None);
        assert_eq!(to_micro(dec!(-1)), None);
        assert_eq!(to_micro(dec!(0)), Some(0));
    }

    #[test]
    fn half_up() {
        assert_eq!(round_half_up_div(5, 10), 1);
        assert_eq!(round_half_up_div(4, 10), 0);
        assert_eq!(round_half_up_div(15, 10), 2);
        assert_eq!(round_ore(dec!(0.125)), dec!(0.13));
        assert_eq!(round_ore(dec!(0.1249)), dec!(0.12));
    }

    #[test]
    fn formats_thousands() {
        assert_eq!(format_nok(dec!(299071.4)), "299 071");
        assert_eq!(format_nok(dec!(85788.5)), "85 789");
        assert_eq!(format_nok(dec!(250000)), "250 000");
        assert_eq!(format_nok(dec!(999)), "999");
        assert_eq!(format_nok(dec!(-1234)), "−1 234");
    }
}
