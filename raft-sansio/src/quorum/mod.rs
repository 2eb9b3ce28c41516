//! Quorum arithmetic: which index a set of acknowledgements commits, and
//! whether a set of votes wins an election, for a simple majority and for a
//! joint configuration (Raft thesis §4.3: both majorities must agree).
//!
//! Kept apart from the node so that the off-by-one bugs that hide here can be
//! tested exhaustively against a brute-force count.

pub(crate) mod joint;
pub(crate) mod majority;

/// The outcome of counting votes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum VoteResult {
    /// Neither won nor lost yet: some voters have not answered.
    Pending,
    /// Enough voters refused that a win is impossible.
    Lost,
    /// A quorum granted.
    Won,
}
