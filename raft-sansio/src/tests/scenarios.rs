use bytes::Bytes;
use raft_sansio_proto::{EntryKind, Index, NodeId, Term};

use super::harness::Cluster;
use crate::{Input, Output, Role};

// Reference: Raft §5.2. A single voter elects itself at its first election
// timeout and commits its no-op as soon as it is durable.
#[test]
fn election_single_node_elects_itself_and_commits_noop_once_persisted() {
    let mut c = Cluster::new(1, |_| {});
    c.auto_persist = false;
    // The bootstrap configuration is persisted by the first step.
    let mut ticks = 0;
    while c.node(1).role() != Role::Candidate {
        c.tick(1);
        ticks += 1;
        assert!(ticks <= 20, "no election within the maximum timeout");
    }
    assert!(ticks >= 10, "campaigned before the minimum election timeout");
    // The candidate's vote is not durable: it cannot lead yet.
    assert_eq!(c.node(1).role(), Role::Candidate);
    c.persist(NodeId(1));
    assert_eq!(c.node(1).role(), Role::Leader);
    let noop = c.node(1).last_index();
    assert_eq!(c.node(1).entry(noop).map(|e| e.kind), Some(EntryKind::Noop));
    assert_eq!(c.node(1).commit_index(), Index(0), "committed before the no-op is durable");
    c.persist(NodeId(1));
    assert_eq!(c.node(1).commit_index(), noop);
    assert_eq!(c.host(1).applied.last().map(|e| e.index), Some(noop));
}

#[test]
fn election_three_nodes_and_replication() {
    let mut c = Cluster::new(3, |_| {});
    c.record_trace = true;
    c.elect(1);
    for line in &c.trace {
        std::println!("{line}");
    }
    assert_eq!(c.node(1).term(), Term(1));
    for id in [2, 3] {
        assert_eq!(c.node(id).leader(), Some(NodeId(1)));
        assert_eq!(c.node(id).commit_index(), Index(1));
    }
    let out = c.propose(1, b"x=1");
    assert!(matches!(out[..], [Output::Proposed { index: Index(2), term: Term(1), .. }]), "{out:?}");
    c.drive();
    for id in 1..=3 {
        assert_eq!(c.node(id).commit_index(), Index(2), "node {id}");
        assert_eq!(c.host(id).applied.last().map(|e| e.payload.clone()), Some(Bytes::from_static(b"x=1")));
    }
}

#[test]
fn election_five_nodes_leader_crash_and_reelection() {
    let mut c = Cluster::new(5, |_| {});
    c.elect(1);
    c.propose(1, b"a");
    c.drive();
    c.crash(1);
    let leader = c.tick_until_leader(100).expect("a new leader");
    assert_ne!(leader, NodeId(1));
    let l = leader.0;
    assert!(c.node(l).term() > Term(1));
    c.propose(l, b"b");
    c.drive();
    for id in 2..=5 {
        assert_eq!(c.node(id).commit_index(), c.node(l).last_index());
    }
    c.restart(1);
    for _ in 0..5 {
        c.tick_all();
    }
    assert_eq!(c.node(1).commit_index(), c.node(l).commit_index());
    assert_eq!(c.node(1).role(), Role::Follower);
}

#[test]
fn proposals_off_the_leader_are_rejected_with_a_hint_or_forwarded() {
    let mut c = Cluster::new(3, |c| c.forward_proposals = c.id == NodeId(3));
    c.elect(1);
    let out = c.propose(2, b"x");
    assert!(
        matches!(
            out[..],
            [Output::Rejected { reason: crate::RejectReason::NotLeader { leader_hint: Some(NodeId(1)) }, .. }]
        ),
        "{out:?}"
    );
    let out = c.propose(3, b"y");
    assert!(matches!(out[..], [Output::ProposalForwarded { leader: NodeId(1), .. }]), "{out:?}");
    c.drive();
    assert_eq!(c.node(1).commit_index(), Index(2));
    assert_eq!(c.node(1).entry(Index(2)).map(|e| e.payload.clone()), Some(Bytes::from_static(b"y")));
    let _ = Input::Tick;
}
