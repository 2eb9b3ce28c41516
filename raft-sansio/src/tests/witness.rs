//! Witnesses: voters without a state machine (tikv/rfcs #31). A witness
//! keeps payloads only until every data voter holds them, applies nothing,
//! serves nothing, and leads only to hand over to a data voter.

use alloc::vec::Vec;

use bytes::Bytes;
use raft_sansio_proto::{EntryKind, Index, NodeId};

use super::harness::Cluster;
use super::persistence::{append, follower};
use crate::{DropReason, Event, Input, MemberChange, MembershipChange, Output, RejectReason, Role};

/// Data voters 1 and 2 and witness 3, leader 1, seeds from `seed`.
fn two_plus_witness(seed: u64) -> Cluster {
    let tweak = move |c: &mut crate::Config| c.seed = seed.wrapping_mul(31).wrapping_add(c.id.0);
    let mut c = Cluster::new(2, tweak);
    c.elect(1);
    c.add_host(3, tweak);
    let out = c.change(1, MembershipChange::new([MemberChange::AddWitness(NodeId(3))]));
    assert!(out.iter().any(|o| matches!(o, Output::Proposed { .. })), "{out:?}");
    settle(&mut c);
    assert!(c.node(3).is_witness());
    assert!(!c.node(1).is_witness() && !c.node(2).is_witness());
    c
}

fn settle(c: &mut Cluster) {
    for _ in 0..5 {
        c.tick_all();
    }
}

/// The index at which `payload` was proposed on `leader`.
fn propose_at(c: &mut Cluster, leader: u64, payload: &'static [u8]) -> Index {
    let out = c.propose(leader, payload);
    out.iter()
        .find_map(|o| match o {
            Output::Proposed { index, .. } => Some(*index),
            _ => None,
        })
        .unwrap_or_else(|| panic!("not proposed on {leader}: {out:?}"))
}

fn applied_payloads(c: &Cluster, id: u64) -> Vec<Bytes> {
    c.host(id).applied.iter().filter(|e| e.kind == EntryKind::Normal).map(|e| e.payload.clone()).collect()
}

fn became_leader(c: &Cluster, id: u64) -> bool {
    c.host(id).events.iter().any(|e| matches!(e, Event::BecameLeader { .. }))
}

#[test]
fn witness_drops_payloads_once_every_data_voter_holds_them_and_applies_nothing() {
    let mut c = two_plus_witness(1);
    let a = propose_at(&mut c, 1, b"a");
    settle(&mut c);
    let w = c.node(3);
    assert!(w.entry(a).unwrap().payload_elided, "both data voters hold `a`");
    assert_eq!(w.commit_index(), c.node(1).commit_index());
    assert_eq!(w.applied_index(), w.commit_index(), "applied follows commit");
    assert!(applied_payloads(&c, 3).is_empty(), "a witness applies no normal entry");

    // With data voter 2 down, `b` commits on 1 and the witness: the witness
    // keeps its payload, the only other copy.
    c.crash(2);
    let b = propose_at(&mut c, 1, b"b");
    settle(&mut c);
    assert!(c.node(1).commit_index() >= b);
    let entry = c.node(3).entry(b).unwrap();
    assert!(!entry.payload_elided && &entry.payload[..] == b"b");

    // The witness's host snapshots (no data) and compacts: never past `b`.
    let index = c.node(3).applied_index();
    assert!(index >= b);
    c.step(NodeId(3), Input::SnapshotTaken { index, data: Bytes::new() });
    c.step(NodeId(3), Input::Compact { index });
    assert!(c.node(3).first_index() <= b, "compacted the payload a data voter lacks");
    assert_eq!(&c.node(3).entry(b).unwrap().payload[..], b"b");

    // Data voter 2 catches up; then the witness drops `b` too.
    c.restart(2);
    settle(&mut c);
    assert!(applied_payloads(&c, 2).iter().any(|p| &p[..] == b"b"));
    assert!(c.node(3).entry(b).is_none_or(|e| e.payload_elided));
    assert!(applied_payloads(&c, 3).is_empty());
}

