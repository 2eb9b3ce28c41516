//! Linearizable reads without the log (Raft thesis §6.4): read index, leader
//! lease, and reads served through a follower.
//!
//! A read is *admitted* once the leader has committed an entry of its term
//! (only then is its commit index at least every index committed before it
//! took over); its read index is the commit index at that moment. It is then
//! *confirmed* by a heartbeat round sent after its admission and
//! acknowledged by a quorum, which proves that no newer leader had been
//! elected when the round was answered. Rounds are numbered by the leader
//! (`read_round`), never by the caller, so a delayed or duplicated ack of an
//! earlier round never confirms a later read. Reads admitted while a round
//! is in flight share the next round, so a burst of reads costs one or two
//! rounds, not one each.
//!
//! In lease mode the leader answers at once while its lease holds: the
//! lease runs from the tick at which it sent the latest round a quorum
//! acknowledged (never from when the acks arrived), for
//! `ReadMode::Lease::lease_ticks`, see the drift formula there.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use raft_sansio_proto::{Index, MessageBody, NodeId, ReadIndex, ReadIndexResponse, ReadRejectReason};

use crate::config::ReadMode;
use crate::event::DropReason;
use crate::input::RequestId;
use crate::node::{Node, RoleState};
use crate::output::{Output, RejectReason};

/// Who asked for a read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ReadFrom {
    /// The host, through `Input::Read`.
    Local(RequestId),
    /// A follower, through a `ReadIndex` message with its context.
    Follower { peer: NodeId, context: u64 },
}

/// An admitted read: its index is fixed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PendingRead {
    from: ReadFrom,
    index: Index,
}

/// The leader's reads, by stage.
#[derive(Debug, Default)]
pub(crate) struct ReadQueue {
    /// Waiting for an entry of the leader's term to commit.
    awaiting_commit: VecDeque<ReadFrom>,
    /// Admitted, waiting for the next round to be sent.
    unsent: Vec<PendingRead>,
    /// Sent with a round, waiting for a quorum to acknowledge it.
    in_flight: VecDeque<(u64, Vec<PendingRead>)>,
    /// Recent rounds and the tick each was sent at, for the lease.
    sent: VecDeque<(u64, u64)>,
    /// The send tick of the latest round a quorum acknowledged.
    pub(crate) confirmed_round_tick: Option<u64>,
}

impl ReadQueue {
    pub(crate) fn len(&self) -> usize {
        self.awaiting_commit.len() + self.unsent.len() + self.in_flight.iter().map(|(_, r)| r.len()).sum::<usize>()
    }

    /// Everything pending, for a leader stepping down.
    fn drain(&mut self) -> Vec<ReadFrom> {
        let mut all: Vec<ReadFrom> = self.awaiting_commit.drain(..).collect();
        all.extend(self.unsent.drain(..).map(|r| r.from));
        for (_, reads) in self.in_flight.drain(..) {
            all.extend(reads.into_iter().map(|r| r.from));
        }
        all
    }

    /// A round went out at `tick`, carrying every read admitted so far.
    /// Send ticks are kept only for the lease (`lease`).
    pub(crate) fn on_round_sent(&mut self, round: u64, tick: u64, lease: bool) {
        if lease {
            self.sent.push_back((round, tick));
        }
        // Bounded: rounds older than the last confirmed one are pruned as
        // rounds are confirmed; cap the rest anyway.
        if self.sent.len() > 1024 {
            self.sent.pop_front();
        }
        if !self.unsent.is_empty() {
            let reads = core::mem::take(&mut self.unsent);
            self.in_flight.push_back((round, reads));
        }
    }
}

/// A read this follower forwarded to the leader.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ForwardedRead {
    pub(crate) id: RequestId,
    /// The read index the leader answered, once it has.
    pub(crate) index: Option<Index>,
    /// The tick after which the read is given up.
    pub(crate) deadline: u64,
}

impl Node {
    /// Whether the leader has committed an entry of its own term.
    pub(crate) fn term_committed(&self) -> bool {
        match &self.role {
            RoleState::Leader(ls) => self.log.committed() >= ls.noop_index,
            _ => false,
        }
    }

    /// Whether a lease read may be answered now.
    fn lease_holds(&self) -> bool {
        let ReadMode::Lease { lease_ticks, .. } = self.config.read_mode else { return false };
        let RoleState::Leader(ls) = &self.role else { return false };
        // No lease once timeout-now went out this term: the target may win
        // at once, bypassing stickiness.
        if ls.timeout_now_sent || !self.term_committed() {
            return false;
        }
        ls.reads.confirmed_round_tick.is_some_and(|t| self.ticks < t + u64::from(lease_ticks))
    }

