//! Log storage: make [`Persist`]s durable, report what is durable, and hand
//! the node its [`RestoredState`] on restart.
//!
//! - [`LogStore`]: the contract, for users who bring their own storage.
//! - [`Wal`]: a file write-ahead log (segments of checksummed records, group
//!   commit, fail-stop, torn-tail recovery, snapshot files).
//! - [`MemStore`]: everything in memory and durable at once (tests, the
//!   in-process mode).
//! - [`DiskIo`]: the hook every write and fsync of the [`Wal`] goes through
//!   ([`OsDiskIo`] by default), so tests can count or fail them.
//!
//! # The host loop around a store
//!
//! ```text
//!   load() --> RestoredState --> Node::new
//!   Output::Persist(p) ... --> persist(&[p1, p2, ..]) --> durable seq s
//!                                                 --> Input::Persisted { up_to_seq: s }
//!   snapshot of the state machine --> save_snapshot(index, data)
//!                                 --> Input::SnapshotTaken { index, data }
//!   Output::ApplySnapshot / SnapshotDataNeeded --> snapshot()
//! ```
//!
//! A driver collects the Persists that arrive while the previous call runs
//! and hands them over in one call: that is group commit, one fsync for all
//! of them.
//!
//! # The contract in brief
//!
//! - `persist` writes the Persists in order (within one: snapshot chunk,
//!   snapshot, truncate, append, hard state, as one atomic record in the
//!   [`Wal`]). It returns only once every Persist with `must_sync` in the
//!   batch is behind a completed fsync. A Persist with `must_sync == false`
//!   (one that only moves the commit index, or a non-final snapshot chunk)
//!   is written in order but causes no fsync of its own: the core allows
//!   losing it in a crash, so the returned seq covers it once it is written
//!   and every earlier Persist that needed an fsync has had one.
//! - Any write or fsync failure is fail-stop: the store answers that call and
//!   every later one with an error, and the driver stops the node. After a
//!   failed fsync the kernel may have dropped the dirty pages and marked them
//!   clean (the 2018 "fsyncgate"), so retrying and then acknowledging could
//!   acknowledge data that is gone. Restart, and let recovery read what the
//!   disk really holds.
//! - A received snapshot (its `Persist::snapshot_chunk`s) is assembled into
//!   a snapshot file; a Persist that makes a snapshot the log's base also
//!   makes its file durable (written to a temporary name, fsync'd, renamed,
//!   directory fsync'd) before the record that refers to it.
//!
//! [`Persist`]: raft_sansio::Persist

mod error;
mod image;
mod io;
mod mem;
mod snapshot_file;
mod wal;

#[cfg(test)]
mod tests;

use bytes::Bytes;
use raft_sansio::{Index, Persist, RestoredState, SnapshotMeta};

pub use error::{Damage, StoreError};
pub use io::{DiskIo, OsDiskIo};
pub use mem::MemStore;
pub use wal::{Wal, WalOptions, DEFAULT_SEGMENT_BYTES};

/// Durable storage for one node's log, hard state and snapshots.
///
/// Implementations MUST keep the order of Persists (never make a later one
/// durable while an earlier one that needed an fsync is not), MUST NOT
/// report a seq durable before its fsync completed, and MUST be fail-stop:
/// after any failed write or fsync, every later call returns an error.
///
/// Every method is blocking; an async driver runs them on a blocking task.
pub trait LogStore {
    /// Starts a new incarnation of the node and returns the state to hand
    /// [`Node::new`](raft_sansio::Node::new): the hard state, the snapshot
    /// metadata, the log entries after it, and `applied` set to the
    /// snapshot's last index (restore the state machine from
    /// [`snapshot`](LogStore::snapshot) before stepping the node).
    ///
    /// The Persists of the new incarnation are numbered from 1 again, so
    /// call it once per `Node::new`, before the first
    /// [`persist`](LogStore::persist).
    ///
    /// # Errors
    /// [`StoreError::Stopped`] after a failure, or an I/O or corruption
    /// error reading the stored state.
    fn load(&mut self) -> Result<RestoredState, StoreError>;

    /// Makes `batch` durable, in order, and returns the highest seq that is
    /// now durable (the value for
    /// [`Input::Persisted`](raft_sansio::Input::Persisted)).
    ///
    /// The batch holds consecutive Persists of this incarnation (seqs
    /// `durable_seq() + 1 ..`), as the node emitted them; one call makes
    /// them all durable with at most one fsync of the log (group commit).
    /// An empty batch returns the durable seq unchanged.
    ///
    /// The returned seq is durable in the contract's sense: every Persist
    /// up to it is written, and every one of them with `must_sync` is
    /// behind a completed fsync. A batch of only `must_sync == false`
    /// Persists is written without an fsync and its last seq returned: the
    /// core allows losing those in a crash, and waiting for an fsync that
    /// may never come would hold back the promises queued behind them.
    ///
    /// # Errors
    /// - [`StoreError::InvalidPersist`] or
    ///   [`StoreError::MissingSnapshotData`] when the batch breaks the
    ///   contract (seqs out of order, entries that do not continue the log, a
    ///   snapshot without data); nothing of the batch is written.
    /// - [`StoreError::Io`] when a write or fsync failed: the store is
    ///   stopped and every later call returns [`StoreError::Stopped`].
    fn persist(&mut self, batch: &[Persist]) -> Result<u64, StoreError>;

    /// The highest seq of this incarnation reported durable (0 before the
    /// first [`persist`](LogStore::persist)).
    fn durable_seq(&self) -> u64;

    /// Stores the data of a snapshot the host took of its state machine at
    /// `index`, durably. Call it before stepping
    /// [`Input::SnapshotTaken`](raft_sansio::Input::SnapshotTaken): the
    /// Persist that answers it refers to this data, and a restart needs it.
    ///
    /// # Errors
    /// [`StoreError::Io`] (and the store stops), or
    /// [`StoreError::Stopped`] after an earlier failure.
    fn save_snapshot(&mut self, index: Index, data: &[u8]) -> Result<(), StoreError>;

    /// The latest snapshot that is the base of the stored log, with its
    /// data; `None` when there is none, or only the bootstrap configuration
    /// at index 0 (which has no data).
    ///
    /// # Errors
    /// [`StoreError::Stopped`], or an I/O or corruption error reading the
    /// snapshot file.
    fn snapshot(&self) -> Result<Option<StoredSnapshot>, StoreError>;
}

/// A snapshot and its data, as [`LogStore::snapshot`] returns it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredSnapshot {
    /// Its last entry and configuration.
    pub meta: SnapshotMeta,
    /// The state machine's bytes.
    pub data: Bytes,
}
