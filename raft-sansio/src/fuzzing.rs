//! Bodies of the cargo-fuzz targets in `fuzz/` that drive the core. They
//! live here so that `cargo test` runs them too, over generated inputs.
//!
//! Target `step`: one node fed an arbitrary sequence of inputs. The
//! generator is structure-aware: most messages are built relative to the
//! node's current state (its term, its log), so that sequences reach
//! elections, leadership and commits instead of dying at the gate; the rest
//! are forged outright, and the host misbehaves on purpose (late, forged and
//! partial `Persisted`, `Applied` and `Compact` beyond what is allowed,
//! restarts from a disk that lost what was not acknowledged). After every
//! step: no panic, and `check_invariants()` holds.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use arbitrary::{Arbitrary, Unstructured};
use bytes::Bytes;
use raft_sansio_proto::{
    AppendEntries, AppendEntriesResponse, Entry, EntryId, HardState, Heartbeat, HeartbeatResponse, Index,
    InstallSnapshot, InstallSnapshotResponse, Message, MessageBody, NodeId, RequestVote, RequestVoteResponse,
    SnapshotId, SnapshotMeta, SnapshotStatus, Term,
};

use crate::{Config, Input, Node, Output, Persist, RequestId, RestoredState, Role};

/// One step of a fuzzed sequence.
#[derive(Clone, Debug)]
pub enum Op {
    /// `Input::Tick`, `n + 1` times.
    Tick(u8),
    /// `Input::Campaign`.
    Campaign,
    /// Acknowledge every Persist but the last `lag` (usually all).
    Persist(u8),
    /// A forged `Persisted` beyond what was emitted.
    PersistForged(u8),
    /// Propose a command of `len % 64` bytes.
    Propose(u8),
    /// Propose a batch of `n % 5` commands (0 is a misuse).
    ProposeBatch(u8),
    /// `Applied` at the last emitted index minus `back % 3` (plus a forged
    /// one beyond it when `back` is 255).
    Applied(u8),
    /// `Compact` at the applied index minus `back % 4` (or beyond it).
    Compact(u8),
    /// `SnapshotTaken` at the applied index minus `back % 3`.
    SnapshotTaken(u8),
    /// A snapshot chunk from a peer acting as leader, for a snapshot
    /// `ahead % 6` entries past our commit index (0 is stale).
    InstallSnapshot {
        /// The sender.
        from: u8,
        /// Term offset from ours.
        term: i8,
        /// How far past our commit the snapshot ends.
        ahead: u8,
        /// Whether its last entry matches our log's.
        matching: bool,
        /// Chunk position: which third of the snapshot.
        part: u8,
        /// Total length, `total % 16 + 1`.
        total: u8,
    },
    /// An answer to the latest snapshot chunk sent to a peer.
    SnapshotResponse {
        /// The peer.
        from: u8,
        /// Receiving, installed or rejected.
        kind: u8,
        /// Offset or index back from the fitting value.
        back: u8,
    },
    /// `ReportUnreachable` for peer `p % 4 + 1`.
    Unreachable(u8),
    /// A vote (or pre-vote) grant or refusal from a peer. When `fitting`,
    /// it answers the election the node is running (pre-vote or vote, in
    /// the right term); otherwise `pre_vote` says which.
    VoteResponse {
        /// The peer.
        from: u8,
        /// Answer the node's own election.
        fitting: bool,
        /// Answer a pre-vote (when not `fitting`).
        pre_vote: bool,
        /// Grant it.
        granted: bool,
    },
    /// A vote request from a peer, a few terms around ours.
    RequestVote {
        /// The peer.
        from: u8,
        /// Term offset from ours, -2..=+2.
        term: i8,
        /// Pre-vote.
        pre_vote: bool,
        /// Transfer flag.
        transfer: bool,
        /// How the candidate's last entry compares with ours.
        last: i8,
    },
    /// An append from a peer acting as leader, built on our log: `back`
    /// entries before our last as `prev`, `count` new entries, some in
    /// conflict when `conflict`.
    Append {
        /// The sender.
        from: u8,
        /// Term offset from ours.
        term: i8,
        /// Entries before our last for `prev`.
        back: u8,
        /// New entries.
        count: u8,
        /// Give `prev` a wrong term.
        conflict: bool,
        /// Commit offset from the message's last index.
        commit: i8,
    },
    /// A heartbeat from a peer.
    Heartbeat {
        /// The sender.
        from: u8,
        /// Term offset.
        term: i8,
        /// Commit offset from our last index.
        commit: i8,
    },
    /// An append response from a peer (to us as leader).
    AppendResponse {
        /// The sender.
        from: u8,
        /// Success or rejection.
        success: bool,
        /// Index offset back from our last index.
        back: u8,
    },
    /// A heartbeat response from a peer.
    HeartbeatResponse {
        /// The sender.
        from: u8,
    },
    /// A message forged outright.
    Raw(Message),
    /// A membership change asked of this node: `kinds` picks, for two
    /// ids among 1..=6, add voter, add learner, add witness or remove;
    /// `transition` the way through.
    Change {
        /// Two ids (low and high nibble).
        ids: u8,
        /// Two kinds (two bits each), and whether the second one is used.
        kinds: u8,
        /// Auto, joint with auto-leave, joint explicit, or leave.
        transition: u8,
    },
    /// Crash and restart from the disk (unacknowledged Persists lost).
    Restart,
}

