//! Tests of the stores: a generator of valid Persist sequences, I/O hooks
//! (counting, failing, modelling a crash), and helpers on WAL directories.

mod durability;
mod node;
mod recovery;
mod roundtrip;
mod snapshots;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use raft_sansio::proto::SnapshotId;
use raft_sansio::rng::Rng;
use raft_sansio::{
    ConfState, Entry, EntryId, EntryKind, HardState, Index, NodeId, Persist, SnapshotChunk, SnapshotMeta, Term,
};

use super::{DiskIo, LogStore, MemStore, Wal, WalOptions};

/// What the hook saw and what it should do.
#[derive(Debug, Default)]
pub(super) struct HookState {
    /// Every call, in order: ("write" | "sync" | "sync_dir", file name).
    pub(super) calls: Vec<(&'static str, String)>,
    /// Fail the next this-many-th sync_file (1 = the next one).
    pub(super) fail_sync_in: Option<u32>,
    /// Fail the next write.
    pub(super) fail_write: bool,
    /// Crash model: the length of each file at its last fsync.
    synced_len: BTreeMap<PathBuf, u64>,
    /// Crash model: the names the directory holds durably.
    durable_names: BTreeSet<PathBuf>,
}

impl HookState {
    /// How many sync_file calls were made.
    pub(super) fn syncs(&self) -> usize {
        self.calls.iter().filter(|(op, _)| *op == "sync").count()
    }
}

/// A [`DiskIo`] that records calls, can fail on demand, models what a crash
/// keeps, and (unless `real_sync`) skips the real fsync so that tests with
/// thousands of them stay fast.
#[derive(Clone, Debug, Default)]
pub(super) struct Hook {
    state: Arc<Mutex<HookState>>,
    real_sync: bool,
}

impl Hook {
    pub(super) fn new() -> Hook {
        Hook::default()
    }

    pub(super) fn state(&self) -> MutexGuard<'_, HookState> {
        self.state.lock().expect("hook lock")
    }

    pub(super) fn options(&self) -> WalOptions {
        WalOptions::default().io(Arc::new(self.clone()))
    }

    /// What a crash right now would leave of `dir`, written to `to`: every
    /// durable name, cut at its last fsync'd length, plus the first
    /// `extra(name, unsynced_len)` bytes of what was written after it (a
    /// torn tail).
    pub(super) fn crash_image(&self, dir: &Path, to: &Path, mut extra: impl FnMut(u64) -> u64) {
        let state = self.state();
        for name in &state.durable_names {
            let synced = state.synced_len.get(name).copied().unwrap_or(0);
            let data = fs::read(dir.join(name)).expect("read durable file");
            let keep = (synced + extra(data.len() as u64 - synced.min(data.len() as u64))) as usize;
            fs::write(to.join(name), &data[..keep.min(data.len())]).expect("write crash image");
        }
    }
}

fn file_name(path: &Path) -> PathBuf {
    PathBuf::from(path.file_name().expect("a file name"))
}

impl DiskIo for Hook {
    fn write(&self, file: &mut File, path: &Path, buf: &[u8]) -> io::Result<()> {
        let mut s = self.state();
        s.calls.push(("write", file_name(path).display().to_string()));
        if core::mem::take(&mut s.fail_write) {
            // A short write: half of it reaches the file.
            io::Write::write_all(file, &buf[..buf.len() / 2])?;
            return Err(io::Error::other("injected write failure"));
        }
        io::Write::write_all(file, buf)
    }

    fn sync_file(&self, file: &File, path: &Path) -> io::Result<()> {
        let mut s = self.state();
        s.calls.push(("sync", file_name(path).display().to_string()));
        if let Some(n) = s.fail_sync_in {
            if n <= 1 {
                s.fail_sync_in = None;
                return Err(io::Error::other("injected fsync failure"));
            }
            s.fail_sync_in = Some(n - 1);
        }
        if self.real_sync {
            file.sync_data()?;
        }
        let len = file.metadata()?.len();
        s.synced_len.insert(file_name(path), len);
        Ok(())
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        let mut s = self.state();
        s.calls.push(("sync_dir", String::new()));
        let mut names = BTreeSet::new();
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            let name = PathBuf::from(entry.file_name());
            // A renamed file was fsync'd under its temporary name, and not
            // written since.
            if !s.synced_len.contains_key(&name) {
                let len = entry.metadata()?.len();
                s.synced_len.insert(name.clone(), len);
            }
            names.insert(name);
        }
        s.synced_len.retain(|name, _| names.contains(name) || name.extension().is_some_and(|e| e == "tmp"));
        s.durable_names = names;
        Ok(())
    }
}

/// The segment files of `dir`, oldest first.
pub(super) fn segment_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "wal"))
        .collect();
    v.sort();
    v
}

