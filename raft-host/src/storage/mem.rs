//! [`MemStore`]: a [`LogStore`] in memory.

use std::collections::BTreeMap;

use bytes::Bytes;
use raft_sansio::{Index, Persist, RestoredState};

use super::image::{LogImage, Receiving};
use super::{LogStore, StoreError, StoredSnapshot};

/// A [`LogStore`] that keeps everything in memory, durable the moment it is
/// written: for tests, the simulator-like in-process mode, and as the
/// reference the [`Wal`](super::Wal) is tested against.
///
/// "Restarting" a node on it (a new [`load`](LogStore::load) and
/// `Node::new`) keeps everything, like a clean restart on a disk; it never
/// loses anything as a crash may.
///
/// ```
/// use raft_host::storage::{LogStore, MemStore};
/// use raft_sansio::{Entry, HardState, Index, Persist, Term};
///
/// let mut store = MemStore::new();
/// let state = store.load()?;
/// assert_eq!(state, Default::default());
/// let p = Persist {
///     seq: 1,
///     entries: vec![Entry::noop(Term(1), Index(1))].into(),
///     hard_state: Some(HardState { term: Term(1), vote: None, commit: Index(0) }),
///     must_sync: true,
///     ..Persist::default()
/// };
/// assert_eq!(store.persist(&[p])?, 1);
/// assert_eq!(store.load()?.entries.len(), 1);
/// # Ok::<(), raft_host::storage::StoreError>(())
/// ```
#[derive(Debug)]
pub struct MemStore {
    image: LogImage,
    /// Snapshot data by last index: the base's, and any the host saved
    /// for a snapshot not yet persisted.
    snapshots: BTreeMap<Index, Bytes>,
    /// A snapshot being received, with its bytes so far.
    receiving: Option<(Receiving, Vec<u8>)>,
    seq: u64,
}

impl MemStore {
    /// An empty store.
    pub fn new() -> MemStore {
        MemStore { image: LogImage::new(true), snapshots: BTreeMap::new(), receiving: None, seq: 0 }
    }

    fn apply(&mut self, p: &Persist) {
        if let Some(chunk) = &p.snapshot_chunk {
            if chunk.offset == 0 {
                let r = Receiving { id: chunk.id, next_offset: 0, total_len: chunk.total_len };
                self.receiving = Some((r, Vec::new()));
            }
            if let Some((r, buf)) = &mut self.receiving {
                buf.extend_from_slice(&chunk.data);
                r.next_offset = buf.len() as u64;
            }
        }
        if let Some(meta) = &p.snapshot {
            let index = meta.last.index;
            if p.snapshot_chunk.is_some() {
                if let Some((_, buf)) = self.receiving.take() {
                    self.snapshots.insert(index, Bytes::from(buf));
                }
            }
            // Older snapshots are no longer needed.
            self.snapshots = self.snapshots.split_off(&index);
        }
        // Checked by `Cursor::advance` before: this cannot refuse.
        let applied = self.image.apply(p.snapshot.as_deref(), p.truncate_from, &p.entries, p.hard_state);
        debug_assert!(applied.is_ok(), "{applied:?}");
        self.seq = p.seq;
    }
}

impl Default for MemStore {
    fn default() -> MemStore {
        MemStore::new()
    }
}

impl LogStore for MemStore {
    fn load(&mut self) -> Result<RestoredState, StoreError> {
        self.seq = 0;
        self.receiving = None;
        Ok(self.image.restored())
    }

    fn persist(&mut self, batch: &[Persist]) -> Result<u64, StoreError> {
        let mut cursor = self.image.cursor(self.seq, self.receiving.as_ref().map(|(r, _)| *r));
        for p in batch {
            cursor.advance(p, |index| self.snapshots.contains_key(&index))?;
        }
        for p in batch {
            self.apply(p);
        }
        Ok(self.seq)
    }

    fn durable_seq(&self) -> u64 {
        self.seq
    }

    fn save_snapshot(&mut self, index: Index, data: &[u8]) -> Result<(), StoreError> {
        self.snapshots.insert(index, Bytes::copy_from_slice(data));
        Ok(())
    }

    fn snapshot(&self) -> Result<Option<StoredSnapshot>, StoreError> {
        let Some(meta) = &self.image.snapshot else { return Ok(None) };
        if meta.last.index == Index::ZERO {
            return Ok(None);
        }
        let data = self.snapshots.get(&meta.last.index).cloned().unwrap_or_default();
        Ok(Some(StoredSnapshot { meta: meta.clone(), data }))
    }
}
