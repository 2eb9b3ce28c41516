//! Membership changes by joint consensus, learners, removal.
//! Lessons from etcd-io/raft's confchange tests and issues #10998, #12136,
//! #12582 and raft-rs #571.

use alloc::vec;

use raft_sansio_proto::{Index, NodeId};

use super::harness::Cluster;
use crate::{MemberChange, MembershipChange, Output, Role, Transition};

fn ids(v: &[u64]) -> alloc::vec::Vec<NodeId> {
    v.iter().copied().map(NodeId).collect()
}

fn proposed(out: &[Output]) -> bool {
    out.iter().any(|o| matches!(o, Output::Proposed { .. }))
}

fn settle(c: &mut Cluster) {
    for _ in 0..5 {
        c.tick_all();
    }
}

#[test]
fn membership_add_a_voter_that_catches_up_from_the_log() {
    let mut c = Cluster::new(3, |_| {});
    c.elect(1);
    c.propose(1, b"before");
    c.drive();
    c.add_host(4, |_| {});
    let out = c.change(1, MembershipChange::new([MemberChange::AddVoter(NodeId(4))]));
    assert!(proposed(&out), "{out:?}");
    settle(&mut c);
    assert_eq!(c.node(4).membership().voters, ids(&[1, 2, 3, 4]));
    assert_eq!(c.node(4).commit_index(), c.node(1).commit_index());
    assert!(c.host(4).applied.iter().any(|e| &e.payload[..] == b"before"));
}

#[test]
fn membership_add_two_voters_at_once_through_joint_consensus() {
    let mut c = Cluster::new(3, |_| {});
    c.elect(1);
    c.add_host(4, |_| {});
    c.add_host(5, |_| {});
    let out =
        c.change(1, MembershipChange::new([MemberChange::AddVoter(NodeId(4)), MemberChange::AddVoter(NodeId(5))]));
    assert!(proposed(&out));
    assert!(c.node(1).membership().is_joint(), "takes effect when appended");
    settle(&mut c);
    // Auto-leave: the leader left the joint configuration once it committed.
    for id in 1..=5 {
        let conf = c.node(id).membership();
        assert!(!conf.is_joint(), "node {id}");
        assert_eq!(conf.voters, ids(&[1, 2, 3, 4, 5]));
    }
}

#[test]
fn membership_joint_decisions_need_both_majorities() {
    let mut c = Cluster::new(3, |_| {});
    c.elect(1);
    c.add_host(4, |_| {});
    c.add_host(5, |_| {});
    let change = MembershipChange {
        changes: vec![MemberChange::AddVoter(NodeId(4)), MemberChange::AddVoter(NodeId(5))],
        transition: Transition::JointExplicit,
    };
    c.change(1, change);
    settle(&mut c);
    assert!(c.node(1).membership().is_joint());
    // The new nodes are down: {1, 2, 3} is a majority of the outgoing half
    // but only 3 of 5 incoming ... and {1, 2, 3} is a majority of both.
    c.crash(4);
    c.crash(5);
    c.propose(1, b"both");
    settle(&mut c);
    let committed = c.node(1).commit_index();
    assert_eq!(c.node(1).entry(committed).map(|e| &e.payload[..] == b"both"), Some(true));
    // Without 2 and 3, {1, 4, 5} is an incoming majority but not an
    // outgoing one: nothing commits.
    c.restart(4);
    c.restart(5);
    settle(&mut c);
    c.isolate(2);
    c.isolate(3);
    c.cut.retain(|(a, b)| !(*a == NodeId(1) || *b == NodeId(1)) || (a.0 <= 3 && b.0 <= 3));
    for (a, b) in [(1, 4), (1, 5), (4, 1), (5, 1), (4, 5), (5, 4)] {
        c.cut.remove(&(NodeId(a), NodeId(b)));
    }
    let before = c.node(1).commit_index();
    c.propose(1, b"incoming only");
    for _ in 0..3 {
        c.tick(1);
        c.drive();
    }
    assert_eq!(c.node(1).commit_index(), before, "committed without an outgoing majority");
}

#[test]
fn membership_remove_the_leader_it_steps_down_once_committed() {
    let mut c = Cluster::new(3, |_| {});
    c.elect(1);
    let out = c.change(1, MembershipChange::new([MemberChange::Remove(NodeId(1))]));
    assert!(proposed(&out));
    c.drive();
    assert_ne!(c.node(1).role(), Role::Leader, "it leads until the removal commits, then steps down");
    assert!(c.host(1).events.iter().any(|e| matches!(
        e,
        crate::Event::SteppedDown { reason: crate::StepDownReason::RemovedFromConfiguration, .. }
    )));
    let leader = c.tick_until_leader_among(&[2, 3], 100).expect("the others elect a leader");
    c.propose(leader, b"after");
    c.drive();
    assert_eq!(c.node(1).role(), Role::Follower);
    // The removed node neither campaigns nor votes.
    for _ in 0..60 {
        c.tick(1);
    }
    c.drive();
    assert_eq!(c.node(1).role(), Role::Follower);
}

