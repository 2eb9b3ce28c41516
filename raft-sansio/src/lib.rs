//! A deterministic, sans-IO Raft consensus core.
//!
//! A [`Node`] is a pure state machine: the host steps [`Input`]s into it
//! ([`Node::step`], or the allocation-free [`Node::step_into`]) and carries
//! out the [`Output`]s it returns. The core has no threads, no clocks, no
//! sockets, no files and no OS randomness, so the same inputs give the same
//! outputs, byte for byte: an event loop, a test, a deterministic simulator
//! and a fuzzer all drive the same code.
//!
//! (Crate documentation grows with the core: see the `Node` docs.)

#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

extern crate alloc;
#[cfg(test)]
extern crate std;

mod config;
mod dispatch;
mod election;
mod entries;
mod event;
mod input;
mod invariants;
mod log;
mod membership;
mod node;
mod outbox;
mod output;
mod progress;
mod quorum;
mod replication;
mod restore;
pub mod rng;
#[cfg(test)]
mod tests;
mod timer;

pub use raft_sansio_proto as proto;
pub use raft_sansio_proto::{
    ConfState, Entry, EntryId, EntryKind, HardState, Index, Message, MessageBody, NodeId, SnapshotMeta, Term,
};

pub use config::{Config, ConfigError, MAX_INFLIGHT_MSGS_LIMIT};
pub use entries::Entries;
pub use event::{CampaignSkipReason, DropReason, Event, MisuseReason, StepDownReason, VoteRefusal};
pub use input::{Input, RequestId};
pub use invariants::InvariantViolation;
pub use node::{Error, Node, PeerProgress, ReplicationState, Role};
pub use output::{Output, Persist, RejectReason};
pub use restore::{RestoreError, RestoreRepair, RestoredState};
