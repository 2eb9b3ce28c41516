//! Persistence before promise (Raft thesis §3.8): votes, a candidate's own
//! vote, append acks and the leader's own count wait for `Persisted`; a
//! crash before it loses nothing that was promised.

use alloc::vec;
use alloc::vec::Vec;

use bytes::Bytes;
use raft_sansio_proto::{
    AppendEntries, AppendEntriesResponse, Entry, EntryId, Index, Message, MessageBody, NodeId, RequestVote, Term,
};

use super::harness::{Cluster, Stored};
use crate::{Config, Input, Node, Output, Role};

fn no_prevote(c: &mut Config) {
    c.pre_vote = false;
    c.check_quorum = false;
}

pub(crate) fn sends(outputs: &[Output]) -> Vec<&Message> {
    outputs.iter().filter_map(|o| if let Output::Send { message, .. } = o { Some(message) } else { None }).collect()
}

pub(crate) fn persists(outputs: &[Output]) -> Vec<&crate::Persist> {
    outputs.iter().filter_map(|o| if let Output::Persist(p) = o { Some(p) } else { None }).collect()
}

#[test]
fn persistence_vote_grant_waits_for_persisted() {
    let mut c = Cluster::new(3, no_prevote);
    c.auto_persist = false;
    c.step(NodeId(1), Input::Campaign);
    // Deliver the two vote requests only.
    c.deliver_one();
    c.deliver_one();
    assert!(c.network.is_empty(), "a vote grant left before its Persist was acknowledged");
    assert_eq!(c.node(2).pending_promises(), 1);
    c.persist(NodeId(2));
    assert_eq!(c.node(2).pending_promises(), 0);
    assert_eq!(c.network.len(), 1, "the grant is released by Persisted");
}

#[test]
fn persistence_term_and_vote_travel_in_one_hard_state() {
    // hashicorp/raft #661: term and vote written apart can be torn by a
    // crash into "new term, no vote", letting the node vote twice.
    let mut c = Cluster::new(3, no_prevote);
    c.auto_persist = false;
    c.step(NodeId(1), Input::Campaign);
    c.deliver_one();
    let host = c.host(2);
    let p = host.pending.back().expect("a Persist for the vote");
    let hs = p.hard_state.expect("the hard state");
    assert_eq!((hs.term, hs.vote), (Term(1), Some(NodeId(1))));
    assert!(p.must_sync);
}

#[test]
fn persistence_candidate_leads_only_once_its_own_vote_is_durable() {
    let mut c = Cluster::new(3, no_prevote);
    c.auto_persist = false;
    c.step(NodeId(1), Input::Campaign);
    c.deliver_one();
    c.deliver_one();
    c.persist(NodeId(2));
    c.persist(NodeId(3));
    c.drive();
    // Two grants are a quorum of three without node 1's own vote, but node 1
    // may not lead before (term, vote) is durable.
    assert_eq!(c.node(1).role(), Role::Candidate);
    c.persist(NodeId(1));
    assert_eq!(c.node(1).role(), Role::Leader);
}

#[test]
fn persistence_candidate_crashing_before_its_vote_is_durable_never_led() {
    let mut c = Cluster::new(3, no_prevote);
    c.auto_persist = false;
    c.step(NodeId(1), Input::Campaign);
    c.deliver_one();
    c.deliver_one();
    c.persist(NodeId(2));
    c.persist(NodeId(3));
    c.drive();
    c.crash(1);
    c.restart(1);
    assert_eq!(c.node(1).term(), Term(0), "the unpersisted term is gone");
    assert_eq!(c.node(1).role(), Role::Follower);
}

