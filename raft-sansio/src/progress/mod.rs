//! What the leader knows about each follower's log, and how fast it may send.
//!
//! ```text
//!                  ack advances match
//!          +--------------------------------+
//!          |                                v
//!     +---------+   reject / unreachable  +-----------+
//!     |  Probe  | <---------------------- | Replicate |
//!     +---------+   stalled heartbeats    +-----------+
//!       |     ^                                 |
//!       |     | snapshot installed              | needs compacted entries
//!       v     |                                 v
//!     +----------+ <----------------------------+
//!     | Snapshot |
//!     +----------+
//! ```
//!
//! - **Probe**: the leader does not know where the follower's log matches.
//!   It sends one append at a time and waits (paused) for the answer, which
//!   either finds the match (then Replicate) or moves `next_index` back using
//!   the follower's conflict hint.
//! - **Replicate**: the match is known; the leader streams appends
//!   optimistically, bounded by an in-flight window of messages and bytes.
//!   A rejection, an unreachable report, or heartbeats answered while appends
//!   stay unacknowledged (all of them were lost) send it back to Probe.
//! - **Snapshot**: the follower needs entries the leader has compacted; it
//!   must install a snapshot first.

mod inflights;

use raft_sansio_proto::Index;

pub(crate) use inflights::Inflights;

/// The replication state of one follower, with the data only that state has.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ProgressState {
    /// One append at a time; `paused` while it is unanswered.
    Probe { paused: bool },
    /// Streaming, bounded by the in-flight window.
    Replicate { inflights: Inflights },
    /// Sending a snapshot in chunks.
    Snapshot(SnapshotSend),
}

/// A snapshot on its way to a follower, chunk by chunk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SnapshotSend {
    /// The snapshot's last entry (with the leader's term, its id).
    pub(crate) last: raft_sansio_proto::EntryId,
    /// The next byte to send.
    pub(crate) next_offset: u64,
    /// Every byte before this one is acknowledged.
    pub(crate) acked_offset: u64,
    /// Chunks sent and not yet acknowledged.
    pub(crate) chunks_in_flight: usize,
    /// The tick of the last acknowledgement (or of the start).
    pub(crate) last_progress_tick: u64,
    /// The end of the furthest chunk sent: an answer beyond it is forged.
    pub(crate) sent_end: u64,
    /// The last chunk went out (and is not known lost).
    pub(crate) last_chunk_sent: bool,
}

/// The leader's view of one follower.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Progress {
    /// The highest index known to match the leader's log and be durable on
    /// the follower. Invariant: match_index < next_index.
    pub(crate) match_index: Index,
    /// The next index to send.
    pub(crate) next_index: Index,
    pub(crate) state: ProgressState,
    /// Heard from since the last check-quorum round.
    pub(crate) recent_active: bool,
    /// The highest index ever sent to this follower in this term. An ack
    /// beyond it acknowledges something never sent: a forged or corrupted
    /// message, dropped rather than trusted.
    pub(crate) sent_up_to: Index,
    /// The highest commit index this follower can have learned from what we
    /// sent it, so that an empty append goes out only when it tells the
    /// follower something new.
    pub(crate) commit_sent: Index,
    /// The highest heartbeat round this follower acknowledged in this term.
    pub(crate) acked_round: u64,
}

impl Progress {
    /// A follower about which nothing is known yet: probe from `next`.
    pub(crate) fn new(next: Index) -> Progress {
        Progress {
            match_index: Index::ZERO,
            next_index: next,
            state: ProgressState::Probe { paused: false },
            recent_active: false,
            sent_up_to: Index::ZERO,
            commit_sent: Index::ZERO,
            acked_round: 0,
        }
    }

    /// Whether the leader must not send another append now.
    #[inline]
    pub(crate) fn is_paused(&self, max_msgs: usize, max_bytes: u64) -> bool {
        match &self.state {
            ProgressState::Probe { paused } => *paused,
            ProgressState::Replicate { inflights } => inflights.full(max_msgs, max_bytes),
            ProgressState::Snapshot { .. } => true,
        }
    }

