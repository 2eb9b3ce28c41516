//! Linearizable reads (read index, lease, follower reads) and leadership
//! transfer. The historical bugs of this class: etcd #7331 and #20418,
//! raft-rs #140, tikv #15035, openraft #1747.

use alloc::vec::Vec;

use raft_sansio_proto::{Index, Message, MessageBody, NodeId};

use super::harness::Cluster;
use crate::{Config, Input, ReadMode, RejectReason, Role};

fn lease(c: &mut Config) {
    c.read_mode = ReadMode::Lease { lease_ticks: 8, clock_drift_bound_ppm: 0 };
}

fn heartbeats_sent(c: &Cluster) -> usize {
    c.delivered.get("Heartbeat").copied().unwrap_or(0)
}

#[test]
fn read_index_on_the_leader_is_confirmed_by_a_round() {
    let mut c = Cluster::new(3, |_| {});
    c.elect(1);
    c.propose(1, b"x");
    c.drive();
    let rid = c.read(1, true);
    assert_eq!(c.read_ready(1, rid), None, "answered before a quorum confirmed leadership");
    c.drive();
    assert_eq!(c.read_ready(1, rid), Some(c.node(1).commit_index()));
}

// etcd #7331: a deposed leader that has not heard of its deposition must
// never answer a read-index read (with stale data).
#[test]
fn read_deposed_leader_never_answers_a_read() {
    let mut c = Cluster::new(5, |_| {});
    c.elect(1);
    c.isolate(1);
    // The majority elects a new leader and commits a write.
    let leader = c.tick_until_leader_among(&[2, 3, 4, 5], 100).expect("new leader");
    c.propose(leader, b"new");
    c.drive();
    assert_eq!(c.node(1).role(), Role::Leader, "node 1 has not heard of its deposition");
    let rid = c.read(1, true);
    for _ in 0..5 {
        c.tick(1);
        c.drive();
    }
    assert_eq!(c.read_ready(1, rid), None, "a deposed leader served a read");
}

#[test]
fn read_delayed_and_duplicated_acks_of_an_old_round_confirm_nothing() {
    let mut c = Cluster::new(3, |_| {});
    c.elect(1);
    // A round whose acks we keep.
    c.tick(1);
    c.deliver_one();
    c.deliver_one();
    let mut old_acks = Vec::new();
    while let Some(m) = c.network.pop_front() {
        if matches!(m.body, MessageBody::HeartbeatResponse(_)) {
            old_acks.push(m);
        }
    }
    assert_eq!(old_acks.len(), 2);
    // A read starts a new round; its acks are all lost.
    let rid = c.read(1, true);
    c.network.clear();
    // The old round's acks arrive late, twice.
    for m in old_acks.iter().chain(old_acks.iter()) {
        c.step(NodeId(1), Input::Receive(m.clone()));
    }
    assert_eq!(c.read_ready(1, rid), None, "an old round's ack confirmed a newer read");
    // A later round confirms it.
    c.tick(1);
    c.drive();
    assert!(c.read_ready(1, rid).is_some());
}

#[test]
fn read_follower_hop_ignores_delayed_and_duplicated_replies() {
    let mut c = Cluster::new(3, |_| {});
    c.elect(1);
    let first = c.read(2, true);
    c.drive();
    assert!(c.read_ready(2, first).is_some());
    // Replay the leader's reply to the first read: it names a finished
    // context and completes nothing else.
    let second = c.read(2, true);
    let stale = Message {
        from: NodeId(1),
        to: NodeId(2),
        term: c.node(2).term(),
        body: MessageBody::ReadIndexResponse(raft_sansio_proto::ReadIndexResponse { context: 1, result: Ok(Index(0)) }),
    };
    c.network.clear();
    c.step(NodeId(2), Input::Receive(stale.clone()));
    c.step(NodeId(2), Input::Receive(stale));
    assert_eq!(c.read_ready(2, second), None, "a reply to an earlier request completed a later read");
    // The real request is answered once the follower has the index committed.
    let third = c.read(2, true);
    c.drive();
    assert!(c.read_ready(2, third).is_some());
}

