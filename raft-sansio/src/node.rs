//! [`Node`]: the consensus state machine, its `step` entry point and the
//! dispatch of every input.

use alloc::vec::Vec;
use core::fmt;

use bytes::Bytes;
use raft_sansio_proto::{
    ConfState, Entry, EntryId, HardState, Index, Message, MessageBody, NodeId, SnapshotMeta, Term,
};
use smallvec::SmallVec;

use crate::config::{Config, ConfigError};
use crate::event::{Event, MisuseReason};
use crate::input::{Input, RequestId};
use crate::log::RaftLog;
use crate::membership::{ConfHistory, Membership};
use crate::outbox::Outbox;
use crate::output::{Output, RejectReason};
use crate::progress::Progress;
use crate::restore::{restore, RestoreError, RestoreRepair, RestoredState};
use crate::rng::Rng;
use crate::timer::Timeout;

/// Why [`Node::new`] refused to build a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The configuration is impossible.
    Config(ConfigError),
    /// The restored state is inconsistent beyond repair.
    Restore(RestoreError),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Config(e) => write!(f, "invalid config: {e}"),
            Error::Restore(e) => write!(f, "invalid restored state: {e}"),
        }
    }
}

impl core::error::Error for Error {}

/// The role a node plays now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Follows a leader (or waits for one).
    Follower,
    /// Asks whether it could win an election, without changing terms.
    PreCandidate,
    /// Runs an election.
    Candidate,
    /// Leads its term.
    Leader,
}

/// Votes received: (voter, granted). Seven voters or fewer (the common
/// cluster sizes) stay on the stack.
pub(crate) type Votes = SmallVec<[(NodeId, bool); 7]>;

/// The data only the current role has.
#[derive(Debug)]
pub(crate) enum RoleState {
    Follower,
    PreCandidate {
        votes: Votes,
    },
    Candidate {
        votes: Votes,
        /// The seq of the Persist holding (term, vote = self). The candidate
        /// counts its own vote, and may lead, only once it is durable.
        self_vote_seq: u64,
    },
    Leader(LeaderState),
}

/// What a leader tracks.
#[derive(Debug)]
pub(crate) struct LeaderState {
    /// Every member but the leader, sorted by id.
    pub(crate) progress: Vec<(NodeId, Progress)>,
    /// Payload bytes of this term's entries above the commit index.
    pub(crate) uncommitted_size: u64,
    /// The commit index when this node became leader: every commit above it
    /// was made by counting in this term.
    pub(crate) commit_at_start: Index,
    /// The index of this term's no-op: once committed, the term is.
    pub(crate) noop_index: Index,
    /// Reads waiting for the term's commit, a round, or a quorum.
    pub(crate) reads: crate::read::ReadQueue,
    /// A leadership transfer in progress.
    pub(crate) transfer: Option<crate::transfer::Transfer>,
    /// `TimeoutNow` went out in this term: no more lease reads.
    pub(crate) timeout_now_sent: bool,
}

impl LeaderState {
    #[inline]
    pub(crate) fn progress(&self, id: NodeId) -> Option<&Progress> {
        self.progress.binary_search_by_key(&id, |(i, _)| *i).ok().map(|p| &self.progress[p].1)
    }

    #[inline]
    pub(crate) fn progress_mut(&mut self, id: NodeId) -> Option<&mut Progress> {
        match self.progress.binary_search_by_key(&id, |(i, _)| *i) {
            Ok(p) => Some(&mut self.progress[p].1),
            Err(_) => None,
        }
    }
}

/// The leader's view of one follower, for observation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerProgress {
    /// The highest index known to be durable on the follower and matching.
    pub match_index: Index,
    /// The next index the leader will send.
    pub next_index: Index,
    /// The replication state.
    pub state: ReplicationState,
    /// Appends in flight.
    pub inflight_msgs: usize,
    /// Payload bytes in flight.
    pub inflight_bytes: u64,
    /// Heard from since the last check-quorum round.
    pub recent_active: bool,
}

/// The replication state of a follower (see the `progress` module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplicationState {
    /// Finding where the follower's log matches.
    Probe,
    /// Streaming entries.
    Replicate,
    /// Needs a snapshot.
    Snapshot,
}

