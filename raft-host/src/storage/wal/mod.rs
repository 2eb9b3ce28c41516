//! [`Wal`]: a file write-ahead log implementing [`LogStore`].
//!
//! # Directory layout
//!
//! ```text
//! 00000000000000000001.wal     segments (format in `format`), oldest first;
//! 00000000000000000002.wal     the last one is appended to
//! snapshot-00000000000000000420.snap   the snapshot the log's base refers to
//! *.tmp, snapshot.partial      files being created (deleted at open)
//! ```
//!
//! # Durability
//!
//! - One record per Persist (a truncate-then-append, a snapshot install,
//!   the hard state: all in one checksummed record, so a crash keeps all of
//!   it or none).
//! - A batch is encoded into one buffer, written with one write and, if any
//!   of its Persists has `must_sync`, made durable with one fsync (group
//!   commit) before [`LogStore::persist`] returns its seq.
//! - Rotation: once the last segment reaches [`WalOptions::segment_bytes`],
//!   it is fsync'd in full, and the next segment is created under a
//!   temporary name with its header and base record, fsync'd, renamed, and
//!   the directory fsync'd. The base record (hard state, snapshot metadata,
//!   last index) makes every segment a valid starting point for replay.
//! - Compaction: once a snapshot's record is durable, segments before the
//!   last whose entries the snapshot covers are deleted oldest first (the
//!   directory fsync'd after each, so what remains is always a contiguous
//!   run), and older snapshot files with them.
//! - Fail-stop: any failed write, fsync, rename or delete stops the WAL.

mod format;
mod recovery;

use std::collections::{BTreeSet, VecDeque};
use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use raft_sansio::{Index, Persist, RestoredState, SnapshotChunk};

use self::format::{put_base_body, put_persist_body, put_record, segment_header, segment_name, segment_tmp_name};
use super::image::{LogImage, Receiving};
use super::snapshot_file::{self, SnapshotWriter};
use super::{DiskIo, LogStore, OsDiskIo, StoreError, StoredSnapshot};

/// The default segment size: 64 MiB, as etcd's. Large enough that rotation
/// (one extra fsync, one file creation) is rare, small enough that
/// compaction frees space in useful steps and replay reads little beyond
/// the live log.
pub const DEFAULT_SEGMENT_BYTES: u64 = 64 << 20;

/// The largest record body: a record's length field is a `u32`.
const MAX_RECORD_BODY: u64 = u32::MAX as u64;

/// How to open a [`Wal`].
#[derive(Clone, Debug)]
pub struct WalOptions {
    segment_bytes: u64,
    io: Arc<dyn DiskIo>,
}

impl Default for WalOptions {
    fn default() -> WalOptions {
        WalOptions { segment_bytes: DEFAULT_SEGMENT_BYTES, io: Arc::new(OsDiskIo) }
    }
}

impl WalOptions {
    /// Start a new segment once the last one holds this many bytes
    /// (default [`DEFAULT_SEGMENT_BYTES`]). A single record larger than this
    /// still goes into one segment.
    #[must_use]
    pub fn segment_bytes(mut self, bytes: u64) -> WalOptions {
        self.segment_bytes = bytes.max(1);
        self
    }

    /// Route every write and fsync through `io` (default [`OsDiskIo`]).
    #[must_use]
    pub fn io(mut self, io: Arc<dyn DiskIo>) -> WalOptions {
        self.io = io;
        self
    }
}

/// A segment the WAL holds.
#[derive(Clone, Copy, Debug)]
struct Segment {
    number: u64,
    /// The highest entry index written in it (0 if none): once a durable
    /// snapshot covers it, the segment is no longer needed.
    max_index: Index,
}

