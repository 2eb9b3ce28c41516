//! Edge cases of the vote and append rules, each pinned by a test (many
//! found by mutation testing: a rule no test could tell apart from its
//! mutant).

use alloc::vec::Vec;

use bytes::{Bytes, BytesMut};
use raft_sansio_proto::{
    AppendEntriesResponse, ConfState, Entry, EntryId, EntryKind, Index, Message, MessageBody, NodeId, RequestVote,
    RequestVoteResponse, Term,
};

use super::harness::Cluster;
use super::persistence::{append, follower, sends};
use crate::{Config, DropReason, Event, Input, Node, Output, Role, VoteRefusal};

fn events(out: &[Output]) -> Vec<Event> {
    out.iter().filter_map(|o| if let Output::Event(e) = o { Some(*e) } else { None }).collect()
}

fn vote_request(from: u64, term: u64, last: (u64, u64), pre_vote: bool, priority: u64) -> Input {
    Input::Receive(Message {
        from: NodeId(from),
        to: NodeId(1),
        term: Term(term),
        body: MessageBody::RequestVote(RequestVote {
            pre_vote,
            transfer: false,
            last: EntryId::new(Term(last.0), Index(last.1)),
            priority,
        }),
    })
}

fn refusal(out: &[Output]) -> Option<VoteRefusal> {
    events(out).into_iter().find_map(|e| if let Event::VoteRefused { reason, .. } = e { Some(reason) } else { None })
}

fn granted(out: &[Output]) -> bool {
    events(out).iter().any(|e| matches!(e, Event::VoteGranted { .. }))
}

#[test]
fn vote_a_pre_vote_in_our_own_term_after_voting_for_another_is_refused() {
    let mut node = follower(&[1, 1], 1);
    assert!(granted(&node.step(vote_request(3, 2, (1, 2), false, 0))));
    assert_eq!(node.vote(), Some(NodeId(3)));
    // A pre-vote "for term 2" changes nothing about our term-2 vote.
    let out = node.step(vote_request(2, 2, (1, 9), true, 0));
    assert_eq!(refusal(&out), Some(VoteRefusal::AlreadyVoted { for_candidate: NodeId(3) }));
    // A pre-vote for a later term binds nothing: granted.
    assert!(granted(&node.step(vote_request(2, 3, (1, 9), true, 0))));
}

#[test]
fn vote_priority_decides_only_between_equally_up_to_date_logs() {
    let mut config = Config::new(NodeId(1), 3);
    config.priority = 5;
    config.check_quorum = false;
    let mk = |config: &Config| {
        let stored = super::harness::Stored {
            hard_state: raft_sansio_proto::HardState { term: Term(1), vote: None, commit: Index(0) },
            snapshot: Some(raft_sansio_proto::SnapshotMeta {
                last: EntryId::ZERO,
                conf_state: ConfState::with_voters([NodeId(1), NodeId(2), NodeId(3)]),
            }),
            entries: Vec::from([Entry::normal(Term(1), Index(1), Bytes::new())]),
            ..Default::default()
        };
        Node::new(config.clone(), stored.restored(Index(0))).expect("valid")
    };
    let mut node = mk(&config);
    assert_eq!(refusal(&node.step(vote_request(2, 2, (1, 1), false, 4))), Some(VoteRefusal::LowerPriority));
    let mut node = mk(&config);
    assert!(granted(&node.step(vote_request(2, 2, (1, 1), false, 6))), "a higher priority is granted");
    let mut node = mk(&config);
    assert!(granted(&node.step(vote_request(2, 2, (1, 2), false, 0))), "a longer log wins whatever the priority");
}

