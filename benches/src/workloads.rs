//! The workloads of `../shared/WORKLOADS.md` on our core, in the same shape
//! as the raft-rs side (`benches/raftrs/src/lib.rs`), so that
//! `benches/side-by-side.sh` can print (ours, raft-rs, ratio) pairs.
//!
//! Everything follows the "Common ground" table: 128-byte payloads with byte
//! value `(seq & 0xff) | 1`, events off, and the "Ready cycle" of our core
//! ([`Host::cycle`]): one `step_into` and the handling of every `Output` it
//! returns. A `Persist` is answered by encoding each entry's header and
//! cloning its `Bytes` handle into a write buffer that is then cleared (the
//! core's own log is the one retained copy), and `Persisted` is stepped at
//! once, in the same cycle; a `Send` pushes the message onto a vector; an
//! `Apply` folds the checksum. The `run*` functions time only that;
//! input building, clones, checks and compaction happen outside the clock,
//! in chunks of [`CHUNK`] operations.
//!
//! The per-message workloads are split into `prepare` (untimed: build the
//! chunk), `run_prepared` (the timed part) and `finish` (untimed: checks and
//! compaction), so that the allocation test (`benches/alloc-count/`) can
//! count allocations over exactly the part the benches time.

use core::time::Duration;
use std::collections::VecDeque;
use std::time::Instant;

use bytes::Bytes;
use raft_sansio::proto::{AppendEntries, AppendEntriesResponse, Heartbeat, HeartbeatResponse};
use raft_sansio::{
    ConfState, Config, Entry, EntryId, Index, Input, Message, MessageBody, Node, NodeId, Output, Persist, ReadMode,
    ReplicationState, RequestId, RestoredState, Role, SnapshotMeta, Term,
};

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

/// The config knobs that vary between workloads.
#[derive(Clone, Copy, Debug)]
pub struct Opts {
    /// `Config::broadcast_commit` (true, the counterpart of raft-rs's
    /// default `skip_bcast_commit = false`; false for W2b).
    pub broadcast_commit: bool,
    /// `Config::emit_events` (false; true for the `*_events` variants).
    pub emit_events: bool,
    /// `Config::append_pipeline_depth`: the default (1, proposals coalesce
    /// behind an append in flight) except in W2, whose chunk proposal must
    /// go out to both followers at once as raft-rs's does.
    pub pipeline_depth: usize,
    /// `Config::read_mode`: `ReadMode::Index` (the default) except in the
    /// lease-read workload; lease mode also turns check-quorum on, which it
    /// requires.
    pub read_mode: ReadMode,
}

impl Default for Opts {
    fn default() -> Opts {
        Opts { broadcast_commit: true, emit_events: false, pipeline_depth: 1, read_mode: ReadMode::Index }
    }
}

impl Opts {
    /// The default options with events on.
    pub fn events() -> Opts {
        Opts { emit_events: true, ..Opts::default() }
    }
}

/// The config of WORKLOADS.md: election 10..20 / heartbeat 1 ticks, 1 MiB per
/// append, 256 appends in flight, pre-vote and check-quorum off (on in lease
/// read mode, which requires it).
pub fn config(id: u64, opts: Opts) -> Config {
    let mut c = Config::new(NodeId(id), 0x5EED_0000 + id);
    c.pre_vote = false;
    c.check_quorum = matches!(opts.read_mode, ReadMode::Lease { .. });
    c.read_mode = opts.read_mode;
    c.election_timeout_ticks_min = 10;
    c.election_timeout_ticks_max = 20;
    c.heartbeat_interval_ticks = 1;
    c.max_inflight_msgs = 256;
    c.max_size_per_msg = 1 << 20;
    c.broadcast_commit = opts.broadcast_commit;
    c.emit_events = opts.emit_events;
    c.append_pipeline_depth = opts.pipeline_depth;
    c
}

/// A fresh node `id` of the voter set `1..=n`: the voter set is in its
/// restored state (a snapshot at index 0), term 0, empty log.
pub fn fresh_node(id: u64, n: u64, opts: Opts) -> Node {
    let state = RestoredState {
        snapshot: Some(SnapshotMeta { last: EntryId::ZERO, conf_state: ConfState::with_voters((1..=n).map(NodeId)) }),
        ..RestoredState::default()
    };
    Node::new(config(id, opts), state).expect("valid config and state")
}

/// Where a host's `Send`s go.
pub trait Sink {
    /// Sends `message` (pushes it).
    fn send(&mut self, message: Message);
}

