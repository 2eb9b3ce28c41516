//! The on-disk format of WAL segments (version 1).
//!
//! # Segment file `<number:020>.wal`
//!
//! ```text
//! offset  size  field
//! 0       4     magic        "RSWL"
//! 4       2     version      u16 LE, 1
//! 6       2     flags        u16 LE, 0 (reserved: bit 0 = records may be compressed)
//! 8       8     number       u64 LE, the segment's number (as in its name)
//! 16      4     reserved     0
//! 20      4     header_crc   CRC32C of bytes 0..20
//! 24      ..    records, back to back
//! ```
//!
//! # Record
//!
//! ```text
//! offset  size  field
//! 0       4     body_len     u32 LE
//! 4       1     kind         1 = base, 2 = persist
//! 5       1     flags        0 (reserved: bit 0 = compressed body)
//! 6       2     reserved     0
//! 8       8     lsn          u64 LE: record sequence number, +1 per record
//!                            across segments
//! 16      4     crc          CRC32C of bytes 0..16 and of the body
//! 20      ..    body         body_len bytes
//! ```
//!
//! The checksum covers the length, so a flipped length bit is caught. The
//! lsn makes a record from another place in the log fail the sequence check
//! and lets recovery tell a torn tail from damage in the middle (see
//! `recovery`).
//!
//! # Bodies
//!
//! Integers are little endian. A *persist* body is one whole `Persist`
//! (except its snapshot chunk, which goes to the snapshot file), so a
//! truncate-then-append is one atomic record:
//!
//! ```text
//! u8   present    bit 0 snapshot, bit 1 truncate_from, bit 2 hard_state,
//!                 bit 3 hard_state.vote
//! [snapshot]      u64 last.term, u64 last.index, u32 conf_len,
//!                 conf_len bytes of ConfState (raft-sansio-proto's
//!                 encode_conf_state)
//! [truncate_from] u64
//! [hard_state]    u64 term, u64 vote (0 when absent), u64 commit
//! u32  count
//! count entries:  u64 term, u64 index, u8 kind, u8 flags (bit 0 payload
//!                 elided), u32 payload_len, payload
//! ```
//!
//! A *base* record starts every segment: `u64 last_index` (the log's last
//! index when the segment was created) and then a persist body with the
//! snapshot metadata and hard state in force at that point and no entries.
//! Replay can therefore start at any segment, which is what lets old
//! segments be deleted.
//!
//! # Evolving the format
//!
//! A new encoding bumps the version; a reader of version N reads segments
//! of versions N and N-1. Compression will set the segment flag and a
//! record's flag bit 0; version 1 readers refuse both by name
//! (`UnsupportedFlags`), never as a checksum error.

use bytes::{Bytes, BytesMut};
use raft_sansio::proto::codec::{decode_conf_state, encode_conf_state};
use raft_sansio::{Entry, EntryId, EntryKind, HardState, Index, NodeId, SnapshotMeta, Term};

use crate::storage::Damage;

/// The magic bytes of a segment.
const SEGMENT_MAGIC: [u8; 4] = *b"RSWL";
/// The segment format version this build writes and reads.
pub(crate) const VERSION: u16 = 1;
/// The length of a segment header.
pub(crate) const SEGMENT_HEADER_LEN: usize = 24;
/// The length of a record header.
pub(crate) const RECORD_HEADER_LEN: usize = 20;

/// Record kind: a segment's base.
pub(crate) const KIND_BASE: u8 = 1;
/// Record kind: one Persist.
pub(crate) const KIND_PERSIST: u8 = 2;

const HAS_SNAPSHOT: u8 = 1 << 0;
const HAS_TRUNCATE: u8 = 1 << 1;
const HAS_HARD_STATE: u8 = 1 << 2;
const HAS_VOTE: u8 = 1 << 3;
const ENTRY_ELIDED: u8 = 1 << 0;

/// The name of segment `number`.
pub(crate) fn segment_name(number: u64) -> String {
    format!("{number:020}.wal")
}

/// The temporary name of segment `number` while it is created.
pub(crate) fn segment_tmp_name(number: u64) -> String {
    format!("{number:020}.wal.tmp")
}

/// The number of a segment's file name.
pub(crate) fn parse_segment_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".wal")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The header of segment `number`.
pub(crate) fn segment_header(number: u64) -> [u8; SEGMENT_HEADER_LEN] {
    let mut h = [0u8; SEGMENT_HEADER_LEN];
    h[0..4].copy_from_slice(&SEGMENT_MAGIC);
    h[4..6].copy_from_slice(&VERSION.to_le_bytes());
    h[8..16].copy_from_slice(&number.to_le_bytes());
    let crc = crc32c::crc32c(&h[..20]);
    h[20..24].copy_from_slice(&crc.to_le_bytes());
    h
}

