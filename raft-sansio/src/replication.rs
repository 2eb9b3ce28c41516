//! Log replication: the leader's appends, heartbeats and commit (Raft §5.3,
//! §5.4), and the follower's side of each.

use alloc::vec::Vec;

use bytes::Bytes;
use raft_sansio_proto::{
    AppendEntries, AppendEntriesResponse, Entry, EntryId, ForwardProposal, Heartbeat, HeartbeatResponse, Index,
    Message, MessageBody, NodeId, Term,
};

use crate::config::Config;
use crate::event::{DropReason, Event, StepDownReason};
use crate::log::RaftLog;
use crate::node::{LeaderState, Node, RoleState};
use crate::outbox::Outbox;
use crate::output::RejectReason;
use crate::progress::{Progress, ProgressState};
use crate::snapshot::{chunk_context, send_snapshot_chunks, ChunkContext, Snapshots};

/// What the leader stamps on every append it sends in one step, and the
/// parts of the node an append reads.
#[derive(Clone, Copy)]
struct AppendContext<'a> {
    config: &'a Config,
    log: &'a RaftLog,
    from: NodeId,
    term: Term,
    commit: Index,
    lowest_data_match: Index,
    tick: u64,
    /// At most this many appends in flight before new entries wait
    /// (`Config::append_pipeline_depth` for proposals, no limit otherwise).
    pipeline_limit: usize,
    /// The committed configuration, to tell data followers from witnesses
    /// for good (a follower whose witness role may still be truncated away
    /// must get payloads).
    committed_conf: &'a raft_sansio_proto::ConfState,
    /// The leader is a witness: its log may lack payloads, which it must
    /// never send to a data follower.
    witness_leader: bool,
    /// A witness leader may move a data follower's probe up to where it
    /// can serve it. Not when answering a rejection: that probe was just
    /// answered, and probing it again at once would ping-pong with a
    /// follower that lacks it (every duplicated answer doubling the
    /// exchange); the next heartbeat answer probes again.
    skip_ahead: bool,
}

impl AppendContext<'_> {
    /// Whether `to` keeps data this (witness) leader cannot give it.
    fn cannot_serve(&self, to: NodeId) -> bool {
        self.witness_leader && !crate::membership::is_witness(self.committed_conf, to)
    }
}

/// The outcome of trying to send one append.
#[derive(PartialEq, Eq)]
enum Sent {
    /// An append with this many entries went out.
    Entries(usize),
    /// Nothing to send, or the follower is paused.
    Nothing,
    /// The follower needs entries that were compacted away.
    NeedsSnapshot(Index),
    /// The follower needs entries whose payloads this (witness) leader
    /// dropped.
    Elided,
}

/// Sends one append to `to` if its progress allows. A free function over
/// the node's parts, so the leader can loop over its peers' progress while
/// it reads the log and pushes outputs.
fn send_append(ctx: AppendContext<'_>, out: &mut Outbox, to: NodeId, pr: &mut Progress, allow_empty: bool) -> Sent {
    let (config, log) = (ctx.config, ctx.log);
    if pr.is_paused(config.max_inflight_msgs, config.max_inflight_bytes) {
        return Sent::Nothing;
    }
    // Nothing new, and an empty append is not wanted: done, before any
    // work.
    let has_new = pr.next_index <= log.last_index();
    if !has_new && !allow_empty {
        return Sent::Nothing;
    }
    // New proposals coalesce while enough appends are in flight.
    if has_new && pr.is_replicating() && pr.inflight().0 >= ctx.pipeline_limit {
        return Sent::Nothing;
    }
    let prev_index = pr.next_index.prev();
    let Some(prev_term) = log.term_at(prev_index) else {
        return Sent::NeedsSnapshot(pr.next_index);
    };
    let (_, inflight_bytes) = pr.inflight();
    let budget = config.max_size_per_msg.min(config.max_inflight_bytes.saturating_sub(inflight_bytes));
    let mut entries: Vec<Entry> = if has_new { log.clone_for_send(pr.next_index, budget) } else { Vec::new() };
    if ctx.cannot_serve(to) {
        RaftLog::keep_until_elided(&mut entries);
        if has_new && entries.is_empty() {
            return Sent::Elided;
        }
    }
    let count = entries.len();
    let last = prev_index.plus(count as u64);
    // What the follower may commit from this message: the leader's commit,
    // capped at what the message lets it verify.
    let commit_told = ctx.commit.min(last);
    if count == 0 {
        // An empty append is a probe, or carries news of the commit index;
        // a replicating follower that already knows it needs nothing.
        let probe = !pr.is_replicating();
        if !allow_empty || (!probe && commit_told <= pr.commit_sent) {
            return Sent::Nothing;
        }
    }
    let bytes = entries.iter().map(|e| e.payload.len() as u64).sum();
    pr.commit_sent = pr.commit_sent.max(commit_told);
    // Pair assertion with the follower's gate: entries continue `prev`.
    debug_assert!(entries.first().is_none_or(|e| e.index == prev_index.next()));
    pr.on_sent(last, count, bytes, ctx.tick);
    let body = MessageBody::AppendEntries(AppendEntries {
        prev: EntryId { term: prev_term, index: prev_index },
        entries,
        leader_commit: ctx.commit,
        lowest_data_match: ctx.lowest_data_match,
    });
    out.send(Message { from: ctx.from, to, term: ctx.term, body });
    Sent::Entries(count)
}

