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
        if !self.is_committed_witness() {
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
        self.is_witness().then_some(self.witness_elided)
    }

    /// Whether this node is a witness in the configuration in effect at its
    /// commit index. Dropping payloads and skipping `Apply` wait for that:
    /// until the entry that made it a witness commits, a truncation may
    /// make it a data member again, which must then have applied every
    /// entry. Once committed it is a witness for good (a witness never
    /// becomes a data member).
    pub(crate) fn is_committed_witness(&self) -> bool {
        self.is_witness() && crate::membership::is_witness(self.confs.at(self.log.committed()), self.config.id)
    }

    /// A witness leader hands leadership to a data voter: started when it
    /// wins and again whenever a transfer aborts.
    pub(crate) fn witness_hand_over(&mut self) {
        if !self.is_witness() {
            return;
        }
        let RoleState::Leader(ls) = &self.role else { return };
        if ls.transfer.is_some() {
            return;
        }
        // The data voter of the incoming configuration (it stays a voter)
        // that answered lately with the highest match; rotate among equals
        // so that a transfer that keeps aborting tries the others.
        let me = self.config.id;
        let voters = &self.membership.conf().voters;
        let n = voters.len() as u64;
        let mut best: Option<(Index, u64, NodeId)> = None;
        for (i, &id) in voters.iter().enumerate() {
            let Some(pr) = ls.progress(id).filter(|p| p.recent_active && id != me) else { continue };
            let rank = (pr.match_index, (i as u64 + n - self.witness_transfers % n.max(1)) % n.max(1));
            if best.is_none_or(|(m, r, _)| rank > (m, r)) {
                best = Some((rank.0, rank.1, id));
            }
        }
        let Some((_, _, to)) = best else { return };
        self.witness_transfers += 1;
        self.out.event(Event::WitnessHandingOver { to });
        self.start_transfer(None, to);
    }
}
