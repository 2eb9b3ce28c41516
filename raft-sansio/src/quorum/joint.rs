//! A joint configuration: an incoming and an outgoing voter set, each of
//! which must reach its own majority (Raft thesis §4.3). A non-joint
//! configuration is a joint one with an empty outgoing half.

use raft_sansio_proto::{Index, NodeId};

use super::{majority, VoteResult};

/// The highest index committed by both halves.
pub(crate) fn committed_index(
    incoming: &[NodeId],
    outgoing: &[NodeId],
    mut acked: impl FnMut(NodeId) -> Index,
) -> Index {
    let a = majority::committed_index(incoming, &mut acked);
    let b = majority::committed_index(outgoing, &mut acked);
    a.min(b)
}

/// Won when both halves won, lost when either lost.
pub(crate) fn vote_result(
    incoming: &[NodeId],
    outgoing: &[NodeId],
    mut vote: impl FnMut(NodeId) -> Option<bool>,
) -> VoteResult {
    let a = majority::vote_result(incoming, &mut vote);
    let b = majority::vote_result(outgoing, &mut vote);
    match (a, b) {
        (VoteResult::Won, VoteResult::Won) => VoteResult::Won,
        (VoteResult::Lost, _) | (_, VoteResult::Lost) => VoteResult::Lost,
        _ => VoteResult::Pending,
    }
}

/// Whether the active voters form a quorum of both halves.
pub(crate) fn is_quorum(incoming: &[NodeId], outgoing: &[NodeId], mut active: impl FnMut(NodeId) -> bool) -> bool {
    majority::is_quorum(incoming, &mut active) && majority::is_quorum(outgoing, &mut active)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn ids(v: &[u64]) -> Vec<NodeId> {
        v.iter().copied().map(NodeId).collect()
    }

    #[test]
    fn joint_commit_is_the_minimum_of_both_halves() {
        let incoming = ids(&[1, 2, 3]);
        let outgoing = ids(&[3, 4, 5]);
        let acked = |id: NodeId| Index([0, 10, 10, 5, 5, 1][id.0 as usize]);
        // incoming {10,10,5} commits 10; outgoing {5,5,1} commits 5.
        assert_eq!(committed_index(&incoming, &outgoing, acked), Index(5));
        assert_eq!(committed_index(&incoming, &[], acked), Index(10));
    }

    #[test]
    fn joint_votes_need_both_majorities() {
        let incoming = ids(&[1, 2, 3]);
        let outgoing = ids(&[4, 5, 6]);
        let won_in = |id: NodeId| Some(id.0 <= 3);
        assert_eq!(vote_result(&incoming, &outgoing, won_in), VoteResult::Lost);
        let pending = |id: NodeId| if id.0 <= 3 { Some(true) } else { None };
        assert_eq!(vote_result(&incoming, &outgoing, pending), VoteResult::Pending);
        let both = |id: NodeId| Some(id.0 != 3 && id.0 != 6);
        assert_eq!(vote_result(&incoming, &outgoing, both), VoteResult::Won);
        assert!(is_quorum(&incoming, &outgoing, |id| id.0 != 3 && id.0 != 6));
        assert!(!is_quorum(&incoming, &outgoing, |id| id.0 <= 4));
    }
}
