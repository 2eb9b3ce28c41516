//! Scenario tests through the in-crate cluster harness.

mod datadriven;
pub(crate) mod harness;
mod properties;
mod scenarios;
