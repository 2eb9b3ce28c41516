//! Durability: group commit, nothing acknowledged before its fsync, and
//! fail-stop on a failed write or fsync.

use super::*;
use crate::storage::{RestoredState, StoreError};

#[test]
fn a_batch_is_one_fsync_and_commit_only_persists_need_none() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut wal, hook) = open_fast(dir.path(), 1 << 20);
    wal.load().expect("load");
    let before = hook.state().syncs();
    let batch: Vec<Persist> = (1..=10).map(|i| append(i, vec![entry(1, i, b"x")], 1)).collect();
    assert_eq!(wal.persist(&batch).expect("persist"), 10);
    assert_eq!(hook.state().syncs() - before, 1, "group commit: one fsync for ten Persists");
    {
        // The fsync came after the write of all ten records.
        let s = hook.state();
        let tail: Vec<&str> = s.calls.iter().rev().take(2).map(|(op, _)| *op).collect();
        assert_eq!(tail, ["sync", "write"]);
    }

    let commit_only: Vec<Persist> = (11..=13)
        .map(|seq| Persist {
            seq,
            hard_state: Some(HardState { term: Term(1), vote: Some(NodeId(1)), commit: Index(seq - 5) }),
            must_sync: false,
            ..Persist::default()
        })
        .collect();
    let before = hook.state().syncs();
    assert_eq!(wal.persist(&commit_only).expect("persist"), 13);
    assert_eq!(hook.state().syncs(), before, "commit-only Persists cause no fsync");

    // A batch mixing both syncs once, at its end.
    let mut mixed = commit_only.clone();
    for (i, p) in mixed.iter_mut().enumerate() {
        p.seq = 14 + i as u64;
    }
    mixed[1] = append(15, vec![entry(1, 11, b"y")], 1);
    assert_eq!(wal.persist(&mixed).expect("persist"), 16);
    assert_eq!(hook.state().syncs(), before + 1);
}

#[test]
fn nothing_reported_durable_is_lost_in_a_crash() {
    for seed in 0..24 {
        let dir = tempfile::tempdir().expect("tempdir");
        let segment_bytes = [300, 4 << 10, 1 << 20][seed as usize % 3];
        let (mut wal, hook) = open_fast(dir.path(), segment_bytes);
        let mut mem = MemStore::new();
        wal.load().expect("load");
        mem.load().expect("load");
        let mut gen = Gen::new(1000 + seed);
        // The reference state after every seq of this incarnation, and
        // whether that Persist needed an fsync.
        let mut states: Vec<RestoredState> = vec![fresh_state(&[])];
        let mut all: Vec<Persist> = Vec::new();
        for step in 0..60 {
            let Step::Persist { saves, batches } = gen.step() else { break };
            for (index, data) in &saves {
                wal.save_snapshot(*index, data).expect("save");
                mem.save_snapshot(*index, data).expect("save");
            }
            for batch in batches {
                let durable = wal.persist(&batch).expect("persist");
                mem.persist(&batch).expect("persist");
                for p in &batch {
                    all.push(p.clone());
                    states.push(fresh_state(&all));
                }
                // Every seq up to `durable` that needed an fsync survives
                // a crash now; later ones (none) and unsynced commit-only
                // ones may not.
                let last_synced = all.iter().filter(|p| p.must_sync && p.seq <= durable).map(|p| p.seq).max();
                let low = last_synced.unwrap_or(0) as usize;
                let crash = tempfile::tempdir().expect("tempdir");
                let mut rng = Rng::new(seed * 1000 + step);
                hook.crash_image(dir.path(), crash.path(), |unsynced| rng.below(unsynced + 1));
                let mut after = Wal::open(crash.path(), WalOptions::default().io(Arc::new(Hook::new())))
                    .unwrap_or_else(|e| panic!("seed {seed} step {step}: crash image does not open: {e}"));
                let got = after.load().expect("load");
                assert!(
                    states[low..=durable as usize].contains(&got),
                    "seed {seed} step {step}: a crash lost a Persist reported durable (durable {durable}, last \
                     synced {low})"
                );
            }
        }
    }
}

/// The state a fresh store holds after `persists`.
fn fresh_state(persists: &[Persist]) -> RestoredState {
    let mut m = MemStore::new();
    m.load().expect("load");
    // Snapshot data is not part of the restored state: pretend it is there.
    for p in persists {
        if let Some(meta) = &p.snapshot {
            m.save_snapshot(meta.last.index, b"").expect("save");
        }
    }
    m.persist(persists).expect("replay");
    m.load().expect("load")
}

fn assert_stopped(wal: &mut Wal, next_seq: u64) {
    let err = wal.persist(&[append(next_seq, vec![entry(9, 100, b"never")], 9)]).expect_err("stopped");
    assert!(matches!(err, StoreError::Stopped { .. }), "{err}");
    assert!(matches!(wal.load(), Err(StoreError::Stopped { .. })));
    assert!(matches!(wal.save_snapshot(Index(1), b"s"), Err(StoreError::Stopped { .. })));
    assert!(matches!(wal.snapshot(), Err(StoreError::Stopped { .. })));
    assert!(matches!(wal.persist(&[]), Err(StoreError::Stopped { .. })));
}

