//! [`DiskIo`]: the hook through which the WAL writes and fsyncs.

use core::fmt;
use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

/// The operations whose outcome decides durability: every write and every
/// fsync of the [`Wal`](super::Wal) goes through this hook.
///
/// The default, [`OsDiskIo`], does the real thing. Tests wrap it to count
/// fsyncs, to fail one, or to model what a crash would keep. An
/// implementation that returns `Ok` from a sync MUST have made the data
/// durable: the store acknowledges on that word.
pub trait DiskIo: fmt::Debug + Send + Sync {
    /// Writes all of `buf` at the current position of `file` (at `path`).
    ///
    /// # Errors
    /// The write failed (the WAL then stops).
    fn write(&self, file: &mut File, path: &Path, buf: &[u8]) -> io::Result<()> {
        let _ = path;
        file.write_all(buf)
    }

    /// Makes the data of `file` (at `path`) durable, with the metadata
    /// needed to read it back (its length).
    ///
    /// # Errors
    /// The fsync failed (the WAL then stops).
    fn sync_file(&self, file: &File, path: &Path) -> io::Result<()> {
        let _ = path;
        file.sync_data()
    }

    /// Makes the directory entries of `dir` durable: the files created,
    /// renamed or deleted in it.
    ///
    /// # Errors
    /// The fsync failed (the WAL then stops).
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        sync_dir(dir)
    }
}

/// The real file system: `write_all`, `fdatasync`, and `fsync` of the
/// directory.
#[derive(Clone, Copy, Debug, Default)]
pub struct OsDiskIo;

impl DiskIo for OsDiskIo {}

/// `fsync` of a directory (Unix); elsewhere a directory cannot be opened
/// for syncing and its entries are durable with the file's metadata.
#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}