impl Sink for Vec<Message> {
    #[inline]
    fn send(&mut self, message: Message) {
        self.push(message);
    }
}

impl Sink for VecDeque<Message> {
    #[inline]
    fn send(&mut self, message: Message) {
        self.push_back(message);
    }
}

/// The state machine: counts entries and folds length and first byte.
#[derive(Debug, Default)]
pub struct Sm {
    /// Entries applied (including the leader's no-op entries).
    pub count: u64,
    /// Checksum over (length, first byte) of every applied entry.
    pub checksum: u64,
}

impl Sm {
    #[inline]
    fn apply(&mut self, entries: &[Entry]) {
        for e in entries {
            self.count += 1;
            let first = e.payload.first().copied().unwrap_or(0) as u64;
            self.checksum =
                self.checksum.wrapping_mul(0x100_0000_01b3).wrapping_add(((e.payload.len() as u64) << 8) | first);
        }
    }
}

/// The host's write buffer: a `Persist` is "written" by encoding each
/// entry's header and the hard state into `headers` and cloning each
/// payload handle into `payloads`; both are cleared (the handles dropped)
/// once the write is done, keeping their capacity.
#[derive(Debug, Default)]
pub struct WriteBuf {
    headers: Vec<u8>,
    payloads: Vec<Bytes>,
    /// Bytes "written" so far (headers + payloads), so the work is observable.
    pub written: u64,
}

impl WriteBuf {
    #[inline]
    fn write(&mut self, p: &Persist) {
        if let Some(snap) = &p.snapshot {
            self.headers.extend_from_slice(&snap.last.index.0.to_le_bytes());
            self.headers.extend_from_slice(&snap.last.term.0.to_le_bytes());
        }
        if let Some(t) = p.truncate_from {
            self.headers.extend_from_slice(&t.0.to_le_bytes());
        }
        for e in p.entries.iter() {
            // index, term, kind, payload length: a 21-byte entry header.
            let mut h = [0u8; ENTRY_HEADER_LEN];
            h[0..8].copy_from_slice(&e.index.0.to_le_bytes());
            h[8..16].copy_from_slice(&e.term.0.to_le_bytes());
            h[16] = e.kind.code();
            h[17..21].copy_from_slice(&(e.payload.len() as u32).to_le_bytes());
            self.headers.extend_from_slice(&h);
            self.payloads.push(e.payload.clone());
        }
        if let Some(hs) = p.hard_state {
            let mut h = [0u8; 24];
            h[0..8].copy_from_slice(&hs.term.0.to_le_bytes());
            h[8..16].copy_from_slice(&hs.vote.map_or(0, |v| v.0).to_le_bytes());
            h[16..24].copy_from_slice(&hs.commit.0.to_le_bytes());
            self.headers.extend_from_slice(&h);
        }
        self.written += self.headers.len() as u64 + (p.entries.len() * PAYLOAD_LEN) as u64;
        self.headers.clear();
        self.payloads.clear();
    }
}

/// Bytes of one encoded entry header in the host's write buffer.
const ENTRY_HEADER_LEN: usize = 21;

/// One of our nodes with its host: the reusable output vector, the write
/// buffer and the state machine.
pub struct Host {
    /// The core.
    pub node: Node,
    /// The applied-entry counter and checksum.
    pub sm: Sm,
    /// The last index applied (from `Apply` outputs).
    pub applied: Index,
    /// `Rejected` outputs seen (none expected).
    pub rejected: u64,
    /// `ReadReady` outputs, (id, read index), in order; the host clears it.
    pub reads: Vec<(RequestId, Index)>,
    out: Vec<Output>,
    wbuf: WriteBuf,
}

impl Host {
    /// Wraps a node.
    pub fn new(node: Node) -> Host {
        Host {
            node,
            sm: Sm::default(),
            applied: Index::ZERO,
            rejected: 0,
            reads: Vec::new(),
            out: Vec::with_capacity(64),
            wbuf: WriteBuf::default(),
        }
    }

    /// The Ready cycle: steps `input`, then handles every output
    /// ([`Host::handle`]).
    #[inline]
    pub fn cycle<S: Sink>(&mut self, input: Input, sends: &mut S) {
        self.node.step_into(input, &mut self.out);
        self.handle(sends);
    }

    /// Only the step of a Ready cycle (W4 stops the clock between the step
    /// and the handling); the outputs wait for [`Host::handle`].
    #[inline]
    pub fn step(&mut self, input: Input) {
        self.node.step_into(input, &mut self.out);
    }