impl<'a> Arbitrary<'a> for Op {
    /// Weighted so that sequences reach elections, leadership and commits:
    /// persistence acknowledgements, fitting vote responses and acks are
    /// common; forged messages and restarts are rare but always possible.
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Op> {
        let b = |u: &mut Unstructured<'a>| u8::arbitrary(u);
        Ok(match u.int_in_range(0u8..=99)? {
            0..=9 => Op::Tick(b(u)? % 3),
            10..=16 => Op::Campaign,
            17..=34 => Op::Persist(b(u)? % 4),
            35 => Op::PersistForged(b(u)?),
            36..=45 => Op::Propose(b(u)?),
            46..=48 => Op::ProposeBatch(b(u)?),
            49..=51 => Op::Applied(b(u)?),
            52 => Op::Compact(b(u)?),
            53 => Op::SnapshotTaken(b(u)?),
            54 => Op::Unreachable(b(u)?),
            55..=68 => Op::VoteResponse {
                from: b(u)?,
                fitting: u.ratio(9u8, 10u8)?,
                pre_vote: bool::arbitrary(u)?,
                granted: u.ratio(4u8, 5u8)?,
            },
            69..=72 => Op::RequestVote {
                from: b(u)?,
                term: i8::arbitrary(u)?,
                pre_vote: bool::arbitrary(u)?,
                transfer: u.ratio(1u8, 8u8)?,
                last: i8::arbitrary(u)?,
            },
            73..=78 => Op::Append {
                from: b(u)?,
                term: i8::arbitrary(u)?,
                back: b(u)?,
                count: b(u)?,
                conflict: u.ratio(1u8, 4u8)?,
                commit: i8::arbitrary(u)?,
            },
            79..=81 => Op::Heartbeat { from: b(u)?, term: i8::arbitrary(u)?, commit: i8::arbitrary(u)? },
            82..=91 => Op::AppendResponse {
                from: b(u)?,
                success: u.ratio(4u8, 5u8)?,
                back: if u.ratio(3u8, 4u8)? { 0 } else { b(u)? },
            },
            92 => Op::SnapshotResponse { from: b(u)?, kind: b(u)?, back: b(u)? },
            93..=95 => Op::HeartbeatResponse { from: b(u)? },
            96 => Op::Raw(Message::arbitrary(u)?),
            97 => Op::InstallSnapshot {
                from: b(u)?,
                term: i8::arbitrary(u)?,
                ahead: b(u)?,
                matching: bool::arbitrary(u)?,
                part: b(u)?,
                total: b(u)?,
            },
            98 => Op::Change { ids: b(u)?, kinds: b(u)?, transition: b(u)? },
            _ => Op::Restart,
        })
    }
}