/// A file write-ahead log: the [`LogStore`] for a node on a real disk.
///
/// [`Wal::open`] reads every segment into memory once; the entries the
/// first [`load`](LogStore::load) returns are zero-copy slices of those
/// buffers (so they live as long as the node keeps the entries). After
/// open the WAL keeps only the log's bounds, the hard state and the
/// snapshot metadata: appending never reads the disk.
///
/// ```
/// use raft_host::storage::{LogStore, Wal, WalOptions};
/// use raft_sansio::{Entry, HardState, Index, NodeId, Persist, Term};
/// use bytes::Bytes;
///
/// let dir = tempfile::tempdir()?;
///
/// // First start: an empty store.
/// let mut wal = Wal::open(dir.path(), WalOptions::default())?;
/// let state = wal.load()?;
/// assert_eq!(state, Default::default());
///
/// // Make two Persists durable with one fsync, as the node emitted them.
/// let hard_state = HardState { term: Term(1), vote: Some(NodeId(1)), commit: Index(0) };
/// let batch = [
///     Persist {
///         seq: 1,
///         entries: vec![Entry::noop(Term(1), Index(1))].into(),
///         hard_state: Some(hard_state),
///         must_sync: true,
///         ..Persist::default()
///     },
///     Persist {
///         seq: 2,
///         entries: vec![Entry::normal(Term(1), Index(2), Bytes::from_static(b"x=1"))].into(),
///         must_sync: true,
///         ..Persist::default()
///     },
/// ];
/// let durable = wal.persist(&batch)?;
/// assert_eq!(durable, 2); // step Input::Persisted { up_to_seq: 2 }
/// drop(wal);
///
/// // Restart: the same state comes back.
/// let mut wal = Wal::open(dir.path(), WalOptions::default())?;
/// let state = wal.load()?;
/// assert_eq!(state.hard_state, hard_state);
/// assert_eq!(state.entries.len(), 2);
/// assert_eq!(state.entries[1].payload, Bytes::from_static(b"x=1"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Wal {
    dir: PathBuf,
    options: WalOptions,
    /// The state written so far, without the entries.
    image: LogImage,
    /// The state recovered at open, for the first `load`.
    recovered: Option<RestoredState>,
    /// The segments, oldest first; the last is `active`.
    segments: VecDeque<Segment>,
    active: File,
    active_len: u64,
    /// Records after the base in the active segment.
    active_records: u64,
    next_lsn: u64,
    /// The last seq written in this incarnation.
    seq: u64,
    durable_seq: u64,
    /// Complete snapshot files: the base's, and any the host saved since.
    snapshot_files: BTreeSet<Index>,
    /// The snapshot index whose record is behind an fsync.
    synced_snapshot: Index,
    receiving: Option<(Receiving, SnapshotWriter)>,
    /// Why the WAL stopped, if it did.
    stopped: Option<String>,
    buf: Vec<u8>,
}

