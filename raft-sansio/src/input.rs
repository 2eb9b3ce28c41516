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
    /// Start an election now (pre-vote first when enabled), whatever the
    /// election timer says.
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
    /// The transport could not deliver to `peer`; the leader stops
    /// streaming to it and probes again.
    ReportUnreachable {
        /// The unreachable peer.
        peer: NodeId,
    },
}