/// Sends to `to` everything its window allows: one append for a probing
/// follower, as many as fit for a replicating one, the next chunks of the
/// snapshot for one that needs it.
fn send_appends(
    ctx: AppendContext<'_>,
    chunks: &ChunkContext,
    snaps: &mut Snapshots,
    out: &mut Outbox,
    to: NodeId,
    pr: &mut Progress,
    allow_empty: bool,
) {
    let mut allow_empty = allow_empty;
    let mut bumped = false;
    let mut skipped_elided = false;
    loop {
        if matches!(pr.state, ProgressState::Snapshot(_)) {
            if ctx.cannot_serve(to) {
                // The send began before this leader became a witness: its
                // host's snapshots are empty once the demotion commits, and
                // the witness hands over anyway. Probe like any data
                // follower it leads.
                pr.become_probe();
                continue;
            }
            send_snapshot_chunks(chunks, snaps, out, to, pr, ctx.tick);
            return;
        }
        match send_append(ctx, out, to, pr, allow_empty) {
            Sent::Entries(n) if n > 0 && pr.is_replicating() => allow_empty = false,
            // A witness has no snapshot data to give: probe where its log
            // starts instead (a reset probe may start below it), once.
            Sent::NeedsSnapshot(next) if ctx.cannot_serve(to) => {
                let first = ctx.log.first_index();
                if next >= first || bumped || !ctx.skip_ahead {
                    return;
                }
                bumped = true;
                pr.next_index = first;
            }
            // Nor the payloads it dropped: a probe there would send
            // nothing, and the follower would never answer. Every data
            // voter of the configuration they were dropped under held them,
            // so probe right after the last one instead, once (a follower
            // that lacks it cannot be served by this leader anyway).
            Sent::Elided if ctx.skip_ahead && !skipped_elided && matches!(pr.state, ProgressState::Probe { .. }) => {
                let Some(last) = ctx.log.last_elided_from(pr.next_index) else { return };
                skipped_elided = true;
                pr.next_index = last.next();
            }
            Sent::NeedsSnapshot(next) => {
                // The latest snapshot always reaches where the log
                // continues (`Compact` never passes it).
                debug_assert!(snaps.meta.last.index >= ctx.log.snapshot_id().index);
                out.event(Event::FollowerNeedsSnapshot { peer: to, next });
                pr.become_snapshot(snaps.meta.last, ctx.tick);
            }
            _ => return,
        }
    }
}

/// Why an append must be dropped before anything changes: entries must
/// continue `prev` with consecutive indexes and non-decreasing terms no later
/// than the message's term.
pub(crate) fn check_append_entries(term: Term, ae: &AppendEntries) -> Result<(), DropReason> {
    // No leader exists in term 0 and no entry is ever written in it; only
    // the empty prefix has term 0.
    if term == Term::ZERO {
        return Err(DropReason::InvalidTerm);
    }
    if ae.prev.term > term || (ae.prev.term == Term::ZERO) != (ae.prev.index == Index::ZERO) {
        return Err(DropReason::MalformedEntries);
    }
    let mut expected = ae.prev;
    for e in &ae.entries {
        if Some(e.index) != expected.index.0.checked_add(1).map(Index)
            || e.index == Index(u64::MAX)
            || e.term == Term::ZERO
            || e.term < expected.term
            || e.term > term
        {
            return Err(DropReason::MalformedEntries);
        }
        // A configuration entry must hold a valid configuration, or the
        // node could not restart from what it persisted.
        // (never elided: it is the membership).
        if e.kind == raft_sansio_proto::EntryKind::ConfChange {
            if e.payload_elided {
                return Err(DropReason::MalformedEntries);
            }
            match raft_sansio_proto::codec::decode_conf_state(&e.payload) {
                Ok(conf) if conf.validate().is_ok() => {}
                _ => return Err(DropReason::MalformedEntries),
            }
        }
        expected = e.id();
    }
    Ok(())
}