impl Wal {
    /// Opens (or creates) the WAL in `dir` and recovers its state: replays
    /// the segments, truncates a torn tail of the last one, deletes
    /// temporary files and unreferenced snapshot files. The state is then
    /// returned by the first [`load`](LogStore::load).
    ///
    /// Only one `Wal` may have a directory open at a time.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] when the directory holds damage no crash
    /// explains (with the file, offset and what is wrong), or
    /// [`StoreError::Io`].
    pub fn open(dir: impl AsRef<Path>, options: WalOptions) -> Result<Wal, StoreError> {
        let dir = dir.as_ref().to_path_buf();
        let io = Arc::clone(&options.io);
        if !dir.exists() {
            fs::create_dir_all(&dir).map_err(|e| StoreError::io("create directory", &dir, e))?;
            if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
                io.sync_dir(parent).map_err(|e| StoreError::io("fsync directory", parent, e))?;
            }
        }
        let recovered = recovery::recover(&dir)?;
        if !recovered.stray.is_empty() {
            for path in &recovered.stray {
                fs::remove_file(path).map_err(|e| StoreError::io("delete stray file", path, e))?;
            }
            io.sync_dir(&dir).map_err(|e| StoreError::io("fsync directory", &dir, e))?;
        }
        let mut image = recovered.image;
        let restored = image.restored();
        image.forget_entries();
        let synced_snapshot = image.snapshot_index();
        let mut wal = Wal {
            active: match recovered.segments.back() {
                Some(last) => {
                    let path = dir.join(segment_name(last.number));
                    let file = OpenOptions::new()
                        .append(true)
                        .open(&path)
                        .map_err(|e| StoreError::io("open segment", &path, e))?;
                    if recovered.last_len < recovered.last_file_len {
                        // Cut the torn tail, durably, before appending.
                        file.set_len(recovered.last_len)
                            .map_err(|e| StoreError::io("truncate torn tail of", &path, e))?;
                        io.sync_file(&file, &path).map_err(|e| StoreError::io("fsync segment", &path, e))?;
                    }
                    file
                }
                None => create_segment(&dir, io.as_ref(), 1, &image, recovered.next_lsn)?,
            },
            active_len: recovered.last_len,
            active_records: recovered.last_records,
            next_lsn: recovered.next_lsn,
            segments: recovered.segments,
            dir,
            options,
            image,
            recovered: Some(restored),
            seq: 0,
            durable_seq: 0,
            snapshot_files: recovered.snapshot_files,
            synced_snapshot,
            receiving: None,
            stopped: None,
            buf: Vec::new(),
        };
        if wal.segments.is_empty() {
            // A new WAL: segment 1 holds its base record (lsn 1).
            wal.segments.push_back(Segment { number: 1, max_index: Index::ZERO });
            wal.active_len = fs::metadata(wal.segment_path(1)).map_err(|e| StoreError::io("stat", &wal.dir, e))?.len();
            wal.next_lsn += 1;
        }
        Ok(wal)
    }

    /// The directory the WAL lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn segment_path(&self, number: u64) -> PathBuf {
        self.dir.join(segment_name(number))
    }

    fn check_running(&self) -> Result<(), StoreError> {
        match &self.stopped {
            Some(cause) => Err(StoreError::Stopped { cause: cause.clone() }),
            None => Ok(()),
        }
    }

    /// Fail-stop: remembers the first failure; every later call errs.
    fn stop_on_error<T>(&mut self, result: Result<T, StoreError>) -> Result<T, StoreError> {
        if let Err(e) = &result {
            self.stopped.get_or_insert_with(|| e.to_string());
        }
        result
    }

    fn write_batch(&mut self, batch: &[Persist]) -> Result<(), StoreError> {
        let io = Arc::clone(&self.options.io);
        let mut must_sync = false;
        self.buf.clear();
        for p in batch {
            if let Some(chunk) = &p.snapshot_chunk {
                self.write_chunk(chunk, io.as_ref())?;
            }
            if let (Some(meta), Some(_)) = (&p.snapshot, &p.snapshot_chunk) {
                // The last chunk: the file is durable under its final name
                // before the record that refers to it is written.
                if let Some((_, writer)) = self.receiving.take() {
                    writer.finish(&self.dir, meta.last.index, io.as_ref())?;
                    self.snapshot_files.insert(meta.last.index);
                }
            }
            if self.active_records > 0 && self.active_len + self.buf.len() as u64 >= self.options.segment_bytes {
                self.rotate(io.as_ref())?;
            }
            let lsn = self.next_lsn;
            put_record(&mut self.buf, format::KIND_PERSIST, lsn, |buf| {
                put_persist_body(buf, p.snapshot.as_deref(), p.truncate_from, &p.entries, p.hard_state);
            })
            .ok_or(StoreError::InvalidPersist { seq: p.seq, reason: "record too large" })?;
            self.next_lsn += 1;
            self.active_records += 1;
            self.image
                .apply(p.snapshot.as_deref(), p.truncate_from, &p.entries, p.hard_state)
                .map_err(|reason| StoreError::InvalidPersist { seq: p.seq, reason })?;
            if let (Some(e), Some(segment)) = (p.entries.last(), self.segments.back_mut()) {
                segment.max_index = segment.max_index.max(e.index);
            }
            must_sync |= p.must_sync;
        }
        self.flush(io.as_ref())?;
        if must_sync {
            let path = self.active_path();
            io.sync_file(&self.active, &path).map_err(|e| StoreError::io("fsync segment", &path, e))?;
            self.synced_snapshot = self.image.snapshot_index();
            self.collect_garbage(io.as_ref())?;
        }
        Ok(())
    }

    fn active_path(&self) -> PathBuf {
        self.segment_path(self.segments.back().map_or(1, |s| s.number))
    }

    /// Writes the buffered records to the active segment.
    fn flush(&mut self, io: &dyn DiskIo) -> Result<(), StoreError> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let path = self.active_path();
        io.write(&mut self.active, &path, &self.buf).map_err(|e| StoreError::io("write segment", &path, e))?;
        self.active_len += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }

    /// Seals the active segment (fsync'd in full) and starts the next one.
    fn rotate(&mut self, io: &dyn DiskIo) -> Result<(), StoreError> {
        self.flush(io)?;
        let path = self.active_path();
        io.sync_file(&self.active, &path).map_err(|e| StoreError::io("fsync segment", &path, e))?;
        let number = self.segments.back().map_or(1, |s| s.number + 1);
        self.active = create_segment(&self.dir, io, number, &self.image, self.next_lsn)?;
        self.next_lsn += 1;
        self.segments.push_back(Segment { number, max_index: Index::ZERO });
        self.active_len = fs::metadata(self.segment_path(number))
            .map_err(|e| StoreError::io("stat", self.segment_path(number), e))?
            .len();
        self.active_records = 0;
        Ok(())
    }

    /// Deletes segments and snapshot files a durable snapshot made useless.
    fn collect_garbage(&mut self, io: &dyn DiskIo) -> Result<(), StoreError> {
        while self.segments.len() > 1 && self.segments[0].max_index <= self.synced_snapshot {
            let path = self.segment_path(self.segments[0].number);
            fs::remove_file(&path).map_err(|e| StoreError::io("delete segment", &path, e))?;
            // One directory fsync per deleted segment keeps the remaining
            // segments contiguous whatever a crash keeps.
            io.sync_dir(&self.dir).map_err(|e| StoreError::io("fsync directory", &self.dir, e))?;
            self.segments.pop_front();
        }
        let old: Vec<Index> = self.snapshot_files.range(..self.synced_snapshot).copied().collect();
        if !old.is_empty() {
            for index in old {
                let path = self.dir.join(snapshot_file::file_name(index));
                fs::remove_file(&path).map_err(|e| StoreError::io("delete snapshot file", &path, e))?;
                self.snapshot_files.remove(&index);
            }
            io.sync_dir(&self.dir).map_err(|e| StoreError::io("fsync directory", &self.dir, e))?;
        }
        Ok(())
    }

    /// Writes a received chunk to the snapshot being assembled.
    fn write_chunk(&mut self, chunk: &SnapshotChunk, io: &dyn DiskIo) -> Result<(), StoreError> {
        if chunk.offset == 0 {
            let writer = SnapshotWriter::create(self.dir.join(snapshot_file::PARTIAL_NAME), io)?;
            let r = Receiving { id: chunk.id, next_offset: 0, total_len: chunk.total_len };
            self.receiving = Some((r, writer));
        }
        if let Some((r, writer)) = &mut self.receiving {
            writer.write(&chunk.data, io)?;
            r.next_offset += chunk.data.len() as u64;
        }
        Ok(())
    }
}

