//! Sentral billing: numbering plan, tariffs, rating, the old-versus-new comparison and
//! cost reports. Pure and exact: money is `rust_decimal` NOK, never a float; no SIP code
//! and no I/O beyond the data handed in (and the writers the caller passes to reports).
//!
//! The usual path:
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use billing::{Dataset, Period, SavingsReport, synthetic::Generator};
//! let ds = Dataset::from_toml_str(billing::dataset::SAMPLE_TOML)?;
//! let rater = ds.rater();
//! let year = Period::year(2006).ok_or("year")?;
//! let calls = Generator::new(&ds, year.from, year.to, None)?;
//! let report = SavingsReport::build(&ds, &rater, year, calls);
//! println!("{}", report.verdict.sentence);
//! # Ok(()) }
//! ```

pub mod call_record;
pub mod dataset;
pub mod legacy;
pub mod money;
pub mod numbering;
pub mod period;
pub mod rating;
pub mod report;
pub mod savings;
pub mod synthetic;
pub mod tariff;

pub use call_record::{CallDirection, CallDisposition, CallRecord};
pub use dataset::{Dataset, DatasetError, Problem, ProblemKind, TariffFile};
pub use numbering::{DestinationClass, NumberingPlan};
pub use period::Period;
pub use rating::{Rated, RatedCall, Rater, RatingError, Rule};
pub use report::{CostReport, CostReportBuilder, Dimension, ReportError};
pub use savings::{SavingsBuilder, SavingsReport};
pub use tariff::{Tariff, TariffBook, World};