#[test]
fn membership_replace_the_leader_in_one_joint_change() {
    let mut c = Cluster::new(3, |_| {});
    c.elect(1);
    c.add_host(4, |_| {});
    c.change(1, MembershipChange::new([MemberChange::Remove(NodeId(1)), MemberChange::AddVoter(NodeId(4))]));
    settle(&mut c);
    // Node 1 led through the joint configuration and stepped down once the
    // one without it committed; the others elect a leader among themselves.
    assert_ne!(c.node(1).role(), Role::Leader);
    let leader = c.tick_until_leader_among(&[2, 3, 4], 100).map(NodeId).expect("a leader");
    assert_ne!(leader, NodeId(1));
    let conf = c.node(leader.0).membership();
    assert_eq!(conf.voters, ids(&[2, 3, 4]));
    assert!(!conf.is_joint());
    assert_eq!(conf.removed, ids(&[1]));
}

#[test]
fn membership_replace_the_leader_in_one_joint_change_while_a_transfer_is_in_flight() {
    let mut c = Cluster::new(3, |_| {});
    c.elect(1);
    c.add_host(4, |_| {});
    // A transfer in flight refuses a membership change...
    c.cut(1, 2);
    let rid = c.transfer(1, 2);
    let out = c.change(1, MembershipChange::new([MemberChange::Remove(NodeId(1)), MemberChange::AddVoter(NodeId(4))]));
    assert!(
        out.iter().any(|o| matches!(o, Output::Rejected { reason: crate::RejectReason::TransferInProgress, .. })),
        "{out:?}"
    );
    // ...until it aborts.
    for _ in 0..25 {
        c.tick(1);
        c.drive();
    }
    assert_eq!(c.rejected(1, rid), Some(crate::RejectReason::TransferAborted));
    c.heal();
    // The joint change goes first, then the transfer starts while the joint
    // entry is still uncommitted: the target leads the joint configuration
    // and, as a new leader finding it with auto-leave, leaves it.
    let out = c.change(1, MembershipChange::new([MemberChange::Remove(NodeId(1)), MemberChange::AddVoter(NodeId(4))]));
    assert!(proposed(&out), "{out:?}");
    assert!(c.node(1).membership().is_joint());
    let rid = c.transfer(1, 2);
    assert_eq!(c.rejected(1, rid), None);
    settle(&mut c);
    assert_eq!(c.node(2).role(), Role::Leader, "the transfer completed: {:?} {:?}", c.leader(), c.host(1).events);
    for id in 2..=4 {
        let conf = c.node(id).membership();
        assert!(!conf.is_joint(), "node {id}");
        assert_eq!(conf.voters, ids(&[2, 3, 4]), "node {id}");
        assert_eq!(conf.removed, ids(&[1]));
    }
    c.propose(2, b"after");
    settle(&mut c);
    assert!(c.host(4).applied.iter().any(|e| &e.payload[..] == b"after"));
    // The removed leader stays out.
    for _ in 0..60 {
        c.tick(1);
    }
    c.drive();
    assert_ne!(c.node(1).role(), Role::Leader);
}

#[test]
fn membership_an_uncommitted_removal_truncated_away_leaves_the_node_a_member() {
    let mut c = Cluster::new(3, |_| {});
    c.elect(1);
    c.isolate(1);
    // The removal of 3 reaches nobody.
    c.change(1, MembershipChange::new([MemberChange::Remove(NodeId(3))]));
    c.drive();
    assert_eq!(c.node(1).membership().voters, ids(&[1, 2]), "in effect on the leader once appended");
    // 2 and 3 elect a new leader; 1 rejoins and its entry is truncated.
    let leader = c.tick_until_leader_among(&[2, 3], 100).expect("new leader");
    c.propose(leader, b"x");
    c.drive();
    c.heal();
    settle(&mut c);
    assert_eq!(c.node(1).membership().voters, ids(&[1, 2, 3]), "truncation restored the configuration");
    assert!(c.node(1).membership().removed.is_empty());
}

#[test]
fn membership_a_removed_id_is_never_reused() {
    let mut c = Cluster::new(3, |_| {});
    c.elect(1);
    c.change(1, MembershipChange::new([MemberChange::Remove(NodeId(3))]));
    settle(&mut c);
    let out = c.change(1, MembershipChange::new([MemberChange::AddVoter(NodeId(3))]));
    assert!(
        matches!(
            out[..],
            [Output::Rejected {
                reason: crate::RejectReason::InvalidMembershipChange { reason: crate::ChangeError::IdReused(_) },
                ..
            }]
        ),
        "{out:?}"
    );
}