/// The node's state at the start of the current step, for the "never
/// decreases" invariants.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Shadow {
    pub(crate) term: Term,
    pub(crate) vote: Option<NodeId>,
    pub(crate) commit: Index,
}

/// One member of a Raft group: a deterministic state machine.
///
/// # Methods by kind
/// - Construction: [`Node::new`].
/// - Driving: [`Node::step`] and the allocation-free [`Node::step_into`].
///   These are the only methods that change the node.
/// - Observation: [`Node::id`], [`Node::role`], [`Node::term`],
///   [`Node::leader`], [`Node::commit_index`], [`Node::applied_index`],
///   [`Node::last_index`], [`Node::membership`], [`Node::progress`] and
///   friends. They never change anything.
/// - Checking: [`Node::check_invariants`].
///
/// # Output order
/// Outputs come out in the order the host must respect: `Persist` outputs
/// in seq order (made durable in that order), `Apply` outputs in index
/// order (applied in that order). `Send` outputs may be carried out at once
/// and in any order. See [`Output`] for each output's contract.
pub struct Node {
    pub(crate) config: Config,
    pub(crate) term: Term,
    pub(crate) vote: Option<NodeId>,
    pub(crate) leader: Option<NodeId>,
    pub(crate) role: RoleState,
    pub(crate) log: RaftLog,
    pub(crate) membership: Membership,
    /// The configurations of the log (the latest is `membership`'s).
    pub(crate) confs: ConfHistory,
    pub(crate) rng: Rng,
    /// Followers and candidates: the randomised election timeout. Leaders:
    /// the check-quorum period.
    pub(crate) election: Timeout,
    /// Leaders: the heartbeat interval.
    pub(crate) heartbeat: Timeout,
    /// Ticks since this node last heard from a leader of its term (0 while
    /// it leads; saturates at `u32::MAX`, which means "never").
    pub(crate) leader_contact_ticks: u32,
    pub(crate) out: Outbox,
    pub(crate) shadow: Shadow,
    /// Set if a leader ever truncated its own log (Leader Append-Only).
    pub(crate) leader_truncated: bool,
    pub(crate) repairs: Vec<RestoreRepair>,
    /// Ticks stepped in this incarnation.
    pub(crate) ticks: u64,
    /// The last heartbeat round sent (monotonic for the incarnation).
    pub(crate) read_round: u64,
    /// Reads this node forwarded to a leader, by context.
    pub(crate) forwarded_reads: alloc::collections::BTreeMap<u64, crate::read::ForwardedRead>,
    /// The last context used for a forwarded read.
    pub(crate) next_read_context: u64,
    /// The latest snapshot, the one being received, the one to apply.
    pub(crate) snaps: crate::snapshot::Snapshots,
    /// A witness: the highest index whose payloads it dropped (in memory
    /// only; the store keeps them until the host compacts), and so the
    /// highest index it may compact to.
    pub(crate) witness_elided: Index,
    /// This node was a witness of a committed configuration: it has no
    /// state machine for good (a witness never becomes a data member), even
    /// once removed.
    pub(crate) witness_for_good: bool,
    /// A witness refused a vote to a candidate with an older log since it
    /// last heard from a leader: it may hold the longest log, so it stops
    /// waiting for the data voters' timeouts.
    pub(crate) witness_outranks: bool,
}

impl fmt::Debug for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Node")
            .field("id", &self.config.id)
            .field("role", &self.role())
            .field("term", &self.term)
            .field("vote", &self.vote)
            .field("leader", &self.leader)
            .field("last", &self.log.last_id())
            .field("commit", &self.log.committed())
            .field("persisted", &self.log.persisted())
            .finish_non_exhaustive()
    }
}

