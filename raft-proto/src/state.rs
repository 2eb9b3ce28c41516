//! Durable state: [`HardState`], [`ConfState`] and [`SnapshotMeta`].

use alloc::vec::Vec;

use crate::ids::{EntryId, Index, NodeId, Term};

/// The state a node must make durable before it promises anything
/// (Raft Figure 2, "persistent state on all servers", plus the commit index).
///
/// Term and vote always travel together in one `HardState`, so that a crash
/// can never persist one without the other (hashicorp/raft #661).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct HardState {
    /// The latest term this node has seen.
    pub term: Term,
    /// The candidate this node voted for in `term`, if any.
    pub vote: Option<NodeId>,
    /// The highest index this node knows to be committed. Losing it on a
    /// crash is safe (it is re-learned), which is why a Persist that only
    /// moves it need not be synced.
    pub commit: Index,
}

/// A membership configuration, possibly joint (Raft thesis chapter 4).
///
/// Every list is sorted ascending and free of duplicates. Data voters
/// (`voters`) and witnesses (`witnesses`) are disjoint and together make up
/// the voting members of the incoming configuration; `learners` are
/// disjoint from both. A configuration is joint when `voters_outgoing` or
/// `witnesses_outgoing` is non-empty: every decision then needs a majority
/// of the incoming and of the outgoing voting members.
///
/// `removed` lists every id that has ever been removed from the group, so
/// that "ids are never reused" survives log compaction: the configuration is
/// all that a snapshot keeps of the history of membership.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct ConfState {
    /// Voting members that keep the full log and apply it.
    pub voters: Vec<NodeId>,
    /// Non-voting members that receive the log.
    pub learners: Vec<NodeId>,
    /// Voting members that keep payloads only until every data voter holds
    /// them (see the core's witness documentation).
    pub witnesses: Vec<NodeId>,
    /// The data voters of the outgoing configuration while joint.
    pub voters_outgoing: Vec<NodeId>,
    /// The witnesses of the outgoing configuration while joint.
    pub witnesses_outgoing: Vec<NodeId>,
    /// Outgoing voters that become learners when the joint configuration is
    /// left; until then they still vote in the outgoing half.
    pub learners_next: Vec<NodeId>,
    /// Leave the joint configuration automatically once it commits.
    pub auto_leave: bool,
    /// Every id ever removed from the group; none of them may be added again.
    pub removed: Vec<NodeId>,
}

impl ConfState {
    /// A plain (non-joint) configuration of data voters.
    pub fn with_voters(voters: impl IntoIterator<Item = NodeId>) -> ConfState {
        let mut voters: Vec<NodeId> = voters.into_iter().collect();
        voters.sort_unstable();
        voters.dedup();
        ConfState { voters, ..ConfState::default() }
    }

    /// Whether this is a joint configuration.
    pub fn is_joint(&self) -> bool {
        !self.voters_outgoing.is_empty() || !self.witnesses_outgoing.is_empty()
    }

    /// Whether `id` is named anywhere in the configuration (as a voter,
    /// witness or learner, incoming or outgoing).
    pub fn contains(&self, id: NodeId) -> bool {
        [
            &self.voters,
            &self.learners,
            &self.witnesses,
            &self.voters_outgoing,
            &self.witnesses_outgoing,
            &self.learners_next,
        ]
        .iter()
        .any(|list| list.binary_search(&id).is_ok())
    }

    /// Whether `id` votes in the incoming or the outgoing configuration.
    pub fn is_voting_member(&self, id: NodeId) -> bool {
        [&self.voters, &self.witnesses, &self.voters_outgoing, &self.witnesses_outgoing]
            .iter()
            .any(|list| list.binary_search(&id).is_ok())
    }

