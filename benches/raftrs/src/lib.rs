//! The workloads of `../shared/WORKLOADS.md` on tikv/raft-rs 0.7, so that
//! every figure of our core has a raft-rs figure measured in the same run.
//!
//! Everything here follows the "Common ground" table: 128-byte payloads with
//! byte value `(seq & 0xff) | 1`, `MemStorage`, a `Discard` logger, the
//! "Ready cycle" of raft-rs's own `five_mem_node` example, and shuttle rounds
//! between in-process nodes. The `run_*` functions time only the core, the
//! Ready cycle and the storage; input building, clones, checks and compaction
//! happen outside the clock, in chunks of [`CHUNK`] operations.

// protobuf messages are built field by field, as in raft-rs's examples.
#![allow(clippy::field_reassign_with_default)]

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;
use raft::eraftpb::{Entry, Message, MessageType};
use raft::storage::MemStorage;
use raft::{Config, ProgressState, RawNode, ReadOnlyOption, ReadState, StateRole};
use slog::{o, Discard, Logger};

/// Operations per untimed input-building / compaction chunk.
pub const CHUNK: usize = 4096;
/// Payload bytes per entry.
pub const PAYLOAD_LEN: usize = 128;
/// Entries per W3 run (and per floor pass).
pub const W3_N: u64 = 100_000;

/// A fresh 128-byte payload for sequence number `seq`.
#[inline]
pub fn payload(seq: u64) -> Vec<u8> {
    vec![(seq as u8) | 1; PAYLOAD_LEN]
}

/// The `slog` logger of every node: a `Discard` drain.
pub fn logger() -> Logger {
    Logger::root(Discard, o!())
}

/// The two config knobs that vary between workloads.
#[derive(Clone, Copy, Debug, Default)]
pub struct Opts {
    /// `Config::batch_append` (library default false).
    pub batch_append: bool,
    /// `Config::skip_bcast_commit` (library default false).
    pub skip_bcast_commit: bool,
    /// `Config::read_only_option = LeaseBased` with `check_quorum = true`
    /// (which it requires); else the default `Safe`, check-quorum off.
    pub lease_reads: bool,
}

/// The config of WORKLOADS.md: election 10 / heartbeat 1 ticks, 1 MiB per
/// MsgAppend, 256 in-flight messages, pre-vote and check-quorum off (on for
/// lease reads, which require it).
pub fn config(id: u64, opts: Opts) -> Config {
    let read_only_option = if opts.lease_reads { ReadOnlyOption::LeaseBased } else { ReadOnlyOption::Safe };
    Config {
        id,
        election_tick: 10,
        heartbeat_tick: 1,
        max_size_per_msg: 1024 * 1024,
        max_inflight_msgs: 256,
        pre_vote: false,
        check_quorum: opts.lease_reads,
        read_only_option,
        skip_bcast_commit: opts.skip_bcast_commit,
        batch_append: opts.batch_append,
        ..Config::default()
    }
}

/// The state machine: counts entries and folds length and first byte.
#[derive(Debug, Default)]
pub struct Sm {
    /// Entries applied (including the leader's empty entries).
    pub count: u64,
    /// Checksum over (length, first byte) of every applied entry.
    pub checksum: u64,
}

impl Sm {
    #[inline]
    fn apply(&mut self, entries: Vec<Entry>) {
        for e in entries {
            self.count += 1;
            let first = e.data.first().copied().unwrap_or(0) as u64;
            self.checksum =
                self.checksum.wrapping_mul(0x100_0000_01b3).wrapping_add(((e.data.len() as u64) << 8) | first);
        }
    }
}

/// One raft-rs node with its state machine.
pub struct Node {
    /// The raft-rs node over its in-memory storage.
    pub rn: RawNode<MemStorage>,
    /// The applied-entry counter and checksum.
    pub sm: Sm,
    /// The read states of every Ready, in order; the host clears it.
    pub reads: Vec<ReadState>,
}

impl Node {
    /// A fresh node `id` of the voter set `1..=n`, term 0, empty log.
    pub fn new(id: u64, n: u64, opts: Opts, logger: &Logger) -> Node {
        let voters: Vec<u64> = (1..=n).collect();
        let storage = MemStorage::new_with_conf_state((voters, vec![]));
        let rn = RawNode::new(&config(id, opts), storage, logger).expect("RawNode::new");
        Node { rn, sm: Sm::default(), reads: Vec::new() }
    }