#[test]
fn read_reads_admitted_together_share_one_round() {
    let mut c = Cluster::new(3, |_| {});
    c.elect(1);
    let before = heartbeats_sent(&c);
    let ids: Vec<_> = (0..10).map(|_| c.read(1, true)).collect();
    c.drive();
    for rid in ids {
        assert!(c.read_ready(1, rid).is_some());
    }
    // The first read sends a round; the nine admitted while it was in
    // flight share the next one: two rounds of two heartbeats, not ten.
    assert_eq!(heartbeats_sent(&c) - before, 4);
}

#[test]
fn read_new_leader_serves_nothing_before_its_noop_commits() {
    for lease_mode in [false, true] {
        let mut c = Cluster::new(3, |c| {
            if lease_mode {
                lease(c);
            }
        });
        c.isolate(1);
        c.step(NodeId(1), Input::Campaign);
        // Let node 1 win, but hold its appends back.
        c.heal();
        while c.node(1).role() != Role::Leader {
            assert!(c.deliver_one());
        }
        c.network.retain(|m| !matches!(m.body, MessageBody::AppendEntries(_)));
        let now = c.read(1, false);
        assert_eq!(c.rejected(1, now), Some(RejectReason::TermNotCommitted));
        let queued = c.read(1, true);
        assert_eq!(c.read_ready(1, queued), None);
        // Rounds alone do not commit the no-op: still nothing, although a
        // quorum answers them.
        c.tick(1);
        loop {
            c.network.retain(|m| !matches!(m.body, MessageBody::AppendEntries(_)));
            if !c.deliver_one() {
                break;
            }
        }
        assert!(c.node(1).commit_index() < c.node(1).last_index());
        assert_eq!(c.read_ready(1, queued), None, "served before the no-op committed (lease: {lease_mode})");
        // Once the no-op commits, the read goes through.
        c.tick(1);
        c.tick(1);
        c.drive();
        c.tick(1);
        c.drive();
        assert!(c.read_ready(1, queued).is_some(), "lease: {lease_mode}");
    }
}

#[test]
fn lease_read_is_answered_at_once_while_the_lease_holds() {
    let mut c = Cluster::new(3, lease);
    c.elect(1);
    c.tick(1);
    c.drive();
    let before = heartbeats_sent(&c);
    let rid = c.read(1, true);
    assert!(c.read_ready(1, rid).is_some(), "no lease read with a fresh lease");
    assert_eq!(heartbeats_sent(&c), before, "a lease read sent a round");
}

// The lease runs from the tick the round was *sent*, not from when its acks
// arrived: acks delayed by most of the lease still leave the lease ending on
// time.
#[test]
fn lease_acks_delayed_by_most_of_the_lease_do_not_extend_it() {
    let mut c = Cluster::new(3, |cfg| {
        lease(cfg);
        cfg.heartbeat_interval_ticks = 20;
        cfg.election_timeout_ticks_min = 30;
        cfg.election_timeout_ticks_max = 60;
        cfg.read_mode = ReadMode::Lease { lease_ticks: 8, clock_drift_bound_ppm: 0 };
    });
    c.elect(1);
    c.drive();
    // Send a round now (tick t0) and hold its acks for 7 ticks.
    let r0 = c.read(1, true);
    let _ = r0;
    let mut held = Vec::new();
    c.deliver_one();
    c.deliver_one();
    while let Some(m) = c.network.pop_front() {
        held.push(m);
    }
    for _ in 0..7 {
        c.tick(1);
    }
    for m in held {
        c.step(m.to, Input::Receive(m));
    }
    // Tick t0 + 7: the lease (8 ticks from t0) still holds.
    let inside = c.read(1, true);
    assert!(c.read_ready(1, inside).is_some());
    // Tick t0 + 8: it ended, although the acks arrived only a tick ago.
    c.tick(1);
    let outside = c.read(1, true);
    assert_eq!(c.read_ready(1, outside), None, "the lease ran from the acks' arrival");
}

