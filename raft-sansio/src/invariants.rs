//! [`InvariantViolation`] and [`Node::check_invariants`]: the safety rules
//! one node can check about itself, each named after the rule of the Raft
//! paper (Figure 3) or the thesis it upholds. Cross-node rules (Election
//! Safety, Log Matching across logs, Leader Completeness, State Machine
//! Safety) are checked by the simulator and the test harness.

use core::fmt;

use raft_sansio_proto::{Index, NodeId, Term};

use crate::node::{Node, RoleState};

/// A broken invariant: always a bug in the core (or a host that broke its
/// contract, e.g. lost an acknowledged Persist).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvariantViolation {
    /// The current term decreased (Raft §5.1: terms only grow).
    TermDecreased {
        /// Before the step.
        from: Term,
        /// After.
        to: Term,
    },
    /// The vote changed within one term (Election Safety rests on one vote
    /// per term).
    VoteChangedWithinTerm {
        /// The term.
        term: Term,
        /// The vote before the step.
        from: Option<NodeId>,
        /// After.
        to: Option<NodeId>,
    },
    /// The commit index decreased within one incarnation.
    CommitDecreased {
        /// Before the step.
        from: Index,
        /// After.
        to: Index,
    },
    /// The commit index is beyond the last entry.
    CommitBeyondLastIndex {
        /// The commit index.
        commit: Index,
        /// The last index.
        last: Index,
    },
    /// Entries were handed to the state machine beyond the commit index
    /// (State Machine Safety).
    AppliedBeyondCommit {
        /// The last index emitted in `Apply`.
        applied: Index,
        /// The commit index.
        commit: Index,
    },
    /// Entries were handed to the state machine before they were durable
    /// locally (etcd #14370).
    AppliedBeyondPersisted {
        /// The last index emitted in `Apply`.
        applied: Index,
        /// The persisted index.
        persisted: Index,
    },
    /// The persisted index is beyond the log.
    PersistedBeyondLastIndex {
        /// The persisted index.
        persisted: Index,
        /// The last index.
        last: Index,
    },
    /// The log has a gap or a decreasing term (Log Matching's structure).
    LogMatching {
        /// What is wrong.
        what: &'static str,
    },
    /// A leader truncated its own log (Leader Append-Only).
    LeaderAppendOnly,
    /// A leader committed an entry of an earlier term by counting
    /// (Raft §5.4.2, Figure 8).
    CommitOfOldTermByCounting {
        /// The commit index.
        commit: Index,
        /// The term of the entry there.
        entry_term: Term,
        /// The leader's term.
        term: Term,
    },
    /// A leader that did not vote for itself in its term.
    LeaderWithoutOwnVote {
        /// The term.
        term: Term,
    },
    /// A follower's progress claims a match beyond the leader's log, or a
    /// next index not above the match.
    ProgressOutOfBounds {
        /// The follower.
        peer: NodeId,
    },
}

impl fmt::Display for InvariantViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl core::error::Error for InvariantViolation {}

impl Node {
    /// Checks every invariant this node can check about itself, in O(peers)
    /// (no walk over the log). Called through `debug_assert!` at the end of
    /// every step; tests, the simulator and the fuzz targets call it after
    /// every step in release builds too.
    ///
    /// # Errors
    /// The first broken invariant.
    pub fn check_invariants(&self) -> Result<(), InvariantViolation> {
        let shadow = self.shadow;
        if self.term < shadow.term {
            return Err(InvariantViolation::TermDecreased { from: shadow.term, to: self.term });
        }
        if self.term == shadow.term && shadow.vote.is_some() && self.vote != shadow.vote {
            return Err(InvariantViolation::VoteChangedWithinTerm {
                term: self.term,
                from: shadow.vote,
                to: self.vote,
            });
        }
        let commit = self.log.committed();
        if commit < shadow.commit {
            return Err(InvariantViolation::CommitDecreased { from: shadow.commit, to: commit });
        }
        let last = self.log.last_index();
        if commit > last {
            return Err(InvariantViolation::CommitBeyondLastIndex { commit, last });
        }
        let applied = self.log.apply_emitted();
        if applied > commit {
            return Err(InvariantViolation::AppliedBeyondCommit { applied, commit });
        }
        let persisted = self.log.persisted();
        if applied > persisted {
            return Err(InvariantViolation::AppliedBeyondPersisted { applied, persisted });
        }
        if persisted > last {
            return Err(InvariantViolation::PersistedBeyondLastIndex { persisted, last });
        }
        self.log.check(false).map_err(|what| InvariantViolation::LogMatching { what })?;
        if self.leader_truncated {
            return Err(InvariantViolation::LeaderAppendOnly);
        }
        if let RoleState::Leader(ls) = &self.role {
            if self.vote != Some(self.config.id) {
                return Err(InvariantViolation::LeaderWithoutOwnVote { term: self.term });
            }
            if commit > ls.commit_at_start {
                if let Some(entry_term) = self.log.term_at(commit) {
                    if entry_term != self.term {
                        return Err(InvariantViolation::CommitOfOldTermByCounting {
                            commit,
                            entry_term,
                            term: self.term,
                        });
                    }
                }
            }
            for (peer, pr) in &ls.progress {
                if pr.match_index > last || pr.next_index <= pr.match_index {
                    return Err(InvariantViolation::ProgressOutOfBounds { peer: *peer });
                }
            }
        }
        Ok(())
    }

    /// [`Node::check_invariants`] plus a walk over the whole in-memory log
    /// (gap-free, non-decreasing terms). O(log length): for tests.
    ///
    /// # Errors
    /// The first broken invariant.
    pub fn check_invariants_full(&self) -> Result<(), InvariantViolation> {
        self.check_invariants()?;
        self.log.check(true).map_err(|what| InvariantViolation::LogMatching { what })
    }
}