    pub(crate) fn is_replicating(&self) -> bool {
        matches!(self.state, ProgressState::Replicate { .. })
    }

    /// Back to probing right after the known match.
    pub(crate) fn become_probe(&mut self) {
        self.next_index = self.match_index.next();
        self.state = ProgressState::Probe { paused: false };
    }

    /// Start streaming after the known match.
    pub(crate) fn become_replicate(&mut self) {
        self.next_index = self.match_index.next();
        self.state = ProgressState::Replicate { inflights: Inflights::default() };
    }

    /// Starts sending the snapshot whose last entry is `last`, from its
    /// first byte.
    pub(crate) fn become_snapshot(&mut self, last: raft_sansio_proto::EntryId, tick: u64) {
        // The install ack will claim a match at `last.index`.
        self.sent_up_to = self.sent_up_to.max(last.index);
        self.state = ProgressState::Snapshot(SnapshotSend {
            last,
            next_offset: 0,
            acked_offset: 0,
            chunks_in_flight: 0,
            last_progress_tick: tick,
            sent_end: 0,
            last_chunk_sent: false,
        });
    }

    /// The follower stored the chunks of the snapshot `last` up to
    /// `next_offset` (the next byte it expects) at tick `now`.
    pub(crate) fn on_snapshot_receiving(
        &mut self,
        last: raft_sansio_proto::EntryId,
        next_offset: u64,
        now: u64,
    ) -> Result<(), crate::event::DropReason> {
        let ProgressState::Snapshot(s) = &mut self.state else {
            return Err(crate::event::DropReason::StaleResponse);
        };
        if s.last != last {
            return Err(crate::event::DropReason::StaleResponse);
        }
        if next_offset > s.sent_end {
            return Err(crate::event::DropReason::ImpossibleIndex);
        }
        s.chunks_in_flight = s.chunks_in_flight.saturating_sub(1);
        if next_offset > s.acked_offset {
            s.acked_offset = next_offset;
            s.last_progress_tick = now;
            // The follower holds more than we thought (a resend crossed
            // with the answers): skip ahead.
            if s.next_offset < next_offset {
                s.next_offset = next_offset;
            }
        }
        // Every chunk sent is answered and the follower still misses bytes
        // we sent: chunks were lost, or it restarted and lost its partial
        // snapshot. Resend from what it expects.
        if s.chunks_in_flight == 0 && next_offset < s.next_offset {
            s.next_offset = next_offset;
            s.acked_offset = next_offset;
            s.last_chunk_sent = false;
        }
        Ok(())
    }

    /// The follower installed a snapshot (or found it stale): its log
    /// matches ours up to `match_index`, durably. Returns whether the match
    /// moved.
    pub(crate) fn on_snapshot_installed(&mut self, match_index: Index) -> bool {
        let moved = match_index > self.match_index;
        if moved {
            self.match_index = match_index;
        }
        self.sent_up_to = self.sent_up_to.max(match_index);
        match &mut self.state {
            ProgressState::Snapshot(_) => self.become_probe(),
            ProgressState::Probe { paused } => {
                *paused = false;
                self.next_index = self.next_index.max(self.match_index.next());
            }
            ProgressState::Replicate { inflights } => {
                inflights.free_to(self.match_index);
                self.next_index = self.next_index.max(self.match_index.next());
            }
        }
        moved
    }

    /// An append with entries up to `last` (carrying `bytes` of payload) was
    /// sent; `last` is `next_index - 1` for an empty append.
    #[inline]
    pub(crate) fn on_sent(&mut self, last: Index, entries: usize, bytes: u64, tick: u64) {
        self.sent_up_to = self.sent_up_to.max(last);
        match &mut self.state {
            ProgressState::Replicate { inflights } => {
                if entries > 0 {
                    inflights.add(last, bytes, tick);
                    self.next_index = last.next();
                }
            }
            ProgressState::Probe { paused } => *paused = true,
            ProgressState::Snapshot { .. } => {}
        }
    }

