//! What the driver's calls return when they fail.
//!
//! Every error says whether the request could have taken effect: a
//! proposal's error is either *certainly not applied*
//! ([`ProposeError::NotLeader`], [`ProposeError::Rejected`],
//! [`ProposeError::Stopped`]) or *outcome unknown*
//! ([`ProposeError::Unknown`]), never a false "failed". A client that
//! retries after `Unknown` needs exactly-once machinery (sessions) to stay
//! correct.

use core::fmt;

use raft_sansio::{NodeId, RejectReason};

use super::state_machine::BoxError;
use crate::storage::StoreError;

/// Why [`RaftHandle::propose`](super::RaftHandle::propose) or
/// [`RaftHandle::change_membership`](super::RaftHandle::change_membership)
/// did not give a result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProposeError {
    /// This node does not lead; `leader` is the leader it knows of.
    /// Certainly not applied: send it there.
    NotLeader {
        /// The leader, if known.
        leader: Option<NodeId>,
    },
    /// The leader refused it before it took any effect (overload, a
    /// leadership transfer in progress, a membership change in progress,
    /// an invalid change, ...). Certainly not applied.
    Rejected {
        /// Why.
        reason: RejectReason,
    },
    /// The proposal was appended but its outcome is unknown here: it may
    /// be committed and applied, or lost. Never reported when it certainly
    /// failed; a client must treat it as "maybe".
    Unknown {
        /// How it came to be unknown.
        reason: UnknownReason,
    },
    /// The driver has stopped (a store failure, a shutdown) before the
    /// proposal reached the node. Certainly not applied.
    Stopped,
}

/// Why a proposal's outcome is unknown ([`ProposeError::Unknown`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum UnknownReason {
    /// The node stopped leading before it learned whether the entry
    /// committed: a new leader may commit it or overwrite it.
    LeadershipLost,
    /// The driver stopped (failed, shut down or aborted) while the
    /// proposal was pending.
    Stopped,
    /// The node installed a snapshot that covers the proposal's index
    /// before applying its entry: the effect, if any, is inside the
    /// snapshot, and the response is not known here.
    SnapshotInstalled,
    /// The node forwarded it to the leader (`Config::forward_proposals`):
    /// it may be appended there, once or more, or lost.
    Forwarded,
    /// Another term's entry (or one without its payload) was applied at
    /// the proposal's index. By the core's contract the proposal is then
    /// lost; but the driver fails a deposed leader's uncommitted proposals
    /// as `LeadershipLost` before any such entry can apply, so this only
    /// shows a broken assumption, and is reported as unknown to stay on the
    /// safe side.
    Superseded,
}

impl fmt::Display for ProposeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProposeError::NotLeader { leader: Some(l) } => write!(f, "not the leader; the leader is node {}", l.0),
            ProposeError::NotLeader { leader: None } => write!(f, "not the leader; no leader known"),
            ProposeError::Rejected { reason } => write!(f, "rejected: {reason:?}"),
            ProposeError::Unknown { reason } => write!(f, "outcome unknown (it may have been applied): {reason:?}"),
            ProposeError::Stopped => write!(f, "the node has stopped"),
        }
    }
}

impl core::error::Error for ProposeError {}

impl ProposeError {
    /// Whether the proposal certainly did not take effect (so a retry
    /// cannot apply it twice).
    pub fn certainly_not_applied(&self) -> bool {
        !matches!(self, ProposeError::Unknown { .. })
    }

    pub(crate) fn from_reject(reason: RejectReason) -> ProposeError {
        match reason {
            RejectReason::NotLeader { leader_hint } => ProposeError::NotLeader { leader: leader_hint },
            reason => ProposeError::Rejected { reason },
        }
    }
}

