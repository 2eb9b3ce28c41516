//! Log compaction and chunked snapshot install (Raft §7, thesis chapter 5).
//!
//! The host owns the state machine and decides when to snapshot: it reports
//! `Input::SnapshotTaken`, the node persists the snapshot's metadata (its
//! last entry and the configuration in effect there) and compacts its log,
//! keeping `Config::snapshot_trailing_entries` so that followers a little
//! behind still catch up from the log.
//!
//! A follower that needs an entry below the leader's first index gets the
//! snapshot in chunks of `Config::snapshot_chunk_bytes`, a window of them in
//! flight. Each chunk carries the snapshot's id (leader term, last entry) so
//! that chunks of two snapshots never mix. The follower hands each chunk to
//! its host in a `Persist` (the core keeps offsets, never the bytes) and
//! answers with the next offset it expects; a lost chunk is resent when every
//! chunk in flight is answered, or when none is for a while. After the last
//! chunk the follower persists the metadata as its log's new base, answers
//! `Installed` once that is durable, and emits `ApplySnapshot`.
//!
//! A leader that restarted holds the metadata but not the bytes: it asks its
//! host with `Output::SnapshotDataNeeded` and continues on
//! `Input::SnapshotData`. A witness gets the metadata only (an empty
//! snapshot): it never applies normal entries.

use alloc::boxed::Box;

use bytes::Bytes;
use raft_sansio_proto::{
    EntryId, Index, InstallSnapshot, InstallSnapshotResponse, MessageBody, NodeId, SnapshotId, SnapshotMeta,
    SnapshotStatus, Term,
};

use crate::event::{DropReason, Event, MisuseReason};
use crate::membership::ConfHistory;
use crate::node::{Node, RoleState};
use crate::outbox::Outbox;
use crate::output::{Output, SnapshotChunk};
use crate::progress::{Progress, ProgressState};

/// The node's snapshots: the latest one, the one being received, and the
/// one waiting to be applied.
#[derive(Debug)]
pub(crate) struct Snapshots {
    /// The latest snapshot (restored, taken or installed). The log never
    /// starts after it (`Input::Compact` stops at it), so it can always
    /// bring a follower to where the log continues.
    pub(crate) meta: SnapshotMeta,
    /// Its bytes, when the host handed them over.
    pub(crate) data: Option<Bytes>,
    /// `SnapshotDataNeeded` went out for `meta` and is not answered yet.
    pub(crate) data_requested: bool,
    /// Follower: the snapshot being received.
    pub(crate) incoming: Option<Incoming>,
    /// Follower: an installed snapshot to hand to the host once the
    /// Persist with this seq is durable.
    pub(crate) pending_apply: Option<(u64, SnapshotMeta)>,
}

/// A snapshot being received, chunk by chunk.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Incoming {
    pub(crate) id: SnapshotId,
    /// The next byte expected.
    pub(crate) next_offset: u64,
}

impl Snapshots {
    pub(crate) fn new(meta: SnapshotMeta) -> Snapshots {
        Snapshots { meta, data: None, data_requested: false, incoming: None, pending_apply: None }
    }
}

/// What a leader's send of snapshot chunks needs besides the progress.
pub(crate) struct ChunkContext {
    pub(crate) from: NodeId,
    pub(crate) term: Term,
    pub(crate) chunk_bytes: u64,
    pub(crate) window: usize,
    /// The target is a witness: it gets the metadata only.
    pub(crate) witness: bool,
}

/// The chunk-sending parameters for `to`.
pub(crate) fn chunk_context(
    config: &crate::config::Config,
    snapshot_conf: &raft_sansio_proto::ConfState,
    term: Term,
    to: NodeId,
) -> ChunkContext {
    let chunk_bytes = config.snapshot_chunk_bytes;
    let by_bytes = usize::try_from(config.max_inflight_bytes / chunk_bytes).unwrap_or(usize::MAX);
    ChunkContext {
        from: config.id,
        term,
        chunk_bytes,
        window: config.max_inflight_msgs.min(by_bytes).max(1),
        // Metadata only for a witness of the snapshot's own (committed)
        // configuration: one that is a witness only in a later, perhaps
        // uncommitted, configuration may yet need the data.
        witness: crate::membership::is_witness(snapshot_conf, to),
    }
}