#[test]
fn vote_stale_granted_pre_vote_response_is_not_counted() {
    let mut c = Cluster::new(3, |_| {});
    c.elect(1);
    let term = c.node(2).term();
    c.isolate(2);
    // Node 2 pre-campaigns for term + 1. A granted pre-vote response that
    // carries only our current term answers an earlier pre-vote round.
    c.step(NodeId(2), Input::Campaign);
    assert_eq!(c.node(2).role(), Role::PreCandidate);
    let stale = Message {
        from: NodeId(3),
        to: NodeId(2),
        term,
        body: MessageBody::RequestVoteResponse(RequestVoteResponse { pre_vote: true, granted: true }),
    };
    c.step(NodeId(2), Input::Receive(stale));
    assert_eq!(c.node(2).role(), Role::PreCandidate, "a stale pre-vote grant was counted");
    let fresh = Message {
        from: NodeId(3),
        to: NodeId(2),
        term: term.next(),
        body: MessageBody::RequestVoteResponse(RequestVoteResponse { pre_vote: true, granted: true }),
    };
    c.step(NodeId(2), Input::Receive(fresh));
    assert_eq!(c.node(2).role(), Role::Candidate);
}

fn conf_entry(conf: &ConfState) -> Bytes {
    let mut buf = BytesMut::new();
    raft_sansio_proto::codec::encode_conf_state(conf, &mut buf);
    buf.freeze()
}

#[test]
fn gate_configuration_entries_must_be_valid_configurations() {
    let mut node = follower(&[1], 1);
    let with_payload = |payload: Bytes| {
        let Input::Receive(mut m) = append(2, 1, (1, 1), &[(1, 2)], 0) else { unreachable!() };
        if let MessageBody::AppendEntries(ae) = &mut m.body {
            ae.entries[0].kind = EntryKind::ConfChange;
            ae.entries[0].payload = payload;
        }
        Input::Receive(m)
    };
    // Decodes, but voters are not sorted: invalid.
    let unsorted = ConfState { voters: Vec::from([NodeId(3), NodeId(1)]), ..ConfState::default() };
    let out = node.step(with_payload(conf_entry(&unsorted)));
    assert!(events(&out).contains(&Event::MessageDropped {
        from: NodeId(2),
        kind: "AppendEntries",
        reason: DropReason::MalformedEntries
    }));
    assert_eq!(node.last_index(), Index(1));
    let valid = ConfState::with_voters([NodeId(1), NodeId(2), NodeId(3)]);
    let _ = node.step(with_payload(conf_entry(&valid)));
    assert_eq!(node.last_index(), Index(2));
}

#[test]
fn follower_prev_at_the_commit_index_with_a_wrong_term_is_rejected() {
    let mut node = follower(&[1, 1, 1, 1], 1);
    let _ = node.step(append(2, 1, (1, 4), &[], 3));
    let (emitted, _) = node.persist_seqs();
    let _ = node.step(Input::Persisted { up_to_seq: emitted });
    assert_eq!(node.commit_index(), Index(3));
    let out = node.step(append(3, 2, (2, 3), &[(2, 4)], 3));
    assert!(
        sends(&out).iter().any(|m| matches!(
            m.body,
            MessageBody::AppendEntriesResponse(AppendEntriesResponse::Reject { rejected_prev: Index(3), .. })
        )),
        "{out:?}"
    );
    assert_eq!(node.term_at(Index(4)), Some(Term(1)));
}

#[test]
fn follower_late_append_reaching_below_a_compaction_is_accepted() {
    let mut node = follower(&[1, 1, 1, 1, 1], 1);
    let _ = node.step(append(2, 1, (1, 5), &[], 4));
    let mut out = Vec::new();
    let (emitted, _) = node.persist_seqs();
    node.step_into(Input::Persisted { up_to_seq: emitted }, &mut out);
    let applied = node.apply_emitted_index();
    assert_eq!(applied, Index(4));
    let _ = node.step(Input::Applied { index: applied });
    let _ = node.step(Input::SnapshotTaken { index: Index(3), data: Bytes::new() });
    let _ = node.step(Input::Compact { index: Index(3) });
    assert_eq!(node.first_index(), Index(4));
    // A late append whose prev and first entries are compacted away.
    let out = node.step(append(2, 1, (1, 2), &[(1, 3), (1, 4), (1, 5), (1, 6)], 4));
    assert!(events(&out).is_empty(), "{out:?}");
    assert_eq!(node.last_index(), Index(6));
    let (emitted, _) = node.persist_seqs();
    let out = node.step(Input::Persisted { up_to_seq: emitted });
    assert!(sends(&out).iter().any(|m| matches!(
        m.body,
        MessageBody::AppendEntriesResponse(AppendEntriesResponse::Success { match_index: Index(6) })
    )));
}

