//! The replicated key-value state machine of `raft-sansio`: the same code
//! runs in the simulator and in the KV service.
//!
//! No I/O, no clock, no randomness: the state is a pure function of the
//! entries applied. What goes in and what comes out:
//!
//! - in: committed entries, in index order, through
//!   [`KvStateMachine::apply`] (a [`Command`] encoded by [`Command::encode`])
//!   or [`KvStateMachine::apply_noop`] (an entry without a command);
//! - out: one [`ApplyOutcome`] per entry, the same on every replica;
//! - [`KvStateMachine::read`] for linearizable reads that skip the log
//!   (ReadIndex or lease: call it once the applied index reaches the read's
//!   index);
//! - [`KvStateMachine::snapshot`] / [`KvStateMachine::restore`]
//!   (deterministic, validated bytes) and [`KvStateMachine::state_digest`]
//!   to compare replicas.
//!
//! Operations and values follow the KV model of `history-format.md`; see
//! [`Op`] for the table.
//!
//! # Exactly-once writes (Raft thesis §6.3)
//!
//! A client may send a command, lose the reply, and send it again; both
//! copies can be committed. Sessions make the second copy harmless:
//!
//! 1. The client proposes [`Command::RegisterClient`]. Applying it opens a
//!    session whose id is the entry's log index
//!    ([`ApplyOutcome::Registered`]): unique, and the same on every replica.
//! 2. Every command carries the session id, a sequence number `seq` unique
//!    in the session, and `lowest_unacked`: the lowest `seq` whose response
//!    the client does not have yet ([`ClientSession`] keeps these). Many
//!    commands may be in flight at once.
//! 3. The state machine keeps the result of every `seq` at or above the
//!    highest `lowest_unacked` it has seen from the session and forgets the
//!    rest (memory stays bounded by what the client has not acknowledged,
//!    at most [`MAX_RESULTS_PER_SESSION`]).
//! 4. A `seq` that already ran is not run again: the copy gets
//!    [`ApplyOutcome::Duplicate`] with the original result (or the original
//!    [`KvError::TypeMismatch`]). A `seq` below `lowest_unacked` whose result
//!    was forgotten gets [`ApplyOutcome::StaleSequence`]: it ran, and the
//!    client already acknowledged it.
//!
//! Gets proposed through the log go through the same rules (dedupe is
//! harmless for a read).
//!
//! ## What a client MUST do
//!
//! - Retry a command with the **same `seq` and the same op** until it has a
//!   response; never reuse a `seq` for another op (the retry would get the
//!   first op's result).
//! - Send `lowest_unacked <= seq`, and raise it past a `seq` only once it
//!   holds that response (otherwise [`KvError::InvalidSequence`]).
//! - On [`ApplyOutcome::SessionExpired`]: register a new session, and treat
//!   the outcome of every command still in flight in the old one as
//!   **unknown** (history `info`): one may have been applied before the
//!   session expired. This includes the command that got `SessionExpired`
//!   if it had been sent before.
//! - On [`KvError::TooManyInFlight`]: the command was not applied;
//!   acknowledge responses, then retry it.
//!
//! # Session expiry
//!
//! Expiry is a pure function of the applied log, so every replica expires
//! the same sessions at the same entry: the **recency** of a session is the
//! log index of its last command (valid commands, including duplicates and
//! rejected ones; at first, its `RegisterClient`). When a `RegisterClient`
//! would make the live sessions exceed [`KvConfig::max_sessions`], the
//! session with the lowest recency expires. Log indexes are unique, so
//! there are no ties. Nothing else expires a session (there is no clock).
//! A command of an unknown or expired session is not applied and returns
//! [`ApplyOutcome::SessionExpired`]. Sessions, their results and their
//! recency are part of the snapshot, so a retry after a restore still
//! dedupes.
//!
//! # Example
//!
//! ```
//! use raft_kv::{ApplyOutcome, ClientSession, Command, KvConfig, KvStateMachine, Op, OpResult, Value};
//!
//! let mut kv = KvStateMachine::new(KvConfig { max_sessions: 16 });
//! // Index 1: register. The session id is the entry's index.
//! let ApplyOutcome::Registered { session } = kv.apply(1, &Command::RegisterClient.encode()) else {
//!     unreachable!()
//! };
//! let mut client = ClientSession::new(session);
//!
//! let put = client.start(Op::Put { key: "x".into(), value: Value::Int(1) });
//! assert_eq!(kv.apply(2, &put.encode()), ApplyOutcome::Applied(OpResult::Ok));
//! // The reply was lost; the retry also reached the log: not applied twice.
//! assert_eq!(kv.apply(3, &client.retry(&put).encode()), ApplyOutcome::Duplicate(OpResult::Ok));
//! client.acknowledge(1);
//!
//! let append = client.start(Op::Append { key: "x".into(), suffix: "a".into() });
//! assert!(matches!(kv.apply(4, &append.encode()), ApplyOutcome::Rejected(_))); // append on an int
//! assert_eq!(kv.read("x"), Value::Int(1));
//!
//! // Snapshots are deterministic and restore validates them.
//! let copy = KvStateMachine::restore(&kv.snapshot()).unwrap();
//! assert_eq!(copy.state_digest(), kv.state_digest());
//! ```

#![forbid(unsafe_code)]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

mod client;
mod codec;
mod command;
mod error;
mod machine;
mod session;
mod snapshot;
mod store;
mod value;

#[cfg(any(test, fuzzing))]
pub mod fuzzing;

#[cfg(test)]
mod tests;

pub use client::ClientSession;
pub use codec::DecodeError;
pub use command::{Command, SessionId, COMMAND_FORMAT_VERSION};
pub use error::{InvariantViolation, KvError, SnapshotError};
pub use machine::{ApplyOutcome, KvConfig, KvStateMachine, DEFAULT_MAX_SESSIONS};
pub use session::MAX_RESULTS_PER_SESSION;
pub use snapshot::{SNAPSHOT_FORMAT_VERSION, SNAPSHOT_MAGIC};
pub use value::{Op, OpResult, Value};