#[test]
fn membership_one_change_at_a_time_and_not_before_the_term_commits() {
    let mut c = Cluster::new(3, |_| {});
    c.elect(1);
    c.add_host(4, |_| {});
    c.add_host(5, |_| {});
    c.isolate(1);
    let out = c.change(1, MembershipChange::new([MemberChange::AddLearner(NodeId(4))]));
    assert!(proposed(&out));
    let out = c.change(1, MembershipChange::new([MemberChange::AddLearner(NodeId(5))]));
    assert!(matches!(out[..], [Output::Rejected { reason: crate::RejectReason::MembershipChangeInProgress, .. }]));
}

#[test]
fn membership_a_learner_never_campaigns_even_when_most_up_to_date() {
    let mut c = Cluster::new(3, |_| {});
    c.elect(1);
    c.add_host(4, |_| {});
    c.change(1, MembershipChange::new([MemberChange::AddLearner(NodeId(4))]));
    settle(&mut c);
    c.propose(1, b"x");
    c.drive();
    // The learner holds everything; the voters 2 and 3 are down.
    c.crash(1);
    c.crash(2);
    c.crash(3);
    for _ in 0..100 {
        c.tick(4);
        c.drive();
    }
    assert_eq!(c.node(4).role(), Role::Follower);
    assert_eq!(c.node(4).term(), c.node(4).term());
    let _ = c.step(NodeId(4), crate::Input::Campaign);
    assert_eq!(c.node(4).role(), Role::Follower);
    let _ = Index(0);
}

#[test]
fn membership_leader_change_while_joint_with_auto_leave() {
    let mut c = Cluster::new(3, |_| {});
    c.elect(1);
    c.add_host(4, |_| {});
    c.add_host(5, |_| {});
    c.change(1, MembershipChange::new([MemberChange::AddVoter(NodeId(4)), MemberChange::AddVoter(NodeId(5))]));
    // The joint entry commits, but the leader dies before leaving.
    c.drive();
    c.crash(1);
    // Whoever takes over finds a joint configuration with auto-leave and
    // leaves it once its no-op commits.
    settle(&mut c);
    for _ in 0..10 {
        c.tick_all();
    }
    let leader = c.leader().expect("a leader");
    let conf = c.node(leader.0).membership();
    assert!(!conf.is_joint(), "{conf:?}");
    assert_eq!(conf.voters, ids(&[1, 2, 3, 4, 5]));
}

#[test]
fn membership_restart_in_the_middle_of_a_joint_configuration() {
    let mut c = Cluster::new(3, |_| {});
    c.elect(1);
    c.add_host(4, |_| {});
    let change = MembershipChange {
        changes: vec![MemberChange::AddVoter(NodeId(4)), MemberChange::Remove(NodeId(3))],
        transition: Transition::JointExplicit,
    };
    c.change(1, change);
    settle(&mut c);
    for id in 1..=4 {
        c.crash(id);
        c.restart(id);
    }
    for id in 1..=4 {
        let conf = c.node(id).membership();
        assert!(conf.is_joint(), "node {id} restored the joint configuration: {conf:?}");
        assert_eq!(conf.voters_outgoing, ids(&[1, 2, 3]));
        assert_eq!(conf.voters, ids(&[1, 2, 4]));
    }
    // Both quorums are used: with 3 and 4 down, {1, 2} is a majority of
    // both halves; with 1 and 2 down nothing can be elected.
    c.crash(3);
    c.crash(4);
    let leader = c.tick_until_leader(100).expect("{1, 2} decides");
    assert!(leader == NodeId(1) || leader == NodeId(2));
    let out = c.change(leader.0, MembershipChange::leave_joint());
    assert!(proposed(&out), "{out:?}");
    settle(&mut c);
    assert!(!c.node(leader.0).membership().is_joint());
}

#[test]
fn membership_a_second_leave_is_a_no_op() {
    let mut c = Cluster::new(3, |_| {});
    c.elect(1);
    c.add_host(4, |_| {});
    let change =
        MembershipChange { changes: vec![MemberChange::AddVoter(NodeId(4))], transition: Transition::JointExplicit };
    c.change(1, change);
    settle(&mut c);
    assert!(proposed(&c.change(1, MembershipChange::leave_joint())));
    settle(&mut c);
    let out = c.change(1, MembershipChange::leave_joint());
    assert!(matches!(
        out[..],
        [Output::Rejected {
            reason: crate::RejectReason::InvalidMembershipChange { reason: crate::ChangeError::NotJoint },
            ..
        }]
    ));
    assert!(!c.node(1).membership().is_joint());
}
