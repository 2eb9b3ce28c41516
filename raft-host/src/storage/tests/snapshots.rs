//! Snapshots: compaction deletes what a durable snapshot covers; received
//! chunks are assembled into a file, across a restart mid-transfer.

use super::*;
use crate::storage::StoreError;

fn meta(term: u64, index: u64) -> SnapshotMeta {
    SnapshotMeta {
        last: EntryId::new(Term(term), Index(index)),
        conf_state: ConfState::with_voters([NodeId(1), NodeId(2), NodeId(3)]),
    }
}

fn install(seq: u64, m: SnapshotMeta) -> Persist {
    Persist { seq, snapshot: Some(Box::new(m)), must_sync: true, ..Persist::default() }
}

fn snapshot_files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .expect("dir")
        .map(|e| e.expect("entry").file_name().into_string().expect("utf-8"))
        .filter(|n| n.starts_with("snapshot"))
        .collect();
    v.sort();
    v
}

#[test]
fn recovery_after_a_snapshot_and_segment_deletion() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut wal, _) = open_fast(dir.path(), 512);
    let mut mem = MemStore::new();
    wal.load().expect("load");
    mem.load().expect("load");
    let mut rng = Rng::new(5);
    let persists: Vec<Persist> =
        (1..=40).map(|i| append(i, vec![Entry::normal(Term(1), Index(i), payload(&mut rng, 100))], 1)).collect();
    for p in &persists {
        apply_step(&[], &[vec![p.clone()]], &mut wal, &mut mem);
    }
    let before = segment_files(dir.path()).len();
    assert!(before >= 10, "{before} segments");

    let data30 = payload(&mut rng, 700);
    apply_step(&[(Index(30), data30.clone())], &[vec![install(41, meta(1, 30))]], &mut wal, &mut mem);
    let after = segment_files(dir.path());
    assert!(after.len() < before, "compaction deleted no segment ({before} before, {} after)", after.len());
    // Only segments holding no entry above 30 went, oldest first.
    assert!(!after.iter().any(|p| p.ends_with("00000000000000000001.wal")));
    assert_eq!(snapshot_files(dir.path()), ["snapshot-00000000000000000030.snap"]);

    let data38 = payload(&mut rng, 300);
    apply_step(&[(Index(38), data38.clone())], &[vec![install(42, meta(1, 38))]], &mut wal, &mut mem);
    assert_eq!(snapshot_files(dir.path()), ["snapshot-00000000000000000038.snap"], "the older snapshot file goes");
    drop(wal);

    let (mut wal, _) = open_fast(dir.path(), 512);
    let state = wal.load().expect("load");
    assert_eq!(state, mem.load().expect("load"));
    assert_eq!(state.snapshot, Some(meta(1, 38)));
    assert_eq!(state.applied, Index(38));
    assert_eq!(state.entries.iter().map(|e| e.index.0).collect::<Vec<_>>(), [39, 40]);
    assert_eq!(wal.snapshot().expect("snapshot").expect("some").data, data38);

    // The log goes on after the restart, and survives the next one.
    let more: Vec<Persist> = (41..=50).map(|i| append(i - 40, vec![entry(2, i, b"more")], 2)).collect();
    apply_step(&[], &[more], &mut wal, &mut mem);
    drop(wal);
    let (mut wal, _) = open_fast(dir.path(), 512);
    assert_eq!(wal.load().expect("load"), mem.load().expect("load"));
}

fn chunk(seq: u64, id: SnapshotId, data: &Bytes, range: core::ops::Range<usize>) -> Persist {
    Persist {
        seq,
        snapshot_chunk: Some(SnapshotChunk {
            id,
            offset: range.start as u64,
            data: data.slice(range),
            total_len: data.len() as u64,
        }),
        ..Persist::default()
    }
}

