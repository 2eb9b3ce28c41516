//! The driver's task: one loop that owns the [`Node`] and the state
//! machine, steps inputs into the node and carries out its outputs.
//!
//! # One round
//!
//! 1. Wait for anything: a store reply, the next tick, a message, a
//!    command (store replies first: a `Persisted` releases promises).
//! 2. Step every tick that came due, then what woke the loop.
//! 3. Take whatever else is already queued, without waiting (at most
//!    `DriverOptions::max_inputs_per_round` of each kind).
//! 4. End the round: step the proposals gathered as one batch, report
//!    unreachable peers and the applied index, take a snapshot if the
//!    policy says so, hand the round's Persists to the persistence thread,
//!    publish the metrics.
//!
//! # Outputs
//!
//! - `Send`: to the transport at once; a refused send makes the peer
//!   unreachable (reported once per peer per round).
//! - `Persist`: queued in emission order and handed to the persistence
//!   thread (one job per round, and before any other job so the thread
//!   sees them in order); `Persisted` is stepped with what it reports.
//! - `Apply` / `ApplySnapshot`: an ordered queue. Entries are applied at
//!   once; a snapshot is read from the store, and the queue waits until the
//!   state machine is restored from it.
//! - `Proposed` / `Rejected` / `ProposalForwarded` / `ReadReady`: resolve
//!   or park the waiting callers.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::mpsc as std_mpsc;
use std::sync::Arc;

use bytes::Bytes;
use raft_sansio::proto::codec::decode_conf_state;
use raft_sansio::{
    ConfState, Entries, Entry, EntryKind, Event, Index, Input, Message, Node, NodeId, Output, Persist, RejectReason,
    RequestId, Role, SnapshotMeta, Term,
};
use tokio::sync::{mpsc, oneshot, watch};

use super::clock::Clock;
use super::error::{DriverError, ProposeError, ReadError, Stopped, TransferError, UnknownReason};
use super::handle::{Command, ReadReply};
use super::metrics::Metrics;
use super::state_machine::StateMachine;
use super::store::{Job, Reply, StoreThread};
use super::DriverOptions;
use crate::transport::Transport;

/// Forget waiters whose caller went away every this many ticks.
const PRUNE_EVERY_TICKS: u64 = 64;

/// Where a proposal's response goes.
type ProposeReply<S> = oneshot::Sender<Result<<S as StateMachine>::Response, ProposeError>>;

/// A request handed to the node, waiting for the output that answers it.
enum Request<S: StateMachine> {
    /// A proposal batch: one waiter per command, in order.
    Proposals(Vec<ProposeReply<S>>),
    Membership(oneshot::Sender<Result<ConfState, ProposeError>>),
    Read(Box<dyn ReadReply<S>>),
    /// The waiter is in `Runner::transfer`.
    Transfer,
}

/// Who waits for the entry at some index.
enum Waiter<S: StateMachine> {
    Command(ProposeReply<S>),
    Membership(oneshot::Sender<Result<ConfState, ProposeError>>),
}

impl<S: StateMachine> Waiter<S> {
    fn fail(self, error: ProposeError) {
        match self {
            Waiter::Command(tx) => drop(tx.send(Err(error))),
            Waiter::Membership(tx) => drop(tx.send(Err(error))),
        }
    }

    fn is_closed(&self) -> bool {
        match self {
            Waiter::Command(tx) => tx.is_closed(),
            Waiter::Membership(tx) => tx.is_closed(),
        }
    }
}

/// A proposal appended at some index in `term`: it is committed iff the
/// entry applied at that index has `term`.
struct Waiting<S: StateMachine> {
    term: Term,
    waiter: Waiter<S>,
}

/// A leadership transfer the caller waits on.
struct TransferWait {
    id: RequestId,
    to: NodeId,
    /// The term in which it was asked for.
    term: Term,
    /// Give up waiting for a new leader at this tick.
    deadline: u64,
    reply: oneshot::Sender<Result<(), TransferError>>,
}

/// An `Apply` or `ApplySnapshot`, in emission order.
enum ApplyItem {
    Entries(Entries),
    Snapshot(SnapshotMeta),
}

/// What woke the loop.
enum Wake<S: StateMachine> {
    Store(Option<Reply>),
    Tick,
    Message(Option<Message>),
    Command(Option<Command<S>>),
}

/// Whether the loop goes on.
#[derive(PartialEq, Eq)]
enum Flow {
    Continue,
    Shutdown,
}