impl Node {
    /// Builds a node from its configuration and the durable state its host
    /// restored (`RestoredState::default()` for a brand-new node).
    ///
    /// On an empty store the configuration is `config.bootstrap_voters`
    /// (persisted by the first step as a snapshot at index 0); otherwise it
    /// comes from the restored state alone. An empty configuration, or one
    /// without this node, is legal: the node waits to be added and never
    /// campaigns.
    ///
    /// A node whose store was lost must never restart under its old id with
    /// an empty store: it would forget its vote and could vote twice in a
    /// term. Remove the old id from the group and add the node back under a
    /// new id.
    ///
    /// # Errors
    /// [`Error::Config`] for an impossible configuration, [`Error::Restore`]
    /// for a restored state no repair can explain (a gap, decreasing terms).
    pub fn new(config: Config, state: RestoredState) -> Result<Node, Error> {
        config.validate().map_err(Error::Config)?;
        let restored = restore(state).map_err(Error::Restore)?;
        let hard_state = restored.hard_state;
        let mut rng = Rng::new(config.seed ^ config.id.0.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let election_after = rng
            .range(u64::from(config.election_timeout_ticks_min), u64::from(config.election_timeout_ticks_max))
            as u32;
        let log = RaftLog::restored(restored.snapshot, restored.entries, hard_state.commit, restored.applied);
        // The outbox starts from the hard state as stored, so that the first
        // Persist writes any repair restore made (a raised term, a clamped
        // commit) before promises go out in it.
        let mut out = Outbox::new(config.emit_events, restored.stored_hard_state);
        // A repaired term or vote must reach the disk before any promise
        // goes out in it: open the first Persist now.
        if (hard_state.term, hard_state.vote) != (restored.stored_hard_state.term, restored.stored_hard_state.vote) {
            out.open_persist();
        }
        let base = match restored.snapshot_conf {
            Some(conf) => conf,
            None if restored.empty_store && !config.bootstrap_voters.is_empty() => {
                let conf = ConfState::with_voters(config.bootstrap_voters.iter().copied());
                // Persist the bootstrap configuration as the snapshot at index
                // 0, so that a restart finds it in the store.
                out.persist().snapshot =
                    Some(alloc::boxed::Box::new(SnapshotMeta { last: EntryId::ZERO, conf_state: conf.clone() }));
                conf
            }
            None => ConfState::default(),
        };
        let snaps = crate::snapshot::Snapshots::new(SnapshotMeta { last: restored.snapshot, conf_state: base.clone() });
        let mut confs = ConfHistory::new(restored.snapshot.index, base);
        for (index, conf) in restored.conf_entries {
            confs.push(index, conf);
        }
        let conf = confs.latest().clone();
        let mut node = Node {
            heartbeat: Timeout::new(config.heartbeat_interval_ticks),
            election: Timeout::new(election_after),
            // A restarted node may have been a follower of a live leader that
            // holds a lease: it neither votes nor campaigns on timeout until
            // an election timeout has passed (tikv #15035).
            leader_contact_ticks: if hard_state.term > Term::ZERO { 0 } else { u32::MAX },
            config,
            term: hard_state.term,
            vote: hard_state.vote,
            leader: None,
            role: RoleState::Follower,
            log,
            membership: Membership::new(conf),
            confs,
            rng,
            out,
            shadow: Shadow::default(),
            leader_truncated: false,
            repairs: restored.repairs,
            ticks: 0,
            read_round: 0,
            forwarded_reads: alloc::collections::BTreeMap::new(),
            next_read_context: 0,
            snaps,
            witness_elided: Index::ZERO,
            witness_for_good: false,
            witness_outranks: false,
        };
        node.witness_for_good = node
            .confs
            .any_at_or_below(node.log.committed(), |conf| crate::membership::is_witness(conf, node.config.id));
        if node.acts_as_witness() {
            let after = node.randomized_election_timeout();
            node.election.reset(after);
        }
        node.shadow = node.capture_shadow();
        Ok(node)
    }

    /// Steps one input and returns the outputs.
    ///
    /// Equivalent to [`Node::step_into`] with a fresh vector.
    pub fn step(&mut self, input: Input) -> Vec<Output> {
        let mut out = Vec::new();
        self.step_into(input, &mut out);
        out
    }

    /// Steps one input and appends the outputs to `out`. Reusing `out`
    /// across steps (after draining it) avoids allocating in steady state.
    pub fn step_into(&mut self, input: Input, out: &mut Vec<Output>) {
        core::mem::swap(&mut self.out.buf, out);
        self.shadow = self.capture_shadow();
        let tick = matches!(input, Input::Tick);
        match input {
            Input::Tick => self.on_tick(),
            Input::Receive(message) => self.on_message(message),
            Input::Propose { id, command } => self.on_propose(id, command),
            Input::ProposeBatch { id, commands } => self.on_propose_batch(id, commands),
            Input::Read { id, wait } => self.on_read(id, wait),
            Input::TransferLeadership { id, to } => self.on_transfer_leadership(id, to),
            Input::ChangeMembership { id, change } => self.on_change_membership(id, change),
            Input::Campaign => self.on_campaign_input(),
            Input::Persisted { up_to_seq } => self.on_persisted(up_to_seq),
            Input::Applied { index } => self.on_applied(index),
            Input::Compact { index } => self.on_compact(index),
            Input::SnapshotTaken { index, data } => self.on_snapshot_taken(index, data),
            Input::SnapshotData { last, data } => self.on_snapshot_data(last, data),
            Input::ReportUnreachable { peer } => self.on_unreachable(peer),
        }
        self.release_forwarded_reads();
        self.release_snapshot_apply();
        self.emit_applies();
        self.out.flush(self.hard_state(), self.log.last_index(), tick);
        debug_assert_eq!(self.check_invariants(), Ok(()), "{self:?}");
        core::mem::swap(&mut self.out.buf, out);
    }

    // ---- observation ----

    /// Whether this node is a witness (a voter that keeps no state machine:
    /// see the crate docs): a witness in some half of its configuration
    /// and a data voter in none.
    pub fn is_witness(&self) -> bool {
        self.membership.is_witness(self.config.id)
    }

    /// This node's id.
    pub fn id(&self) -> NodeId {
        self.config.id
    }

    /// The configuration it was built with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The current role.
    pub fn role(&self) -> Role {
        match self.role {
            RoleState::Follower => Role::Follower,
            RoleState::PreCandidate { .. } => Role::PreCandidate,
            RoleState::Candidate { .. } => Role::Candidate,
            RoleState::Leader(_) => Role::Leader,
        }
    }

    /// The current term.
    pub fn term(&self) -> Term {
        self.term
    }

    /// Whom this node voted for in the current term.
    pub fn vote(&self) -> Option<NodeId> {
        self.vote
    }

    /// The leader of the current term, if known.
    pub fn leader(&self) -> Option<NodeId> {
        self.leader
    }

    /// The hard state as of now (durable once the last Persist is).
    pub fn hard_state(&self) -> HardState {
        HardState { term: self.term, vote: self.vote, commit: self.log.committed() }
    }

    /// The commit index.
    pub fn commit_index(&self) -> Index {
        self.log.committed()
    }

    /// The host's applied index (from `Input::Applied` or the restored
    /// state).
    pub fn applied_index(&self) -> Index {
        self.log.applied()
    }

    /// The last index handed to the host in an `Apply` output.
    pub fn apply_emitted_index(&self) -> Index {
        self.log.apply_emitted()
    }

    /// The last index in the log.
    pub fn last_index(&self) -> Index {
        self.log.last_index()
    }

    /// The id of the last entry in the log.
    pub fn last_entry_id(&self) -> EntryId {
        self.log.last_id()
    }

    /// The highest index durable locally (and equal to the in-memory log).
    pub fn persisted_index(&self) -> Index {
        self.log.persisted()
    }

    /// The first index still in memory (after the last compaction).
    pub fn first_index(&self) -> Index {
        self.log.first_index()
    }

    /// The entry at `index`, if it is in memory.
    pub fn entry(&self, index: Index) -> Option<&Entry> {
        self.log.entry(index)
    }

    /// The term of the entry at `index`, if known.
    pub fn term_at(&self, index: Index) -> Option<Term> {
        self.log.term_at(index)
    }

    /// The configuration in effect.
    pub fn membership(&self) -> &ConfState {
        self.membership.conf()
    }

    /// The leader's view of `peer` (`None` off the leader or for a
    /// non-member).
    pub fn progress(&self, peer: NodeId) -> Option<PeerProgress> {
        match &self.role {
            RoleState::Leader(ls) => ls.progress(peer).map(peer_progress),
            _ => None,
        }
    }

    /// The leader's view of every follower, by id (empty off the leader).
    pub fn peers(&self) -> impl Iterator<Item = (NodeId, PeerProgress)> + '_ {
        let progress: &[(NodeId, Progress)] = match &self.role {
            RoleState::Leader(ls) => &ls.progress,
            _ => &[],
        };
        progress.iter().map(|(id, pr)| (*id, peer_progress(pr)))
    }