/// The length of the last segment of `dir`.
pub(super) fn last_segment_len(dir: &Path) -> u64 {
    let segments = segment_files(dir);
    fs::metadata(segments.last().expect("a segment")).expect("stat").len()
}

/// Copies every file of `from` into `to`.
pub(super) fn copy_dir(from: &Path, to: &Path) {
    for entry in fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        fs::copy(entry.path(), to.join(entry.file_name())).expect("copy");
    }
}

/// A WAL in `dir` without real fsyncs (the hook's crash model still holds).
pub(super) fn open_fast(dir: &Path, segment_bytes: u64) -> (Wal, Hook) {
    let hook = Hook::new();
    let wal = Wal::open(dir, hook.options().segment_bytes(segment_bytes)).expect("open");
    (wal, hook)
}

/// A payload of `len` pseudo-random bytes.
pub(super) fn payload(rng: &mut Rng, len: usize) -> Bytes {
    (0..len).map(|_| rng.next_u64() as u8).collect::<Vec<u8>>().into()
}

/// A plain entry with a payload.
pub(super) fn entry(term: u64, index: u64, data: &[u8]) -> Entry {
    Entry::normal(Term(term), Index(index), Bytes::copy_from_slice(data))
}

/// A Persist appending `entries` with a hard state.
pub(super) fn append(seq: u64, entries: Vec<Entry>, term: u64) -> Persist {
    let commit = entries.first().map_or(Index(0), |e| e.index.prev());
    Persist {
        seq,
        entries: entries.into(),
        hard_state: Some(HardState { term: Term(term), vote: Some(NodeId(1)), commit }),
        must_sync: true,
        ..Persist::default()
    }
}

/// A step of a generated history.
#[derive(Debug)]
pub(super) enum Step {
    /// Save these snapshots, then persist the batches one call each.
    Persist { saves: Vec<(Index, Bytes)>, batches: Vec<Vec<Persist>> },
    /// Restart the node: reopen the store and load it.
    Restart,
}

/// Generates valid Persist sequences: appends, conflicting truncations,
/// hard states, commit-only Persists, host snapshots, received snapshots in
/// chunks (continuing the log or replacing it), and restarts.
pub(super) struct Gen {
    pub(super) rng: Rng,
    seq: u64,
    term: u64,
    /// The term of every index ever held (index i at i - 1), compacted or not.
    terms: Vec<u64>,
    snapshot: u64,
    commit: u64,
    conf: ConfState,
}

impl Gen {
    pub(super) fn new(seed: u64) -> Gen {
        Gen {
            rng: Rng::new(seed),
            seq: 0,
            term: 1,
            terms: Vec::new(),
            snapshot: 0,
            commit: 0,
            conf: ConfState::with_voters([NodeId(1), NodeId(2), NodeId(3)]),
        }
    }

    fn last(&self) -> u64 {
        self.terms.len() as u64
    }

    fn persist(&mut self) -> Persist {
        self.seq += 1;
        Persist { seq: self.seq, must_sync: true, ..Persist::default() }
    }

    fn hard_state(&mut self) -> HardState {
        let vote = match self.rng.below(3) {
            0 => None,
            v => Some(NodeId(v)),
        };
        if self.last() > self.commit && self.rng.chance(1, 2) {
            self.commit = self.rng.range(self.commit, self.last() + 1);
        }
        HardState { term: Term(self.term), vote, commit: Index(self.commit) }
    }

    fn entries(&mut self, n: u64) -> Vec<Entry> {
        (0..n)
            .map(|_| {
                self.terms.push(self.term);
                let len = if self.rng.chance(1, 10) { self.rng.range(1000, 5000) } else { self.rng.below(64) };
                let payload = payload(&mut self.rng, len as usize);
                let kind = match self.rng.below(10) {
                    0 => EntryKind::Noop,
                    1 => EntryKind::ConfChange,
                    _ => EntryKind::Normal,
                };
                let elided = self.rng.chance(1, 20);
                Entry {
                    term: Term(self.term),
                    index: Index(self.last()),
                    kind,
                    payload_elided: elided,
                    payload: if elided { Bytes::new() } else { payload },
                }
            })
            .collect()
    }

