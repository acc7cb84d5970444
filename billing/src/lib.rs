//! Sentral billing: numbering plan, tariffs, rating, the old-versus-new comparison and
//! cost reports. Pure and exact: money is `rust_decimal` NOK, never a float; no SIP code
//! and no I/O beyond the data handed in (and the writers the caller passes to reports).
//!
//! The usual path: [`Dataset::from_toml_str`] → [`Dataset::rater`] → rate calls with
//! [`Rater::rate`] (live) or build a [`SavingsReport`] / [`CostReport`] over an iterator of
//! [`CallRecord`]s, e.g. from [`synthetic::Generator`].

pub mod call_record;
pub mod dataset;
pub mod legacy;
pub mod money;
pub mod numbering;
pub mod period;
pub mod rating;
pub mod savings;
pub mod synthetic;
pub mod tariff;

pub use call_record::{CallDirection, CallDisposition, CallRecord};
pub use dataset::{Dataset, DatasetError, Problem, TariffFile};
pub use numbering::{DestinationClass, NumberingPlan};
pub use rating::{Rated, RatedCall, Rater, RatingError, Rule};
pub use tariff::{Tariff, TariffBook, World};
