//! [`RestoredState`]: what a host hands a node on (re)start, and the gateway
//! that validates and repairs it.

use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::fmt;

use raft_sansio_proto::codec::decode_conf_state;
use raft_sansio_proto::{ConfState, Entry, EntryId, EntryKind, HardState, Index, SnapshotMeta, Term};

/// The durable state a node restarts from: what the host's store holds.
///
/// A brand-new node passes [`RestoredState::default()`] (an empty store).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RestoredState {
    /// The last hard state written.
    pub hard_state: HardState,
    /// The metadata of the latest snapshot stored (also the configuration a
    /// bootstrapped node persisted at index 0), if any.
    pub snapshot: Option<SnapshotMeta>,
    /// The stored log entries, in index order.
    pub entries: Vec<Entry>,
    /// The index up to which the host's state machine has applied (its own
    /// durable state, e.g. restored from the snapshot). The node emits
    /// `Apply` only for entries after it.
    pub applied: Index,
}

/// Why a [`RestoredState`] cannot be used. A torn tail is repaired (see
/// [`RestoreRepair`]); these are the states no repair can explain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RestoreError {
    /// The entries skip an index.
    Gap {
        /// The last index before the gap.
        after: Index,
        /// The index found next.
        found: Index,
    },
    /// An entry's term is below the one before it.
    TermDecreases {
        /// The entry's index.
        at: Index,
    },
    /// An entry has term 0 (no leader ever writes one).
    EntryTermZero {
        /// The entry's index.
        at: Index,
    },
    /// The snapshot's configuration breaks a structural rule.
    InvalidConfState {
        /// The rule.
        rule: &'static str,
    },
    /// A configuration entry does not hold a valid configuration.
    InvalidConfEntry {
        /// The entry's index.
        at: Index,
    },
    /// The snapshot has a last index above 0 but term 0.
    InvalidSnapshot,
    /// The hard state names node 0 as its vote.
    InvalidVote,
    /// An entry or the snapshot sits at index `u64::MAX`: the log could
    /// never grow past it.
    IndexOverflow,
    /// The host's applied index is beyond everything stored: the state
    /// machine is ahead of the log it came from.
    AppliedBeyondLog {
        /// The applied index given.
        applied: Index,
        /// The last index stored.
        last: Index,
    },
}

impl fmt::Display for RestoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RestoreError::Gap { after, found } => write!(f, "log gap: {after} is followed by {found}"),
            RestoreError::TermDecreases { at } => write!(f, "log term decreases at {at}"),
            RestoreError::EntryTermZero { at } => write!(f, "entry {at} has term 0"),
            RestoreError::InvalidConfState { rule } => write!(f, "snapshot configuration invalid: {rule}"),
            RestoreError::InvalidConfEntry { at } => write!(f, "configuration entry {at} is invalid"),
            RestoreError::InvalidSnapshot => write!(f, "snapshot with a last index but term 0"),
            RestoreError::InvalidVote => write!(f, "hard state votes for node 0"),
            RestoreError::IndexOverflow => write!(f, "an index at u64::MAX"),
            RestoreError::AppliedBeyondLog { applied, last } => {
                write!(f, "applied index {applied} is beyond the last stored index {last}")
            }
        }
    }
}

impl core::error::Error for RestoreError {}

/// A repair restore made to a torn but explainable state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RestoreRepair {
    /// The commit index was beyond the last entry (a hard state written
    /// before a torn entry write); clamped.
    CommitClamped {
        /// As stored.
        from: Index,
        /// As restored.
        to: Index,
    },
    /// The commit index was below the applied index or the snapshot; raised.
    CommitRaised {
        /// As stored.
        from: Index,
        /// As restored.
        to: Index,
    },
    /// The hard-state term was below the last entry's term (the hard state
    /// is written last and was lost); raised, with no vote.
    TermRaised {
        /// As stored.
        from: Term,
        /// As restored.
        to: Term,
    },
    /// Entries left above a newer snapshot by a torn install, which do not
    /// continue it, were dropped.
    EntriesDropped {
        /// How many.
        count: usize,
    },
}

/// The validated, repaired state the node starts from.
pub(crate) struct Restored {
    /// The hard state after repairs.
    pub(crate) hard_state: HardState,
    /// The hard state as stored: the first Persist writes the repairs.
    pub(crate) stored_hard_state: HardState,
    pub(crate) snapshot: EntryId,
    pub(crate) snapshot_conf: Option<ConfState>,
    pub(crate) entries: VecDeque<Entry>,
    pub(crate) applied: Index,
    /// The configuration entries of the kept log, in index order.
    pub(crate) conf_entries: Vec<(Index, ConfState)>,
    /// Nothing was stored: a brand-new node.
    pub(crate) empty_store: bool,
    pub(crate) repairs: Vec<RestoreRepair>,
}

