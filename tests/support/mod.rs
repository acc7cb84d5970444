//! Helpers shared by the integration tests (each test file does `mod support;`).
#![allow(dead_code)]

pub mod browser;
pub mod pbx;
pub mod sipp;