#[test]
fn witness_serves_no_reads_and_is_never_a_transfer_target() {
    let mut c = two_plus_witness(2);
    let rid = c.read(3, true);
    assert_eq!(c.rejected(3, rid), Some(RejectReason::Witness));
    let rid = c.transfer(1, 3);
    assert!(matches!(c.rejected(1, rid), Some(RejectReason::InvalidTransferTarget { .. })));
    // A TimeoutNow reaching a witness changes nothing.
    let term = c.node(3).term();
    let m = raft_sansio_proto::Message {
        from: NodeId(1),
        to: NodeId(3),
        term,
        body: raft_sansio_proto::MessageBody::TimeoutNow,
    };
    c.step(NodeId(3), Input::Receive(m));
    c.drive();
    assert_eq!(c.node(3).role(), Role::Follower);
    assert_eq!(c.node(3).term(), term);
}

#[test]
fn witness_times_out_after_data_voters_so_a_data_voter_wins_whenever_one_can() {
    for seed in 0..20 {
        let mut c = two_plus_witness(seed);
        c.propose(1, b"x");
        settle(&mut c);
        c.crash(1);
        let leader = c.tick_until_leader(200).expect("a leader");
        assert_eq!(leader, NodeId(2), "seed {seed}");
        assert!(!became_leader(&c, 3), "seed {seed}: the witness led");
    }
}

#[test]
fn witness_that_wins_rejects_proposals_and_reads_and_hands_over_at_once() {
    let mut c = two_plus_witness(3);
    // `x` commits on 1 and the witness while 2 is down, then 1's disk is
    // lost for good: the witness holds the only other copy of `x`.
    c.crash(2);
    let x = propose_at(&mut c, 1, b"x");
    settle(&mut c);
    assert!(c.node(3).commit_index() >= x);
    c.crash(1);
    c.restart(2);
    // 2 cannot win: its log lacks `x`.
    for _ in 0..30 {
        c.tick(2);
        c.drive();
    }
    assert_ne!(c.node(2).role(), Role::Leader);
    // The witness campaigns and wins; while it leads it takes nothing.
    c.step(NodeId(3), Input::Campaign);
    while c.node(3).role() != Role::Leader {
        assert!(c.deliver_one(), "the witness never won");
    }
    let out = c.propose(3, b"y");
    assert!(out.iter().any(|o| matches!(o, Output::Rejected { reason: RejectReason::WitnessLeader, .. })));
    let rid = c.read(3, true);
    assert_eq!(c.rejected(3, rid), Some(RejectReason::WitnessLeader));
    let out = c.change(3, MembershipChange::new([MemberChange::Remove(NodeId(1))]));
    assert!(out.iter().any(|o| matches!(o, Output::Rejected { reason: RejectReason::WitnessLeader, .. })));
    // It brings 2 up to date, payload included, and hands over at once:
    // no tick needed.
    c.drive();
    assert!(c.host(3).events.iter().any(|e| matches!(e, Event::WitnessHandingOver { to: NodeId(2) })));
    assert_eq!(c.node(2).role(), Role::Leader);
    assert_ne!(c.node(3).role(), Role::Leader);
    settle(&mut c);
    assert!(applied_payloads(&c, 2).iter().any(|p| &p[..] == b"x"));
    assert!(applied_payloads(&c, 3).is_empty());
    // The survivors serve writes.
    let z = propose_at(&mut c, 2, b"z");
    settle(&mut c);
    assert!(c.node(2).commit_index() >= z);
}

/// {2 data voters + 1 witness}: a committed write survives the loss of any
/// one node's disk, whichever node was down when it committed.
#[test]
fn witness_cluster_keeps_a_committed_write_through_the_loss_of_any_one_disk() {
    for lost in 1..=3u64 {
        for down in [None, Some(1u64), Some(2), Some(3)] {
            let mut c = two_plus_witness(lost * 10 + down.unwrap_or(0));
            if let Some(d) = down {
                c.crash(d);
            }
            let leader = match c.leader() {
                Some(l) if Some(l.0) != down => l.0,
                _ => c.tick_until_leader(200).expect("a leader").0,
            };
            let w = propose_at(&mut c, leader, b"w");
            settle(&mut c);
            assert!(c.node(leader).commit_index() >= w, "lost {lost} down {down:?}");
            if let Some(d) = down {
                c.restart(d);
            }
            // `lost`'s disk is gone: it never comes back under its id.
            c.crash(lost);
            let survivors: Vec<u64> = (1..=3).filter(|&id| id != lost).collect();
            let data_survivors: Vec<u64> = survivors.iter().copied().filter(|&id| id != 3).collect();
            let mut served = None;
            for _ in 0..300 {
                c.tick_all();
                served = data_survivors.iter().copied().find(|&id| {
                    c.node(id).role() == Role::Leader && applied_payloads(&c, id).iter().any(|p| &p[..] == b"w")
                });
                if served.is_some() {
                    break;
                }
            }
            let data_survivor = served.unwrap_or_else(|| panic!("lost {lost} down {down:?}: `w` not served"));
            let after = propose_at(&mut c, data_survivor, b"after");
            settle(&mut c);
            assert!(c.node(data_survivor).commit_index() >= after, "lost {lost} down {down:?}");
        }
    }
}