// tikv #15035: a follower of the lease quorum restarts and is at once asked
// to vote. If it voted, a new leader could be elected while the old one
// still serves lease reads.
#[test]
fn lease_restarted_follower_does_not_vote_within_the_lease() {
    let mut c = Cluster::new(3, lease);
    c.elect(1);
    c.tick(1);
    c.drive();
    c.crash(2);
    c.restart(2);
    // Node 3 loses contact with the leader and campaigns at once (an
    // explicit campaign without pre-vote would be refused by its own lease
    // rule; a timeout campaign is the realistic path).
    c.isolate(1);
    for _ in 0..25 {
        c.tick(3);
        c.drive();
    }
    assert_ne!(c.node(3).role(), Role::Leader, "elected with the vote of a restarted lease follower");
    // Meanwhile node 1's lease read is still safe: nobody else leads.
    let rid = c.read(1, true);
    let _ = rid;
    assert!(c.leader() == Some(NodeId(1)));
}

#[test]
fn lease_paused_leader_resumes_with_its_missed_ticks_first() {
    let mut c = Cluster::new(3, lease);
    c.elect(1);
    c.tick(1);
    c.drive();
    // Node 1 is paused: no ticks, no messages. The others elect a leader.
    c.isolate(1);
    let leader = c.tick_until_leader_among(&[2, 3], 100).expect("new leader");
    c.propose(leader, b"new");
    c.drive();
    c.heal();
    // On resume the missed ticks come first: the lease has expired by then.
    for _ in 0..30 {
        c.tick(1);
    }
    c.isolate(1);
    let rid = c.read(1, true);
    assert_eq!(c.read_ready(1, rid), None, "a paused leader served a lease read after resuming");
}

#[test]
fn transfer_to_an_up_to_date_follower() {
    let mut c = Cluster::new(3, |_| {});
    c.elect(1);
    c.propose(1, b"x");
    c.drive();
    c.transfer(1, 2);
    c.drive();
    assert_eq!(c.node(2).role(), Role::Leader);
    assert_eq!(c.node(1).role(), Role::Follower);
}

#[test]
fn transfer_to_a_lagging_follower_catches_it_up_first() {
    let mut c = Cluster::new(3, |_| {});
    c.elect(1);
    c.isolate(3);
    for _ in 0..5 {
        c.propose(1, b"x");
    }
    c.drive();
    c.heal();
    let rid = c.transfer(1, 3);
    // Proposals wait while the transfer is in progress.
    let out = c.propose(1, b"blocked");
    assert!(matches!(out[..], [crate::Output::Rejected { reason: RejectReason::TransferInProgress, .. }]));
    c.drive();
    assert_eq!(c.node(3).role(), Role::Leader);
    assert_eq!(c.rejected(1, rid), None);
}

#[test]
fn transfer_to_a_crashed_node_aborts_and_the_leader_resumes() {
    let mut c = Cluster::new(3, |_| {});
    c.elect(1);
    c.crash(3);
    let rid = c.transfer(1, 3);
    for _ in 0..25 {
        c.tick(1);
        c.drive();
    }
    assert_eq!(c.rejected(1, rid), Some(RejectReason::TransferAborted));
    assert_eq!(c.node(1).role(), Role::Leader);
    let out = c.propose(1, b"resumed");
    assert!(matches!(out[..], [crate::Output::Proposed { .. }]), "{out:?}");
}

#[test]
fn transfer_targets_must_be_voters() {
    let mut c = Cluster::new(3, |_| {});
    c.elect(1);
    for (to, reason) in [(1, crate::TransferRefusal::IsSelf), (9, crate::TransferRefusal::UnknownNode)] {
        let rid = c.transfer(1, to);
        assert_eq!(c.rejected(1, rid), Some(RejectReason::InvalidTransferTarget { reason }));
    }
    let rid = c.transfer(2, 3);
    assert!(matches!(c.rejected(2, rid), Some(RejectReason::NotLeader { .. })));
}

