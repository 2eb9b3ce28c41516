//! Remote input is untrusted: duplicated, reordered, stale, shorter,
//! conflicting, forged and malformed messages change nothing unsafe and say
//! why in an `Event`; host misuse is an `Event`, never a panic.

use alloc::vec::Vec;

use bytes::Bytes;
use raft_sansio_proto::{
    AppendEntries, AppendEntriesResponse, Entry, EntryId, Index, Message, MessageBody, NodeId, RequestVote, Term,
};

use super::harness::Cluster;
use super::persistence::{append, follower, sends};
use crate::{DropReason, Event, Input, MisuseReason, Output, Role};

fn dropped(out: &[Output]) -> Vec<DropReason> {
    out.iter()
        .filter_map(|o| match o {
            Output::Event(Event::MessageDropped { reason, .. }) => Some(*reason),
            _ => None,
        })
        .collect()
}

fn misuse(out: &[Output]) -> Vec<MisuseReason> {
    out.iter()
        .filter_map(|o| match o {
            Output::Event(Event::InputIgnored { reason }) => Some(*reason),
            _ => None,
        })
        .collect()
}

fn acked(out: &[Output]) -> Option<Index> {
    sends(out).iter().find_map(|m| match m.body {
        MessageBody::AppendEntriesResponse(AppendEntriesResponse::Success { match_index }) => Some(match_index),
        _ => None,
    })
}

fn step_persisted(node: &mut crate::Node, input: Input) -> Vec<Output> {
    let mut out = node.step(input);
    let (emitted, _) = node.persist_seqs();
    out.extend(node.step(Input::Persisted { up_to_seq: emitted }));
    out
}

#[test]
fn remote_duplicated_append_changes_nothing_and_is_acked_again() {
    let mut node = follower(&[1, 1], 2);
    let m = append(2, 2, (1, 2), &[(2, 3), (2, 4)], 2);
    let out = step_persisted(&mut node, m.clone());
    assert_eq!(acked(&out), Some(Index(4)));
    let out = step_persisted(&mut node, m);
    assert_eq!(acked(&out), Some(Index(4)));
    assert_eq!(node.last_index(), Index(4));
    assert_eq!(node.commit_index(), Index(2));
}

#[test]
fn remote_reordered_appends_reject_then_accept() {
    let mut node = follower(&[1, 1], 2);
    let later = append(2, 2, (2, 3), &[(2, 4)], 0);
    let out = step_persisted(&mut node, later.clone());
    assert!(sends(&out).iter().any(|m| matches!(
        m.body,
        MessageBody::AppendEntriesResponse(AppendEntriesResponse::Reject { rejected_prev: Index(3), .. })
    )));
    assert_eq!(node.last_index(), Index(2));
    step_persisted(&mut node, append(2, 2, (1, 2), &[(2, 3)], 0));
    let out = step_persisted(&mut node, later);
    assert_eq!(acked(&out), Some(Index(4)));
}

// async-raft truncated the log after `prev` on every append: a late,
// shorter append that matches must remove nothing.
#[test]
fn regression_shorter_matching_append_truncates_nothing() {
    let mut node = follower(&[1, 1, 1, 1, 1], 1);
    let out = step_persisted(&mut node, append(2, 1, (1, 2), &[(1, 3)], 0));
    assert_eq!(node.last_index(), Index(5), "a matching shorter append truncated the log");
    // The ack covers what the message verified, not our whole log.
    assert_eq!(acked(&out), Some(Index(3)));
}

#[test]
fn remote_stale_term_append_is_dropped_and_answered_with_our_term() {
    let mut node = follower(&[1, 1], 5);
    let out = node.step(append(2, 3, (1, 2), &[(3, 3)], 0));
    assert_eq!(dropped(&out), [DropReason::StaleTerm]);
    assert_eq!(node.last_index(), Index(2));
    let replies = sends(&out);
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0].term, Term(5), "the stale leader learns the newer term");
}

#[test]
fn remote_append_conflicting_below_commit_is_dropped() {
    let mut node = follower(&[1, 1, 1, 1], 1);
    step_persisted(&mut node, append(2, 1, (1, 4), &[], 3));
    assert_eq!(node.commit_index(), Index(3));
    // A forged leader of a later term claims index 3 holds term 2.
    let out = node.step(append(3, 2, (1, 1), &[(1, 2), (2, 3)], 3));
    assert_eq!(dropped(&out), [DropReason::ConflictBelowCommit]);
    assert_eq!(node.term_at(Index(3)), Some(Term(1)), "a committed entry was truncated");
    assert_eq!(node.last_index(), Index(4));
}

