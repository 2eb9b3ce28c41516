use alloc::boxed::Box;
use alloc::vec::Vec;

use bytes::{Buf, Bytes};

use super::reader::Reader;
use super::{
    kind, DecodeError, CURRENT_VERSION, DEFAULT_MAX_FRAME_LEN, ENTRY_FLAG_ELIDED, ENTRY_HEADER_LEN, HEADER_LEN, MAGIC,
    OLDEST_READABLE_VERSION,
};
use crate::entry::{Entry, EntryKind};
use crate::ids::{EntryId, Index, NodeId, Term};
use crate::message::{
    AppendEntries, AppendEntriesResponse, ForwardProposal, Heartbeat, HeartbeatResponse, InstallSnapshot,
    InstallSnapshotResponse, Message, MessageBody, ReadIndex, ReadIndexResponse, ReadRejectReason, RequestVote,
    RequestVoteResponse, SnapshotId, SnapshotStatus,
};
use crate::state::{ConfState, SnapshotMeta};

/// A decoded frame: the message and the frame's envelope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// The Raft group the message belongs to (0 for a single group).
    pub group_id: u64,
    /// The format version the frame was written in.
    pub version: u8,
    /// The message.
    pub message: Message,
}

/// Decodes frames from the front of a buffer, with a frame size limit.
///
/// ```
/// use bytes::BytesMut;
/// use raft_sansio_proto::codec::{encode, DecodeError, Decoder};
/// use raft_sansio_proto::{Message, MessageBody, NodeId, Term};
///
/// let message = Message { from: NodeId(1), to: NodeId(2), term: Term(3), body: MessageBody::TimeoutNow };
/// let mut wire = BytesMut::new();
/// encode(&message, &mut wire);
/// let mut wire = wire.freeze();
///
/// let decoder = Decoder::default();
/// // A partial frame asks for more and consumes nothing.
/// let mut partial = wire.slice(..10);
/// assert!(matches!(decoder.decode(&mut partial), Err(DecodeError::Truncated { .. })));
/// assert_eq!(partial.len(), 10);
/// // A whole frame decodes and is consumed.
/// assert_eq!(decoder.decode(&mut wire), Ok(message));
/// assert!(wire.is_empty());
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Decoder {
    max_frame_len: usize,
}

impl Default for Decoder {
    fn default() -> Decoder {
        Decoder::new(DEFAULT_MAX_FRAME_LEN)
    }
}

impl Decoder {
    /// A decoder that refuses frames longer than `max_frame_len` bytes
    /// (header included).
    pub const fn new(max_frame_len: usize) -> Decoder {
        Decoder { max_frame_len }
    }

    /// The frame size limit.
    pub const fn max_frame_len(&self) -> usize {
        self.max_frame_len
    }

    /// The total length of the frame at the start of `buf`, header included,
    /// once enough of the header is there to know it. A stream reader uses it
    /// to know when a whole frame has arrived.
    ///
    /// # Errors
    /// `Truncated` while the length is not yet known; `BadMagic`,
    /// `UnsupportedVersion`, `UnsupportedFlags` or `FrameTooLarge` as soon as
    /// the bytes that show it are there.
    pub fn frame_len(&self, buf: &[u8]) -> Result<usize, DecodeError> {
        for (i, &byte) in buf.iter().take(MAGIC.len()).enumerate() {
            if byte != MAGIC[i] {
                let mut found = [0u8; 2];
                found[..buf.len().min(2)].copy_from_slice(&buf[..buf.len().min(2)]);
                return Err(DecodeError::BadMagic { found });
            }
        }
        if let Some(&version) = buf.get(2) {
            if !(OLDEST_READABLE_VERSION..=CURRENT_VERSION).contains(&version) {
                return Err(DecodeError::UnsupportedVersion { found: version });
            }
        }
        if let Some(&flags) = buf.get(3) {
            // Compression and the CRC32C trailer are reserved for later
            // versions; a version-1 frame sets no flag.
            if flags != 0 {
                return Err(DecodeError::UnsupportedFlags { flags });
            }
        }
        let Some(len_bytes) = buf.get(4..8) else {
            return Err(DecodeError::Truncated { needed: HEADER_LEN - buf.len() });
        };
        let mut body_len = [0u8; 4];
        body_len.copy_from_slice(len_bytes);
        let total = HEADER_LEN as u64 + u64::from(u32::from_le_bytes(body_len));
        if total > self.max_frame_len as u64 {
            return Err(DecodeError::FrameTooLarge { len: total, max: self.max_frame_len });
        }
        // `total <= max_frame_len`, a usize, so the cast is lossless.
        Ok(total as usize)
    }

    /// Decodes the frame at the front of `buf` and consumes it. The frame
    /// must be for group 0.
    ///
    /// # Errors
    /// See [`DecodeError`]. On any error nothing is consumed.
    pub fn decode(&self, buf: &mut Bytes) -> Result<Message, DecodeError> {
        let (group_id, _, message) = self.decode_parts(buf)?;
        if group_id != 0 {
            return Err(DecodeError::UnexpectedGroup { found: group_id });
        }
        buf.advance(HEADER_LEN + body_len_of(buf));
        Ok(message)
    }