impl Node {
    /// Sends appends to every follower whose window allows.
    pub(crate) fn broadcast_append(&mut self, allow_empty: bool) {
        self.broadcast_append_inner(allow_empty, false);
    }

    /// Sends new proposals, coalescing behind appends in flight.
    fn broadcast_proposals(&mut self) {
        self.broadcast_append_inner(false, true);
    }

    fn broadcast_append_inner(&mut self, allow_empty: bool, proposals: bool) {
        let witness_leader = self.acts_as_witness();
        let RoleState::Leader(ls) = &mut self.role else { return };
        let ctx = AppendContext {
            config: &self.config,
            log: &self.log,
            from: self.config.id,
            term: self.term,
            commit: self.log.committed(),
            lowest_data_match: lowest_data_match_of(&self.membership, &self.log, ls, self.config.id),
            tick: self.ticks,
            pipeline_limit: if proposals { self.config.append_pipeline_depth } else { usize::MAX },
            committed_conf: self.confs.at(self.log.committed()),
            witness_leader,
            skip_ahead: true,
        };
        for (id, pr) in ls.progress.iter_mut() {
            if matches!(pr.state, ProgressState::Snapshot(_)) {
                // Snapshot chunks are paced by their answers, not by
                // broadcasts.
                continue;
            }
            let chunks = chunk_context(&self.config, &self.snaps.meta.conf_state, self.term, *id);
            send_appends(ctx, &chunks, &mut self.snaps, &mut self.out, *id, pr, allow_empty);
        }
    }

    fn send_appends_to(&mut self, to: NodeId, allow_empty: bool) {
        self.send_appends_to_inner(to, allow_empty, true);
    }

    fn send_appends_to_inner(&mut self, to: NodeId, allow_empty: bool, skip_ahead: bool) {
        let witness_leader = self.acts_as_witness();
        let RoleState::Leader(ls) = &mut self.role else { return };
        let lowest = lowest_data_match_of(&self.membership, &self.log, ls, self.config.id);
        let chunks = chunk_context(&self.config, &self.snaps.meta.conf_state, self.term, to);
        let ctx = AppendContext {
            config: &self.config,
            log: &self.log,
            from: self.config.id,
            term: self.term,
            commit: self.log.committed(),
            lowest_data_match: lowest,
            tick: self.ticks,
            pipeline_limit: usize::MAX,
            committed_conf: self.confs.at(self.log.committed()),
            witness_leader,
            skip_ahead,
        };
        if let Some(pr) = ls.progress_mut(to) {
            send_appends(ctx, &chunks, &mut self.snaps, &mut self.out, to, pr, allow_empty);
        }
    }

    pub(crate) fn tick_leader(&mut self) {
        self.tick_transfer();
        self.witness_hand_over();
        self.heartbeat.tick();
        if self.heartbeat.fired() {
            self.heartbeat.reset(self.config.heartbeat_interval_ticks);
            self.broadcast_heartbeat();
        }
        self.election.tick();
        if self.election.fired() {
            self.election.reset(self.config.election_timeout_ticks_min);
            if self.config.check_quorum && !self.quorum_active() {
                self.out.event(Event::SteppedDown { term: self.term, reason: StepDownReason::QuorumLost });
                self.become_follower(self.term, None);
                return;
            }
            if let RoleState::Leader(ls) = &mut self.role {
                for (_, pr) in ls.progress.iter_mut() {
                    pr.recent_active = false;
                }
            }
        }
    }

    /// Whether the voters heard from since the last check (and the leader
    /// itself) form a quorum.
    fn quorum_active(&self) -> bool {
        let RoleState::Leader(ls) = &self.role else { return false };
        let me = self.config.id;
        self.membership.is_quorum(|id| id == me || ls.progress(id).is_some_and(|p| p.recent_active))
    }