    /// Last log index.
    pub fn last_index(&self) -> u64 {
        self.rn.raft.raft_log.last_index()
    }

    /// Commit index.
    pub fn committed(&self) -> u64 {
        self.rn.raft.raft_log.committed
    }

    /// Applied index.
    pub fn applied(&self) -> u64 {
        self.rn.raft.raft_log.applied
    }

    /// Compacts the storage so that `index` is its first entry.
    pub fn compact(&self, index: u64) {
        self.rn.store().wl().compact(index).expect("compact");
    }

    /// The Ready cycle: the application loop of raft-rs's `five_mem_node`
    /// example (`on_ready`), with "send" = push onto `out`. Returns false if
    /// the node had no Ready.
    ///
    /// Two departures from the example, both host overhead that is not
    /// raft-rs's work and that our side does not pay either: the storage is
    /// reached through `RawNode::store()` instead of an `Arc` clone per
    /// Ready, and the snapshot test is `Snapshot::is_empty()` (what raft-rs's
    /// own `is_empty_snap` does) instead of `!= Snapshot::default()`: that
    /// comparison ends in `memcmp(0x1, 0x1, 0)` on the empty `Bytes`, which
    /// glibc's AVX-512 memcmp turns into a masked load at address 0x1, a
    /// fault-suppression assist of ~50 ns per Ready on this AMD EPYC.
    #[inline]
    pub fn ready_cycle<O: Extend<Message>>(&mut self, out: &mut O) -> bool {
        let rn = &mut self.rn;
        if !rn.has_ready() {
            return false;
        }
        let mut ready = rn.ready();

        if !ready.messages().is_empty() {
            out.extend(ready.take_messages());
        }
        if !ready.read_states().is_empty() {
            self.reads.append(&mut ready.take_read_states());
        }
        if !ready.snapshot().is_empty() {
            let s = ready.snapshot().clone();
            rn.store().wl().apply_snapshot(s).expect("apply_snapshot");
        }
        self.sm.apply(ready.take_committed_entries());
        rn.store().wl().append(ready.entries()).expect("append");
        if let Some(hs) = ready.hs() {
            rn.store().wl().set_hardstate(hs.clone());
        }
        if !ready.persisted_messages().is_empty() {
            out.extend(ready.take_persisted_messages());
        }

        let mut light_rd = rn.advance(ready);
        if let Some(commit) = light_rd.commit_index() {
            rn.store().wl().mut_hard_state().set_commit(commit);
        }
        out.extend(light_rd.take_messages());
        self.sm.apply(light_rd.take_committed_entries());
        rn.advance_apply();
        true
    }
}

/// In-process nodes `1..=n` (index `id - 1`) connected by shuttle rounds.
pub struct Cluster {
    /// The nodes, node `id` at index `id - 1`.
    pub nodes: Vec<Node>,
    /// Messages stepped into nodes so far.
    pub stepped: u64,
    buf: Vec<Message>,
}

impl Cluster {
    /// Fresh nodes `1..=n` with the voter set in storage, term 0, no leader.
    pub fn fresh(n: u64, opts: Opts) -> Cluster {
        let logger = logger();
        Cluster {
            nodes: (1..=n).map(|id| Node::new(id, n, opts, &logger)).collect(),
            stepped: 0,
            buf: Vec::with_capacity(1024),
        }
    }

    /// One shuttle round: every node in id order runs its Ready cycle (if
    /// it has one), then every message produced in the round is stepped into
    /// its destination in the order produced. Returns (some node had a
    /// Ready, messages stepped).
    #[inline]
    pub fn round(&mut self) -> (bool, usize) {
        let mut any = false;
        for node in &mut self.nodes {
            any |= node.ready_cycle(&mut self.buf);
        }
        let n = self.buf.len();
        for m in self.buf.drain(..) {
            let to = m.to as usize;
            self.nodes[to - 1].rn.step(m).expect("step");
        }
        self.stepped += n as u64;
        (any, n)
    }

