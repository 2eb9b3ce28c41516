//! The in-memory Raft log, from the last snapshot (or compaction point) on.
//!
//! ```text
//!   snapshot.index   first_index          persisted  committed      last_index
//!        |               |                    |          |               |
//!   .....#[=============================================================]
//!   compacted           entries (VecDeque, consecutive indexes)
//! ```
//!
//! Invariants (checked by `Node::check_invariants`):
//! - `entries[i].index == snapshot.index + 1 + i` (no gap);
//! - terms never decrease along the log, and no entry's term is below the
//!   snapshot's;
//! - `apply_emitted <= min(committed, persisted)` and `committed <= last_index`.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use raft_sansio_proto::{Entry, EntryId, Index, Term};

use crate::entries::Entries;

/// The in-memory log.
#[derive(Clone, Debug)]
pub(crate) struct RaftLog {
    /// Entries after `snapshot`, consecutive.
    entries: VecDeque<Entry>,
    /// The last entry compacted away (or covered by the snapshot): the
    /// `prev` of `entries[0]`. `EntryId::ZERO` for a log that was never
    /// compacted.
    snapshot: EntryId,
    /// Invariant: committed <= last_index; never decreases within one
    /// incarnation.
    committed: Index,
    /// The highest index whose entry, and every one before it, is durable
    /// and equal to the in-memory entry. Truncation lowers it at once; a
    /// `Persisted` raises it.
    persisted: Index,
    /// The last index handed to the host in an `Apply` output.
    /// Invariant: apply_emitted <= min(committed, persisted).
    apply_emitted: Index,
    /// The host's applied index (`Input::Applied`, or `RestoredState`).
    /// Invariant: applied <= apply_emitted.
    applied: Index,
}

impl RaftLog {
    /// A log holding `entries` after `snapshot`, all of them durable.
    /// The caller (restore) has validated that `entries` are consecutive
    /// from `snapshot.index + 1` with non-decreasing terms.
    pub(crate) fn restored(snapshot: EntryId, entries: VecDeque<Entry>, committed: Index, applied: Index) -> RaftLog {
        let last = entries.back().map_or(snapshot.index, |e| e.index);
        debug_assert!(committed <= last && applied <= committed);
        RaftLog { entries, snapshot, committed, persisted: last, apply_emitted: applied, applied }
    }

    #[inline]
    pub(crate) fn snapshot_id(&self) -> EntryId {
        self.snapshot
    }

    #[inline]
    pub(crate) fn first_index(&self) -> Index {
        self.snapshot.index.next()
    }

    #[inline]
    pub(crate) fn last_index(&self) -> Index {
        self.entries.back().map_or(self.snapshot.index, |e| e.index)
    }

    #[inline]
    pub(crate) fn last_id(&self) -> EntryId {
        self.entries.back().map_or(self.snapshot, Entry::id)
    }

    #[inline]
    pub(crate) fn last_term(&self) -> Term {
        self.last_id().term
    }

    #[inline]
    pub(crate) fn committed(&self) -> Index {
        self.committed
    }

    #[inline]
    pub(crate) fn persisted(&self) -> Index {
        self.persisted
    }

    #[inline]
    pub(crate) fn apply_emitted(&self) -> Index {
        self.apply_emitted
    }

    #[inline]
    pub(crate) fn applied(&self) -> Index {
        self.applied
    }

    /// The position of `index` in `entries`, if it is there.
    #[inline]
    fn position(&self, index: Index) -> Option<usize> {
        let offset = index.0.checked_sub(self.first_index().0)?;
        let offset = usize::try_from(offset).ok()?;
        (offset < self.entries.len()).then_some(offset)
    }

    /// The term of the entry at `index`: known for the snapshot's last entry
    /// and every entry after it; `None` if compacted or beyond the end.
    #[inline]
    pub(crate) fn term_at(&self, index: Index) -> Option<Term> {
        if index == self.snapshot.index {
            return Some(self.snapshot.term);
        }
        self.position(index).map(|p| self.entries[p].term)
    }

    /// Whether the log holds `id` (Log Matching: then it agrees with every
    /// log holding `id` up to it).
    #[inline]
    pub(crate) fn matches(&self, id: EntryId) -> bool {
        self.term_at(id.index) == Some(id.term)
    }

    #[inline]
    pub(crate) fn entry(&self, index: Index) -> Option<&Entry> {
        self.position(index).map(|p| &self.entries[p])
    }