#[test]
fn witness_payloads_never_reach_a_data_node() {
    // A data follower drops an append whose entries lack payloads.
    let mut node = follower(&[1, 1], 2);
    let Input::Receive(mut m) = append(2, 2, (1, 2), &[(2, 3)], 2) else { unreachable!() };
    if let raft_sansio_proto::MessageBody::AppendEntries(ae) = &mut m.body {
        ae.entries[0].payload = Bytes::new();
        ae.entries[0].payload_elided = true;
    }
    let out = node.step(Input::Receive(m));
    assert!(out
        .iter()
        .any(|o| matches!(o, Output::Event(Event::MessageDropped { reason: DropReason::ElidedPayload, .. }))));
    assert_eq!(node.last_index(), Index(2));
    // A configuration entry without its payload is malformed anywhere.
    let e = raft_sansio_proto::Entry {
        term: raft_sansio_proto::Term(2),
        index: Index(3),
        kind: EntryKind::ConfChange,
        payload_elided: true,
        payload: Bytes::new(),
    };
    let ae = raft_sansio_proto::AppendEntries {
        prev: raft_sansio_proto::EntryId::new(raft_sansio_proto::Term(1), Index(2)),
        entries: alloc::vec![e],
        leader_commit: Index(2),
        lowest_data_match: Index(0),
    };
    assert_eq!(
        crate::replication::check_append_entries(raft_sansio_proto::Term(2), &ae),
        Err(DropReason::MalformedEntries)
    );
}

/// Found by the step fuzz target: a data voter demoted to witness by an
/// entry that is then truncated is a data voter again, and must have applied
/// every entry committed meanwhile.
#[test]
fn witness_demotion_truncated_away_leaves_a_data_voter_that_applied_everything() {
    let mut c = Cluster::new(3, |_| {});
    c.elect(1);
    let a = propose_at(&mut c, 1, b"a");
    let out = c.change(1, MembershipChange::new([MemberChange::AddWitness(NodeId(1))]));
    assert!(out.iter().any(|o| matches!(o, Output::Proposed { .. })), "{out:?}");
    assert!(c.node(1).is_witness(), "in effect once appended");
    // The followers get `a` but nothing more from 1 (its hand-over
    // included); `a` commits on 1.
    assert!(c.deliver_one() && c.deliver_one());
    c.cut.insert((NodeId(1), NodeId(2)));
    c.cut.insert((NodeId(1), NodeId(3)));
    c.drive();
    assert!(c.node(1).commit_index() >= a);
    assert!(c.node(1).entry(a.next()).is_some_and(|e| e.kind == EntryKind::ConfChange));
    // 1 is cut off; 2 leads a new term and overwrites the demotion.
    c.isolate(1);
    let leader = c.tick_until_leader_among(&[2, 3], 200).expect("a new leader");
    propose_at(&mut c, leader, b"b");
    c.drive();
    c.heal();
    settle(&mut c);
    assert!(
        !c.node(1).is_witness(),
        "the demotion was truncated: leader {leader} {:?} {:?}",
        c.node(1),
        c.host(1).events
    );
    let applied = applied_payloads(&c, 1);
    assert!(applied.iter().any(|p| &p[..] == b"a") && applied.iter().any(|p| &p[..] == b"b"), "{applied:?}");
    assert!(!c.node(1).entry(a).unwrap().payload_elided);
}