#[test]
fn follower_conflict_hint_at_its_last_index() {
    // Terms 1 1 2; the leader's prev is (3, term 3): we hold index 3 in
    // term 2, whose first index is 3.
    let mut node = follower(&[1, 1, 2], 2);
    let out = node.step(append(2, 3, (3, 3), &[(3, 4)], 0));
    let conflict = sends(&out).iter().find_map(|m| match m.body {
        MessageBody::AppendEntriesResponse(AppendEntriesResponse::Reject { conflict, last_index, .. }) => {
            Some((conflict, last_index))
        }
        _ => None,
    });
    assert_eq!(conflict, Some((EntryId::new(Term(2), Index(3)), Index(3))));
    // Beyond our log: term 0 and our last index + 1.
    let out = node.step(append(2, 3, (3, 5), &[], 0));
    let conflict = sends(&out).iter().find_map(|m| match m.body {
        MessageBody::AppendEntriesResponse(AppendEntriesResponse::Reject { conflict, .. }) => Some(conflict),
        _ => None,
    });
    assert_eq!(conflict, Some(EntryId::new(Term(0), Index(4))));
}

fn ack(c: &Cluster, from: u64, index: u64) -> Input {
    Input::Receive(Message {
        from: NodeId(from),
        to: NodeId(1),
        term: c.node(1).term(),
        body: MessageBody::AppendEntriesResponse(AppendEntriesResponse::Success { match_index: Index(index) }),
    })
}

#[test]
fn leader_drops_an_ack_for_an_entry_held_back_by_coalescing() {
    let mut c = Cluster::new(3, |_| {});
    c.elect(1);
    let base = c.node(1).last_index();
    c.propose(1, b"a");
    c.propose(1, b"b");
    // "b" is held back behind the append carrying "a": never sent.
    assert_eq!(c.node(1).last_index(), base.plus(2));
    c.network.clear();
    let a = ack(&c, 2, base.0 + 2);
    c.step(NodeId(1), a);
    assert!(c
        .host(1)
        .events
        .iter()
        .any(|e| matches!(e, Event::MessageDropped { reason: DropReason::ImpossibleIndex, .. })));
    assert_eq!(c.node(1).progress(NodeId(2)).map(|p| p.match_index), Some(base));
}

#[test]
fn leader_an_ack_of_the_older_append_in_flight_advances_the_match() {
    let mut c = Cluster::new(3, |cfg| cfg.append_pipeline_depth = 4);
    c.elect(1);
    let base = c.node(1).last_index();
    c.propose(1, b"a");
    c.propose(1, b"b");
    c.network.clear();
    let first = ack(&c, 2, base.0 + 1);
    c.step(NodeId(1), first);
    assert_eq!(c.node(1).progress(NodeId(2)).map(|p| p.match_index), Some(base.next()));
}

#[test]
fn leader_recovers_at_once_when_a_commit_broadcast_is_rejected() {
    // Node 3 loses the append carrying "a"; the commit broadcast that follows
    // (an empty append whose prev is "a", the latest index sent) is rejected,
    // and that rejection alone sends node 3 back to probing: no tick needed.
    let mut c = Cluster::new(3, |_| {});
    c.elect(1);
    c.propose(1, b"a");
    let a = c.node(1).last_index();
    c.network.retain(|m| m.to != NodeId(3));
    c.drive();
    assert_eq!(c.node(3).last_index(), a, "node 3 caught up from the rejection");
    assert_eq!(c.node(3).commit_index(), a);
}