    /// The repairs `Node::new` made to a torn restored state.
    pub fn restore_repairs(&self) -> &[RestoreRepair] {
        &self.repairs
    }

    /// The seq of the last `Persist` emitted, and the last one acknowledged.
    pub fn persist_seqs(&self) -> (u64, u64) {
        (self.out.emitted_seq(), self.out.durable_seq())
    }

    /// Promises (vote grants, append acks) waiting for a `Persisted`.
    pub fn pending_promises(&self) -> usize {
        self.out.deferred_len()
    }

    // ---- shared helpers ----

    pub(crate) fn capture_shadow(&self) -> Shadow {
        Shadow { term: self.term, vote: self.vote, commit: self.log.committed() }
    }

    /// A data voter's timeout is in `[min, max)`; a witness's in
    /// `[max, 2 * max - min)`, after every data voter's, so that a data
    /// voter wins whenever one can.
    pub(crate) fn randomized_election_timeout(&mut self) -> u32 {
        let (min, max) = (self.config.election_timeout_ticks_min, self.config.election_timeout_ticks_max);
        let ticks = self.rng.range(u64::from(min), u64::from(max)) as u32;
        if self.acts_as_witness() && !self.witness_outranks {
            ticks + (max - min)
        } else {
            ticks
        }
    }

