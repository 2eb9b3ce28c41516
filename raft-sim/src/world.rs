//! The world: virtual time in nanoseconds, one priority queue of events
//! ordered by (time, sequence number), N nodes with their disks and KV
//! state machines, clients, a network and a nemesis. Everything random comes
//! from one seeded generator; nothing reads the wall clock (except the run's
//! own wall-time report) or iterates a hash map.

use core::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, VecDeque};
use std::io::Write;

use bytes::Bytes;
use raft_check::{Event as HEvent, EventKind, History, Value as HValue};
use raft_kv::{ApplyOutcome, Command, KvConfig, KvStateMachine, Op, OpResult};
use raft_sansio::rng::Rng;
use raft_sansio::{
    ConfState, Config, EntryId, EntryKind, Event, Index, Input, Message, Node, NodeId, Output, RejectReason, RequestId,
    Role,
};

use crate::checks::{is_witness, SafetyChecker, Violation};
use crate::client::{request_of, to_history, Client, ClientState, Running};
use crate::disk::Disk;
use crate::params::{Params, WorldOptions, MS};

mod reconfig;

/// A request a client sends a node.
#[derive(Clone, Debug)]
pub(crate) struct ClientRequest {
    client: usize,
    attempt: u32,
    command: Bytes,
    /// A get served without the log: the key.
    read: Option<String>,
}

/// A node's answer to a client.
#[derive(Clone, Debug)]
enum ClientReply {
    /// The command was applied (or was a duplicate, or failed in the state
    /// machine): its outcome.
    Outcome { attempt: u32, outcome: ApplyOutcome },
    /// Refused before it was proposed: certainly not applied.
    NotLeader { attempt: u32, hint: Option<NodeId> },
    /// Another entry was applied at the proposal's index: this attempt was
    /// certainly not applied.
    NotApplied { attempt: u32 },
    /// A read served without the log: the value.
    ReadValue { attempt: u32, value: raft_kv::Value },
}

#[derive(Clone, Debug)]
enum Ev {
    Tick(usize),
    Deliver(Message),
    DiskDone {
        node: usize,
        incarnation: u32,
        seq: u64,
    },
    ClientArrive {
        node: usize,
        request: ClientRequest,
    },
    ClientReply {
        client: usize,
        reply: ClientReply,
    },
    ClientWake(usize),
    ClientTimeout {
        client: usize,
        attempt: u32,
    },
    Crash,
    Restart(usize),
    PartitionStart,
    PartitionEnd,
    PauseStart,
    PauseEnd(usize),
    Scripted(crate::params::FaultAction),
    Transfer,
    /// The control plane's round: retire removed nodes, finish what a wipe
    /// or an add started, leave explicit joint configurations.
    Control,
    /// A random membership change.
    Membership,
    /// A node loses its disk.
    Wipe,
    EndFaultPhase,
}

impl Ev {
    fn name(&self) -> &'static str {
        match self {
            Ev::Tick(_) => "tick",
            Ev::Deliver(_) => "deliver",
            Ev::DiskDone { .. } => "disk",
            Ev::ClientArrive { .. } => "client-request",
            Ev::ClientReply { .. } => "client-reply",
            Ev::ClientWake(_) => "client-wake",
            Ev::ClientTimeout { .. } => "client-timeout",
            Ev::Crash => "crash",
            Ev::Restart(_) => "restart",
            Ev::PartitionStart => "partition",
            Ev::PartitionEnd => "heal",
            Ev::PauseStart => "pause",
            Ev::PauseEnd(_) => "resume",
            Ev::Scripted(_) => "scripted-fault",
            Ev::Transfer => "transfer",
            Ev::Control => "control",
            Ev::Membership => "membership",
            Ev::Wipe => "wipe",
            Ev::EndFaultPhase => "end-of-faults",
        }
    }
}

struct Scheduled {
    time: u64,
    seq: u64,
    event: Ev,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        (self.time, self.seq) == (other.time, other.seq)
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<core::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scheduled {
    fn cmp(&self, other: &Self) -> core::cmp::Ordering {
        (self.time, self.seq).cmp(&(other.time, other.seq))
    }
}

/// A state machine restored from snapshot bytes at `index`, and whether it
/// is whole: a metadata-only snapshot (a witness's) leaves an empty one.
fn restore_kv(index: Index, data: &[u8]) -> Result<(KvStateMachine, bool), String> {
    if data.is_empty() {
        let mut kv = KvStateMachine::new(KvConfig { max_sessions: 1024 });
        let _ = kv.apply_noop(index.0);
        return Ok((kv, false));
    }
    match KvStateMachine::restore(data) {
        Ok(kv) if kv.applied_index() == index.0 => Ok((kv, true)),
        Ok(kv) => Err(format!("snapshot at {} holds the state at {}", index.0, kv.applied_index())),
        Err(e) => Err(format!("snapshot at {} does not restore: {e:?}", index.0)),
    }
}

/// An input that waits while its node is paused.
#[derive(Debug)]
enum Held {
    Input(Input),
    Client(ClientRequest),
}

/// One simulated node.
struct SimNode {
    id: NodeId,
    config: Config,
    node: Option<Node>,
    incarnation: u32,
    kv: KvStateMachine,
    disk: Disk,
    tick_ns: u64,
    paused: bool,
    missed_ticks: u32,
    held: VecDeque<Held>,
    /// Host request id -> (client, attempt, read key).
    requests: BTreeMap<u64, (usize, u32, Option<String>)>,
    /// Reads answered `ReadReady`, waiting for the state machine to apply
    /// up to their index: (index, client, attempt, key).
    reads_waiting: Vec<(u64, usize, u32, String)>,
    next_request: u64,
    /// Index -> (term, client, attempt) of a proposal awaiting its apply.
    proposals: BTreeMap<u64, (u64, usize, u32)>,
    /// Removed from the cluster for good (its removal committed, or its
    /// disk lost): never stepped or scheduled again. Its disk stays as it
    /// was, for the durability check to count acknowledgements it sent.
    retired: bool,
    /// Whether `kv` holds the state of every entry up to its applied index.
    /// A witness applies nothing, so its state machine lags but stays a
    /// true prefix; it stops being whole when the core hands it entries
    /// after ones it skipped, or restores a witness's metadata-only
    /// snapshot. Serving a client from it then is the core's fault.
    kv_whole: bool,
    /// The configuration of the latest snapshot the node asked its host to
    /// store: the base of its log's configurations.
    base_conf: ConfState,
    /// The snapshot the core asked for with `SnapshotDataNeeded`, answered
    /// once it is durable here.
    snapshot_wanted: Option<EntryId>,
    /// The index of the latest snapshot taken or installed.
    last_snapshot: Index,
    /// Why `kv` is not whole (diagnostics).
    not_whole: Option<String>,
}

impl SimNode {
    /// The node in slot `i` (id `i + 1`): one of the cluster's first voters
    /// when `bootstrap` names them, else a node with an empty store and no
    /// configuration, waiting to be added.
    fn new(options: &WorldOptions, params: &Params, i: usize, drift_ppm: i64, bootstrap: &[NodeId]) -> SimNode {
        let id = NodeId(i as u64 + 1);
        let mut config = Config::new(id, options.seed.wrapping_mul(31).wrapping_add(i as u64));
        config.bootstrap_voters = bootstrap.to_vec();
        config.election_timeout_ticks_min = params.election_ticks.0;
        config.election_timeout_ticks_max = params.election_ticks.1;
        config.heartbeat_interval_ticks = params.heartbeat_ticks;
        config.pre_vote = params.pre_vote;
        config.check_quorum = params.check_quorum;
        config.max_inflight_msgs = params.max_inflight_msgs;
        config.max_size_per_msg = params.max_size_per_msg;
        config.snapshot_trailing_entries = params.snapshot_trailing_entries;
        config.snapshot_chunk_bytes = params.snapshot_chunk_bytes;
        config.emit_events = true;
        if options.reads == crate::params::ReadPath::Lease {
            let bound = crate::params::CONFIGURED_DRIFT_PPM;
            config.read_mode = raft_sansio::ReadMode::Lease {
                lease_ticks: raft_sansio::ReadMode::max_lease_ticks(params.election_ticks.0, bound),
                clock_drift_bound_ppm: bound,
            };
        }
        let node = Node::new(config.clone(), raft_sansio::RestoredState::default()).expect("valid config");
        let tick_ns = (params.tick_ns as i64 + params.tick_ns as i64 * drift_ppm / 1_000_000) as u64;
        SimNode {
            id,
            config,
            node: Some(node),
            incarnation: 0,
            kv: KvStateMachine::new(KvConfig { max_sessions: 1024 }),
            disk: Disk::default(),
            tick_ns,
            paused: false,
            missed_ticks: 0,
            held: VecDeque::new(),
            requests: BTreeMap::new(),
            reads_waiting: Vec::new(),
            next_request: 1,
            proposals: BTreeMap::new(),
            retired: false,
            kv_whole: true,
            base_conf: ConfState::default(),
            snapshot_wanted: None,
            last_snapshot: Index(0),
            not_whole: None,
        }
    }