    /// The "elected cluster": node 1 campaigns, shuttle rounds run until
    /// nothing is pending; checks that node 1 leads term 1, index 1 is
    /// committed and applied everywhere and every follower is in Replicate.
    pub fn elected(n: u64, opts: Opts) -> Cluster {
        let mut c = Cluster::fresh(n, opts);
        c.nodes[0].rn.campaign().expect("campaign");
        let mut rounds = 0;
        loop {
            let (any, msgs) = c.round();
            if !any && msgs == 0 {
                break;
            }
            rounds += 1;
            assert!(rounds < 100, "election does not settle");
        }
        let leader = &c.nodes[0].rn.raft;
        assert_eq!(leader.state, StateRole::Leader);
        assert_eq!(leader.term, 1);
        for node in &c.nodes {
            assert_eq!(node.last_index(), 1);
            assert_eq!(node.committed(), 1);
            assert_eq!(node.applied(), 1);
            assert_eq!(node.sm.count, 1);
            assert_eq!(node.rn.raft.leader_id, 1);
        }
        for id in 2..=n {
            let pr = leader.prs().get(id).expect("progress");
            assert_eq!(pr.state, ProgressState::Replicate, "follower {id}");
            assert_eq!(pr.matched, 1);
        }
        c.stepped = 0;
        c
    }
}

fn msg(t: MessageType, from: u64, to: u64) -> Message {
    let mut m = Message::default();
    m.set_msg_type(t);
    m.from = from;
    m.to = to;
    m.term = 1;
    m
}

fn entry(index: u64) -> Entry {
    let mut e = Entry::default();
    e.term = 1;
    e.index = index;
    e.data = Bytes::from(payload(index));
    e
}

// ---------------------------------------------------------------- W1 / W1b

/// W1 (commit advances) and W1b (commit fixed): node 2 of an elected 3-node
/// cluster, detached, steps one single-entry MsgAppend per operation.
pub struct W1 {
    node: Node,
    commit_fixed: bool,
    chunk: Vec<Message>,
    out: Vec<Message>,
}

impl W1 {
    /// Setup: elected 3-node cluster, node 2 taken out.
    pub fn new(commit_fixed: bool) -> W1 {
        let mut c = Cluster::elected(3, Opts::default());
        let node = c.nodes.remove(1);
        W1 { node, commit_fixed, chunk: Vec::with_capacity(CHUNK), out: Vec::with_capacity(CHUNK) }
    }

    /// Runs `ops` operations; returns the time spent in step + Ready cycle.
    pub fn run(&mut self, ops: u64) -> Duration {
        let mut total = Duration::ZERO;
        let mut left = ops;
        while left > 0 {
            let k = left.min(CHUNK as u64);
            left -= k;
            let base = self.node.last_index();
            let applied0 = self.node.applied();
            for i in 0..k {
                let prev = base + i;
                let mut m = msg(MessageType::MsgAppend, 1, 2);
                m.log_term = 1;
                m.index = prev;
                m.commit = if self.commit_fixed { 1 } else { prev };
                m.set_entries(vec![entry(prev + 1)].into());
                self.chunk.push(m);
            }

            let t = Instant::now();
            for m in self.chunk.drain(..) {
                self.node.rn.step(m).expect("step");
                self.node.ready_cycle(&mut self.out);
            }
            total += t.elapsed();

            let last = base + k;
            assert_eq!(self.out.len() as u64, k, "one response per message");
            for (i, r) in self.out.iter().enumerate() {
                assert_eq!(r.get_msg_type(), MessageType::MsgAppendResponse);
                assert!(!r.reject);
                assert_eq!(r.index, base + i as u64 + 1);
            }
            self.out.clear();
            assert_eq!(self.node.last_index(), last);
            if self.commit_fixed {
                // No commit/apply work in the timed loop. Untimed, one
                // heartbeat with commit = last index lets node 2 apply the
                // chunk, so that its log can be compacted (else it grows
                // without bound).
                assert_eq!(self.node.applied(), applied0);
                let mut hb = msg(MessageType::MsgHeartbeat, 1, 2);
                hb.commit = last;
                self.node.rn.step(hb).expect("step");
                self.node.ready_cycle(&mut self.out);
                self.out.clear();
                assert_eq!(self.node.applied(), last);
            } else {
                assert_eq!(self.node.applied(), last - 1);
            }
            self.node.compact(self.node.applied());
        }
        total
    }
}