pub(crate) struct Runner<S: StateMachine> {
    node: Node,
    sm: S,
    options: DriverOptions,
    transport: Arc<dyn Transport>,
    inbound: Option<mpsc::Receiver<Message>>,
    commands: Option<mpsc::Receiver<Command<S>>>,
    jobs: Option<std_mpsc::Sender<Job>>,
    replies: mpsc::UnboundedReceiver<Reply>,
    store_closed: watch::Receiver<bool>,
    clock: Clock,
    /// The output buffer, reused across steps.
    out: Vec<Output>,
    /// Persists emitted this round, in order.
    persists: Vec<Persist>,
    /// Peers a send failed to this round.
    unreachable: Vec<NodeId>,
    /// A fatal error found deep in output handling; the loop stops.
    fatal: Option<DriverError>,

    /// The last index applied to the state machine (or, on a witness,
    /// counted as applied by the core).
    /// Invariant: `applied <= node.apply_emitted_index()`.
    applied: Index,
    apply_queue: VecDeque<ApplyItem>,
    /// A snapshot is being read from the store to restore: the apply
    /// queue waits.
    restoring: Option<Index>,

    /// The latest snapshot taken or installed.
    snapshot_index: Index,
    /// Payload bytes applied since that snapshot.
    bytes_since_snapshot: u64,
    /// A snapshot being saved by the store.
    snapshot_saving: Option<Index>,
    snapshot_waiters: Vec<oneshot::Sender<Result<Index, Stopped>>>,

    next_request: u64,
    requests: HashMap<RequestId, Request<S>>,
    /// Proposals appended, by index.
    proposals: BTreeMap<Index, Waiting<S>>,
    /// Reads confirmed at an index, waiting for the state machine: keyed
    /// by (read index, request id).
    ready_reads: BTreeMap<(Index, u64), Box<dyn ReadReply<S>>>,
    transfer: Option<TransferWait>,
    /// Reads handed to the node and not yet answered.
    reads_in_core: usize,
    /// Proposals gathered this round, stepped as one batch.
    batch: Vec<(Bytes, ProposeReply<S>)>,
    batch_bytes: usize,

    /// The term this node leads, while it does.
    led_term: Option<Term>,
    /// What the last observation saw, for logging changes.
    seen_role: Role,
    seen_term: Term,
    seen_leader: Option<NodeId>,
    last_prune_tick: u64,
    metrics: Metrics,
    metrics_tx: watch::Sender<Metrics>,
}

/// Everything [`Runner::new`] needs.
pub(crate) struct Parts<S: StateMachine> {
    pub(crate) node: Node,
    pub(crate) sm: S,
    pub(crate) options: DriverOptions,
    pub(crate) transport: Arc<dyn Transport>,
    pub(crate) inbound: mpsc::Receiver<Message>,
    pub(crate) commands: mpsc::Receiver<Command<S>>,
    pub(crate) store: StoreThread,
    pub(crate) snapshot_index: Index,
    pub(crate) metrics_tx: watch::Sender<Metrics>,
}

async fn recv_or_park<T>(rx: &mut Option<mpsc::Receiver<T>>) -> Option<T> {
    match rx {
        Some(rx) => rx.recv().await,
        None => core::future::pending().await,
    }
}

impl<S: StateMachine> Runner<S> {
    pub(crate) fn new(parts: Parts<S>) -> Runner<S> {
        let Parts { node, sm, options, transport, inbound, commands, store, snapshot_index, metrics_tx } = parts;
        let metrics = metrics_tx.borrow().clone();
        Runner {
            applied: node.applied_index(),
            seen_role: node.role(),
            seen_term: node.term(),
            seen_leader: node.leader(),
            led_term: None,
            clock: Clock::new(options.tick),
            node,
            sm,
            options,
            transport,
            inbound: Some(inbound),
            commands: Some(commands),
            jobs: Some(store.jobs),
            replies: store.replies,
            store_closed: store.closed,
            out: Vec::new(),
            persists: Vec::new(),
            unreachable: Vec::new(),
            fatal: None,
            apply_queue: VecDeque::new(),
            restoring: None,
            snapshot_index,
            bytes_since_snapshot: 0,
            snapshot_saving: None,
            snapshot_waiters: Vec::new(),
            next_request: 0,
            requests: HashMap::new(),
            proposals: BTreeMap::new(),
            ready_reads: BTreeMap::new(),
            transfer: None,
            reads_in_core: 0,
            batch: Vec::new(),
            batch_bytes: 0,
            last_prune_tick: 0,
            metrics,
            metrics_tx,
        }
    }