    /// Handles every pending output: `Send` -> `sends`; `Persist` -> the
    /// write buffer, then `Persisted` for the highest seq is stepped at once
    /// (and its outputs handled the same way); `Apply` -> the checksum.
    #[inline]
    pub fn handle<S: Sink>(&mut self, sends: &mut S) {
        loop {
            let mut durable = None;
            for o in self.out.drain(..) {
                match o {
                    Output::Send { message, .. } => sends.send(message),
                    Output::Persist(p) => {
                        self.wbuf.write(&p);
                        durable = Some(p.seq);
                    }
                    Output::Apply { entries } => {
                        self.sm.apply(&entries);
                        if let Some(last) = entries.last() {
                            self.applied = last.index;
                        }
                    }
                    Output::Rejected { .. } => self.rejected += 1,
                    Output::ReadReady { id, index } => self.reads.push((id, index)),
                    _ => {}
                }
            }
            match durable {
                Some(up_to_seq) => self.node.step_into(Input::Persisted { up_to_seq }, &mut self.out),
                None => return,
            }
        }
    }

    /// Untimed log compaction: tells the node what the state machine
    /// applied, reports a snapshot there (raft-rs's side compacts its
    /// storage the same way), then drops the trailing entries too.
    pub fn compact(&mut self, index: Index) {
        let mut sink: Vec<Message> = Vec::new();
        self.cycle(Input::Applied { index }, &mut sink);
        self.cycle(Input::SnapshotTaken { index, data: bytes::Bytes::new() }, &mut sink);
        self.cycle(Input::Compact { index }, &mut sink);
        assert!(sink.is_empty());
        assert_eq!(self.node.first_index(), index.next(), "compaction");
    }

    /// Last log index.
    pub fn last_index(&self) -> Index {
        self.node.last_index()
    }

    /// Commit index.
    pub fn committed(&self) -> Index {
        self.node.commit_index()
    }
}

/// In-process nodes `1..=n` (index `id - 1`) connected by shuttle rounds.
///
/// Our core has no Ready: each step's outputs are handled at once
/// ([`Host::cycle`]), and the messages it sends queue for the next round.
/// A round steps every queued message into its destination in the order
/// produced, and what those steps send queues for the round after: the same
/// latency as raft-rs's "every node runs its Ready cycle, then every message
/// of the round is delivered".
pub struct Cluster {
    /// The hosts, node `id` at index `id - 1`.
    pub hosts: Vec<Host>,
    /// Messages stepped into nodes so far.
    pub stepped: u64,
    cur: Vec<Message>,
    next: Vec<Message>,
}

impl Cluster {
    /// Fresh nodes `1..=n` with the voter set in their restored state.
    pub fn fresh(n: u64, opts: Opts) -> Cluster {
        Cluster {
            hosts: (1..=n).map(|id| Host::new(fresh_node(id, n, opts))).collect(),
            stepped: 0,
            cur: Vec::with_capacity(1024),
            next: Vec::with_capacity(1024),
        }
    }

    /// Steps `input` into node `id` (Ready cycle included); what it sends
    /// queues for the next round.
    #[inline]
    pub fn cycle(&mut self, id: u64, input: Input) {
        self.hosts[id as usize - 1].cycle(input, &mut self.next);
    }

    /// One shuttle round; returns the messages stepped.
    #[inline]
    pub fn round(&mut self) -> usize {
        core::mem::swap(&mut self.cur, &mut self.next);
        let n = self.cur.len();
        for m in self.cur.drain(..) {
            let to = m.to.0 as usize;
            self.hosts[to - 1].cycle(Input::Receive(m), &mut self.next);
        }
        self.stepped += n as u64;
        n
    }

    /// The "elected cluster": node 1 campaigns, shuttle rounds run until
    /// nothing is pending; checks that node 1 leads term 1, its no-op
    /// (index 1) is committed and applied everywhere, and every follower is
    /// in Replicate with match 1.
    pub fn elected(n: u64, opts: Opts) -> Cluster {
        let mut c = Cluster::fresh(n, opts);
        c.cycle(1, Input::Campaign);
        let mut rounds = 0;
        while c.round() > 0 {
            rounds += 1;
            assert!(rounds < 100, "election does not settle");
        }
        let leader = &c.hosts[0].node;
        assert_eq!(leader.role(), Role::Leader);
        assert_eq!(leader.term(), Term(1));
        for h in &c.hosts {
            assert_eq!(h.last_index(), Index(1));
            assert_eq!(h.committed(), Index(1));
            assert_eq!(h.applied, Index(1));
            assert_eq!(h.sm.count, 1);
            assert_eq!(h.node.leader(), Some(NodeId(1)));
            assert_eq!(h.node.persisted_index(), Index(1));
            assert_eq!(h.rejected, 0);
        }
        for id in 2..=n {
            let pr = leader.progress(NodeId(id)).expect("progress");
            assert_eq!(pr.state, ReplicationState::Replicate, "follower {id}");
            assert_eq!(pr.match_index, Index(1));
        }
        c.stepped = 0;
        c
    }
}