// etcd #20418 / raft-rs #140 shape: TimeoutNow delivered after the transfer
// aborted lets the target win at once (it bypasses stickiness); the old
// leader must not serve lease reads for the rest of its term.
#[test]
fn lease_timeout_now_after_an_aborted_transfer_leaves_no_stale_lease_read() {
    let mut c = Cluster::new(3, lease);
    c.elect(1);
    c.tick(1);
    c.drive();
    c.transfer(1, 2);
    // Hold TimeoutNow back.
    let timeout_now: Vec<Message> =
        c.network.iter().filter(|m| matches!(m.body, MessageBody::TimeoutNow)).cloned().collect();
    assert_eq!(timeout_now.len(), 1);
    c.network.retain(|m| !matches!(m.body, MessageBody::TimeoutNow));
    for _ in 0..25 {
        c.tick(1);
        c.drive();
    }
    assert_eq!(c.node(1).role(), Role::Leader, "the transfer aborted and node 1 leads on");
    // Node 1 must not serve lease reads any more in this term.
    let rid = c.read(1, true);
    assert_eq!(c.read_ready(1, rid), None, "lease read after TimeoutNow went out");
    // The late TimeoutNow makes node 2 win, bypassing stickiness.
    c.isolate(1);
    for m in timeout_now {
        c.step(m.to, Input::Receive(m));
    }
    c.drive();
    assert_eq!(c.node(2).role(), Role::Leader);
}

// An up-to-date follower reported unreachable goes back to probing with
// nothing new to send; the next heartbeat round must still probe it (an
// empty append) and bring it back to Replicate.
#[test]
fn unreachable_up_to_date_follower_is_probed_back_to_replicate() {
    let mut c = Cluster::new(3, |_| {});
    c.elect(1);
    c.step(NodeId(1), Input::ReportUnreachable { peer: NodeId(2) });
    assert_eq!(c.node(1).progress(NodeId(2)).map(|p| p.state), Some(crate::ReplicationState::Probe));
    c.tick(1);
    c.drive();
    assert_eq!(c.node(1).progress(NodeId(2)).map(|p| p.state), Some(crate::ReplicationState::Replicate));
}

// The lease's assumption made explicit: if the leader's clock runs three
// times slower than the followers' (far beyond any drift bound), a new
// leader is elected while the old one still believes in its lease, and a
// lease read there can miss a committed write. This is why the lease length
// is bounded by the drift formula; the simulator's `--clock-drift` shows it
// end to end.
#[test]
fn lease_breaks_when_clock_drift_exceeds_the_bound() {
    let mut c = Cluster::new(3, lease);
    c.elect(1);
    c.tick(1);
    c.drive();
    c.isolate(1);
    // Followers tick three times for every tick of the leader.
    let mut new_leader = None;
    for round in 0..60 {
        for id in [2, 3] {
            c.tick(id);
        }
        if round % 3 == 0 {
            c.tick(1);
        }
        c.drive();
        if let Some(l) = [2u64, 3].into_iter().find(|&id| c.node(id).role() == Role::Leader) {
            new_leader = Some(l);
            break;
        }
    }
    let l = new_leader.expect("the fast followers elect a leader");
    c.propose(l, b"new");
    c.drive();
    let committed = c.node(l).commit_index();
    assert!(c.node(1).commit_index() < committed);
    // Node 1 still thinks it leads; its lease has not run out on its slow
    // clock: the read is answered at once, at an index missing the write.
    assert_eq!(c.node(1).role(), Role::Leader);
    let rid = c.read(1, true);
    let index = c.read_ready(1, rid).expect("a lease read on the slow old leader");
    assert!(index < committed, "the stale read the drift bound exists to prevent");
}
