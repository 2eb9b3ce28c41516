//! `arbitrary::Arbitrary` for the wire types, for structure-aware fuzzing.

use alloc::boxed::Box;
use alloc::vec::Vec;

use arbitrary::{Arbitrary, Result, Unstructured};
use bytes::Bytes;

use crate::*;

/// A payload of arbitrary bytes.
pub(crate) fn bytes(u: &mut Unstructured<'_>) -> Result<Bytes> {
    Ok(Bytes::copy_from_slice(<&[u8]>::arbitrary(u)?))
}

impl<'a> Arbitrary<'a> for Entry {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(Entry {
            term: Term::arbitrary(u)?,
            index: Index::arbitrary(u)?,
            kind: EntryKind::arbitrary(u)?,
            payload_elided: bool::arbitrary(u)?,
            payload: bytes(u)?,
        })
    }
}

impl<'a> Arbitrary<'a> for MessageBody {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(match u.int_in_range(0u8..=11)? {
            0 => MessageBody::AppendEntries(AppendEntries {
                prev: EntryId::arbitrary(u)?,
                entries: Vec::<Entry>::arbitrary(u)?,
                leader_commit: Index::arbitrary(u)?,
                lowest_data_match: Index::arbitrary(u)?,
            }),
            1 => MessageBody::AppendEntriesResponse(if bool::arbitrary(u)? {
                AppendEntriesResponse::Success { match_index: Index::arbitrary(u)? }
            } else {
                AppendEntriesResponse::Reject {
                    rejected_prev: Index::arbitrary(u)?,
                    conflict: EntryId::arbitrary(u)?,
                    last_index: Index::arbitrary(u)?,
                }
            }),
            2 => MessageBody::Heartbeat(Heartbeat {
                leader_commit: Index::arbitrary(u)?,
                lowest_data_match: Index::arbitrary(u)?,
                read_round: u64::arbitrary(u)?,
            }),
            3 => MessageBody::HeartbeatResponse(HeartbeatResponse { read_round: u64::arbitrary(u)? }),
            4 => MessageBody::RequestVote(RequestVote {
                pre_vote: bool::arbitrary(u)?,
                transfer: bool::arbitrary(u)?,
                last: EntryId::arbitrary(u)?,
                priority: u64::arbitrary(u)?,
            }),
            5 => MessageBody::RequestVoteResponse(RequestVoteResponse {
                pre_vote: bool::arbitrary(u)?,
                granted: bool::arbitrary(u)?,
            }),
            6 => MessageBody::InstallSnapshot(Box::new(InstallSnapshot {
                id: SnapshotId::arbitrary(u)?,
                meta: SnapshotMeta::arbitrary(u)?,
                offset: u64::arbitrary(u)?,
                total_len: u64::arbitrary(u)?,
                last_chunk: bool::arbitrary(u)?,
                data: bytes(u)?,
            })),
            7 => MessageBody::InstallSnapshotResponse(InstallSnapshotResponse {
                id: SnapshotId::arbitrary(u)?,
                status: match u.int_in_range(0u8..=2)? {
                    0 => SnapshotStatus::Receiving { next_offset: u64::arbitrary(u)? },
                    1 => SnapshotStatus::Installed { match_index: Index::arbitrary(u)? },
                    _ => SnapshotStatus::Rejected,
                },
            }),
            8 => MessageBody::TimeoutNow,
            9 => MessageBody::ReadIndex(ReadIndex { context: u64::arbitrary(u)? }),
            10 => MessageBody::ReadIndexResponse(ReadIndexResponse {
                context: u64::arbitrary(u)?,
                result: if bool::arbitrary(u)? {
                    Ok(Index::arbitrary(u)?)
                } else {
                    Err(ReadRejectReason::arbitrary(u)?)
                },
            }),
            _ => {
                let count = u.int_in_range(0usize..=8)?;
                let mut commands = Vec::with_capacity(count);
                for _ in 0..count {
                    commands.push(bytes(u)?);
                }
                MessageBody::ForwardProposal(ForwardProposal { commands })
            }
        })
    }
}

impl<'a> Arbitrary<'a> for Message {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(Message {
            from: NodeId::arbitrary(u)?,
            to: NodeId::arbitrary(u)?,
            term: Term::arbitrary(u)?,
            body: MessageBody::arbitrary(u)?,
        })
    }
}