fn message(from: u64, to: u64, body: MessageBody) -> Message {
    Message { from: NodeId(from), to: NodeId(to), term: Term(1), body }
}

/// Makes `b` shared (the first clone of a `Bytes` built from a `Vec`
/// allocates its shared header): the allocation test does this untimed, so
/// that what it counts is the core's and the host's work beyond the payload
/// handles.
fn share(b: &Bytes) {
    drop(b.clone());
}

// ---------------------------------------------------------------- W1 / W1b

/// W1 (commit advances) and W1b (commit fixed at 1): node 2 of an elected
/// 3-node cluster, detached, steps one single-entry append per operation.
pub struct W1 {
    /// The follower.
    pub host: Host,
    commit_fixed: bool,
    /// Pre-share every payload while building the chunk (allocation test).
    pub share_payloads: bool,
    chunk: Vec<Message>,
    out: Vec<Message>,
    base: Index,
    applied0: Index,
    k: u64,
}

impl W1 {
    /// Setup: elected 3-node cluster, node 2 taken out.
    pub fn new(commit_fixed: bool, opts: Opts) -> W1 {
        let mut c = Cluster::elected(3, opts);
        let host = c.hosts.remove(1);
        W1 {
            host,
            commit_fixed,
            share_payloads: false,
            chunk: Vec::with_capacity(CHUNK),
            out: Vec::with_capacity(CHUNK),
            base: Index::ZERO,
            applied0: Index::ZERO,
            k: 0,
        }
    }

    /// Untimed: builds the next `k` appends (payloads included).
    pub fn prepare(&mut self, k: u64) {
        self.k = k;
        self.base = self.host.last_index();
        self.applied0 = self.host.applied;
        for i in 0..k {
            let prev = self.base.0 + i;
            let data = Bytes::from(payload(prev + 1));
            if self.share_payloads {
                share(&data);
            }
            let commit = if self.commit_fixed { Index(1) } else { Index(prev) };
            self.chunk.push(message(
                1,
                2,
                MessageBody::AppendEntries(AppendEntries {
                    prev: EntryId::new(Term(1), Index(prev)),
                    entries: vec![Entry::normal(Term(1), Index(prev + 1), data)],
                    leader_commit: commit,
                    lowest_data_match: commit,
                }),
            ));
        }
    }

    /// Timed: steps the prepared appends, each with its Ready cycle.
    #[inline(never)]
    pub fn run_prepared(&mut self) {
        for m in self.chunk.drain(..) {
            self.host.cycle(Input::Receive(m), &mut self.out);
        }
    }

    /// Untimed: checks the chunk's outcome and compacts to the applied index.
    pub fn finish(&mut self) {
        let (base, k) = (self.base.0, self.k);
        let last = Index(base + k);
        assert_eq!(self.out.len() as u64, k, "one response per message");
        for (i, r) in self.out.iter().enumerate() {
            assert_eq!(
                r.body,
                MessageBody::AppendEntriesResponse(AppendEntriesResponse::Success {
                    match_index: Index(base + i as u64 + 1)
                })
            );
        }
        self.out.clear();
        assert_eq!(self.host.last_index(), last);
        assert_eq!(self.host.node.persisted_index(), last);
        if self.commit_fixed {
            // No commit/apply work in the timed loop. Untimed, one heartbeat
            // with commit = last index lets node 2 apply the chunk, so that
            // its log can be compacted (else it grows without bound).
            assert_eq!(self.host.applied, self.applied0);
            let hb = message(
                1,
                2,
                MessageBody::Heartbeat(Heartbeat { leader_commit: last, lowest_data_match: last, read_round: 0 }),
            );
            self.host.cycle(Input::Receive(hb), &mut self.out);
            self.out.clear();
            assert_eq!(self.host.applied, last);
        } else {
            assert_eq!(self.host.applied, Index(last.0 - 1));
        }
        assert_eq!(self.host.rejected, 0);
        let applied = self.host.applied;
        self.host.compact(applied);
    }