    /// Sends a heartbeat round to every follower. Every round is a read
    /// round too: it carries the reads admitted before it.
    pub(crate) fn broadcast_heartbeat(&mut self) {
        let me = self.config.id;
        let term = self.term;
        let commit = self.log.committed();
        let RoleState::Leader(ls) = &mut self.role else { return };
        let lowest_data_match = lowest_data_match_of(&self.membership, &self.log, ls, me);
        self.read_round += 1;
        let read_round = self.read_round;
        let lease = matches!(self.config.read_mode, crate::config::ReadMode::Lease { .. });
        ls.reads.on_round_sent(read_round, self.ticks, lease);
        for (id, pr) in ls.progress.iter_mut() {
            // Never tell a follower a commit index beyond what it is known
            // to hold: it would commit entries it has not verified.
            let told = commit.min(pr.match_index);
            pr.commit_sent = pr.commit_sent.max(told);
            let body = MessageBody::Heartbeat(Heartbeat { leader_commit: told, lowest_data_match, read_round });
            self.out.send(Message { from: me, to: *id, term, body });
        }
    }

    /// Appends client commands (whose payloads total `bytes`) at the end of
    /// the leader's log and sends them. Returns the first index.
    pub(crate) fn append_commands(
        &mut self,
        commands: impl IntoIterator<Item = Bytes>,
        bytes: u64,
    ) -> Result<Index, RejectReason> {
        let RoleState::Leader(ls) = &mut self.role else {
            return Err(RejectReason::NotLeader { leader_hint: self.leader });
        };
        if ls.transfer.is_some() {
            return Err(RejectReason::TransferInProgress);
        }
        // Index u64::MAX is never written (restore refuses it): a log that
        // long is full.
        if self.log.last_index().0 >= u64::MAX - (1 << 32) {
            return Err(RejectReason::LogFull);
        }
        // Back-pressure on uncommitted bytes. One proposal always fits when
        // nothing is uncommitted, so a single large command cannot wedge.
        if ls.uncommitted_size > 0 && ls.uncommitted_size.saturating_add(bytes) > self.config.max_uncommitted_size {
            return Err(RejectReason::Overloaded);
        }
        ls.uncommitted_size = ls.uncommitted_size.saturating_add(bytes);
        let first = self.log.last_index().next();
        let term = self.term;
        let persist = self.out.persist();
        let mut index = first;
        for command in commands {
            let entry = Entry::normal(term, index, command);
            self.log.push(entry.clone());
            persist.entries.push(entry);
            index = index.next();
        }
        self.broadcast_proposals();
        Ok(first)
    }

    pub(crate) fn on_forward_proposal(&mut self, from: NodeId, fp: ForwardProposal) {
        if fp.commands.is_empty() {
            self.drop_message(from, "ForwardProposal", DropReason::MalformedEntries);
            return;
        }
        // The forwarding follower learns nothing back: a forwarded proposal
        // may be lost; the session layer retries.
        let bytes = fp.commands.iter().map(|c| c.len() as u64).sum();
        let _ = self.append_commands(fp.commands, bytes);
    }

    /// Advances the commit index to what a quorum holds durably, counting
    /// only an entry of the current term (Raft §5.4.2, Figure 8: an entry of
    /// an earlier term is committed only indirectly, by a later one).
    pub(crate) fn maybe_commit(&mut self) -> bool {
        let me = self.config.id;
        let persisted = self.log.persisted();
        let RoleState::Leader(ls) = &mut self.role else { return false };
        let index = self.membership.committed_index(|id| {
            if id == me {
                persisted
            } else {
                ls.progress(id).map_or(Index::ZERO, |p| p.match_index)
            }
        });
        let old = self.log.committed();
        // Only an entry of our own term commits by counting (Figure 8).
        if index <= old || self.log.term_at(index) != Some(self.term) {
            return false;
        }
        debug_assert!(index <= self.log.last_index(), "a quorum acknowledged beyond our log");
        let released = self.log.payload_bytes_of_term(old, index, self.term);
        ls.uncommitted_size = ls.uncommitted_size.saturating_sub(released);
        self.log.commit_to(index);
        true
    }

    /// Tells followers about a new commit index at once (when configured),
    /// and admits reads that waited for the term's first commit.
    pub(crate) fn on_commit_advanced(&mut self) {
        if self.config.broadcast_commit {
            self.broadcast_append(true);
        }
        self.on_leader_commit();
        self.after_leader_commit();
    }

    /// Sends the target of a transfer whatever brings it up to date.
    pub(crate) fn send_appends_to_peer(&mut self, to: NodeId) {
        self.send_appends_to(to, true);
    }

