//! The simulated disk of one node: Persists become durable in FIFO order;
//! an fsync makes everything before it durable; a crash keeps every
//! fsync'd Persist and a random in-order prefix of the rest, the last kept
//! one possibly torn (cut between entries and then without its hard state,
//! which is written last; or cut after a snapshot chunk, before the
//! snapshot's metadata).
//!
//! Snapshots: chunks of a snapshot being received are assembled at their
//! offsets (a chunk at offset 0 starts over); a Persist that carries
//! `snapshot` with the last chunk completes a received snapshot; one that
//! carries `snapshot` alone makes the host's own snapshot (taken before it
//! reported `SnapshotTaken`, see [`Disk::take_snapshot`]) the base of the
//! log. Either way the stored entries up to the snapshot go.

use std::collections::{BTreeMap, VecDeque};

use bytes::Bytes;
use raft_sansio::proto::SnapshotId;
use raft_sansio::rng::Rng;
use raft_sansio::{Entry, EntryId, HardState, Index, Persist, RestoredState, SnapshotMeta, Term};

/// How much of a Persist a crash lets through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tear {
    /// All of it.
    Whole,
    /// The snapshot (if any) and the first `n` entries; not the hard state.
    Entries(usize),
    /// Only the snapshot chunk: not the snapshot's metadata, the entries or
    /// the hard state.
    BeforeSnapshotMeta,
}

/// What a disk holds.
#[derive(Clone, Debug, Default)]
pub(crate) struct Stored {
    /// The last hard state written.
    pub(crate) hard_state: HardState,
    /// The last snapshot metadata written.
    pub(crate) snapshot: Option<SnapshotMeta>,
    /// The bytes of `snapshot`: empty for the bootstrap configuration at
    /// index 0 and for a witness's metadata-only snapshot.
    pub(crate) snapshot_data: Bytes,
    /// A snapshot being received: its id and the bytes so far.
    receiving: Option<(SnapshotId, Vec<u8>)>,
    /// The log, consecutive.
    pub(crate) entries: Vec<Entry>,
}

impl Stored {
    /// Writes one Persist in the contract's order: snapshot chunk, snapshot
    /// metadata, truncate, append, hard state; `tear` says where a crash cut
    /// it. `taken` holds the host's own snapshots by index.
    ///
    /// # Errors
    /// What the Persist asked that a disk cannot do (a chunk that does not
    /// continue the snapshot being received, a snapshot without bytes, an
    /// append that leaves a gap): the core broke its contract.
    pub(crate) fn apply(&mut self, p: &Persist, tear: Tear, taken: &BTreeMap<Index, Bytes>) -> Result<(), String> {
        if let Some(chunk) = &p.snapshot_chunk {
            if chunk.offset == 0 {
                self.receiving = Some((chunk.id, Vec::new()));
            }
            match &mut self.receiving {
                Some((id, buf)) if *id == chunk.id && buf.len() as u64 == chunk.offset => {
                    buf.extend_from_slice(&chunk.data);
                    if buf.len() as u64 > chunk.total_len {
                        return Err(format!(
                            "snapshot chunk of {:?} ends at {}, beyond its total length {}",
                            chunk.id,
                            buf.len(),
                            chunk.total_len
                        ));
                    }
                }
                other => {
                    return Err(format!(
                        "snapshot chunk at offset {} of {:?} does not continue the one being received ({:?})",
                        chunk.offset,
                        chunk.id,
                        other.as_ref().map(|(id, buf)| (id, buf.len()))
                    ));
                }
            }
        }
        if tear == Tear::BeforeSnapshotMeta && p.snapshot.is_some() {
            return Ok(());
        }
        if let Some(meta) = &p.snapshot {
            let last = meta.last.index;
            let data = if let Some(chunk) = &p.snapshot_chunk {
                let (id, buf) = self.receiving.take().ok_or("a last chunk without a snapshot being received")?;
                if id.last != meta.last || buf.len() as u64 != chunk.total_len {
                    return Err(format!(
                        "snapshot {:?} installed from the chunks of {:?} ({} of {} bytes)",
                        meta.last,
                        id,
                        buf.len(),
                        chunk.total_len
                    ));
                }
                Bytes::from(buf)
            } else if last == Index(0) {
                Bytes::new()
            } else {
                taken.get(&last).cloned().ok_or_else(|| {
                    format!("snapshot {:?} made the base of the log, but the host never took it", meta.last)
                })?
            };
            // Keep entries that continue the snapshot; drop the rest.
            let continues = self.term_at(last) == Some(meta.last.term);
            if continues {
                self.entries.retain(|e| e.index > last);
            } else {
                self.entries.clear();
            }
            self.snapshot = Some((**meta).clone());
            self.snapshot_data = data;
        }
        if let Some(t) = p.truncate_from {
            self.entries.retain(|e| e.index < t);
        }
        let n = match tear {
            Tear::Entries(n) => n.min(p.entries.len()),
            _ => p.entries.len(),
        };
        for e in p.entries.iter().take(n) {
            let expected = self.last_index().next();
            if e.index != expected {
                return Err(format!("append of entry {} where {} comes next", e.index.0, expected.0));
            }
            self.entries.push(e.clone());
        }
        if tear == Tear::Whole {
            if let Some(hs) = p.hard_state {
                self.hard_state = hs;
            }
        }
        Ok(())
    }