// ---------------------------------------------------------------- W2 / W2b

/// W2 (commit broadcast) and W2b (`skip_bcast_commit`): the leader of an
/// elected 3-node cluster, detached, steps one MsgAppendResponse from node 2
/// per operation; each advances the commit index by one.
pub struct W2 {
    leader: Node,
    skip_bcast: bool,
    chunk: Vec<Message>,
    out: Vec<Message>,
}

impl W2 {
    /// Setup: elected 3-node cluster, node 1 (the leader) taken out.
    pub fn new(skip_bcast_commit: bool) -> W2 {
        // The cluster is elected with the default config (with
        // skip_bcast_commit the followers would not learn that index 1 is
        // committed); the leader's flag is set once it is detached.
        let mut c = Cluster::elected(3, Opts::default());
        let mut leader = c.nodes.remove(0);
        leader.rn.skip_bcast_commit(skip_bcast_commit);
        W2 {
            leader,
            skip_bcast: skip_bcast_commit,
            chunk: Vec::with_capacity(CHUNK),
            out: Vec::with_capacity(2 * CHUNK),
        }
    }

    /// Runs `ops` operations; returns the time spent in step + Ready cycle.
    pub fn run(&mut self, ops: u64) -> Duration {
        let mut total = Duration::ZERO;
        let mut left = ops;
        while left > 0 {
            let k = left.min(CHUNK as u64);
            left -= k;
            let c = self.leader.last_index();
            assert_eq!(self.leader.committed(), c);

            // Untimed: propose k entries in one MsgPropose; one MsgAppend
            // with the k entries goes to each follower (dropped).
            let mut p = msg(MessageType::MsgPropose, 1, 0);
            p.term = 0;
            let ents: Vec<Entry> = (1..=k)
                .map(|i| {
                    let mut e = Entry::default();
                    e.data = Bytes::from(payload(c + i));
                    e
                })
                .collect();
            p.set_entries(ents.into());
            self.leader.rn.step(p).expect("propose");
            self.leader.ready_cycle(&mut self.out);
            assert_eq!(self.out.len(), 2, "one MsgAppend per follower");
            for m in &self.out {
                assert_eq!(m.get_msg_type(), MessageType::MsgAppend);
                assert_eq!(m.entries.len() as u64, k);
                assert_eq!(m.index, c);
            }
            self.out.clear();
            // Node 3 acks index c: frees its in-flight slot, commit unchanged.
            let mut a3 = msg(MessageType::MsgAppendResponse, 3, 1);
            a3.index = c;
            self.leader.rn.step(a3).expect("step");
            self.leader.ready_cycle(&mut self.out);
            self.out.clear();
            assert_eq!(self.leader.committed(), c);
            // k acks from node 2, indexes c+1 ..= c+k.
            for i in 1..=k {
                let mut a = msg(MessageType::MsgAppendResponse, 2, 1);
                a.index = c + i;
                self.chunk.push(a);
            }

            let t = Instant::now();
            for m in self.chunk.drain(..) {
                self.leader.rn.step(m).expect("step");
                self.leader.ready_cycle(&mut self.out);
            }
            total += t.elapsed();

            let expect_out = if self.skip_bcast { 0 } else { 2 * k };
            assert_eq!(self.out.len() as u64, expect_out, "commit broadcasts");
            for m in &self.out {
                assert_eq!(m.get_msg_type(), MessageType::MsgAppend);
                assert!(m.entries.is_empty());
            }
            self.out.clear();
            assert_eq!(self.leader.committed(), c + k);
            assert_eq!(self.leader.applied(), c + k);
            self.leader.compact(c + k);
        }
        total
    }
}

// ---------------------------------------------------------------- W3

/// Outcome of one W3 run.
#[derive(Clone, Copy, Debug)]
pub struct W3Run {
    /// Time of the loop (proposals + shuttle rounds).
    pub elapsed: Duration,
    /// Shuttle rounds until all three nodes applied all entries.
    pub rounds: u64,
    /// Messages stepped into nodes during the loop.
    pub stepped: u64,
}

/// W3 setup: an elected 3-node cluster.
pub fn w3_setup(batch_append: bool) -> Cluster {
    Cluster::elected(3, Opts { batch_append, ..Opts::default() })
}

