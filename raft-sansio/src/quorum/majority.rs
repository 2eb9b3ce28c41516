//! A simple majority of one voter set.

use raft_sansio_proto::{Index, NodeId};
use smallvec::SmallVec;

use super::VoteResult;

/// Voter sets up to this size are counted on the stack.
const STACK_VOTERS: usize = 7;

/// The highest index acknowledged by a majority of `voters`: the
/// `(n/2 + 1)`-th largest acknowledged index. `acked` gives each voter's
/// acknowledged index (`Index::ZERO` for one not heard from).
///
/// An empty voter set commits everything (`Index(u64::MAX)`), so that in a
/// joint configuration an empty half never holds the other back; a node
/// with no voters at all never leads, so it never commits by this.
pub(crate) fn committed_index(voters: &[NodeId], mut acked: impl FnMut(NodeId) -> Index) -> Index {
    let n = voters.len();
    if n == 0 {
        return Index(u64::MAX);
    }
    if n <= STACK_VOTERS {
        // Seven voters or fewer (every common cluster size): a fixed array
        // on the stack and an insertion sort, cheaper than any general sort
        // at this size (etcd's majority.go makes the same choice).
        let mut buf = [Index::ZERO; STACK_VOTERS];
        for (slot, &id) in buf.iter_mut().zip(voters) {
            *slot = acked(id);
        }
        let indexes = &mut buf[..n];
        for i in 1..n {
            let mut j = i;
            while j > 0 && indexes[j - 1] < indexes[j] {
                indexes.swap(j - 1, j);
                j -= 1;
            }
        }
        // Sorted descending, position n/2 holds the largest index that at
        // least n/2 + 1 voters (a majority) have reached.
        return indexes[n / 2];
    }
    let mut indexes: SmallVec<[Index; STACK_VOTERS]> = voters.iter().map(|&id| acked(id)).collect();
    indexes.sort_unstable_by(|a, b| b.cmp(a));
    indexes[n / 2]
}

/// Counts the votes of `voters`; `vote` gives `Some(granted)` for a voter
/// that answered. An empty voter set wins by convention (it places no
/// constraint on a joint configuration).
pub(crate) fn vote_result(voters: &[NodeId], mut vote: impl FnMut(NodeId) -> Option<bool>) -> VoteResult {
    if voters.is_empty() {
        return VoteResult::Won;
    }
    let (mut granted, mut missing) = (0usize, 0usize);
    for &id in voters {
        match vote(id) {
            Some(true) => granted += 1,
            Some(false) => {}
            None => missing += 1,
        }
    }
    let quorum = voters.len() / 2 + 1;
    if granted >= quorum {
        VoteResult::Won
    } else if granted + missing >= quorum {
        VoteResult::Pending
    } else {
        VoteResult::Lost
    }
}

/// Whether the voters for which `active` holds form a majority.
pub(crate) fn is_quorum(voters: &[NodeId], mut active: impl FnMut(NodeId) -> bool) -> bool {
    voters.is_empty() || voters.iter().filter(|&&id| active(id)).count() > voters.len() / 2
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    /// The obvious definition: the largest index some majority has reached.
    fn brute_force_committed(acked: &[u64]) -> u64 {
        let n = acked.len();
        let mut best = 0;
        for &candidate in acked {
            if acked.iter().filter(|&&a| a >= candidate).count() > n / 2 {
                best = best.max(candidate);
            }
        }
        best
    }

    fn brute_force_vote(votes: &[Option<bool>]) -> VoteResult {
        let n = votes.len();
        let yes = votes.iter().filter(|v| **v == Some(true)).count();
        let maybe = votes.iter().filter(|v| v.is_none()).count();
        if yes > n / 2 {
            VoteResult::Won
        } else if yes + maybe > n / 2 {
            VoteResult::Pending
        } else {
            VoteResult::Lost
        }
    }

    #[test]
    fn committed_index_matches_brute_force_exhaustively() {
        // Every assignment of indexes 0..=4 to 1..=8 voters (past the stack
        // array's size too).
        for n in 1..=8usize {
            let voters: Vec<NodeId> = (1..=n as u64).map(NodeId).collect();
            let total = 5usize.pow(n as u32);
            for code in 0..total {
                let acked: Vec<u64> = (0..n).map(|i| (code / 5usize.pow(i as u32) % 5) as u64).collect();
                let got = committed_index(&voters, |id| Index(acked[id.0 as usize - 1]));
                assert_eq!(got.0, brute_force_committed(&acked), "acked {acked:?}");
            }
        }
    }

    #[test]
    fn vote_result_matches_brute_force_exhaustively() {
        let options = [None, Some(false), Some(true)];
        for n in 1..=7usize {
            let voters: Vec<NodeId> = (1..=n as u64).map(NodeId).collect();
            for code in 0..3usize.pow(n as u32) {
                let votes: Vec<Option<bool>> = (0..n).map(|i| options[code / 3usize.pow(i as u32) % 3]).collect();
                let got = vote_result(&voters, |id| votes[id.0 as usize - 1]);
                assert_eq!(got, brute_force_vote(&votes), "votes {votes:?}");
            }
        }
    }

    #[test]
    fn empty_sets_never_constrain() {
        assert_eq!(committed_index(&[], |_| Index(0)), Index(u64::MAX));
        assert_eq!(vote_result(&[], |_| None), VoteResult::Won);
        assert!(is_quorum(&[], |_| false));
    }

    #[test]
    fn is_quorum_needs_a_strict_majority() {
        let voters = [NodeId(1), NodeId(2), NodeId(3), NodeId(4)];
        assert!(!is_quorum(&voters, |id| id.0 <= 2));
        assert!(is_quorum(&voters, |id| id.0 <= 3));
        let five = [NodeId(1), NodeId(2), NodeId(3), NodeId(4), NodeId(5)];
        assert!(is_quorum(&five, |id| id.0 % 2 == 1));
        assert!(!is_quorum(&five, |id| id.0 % 2 == 0));
    }
}