    /// Runs `ops` operations; returns the time spent in step + Ready cycle.
    pub fn run(&mut self, ops: u64) -> Duration {
        let mut total = Duration::ZERO;
        let mut left = ops;
        while left > 0 {
            let k = left.min(CHUNK as u64);
            left -= k;
            self.prepare(k);
            let t = Instant::now();
            self.run_prepared();
            total += t.elapsed();
            self.finish();
        }
        total
    }
}

// ---------------------------------------------------------------- W2 / W2b

/// W2 (commit broadcast) and W2b (`broadcast_commit = false`): the leader
/// of an elected 3-node cluster, detached, steps one ack from node 2 per
/// operation; each advances the commit index by one.
pub struct W2 {
    /// The leader.
    pub host: Host,
    broadcast: bool,
    /// Pre-share every payload while building the chunk (allocation test).
    pub share_payloads: bool,
    chunk: Vec<Message>,
    out: Vec<Message>,
    c: Index,
    k: u64,
}

impl W2 {
    /// Setup: elected 3-node cluster, node 1 (the leader) taken out.
    pub fn new(opts: Opts) -> W2 {
        let opts = Opts { pipeline_depth: usize::MAX, ..opts };
        let mut c = Cluster::elected(3, opts);
        let host = c.hosts.remove(0);
        W2 {
            host,
            broadcast: opts.broadcast_commit,
            share_payloads: false,
            chunk: Vec::with_capacity(CHUNK),
            out: Vec::with_capacity(2 * CHUNK),
            c: Index::ZERO,
            k: 0,
        }
    }

    /// Untimed: proposes `k` entries in one `ProposeBatch` (one append of k
    /// entries to each follower, dropped), node 3 acks index c (frees its
    /// in-flight slot, commit unchanged), and builds k acks from node 2 for
    /// c+1 ..= c+k.
    pub fn prepare(&mut self, k: u64) {
        let c = self.host.last_index();
        assert_eq!(self.host.committed(), c);
        self.c = c;
        self.k = k;
        let commands: Vec<Bytes> = (1..=k)
            .map(|i| {
                let b = Bytes::from(payload(c.0 + i));
                if self.share_payloads {
                    share(&b);
                }
                b
            })
            .collect();
        self.host.cycle(Input::ProposeBatch { id: RequestId(c.0), commands }, &mut self.out);
        assert_eq!(self.out.len(), 2, "one append per follower");
        for m in &self.out {
            let MessageBody::AppendEntries(ae) = &m.body else { panic!("not an append: {m:?}") };
            assert_eq!(ae.entries.len() as u64, k);
            assert_eq!(ae.prev.index, c);
        }
        self.out.clear();
        assert_eq!(self.host.node.persisted_index(), Index(c.0 + k));
        let a3 = message(3, 1, MessageBody::AppendEntriesResponse(AppendEntriesResponse::Success { match_index: c }));
        self.host.cycle(Input::Receive(a3), &mut self.out);
        self.out.clear();
        assert_eq!(self.host.committed(), c);
        for i in 1..=k {
            self.chunk.push(message(
                2,
                1,
                MessageBody::AppendEntriesResponse(AppendEntriesResponse::Success { match_index: Index(c.0 + i) }),
            ));
        }
    }

    /// Timed: steps the prepared acks, each with its Ready cycle.
    #[inline(never)]
    pub fn run_prepared(&mut self) {
        for m in self.chunk.drain(..) {
            self.host.cycle(Input::Receive(m), &mut self.out);
        }
    }

    /// Untimed: checks the chunk's outcome and compacts to c+k.
    pub fn finish(&mut self) {
        let (c, k) = (self.c.0, self.k);
        let expect_out = if self.broadcast { 2 * k } else { 0 };
        assert_eq!(self.out.len() as u64, expect_out, "commit broadcasts");
        for m in &self.out {
            let MessageBody::AppendEntries(ae) = &m.body else { panic!("not an append: {m:?}") };
            assert!(ae.entries.is_empty());
        }
        self.out.clear();
        assert_eq!(self.host.committed(), Index(c + k));
        assert_eq!(self.host.applied, Index(c + k));
        assert_eq!(self.host.rejected, 0);
        self.host.compact(Index(c + k));
    }