    /// Runs until a shutdown or a fatal error, then fails what is pending,
    /// publishes why it stopped and waits for the store to close.
    pub(crate) async fn run(mut self) -> Result<(), DriverError> {
        tracing::info!(term = self.node.term().0, applied = self.applied.0, "driver started");
        let result = self.run_loop().await;
        match &result {
            Ok(()) => tracing::info!("driver stopped"),
            Err(error) => tracing::error!(%error, "driver stopped"),
        }
        let reason = match &result {
            Ok(()) => "shut down".to_string(),
            Err(e) => e.to_string(),
        };
        self.fail_everything();
        self.metrics.stopped = Some(reason);
        self.metrics.pending_proposals = 0;
        self.metrics.pending_reads = 0;
        self.metrics_tx.send_replace(self.metrics.clone());
        // Closing the job channel stops the thread; wait until it has
        // dropped the store (a restart may open the same files).
        self.jobs = None;
        let _ = self.store_closed.wait_for(|closed| *closed).await;
        result
    }

    async fn run_loop(&mut self) -> Result<(), DriverError> {
        loop {
            let deadline = self.clock.next_deadline();
            let wake = tokio::select! {
                biased;
                reply = self.replies.recv() => Wake::Store(reply),
                () = tokio::time::sleep_until(deadline) => Wake::Tick,
                message = recv_or_park(&mut self.inbound) => Wake::Message(message),
                command = recv_or_park(&mut self.commands) => Wake::Command(command),
            };
            // Missed ticks first, before any other input.
            self.step_due_ticks();
            let mut flow = match wake {
                Wake::Store(Some(reply)) => {
                    self.on_store_reply(reply);
                    Flow::Continue
                }
                Wake::Store(None) => {
                    return Err(DriverError::StoreThread("the persistence thread died".to_string()));
                }
                Wake::Tick => Flow::Continue,
                Wake::Message(Some(message)) => {
                    self.step(Input::Receive(message));
                    Flow::Continue
                }
                Wake::Message(None) => {
                    tracing::warn!("the transport's inbound channel closed; the node hears no peer any more");
                    self.inbound = None;
                    Flow::Continue
                }
                Wake::Command(Some(command)) => self.on_command(command),
                Wake::Command(None) => {
                    // Every handle is gone: the node keeps serving its
                    // peers until it is aborted.
                    self.commands = None;
                    Flow::Continue
                }
            };
            // Whatever else is queued, without waiting.
            let mut budget = self.options.max_inputs_per_round;
            while flow == Flow::Continue && self.fatal.is_none() && budget > 0 {
                budget -= 1;
                let mut progressed = false;
                if let Ok(reply) = self.replies.try_recv() {
                    self.on_store_reply(reply);
                    progressed = true;
                }
                if let Some(message) = self.inbound.as_mut().and_then(|rx| rx.try_recv().ok()) {
                    self.step(Input::Receive(message));
                    progressed = true;
                }
                if let Some(command) = self.commands.as_mut().and_then(|rx| rx.try_recv().ok()) {
                    flow = self.on_command(command);
                    progressed = true;
                }
                if !progressed {
                    break;
                }
            }
            if let Some(error) = self.fatal.take() {
                return Err(error);
            }
            self.end_round();
            if let Some(error) = self.fatal.take() {
                return Err(error);
            }
            if flow == Flow::Shutdown {
                return Ok(());
            }
        }
    }

    fn step_due_ticks(&mut self) {
        for _ in 0..self.clock.take_due() {
            self.step(Input::Tick);
        }
        if self.clock.ticks() >= self.last_prune_tick + PRUNE_EVERY_TICKS {
            self.last_prune_tick = self.clock.ticks();
            self.prune_abandoned();
        }
        self.check_transfer();
    }

    // ---- stepping ----

    /// Steps one input and carries out every output.
    fn step(&mut self, input: Input) {
        let mut out = core::mem::take(&mut self.out);
        self.node.step_into(input, &mut out);
        for output in out.drain(..) {
            self.on_output(output);
        }
        self.out = out;
        self.after_step();
    }