    pub(crate) fn on_read(&mut self, id: RequestId, wait: bool) {
        if self.acts_as_witness() {
            let reason = if matches!(self.role, RoleState::Leader(_)) {
                RejectReason::WitnessLeader
            } else {
                RejectReason::Witness
            };
            self.out.push(Output::Rejected { id, reason });
            return;
        }
        if let RoleState::Leader(ls) = &self.role {
            if ls.transfer.is_some() {
                self.out.push(Output::Rejected { id, reason: RejectReason::TransferInProgress });
                return;
            }
            if ls.reads.len() >= self.config.max_pending_reads {
                self.out.push(Output::Rejected { id, reason: RejectReason::TooManyReads });
                return;
            }
            if !self.term_committed() {
                if wait {
                    if let RoleState::Leader(ls) = &mut self.role {
                        ls.reads.awaiting_commit.push_back(ReadFrom::Local(id));
                    }
                } else {
                    self.out.push(Output::Rejected { id, reason: RejectReason::TermNotCommitted });
                }
                return;
            }
            self.admit_read(ReadFrom::Local(id));
            return;
        }
        // Off the leader: forward a read-index request to the leader.
        let Some(leader) = self.leader.filter(|&l| l != self.config.id) else {
            self.out.push(Output::Rejected { id, reason: RejectReason::NotLeader { leader_hint: None } });
            return;
        };
        if self.forwarded_reads.len() >= self.config.max_pending_reads {
            self.out.push(Output::Rejected { id, reason: RejectReason::TooManyReads });
            return;
        }
        self.next_read_context += 1;
        let context = self.next_read_context;
        let deadline = self.ticks + 2 * u64::from(self.config.election_timeout_ticks_max);
        self.forwarded_reads.insert(context, ForwardedRead { id, index: None, deadline });
        let message = self.message(leader, MessageBody::ReadIndex(ReadIndex { context }));
        self.out.send(message);
    }

    /// Fixes the read's index and answers it at once (lease) or queues it
    /// for the next round.
    fn admit_read(&mut self, from: ReadFrom) {
        let index = self.log.committed();
        if self.lease_holds() || self.membership.is_quorum(|id| id == self.config.id) {
            // A lease, or a single voter: nobody else can lead.
            self.answer_read(from, index);
            return;
        }
        let RoleState::Leader(ls) = &mut self.role else { return };
        ls.reads.unsent.push(PendingRead { from, index });
        // One round in flight at a time: reads admitted meanwhile share the
        // next one, sent when this one is confirmed (or with a heartbeat).
        if ls.reads.in_flight.is_empty() {
            self.broadcast_heartbeat();
        }
    }

    fn answer_read(&mut self, from: ReadFrom, index: Index) {
        match from {
            ReadFrom::Local(id) => self.out.push(Output::ReadReady { id, index }),
            ReadFrom::Follower { peer, context } => {
                let body = MessageBody::ReadIndexResponse(ReadIndexResponse { context, result: Ok(index) });
                let message = self.message(peer, body);
                self.out.send(message);
            }
        }
    }

    fn refuse_read(&mut self, from: ReadFrom, reason: RejectReason) {
        match from {
            ReadFrom::Local(id) => self.out.push(Output::Rejected { id, reason }),
            ReadFrom::Follower { peer, context } => {
                let wire = match reason {
                    RejectReason::TermNotCommitted => ReadRejectReason::TermNotCommitted,
                    RejectReason::TransferInProgress => ReadRejectReason::TransferInProgress,
                    RejectReason::TooManyReads => ReadRejectReason::Overloaded,
                    _ => ReadRejectReason::NotLeader,
                };
                let body = MessageBody::ReadIndexResponse(ReadIndexResponse { context, result: Err(wire) });
                let message = self.message(peer, body);
                self.out.send(message);
            }
        }
    }

    /// The leader committed an entry: reads waiting for the term's first
    /// commit are admitted.
    pub(crate) fn on_leader_commit(&mut self) {
        if !self.term_committed() {
            return;
        }
        let waiting: Vec<ReadFrom> = match &mut self.role {
            RoleState::Leader(ls) if !ls.reads.awaiting_commit.is_empty() => {
                ls.reads.awaiting_commit.drain(..).collect()
            }
            _ => return,
        };
        for from in waiting {
            self.admit_read(from);
        }
    }

