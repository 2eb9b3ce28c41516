//! [`Output`]: everything a node asks its host to do, and what it reports.

use alloc::boxed::Box;

use raft_sansio_proto::{HardState, Index, Message, NodeId, SnapshotMeta, Term};

use crate::entries::Entries;
use crate::event::Event;
use crate::input::RequestId;

/// One output of [`Node::step`](crate::Node::step). Each output is emitted
/// once (edge-triggered): a host that drops one loses it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use = "an output the host ignores is lost: persist, send, apply or report it"]
#[non_exhaustive]
pub enum Output {
    /// Restore the state machine from the snapshot the host received in
    /// `Persist::snapshot_chunk`s (and made the base of the log with
    /// `Persist::snapshot`): every entry up to `meta.last.index` is in it.
    /// Emitted once that Persist is acknowledged, before any `Apply` of a
    /// later entry.
    ApplySnapshot {
        /// The snapshot's metadata.
        meta: SnapshotMeta,
    },
    /// The leader must send its snapshot at `last` to a follower but has
    /// no data for it (after a restart): step `Input::SnapshotData`.
    SnapshotDataNeeded {
        /// The snapshot's last entry.
        last: raft_sansio_proto::EntryId,
    },
    /// Make this state durable. See [`Persist`] for the host's duties.
    Persist(Persist),
    /// Send `message` to `to` (`message.to == to`). May be carried out at
    /// once, in any order relative to `Persist` outputs: the core never emits
    /// a send that depends on an unacknowledged `Persist`.
    Send {
        /// The recipient.
        to: NodeId,
        /// The message.
        message: Message,
    },
    /// Apply these committed entries to the state machine, in order. Every
    /// committed entry is emitted exactly once per incarnation, in index
    /// order, starting after `RestoredState::applied`, and only once it is
    /// durable locally. `Noop` entries are included (apply them as nothing)
    /// so that the host's applied index can follow every index.
    Apply {
        /// Consecutive committed entries.
        entries: Entries,
    },
    /// A proposal was appended at `index` in `term` on this leader. It is
    /// committed if the entry later applied at `index` has `term`; if
    /// another term's entry is applied there, the proposal was lost.
    Proposed {
        /// The proposal's id.
        id: RequestId,
        /// Its index (the first index of a batch).
        index: Index,
        /// The leader's term.
        term: Term,
    },
    /// A proposal was forwarded to `leader` (`Config::forward_proposals`).
    /// Its fate is unknown to this node: it may be lost or appended twice;
    /// exactly-once is the session layer's job.
    ProposalForwarded {
        /// The proposal's id.
        id: RequestId,
        /// The leader it went to.
        leader: NodeId,
    },
    /// The read `id` may be served from the state machine once it has
    /// applied every entry up to `index`.
    ReadReady {
        /// The read's id.
        id: RequestId,
        /// The read index.
        index: Index,
    },
    /// A request was refused before it took any effect.
    Rejected {
        /// The request's id.
        id: RequestId,
        /// Why.
        reason: RejectReason,
    },
    /// Something happened, and why (off with `Config::emit_events = false`).
    Event(Event),
}

/// State to make durable, numbered by `seq`.
///
/// The host MUST make Persists durable in emission order (it may coalesce
/// consecutive ones into one write and one fsync, never reorder them) and
/// answer with [`Input::Persisted`](crate::Input::Persisted). Within one
/// Persist it writes `snapshot`, then truncates and appends, then writes
/// `hard_state` (or all of it atomically): the hard state goes last so that
/// a torn write never leaves a term or commit without the entries it covers.
/// A Persist with `must_sync == false` only moves the commit index: it need
/// not be synced on its own (losing it in a crash is safe).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Persist {
    /// Increases by one with every Persist of this incarnation.
    pub seq: u64,
    /// A chunk of a snapshot received from the leader: write `data` at
    /// `offset` of the snapshot `id` being received (chunks arrive in order
    /// from offset 0; a chunk at offset 0 starts it over).
    pub snapshot_chunk: Option<SnapshotChunk>,
    /// The snapshot with this metadata is now the base of the log: store
    /// the metadata (and restore it on restart), and drop stored entries up
    /// to its last index. Its data is the host's own snapshot
    /// (`Input::SnapshotTaken`), or the one received in chunks (the last
    /// chunk comes with this).
    pub snapshot: Option<Box<SnapshotMeta>>,
    /// Remove every stored entry with an index at or above this one.
    pub truncate_from: Option<Index>,
    /// Then append these consecutive entries after the remaining log.
    pub entries: Entries,
    /// Then store this hard state (term, vote and commit together, always).
    pub hard_state: Option<HardState>,
    /// Whether the host must fsync before acknowledging.
    pub must_sync: bool,
}

/// A chunk of a snapshot being received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotChunk {
    /// Which snapshot.
    pub id: raft_sansio_proto::SnapshotId,
    /// Where `data` goes.
    pub offset: u64,
    /// The bytes.
    pub data: bytes::Bytes,
    /// The snapshot's total length.
    pub total_len: u64,
}

/// Why a request was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RejectReason {
    /// This node is not the leader; `leader_hint` is the leader it knows of.
    NotLeader {
        /// The current leader, if known.
        leader_hint: Option<NodeId>,
    },
    /// The leader's uncommitted entries exceed `Config::max_uncommitted_size`.
    Overloaded,
    /// A leadership transfer is in progress: proposals wait until it ends.
    TransferInProgress,
    /// A `ProposeBatch` without commands.
    EmptyBatch,
    /// A read on a leader that has not yet committed an entry of its term,
    /// where the host asked not to wait.
    TermNotCommitted,
    /// Too many reads are pending.
    TooManyReads,
    /// A forwarded read got no answer from the leader in time.
    ReadTimedOut,
    /// A transfer target that cannot lead.
    InvalidTransferTarget {
        /// Why.
        reason: TransferRefusal,
    },
    /// The transfer did not complete within an election timeout (or the
    /// leader stepped down first); the leader resumed normal service.
    TransferAborted,
    /// The log's index space is exhausted (within 2^32 of `u64::MAX`).
    LogFull,
    /// A membership change while an earlier one is not yet committed (or the
    /// leader has not yet committed an entry of its term).
    MembershipChangeInProgress,
    /// The membership change itself is impossible.
    InvalidMembershipChange {
        /// Why.
        reason: crate::confchange::ChangeError,
    },
    /// A witness leads only to hand over to a data voter: it accepts no
    /// proposals, membership changes or reads.
    WitnessLeader,
    /// This node is a witness: it has no state machine, so it serves no
    /// reads.
    Witness,
}

/// Why a transfer target was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransferRefusal {
    /// The target is this node.
    IsSelf,
    /// The target is not a member.
    UnknownNode,
    /// The target is a learner.
    Learner,
    /// The target is a witness (it never keeps leadership).
    Witness,
}
