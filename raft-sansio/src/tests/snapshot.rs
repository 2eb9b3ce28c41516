//! Log compaction and chunked snapshot install: named scenarios.

use alloc::boxed::Box;
use alloc::vec::Vec;

use bytes::Bytes;
use raft_sansio_proto::{
    ConfState, Entry, EntryId, HardState, Index, InstallSnapshot, InstallSnapshotResponse, Message, MessageBody,
    NodeId, SnapshotId, SnapshotMeta, SnapshotStatus, Term,
};

use super::harness::{Cluster, Stored};
use crate::{Config, Event, Input, MemberChange, MembershipChange, MisuseReason, Node, Output, ReplicationState};

/// A 3-node cluster with small snapshot chunks, led by node 1.
fn cluster(chunk_bytes: u64, trailing: u64) -> Cluster {
    let mut c = Cluster::new(3, |c| {
        c.snapshot_chunk_bytes = chunk_bytes;
        c.snapshot_trailing_entries = trailing;
    });
    c.elect(1);
    c
}

fn propose_n(c: &mut Cluster, n: usize) {
    for _ in 0..n {
        c.propose(1, b"0123456789abcdef0123456789");
    }
    c.drive();
}

fn is_chunk(m: &Message) -> Option<&InstallSnapshot> {
    match &m.body {
        MessageBody::InstallSnapshot(is) => Some(is),
        _ => None,
    }
}

/// The follower's state machine equals the leader's up to the follower's
/// last applied entry.
fn assert_same_state(c: &Cluster, leader: u64, follower: u64) {
    let f = &c.host(follower).applied;
    let l = &c.host(leader).applied;
    assert!(!f.is_empty());
    let last = f.last().map(|e| e.index).unwrap_or(Index::ZERO);
    let lead: Vec<&Entry> = l.iter().filter(|e| e.index <= last).collect();
    let foll: Vec<&Entry> = f.iter().collect();
    assert_eq!(lead, foll, "state of {follower} differs from {leader}'s");
}

#[test]
fn snapshot_a_lagging_follower_catches_up_in_chunks() {
    let mut c = cluster(100, 2);
    c.isolate(3);
    propose_n(&mut c, 30);
    c.take_snapshot(1);
    let snap_index = c.node(1).commit_index();
    assert_eq!(c.node(1).first_index(), Index(snap_index.0 - 2 + 1), "trailing entries kept");
    c.heal();
    for _ in 0..10 {
        c.tick_all();
    }
    assert_eq!(c.host(3).snapshots_applied, 1);
    assert_eq!(c.node(3).commit_index(), c.node(1).commit_index());
    assert!(c.node(3).first_index() > snap_index, "the log restarts after the snapshot");
    assert!(c.delivered["InstallSnapshot"] > 5, "the snapshot went in many chunks: {:?}", c.delivered);
    assert_eq!(c.host(3).stored.snapshot_data, c.host(1).stored.snapshot_data, "the bytes arrived intact");
    assert_same_state(&c, 1, 3);
    assert_eq!(c.node(1).progress(NodeId(3)).map(|p| p.state), Some(ReplicationState::Replicate));
}

#[test]
fn snapshot_chunks_lost_duplicated_and_reordered_still_install() {
    let mut c = cluster(64, 0);
    c.isolate(3);
    propose_n(&mut c, 20);
    c.take_snapshot(1);
    c.heal();
    // Tick until the leader starts the snapshot, then mangle its chunks.
    let mut chunks_seen = 0;
    let mut lost = false;
    for _ in 0..40 {
        for id in c.ids() {
            c.step(id, Input::Tick);
        }
        while let Some(m) = c.network.pop_front() {
            let Some(is) = is_chunk(&m) else {
                c.network.push_front(m);
                c.deliver_one();
                continue;
            };
            chunks_seen += 1;
            match chunks_seen {
                // The second chunk is lost.
                2 if !lost => {
                    lost = true;
                    continue;
                }
                // The fourth arrives twice.
                4 => c.network.push_back(m.clone()),
                // The sixth is held back behind the seventh.
                6 => {
                    if let Some(next) = c.network.iter().position(|n| is_chunk(n).is_some()) {
                        let held = m.clone();
                        c.network.insert(next + 1, held);
                        continue;
                    }
                }
                _ => {}
            }
            let _ = is.offset;
            c.network.push_front(m);
            c.deliver_one();
        }
        if c.host(3).snapshots_applied > 0 {
            break;
        }
    }
    assert!(lost && chunks_seen > 7, "the scenario mangled chunks: {chunks_seen}");
    assert_eq!(c.host(3).snapshots_applied, 1);
    assert_eq!(c.host(3).stored.snapshot_data, c.host(1).stored.snapshot_data);
    for _ in 0..3 {
        c.tick_all();
    }
    assert_same_state(&c, 1, 3);
    assert_eq!(c.node(3).commit_index(), c.node(1).commit_index());
}