/// W3: the leader proposes min(b, remaining) entries (one `propose` each,
/// fresh 128-byte payload), then one shuttle round; rounds continue until
/// all three nodes applied all `n` entries. Checks the outcome (untimed).
pub fn w3_run(c: &mut Cluster, n: u64, b: u64) -> W3Run {
    let target = 1 + n; // index 1 is the leader's empty entry
    let stepped0 = c.stepped;
    let mut proposed = 0u64;
    let mut rounds = 0u64;
    let t = Instant::now();
    loop {
        let k = b.min(n - proposed);
        for _ in 0..k {
            proposed += 1;
            c.nodes[0].rn.propose(Vec::new(), payload(proposed)).expect("propose");
        }
        let (any, msgs) = c.round();
        rounds += 1;
        if proposed == n && c.nodes.iter().all(|x| x.applied() >= target) {
            break;
        }
        assert!(k > 0 || any || msgs > 0, "W3 stalled");
    }
    let elapsed = t.elapsed();
    for node in &c.nodes {
        assert_eq!(node.applied(), target);
        assert_eq!(node.sm.count, target);
    }
    let sum = c.nodes[0].sm.checksum;
    assert!(c.nodes.iter().all(|x| x.sm.checksum == sum));
    W3Run { elapsed, rounds, stepped: c.stepped - stepped0 }
}

// ---------------------------------------------------------------- W4

/// W4: a fresh 5-node cluster (untimed); then node 1 campaigns and messages
/// are delivered one at a time FIFO until node 1 reports Leader. Returns the
/// elapsed time and the messages stepped.
pub fn w4_once() -> (Duration, u64) {
    let mut c = Cluster::fresh(5, Opts::default());
    let mut q: VecDeque<Message> = VecDeque::with_capacity(64);
    let nodes = &mut c.nodes;
    let mut stepped = 0u64;

    let t = Instant::now();
    nodes[0].rn.campaign().expect("campaign");
    nodes[0].ready_cycle(&mut q);
    loop {
        let m = q.pop_front().expect("election stalled");
        let to = m.to as usize;
        nodes[to - 1].rn.step(m).expect("step");
        stepped += 1;
        if to == 1 && nodes[0].rn.raft.state == StateRole::Leader {
            break;
        }
        nodes[to - 1].ready_cycle(&mut q);
    }
    let elapsed = t.elapsed();

    assert_eq!(nodes[0].rn.raft.term, 1);
    drop(q);
    drop(c);
    (elapsed, stepped)
}

// ---------------------------------------------------------------- W5

/// W5: an elected 5-node cluster, nodes detached; heartbeat_tick = 1.
pub struct W5 {
    leader: Node,
    follower: Node,
    hb: Message,
    chunk: Vec<Message>,
    out: Vec<Message>,
}

impl W5 {
    /// Setup; also takes a real MsgHeartbeat to node 2 from one leader tick.
    pub fn new() -> W5 {
        let mut c = Cluster::elected(5, Opts::default());
        let follower = c.nodes.remove(1);
        let mut leader = c.nodes.remove(0);
        let mut out = Vec::with_capacity(4 * CHUNK);
        leader.rn.tick();
        leader.ready_cycle(&mut out);
        assert_eq!(out.len(), 4);
        let hb = out.iter().find(|m| m.to == 2).expect("heartbeat to 2").clone();
        assert_eq!(hb.get_msg_type(), MessageType::MsgHeartbeat);
        assert_eq!((hb.term, hb.commit), (1, 1));
        out.clear();
        W5 { leader, follower, hb, chunk: Vec::with_capacity(CHUNK), out }
    }

    /// W5a: `ops` leader ticks, each with its Ready cycle.
    pub fn run_tick(&mut self, ops: u64) -> Duration {
        let mut total = Duration::ZERO;
        let mut left = ops;
        while left > 0 {
            let k = left.min(CHUNK as u64);
            left -= k;
            let t = Instant::now();
            for _ in 0..k {
                self.leader.rn.tick();
                self.leader.ready_cycle(&mut self.out);
            }
            total += t.elapsed();
            assert_eq!(self.out.len() as u64, 4 * k, "4 heartbeats per tick");
            assert!(self.out.iter().all(|m| m.get_msg_type() == MessageType::MsgHeartbeat));
            self.out.clear();
        }
        assert_eq!(self.leader.rn.raft.state, StateRole::Leader);
        total
    }

