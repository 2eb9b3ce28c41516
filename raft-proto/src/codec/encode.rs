use bytes::{BufMut, BytesMut};

use super::{kind, CURRENT_VERSION, ENTRY_FLAG_ELIDED, ENTRY_HEADER_LEN, HEADER_LEN, MAGIC};
use crate::entry::Entry;
use crate::ids::EntryId;
use crate::message::{AppendEntriesResponse, Message, MessageBody, SnapshotId, SnapshotStatus};
use crate::state::{ConfState, SnapshotMeta};

/// Appends one frame holding `message`, for group 0, to `buf`.
///
/// # Panics
/// If the encoded body exceeds `u32::MAX` bytes (4 GiB). The core's byte caps
/// keep its messages far below that.
pub fn encode(message: &Message, buf: &mut BytesMut) {
    encode_frame(0, message, buf);
}

/// Appends one frame holding `message`, for Raft group `group_id`, to `buf`.
///
/// # Panics
/// As [`encode`].
pub fn encode_frame(group_id: u64, message: &Message, buf: &mut BytesMut) {
    let body_len = body_len(message);
    let body_len_u32 = u32::try_from(body_len).expect("message body exceeds 4 GiB");
    buf.reserve(HEADER_LEN + body_len);
    let start = buf.len();
    buf.put_slice(&MAGIC);
    buf.put_u8(CURRENT_VERSION);
    buf.put_u8(0);
    buf.put_u32_le(body_len_u32);
    buf.put_u64_le(group_id);
    put_body(message, buf);
    // Pair assertion: the length written in the header is the length written.
    debug_assert_eq!(buf.len() - start, HEADER_LEN + body_len);
}

/// The length of the frame [`encode`] writes for `message`, header included.
pub fn encoded_len(message: &Message) -> usize {
    HEADER_LEN + body_len(message)
}

/// Appends the encoding of a [`ConfState`] (the payload of a
/// [`EntryKind::ConfChange`](crate::EntryKind::ConfChange) entry) to `buf`.
pub fn encode_conf_state(conf: &ConfState, buf: &mut BytesMut) {
    buf.reserve(conf_state_len(conf));
    put_conf_state(conf, buf);
}

const MESSAGE_HEADER_LEN: usize = 8 + 8 + 8 + 1;
const ENTRY_ID_LEN: usize = 16;
const SNAPSHOT_ID_LEN: usize = 8 + ENTRY_ID_LEN;

fn body_len(message: &Message) -> usize {
    MESSAGE_HEADER_LEN
        + match &message.body {
            MessageBody::AppendEntries(m) => {
                ENTRY_ID_LEN + 8 + 8 + 4 + m.entries.iter().map(|e| ENTRY_HEADER_LEN + e.payload.len()).sum::<usize>()
            }
            MessageBody::AppendEntriesResponse(AppendEntriesResponse::Success { .. }) => 1 + 8,
            MessageBody::AppendEntriesResponse(AppendEntriesResponse::Reject { .. }) => 1 + 8 + ENTRY_ID_LEN + 8,
            MessageBody::Heartbeat(_) => 8 + 8 + 8,
            MessageBody::HeartbeatResponse(_) => 8,
            MessageBody::RequestVote(_) => 1 + ENTRY_ID_LEN + 8,
            MessageBody::RequestVoteResponse(_) => 1,
            MessageBody::InstallSnapshot(m) => {
                SNAPSHOT_ID_LEN + ENTRY_ID_LEN + conf_state_len(&m.meta.conf_state) + 8 + 8 + 1 + 4 + m.data.len()
            }
            MessageBody::InstallSnapshotResponse(m) => {
                SNAPSHOT_ID_LEN
                    + match m.status {
                        SnapshotStatus::Receiving { .. } | SnapshotStatus::Installed { .. } => 1 + 8,
                        SnapshotStatus::Rejected => 1,
                    }
            }
            MessageBody::TimeoutNow => 0,
            MessageBody::ReadIndex(_) => 8,
            MessageBody::ReadIndexResponse(m) => 8 + 1 + if m.result.is_ok() { 8 } else { 1 },
            MessageBody::ForwardProposal(m) => 4 + m.commands.iter().map(|c| 4 + c.len()).sum::<usize>(),
        }
}

fn conf_state_len(conf: &ConfState) -> usize {
    let ids = conf.voters.len()
        + conf.learners.len()
        + conf.witnesses.len()
        + conf.voters_outgoing.len()
        + conf.witnesses_outgoing.len()
        + conf.learners_next.len()
        + conf.removed.len();
    7 * 4 + ids * 8 + 1
}