/// What a run reached, for measuring the generator.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StepStats {
    /// The node was leader at some point.
    pub led: bool,
    /// An entry of its own term (the no-op counts) was committed while it
    /// led.
    pub committed_as_leader: bool,
    /// A client command of its own term was committed while it led.
    pub committed_command_as_leader: bool,
    /// Steps executed.
    pub steps: usize,
}

struct Disk {
    hard_state: HardState,
    snapshot: Option<SnapshotMeta>,
    entries: Vec<Entry>,
}

impl Disk {
    fn apply(&mut self, p: &Persist) {
        if let Some(meta) = &p.snapshot {
            self.snapshot = Some((**meta).clone());
            let last = meta.last.index;
            self.entries.retain(|e| e.index > last);
        }
        if let Some(t) = p.truncate_from {
            self.entries.retain(|e| e.index < t);
        }
        self.entries.extend(p.entries.iter().cloned());
        if let Some(hs) = p.hard_state {
            self.hard_state = hs;
        }
    }
}

/// Peers 2 and 3 (voters) most of the time, node 4 (outside the
/// configuration) sometimes.
fn peer(x: u8) -> NodeId {
    match x % 8 {
        7 => NodeId(4),
        k => NodeId(2 + u64::from(k % 2)),
    }
}

/// Our term most of the time; one behind, one or two ahead sometimes.
fn offset_term(term: Term, x: i8) -> Term {
    let delta: i64 = match x.rem_euclid(8) {
        0 => -1,
        1 => 1,
        2 => 2,
        _ => 0,
    };
    Term(term.0.saturating_add_signed(delta))
}

/// Runs the `step` target on raw fuzzer bytes.
pub fn step(data: &[u8]) -> StepStats {
    // Decode ops until the bytes run out, so that the sequence length follows
    // the input length (Vec's own length prefix makes most sequences short).
    let mut u = Unstructured::new(data);
    let mut ops = Vec::new();
    while !u.is_empty() && ops.len() < 2048 {
        match Op::arbitrary(&mut u) {
            Ok(op) => ops.push(op),
            Err(_) => break,
        }
    }
    step_ops(&ops)
}

