//! [`Entries`]: the batch of entries carried by `Persist` and `Apply`.

use alloc::vec::Vec;
use core::ops::{Deref, DerefMut};

use raft_sansio_proto::Entry;
use smallvec::SmallVec;

/// A batch of consecutive log entries.
///
/// Holds one entry inline, because in steady state most `Persist` and
/// `Apply` outputs carry exactly one (a follower appending one entry per
/// message, a leader committing one per ack): those steps then allocate
/// nothing. Larger batches live on the heap. Dereferences to `[Entry]`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Entries(SmallVec<[Entry; 1]>);

impl Entries {
    /// An empty batch.
    pub fn new() -> Entries {
        Entries(SmallVec::new())
    }

    /// An empty batch with room for `n` entries.
    pub fn with_capacity(n: usize) -> Entries {
        Entries(SmallVec::with_capacity(n))
    }

    /// Appends an entry.
    pub fn push(&mut self, entry: Entry) {
        self.0.push(entry);
    }

    /// Drops every entry at or after position `len`.
    pub fn truncate(&mut self, len: usize) {
        self.0.truncate(len);
    }

    /// Moves the entries into a `Vec` (without copying when they are already
    /// on the heap).
    pub fn into_vec(self) -> Vec<Entry> {
        self.0.into_vec()
    }
}

impl Deref for Entries {
    type Target = [Entry];
    #[inline]
    fn deref(&self) -> &[Entry] {
        &self.0
    }
}

impl DerefMut for Entries {
    #[inline]
    fn deref_mut(&mut self) -> &mut [Entry] {
        &mut self.0
    }
}

impl From<Vec<Entry>> for Entries {
    /// Takes over the vector's buffer (one entry moves inline).
    fn from(entries: Vec<Entry>) -> Entries {
        Entries(SmallVec::from_vec(entries))
    }
}

impl FromIterator<Entry> for Entries {
    fn from_iter<I: IntoIterator<Item = Entry>>(iter: I) -> Entries {
        Entries(iter.into_iter().collect())
    }
}

impl Extend<Entry> for Entries {
    fn extend<I: IntoIterator<Item = Entry>>(&mut self, iter: I) {
        self.0.extend(iter);
    }
}

impl IntoIterator for Entries {
    type Item = Entry;
    type IntoIter = smallvec::IntoIter<[Entry; 1]>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a Entries {
    type Item = &'a Entry;
    type IntoIter = core::slice::Iter<'a, Entry>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}
