//! Sentral billing: numbering plan, tariffs, rating, the old-versus-new comparison and
//! cost reports. Pure and exact: money is `rust_decimal` NOK, never a float; no SIP code
//! and no I/O beyond the data handed in.

pub mod call_record;

pub use call_record::{CallDirection, CallDisposition, CallRecord};