    /// Whether this node heard from a live leader within the minimum election
    /// timeout (always true while it leads): leader stickiness.
    ///
    /// Stickiness is part of check-quorum, as in etcd: without check-quorum
    /// a leader that lost its quorum keeps sending heartbeats to the few
    /// followers it still reaches, and if they stayed sticky forever they
    /// could withhold the votes a new majority needs.
    pub(crate) fn in_leader_lease(&self) -> bool {
        self.config.check_quorum && self.leader_contact_ticks < self.config.election_timeout_ticks_min
    }

    /// A message from this node.
    #[inline]
    pub(crate) fn message(&self, to: NodeId, body: MessageBody) -> Message {
        Message { from: self.config.id, to, term: self.term, body }
    }

    fn on_tick(&mut self) {
        self.ticks += 1;
        self.leader_contact_ticks = self.leader_contact_ticks.saturating_add(1);
        if matches!(self.role, RoleState::Leader(_)) {
            self.leader_contact_ticks = 0;
            self.tick_leader();
        } else {
            self.election.tick();
            if self.election.fired() {
                let after = self.randomized_election_timeout();
                self.election.reset(after);
                self.campaign(self.config.pre_vote, false);
            }
        }
    }

    fn on_campaign_input(&mut self) {
        // In lease mode a leader heard from recently may hold a lease that
        // a campaign here could break.
        if matches!(self.config.read_mode, crate::config::ReadMode::Lease { .. })
            && self.leader_contact_ticks < self.config.election_timeout_ticks_min
            && !matches!(self.role, RoleState::Leader(_))
        {
            self.out.event(Event::CampaignSkipped { reason: crate::event::CampaignSkipReason::LeaderLease });
            return;
        }
        self.campaign(self.config.pre_vote, false);
    }

    fn on_persisted(&mut self, up_to_seq: u64) {
        match self.out.on_persisted(up_to_seq) {
            Err(emitted) => {
                self.out
                    .event(Event::InputIgnored { reason: MisuseReason::PersistedBeyondEmitted { up_to_seq, emitted } });
            }
            Ok(None) => {}
            Ok(Some(durable_last)) => {
                let before = self.log.persisted();
                self.log.set_persisted(durable_last);
                if self.log.persisted() == before && !matches!(self.role, RoleState::Candidate { .. }) {
                    // Nothing new is durable (a commit-only Persist): no
                    // quorum to recount.
                    return;
                }
                let role = self.role();
                if role == Role::Candidate {
                    self.poll_election();
                } else if role == Role::Leader && self.maybe_commit() {
                    self.on_commit_advanced();
                }
            }
        }
    }