/// Runs the `step` target on a decoded sequence.
pub fn step_ops(ops: &[Op]) -> StepStats {
    let mut config = Config::new(NodeId(1), 99);
    // Voters 1..=3; messages also come from 4, a node outside the
    // configuration.
    config.bootstrap_voters = alloc::vec![NodeId(1), NodeId(2), NodeId(3)];
    config.max_inflight_msgs = 2;
    config.max_size_per_msg = 64;
    config.max_uncommitted_size = 256;
    config.max_apply_bytes = 32;
    let mut node = Node::new(config.clone(), RestoredState::default()).expect("valid config");
    let mut disk = Disk { hard_state: HardState::default(), snapshot: None, entries: Vec::new() };
    let mut pending: VecDeque<Persist> = VecDeque::new();
    let mut applied_last: Option<Index> = None;
    let mut stats = StepStats::default();
    let mut out: Vec<Output> = Vec::new();
    let mut request = 0u64;
    // The last index of the latest append sent to each peer (by id), so
    // that acks answer what is really in flight.
    let mut sent = [Index::ZERO; 5];
    // The latest snapshot chunk sent to each peer: its id and end offset.
    let mut chunks_sent: [Option<(SnapshotId, u64)>; 5] = [None; 5];
    for op in ops.iter().take(2048) {
        let mut inputs: VecDeque<Input> = inputs_for(op, &node, &pending, &sent, &chunks_sent, &mut request).into();
        if matches!(op, Op::Restart) {
            pending.clear();
            let state = RestoredState {
                hard_state: disk.hard_state,
                snapshot: disk.snapshot.clone(),
                entries: disk.entries.clone(),
                applied: Index::ZERO,
            };
            node = Node::new(config.clone(), state).expect("a disk written by the core restores");
            applied_last = None;
            continue;
        }
        while let Some(input) = inputs.pop_front() {
            if let Input::Persisted { up_to_seq } = input {
                while pending.front().is_some_and(|p| p.seq <= up_to_seq) {
                    if let Some(p) = pending.pop_front() {
                        disk.apply(&p);
                    }
                }
            }
            out.clear();
            node.step_into(input, &mut out);
            stats.steps += 1;
            if let Err(v) = node.check_invariants() {
                panic!("invariant broken: {v:?}\n{node:?}\nafter {op:?}");
            }
            for o in out.drain(..) {
                match o {
                    Output::Persist(p) => pending.push_back(p),
                    Output::Apply { entries } => {
                        for e in entries.iter() {
                            // Applied exactly once, in order, only committed.
                            assert!(e.index <= node.commit_index(), "applied beyond commit");
                            if let Some(last) = applied_last {
                                assert_eq!(e.index, last.next(), "apply out of order");
                            }
                            applied_last = Some(e.index);
                        }
                    }
                    Output::ApplySnapshot { meta } => {
                        assert!(meta.last.index <= node.commit_index(), "snapshot beyond commit");
                        assert!(applied_last.is_none_or(|a| a < meta.last.index), "snapshot behind applied");
                        applied_last = Some(meta.last.index);
                    }
                    Output::SnapshotDataNeeded { last } => {
                        inputs.push_back(Input::SnapshotData { last, data: Bytes::from_static(b"restored bytes") });
                    }
                    Output::Send { to, message } => {
                        assert_eq!(to, message.to);
                        assert_eq!(message.from, NodeId(1));
                        assert_ne!(to, NodeId(1));
                        match &message.body {
                            MessageBody::AppendEntries(ae) => {
                                if let Some(slot) = sent.get_mut(to.0 as usize) {
                                    *slot = ae.prev.index.plus(ae.entries.len() as u64);
                                }
                            }
                            MessageBody::InstallSnapshot(is) => {
                                if let Some(slot) = chunks_sent.get_mut(to.0 as usize) {
                                    *slot = Some((is.id, is.offset + is.data.len() as u64));
                                }
                            }
                            _ => {}
                        }
                    }
                    _ => {}
                }
            }
            if node.role() == Role::Leader {
                stats.led = true;
                let c = node.commit_index();
                if node.term_at(c) == Some(node.term()) {
                    stats.committed_as_leader = true;
                }
                if node
                    .entry(c)
                    .is_some_and(|e| e.kind == raft_sansio_proto::EntryKind::Normal && e.term == node.term())
                {
                    stats.committed_command_as_leader = true;
                }
            }
        }
    }
    node.check_invariants_full().expect("invariants at the end");
    stats
}