fn put_body(message: &Message, buf: &mut BytesMut) {
    buf.put_u64_le(message.from.0);
    buf.put_u64_le(message.to.0);
    buf.put_u64_le(message.term.0);
    match &message.body {
        MessageBody::AppendEntries(m) => {
            buf.put_u8(kind::APPEND_ENTRIES);
            put_entry_id(m.prev, buf);
            buf.put_u64_le(m.leader_commit.0);
            buf.put_u64_le(m.lowest_data_match.0);
            put_len(m.entries.len(), buf);
            for entry in &m.entries {
                put_entry(entry, buf);
            }
        }
        MessageBody::AppendEntriesResponse(m) => {
            buf.put_u8(kind::APPEND_ENTRIES_RESPONSE);
            match *m {
                AppendEntriesResponse::Success { match_index } => {
                    buf.put_u8(0);
                    buf.put_u64_le(match_index.0);
                }
                AppendEntriesResponse::Reject { rejected_prev, conflict, last_index } => {
                    buf.put_u8(1);
                    buf.put_u64_le(rejected_prev.0);
                    put_entry_id(conflict, buf);
                    buf.put_u64_le(last_index.0);
                }
            }
        }
        MessageBody::Heartbeat(m) => {
            buf.put_u8(kind::HEARTBEAT);
            buf.put_u64_le(m.leader_commit.0);
            buf.put_u64_le(m.lowest_data_match.0);
            buf.put_u64_le(m.read_round);
        }
        MessageBody::HeartbeatResponse(m) => {
            buf.put_u8(kind::HEARTBEAT_RESPONSE);
            buf.put_u64_le(m.read_round);
        }
        MessageBody::RequestVote(m) => {
            buf.put_u8(kind::REQUEST_VOTE);
            buf.put_u8(u8::from(m.pre_vote) | (u8::from(m.transfer) << 1));
            put_entry_id(m.last, buf);
            buf.put_u64_le(m.priority);
        }
        MessageBody::RequestVoteResponse(m) => {
            buf.put_u8(kind::REQUEST_VOTE_RESPONSE);
            buf.put_u8(u8::from(m.pre_vote) | (u8::from(m.granted) << 1));
        }
        MessageBody::InstallSnapshot(m) => {
            buf.put_u8(kind::INSTALL_SNAPSHOT);
            put_snapshot_id(m.id, buf);
            put_snapshot_meta(&m.meta, buf);
            buf.put_u64_le(m.offset);
            buf.put_u64_le(m.total_len);
            buf.put_u8(u8::from(m.last_chunk));
            put_len(m.data.len(), buf);
            buf.put_slice(&m.data);
        }
        MessageBody::InstallSnapshotResponse(m) => {
            buf.put_u8(kind::INSTALL_SNAPSHOT_RESPONSE);
            put_snapshot_id(m.id, buf);
            match m.status {
                SnapshotStatus::Receiving { next_offset } => {
                    buf.put_u8(0);
                    buf.put_u64_le(next_offset);
                }
                SnapshotStatus::Installed { match_index } => {
                    buf.put_u8(1);
                    buf.put_u64_le(match_index.0);
                }
                SnapshotStatus::Rejected => buf.put_u8(2),
            }
        }
        MessageBody::TimeoutNow => buf.put_u8(kind::TIMEOUT_NOW),
        MessageBody::ReadIndex(m) => {
            buf.put_u8(kind::READ_INDEX);
            buf.put_u64_le(m.context);
        }
        MessageBody::ReadIndexResponse(m) => {
            buf.put_u8(kind::READ_INDEX_RESPONSE);
            buf.put_u64_le(m.context);
            match m.result {
                Ok(index) => {
                    buf.put_u8(0);
                    buf.put_u64_le(index.0);
                }
                Err(reason) => {
                    buf.put_u8(1);
                    buf.put_u8(reason.code());
                }
            }
        }
        MessageBody::ForwardProposal(m) => {
            buf.put_u8(kind::FORWARD_PROPOSAL);
            put_len(m.commands.len(), buf);
            for command in &m.commands {
                put_len(command.len(), buf);
                buf.put_slice(command);
            }
        }
    }
}

#[inline]
fn put_len(len: usize, buf: &mut BytesMut) {
    // The whole body fits in u32 (checked in encode_frame), so every length
    // inside it does too.
    buf.put_u32_le(len as u32);
}

#[inline]
fn put_entry_id(id: EntryId, buf: &mut BytesMut) {
    buf.put_u64_le(id.term.0);
    buf.put_u64_le(id.index.0);
}

#[inline]
fn put_entry(entry: &Entry, buf: &mut BytesMut) {
    buf.put_u64_le(entry.term.0);
    buf.put_u64_le(entry.index.0);
    buf.put_u8(entry.kind.code());
    buf.put_u8(if entry.payload_elided { ENTRY_FLAG_ELIDED } else { 0 });
    put_len(entry.payload.len(), buf);
    buf.put_slice(&entry.payload);
}

fn put_snapshot_id(id: SnapshotId, buf: &mut BytesMut) {
    buf.put_u64_le(id.leader_term.0);
    put_entry_id(id.last, buf);
}

fn put_snapshot_meta(meta: &SnapshotMeta, buf: &mut BytesMut) {
    put_entry_id(meta.last, buf);
    put_conf_state(&meta.conf_state, buf);
}

fn put_conf_state(conf: &ConfState, buf: &mut BytesMut) {
    for list in [
        &conf.voters,
        &conf.learners,
        &conf.witnesses,
        &conf.voters_outgoing,
        &conf.witnesses_outgoing,
        &conf.learners_next,
        &conf.removed,
    ] {
        put_len(list.len(), buf);
        for id in list {
            buf.put_u64_le(id.0);
        }
    }
    buf.put_u8(u8::from(conf.auto_leave));
}