    fn on_output(&mut self, output: Output) {
        match output {
            Output::Persist(p) => self.persists.push(p),
            Output::Send { to, message } => {
                if let Err(error) = self.transport.send(message) {
                    tracing::trace!(peer = to.0, %error, "send failed");
                    if !self.unreachable.contains(&to) {
                        self.unreachable.push(to);
                    }
                }
            }
            Output::Apply { entries } => {
                self.apply_queue.push_back(ApplyItem::Entries(entries));
                self.drain_apply_queue();
            }
            Output::ApplySnapshot { meta } => {
                self.apply_queue.push_back(ApplyItem::Snapshot(meta));
                self.drain_apply_queue();
            }
            Output::SnapshotDataNeeded { last } => self.send_job(Job::SnapshotData { last }),
            Output::Proposed { id, index, term } => self.on_proposed(id, index, term),
            Output::ProposalForwarded { id, leader } => {
                tracing::trace!(leader = leader.0, "proposal forwarded");
                if let Some(Request::Proposals(waiters)) = self.requests.remove(&id) {
                    for w in waiters {
                        let _ = w.send(Err(ProposeError::Unknown { reason: UnknownReason::Forwarded }));
                    }
                }
            }
            Output::ReadReady { id, index } => match self.requests.remove(&id) {
                Some(Request::Read(reply)) => {
                    self.reads_in_core -= 1;
                    self.ready_reads.insert((index, id.0), reply);
                    self.serve_ready_reads();
                }
                Some(other) => {
                    self.requests.insert(id, other);
                }
                None => {}
            },
            Output::Rejected { id, reason } => self.on_rejected(id, reason),
            Output::Event(event) => trace_event(event),
            other => tracing::debug!(output = ?other, "output this driver does not know; ignored"),
        }
    }

    /// After every step: notice a lost leadership and log role changes.
    fn after_step(&mut self) {
        let (role, term, leader) = (self.node.role(), self.node.term(), self.node.leader());
        if let Some(led) = self.led_term {
            if role != Role::Leader || term != led {
                self.led_term = None;
                self.on_leadership_lost(led);
            }
        }
        if role == Role::Leader && self.led_term.is_none() {
            self.led_term = Some(term);
        }
        if (role, term, leader) != (self.seen_role, self.seen_term, self.seen_leader) {
            match role {
                Role::Leader => tracing::info!(term = term.0, "became leader"),
                Role::Candidate => tracing::info!(term = term.0, "election started"),
                Role::PreCandidate => tracing::debug!(term = term.0, "pre-vote started"),
                Role::Follower => tracing::info!(term = term.0, leader = leader.map(|l| l.0), "following"),
            }
            self.seen_role = role;
            self.seen_term = term;
            self.seen_leader = leader;
        }
    }

    /// A leader stepped down: its proposals that are not known committed
    /// have an unknown outcome now. Those committed (their term is at their
    /// index, at or below the commit index) stay: this node applies them
    /// and can answer exactly.
    fn on_leadership_lost(&mut self, led: Term) {
        let commit = self.node.commit_index();
        let proposals = core::mem::take(&mut self.proposals);
        let mut failed = 0usize;
        for (index, waiting) in proposals {
            if index <= commit && self.node.term_at(index) == Some(waiting.term) {
                self.proposals.insert(index, waiting);
            } else {
                failed += 1;
                waiting.waiter.fail(ProposeError::Unknown { reason: UnknownReason::LeadershipLost });
            }
        }
        tracing::info!(term = led.0, in_doubt = failed, kept = self.proposals.len(), "lost leadership");
    }

    // ---- requests ----

    fn next_id(&mut self) -> RequestId {
        self.next_request += 1;
        RequestId(self.next_request)
    }