#[test]
fn snapshot_chunks_are_assembled_across_a_restart_mid_transfer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut wal, _) = open_fast(dir.path(), 1 << 20);
    wal.load().expect("load");
    let entries: Vec<Entry> = (1..=5).map(|i| entry(1, i, b"old")).collect();
    wal.persist(&[append(1, entries, 1)]).expect("persist");

    let mut rng = Rng::new(8);
    let data = payload(&mut rng, 3000);
    let id = SnapshotId { leader_term: Term(2), last: EntryId::new(Term(2), Index(20)) };
    wal.persist(&[chunk(2, id, &data, 0..1000)]).expect("chunk");
    wal.persist(&[chunk(3, id, &data, 1000..2000)]).expect("chunk");
    assert!(dir.path().join("snapshot.partial").exists());
    drop(wal);

    // Restart mid-transfer: the partial file is gone, the log is as before.
    let (mut wal, _) = open_fast(dir.path(), 1 << 20);
    let state = wal.load().expect("load");
    assert_eq!(state.entries.len(), 5);
    assert_eq!(state.snapshot, None);
    assert!(!dir.path().join("snapshot.partial").exists());

    // The restarted core asks for the snapshot from offset 0: a chunk that
    // continues the old transfer is a host bug, refused without stopping.
    let err = wal.persist(&[chunk(1, id, &data, 2000..3000)]).expect_err("not from offset 0");
    assert!(matches!(err, StoreError::InvalidPersist { seq: 1, .. }), "{err}");

    // Another snapshot's first chunk, then the transfer switches back.
    let other = SnapshotId { leader_term: Term(2), last: EntryId::new(Term(2), Index(15)) };
    wal.persist(&[chunk(1, other, &data, 0..500)]).expect("chunk");
    wal.persist(&[chunk(2, id, &data, 0..1500)]).expect("chunk");
    let mut last = chunk(3, id, &data, 1500..3000);
    last.snapshot = Some(Box::new(meta(2, 20)));
    last.truncate_from = Some(Index(21));
    last.must_sync = true;
    wal.persist(&[last]).expect("install");
    let got = wal.snapshot().expect("snapshot").expect("some");
    assert_eq!(got.meta, meta(2, 20));
    assert_eq!(got.data, data);
    assert_eq!(snapshot_files(dir.path()), ["snapshot-00000000000000000020.snap"]);
    drop(wal);

    let (mut wal, _) = open_fast(dir.path(), 1 << 20);
    let state = wal.load().expect("load");
    assert_eq!(state.snapshot, Some(meta(2, 20)));
    assert!(state.entries.is_empty());
    assert_eq!(state.applied, Index(20));
    assert_eq!(wal.snapshot().expect("snapshot").expect("some").data, data);
}

#[test]
fn a_snapshot_without_data_is_refused_without_stopping_the_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut wal, _) = open_fast(dir.path(), 1 << 20);
    wal.load().expect("load");
    wal.persist(&[append(1, (1..=3).map(|i| entry(1, i, b"e")).collect(), 1)]).expect("persist");
    let err = wal.persist(&[install(2, meta(1, 3))]).expect_err("no data");
    assert!(matches!(err, StoreError::MissingSnapshotData { index: Index(3) }), "{err}");
    wal.save_snapshot(Index(3), b"three").expect("save");
    assert_eq!(wal.persist(&[install(2, meta(1, 3))]).expect("persist"), 2);
    let mut mem = MemStore::new();
    mem.load().expect("load");
    assert!(matches!(mem.persist(&[install(1, meta(1, 3))]), Err(StoreError::MissingSnapshotData { .. })));
}

#[test]
fn the_bootstrap_configuration_at_index_0_needs_no_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut wal, _) = open_fast(dir.path(), 1 << 20);
    wal.load().expect("load");
    wal.persist(&[install(1, meta(0, 0))]).expect("persist");
    assert_eq!(wal.snapshot().expect("snapshot"), None);
    drop(wal);
    let (mut wal, _) = open_fast(dir.path(), 1 << 20);
    assert_eq!(wal.load().expect("load").snapshot, Some(meta(0, 0)));
}