    /// Checks the structural rules of the type documentation: sorted,
    /// duplicate-free lists, no id 0, disjoint roles, no removed id present.
    /// Called at the gateway (restore, configuration entries) only.
    ///
    /// # Errors
    /// The name of the first rule that does not hold.
    pub fn validate(&self) -> Result<(), &'static str> {
        let lists: [(&'static str, &Vec<NodeId>); 7] = [
            ("voters", &self.voters),
            ("learners", &self.learners),
            ("witnesses", &self.witnesses),
            ("voters_outgoing", &self.voters_outgoing),
            ("witnesses_outgoing", &self.witnesses_outgoing),
            ("learners_next", &self.learners_next),
            ("removed", &self.removed),
        ];
        for (name, list) in lists {
            if list.iter().any(|id| !id.is_valid()) {
                return Err(name);
            }
            if list.windows(2).any(|w| w[0] >= w[1]) {
                return Err(name);
            }
        }
        let disjoint = |a: &[NodeId], b: &[NodeId]| a.iter().all(|id| b.binary_search(id).is_err());
        if !disjoint(&self.voters, &self.witnesses)
            || !disjoint(&self.voters, &self.learners)
            || !disjoint(&self.witnesses, &self.learners)
            || !disjoint(&self.voters_outgoing, &self.learners)
            || !disjoint(&self.witnesses_outgoing, &self.learners)
        {
            return Err("incoming roles overlap");
        }
        if !disjoint(&self.voters_outgoing, &self.witnesses_outgoing) {
            return Err("outgoing roles overlap");
        }
        // A learner_next is an outgoing voter waiting to become a learner.
        if !self.learners_next.iter().all(|id| {
            self.voters_outgoing.binary_search(id).is_ok() || self.witnesses_outgoing.binary_search(id).is_ok()
        }) {
            return Err("learners_next not outgoing voters");
        }
        if !self.is_joint() && (self.auto_leave || !self.learners_next.is_empty()) {
            return Err("joint-only fields set outside a joint configuration");
        }
        for (_, list) in &lists[..6] {
            if !disjoint(list, &self.removed) {
                return Err("removed id still a member");
            }
        }
        Ok(())
    }
}

/// What a snapshot covers: its last entry and the configuration in effect at
/// that entry.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct SnapshotMeta {
    /// The last entry the snapshot includes.
    pub last: EntryId,
    /// The configuration in effect at `last` (joint parts included).
    pub conf_state: ConfState,
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn ids(v: &[u64]) -> Vec<NodeId> {
        v.iter().copied().map(NodeId).collect()
    }

    #[test]
    fn with_voters_sorts_and_dedups() {
        let c = ConfState::with_voters(ids(&[3, 1, 2, 3]));
        assert_eq!(c.voters, ids(&[1, 2, 3]));
        assert!(c.validate().is_ok());
        assert!(!c.is_joint());
    }

    #[test]
    fn validate_names_the_broken_rule() {
        let mut c = ConfState::with_voters(ids(&[1, 2]));
        c.learners = ids(&[2]);
        assert_eq!(c.validate(), Err("incoming roles overlap"));

        let c = ConfState { voters: ids(&[2, 1]), ..ConfState::default() };
        assert_eq!(c.validate(), Err("voters"));

        let c = ConfState { voters: ids(&[0, 1]), ..ConfState::default() };
        assert_eq!(c.validate(), Err("voters"));

        let c = ConfState { voters: ids(&[1]), removed: ids(&[1]), ..ConfState::default() };
        assert_eq!(c.validate(), Err("removed id still a member"));

        let c = ConfState { voters: ids(&[1]), auto_leave: true, ..ConfState::default() };
        assert_eq!(c.validate(), Err("joint-only fields set outside a joint configuration"));

        let c = ConfState {
            voters: ids(&[1, 2]),
            voters_outgoing: ids(&[1, 3]),
            learners_next: ids(&[3]),
            auto_leave: true,
            ..ConfState::default()
        };
        assert!(c.validate().is_ok());
        assert!(c.is_joint());
        assert!(c.is_voting_member(NodeId(3)));
        assert!(c.contains(NodeId(3)));
        assert!(!c.contains(NodeId(4)));
        let mut bad = c.clone();
        bad.learners_next = vec![NodeId(2)];
        assert_eq!(bad.validate(), Err("learners_next not outgoing voters"));
    }
}
