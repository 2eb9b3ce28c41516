//! `quickcheck::Arbitrary` for every wire type, biased towards the values
//! codecs get wrong: zero, one, the maximum, empty and large payloads.

use alloc::boxed::Box;
use alloc::vec::Vec;

use bytes::Bytes;
use quickcheck::{Arbitrary, Gen};

use crate::*;

/// A `u64` that is a boundary value half of the time.
fn edgy_u64(g: &mut Gen) -> u64 {
    match u8::arbitrary(g) % 8 {
        0 => 0,
        1 => 1,
        2 => u64::MAX,
        3 => u64::from(u32::MAX),
        4 => u64::arbitrary(g) % 16,
        _ => u64::arbitrary(g),
    }
}

fn payload(g: &mut Gen) -> Bytes {
    let len = match u8::arbitrary(g) % 10 {
        0 => 0,
        1 => 1,
        // Occasionally large, so that lengths above one byte and above one
        // page are exercised.
        2 => 4096 + usize::arbitrary(g) % 70_000,
        _ => usize::arbitrary(g) % (g.size() * 8 + 1),
    };
    let seed = u8::arbitrary(g);
    Bytes::from((0..len).map(|i| seed.wrapping_add(i as u8)).collect::<Vec<u8>>())
}

fn small_vec<T>(g: &mut Gen, mut item: impl FnMut(&mut Gen) -> T) -> Vec<T> {
    let len = match u8::arbitrary(g) % 6 {
        0 => 0,
        1 => 1,
        _ => usize::arbitrary(g) % (g.size() + 1),
    };
    (0..len).map(|_| item(g)).collect()
}

impl Arbitrary for NodeId {
    fn arbitrary(g: &mut Gen) -> Self {
        NodeId(edgy_u64(g))
    }
}

impl Arbitrary for Term {
    fn arbitrary(g: &mut Gen) -> Self {
        Term(edgy_u64(g))
    }
}

impl Arbitrary for Index {
    fn arbitrary(g: &mut Gen) -> Self {
        Index(edgy_u64(g))
    }
}

impl Arbitrary for EntryId {
    fn arbitrary(g: &mut Gen) -> Self {
        EntryId { term: Term::arbitrary(g), index: Index::arbitrary(g) }
    }
}

impl Arbitrary for EntryKind {
    fn arbitrary(g: &mut Gen) -> Self {
        *g.choose(&[EntryKind::Normal, EntryKind::Noop, EntryKind::ConfChange]).expect("non-empty")
    }
}

impl Arbitrary for Entry {
    fn arbitrary(g: &mut Gen) -> Self {
        Entry {
            term: Term::arbitrary(g),
            index: Index::arbitrary(g),
            kind: EntryKind::arbitrary(g),
            payload_elided: bool::arbitrary(g),
            payload: payload(g),
        }
    }
}

impl Arbitrary for HardState {
    fn arbitrary(g: &mut Gen) -> Self {
        HardState { term: Term::arbitrary(g), vote: Option::<NodeId>::arbitrary(g), commit: Index::arbitrary(g) }
    }
}

impl Arbitrary for ConfState {
    fn arbitrary(g: &mut Gen) -> Self {
        let ids = |g: &mut Gen| small_vec(g, NodeId::arbitrary);
        ConfState {
            voters: ids(g),
            learners: ids(g),
            witnesses: ids(g),
            voters_outgoing: ids(g),
            witnesses_outgoing: ids(g),
            learners_next: ids(g),
            auto_leave: bool::arbitrary(g),
            removed: ids(g),
        }
    }
}

impl Arbitrary for SnapshotMeta {
    fn arbitrary(g: &mut Gen) -> Self {
        SnapshotMeta { last: EntryId::arbitrary(g), conf_state: ConfState::arbitrary(g) }
    }
}

impl Arbitrary for SnapshotId {
    fn arbitrary(g: &mut Gen) -> Self {
        SnapshotId { leader_term: Term::arbitrary(g), last: EntryId::arbitrary(g) }
    }
}

impl Arbitrary for ReadRejectReason {
    fn arbitrary(g: &mut Gen) -> Self {
        *g.choose(&[
            ReadRejectReason::NotLeader,
            ReadRejectReason::TermNotCommitted,
            ReadRejectReason::TransferInProgress,
            ReadRejectReason::Overloaded,
        ])
        .expect("non-empty")
    }
}

impl Arbitrary for MessageBody {
    fn arbitrary(g: &mut Gen) -> Self {
        match u8::arbitrary(g) % 12 {
            0 => MessageBody::AppendEntries(AppendEntries {
                prev: EntryId::arbitrary(g),
                entries: small_vec(g, Entry::arbitrary),
                leader_commit: Index::arbitrary(g),
                lowest_data_match: Index::arbitrary(g),
            }),
            1 => MessageBody::AppendEntriesResponse(if bool::arbitrary(g) {
                AppendEntriesResponse::Success { match_index: Index::arbitrary(g) }
            } else {
                AppendEntriesResponse::Reject {
                    rejected_prev: Index::arbitrary(g),
                    conflict: EntryId::arbitrary(g),
                    last_index: Index::arbitrary(g),
                }
            }),
            2 => MessageBody::Heartbeat(Heartbeat {
                leader_commit: Index::arbitrary(g),
                lowest_data_match: Index::arbitrary(g),
                read_round: edgy_u64(g),
            }),
            3 => MessageBody::HeartbeatResponse(HeartbeatResponse { read_round: edgy_u64(g) }),
            4 => MessageBody::RequestVote(RequestVote {
                pre_vote: bool::arbitrary(g),
                transfer: bool::arbitrary(g),
                last: EntryId::arbitrary(g),
                priority: edgy_u64(g),
            }),
            5 => MessageBody::RequestVoteResponse(RequestVoteResponse {
                pre_vote: bool::arbitrary(g),
                granted: bool::arbitrary(g),
            }),
            6 => MessageBody::InstallSnapshot(Box::new(InstallSnapshot {
                id: SnapshotId::arbitrary(g),
                meta: SnapshotMeta::arbitrary(g),
                offset: edgy_u64(g),
                total_len: edgy_u64(g),
                last_chunk: bool::arbitrary(g),
                data: payload(g),
            })),
            7 => MessageBody::InstallSnapshotResponse(InstallSnapshotResponse {
                id: SnapshotId::arbitrary(g),
                status: match u8::arbitrary(g) % 3 {
                    0 => SnapshotStatus::Receiving { next_offset: edgy_u64(g) },
                    1 => SnapshotStatus::Installed { match_index: Index::arbitrary(g) },
                    _ => SnapshotStatus::Rejected,
                },
            }),
            8 => MessageBody::TimeoutNow,
            9 => MessageBody::ReadIndex(ReadIndex { context: edgy_u64(g) }),
            10 => MessageBody::ReadIndexResponse(ReadIndexResponse {
                context: edgy_u64(g),
                result: if bool::arbitrary(g) { Ok(Index::arbitrary(g)) } else { Err(ReadRejectReason::arbitrary(g)) },
            }),
            _ => MessageBody::ForwardProposal(ForwardProposal { commands: small_vec(g, payload) }),
        }
    }
}

impl Arbitrary for Message {
    fn arbitrary(g: &mut Gen) -> Self {
        Message {
            from: NodeId::arbitrary(g),
            to: NodeId::arbitrary(g),
            term: Term::arbitrary(g),
            body: MessageBody::arbitrary(g),
        }
    }
}