/// Creates segment `number` with its header and a base record (`lsn`)
/// holding `image`'s state: under a temporary name, fsync'd, renamed,
/// directory fsync'd. Returns it open for appending.
fn create_segment(dir: &Path, io: &dyn DiskIo, number: u64, image: &LogImage, lsn: u64) -> Result<File, StoreError> {
    let tmp = dir.join(segment_tmp_name(number));
    let path = dir.join(segment_name(number));
    let mut buf = segment_header(number).to_vec();
    put_record(&mut buf, format::KIND_BASE, lsn, |b| {
        put_base_body(b, image.last_index, image.snapshot.as_ref(), image.hard_state);
    })
    .ok_or(StoreError::InvalidPersist { seq: 0, reason: "base record too large" })?;
    let mut file = File::create(&tmp).map_err(|e| StoreError::io("create segment", &tmp, e))?;
    io.write(&mut file, &tmp, &buf).map_err(|e| StoreError::io("write segment", &tmp, e))?;
    io.sync_file(&file, &tmp).map_err(|e| StoreError::io("fsync segment", &tmp, e))?;
    fs::rename(&tmp, &path).map_err(|e| StoreError::io("rename segment", &tmp, e))?;
    io.sync_dir(dir).map_err(|e| StoreError::io("fsync directory", dir, e))?;
    Ok(file)
}

