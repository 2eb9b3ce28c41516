//! Recovery: torn tails are cut, damage in the middle is refused with the
//! file and offset.

use super::*;
use crate::storage::{Damage, RestoredState, StoreError};

/// A short history whose last Persist truncates and appends in one record.
fn history() -> Vec<Persist> {
    let mut commit_only = Persist { seq: 3, must_sync: false, ..Persist::default() };
    commit_only.hard_state = Some(HardState { term: Term(1), vote: Some(NodeId(1)), commit: Index(4) });
    let mut last =
        append(4, vec![entry(2, 4, b"four"), entry(2, 5, &[7; 40]), entry(2, 6, b""), entry(2, 7, b"seven")], 2);
    last.truncate_from = Some(Index(4));
    last.hard_state = Some(HardState { term: Term(2), vote: Some(NodeId(2)), commit: Index(4) });
    vec![
        append(1, vec![entry(1, 1, b"one"), entry(1, 2, b"two"), entry(1, 3, b"three")], 1),
        append(2, vec![entry(1, 4, b"4"), entry(1, 5, b"5")], 1),
        commit_only,
        last,
    ]
}

/// Writes `persists` one call each into a WAL in `dir`. Returns the last
/// segment's length before the first and after each, and the reference
/// state after each (index 0: empty).
fn write(dir: &Path, segment_bytes: u64, persists: &[Persist]) -> (Vec<u64>, Vec<RestoredState>) {
    let (mut wal, _) = open_fast(dir, segment_bytes);
    let mut mem = MemStore::new();
    wal.load().expect("load");
    let mut lens = vec![last_segment_len(dir)];
    let mut states = vec![mem.load().expect("load")];
    for (i, p) in persists.iter().enumerate() {
        apply_step(&[], &[vec![p.clone()]], &mut wal, &mut mem);
        lens.push(last_segment_len(dir));
        // The reference state after this Persist, from a fresh store (a
        // `load` of `mem` would start a new incarnation).
        let mut view = MemStore::new();
        view.load().expect("load");
        view.persist(&persists[..=i]).expect("replay");
        states.push(view.load().expect("load"));
    }
    (lens, states)
}

fn open_err(dir: &Path) -> StoreError {
    Wal::open(dir, WalOptions::default()).expect_err("open must refuse")
}

#[test]
fn a_torn_tail_at_every_byte_of_the_last_record_recovers_the_previous_record() {
    let src = tempfile::tempdir().expect("tempdir");
    let persists = history();
    let (lens, states) = write(src.path(), 1 << 20, &persists);
    let n = persists.len();
    let segment = segment_files(src.path()).pop().expect("segment");
    let name = segment.file_name().expect("name");
    for cut in lens[n - 1]..lens[n] {
        let dir = tempfile::tempdir().expect("tempdir");
        copy_dir(src.path(), dir.path());
        let file = fs::OpenOptions::new().write(true).open(dir.path().join(name)).expect("open");
        file.set_len(cut).expect("cut");
        drop(file);
        let (mut wal, hook) = open_fast(dir.path(), 1 << 20);
        assert_eq!(wal.load().expect("load"), states[n - 1], "cut at {cut}");
        // The torn bytes are gone, durably, before anything is appended.
        assert_eq!(last_segment_len(dir.path()), lens[n - 1], "cut at {cut}");
        if cut > lens[n - 1] {
            assert!(hook.state().syncs() >= 1, "the truncation is fsync'd");
        }
        // Appending after the repair continues the log.
        let p = append(1, vec![entry(3, 6, b"after")], 3);
        assert_eq!(wal.persist(&[p]).expect("persist"), 1);
        drop(wal);
        let (mut wal, _) = open_fast(dir.path(), 1 << 20);
        let state = wal.load().expect("load");
        assert_eq!(state.entries.last().map(|e| e.payload.clone()), Some(Bytes::from_static(b"after")));
        assert_eq!(state.entries.len(), 6);
    }
}

#[test]
fn a_zeroed_tail_is_cut() {
    let dir = tempfile::tempdir().expect("tempdir");
    let persists = history();
    let (lens, states) = write(dir.path(), 1 << 20, &persists);
    let segment = segment_files(dir.path()).pop().expect("segment");
    let mut data = fs::read(&segment).expect("read");
    data.extend_from_slice(&[0; 4096]);
    fs::write(&segment, data).expect("write");
    let (mut wal, _) = open_fast(dir.path(), 1 << 20);
    assert_eq!(wal.load().expect("load"), states[persists.len()]);
    assert_eq!(last_segment_len(dir.path()), lens[persists.len()]);
}

fn flip(path: &Path, offset: u64, bit: u8) {
    let mut data = fs::read(path).expect("read");
    data[offset as usize] ^= 1 << bit;
    fs::write(path, data).expect("write");
}

