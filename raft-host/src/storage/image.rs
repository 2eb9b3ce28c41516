//! What a store holds, as a model both stores share: [`LogImage`] (the
//! state a sequence of Persists leaves) and [`Cursor`] (the little a store
//! needs to check a batch before writing any of it).

use std::collections::VecDeque;

use raft_sansio::proto::SnapshotId;
use raft_sansio::{Entry, HardState, Index, Persist, RestoredState, SnapshotMeta};

use super::StoreError;

/// The durable state a sequence of Persists leaves, in the contract's order
/// within each: snapshot (drop entries up to its last index), truncate,
/// append, hard state.
///
/// The [`MemStore`](super::MemStore) keeps one with its entries; the
/// [`Wal`](super::Wal) keeps the entries only while it replays its segments
/// at open, and afterwards only the log's bounds.
#[derive(Clone, Debug, Default)]
pub(crate) struct LogImage {
    pub(crate) hard_state: HardState,
    pub(crate) snapshot: Option<SnapshotMeta>,
    /// The entries after the snapshot (empty when not kept).
    pub(crate) entries: VecDeque<Entry>,
    /// The log's last index: the last entry's, else the snapshot's. (During
    /// a replay that starts at a segment after deleted ones, it starts at
    /// the base record's last index, before the entries it stands for.)
    pub(crate) last_index: Index,
    keep_entries: bool,
}

/// Why a log change cannot be applied.
pub(crate) type Refusal = &'static str;

impl LogImage {
    /// An empty store; `keep_entries` keeps the entries themselves.
    pub(crate) fn new(keep_entries: bool) -> LogImage {
        LogImage { keep_entries, ..LogImage::default() }
    }

    /// The snapshot's last index (0 without one).
    pub(crate) fn snapshot_index(&self) -> Index {
        self.snapshot.as_ref().map_or(Index::ZERO, |s| s.last.index)
    }

    /// Stops keeping entries (and drops those held).
    pub(crate) fn forget_entries(&mut self) {
        self.keep_entries = false;
        self.entries = VecDeque::new();
    }

    /// Applies the log part of one Persist.
    ///
    /// # Errors
    /// The change does not fit the log (the store checked it before
    /// writing, so on replay this means damage).
    pub(crate) fn apply(
        &mut self,
        snapshot: Option<&SnapshotMeta>,
        truncate_from: Option<Index>,
        entries: &[Entry],
        hard_state: Option<HardState>,
    ) -> Result<(), Refusal> {
        if let Some(meta) = snapshot {
            let index = meta.last.index;
            if index < self.snapshot_index() {
                return Err("snapshot older than the stored one");
            }
            while self.entries.front().is_some_and(|e| e.index <= index) {
                self.entries.pop_front();
            }
            self.last_index = self.last_index.max(index);
            self.snapshot = Some(meta.clone());
        }
        if let Some(from) = truncate_from {
            while self.entries.back().is_some_and(|e| e.index >= from) {
                self.entries.pop_back();
            }
            self.last_index = self.last_index.min(from.prev()).max(self.snapshot_index());
        }
        for e in entries {
            if e.index != self.last_index.next() || e.index == Index(u64::MAX) {
                return Err("entries do not continue the log");
            }
            self.last_index = e.index;
            if self.keep_entries {
                self.entries.push_back(e.clone());
            }
        }
        if let Some(hs) = hard_state {
            self.hard_state = hs;
        }
        Ok(())
    }

    /// What a restarting node is handed: `applied` is the snapshot's last
    /// index (the host restores its state machine from the snapshot).
    pub(crate) fn restored(&self) -> RestoredState {
        RestoredState {
            hard_state: self.hard_state,
            snapshot: self.snapshot.clone(),
            entries: self.entries.iter().cloned().collect(),
            applied: self.snapshot_index(),
        }
    }

    /// A cursor at this image's position, with `seq` Persists done.
    pub(crate) fn cursor(&self, seq: u64, receiving: Option<Receiving>) -> Cursor {
        Cursor { seq, last_index: self.last_index, snapshot_index: self.snapshot_index(), receiving }
    }
}

/// A snapshot being received: its id, the next offset expected, and its
/// total length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Receiving {
    pub(crate) id: SnapshotId,
    pub(crate) next_offset: u64,
    pub(crate) total_len: u64,
}

/// The position of a store, for checking a batch of Persists before any of
/// it is written: a rejected batch then leaves the store as it was.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Cursor {
    pub(crate) seq: u64,
    pub(crate) last_index: Index,
    pub(crate) snapshot_index: Index,
    pub(crate) receiving: Option<Receiving>,
}

impl Cursor {
    /// Checks `p` against the contract and moves past it. `has_data` says
    /// whether the store holds data for a snapshot the host took.
    pub(crate) fn advance(&mut self, p: &Persist, has_data: impl Fn(Index) -> bool) -> Result<(), StoreError> {
        let invalid = |reason| StoreError::InvalidPersist { seq: p.seq, reason };
        if p.seq != self.seq + 1 {
            return Err(invalid("seq does not follow the previous Persist"));
        }
        self.seq = p.seq;
        if let Some(chunk) = &p.snapshot_chunk {
            let len = chunk.data.len() as u64;
            let mut r = if chunk.offset == 0 {
                Receiving { id: chunk.id, next_offset: 0, total_len: chunk.total_len }
            } else {
                match self.receiving {
                    Some(r) if r.id == chunk.id && r.next_offset == chunk.offset && r.total_len == chunk.total_len => r,
                    _ => return Err(invalid("snapshot chunk does not continue the snapshot being received")),
                }
            };
            r.next_offset = chunk.offset.checked_add(len).ok_or_else(|| invalid("snapshot chunk overflows"))?;
            if r.next_offset > r.total_len {
                return Err(invalid("snapshot chunk beyond the snapshot's length"));
            }
            self.receiving = Some(r);
        }
        if let Some(meta) = &p.snapshot {
            let index = meta.last.index;
            if index < self.snapshot_index {
                return Err(invalid("snapshot older than the stored one"));
            }
            if p.snapshot_chunk.is_some() {
                match self.receiving.take() {
                    Some(r) if r.id.last == meta.last && r.next_offset == r.total_len => {}
                    _ => return Err(invalid("snapshot installed before all of its chunks arrived")),
                }
            } else if index > Index::ZERO && !has_data(index) {
                return Err(StoreError::MissingSnapshotData { index });
            }
            self.last_index = self.last_index.max(index);
            self.snapshot_index = index;
        }
        if let Some(from) = p.truncate_from {
            self.last_index = self.last_index.min(from.prev()).max(self.snapshot_index);
        }
        for e in p.entries.iter() {
            if e.index != self.last_index.next() || e.index == Index(u64::MAX) {
                return Err(invalid("entries do not continue the log"));
            }
            self.last_index = e.index;
        }
        Ok(())
    }
}
