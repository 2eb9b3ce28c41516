//! The messages Raft peers exchange.
//!
//! Names follow the Raft paper (`AppendEntries`, `RequestVote { pre_vote }`,
//! `InstallSnapshot`, `TimeoutNow`). Every message carries the sender, the
//! recipient and the sender's term in [`Message`]; the body says the rest.

use alloc::boxed::Box;
use alloc::vec::Vec;

use bytes::Bytes;

use crate::entry::Entry;
use crate::ids::{EntryId, Index, NodeId, Term};
use crate::state::SnapshotMeta;

/// One message between two members of a Raft group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// The sender.
    pub from: NodeId,
    /// The recipient.
    pub to: NodeId,
    /// The sender's current term (for a pre-vote request, the term the
    /// candidate would campaign in).
    pub term: Term,
    /// What the message says.
    pub body: MessageBody,
}

/// What a [`Message`] says. New kinds come with new format versions.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MessageBody {
    /// Leader to follower: entries to append after `prev` (Raft §5.3).
    AppendEntries(AppendEntries),
    /// Follower to leader: the outcome of an [`AppendEntries`].
    AppendEntriesResponse(AppendEntriesResponse),
    /// Leader to follower: "I am still leading", with the commit index.
    Heartbeat(Heartbeat),
    /// Follower to leader: the answer to a [`Heartbeat`].
    HeartbeatResponse(HeartbeatResponse),
    /// Candidate to voter: a request for a vote or a pre-vote (Raft §5.2,
    /// thesis §9.6).
    RequestVote(RequestVote),
    /// Voter to candidate: the answer to a [`RequestVote`].
    RequestVoteResponse(RequestVoteResponse),
    /// Leader to follower: one chunk of a snapshot (Raft §7). Boxed because
    /// it is rare and large.
    InstallSnapshot(Box<InstallSnapshot>),
    /// Follower to leader: the answer to an [`InstallSnapshot`] chunk.
    InstallSnapshotResponse(InstallSnapshotResponse),
    /// Leader to the target of a leadership transfer: campaign now, in the
    /// message's term (thesis §3.10).
    TimeoutNow,
    /// Follower to leader: ask for a read index (thesis §6.4).
    ReadIndex(ReadIndex),
    /// Leader to follower: the answer to a [`ReadIndex`].
    ReadIndexResponse(ReadIndexResponse),
    /// Follower to leader: client commands the follower could not propose
    /// itself.
    ForwardProposal(ForwardProposal),
}

/// Entries to append after `prev`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppendEntries {
    /// The entry just before `entries`; the follower appends only if its log
    /// holds it (Log Matching, Raft §5.3).
    pub prev: EntryId,
    /// Consecutive entries starting at `prev.index + 1`; may be empty (a
    /// probe, or a commit broadcast).
    pub entries: Vec<Entry>,
    /// The leader's commit index.
    pub leader_commit: Index,
    /// The lowest match index among the data voters (voters that are not
    /// witnesses). A witness may drop the payloads of entries up to it.
    pub lowest_data_match: Index,
}

/// The outcome of an [`AppendEntries`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppendEntriesResponse {
    /// The follower's log matches the leader's up to `match_index`
    /// (`prev.index + entries.len()` of the message it answers) and that
    /// prefix is durable on the follower.
    Success {
        /// The last index the answered message verified.
        match_index: Index,
    },
    /// The follower's log does not hold `rejected_prev`.
    Reject {
        /// The `prev.index` of the rejected message, so that the leader can
        /// ignore a stale rejection.
        rejected_prev: Index,
        /// The follower's term at `rejected_prev` and the first index of that
        /// term in its log; term 0 (and index = `last_index + 1`) when the
        /// log is shorter than `rejected_prev`. Lets the leader skip a whole
        /// divergent term per round trip.
        conflict: EntryId,
        /// The follower's last index.
        last_index: Index,
    },
}

/// The leader's periodic "still here".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Heartbeat {
    /// The leader's commit index, capped at what the follower is known to
    /// hold, so that a follower never commits an entry it has not verified.
    pub leader_commit: Index,
    /// As in [`AppendEntries::lowest_data_match`].
    pub lowest_data_match: Index,
    /// The leader's read round; echoed in the response. A round confirms the
    /// reads admitted before it was sent, so that a delayed ack from an
    /// earlier round never confirms a later read.
    pub read_round: u64,
}

/// The answer to a [`Heartbeat`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeartbeatResponse {
    /// The `read_round` of the heartbeat being answered.
    pub read_round: u64,
}

