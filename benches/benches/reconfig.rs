#![allow(missing_docs)] // criterion_group! generates undocumented functions.
//! Snapshot install and membership changes through the core.
//!
//! - `snapshot_install/{core,copy}`: one iteration installs a 64 MiB
//!   snapshot on a new learner in 1 MiB chunks (`Config::snapshot_chunk_bytes`),
//!   from the leader's first append to the learner to the learner's
//!   `ApplySnapshot`. Messages go straight from node to node (no codec) and
//!   every `Persist` is acknowledged at once; `core` drops the chunk bytes,
//!   `copy` copies them into the host's buffer, as an in-memory store
//!   would. Throughput is snapshot bytes per second.
//! - `membership/{add_voter,joint_add_two}`: one iteration is one change on
//!   an elected three-voter cluster, from `ChangeMembership` on the leader
//!   until every member has the resulting configuration committed (for the
//!   joint change, until the joint configuration is left). The steps and
//!   messages it takes are counted once and printed.
//!
//! Run with `cargo bench -p raft-sansio-benches --bench reconfig`.

use std::collections::VecDeque;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use raft_sansio::{
    ConfState, Config, EntryId, Index, Input, MemberChange, MembershipChange, Message, Node, NodeId, Output, RequestId,
    RestoredState, SnapshotMeta,
};

const SNAPSHOT_BYTES: usize = 64 << 20;
const CHUNK_BYTES: u64 = 1 << 20;

/// Nodes that exchange messages directly and persist at once.
struct Net {
    nodes: Vec<Node>,
    queue: VecDeque<Message>,
    out: Vec<Output>,
    /// Copy received snapshot chunks into `buffer`.
    copy_chunks: bool,
    buffer: Vec<u8>,
    steps: u64,
    messages: u64,
    snapshots_applied: u64,
}

fn config(id: u64) -> Config {
    let mut c = Config::new(NodeId(id), 0xC0FF_EE00 + id);
    c.pre_vote = false;
    c.election_timeout_ticks_min = 10;
    c.election_timeout_ticks_max = 20;
    c.heartbeat_interval_ticks = 1;
    c.max_inflight_msgs = 256;
    c.max_inflight_bytes = 64 << 20;
    c.snapshot_chunk_bytes = CHUNK_BYTES;
    c.snapshot_trailing_entries = 0;
    c.emit_events = false;
    c
}

fn node(id: u64, voters: &[u64]) -> Node {
    let state = if voters.is_empty() {
        RestoredState::default()
    } else {
        RestoredState {
            snapshot: Some(SnapshotMeta {
                last: EntryId::ZERO,
                conf_state: ConfState::with_voters(voters.iter().copied().map(NodeId)),
            }),
            ..RestoredState::default()
        }
    };
    Node::new(config(id), state).expect("valid")
}

impl Net {
    fn new(nodes: Vec<Node>) -> Net {
        Net {
            nodes,
            queue: VecDeque::new(),
            out: Vec::new(),
            copy_chunks: false,
            buffer: Vec::new(),
            steps: 0,
            messages: 0,
            snapshots_applied: 0,
        }
    }

    fn index_of(&self, id: NodeId) -> usize {
        self.nodes.iter().position(|n| n.id() == id).expect("known node")
    }

    /// Steps `input` into node `i` and carries out its outputs (persisting
    /// and acknowledging at once, applying by reporting `Applied`).
    fn step(&mut self, i: usize, input: Input) {
        let mut pending = VecDeque::from([input]);
        while let Some(input) = pending.pop_front() {
            self.steps += 1;
            self.nodes[i].step_into(input, &mut self.out);
            for o in self.out.drain(..) {
                match o {
                    Output::Send { message, .. } => {
                        self.messages += 1;
                        self.queue.push_back(message);
                    }
                    Output::Persist(p) => {
                        if let Some(chunk) = &p.snapshot_chunk {
                            if self.copy_chunks {
                                if chunk.offset == 0 {
                                    self.buffer.clear();
                                }
                                self.buffer.extend_from_slice(&chunk.data);
                            }
                        }
                        pending.push_back(Input::Persisted { up_to_seq: p.seq });
                    }
                    Output::Apply { entries } => {
                        let index = entries.last().expect("non-empty").index;
                        pending.push_back(Input::Applied { index });
                    }
                    Output::ApplySnapshot { .. } => self.snapshots_applied += 1,
                    _ => {}
                }
            }
        }
    }

    fn drive(&mut self) {
        while let Some(m) = self.queue.pop_front() {
            let Some(i) = self.nodes.iter().position(|n| n.id() == m.to) else { continue };
            self.step(i, Input::Receive(m));
        }
    }

