//! Helpers shared by the CLI's integration tests.

pub mod engines;
pub mod examples;
