//! Identifier newtypes: who ([`NodeId`]), when ([`Term`]) and where in the log
//! ([`Index`], [`EntryId`]).
//!
//! Passing `(index, term)` as two loose `u64`s is how arguments get swapped;
//! these types make the compiler catch it.

use core::fmt;

/// The identity of one member of a Raft group.
///
/// `0` is never a valid member id: it is what a forged or corrupted message
/// carries, and the core drops messages from or to it. Ids are never reused:
/// a node whose store is lost rejoins under a new id.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct NodeId(pub u64);

impl NodeId {
    /// The reserved invalid id.
    pub const INVALID: NodeId = NodeId(0);

    /// Whether this id may name a member (it is not 0).
    #[inline]
    pub const fn is_valid(self) -> bool {
        self.0 != 0
    }
}

/// A Raft term: a logical clock that only grows (Raft §5.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Term(pub u64);

impl Term {
    /// Term 0: before any election. No entry is ever written in term 0.
    pub const ZERO: Term = Term(0);

    /// The next term, saturating at `u64::MAX` (never reached in practice:
    /// a term per nanosecond lasts 584 years).
    #[inline]
    #[must_use]
    pub const fn next(self) -> Term {
        Term(self.0.saturating_add(1))
    }
}

/// A position in the replicated log. Index 0 is the empty prefix; the first
/// entry has index 1.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Index(pub u64);

impl Index {
    /// The empty prefix.
    pub const ZERO: Index = Index(0);

    /// The next index, saturating at `u64::MAX`.
    #[inline]
    #[must_use]
    pub const fn next(self) -> Index {
        Index(self.0.saturating_add(1))
    }

    /// The previous index, saturating at 0.
    #[inline]
    #[must_use]
    pub const fn prev(self) -> Index {
        Index(self.0.saturating_sub(1))
    }

    /// `self + n`, saturating at `u64::MAX`.
    #[inline]
    #[must_use]
    pub const fn plus(self, n: u64) -> Index {
        Index(self.0.saturating_add(n))
    }
}

/// The identity of one log entry: its term and its index. By the Log Matching
/// property (Raft §5.3), two logs that hold the same `EntryId` agree on every
/// entry up to it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct EntryId {
    /// The term in which a leader created the entry.
    pub term: Term,
    /// The entry's position in the log.
    pub index: Index,
}

impl EntryId {
    /// The id of the empty prefix: term 0, index 0.
    pub const ZERO: EntryId = EntryId { term: Term(0), index: Index(0) };

    /// Builds an id from its parts.
    #[inline]
    pub const fn new(term: Term, index: Index) -> EntryId {
        EntryId { term, index }
    }

    /// Whether a log ending at `self` is at least as up to date as one ending
    /// at `other` (Raft §5.4.1): the later last term wins, and for equal terms
    /// the longer log. This is a lexicographic comparison of (term, index);
    /// comparing the index first is a classic bug.
    #[inline]
    pub fn is_up_to_date_with(self, other: EntryId) -> bool {
        (self.term, self.index) >= (other.term, other.index)
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "n{}", self.0)
    }
}

impl fmt::Display for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "t{}", self.0)
    }
}

impl fmt::Display for Index {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "i{}", self.0)
    }
}

impl fmt::Display for EntryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.term.0, self.index.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn up_to_date_is_lexicographic_on_term_then_index() {
        let a = EntryId::new(Term(3), Index(5));
        // A later term wins even with a shorter log.
        assert!(a.is_up_to_date_with(EntryId::new(Term(2), Index(100))));
        assert!(!EntryId::new(Term(2), Index(100)).is_up_to_date_with(a));
        // Same term: the longer log wins; equal logs are up to date.
        assert!(a.is_up_to_date_with(EntryId::new(Term(3), Index(4))));
        assert!(a.is_up_to_date_with(a));
        assert!(!a.is_up_to_date_with(EntryId::new(Term(3), Index(6))));
    }

    #[test]
    fn arithmetic_saturates() {
        assert_eq!(Index(u64::MAX).next(), Index(u64::MAX));
        assert_eq!(Index(0).prev(), Index(0));
        assert_eq!(Term(u64::MAX).next(), Term(u64::MAX));
        assert_eq!(Index(3).plus(4), Index(7));
    }

    #[test]
    fn display_is_short() {
        assert_eq!(alloc::format!("{}", NodeId(7)), "n7");
        assert_eq!(alloc::format!("{}", EntryId::new(Term(2), Index(9))), "2/9");
    }
}
