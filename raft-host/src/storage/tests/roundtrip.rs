//! Random histories: the WAL, reopened at random points, restores exactly
//! what the in-memory reference store holds.

use super::*;

/// Runs one generated history on a WAL with `segment_bytes` and on a
/// `MemStore`, comparing `load` and `snapshot` after every restart.
/// Returns how many segment files the WAL deleted.
fn run(seed: u64, steps: usize, segment_bytes: u64) -> u64 {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut gen = Gen::new(seed);
    let mut mem = MemStore::new();
    let (mut wal, _) = open_fast(dir.path(), segment_bytes);
    assert_eq!(wal.load().expect("load"), mem.load().expect("load"));
    for step in 0..steps {
        match gen.step() {
            Step::Persist { saves, batches } => apply_step(&saves, &batches, &mut wal, &mut mem),
            Step::Restart => {
                drop(wal);
                (wal, _) = open_fast(dir.path(), segment_bytes);
                let got = wal.load().expect("load");
                let want = mem.load().expect("load");
                assert_eq!(got, want, "seed {seed} step {step}: restored state");
                assert_eq!(
                    wal.snapshot().expect("snapshot"),
                    mem.snapshot().expect("snapshot"),
                    "seed {seed} step {step}: snapshot"
                );
            }
        }
    }
    drop(wal);
    let (mut wal, _) = open_fast(dir.path(), segment_bytes);
    assert_eq!(wal.load().expect("load"), mem.load().expect("load"), "seed {seed}: final restored state");
    assert_eq!(wal.snapshot().expect("snapshot"), mem.snapshot().expect("snapshot"));
    first_segment(&segment_files(dir.path())) - 1
}

fn first_segment(segments: &[PathBuf]) -> u64 {
    let name = segments[0].file_stem().expect("stem").to_str().expect("utf-8");
    name.parse().expect("a segment number")
}

#[test]
fn random_histories_restore_what_the_reference_holds() {
    let mut deleted = 0;
    for seed in 0..32 {
        let segment_bytes = [600, 2 << 10, 8 << 10, 1 << 20][seed as usize % 4];
        deleted += run(seed, 150, segment_bytes);
    }
    // Small segments and frequent snapshots: compaction must have run.
    assert!(deleted > 0, "no segment was ever deleted");
}

#[test]
fn a_load_without_reopening_reads_back_the_same_state() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut gen = Gen::new(99);
    let mut mem = MemStore::new();
    let (mut wal, _) = open_fast(dir.path(), 1 << 10);
    wal.load().expect("load");
    mem.load().expect("load");
    for _ in 0..100 {
        match gen.step() {
            Step::Persist { saves, batches } => apply_step(&saves, &batches, &mut wal, &mut mem),
            Step::Restart => {
                // A new incarnation on the same open store.
                assert_eq!(wal.load().expect("load"), mem.load().expect("load"));
            }
        }
    }
}

#[test]
fn the_first_persist_of_an_incarnation_is_seq_1() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut wal, _) = open_fast(dir.path(), 1 << 20);
    wal.load().expect("load");
    let err = wal.persist(&[append(2, vec![entry(1, 1, b"a")], 1)]).expect_err("seq 2 first");
    assert!(matches!(err, super::super::StoreError::InvalidPersist { seq: 2, .. }), "{err}");
    // Refused before writing: the store goes on.
    assert_eq!(wal.persist(&[append(1, vec![entry(1, 1, b"a")], 1)]).expect("persist"), 1);
    let err = wal.persist(&[append(2, vec![entry(1, 3, b"gap")], 1)]).expect_err("a gap");
    assert!(matches!(err, super::super::StoreError::InvalidPersist { seq: 2, .. }), "{err}");
    assert_eq!(wal.persist(&[]).expect("empty batch"), 1);
    assert_eq!(wal.persist(&[append(2, vec![entry(1, 2, b"b")], 1)]).expect("persist"), 2);
}
