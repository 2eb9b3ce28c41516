//! Cross-node safety checks, run incrementally after every event: no
//! full-log walk per event.
//!
//! Membership, compaction and witnesses change what "the" log and "the"
//! quorum mean, so each check says which it uses:
//! - committed entries are compared where a node still holds them (entries
//!   below a node's first index were compacted away or replaced by a
//!   snapshot), and an entry whose payload a witness dropped
//!   (`payload_elided`) is unknown content: only its term is compared;
//! - each node's configuration in effect must be the one its log says (the
//!   last configuration entry, else the snapshot's), checked whenever it
//!   changes;
//! - durability is checked when an index is first committed anywhere (by
//!   the leader): a majority of each half of the committing leader's
//!   configuration has it fsync'd, and no quorum of any configuration in
//!   effect at a newly committed index can be formed without a copy.

use std::collections::BTreeMap;

use raft_sansio::proto::codec::decode_conf_state;
use raft_sansio::{ConfState, Entry, EntryKind, Index, Node, NodeId, Role, Term};

use crate::disk::Disk;

/// A broken safety property, with what broke.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Violation(pub String);

/// A compact identity of an entry's content; `None` when a witness dropped
/// its payload (the content is unknown, not different).
pub(crate) fn entry_digest(e: &Entry) -> Option<u64> {
    if e.payload_elided {
        return None;
    }
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
    Some(h)
}

