//! Client sessions: the dedupe table of exactly-once writes, and expiry of
//! the least recently used session (Raft thesis §6.3).

use std::collections::BTreeMap;

use crate::command::SessionId;
use crate::error::InvariantViolation;
use crate::store::Recorded;

/// The most results a session keeps (those at or above its
/// `lowest_unacked`). A command that would keep one more is rejected with
/// [`KvError::TooManyInFlight`](crate::KvError::TooManyInFlight) and not
/// applied.
///
/// Why a limit: the client decides when results may be forgotten; one that
/// never raises `lowest_unacked` would otherwise grow the state (and every
/// snapshot) without bound. 1024 commands in flight per session is far
/// above what one client pipelines; a frontend that multiplexes many users
/// should open several sessions.
pub const MAX_RESULTS_PER_SESSION: usize = 1024;

/// One session's state.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Session {
    /// The log index of the session's last command (its `RegisterClient` at
    /// first): its recency for expiry.
    /// Invariant: `id <= last_active <= applied index`; unique among sessions.
    pub(crate) last_active: u64,
    /// The highest `lowest_unacked` any of the session's commands carried.
    /// Invariant: never decreases.
    pub(crate) lowest_unacked: u64,
    /// The result of each applied `seq` not yet acknowledged.
    /// Invariant: every key is `>= lowest_unacked`; at most
    /// [`MAX_RESULTS_PER_SESSION`] entries.
    pub(crate) results: BTreeMap<u64, Recorded>,
}

impl Session {
    /// Raises `lowest_unacked` to `lowest_unacked` if that is higher and
    /// forgets every result below it: the client has those responses.
    pub(crate) fn acknowledge_below(&mut self, lowest_unacked: u64) {
        if lowest_unacked > self.lowest_unacked {
            self.lowest_unacked = lowest_unacked;
            self.results = self.results.split_off(&lowest_unacked);
        }
    }
}

/// Every live session, and an index by recency for expiry.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Sessions {
    /// Invariant: `max >= 1` and `by_id.len() <= max`.
    max: usize,
    by_id: BTreeMap<SessionId, Session>,
    /// `last_active -> id`, so the least recently used session is the first
    /// entry. Log indexes are unique, so there are no ties.
    /// Invariant: exactly `{ (s.last_active, id) | (id, s) in by_id }`.
    by_recency: BTreeMap<u64, SessionId>,
}

impl Sessions {
    pub(crate) fn new(max: usize) -> Sessions {
        Sessions { max: max.max(1), by_id: BTreeMap::new(), by_recency: BTreeMap::new() }
    }

    /// Rebuilds the table from decoded sessions (restore). The caller checks
    /// invariants afterwards.
    ///
    /// # Errors
    ///
    /// Two sessions with the same `last_active`.
    pub(crate) fn from_parts(max: usize, by_id: BTreeMap<SessionId, Session>) -> Result<Sessions, &'static str> {
        let mut by_recency = BTreeMap::new();
        for (id, session) in &by_id {
            if by_recency.insert(session.last_active, *id).is_some() {
                return Err("two sessions share a last-active index");
            }
        }
        Ok(Sessions { max, by_id, by_recency })
    }

    pub(crate) fn max(&self) -> usize {
        self.max
    }

    pub(crate) fn len(&self) -> usize {
        self.by_id.len()
    }

    pub(crate) fn contains(&self, id: SessionId) -> bool {
        self.by_id.contains_key(&id)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (SessionId, &Session)> {
        self.by_id.iter().map(|(id, s)| (*id, s))
    }

    /// Opens the session created by the `RegisterClient` entry at `index`,
    /// then expires least recently used sessions until at most `max` are
    /// left. The new session is the most recent, so it never expires itself.
    /// `index` must be above every index seen so far.
    pub(crate) fn register(&mut self, index: u64) -> SessionId {
        let id = SessionId(index);
        debug_assert!(self.by_recency.last_key_value().is_none_or(|(&last, _)| last < index));
        let session = Session { last_active: index, lowest_unacked: 0, results: BTreeMap::new() };
        self.by_id.insert(id, session);
        self.by_recency.insert(index, id);
        while self.by_id.len() > self.max {
            let Some((_, oldest)) = self.by_recency.pop_first() else { break };
            self.by_id.remove(&oldest);
        }
        debug_assert!(self.by_id.len() <= self.max);
        debug_assert_eq!(self.by_id.len(), self.by_recency.len());
        id
    }

    /// Records activity of session `id` at log index `index` (above every
    /// index seen so far) and returns it; `None` if it does not exist.
    pub(crate) fn touch(&mut self, id: SessionId, index: u64) -> Option<&mut Session> {
        let session = self.by_id.get_mut(&id)?;
        debug_assert!(session.last_active < index);
        let removed = self.by_recency.remove(&session.last_active);
        debug_assert_eq!(removed, Some(id));
        session.last_active = index;
        self.by_recency.insert(index, id);
        Some(session)
    }

    /// Checks every invariant of the table against the applied index.
    pub(crate) fn check(&self, applied: u64) -> Result<(), InvariantViolation> {
        if self.max == 0 {
            return Err(InvariantViolation::ZeroMaxSessions);
        }
        if self.by_id.len() > self.max {
            return Err(InvariantViolation::TooManySessions);
        }
        if self.by_recency.len() != self.by_id.len() {
            return Err(InvariantViolation::RecencyIndexMismatch);
        }
        for (id, s) in &self.by_id {
            if id.0 == 0 || id.0 > applied {
                return Err(InvariantViolation::SessionIdOutOfRange);
            }
            if s.last_active < id.0 || s.last_active > applied {
                return Err(InvariantViolation::LastActiveOutOfRange);
            }
            if self.by_recency.get(&s.last_active) != Some(id) {
                return Err(InvariantViolation::RecencyIndexMismatch);
            }
            if s.results.len() > MAX_RESULTS_PER_SESSION {
                return Err(InvariantViolation::TooManyResults);
            }
            if s.results.first_key_value().is_some_and(|(&seq, _)| seq < s.lowest_unacked) {
                return Err(InvariantViolation::ResultBelowLowestUnacked);
            }
        }
        Ok(())
    }
}
