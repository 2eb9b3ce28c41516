//! The simulated disk of one node: Persists become durable in FIFO order;
//! an fsync makes everything before it durable; a crash keeps every
//! fsync'd Persist and a random in-order prefix of the rest, the last kept
//! one possibly cut between entries and then without its hard state (which
//! is written last).

use std::collections::VecDeque;

use raft_sansio::rng::Rng;
use raft_sansio::{Entry, HardState, Index, Persist, RestoredState, SnapshotMeta, Term};

/// What a disk holds.
#[derive(Clone, Debug, Default)]
pub(crate) struct Stored {
    /// The last hard state written.
    pub(crate) hard_state: HardState,
    /// The last snapshot metadata written.
    pub(crate) snapshot: Option<SnapshotMeta>,
    /// The log, consecutive.
    pub(crate) entries: Vec<Entry>,
}

impl Stored {
    /// Writes one Persist in the contract's order. With `cut`, only the
    /// first `cut` entries are written and the hard state is not.
    pub(crate) fn apply(&mut self, p: &Persist, cut: Option<usize>) {
        if let Some(meta) = &p.snapshot {
            let last = meta.last.index;
            // Keep entries that continue the snapshot; drop the rest.
            let continues = self.term_at(last) == Some(meta.last.term);
            if continues {
                self.entries.retain(|e| e.index > last);
            } else {
                self.entries.clear();
            }
            self.snapshot = Some((**meta).clone());
        }
        if let Some(t) = p.truncate_from {
            self.entries.retain(|e| e.index < t);
        }
        let n = cut.unwrap_or(p.entries.len()).min(p.entries.len());
        for e in p.entries.iter().take(n) {
            debug_assert_eq!(e.index, self.last_index().next(), "disk append out of order");
            self.entries.push(e.clone());
        }
        if cut.is_none() {
            if let Some(hs) = p.hard_state {
                self.hard_state = hs;
            }
        }
    }

    /// The last index stored.
    pub(crate) fn last_index(&self) -> Index {
        self.entries.last().map_or_else(|| self.snapshot.as_ref().map_or(Index(0), |s| s.last.index), |e| e.index)
    }

    /// The term of the entry at `index`, if stored.
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

    /// What a restarting node is handed.
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

    /// The Persist with `seq` completed: if it syncs, it and everything
    /// before it are durable. Returns whether `seq` was queued.
    pub(crate) fn complete(&mut self, seq: u64) -> bool {
        let Some(pos) = self.unsynced.iter().position(|p| p.seq == seq) else { return false };
        if self.unsynced[pos].must_sync {
            self.fsyncs += 1;
            for _ in 0..=pos {
                if let Some(p) = self.unsynced.pop_front() {
                    self.synced.apply(&p, None);
                }
            }
        }
        true
    }

    /// A crash: keeps everything synced and a random in-order prefix of the
    /// rest, the last one possibly cut between entries (and then without
    /// its hard state). Returns what survives.
    pub(crate) fn crash(&mut self, rng: &mut Rng) -> Stored {
        let mut kept = self.synced.clone();
        let n = self.unsynced.len() as u64;
        let keep = rng.below(n + 1) as usize;
        for (i, p) in self.unsynced.iter().take(keep).enumerate() {
            let last = i + 1 == keep;
            let cut =
                if last && rng.chance(1, 2) { Some(rng.below(p.entries.len() as u64 + 1) as usize) } else { None };
            kept.apply(p, cut);
        }
        self.unsynced.clear();
        self.synced = kept.clone();
        self.busy_until = 0;
        kept
    }
}