#[test]
fn remote_invalid_sender_ids_are_dropped() {
    let mut node = follower(&[1], 1);
    let mut from_zero = match append(2, 1, (1, 1), &[(1, 2)], 0) {
        Input::Receive(m) => m,
        _ => unreachable!(),
    };
    from_zero.from = NodeId(0);
    let out = node.step(Input::Receive(from_zero.clone()));
    assert_eq!(dropped(&out), [DropReason::InvalidSender]);
    let mut from_self = from_zero.clone();
    from_self.from = NodeId(1);
    assert_eq!(dropped(&node.step(Input::Receive(from_self))), [DropReason::FromSelf]);
    let mut to_other = from_zero;
    to_other.from = NodeId(2);
    to_other.to = NodeId(3);
    assert_eq!(dropped(&node.step(Input::Receive(to_other))), [DropReason::WrongRecipient]);
    assert_eq!(node.last_index(), Index(1));
    assert_eq!(node.term(), Term(1));
}

#[test]
fn remote_malformed_entries_are_dropped_before_anything_changes() {
    let mut node = follower(&[1], 1);
    // A gap after prev.
    let out = node.step(append(2, 3, (1, 1), &[(3, 3)], 0));
    assert_eq!(dropped(&out), [DropReason::MalformedEntries]);
    // An entry of a later term than the message's.
    let out = node.step(append(2, 3, (1, 1), &[(4, 2)], 0));
    assert_eq!(dropped(&out), [DropReason::MalformedEntries]);
    // Decreasing terms.
    let out = node.step(append(2, 3, (1, 1), &[(3, 2), (2, 3)], 0));
    assert_eq!(dropped(&out), [DropReason::MalformedEntries]);
    assert_eq!(node.last_index(), Index(1));
    // Validated before taking any action: not even the term moved.
    assert_eq!(node.term(), Term(1));
}

#[test]
fn remote_leader_drops_acks_beyond_what_it_sent() {
    // openraft: acks must be matched against what is in flight; an ack for
    // an index never sent must not advance the match (or the commit).
    let mut c = Cluster::new(3, |c| {
        c.pre_vote = false;
        c.check_quorum = false;
    });
    c.elect(1);
    let last = c.node(1).last_index();
    let forged = Message {
        from: NodeId(2),
        to: NodeId(1),
        term: c.node(1).term(),
        body: MessageBody::AppendEntriesResponse(AppendEntriesResponse::Success { match_index: last.plus(5) }),
    };
    let out = c.step(NodeId(1), Input::Receive(forged));
    let _ = out;
    assert!(c
        .host(1)
        .events
        .iter()
        .any(|e| matches!(e, Event::MessageDropped { reason: DropReason::ImpossibleIndex, .. })));
    assert_eq!(c.node(1).progress(NodeId(2)).map(|p| p.match_index), Some(last));
    // A duplicated old ack changes nothing either.
    c.propose(1, b"y");
    c.drive();
    let m = c.node(1).progress(NodeId(2)).map(|p| p.match_index);
    let dup = Message {
        from: NodeId(2),
        to: NodeId(1),
        term: c.node(1).term(),
        body: MessageBody::AppendEntriesResponse(AppendEntriesResponse::Success { match_index: Index(1) }),
    };
    c.step(NodeId(1), Input::Receive(dup));
    assert_eq!(c.node(1).progress(NodeId(2)).map(|p| p.match_index), m);
}

// async-raft compared (index, term) in the wrong order.
#[test]
fn regression_up_to_date_compares_last_term_before_last_index() {
    let mut node = follower(&[1, 2, 3, 3, 3], 3);
    let vote = |from: u64, term: u64, last: (u64, u64)| {
        Input::Receive(Message {
            from: NodeId(from),
            to: NodeId(1),
            term: Term(term),
            body: MessageBody::RequestVote(RequestVote {
                pre_vote: false,
                transfer: false,
                last: EntryId::new(Term(last.0), Index(last.1)),
                priority: 0,
            }),
        })
    };
    // A longer log of an older term is less up to date.
    let out = node.step(vote(2, 4, (2, 100)));
    assert!(out
        .iter()
        .any(|o| matches!(o, Output::Event(Event::VoteRefused { reason: crate::VoteRefusal::LogNotUpToDate, .. }))));
    // A shorter log of a newer term is more up to date.
    let out = node.step(vote(3, 5, (4, 1)));
    assert!(out.iter().any(|o| matches!(o, Output::Event(Event::VoteGranted { .. }))), "{out:?}");
}

