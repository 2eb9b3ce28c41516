//! Restart from persisted state: torn states are repaired, impossible ones
//! refused, and restarts at any point keep every invariant.

use alloc::vec;
use alloc::vec::Vec;

use bytes::Bytes;
use raft_sansio_proto::{ConfState, Entry, EntryId, HardState, Index, NodeId, SnapshotMeta, Term};

use super::harness::Cluster;
use crate::{Config, Error, Input, Node, RestoreError, RestoreRepair, RestoredState, Role};

fn entries(terms: &[(u64, u64)]) -> Vec<Entry> {
    terms.iter().map(|&(t, i)| Entry::normal(Term(t), Index(i), Bytes::from_static(b"e"))).collect()
}

fn conf() -> Option<SnapshotMeta> {
    Some(SnapshotMeta { last: EntryId::ZERO, conf_state: ConfState::with_voters([NodeId(1), NodeId(2), NodeId(3)]) })
}

fn config() -> Config {
    Config::new(NodeId(1), 3)
}

#[test]
fn restore_commit_beyond_last_entry_is_clamped() {
    let state = RestoredState {
        hard_state: HardState { term: Term(2), vote: None, commit: Index(9) },
        snapshot: conf(),
        entries: entries(&[(1, 1), (2, 2)]),
        applied: Index(0),
    };
    let node = Node::new(config(), state).expect("repairable");
    assert_eq!(node.commit_index(), Index(2));
    assert!(node.restore_repairs().contains(&RestoreRepair::CommitClamped { from: Index(9), to: Index(2) }));
    node.check_invariants_full().expect("invariants");
}

#[test]
fn restore_term_below_last_entry_is_raised_without_a_vote() {
    let state = RestoredState {
        hard_state: HardState { term: Term(1), vote: Some(NodeId(2)), commit: Index(0) },
        snapshot: conf(),
        entries: entries(&[(1, 1), (3, 2)]),
        applied: Index(0),
    };
    let node = Node::new(config(), state).expect("repairable");
    assert_eq!(node.term(), Term(3));
    assert_eq!(node.vote(), None);
    assert!(node.restore_repairs().contains(&RestoreRepair::TermRaised { from: Term(1), to: Term(3) }));
}

#[test]
fn restore_commit_is_at_least_applied() {
    let state = RestoredState {
        hard_state: HardState { term: Term(1), vote: None, commit: Index(1) },
        snapshot: conf(),
        entries: entries(&[(1, 1), (1, 2), (1, 3)]),
        applied: Index(3),
    };
    let node = Node::new(config(), state).expect("repairable");
    assert_eq!(node.commit_index(), Index(3));
    assert_eq!(node.applied_index(), Index(3));
}

#[test]
fn restore_gap_and_decreasing_terms_are_errors_not_panics() {
    let gap = RestoredState {
        hard_state: HardState { term: Term(1), vote: None, commit: Index(0) },
        snapshot: conf(),
        entries: entries(&[(1, 1), (1, 3)]),
        applied: Index(0),
    };
    assert_eq!(
        Node::new(config(), gap).err(),
        Some(Error::Restore(RestoreError::Gap { after: Index(1), found: Index(3) }))
    );
    let decreasing = RestoredState {
        hard_state: HardState { term: Term(3), vote: None, commit: Index(0) },
        snapshot: conf(),
        entries: entries(&[(3, 1), (2, 2)]),
        applied: Index(0),
    };
    assert_eq!(
        Node::new(config(), decreasing).err(),
        Some(Error::Restore(RestoreError::TermDecreases { at: Index(2) }))
    );
    let gap_after_snapshot = RestoredState {
        hard_state: HardState { term: Term(3), vote: None, commit: Index(0) },
        snapshot: Some(SnapshotMeta {
            last: EntryId::new(Term(2), Index(5)),
            conf_state: ConfState::with_voters([NodeId(1)]),
        }),
        entries: entries(&[(3, 8)]),
        applied: Index(5),
    };
    assert!(matches!(Node::new(config(), gap_after_snapshot), Err(Error::Restore(RestoreError::Gap { .. }))));
    let applied_beyond = RestoredState {
        hard_state: HardState::default(),
        snapshot: conf(),
        entries: entries(&[(1, 1)]),
        applied: Index(4),
    };
    assert!(matches!(Node::new(config(), applied_beyond), Err(Error::Restore(RestoreError::AppliedBeyondLog { .. }))));
    let zero_vote = RestoredState {
        hard_state: HardState { term: Term(1), vote: Some(NodeId(0)), commit: Index(0) },
        ..RestoredState::default()
    };
    assert_eq!(Node::new(config(), zero_vote).err(), Some(Error::Restore(RestoreError::InvalidVote)));
}

