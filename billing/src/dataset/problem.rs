//! What is wrong in a data file, as data: [`ProblemKind`] renders in English through
//! `Display` (the CLI and logs) and in bokmål through [`ProblemKind::to_bokmal`] (the admin
//! UI's default language), so the wording of a mistake lives in one place per language.

use crate::numbering::DestinationClass;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::fmt;

/// One kind of mistake, with the values the message quotes. Strings quoted with `{:?}` are
/// the file's own text, so a stray space or comma stays visible.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ProblemKind {
    /// The toml crate's own parser or type message (English only; it is not ours).
    Toml {
        message: String,
    },
    /// The file could not be read (the OS's message).
    Io {
        message: String,
    },
    Negative {
        value: String,
    },
    TooManyDecimals {
        value: String,
    },
    NotDecimal {
        value: String,
    },
    NotFraction {
        value: f64,
    },
    NotNonNegative {
        value: f64,
    },
    UnknownClass {
        name: String,
    },
    NotDate {
        value: String,
    },
    UnsupportedVersion {
        version: i64,
    },
    /// A whole `[table]` is absent.
    MissingTable {
        table: String,
    },
    NoTariffs,
    NoTariffOfWorld {
        world: String,
    },
    OnlyNok {
        currency: String,
    },
    PricesIncludeVat,
    MissingClaimedSaving,
    TrunkPrefix,
    NotDigits {
        value: String,
    },
    DuplicatePrefix {
        prefix: String,
    },
    InternationalPrefix {
        required: String,
    },
    ClassNotListed {
        class: DestinationClass,
    },
    LengthShorterThanPrefix {
        len: u8,
        prefix: String,
    },
    DidOverlap {
        site_a: String,
        site_b: String,
    },
    /// The numbering plan refused the tables for a reason not located above.
    NumberingPlan {
        detail: String,
    },
    HourOutOfRange,
    EndHourOutOfRange {
        start: u32,
        end: u32,
    },
    BadWorld {
        value: String,
    },
    MissingWorld,
    EndsBeforeStart {
        start: NaiveDate,
    },
    NoTimeBands {
        name: String,
    },
    ZeroIncrement,
    NotWholeOre,
    NoRateForOtherSite {
        class: DestinationClass,
        tariff_path: String,
    },
    ZeroLifetime,
    InterestRate {
        value: f64,
    },
    SiteIdReused {
        id: String,
    },
    NotNationalNumber {
        digits: u8,
        value: String,
    },
    RangeEndsBeforeStart,
    TooManyExtensions {
        extensions: u32,
        range_size: u64,
    },
    BadLegacyPbx {
        value: String,
    },
    NoSites,
    OnlyLognormal {
        value: String,
    },
    SharesSum {
        sum: f64,
    },
    NotExternal,
    MissingDuration,
    HourlyCount {
        count: usize,
    },
}