    /// W5b: node 2 steps `ops` copies of a real heartbeat, each with its
    /// Ready cycle.
    pub fn run_heartbeat(&mut self, ops: u64) -> Duration {
        let mut total = Duration::ZERO;
        let mut left = ops;
        while left > 0 {
            let k = left.min(CHUNK as u64);
            left -= k;
            for _ in 0..k {
                self.chunk.push(self.hb.clone());
            }
            let t = Instant::now();
            for m in self.chunk.drain(..) {
                self.follower.rn.step(m).expect("step");
                self.follower.ready_cycle(&mut self.out);
            }
            total += t.elapsed();
            assert_eq!(self.out.len() as u64, k, "one response per heartbeat");
            assert!(self.out.iter().all(|m| m.get_msg_type() == MessageType::MsgHeartbeatResponse && m.to == 1));
            self.out.clear();
        }
        total
    }
}

impl Default for W5 {
    fn default() -> Self {
        W5::new()
    }
}

// ---------------------------------------------------------------- reads

/// Heartbeat rounds and responses of one read-index iteration.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReadCounts {
    /// Heartbeat broadcasts (rounds) the leader sent.
    pub rounds: u64,
    /// Heartbeat responses stepped into the leader.
    pub responses: u64,
}

/// Linearizable reads on the leader of an elected 3-node cluster, detached;
/// the followers are simulated by building their answer to every heartbeat
/// the leader sends (MsgHeartbeatResponse with the heartbeat's context, as
/// raft-rs's `handle_heartbeat` builds it).
///
/// ReadOnlySafe, one iteration ([`Reads::index_iter`]): k `read_index(ctx)`
/// calls (8-byte context = the read's id, built untimed), each with its
/// Ready cycle, then waves of heartbeat responses (each with its Ready
/// cycle) until the leader sends no more heartbeats; all k reads must then
/// be `ReadState`s. Each `read_index` broadcasts its own heartbeat round. The
/// clock stops while a wave's responses are built.
///
/// LeaseBased ([`Reads::run_lease`]): one operation is one `read_index`
/// whose ReadState comes out in the next Ready, with no messages.
pub struct Reads {
    /// The leader.
    pub leader: Node,
    sends: Vec<Message>,
    responses: Vec<Message>,
    ctxs: Vec<Vec<u8>>,
    next_id: u64,
    commit: u64,
}

impl Reads {
    /// Setup: elected 3-node cluster (LeaseBased + check_quorum if
    /// `lease`), node 1 (the leader) taken out.
    pub fn new(lease: bool) -> Reads {
        let mut c = Cluster::elected(3, Opts { lease_reads: lease, ..Opts::default() });
        let leader = c.nodes.remove(0);
        let commit = leader.committed();
        Reads {
            leader,
            sends: Vec::with_capacity(64),
            responses: Vec::with_capacity(64),
            ctxs: Vec::with_capacity(CHUNK),
            next_id: 1,
            commit,
        }
    }

    /// Untimed: the contexts of the next `k` reads.
    fn prepare(&mut self, k: u64) -> u64 {
        let first = self.next_id;
        self.next_id += k;
        self.ctxs.extend((first..first + k).map(|id| id.to_le_bytes().to_vec()));
        first
    }

    /// Untimed: one response from its follower to every message sent (all
    /// must be heartbeats); returns the rounds (broadcasts) they belong to.
    fn build_responses(&mut self) -> u64 {
        let mut rounds = 0;
        let mut last_ctx = None;
        for mut m in self.sends.drain(..) {
            assert_eq!(m.get_msg_type(), MessageType::MsgHeartbeat, "not a heartbeat: {m:?}");
            assert_eq!(m.from, 1);
            if last_ctx.as_ref() != Some(&m.context) {
                rounds += 1;
                last_ctx = Some(m.context.clone());
            }
            let mut r = msg(MessageType::MsgHeartbeatResponse, m.to, 1);
            r.context = m.take_context();
            self.responses.push(r);
        }
        rounds
    }

