//! Witnesses: voters that keep no state machine (the log-tail design of
//! tikv/rfcs #31).
//!
//! The rules and the trade-off are in the crate docs (`# Witnesses`).

use raft_sansio_proto::{Index, NodeId};

use crate::event::Event;
use crate::node::{Node, RoleState};

impl Node {
    /// A witness follower heard from its leader that every data voter holds
    /// the entries up to `lowest_data_match`: drop the payloads it no
    /// longer needs to keep.
    pub(crate) fn witness_follow(&mut self, lowest_data_match: Index) {
        if !self.skips_apply() {
            return;
        }
        // Committed entries are never truncated from a data voter that
        // acknowledged them; uncommitted ones may be.
        let upto = lowest_data_match.min(self.log.committed());
        if upto > self.witness_elided {
            self.log.elide_payloads(self.witness_elided.next(), upto);
            self.witness_elided = upto;
        }
    }

    /// The highest index a witness may compact to: the entries above it
    /// still hold payloads some data voter may lack.
    pub(crate) fn witness_compaction_cap(&self) -> Option<Index> {
        self.acts_as_witness().then_some(self.witness_elided)
    }

    /// Whether this node behaves as a witness: a witness of its latest
    /// configuration (even uncommitted: it takes no proposals, serves no
    /// reads, hands leadership over), or one for good.
    pub(crate) fn acts_as_witness(&self) -> bool {
        self.witness_for_good || self.is_witness()
    }

    /// Whether this node is a witness in the configuration in effect at its
    /// commit index. Dropping payloads and skipping `Apply` wait for that:
    /// until the entry that made it a witness commits, a truncation may
    /// make it a data member again, which must then have applied every
    /// entry. Once committed it is a witness for good (a witness never
    /// becomes a data member).
    pub(crate) fn skips_apply(&self) -> bool {
        self.witness_for_good
            || (self.is_witness() && crate::membership::is_witness(self.confs.at(self.log.committed()), self.config.id))
    }

    /// A witness leader hands leadership to a data voter: started when it
    /// wins and again whenever a transfer aborts.
    pub(crate) fn witness_hand_over(&mut self) {
        if !self.acts_as_witness() {
            return;
        }
        let RoleState::Leader(ls) = &self.role else { return };
        if ls.transfer.is_some() {
            return;
        }
        // A data voter of either half heard from lately (one that stopped
        // answering is skipped once the check-quorum period clears its
        // mark, so an aborted transfer moves on to another), the most up
        // to date first: in a joint configuration the incoming voters may
        // lag behind payloads this witness dropped.
        let membership = &self.membership;
        let candidates = membership
            .members()
            .iter()
            .filter(|&&id| membership.is_data_voter(id))
            .filter_map(|&id| ls.progress(id).filter(|p| p.recent_active).map(|p| (id, p.match_index)));
        let Some(to) = hand_over_target(candidates) else { return };
        self.out.event(Event::WitnessHandingOver { to });
        self.start_transfer(None, to);
    }
}

/// The most up-to-date candidate (highest match, then lowest id).
fn hand_over_target(candidates: impl Iterator<Item = (NodeId, Index)>) -> Option<NodeId> {
    let mut best: Option<(NodeId, Index)> = None;
    for (id, m) in candidates {
        if best.is_none_or(|(_, b)| m > b) {
            best = Some((id, m));
        }
    }
    best.map(|(id, _)| id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_over_goes_to_the_most_up_to_date_data_voter() {
        let c = |v: &[(u64, u64)]| hand_over_target(v.iter().map(|&(id, m)| (NodeId(id), Index(m))));
        assert_eq!(c(&[]), None);
        assert_eq!(c(&[(1, 5)]), Some(NodeId(1)));
        assert_eq!(c(&[(1, 5), (2, 7), (4, 6)]), Some(NodeId(2)));
        assert_eq!(c(&[(1, 7), (2, 7)]), Some(NodeId(1)), "ties go to the first");
        assert_eq!(c(&[(1, 3), (2, 7), (4, 7)]), Some(NodeId(2)));
    }
}
