//! [`Input`]: everything a host steps into a node.

use alloc::vec::Vec;

use bytes::Bytes;
use raft_sansio_proto::{Index, Message, NodeId};

/// The host's handle on one request (a proposal, a read, a membership change
/// or a transfer), echoed in the outputs that answer it. The core does not
/// interpret it; the host keeps ids unique among its pending requests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId(pub u64);

/// One input to [`Node::step`](crate::Node::step). Every input is safe at any
/// time: a late, duplicated or misplaced input is a no-op or answered with an
/// `Event` or a `Rejected`, never a panic.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Input {
    /// One logical tick elapsed on this node's clock. Every node uses the
    /// same tick period; timeouts are counted in ticks.
    Tick,
    /// A message from a peer. Untrusted: validated before anything changes.
    Receive(Message),
    /// Propose one command. Answered by `Proposed`, `ProposalForwarded` or
    /// `Rejected`.
    Propose {
        /// The host's id for the proposal.
        id: RequestId,
        /// The command, handed back in `Apply` once committed.
        command: Bytes,
    },
    /// Propose several commands at once; they take consecutive indexes
    /// starting at the `Proposed.index` of the answer. Cheaper than one
    /// `Propose` per command: one append per follower carries them all.
    ProposeBatch {
        /// The host's id for the batch.
        id: RequestId,
        /// The commands, in order (at least one).
        commands: Vec<Bytes>,
    },
    /// A linearizable read barrier (Raft thesis §6.4): answered by
    /// `ReadReady { id, index }` once it is safe to read the state machine
    /// after applying up to `index`, or by `Rejected`. On a follower it is
    /// forwarded to the leader as a read-index request.
    Read {
        /// The host's id for the read.
        id: RequestId,
        /// Whether a leader that has not yet committed an entry of its term
        /// may queue the read until it has (`true`), or must reject it with
        /// `TermNotCommitted` (`false`).
        wait: bool,
    },
    /// Hand leadership to `to` (thesis §3.10): the leader stops accepting
    /// proposals, brings `to` up to date and tells it to campaign at once.
    /// The transfer aborts after an election timeout.
    TransferLeadership {
        /// The host's id for the request (used if it is rejected).
        id: RequestId,
        /// The target: a voter other than this node.
        to: NodeId,
    },
    /// Change the membership (leader only): add, remove, promote and demote
    /// any set of voters, learners and witnesses at once. Answered by
    /// `Proposed` (the configuration entry's index and term) or `Rejected`.
    /// A change of at most one voting member applies directly; a larger one
    /// (or any with a joint transition) goes through a joint configuration.
    /// An empty change leaves the joint configuration.
    ChangeMembership {
        /// The host's id for the request.
        id: RequestId,
        /// The change.
        change: crate::confchange::MembershipChange,
    },
    /// Start an election now (pre-vote first when enabled), whatever the
    /// election timer says. In lease read mode, refused while this node heard
    /// from a leader within the minimum election timeout (that leader may
    /// hold a lease).
    Campaign,
    /// Every `Persist` with `seq <= up_to_seq` is durable. Cumulative: a
    /// `Persisted` for an older seq than one already reported is a no-op.
    Persisted {
        /// The highest durable seq.
        up_to_seq: u64,
    },
    /// The host's state machine has applied every entry up to `index`.
    Applied {
        /// The highest applied index; at most the last index emitted in an
        /// `Apply`.
        index: Index,
    },
    /// Drop the in-memory log up to `index` (at most the applied index).
    /// The host must keep what it needs to restart (a snapshot).
    Compact {
        /// The new first compacted index.
        index: Index,
    },
    /// The host took a snapshot of its state machine at `index` (at most
    /// the applied index, beyond the current snapshot). Answered by a
    /// `Persist` of the snapshot's metadata (its last entry and the
    /// configuration in effect there) for the host to store beside `data`;
    /// the log is then compacted up to `index` minus
    /// `Config::snapshot_trailing_entries`.
    SnapshotTaken {
        /// The snapshot's last index.
        index: Index,
        /// The snapshot's bytes (kept as a handle to send to followers).
        data: Bytes,
    },
    /// The data of the snapshot asked for by `Output::SnapshotDataNeeded`.
    SnapshotData {
        /// The snapshot's last entry, as asked.
        last: raft_sansio_proto::EntryId,
        /// Its bytes.
        data: Bytes,
    },
    /// The transport could not deliver to `peer`; the leader stops
    /// streaming to it and probes again.
    ReportUnreachable {
        /// The unreachable peer.
        peer: NodeId,
    },
}
