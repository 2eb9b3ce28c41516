//! Assists for hosting a [`raft_sansio::Node`]: the parts of a host that
//! touch the outside world, ready to use or to replace.
//!
//! The core is sans-IO: it asks its host to make [`Persist`]s durable, send
//! messages and apply entries, and is told when that is done. This crate
//! carries out those duties with real I/O.
//!
//! - [`driver`]: a tokio [`Driver`] that runs one node: ticks from a
//!   monotonic clock, sends at once, Persists on a persistence thread with
//!   group commit and fail-stop, applies to a user [`StateMachine`],
//!   snapshots by policy; and a cloneable [`RaftHandle`] to propose, read,
//!   change the membership and watch [`Metrics`].
//! - [`transport`]: the [`Transport`] trait, with TCP ([`TcpTransport`])
//!   and in-process ([`LocalNetwork`]) implementations.
//! - [`storage`]: the [`LogStore`] trait (make `Persist`s durable with group
//!   commit, report the durable seq, restore on restart, keep snapshot
//!   files), with a file WAL ([`Wal`]) and an in-memory store
//!   ([`MemStore`]).
//!
//! The storage layer is plain synchronous `std` I/O, so that the async
//! driver runs it on its own thread and a simple host can call it inline.
//! Everything logs through `tracing`, under a `raft` span with the node id.
//!
//! [`Persist`]: raft_sansio::Persist
//! [`LogStore`]: storage::LogStore
//! [`Wal`]: storage::Wal
//! [`MemStore`]: storage::MemStore
//! [`Driver`]: driver::Driver
//! [`StateMachine`]: driver::StateMachine
//! [`RaftHandle`]: driver::RaftHandle
//! [`Metrics`]: driver::Metrics
//! [`Transport`]: transport::Transport
//! [`TcpTransport`]: transport::TcpTransport
//! [`LocalNetwork`]: transport::LocalNetwork

#![forbid(unsafe_code)]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

pub mod driver;
pub mod storage;
pub mod transport;

#[cfg(test)]
mod tests;
