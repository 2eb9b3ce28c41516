//! Replaying the WAL directory at open.
//!
//! Segments are replayed in order from the oldest kept one, whose base
//! record gives the state in force when it was created. What a crash can
//! leave, and what recovery makes of it:
//!
//! - A torn tail: the last records of the last segment written but not (or
//!   only partly) made durable. The first record that is cut short or fails
//!   its checksum, with no valid record after it, ends the log; the file is
//!   truncated there. Nothing in it was acknowledged unless it was only
//!   commit-index progress, which the contract allows to lose.
//! - A bad record with a valid record after it (a later lsn, good checksum):
//!   damage in the middle of the log. Refused, with the file and offset:
//!   truncating there would drop acknowledged records.
//! - A bad record in a segment that is not the last: refused. A segment is
//!   fsync'd in full before the next one is created, so no crash explains
//!   it.
//! - Temporary files (a segment or snapshot being created, a snapshot being
//!   received) and snapshot files no record refers to: deleted.
//!
//! A limitation stated plainly: if the disk wrote back pages of an
//! unsynced group commit out of order and the crash kept a later page but
//! not an earlier one, the tail looks like damage in the middle and the WAL
//! refuses to open. That errs on the side of never silently losing an
//! acknowledged write; the operator decides.

use std::collections::{BTreeSet, VecDeque};
use std::fs;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use raft_sansio::Index;

use super::format::{
    check_segment_header, decode_base_body, decode_persist_body, find_valid_record, parse_segment_name, read_record,
    segment_name, KIND_BASE, KIND_PERSIST, SEGMENT_HEADER_LEN,
};
use super::Segment;
use crate::storage::image::LogImage;
use crate::storage::{snapshot_file, Damage, StoreError};

/// What replaying the directory found.
#[derive(Debug)]
pub(crate) struct Recovered {
    /// The state, with the entries.
    pub(crate) image: LogImage,
    /// The segments, oldest first (empty for a new WAL).
    pub(crate) segments: VecDeque<Segment>,
    /// The lsn of the next record.
    pub(crate) next_lsn: u64,
    /// The number of records after the base in the last segment.
    pub(crate) last_records: u64,
    /// Where the valid part of the last segment ends; shorter than the file
    /// when the tail is torn.
    pub(crate) last_len: u64,
    /// The last segment's file length as found.
    pub(crate) last_file_len: u64,
    /// Complete snapshot files that are kept (the one the log's base
    /// refers to).
    pub(crate) snapshot_files: BTreeSet<Index>,
    /// Files to delete: temporary ones, and snapshot files nothing refers to.
    pub(crate) stray: Vec<PathBuf>,
}