    fn on_command(&mut self, command: Command<S>) -> Flow {
        if !matches!(command, Command::Propose { .. }) {
            // Keep the order of requests: proposals gathered so far first.
            self.flush_batch();
        }
        match command {
            Command::Propose { command, reply } => {
                self.batch_bytes += command.len();
                self.batch.push((command, reply));
                if self.batch.len() >= self.options.max_batch_proposals
                    || self.batch_bytes >= self.options.max_batch_bytes
                {
                    self.flush_batch();
                }
            }
            Command::Read { wait, reply } => {
                let id = self.next_id();
                self.requests.insert(id, Request::Read(reply));
                self.reads_in_core += 1;
                self.step(Input::Read { id, wait });
            }
            Command::Query { reply } => reply.complete(Ok((&self.sm, self.applied))),
            Command::ChangeMembership { change, reply } => {
                let id = self.next_id();
                self.requests.insert(id, Request::Membership(reply));
                self.step(Input::ChangeMembership { id, change });
            }
            Command::Transfer { to, reply } => {
                if self.transfer.is_some() {
                    let reason = RejectReason::TransferInProgress;
                    let _ = reply.send(Err(TransferError::Rejected { reason }));
                    return Flow::Continue;
                }
                let id = self.next_id();
                let patience = 4 * u64::from(self.node.config().election_timeout_ticks_max);
                let deadline = self.clock.ticks() + patience;
                self.transfer = Some(TransferWait { id, to, term: self.node.term(), deadline, reply });
                self.requests.insert(id, Request::Transfer);
                self.step(Input::TransferLeadership { id, to });
                self.check_transfer();
            }
            Command::Campaign => self.step(Input::Campaign),
            Command::Snapshot { reply } => {
                self.snapshot_waiters.push(reply);
                // Applied entries first, so the snapshot covers them.
                self.report_applied();
                self.maybe_snapshot(true);
            }
            Command::Shutdown => return Flow::Shutdown,
        }
        Flow::Continue
    }

    /// Steps the proposals gathered this round as one `ProposeBatch`.
    fn flush_batch(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        let batch = core::mem::take(&mut self.batch);
        self.batch_bytes = 0;
        let mut commands = Vec::with_capacity(batch.len());
        let mut waiters = Vec::with_capacity(batch.len());
        for (command, reply) in batch {
            // A caller that gave up before its proposal reached the node
            // has treated it as unknown; proposing it would only add load.
            if reply.is_closed() {
                continue;
            }
            commands.push(command);
            waiters.push(reply);
        }
        if commands.is_empty() {
            return;
        }
        let id = self.next_id();
        self.requests.insert(id, Request::Proposals(waiters));
        let input = if commands.len() == 1 {
            let command = commands.pop().unwrap_or_default();
            Input::Propose { id, command }
        } else {
            Input::ProposeBatch { id, commands }
        };
        self.step(input);
    }

    fn on_proposed(&mut self, id: RequestId, index: Index, term: Term) {
        match self.requests.remove(&id) {
            Some(Request::Proposals(waiters)) => {
                for (k, waiter) in waiters.into_iter().enumerate() {
                    self.track(Index(index.0 + k as u64), term, Waiter::Command(waiter));
                }
            }
            Some(Request::Membership(waiter)) => self.track(index, term, Waiter::Membership(waiter)),
            Some(other) => {
                self.requests.insert(id, other);
            }
            None => {}
        }
    }

    fn track(&mut self, index: Index, term: Term, waiter: Waiter<S>) {
        if let Some(old) = self.proposals.insert(index, Waiting { term, waiter }) {
            // Two proposals at one index: the older one's entry was
            // replaced, so it is lost; the driver drops uncommitted
            // proposals when leadership ends, so this cannot happen.
            debug_assert!(false, "two proposals at index {}", index.0);
            old.waiter.fail(ProposeError::Unknown { reason: UnknownReason::Superseded });
        }
    }

    fn on_rejected(&mut self, id: RequestId, reason: RejectReason) {
        match self.requests.remove(&id) {
            Some(Request::Proposals(waiters)) => {
                for w in waiters {
                    let _ = w.send(Err(ProposeError::from_reject(reason)));
                }
            }
            Some(Request::Membership(w)) => {
                let _ = w.send(Err(ProposeError::from_reject(reason)));
            }
            Some(Request::Read(reply)) => {
                self.reads_in_core -= 1;
                reply.complete(Err(ReadError::from_reject(reason)));
            }
            Some(Request::Transfer) => {
                if let Some(t) = self.transfer.take_if(|t| t.id == id) {
                    let error = match reason {
                        RejectReason::NotLeader { leader_hint } => TransferError::NotLeader { leader: leader_hint },
                        reason => TransferError::Rejected { reason },
                    };
                    let _ = t.reply.send(Err(error));
                }
            }
            None => {}
        }
    }

