//! Snapshot files: a versioned, checksummed header and the data.
//!
//! ```text
//! offset  size  field
//! 0       4     magic        "RSSN"
//! 4       2     version      u16 LE, 1
//! 6       2     flags        u16 LE, 0 (reserved: compressed data)
//! 8       8     index        u64 LE, the snapshot's last index
//! 16      8     data_len     u64 LE
//! 24      4     data_crc     CRC32C of the data
//! 28      4     header_crc   CRC32C of bytes 0..28
//! 32      ..    data
//! ```
//!
//! A file is written under a temporary name (the header first as zeros, so
//! the data can stream in; the real header last), fsync'd, renamed to
//! `snapshot-<index>.snap` and the directory fsync'd: a crash leaves either
//! no file under the final name or a complete one.

use std::fs::{self, File};
use std::io::{Seek, SeekFrom};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use raft_sansio::Index;

use super::{Damage, DiskIo, StoreError};

const MAGIC: [u8; 4] = *b"RSSN";
const VERSION: u16 = 1;
/// The length of the header before the data.
pub(crate) const HEADER_LEN: usize = 32;

/// The name a snapshot file at `index` has once complete.
pub(crate) fn file_name(index: Index) -> String {
    format!("snapshot-{:020}.snap", index.0)
}

/// The index of a complete snapshot file's name.
pub(crate) fn parse_file_name(name: &str) -> Option<Index> {
    let digits = name.strip_prefix("snapshot-")?.strip_suffix(".snap")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().map(Index)
}

/// The temporary name of a snapshot being received in chunks.
pub(crate) const PARTIAL_NAME: &str = "snapshot.partial";

/// The temporary name of a snapshot the host is saving.
pub(crate) fn tmp_name(index: Index) -> String {
    format!("snapshot-{:020}.snap.tmp", index.0)
}

/// A snapshot file being written (streamed) under a temporary name.
#[derive(Debug)]
pub(crate) struct SnapshotWriter {
    file: File,
    path: PathBuf,
    len: u64,
    crc: u32,
}

impl SnapshotWriter {
    /// Creates (or truncates) the temporary file at `path`.
    pub(crate) fn create(path: PathBuf, io: &dyn DiskIo) -> Result<SnapshotWriter, StoreError> {
        let mut file = File::create(&path).map_err(|e| StoreError::io("create snapshot file", &path, e))?;
        io.write(&mut file, &path, &[0; HEADER_LEN]).map_err(|e| StoreError::io("write snapshot file", &path, e))?;
        Ok(SnapshotWriter { file, path, len: 0, crc: 0 })
    }

    /// Appends `data`.
    pub(crate) fn write(&mut self, data: &[u8], io: &dyn DiskIo) -> Result<(), StoreError> {
        io.write(&mut self.file, &self.path, data).map_err(|e| StoreError::io("write snapshot file", &self.path, e))?;
        self.crc = crc32c::crc32c_append(self.crc, data);
        self.len += data.len() as u64;
        Ok(())
    }

    /// Writes the header, fsyncs, renames the file to its final name in
    /// `dir` and fsyncs `dir`.
    pub(crate) fn finish(mut self, dir: &Path, index: Index, io: &dyn DiskIo) -> Result<(), StoreError> {
        let mut header = [0u8; HEADER_LEN];
        header[0..4].copy_from_slice(&MAGIC);
        header[4..6].copy_from_slice(&VERSION.to_le_bytes());
        header[8..16].copy_from_slice(&index.0.to_le_bytes());
        header[16..24].copy_from_slice(&self.len.to_le_bytes());
        header[24..28].copy_from_slice(&self.crc.to_le_bytes());
        let header_crc = crc32c::crc32c(&header[..28]);
        header[28..32].copy_from_slice(&header_crc.to_le_bytes());
        let path = &self.path;
        self.file.seek(SeekFrom::Start(0)).map_err(|e| StoreError::io("seek snapshot file", path, e))?;
        io.write(&mut self.file, path, &header).map_err(|e| StoreError::io("write snapshot file", path, e))?;
        io.sync_file(&self.file, path).map_err(|e| StoreError::io("fsync snapshot file", path, e))?;
        let target = dir.join(file_name(index));
        fs::rename(path, &target).map_err(|e| StoreError::io("rename snapshot file", path, e))?;
        io.sync_dir(dir).map_err(|e| StoreError::io("fsync directory", dir, e))
    }
}

/// Reads and checks the snapshot file at `path`, which should hold the
/// snapshot at `index`; returns its data.
pub(crate) fn read(path: &Path, index: Index) -> Result<Bytes, StoreError> {
    let bytes = Bytes::from(fs::read(path).map_err(|e| StoreError::io("read snapshot file", path, e))?);
    let corrupt = |offset, damage| StoreError::Corrupt { file: path.to_path_buf(), offset, damage };
    if bytes.len() < HEADER_LEN {
        return Err(corrupt(0, Damage::SnapshotData));
    }
    let h = &bytes[..HEADER_LEN];
    if h[0..4] != MAGIC {
        return Err(corrupt(0, Damage::BadMagic));
    }
    if u32_at(h, 28) != crc32c::crc32c(&h[..28]) {
        return Err(corrupt(0, Damage::HeaderChecksum));
    }
    let version = u16::from_le_bytes([h[4], h[5]]);
    if version != VERSION {
        return Err(corrupt(0, Damage::UnsupportedVersion(version)));
    }
    let flags = u16::from_le_bytes([h[6], h[7]]);
    if flags != 0 {
        return Err(corrupt(0, Damage::UnsupportedFlags(flags)));
    }
    if u64_at(h, 8) != index.0 {
        return Err(corrupt(0, Damage::MisnamedFile));
    }
    let data = bytes.slice(HEADER_LEN..);
    if u64_at(h, 16) != data.len() as u64 || u32_at(h, 24) != crc32c::crc32c(&data) {
        return Err(corrupt(HEADER_LEN as u64, Damage::SnapshotData));
    }
    Ok(data)
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}