/// A follower holding entries 1..=15 of term 1, 12 committed.
fn follower_with_log() -> Node {
    let mut config = Config::new(NodeId(2), 7);
    config.check_quorum = false;
    let stored = Stored {
        hard_state: HardState { term: Term(1), vote: None, commit: Index(12) },
        snapshot: Some(SnapshotMeta {
            last: EntryId::ZERO,
            conf_state: ConfState::with_voters([NodeId(1), NodeId(2)]),
        }),
        entries: (1..=15).map(|i| Entry::normal(Term(1), Index(i), Bytes::from_static(b"e"))).collect(),
        ..Stored::default()
    };
    Node::new(config, stored.restored(Index(12))).expect("valid")
}

fn chunk(term: u64, last: (u64, u64), offset: u64, data: &'static [u8], total: u64) -> Input {
    let last = EntryId { term: Term(last.0), index: Index(last.1) };
    let id = SnapshotId { leader_term: Term(term), last };
    let is = InstallSnapshot {
        id,
        meta: SnapshotMeta { last, conf_state: ConfState::with_voters([NodeId(1), NodeId(2)]) },
        offset,
        total_len: total,
        last_chunk: offset + data.len() as u64 == total,
        data: Bytes::from_static(data),
    };
    Input::Receive(Message {
        from: NodeId(1),
        to: NodeId(2),
        term: Term(term),
        body: MessageBody::InstallSnapshot(Box::new(is)),
    })
}

fn persists(out: &[Output]) -> Vec<&crate::Persist> {
    out.iter()
        .filter_map(|o| match o {
            Output::Persist(p) => Some(p),
            _ => None,
        })
        .collect()
}

