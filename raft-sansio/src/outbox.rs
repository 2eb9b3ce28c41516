//! The outbox: the single choke point through which every output leaves the
//! node, and which decides whether a message goes now or waits for a
//! `Persisted`.
//!
//! Persistence before promise (Raft thesis §3.8): "servers must persist
//! their current term and vote before responding to RPCs, and followers must
//! persist new entries before acknowledging them". A promise (a vote grant,
//! an append success, a snapshot-install ack) therefore leaves through
//! [`Outbox::send_after_persist`], which holds it until the `Persist` that
//! created the promised state, and every earlier one, is acknowledged.
//! Everything else (appends, heartbeats, vote requests, rejections) leaves
//! at once through [`Outbox::send`]: a leader replicates in parallel with
//! its own disk write.
//!
//! Within one step every state change that needs durability accumulates
//! into one pending `Persist`, flushed at the end of the step; its `seq` is
//! fixed when it is opened so that promises made during the step can wait
//! for it.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use raft_sansio_proto::{HardState, Index, Message};

use crate::event::Event;
use crate::output::{Output, Persist};

/// Outputs of the current step, and what is waiting for persistence.
#[derive(Debug)]
pub(crate) struct Outbox {
    /// The caller's output vector, swapped in for the duration of a step.
    pub(crate) buf: Vec<Output>,
    pub(crate) emit_events: bool,
    /// The Persist being built in this step, if any.
    pending: Option<Persist>,
    /// The last seq emitted. Invariant: done <= emitted.
    emitted: u64,
    /// The highest seq the host acknowledged.
    done: u64,
    /// For each emitted, unacknowledged Persist: its seq and the last index
    /// that will be durable (and equal to the in-memory log) once it is.
    /// Truncation caps these, so that a late `Persisted` for an old write can
    /// never vouch for entries that were replaced since (the ABA problem).
    records: VecDeque<(u64, Index)>,
    /// Promises waiting for their Persist: (seq, message), seq ascending.
    deferred: VecDeque<(u64, Message)>,
    /// The hard state of the last emitted Persist that carried one.
    last_hard_state: HardState,
}

impl Outbox {
    pub(crate) fn new(emit_events: bool, durable_hard_state: HardState) -> Outbox {
        Outbox {
            buf: Vec::new(),
            emit_events,
            pending: None,
            emitted: 0,
            done: 0,
            records: VecDeque::new(),
            deferred: VecDeque::new(),
            last_hard_state: durable_hard_state,
        }
    }

    /// Sends a message now.
    #[inline]
    pub(crate) fn send(&mut self, message: Message) {
        debug_assert_ne!(message.from, message.to, "a node never messages itself");
        self.buf.push(Output::Send { to: message.to, message });
    }

    /// Sends a promise once every Persist emitted so far (including the one
    /// pending in this step) is durable.
    #[inline]
    pub(crate) fn send_after_persist(&mut self, message: Message) {
        let seq = self.required_seq();
        if seq <= self.done {
            self.send(message);
        } else {
            self.deferred.push_back((seq, message));
        }
    }

    /// The seq that must be durable for the state as of now to be durable.
    #[inline]
    pub(crate) fn required_seq(&self) -> u64 {
        match &self.pending {
            Some(p) => p.seq,
            None => self.emitted,
        }
    }

    #[inline]
    pub(crate) fn durable_seq(&self) -> u64 {
        self.done
    }

    #[inline]
    pub(crate) fn emitted_seq(&self) -> u64 {
        self.emitted
    }

    /// Emits an event (when events are on).
    #[inline]
    pub(crate) fn event(&mut self, event: Event) {
        if self.emit_events {
            self.buf.push(Output::Event(event));
        }
    }

    #[inline]
    pub(crate) fn push(&mut self, output: Output) {
        self.buf.push(output);
    }

    /// The Persist of this step, opened on first use.
    #[inline]
    pub(crate) fn persist(&mut self) -> &mut Persist {
        let seq = self.emitted + 1;
        self.pending.get_or_insert_with(|| Persist { seq, ..Persist::default() })
    }

    /// Opens the Persist of this step if it is not open yet (a term or vote
    /// change needs one even without entries).
    #[inline]
    pub(crate) fn open_persist(&mut self) {
        let _ = self.persist();
    }

    /// The log was truncated from `from`: no record may vouch for entries at
    /// or above it any more.
    pub(crate) fn on_truncate(&mut self, from: Index) {
        let cap = from.prev();
        for (_, durable_last) in self.records.iter_mut() {
            if *durable_last > cap {
                *durable_last = cap;
            }
        }
    }

    /// Closes the step's Persist: adds the hard state if it changed, and
    /// emits it. `last_index` is the log's last index after the step.
    ///
    /// A change of the commit index alone opens no Persist of its own: it
    /// rides along with the next Persist that writes entries or a term or
    /// vote, and with a commit-only Persist (`must_sync: false`) at most once
    /// per tick (`checkpoint_commit`). Losing it in a crash is safe: a
    /// restarted node re-learns the commit index from the leader, and its
    /// host's applied index bounds it from below.
    pub(crate) fn flush(&mut self, hard_state: HardState, last_index: Index, checkpoint_commit: bool) {
        let hard_state_changed = hard_state != self.last_hard_state;
        if self.pending.is_none() && !(hard_state_changed && checkpoint_commit) {
            return;
        }
        let term_or_vote_changed =
            hard_state.term != self.last_hard_state.term || hard_state.vote != self.last_hard_state.vote;
        let mut persist =
            self.pending.take().unwrap_or_else(|| Persist { seq: self.emitted + 1, ..Persist::default() });
        if hard_state_changed {
            persist.hard_state = Some(hard_state);
            self.last_hard_state = hard_state;
        }
        // A chunk alone need not be synced: a follower that loses it in a
        // crash asks for the snapshot from the start (the core forgets a
        // partial snapshot on restart), and the metadata that makes a
        // snapshot the log's base comes with the last chunk and syncs.
        persist.must_sync = term_or_vote_changed
            || persist.snapshot.is_some()
            || persist.truncate_from.is_some()
            || !persist.entries.is_empty();
        debug_assert_eq!(persist.seq, self.emitted + 1);
        self.emitted = persist.seq;
        self.records.push_back((persist.seq, last_index));
        self.buf.push(Output::Persist(persist));
    }

    /// The host acknowledged every Persist up to `up_to`. Returns the index
    /// now durable, if this advanced anything, and releases the promises
    /// that were waiting.
    pub(crate) fn on_persisted(&mut self, up_to: u64) -> Result<Option<Index>, u64> {
        if up_to > self.emitted {
            return Err(self.emitted);
        }
        if up_to <= self.done {
            return Ok(None);
        }
        self.done = up_to;
        let mut durable = None;
        while let Some(&(seq, durable_last)) = self.records.front() {
            if seq > up_to {
                break;
            }
            durable = Some(durable_last);
            self.records.pop_front();
        }
        while let Some((seq, _)) = self.deferred.front() {
            if *seq > up_to {
                break;
            }
            if let Some((_, message)) = self.deferred.pop_front() {
                self.send(message);
            }
        }
        Ok(durable)
    }

    /// Promises waiting for persistence (for tests and diagnostics).
    pub(crate) fn deferred_len(&self) -> usize {
        self.deferred.len()
    }
}