/// The same hash over arbitrary bytes (snapshots).
pub(crate) fn bytes_digest(data: &[u8]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for b in data {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The voting members of each half: (incoming, outgoing), sorted.
pub(crate) fn voting_halves(conf: &ConfState) -> (Vec<NodeId>, Vec<NodeId>) {
    let merge = |a: &[NodeId], b: &[NodeId]| {
        let mut v: Vec<NodeId> = a.iter().chain(b).copied().collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    (merge(&conf.voters, &conf.witnesses), merge(&conf.voters_outgoing, &conf.witnesses_outgoing))
}

/// Whether `id` votes in either half of `conf`.
pub(crate) fn is_voting(conf: &ConfState, id: NodeId) -> bool {
    [&conf.voters, &conf.witnesses, &conf.voters_outgoing, &conf.witnesses_outgoing].iter().any(|l| l.contains(&id))
}

/// Whether `id` is a witness of `conf` and a data voter in no half: it
/// keeps no state machine.
pub(crate) fn is_witness(conf: &ConfState, id: NodeId) -> bool {
    (conf.witnesses.contains(&id) || conf.witnesses_outgoing.contains(&id))
        && !conf.voters.contains(&id)
        && !conf.voters_outgoing.contains(&id)
}

/// A node's configuration as last checked, and where it came from.
#[derive(Debug)]
struct NodeConf {
    conf: ConfState,
    /// The index of the configuration entry that set it (or the log's base).
    index: Index,
    /// That entry's term, if it is an entry of the log (not the base).
    term: Option<Term>,
}

/// What the checker remembers between events.
#[derive(Debug, Default)]
pub(crate) struct SafetyChecker {
    /// The leader of each term (Election Safety).
    leaders: BTreeMap<Term, NodeId>,
    /// Every committed entry seen anywhere: index -> (term, digest if the
    /// payload was seen).
    committed: BTreeMap<Index, (Term, Option<u64>)>,
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
    /// The committed configurations by the index of their entry (the
    /// bootstrap configuration at 0).
    confs: BTreeMap<Index, ConfState>,
    /// Configuration entries committed since the world last looked.
    pub(crate) new_confs: Vec<(Index, ConfState)>,
    /// Each node's configuration as last checked.
    node_confs: BTreeMap<NodeId, NodeConf>,
    /// The digest of every snapshot's bytes taken or installed, by index:
    /// replicas that applied the same entries have the same state.
    snapshots: BTreeMap<Index, (NodeId, u64)>,
}

impl SafetyChecker {
    /// A checker for a cluster bootstrapped with `voters`.
    pub(crate) fn new(voters: &[NodeId]) -> SafetyChecker {
        let mut c = SafetyChecker::default();
        c.confs.insert(Index(0), ConfState::with_voters(voters.iter().copied()));
        c
    }

    /// Forgets a node's per-incarnation progress (after a crash).
    pub(crate) fn on_crash(&mut self, id: NodeId) {
        self.checked_commit.remove(&id);
        self.node_confs.remove(&id);
    }

    /// The latest committed configuration.
    pub(crate) fn committed_conf(&self) -> &ConfState {
        self.confs.last_key_value().map(|(_, c)| c).expect("the bootstrap configuration")
    }

    /// Checks a node after it stepped. `disks` are the disks of every node
    /// (a lost one as it was when lost); `base_conf` is the configuration
    /// of the latest snapshot the node's host was asked to store (the
    /// base of its log).
    pub(crate) fn after_step(
        &mut self,
        node: &Node,
        disks: &[(NodeId, &Disk)],
        base_conf: &ConfState,
    ) -> Result<(), Violation> {
        let id = node.id();
        node.check_invariants().map_err(|v| Violation(format!("node {}: invariant broken: {v:?}", id.0)))?;
        self.check_configuration(node, base_conf)?;
        if node.role() == Role::Leader {
            self.check_leader(node)?;
        }
        // Committed prefixes agree; each new commit is durable on a quorum.
        let commit = node.commit_index();
        let from = self.checked_commit.get(&id).copied().unwrap_or(Index(0)).max(node.first_index().prev());
        if commit > from {
            let mut i = from.next();
            while i <= commit {
                if let Some(e) = node.entry(i) {
                    self.record_committed(id, e)?;
                }
                i = i.next();
            }
            self.checked_commit.insert(id, commit);
            if let Some(term) = node.term_at(commit) {
                let previous = self.highest_committed.0;
                if (commit, term) > self.highest_committed {
                    self.highest_committed = (commit, term);
                }
                let seen = self.committed_by_term.entry(node.term()).or_insert((Index(0), Term(0)));
                if (commit, term) > *seen {
                    *seen = (commit, term);
                }
                if commit > previous {
                    self.check_durability(node, disks, previous, commit, term)?;
                }
            }
        }
        Ok(())
    }

    /// The configuration in effect is the one the log says: its last
    /// configuration entry, else the base's (thesis §4.1: a configuration
    /// takes effect when its entry is appended, and after a restart it is
    /// the last one in the log, else the snapshot's).
    fn check_configuration(&mut self, node: &Node, base_conf: &ConfState) -> Result<(), Violation> {
        let id = node.id();
        let conf = node.membership();
        if let Some(known) = self.node_confs.get(&id) {
            let moved = known.term.is_some() && node.term_at(known.index) != known.term;
            if known.conf == *conf && !moved {
                return Ok(());
            }
        }
        let mut found = None;
        let (first, mut i) = (node.first_index(), node.last_index());
        while i >= first && i > Index(0) {
            if let Some(e) = node.entry(i) {
                if e.kind == EntryKind::ConfChange {
                    if e.payload_elided {
                        return Err(Violation(format!(
                            "node {}: configuration entry {} lost its payload (configuration entries keep theirs)",
                            id.0, i.0
                        )));
                    }
                    let c = decode_conf_state(&e.payload).map_err(|err| {
                        Violation(format!("node {}: configuration entry {} does not decode: {err:?}", id.0, i.0))
                    })?;
                    found = Some(NodeConf { conf: c, index: i, term: Some(e.term) });
                    break;
                }
            }
            i = i.prev();
        }
        let expected = found.unwrap_or_else(|| NodeConf { conf: base_conf.clone(), index: first.prev(), term: None });
        if expected.conf != *conf {
            return Err(Violation(format!(
                "configuration: node {} acts in {:?}, but the last configuration of its log (at {}) is {:?}",
                id.0, conf, expected.index.0, expected.conf
            )));
        }
        self.node_confs.insert(id, expected);
        Ok(())
    }

    fn check_leader(&mut self, node: &Node) -> Result<(), Violation> {
        let (id, term) = (node.id(), node.term());
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
        // Every leader votes in its configuration, except a leader that
        // removed or demoted itself: it leads until that configuration
        // commits (thesis §4.2.2), then steps down.
        let conf = node.membership();
        if !is_voting(conf, id) {
            let set_at = self.node_confs.get(&id).map_or(Index(0), |c| c.index);
            if set_at <= node.commit_index() {
                return Err(Violation(format!(
                    "leader {} of term {} is not a voter of its configuration {:?} (committed at {})",
                    id.0, term.0, conf, set_at.0
                )));
            }
        }
        Ok(())
    }

    /// Records a committed entry, or checks it against the record.
    fn record_committed(&mut self, id: NodeId, e: &Entry) -> Result<(), Violation> {
        let i = e.index;
        let digest = entry_digest(e);
        match self.committed.get_mut(&i) {
            Some((term, known)) => {
                let differs = *term != e.term || matches!((*known, digest), (Some(a), Some(b)) if a != b);
                if differs {
                    return Err(Violation(format!(
                        "State Machine Safety: committed entry {} differs on node {} (term {} vs {})",
                        i.0, id.0, e.term.0, term.0
                    )));
                }
                if known.is_none() {
                    *known = digest;
                }
            }
            None => {
                self.committed.insert(i, (e.term, digest));
                if e.kind == EntryKind::ConfChange && !e.payload_elided {
                    if let Ok(conf) = decode_conf_state(&e.payload) {
                        self.confs.insert(i, conf.clone());
                        self.new_confs.push((i, conf));
                    }
                }
            }
        }
        Ok(())
    }

    /// The entry `commit`/`term` was just committed for the first time
    /// anywhere (by `node`, the leader), and so was everything in
    /// `(previous, commit]`.
    fn check_durability(
        &self,
        node: &Node,
        disks: &[(NodeId, &Disk)],
        previous: Index,
        commit: Index,
        term: Term,
    ) -> Result<(), Violation> {
        // Disks hold Log-Matching prefixes: a disk holding `commit` holds
        // every index before it, so one set serves the whole range.
        let holds = |v: &NodeId| disks.iter().any(|(d, disk)| d == v && disk.synced.holds(commit, term));
        // The leader counted a majority of each half of its configuration,
        // and counts an ack only once the follower's Persist is durable.
        let (incoming, outgoing) = voting_halves(node.membership());
        for half in [&incoming, &outgoing] {
            let holding = half.iter().filter(|v| holds(v)).count();
            if !half.is_empty() && holding <= half.len() / 2 {
                return Err(Violation(format!(
                    "durability: node {} committed {}/{} but only {} of the voters {:?} of its configuration have it fsync'd",
                    node.id().0,
                    term.0,
                    commit.0,
                    holding,
                    half.iter().map(|v| v.0).collect::<Vec<_>>()
                )));
            }
        }
        // Every configuration in effect at a newly committed index: none of
        // its quorums (a majority of each half) may lack a copy, or a
        // leader elected by one could miss the entry.
        let start = previous.next();
        let later = if start < commit { Some(self.confs.range(start.next()..=commit)) } else { None };
        let active = self.confs.range(..=start).next_back().into_iter().chain(later.into_iter().flatten());
        for (at, conf) in active {
            let (incoming, outgoing) = voting_halves(conf);
            let without = |half: &[NodeId]| half.iter().filter(|v| !holds(v)).count() > half.len() / 2;
            if without(&incoming) && (outgoing.is_empty() || without(&outgoing)) {
                return Err(Violation(format!(
                    "durability: {}/{} committed, but a quorum of the configuration {:?} (in effect from {}) lacks it",
                    term.0, commit.0, conf, at.0
                )));
            }
        }
        Ok(())
    }

    /// Checks entries a node applied: they agree with what any node applied
    /// at the same index, and with the committed log.
    pub(crate) fn on_apply(&mut self, id: NodeId, entries: &[Entry]) -> Result<(), Violation> {
        for e in entries {
            let Some(d) = entry_digest(e) else { continue };
            if let Some(prev) = self.applied.insert(e.index, d) {
                if prev != d {
                    return Err(Violation(format!(
                        "State Machine Safety: node {} applied a different entry at {}",
                        id.0, e.index.0
                    )));
                }
            }
            if let Some((t, c)) = self.committed.get(&e.index) {
                if *t != e.term || c.is_some_and(|c| c != d) {
                    return Err(Violation(format!(
                        "node {} applied entry {} that differs from the committed one",
                        id.0, e.index.0
                    )));
                }
            }
        }
        Ok(())
    }

    /// A node's host took or installed a snapshot of its state machine at
    /// `index`: every replica's state after the same entries is the same
    /// (the KV snapshot encoding is canonical).
    pub(crate) fn on_snapshot(&mut self, id: NodeId, index: Index, data: &[u8]) -> Result<(), Violation> {
        let d = bytes_digest(data);
        match self.snapshots.get(&index) {
            Some(&(other, known)) if known != d => Err(Violation(format!(
                "State Machine Safety: the state at {} differs between node {} and node {}",
                index.0, other.0, id.0
            ))),
            Some(_) => Ok(()),
            None => {
                self.snapshots.insert(index, (id, d));
                Ok(())
            }
        }
    }
}