#[test]
fn a_flipped_bit_in_a_middle_record_of_the_last_segment_is_refused_with_its_file_and_offset() {
    let src = tempfile::tempdir().expect("tempdir");
    let (lens, _) = write(src.path(), 1 << 20, &history());
    let segment = segment_files(src.path()).pop().expect("segment");
    let name = segment.file_name().expect("name");
    // The second record: every byte of it, header and body.
    for at in lens[1]..lens[2] {
        let dir = tempfile::tempdir().expect("tempdir");
        copy_dir(src.path(), dir.path());
        let path = dir.path().join(name);
        flip(&path, at, (at % 8) as u8);
        match open_err(dir.path()) {
            StoreError::Corrupt { file, offset, damage } => {
                assert_eq!(file, path, "byte {at}");
                assert_eq!(offset, lens[1], "byte {at}");
                assert_eq!(damage, Damage::RecordChecksum { next_valid_at: lens[2] }, "byte {at}");
            }
            e => panic!("byte {at}: {e}"),
        }
    }
}

#[test]
fn a_flipped_bit_in_an_earlier_segment_is_refused_with_its_file_and_offset() {
    let src = tempfile::tempdir().expect("tempdir");
    // Tiny segments: every record after the first goes into a new segment.
    let (lens, _) = write(src.path(), 1, &history());
    let segments = segment_files(src.path());
    assert_eq!(segments.len(), 4);
    let first = segments[0].file_name().expect("name");
    let first_len = fs::metadata(&segments[0]).expect("stat").len();
    // Segment 1: header, base (lens[0]), then the first Persist, which is
    // also the segment's last record.
    for at in lens[0]..first_len {
        let dir = tempfile::tempdir().expect("tempdir");
        copy_dir(src.path(), dir.path());
        let path = dir.path().join(first);
        flip(&path, at, 3);
        match open_err(dir.path()) {
            StoreError::Corrupt { file, offset, damage } => {
                assert_eq!((file, offset, damage), (path, lens[0], Damage::DamagedBeforeLastSegment), "byte {at}");
            }
            e => panic!("byte {at}: {e}"),
        }
    }
    // The segment header.
    let dir = tempfile::tempdir().expect("tempdir");
    copy_dir(src.path(), dir.path());
    flip(&dir.path().join(first), 9, 0);
    let err = open_err(dir.path());
    assert!(matches!(&err, StoreError::Corrupt { offset: 0, damage: Damage::HeaderChecksum, .. }), "{err}");
    assert!(err.to_string().contains("00000000000000000001.wal at offset 0"), "{err}");
}

#[test]
fn a_missing_segment_or_snapshot_file_is_refused() {
    let src = tempfile::tempdir().expect("tempdir");
    write(src.path(), 1, &history());
    let segments = segment_files(src.path());
    fs::remove_file(&segments[1]).expect("remove");
    let err = open_err(src.path());
    assert!(matches!(err, StoreError::Corrupt { damage: Damage::MissingSegment { expected: 2 }, .. }), "{err}");

    let dir = tempfile::tempdir().expect("tempdir");
    let (mut wal, _) = open_fast(dir.path(), 1 << 20);
    wal.load().expect("load");
    wal.persist(&[append(1, vec![entry(1, 1, b"a"), entry(1, 2, b"b")], 1)]).expect("persist");
    wal.save_snapshot(Index(2), b"state").expect("save");
    let meta = SnapshotMeta { last: EntryId::new(Term(1), Index(2)), conf_state: ConfState::with_voters([NodeId(1)]) };
    let p = Persist { seq: 2, snapshot: Some(Box::new(meta)), must_sync: true, ..Persist::default() };
    wal.persist(&[p]).expect("persist");
    drop(wal);
    fs::remove_file(dir.path().join("snapshot-00000000000000000002.snap")).expect("remove");
    let err = open_err(dir.path());
    assert!(matches!(err, StoreError::Corrupt { damage: Damage::MissingSnapshotFile(Index(2)), .. }), "{err}");

    // Snapshot files without a log: the log was lost; never start empty.
    for s in segment_files(dir.path()) {
        fs::remove_file(s).expect("remove");
    }
    fs::write(dir.path().join("snapshot-00000000000000000002.snap"), b"x").expect("write");
    let err = open_err(dir.path());
    assert!(matches!(err, StoreError::Corrupt { damage: Damage::SnapshotWithoutLog, .. }), "{err}");
}

#[test]
fn a_newer_format_version_is_refused_by_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), 1 << 20, &history());
    let segment = segment_files(dir.path()).pop().expect("segment");
    let mut data = fs::read(&segment).expect("read");
    data[4..6].copy_from_slice(&2u16.to_le_bytes());
    let crc = crc32c::crc32c(&data[..20]);
    data[20..24].copy_from_slice(&crc.to_le_bytes());
    fs::write(&segment, data).expect("write");
    let err = open_err(dir.path());
    assert!(matches!(err, StoreError::Corrupt { offset: 0, damage: Damage::UnsupportedVersion(2), .. }), "{err}");
}

#[test]
fn temporary_files_are_deleted_at_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), 1 << 20, &history());
    for name in ["00000000000000000002.wal.tmp", "snapshot.partial", "snapshot-00000000000000000009.snap.tmp"] {
        fs::write(dir.path().join(name), b"half written").expect("write");
    }
    let (mut wal, _) = open_fast(dir.path(), 1 << 20);
    assert_eq!(wal.load().expect("load").entries.len(), 7);
    let mut names: Vec<String> = fs::read_dir(dir.path())
        .expect("dir")
        .map(|e| e.expect("e").file_name().into_string().expect("utf-8"))
        .collect();
    names.sort();
    assert_eq!(names, ["00000000000000000001.wal"]);
}