    /// Runs `ops` operations; returns the time spent in step + Ready cycle.
    pub fn run(&mut self, ops: u64) -> Duration {
        let mut total = Duration::ZERO;
        let mut left = ops;
        while left > 0 {
            let k = left.min(CHUNK as u64);
            left -= k;
            self.prepare(k);
            let t = Instant::now();
            self.run_prepared();
            total += t.elapsed();
            self.finish();
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
pub fn w3_setup() -> Cluster {
    Cluster::elected(3, Opts::default())
}

/// W3: the leader proposes min(b, remaining) entries (one `Input::Propose`
/// each, fresh 128-byte payload, each with its Ready cycle), then one
/// shuttle round; rounds continue until all three nodes applied all `n`
/// entries. Checks the outcome (untimed).
pub fn w3_run(c: &mut Cluster, n: u64, b: u64) -> W3Run {
    let target = Index(1 + n); // index 1 is the leader's no-op
    let stepped0 = c.stepped;
    let mut proposed = 0u64;
    let mut rounds = 0u64;
    let t = Instant::now();
    loop {
        let k = b.min(n - proposed);
        for _ in 0..k {
            proposed += 1;
            c.cycle(1, Input::Propose { id: RequestId(proposed), command: Bytes::from(payload(proposed)) });
        }
        let msgs = c.round();
        rounds += 1;
        if proposed == n && c.hosts.iter().all(|h| h.applied >= target) {
            break;
        }
        assert!(k > 0 || msgs > 0, "W3 stalled");
    }
    let elapsed = t.elapsed();
    for h in &c.hosts {
        assert_eq!(h.applied, target);
        assert_eq!(h.sm.count, target.0);
        assert_eq!(h.rejected, 0);
    }
    let sum = c.hosts[0].sm.checksum;
    assert!(c.hosts.iter().all(|h| h.sm.checksum == sum));
    W3Run { elapsed, rounds, stepped: c.stepped - stepped0 }
}

/// Not a WORKLOADS.md shape (for comparison only): [`w3_run`] with one
/// `Input::ProposeBatch` of min(b, remaining) commands per iteration.
pub fn w3_run_batched(c: &mut Cluster, n: u64, b: u64) -> W3Run {
    let target = Index(1 + n);
    let stepped0 = c.stepped;
    let mut proposed = 0u64;
    let mut rounds = 0u64;
    let t = Instant::now();
    loop {
        let k = b.min(n - proposed);
        if k > 0 {
            let commands = (proposed + 1..=proposed + k).map(|s| Bytes::from(payload(s))).collect();
            c.cycle(1, Input::ProposeBatch { id: RequestId(proposed + 1), commands });
            proposed += k;
        }
        let msgs = c.round();
        rounds += 1;
        if proposed == n && c.hosts.iter().all(|h| h.applied >= target) {
            break;
        }
        assert!(k > 0 || msgs > 0, "W3 stalled");
    }
    let elapsed = t.elapsed();
    for h in &c.hosts {
        assert_eq!(h.applied, target);
        assert_eq!(h.rejected, 0);
    }
    W3Run { elapsed, rounds, stepped: c.stepped - stepped0 }
}

// ---------------------------------------------------------------- W4

/// W4: a fresh 5-node cluster (untimed); then node 1 campaigns and messages
/// are delivered one at a time FIFO, each receiver running its Ready cycle,
/// until node 1 reports Leader after a step. Returns the elapsed time and
/// the messages stepped.
pub fn w4_once() -> (Duration, u64) {
    let mut c = Cluster::fresh(5, Opts::default());
    let mut q: VecDeque<Message> = VecDeque::with_capacity(64);
    let hosts = &mut c.hosts;
    let mut stepped = 0u64;

    let t = Instant::now();
    hosts[0].cycle(Input::Campaign, &mut q);
    loop {
        let m = q.pop_front().expect("election stalled");
        let to = m.to.0 as usize;
        hosts[to - 1].step(Input::Receive(m));
        stepped += 1;
        if to == 1 && hosts[0].node.role() == Role::Leader {
            break;
        }
        hosts[to - 1].handle(&mut q);
    }
    let elapsed = t.elapsed();

    assert_eq!(hosts[0].node.term(), Term(1));
    drop(q);
    drop(c);
    (elapsed, stepped)
}

// ---------------------------------------------------------------- W5

/// W5: an elected 5-node cluster, nodes detached; heartbeat every tick.
pub struct W5 {
    /// The leader.
    pub leader: Host,
    /// Node 2.
    pub follower: Host,
    hb: Message,
    chunk: Vec<Message>,
    out: Vec<Message>,
    k: u64,
}

impl W5 {
    /// Setup; also takes a real heartbeat to node 2 from one leader tick.
    pub fn new(opts: Opts) -> W5 {
        let mut c = Cluster::elected(5, opts);
        let follower = c.hosts.remove(1);
        let mut leader = c.hosts.remove(0);
        let mut out = Vec::with_capacity(4 * CHUNK);
        leader.cycle(Input::Tick, &mut out);
        assert_eq!(out.len(), 4);
        let hb = out.iter().find(|m| m.to == NodeId(2)).expect("heartbeat to 2").clone();
        let MessageBody::Heartbeat(h) = hb.body else { panic!("not a heartbeat: {hb:?}") };
        assert_eq!((hb.term, h.leader_commit), (Term(1), Index(1)));
        out.clear();
        W5 { leader, follower, hb, chunk: Vec::with_capacity(CHUNK), out, k: 0 }
    }

    /// W5a, timed: `k` leader ticks, each with its Ready cycle.
    #[inline(never)]
    pub fn ticks(&mut self, k: u64) {
        for _ in 0..k {
            self.leader.cycle(Input::Tick, &mut self.out);
        }
    }

    /// W5a, untimed: checks `k` ticks' heartbeats.
    pub fn finish_ticks(&mut self, k: u64) {
        assert_eq!(self.out.len() as u64, 4 * k, "4 heartbeats per tick");
        assert!(self.out.iter().all(|m| matches!(m.body, MessageBody::Heartbeat(_))));
        self.out.clear();
        assert_eq!(self.leader.node.role(), Role::Leader);
    }

    /// W5a: `ops` leader ticks, each with its Ready cycle.
    pub fn run_tick(&mut self, ops: u64) -> Duration {
        let mut total = Duration::ZERO;
        let mut left = ops;
        while left > 0 {
            let k = left.min(CHUNK as u64);
            left -= k;
            let t = Instant::now();
            self.ticks(k);
            total += t.elapsed();
            self.finish_ticks(k);
        }
        total
    }

    /// W5b, untimed: `k` copies of the heartbeat.
    pub fn prepare_heartbeats(&mut self, k: u64) {
        self.k = k;
        for _ in 0..k {
            self.chunk.push(self.hb.clone());
        }
    }

    /// W5b, timed: node 2 steps the prepared heartbeats, each with its Ready
    /// cycle.
    #[inline(never)]
    pub fn heartbeats(&mut self) {
        for m in self.chunk.drain(..) {
            self.follower.cycle(Input::Receive(m), &mut self.out);
        }
    }

    /// W5b, untimed: checks one response per heartbeat.
    pub fn finish_heartbeats(&mut self) {
        assert_eq!(self.out.len() as u64, self.k, "one response per heartbeat");
        assert!(self.out.iter().all(|m| matches!(m.body, MessageBody::HeartbeatResponse(_)) && m.to == NodeId(1)));
        self.out.clear();
    }

    /// W5b: node 2 steps `ops` copies of a real heartbeat, each with its
    /// Ready cycle.
    pub fn run_heartbeat(&mut self, ops: u64) -> Duration {
        let mut total = Duration::ZERO;
        let mut left = ops;
        while left > 0 {
            let k = left.min(CHUNK as u64);
            left -= k;
            self.prepare_heartbeats(k);
            let t = Instant::now();
            self.heartbeats();
            total += t.elapsed();
            self.finish_heartbeats();
        }
        total
    }
}

// ---------------------------------------------------------------- reads

/// The drift bound of the lease-read workload (1%): with
/// `election_timeout_ticks_min = 10` the lease is
/// `ReadMode::max_lease_ticks(10, 10_000)` = 7 ticks.
pub const LEASE_DRIFT_PPM: u32 = 10_000;

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
/// the leader sends (`HeartbeatResponse` echoing its `read_round`).
///
/// Read index (`ReadMode::Index`), one iteration ([`Reads::index_iter`]):
/// k `Input::Read`s, each with its Ready cycle, then waves of heartbeat
/// responses (each with its Ready cycle) until the leader sends no more
/// heartbeats; all k reads must then be `ReadReady`. The clock stops while a
/// wave's responses are built from the heartbeats of the previous one.
///
/// Lease (`ReadMode::Lease`, [`Reads::run_lease`]): one operation is one
/// `Input::Read` answered at once; the lease is renewed untimed (one tick,
/// so one heartbeat round, and its responses) every [`CHUNK`] reads; the
/// leader's tick counter does not move inside the timed loop.
pub struct Reads {
    /// The leader.
    pub leader: Host,
    sends: Vec<Message>,
    responses: Vec<Message>,
    next_id: u64,
    commit: Index,
}

impl Reads {
    /// Setup: elected 3-node cluster (lease mode if `lease`), node 1 (the
    /// leader) taken out; in lease mode one confirmed round starts the
    /// lease.
    pub fn new(lease: bool) -> Reads {
        let read_mode = if lease {
            ReadMode::Lease {
                lease_ticks: ReadMode::max_lease_ticks(10, LEASE_DRIFT_PPM),
                clock_drift_bound_ppm: LEASE_DRIFT_PPM,
            }
        } else {
            ReadMode::Index
        };
        let mut c = Cluster::elected(3, Opts { read_mode, ..Opts::default() });
        let leader = c.hosts.remove(0);
        let commit = leader.committed();
        let mut r =
            Reads { leader, sends: Vec::with_capacity(64), responses: Vec::with_capacity(64), next_id: 1, commit };
        if lease {
            r.renew_lease();
        }
        r
    }

    /// Untimed: one response from its follower to every message sent (all
    /// must be heartbeats); returns the rounds (broadcasts) they belong to.
    fn build_responses(&mut self) -> u64 {
        let mut rounds = 0;
        let mut last_round = None;
        for m in self.sends.drain(..) {
            let MessageBody::Heartbeat(hb) = m.body else { panic!("not a heartbeat: {m:?}") };
            assert_eq!(m.from, NodeId(1));
            if last_round != Some(hb.read_round) {
                rounds += 1;
                last_round = Some(hb.read_round);
            }
            let body = MessageBody::HeartbeatResponse(HeartbeatResponse { read_round: hb.read_round });
            self.responses.push(message(m.to.0, 1, body));
        }
        rounds
    }

    /// Read index, one iteration of `k` reads; returns the time spent in
    /// steps + Ready cycles and the rounds / responses it took. Checks
    /// (untimed) that every read is ready, in order, at the commit index.
    pub fn index_iter(&mut self, k: u64) -> (Duration, ReadCounts) {
        let first = self.next_id;
        self.next_id += k;
        let mut counts = ReadCounts::default();
        let t = Instant::now();
        for id in first..first + k {
            self.leader.cycle(Input::Read { id: RequestId(id), wait: false }, &mut self.sends);
        }
        let mut total = t.elapsed();
        while !self.sends.is_empty() {
            counts.rounds += self.build_responses();
            counts.responses += self.responses.len() as u64;
            let t = Instant::now();
            for m in self.responses.drain(..) {
                self.leader.cycle(Input::Receive(m), &mut self.sends);
            }
            total += t.elapsed();
        }
        self.check_reads(first, k);
        (total, counts)
    }

    /// Read index: `iters` iterations of `k` reads (criterion's
    /// `iter_custom`).
    pub fn run_index(&mut self, k: u64, iters: u64) -> Duration {
        (0..iters).map(|_| self.index_iter(k).0).sum()
    }

    fn check_reads(&mut self, first: u64, k: u64) {
        assert_eq!(self.leader.reads.len() as u64, k, "every read confirmed");
        for (i, &(id, index)) in self.leader.reads.iter().enumerate() {
            assert_eq!((id, index), (RequestId(first + i as u64), self.commit));
        }
        self.leader.reads.clear();
        assert_eq!(self.leader.rejected, 0);
        assert_eq!(self.leader.node.role(), Role::Leader);
    }

    /// Untimed, lease mode: one tick (a heartbeat round goes out) and its
    /// responses: the lease runs from that tick.
    pub fn renew_lease(&mut self) {
        self.leader.cycle(Input::Tick, &mut self.sends);
        assert_eq!(self.build_responses(), 1, "one heartbeat round per tick");
        for m in self.responses.drain(..) {
            self.leader.cycle(Input::Receive(m), &mut self.sends);
        }
        assert!(self.sends.is_empty());
    }

    /// Lease, timed: `k` reads, each with its Ready cycle.
    #[inline(never)]
    pub fn lease_reads(&mut self, k: u64) {
        let first = self.next_id;
        self.next_id += k;
        for id in first..first + k {
            self.leader.cycle(Input::Read { id: RequestId(id), wait: false }, &mut self.sends);
        }
    }

    /// Lease: `ops` reads, each answered at once; the lease is renewed
    /// untimed every [`CHUNK`] reads. Returns the time of the reads.
    pub fn run_lease(&mut self, ops: u64) -> Duration {
        let mut total = Duration::ZERO;
        let mut left = ops;
        while left > 0 {
            let k = left.min(CHUNK as u64);
            left -= k;
            let first = self.next_id;
            let t = Instant::now();
            self.lease_reads(k);
            total += t.elapsed();
            assert!(self.sends.is_empty(), "lease reads send nothing");
            self.check_reads(first, k);
            self.renew_lease();
        }
        total
    }
}

// ---------------------------------------------------------------- floors

/// Floors A and C: a byte arena and an `(index, term, offset)` record vector.
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