fn inputs_for(
    op: &Op,
    node: &Node,
    pending: &VecDeque<Persist>,
    sent: &[Index; 5],
    chunks_sent: &[Option<(SnapshotId, u64)>; 5],
    request: &mut u64,
) -> Vec<Input> {
    let me = NodeId(1);
    let term = node.term();
    let last = node.last_entry_id();
    let msg = |from: u8, term: Term, body: MessageBody| Message { from: peer(from), to: me, term, body };
    match op {
        Op::Tick(n) => (0..=*n).map(|_| Input::Tick).collect(),
        Op::Campaign => alloc::vec![Input::Campaign],
        Op::Persist(lag) => {
            let keep = usize::from(lag.saturating_sub(1));
            if pending.len() > keep {
                let seq = pending[pending.len() - 1 - keep].seq;
                alloc::vec![Input::Persisted { up_to_seq: seq }]
            } else {
                Vec::new()
            }
        }
        Op::PersistForged(k) => {
            let (emitted, _) = node.persist_seqs();
            alloc::vec![Input::Persisted { up_to_seq: emitted + 1 + u64::from(*k) }]
        }
        Op::Propose(len) => {
            *request += 1;
            let command = Bytes::from(alloc::vec![*len; usize::from(len % 64)]);
            alloc::vec![Input::Propose { id: RequestId(*request), command }]
        }
        Op::ProposeBatch(n) => {
            *request += 1;
            let commands = (0..n % 5).map(|i| Bytes::from(alloc::vec![i; 3])).collect();
            alloc::vec![Input::ProposeBatch { id: RequestId(*request), commands }]
        }
        Op::Applied(back) => {
            let emitted = node.apply_emitted_index();
            let index =
                if *back == 255 { emitted.plus(3) } else { Index(emitted.0.saturating_sub(u64::from(back % 3))) };
            alloc::vec![Input::Applied { index }]
        }
        Op::Compact(back) => {
            let applied = node.applied_index();
            let index =
                if *back == 255 { applied.plus(2) } else { Index(applied.0.saturating_sub(u64::from(back % 4))) };
            alloc::vec![Input::Compact { index }]
        }
        Op::SnapshotTaken(back) => {
            let index = Index(node.applied_index().0.saturating_sub(u64::from(back % 3)));
            alloc::vec![Input::SnapshotTaken { index, data: Bytes::from_static(b"snapshot bytes") }]
        }
        Op::InstallSnapshot { from, term: dt, ahead, matching, part, total } => {
            let t = offset_term(term, *dt).max(Term(1));
            let index = node.commit_index().plus(u64::from(ahead % 6));
            let last_term = match node.term_at(index) {
                Some(ours) if *matching => ours,
                _ => t,
            };
            let last = EntryId::new(last_term.max(Term(1)).min(t), index.max(Index(1)));
            let total = u64::from(total % 16) + 1;
            let third = total.div_ceil(3);
            let offset = (u64::from(part % 3) * third).min(total);
            let end = (offset + third).min(total);
            static ZEROS: [u8; 16] = [0; 16];
            let conf_state = node.membership().clone();
            let body = MessageBody::InstallSnapshot(alloc::boxed::Box::new(InstallSnapshot {
                id: SnapshotId { leader_term: t, last },
                meta: SnapshotMeta { last, conf_state },
                offset,
                total_len: total,
                last_chunk: end == total,
                data: Bytes::from_static(&ZEROS[offset as usize..end as usize]),
            }));
            alloc::vec![Input::Receive(msg(*from, t, body))]
        }
        Op::SnapshotResponse { from, kind, back } => {
            let Some((id, end)) = chunks_sent[peer(*from).0 as usize] else { return Vec::new() };
            let status = match kind % 3 {
                0 => SnapshotStatus::Receiving { next_offset: end.saturating_sub(u64::from(back % 3)) },
                1 => SnapshotStatus::Installed {
                    match_index: Index(id.last.index.0.saturating_sub(u64::from(back % 2))),
                },
                _ => SnapshotStatus::Rejected,
            };
            let body = MessageBody::InstallSnapshotResponse(InstallSnapshotResponse { id, status });
            alloc::vec![Input::Receive(msg(*from, term, body))]
        }
        Op::Unreachable(p) => alloc::vec![Input::ReportUnreachable { peer: NodeId(u64::from(p % 5)) }],
        Op::VoteResponse { from, fitting, pre_vote, granted } => {
            let pre_vote = &if *fitting { node.role() == Role::PreCandidate } else { *pre_vote };
            let t = if *pre_vote && *granted { term.next() } else { term };
            let body = MessageBody::RequestVoteResponse(RequestVoteResponse { pre_vote: *pre_vote, granted: *granted });
            alloc::vec![Input::Receive(msg(*from, t, body))]
        }
        Op::RequestVote { from, term: dt, pre_vote, transfer, last: dl } => {
            let cand_last = match dl % 3 {
                0 => last,
                1 => EntryId::new(last.term, last.index.plus(2)),
                _ => EntryId::new(Term(last.term.0.saturating_sub(1)), last.index.plus(5)),
            };
            let body = MessageBody::RequestVote(RequestVote {
                pre_vote: *pre_vote,
                transfer: *transfer,
                last: cand_last,
                priority: 0,
            });
            alloc::vec![Input::Receive(msg(*from, offset_term(term, *dt), body))]
        }
        Op::Append { from, term: dt, back, count, conflict, commit } => {
            let t = offset_term(term, *dt).max(Term(1));
            let prev_index = Index(last.index.0.saturating_sub(u64::from(back % 4)));
            let mut prev_term = node.term_at(prev_index).unwrap_or(Term::ZERO);
            if *conflict {
                prev_term = prev_term.next();
            }
            let prev_term = prev_term.min(t);
            let entries: Vec<Entry> = (0..u64::from(count % 4))
                .map(|i| Entry::normal(t, prev_index.plus(i + 1), Bytes::from_static(b"leader")))
                .collect();
            let msg_last = prev_index.plus(entries.len() as u64);
            let leader_commit = Index(msg_last.0.saturating_add_signed(i64::from((*commit).clamp(-3, 3))));
            let body = MessageBody::AppendEntries(AppendEntries {
                prev: EntryId::new(prev_term, prev_index),
                entries,
                leader_commit,
                lowest_data_match: leader_commit,
            });
            alloc::vec![Input::Receive(msg(*from, t, body))]
        }
        Op::Heartbeat { from, term: dt, commit } => {
            let leader_commit = Index(last.index.0.saturating_add_signed(i64::from((*commit).clamp(-3, 3))));
            let body =
                MessageBody::Heartbeat(Heartbeat { leader_commit, lowest_data_match: leader_commit, read_round: 1 });
            alloc::vec![Input::Receive(msg(*from, offset_term(term, *dt).max(Term(1)), body))]
        }
        Op::AppendResponse { from, success, back } => {
            // Answer the latest append sent to that peer, `back` behind it.
            let index = Index(sent[peer(*from).0 as usize].0.saturating_sub(u64::from(back % 4)));
            let body = MessageBody::AppendEntriesResponse(if *success {
                AppendEntriesResponse::Success { match_index: index }
            } else {
                AppendEntriesResponse::Reject {
                    rejected_prev: index,
                    conflict: EntryId::new(Term(last.term.0.saturating_sub(1)), Index(index.0 / 2)),
                    last_index: Index(index.0.saturating_sub(1)),
                }
            });
            alloc::vec![Input::Receive(msg(*from, term, body))]
        }
        Op::HeartbeatResponse { from } => {
            let body = MessageBody::HeartbeatResponse(HeartbeatResponse { read_round: 1 });
            alloc::vec![Input::Receive(msg(*from, term, body))]
        }
        Op::Raw(m) => alloc::vec![Input::Receive(m.clone())],
        Op::Change { ids, kinds, transition } => {
            let member = |id: u8, kind: u8| {
                let id = NodeId(u64::from(id % 6) + 1);
                match kind % 4 {
                    0 => crate::MemberChange::AddVoter(id),
                    1 => crate::MemberChange::AddLearner(id),
                    2 => crate::MemberChange::AddWitness(id),
                    _ => crate::MemberChange::Remove(id),
                }
            };
            let change = if transition % 4 == 3 {
                crate::MembershipChange::leave_joint()
            } else {
                let mut changes = alloc::vec![member(ids & 0xf, kinds & 3)];
                if kinds & 0x10 != 0 {
                    changes.push(member(ids >> 4, (kinds >> 2) & 3));
                }
                crate::MembershipChange {
                    changes,
                    transition: match transition % 4 {
                        0 => crate::Transition::Auto,
                        1 => crate::Transition::JointAutoLeave,
                        _ => crate::Transition::JointExplicit,
                    },
                }
            };
            *request += 1;
            alloc::vec![Input::ChangeMembership { id: crate::RequestId(*request), change }]
        }
        Op::Restart => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    /// The fuzz body over generated byte strings, as cargo-fuzz would feed
    /// it; also measures how often sequences reach leadership and commit.
    #[test]
    fn fuzz_step_body_runs_over_generated_inputs() {
        let mut rng = Rng::new(0x5EED);
        let runs = 3000;
        let (mut led, mut committed, mut commands, mut steps) = (0, 0, 0, 0);
        for _ in 0..runs {
            let len = 256 + rng.below(3840) as usize;
            let data: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
            let stats = step(&data);
            steps += stats.steps;
            led += usize::from(stats.led);
            committed += usize::from(stats.committed_as_leader);
            commands += usize::from(stats.committed_command_as_leader);
        }
        std::println!(
            "step target: {led}/{runs} led, {committed}/{runs} committed as leader, {commands}/{runs} committed a command"
        );
        std::println!("{} steps per run on average", steps / runs);
        assert!(committed * 100 >= runs * 30, "only {committed} of {runs} sequences reached a commit as leader");
    }
}