impl ProblemKind {
    /// The message in Norwegian bokmål. Key names and quoted values stay as in the file,
    /// since that is what the user has to find and fix.
    pub fn to_bokmal(&self) -> String {
        use ProblemKind as K;
        match self {
            K::Toml { message } => format!("TOML-feil: {message}"),
            K::Io { message } => format!("kan ikke lese filen: {message}"),
            K::Negative { value } => format!("kan ikke være negativ: {value:?}"),
            K::TooManyDecimals { value } => format!("mer enn 6 desimaler: {value:?}"),
            K::NotDecimal { value } => format!("ikke et desimaltall: {value:?}"),
            K::NotFraction { value } => format!("må være mellom 0 og 1, er {value}"),
            K::NotNonNegative { value } => format!("må være et tall ≥ 0, er {value}"),
            K::UnknownClass { name } => format!("ukjent destinasjonsklasse {name:?}"),
            K::NotDate { value } => format!("ikke en dato (ÅÅÅÅ-MM-DD): {value:?}"),
            K::UnsupportedVersion { version } => {
                format!("versjon {version} støttes ikke (denne utgaven leser 1)")
            }
            K::MissingTable { table } => format!("tabellen [{table}] mangler"),
            K::NoTariffs => "mangler: filen har ingen [tariffs.<navn>]-tabell".into(),
            K::NoTariffOfWorld { world } => {
                format!("ingen tariff for «{world}» (sammenligningen trenger både gammel og ny)")
            }
            K::OnlyNok { currency } => format!("bare NOK støttes, ikke {currency:?}"),
            K::PricesIncludeVat => {
                "prisene må være uten mva. (kommuner får mva. refundert); regn dem om først".into()
            }
            K::MissingClaimedSaving => "mangler: målet besparelsen sammenlignes med".into(),
            K::TrunkPrefix => "nasjonalt prefiks (trunkprefiks) støttes ikke (lukket nummerplan)".into(),
            K::NotDigits { value } => format!("ikke en sifferstreng: {value:?}"),
            K::DuplicatePrefix { prefix } => format!("prefikset {prefix:?} står to ganger"),
            K::InternationalPrefix { required } => {
                format!("internasjonale prefikser må begynne med {required:?}")
            }
            K::ClassNotListed { class } => {
                format!("klassen {class} står ikke i numbering.classes")
            }
            K::LengthShorterThanPrefix { len, prefix } => {
                format!("lengden {len} er kortere enn prefikset {prefix:?}")
            }
            K::DidOverlap { site_a, site_b } => {
                format!("DID-seriene til lokasjonene {site_a} og {site_b} overlapper")
            }
            K::NumberingPlan { detail } => format!("ugyldig nummerplan: {detail}"),
            K::HourOutOfRange => "en time fra 0 til 24".into(),
            K::EndHourOutOfRange { start, end } => {
                format!("en time fra {start} (starten) til 24, er {end}")
            }
            K::BadWorld { value } => format!("må være \"legacy\" eller \"new\", ikke {value:?}"),
            K::MissingWorld => "nøkkelen world = \"legacy\" | \"new\" mangler (trengs når navnet ikke begynner med legacy eller new)".into(),
            K::EndsBeforeStart { start } => format!("slutter før den begynner ({start})"),
            K::NoTimeBands { name } => format!("ingen [time_bands.{name}]-tabell"),
            K::ZeroIncrement => "må være minst 1 sekund".into(),
            K::NotWholeOre => "må være hele øre (2 desimaler)".into(),
            K::NoRateForOtherSite { class, tariff_path } => format!(
                "samtaler mellom lokasjoner prises som {class}, men det finnes ingen [{tariff_path}.rates.{class}]"
            ),
            K::ZeroLifetime => "må være minst 1 år".into(),
            K::InterestRate { value } => format!("en årlig rente, for eksempel 0.04, er {value}"),
            K::SiteIdReused { id } => format!("lokasjons-ID {id:?} er tom eller brukt to ganger"),
            K::NotNationalNumber { digits, value } => {
                format!("ikke et nasjonalt nummer med {digits} sifre: {value:?}")
            }
            K::RangeEndsBeforeStart => "serien slutter før den begynner".into(),
            K::TooManyExtensions {
                extensions,
                range_size,
            } => format!(
                "{extensions} internnumre får ikke plass i de {range_size} numrene i DID-serien"
            ),
            K::BadLegacyPbx { value } => {
                format!("må være \"large\", \"small\" eller \"none\", ikke {value:?}")
            }
            K::NoSites => "mangler: ingen [[sites]]".into(),
            K::OnlyLognormal { value } => format!("bare \"lognormal\" støttes, ikke {value:?}"),
            K::SharesSum { sum } => format!("andelene blir {sum} til sammen, ikke 1"),
            K::NotExternal => "ikke en ekstern destinasjon".into(),
            K::MissingDuration => "mangler: klassen har samtaler i external_mix".into(),
            K::HourlyCount { count } => format!("trenger 24 verdier, har {count}"),
        }
    }
}