    /// Resolves a transfer once this node sees who leads.
    fn check_transfer(&mut self) {
        let Some(t) = &self.transfer else { return };
        let me = self.node.id();
        let outcome = match self.node.leader() {
            Some(l) if l == t.to => Some(Ok(())),
            Some(l) if l == me && self.node.term() == t.term => None,
            Some(l) => Some(Err(TransferError::OtherLeader { leader: Some(l) })),
            None if self.clock.ticks() >= t.deadline => Some(Err(TransferError::TimedOut)),
            None => None,
        };
        if let Some(outcome) = outcome {
            if let Some(t) = self.transfer.take() {
                self.requests.remove(&t.id);
                let _ = t.reply.send(outcome);
            }
        }
    }

    /// Forgets waiters whose caller went away (a timeout dropped the
    /// future), so nothing pending outlives its caller for long.
    fn prune_abandoned(&mut self) {
        self.proposals.retain(|_, w| !w.waiter.is_closed());
        self.ready_reads.retain(|_, r| !r.is_closed());
        if self.transfer.as_ref().is_some_and(|t| t.reply.is_closed()) {
            if let Some(t) = self.transfer.take() {
                self.requests.remove(&t.id);
            }
        }
    }

    // ---- applying ----

    fn drain_apply_queue(&mut self) {
        while self.restoring.is_none() {
            let Some(item) = self.apply_queue.pop_front() else { break };
            match item {
                ApplyItem::Entries(entries) => {
                    for entry in entries.iter() {
                        self.apply_entry(entry);
                    }
                }
                ApplyItem::Snapshot(meta) => {
                    self.restoring = Some(meta.last.index);
                    self.send_job(Job::RestoreSnapshot { meta });
                }
            }
        }
        self.serve_ready_reads();
    }

    fn apply_entry(&mut self, entry: &Entry) {
        if entry.index <= self.applied {
            // Each entry comes once per incarnation, after `applied`.
            debug_assert!(false, "entry {} applied twice", entry.index.0);
            return;
        }
        let waiting = self.proposals.remove(&entry.index);
        match entry.kind {
            EntryKind::Normal if !entry.payload_elided => {
                let response = self.sm.apply(entry);
                self.bytes_since_snapshot += entry.payload.len() as u64;
                match waiting {
                    Some(Waiting { term, waiter: Waiter::Command(tx) }) if term == entry.term => {
                        let _ = tx.send(Ok(response));
                    }
                    Some(w) => w.waiter.fail(ProposeError::Unknown { reason: UnknownReason::Superseded }),
                    None => {}
                }
            }
            _ => {
                self.sm.apply_empty(entry);
                match waiting {
                    Some(Waiting { term, waiter: Waiter::Membership(tx) }) if term == entry.term => {
                        let conf = decode_conf_state(&entry.payload).unwrap_or_else(|_| self.node.membership().clone());
                        let _ = tx.send(Ok(conf));
                    }
                    // Applied, but with no payload to apply (a witness's
                    // copy): its response is not known here.
                    Some(w) => w.waiter.fail(ProposeError::Unknown { reason: UnknownReason::Superseded }),
                    None => {}
                }
            }
        }
        self.applied = entry.index;
    }

    /// The state machine becomes the stored snapshot.
    fn restore_snapshot(&mut self, meta: &SnapshotMeta, snapshot: Option<Box<crate::storage::StoredSnapshot>>) {
        let index = meta.last.index;
        let data = match snapshot {
            Some(s) if s.meta.last == meta.last => s.data,
            other => {
                let held = other.map(|s| s.meta.last);
                self.fatal = Some(DriverError::StoreThread(format!(
                    "told to apply the snapshot at {:?}, but the store holds {held:?}",
                    meta.last
                )));
                return;
            }
        };
        if !self.node.is_witness() {
            if let Err(source) = self.sm.restore(index, &data) {
                self.fatal = Some(DriverError::Restore { index, source });
                return;
            }
        }
        tracing::info!(index = index.0, term = meta.last.term.0, bytes = data.len(), "installed a snapshot");
        self.applied = self.applied.max(index);
        self.snapshot_index = self.snapshot_index.max(index);
        self.bytes_since_snapshot = 0;
        self.metrics.snapshots_installed += 1;
        // Proposals the snapshot covers: their effect is inside it.
        let rest = self.proposals.split_off(&Index(index.0 + 1));
        for (_, w) in core::mem::replace(&mut self.proposals, rest) {
            w.waiter.fail(ProposeError::Unknown { reason: UnknownReason::SnapshotInstalled });
        }
        self.restoring = None;
        self.drain_apply_queue();
    }