    /// Clones of the entries from `from` on that fit in `max_bytes` of
    /// payload (at least one when there is one): the entries of one append.
    /// Sized exactly, without iterator adaptors: this is the leader's hot
    /// path.
    pub(crate) fn clone_for_send(&self, from: Index, max_bytes: u64) -> Vec<Entry> {
        let Some(start) = self.position(from) else { return Vec::new() };
        let available = self.entries.len() - start;
        let mut count = 1;
        let mut bytes = self.entries[start].payload.len() as u64;
        while count < available {
            bytes += self.entries[start + count].payload.len() as u64;
            if bytes > max_bytes {
                break;
            }
            count += 1;
        }
        let mut out = Vec::with_capacity(count);
        for i in start..start + count {
            out.push(self.entries[i].clone());
        }
        out
    }

    /// The payload bytes of the entries of `term` in `(after, upto]`.
    pub(crate) fn payload_bytes_of_term(&self, after: Index, upto: Index, term: Term) -> u64 {
        let Some(start) = self.position(after.next()) else { return 0 };
        let end = self.position(upto).map_or(self.entries.len(), |p| p + 1);
        let mut bytes = 0;
        for i in start..end {
            let e = &self.entries[i];
            if e.term == term {
                bytes += e.payload.len() as u64;
            }
        }
        bytes
    }

    /// The first index whose term is at least `term`, searching up to and
    /// including `up_to` (terms never decrease along the log, so this is a
    /// binary search). Used for the conflict hint a follower returns.
    pub(crate) fn first_index_of_term(&self, term: Term, up_to: Index) -> Index {
        let end = self.position(up_to).map_or(self.entries.len(), |p| p + 1);
        let p = self.entries.partition_point(|e| e.term < term).min(end);
        self.first_index().plus(p as u64)
    }

    /// The last index at or below `up_to` whose term is at most `term`, or
    /// the snapshot index if none is left in memory. Used by the leader to
    /// turn a follower's conflict hint into the next index to probe.
    pub(crate) fn last_index_with_term_at_most(&self, term: Term, up_to: Index) -> Index {
        let end = match self.position(up_to) {
            Some(p) => p + 1,
            None if up_to >= self.last_index() => self.entries.len(),
            None => 0,
        };
        let p = self.entries.partition_point(|e| e.term <= term).min(end);
        if p == 0 {
            self.snapshot.index
        } else {
            self.first_index().plus(p as u64 - 1)
        }
    }

    /// Appends entries that continue the log. The caller guarantees
    /// `entries[0].index == last_index + 1` and non-decreasing terms.
    pub(crate) fn append(&mut self, entries: &[Entry]) {
        for e in entries {
            debug_assert_eq!(e.index, self.last_index().next(), "append leaves a gap");
            debug_assert!(e.term >= self.last_term(), "append decreases the term");
            self.entries.push_back(e.clone());
        }
    }

    /// Appends one entry (the leader's path for proposals).
    pub(crate) fn push(&mut self, entry: Entry) {
        debug_assert_eq!(entry.index, self.last_index().next(), "append leaves a gap");
        debug_assert!(entry.term >= self.last_term(), "append decreases the term");
        self.entries.push_back(entry);
    }

    /// Drops every entry at or after `from`, and lowers `persisted` below
    /// it. The caller guarantees `from > committed` (a follower never
    /// truncates committed entries) and `from >= first_index`.
    pub(crate) fn truncate_from(&mut self, from: Index) {
        debug_assert!(from > self.committed, "truncating committed entries");
        if let Some(p) = self.position(from) {
            self.entries.truncate(p);
        }
        self.persisted = self.persisted.min(from.prev());
    }

    pub(crate) fn set_persisted(&mut self, index: Index) {
        self.persisted = index.min(self.last_index());
    }

    /// Raises the commit index (never lowers it).
    pub(crate) fn commit_to(&mut self, index: Index) {
        debug_assert!(index <= self.last_index(), "commit beyond the log");
        self.committed = self.committed.max(index);
    }