#[test]
fn misuse_forged_persisted_applied_and_compact_are_events() {
    let mut node = follower(&[1, 1], 1);
    let out = node.step(Input::Persisted { up_to_seq: 99 });
    assert!(matches!(misuse(&out)[..], [MisuseReason::PersistedBeyondEmitted { up_to_seq: 99, .. }]));
    let out = node.step(Input::Applied { index: Index(7) });
    assert!(matches!(misuse(&out)[..], [MisuseReason::AppliedBeyondEmitted { .. }]));
    let out = node.step(Input::Compact { index: Index(2) });
    assert!(matches!(misuse(&out)[..], [MisuseReason::CompactBeyondApplied { .. }]));
    assert_eq!(node.first_index(), Index(1));
    assert_eq!(node.role(), Role::Follower);
    let _ = (
        Bytes::new(),
        Entry::noop(Term(1), Index(1)),
        AppendEntries {
            prev: EntryId::ZERO,
            entries: Vec::new(),
            leader_commit: Index(0),
            lowest_data_match: Index(0),
        },
    );
}

// Review finding: entries of term 0, or a configuration entry whose payload
// is not a configuration, were accepted and persisted, and the node could
// then not restart from its own disk.
#[test]
fn remote_term_zero_and_invalid_configuration_entries_are_dropped_at_the_gate() {
    let mut node = follower(&[], 0);
    let out = node.step(append(2, 0, (0, 0), &[(0, 1)], 0));
    assert_eq!(dropped(&out), [DropReason::InvalidTerm]);
    let out = node.step(append(2, 1, (0, 0), &[(0, 1)], 0));
    assert_eq!(dropped(&out), [DropReason::MalformedEntries]);
    let out = node.step(append(2, 1, (0, 5), &[(1, 6)], 0));
    assert_eq!(dropped(&out), [DropReason::MalformedEntries], "prev of term 0 above index 0");
    let mut bad_conf = match append(2, 1, (0, 0), &[(1, 1)], 0) {
        Input::Receive(m) => m,
        _ => unreachable!(),
    };
    if let MessageBody::AppendEntries(ae) = &mut bad_conf.body {
        ae.entries[0].kind = raft_sansio_proto::EntryKind::ConfChange;
        ae.entries[0].payload = Bytes::from_static(b"not a configuration");
    }
    let out = node.step(Input::Receive(bad_conf));
    assert_eq!(dropped(&out), [DropReason::MalformedEntries]);
    assert_eq!(node.last_index(), Index(0));
    let vote0 = Input::Receive(Message {
        from: NodeId(2),
        to: NodeId(1),
        term: Term(0),
        body: MessageBody::RequestVote(RequestVote {
            pre_vote: false,
            transfer: false,
            last: EntryId::ZERO,
            priority: 0,
        }),
    });
    assert_eq!(dropped(&node.step(vote0)), [DropReason::InvalidTerm]);
    assert_eq!(node.vote(), None);
}

/// An append whose `prev` and first entries were compacted away on the
/// follower (they are committed, so they match): the follower skips them
/// and takes the rest, instead of calling them conflicts below its commit.
#[test]
fn remote_append_from_below_the_compaction_point_skips_the_committed_prefix() {
    let mut node = follower(&[1, 1, 1, 1, 1, 1, 1], 2);
    let out = step_persisted(&mut node, append(2, 2, (1, 7), &[], 7));
    assert_eq!(node.commit_index(), Index(7));
    assert!(out.iter().any(|o| matches!(o, Output::Apply { .. })));
    let _ = node.step(Input::Applied { index: Index(7) });
    let _ = step_persisted(&mut node, Input::SnapshotTaken { index: Index(5), data: Bytes::from_static(b"s") });
    let _ = node.step(Input::Compact { index: Index(5) });
    assert_eq!(node.first_index(), Index(6));
    let out = step_persisted(&mut node, append(2, 2, (1, 3), &[(1, 4), (1, 5), (1, 6), (1, 7), (2, 8)], 7));
    assert!(dropped(&out).is_empty(), "{out:?}");
    assert_eq!(acked(&out), Some(Index(8)));
    assert_eq!(node.last_index(), Index(8));
}
