//! Errors: rejected commands, bad snapshots, broken invariants.

use core::fmt;

use crate::codec::DecodeError;

/// Why a command was not applied (an [`ApplyOutcome::Rejected`](crate::ApplyOutcome::Rejected)).
///
/// Every variant means the command did not change the data. Each is decided
/// from the log alone, so every replica rejects the same commands.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KvError {
    /// The entry is not a valid command (a buggy or hostile client proposed
    /// garbage). Applied as a no-op.
    Decode(DecodeError),
    /// [`Op::Append`](crate::Op::Append) on a key that holds an integer. The
    /// history format makes append legal only on a string or null. Recorded
    /// in the session like any result: a retry gets this error again.
    TypeMismatch,
    /// The command's `lowest_unacked` is above its own `seq`: the client
    /// claims to have the response of a command it is still sending. Not
    /// applied, and the session is left untouched.
    InvalidSequence {
        /// The command's sequence number.
        seq: u64,
        /// The command's claimed lowest unacknowledged sequence number.
        lowest_unacked: u64,
    },
    /// The session already holds [`MAX_RESULTS_PER_SESSION`](crate::MAX_RESULTS_PER_SESSION)
    /// unacknowledged results. Not applied: acknowledge (raise
    /// `lowest_unacked`) and retry.
    TooManyInFlight {
        /// The limit.
        limit: usize,
    },
    /// Host misuse: the entry's index is not above the last applied index
    /// (an entry applied twice, or out of order). Nothing changed.
    StaleIndex {
        /// The index passed.
        index: u64,
        /// The state machine's applied index.
        applied: u64,
    },
}

impl fmt::Display for KvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KvError::Decode(e) => write!(f, "undecodable command: {e}"),
            KvError::TypeMismatch => f.write_str("append on a value that is not a string or null"),
            KvError::InvalidSequence { seq, lowest_unacked } => {
                write!(f, "lowest_unacked {lowest_unacked} is above the command's seq {seq}")
            }
            KvError::TooManyInFlight { limit } => write!(f, "session holds {limit} unacknowledged results"),
            KvError::StaleIndex { index, applied } => write!(f, "index {index} is not above applied index {applied}"),
        }
    }
}

impl core::error::Error for KvError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            KvError::Decode(e) => Some(e),
            _ => None,
        }
    }
}

/// A rule of [`KvStateMachine`](crate::KvStateMachine) that does not hold
/// (see [`KvStateMachine::check_invariants`](crate::KvStateMachine::check_invariants)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum InvariantViolation {
    /// `max_sessions` is 0.
    ZeroMaxSessions,
    /// The store holds a `Null` (absent keys must be removed).
    NullStored,
    /// More sessions than `max_sessions`.
    TooManySessions,
    /// A session's id is 0 or above the applied index (ids are log indexes
    /// of applied entries).
    SessionIdOutOfRange,
    /// A session's last activity is below its id or above the applied index.
    LastActiveOutOfRange,
    /// The recency index does not list exactly each session's last activity.
    RecencyIndexMismatch,
    /// A session keeps a result below its `lowest_unacked` (it should have
    /// been discarded).
    ResultBelowLowestUnacked,
    /// A session keeps more than `MAX_RESULTS_PER_SESSION` results.
    TooManyResults,
}

impl fmt::Display for InvariantViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            InvariantViolation::ZeroMaxSessions => "max_sessions is 0",
            InvariantViolation::NullStored => "a null value is stored",
            InvariantViolation::TooManySessions => "more sessions than max_sessions",
            InvariantViolation::SessionIdOutOfRange => "a session id is 0 or above the applied index",
            InvariantViolation::LastActiveOutOfRange => "a session's last activity is outside [id, applied]",
            InvariantViolation::RecencyIndexMismatch => "the recency index disagrees with the sessions",
            InvariantViolation::ResultBelowLowestUnacked => "a result below lowest_unacked is kept",
            InvariantViolation::TooManyResults => "a session keeps more than MAX_RESULTS_PER_SESSION results",
        };
        f.write_str(s)
    }
}

impl core::error::Error for InvariantViolation {}

/// Why [`KvStateMachine::restore`](crate::KvStateMachine::restore) refused
/// its input.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SnapshotError {
    /// The input does not start with the snapshot magic bytes.
    BadMagic,
    /// The format byte names a version this crate does not read.
    UnsupportedVersion {
        /// The version byte found.
        found: u8,
    },
    /// The bytes are not a valid encoding (truncated, bad tag, ...).
    Decode(DecodeError),
    /// The encoding is well formed but not canonical: keys, session ids or
    /// sequence numbers out of order or repeated, or two sessions with the
    /// same last activity.
    Malformed {
        /// What is wrong, e.g. `"keys not strictly increasing"`.
        what: &'static str,
    },
    /// The decoded state breaks an invariant.
    Invariant(InvariantViolation),
}

impl fmt::Display for SnapshotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SnapshotError::BadMagic => f.write_str("not a raft-kv snapshot (bad magic)"),
            SnapshotError::UnsupportedVersion { found } => write!(f, "unsupported snapshot version {found}"),
            SnapshotError::Decode(e) => write!(f, "bad snapshot encoding: {e}"),
            SnapshotError::Malformed { what } => write!(f, "malformed snapshot: {what}"),
            SnapshotError::Invariant(v) => write!(f, "snapshot state is invalid: {v}"),
        }
    }
}

impl core::error::Error for SnapshotError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            SnapshotError::Decode(e) => Some(e),
            SnapshotError::Invariant(v) => Some(v),
            _ => None,
        }
    }
}

impl From<DecodeError> for SnapshotError {
    fn from(e: DecodeError) -> SnapshotError {
        SnapshotError::Decode(e)
    }
}