    /// The next batch of entries to apply: committed, durable, not yet
    /// emitted, within `max_bytes` (at least one entry). Marks them emitted.
    pub(crate) fn next_apply_batch(&mut self, max_bytes: u64) -> Option<Entries> {
        let upto = self.committed.min(self.persisted);
        if self.apply_emitted >= upto {
            return None;
        }
        let from = self.apply_emitted.next();
        let start = self.position(from)?;
        // `upto <= last_index`: every index up to it is in memory.
        let available = (upto.0 - self.apply_emitted.0) as usize;
        debug_assert!(start + available <= self.entries.len());
        // At least one entry, then as many as fit in `max_bytes`.
        let mut count = 1;
        let mut bytes = self.entries[start].payload.len() as u64;
        while count < available {
            bytes += self.entries[start + count].payload.len() as u64;
            if bytes > max_bytes {
                break;
            }
            count += 1;
        }
        let batch: Entries = if count == 1 {
            // The steady state: one entry, inline, no allocation.
            let mut one = Entries::new();
            one.push(self.entries[start].clone());
            one
        } else {
            let mut batch = Entries::with_capacity(count);
            batch.extend(self.entries.range(start..start + count).cloned());
            batch
        };
        self.apply_emitted = from.plus(count as u64 - 1);
        Some(batch)
    }

    /// A witness applies nothing: every committed, durable entry counts as
    /// applied at once (there is no state machine to hand it to).
    pub(crate) fn skip_apply(&mut self) {
        let upto = self.committed.min(self.persisted);
        self.apply_emitted = self.apply_emitted.max(upto);
        self.applied = self.applied.max(upto);
    }

    /// Drops the payloads of the normal entries in `[from, to]`, keeping
    /// their metadata (a witness, once every data voter holds them).
    /// Configuration entries keep theirs: they are the membership.
    pub(crate) fn elide_payloads(&mut self, from: Index, to: Index) {
        let from = from.max(self.first_index());
        let Some(start) = self.position(from) else { return };
        for e in self.entries.range_mut(start..) {
            if e.index > to {
                break;
            }
            if e.kind == raft_sansio_proto::EntryKind::Normal && !e.payload_elided {
                e.payload = bytes::Bytes::new();
                e.payload_elided = true;
            }
        }
    }

    /// The last entry at or after `from` whose payload was dropped (a
    /// witness's log), if any.
    pub(crate) fn last_elided_from(&self, from: Index) -> Option<Index> {
        self.entries.iter().rev().take_while(|e| e.index >= from).find(|e| e.payload_elided).map(|e| e.index)
    }

    /// The leading entries of `entries` whose payloads are present: a
    /// witness leader sends a data follower nothing it cannot use.
    pub(crate) fn keep_until_elided(entries: &mut Vec<Entry>) {
        if let Some(p) = entries.iter().position(|e| e.payload_elided) {
            entries.truncate(p);
        }
    }

    /// The host applied up to `index` (validated by the caller).
    pub(crate) fn set_applied(&mut self, index: Index) {
        debug_assert!(index <= self.apply_emitted);
        self.applied = self.applied.max(index);
    }

    /// Drops entries up to and including `index` (validated by the caller:
    /// `snapshot.index < index <= applied`).
    pub(crate) fn compact_to(&mut self, index: Index) {
        let Some(term) = self.term_at(index) else { return };
        let Some(p) = self.position(index) else { return };
        self.entries.drain(..=p);
        self.snapshot = EntryId { term, index };
    }

    /// Replaces the whole log by a snapshot ending at `last` (whose entry
    /// this log does not hold). Nothing in memory is durable above the new
    /// base until the install's Persist is.
    pub(crate) fn reset_to_snapshot(&mut self, last: EntryId) {
        self.entries.clear();
        self.snapshot = last;
        self.persisted = self.persisted.min(last.index.prev());
    }

    /// The host was handed the snapshot ending at `index` to restore: every
    /// entry up to it counts as emitted for applying.
    pub(crate) fn snapshot_applied(&mut self, index: Index) {
        self.apply_emitted = self.apply_emitted.max(index);
    }