    /// The follower acknowledged a match at `index`. Returns whether the
    /// match moved (a stale or duplicated ack changes nothing).
    #[inline]
    pub(crate) fn on_ack(&mut self, index: Index) -> bool {
        debug_assert!(index <= self.sent_up_to, "ack beyond what was sent must be gated");
        let moved = index > self.match_index;
        if moved {
            self.match_index = index;
        }
        if self.next_index <= index {
            self.next_index = index.next();
        }
        match &mut self.state {
            ProgressState::Probe { paused } => *paused = false,
            ProgressState::Replicate { inflights } => inflights.free_to(index),
            ProgressState::Snapshot { .. } => {}
        }
        moved
    }

    /// The follower rejected an append whose previous entry was
    /// `rejected_prev`; `hint_next` is where the conflict hint says to probe.
    /// Returns false for a stale rejection (one that does not answer what is
    /// in flight now), which changes nothing.
    pub(crate) fn on_reject(&mut self, rejected_prev: Index, hint_next: Index) -> bool {
        match &mut self.state {
            ProgressState::Replicate { .. } => {
                // Replicate streams from a known match: any rejection above
                // it means appends were lost or the follower lost state;
                // probe again right after the match (etcd does the same).
                if rejected_prev <= self.match_index {
                    return false;
                }
                self.become_probe();
                true
            }
            ProgressState::Probe { paused } => {
                // Only the answer to the probe in flight counts.
                if self.next_index.prev() != rejected_prev {
                    return false;
                }
                let next = hint_next.min(rejected_prev).max(self.match_index.next());
                self.next_index = next;
                *paused = false;
                true
            }
            ProgressState::Snapshot { .. } => false,
        }
    }

    /// A heartbeat response arrived at tick `now`. Returns true when the
    /// follower should be sent an append now: it is probing, or an append
    /// has been in flight for `stall_ticks` while the follower answers
    /// heartbeats, so every append in flight was most likely lost (a
    /// spurious probe only resends). `stall_ticks` is half the minimum
    /// election timeout: long enough that a slow fsync on the follower is
    /// not taken for a loss, short enough to recover well before anyone's
    /// election timeout.
    pub(crate) fn on_heartbeat_response(&mut self, now: u64, stall_ticks: u64) -> bool {
        match &mut self.state {
            ProgressState::Probe { paused } => {
                *paused = false;
                true
            }
            ProgressState::Replicate { inflights } => {
                let stalled = inflights.oldest_sent_tick().is_some_and(|sent| now.saturating_sub(sent) >= stall_ticks);
                if stalled {
                    self.become_probe();
                }
                stalled
            }
            ProgressState::Snapshot { .. } => false,
        }
    }

    /// In Snapshot state, a heartbeat response at `now`: if no chunk was
    /// acknowledged for `stall_ticks`, send again from the last
    /// acknowledged offset (chunks were lost). Returns whether to send.
    pub(crate) fn snapshot_stalled(&mut self, now: u64, stall_ticks: u64) -> bool {
        let ProgressState::Snapshot(s) = &mut self.state else { return false };
        if now.saturating_sub(s.last_progress_tick) < stall_ticks {
            return false;
        }
        s.next_offset = s.acked_offset;
        s.chunks_in_flight = 0;
        s.last_progress_tick = now;
        s.last_chunk_sent = false;
        true
    }

    /// Leaves Snapshot state once the follower's match reaches entries the
    /// leader still holds (`first_index` and on): it can catch up from the
    /// log after all (etcd does the same).
    pub(crate) fn maybe_leave_snapshot(&mut self, first_index: Index) -> bool {
        if matches!(self.state, ProgressState::Snapshot { .. }) && self.match_index.next() >= first_index {
            self.become_probe();
            return true;
        }
        false
    }