/// English, the text the CLI has always printed.
impl fmt::Display for ProblemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ProblemKind as K;
        match self {
            K::Toml { message } | K::Io { message } => f.write_str(message),
            K::Negative { value } => write!(f, "must not be negative: {value:?}"),
            K::TooManyDecimals { value } => write!(f, "more than 6 decimals: {value:?}"),
            K::NotDecimal { value } => write!(f, "not a decimal: {value:?}"),
            K::NotFraction { value } => write!(f, "must be between 0 and 1, is {value}"),
            K::NotNonNegative { value } => write!(f, "must be a number ≥ 0, is {value}"),
            K::UnknownClass { name } => write!(f, "unknown destination class {name:?}"),
            K::NotDate { value } => write!(f, "not a date (YYYY-MM-DD): {value:?}"),
            K::UnsupportedVersion { version } => {
                write!(f, "unsupported version {version} (this build reads 1)")
            }
            K::MissingTable { table } => write!(f, "missing table [{table}]"),
            K::NoTariffs => f.write_str("missing: the file defines no [tariffs.<name>] table"),
            K::NoTariffOfWorld { world } => {
                write!(f, "no tariff of the {world} world (the comparison needs both)")
            }
            K::OnlyNok { currency } => write!(f, "only NOK is supported, not {currency:?}"),
            K::PricesIncludeVat => f.write_str(
                "prices must exclude VAT (municipalities have VAT refunded); convert them first",
            ),
            K::MissingClaimedSaving => {
                f.write_str("missing: the target the saving is compared with")
            }
            K::TrunkPrefix => {
                f.write_str("a trunk prefix is not supported (closed numbering plan)")
            }
            K::NotDigits { value } => write!(f, "not a digit string: {value:?}"),
            K::DuplicatePrefix { prefix } => write!(f, "prefix {prefix:?} appears twice"),
            K::InternationalPrefix { required } => {
                write!(f, "international prefixes must start with {required:?}")
            }
            K::ClassNotListed { class } => {
                write!(f, "class {class} is not listed in numbering.classes")
            }
            K::LengthShorterThanPrefix { len, prefix } => {
                write!(f, "length {len} is shorter than the prefix {prefix:?}")
            }
            K::DidOverlap { site_a, site_b } => {
                write!(f, "DID ranges of sites {site_a} and {site_b} overlap")
            }
            K::NumberingPlan { detail } => f.write_str(detail),
            K::HourOutOfRange => f.write_str("an hour from 0 to 24"),
            K::EndHourOutOfRange { start, end } => {
                write!(f, "an hour from {start} (the start) to 24, is {end}")
            }
            K::BadWorld { value } => write!(f, "must be \"legacy\" or \"new\", not {value:?}"),
            K::MissingWorld => f.write_str(
                "missing key world = \"legacy\" | \"new\" (needed when the name does not start with legacy or new)",
            ),
            K::EndsBeforeStart { start } => write!(f, "ends before it starts ({start})"),
            K::NoTimeBands { name } => write!(f, "no [time_bands.{name}] table"),
            K::ZeroIncrement => f.write_str("must be at least 1 second"),
            K::NotWholeOre => f.write_str("must be whole øre (2 decimals)"),
            K::NoRateForOtherSite { class, tariff_path } => write!(
                f,
                "calls between sites are priced as {class}, but there is no [{tariff_path}.rates.{class}]"
            ),
            K::ZeroLifetime => f.write_str("must be at least 1 year"),
            K::InterestRate { value } => write!(f, "a yearly rate such as 0.04, is {value}"),
            K::SiteIdReused { id } => write!(f, "site id {id:?} is empty or used twice"),
            K::NotNationalNumber { digits, value } => {
                write!(f, "not a {digits}-digit national number: {value:?}")
            }
            K::RangeEndsBeforeStart => f.write_str("range ends before it starts"),
            K::TooManyExtensions {
                extensions,
                range_size,
            } => write!(
                f,
                "{extensions} extensions do not fit in the {range_size} numbers of the DID range"
            ),
            K::BadLegacyPbx { value } => {
                write!(f, "must be \"large\", \"small\" or \"none\", not {value:?}")
            }
            K::NoSites => f.write_str("missing: no [[sites]]"),
            K::OnlyLognormal { value } => {
                write!(f, "only \"lognormal\" is supported, not {value:?}")
            }
            K::SharesSum { sum } => write!(f, "shares add up to {sum}, not 1"),
            K::NotExternal => f.write_str("not an external destination"),
            K::MissingDuration => f.write_str("missing: the class has calls in external_mix"),
            K::HourlyCount { count } => write!(f, "needs 24 values, has {count}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn english_is_the_old_text_and_bokmal_differs() {
        let cases = [
            (
                ProblemKind::NotDecimal {
                    value: "0,17".into(),
                },
                "not a decimal: \"0,17\"",
                "ikke et desimaltall: \"0,17\"",
            ),
            (
                ProblemKind::NoRateForOtherSite {
                    class: DestinationClass::National,
                    tariff_path: "tariffs.new".into(),
                },
                "calls between sites are priced as national, but there is no [tariffs.new.rates.national]",
                "samtaler mellom lokasjoner prises som national, men det finnes ingen [tariffs.new.rates.national]",
            ),
            (
                ProblemKind::Toml {
                    message: "invalid table header".into(),
                },
                "invalid table header",
                "TOML-feil: invalid table header",
            ),
            (
                ProblemKind::SharesSum { sum: 0.9 },
                "shares add up to 0.9, not 1",
                "andelene blir 0.9 til sammen, ikke 1",
            ),
        ];
        for (kind, en, nb) in cases {
            assert_eq!(kind.to_string(), en);
            assert_eq!(kind.to_bokmal(), nb);
        }
    }
}