    pub(crate) fn on_append_entries_response(&mut self, from: NodeId, resp: AppendEntriesResponse) {
        let last_index = self.log.last_index();
        let RoleState::Leader(ls) = &mut self.role else { return };
        let Some(pr) = ls.progress_mut(from) else {
            self.drop_message(from, "AppendEntriesResponse", DropReason::UnexpectedInRole);
            return;
        };
        pr.recent_active = true;
        match resp {
            AppendEntriesResponse::Success { match_index } => {
                // An ack for something never sent (or beyond our log) is
                // forged or corrupt: trusting it could commit an entry the
                // follower does not hold.
                if match_index > pr.sent_up_to || match_index > last_index {
                    self.drop_message(from, "AppendEntriesResponse", DropReason::ImpossibleIndex);
                    return;
                }
                let was_probe = matches!(pr.state, crate::progress::ProgressState::Probe { .. });
                let was_paused = pr.is_paused(self.config.max_inflight_msgs, self.config.max_inflight_bytes);
                let moved = pr.on_ack(match_index);
                if was_probe && pr.match_index == match_index {
                    pr.become_replicate();
                }
                let first_index = self.log.first_index();
                pr.maybe_leave_snapshot(first_index);
                // Recount the quorum only if this ack can move the commit.
                let committed = moved && match_index > self.log.committed() && self.maybe_commit();
                if committed {
                    self.on_commit_advanced();
                }
                // A follower that was paused may have missed a commit
                // broadcast: an empty append tells it the commit index if it
                // does not know it yet.
                self.send_appends_to(from, was_paused);
                self.maybe_send_timeout_now();
            }
            AppendEntriesResponse::Reject { rejected_prev, conflict, last_index: follower_last } => {
                if rejected_prev > pr.sent_up_to {
                    self.drop_message(from, "AppendEntriesResponse", DropReason::ImpossibleIndex);
                    return;
                }
                // Skip a whole divergent term per round trip: probe after
                // the last entry we hold with a term at most the conflict's,
                // and no further than the follower's first entry of that term
                // (or its log's end).
                let hint_next = if conflict.term == Term::ZERO {
                    follower_last.next()
                } else {
                    let ours = self.log.last_index_with_term_at_most(conflict.term, rejected_prev);
                    if self.log.term_at(ours) == Some(conflict.term) {
                        // We hold entries of the conflicting term: the
                        // follower's entries of that term up to `ours` match
                        // ours (it holds that term from `conflict.index` to
                        // `rejected_prev`), so probe right after them.
                        ours.next()
                    } else {
                        // We never had that term: everything of it on the
                        // follower goes, from its first index.
                        ours.next().min(conflict.index.max(Index(1)))
                    }
                };
                if pr.on_reject(rejected_prev, hint_next) {
                    self.send_appends_to_inner(from, true, false);
                } else {
                    self.drop_message(from, "AppendEntriesResponse", DropReason::StaleResponse);
                }
            }
        }
    }

    pub(crate) fn on_heartbeat_response(&mut self, from: NodeId, resp: HeartbeatResponse) {
        let round = self.read_round;
        let RoleState::Leader(ls) = &mut self.role else { return };
        let Some(pr) = ls.progress_mut(from) else {
            self.drop_message(from, "HeartbeatResponse", DropReason::UnexpectedInRole);
            return;
        };
        // An ack of a round never sent is forged: it must not confirm reads.
        if resp.read_round > round {
            self.drop_message(from, "HeartbeatResponse", DropReason::ImpossibleIndex);
            return;
        }
        pr.recent_active = true;
        pr.acked_round = pr.acked_round.max(resp.read_round);
        let stall_ticks = u64::from(self.config.election_timeout_ticks_min / 2).max(2);
        if pr.on_heartbeat_response(self.ticks, stall_ticks) || pr.snapshot_stalled(self.ticks, stall_ticks) {
            self.send_appends_to(from, true);
        }
        self.confirm_reads();
    }

    // ---- follower side ----