    /// A quorum may have acknowledged new rounds: confirm their reads and
    /// renew the lease.
    pub(crate) fn confirm_reads(&mut self) {
        let me = self.config.id;
        let round = self.read_round;
        let RoleState::Leader(ls) = &mut self.role else { return };
        // The highest round a quorum has acknowledged (the leader counts
        // with its latest round): the same arithmetic as a commit index.
        let confirmed =
            self.membership
                .committed_index(|id| {
                    if id == me {
                        Index(round)
                    } else {
                        Index(ls.progress(id).map_or(0, |p| p.acked_round))
                    }
                })
                .0;
        while let Some(&(r, tick)) = ls.reads.sent.front() {
            if r > confirmed {
                break;
            }
            if r == confirmed {
                ls.reads.confirmed_round_tick = Some(ls.reads.confirmed_round_tick.map_or(tick, |t| t.max(tick)));
            }
            ls.reads.sent.pop_front();
        }
        let mut ready = Vec::new();
        while ls.reads.in_flight.front().is_some_and(|(r, _)| *r <= confirmed) {
            if let Some((_, reads)) = ls.reads.in_flight.pop_front() {
                ready.extend(reads);
            }
        }
        let next_round = ls.reads.in_flight.is_empty() && !ls.reads.unsent.is_empty();
        for read in ready {
            self.answer_read(read.from, read.index);
        }
        if next_round {
            self.broadcast_heartbeat();
        }
    }

    /// A follower asks the leader for a read index.
    pub(crate) fn on_read_index(&mut self, from: NodeId, request: ReadIndex) {
        let reader = ReadFrom::Follower { peer: from, context: request.context };
        let witness = self.acts_as_witness();
        let RoleState::Leader(ls) = &mut self.role else {
            self.refuse_read(reader, RejectReason::NotLeader { leader_hint: self.leader });
            return;
        };
        if ls.transfer.is_some() || witness {
            self.refuse_read(reader, RejectReason::TransferInProgress);
            return;
        }
        if ls.reads.len() >= self.config.max_pending_reads {
            self.refuse_read(reader, RejectReason::TooManyReads);
            return;
        }
        if !self.term_committed() {
            if let RoleState::Leader(ls) = &mut self.role {
                ls.reads.awaiting_commit.push_back(reader);
            }
            return;
        }
        self.admit_read(reader);
    }

    /// The leader answered a read this follower forwarded.
    pub(crate) fn on_read_index_response(&mut self, from: NodeId, response: ReadIndexResponse) {
        // Only the request with this context, still pending, is answered: a
        // delayed or duplicated reply to an earlier request finds nothing.
        let Some(read) = self.forwarded_reads.get_mut(&response.context) else {
            self.drop_message(from, "ReadIndexResponse", DropReason::StaleResponse);
            return;
        };
        if read.index.is_some() {
            self.drop_message(from, "ReadIndexResponse", DropReason::StaleResponse);
            return;
        }
        match response.result {
            Ok(index) => read.index = Some(index),
            Err(reason) => {
                let id = read.id;
                self.forwarded_reads.remove(&response.context);
                let reason = match reason {
                    ReadRejectReason::TermNotCommitted => RejectReason::TermNotCommitted,
                    ReadRejectReason::TransferInProgress => RejectReason::TransferInProgress,
                    ReadRejectReason::Overloaded => RejectReason::TooManyReads,
                    _ => RejectReason::NotLeader { leader_hint: None },
                };
                self.out.push(Output::Rejected { id, reason });
            }
        }
    }

    /// Answers forwarded reads whose index is committed locally, and gives
    /// up on those past their deadline. Called at the end of every step.
    pub(crate) fn release_forwarded_reads(&mut self) {
        if self.forwarded_reads.is_empty() {
            return;
        }
        let commit = self.log.committed();
        let ticks = self.ticks;
        let mut done: Vec<(u64, Output)> = Vec::new();
        for (&context, read) in &self.forwarded_reads {
            match read.index {
                Some(index) if index <= commit => done.push((context, Output::ReadReady { id: read.id, index })),
                _ if ticks >= read.deadline => {
                    done.push((context, Output::Rejected { id: read.id, reason: RejectReason::ReadTimedOut }));
                }
                _ => {}
            }
        }
        for (context, output) in done {
            self.forwarded_reads.remove(&context);
            self.out.push(output);
        }
    }

    /// The leader this node forwarded reads to is no longer its leader:
    /// those reads are refused (the host retries where the new leader is).
    pub(crate) fn fail_forwarded_reads(&mut self) {
        if self.forwarded_reads.is_empty() {
            return;
        }
        let hint = self.leader.filter(|&l| l != self.config.id);
        let reads = core::mem::take(&mut self.forwarded_reads);
        for (_, read) in reads {
            self.out.push(Output::Rejected { id: read.id, reason: RejectReason::NotLeader { leader_hint: hint } });
        }
    }

    /// A leader steps down: every pending read is refused.
    pub(crate) fn fail_leader_reads(&mut self, new_leader: Option<NodeId>) {
        let RoleState::Leader(ls) = &mut self.role else { return };
        let pending = ls.reads.drain();
        for from in pending {
            self.refuse_read(from, RejectReason::NotLeader { leader_hint: new_leader });
        }
    }
}