/// Found by the simulator (wipe fault, seed 384 of 3 nodes): a witness
/// leader whose probe of a data voter lands on payloads it dropped must
/// probe past them, not go silent. Here its hand-over resets the probe of
/// the data voter below its log (the answer to its earlier probe is lost),
/// and the log starts with dropped payloads the data voter holds anyway.
#[test]
fn witness_leader_probes_a_data_voter_past_the_payloads_it_dropped() {
    let mut c = two_plus_witness(4);
    let a = propose_at(&mut c, 1, b"a");
    propose_at(&mut c, 1, b"b");
    let last_elided = propose_at(&mut c, 1, b"c");
    settle(&mut c);
    assert!(c.node(3).entry(last_elided).unwrap().payload_elided);
    // The witness's host compacts to `a`: its log starts with dropped
    // payloads.
    c.step(NodeId(3), Input::SnapshotTaken { index: a, data: Bytes::new() });
    c.step(NodeId(3), Input::Compact { index: a });
    assert!(c.node(3).entry(c.node(3).first_index()).unwrap().payload_elided);
    // `x` commits on 1 and the witness while 2 is down; 1's disk is lost.
    c.crash(2);
    let x = propose_at(&mut c, 1, b"x");
    settle(&mut c);
    assert!(c.node(3).commit_index() >= x);
    c.crash(1);
    c.restart(2);
    for _ in 0..30 {
        c.tick(2);
        c.drive();
    }
    c.step(NodeId(3), Input::Campaign);
    while c.node(3).role() != Role::Leader {
        assert!(c.deliver_one(), "the witness never won");
    }
    // 2 rejects the new leader's first append (it lacks `x`); the witness
    // probes again and starts its hand-over, which probes 2 from its match
    // (none known): below the log, then into the dropped payloads. The
    // probe that answered the rejection is lost.
    loop {
        let front = c.network.front().expect("2 never rejected");
        let reject = front.from == NodeId(2)
            && matches!(
                front.body,
                raft_sansio_proto::MessageBody::AppendEntriesResponse(
                    raft_sansio_proto::AppendEntriesResponse::Reject { .. }
                )
            );
        c.deliver_one();
        if reject {
            break;
        }
    }
    assert!(c.host(3).events.iter().any(|e| matches!(e, Event::WitnessHandingOver { to: NodeId(2) })));
    c.cut.insert((NodeId(3), NodeId(2)));
    c.drive();
    c.heal();
    for _ in 0..50 {
        c.tick_all();
        if c.node(2).role() == Role::Leader {
            break;
        }
    }
    assert_eq!(c.node(2).role(), Role::Leader, "{:?}\n{:?}", c.node(3), c.host(3).events);
    settle(&mut c);
    assert!(applied_payloads(&c, 2).iter().any(|p| &p[..] == b"x"));
}

