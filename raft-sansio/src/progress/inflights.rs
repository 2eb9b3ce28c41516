//! The in-flight window of one follower: the appends sent but not yet
//! acknowledged, each by its last index and payload bytes.

use alloc::collections::VecDeque;

use raft_sansio_proto::Index;

/// A FIFO of in-flight appends. It grows on demand up to the window the
/// caller enforces (`max_inflight_msgs`), so an idle follower costs nothing
/// and a busy one stops allocating once warm.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Inflights {
    /// (last index of the append, payload bytes, tick sent), in send
    /// order. Invariant: last indexes strictly increase.
    queue: VecDeque<(Index, u64, u64)>,
    /// Invariant: the sum of the queue's bytes.
    bytes: u64,
}

impl Inflights {
    /// Records an append whose last entry is `last`.
    #[inline]
    pub(crate) fn add(&mut self, last: Index, bytes: u64, tick: u64) {
        debug_assert!(self.queue.back().is_none_or(|&(prev, _, _)| prev < last), "in-flight appends out of order");
        self.queue.push_back((last, bytes, tick));
        self.bytes += bytes;
    }

    /// The tick at which the oldest append in flight was sent.
    pub(crate) fn oldest_sent_tick(&self) -> Option<u64> {
        self.queue.front().map(|&(_, _, tick)| tick)
    }

    /// Frees every append whose last index is at or below `index` (an ack
    /// for `index` covers them all).
    #[inline]
    pub(crate) fn free_to(&mut self, index: Index) {
        while let Some(&(last, bytes, _)) = self.queue.front() {
            if last > index {
                break;
            }
            self.bytes -= bytes;
            self.queue.pop_front();
        }
    }

    /// Whether another append would exceed the message or byte window.
    #[inline]
    pub(crate) fn full(&self, max_msgs: usize, max_bytes: u64) -> bool {
        self.queue.len() >= max_msgs || self.bytes >= max_bytes
    }

    pub(crate) fn count(&self) -> usize {
        self.queue.len()
    }

    pub(crate) fn bytes(&self) -> u64 {
        self.bytes
    }

    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acks_free_everything_they_cover() {
        let mut w = Inflights::default();
        w.add(Index(5), 10, 0);
        w.add(Index(8), 20, 1);
        w.add(Index(9), 30, 1);
        assert_eq!(w.oldest_sent_tick(), Some(0));
        assert!(w.full(3, u64::MAX));
        assert!(!w.full(4, u64::MAX));
        assert!(w.full(4, 60));
        w.free_to(Index(7));
        assert_eq!((w.count(), w.bytes()), (2, 50));
        // A stale ack frees nothing more.
        w.free_to(Index(4));
        assert_eq!(w.count(), 2);
        w.free_to(Index(9));
        assert!(w.is_empty());
        assert_eq!(w.bytes(), 0);
    }
}