    /// The last index stored.
    pub(crate) fn last_index(&self) -> Index {
        self.entries.last().map_or_else(|| self.snapshot.as_ref().map_or(Index(0), |s| s.last.index), |e| e.index)
    }

    /// The term of the entry at `index`, if stored (the snapshot's last
    /// entry counts).
    pub(crate) fn term_at(&self, index: Index) -> Option<Term> {
        if let Some(s) = &self.snapshot {
            if s.last.index == index {
                return Some(s.last.term);
            }
        }
        let first = self.entries.first()?.index;
        let offset = index.0.checked_sub(first.0)? as usize;
        self.entries.get(offset).map(|e| e.term)
    }

    /// Whether the entry at `index` with `term` is durable here: stored, or
    /// covered by the snapshot.
    pub(crate) fn holds(&self, index: Index, term: Term) -> bool {
        self.term_at(index) == Some(term) || self.snapshot.as_ref().is_some_and(|s| s.last.index > index)
    }

    /// What a restarting node is handed: the host restores its state
    /// machine from the snapshot first, so the snapshot counts as applied.
    pub(crate) fn restored(&self) -> RestoredState {
        RestoredState {
            hard_state: self.hard_state,
            snapshot: self.snapshot.clone(),
            entries: self.entries.clone(),
            applied: self.snapshot.as_ref().map_or(Index(0), |s| s.last.index),
        }
    }
}

/// One node's disk.
#[derive(Debug, Default)]
pub(crate) struct Disk {
    /// Everything up to the last fsync.
    pub(crate) synced: Stored,
    /// Written after the last fsync, not yet durable, in FIFO order.
    unsynced: VecDeque<Persist>,
    /// The host's own snapshots by index, each written and synced (a file
    /// of its own) before the host reported it with `SnapshotTaken`; one
    /// counts once a durable Persist makes it the base of the log.
    taken: BTreeMap<Index, Bytes>,
    /// When the disk finishes its current queue.
    pub(crate) busy_until: u64,
    /// Statistics: Persists written, fsyncs, truncations.
    pub(crate) writes: u64,
    /// Fsyncs performed.
    pub(crate) fsyncs: u64,
    /// Persists that truncated the log.
    pub(crate) truncations: u64,
}

impl Disk {
    /// Queues a Persist; returns when it completes (and whether it syncs).
    pub(crate) fn submit(&mut self, now: u64, p: Persist, write_ns: u64, fsync_ns: u64) -> u64 {
        let start = now.max(self.busy_until);
        let done = start + write_ns + if p.must_sync { fsync_ns } else { 0 };
        self.busy_until = done;
        self.writes += 1;
        if p.truncate_from.is_some() {
            self.truncations += 1;
        }
        self.unsynced.push_back(p);
        done
    }