#[test]
fn a_failed_fsync_stops_the_store_for_good() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut wal, hook) = open_fast(dir.path(), 1 << 20);
    wal.load().expect("load");
    wal.persist(&[append(1, vec![entry(1, 1, b"a")], 1)]).expect("persist");
    hook.state().fail_sync_in = Some(1);
    let err = wal.persist(&[append(2, vec![entry(1, 2, b"b")], 1)]).expect_err("fsync fails");
    assert!(matches!(&err, StoreError::Io { op: "fsync segment", .. }), "{err}");
    assert_eq!(wal.durable_seq(), 1, "nothing more is reported durable");
    // Never retry and acknowledge: the same batch is refused too.
    let err = wal.persist(&[append(2, vec![entry(1, 2, b"b")], 1)]).expect_err("stopped");
    match &err {
        StoreError::Stopped { cause } => assert!(cause.contains("injected fsync failure"), "{cause}"),
        e => panic!("{e}"),
    }
    assert_stopped(&mut wal, 3);
    assert_eq!(wal.durable_seq(), 1);
    drop(wal);

    // A restart recovers what the disk holds: at least seq 1.
    let (mut wal, _) = open_fast(dir.path(), 1 << 20);
    let state = wal.load().expect("load");
    assert!(!state.entries.is_empty());
}

#[test]
fn a_failed_write_stops_the_store_and_the_torn_record_is_cut_at_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut wal, hook) = open_fast(dir.path(), 1 << 20);
    wal.load().expect("load");
    wal.persist(&[append(1, vec![entry(1, 1, b"a")], 1)]).expect("persist");
    hook.state().fail_write = true;
    let batch = [append(2, vec![entry(1, 2, &[5; 300])], 1), append(3, vec![entry(1, 3, &[6; 300])], 1)];
    let err = wal.persist(&batch).expect_err("write fails");
    assert!(matches!(&err, StoreError::Io { op: "write segment", .. }), "{err}");
    assert_eq!(wal.durable_seq(), 1);
    assert_stopped(&mut wal, 2);
    drop(wal);
    let (mut wal, _) = open_fast(dir.path(), 1 << 20);
    let state = wal.load().expect("load");
    // Half the batch reached the file: the first record whole (it is
    // shorter than half), the second torn and cut.
    assert_eq!(state.entries.len(), 2);
}

#[test]
fn a_failed_fsync_during_rotation_or_snapshot_stops_the_store() {
    // Rotation: the sealing fsync of the old segment fails.
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut wal, hook) = open_fast(dir.path(), 1);
    wal.load().expect("load");
    wal.persist(&[append(1, vec![entry(1, 1, b"a")], 1)]).expect("persist");
    hook.state().fail_sync_in = Some(1);
    let err = wal.persist(&[append(2, vec![entry(1, 2, b"b")], 1)]).expect_err("fails");
    assert!(matches!(&err, StoreError::Io { .. }), "{err}");
    assert_stopped(&mut wal, 3);

    // Snapshot file: its fsync fails.
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut wal, hook) = open_fast(dir.path(), 1 << 20);
    wal.load().expect("load");
    wal.persist(&[append(1, vec![entry(1, 1, b"a")], 1)]).expect("persist");
    hook.state().fail_sync_in = Some(1);
    let err = wal.save_snapshot(Index(1), b"state").expect_err("fails");
    assert!(matches!(&err, StoreError::Io { op: "fsync snapshot file", .. }), "{err}");
    assert_stopped(&mut wal, 2);
}

#[test]
fn the_real_disk_io_round_trips() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("new").join("wal");
    let mut wal = Wal::open(&path, WalOptions::default().segment_bytes(256)).expect("open");
    wal.load().expect("load");
    for seq in 1..=20 {
        wal.persist(&[append(seq, vec![entry(1, seq, &[seq as u8; 50])], 1)]).expect("persist");
    }
    wal.save_snapshot(Index(15), b"state at 15").expect("save");
    let meta = SnapshotMeta { last: EntryId::new(Term(1), Index(15)), conf_state: ConfState::with_voters([NodeId(1)]) };
    wal.persist(&[Persist { seq: 21, snapshot: Some(Box::new(meta.clone())), must_sync: true, ..Persist::default() }])
        .expect("persist");
    drop(wal);
    let mut wal = Wal::open(&path, WalOptions::default()).expect("open");
    let state = wal.load().expect("load");
    assert_eq!(state.snapshot, Some(meta));
    assert_eq!(state.applied, Index(15));
    assert_eq!(state.entries.iter().map(|e| e.index.0).collect::<Vec<_>>(), (16..=20).collect::<Vec<_>>());
    assert_eq!(wal.snapshot().expect("snapshot").expect("some").data, Bytes::from_static(b"state at 15"));
}