    fn on_applied(&mut self, index: Index) {
        if index > self.log.apply_emitted() {
            self.out.event(Event::InputIgnored {
                reason: MisuseReason::AppliedBeyondEmitted { index, emitted: self.log.apply_emitted() },
            });
            return;
        }
        self.log.set_applied(index);
    }

    fn on_unreachable(&mut self, peer: NodeId) {
        if let RoleState::Leader(ls) = &mut self.role {
            match ls.progress_mut(peer) {
                Some(pr) => {
                    if pr.is_replicating() {
                        pr.become_probe();
                    }
                }
                None => self.out.event(Event::InputIgnored { reason: MisuseReason::UnknownPeer { peer } }),
            }
        }
    }

    fn on_propose(&mut self, id: RequestId, command: Bytes) {
        if self.reject_if_not_leader(id, core::slice::from_ref(&command)) {
            return;
        }
        let bytes = command.len() as u64;
        match self.append_commands(core::iter::once(command), bytes) {
            Ok(index) => self.out.push(Output::Proposed { id, index, term: self.term }),
            Err(reason) => self.out.push(Output::Rejected { id, reason }),
        }
    }

    fn on_propose_batch(&mut self, id: RequestId, commands: Vec<Bytes>) {
        if commands.is_empty() {
            self.out.push(Output::Rejected { id, reason: RejectReason::EmptyBatch });
            return;
        }
        if self.reject_if_not_leader(id, &commands) {
            return;
        }
        let bytes = commands.iter().map(|c| c.len() as u64).sum();
        match self.append_commands(commands, bytes) {
            Ok(index) => self.out.push(Output::Proposed { id, index, term: self.term }),
            Err(reason) => self.out.push(Output::Rejected { id, reason }),
        }
    }

    /// Off the leader: forwards (when configured and a leader is known) or
    /// rejects with a hint. Returns whether the proposal was handled here.
    fn reject_if_not_leader(&mut self, id: RequestId, commands: &[Bytes]) -> bool {
        if matches!(self.role, RoleState::Leader(_)) {
            if self.acts_as_witness() {
                self.out.push(Output::Rejected { id, reason: RejectReason::WitnessLeader });
                return true;
            }
            return false;
        }
        match self.leader {
            Some(leader) if self.config.forward_proposals && leader != self.config.id => {
                let body =
                    MessageBody::ForwardProposal(raft_sansio_proto::ForwardProposal { commands: commands.to_vec() });
                let message = self.message(leader, body);
                self.out.send(message);
                self.out.push(Output::ProposalForwarded { id, leader });
            }
            leader_hint => {
                self.out.push(Output::Rejected { id, reason: RejectReason::NotLeader { leader_hint } });
            }
        }
        true
    }

    /// Hands every committed, durable, unapplied entry to the host.
    fn emit_applies(&mut self) {
        if self.skips_apply() {
            self.witness_for_good = true;
            self.log.skip_apply();
            return;
        }
        while let Some(entries) = self.log.next_apply_batch(self.config.max_apply_bytes) {
            self.out.push(Output::Apply { entries });
        }
    }
}

fn peer_progress(pr: &Progress) -> PeerProgress {
    let (inflight_msgs, inflight_bytes) = pr.inflight();
    PeerProgress {
        match_index: pr.match_index,
        next_index: pr.next_index,
        state: match pr.state {
            crate::progress::ProgressState::Probe { .. } => ReplicationState::Probe,
            crate::progress::ProgressState::Replicate { .. } => ReplicationState::Replicate,
            crate::progress::ProgressState::Snapshot { .. } => ReplicationState::Snapshot,
        },
        inflight_msgs,
        inflight_bytes,
        recent_active: pr.recent_active,
    }
}