    /// Decodes the frame at the front of `buf`, of any group, and consumes it.
    ///
    /// # Errors
    /// See [`DecodeError`]. On any error nothing is consumed.
    pub fn decode_frame(&self, buf: &mut Bytes) -> Result<Frame, DecodeError> {
        let (group_id, version, message) = self.decode_parts(buf)?;
        buf.advance(HEADER_LEN + body_len_of(buf));
        Ok(Frame { group_id, version, message })
    }

    fn decode_parts(&self, buf: &Bytes) -> Result<(u64, u8, Message), DecodeError> {
        let total = self.frame_len(buf)?;
        if buf.len() < total {
            return Err(DecodeError::Truncated { needed: total - buf.len() });
        }
        let version = buf[2];
        let mut group = [0u8; 8];
        group.copy_from_slice(&buf[8..16]);
        let group_id = u64::from_le_bytes(group);
        let body = buf.slice(HEADER_LEN..total);
        let message = decode_body(version, &body)?;
        Ok((group_id, version, message))
    }
}

/// The body length of a frame whose header `frame_len` already validated.
fn body_len_of(buf: &[u8]) -> usize {
    let mut len = [0u8; 4];
    len.copy_from_slice(&buf[4..8]);
    u32::from_le_bytes(len) as usize
}

/// Decodes a [`ConfState`] written by
/// [`encode_conf_state`](super::encode_conf_state).
///
/// # Errors
/// `Malformed` or `TrailingBytes` when `bytes` is not exactly one encoding.
pub fn decode_conf_state(bytes: &[u8]) -> Result<ConfState, DecodeError> {
    let mut r = Reader::new(bytes);
    let conf = read_conf_state(&mut r)?;
    finish(&r)?;
    Ok(conf)
}

fn finish(r: &Reader<'_>) -> Result<(), DecodeError> {
    match r.remaining() {
        0 => Ok(()),
        count => Err(DecodeError::TrailingBytes { count }),
    }
}

fn decode_body(version: u8, frame_body: &Bytes) -> Result<Message, DecodeError> {
    // Only version 1 exists; version 2 would branch here for N-1 frames.
    debug_assert_eq!(version, 1);
    let body = frame_body;
    let mut r = Reader::new(body);
    let from = NodeId(r.u64("from")?);
    let to = NodeId(r.u64("to")?);
    let term = Term(r.u64("term")?);
    let kind = r.u8("kind")?;
    let message_body = match kind {
        kind::APPEND_ENTRIES => {
            let prev = read_entry_id(&mut r, "prev")?;
            let leader_commit = Index(r.u64("leader_commit")?);
            let lowest_data_match = Index(r.u64("lowest_data_match")?);
            let count = r.count(ENTRY_HEADER_LEN, "entries.count")?;
            let mut entries = Vec::with_capacity(count);
            for _ in 0..count {
                entries.push(read_entry(&mut r, body)?);
            }
            MessageBody::AppendEntries(AppendEntries { prev, entries, leader_commit, lowest_data_match })
        }
        kind::APPEND_ENTRIES_RESPONSE => match r.u8("append_response.tag")? {
            0 => MessageBody::AppendEntriesResponse(AppendEntriesResponse::Success {
                match_index: Index(r.u64("match_index")?),
            }),
            1 => MessageBody::AppendEntriesResponse(AppendEntriesResponse::Reject {
                rejected_prev: Index(r.u64("rejected_prev")?),
                conflict: read_entry_id(&mut r, "conflict")?,
                last_index: Index(r.u64("last_index")?),
            }),
            _ => return Err(DecodeError::Malformed { field: "append_response.tag" }),
        },
        kind::HEARTBEAT => MessageBody::Heartbeat(Heartbeat {
            leader_commit: Index(r.u64("leader_commit")?),
            lowest_data_match: Index(r.u64("lowest_data_match")?),
            read_round: r.u64("read_round")?,
        }),
        kind::HEARTBEAT_RESPONSE => {
            MessageBody::HeartbeatResponse(HeartbeatResponse { read_round: r.u64("read_round")? })
        }
        kind::REQUEST_VOTE => {
            let flags = r.flags(0b11, "request_vote.flags")?;
            MessageBody::RequestVote(RequestVote {
                pre_vote: flags & 0b01 != 0,
                transfer: flags & 0b10 != 0,
                last: read_entry_id(&mut r, "last")?,
                priority: r.u64("priority")?,
            })
        }
        kind::REQUEST_VOTE_RESPONSE => {
            let flags = r.flags(0b11, "vote_response.flags")?;
            MessageBody::RequestVoteResponse(RequestVoteResponse {
                pre_vote: flags & 0b01 != 0,
                granted: flags & 0b10 != 0,
            })
        }
        kind::INSTALL_SNAPSHOT => {
            let id = read_snapshot_id(&mut r)?;
            let meta = SnapshotMeta { last: read_entry_id(&mut r, "meta.last")?, conf_state: read_conf_state(&mut r)? };
            let offset = r.u64("offset")?;
            let total_len = r.u64("total_len")?;
            let last_chunk = r.bool("last_chunk")?;
            let len = r.u32("data.len")? as usize;
            let data = body.slice(r.range(len, "data")?);
            MessageBody::InstallSnapshot(Box::new(InstallSnapshot { id, meta, offset, total_len, last_chunk, data }))
        }
        kind::INSTALL_SNAPSHOT_RESPONSE => {
            let id = read_snapshot_id(&mut r)?;
            let status = match r.u8("snapshot_status.tag")? {
                0 => SnapshotStatus::Receiving { next_offset: r.u64("next_offset")? },
                1 => SnapshotStatus::Installed { match_index: Index(r.u64("match_index")?) },
                2 => SnapshotStatus::Rejected,
                _ => return Err(DecodeError::Malformed { field: "snapshot_status.tag" }),
            };
            MessageBody::InstallSnapshotResponse(InstallSnapshotResponse { id, status })
        }
        kind::TIMEOUT_NOW => MessageBody::TimeoutNow,
        kind::READ_INDEX => MessageBody::ReadIndex(ReadIndex { context: r.u64("context")? }),
        kind::READ_INDEX_RESPONSE => {
            let context = r.u64("context")?;
            let result = match r.u8("read_result.tag")? {
                0 => Ok(Index(r.u64("read_index")?)),
                1 => Err(ReadRejectReason::from_code(r.u8("read_reject_reason")?)
                    .ok_or(DecodeError::Malformed { field: "read_reject_reason" })?),
                _ => return Err(DecodeError::Malformed { field: "read_result.tag" }),
            };
            MessageBody::ReadIndexResponse(ReadIndexResponse { context, result })
        }
        kind::FORWARD_PROPOSAL => {
            let count = r.count(4, "commands.count")?;
            let mut commands = Vec::with_capacity(count);
            for _ in 0..count {
                let len = r.u32("command.len")? as usize;
                commands.push(body.slice(r.range(len, "command")?));
            }
            MessageBody::ForwardProposal(ForwardProposal { commands })
        }
        found => return Err(DecodeError::UnknownMessageKind { found }),
    };
    finish(&r)?;
    debug_assert_eq!(r.position(), body.len());
    Ok(Message { from, to, term, body: message_body })
}

