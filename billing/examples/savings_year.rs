//! Prints the savings report for a generated year of the Sørum sample:
//! `cargo run --release -p billing --example savings_year [YEAR] [SEED]`.

use billing::report::savings_table;
use billing::synthetic::Generator;
use billing::{Dataset, Period, SavingsReport};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let year: i32 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(2006);
    let seed: Option<u64> = args.next().map(|s| s.parse()).transpose()?;
    let ds = Dataset::from_toml_str(billing::dataset::SAMPLE_TOML)?;
    let rater = ds.rater();
    let period = Period::year(year).ok_or("not a year")?;
    let calls = Generator::new(&ds, period.from, period.to, seed)?;
    let report = SavingsReport::build(&ds, &rater, period, calls);
    print!("{}", savings_table(&report));
    Ok(())
}
