//! The key-value service of `raft-sansio`: every node runs the `raft_kv`
//! state machine on a Raft group and exposes a raft endpoint, a backend, a
//! client-facing frontend (HTTP/JSON) and a control plane.
//!
//! Status: the load generator ([`bench`]) is here; the service itself is
//! being built (issue 8).

// A std, tokio service: `core` paths buy nothing here.
#![allow(clippy::std_instead_of_core)]

pub mod bench;