    fn serve_ready_reads(&mut self) {
        while let Some(entry) = self.ready_reads.first_entry() {
            let index = entry.key().0;
            if index > self.applied {
                break;
            }
            let reply = entry.remove();
            reply.complete(Ok((&self.sm, index)));
        }
    }

    // ---- the store ----

    /// Hands a job to the persistence thread, after the Persists emitted
    /// before it.
    fn send_job(&mut self, job: Job) {
        self.send_persists();
        if let Some(jobs) = &self.jobs {
            if jobs.send(job).is_err() {
                self.fatal.get_or_insert(DriverError::StoreThread("the persistence thread died".to_string()));
            }
        }
    }

    fn send_persists(&mut self) {
        if self.persists.is_empty() {
            return;
        }
        let persists = core::mem::take(&mut self.persists);
        if let Some(jobs) = &self.jobs {
            if jobs.send(Job::Persist(persists)).is_err() {
                self.fatal.get_or_insert(DriverError::StoreThread("the persistence thread died".to_string()));
            }
        }
    }

    fn on_store_reply(&mut self, reply: Reply) {
        match reply {
            Reply::Persisted { up_to_seq, count, fsync } => {
                self.metrics.persist_count += count;
                if let Some(took) = fsync {
                    self.metrics.last_fsync = Some(took);
                    self.metrics.fsync_count += 1;
                }
                self.step(Input::Persisted { up_to_seq });
            }
            Reply::SnapshotSaved { index, data } => {
                self.snapshot_saving = None;
                if index > self.snapshot_index {
                    self.step(Input::SnapshotTaken { index, data });
                    self.snapshot_index = index;
                    self.metrics.snapshots_taken += 1;
                    tracing::info!(index = index.0, "took a snapshot");
                }
                // Else a newer snapshot from the leader was installed while
                // this one was being saved: the core would refuse it.
                for w in self.snapshot_waiters.drain(..) {
                    let _ = w.send(Ok(self.snapshot_index));
                }
            }
            Reply::RestoreSnapshot { meta, snapshot } => self.restore_snapshot(&meta, snapshot),
            Reply::SnapshotData { last, snapshot } => match snapshot {
                Some(s) if s.meta.last == last => self.step(Input::SnapshotData { last, data: s.data }),
                other => tracing::warn!(
                    wanted = ?last,
                    held = ?other.map(|s| s.meta.last),
                    "the core asked for snapshot data the store does not hold"
                ),
            },
            Reply::Failed(error) => {
                self.fatal.get_or_insert(DriverError::Store(*error));
            }
        }
    }

    // ---- end of round ----

    fn end_round(&mut self) {
        self.flush_batch();
        self.check_transfer();
        let unreachable = core::mem::take(&mut self.unreachable);
        for peer in unreachable {
            self.step(Input::ReportUnreachable { peer });
        }
        self.report_applied();
        self.maybe_snapshot(false);
        self.send_persists();
        self.publish_metrics();
    }

    fn report_applied(&mut self) {
        if self.node.is_witness() {
            // A witness applies nothing: the core counts its applied index.
            self.applied = self.applied.max(self.node.applied_index());
        }
        if self.applied > self.node.applied_index() {
            self.step(Input::Applied { index: self.applied });
        }
    }

    /// Takes a snapshot when the policy says so (or `forced`).
    fn maybe_snapshot(&mut self, forced: bool) {
        if self.snapshot_saving.is_some() || self.restoring.is_some() {
            return;
        }
        // A caller asked for one (maybe while a restore was in the way).
        let forced = forced || !self.snapshot_waiters.is_empty();
        let index = self.applied.min(self.node.applied_index());
        if index <= self.snapshot_index {
            for w in self.snapshot_waiters.drain(..) {
                let _ = w.send(Ok(self.snapshot_index));
            }
            return;
        }
        let policy = &self.options.snapshot_policy;
        let entries = index.0 - self.snapshot_index.0;
        let due = forced
            || (policy.every_entries > 0 && entries >= policy.every_entries)
            || (policy.every_bytes > 0 && self.bytes_since_snapshot >= policy.every_bytes);
        if !due {
            return;
        }
        // A witness keeps no state machine: its snapshot is metadata only.
        let data = if self.node.is_witness() { Bytes::new() } else { self.sm.snapshot() };
        self.snapshot_saving = Some(index);
        self.bytes_since_snapshot = 0;
        tracing::debug!(index = index.0, bytes = data.len(), "taking a snapshot");
        self.send_job(Job::SaveSnapshot { index, data });
    }