/// Sends `to` the chunks of the latest snapshot its window allows (`pr` is
/// in Snapshot state). Asks the host for the bytes if they are missing.
pub(crate) fn send_snapshot_chunks(
    ctx: &ChunkContext,
    snaps: &mut Snapshots,
    out: &mut Outbox,
    to: NodeId,
    pr: &mut Progress,
    tick: u64,
) {
    let ProgressState::Snapshot(s) = &pr.state else { return };
    if s.last != snaps.meta.last {
        // A newer snapshot was taken since: send that one instead.
        pr.become_snapshot(snaps.meta.last, tick);
    }
    let data = if ctx.witness {
        Bytes::new()
    } else {
        match &snaps.data {
            Some(data) => data.clone(),
            None => {
                if !snaps.data_requested {
                    snaps.data_requested = true;
                    out.push(Output::SnapshotDataNeeded { last: snaps.meta.last });
                }
                return;
            }
        }
    };
    let ProgressState::Snapshot(s) = &mut pr.state else { return };
    let total = data.len() as u64;
    let id = SnapshotId { leader_term: ctx.term, last: snaps.meta.last };
    while s.chunks_in_flight < ctx.window && !s.last_chunk_sent {
        let offset = s.next_offset.min(total);
        let end = offset.saturating_add(ctx.chunk_bytes).min(total);
        let last_chunk = end == total;
        let chunk = data.slice(offset as usize..end as usize);
        s.next_offset = end;
        s.sent_end = s.sent_end.max(end);
        s.chunks_in_flight += 1;
        s.last_chunk_sent = last_chunk;
        let body = MessageBody::InstallSnapshot(Box::new(InstallSnapshot {
            id,
            meta: snaps.meta.clone(),
            offset,
            total_len: total,
            last_chunk,
            data: chunk,
        }));
        out.send(raft_sansio_proto::Message { from: ctx.from, to, term: ctx.term, body });
    }
}

/// Why a snapshot chunk must be dropped before anything changes.
pub(crate) fn check_install_snapshot(term: Term, is: &InstallSnapshot) -> Result<(), DropReason> {
    if term == Term::ZERO {
        return Err(DropReason::InvalidTerm);
    }
    let last = is.id.last;
    let end = is.offset.checked_add(is.data.len() as u64);
    let well_formed = is.id.leader_term == term
        && is.meta.last == last
        && last.index > Index::ZERO
        && last.index < Index(u64::MAX)
        && last.term > Term::ZERO
        && last.term <= term
        && end.is_some_and(|end| end <= is.total_len && is.last_chunk == (end == is.total_len))
        && is.meta.conf_state.validate().is_ok();
    if well_formed {
        Ok(())
    } else {
        Err(DropReason::MalformedSnapshot)
    }
}

impl Node {
    /// `Input::SnapshotTaken`: persist the metadata, keep the bytes to send,
    /// compact the log.
    pub(crate) fn on_snapshot_taken(&mut self, index: Index, data: Bytes) {
        let applied = self.log.applied();
        if index > applied {
            self.out.event(Event::InputIgnored { reason: MisuseReason::SnapshotBeyondApplied { index, applied } });
            return;
        }
        let current = self.snaps.meta.last.index;
        let Some(term) = self.log.term_at(index).filter(|_| index > current) else {
            self.out.event(Event::InputIgnored { reason: MisuseReason::SnapshotNotNewer { index, snapshot: current } });
            return;
        };
        // The configuration in effect at `index`, never a later one: a
        // follower installing it must not act on a configuration whose
        // entry it does not hold.
        let meta = SnapshotMeta { last: EntryId { term, index }, conf_state: self.confs.at(index).clone() };
        self.out.persist().snapshot = Some(Box::new(meta.clone()));
        self.snaps.meta = meta;
        self.snaps.data = Some(data);
        self.snaps.data_requested = false;
        let mut compact_to = Index(index.0.saturating_sub(self.config.snapshot_trailing_entries));
        if let Some(cap) = self.witness_compaction_cap() {
            compact_to = compact_to.min(cap);
        }
        if compact_to > self.log.snapshot_id().index {
            self.log.compact_to(compact_to);
            self.confs.compact_to(compact_to);
        }
        // Followers receiving an older snapshot switch to this one.
        self.resume_snapshot_sends();
    }