/// A request for a vote (or a pre-vote).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestVote {
    /// A pre-vote (thesis §9.6): asks "would you vote for me?" without
    /// changing anyone's term.
    pub pre_vote: bool,
    /// Sent on a leader's `TimeoutNow`: bypasses leader stickiness and
    /// pre-vote, as the leader asked for the election.
    pub transfer: bool,
    /// The candidate's last log entry, for the up-to-date check (§5.4.1).
    pub last: EntryId,
    /// The candidate's priority: between equally up-to-date logs a voter
    /// refuses a candidate of lower priority than its own.
    pub priority: u64,
}

/// The answer to a [`RequestVote`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestVoteResponse {
    /// Answers a pre-vote.
    pub pre_vote: bool,
    /// Whether the vote was granted.
    pub granted: bool,
}

/// Identifies one snapshot transfer, so that chunks of two snapshots never
/// mix.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct SnapshotId {
    /// The term of the leader sending it.
    pub leader_term: Term,
    /// The snapshot's last entry.
    pub last: EntryId,
}

/// One chunk of a snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstallSnapshot {
    /// Which snapshot the chunk belongs to.
    pub id: SnapshotId,
    /// The snapshot's metadata (repeated on every chunk so that any chunk
    /// can start a transfer's bookkeeping).
    pub meta: SnapshotMeta,
    /// The byte offset of `data` in the snapshot.
    pub offset: u64,
    /// The snapshot's total length in bytes.
    pub total_len: u64,
    /// This is the last chunk.
    pub last_chunk: bool,
    /// The chunk's bytes.
    pub data: Bytes,
}

/// The answer to an [`InstallSnapshot`] chunk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InstallSnapshotResponse {
    /// Which snapshot is answered.
    pub id: SnapshotId,
    /// What the follower did.
    pub status: SnapshotStatus,
}

/// What a follower did with a snapshot chunk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SnapshotStatus {
    /// The chunk was stored (or was a duplicate); send from `next_offset`.
    Receiving {
        /// The next byte the follower expects.
        next_offset: u64,
    },
    /// The snapshot is installed and durable, or it was stale: the follower's
    /// log matches the leader's up to `match_index` (its commit index when the
    /// snapshot was at or below it, never the snapshot's last index then).
    Installed {
        /// What the leader may take as the follower's match index.
        match_index: Index,
    },
    /// The follower will not take this snapshot (for example it has moved on
    /// to another one); the leader should start over.
    Rejected,
}

/// A follower's request for a read index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadIndex {
    /// Chosen by the follower, unique among its requests, echoed back so that
    /// a delayed or duplicated reply never completes a later read.
    pub context: u64,
}

/// The answer to a [`ReadIndex`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadIndexResponse {
    /// The request's context.
    pub context: u64,
    /// The read index, or why there is none.
    pub result: Result<Index, ReadRejectReason>,
}

/// Why a leader would not give a read index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[non_exhaustive]
pub enum ReadRejectReason {
    /// The recipient is not (or no longer) the leader.
    NotLeader,
    /// The leader has not yet committed an entry of its term.
    TermNotCommitted,
    /// A leadership transfer is in progress.
    TransferInProgress,
    /// Too many reads are pending.
    Overloaded,
}

impl ReadRejectReason {
    /// The wire code.
    pub const fn code(self) -> u8 {
        match self {
            ReadRejectReason::NotLeader => 1,
            ReadRejectReason::TermNotCommitted => 2,
            ReadRejectReason::TransferInProgress => 3,
            ReadRejectReason::Overloaded => 4,
        }
    }

    /// The reason for a wire code.
    pub const fn from_code(code: u8) -> Option<ReadRejectReason> {
        match code {
            1 => Some(ReadRejectReason::NotLeader),
            2 => Some(ReadRejectReason::TermNotCommitted),
            3 => Some(ReadRejectReason::TransferInProgress),
            4 => Some(ReadRejectReason::Overloaded),
            _ => None,
        }
    }
}

/// Client commands forwarded from a follower to the leader.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForwardProposal {
    /// The commands, in order.
    pub commands: Vec<Bytes>,
}

impl MessageBody {
    /// A short name for logs and events.
    pub fn name(&self) -> &'static str {
        match self {
            MessageBody::AppendEntries(_) => "AppendEntries",
            MessageBody::AppendEntriesResponse(_) => "AppendEntriesResponse",
            MessageBody::Heartbeat(_) => "Heartbeat",
            MessageBody::HeartbeatResponse(_) => "HeartbeatResponse",
            MessageBody::RequestVote(_) => "RequestVote",
            MessageBody::RequestVoteResponse(_) => "RequestVoteResponse",
            MessageBody::InstallSnapshot(_) => "InstallSnapshot",
            MessageBody::InstallSnapshotResponse(_) => "InstallSnapshotResponse",
            MessageBody::TimeoutNow => "TimeoutNow",
            MessageBody::ReadIndex(_) => "ReadIndex",
            MessageBody::ReadIndexResponse(_) => "ReadIndexResponse",
            MessageBody::ForwardProposal(_) => "ForwardProposal",
        }
    }
}