impl LogStore for Wal {
    fn load(&mut self) -> Result<RestoredState, StoreError> {
        self.check_running()?;
        self.seq = 0;
        self.durable_seq = 0;
        self.receiving = None;
        if let Some(state) = self.recovered.take() {
            return Ok(state);
        }
        // A later incarnation on the same open WAL: replay what is written.
        let result = recovery::recover(&self.dir).map(|r| r.image.restored());
        self.stop_on_error(result)
    }

    fn persist(&mut self, batch: &[Persist]) -> Result<u64, StoreError> {
        self.check_running()?;
        let Some(last) = batch.last() else { return Ok(self.durable_seq) };
        let mut cursor = self.image.cursor(self.seq, self.receiving.as_ref().map(|(r, _)| *r));
        for p in batch {
            cursor.advance(p, |index| self.snapshot_files.contains(&index))?;
            if record_len_bound(p) > MAX_RECORD_BODY {
                return Err(StoreError::InvalidPersist { seq: p.seq, reason: "record too large" });
            }
        }
        // Any failure from here on may leave part of the batch written:
        // fail-stop.
        self.recovered = None;
        let result = self.write_batch(batch);
        self.stop_on_error(result)?;
        self.seq = last.seq;
        self.durable_seq = last.seq;
        Ok(self.durable_seq)
    }

    fn durable_seq(&self) -> u64 {
        self.durable_seq
    }

    fn save_snapshot(&mut self, index: Index, data: &[u8]) -> Result<(), StoreError> {
        self.check_running()?;
        let io = Arc::clone(&self.options.io);
        let result = SnapshotWriter::create(self.dir.join(snapshot_file::tmp_name(index)), io.as_ref())
            .and_then(|mut w| w.write(data, io.as_ref()).map(|()| w))
            .and_then(|w| w.finish(&self.dir, index, io.as_ref()));
        self.stop_on_error(result)?;
        self.snapshot_files.insert(index);
        Ok(())
    }

    fn snapshot(&self) -> Result<Option<StoredSnapshot>, StoreError> {
        self.check_running()?;
        let Some(meta) = &self.image.snapshot else { return Ok(None) };
        if meta.last.index == Index::ZERO {
            return Ok(None);
        }
        let data = snapshot_file::read(&self.dir.join(snapshot_file::file_name(meta.last.index)), meta.last.index)?;
        Ok(Some(StoredSnapshot { meta: meta.clone(), data }))
    }
}

/// An upper bound of the encoded length of `p`'s record body.
fn record_len_bound(p: &Persist) -> u64 {
    let conf = p.snapshot.as_ref().map_or(0, |m| {
        let c = &m.conf_state;
        let ids = c.voters.len()
            + c.learners.len()
            + c.witnesses.len()
            + c.voters_outgoing.len()
            + c.witnesses_outgoing.len()
            + c.learners_next.len()
            + c.removed.len();
        64 + 16 * ids as u64
    });
    let entries: u64 = p.entries.iter().map(|e| 22 + e.payload.len() as u64).sum();
    128 + conf + entries
}