pub(crate) fn restore(state: RestoredState) -> Result<Restored, RestoreError> {
    let RestoredState { mut hard_state, snapshot, entries, applied } = state;
    let stored_hard_state = hard_state;
    let empty_store =
        hard_state == HardState::default() && snapshot.is_none() && entries.is_empty() && applied == Index::ZERO;
    let mut repairs = Vec::new();

    if hard_state.vote.is_some_and(|v| !v.is_valid()) {
        return Err(RestoreError::InvalidVote);
    }
    let (snap, snapshot_conf) = match snapshot {
        Some(meta) => {
            if meta.last.index > Index::ZERO && meta.last.term == Term::ZERO {
                return Err(RestoreError::InvalidSnapshot);
            }
            if meta.last.index == Index(u64::MAX) {
                return Err(RestoreError::IndexOverflow);
            }
            meta.conf_state.validate().map_err(|rule| RestoreError::InvalidConfState { rule })?;
            (meta.last, Some(meta.conf_state))
        }
        None => (EntryId::ZERO, None),
    };

    // The entries must be a gap-free run with non-decreasing, non-zero terms.
    for (i, e) in entries.iter().enumerate() {
        if e.term == Term::ZERO {
            return Err(RestoreError::EntryTermZero { at: e.index });
        }
        if e.index == Index(u64::MAX) {
            return Err(RestoreError::IndexOverflow);
        }
        if i > 0 {
            let prev = &entries[i - 1];
            if prev.index.0.checked_add(1) != Some(e.index.0) {
                return Err(RestoreError::Gap { after: prev.index, found: e.index });
            }
            if e.term < prev.term {
                return Err(RestoreError::TermDecreases { at: e.index });
            }
        }
    }

    // Keep only entries that continue the snapshot.
    let mut kept: VecDeque<Entry> = VecDeque::from(entries);
    if let Some(first) = kept.front().map(|e| e.index) {
        if first > snap.index.next() {
            return Err(RestoreError::Gap { after: snap.index, found: first });
        }
        let total = kept.len();
        if first <= snap.index {
            // The log overlaps the snapshot: it continues it only if it
            // holds the snapshot's last entry.
            let offset = (snap.index.0 - first.0) as usize;
            match kept.get(offset) {
                Some(e) if e.term == snap.term => {
                    kept.drain(..=offset);
                }
                _ => kept.clear(),
            }
            // Entries covered by the snapshot are not "dropped" in the sense
            // of a repair; only count the ones above it.
            let above = total.saturating_sub(offset + 1);
            let dropped = above.saturating_sub(kept.len());
            if dropped > 0 {
                repairs.push(RestoreRepair::EntriesDropped { count: dropped });
            }
        } else if kept.front().is_some_and(|e| e.term < snap.term) {
            kept.clear();
            repairs.push(RestoreRepair::EntriesDropped { count: total });
        }
    }
    let last = kept.back().map_or(snap, Entry::id);

    if hard_state.term < last.term {
        repairs.push(RestoreRepair::TermRaised { from: hard_state.term, to: last.term });
        hard_state.term = last.term;
        hard_state.vote = None;
    }
    if applied > last.index {
        return Err(RestoreError::AppliedBeyondLog { applied, last: last.index });
    }
    // The snapshot is the host's state machine (it restores it before
    // calling `Node::new`), so it counts as applied.
    let applied = applied.max(snap.index);
    if hard_state.commit > last.index {
        repairs.push(RestoreRepair::CommitClamped { from: hard_state.commit, to: last.index });
        hard_state.commit = last.index;
    }
    if hard_state.commit < applied {
        repairs.push(RestoreRepair::CommitRaised { from: hard_state.commit, to: applied });
        hard_state.commit = applied;
    }

    // The configuration in effect is the last configuration entry's, else
    // the snapshot's (thesis §4.1: a configuration takes effect when
    // appended); every configuration entry of the log is kept so that a
    // truncation can restore the one before.
    let mut conf_entries = Vec::new();
    for e in kept.iter().filter(|e| e.kind == EntryKind::ConfChange) {
        if e.payload_elided {
            return Err(RestoreError::InvalidConfEntry { at: e.index });
        }
        let c = decode_conf_state(&e.payload).map_err(|_| RestoreError::InvalidConfEntry { at: e.index })?;
        c.validate().map_err(|_| RestoreError::InvalidConfEntry { at: e.index })?;
        conf_entries.push((e.index, c));
    }

    Ok(Restored {
        hard_state,
        stored_hard_state,
        snapshot: snap,
        snapshot_conf,
        entries: kept,
        applied,
        conf_entries,
        empty_store,
        repairs,
    })
}
