//! The replicated state machine: applies committed entries in log order.

use crate::command::{Command, SessionId};
use crate::error::{InvariantViolation, KvError};
use crate::session::{Sessions, MAX_RESULTS_PER_SESSION};
use crate::store::{Recorded, Store};
use crate::value::{Op, OpResult, Value};

/// The default of [`KvConfig::max_sessions`].
///
/// Why 4096: every session costs a few dozen bytes plus its unacknowledged
/// results, so 4096 idle sessions stay well under a megabyte of snapshot,
/// while a cluster needs thousands of concurrently active clients before a
/// live session is expired (which costs that client an unknown outcome).
pub const DEFAULT_MAX_SESSIONS: usize = 4096;

/// Configuration of a [`KvStateMachine`].
///
/// It is part of the replicated state: every replica MUST use the same
/// value, and a snapshot carries it ([`KvStateMachine::restore`] takes it
/// from there).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KvConfig {
    /// The most live sessions. Registering one more expires the least
    /// recently used. 0 is treated as 1.
    pub max_sessions: usize,
}

impl Default for KvConfig {
    fn default() -> KvConfig {
        KvConfig { max_sessions: DEFAULT_MAX_SESSIONS }
    }
}

/// What applying one entry did. Every replica computes the same outcome for
/// the same entry.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[must_use]
pub enum ApplyOutcome {
    /// A [`Command::RegisterClient`] opened `session` (the entry's index).
    Registered {
        /// The new session.
        session: SessionId,
    },
    /// The command ran now, for the first time.
    Applied(OpResult),
    /// The command's `seq` already ran in this session: it was not run
    /// again, and this is the result of its first application.
    Duplicate(OpResult),
    /// The session does not exist (never registered, or expired). The
    /// command was not applied. See the crate docs for what the client must
    /// do.
    SessionExpired,
    /// The command's `seq` is below the session's `lowest_unacked` and its
    /// result is forgotten: it was applied and its response acknowledged
    /// before. Not applied again.
    StaleSequence,
    /// The command did not change the data; see [`KvError`].
    Rejected(KvError),
}

/// The key-value state machine: data, client sessions, applied index.
///
/// Methods by kind:
/// - replicated path: [`apply`](Self::apply), [`apply_noop`](Self::apply_noop)
///   (log entries in index order, on every replica);
/// - local reads: [`read`](Self::read), [`len`](Self::len),
///   [`entries`](Self::entries), [`applied_index`](Self::applied_index),
///   [`session_count`](Self::session_count), [`has_session`](Self::has_session);
/// - snapshots: [`snapshot`](Self::snapshot), [`restore`](Self::restore),
///   [`state_digest`](Self::state_digest);
/// - checks: [`check_invariants`](Self::check_invariants).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct KvStateMachine {
    /// The index of the last entry applied (0 before any).
    /// Invariant: every session id and last activity is `<= applied_index`.
    pub(crate) applied_index: u64,
    pub(crate) store: Store,
    pub(crate) sessions: Sessions,
}

impl KvStateMachine {
    /// An empty state machine (nothing applied).
    #[must_use]
    pub fn new(config: KvConfig) -> KvStateMachine {
        KvStateMachine { applied_index: 0, store: Store::default(), sessions: Sessions::new(config.max_sessions) }
    }

    /// The configuration in force (from [`new`](Self::new) or from the
    /// restored snapshot).
    #[must_use]
    pub fn config(&self) -> KvConfig {
        KvConfig { max_sessions: self.sessions.max() }
    }

    /// Applies the committed entry at `index` whose payload is
    /// `command_bytes`.
    ///
    /// The host MUST call this (or [`apply_noop`](Self::apply_noop)) in
    /// increasing index order, once per entry; gaps are allowed (entries the
    /// host does not feed, such as configuration changes). An entry at or
    /// below [`applied_index`](Self::applied_index) is refused with
    /// [`KvError::StaleIndex`] and changes nothing.
    ///
    /// An entry that does not decode is applied as a no-op (the index
    /// advances) with [`KvError::Decode`]: a buggy client may propose
    /// garbage, and every replica must treat it identically.
    pub fn apply(&mut self, index: u64, command_bytes: &[u8]) -> ApplyOutcome {
        if let Err(e) = self.advance(index) {
            return ApplyOutcome::Rejected(e);
        }
        match Command::decode(command_bytes) {
            Ok(Command::RegisterClient) => ApplyOutcome::Registered { session: self.sessions.register(index) },
            Ok(Command::Client { session, seq, lowest_unacked, op }) => {
                self.apply_client(index, session, seq, lowest_unacked, op)
            }
            Err(e) => ApplyOutcome::Rejected(KvError::Decode(e)),
        }
    }