/// Checks the header of segment `number` at the start of `file`.
pub(crate) fn check_segment_header(file: &[u8], number: u64) -> Result<(), Damage> {
    let Some(h) = file.get(..SEGMENT_HEADER_LEN) else { return Err(Damage::BadMagic) };
    if h[0..4] != SEGMENT_MAGIC {
        return Err(Damage::BadMagic);
    }
    if u32_at(h, 20) != crc32c::crc32c(&h[..20]) {
        return Err(Damage::HeaderChecksum);
    }
    let version = u16::from_le_bytes([h[4], h[5]]);
    if version != VERSION {
        return Err(Damage::UnsupportedVersion(version));
    }
    let flags = u16::from_le_bytes([h[6], h[7]]);
    if flags != 0 {
        return Err(Damage::UnsupportedFlags(flags));
    }
    if u64_at(h, 8) != number {
        return Err(Damage::MisnamedFile);
    }
    Ok(())
}

/// Appends a record of `kind` with `lsn` to `buf`; `body` writes the body.
///
/// Returns `None` (and leaves `buf` as it was) when the body exceeds the
/// largest length a record can carry.
pub(crate) fn put_record(buf: &mut Vec<u8>, kind: u8, lsn: u64, body: impl FnOnce(&mut Vec<u8>)) -> Option<()> {
    let start = buf.len();
    buf.extend_from_slice(&[0; RECORD_HEADER_LEN]);
    body(buf);
    let Ok(len) = u32::try_from(buf.len() - start - RECORD_HEADER_LEN) else {
        buf.truncate(start);
        return None;
    };
    let h = &mut buf[start..start + RECORD_HEADER_LEN];
    h[0..4].copy_from_slice(&len.to_le_bytes());
    h[4] = kind;
    h[8..16].copy_from_slice(&lsn.to_le_bytes());
    let crc = crc32c::crc32c_append(crc32c::crc32c(&buf[start..start + 16]), &buf[start + RECORD_HEADER_LEN..]);
    buf[start + 16..start + 20].copy_from_slice(&crc.to_le_bytes());
    Some(())
}

/// A record whose length and checksum are good.
#[derive(Debug)]
pub(crate) struct RawRecord {
    pub(crate) kind: u8,
    pub(crate) flags: u8,
    pub(crate) lsn: u64,
    pub(crate) body: Bytes,
    /// The record's length, header included.
    pub(crate) len: usize,
}

/// The record at `at` in `file`, if it is complete and its checksum holds.
pub(crate) fn read_record(file: &Bytes, at: usize) -> Option<RawRecord> {
    let h = file.get(at..at.checked_add(RECORD_HEADER_LEN)?)?;
    let body_len = u32_at(h, 0) as usize;
    let end = at.checked_add(RECORD_HEADER_LEN)?.checked_add(body_len)?;
    let body = file.get(at + RECORD_HEADER_LEN..end)?;
    if u32_at(h, 16) != crc32c::crc32c_append(crc32c::crc32c(&h[..16]), body) {
        return None;
    }
    Some(RawRecord {
        kind: h[4],
        flags: h[5] | h[6] | h[7],
        lsn: u64_at(h, 8),
        body: file.slice(at + RECORD_HEADER_LEN..end),
        len: end - at,
    })
}

/// Looks for a valid record of this format version after `from` with an
/// lsn above `after_lsn`: evidence that a bad record at `from` is damage in
/// the middle of the log, not a torn tail. Cheap filters (zero flags, a
/// known kind, a plausible lsn and length) keep the checksum off almost
/// every position.
pub(crate) fn find_valid_record(file: &Bytes, from: usize, after_lsn: u64) -> Option<usize> {
    let end = file.len().checked_sub(RECORD_HEADER_LEN)?;
    (from..=end).find(|&at| {
        let h = &file[at..at + RECORD_HEADER_LEN];
        let plausible_lsns = ((file.len() - at) / RECORD_HEADER_LEN) as u64 + 1;
        let lsn = u64_at(h, 8);
        h[5..8] == [0, 0, 0]
            && (h[4] == KIND_BASE || h[4] == KIND_PERSIST)
            && lsn > after_lsn
            && lsn - after_lsn <= plausible_lsns
            && u32_at(h, 0) as usize <= file.len() - at - RECORD_HEADER_LEN
            && read_record(file, at).is_some()
    })
}

/// The log part of one Persist (or of a base record), decoded.
#[derive(Debug, Default)]
pub(crate) struct LogRecord {
    pub(crate) snapshot: Option<SnapshotMeta>,
    pub(crate) truncate_from: Option<Index>,
    pub(crate) entries: Vec<Entry>,
    pub(crate) hard_state: Option<HardState>,
}

