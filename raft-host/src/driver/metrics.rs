//! [`Metrics`]: a snapshot of one node's state, refreshed by the driver
//! after every round of inputs.

use core::time::Duration;

use raft_sansio::{ConfState, Index, Node, NodeId, ReplicationState, Role, Term};

/// What one node looks like now: published by the driver after every round
/// of inputs (see [`RaftHandle::metrics`](super::RaftHandle::metrics) and
/// [`RaftHandle::subscribe`](super::RaftHandle::subscribe)).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Metrics {
    /// This node.
    pub id: NodeId,
    /// Its role.
    pub role: Role,
    /// Its current term.
    pub term: Term,
    /// The leader of its term, if known.
    pub leader: Option<NodeId>,
    /// Its commit index.
    pub commit_index: Index,
    /// The last index its state machine applied (a witness: the index the
    /// core counts as applied without a state machine).
    pub applied_index: Index,
    /// The last index in its log.
    pub last_index: Index,
    /// The last index of its latest snapshot (taken or installed).
    pub snapshot_index: Index,
    /// The configuration in effect.
    pub membership: ConfState,
    /// Whether this node is a witness.
    pub is_witness: bool,
    /// The leader's view of each follower (empty off the leader).
    pub peers: Vec<PeerMetrics>,
    /// How long the last `persist` that had to fsync took.
    pub last_fsync: Option<Duration>,
    /// `persist` calls that had to fsync (with group commit, each covers
    /// every Persist queued while the one before ran).
    pub fsync_count: u64,
    /// Persists made durable.
    pub persist_count: u64,
    /// Snapshots this node took of its state machine.
    pub snapshots_taken: u64,
    /// Snapshots it installed from a leader.
    pub snapshots_installed: u64,
    /// Proposals waiting for their entry to be applied.
    pub pending_proposals: usize,
    /// Reads waiting for the leader's confirmation or for the state machine
    /// to catch up.
    pub pending_reads: usize,
    /// Why the driver stopped, once it has.
    pub stopped: Option<String>,
}

/// The leader's view of one follower ([`Metrics::peers`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PeerMetrics {
    /// The follower.
    pub id: NodeId,
    /// The highest index known to match and be durable on it.
    pub match_index: Index,
    /// The next index the leader sends it.
    pub next_index: Index,
    /// How far it is behind the leader's log: `last_index - match_index`.
    pub lag: u64,
    /// Probe, replicate or snapshot.
    pub state: ReplicationState,
    /// Heard from since the leader's last check-quorum round.
    pub recent_active: bool,
}

impl Metrics {
    pub(crate) fn new(node: &Node) -> Metrics {
        let mut metrics = Metrics {
            id: node.id(),
            role: node.role(),
            term: node.term(),
            leader: node.leader(),
            commit_index: node.commit_index(),
            applied_index: node.applied_index(),
            last_index: node.last_index(),
            snapshot_index: Index(0),
            membership: node.membership().clone(),
            is_witness: node.is_witness(),
            peers: Vec::new(),
            last_fsync: None,
            fsync_count: 0,
            persist_count: 0,
            snapshots_taken: 0,
            snapshots_installed: 0,
            pending_proposals: 0,
            pending_reads: 0,
            stopped: None,
        };
        metrics.refresh_node(node);
        metrics
    }

    /// Copies what changed in `node`; returns whether anything did.
    pub(crate) fn refresh_node(&mut self, node: &Node) -> bool {
        let mut changed = false;
        macro_rules! set {
            ($field:ident, $value:expr) => {{
                let value = $value;
                if self.$field != value {
                    self.$field = value;
                    changed = true;
                }
            }};
        }
        set!(role, node.role());
        set!(term, node.term());
        set!(leader, node.leader());
        set!(commit_index, node.commit_index());
        set!(last_index, node.last_index());
        set!(is_witness, node.is_witness());
        if self.membership != *node.membership() {
            self.membership = node.membership().clone();
            changed = true;
        }
        let last = node.last_index();
        let mut i = 0;
        for (id, p) in node.peers() {
            let peer = PeerMetrics {
                id,
                match_index: p.match_index,
                next_index: p.next_index,
                lag: last.0.saturating_sub(p.match_index.0),
                state: p.state,
                recent_active: p.recent_active,
            };
            match self.peers.get_mut(i) {
                Some(old) if *old == peer => {}
                Some(old) => {
                    *old = peer;
                    changed = true;
                }
                None => {
                    self.peers.push(peer);
                    changed = true;
                }
            }
            i += 1;
        }
        if self.peers.len() > i {
            self.peers.truncate(i);
            changed = true;
        }
        changed
    }
}