/// Replays the WAL in `dir`.
///
/// # Errors
/// [`StoreError::Io`] reading the directory or a file,
/// [`StoreError::Corrupt`] for damage no crash explains.
pub(crate) fn recover(dir: &Path) -> Result<Recovered, StoreError> {
    let mut numbers = Vec::new();
    let mut snapshots = BTreeSet::new();
    let mut stray = Vec::new();
    let listing = fs::read_dir(dir).map_err(|e| StoreError::io("read directory", dir, e))?;
    for entry in listing {
        let entry = entry.map_err(|e| StoreError::io("read directory", dir, e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(n) = parse_segment_name(name) {
            numbers.push(n);
        } else if let Some(i) = snapshot_file::parse_file_name(name) {
            snapshots.insert(i);
        } else if name.ends_with(".tmp") || name == snapshot_file::PARTIAL_NAME {
            stray.push(dir.join(name));
        }
    }
    numbers.sort_unstable();
    let corrupt = |file: PathBuf, offset: u64, damage| StoreError::Corrupt { file, offset, damage };
    if numbers.is_empty() {
        if let Some(&i) = snapshots.first() {
            return Err(corrupt(dir.join(snapshot_file::file_name(i)), 0, Damage::SnapshotWithoutLog));
        }
        return Ok(Recovered {
            image: LogImage::new(true),
            segments: VecDeque::new(),
            next_lsn: 1,
            last_records: 0,
            last_len: 0,
            last_file_len: 0,
            snapshot_files: BTreeSet::new(),
            stray,
        });
    }
    for w in numbers.windows(2) {
        if w[1] != w[0] + 1 {
            return Err(corrupt(dir.join(segment_name(w[0] + 1)), 0, Damage::MissingSegment { expected: w[0] + 1 }));
        }
    }

    let mut image = LogImage::new(true);
    let mut segments = VecDeque::new();
    let mut last_lsn: Option<u64> = None;
    let mut last_records = 0;
    let mut last_len = 0;
    let mut last_file_len = 0;
    for (i, &number) in numbers.iter().enumerate() {
        let is_last = i + 1 == numbers.len();
        let path = dir.join(segment_name(number));
        let file = Bytes::from(fs::read(&path).map_err(|e| StoreError::io("read segment", &path, e))?);
        check_segment_header(&file, number).map_err(|d| corrupt(path.clone(), 0, d))?;
        let mut segment = Segment { number, max_index: Index::ZERO };
        let mut at = SEGMENT_HEADER_LEN;
        let mut records = 0u64;
        while at < file.len() {
            let offset = at as u64;
            let Some(record) = read_record(&file, at) else {
                if !is_last {
                    return Err(corrupt(path, offset, Damage::DamagedBeforeLastSegment));
                }
                if at == SEGMENT_HEADER_LEN {
                    // The base is written before the segment is renamed
                    // into place: no crash tears it.
                    return Err(corrupt(path, offset, Damage::BadBase("damaged base record")));
                }
                if let Some(next) = find_valid_record(&file, at + 1, last_lsn.unwrap_or(0)) {
                    return Err(corrupt(path, offset, Damage::RecordChecksum { next_valid_at: next as u64 }));
                }
                // A torn tail: the log ends here.
                break;
            };
            if record.flags != 0 {
                return Err(corrupt(path, offset, Damage::UnsupportedFlags(u16::from(record.flags))));
            }
            if let Some(prev) = last_lsn {
                if record.lsn != prev + 1 {
                    return Err(corrupt(path, offset, Damage::LsnGap { expected: prev + 1, found: record.lsn }));
                }
            }
            let is_base = at == SEGMENT_HEADER_LEN;
            match record.kind {
                KIND_BASE if is_base => {
                    let (last_index, base) = decode_base_body(&record.body)
                        .map_err(|d| corrupt(path.clone(), offset, Damage::Malformed(d)))?;
                    let hard_state = base.hard_state.unwrap_or_default();
                    if i == 0 {
                        image.hard_state = hard_state;
                        image.snapshot = base.snapshot;
                        image.last_index = last_index;
                    } else if image.hard_state != hard_state
                        || image.snapshot != base.snapshot
                        || image.last_index != last_index
                    {
                        let what = "disagrees with the replay of the segments before it";
                        return Err(corrupt(path, offset, Damage::BadBase(what)));
                    }
                }
                _ if is_base => {
                    return Err(corrupt(path, offset, Damage::BadBase("segment does not start with a base record")));
                }
                KIND_BASE => return Err(corrupt(path, offset, Damage::BadBase("base record inside a segment"))),
                KIND_PERSIST => {
                    let r = decode_persist_body(&record.body)
                        .map_err(|d| corrupt(path.clone(), offset, Damage::Malformed(d)))?;
                    image
                        .apply(r.snapshot.as_ref(), r.truncate_from, &r.entries, r.hard_state)
                        .map_err(|d| corrupt(path.clone(), offset, Damage::Malformed(d)))?;
                    if let Some(e) = r.entries.last() {
                        segment.max_index = segment.max_index.max(e.index);
                    }
                    records += 1;
                }
                kind => return Err(corrupt(path, offset, Damage::UnknownRecordKind(kind))),
            }
            last_lsn = Some(record.lsn);
            at += record.len;
        }
        if at == SEGMENT_HEADER_LEN {
            return Err(corrupt(path, at as u64, Damage::BadBase("segment without a base record")));
        }
        if is_last {
            last_records = records;
            last_len = at.min(file.len()) as u64;
            last_file_len = file.len() as u64;
        }
        segments.push_back(segment);
    }

    let first_path = dir.join(segment_name(numbers[0]));
    let snapshot = image.snapshot_index();
    let first_held = image.entries.front().map_or(image.last_index.next(), |e| e.index);
    if first_held > snapshot.next() {
        return Err(corrupt(first_path, 0, Damage::LogGap { snapshot, first: first_held }));
    }
    let mut snapshot_files = BTreeSet::new();
    if snapshot > Index::ZERO {
        if !snapshots.remove(&snapshot) {
            let file = dir.join(snapshot_file::file_name(snapshot));
            return Err(corrupt(file, 0, Damage::MissingSnapshotFile(snapshot)));
        }
        snapshot_files.insert(snapshot);
    }
    stray.extend(snapshots.into_iter().map(|i| dir.join(snapshot_file::file_name(i))));
    Ok(Recovered {
        image,
        segments,
        next_lsn: last_lsn.map_or(1, |l| l + 1),
        last_records,
        last_len,
        last_file_len,
        snapshot_files,
        stray,
    })
}