    /// Records that the entry at `index` carries no command (a leader's
    /// no-op, a configuration change): only the applied index moves.
    ///
    /// # Errors
    ///
    /// [`KvError::StaleIndex`] if `index <= applied_index()`; nothing changes.
    pub fn apply_noop(&mut self, index: u64) -> Result<(), KvError> {
        self.advance(index)
    }

    fn advance(&mut self, index: u64) -> Result<(), KvError> {
        if index <= self.applied_index {
            return Err(KvError::StaleIndex { index, applied: self.applied_index });
        }
        self.applied_index = index;
        Ok(())
    }

    /// The exactly-once rules of a [`Command::Client`] (crate docs,
    /// "Exactly-once writes"), in order.
    fn apply_client(&mut self, index: u64, id: SessionId, seq: u64, lowest_unacked: u64, op: Op) -> ApplyOutcome {
        // 1. Unknown or expired session: nothing to dedupe against, so
        //    running the command could run it twice.
        if !self.sessions.contains(id) {
            return ApplyOutcome::SessionExpired;
        }
        // 2. A client cannot have the response of the command it sends.
        if lowest_unacked > seq {
            return ApplyOutcome::Rejected(KvError::InvalidSequence { seq, lowest_unacked });
        }
        // 3. Any valid command is activity: it refreshes recency for expiry.
        let Some(session) = self.sessions.touch(id, index) else {
            return ApplyOutcome::SessionExpired;
        };
        // 4. The client has every response below `lowest_unacked`.
        session.acknowledge_below(lowest_unacked);
        // 5. A retry gets the recorded outcome of the first application.
        if let Some(recorded) = session.results.get(&seq) {
            return match recorded {
                Recorded::Done(result) => ApplyOutcome::Duplicate(result.clone()),
                Recorded::TypeMismatch => ApplyOutcome::Rejected(KvError::TypeMismatch),
            };
        }
        // 6. Below `lowest_unacked` with no result: applied and acknowledged
        //    long ago (a well-behaved client only raises `lowest_unacked`
        //    past a `seq` once it holds that response).
        if seq < session.lowest_unacked {
            return ApplyOutcome::StaleSequence;
        }
        // 7. Bounded memory: refuse, rather than forget a result the client
        //    may still need.
        if session.results.len() >= MAX_RESULTS_PER_SESSION {
            return ApplyOutcome::Rejected(KvError::TooManyInFlight { limit: MAX_RESULTS_PER_SESSION });
        }
        // 8. First application: run and record.
        let recorded = self.store.execute(op);
        session.results.insert(seq, recorded.clone());
        debug_assert!(session.results.len() <= MAX_RESULTS_PER_SESSION);
        match recorded {
            Recorded::Done(result) => ApplyOutcome::Applied(result),
            Recorded::TypeMismatch => ApplyOutcome::Rejected(KvError::TypeMismatch),
        }
    }

    /// The value of `key` in the applied state (`Null` if absent), without
    /// going through the log or a session.
    ///
    /// This is the query path of linearizable reads by ReadIndex or lease:
    /// the host MUST call it only once [`applied_index`](Self::applied_index)
    /// has reached the read's index (`ReadReady { index }`).
    #[must_use]
    pub fn read(&self, key: &str) -> Value {
        self.store.read(key)
    }

    /// The number of keys that hold a value.
    #[must_use]
    pub fn len(&self) -> usize {
        self.store.map().len()
    }

    /// Whether no key holds a value.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.store.map().is_empty()
    }

    /// Every key that holds a value, in key order.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.store.map().iter().map(|(k, v)| (k.as_str(), v))
    }

    /// The index of the last entry applied (0 before any).
    #[must_use]
    pub fn applied_index(&self) -> u64 {
        self.applied_index
    }

    /// The number of live sessions.
    #[must_use]
    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// Whether `session` is live (registered and not expired).
    #[must_use]
    pub fn has_session(&self, session: SessionId) -> bool {
        self.sessions.contains(session)
    }

    /// Checks every invariant; `Ok` unless this crate has a bug. Walks the
    /// whole state: for tests, the simulator and fuzz targets, not the hot
    /// path. [`restore`](Self::restore) runs it on every snapshot.
    ///
    /// # Errors
    ///
    /// The first rule found broken.
    pub fn check_invariants(&self) -> Result<(), InvariantViolation> {
        if self.store.map().values().any(Value::is_null) {
            return Err(InvariantViolation::NullStored);
        }
        self.sessions.check(self.applied_index)
    }
}