    fn publish_metrics(&mut self) {
        self.metrics.refresh_node(&self.node);
        self.metrics.applied_index = self.applied;
        self.metrics.snapshot_index = self.snapshot_index;
        self.metrics.pending_proposals = self.proposals.len();
        self.metrics.pending_reads = self.reads_in_core + self.ready_reads.len();
        let metrics = &self.metrics;
        self.metrics_tx.send_if_modified(|published| {
            if published == metrics {
                return false;
            }
            published.clone_from(metrics);
            true
        });
    }

    /// The driver stops: every waiter learns it, with what it can know.
    fn fail_everything(&mut self) {
        for (_, reply) in core::mem::take(&mut self.batch) {
            let _ = reply.send(Err(ProposeError::Stopped));
        }
        for (_, w) in core::mem::take(&mut self.proposals) {
            w.waiter.fail(ProposeError::Unknown { reason: UnknownReason::Stopped });
        }
        for (_, request) in core::mem::take(&mut self.requests) {
            match request {
                Request::Proposals(waiters) => {
                    for w in waiters {
                        let _ = w.send(Err(ProposeError::Unknown { reason: UnknownReason::Stopped }));
                    }
                }
                Request::Membership(w) => {
                    let _ = w.send(Err(ProposeError::Unknown { reason: UnknownReason::Stopped }));
                }
                Request::Read(reply) => reply.complete(Err(ReadError::Stopped)),
                Request::Transfer => {}
            }
        }
        for (_, reply) in core::mem::take(&mut self.ready_reads) {
            reply.complete(Err(ReadError::Stopped));
        }
        if let Some(t) = self.transfer.take() {
            let _ = t.reply.send(Err(TransferError::Stopped));
        }
        for w in self.snapshot_waiters.drain(..) {
            let _ = w.send(Err(Stopped));
        }
        // Requests still queued never reached the node.
        if let Some(mut commands) = self.commands.take() {
            commands.close();
            while let Ok(command) = commands.try_recv() {
                fail_unsent(command);
            }
        }
    }
}

/// Answers a command that never reached the node.
fn fail_unsent<S: StateMachine>(command: Command<S>) {
    match command {
        Command::Propose { reply, .. } => drop(reply.send(Err(ProposeError::Stopped))),
        Command::ChangeMembership { reply, .. } => drop(reply.send(Err(ProposeError::Stopped))),
        Command::Read { reply, .. } | Command::Query { reply } => reply.complete(Err(ReadError::Stopped)),
        Command::Transfer { reply, .. } => drop(reply.send(Err(TransferError::Stopped))),
        Command::Snapshot { reply } => drop(reply.send(Err(Stopped))),
        Command::Campaign | Command::Shutdown => {}
    }
}

/// Logs a core event: what changes the cluster at `info`, the routine at
/// `debug`, host misuse at `warn`.
fn trace_event(event: Event) {
    match event {
        Event::InputIgnored { reason } => tracing::warn!(?reason, "the core ignored an input (a driver bug)"),
        Event::SteppedDown { term, reason } => tracing::info!(term = term.0, ?reason, "stepped down"),
        Event::ConfigurationChanged { index } => tracing::info!(index = index.0, "configuration changed"),
        Event::TransferStarted { to } => tracing::info!(to = to.0, "leadership transfer started"),
        Event::TimeoutNowSent { to } => tracing::info!(to = to.0, "leadership handed over"),
        Event::TransferAborted { to } => tracing::info!(to = to.0, "leadership transfer aborted"),
        Event::WitnessHandingOver { to } => tracing::info!(to = to.0, "witness leader handing over"),
        Event::FollowerNeedsSnapshot { peer, next } => {
            tracing::info!(peer = peer.0, next = next.0, "follower needs a snapshot")
        }
        Event::BecameCandidate { term } => tracing::debug!(term = term.0, "campaigning"),
        Event::VoteGranted { to, term, pre_vote } => {
            tracing::debug!(to = to.0, term = term.0, pre_vote, "vote granted")
        }
        Event::VoteRefused { to, term, pre_vote, reason } => {
            tracing::debug!(to = to.0, term = term.0, pre_vote, ?reason, "vote refused")
        }
        Event::MessageDropped { from, kind, reason } => {
            tracing::debug!(from = from.0, kind, ?reason, "message dropped")
        }
        other => tracing::debug!(event = ?other),
    }
}