/// Found by the simulator (wipe fault, seeds 1532 and 1549 of 3 nodes): a
/// leader that demotes itself to a witness while a data follower receives
/// its snapshot must not go on to send that follower the empty snapshot its
/// host takes as a witness (the follower would install no state at all).
#[test]
fn leader_turned_witness_sends_a_data_follower_no_empty_snapshot() {
    let is_snapshot_to_3 = |m: &raft_sansio_proto::Message| {
        m.to == NodeId(3) && matches!(m.body, raft_sansio_proto::MessageBody::InstallSnapshot(_))
    };
    let mut c = Cluster::new(3, |c| c.snapshot_trailing_entries = 0);
    c.elect(1);
    c.crash(3);
    propose_at(&mut c, 1, b"a");
    propose_at(&mut c, 1, b"b");
    c.drive();
    c.take_snapshot(1);
    assert!(c.node(1).first_index() > Index(2), "compacted");
    // 3 comes back and needs the snapshot; its chunks are lost.
    c.restart(3);
    'sending: for _ in 0..100 {
        c.tick(1);
        loop {
            if c.network.front().is_some_and(is_snapshot_to_3) {
                break 'sending;
            }
            if !c.deliver_one() {
                break;
            }
        }
    }
    assert!(c.network.iter().any(is_snapshot_to_3), "no snapshot sent to 3");
    c.cut.insert((NodeId(1), NodeId(3)));
    c.drive();
    // The leader demotes itself; 2 commits it (the hand-over to 2 is lost).
    let out = c.change(1, MembershipChange::new([MemberChange::AddWitness(NodeId(1))]));
    let conf_index = out
        .iter()
        .find_map(|o| match o {
            Output::Proposed { index, .. } => Some(*index),
            _ => None,
        })
        .unwrap_or_else(|| panic!("{out:?}"));
    while c.node(1).commit_index() < conf_index {
        assert!(c.deliver_one(), "the demotion never committed");
    }
    c.cut.insert((NodeId(1), NodeId(2)));
    c.drive();
    assert_eq!(c.node(1).role(), Role::Leader);
    assert_eq!(c.node(1).applied_index(), conf_index, "a witness applies nothing");
    // Its host snapshots: a witness's snapshot is empty.
    c.step(NodeId(1), Input::SnapshotTaken { index: conf_index, data: Bytes::new() });
    for _ in 0..5 {
        c.tick(1);
    }
    let empty = c.network.iter().filter(|m| is_snapshot_to_3(m)).any(|m| match &m.body {
        raft_sansio_proto::MessageBody::InstallSnapshot(is) => is.total_len == 0,
        _ => false,
    });
    assert!(!empty, "an empty snapshot went to data voter 3");
    // 2 takes over (1 still cannot reach 3: a witness leader's probes of
    // a data voter it cannot serve are not what this test is about), then
    // gives 3 the data.
    c.cut.remove(&(NodeId(1), NodeId(2)));
    for _ in 0..200 {
        c.tick_all();
        if c.node(2).role() == Role::Leader {
            break;
        }
    }
    assert_eq!(c.node(2).role(), Role::Leader);
    c.heal();
    settle(&mut c);
    let applied = applied_payloads(&c, 3);
    assert!(applied.iter().any(|p| &p[..] == b"a") && applied.iter().any(|p| &p[..] == b"b"), "{applied:?}");
}

/// Found by the simulator (wipe fault, seed 1167 of 3 nodes, where it
/// stalled simulated time under a storm of messages): a witness leader
/// that cannot serve a lagging data voter probes it again on the next
/// heartbeat answer, not at once on each rejection (a duplicated rejection
/// then doubled the exchange).
#[test]
fn witness_leader_does_not_ping_pong_with_a_data_voter_it_cannot_serve() {
    let mut c = Cluster::new(3, |c| c.snapshot_trailing_entries = 0);
    c.elect(1);
    c.crash(3);
    propose_at(&mut c, 1, b"a");
    propose_at(&mut c, 1, b"b");
    c.drive();
    // The leader compacts (3 now needs a snapshot), then demotes itself;
    // 2 commits it (the hand-over to 2 is lost).
    c.take_snapshot(1);
    assert!(c.node(1).first_index() > Index(2), "compacted");
    let out = c.change(1, MembershipChange::new([MemberChange::AddWitness(NodeId(1))]));
    let conf_index = out
        .iter()
        .find_map(|o| match o {
            Output::Proposed { index, .. } => Some(*index),
            _ => None,
        })
        .unwrap_or_else(|| panic!("{out:?}"));
    while c.node(1).commit_index() < conf_index {
        assert!(c.deliver_one(), "the demotion never committed");
    }
    c.cut.insert((NodeId(1), NodeId(2)));
    c.drive();
    c.restart(3);
    let rejections = c.rejections;
    for _ in 0..10 {
        c.tick(1);
        assert!(c.drive_bounded(1_000), "probe and rejection ping-pong between 1 and 3");
    }
    assert_eq!(c.node(1).role(), Role::Leader);
    assert!(c.rejections - rejections <= 10, "{} rejections in 10 ticks", c.rejections - rejections);
    // 2 takes over and gives 3 the data.
    c.heal();
    for _ in 0..200 {
        c.tick_all();
        if c.node(2).role() == Role::Leader {
            break;
        }
    }
    assert_eq!(c.node(2).role(), Role::Leader);
    settle(&mut c);
    let applied = applied_payloads(&c, 3);
    assert!(applied.iter().any(|p| &p[..] == b"a") && applied.iter().any(|p| &p[..] == b"b"), "{applied:?}");
}