#[inline]
fn read_entry_id(r: &mut Reader<'_>, field: &'static str) -> Result<EntryId, DecodeError> {
    let term = Term(r.u64(field)?);
    let index = Index(r.u64(field)?);
    Ok(EntryId { term, index })
}

#[inline]
fn read_entry(r: &mut Reader<'_>, body: &Bytes) -> Result<Entry, DecodeError> {
    let term = Term(r.u64("entry.term")?);
    let index = Index(r.u64("entry.index")?);
    let kind = EntryKind::from_code(r.u8("entry.kind")?).ok_or(DecodeError::Malformed { field: "entry.kind" })?;
    let flags = r.flags(ENTRY_FLAG_ELIDED, "entry.flags")?;
    let len = r.u32("entry.payload.len")? as usize;
    let payload = body.slice(r.range(len, "entry.payload")?);
    Ok(Entry { term, index, kind, payload_elided: flags & ENTRY_FLAG_ELIDED != 0, payload })
}

fn read_snapshot_id(r: &mut Reader<'_>) -> Result<SnapshotId, DecodeError> {
    Ok(SnapshotId { leader_term: Term(r.u64("snapshot_id.leader_term")?), last: read_entry_id(r, "snapshot_id.last")? })
}

fn read_conf_state(r: &mut Reader<'_>) -> Result<ConfState, DecodeError> {
    const FIELDS: [&str; 7] = [
        "conf_state.voters",
        "conf_state.learners",
        "conf_state.witnesses",
        "conf_state.voters_outgoing",
        "conf_state.witnesses_outgoing",
        "conf_state.learners_next",
        "conf_state.removed",
    ];
    let mut lists: [Vec<NodeId>; 7] = Default::default();
    for (list, field) in lists.iter_mut().zip(FIELDS) {
        let count = r.count(8, field)?;
        list.reserve_exact(count);
        for _ in 0..count {
            list.push(NodeId(r.u64(field)?));
        }
    }
    let auto_leave = r.bool("conf_state.auto_leave")?;
    let [voters, learners, witnesses, voters_outgoing, witnesses_outgoing, learners_next, removed] = lists;
    Ok(ConfState {
        voters,
        learners,
        witnesses,
        voters_outgoing,
        witnesses_outgoing,
        learners_next,
        auto_leave,
        removed,
    })
}
