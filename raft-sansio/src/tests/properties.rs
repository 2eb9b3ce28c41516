//! Quickcheck properties over random schedules: messages dropped, duplicated,
//! reordered; partitions; crashes that lose unacknowledged Persists;
//! restarts; proposals anywhere; Persists acknowledged late and partially.
//! After every step the harness checks each node's invariants, at most one
//! leader per term, that committed prefixes agree, and that everything
//! applied anywhere was committed.

use alloc::vec::Vec;

use bytes::Bytes;
use quickcheck::{Arbitrary, Gen, QuickCheck};
use raft_sansio_proto::NodeId;

use super::harness::Cluster;
use crate::{Input, RequestId};

#[derive(Clone, Debug)]
enum Op {
    Tick(u8),
    TickAll,
    Deliver,
    DeliverAt(u16),
    DropAt(u16),
    DuplicateAt(u16),
    Propose(u8, u8),
    Persist(u8),
    PersistSome(u8, u8),
    Crash(u8),
    Restart(u8),
    Isolate(u8),
    Heal,
    Campaign(u8),
    ProposeToLeader(u8),
    PersistAllDeliverAll,
}

impl Arbitrary for Op {
    fn arbitrary(g: &mut Gen) -> Op {
        let node = u8::arbitrary(g);
        match u8::arbitrary(g) % 100 {
            0..=9 => Op::Tick(node),
            10..=17 => Op::TickAll,
            18..=39 => Op::Deliver,
            40..=45 => Op::DeliverAt(u16::arbitrary(g)),
            46..=48 => Op::DropAt(u16::arbitrary(g)),
            49..=51 => Op::DuplicateAt(u16::arbitrary(g)),
            52..=56 => Op::Propose(node, u8::arbitrary(g)),
            57..=63 => Op::ProposeToLeader(u8::arbitrary(g)),
            64..=75 => Op::Persist(node),
            76..=79 => Op::PersistSome(node, u8::arbitrary(g) % 3),
            80..=81 => Op::Crash(node),
            82..=85 => Op::Restart(node),
            86..=87 => Op::Isolate(node),
            88..=90 => Op::Heal,
            91..=94 => Op::PersistAllDeliverAll,
            _ => Op::Campaign(node),
        }
    }
}

/// Runs a schedule; the harness panics on any safety violation. Returns
/// the highest commit index reached (so tests can check they exercise
/// something).
fn run(n: u64, ops: &[Op], pre_vote: bool) -> u64 {
    let mut c = Cluster::new(n, |c| {
        c.pre_vote = pre_vote;
        c.max_inflight_msgs = 3;
        c.max_size_per_msg = 8;
    });
    c.auto_persist = false;
    let pick = |x: u8| NodeId(u64::from(x) % n + 1);
    let mut request = 0u64;
    for op in ops {
        match *op {
            Op::Tick(x) => {
                c.step(pick(x), Input::Tick);
            }
            Op::TickAll => {
                for id in c.ids() {
                    c.step(id, Input::Tick);
                }
            }
            Op::Deliver => {
                c.deliver_one();
            }
            Op::DeliverAt(i) => {
                if !c.network.is_empty() {
                    let i = usize::from(i) % c.network.len();
                    if let Some(m) = c.network.remove(i) {
                        c.network.push_front(m);
                        c.deliver_one();
                    }
                }
            }
            Op::DropAt(i) => {
                if !c.network.is_empty() {
                    let i = usize::from(i) % c.network.len();
                    c.network.remove(i);
                }
            }
            Op::DuplicateAt(i) => {
                if !c.network.is_empty() {
                    let i = usize::from(i) % c.network.len();
                    let m = c.network[i].clone();
                    c.network.push_back(m);
                }
            }
            Op::Propose(x, v) => {
                request += 1;
                c.step(pick(x), Input::Propose { id: RequestId(request), command: Bytes::from(alloc::vec![v]) });
            }
            Op::Persist(x) => c.persist(pick(x)),
            Op::PersistSome(x, k) => c.persist_some(pick(x), usize::from(k) + 1),
            Op::Crash(x) => {
                let id = pick(x);
                if c.hosts[&id].node.is_some() {
                    c.crash(id.0);
                }
            }
            Op::Restart(x) => {
                let id = pick(x);
                if c.hosts[&id].node.is_none() {
                    c.restart(id.0);
                }
            }
            Op::Isolate(x) => c.isolate(pick(x).0),
            Op::Heal => c.heal(),
            Op::Campaign(x) => {
                c.step(pick(x), Input::Campaign);
            }
            Op::ProposeToLeader(v) => {
                if let Some(l) = c.leader() {
                    request += 1;
                    c.step(l, Input::Propose { id: RequestId(request), command: Bytes::from(alloc::vec![v]) });
                }
            }
            Op::PersistAllDeliverAll => {
                for _ in 0..200 {
                    for id in c.ids() {
                        c.persist(id);
                    }
                    if !c.deliver_one() {
                        break;
                    }
                }
            }
        }
    }
    c.ids().iter().filter_map(|id| c.hosts[id].node.as_ref()).map(|n| n.commit_index().0).max().unwrap_or(0)
}

fn schedules(n: u64, pre_vote: bool, seed: u64, tests: u64) {
    fn prop3(ops: Vec<Op>) -> bool {
        run(3, &ops, true);
        true
    }
    fn prop3_no_prevote(ops: Vec<Op>) -> bool {
        run(3, &ops, false);
        true
    }
    fn prop5(ops: Vec<Op>) -> bool {
        run(5, &ops, true);
        true
    }
    let f: fn(Vec<Op>) -> bool = match (n, pre_vote) {
        (3, true) => prop3,
        (3, false) => prop3_no_prevote,
        _ => prop5,
    };
    QuickCheck::new().tests(tests).max_tests(tests).rng(Gen::from_size_and_seed(400, seed)).quickcheck(f);
}

#[test]
fn property_three_nodes_random_schedules_are_safe() {
    schedules(3, true, 1, 3000);
}

#[test]
fn property_three_nodes_without_pre_vote_are_safe() {
    schedules(3, false, 2, 3000);
}

#[test]
fn property_five_nodes_random_schedules_are_safe() {
    schedules(5, true, 3, 3000);
}

#[test]
fn property_schedules_reach_commits() {
    // The generator must make progress often, or the properties above
    // prove little: count schedules that commit past the no-op.
    let mut g = Gen::from_size_and_seed(400, 9);
    let mut committed = 0;
    for _ in 0..100 {
        let ops: Vec<Op> = Arbitrary::arbitrary(&mut g);
        if run(3, &ops, true) >= 2 {
            committed += 1;
        }
    }
    std::println!("{committed} of 100 schedules committed a proposal");
    assert!(committed >= 30, "only {committed} of 100 schedules committed a proposal");
}
