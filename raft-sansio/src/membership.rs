//! The configuration in effect, with the derived voter sets that quorum
//! arithmetic needs.

use alloc::vec::Vec;

use raft_sansio_proto::{ConfState, Index, NodeId};

use crate::quorum::{joint, VoteResult};

/// A validated [`ConfState`] and its voting halves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Membership {
    conf: ConfState,
    /// Voting members of the incoming configuration (data voters and
    /// witnesses), sorted.
    incoming: Vec<NodeId>,
    /// Voting members of the outgoing configuration; empty unless joint.
    outgoing: Vec<NodeId>,
    /// Every member (voters, witnesses, learners, both halves), sorted and
    /// deduplicated: who a leader replicates to.
    members: Vec<NodeId>,
}

fn merged(a: &[NodeId], b: &[NodeId]) -> Vec<NodeId> {
    let mut v: Vec<NodeId> = a.iter().chain(b).copied().collect();
    v.sort_unstable();
    v.dedup();
    v
}

impl Membership {
    /// Wraps a configuration the caller has validated.
    pub(crate) fn new(conf: ConfState) -> Membership {
        debug_assert_eq!(conf.validate(), Ok(()));
        let incoming = merged(&conf.voters, &conf.witnesses);
        let outgoing = merged(&conf.voters_outgoing, &conf.witnesses_outgoing);
        let mut members = merged(&incoming, &outgoing);
        members = merged(&members, &conf.learners);
        members = merged(&members, &conf.learners_next);
        Membership { conf, incoming, outgoing, members }
    }

    pub(crate) fn conf(&self) -> &ConfState {
        &self.conf
    }

    /// Whether `id` votes in either half.
    pub(crate) fn is_voter(&self, id: NodeId) -> bool {
        self.incoming.binary_search(&id).is_ok() || self.outgoing.binary_search(&id).is_ok()
    }

    /// Every member, sorted.
    pub(crate) fn members(&self) -> &[NodeId] {
        &self.members
    }

    /// The index a joint quorum of voters has acknowledged.
    pub(crate) fn committed_index(&self, acked: impl FnMut(NodeId) -> Index) -> Index {
        joint::committed_index(&self.incoming, &self.outgoing, acked)
    }

    /// The outcome of an election with these votes.
    pub(crate) fn vote_result(&self, vote: impl FnMut(NodeId) -> Option<bool>) -> VoteResult {
        joint::vote_result(&self.incoming, &self.outgoing, vote)
    }

    /// Whether the active voters form a quorum.
    pub(crate) fn is_quorum(&self, active: impl FnMut(NodeId) -> bool) -> bool {
        joint::is_quorum(&self.incoming, &self.outgoing, active)
    }

    /// Data voters (voters that are not witnesses) of both halves.
    pub(crate) fn is_data_voter(&self, id: NodeId) -> bool {
        self.conf.voters.binary_search(&id).is_ok() || self.conf.voters_outgoing.binary_search(&id).is_ok()
    }
}