    /// `Input::SnapshotData`: the bytes of the latest snapshot, asked for by
    /// `SnapshotDataNeeded`.
    pub(crate) fn on_snapshot_data(&mut self, last: EntryId, data: Bytes) {
        if last != self.snaps.meta.last {
            self.out.event(Event::InputIgnored {
                reason: MisuseReason::SnapshotDataMismatch { last, snapshot: self.snaps.meta.last },
            });
            return;
        }
        self.snaps.data = Some(data);
        self.snaps.data_requested = false;
        self.resume_snapshot_sends();
    }

    /// `Input::Compact`: drops log entries up to `index`, which must not pass
    /// the applied index or the latest snapshot.
    pub(crate) fn on_compact(&mut self, index: Index) {
        if index > self.log.applied() {
            self.out.event(Event::InputIgnored {
                reason: MisuseReason::CompactBeyondApplied { index, applied: self.log.applied() },
            });
            return;
        }
        let snapshot = self.snaps.meta.last.index;
        if index > snapshot {
            self.out.event(Event::InputIgnored { reason: MisuseReason::CompactBeyondSnapshot { index, snapshot } });
            return;
        }
        // A witness keeps the payloads a data voter may still need.
        let index = self.witness_compaction_cap().map_or(index, |cap| index.min(cap));
        if index <= self.log.snapshot_id().index {
            return;
        }
        self.log.compact_to(index);
        self.confs.compact_to(index);
    }

    /// Sends the next chunks to every follower in Snapshot state.
    fn resume_snapshot_sends(&mut self) {
        let RoleState::Leader(ls) = &self.role else { return };
        let waiting: smallvec::SmallVec<[NodeId; 8]> = ls
            .progress
            .iter()
            .filter(|(_, pr)| matches!(pr.state, ProgressState::Snapshot(_)))
            .map(|(id, _)| *id)
            .collect();
        for id in waiting {
            self.send_appends_to_peer(id);
        }
    }

    // ---- follower side ----

    /// A chunk of the leader's snapshot.
    pub(crate) fn on_install_snapshot(&mut self, from: NodeId, is: InstallSnapshot) {
        let InstallSnapshot { id, meta, offset, total_len, last_chunk, data } = is;
        let commit = self.log.committed();
        if id.last.index <= commit {
            // Stale: everything it holds is committed here already. Answer
            // with our commit index (never its last index: our log may not
            // hold its last entry), once what we hold is durable.
            if self.snaps.incoming.is_some_and(|inc| inc.id == id) {
                self.snaps.incoming = None;
            }
            self.reply_snapshot(from, id, SnapshotStatus::Installed { match_index: commit }, true);
            return;
        }
        let incoming = match self.snaps.incoming {
            Some(inc) if inc.id == id => inc,
            // A new snapshot starts at its first byte; any other chunk asks
            // the leader to start over (we restarted, or it switched).
            _ if offset == 0 => Incoming { id, next_offset: 0 },
            _ => {
                self.reply_snapshot(from, id, SnapshotStatus::Receiving { next_offset: 0 }, false);
                return;
            }
        };
        if offset != incoming.next_offset {
            // A duplicate, or a gap after a lost chunk: say what we expect.
            self.snaps.incoming = Some(incoming);
            let status = SnapshotStatus::Receiving { next_offset: incoming.next_offset };
            self.reply_snapshot(from, id, status, false);
            return;
        }
        let next_offset = offset + data.len() as u64;
        self.out.persist().snapshot_chunk = Some(SnapshotChunk { id, offset, data, total_len });
        if !last_chunk {
            self.snaps.incoming = Some(Incoming { id, next_offset });
            self.reply_snapshot(from, id, SnapshotStatus::Receiving { next_offset }, false);
            return;
        }
        self.snaps.incoming = None;
        self.install_snapshot(meta);
        let status = SnapshotStatus::Installed { match_index: id.last.index };
        self.reply_snapshot(from, id, status, true);
    }