    /// Checks the structural invariants in O(1) (first and last entry only);
    /// `full` walks the whole log.
    pub(crate) fn check(&self, full: bool) -> Result<(), &'static str> {
        if let (Some(first), Some(last)) = (self.entries.front(), self.entries.back()) {
            if first.index != self.first_index() {
                return Err("first entry does not follow the snapshot");
            }
            if last.index.0 - first.index.0 + 1 != self.entries.len() as u64 {
                return Err("entries are not consecutive");
            }
            if first.term < self.snapshot.term || last.term < first.term {
                return Err("terms decrease");
            }
        }
        if full {
            let mut prev = self.snapshot;
            for e in &self.entries {
                if e.index != prev.index.next() {
                    return Err("entries are not consecutive");
                }
                if e.term < prev.term {
                    return Err("terms decrease");
                }
                prev = e.id();
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use bytes::Bytes;

    /// A log after `snapshot` (term, index) with entries of these terms and
    /// payload lengths, all durable; commit and applied as given.
    fn log_of(snapshot: (u64, u64), terms: &[u64], lens: &[usize], commit: u64) -> RaftLog {
        let entries: VecDeque<Entry> = terms
            .iter()
            .zip(lens)
            .enumerate()
            .map(|(i, (&t, &len))| {
                Entry::normal(Term(t), Index(snapshot.1 + 1 + i as u64), Bytes::from(vec![7u8; len]))
            })
            .collect();
        RaftLog::restored(EntryId::new(Term(snapshot.0), Index(snapshot.1)), entries, Index(commit), Index(snapshot.1))
    }

    #[test]
    fn witness_elision_drops_normal_payloads_in_range_only() {
        let mut log = log_of((0, 0), &[1, 1, 1, 1, 1], &[3, 3, 3, 3, 3], 5);
        // Entry 3 is a configuration entry: it keeps its payload.
        let conf = log.entries[2].clone();
        log.entries[2] = Entry { kind: raft_sansio_proto::EntryKind::ConfChange, ..conf };
        log.elide_payloads(Index(2), Index(4));
        let elided: Vec<bool> = (1..=5).map(|i| log.entry(Index(i)).unwrap().payload_elided).collect();
        assert_eq!(elided, vec![false, true, false, true, false]);
        assert!(log.entry(Index(2)).unwrap().payload.is_empty());
        assert_eq!(log.entry(Index(3)).unwrap().payload.len(), 3);
        assert_eq!(log.entry(Index(5)).unwrap().payload.len(), 3);
        // A witness leader sends a data follower the entries before the
        // first elided one only.
        let mut batch = log.clone_for_send(Index(1), u64::MAX);
        RaftLog::keep_until_elided(&mut batch);
        assert_eq!(batch.iter().map(|e| e.index.0).collect::<Vec<_>>(), vec![1]);
        let mut batch = log.clone_for_send(Index(3), u64::MAX);
        RaftLog::keep_until_elided(&mut batch);
        assert_eq!(batch.iter().map(|e| e.index.0).collect::<Vec<_>>(), vec![3]);
    }

    #[test]
    fn indexes_terms_and_matching() {
        let log = log_of((2, 5), &[2, 3, 3, 4], &[1, 1, 1, 1], 5);
        assert_eq!(log.snapshot_id(), EntryId::new(Term(2), Index(5)));
        assert_eq!((log.first_index(), log.last_index()), (Index(6), Index(9)));
        assert_eq!(log.last_term(), Term(4));
        assert_eq!(log.last_id(), EntryId::new(Term(4), Index(9)));
        assert_eq!(log.term_at(Index(5)), Some(Term(2)), "the snapshot's last entry");
        assert_eq!(log.term_at(Index(4)), None, "compacted");
        assert_eq!(log.term_at(Index(10)), None, "beyond the end");
        assert!(log.matches(EntryId::new(Term(3), Index(8))));
        assert!(!log.matches(EntryId::new(Term(4), Index(8))));
        let empty = log_of((0, 0), &[], &[], 0);
        assert_eq!((empty.first_index(), empty.last_index(), empty.last_term()), (Index(1), Index(0), Term(0)));
    }

    #[test]
    fn term_searches_for_the_conflict_hint() {
        // Indexes 1..=6 with terms 1 1 2 2 2 3.
        let log = log_of((0, 0), &[1, 1, 2, 2, 2, 3], &[1; 6], 0);
        assert_eq!(log.first_index_of_term(Term(2), Index(5)), Index(3));
        assert_eq!(log.first_index_of_term(Term(2), Index(3)), Index(3));
        assert_eq!(log.first_index_of_term(Term(3), Index(6)), Index(6));
        assert_eq!(log.first_index_of_term(Term(1), Index(6)), Index(1));
        assert_eq!(log.first_index_of_term(Term(9), Index(4)), Index(5), "capped after up_to");
        assert_eq!(log.last_index_with_term_at_most(Term(1), Index(6)), Index(2));
        assert_eq!(log.last_index_with_term_at_most(Term(2), Index(6)), Index(5));
        assert_eq!(log.last_index_with_term_at_most(Term(2), Index(4)), Index(4));
        assert_eq!(log.last_index_with_term_at_most(Term(3), Index(100)), Index(6), "up_to beyond the end");
        assert_eq!(log.last_index_with_term_at_most(Term(0), Index(6)), Index(0), "none: the snapshot index");
        let compacted = log_of((1, 2), &[2, 2, 2, 3], &[1; 4], 2);
        assert_eq!(compacted.last_index_with_term_at_most(Term(1), Index(6)), Index(2));
        assert_eq!(compacted.last_index_with_term_at_most(Term(2), Index(1)), Index(2), "up_to compacted");
    }

    #[test]
    fn send_batches_respect_the_byte_cap_but_carry_one_entry() {
        let log = log_of((0, 0), &[1, 1, 1, 1], &[10, 10, 10, 10], 0);
        assert_eq!(log.clone_for_send(Index(1), 25).len(), 2);
        assert_eq!(log.clone_for_send(Index(1), 20).len(), 2, "exactly at the cap fits");
        assert_eq!(log.clone_for_send(Index(1), 19).len(), 1);
        assert_eq!(log.clone_for_send(Index(1), 5).len(), 1, "one entry always goes");
        assert_eq!(log.clone_for_send(Index(3), 1000).len(), 2);
        assert!(log.clone_for_send(Index(5), 1000).is_empty());
        assert_eq!(log.clone_for_send(Index(2), 1000)[0].index, Index(2));
        assert_eq!(log.payload_bytes_of_term(Index(1), Index(3), Term(1)), 20);
        assert_eq!(log.payload_bytes_of_term(Index(0), Index(4), Term(2)), 0);
    }

    #[test]
    fn apply_batches_stop_at_commit_persisted_and_the_byte_cap() {
        let mut log = log_of((0, 0), &[1, 1, 1, 1], &[10, 10, 10, 10], 3);
        let b = log.next_apply_batch(15).expect("a batch");
        assert_eq!(b.iter().map(|e| e.index.0).collect::<Vec<_>>(), vec![1], "15 bytes hold one entry");
        let b = log.next_apply_batch(20).expect("a batch");
        assert_eq!(b.iter().map(|e| e.index.0).collect::<Vec<_>>(), vec![2, 3], "stops at the commit index");
        assert!(log.next_apply_batch(100).is_none());
        assert_eq!(log.apply_emitted(), Index(3));
        // Durability bounds it too.
        let mut log = log_of((0, 0), &[1, 1, 1, 1], &[10, 10, 10, 10], 2);
        log.truncate_from(Index(4));
        log.set_persisted(Index(2));
        log.commit_to(Index(3));
        assert_eq!(log.persisted(), Index(2));
        let b = log.next_apply_batch(1000).expect("a batch");
        assert_eq!(b.len(), 2);
        // The commit index never goes down.
        log.commit_to(Index(1));
        assert_eq!(log.committed(), Index(3));
    }

    #[test]
    fn compaction_moves_the_snapshot_point() {
        let mut log = log_of((0, 0), &[1, 1, 2, 2], &[1; 4], 4);
        log.compact_to(Index(3));
        assert_eq!(log.snapshot_id(), EntryId::new(Term(2), Index(3)));
        assert_eq!(log.first_index(), Index(4));
        assert_eq!(log.term_at(Index(3)), Some(Term(2)));
        assert_eq!(log.term_at(Index(2)), None);
    }

    #[test]
    fn check_finds_gaps_and_decreasing_terms() {
        assert_eq!(log_of((1, 2), &[1, 2, 2], &[1; 3], 2).check(true), Ok(()));
        let mut gap = log_of((0, 0), &[1, 1, 1], &[1; 3], 0);
        gap.entries[2].index = Index(5);
        assert_eq!(gap.check(false), Err("entries are not consecutive"));
        assert_eq!(gap.check(true), Err("entries are not consecutive"));
        let mut shifted = log_of((0, 0), &[1, 1], &[1; 2], 0);
        shifted.entries[0].index = Index(7);
        shifted.entries[1].index = Index(8);
        assert_eq!(shifted.check(false), Err("first entry does not follow the snapshot"));
        let mut down = log_of((0, 0), &[2, 2, 2], &[1; 3], 0);
        down.entries[2].term = Term(1);
        assert_eq!(down.check(false), Err("terms decrease"));
        let mut middle = log_of((0, 0), &[1, 3, 3], &[1; 3], 0);
        middle.entries[1].term = Term(4);
        assert_eq!(middle.check(false), Ok(()), "O(1) sees only the ends");
        assert_eq!(middle.check(true), Err("terms decrease"));
        let below_snapshot = log_of((3, 1), &[3, 3], &[1; 2], 1);
        let mut below = below_snapshot.clone();
        below.entries[0].term = Term(2);
        assert_eq!(below.check(false), Err("terms decrease"));
    }
}