    /// The host wrote a snapshot of its state machine at `index`.
    pub(crate) fn take_snapshot(&mut self, index: Index, data: Bytes) {
        self.taken.insert(index, data);
    }

    /// The bytes of the durable snapshot whose last entry is `last`, if
    /// that is the one stored.
    pub(crate) fn snapshot_data(&self, last: EntryId) -> Option<Bytes> {
        match &self.synced.snapshot {
            Some(meta) if meta.last == last => Some(self.synced.snapshot_data.clone()),
            _ => None,
        }
    }

    /// The Persist with `seq` completed: if it syncs, it and everything
    /// before it are durable. Returns whether `seq` was queued.
    ///
    /// # Errors
    /// See [`Stored::apply`].
    pub(crate) fn complete(&mut self, seq: u64) -> Result<bool, String> {
        let Some(pos) = self.unsynced.iter().position(|p| p.seq == seq) else { return Ok(false) };
        if self.unsynced[pos].must_sync {
            self.fsyncs += 1;
            for _ in 0..=pos {
                if let Some(p) = self.unsynced.pop_front() {
                    self.synced.apply(&p, Tear::Whole, &self.taken)?;
                }
            }
            // Older snapshots of the host's own are no longer needed.
            let base = self.synced.snapshot.as_ref().map_or(Index(0), |s| s.last.index);
            self.taken = self.taken.split_off(&base);
        }
        Ok(true)
    }

    /// A crash: keeps everything synced and a random in-order prefix of the
    /// rest, the last one possibly torn.
    ///
    /// # Errors
    /// See [`Stored::apply`].
    pub(crate) fn crash(&mut self, rng: &mut Rng) -> Result<(), String> {
        let mut kept = self.synced.clone();
        let n = self.unsynced.len() as u64;
        let keep = rng.below(n + 1) as usize;
        for (i, p) in self.unsynced.iter().take(keep).enumerate() {
            let last = i + 1 == keep;
            let tear = if last && rng.chance(1, 2) {
                if p.snapshot.is_some() && rng.chance(1, 2) {
                    Tear::BeforeSnapshotMeta
                } else {
                    Tear::Entries(rng.below(p.entries.len() as u64 + 1) as usize)
                }
            } else {
                Tear::Whole
            };
            kept.apply(p, tear, &self.taken)?;
        }
        self.unsynced.clear();
        self.synced = kept;
        self.busy_until = 0;
        Ok(())
    }

