//! Scenario tests through the in-crate cluster harness.

mod datadriven;
mod edges;
pub(crate) mod harness;
mod membership;
mod paper;
mod persistence;
mod properties;
mod reads;
mod remote;
mod restore;
mod scenarios;
mod snapshot;
mod witness;