fn snapshot_replies(out: &[Output]) -> Vec<SnapshotStatus> {
    out.iter()
        .filter_map(|o| match o {
            Output::Send { message, .. } => match &message.body {
                MessageBody::InstallSnapshotResponse(InstallSnapshotResponse { status, .. }) => Some(*status),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

fn ack_all(node: &mut Node) -> Vec<Output> {
    let (emitted, _) = node.persist_seqs();
    node.step(Input::Persisted { up_to_seq: emitted })
}

#[test]
fn snapshot_at_or_below_the_commit_index_is_ignored_and_acked_with_the_commit() {
    let mut node = follower_with_log();
    // A stale snapshot (last index 10 <= commit 12), e.g. arriving after
    // the follower caught up from the log.
    let out = node.step(chunk(1, (1, 10), 0, b"abc", 3));
    assert!(persists(&out).iter().all(|p| p.snapshot.is_none() && p.snapshot_chunk.is_none()), "{out:?}");
    assert_eq!(snapshot_replies(&out), [SnapshotStatus::Installed { match_index: Index(12) }]);
    assert_eq!((node.first_index(), node.last_index(), node.commit_index()), (Index(1), Index(15), Index(12)));
    assert!(!out.iter().any(|o| matches!(o, Output::ApplySnapshot { .. })));
}

#[test]
fn snapshot_matching_the_log_keeps_the_entries_after_it() {
    let mut node = follower_with_log();
    let mut out = node.step(chunk(1, (1, 14), 0, b"ab", 4));
    assert_eq!(snapshot_replies(&out), [SnapshotStatus::Receiving { next_offset: 2 }]);
    out.extend(node.step(chunk(1, (1, 14), 2, b"cd", 4)));
    let ps = persists(&out);
    assert!(ps.iter().any(|p| p.snapshot.as_ref().is_some_and(|m| m.last.index == Index(14))));
    assert!(ps.iter().all(|p| p.truncate_from.is_none()), "nothing is truncated: {ps:?}");
    // The ack is a promise: it waits for the Persist.
    assert!(!snapshot_replies(&out).iter().any(|s| matches!(s, SnapshotStatus::Installed { .. })));
    assert_eq!((node.first_index(), node.last_index(), node.commit_index()), (Index(15), Index(15), Index(14)));
    let out = ack_all(&mut node);
    assert_eq!(snapshot_replies(&out), [SnapshotStatus::Installed { match_index: Index(14) }]);
    let applied_snapshot = out.iter().position(|o| matches!(o, Output::ApplySnapshot { .. }));
    assert!(applied_snapshot.is_some(), "{out:?}");
}

#[test]
fn snapshot_not_matching_the_log_replaces_it() {
    let mut node = follower_with_log();
    // A snapshot of a later term at 14: our entry 14 (term 1) differs.
    let out = node.step(chunk(2, (2, 14), 0, b"abcd", 4));
    let ps = persists(&out);
    assert!(ps.iter().any(|p| p.truncate_from == Some(Index(15))), "{ps:?}");
    assert_eq!((node.first_index(), node.last_index(), node.commit_index()), (Index(15), Index(14), Index(14)));
    assert_eq!(node.term_at(Index(14)), Some(Term(2)));
    let out = ack_all(&mut node);
    assert!(out.iter().any(|o| matches!(o, Output::ApplySnapshot { meta } if meta.last.index == Index(14))));
    assert_eq!(node.apply_emitted_index(), Index(14));
}

#[test]
fn snapshot_chunk_gaps_and_duplicates_are_answered_with_the_expected_offset() {
    let mut node = follower_with_log();
    let out = node.step(chunk(1, (1, 14), 2, b"cd", 6));
    assert_eq!(snapshot_replies(&out), [SnapshotStatus::Receiving { next_offset: 0 }], "not started: from 0");
    let _ = node.step(chunk(1, (1, 14), 0, b"ab", 6));
    let out = node.step(chunk(1, (1, 14), 4, b"ef", 6));
    assert_eq!(snapshot_replies(&out), [SnapshotStatus::Receiving { next_offset: 2 }], "gap");
    assert!(persists(&out).is_empty());
    let out = node.step(chunk(1, (1, 14), 0, b"ab", 6));
    assert_eq!(snapshot_replies(&out), [SnapshotStatus::Receiving { next_offset: 2 }], "duplicate");
    assert!(persists(&out).is_empty());
    // Chunks of another snapshot never mix with these: it starts over.
    let out = node.step(chunk(1, (1, 13), 2, b"cd", 6));
    assert_eq!(snapshot_replies(&out), [SnapshotStatus::Receiving { next_offset: 0 }]);
}

#[test]
fn snapshot_malformed_chunks_are_dropped() {
    let mut node = follower_with_log();
    let mut bad = Vec::new();
    // Beyond the total length; last-chunk flag wrong; term 0 entry.
    bad.push(chunk(1, (1, 14), 3, b"cd", 4));
    if let Input::Receive(mut m) = chunk(1, (1, 14), 0, b"ab", 4) {
        if let MessageBody::InstallSnapshot(is) = &mut m.body {
            is.last_chunk = true;
        }
        bad.push(Input::Receive(m));
    }
    bad.push(chunk(1, (0, 14), 0, b"ab", 2));
    bad.push(chunk(1, (3, 14), 0, b"ab", 2));
    for input in bad {
        let out = node.step(input);
        assert!(
            out.iter().any(|o| matches!(
                o,
                Output::Event(Event::MessageDropped { reason: crate::DropReason::MalformedSnapshot, .. })
            )),
            "{out:?}"
        );
        assert!(persists(&out).is_empty());
    }
}

#[test]
fn snapshot_taken_and_compact_refuse_misuse() {
    let mut node = follower_with_log();
    let misuse = |out: &[Output]| -> Vec<MisuseReason> {
        out.iter()
            .filter_map(|o| match o {
                Output::Event(Event::InputIgnored { reason }) => Some(*reason),
                _ => None,
            })
            .collect()
    };
    let out = node.step(Input::SnapshotTaken { index: Index(13), data: Bytes::new() });
    assert!(matches!(misuse(&out)[..], [MisuseReason::SnapshotBeyondApplied { .. }]), "{out:?}");
    let out = node.step(Input::Compact { index: Index(5) });
    assert!(matches!(misuse(&out)[..], [MisuseReason::CompactBeyondSnapshot { .. }]), "{out:?}");
    let out = node.step(Input::SnapshotTaken { index: Index(8), data: Bytes::from_static(b"s") });
    assert!(misuse(&out).is_empty());
    let p = persists(&out);
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].snapshot.as_ref().map(|m| m.last), Some(EntryId { term: Term(1), index: Index(8) }));
    let out = node.step(Input::SnapshotTaken { index: Index(8), data: Bytes::new() });
    assert!(matches!(misuse(&out)[..], [MisuseReason::SnapshotNotNewer { .. }]), "{out:?}");
    let out = node.step(Input::SnapshotData { last: EntryId { term: Term(1), index: Index(7) }, data: Bytes::new() });
    assert!(matches!(misuse(&out)[..], [MisuseReason::SnapshotDataMismatch { .. }]), "{out:?}");
    let out = node.step(Input::Compact { index: Index(8) });
    assert!(misuse(&out).is_empty());
    assert_eq!(node.first_index(), Index(9));
}

#[test]
fn snapshot_records_the_configuration_at_its_index_not_the_latest() {
    let mut c = cluster(1 << 20, 0);
    propose_n(&mut c, 3);
    let at = c.node(1).commit_index();
    // A configuration entry appended after the snapshot point, not yet
    // committed when the snapshot is taken.
    c.add_host(4, |_| {});
    c.isolate(2);
    c.isolate(3);
    let _ = c.change(1, MembershipChange::new([MemberChange::AddLearner(NodeId(4))]));
    assert!(c.node(1).membership().learners.contains(&NodeId(4)));
    assert_eq!(c.node(1).commit_index(), at);
    c.take_snapshot(1);
    let meta = c.host(1).stored.snapshot.clone().expect("snapshot persisted");
    assert_eq!(meta.last.index, at);
    assert!(meta.conf_state.learners.is_empty(), "the configuration at {at}: {:?}", meta.conf_state);
    assert_eq!(meta.conf_state.voters, [NodeId(1), NodeId(2), NodeId(3)]);
}

#[test]
fn snapshot_follower_restarts_from_snapshot_plus_log() {
    let mut c = cluster(128, 0);
    c.isolate(3);
    propose_n(&mut c, 10);
    c.take_snapshot(1);
    c.heal();
    for _ in 0..5 {
        c.tick_all();
    }
    assert_eq!(c.host(3).snapshots_applied, 1);
    propose_n(&mut c, 5);
    c.tick_all();
    let before = c.node(3).commit_index();
    let snap = c.host(3).stored.snapshot.as_ref().map(|m| m.last.index).expect("stored");
    c.crash(3);
    c.restart(3);
    assert_eq!(c.node(3).first_index(), snap.next());
    assert_eq!(c.node(3).last_index(), c.node(1).last_index());
    assert!(c.node(3).applied_index() >= snap);
    for _ in 0..3 {
        c.tick_all();
    }
    assert_eq!(c.node(3).commit_index(), c.node(1).commit_index());
    assert!(c.node(3).commit_index() >= before);
    assert_same_state(&c, 1, 3);
}

#[test]
fn snapshot_follower_crash_mid_transfer_restarts_the_transfer() {
    let mut c = cluster(32, 0);
    c.isolate(3);
    propose_n(&mut c, 10);
    c.take_snapshot(1);
    c.heal();
    // Deliver until a few chunks landed, then crash node 3.
    let mut chunks = 0;
    for _ in 0..5 {
        c.tick(1);
        while let Some(m) = c.network.front() {
            if is_chunk(m).is_some() {
                chunks += 1;
            }
            c.deliver_one();
            if chunks >= 4 {
                break;
            }
        }
        if chunks >= 4 {
            break;
        }
    }
    assert!(chunks >= 4);
    c.crash(3);
    c.network.clear();
    c.restart(3);
    for _ in 0..15 {
        c.tick_all();
    }
    assert_eq!(c.host(3).snapshots_applied, 1);
    assert_eq!(c.host(3).stored.snapshot_data, c.host(1).stored.snapshot_data);
    assert_eq!(c.node(3).commit_index(), c.node(1).commit_index());
}

#[test]
fn snapshot_a_restarted_leader_asks_its_host_for_the_bytes() {
    let mut c = cluster(256, 0);
    c.isolate(3);
    propose_n(&mut c, 10);
    // Both nodes that could lead snapshot and restart: they hold the
    // snapshot's metadata, not its bytes.
    for id in 1..=2 {
        c.take_snapshot(id);
        c.crash(id);
        c.restart(id);
    }
    let leader = c.tick_until_leader_among(&[1, 2], 100).expect("a leader");
    c.heal();
    for _ in 0..6 {
        c.tick_all();
    }
    assert!(c.host(leader).results.iter().any(|o| matches!(o, Output::SnapshotDataNeeded { .. })));
    assert_eq!(c.host(3).snapshots_applied, 1);
    assert_same_state(&c, leader, 3);
}

#[test]
fn snapshot_add_a_voter_that_catches_up_by_snapshot() {
    let mut c = cluster(512, 0);
    propose_n(&mut c, 20);
    for id in 1..=3 {
        c.take_snapshot(id);
    }
    c.add_host(4, |c| c.snapshot_chunk_bytes = 512);
    let out = c.change(1, MembershipChange::new([MemberChange::AddVoter(NodeId(4))]));
    assert!(out.iter().any(|o| matches!(o, Output::Proposed { .. })), "{out:?}");
    for _ in 0..10 {
        c.tick_all();
    }
    assert_eq!(c.host(4).snapshots_applied, 1);
    assert_eq!(c.node(4).membership().voters, [NodeId(1), NodeId(2), NodeId(3), NodeId(4)]);
    assert_eq!(c.node(4).commit_index(), c.node(1).commit_index());
    assert_same_state(&c, 1, 4);
    // The new voter counts: with an old one down, {1, 3, 4} commit.
    c.crash(2);
    propose_n(&mut c, 1);
    c.tick_all();
    assert_eq!(c.node(4).commit_index(), c.node(1).commit_index());
}