    fn tick_all(&mut self) {
        for i in 0..self.nodes.len() {
            self.step(i, Input::Tick);
        }
        self.drive();
    }
}

/// A single-voter leader holding a 64 MiB snapshot with its log compacted,
/// and a new learner it must send that snapshot to.
fn snapshot_setup(copy_chunks: bool) -> Net {
    let mut net = Net::new(vec![node(1, &[1]), node(2, &[])]);
    net.copy_chunks = copy_chunks;
    net.step(0, Input::Campaign);
    for k in 0..16u64 {
        net.step(0, Input::Propose { id: RequestId(k), command: Bytes::from(vec![k as u8; 64]) });
    }
    let applied = net.nodes[0].applied_index();
    net.step(0, Input::SnapshotTaken { index: applied, data: Bytes::from(vec![7u8; SNAPSHOT_BYTES]) });
    assert!(net.nodes[0].first_index() > Index(1), "compacted");
    net.step(0, Input::ChangeMembership { id: RequestId(99), change: learner_change() });
    net.messages = 0;
    net.steps = 0;
    net
}

fn learner_change() -> MembershipChange {
    MembershipChange::new([MemberChange::AddLearner(NodeId(2))])
}

fn install(mut net: Net) -> Net {
    net.drive();
    assert_eq!(net.snapshots_applied, 1, "the learner installed the snapshot");
    net
}

/// Three elected voters, and fresh nodes 4 and 5 waiting to join.
fn cluster_setup() -> Net {
    let mut net =
        Net::new(vec![node(1, &[1, 2, 3]), node(2, &[1, 2, 3]), node(3, &[1, 2, 3]), node(4, &[]), node(5, &[])]);
    net.step(0, Input::Campaign);
    net.drive();
    net.tick_all();
    assert_eq!(net.nodes[0].role(), raft_sansio::Role::Leader);
    net.steps = 0;
    net.messages = 0;
    net
}

/// Runs `change` on the leader until every member of the result holds it
/// committed (and not joint).
fn change(mut net: Net, change: MembershipChange, expect_voters: &[u64]) -> Net {
    net.step(0, Input::ChangeMembership { id: RequestId(1), change });
    let want: Vec<NodeId> = expect_voters.iter().copied().map(NodeId).collect();
    for _ in 0..100 {
        net.drive();
        let done = want.iter().all(|&id| {
            let n = &net.nodes[net.index_of(id)];
            let conf = n.membership();
            !conf.is_joint() && conf.voters == want && n.commit_index() == net.nodes[0].last_index()
        });
        if done {
            return net;
        }
        net.tick_all();
    }
    panic!("the change did not complete");
}

fn reconfig(c: &mut Criterion) {
    // Counts, once: they are deterministic.
    let net = install(snapshot_setup(false));
    println!(
        "snapshot_install: {} MiB in {} KiB chunks: {} steps, {} messages",
        SNAPSHOT_BYTES >> 20,
        CHUNK_BYTES >> 10,
        net.steps,
        net.messages
    );
    let add = || MembershipChange::new([MemberChange::AddVoter(NodeId(4))]);
    let add_two = || MembershipChange::new([MemberChange::AddVoter(NodeId(4)), MemberChange::AddVoter(NodeId(5))]);
    let net = change(cluster_setup(), add(), &[1, 2, 3, 4]);
    println!("membership add_voter (3 -> 4 voters, one step): {} steps, {} messages", net.steps, net.messages);
    let net = change(cluster_setup(), add_two(), &[1, 2, 3, 4, 5]);
    println!("membership joint_add_two (3 -> 5 voters, joint): {} steps, {} messages", net.steps, net.messages);

    let mut g = c.benchmark_group("snapshot_install");
    g.sample_size(20);
    g.throughput(Throughput::Bytes(SNAPSHOT_BYTES as u64));
    g.bench_function("core", |b| b.iter_batched(|| snapshot_setup(false), install, BatchSize::LargeInput));
    g.bench_function("copy", |b| b.iter_batched(|| snapshot_setup(true), install, BatchSize::LargeInput));
    g.finish();

    let mut g = c.benchmark_group("membership");
    g.bench_function("add_voter", |b| {
        b.iter_batched(cluster_setup, |net| change(net, add(), &[1, 2, 3, 4]), BatchSize::SmallInput)
    });
    g.bench_function("joint_add_two", |b| {
        b.iter_batched(cluster_setup, |net| change(net, add_two(), &[1, 2, 3, 4, 5]), BatchSize::SmallInput)
    });
    g.finish();
}

criterion_group!(benches, reconfig);
criterion_main!(benches);
