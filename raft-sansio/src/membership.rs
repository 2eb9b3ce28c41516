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

    /// Whether both have the same voting members in each half.
    pub(crate) fn same_voters(&self, other: &Membership) -> bool {
        self.incoming == other.incoming && self.outgoing == other.outgoing
    }

    /// Whether `id` votes in either half.
    pub(crate) fn is_voter(&self, id: NodeId) -> bool {
        self.incoming.binary_search(&id).is_ok() || self.outgoing.binary_search(&id).is_ok()
    }

    /// Whether `id` is a witness in some half and a data voter in none: it
    /// holds no state machine.
    pub(crate) fn is_witness(&self, id: NodeId) -> bool {
        is_witness(&self.conf, id)
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

/// Whether `id` is a witness of `conf` in some half and a data voter in
/// none.
pub(crate) fn is_witness(conf: &ConfState, id: NodeId) -> bool {
    (conf.witnesses.binary_search(&id).is_ok() || conf.witnesses_outgoing.binary_search(&id).is_ok())
        && conf.voters.binary_search(&id).is_err()
        && conf.voters_outgoing.binary_search(&id).is_err()
}

/// The configurations the in-memory log holds: the one in effect at the
/// snapshot (or bootstrap) point, then one per configuration entry, in index
/// order. A configuration takes effect when its entry is appended (thesis
/// §4.1), so the latest one rules; truncating its entry restores the one
/// before; compaction keeps the one in effect at the new snapshot point.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ConfHistory {
    /// (index of the entry, or of the snapshot, that set it; configuration).
    /// Invariant: non-empty, indexes strictly increase.
    entries: Vec<(Index, ConfState)>,
}

impl ConfHistory {
    pub(crate) fn new(base_index: Index, base: ConfState) -> ConfHistory {
        ConfHistory { entries: alloc::vec![(base_index, base)] }
    }

    /// The latest configuration (the one in effect).
    pub(crate) fn latest(&self) -> &ConfState {
        &self.entries[self.entries.len() - 1].1
    }

    /// The index of the latest configuration entry.
    pub(crate) fn latest_index(&self) -> Index {
        self.entries[self.entries.len() - 1].0
    }

    /// Whether some configuration in effect at or below `index` satisfies
    /// `pred`.
    pub(crate) fn any_at_or_below(&self, index: Index, mut pred: impl FnMut(&ConfState) -> bool) -> bool {
        self.entries.iter().take_while(|(i, _)| *i <= index).any(|(_, c)| pred(c)) || pred(&self.entries[0].1)
    }

    /// The configuration in effect at `index`.
    pub(crate) fn at(&self, index: Index) -> &ConfState {
        let p = self.entries.partition_point(|(i, _)| *i <= index);
        &self.entries[p.saturating_sub(1)].1
    }

    /// A configuration entry was appended at `index`.
    pub(crate) fn push(&mut self, index: Index, conf: ConfState) {
        debug_assert!(index > self.latest_index());
        self.entries.push((index, conf));
    }

    /// Entries at or after `from` were truncated. Returns whether the
    /// configuration in effect changed.
    pub(crate) fn truncate_from(&mut self, from: Index) -> bool {
        let before = self.entries.len();
        while self.entries.len() > 1 && self.entries[self.entries.len() - 1].0 >= from {
            self.entries.pop();
        }
        self.entries.len() != before
    }

    /// The log was compacted (or replaced by a snapshot) up to `index`: the
    /// configuration in effect there becomes the base.
    pub(crate) fn compact_to(&mut self, index: Index) {
        let p = self.entries.partition_point(|(i, _)| *i <= index);
        if p > 1 {
            self.entries.drain(..p - 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(v: &[u64]) -> ConfState {
        ConfState::with_voters(v.iter().copied().map(NodeId))
    }

    #[test]
    fn history_follows_appends_truncations_and_compaction() {
        let mut h = ConfHistory::new(Index(0), c(&[1]));
        h.push(Index(5), c(&[1, 2]));
        h.push(Index(9), c(&[1, 2, 3]));
        assert_eq!(h.latest(), &c(&[1, 2, 3]));
        assert_eq!(h.at(Index(4)), &c(&[1]));
        assert_eq!(h.at(Index(5)), &c(&[1, 2]));
        assert_eq!(h.at(Index(8)), &c(&[1, 2]));
        assert!(h.truncate_from(Index(9)));
        assert_eq!(h.latest(), &c(&[1, 2]));
        assert!(!h.truncate_from(Index(9)));
        h.compact_to(Index(7));
        assert_eq!(h.at(Index(0)), &c(&[1, 2]), "the base is the one in effect at 7");
        assert_eq!(h.latest_index(), Index(5));
        assert!(!h.truncate_from(Index(1)), "the base is never truncated");
        let m = Membership::new(c(&[1, 2, 3]));
        assert!(m.is_voter(NodeId(2)));
        assert!(!m.is_voter(NodeId(4)));
    }

    #[test]
    fn a_witness_is_one_in_some_half_and_a_data_voter_in_none() {
        let mut conf = c(&[1, 2]);
        conf.witnesses = alloc::vec![NodeId(3)];
        assert!(is_witness(&conf, NodeId(3)));
        assert!(!is_witness(&conf, NodeId(1)), "a data voter");
        assert!(!is_witness(&conf, NodeId(9)), "not a member");
        // Joint: 1 becomes a witness while 3 stays one; 1 still holds data
        // in the outgoing half.
        let mut joint = conf.clone();
        joint.voters = alloc::vec![NodeId(2)];
        joint.witnesses = alloc::vec![NodeId(1), NodeId(3)];
        joint.voters_outgoing = alloc::vec![NodeId(1), NodeId(2)];
        joint.witnesses_outgoing = alloc::vec![NodeId(3)];
        assert!(!is_witness(&joint, NodeId(1)));
        assert!(is_witness(&joint, NodeId(3)));
        // Leaving: only the outgoing half named it a witness.
        let mut leaving = c(&[1, 2]);
        leaving.voters_outgoing = alloc::vec![NodeId(1), NodeId(2)];
        leaving.witnesses_outgoing = alloc::vec![NodeId(3)];
        assert!(is_witness(&leaving, NodeId(3)));
    }
}