    /// The next step; `seq` restarts at 1 after a `Restart`.
    pub(super) fn step(&mut self) -> Step {
        if self.seq > 0 && self.rng.chance(1, 12) {
            self.seq = 0;
            return Step::Restart;
        }
        let mut saves = Vec::new();
        let mut persists = Vec::new();
        if self.seq == 0 && self.last() == 0 && self.snapshot == 0 && self.rng.chance(1, 2) {
            // A bootstrapped node's configuration at index 0.
            let mut p = self.persist();
            p.snapshot = Some(Box::new(SnapshotMeta { last: EntryId::ZERO, conf_state: self.conf.clone() }));
            persists.push(p);
        }
        for _ in 0..self.rng.range(1, 6) {
            match self.rng.below(12) {
                0..=4 => {
                    let mut p = self.persist();
                    if self.last() > self.commit.max(self.snapshot) && self.rng.chance(1, 4) {
                        let from = self.rng.range(self.commit.max(self.snapshot) + 1, self.last() + 1);
                        self.terms.truncate(from as usize - 1);
                        self.term += 1;
                        p.truncate_from = Some(Index(from));
                    }
                    let n = self.rng.range(1, 5);
                    p.entries = self.entries(n).into();
                    if self.rng.chance(1, 2) {
                        p.hard_state = Some(self.hard_state());
                    }
                    persists.push(p);
                }
                5 => {
                    self.term += 1;
                    let mut p = self.persist();
                    p.hard_state = Some(self.hard_state());
                    persists.push(p);
                }
                6..=8 => {
                    let mut p = self.persist();
                    p.hard_state = Some(self.hard_state());
                    p.must_sync = false;
                    persists.push(p);
                }
                9 | 10 if self.last() > self.snapshot => {
                    // The host's own snapshot.
                    let index = self.rng.range(self.snapshot + 1, self.last() + 1);
                    let len = self.rng.below(3000) as usize;
                    saves.push((Index(index), payload(&mut self.rng, len)));
                    let mut p = self.persist();
                    p.snapshot = Some(Box::new(self.meta(index)));
                    self.snapshot = index;
                    self.commit = self.commit.max(index);
                    persists.push(p);
                }
                _ => persists.extend(self.received_snapshot()),
            }
        }
        // Cut the Persists into consecutive batches (group commits).
        let mut batches = Vec::new();
        while !persists.is_empty() {
            let n = (self.rng.range(1, 4) as usize).min(persists.len());
            batches.push(persists.drain(..n).collect());
        }
        Step::Persist { saves, batches }
    }

    fn meta(&self, index: u64) -> SnapshotMeta {
        let term = self.terms[index as usize - 1];
        SnapshotMeta { last: EntryId::new(Term(term), Index(index)), conf_state: self.conf.clone() }
    }

    /// A snapshot received in chunks, the last with the metadata.
    fn received_snapshot(&mut self) -> Vec<Persist> {
        let replace = self.last() <= self.snapshot || self.rng.chance(1, 2);
        let (index, truncate) = if replace {
            // Beyond our log, from a newer leader: replaces the whole log.
            self.term += 1;
            let index = self.last() + self.rng.range(1, 10);
            self.terms.resize(index as usize, self.term);
            (index, true)
        } else {
            (self.rng.range(self.snapshot + 1, self.last() + 1), false)
        };
        let len = self.rng.below(4000) as usize;
        let data = payload(&mut self.rng, len);
        let id = SnapshotId {
            leader_term: Term(self.term),
            last: EntryId::new(Term(self.terms[index as usize - 1]), Index(index)),
        };
        let chunks = self.rng.range(1, 4) as usize;
        let mut out = Vec::new();
        let mut offset = 0;
        for i in 0..chunks {
            let end = if i + 1 == chunks { len } else { (offset + len / chunks).min(len) };
            let mut p = self.persist();
            p.must_sync = false;
            p.snapshot_chunk =
                Some(SnapshotChunk { id, offset: offset as u64, data: data.slice(offset..end), total_len: len as u64 });
            offset = end;
            out.push(p);
        }
        if let Some(p) = out.last_mut() {
            p.snapshot = Some(Box::new(self.meta(index)));
            if truncate {
                p.truncate_from = Some(Index(index + 1));
            }
            p.must_sync = true;
        }
        self.snapshot = index;
        self.commit = self.commit.max(index);
        out
    }
}

/// Persists every batch of `step` to both stores and checks they agree on
/// the durable seq.
pub(super) fn apply_step(saves: &[(Index, Bytes)], batches: &[Vec<Persist>], a: &mut dyn LogStore, b: &mut MemStore) {
    for (index, data) in saves {
        a.save_snapshot(*index, data).expect("save");
        b.save_snapshot(*index, data).expect("save");
    }
    for batch in batches {
        let got = a.persist(batch).expect("persist");
        let want = b.persist(batch).expect("reference persist");
        assert_eq!(got, want, "durable seq");
        assert_eq!(a.durable_seq(), got);
    }
}

#[test]
fn stores_can_move_to_a_blocking_task() {
    fn assert_send<T: Send + 'static>() {}
    assert_send::<Wal>();
    assert_send::<MemStore>();
    assert_send::<Box<dyn LogStore + Send>>();
}
