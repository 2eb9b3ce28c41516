//! Cross-node safety checks, run incrementally after every event: no
//! full-log walk per event.

use std::collections::BTreeMap;

use raft_sansio::{Entry, EntryKind, Index, Node, NodeId, Role, Term};

use crate::disk::Disk;

/// A broken safety property, with what broke.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Violation(pub String);

/// A compact identity of an entry's content.
pub(crate) fn entry_digest(e: &Entry) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    let kind = match e.kind {
        EntryKind::Normal => 0u8,
        EntryKind::Noop => 1,
        _ => 2,
    };
    for b in e.term.0.to_le_bytes().iter().chain(&[kind]).chain(e.payload.iter()) {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// What the checker remembers between events.
#[derive(Debug, Default)]
pub(crate) struct SafetyChecker {
    /// The leader of each term (Election Safety).
    leaders: BTreeMap<Term, NodeId>,
    /// Every committed entry seen anywhere: index -> (term, digest).
    committed: BTreeMap<Index, (Term, u64)>,
    /// The highest committed entry seen anywhere.
    pub(crate) highest_committed: (Index, Term),
    /// For each term, the highest committed entry a node reported while in
    /// that term (an upper bound of the term the commit happened in). Leader
    /// Completeness (Raft §5.4) binds leaders of *later* terms only: a late
    /// leader of an older term need not hold entries committed since.
    committed_by_term: BTreeMap<Term, (Index, Term)>,
    /// How far each node's commit index was checked (per incarnation).
    checked_commit: BTreeMap<NodeId, Index>,
    /// What was applied at each index, anywhere.
    applied: BTreeMap<Index, u64>,
    /// Leader elections seen (BecameLeader).
    pub(crate) elections: u64,
}

impl SafetyChecker {
    /// Forgets a node's per-incarnation progress (after a crash).
    pub(crate) fn on_crash(&mut self, id: NodeId) {
        self.checked_commit.remove(&id);
    }

    /// Checks a node after it stepped. `voters` lists the nodes whose disks
    /// count toward the durability quorum.
    pub(crate) fn after_step(&mut self, node: &Node, disks: &[(NodeId, &Disk)]) -> Result<(), Violation> {
        let id = node.id();
        node.check_invariants().map_err(|v| Violation(format!("node {}: invariant broken: {v:?}", id.0)))?;
        if node.role() == Role::Leader {
            let term = node.term();
            match self.leaders.get(&term) {
                Some(&other) if other != id => {
                    return Err(Violation(format!(
                        "Election Safety: two leaders in term {}: {} and {}",
                        term.0, other.0, id.0
                    )));
                }
                Some(_) => {}
                None => {
                    self.leaders.insert(term, id);
                    self.elections += 1;
                    // Leader Completeness: the new leader holds every entry
                    // committed in an earlier term.
                    let (index, cterm) =
                        self.committed_by_term.range(..term).map(|(_, c)| *c).max().unwrap_or((Index(0), Term(0)));
                    if index > Index(0) && index >= node.first_index() && node.term_at(index) != Some(cterm) {
                        return Err(Violation(format!(
                            "Leader Completeness: leader {} of term {} lacks committed entry {}/{}",
                            id.0, term.0, cterm.0, index.0
                        )));
                    }
                }
            }
            let conf = node.membership();
            let voter = conf.voters.contains(&id)
                || conf.witnesses.contains(&id)
                || conf.voters_outgoing.contains(&id)
                || conf.witnesses_outgoing.contains(&id);
            if !voter {
                return Err(Violation(format!("leader {} is not a voter of its configuration", id.0)));
            }
        }
        // Committed prefixes agree; each new commit is durable on a quorum.
        let commit = node.commit_index();
        let from = self.checked_commit.get(&id).copied().unwrap_or(Index(0)).max(node.first_index().prev());
        if commit > from {
            let mut i = from.next();
            while i <= commit {
                if let Some(e) = node.entry(i) {
                    let rec = (e.term, entry_digest(e));
                    match self.committed.get(&i) {
                        Some(r) if *r != rec => {
                            return Err(Violation(format!(
                                "State Machine Safety: committed entry {} differs on node {} (term {} vs {})",
                                i.0, id.0, e.term.0, r.0 .0
                            )));
                        }
                        Some(_) => {}
                        None => {
                            self.committed.insert(i, rec);
                        }
                    }
                }
                i = i.next();
            }
            self.checked_commit.insert(id, commit);
            if let Some(term) = node.term_at(commit) {
                if (commit, term) > self.highest_committed {
                    self.highest_committed = (commit, term);
                }
                let seen = self.committed_by_term.entry(node.term()).or_insert((Index(0), Term(0)));
                if (commit, term) > *seen {
                    *seen = (commit, term);
                }
                // Durability: the committed entry is fsync'd on a majority
                // of the voters (a prefix argument covers the entries
                // before it: disks hold Log-Matching prefixes).
                let conf = node.membership();
                let mut voters: Vec<NodeId> = conf.voters.iter().chain(conf.witnesses.iter()).copied().collect();
                voters.sort_unstable();
                voters.dedup();
                if !voters.is_empty() {
                    let holding = voters
                        .iter()
                        .filter(|v| disks.iter().any(|(d, disk)| d == *v && disk.synced.term_at(commit) == Some(term)))
                        .count();
                    if holding <= voters.len() / 2 {
                        return Err(Violation(format!(
                            "durability: node {} reports {}/{} committed but only {} of {} voters have it fsync'd",
                            id.0,
                            term.0,
                            commit.0,
                            holding,
                            voters.len()
                        )));
                    }
                }
            }
        }
        Ok(())
    }

    /// Checks entries a node applied: they agree with what any node applied
    /// at the same index, and with the committed log.
    pub(crate) fn on_apply(&mut self, id: NodeId, entries: &[Entry]) -> Result<(), Violation> {
        for e in entries {
            let d = entry_digest(e);
            if let Some(prev) = self.applied.insert(e.index, d) {
                if prev != d {
                    return Err(Violation(format!(
                        "State Machine Safety: node {} applied a different entry at {}",
                        id.0, e.index.0
                    )));
                }
            }
            if let Some((t, c)) = self.committed.get(&e.index) {
                if *t != e.term || *c != d {
                    return Err(Violation(format!(
                        "node {} applied entry {} that differs from the committed one",
                        id.0, e.index.0
                    )));
                }
            }
        }
        Ok(())
    }
}
