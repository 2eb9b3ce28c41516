//! A deterministic, sans-IO Raft consensus core.
//!
//! A [`Node`] is a pure state machine. The host steps [`Input`]s into it
//! ([`Node::step`], or the allocation-free [`Node::step_into`]) and carries
//! out the [`Output`]s it returns. The core has no threads, no clocks, no
//! sockets, no files and no OS randomness: the same configuration (seed
//! included) and the same inputs give the same outputs, byte for byte. An
//! event loop, a test, a deterministic simulator and a fuzzer all drive the
//! same code.
//!
//! ```text
//!            Tick, Receive(Message), Propose, Persisted, Applied, ...
//!   host  ---------------------------------------------------------->  Node
//!   (disk,                                                             (pure,
//!    network, <----------------------------------------------------    no I/O)
//!    state machine)   Persist, Send, Apply, Proposed, Rejected, Event
//! ```
//!
//! # The host's duties
//!
//! - It MUST make every [`Output::Persist`] durable in emission order (it
//!   may coalesce consecutive ones into one write and one fsync, never
//!   reorder them), and then step [`Input::Persisted`] with the highest seq
//!   that is durable. Within one Persist: snapshot, then truncate and
//!   append, then the hard state (or all of it atomically).
//! - It MAY carry out [`Output::Send`] at once, before or after persisting:
//!   the core never emits a message that promises something not yet durable
//!   (a vote grant, an append ack); those wait inside the core for
//!   `Persisted` (Raft thesis §3.8).
//! - It MUST apply [`Output::Apply`] entries in order. Each committed entry
//!   is emitted exactly once per incarnation (edge-triggered), after
//!   `RestoredState::applied`. It SHOULD report progress with
//!   [`Input::Applied`] and may then [`Input::Compact`] the log.
//! - It steps [`Input::Tick`] once per tick period on every node (the same
//!   period everywhere); every timeout is counted in ticks.
//! - On restart it hands [`Node::new`] exactly what its store holds
//!   ([`RestoredState`]). A node whose store is lost never rejoins under its
//!   old id: it is removed and added back under a new one.
//!
//! # A minimal host loop
//!
//! Three nodes in one process, with a "disk" that is durable at once:
//!
//! ```
//! use std::collections::VecDeque;
//! use bytes::Bytes;
//! use raft_sansio::{Config, Entry, Input, Message, Node, NodeId, Output, RequestId, RestoredState, Role};
//!
//! struct Host { node: Node, disk: Vec<raft_sansio::Persist>, applied: Vec<Entry> }
//!
//! /// Steps one input and carries out every output it produces.
//! fn step(host: &mut Host, input: Input, network: &mut VecDeque<Message>) {
//!     let mut out = Vec::new();
//!     host.node.step_into(input, &mut out);
//!     for output in out {
//!         match output {
//!             Output::Persist(p) => {
//!                 // Durable in emission order; then acknowledge.
//!                 let seq = p.seq;
//!                 host.disk.push(p);
//!                 step(host, Input::Persisted { up_to_seq: seq }, network);
//!             }
//!             Output::Send { message, .. } => network.push_back(message),
//!             Output::Apply { entries } => host.applied.extend(entries),
//!             _ => {} // Proposed, Rejected, events
//!         }
//!     }
//! }
//!
//! let ids = [NodeId(1), NodeId(2), NodeId(3)];
//! let mut hosts: Vec<Host> = ids
//!     .iter()
//!     .map(|&id| {
//!         let mut config = Config::new(id, 7 + id.0);
//!         config.bootstrap_voters = ids.to_vec();
//!         let node = Node::new(config, RestoredState::default()).expect("valid");
//!         Host { node, disk: Vec::new(), applied: Vec::new() }
//!     })
//!     .collect();
//! let mut network = VecDeque::new();
//! let deliver = |hosts: &mut Vec<Host>, network: &mut VecDeque<Message>| {
//!     while let Some(m) = network.pop_front() {
//!         let to = m.to.0 as usize - 1;
//!         step(&mut hosts[to], Input::Receive(m), network);
//!     }
//! };
//!
//! step(&mut hosts[0], Input::Campaign, &mut network);
//! deliver(&mut hosts, &mut network);
//! assert_eq!(hosts[0].node.role(), Role::Leader);
//!
//! let command = Bytes::from_static(b"set x = 1");
//! step(&mut hosts[0], Input::Propose { id: RequestId(1), command: command.clone() }, &mut network);
//! deliver(&mut hosts, &mut network);
//! for host in &hosts {
//!     assert_eq!(host.applied.last().map(|e| &e.payload), Some(&command));
//! }
//! ```
//!
//! # Witnesses
//!
//! A witness is a member added with [`MemberChange::AddWitness`]: a voter
//! without a state machine (the log-tail design of tikv/rfcs #31).
//! [`Node::is_witness`] tells its host so.
//!
//! A witness votes and acknowledges appends like any voter, so it counts
//! toward every quorum, but it holds a normal entry's payload only until
//! every data voter has acknowledged it: the leader stamps each append and
//! heartbeat with the lowest match index among data voters, and a witness
//! drops the payloads of committed normal entries up to that index (it
//! keeps their index and term, and configuration entries whole). Its
//! applied index follows its commit index without an `Apply`, so its host
//! may take (empty) snapshots and compact, but never past the entries whose
//! payloads it still keeps: those are the copy a lagging data voter may
//! need. Dropping payloads and skipping `Apply` start once the
//! configuration that makes the node a witness is committed: until then a
//! truncation could make it a data member again.
//!
//! A witness campaigns only after a longer election timeout than any data
//! voter's, so a data voter wins whenever one can; once it has refused its
//! vote to a candidate whose log is behind its own (it may hold the log
//! the cluster needs), it times out like a data voter until it hears from a
//! leader. A witness that does win leads only to bring a data voter up to
//! date: it accepts no proposals, no reads and no membership changes, sends
//! a data follower no entry whose payload it dropped (it probes past them)
//! nor a snapshot (not even one it began to send before it became a
//! witness), and transfers leadership at once to the most up-to-date data
//! voter of either half that answered lately. A snapshot goes without data only to
//! a witness of the snapshot's own configuration. A node once a witness of
//! a committed configuration stays without a state machine, removed or
//! not.
//!
//! ## The trade-off
//!
//! {2 data voters + 1 witness} tolerates any one failure, disk loss
//! included, like three data voters, with two copies of the state machine
//! instead of three. A committed entry is on a majority: on both data
//! voters, or on one of them and the witness, which then keeps its payload
//! (the other data voter has not acknowledged it). Whichever disk is lost,
//! the other two hold every committed entry between them, and a witness
//! that must lead to pass on its tail hands over once it has. What it gives
//! up:
//! - two lost disks: three data voters keep the data on the third; with
//!   {2 + 1} the data survives only if the survivor is a data voter that
//!   holds every committed entry, never on the witness alone;
//! - while a data voter is down, one copy serves reads and writes, and
//!   the witness's log tail (every entry since that voter's match,
//!   payloads included) grows on its disk; the host cannot compact it
//!   until the voter is back;
//! - a witness serves no reads, so read capacity is that of the data
//!   voters;
//! - a witness never becomes a data voter or learner (it has no state to
//!   serve): replace it by removing it and adding a new learner, which
//!   catches up by snapshot, then promoting that.
//!
//! # Where things are
//!
//! - [`Node`]: the state machine; [`Config`]; [`RestoredState`].
//! - [`Input`], [`Output`], [`Persist`], [`Event`] and their reasons.
//! - [`rng`]: the seeded xoshiro256++ generator the core and the simulator
//!   share.
//! - [`proto`]: the wire types and codec (`raft-sansio-proto`).