    /// The disk is lost for good: only what was synced is left, for the
    /// checks to count (acknowledgements the node sent before may still be
    /// in flight).
    pub(crate) fn freeze(&mut self) {
        self.unsynced.clear();
        self.taken.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use raft_sansio::proto::ConfState;
    use raft_sansio::{NodeId, SnapshotChunk};

    fn meta(term: u64, index: u64) -> SnapshotMeta {
        SnapshotMeta { last: EntryId::new(Term(term), Index(index)), conf_state: ConfState::with_voters([NodeId(1)]) }
    }

    fn chunk(seq: u64, index: u64, offset: u64, data: &'static [u8], total: u64, last: bool) -> Persist {
        let id = SnapshotId { leader_term: Term(2), last: EntryId::new(Term(1), Index(index)) };
        Persist {
            seq,
            snapshot_chunk: Some(SnapshotChunk { id, offset, data: Bytes::from_static(data), total_len: total }),
            snapshot: last.then(|| Box::new(meta(1, index))),
            must_sync: last,
            ..Persist::default()
        }
    }

    fn entries(seq: u64, term: u64, from: u64, to: u64) -> Persist {
        Persist {
            seq,
            entries: (from..=to).map(|i| Entry::normal(Term(term), Index(i), Bytes::from_static(b"x"))).collect(),
            must_sync: true,
            ..Persist::default()
        }
    }

    #[test]
    fn chunks_assemble_at_offsets_and_the_last_one_completes_the_snapshot() {
        let mut d = Disk::default();
        for p in [entries(1, 1, 1, 3), chunk(2, 10, 0, b"ab", 5, false), chunk(3, 10, 2, b"cd", 5, false)] {
            let seq = p.seq;
            d.submit(0, p, 1, 1);
            assert_eq!(d.complete(seq), Ok(true));
        }
        assert!(d.synced.snapshot.is_none(), "chunks alone make no snapshot");
        // A chunk at offset 0 starts over (a restarted transfer).
        for p in [chunk(4, 10, 0, b"AB", 5, false), chunk(5, 10, 2, b"CD", 5, false), chunk(6, 10, 4, b"E", 5, true)] {
            let seq = p.seq;
            d.submit(0, p, 1, 1);
            assert_eq!(d.complete(seq), Ok(true));
        }
        assert_eq!(d.synced.snapshot.as_ref().map(|m| m.last.index), Some(Index(10)));
        assert_eq!(&d.synced.snapshot_data[..], b"ABCDE");
        assert!(d.synced.entries.is_empty(), "entries that do not continue the snapshot go");
        assert_eq!(d.snapshot_data(EntryId::new(Term(1), Index(10))).as_deref(), Some(&b"ABCDE"[..]));
        assert_eq!(d.synced.restored().applied, Index(10));
    }

    #[test]
    fn a_chunk_that_does_not_continue_the_snapshot_is_an_error() {
        let mut d = Disk::default();
        d.submit(0, chunk(1, 10, 0, b"ab", 5, false), 1, 1);
        d.submit(0, chunk(2, 10, 3, b"d", 5, false), 1, 1);
        d.submit(0, entries(3, 1, 1, 1), 1, 1);
        assert!(d.complete(3).is_err());
    }

    #[test]
    fn a_taken_snapshot_keeps_the_entries_after_it_and_needs_its_bytes() {
        let mut d = Disk::default();
        d.submit(0, entries(1, 1, 1, 5), 1, 1);
        assert_eq!(d.complete(1), Ok(true));
        d.take_snapshot(Index(3), Bytes::from_static(b"state@3"));
        let p = Persist { seq: 2, snapshot: Some(Box::new(meta(1, 3))), must_sync: true, ..Persist::default() };
        d.submit(0, p, 1, 1);
        assert_eq!(d.complete(2), Ok(true));
        assert_eq!(&d.synced.snapshot_data[..], b"state@3");
        assert_eq!(d.synced.entries.iter().map(|e| e.index.0).collect::<Vec<_>>(), [4, 5]);
        assert!(d.synced.holds(Index(2), Term(7)), "covered by the snapshot");
        // A snapshot the host never took has no bytes.
        let p = Persist { seq: 3, snapshot: Some(Box::new(meta(1, 5))), must_sync: true, ..Persist::default() };
        d.submit(0, p, 1, 1);
        assert!(d.complete(3).is_err());
    }

    #[test]
    fn a_crash_keeps_what_was_synced_and_loses_a_snapshot_whose_persist_was_not() {
        let mut d = Disk::default();
        d.submit(0, entries(1, 1, 1, 2), 1, 1);
        assert_eq!(d.complete(1), Ok(true));
        d.submit(0, chunk(2, 10, 0, b"ab", 2, true), 1, 1);
        // Never completed: the crash keeps a prefix of it, or none.
        let mut rng = Rng::new(7);
        let mut kept_snapshot = false;
        for _ in 0..20 {
            let mut c = Disk { synced: d.synced.clone(), ..Disk::default() };
            c.submit(0, chunk(2, 10, 0, b"ab", 2, true), 1, 1);
            assert_eq!(c.crash(&mut rng), Ok(()));
            match &c.synced.snapshot {
                Some(m) => {
                    kept_snapshot = true;
                    assert_eq!(m.last.index, Index(10));
                    assert_eq!(&c.synced.snapshot_data[..], b"ab");
                }
                None => assert_eq!(c.synced.last_index(), Index(2)),
            }
        }
        assert!(kept_snapshot, "an unsynced Persist may survive a crash");
    }
}
