//! [`StoreError`] and [`Damage`]: what a store reports.

use core::fmt;
use std::io;
use std::path::PathBuf;

use raft_sansio::Index;

/// Why a [`LogStore`](super::LogStore) call failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum StoreError {
    /// A file operation failed. If it was a write, fsync, rename or delete
    /// the store has stopped (fail-stop): every later call returns
    /// [`StoreError::Stopped`].
    Io {
        /// What the store was doing.
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
    /// The stored data is damaged in a way no crash explains (a torn tail
    /// of the last segment is repaired, not reported): the store refuses to
    /// open rather than lose acknowledged writes. Restore the node from a
    /// backup, or remove it and add it back under a new id.
    Corrupt {
        /// The file.
        file: PathBuf,
        /// The byte offset of the damaged record or header in `file`.
        offset: u64,
        /// What is wrong.
        damage: Damage,
    },
    /// An earlier write or fsync failed; the store accepts no more calls.
    Stopped {
        /// The first failure, as text.
        cause: String,
    },
    /// A Persist the store cannot apply as given: a host bug (the core never
    /// emits one). Nothing of its batch was written.
    InvalidPersist {
        /// The Persist's seq.
        seq: u64,
        /// The broken rule.
        reason: &'static str,
    },
    /// A Persist makes a snapshot the log's base, but neither
    /// [`save_snapshot`](super::LogStore::save_snapshot) nor a received
    /// snapshot provided its data. Nothing of its batch was written.
    MissingSnapshotData {
        /// The snapshot's last index.
        index: Index,
    },
}

/// What is wrong with a damaged file ([`StoreError::Corrupt`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Damage {
    /// The file does not start with the expected magic bytes.
    BadMagic,
    /// The format version is newer than this build reads (or unknown).
    UnsupportedVersion(u16),
    /// Flags this build does not understand (e.g. a compressed record).
    UnsupportedFlags(u16),
    /// A header's checksum does not match.
    HeaderChecksum,
    /// A record's checksum does not match, or its length points past the
    /// end of the file, and valid records follow it (so it is not a torn
    /// tail).
    RecordChecksum {
        /// Where the next valid record starts.
        next_valid_at: u64,
    },
    /// A record is cut short or fails its checksum in a segment that is not
    /// the last one (every earlier segment was fsync'd in full before the
    /// next one was created).
    DamagedBeforeLastSegment,
    /// A valid record of a kind this build does not know.
    UnknownRecordKind(u8),
    /// A record's body does not decode.
    Malformed(&'static str),
    /// The record sequence numbers are not consecutive.
    LsnGap {
        /// The number expected.
        expected: u64,
        /// The number found.
        found: u64,
    },
    /// A segment does not start with its base record, or its base record
    /// disagrees with the replay of the segments before it.
    BadBase(&'static str),
    /// Segment numbers are not consecutive: one is missing.
    MissingSegment {
        /// The number expected.
        expected: u64,
    },
    /// The file's header names another segment or snapshot than its file name.
    MisnamedFile,
    /// The stored log starts above its snapshot: the segments holding the
    /// entries in between are missing.
    LogGap {
        /// The snapshot's last index.
        snapshot: Index,
        /// The first stored entry.
        first: Index,
    },
    /// The stored snapshot metadata refers to a snapshot file that does not
    /// exist.
    MissingSnapshotFile(Index),
    /// A snapshot file's data does not match its length or checksum.
    SnapshotData,
    /// Snapshot files exist but no WAL segment: the log was lost. Starting
    /// empty would forget votes, so the store refuses.
    SnapshotWithoutLog,
}

impl fmt::Display for Damage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Damage::BadMagic => write!(f, "bad magic bytes"),
            Damage::UnsupportedVersion(v) => write!(f, "unsupported format version {v}"),
            Damage::UnsupportedFlags(fl) => write!(f, "unsupported flags {fl:#06x}"),
            Damage::HeaderChecksum => write!(f, "header checksum mismatch"),
            Damage::RecordChecksum { next_valid_at } => write!(
                f,
                "record checksum mismatch or bad length, with a valid record after it at offset {next_valid_at} \
                 (corruption in the middle of the log, not a torn tail)"
            ),
            Damage::DamagedBeforeLastSegment => {
                write!(f, "record cut short or checksum mismatch in a segment that is not the last one")
            }
            Damage::UnknownRecordKind(k) => write!(f, "unknown record kind {k}"),
            Damage::Malformed(what) => write!(f, "malformed record: {what}"),
            Damage::LsnGap { expected, found } => {
                write!(f, "record sequence number {found} where {expected} was expected")
            }
            Damage::BadBase(what) => write!(f, "segment base record: {what}"),
            Damage::MissingSegment { expected } => write!(f, "segment {expected} is missing"),
            Damage::MisnamedFile => write!(f, "header does not match the file name"),
            Damage::LogGap { snapshot, first } => write!(
                f,
                "the log starts at index {} but the snapshot ends at {}: segments are missing",
                first.0, snapshot.0
            ),
            Damage::MissingSnapshotFile(i) => write!(f, "the snapshot file for index {} is missing", i.0),
            Damage::SnapshotData => write!(f, "snapshot data length or checksum mismatch"),
            Damage::SnapshotWithoutLog => write!(f, "snapshot files without any WAL segment (the log was lost)"),
        }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Io { op, path, source } => write!(f, "{op} {}: {source}", path.display()),
            StoreError::Corrupt { file, offset, damage } => {
                write!(f, "{} at offset {offset}: {damage}", file.display())
            }
            StoreError::Stopped { cause } => write!(f, "store stopped after an earlier failure: {cause}"),
            StoreError::InvalidPersist { seq, reason } => write!(f, "invalid Persist {seq}: {reason}"),
            StoreError::MissingSnapshotData { index } => {
                write!(f, "no snapshot data for index {} (call save_snapshot first)", index.0)
            }
        }
    }
}

impl core::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            StoreError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl StoreError {
    /// An [`StoreError::Io`] for `op` on `path`.
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> StoreError {
        StoreError::Io { op, path: path.into(), source }
    }
}