#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

extern crate alloc;
#[cfg(test)]
extern crate std;

mod confchange;
mod config;
mod dispatch;
mod election;
mod entries;
mod event;
#[cfg(any(test, all(fuzzing, feature = "arbitrary")))]
pub mod fuzzing;
mod input;
mod invariants;
mod log;
mod membership;
mod node;
mod outbox;
mod output;
mod progress;
mod quorum;
mod read;
mod reconfig;
pub(crate) mod replication;
mod restore;
pub mod rng;
mod snapshot;
#[cfg(test)]
mod tests;
mod timer;
mod transfer;
mod witness;

pub use raft_sansio_proto as proto;
pub use raft_sansio_proto::{
    ConfState, Entry, EntryId, EntryKind, HardState, Index, Message, MessageBody, NodeId, SnapshotMeta, Term,
};

pub use confchange::{ChangeError, MemberChange, MembershipChange, Transition};
pub use config::{Config, ConfigError, ReadMode, MAX_INFLIGHT_MSGS_LIMIT};
pub use entries::Entries;
pub use event::{CampaignSkipReason, DropReason, Event, MisuseReason, StepDownReason, VoteRefusal};
pub use input::{Input, RequestId};
pub use invariants::InvariantViolation;
pub use node::{Error, Node, PeerProgress, ReplicationState, Role};
pub use output::{Output, Persist, RejectReason, SnapshotChunk, TransferRefusal};
pub use reconfig::{MemberRole, MemberView, MembershipView};
pub use restore::{RestoreError, RestoreRepair, RestoredState};