    /// ReadOnlySafe, one iteration of `k` reads; returns the time spent in
    /// `read_index` / `step` + Ready cycles and the rounds / responses it
    /// took. Checks (untimed) that every read is ready, in order, at the
    /// commit index.
    pub fn index_iter(&mut self, k: u64) -> (Duration, ReadCounts) {
        let first = self.prepare(k);
        let mut counts = ReadCounts::default();
        let t = Instant::now();
        for ctx in self.ctxs.drain(..) {
            self.leader.rn.read_index(ctx);
            self.leader.ready_cycle(&mut self.sends);
        }
        let mut total = t.elapsed();
        while !self.sends.is_empty() {
            counts.rounds += self.build_responses();
            counts.responses += self.responses.len() as u64;
            let t = Instant::now();
            for m in self.responses.drain(..) {
                self.leader.rn.step(m).expect("step");
                self.leader.ready_cycle(&mut self.sends);
            }
            total += t.elapsed();
        }
        self.check_reads(first, k);
        (total, counts)
    }

    /// ReadOnlySafe: `iters` iterations of `k` reads (criterion's
    /// `iter_custom`).
    pub fn run_index(&mut self, k: u64, iters: u64) -> Duration {
        (0..iters).map(|_| self.index_iter(k).0).sum()
    }

    fn check_reads(&mut self, first: u64, k: u64) {
        assert_eq!(self.leader.reads.len() as u64, k, "every read confirmed");
        for (i, rs) in self.leader.reads.iter().enumerate() {
            assert_eq!(rs.request_ctx, (first + i as u64).to_le_bytes());
            assert_eq!(rs.index, self.commit);
        }
        self.leader.reads.clear();
        assert_eq!(self.leader.rn.raft.state, StateRole::Leader);
        assert_eq!(self.leader.rn.raft.read_only.pending_read_count(), 0);
    }

    /// LeaseBased, timed: the prepared reads, each with its Ready cycle.
    #[inline(never)]
    pub fn lease_reads(&mut self) {
        for ctx in self.ctxs.drain(..) {
            self.leader.rn.read_index(ctx);
            self.leader.ready_cycle(&mut self.sends);
        }
    }

    /// LeaseBased: `ops` reads, each answered at once. Returns the time of
    /// the reads.
    pub fn run_lease(&mut self, ops: u64) -> Duration {
        let mut total = Duration::ZERO;
        let mut left = ops;
        while left > 0 {
            let k = left.min(CHUNK as u64);
            left -= k;
            let first = self.prepare(k);
            let t = Instant::now();
            self.lease_reads();
            total += t.elapsed();
            assert!(self.sends.is_empty(), "lease reads send nothing");
            self.check_reads(first, k);
        }
        total
    }
}

// ---------------------------------------------------------------- floors

/// Floors A and C: a byte arena and a `(index, term, offset)` record vector.
#[derive(Default)]
pub struct Arena {
    /// Payload bytes.
    pub bytes: Vec<u8>,
    /// One record per entry.
    pub recs: Vec<(u64, u64, u64)>,
}

/// 256 source payloads, one per byte value, so the copy reads real data.
pub fn floor_sources() -> Vec<[u8; PAYLOAD_LEN]> {
    (0..256u64).map(|s| [(s as u8) | 1; PAYLOAD_LEN]).collect()
}

/// One floor A/C pass of `n` entries into `arena` (A: cleared arena with
/// capacity; C: empty arena).
#[inline(never)]
pub fn floor_arena_pass(arena: &mut Arena, src: &[[u8; PAYLOAD_LEN]], n: u64) {
    for seq in 0..n {
        let p = &src[(seq & 0xff) as usize];
        let off = arena.bytes.len() as u64;
        arena.bytes.extend_from_slice(p);
        arena.recs.push((seq + 1, 1, off));
    }
}

/// One floor B pass: a fresh 128-byte `Vec<u8>` per entry pushed onto `out`.
#[inline(never)]
pub fn floor_b_pass(out: &mut Vec<Vec<u8>>, src: &[[u8; PAYLOAD_LEN]], n: u64) {
    for seq in 0..n {
        out.push(src[(seq & 0xff) as usize].to_vec());
    }
}

/// Peak resident set size of this process (VmHWM), in KiB.
pub fn peak_rss_kb() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
