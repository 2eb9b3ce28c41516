//! The key-value service of `raft-sansio`: every node runs the `raft_kv`
//! state machine on a Raft group and exposes a raft endpoint, a backend, a
//! client-facing frontend (HTTP/JSON) and a control plane.
//!
//! Status: the JSON API ([`api`]), the frontend ([`frontend`]) and the
//! load generator ([`bench`]) are here; the backend and the CLI's `serve`
//! and `demo` are being built (issue 8).

// A std, tokio service: `core` paths buy nothing here.
#![allow(clippy::std_instead_of_core)]

pub mod api;
pub mod bench;
pub mod frontend;
pub mod service;