    /// Raft §5.3 receiver rules, validated before anything changes.
    pub(crate) fn on_append_entries(&mut self, from: NodeId, ae: AppendEntries) {
        let AppendEntries { prev, mut entries, leader_commit, lowest_data_match } = ae;
        // Only a witness may hold entries without payloads: a data node
        // would apply nothing in their place.
        if entries.iter().any(|e| e.payload_elided) && !self.skips_apply() {
            self.drop_message(from, "AppendEntries", DropReason::ElidedPayload);
            return;
        }
        // The gate (`check_append_entries`) validated the entries.
        let verified_last = prev.index.plus(entries.len() as u64);
        let committed = self.log.committed();

        // Entries at or below our commit index are committed, so (Leader
        // Completeness) they must equal ours; skip them. One that differs is
        // a forged or broken message: a follower never truncates committed
        // entries.
        let mut skip = 0usize;
        if prev.index < committed {
            for e in &entries {
                if e.index > committed {
                    break;
                }
                if self.log.term_at(e.index).is_some_and(|t| t != e.term) {
                    self.drop_message(from, "AppendEntries", DropReason::ConflictBelowCommit);
                    return;
                }
                skip += 1;
            }
        } else if !self.log.matches(prev) {
            let last = self.log.last_index();
            let conflict = if prev.index > last {
                EntryId { term: Term::ZERO, index: last.next() }
            } else {
                let t = self.log.term_at(prev.index).unwrap_or(Term::ZERO);
                EntryId { term: t, index: self.log.first_index_of_term(t, prev.index) }
            };
            let reply = AppendEntriesResponse::Reject { rejected_prev: prev.index, conflict, last_index: last };
            let message = self.message(from, MessageBody::AppendEntriesResponse(reply));
            self.out.send(message);
            return;
        }

        // Find the first entry that is new or conflicts. Truncate only from
        // a real conflict: a late, shorter append that matches removes
        // nothing (async-raft's bug was truncating after `prev` always).
        let last = self.log.last_index();
        let mut conflict_at = None;
        for e in &entries[skip..] {
            if e.index > last {
                break;
            }
            match self.log.term_at(e.index) {
                Some(t) if t == e.term => skip += 1,
                _ => {
                    conflict_at = Some(e.index);
                    break;
                }
            }
        }
        if let Some(at) = conflict_at {
            if at <= committed {
                self.drop_message(from, "AppendEntries", DropReason::ConflictBelowCommit);
                return;
            }
            if matches!(self.role, RoleState::Leader(_)) {
                self.leader_truncated = true;
            }
            self.log.truncate_from(at);
            self.out.on_truncate(at);
            self.on_entries_truncated(at);
            let persist = self.out.persist();
            // One message per step: nothing of this step was appended yet.
            debug_assert!(persist.entries.is_empty());
            persist.truncate_from = Some(persist.truncate_from.map_or(at, |t| t.min(at)));
        }
        if skip < entries.len() {
            entries.drain(..skip);
            self.log.append(&entries);
            if entries.iter().any(|e| e.kind == raft_sansio_proto::EntryKind::ConfChange) {
                self.on_entries_appended(&entries);
            }
            let persist = self.out.persist();
            if persist.entries.is_empty() {
                persist.entries = entries.into();
            } else {
                persist.entries.extend(entries);
            }
        }

        // Commit what the leader committed, but only up to what this message
        // verified: beyond it our log may still diverge from the leader's.
        self.log.commit_to(leader_commit.min(verified_last).min(self.log.last_index()));
        // The ack is a promise: it leaves once the entries (and the term
        // they were accepted in) are durable.
        let reply = AppendEntriesResponse::Success { match_index: verified_last };
        let message = self.message(from, MessageBody::AppendEntriesResponse(reply));
        self.out.send_after_persist(message);
        self.witness_follow(lowest_data_match);
    }

    pub(crate) fn on_heartbeat(&mut self, from: NodeId, hb: Heartbeat) {
        // The leader caps the heartbeat's commit at our known match, so it
        // counts as verified; cap it at our log too.
        self.log.commit_to(hb.leader_commit.min(self.log.last_index()));
        self.witness_follow(hb.lowest_data_match);
        let message =
            self.message(from, MessageBody::HeartbeatResponse(HeartbeatResponse { read_round: hb.read_round }));
        self.out.send(message);
    }
}

fn lowest_data_match_of(
    membership: &crate::membership::Membership,
    log: &RaftLog,
    ls: &LeaderState,
    me: NodeId,
) -> Index {
    // Only witnesses read it: without them, skip the walk over members.
    let conf = membership.conf();
    if conf.witnesses.is_empty() && conf.witnesses_outgoing.is_empty() {
        return Index::ZERO;
    }
    let mut lowest = Index(u64::MAX);
    for &id in membership.members() {
        if !membership.is_data_voter(id) {
            continue;
        }
        let m = if id == me { log.persisted() } else { ls.progress(id).map_or(Index::ZERO, |p| p.match_index) };
        lowest = lowest.min(m);
    }
    if lowest == Index(u64::MAX) {
        Index::ZERO
    } else {
        lowest
    }
}
