//! Log entries.

use bytes::Bytes;

use crate::ids::{EntryId, Index, Term};

/// What a log entry is for. The wire carries it as one byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[non_exhaustive]
pub enum EntryKind {
    /// A client command for the host's state machine.
    Normal,
    /// The empty entry a new leader appends at the start of its term, so that
    /// it can commit entries of earlier terms (Raft §5.4.2, §8).
    Noop,
    /// A membership change. The payload is the full resulting
    /// [`ConfState`](crate::ConfState) in the encoding of
    /// [`encode_conf_state`](crate::codec::encode_conf_state), never a delta.
    ConfChange,
}

impl EntryKind {
    /// The wire code of this kind.
    pub const fn code(self) -> u8 {
        match self {
            EntryKind::Normal => 0,
            EntryKind::Noop => 1,
            EntryKind::ConfChange => 2,
        }
    }

    /// The kind for a wire code, if it names one.
    pub const fn from_code(code: u8) -> Option<EntryKind> {
        match code {
            0 => Some(EntryKind::Normal),
            1 => Some(EntryKind::Noop),
            2 => Some(EntryKind::ConfChange),
            _ => None,
        }
    }
}

/// One entry of the replicated log.
///
/// The payload is a [`Bytes`] handle: appending, sending, persisting and
/// applying an entry clone the handle, never the bytes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Entry {
    /// The term in which a leader created the entry.
    pub term: Term,
    /// The entry's position in the log.
    pub index: Index,
    /// What the entry is for.
    pub kind: EntryKind,
    /// The payload was left out on purpose: a witness keeps only entry
    /// metadata once every data voter holds the entry, and a leader may later
    /// skip resending a payload to the follower that forwarded it. Distinct
    /// from an empty payload, which is a real (empty) command.
    pub payload_elided: bool,
    /// The command (for [`EntryKind::Normal`]), empty for a no-op, or the
    /// encoded [`ConfState`](crate::ConfState) for a membership change.
    pub payload: Bytes,
}

impl Entry {
    /// A normal command entry.
    pub fn normal(term: Term, index: Index, payload: Bytes) -> Entry {
        Entry { term, index, kind: EntryKind::Normal, payload_elided: false, payload }
    }

    /// The leader's empty entry.
    pub fn noop(term: Term, index: Index) -> Entry {
        Entry { term, index, kind: EntryKind::Noop, payload_elided: false, payload: Bytes::new() }
    }

    /// The entry's id.
    #[inline]
    pub fn id(&self) -> EntryId {
        EntryId { term: self.term, index: self.index }
    }

    /// This entry with its payload dropped and `payload_elided` set.
    #[must_use]
    pub fn elided(&self) -> Entry {
        Entry { term: self.term, index: self.index, kind: self.kind, payload_elided: true, payload: Bytes::new() }
    }
}