    /// Whether the host hands this node client requests: a witness keeps
    /// no state machine.
    fn serves_clients(&self) -> bool {
        self.node.as_ref().is_some_and(|n| !is_witness(n.membership(), self.id))
    }
}

/// Counters reported at the end of a run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Operations that completed `ok`.
    pub ok: u64,
    /// Operations recorded `fail` (certainly not applied).
    pub fail: u64,
    /// Operations recorded `info` (outcome unknown).
    pub info: u64,
    /// Leader elections won.
    pub elections: u64,
    /// Crashes injected.
    pub crashes: u64,
    /// Partitions cut.
    pub partitions: u64,
    /// Pauses injected.
    pub pauses: u64,
    /// Persists that truncated a log.
    pub truncations: u64,
    /// Messages sent between nodes.
    pub messages_sent: u64,
    /// Messages lost (loss, partitions, crashed or paused receivers).
    pub messages_dropped: u64,
    /// Messages duplicated.
    pub messages_duplicated: u64,
    /// Events processed.
    pub events: u64,
    /// Virtual time at the end.
    pub sim_time_ns: u64,
    /// Snapshots the hosts took of their state machines.
    pub snapshots_taken: u64,
    /// Snapshots installed from a leader (`ApplySnapshot`).
    pub snapshots_installed: u64,
    /// Configuration entries committed (a joint change commits two).
    pub conf_changes: u64,
    /// Of which joint configurations.
    pub joint_confs: u64,
    /// Nodes that joined with an empty store.
    pub nodes_added: u64,
    /// Nodes retired after their removal committed.
    pub nodes_removed: u64,
    /// Disks lost (`wipe`).
    pub wipes: u64,
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Safe, linearizable and live.
    Pass,
    /// A safety check failed.
    Safety(String),
    /// The history is not linearizable.
    NotLinearizable(String),
    /// The cluster did not recover within the liveness bound.
    Liveness(String),
    /// The checker's budget ran out.
    Unknown(String),
}

impl Outcome {
    /// The process exit status for this outcome.
    pub fn exit_code(&self) -> i32 {
        match self {
            Outcome::Pass => 0,
            Outcome::Unknown(_) => 3,
            _ => 1,
        }
    }

    /// One line saying what broke (or `pass`).
    pub fn describe(&self) -> String {
        match self {
            Outcome::Pass => "pass".into(),
            Outcome::Safety(s) => format!("safety violation: {s}"),
            Outcome::NotLinearizable(s) => format!("not linearizable: {}", s.lines().next().unwrap_or_default()),
            Outcome::Liveness(s) => format!("liveness failure: {s}"),
            Outcome::Unknown(s) => format!("checker budget ran out: {s}"),
        }
    }
}

/// The result of one world.
#[derive(Clone, Debug)]
pub struct Report {
    /// The options the world ran with.
    pub options: WorldOptions,
    /// The parameters drawn from the seed.
    pub params: Params,
    /// Counters.
    pub stats: Stats,
    /// A hash of every event processed, in order.
    pub trace_hash: u64,
    /// The verdict.
    pub outcome: Outcome,
    /// The recorded history.
    pub history: Vec<HEvent>,
    /// Leader changes observed (elections won).
    pub leader_changes: u64,
}

/// A running world.
pub struct World {
    options: WorldOptions,
    params: Params,
    rng: Rng,
    now: u64,
    seq: u64,
    queue: BinaryHeap<Reverse<Scheduled>>,
    nodes: Vec<SimNode>,
    clients: Vec<Client>,
    /// Directed links that drop everything.
    cut: BTreeSet<(usize, usize)>,
    faults_active: bool,
    liveness_deadline: Option<u64>,
    checker: SafetyChecker,
    history: Vec<HEvent>,
    next_history_id: u64,
    stats: Stats,
    trace_hash: u64,
    trace: Option<Box<dyn Write>>,
    failure: Option<Outcome>,
    op_counter: u64,
    out: Vec<Output>,
    /// Membership changes in flight and planned (the control plane).
    control: reconfig::Control,
    /// Slots retired so far (`nodes.len()` minus this are routable).
    retired: usize,
}

const FNV_PRIME: u64 = 0x0100_0000_01b3;

impl World {
    /// Builds the world of `options` (parameters drawn from its seed).
    pub fn new(options: WorldOptions) -> World {
        let params = Params::draw(&options);
        let mut rng = Rng::new(options.seed);
        let n = options.nodes;
        let voters: Vec<NodeId> = (1..=n as u64).map(NodeId).collect();
        let nodes = (0..n).map(|i| SimNode::new(&options, &params, i, params.drift_ppm[i], &voters)).collect();
        let clients = (0..options.clients).map(|c| Client::new(c as u64, options.ops)).collect();
        let _ = rng.next_u64();
        World {
            checker: SafetyChecker::new(&voters),
            control: reconfig::Control::new(n),
            options,
            params,
            rng,
            now: 0,
            seq: 0,
            queue: BinaryHeap::new(),
            nodes,
            clients,
            cut: BTreeSet::new(),
            faults_active: true,
            liveness_deadline: None,
            history: Vec::new(),
            next_history_id: 0,
            stats: Stats::default(),
            trace_hash: 0xcbf2_9ce4_8422_2325,
            trace: None,
            failure: None,
            op_counter: 0,
            out: Vec::new(),
            retired: 0,
        }
    }

    /// Writes every event as a JSON line to `out` while running.
    pub fn with_trace(mut self, out: Box<dyn Write>) -> World {
        self.trace = Some(out);
        self
    }

    /// The parameters drawn from the seed.
    pub fn params(&self) -> &Params {
        &self.params
    }

    fn schedule(&mut self, at: u64, event: Ev) {
        self.seq += 1;
        self.queue.push(Reverse(Scheduled { time: at, seq: self.seq, event }));
    }