    /// Makes the snapshot `meta` (all of whose bytes went to the host) the
    /// base of the log.
    fn install_snapshot(&mut self, meta: SnapshotMeta) {
        let last = meta.last;
        if self.log.matches(last) {
            // Our log holds its last entry: keep what follows (thesis §5.3).
            self.log.compact_to(last.index);
            self.confs.compact_to(last.index);
        } else {
            // Replace the whole log. Nothing above the snapshot survives,
            // and no earlier write may vouch for the new base.
            self.out.on_truncate(last.index);
            self.log.reset_to_snapshot(last);
            self.confs = ConfHistory::new(last.index, meta.conf_state.clone());
            self.on_configuration_changed();
            let persist = self.out.persist();
            persist.truncate_from = Some(last.index.next());
        }
        self.log.commit_to(last.index);
        let persist = self.out.persist();
        persist.snapshot = Some(Box::new(meta.clone()));
        let seq = persist.seq;
        self.snaps.meta = meta.clone();
        self.snaps.data = None;
        self.snaps.data_requested = false;
        self.snaps.pending_apply = Some((seq, meta));
    }

    fn reply_snapshot(&mut self, to: NodeId, id: SnapshotId, status: SnapshotStatus, promise: bool) {
        let body = MessageBody::InstallSnapshotResponse(InstallSnapshotResponse { id, status });
        let message = self.message(to, body);
        if promise {
            self.out.send_after_persist(message);
        } else {
            self.out.send(message);
        }
    }

    /// Hands an installed snapshot to the host once it is durable, before
    /// any entry after it is applied.
    pub(crate) fn release_snapshot_apply(&mut self) {
        let Some((seq, _)) = &self.snaps.pending_apply else { return };
        if *seq > self.out.durable_seq() {
            return;
        }
        if let Some((_, meta)) = self.snaps.pending_apply.take() {
            self.log.snapshot_applied(meta.last.index);
            self.out.push(Output::ApplySnapshot { meta });
        }
    }

    // ---- leader side ----

    pub(crate) fn on_install_snapshot_response(&mut self, from: NodeId, resp: InstallSnapshotResponse) {
        let (term, tick, last_index, committed) = (self.term, self.ticks, self.log.last_index(), self.log.committed());
        let RoleState::Leader(ls) = &mut self.role else { return };
        let Some(pr) = ls.progress_mut(from) else {
            self.drop_message(from, "InstallSnapshotResponse", DropReason::UnexpectedInRole);
            return;
        };
        if resp.id.leader_term != term {
            self.drop_message(from, "InstallSnapshotResponse", DropReason::StaleResponse);
            return;
        }
        pr.recent_active = true;
        match resp.status {
            SnapshotStatus::Receiving { next_offset } => {
                if let Err(reason) = pr.on_snapshot_receiving(resp.id.last, next_offset, tick) {
                    self.drop_message(from, "InstallSnapshotResponse", reason);
                    return;
                }
                self.send_appends_to_peer(from);
            }
            SnapshotStatus::Installed { match_index } => {
                if match_index > last_index {
                    self.drop_message(from, "InstallSnapshotResponse", DropReason::ImpossibleIndex);
                    return;
                }
                let moved = pr.on_snapshot_installed(match_index);
                if moved && match_index > committed && self.maybe_commit() {
                    self.on_commit_advanced();
                }
                self.send_appends_to_peer(from);
                self.maybe_send_timeout_now();
            }
            SnapshotStatus::Rejected => {
                if matches!(&pr.state, ProgressState::Snapshot(s) if s.last == resp.id.last) {
                    pr.become_probe();
                    self.send_appends_to_peer(from);
                }
            }
            _ => self.drop_message(from, "InstallSnapshotResponse", DropReason::Unsupported),
        }
    }
}