    /// Messages and bytes in flight (0 outside Replicate).
    pub(crate) fn inflight(&self) -> (usize, u64) {
        match &self.state {
            ProgressState::Replicate { inflights } => (inflights.count(), inflights.bytes()),
            _ => (0, 0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_pauses_until_answered_then_replicates() {
        let mut pr = Progress::new(Index(11));
        assert!(!pr.is_paused(4, u64::MAX));
        pr.on_sent(Index(10), 0, 0, 0);
        assert!(pr.is_paused(4, u64::MAX));
        assert!(pr.on_ack(Index(10)));
        assert!(!pr.is_paused(4, u64::MAX));
        pr.become_replicate();
        assert_eq!(pr.next_index, Index(11));
        pr.on_sent(Index(12), 2, 100, 1);
        pr.on_sent(Index(13), 1, 50, 1);
        assert_eq!(pr.inflight(), (2, 150));
        assert_eq!(pr.next_index, Index(14));
        assert!(pr.on_ack(Index(12)));
        assert_eq!(pr.inflight(), (1, 50));
        // A duplicated ack changes nothing.
        assert!(!pr.on_ack(Index(12)));
        assert_eq!(pr.match_index, Index(12));
    }

    #[test]
    fn stale_rejections_are_ignored() {
        let mut pr = Progress::new(Index(11));
        pr.on_sent(Index(10), 0, 0, 0);
        // Probing prev 10: a rejection of prev 7 answers an older probe.
        assert!(!pr.on_reject(Index(7), Index(5)));
        assert!(pr.on_reject(Index(10), Index(6)));
        assert_eq!(pr.next_index, Index(6));
        // Never below match + 1.
        pr.match_index = Index(7);
        pr.next_index = Index(9);
        assert!(pr.on_reject(Index(8), Index(2)));
        assert_eq!(pr.next_index, Index(8));

        let mut pr = Progress::new(Index(1));
        pr.match_index = Index(20);
        pr.become_replicate();
        pr.on_sent(Index(25), 5, 5, 0);
        assert!(!pr.on_reject(Index(20), Index(3)), "a rejection at or below match is stale");
        assert!(pr.on_reject(Index(22), Index(3)));
        assert_eq!(pr.state, ProgressState::Probe { paused: false });
        assert_eq!(pr.next_index, Index(21));
    }

    #[test]
    fn heartbeats_recover_a_follower_whose_appends_were_all_lost() {
        let mut pr = Progress::new(Index(1));
        pr.become_replicate();
        pr.on_sent(Index(3), 3, 30, 10);
        assert!(!pr.on_heartbeat_response(12, 5), "two ticks in flight is not a stall");
        assert!(pr.on_heartbeat_response(15, 5), "five ticks in flight with heartbeats answered is");
        assert!(matches!(pr.state, ProgressState::Probe { paused: false }));
        assert_eq!(pr.next_index, Index(1));
    }

    #[test]
    fn only_replicate_is_replicating() {
        let mut pr = Progress::new(Index(1));
        assert!(!pr.is_replicating());
        pr.become_replicate();
        assert!(pr.is_replicating());
        pr.become_snapshot(raft_sansio_proto::EntryId::new(raft_sansio_proto::Term(1), Index(3)), 0);
        assert!(!pr.is_replicating());
        assert!(pr.is_paused(usize::MAX, u64::MAX));
    }

    #[test]
    fn snapshot_state_ends_when_the_match_reaches_the_log() {
        let mut pr = Progress::new(Index(5));
        pr.become_snapshot(raft_sansio_proto::EntryId::new(raft_sansio_proto::Term(1), Index(10)), 0);
        assert!(!pr.maybe_leave_snapshot(Index(11)));
        pr.match_index = Index(10);
        assert!(pr.maybe_leave_snapshot(Index(11)));
        assert_eq!(pr.next_index, Index(11));
    }
}