#[test]
fn restore_torn_snapshot_install_drops_entries_that_do_not_continue_it() {
    // The old log (term 1 up to 8) was left behind by a torn install of a
    // newer snapshot at (5, term 2).
    let snapshot =
        SnapshotMeta { last: EntryId::new(Term(2), Index(5)), conf_state: ConfState::with_voters([NodeId(1)]) };
    let state = RestoredState {
        hard_state: HardState { term: Term(2), vote: None, commit: Index(5) },
        snapshot: Some(snapshot.clone()),
        entries: entries(&[(1, 3), (1, 4), (1, 5), (1, 6), (1, 7), (1, 8)]),
        applied: Index(5),
    };
    let node = Node::new(config(), state).expect("repairable");
    assert_eq!(node.last_index(), Index(5));
    assert_eq!(node.last_entry_id(), EntryId::new(Term(2), Index(5)));
    assert!(node.restore_repairs().contains(&RestoreRepair::EntriesDropped { count: 3 }));
    // Entries that hold the snapshot's last entry continue it: kept.
    let state = RestoredState {
        hard_state: HardState { term: Term(2), vote: None, commit: Index(5) },
        snapshot: Some(snapshot),
        entries: entries(&[(2, 4), (2, 5), (2, 6), (2, 7)]),
        applied: Index(5),
    };
    let node = Node::new(config(), state).expect("repairable");
    assert_eq!(node.last_index(), Index(7));
    assert_eq!(node.first_index(), Index(6));
}

#[test]
fn restore_empty_store_bootstraps_and_persists_the_configuration() {
    let mut c = config();
    c.bootstrap_voters = vec![NodeId(1), NodeId(2)];
    let mut node = Node::new(c, RestoredState::default()).expect("fresh");
    assert_eq!(node.membership().voters, vec![NodeId(1), NodeId(2)]);
    let out = node.step(Input::Tick);
    let persisted_conf = out.iter().find_map(|o| match o {
        crate::Output::Persist(p) => p.snapshot.as_ref().map(|s| s.conf_state.clone()),
        _ => None,
    });
    assert_eq!(persisted_conf.map(|c| c.voters), Some(vec![NodeId(1), NodeId(2)]));
    // A node with a store never uses the bootstrap voters.
    let mut c = config();
    c.bootstrap_voters = vec![NodeId(1), NodeId(2)];
    let state = RestoredState {
        hard_state: HardState { term: Term(1), vote: None, commit: Index(0) },
        ..RestoredState::default()
    };
    let node = Node::new(c, state).expect("valid");
    assert!(node.membership().voters.is_empty(), "a non-empty store must not bootstrap");
}

#[test]
fn restore_node_without_membership_never_campaigns() {
    let mut node = Node::new(config(), RestoredState::default()).expect("fresh, waiting to join");
    for _ in 0..100 {
        let _ = node.step(Input::Tick);
    }
    let _ = node.step(Input::Campaign);
    assert_eq!(node.role(), Role::Follower);
    assert_eq!(node.term(), Term(0));
}

/// Crash and restart every node at many points of an election and of
/// replication; the harness checks every invariant and cross-node safety
/// after every step, and the cluster must still converge.
#[test]
fn restart_at_every_point_keeps_invariants_and_converges() {
    for crash_after in 0..40usize {
        for victim in 1..=3u64 {
            let mut c = Cluster::new(3, |c| {
                c.pre_vote = false;
                c.check_quorum = false;
            });
            c.auto_persist = false;
            c.step(NodeId(1), Input::Campaign);
            let mut steps = 0;
            // Interleave deliveries, persists and proposals.
            while steps < crash_after {
                let id = NodeId(1 + (steps as u64 % 3));
                c.persist(id);
                c.deliver_one();
                if steps % 7 == 3 {
                    if let Some(l) = c.leader() {
                        c.propose(l.0, b"p");
                    }
                }
                steps += 1;
            }
            c.crash(victim);
            c.restart(victim);
            c.auto_persist = true;
            for id in c.ids() {
                c.persist(id);
            }
            let leader = c.tick_until_leader(200).expect("converges after the restart");
            c.propose(leader.0, b"after");
            c.drive();
            for _ in 0..3 {
                c.tick_all();
            }
            let commit = c.node(leader.0).commit_index();
            for id in 1..=3 {
                assert_eq!(c.node(id).commit_index(), commit, "crash_after={crash_after} victim={victim}");
            }
        }
    }
}

// Review finding: a repair made by restore (here a raised term) must reach
// the disk with the first Persist, before any promise goes out in it.
#[test]
fn restore_repairs_are_persisted_by_the_first_step() {
    let state = RestoredState {
        hard_state: HardState { term: Term(1), vote: Some(NodeId(2)), commit: Index(0) },
        snapshot: conf(),
        entries: entries(&[(1, 1), (3, 2)]),
        applied: Index(0),
    };
    let mut node = Node::new(config(), state).expect("repairable");
    let out = node.step(Input::Tick);
    let hs = out.iter().find_map(|o| match o {
        crate::Output::Persist(p) => p.hard_state,
        _ => None,
    });
    assert_eq!(hs, Some(HardState { term: Term(3), vote: None, commit: Index(0) }));
}

#[test]
fn restore_refuses_indexes_at_u64_max() {
    let state = RestoredState {
        hard_state: HardState { term: Term(1), vote: None, commit: Index(0) },
        snapshot: None,
        entries: vec![
            Entry::normal(Term(1), Index(u64::MAX), Bytes::new()),
            Entry::normal(Term(1), Index(u64::MAX), Bytes::new()),
        ],
        applied: Index(0),
    };
    assert_eq!(Node::new(config(), state).err(), Some(Error::Restore(RestoreError::IndexOverflow)));
}