    fn hash(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.trace_hash ^= u64::from(*b);
            self.trace_hash = self.trace_hash.wrapping_mul(FNV_PRIME);
        }
    }

    fn hash_u64(&mut self, v: u64) {
        self.hash(&v.to_le_bytes());
    }

    fn exp(&mut self, mean: u64) -> u64 {
        // An integer approximation of an exponential: uniform in [0, 2 mean).
        self.rng.below(2 * mean.max(1))
    }

    /// Runs the world to its end and checks the history.
    pub fn run(mut self) -> Report {
        for i in 0..self.nodes.len() {
            let first = self.params.clock_offset_ns[i];
            self.schedule(first, Ev::Tick(i));
        }
        for c in 0..self.clients.len() {
            let at = self.rng.below(10 * MS);
            self.schedule(at, Ev::ClientWake(c));
        }
        if let Some(script) = self.options.script.clone() {
            for (ms, action) in script {
                self.schedule(u64::from(ms) * MS, Ev::Scripted(action));
            }
        } else {
            if self.params.crash_every_ns > 0 {
                let at = self.exp(self.params.crash_every_ns);
                self.schedule(at, Ev::Crash);
            }
            if self.params.partition_every_ns > 0 {
                let at = self.exp(self.params.partition_every_ns);
                self.schedule(at, Ev::PartitionStart);
            }
            if self.params.pause_every_ns > 0 {
                let at = self.exp(self.params.pause_every_ns);
                self.schedule(at, Ev::PauseStart);
            }
            if self.params.wipe_every_ns > 0 {
                let at = self.exp(self.params.wipe_every_ns);
                self.schedule(at, Ev::Wipe);
            }
        }
        if self.params.transfer_every_ns > 0 {
            let at = self.exp(self.params.transfer_every_ns);
            self.schedule(at, Ev::Transfer);
        }
        if self.params.membership_every_ns > 0 {
            let at = self.exp(self.params.membership_every_ns);
            self.schedule(at, Ev::Membership);
        }
        if self.params.membership_every_ns > 0 || self.params.wipe_every_ns > 0 {
            self.schedule(reconfig::CONTROL_PERIOD_NS, Ev::Control);
        }
        let phase = self.params.fault_phase_ns;
        self.schedule(phase, Ev::EndFaultPhase);

        while let Some(Reverse(s)) = self.queue.pop() {
            self.now = s.time;
            self.stats.events += 1;
            self.hash_u64(s.time);
            self.hash(s.event.name().as_bytes());
            if let Some(trace) = self.trace.as_mut() {
                let line =
                    serde_json::json!({"t": s.time, "event": s.event.name(), "detail": format!("{:?}", s.event)});
                let _ = writeln!(trace, "{line}");
            }
            self.handle(s.event);
            if self.failure.is_some() {
                break;
            }
            if let Some(deadline) = self.liveness_deadline {
                if self.clients.iter().all(|c| c.liveness_done_at.is_some()) {
                    break;
                }
                if self.now > deadline {
                    let stuck: Vec<u64> =
                        self.clients.iter().filter(|c| c.liveness_done_at.is_none()).map(|c| c.id).collect();
                    let leader = self.current_leader().map(|l| l.0);
                    if let Some(trace) = self.trace.as_mut() {
                        for n in &self.nodes {
                            let state = n.node.as_ref().map(|x| {
                                format!(
                                    "{:?} term={} commit={} applied={} last={} first={} leader={:?} conf={:?}",
                                    x.role(),
                                    x.term().0,
                                    x.commit_index().0,
                                    x.applied_index().0,
                                    x.last_index().0,
                                    x.first_index().0,
                                    x.leader(),
                                    x.membership()
                                )
                            });
                            let progress = n.node.as_ref().filter(|x| x.role() == Role::Leader).map(|x| {
                                x.peers().map(|(id, p)| format!("{}: {p:?}", id.0)).collect::<Vec<_>>().join("; ")
                            });
                            let line = serde_json::json!({"node": n.id.0, "retired": n.retired, "paused": n.paused,
                                "kv_whole": n.kv_whole, "kv_applied": n.kv.applied_index(), "state": state,
                                "progress": progress});
                            let _ = writeln!(trace, "{line}");
                        }
                    }
                    self.failure = Some(Outcome::Liveness(format!(
                        "no progress within {} ms after the faults healed (leader: {:?}, clients still waiting: {:?})",
                        (deadline - self.heal_time()) / MS,
                        leader,
                        stuck
                    )));
                    break;
                }
            }
        }
        self.finish()
    }

    fn heal_time(&self) -> u64 {
        self.liveness_deadline.map_or(0, |d| d - self.liveness_bound())
    }

    /// The liveness bound: 20 maximum election timeouts plus 10 maximum
    /// one-way latencies, plus the longest client attempt timeout (a client
    /// may have just sent an attempt that the faults swallowed, and retries
    /// only when it times out) and two base timeouts for the operation
    /// itself.
    pub fn liveness_bound(&self) -> u64 {
        // Nodes that joined later drew their own clock drift.
        let slowest_tick = self.nodes.iter().map(|n| n.tick_ns).max().unwrap_or(0);
        let election =
            self.params.max_election_timeout_ns().max(u64::from(self.params.election_ticks.1) * slowest_tick);
        20 * election
            + 10 * self.params.max_latency_ns()
            + (self.params.client_timeout_ns << 4)
            + 2 * self.params.client_timeout_ns
    }

    fn current_leader(&self) -> Option<NodeId> {
        self.nodes
            .iter()
            .filter_map(|n| n.node.as_ref())
            .filter(|n| n.role() == Role::Leader)
            .max_by_key(|n| n.term())
            .map(|n| n.id())
    }

    fn finish(mut self) -> Report {
        self.stats.sim_time_ns = self.now;
        self.stats.elections = self.checker.elections;
        self.stats.truncations = self.nodes.iter().map(|n| n.disk.truncations).sum();
        // Operations still outstanding are `info` (an invoke without a
        // completion counts as info too; record it explicitly).
        for c in 0..self.clients.len() {
            if let ClientState::Running(r) = &self.clients[c].state {
                let id = r.history_id;
                self.record_completion(c, id, EventKind::Info, None, Some("run ended"));
            }
        }
        let outcome = match self.failure.take() {
            Some(f) => f,
            None => match History::from_events(self.history.clone()) {
                Err(e) => Outcome::Safety(format!("the simulator recorded an invalid history: {e}")),
                Ok(history) => match raft_check::check(&history, raft_check::Budget::steps(self.options.check_steps)) {
                    raft_check::Verdict::Linearizable => Outcome::Pass,
                    raft_check::Verdict::NotLinearizable(c) => Outcome::NotLinearizable(c.to_string()),
                    raft_check::Verdict::Unknown { keys_unfinished } => {
                        Outcome::Unknown(format!("keys unfinished: {keys_unfinished:?}"))
                    }
                },
            },
        };
        Report {
            leader_changes: self.stats.elections,
            options: self.options,
            params: self.params,
            stats: self.stats,
            trace_hash: self.trace_hash,
            outcome,
            history: self.history,
        }
    }

    fn handle(&mut self, event: Ev) {
        match event {
            Ev::Tick(i) => {
                if self.nodes[i].retired {
                    return;
                }
                let next = self.now + self.nodes[i].tick_ns;
                self.schedule(next, Ev::Tick(i));
                if self.nodes[i].node.is_none() {
                    return;
                }
                if self.nodes[i].paused {
                    self.nodes[i].missed_ticks += 1;
                    return;
                }
                self.step(i, Input::Tick);
                self.maybe_take_snapshot(i);
            }
            Ev::Deliver(m) => {
                let to = m.to.0 as usize - 1;
                let from = m.from.0 as usize - 1;
                self.hash_u64(m.from.0 << 32 | m.to.0);
                self.hash_u64(m.term.0);
                self.hash(m.body.name().as_bytes());
                if to >= self.nodes.len() || self.cut.contains(&(from, to)) || self.nodes[to].node.is_none() {
                    self.stats.messages_dropped += 1;
                    return;
                }
                if self.nodes[to].paused {
                    self.nodes[to].held.push_back(Held::Input(Input::Receive(m)));
                    return;
                }
                self.step(to, Input::Receive(m));
            }
            Ev::DiskDone { node, incarnation, seq } => {
                let n = &mut self.nodes[node];
                if n.incarnation != incarnation || n.node.is_none() {
                    return;
                }
                match n.disk.complete(seq) {
                    Ok(true) => {}
                    Ok(false) => return,
                    Err(e) => {
                        self.failure = Some(Outcome::Safety(format!("node {}: disk write: {e}", node + 1)));
                        return;
                    }
                }
                if n.paused {
                    n.held.push_back(Held::Input(Input::Persisted { up_to_seq: seq }));
                    return;
                }
                self.hash_u64(seq);
                self.step(node, Input::Persisted { up_to_seq: seq });
                self.answer_snapshot_request(node);
            }
            Ev::ClientArrive { node, request } => {
                self.hash_u64(request.client as u64);
                if self.nodes[node].node.is_none() {
                    return;
                }
                if self.nodes[node].paused {
                    self.nodes[node].held.push_back(Held::Client(request));
                    return;
                }
                self.node_client_request(node, request);
            }
            Ev::ClientReply { client, reply } => self.client_reply(client, reply),
            Ev::ClientWake(c) => self.client_wake(c),
            Ev::ClientTimeout { client, attempt } => self.client_timeout(client, attempt),
            Ev::Crash => self.nemesis_crash(),
            Ev::Restart(i) => self.restart(i),
            Ev::PartitionStart => self.nemesis_partition(),
            Ev::PartitionEnd => {
                self.cut.clear();
                if self.faults_active && self.params.partition_every_ns > 0 {
                    let at = self.now + self.exp(self.params.partition_every_ns);
                    self.schedule(at, Ev::PartitionStart);
                }
            }
            Ev::PauseStart => self.nemesis_pause(),
            Ev::PauseEnd(i) => self.resume(i),
            Ev::Scripted(action) => self.scripted(action),
            Ev::Transfer => self.nemesis_transfer(),
            Ev::Control => self.control_round(),
            Ev::Membership => self.nemesis_membership(),
            Ev::Wipe => self.nemesis_wipe(),
            Ev::EndFaultPhase => self.end_fault_phase(),
        }
    }

    // ---- nodes ----

    fn step(&mut self, i: usize, input: Input) {
        let mut out = core::mem::take(&mut self.out);
        out.clear();
        let Some(node) = self.nodes[i].node.as_mut() else { return };
        node.step_into(input, &mut out);
        // The base of the node's log as of this step, for the check that its
        // configuration is the one its log says.
        for o in &out {
            if let Output::Persist(p) = o {
                if let Some(meta) = &p.snapshot {
                    self.nodes[i].base_conf = meta.conf_state.clone();
                }
            }
        }
        let result = {
            let disks: Vec<(NodeId, &Disk)> = self.nodes.iter().map(|n| (n.id, &n.disk)).collect();
            let sim = &self.nodes[i];
            let node = sim.node.as_ref().expect("stepped");
            self.checker.after_step(node, &disks, &sim.base_conf)
        };
        if let Err(Violation(v)) = result {
            self.failure = Some(Outcome::Safety(v));
            self.out = out;
            return;
        }
        for o in out.drain(..) {
            self.handle_output(i, o);
            if self.failure.is_some() {
                break;
            }
        }
        self.out = out;
        if !self.checker.new_confs.is_empty() {
            self.on_configurations_committed();
        }
        if self.nodes[i].snapshot_wanted.is_some() && self.failure.is_none() {
            self.answer_snapshot_request(i);
        }
    }

    fn handle_output(&mut self, i: usize, output: Output) {
        match output {
            Output::Persist(p) => {
                let (write, fsync) = (self.params.write_ns, self.params.fsync_ns);
                let w = self.rng.range(write.0, write.1);
                let f = self.rng.range(fsync.0, fsync.1);
                let seq = p.seq;
                let done = self.nodes[i].disk.submit(self.now, p, w, f);
                let incarnation = self.nodes[i].incarnation;
                self.schedule(done, Ev::DiskDone { node: i, incarnation, seq });
            }
            Output::Send { message, .. } => self.send(message),
            Output::Apply { entries } => {
                let id = self.nodes[i].id;
                if let Err(Violation(v)) = self.checker.on_apply(id, &entries) {
                    self.failure = Some(Outcome::Safety(v));
                    return;
                }
                let expected = self.nodes[i].kv.applied_index() + 1;
                if let Some(first) = entries.first().filter(|e| e.index.0 > expected) {
                    // Entries were skipped (this node was a witness): the
                    // state machine misses them.
                    let sim = &mut self.nodes[i];
                    sim.kv_whole = false;
                    let conf = sim.node.as_ref().map(|n| format!("{:?}", n.membership())).unwrap_or_default();
                    sim.not_whole.get_or_insert(format!(
                        "at {} ms the core handed it entries from {} on, but never {}..{} (configuration then: {conf})",
                        self.now / MS,
                        first.index.0,
                        expected,
                        first.index.0 - 1
                    ));
                }
                for e in entries.iter() {
                    let outcome = match e.kind {
                        EntryKind::Normal if e.payload_elided => {
                            // A witness's copy: only a witness may be handed
                            // one, and its state machine is no longer whole.
                            let sim = &mut self.nodes[i];
                            if sim.node.as_ref().is_some_and(|n| !is_witness(n.membership(), id)) {
                                self.failure = Some(Outcome::Safety(format!(
                                    "node {} is a data member but was handed entry {} without its payload",
                                    id.0, e.index.0
                                )));
                                return;
                            }
                            let _ = sim.kv.apply_noop(e.index.0);
                            sim.kv_whole = false;
                            None
                        }
                        EntryKind::Normal => Some(self.nodes[i].kv.apply(e.index.0, &e.payload)),
                        _ => {
                            let _ = self.nodes[i].kv.apply_noop(e.index.0);
                            None
                        }
                    };
                    if let Some((term, client, attempt)) = self.nodes[i].proposals.remove(&e.index.0) {
                        if outcome.is_some() && term == e.term.0 && !self.nodes[i].kv_whole {
                            self.failure = Some(Outcome::Safety(self.not_whole(i, "applied a proposal it accepted")));
                            return;
                        }
                        let reply = match outcome {
                            Some(outcome) if term == e.term.0 => Some(ClientReply::Outcome { attempt, outcome }),
                            // Applied, but its outcome is unknown here: let
                            // the client time out.
                            None if term == e.term.0 && e.payload_elided => None,
                            _ => Some(ClientReply::NotApplied { attempt }),
                        };
                        if let Some(reply) = reply {
                            self.reply(client, reply);
                        }
                    }
                }
                self.serve_waiting_reads(i);
                if let Some(last) = entries.last() {
                    let index = last.index;
                    let node = self.nodes[i].node.as_mut().expect("applying");
                    let _ = node.step(Input::Applied { index });
                }
            }
            Output::ApplySnapshot { meta } => self.apply_snapshot(i, &meta),
            Output::SnapshotDataNeeded { last } => self.nodes[i].snapshot_wanted = Some(last),
            Output::ReadReady { id, index } => {
                if let Some((client, attempt, Some(key))) = self.nodes[i].requests.remove(&id.0) {
                    self.nodes[i].reads_waiting.push((index.0, client, attempt, key));
                    self.serve_waiting_reads(i);
                }
            }
            Output::Proposed { id, index, term } => {
                if let Some((client, attempt, _)) = self.nodes[i].requests.remove(&id.0) {
                    if let Some((_, old_client, old_attempt)) =
                        self.nodes[i].proposals.insert(index.0, (term.0, client, attempt))
                    {
                        // An older proposal at the same index was replaced:
                        // its entry was truncated.
                        self.reply(old_client, ClientReply::NotApplied { attempt: old_attempt });
                    }
                }
            }
            Output::Rejected { id, reason } => {
                if let Some(trace) = self.trace.as_mut().filter(|_| id.0 >> 63 == 1) {
                    let line =
                        serde_json::json!({"t": self.now, "node": i + 1, "nemesis-rejected": format!("{reason:?}")});
                    let _ = writeln!(trace, "{line}");
                }
                if let Some((client, attempt, _)) = self.nodes[i].requests.remove(&id.0) {
                    let reply = match reason {
                        RejectReason::NotLeader { leader_hint } => {
                            ClientReply::NotLeader { attempt, hint: leader_hint }
                        }
                        // Refused before it ran (overload, a transfer, a
                        // read timed out): certainly not applied.
                        _ => ClientReply::NotApplied { attempt },
                    };
                    self.reply(client, reply);
                }
            }
            Output::Event(e) => {
                if let Some(trace) = self.trace.as_mut() {
                    let line = serde_json::json!({"t": self.now, "node": i + 1, "core": format!("{e:?}")});
                    let _ = writeln!(trace, "{line}");
                }
                if let Event::BecameLeader { term } = e {
                    self.hash_u64(term.0);
                }
            }
            _ => {}
        }
    }

    fn send(&mut self, message: Message) {
        self.stats.messages_sent += 1;
        let from = message.from.0 as usize - 1;
        let to = message.to.0 as usize - 1;
        let (loss, dup) =
            if self.faults_active { (self.params.loss_per_mille, self.params.dup_per_mille) } else { (0, 0) };
        if self.cut.contains(&(from, to)) || self.rng.chance(loss, 1000) {
            self.stats.messages_dropped += 1;
            return;
        }
        let copies = if self.rng.chance(dup, 1000) {
            self.stats.messages_duplicated += 1;
            2
        } else {
            1
        };
        for _ in 0..copies {
            let latency = self.latency();
            self.schedule(self.now + latency, Ev::Deliver(message.clone()));
        }
    }

    fn latency(&mut self) -> u64 {
        let (lo, hi) = self.params.latency_ns;
        let base = self.rng.range(lo, hi);
        let jitter = if self.faults_active && self.params.jitter_ns > 0 && self.rng.chance(1, 4) {
            self.rng.below(self.params.jitter_ns)
        } else {
            0
        };
        base + jitter
    }

    /// What the core did wrong on node `i`, whose state machine is not
    /// whole.
    fn not_whole(&self, i: usize, what: &str) -> String {
        let sim = &self.nodes[i];
        let node = sim.node.as_ref().expect("stepped");
        format!(
            "node {} {what} ({:?} of term {}, configuration {:?}), but its host's state machine is not whole: {}",
            sim.id.0,
            node.role(),
            node.term().0,
            node.membership(),
            sim.not_whole.as_deref().unwrap_or("?")
        )
    }

    fn node_client_request(&mut self, i: usize, request: ClientRequest) {
        if !self.nodes[i].serves_clients() {
            // A witness serves no client: it points at the leader, as a
            // frontend would.
            let sim = &self.nodes[i];
            let hint = sim.node.as_ref().and_then(Node::leader).filter(|&l| l != sim.id);
            self.reply(request.client, ClientReply::NotLeader { attempt: request.attempt, hint });
            return;
        }
        let n = &mut self.nodes[i];
        let rid = n.next_request;
        n.next_request += 1;
        match request.read {
            Some(key) => {
                n.requests.insert(rid, (request.client, request.attempt, Some(key)));
                self.step(i, Input::Read { id: RequestId(rid), wait: true });
            }
            None => {
                n.requests.insert(rid, (request.client, request.attempt, None));
                self.step(i, Input::Propose { id: RequestId(rid), command: request.command });
            }
        }
    }

    /// Answers reads whose index the state machine has applied: the host
    /// serves a read once it has applied up to its read index.
    fn serve_waiting_reads(&mut self, i: usize) {
        let applied = self.nodes[i].kv.applied_index();
        if self.nodes[i].reads_waiting.iter().all(|r| r.0 > applied) {
            return;
        }
        let waiting = core::mem::take(&mut self.nodes[i].reads_waiting);
        for (index, client, attempt, key) in waiting {
            if index <= applied {
                if !self.nodes[i].serves_clients() {
                    // It became a witness since the read came in: its state
                    // machine is not consulted.
                    self.reply(client, ClientReply::NotApplied { attempt });
                    continue;
                }
                if !self.nodes[i].kv_whole {
                    self.failure = Some(Outcome::Safety(self.not_whole(i, &format!("answered a read at {index}"))));
                    return;
                }
                let value = self.nodes[i].kv.read(&key);
                self.reply(client, ClientReply::ReadValue { attempt, value });
            } else {
                self.nodes[i].reads_waiting.push((index, client, attempt, key));
            }
        }
    }

    fn nemesis_transfer(&mut self) {
        if !self.faults_active {
            return;
        }
        if let Some(leader) = self.current_leader() {
            let to = NodeId(1 + self.any_node() as u64);
            let i = leader.0 as usize - 1;
            if to != leader && !self.nodes[i].paused {
                // Ids with the top bit set are the nemesis's own.
                let rid = RequestId(1 << 63 | self.seq);
                self.step(i, Input::TransferLeadership { id: rid, to });
            }
        }
        let at = self.now + self.exp(self.params.transfer_every_ns);
        self.schedule(at, Ev::Transfer);
    }

    fn reply(&mut self, client: usize, reply: ClientReply) {
        let latency = self.latency();
        self.schedule(self.now + latency, Ev::ClientReply { client, reply });
    }

    /// Stops node `i` where it stands: what it had in flight is lost.
    fn halt(&mut self, i: usize) {
        let n = &mut self.nodes[i];
        n.node = None;
        n.incarnation += 1;
        n.paused = false;
        n.missed_ticks = 0;
        n.held.clear();
        n.requests.clear();
        n.reads_waiting.clear();
        n.proposals.clear();
        n.snapshot_wanted = None;
        self.checker.on_crash(n.id);
    }

    fn crash(&mut self, i: usize) {
        if self.nodes[i].node.is_none() {
            return;
        }
        self.halt(i);
        if let Err(e) = self.nodes[i].disk.crash(&mut self.rng) {
            self.failure = Some(Outcome::Safety(format!("node {}: disk write at crash: {e}", i + 1)));
        }
        self.stats.crashes += 1;
    }

    /// Takes node `i` out of the world for good (its removal committed, or
    /// its disk is lost). Its disk stays as it was.
    fn retire(&mut self, i: usize) {
        if self.nodes[i].retired {
            return;
        }
        self.halt(i);
        self.nodes[i].disk.freeze();
        self.nodes[i].retired = true;
        self.retired += 1;
    }

    fn restart(&mut self, i: usize) {
        let n = &mut self.nodes[i];
        if n.node.is_some() || n.retired {
            return;
        }
        // The host restores its state machine from its snapshot, then hands
        // the node the snapshot's metadata and the log after it.
        let stored = &n.disk.synced;
        let (kv, kv_whole) = match &stored.snapshot {
            Some(meta) if meta.last.index > Index(0) => match restore_kv(meta.last.index, &stored.snapshot_data) {
                Ok(restored) => restored,
                Err(e) => {
                    self.failure = Some(Outcome::Safety(format!("node {} cannot restart from its disk: {e}", i + 1)));
                    return;
                }
            },
            _ => (KvStateMachine::new(KvConfig { max_sessions: 1024 }), true),
        };
        n.base_conf = stored.snapshot.as_ref().map(|m| m.conf_state.clone()).unwrap_or_default();
        n.last_snapshot = stored.snapshot.as_ref().map_or(Index(0), |m| m.last.index);
        let state = stored.restored();
        match Node::new(n.config.clone(), state) {
            Ok(node) => {
                n.node = Some(node);
                n.kv = kv;
                n.kv_whole = kv_whole;
                n.not_whole = (!kv_whole).then(|| "restarted from a metadata-only snapshot".to_string());
            }
            Err(e) => {
                self.failure = Some(Outcome::Safety(format!("node {} cannot restart from its disk: {e}", i + 1)));
            }
        }
    }

    fn resume(&mut self, i: usize) {
        if !self.nodes[i].paused {
            return;
        }
        self.nodes[i].paused = false;
        // Missed ticks first, then what arrived meanwhile, in order.
        let missed = core::mem::take(&mut self.nodes[i].missed_ticks);
        for _ in 0..missed {
            self.step(i, Input::Tick);
        }
        while let Some(h) = self.nodes[i].held.pop_front() {
            if self.nodes[i].node.is_none() || self.nodes[i].paused {
                break;
            }
            match h {
                Held::Input(Input::Persisted { up_to_seq }) => {
                    self.step(i, Input::Persisted { up_to_seq });
                    self.answer_snapshot_request(i);
                }
                Held::Input(input) => self.step(i, input),
                Held::Client(r) => self.node_client_request(i, r),
            }
        }
    }

    // ---- snapshots ----

    /// The host snapshots its state machine every
    /// `Params::snapshot_every_entries` applied entries (the `compaction`
    /// nemesis): it writes the snapshot first, then reports it.
    fn maybe_take_snapshot(&mut self, i: usize) {
        let every = self.params.snapshot_every_entries;
        if every == 0 || self.failure.is_some() {
            return;
        }
        let sim = &self.nodes[i];
        let Some(node) = sim.node.as_ref() else { return };
        let index = node.applied_index();
        if index.0 < sim.last_snapshot.0 + every {
            return;
        }
        let data = if sim.kv_whole && sim.kv.applied_index() == index.0 {
            sim.kv.snapshot()
        } else if is_witness(node.membership(), sim.id) {
            // A witness keeps no state machine: its snapshot is metadata.
            Bytes::new()
        } else {
            return;
        };
        if !data.is_empty() {
            if let Err(Violation(v)) = self.checker.on_snapshot(sim.id, index, &data) {
                self.failure = Some(Outcome::Safety(v));
                return;
            }
        }
        self.nodes[i].disk.take_snapshot(index, data.clone());
        self.nodes[i].last_snapshot = index;
        self.stats.snapshots_taken += 1;
        self.step(i, Input::SnapshotTaken { index, data });
    }

    /// `ApplySnapshot`: the state machine becomes the stored snapshot.
    fn apply_snapshot(&mut self, i: usize, meta: &raft_sansio::SnapshotMeta) {
        let sim = &mut self.nodes[i];
        let id = sim.id;
        let index = meta.last.index;
        let stored = &sim.disk.synced;
        if stored.snapshot.as_ref().map(|s| s.last) != Some(meta.last) {
            self.failure = Some(Outcome::Safety(format!(
                "node {} was told to apply snapshot {:?}, but its disk holds {:?}",
                id.0,
                meta.last,
                stored.snapshot.as_ref().map(|s| s.last)
            )));
            return;
        }
        if sim.kv_whole && sim.kv.applied_index() >= index.0 {
            self.failure = Some(Outcome::Safety(format!(
                "node {} was told to apply snapshot {:?} behind its state machine (applied {})",
                id.0,
                meta.last,
                sim.kv.applied_index()
            )));
            return;
        }
        let data = stored.snapshot_data.clone();
        match restore_kv(index, &data) {
            Ok((kv, valid)) => {
                sim.kv = kv;
                sim.kv_whole = valid;
                sim.not_whole = (!valid).then(|| {
                    format!(
                        "at {} ms it installed a metadata-only snapshot at {} whose configuration is {:?}",
                        self.now / MS,
                        index.0,
                        meta.conf_state
                    )
                });
            }
            Err(e) => {
                self.failure = Some(Outcome::Safety(format!("node {}: {e}", id.0)));
                return;
            }
        }
        sim.last_snapshot = index;
        // Proposals at or below the snapshot: their fate is inside it, not
        // known here; their clients time out.
        sim.proposals = sim.proposals.split_off(&(index.0 + 1));
        self.stats.snapshots_installed += 1;
        if !data.is_empty() {
            if let Err(Violation(v)) = self.checker.on_snapshot(id, index, &data) {
                self.failure = Some(Outcome::Safety(v));
                return;
            }
        }
        self.serve_waiting_reads(i);
    }

    /// Answers `SnapshotDataNeeded` once the snapshot asked for is durable
    /// here (the host serves snapshots from its disk).
    fn answer_snapshot_request(&mut self, i: usize) {
        let sim = &mut self.nodes[i];
        let Some(last) = sim.snapshot_wanted else { return };
        if sim.node.is_none() || sim.paused {
            return;
        }
        let Some(data) = sim.disk.snapshot_data(last) else { return };
        sim.snapshot_wanted = None;
        self.step(i, Input::SnapshotData { last, data });
    }

    // ---- nemesis ----

    fn live_nodes(&self) -> Vec<usize> {
        (0..self.nodes.len()).filter(|&i| self.nodes[i].node.is_some()).collect()
    }

    fn pick_node(&mut self) -> usize {
        // Half of the time the current leader: leader changes are where the
        // interesting bugs are.
        if self.rng.chance(1, 2) {
            if let Some(l) = self.current_leader() {
                return l.0 as usize - 1;
            }
        }
        self.any_node()
    }

    fn nemesis_crash(&mut self) {
        if !self.faults_active {
            return;
        }
        let n = self.nodes.len() - self.retired;
        let down = n - self.live_nodes().len();
        if down < (n - 1) / 2 {
            let victim = self.pick_node();
            if self.nodes[victim].node.is_some() {
                self.crash(victim);
                let (lo, hi) = self.params.downtime_ns;
                let at = self.now + self.rng.range(lo, hi);
                self.schedule(at, Ev::Restart(victim));
            }
        }
        let at = self.now + self.exp(self.params.crash_every_ns);
        self.schedule(at, Ev::Crash);
    }

    fn nemesis_partition(&mut self) {
        if !self.faults_active {
            return;
        }
        self.cut.clear();
        let mut order = self.active_nodes();
        let active = order.clone();
        let n = order.len();
        for i in (1..n).rev() {
            let j = self.rng.below(i as u64 + 1) as usize;
            order.swap(i, j);
        }
        match self.rng.below(4) {
            0 => {
                // Isolate one node (the leader half of the time).
                let x = self.pick_node();
                for &y in &active {
                    if y != x {
                        self.cut.insert((x, y));
                        self.cut.insert((y, x));
                    }
                }
            }
            1 => {
                // Majority / minority.
                let minority: BTreeSet<usize> = order.iter().take((n - 1) / 2).copied().collect();
                for &a in &active {
                    for &b in &active {
                        if minority.contains(&a) != minority.contains(&b) {
                            self.cut.insert((a, b));
                        }
                    }
                }
            }
            2 => {
                // Bridge: two halves that share one node.
                let bridge = order[0];
                let half: BTreeSet<usize> = order[1..].iter().take((n - 1) / 2).copied().collect();
                for &a in &active {
                    for &b in &active {
                        if a != bridge && b != bridge && half.contains(&a) != half.contains(&b) {
                            self.cut.insert((a, b));
                        }
                    }
                }
            }
            _ => {
                // One-way: a node can send but not receive (or the reverse).
                let x = self.pick_node();
                let inbound = self.rng.chance(1, 2);
                for &y in &active {
                    if y != x {
                        self.cut.insert(if inbound { (y, x) } else { (x, y) });
                    }
                }
            }
        }
        self.stats.partitions += 1;
        let (lo, hi) = self.params.partition_ns;
        let at = self.now + self.rng.range(lo, hi);
        self.schedule(at, Ev::PartitionEnd);
    }

    fn nemesis_pause(&mut self) {
        if !self.faults_active {
            return;
        }
        let victim = self.pick_node();
        if self.nodes[victim].node.is_some() && !self.nodes[victim].paused {
            self.nodes[victim].paused = true;
            self.stats.pauses += 1;
            let (lo, hi) = self.params.pause_ns;
            let at = self.now + self.rng.range(lo, hi);
            self.schedule(at, Ev::PauseEnd(victim));
        }
        let at = self.now + self.exp(self.params.pause_every_ns);
        self.schedule(at, Ev::PauseStart);
    }

    fn scripted(&mut self, action: crate::params::FaultAction) {
        use crate::params::FaultAction as A;
        if !self.faults_active {
            return;
        }
        let n = self.nodes.len();
        let pick = |x: u8| usize::from(x) % n;
        match action {
            A::Crash(x) => {
                let down = n - self.live_nodes().len();
                if down < (n - 1) / 2 {
                    self.crash(pick(x));
                }
            }
            A::Restart(x) => self.restart(pick(x)),
            A::Isolate(x) => {
                let x = pick(x);
                for y in 0..n {
                    if y != x {
                        self.cut.insert((x, y));
                        self.cut.insert((y, x));
                    }
                }
                self.stats.partitions += 1;
            }
            A::Split(k) => {
                let minority: BTreeSet<usize> = (0..(n - 1) / 2).map(|i| (usize::from(k) + i) % n).collect();
                for a in 0..n {
                    for b in 0..n {
                        if minority.contains(&a) != minority.contains(&b) {
                            self.cut.insert((a, b));
                        }
                    }
                }
                self.stats.partitions += 1;
            }
            A::OneWay(x, inbound) => {
                let x = pick(x);
                for y in 0..n {
                    if y != x {
                        self.cut.insert(if inbound { (y, x) } else { (x, y) });
                    }
                }
                self.stats.partitions += 1;
            }
            A::Pause(x, ms) => {
                let x = pick(x);
                if self.nodes[x].node.is_some() && !self.nodes[x].paused {
                    self.nodes[x].paused = true;
                    self.stats.pauses += 1;
                    self.schedule(self.now + u64::from(ms) * MS, Ev::PauseEnd(x));
                }
            }
            A::Heal => self.cut.clear(),
        }
    }

    fn end_fault_phase(&mut self) {
        if !self.faults_active {
            return;
        }
        self.faults_active = false;
        self.cut.clear();
        for i in 0..self.nodes.len() {
            if self.nodes[i].retired {
                continue;
            }
            if self.nodes[i].node.is_none() {
                self.restart(i);
            }
            self.resume(i);
        }
        self.liveness_deadline = Some(self.now + self.liveness_bound());
        for c in 0..self.clients.len() {
            self.clients[c].liveness_pending = true;
            if matches!(self.clients[c].state, ClientState::Idle | ClientState::Done) {
                self.clients[c].state = ClientState::Idle;
                self.schedule(self.now, Ev::ClientWake(c));
            }
        }
    }

    // ---- clients ----

    fn target_node(&mut self, c: usize) -> usize {
        match self.clients[c].leader_hint {
            Some(l) if self.nodes.get(l.0 as usize - 1).is_some_and(|n| !n.retired) => l.0 as usize - 1,
            _ => self.any_node(),
        }
    }

    /// A random node that is still part of the cluster (clients route
    /// around removed ones, as a service's frontend would).
    fn any_node(&mut self) -> usize {
        if self.retired == 0 {
            return self.rng.below(self.nodes.len() as u64) as usize;
        }
        let active = self.active_nodes();
        active[self.rng.below(active.len() as u64) as usize]
    }

    /// The slots of nodes that are still part of the cluster (up or down).
    fn active_nodes(&self) -> Vec<usize> {
        (0..self.nodes.len()).filter(|&i| !self.nodes[i].retired).collect()
    }

    /// The timeout of the client's next attempt: the base timeout, doubled
    /// with every attempt already made (capped at 16 times), so that an
    /// impatient client still completes when operations are slow.
    fn attempt_timeout(&self, c: usize) -> u64 {
        let made = match &self.clients[c].state {
            ClientState::Running(r) => r.attempts.saturating_sub(1),
            _ => 0,
        };
        self.params.client_timeout_ns << made.min(4)
    }

    fn current_read_key(&self, c: usize) -> Option<String> {
        match &self.clients[c].state {
            ClientState::Running(r) => r.read_key.clone(),
            _ => None,
        }
    }

    fn send_request(&mut self, c: usize, attempt: u32, command: Bytes) {
        let read = self.current_read_key(c);
        let node = if read.is_some() && self.rng.chance(1, 2) {
            // Reads go to any node, followers included, half of the time.
            self.any_node()
        } else {
            self.target_node(c)
        };
        let latency = self.latency();
        self.schedule(
            self.now + latency,
            Ev::ClientArrive { node, request: ClientRequest { client: c, attempt, command, read } },
        );
        let timeout = self.attempt_timeout(c);
        self.schedule(self.now + timeout, Ev::ClientTimeout { client: c, attempt });
    }

    fn client_wake(&mut self, c: usize) {
        if !matches!(self.clients[c].state, ClientState::Idle) {
            return;
        }
        if self.clients[c].session.is_none() {
            let attempt = self.clients[c].new_attempt_id();
            self.clients[c].state = ClientState::Registering { attempt };
            let command = Command::RegisterClient.encode();
            self.send_request(c, attempt, command);
            return;
        }
        let liveness = self.clients[c].liveness_pending;
        if !liveness && (self.clients[c].ops_left == 0 || !self.faults_active) {
            self.clients[c].state = ClientState::Done;
            if self.faults_active
                && self.options.script.is_none()
                && self.clients.iter().all(|c| matches!(c.state, ClientState::Done))
            {
                self.schedule(self.now, Ev::EndFaultPhase);
            }
            return;
        }
        if liveness && self.clients[c].liveness_done_at.is_some() {
            self.clients[c].state = ClientState::Done;
            return;
        }
        self.op_counter += 1;
        let counter = self.op_counter;
        let op = if liveness {
            Op::Get { key: crate::client::INT_KEYS[0].to_string() }
        } else {
            self.clients[c].ops_left -= 1;
            let mut rng = core::mem::replace(&mut self.rng, Rng::new(0));
            let op = self.clients[c].draw_op(&mut rng, counter, self.params.hot_keys);
            self.rng = rng;
            op
        };
        let history_id = self.next_history_id;
        self.next_history_id += 1;
        let (key, request) = request_of(&op);
        let invoke = request.invoke_event(history_id, c as u64, key).with_time(self.now);
        self.history.push(invoke);
        let read_path = self.options.reads != crate::params::ReadPath::Log;
        let command = self.clients[c].start(op, history_id, read_path);
        self.next_attempt(c, command);
    }

    fn next_attempt(&mut self, c: usize, command: Bytes) {
        let id = self.clients[c].new_attempt_id();
        let ClientState::Running(r) = &mut self.clients[c].state else { return };
        r.attempts += 1;
        r.current_attempt = id;
        self.send_request(c, id, command);
    }

    fn client_reply(&mut self, c: usize, reply: ClientReply) {
        match self.clients[c].state.clone() {
            ClientState::Registering { attempt } => match reply {
                ClientReply::Outcome { attempt: a, outcome: ApplyOutcome::Registered { session } } if a == attempt => {
                    self.clients[c].session = Some(session);
                    self.clients[c].state = ClientState::Idle;
                    self.schedule(self.now, Ev::ClientWake(c));
                }
                ClientReply::NotLeader { attempt: a, hint } if a == attempt => {
                    self.clients[c].leader_hint = hint;
                    self.retry_registration(c);
                }
                ClientReply::NotApplied { attempt: a } if a == attempt => {
                    self.clients[c].leader_hint = None;
                    self.retry_registration(c);
                }
                _ => {}
            },
            ClientState::Running(r) => {
                let attempt = match &reply {
                    ClientReply::Outcome { attempt, .. }
                    | ClientReply::NotLeader { attempt, .. }
                    | ClientReply::NotApplied { attempt }
                    | ClientReply::ReadValue { attempt, .. } => *attempt,
                };
                if attempt != r.current_attempt {
                    return;
                }
                match reply {
                    ClientReply::Outcome { outcome, .. } => self.complete_with(c, &r, outcome),
                    ClientReply::NotLeader { hint, .. } => {
                        self.clients[c].leader_hint = hint;
                        self.retry_or_give_up(c, r, hint.is_none());
                    }
                    ClientReply::NotApplied { .. } => {
                        self.clients[c].leader_hint = None;
                        self.retry_or_give_up(c, r, true);
                    }
                    ClientReply::ReadValue { value, .. } => {
                        self.complete_with(c, &r, ApplyOutcome::Applied(OpResult::Value(value)));
                    }
                }
            }
            _ => {}
        }
    }

    fn retry_registration(&mut self, c: usize) {
        let attempt = self.clients[c].new_attempt_id();
        self.clients[c].state = ClientState::Registering { attempt };
        let backoff = self.rng.range(MS, 20 * MS);
        let command = Command::RegisterClient.encode();
        self.schedule_resend(c, attempt, command, backoff);
    }

    fn schedule_resend(&mut self, c: usize, attempt: u32, command: Bytes, after: u64) {
        // Resend after a short backoff.
        let read = self.current_read_key(c);
        let node = if read.is_some() && self.rng.chance(1, 2) { self.any_node() } else { self.target_node(c) };
        let latency = self.latency();
        self.schedule(
            self.now + after + latency,
            Ev::ClientArrive { node, request: ClientRequest { client: c, attempt, command, read } },
        );
        let timeout = self.attempt_timeout(c);
        self.schedule(self.now + after + timeout, Ev::ClientTimeout { client: c, attempt });
    }

    fn retry_or_give_up(&mut self, c: usize, r: Running, backoff: bool) {
        if r.attempts >= self.params.max_attempts {
            // A read barrier never takes effect: giving up on it is `fail`.
            let kind = if r.maybe_applied && r.read_key.is_none() { EventKind::Info } else { EventKind::Fail };
            self.record_completion(c, r.history_id, kind, None, Some("gave up"));
            self.clients[c].finish(r.seq);
            self.schedule(self.now, Ev::ClientWake(c));
            return;
        }
        let command = r.command.clone();
        let id = self.clients[c].new_attempt_id();
        if let ClientState::Running(run) = &mut self.clients[c].state {
            run.attempts += 1;
            run.current_attempt = id;
        }
        let after = if backoff { self.rng.range(5 * MS, 50 * MS) } else { 0 };
        self.schedule_resend(c, id, command, after);
    }

    fn client_timeout(&mut self, c: usize, attempt: u32) {
        match self.clients[c].state.clone() {
            ClientState::Registering { attempt: a } if a == attempt => {
                self.clients[c].leader_hint = None;
                let id = self.clients[c].new_attempt_id();
                self.clients[c].state = ClientState::Registering { attempt: id };
                let command = Command::RegisterClient.encode();
                self.schedule_resend(c, id, command, 0);
            }
            ClientState::Running(mut r) if r.current_attempt == attempt => {
                // The attempt may have been applied: the op's outcome is
                // unknown from now on unless a later attempt answers.
                r.maybe_applied = true;
                self.clients[c].leader_hint = None;
                if let ClientState::Running(run) = &mut self.clients[c].state {
                    run.maybe_applied = true;
                }
                self.retry_or_give_up(c, r, false);
            }
            _ => {}
        }
    }

    fn complete_with(&mut self, c: usize, r: &Running, outcome: ApplyOutcome) {
        let id = r.history_id;
        match outcome {
            ApplyOutcome::Applied(result) | ApplyOutcome::Duplicate(result) => {
                match result {
                    OpResult::Value(v) => self.record_completion(c, id, EventKind::Ok, Some(to_history(&v)), None),
                    OpResult::Cas { swapped, .. } => {
                        self.record_cas(c, id, swapped);
                    }
                    OpResult::Ok => self.record_completion(c, id, EventKind::Ok, None, None),
                }
                if self.liveness_deadline.is_some() && self.clients[c].liveness_pending {
                    self.clients[c].liveness_done_at = Some(self.now);
                    self.clients[c].liveness_pending = false;
                }
            }
            ApplyOutcome::SessionExpired | ApplyOutcome::StaleSequence => {
                let kind = if r.maybe_applied { EventKind::Info } else { EventKind::Fail };
                self.record_completion(c, id, kind, None, Some("session"));
                self.clients[c].session = None;
            }
            _ => {
                // A state-machine error: applied as a no-op.
                self.record_completion(c, id, EventKind::Fail, None, Some("rejected by the state machine"));
            }
        }
        self.clients[c].finish(r.seq);
        let think = self.rng.range(self.params.think_ns.0, self.params.think_ns.1);
        self.schedule(self.now + think, Ev::ClientWake(c));
    }

    fn completion_base(&self, id: u64) -> Option<HEvent> {
        self.history.iter().rev().find(|e| e.id == id && e.kind == EventKind::Invoke).cloned()
    }

    fn record_completion(&mut self, c: usize, id: u64, kind: EventKind, read: Option<HValue>, error: Option<&str>) {
        let Some(mut e) = self.completion_base(id) else { return };
        let _ = c;
        e.kind = kind;
        e.time = Some(self.now);
        if let Some(v) = read {
            e.value = v;
        }
        if let Some(err) = error {
            e.error = Some(err.to_string());
        }
        match kind {
            EventKind::Ok => self.stats.ok += 1,
            EventKind::Fail => self.stats.fail += 1,
            _ => self.stats.info += 1,
        }
        self.hash_u64(id);
        self.history.push(e);
    }

    fn record_cas(&mut self, c: usize, id: u64, swapped: bool) {
        let Some(mut e) = self.completion_base(id) else { return };
        let _ = c;
        e.kind = EventKind::Ok;
        e.time = Some(self.now);
        e.swapped = Some(swapped);
        self.stats.ok += 1;
        self.hash_u64(id);
        self.history.push(e);
    }
}