#[test]
fn persistence_leader_that_crashes_cannot_vote_again_in_its_term() {
    let mut c = Cluster::new(3, no_prevote);
    c.elect(1);
    let term = c.node(1).term();
    c.crash(1);
    c.restart(1);
    assert_eq!(c.node(1).vote(), Some(NodeId(1)));
    // Node 2 asks for node 1's vote in the same term.
    let request = Message {
        from: NodeId(2),
        to: NodeId(1),
        term,
        body: MessageBody::RequestVote(RequestVote {
            pre_vote: false,
            transfer: false,
            last: EntryId::new(Term(9), Index(9)),
            priority: 0,
        }),
    };
    let out = c.step(NodeId(1), Input::Receive(request));
    let _ = out;
    let events = &c.host(1).events;
    assert!(
        events
            .iter()
            .any(|e| matches!(e, crate::Event::VoteRefused { reason: crate::VoteRefusal::AlreadyVoted { .. }, .. })),
        "{events:?}"
    );
}

#[test]
fn persistence_append_ack_waits_for_persisted_and_crash_loses_nothing_promised() {
    let mut c = Cluster::new(3, no_prevote);
    c.elect(1);
    c.isolate(3);
    c.auto_persist = false;
    c.propose(1, b"x");
    c.persist(NodeId(1));
    c.deliver_one();
    // Node 2 appended but did not persist: no ack, no commit.
    assert!(c.network.iter().all(|m| m.from != NodeId(2)));
    let before = c.node(1).commit_index();
    c.crash(2);
    c.restart(2);
    c.drive();
    assert_eq!(c.node(1).commit_index(), before, "committed on an ack that was never durable");
    assert_eq!(c.node(2).last_index(), before, "the unpersisted entry is gone after the crash");
}

#[test]
fn persistence_leader_counts_itself_only_once_durable() {
    let mut c = Cluster::new(3, no_prevote);
    c.elect(1);
    c.isolate(3);
    c.auto_persist = false;
    c.propose(1, b"x");
    let index = c.node(1).last_index();
    c.deliver_one();
    c.persist(NodeId(2));
    c.drive();
    // Node 2 holds it durably; node 1 does not yet: 1 of 3 is no quorum.
    assert!(c.node(1).commit_index() < index);
    c.persist(NodeId(1));
    assert_eq!(c.node(1).commit_index(), index);
}

pub(crate) fn follower(terms: &[u64], term: u64) -> Node {
    let mut config = Config::new(NodeId(1), 7);
    config.pre_vote = false;
    config.check_quorum = false;
    let stored = Stored {
        hard_state: raft_sansio_proto::HardState { term: Term(term), vote: None, commit: Index(0) },
        snapshot: Some(raft_sansio_proto::SnapshotMeta {
            last: EntryId::ZERO,
            conf_state: raft_sansio_proto::ConfState::with_voters([NodeId(1), NodeId(2), NodeId(3)]),
        }),
        entries: terms
            .iter()
            .enumerate()
            .map(|(i, &t)| Entry::normal(Term(t), Index(i as u64 + 1), Bytes::from_static(b"e")))
            .collect(),
        ..Default::default()
    };
    Node::new(config, stored.restored(Index(0))).expect("valid")
}

pub(crate) fn append(from: u64, term: u64, prev: (u64, u64), entries: &[(u64, u64)], commit: u64) -> Input {
    Input::Receive(Message {
        from: NodeId(from),
        to: NodeId(1),
        term: Term(term),
        body: MessageBody::AppendEntries(AppendEntries {
            prev: EntryId::new(Term(prev.0), Index(prev.1)),
            entries: entries.iter().map(|&(t, i)| Entry::normal(Term(t), Index(i), Bytes::from_static(b"n"))).collect(),
            leader_commit: Index(commit),
            lowest_data_match: Index(0),
        }),
    })
}