/// Writes a persist body.
pub(crate) fn put_persist_body(
    buf: &mut Vec<u8>,
    snapshot: Option<&SnapshotMeta>,
    truncate_from: Option<Index>,
    entries: &[Entry],
    hard_state: Option<HardState>,
) {
    let mut present = 0;
    if snapshot.is_some() {
        present |= HAS_SNAPSHOT;
    }
    if truncate_from.is_some() {
        present |= HAS_TRUNCATE;
    }
    if let Some(hs) = hard_state {
        present |= HAS_HARD_STATE;
        if hs.vote.is_some() {
            present |= HAS_VOTE;
        }
    }
    buf.push(present);
    if let Some(meta) = snapshot {
        put_u64(buf, meta.last.term.0);
        put_u64(buf, meta.last.index.0);
        let mut conf = BytesMut::new();
        encode_conf_state(&meta.conf_state, &mut conf);
        put_u32(buf, conf.len() as u32);
        buf.extend_from_slice(&conf);
    }
    if let Some(t) = truncate_from {
        put_u64(buf, t.0);
    }
    if let Some(hs) = hard_state {
        put_u64(buf, hs.term.0);
        put_u64(buf, hs.vote.map_or(0, |v| v.0));
        put_u64(buf, hs.commit.0);
    }
    put_u32(buf, entries.len() as u32);
    for e in entries {
        put_u64(buf, e.term.0);
        put_u64(buf, e.index.0);
        buf.push(e.kind.code());
        buf.push(if e.payload_elided { ENTRY_ELIDED } else { 0 });
        put_u32(buf, e.payload.len() as u32);
        buf.extend_from_slice(&e.payload);
    }
}

/// Writes a base body.
pub(crate) fn put_base_body(
    buf: &mut Vec<u8>,
    last_index: Index,
    snapshot: Option<&SnapshotMeta>,
    hard_state: HardState,
) {
    put_u64(buf, last_index.0);
    put_persist_body(buf, snapshot, None, &[], Some(hard_state));
}

/// Reads a persist body.
pub(crate) fn decode_persist_body(body: &Bytes) -> Result<LogRecord, &'static str> {
    let mut r = Reader { buf: body, at: 0 };
    let record = r.persist_body()?;
    r.finish()?;
    Ok(record)
}

/// Reads a base body: the log's last index and the state in force.
pub(crate) fn decode_base_body(body: &Bytes) -> Result<(Index, LogRecord), &'static str> {
    let mut r = Reader { buf: body, at: 0 };
    let last_index = Index(r.u64()?);
    let record = r.persist_body()?;
    r.finish()?;
    if record.hard_state.is_none() || record.truncate_from.is_some() || !record.entries.is_empty() {
        return Err("base record with fields a base never has");
    }
    Ok((last_index, record))
}

struct Reader<'a> {
    buf: &'a Bytes,
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<Bytes, &'static str> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.buf.len()).ok_or("body cut short")?;
        let b = self.buf.slice(self.at..end);
        self.at = end;
        Ok(b)
    }

    fn u8(&mut self) -> Result<u8, &'static str> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32, &'static str> {
        Ok(u32_at(&self.take(4)?, 0))
    }

    fn u64(&mut self) -> Result<u64, &'static str> {
        Ok(u64_at(&self.take(8)?, 0))
    }

    fn finish(&self) -> Result<(), &'static str> {
        if self.at == self.buf.len() {
            Ok(())
        } else {
            Err("trailing bytes after the body")
        }
    }

    fn persist_body(&mut self) -> Result<LogRecord, &'static str> {
        let present = self.u8()?;
        if present & !(HAS_SNAPSHOT | HAS_TRUNCATE | HAS_HARD_STATE | HAS_VOTE) != 0 {
            return Err("unknown fields");
        }
        let mut record = LogRecord::default();
        if present & HAS_SNAPSHOT != 0 {
            let term = Term(self.u64()?);
            let index = Index(self.u64()?);
            let len = self.u32()? as usize;
            let conf = self.take(len)?;
            let conf_state = decode_conf_state(&conf).map_err(|_| "snapshot configuration does not decode")?;
            record.snapshot = Some(SnapshotMeta { last: EntryId { term, index }, conf_state });
        }
        if present & HAS_TRUNCATE != 0 {
            record.truncate_from = Some(Index(self.u64()?));
        }
        if present & HAS_HARD_STATE != 0 {
            let term = Term(self.u64()?);
            let vote = self.u64()?;
            let commit = Index(self.u64()?);
            let vote = (present & HAS_VOTE != 0).then_some(NodeId(vote));
            record.hard_state = Some(HardState { term, vote, commit });
        } else if present & HAS_VOTE != 0 {
            return Err("vote without hard state");
        }
        let count = self.u32()? as usize;
        // Each entry takes at least 22 bytes: a forged count cannot make
        // the reservation exceed what the body holds.
        record.entries.reserve(count.min((self.buf.len() - self.at) / 22));
        for _ in 0..count {
            let term = Term(self.u64()?);
            let index = Index(self.u64()?);
            let kind = EntryKind::from_code(self.u8()?).ok_or("unknown entry kind")?;
            let flags = self.u8()?;
            if flags & !ENTRY_ELIDED != 0 {
                return Err("unknown entry flags");
            }
            let len = self.u32()? as usize;
            let payload = self.take(len)?;
            record.entries.push(Entry { term, index, kind, payload_elided: flags & ENTRY_ELIDED != 0, payload });
        }
        Ok(record)
    }
}

fn put_u32(buf: &mut Vec<u8>, v: u32) {
    buf.extend_from_slice(&v.to_le_bytes());
}

fn put_u64(buf: &mut Vec<u8>, v: u64) {
    buf.extend_from_slice(&v.to_le_bytes());
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}