/// Why a linearizable read
/// ([`RaftHandle::read_with`](super::RaftHandle::read_with),
/// [`RaftHandle::read_index`](super::RaftHandle::read_index)) failed. A
/// read has no effect, so it is always safe to retry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReadError {
    /// No leader confirmed the read: this node (or the leader it forwarded
    /// to) does not lead. `leader` is the leader it knows of.
    NotLeader {
        /// The leader, if known.
        leader: Option<NodeId>,
    },
    /// Refused: the leader has not committed an entry of its term yet (and
    /// the caller asked not to wait), a transfer is in progress, too many
    /// reads are pending, a forwarded read timed out, or this node is a
    /// witness.
    Rejected {
        /// Why.
        reason: RejectReason,
    },
    /// The driver has stopped.
    Stopped,
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::NotLeader { leader: Some(l) } => write!(f, "not the leader; the leader is node {}", l.0),
            ReadError::NotLeader { leader: None } => write!(f, "not the leader; no leader known"),
            ReadError::Rejected { reason } => write!(f, "read rejected: {reason:?}"),
            ReadError::Stopped => write!(f, "the node has stopped"),
        }
    }
}

impl core::error::Error for ReadError {}

impl ReadError {
    pub(crate) fn from_reject(reason: RejectReason) -> ReadError {
        match reason {
            RejectReason::NotLeader { leader_hint } => ReadError::NotLeader { leader: leader_hint },
            reason => ReadError::Rejected { reason },
        }
    }
}

/// Why [`RaftHandle::transfer_leadership`](super::RaftHandle::transfer_leadership)
/// did not hand leadership to its target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransferError {
    /// This node does not lead.
    NotLeader {
        /// The leader, if known.
        leader: Option<NodeId>,
    },
    /// Refused or aborted by the leader (an invalid target, a transfer
    /// already in progress, the target did not catch up in time); the
    /// leader kept leading.
    Rejected {
        /// Why.
        reason: RejectReason,
    },
    /// Leadership moved, but to another node than the target (or it came
    /// back to this one in a later term).
    OtherLeader {
        /// The leader now, if known.
        leader: Option<NodeId>,
    },
    /// No new leader became known within a few election timeouts after
    /// the handover.
    TimedOut,
    /// The driver has stopped.
    Stopped,
}

impl fmt::Display for TransferError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransferError::NotLeader { leader } => write!(f, "not the leader (leader: {leader:?})"),
            TransferError::Rejected { reason } => write!(f, "transfer rejected: {reason:?}"),
            TransferError::OtherLeader { leader } => write!(f, "another node took over: {leader:?}"),
            TransferError::TimedOut => write!(f, "no leader emerged after the handover"),
            TransferError::Stopped => write!(f, "the node has stopped"),
        }
    }
}

impl core::error::Error for TransferError {}

/// The driver has stopped; the request did not reach the node.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stopped;

impl fmt::Display for Stopped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the node has stopped")
    }
}

impl core::error::Error for Stopped {}

/// Why a driver failed to start, or stopped.
#[derive(Debug)]
#[non_exhaustive]
pub enum DriverError {
    /// The store failed (fail-stop: the node never acknowledges what a
    /// failed write or fsync may have lost). Restart the node to recover
    /// from what the disk really holds.
    Store(StoreError),
    /// `Node::new` refused the configuration or the stored state.
    Node(raft_sansio::Error),
    /// The state machine could not restore a snapshot.
    Restore {
        /// The snapshot's last index.
        index: raft_sansio::Index,
        /// The state machine's error.
        source: BoxError,
    },
    /// The persistence thread could not be started, or died.
    StoreThread(String),
    /// The driver's task was aborted or panicked.
    Task(String),
}

impl fmt::Display for DriverError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DriverError::Store(e) => write!(f, "store failed: {e}"),
            DriverError::Node(e) => write!(f, "cannot build the node: {e}"),
            DriverError::Restore { index, source } => {
                write!(f, "the state machine cannot restore the snapshot at {}: {source}", index.0)
            }
            DriverError::StoreThread(e) => write!(f, "persistence thread: {e}"),
            DriverError::Task(e) => write!(f, "driver task: {e}"),
        }
    }
}

impl core::error::Error for DriverError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            DriverError::Store(e) => Some(e),
            DriverError::Node(e) => Some(e),
            DriverError::Restore { source, .. } => Some(source.as_ref()),
            _ => None,
        }
    }
}