// The ABA problem of asynchronous storage (etcd-io/raft's "unstable" log):
// an old write of (5, t2) is truncated by (5, t3) and re-appended as (5, t2)
// by a later leader. A late `Persisted` for the first write must not vouch
// for the re-appended entry nor release the later ack.
#[test]
fn persistence_aba_late_persisted_for_a_truncated_write_releases_no_later_ack() {
    let mut node = follower(&[1, 1, 1, 1], 1);
    let a = node.step(append(2, 2, (1, 4), &[(2, 5)], 0));
    let seq_a = persists(&a)[0].seq;
    let b = node.step(append(3, 3, (1, 4), &[(3, 5)], 0));
    assert_eq!(persists(&b)[0].truncate_from, Some(Index(5)));
    let c = node.step(append(2, 4, (1, 4), &[(2, 5)], 0));
    assert_eq!(persists(&c)[0].truncate_from, Some(Index(5)));
    assert_eq!(node.term_at(Index(5)), Some(Term(2)));
    // Only the first write is durable.
    let out = node.step(Input::Persisted { up_to_seq: seq_a });
    let released: Vec<_> = sends(&out).into_iter().filter(|m| m.term == Term(4)).collect();
    assert!(released.is_empty(), "the term-4 ack left on the term-2 write's Persisted: {released:?}");
    assert_eq!(node.persisted_index(), Index(4), "a truncated write vouched for the re-appended entry");
    // Once every write is durable the ack leaves.
    let (emitted, _) = node.persist_seqs();
    let out = node.step(Input::Persisted { up_to_seq: emitted });
    assert!(sends(&out).iter().any(|m| m.term == Term(4)
        && matches!(
            m.body,
            MessageBody::AppendEntriesResponse(AppendEntriesResponse::Success { match_index: Index(5) })
        )));
    assert_eq!(node.persisted_index(), Index(5));
}

#[test]
fn persistence_truncating_persist_lowers_persisted_at_once() {
    let mut node = follower(&[1, 1, 1, 1, 1, 1], 1);
    assert_eq!(node.persisted_index(), Index(6));
    let out = node.step(append(2, 2, (1, 3), &[(2, 4)], 0));
    assert_eq!(persists(&out)[0].truncate_from, Some(Index(4)));
    assert_eq!(node.persisted_index(), Index(3));
}

#[test]
fn persistence_commit_only_persist_needs_no_sync() {
    let mut node = follower(&[1, 1, 1], 1);
    // A commit advance alone opens no Persist of its own...
    let out = node.step(append(2, 1, (1, 3), &[], 2));
    assert!(persists(&out).is_empty(), "a commit-only change was persisted at once");
    assert_eq!(node.commit_index(), Index(2));
    // ...it is checkpointed with the next tick, without a sync.
    let out = node.step(Input::Tick);
    let p = persists(&out);
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].hard_state.map(|h| h.commit), Some(Index(2)));
    assert!(!p[0].must_sync, "a commit-only Persist was marked must_sync");
    assert!(p[0].entries.is_empty());
    // A Persist that writes entries carries the latest commit along.
    let out = node.step(append(2, 1, (1, 3), &[(1, 4)], 3));
    let p = persists(&out);
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].hard_state.map(|h| h.commit), Some(Index(3)));
    assert!(p[0].must_sync);
}

// etcd #14370: a single voter applied entries before they were durable.
#[test]
fn regression_single_voter_never_applies_before_persist() {
    let mut c = Cluster::new(1, |_| {});
    c.auto_persist = false;
    c.step(NodeId(1), Input::Campaign);
    c.persist(NodeId(1));
    c.persist(NodeId(1));
    assert_eq!(c.node(1).role(), Role::Leader);
    let applied_before = c.host(1).applied.len();
    let out = c.propose(1, b"x");
    assert!(!out.iter().any(|o| matches!(o, Output::Apply { .. })));
    assert_eq!(c.host(1).applied.len(), applied_before, "applied before durable");
    assert!(c.node(1).commit_index() < c.node(1).last_index());
    c.persist(NodeId(1));
    assert_eq!(c.host(1).applied.last().map(|e| e.payload.clone()), Some(Bytes::from_static(b"x")));
    let _ = vec![0];
}
