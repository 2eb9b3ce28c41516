//! [`Event`]: what happened inside the core, and why. Names are in the past
//! tense and reasons are phrases, so that an event log reads as a history.

use raft_sansio_proto::{Index, NodeId, Term};

/// Something that happened, for diagnostics and tests. Events never carry
/// instructions: a host may ignore every one of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// Became a follower (on a higher term, a leader's message, or a lost
    /// election or quorum).
    BecameFollower {
        /// The current term.
        term: Term,
        /// The leader, if known.
        leader: Option<NodeId>,
    },
    /// Started a pre-vote for `term` (the current term plus one).
    BecamePreCandidate {
        /// The term it would campaign in.
        term: Term,
    },
    /// Started an election in `term`.
    BecameCandidate {
        /// The new term.
        term: Term,
    },
    /// Won the election of `term`.
    BecameLeader {
        /// The term.
        term: Term,
    },
    /// The current term changed.
    TermChanged {
        /// The old term.
        from: Term,
        /// The new term.
        to: Term,
    },
    /// Granted a vote (or pre-vote).
    VoteGranted {
        /// The candidate.
        to: NodeId,
        /// The term of the election.
        term: Term,
        /// Whether it was a pre-vote.
        pre_vote: bool,
    },
    /// Refused a vote (or pre-vote).
    VoteRefused {
        /// The candidate.
        to: NodeId,
        /// The term of the election.
        term: Term,
        /// Whether it was a pre-vote.
        pre_vote: bool,
        /// Why.
        reason: VoteRefusal,
    },
    /// This node stopped leading (for any reason). Its proposals that have
    /// not been applied are now in doubt, not failed: each one committed if
    /// and only if the entry later applied at its index has its term.
    LostLeadership {
        /// The term it led.
        term: Term,
    },
    /// A leader stepped down without seeing a higher term.
    SteppedDown {
        /// The term it led.
        term: Term,
        /// Why.
        reason: StepDownReason,
    },
    /// A message was dropped without effect.
    MessageDropped {
        /// The sender named in the message.
        from: NodeId,
        /// The message kind.
        kind: &'static str,
        /// Why.
        reason: DropReason,
    },
    /// `Campaign` or an election timeout did not start an election.
    CampaignSkipped {
        /// Why.
        reason: CampaignSkipReason,
    },
    /// A follower needs entries the leader has compacted; it can only catch
    /// up from a snapshot.
    FollowerNeedsSnapshot {
        /// The follower.
        peer: NodeId,
        /// The first index it needs.
        next: Index,
    },
    /// The configuration in effect changed (its entry was appended, or one
    /// was truncated and the one before it is back).
    ConfigurationChanged {
        /// The index of the entry that set the configuration now in effect.
        index: Index,
    },
    /// A leadership transfer started.
    TransferStarted {
        /// The target.
        to: NodeId,
    },
    /// The target is up to date: told it to campaign now.
    TimeoutNowSent {
        /// The target.
        to: NodeId,
    },
    /// A leadership transfer ended without the target taking over.
    TransferAborted {
        /// The target.
        to: NodeId,
    },
    /// This node, a witness, leads: it hands leadership to a data voter.
    WitnessHandingOver {
        /// The data voter it transfers to.
        to: NodeId,
    },
    /// The host misused the API; the input was ignored.
    InputIgnored {
        /// What was wrong.
        reason: MisuseReason,
    },
}

/// Why a vote was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum VoteRefusal {
    /// The candidate's term is behind ours.
    StaleTerm,
    /// The candidate's log is less up to date than ours (Raft §5.4.1).
    LogNotUpToDate,
    /// We already voted for another candidate in this term.
    AlreadyVoted {
        /// Whom we voted for.
        for_candidate: NodeId,
    },
    /// We know a leader for this term.
    LeaderKnown,
    /// A committed configuration removed us: we no longer vote.
    Removed,
    /// Equally up-to-date logs, and the candidate's priority is below ours.
    LowerPriority,
}

/// Why a leader stepped down in its own term.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StepDownReason {
    /// It did not hear from a quorum within an election timeout.
    QuorumLost,
    /// A configuration without it committed.
    RemovedFromConfiguration,
}

/// Why an election was not started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CampaignSkipReason {
    /// This node is not a voter of its configuration (or the configuration
    /// is empty: a node waiting to join).
    NotAVoter,
    /// This node already leads.
    AlreadyLeader,
    /// Lease read mode: a leader was heard from within the minimum
    /// election timeout and may still hold a lease.
    LeaderLease,
}

/// Why a message was dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DropReason {
    /// The sender's term is behind ours.
    StaleTerm,
    /// The sender id is 0.
    InvalidSender,
    /// The message claims to come from this node.
    FromSelf,
    /// The message is addressed to another node.
    WrongRecipient,
    /// We heard from a live leader within the minimum election timeout, so
    /// we neither update our term nor answer a (pre-)vote request (leader
    /// stickiness, thesis §4.2.3).
    LeaderStickiness,
    /// A vote from a node that is not a voter of our configuration.
    NotAVoter,
    /// The message makes no sense in our current role (a response we never
    /// asked for, a second leader in our term).
    UnexpectedInRole,
    /// A response that answers something no longer in flight.
    StaleResponse,
    /// An index the sender cannot know or we never sent (an ack beyond what
    /// was sent, a commit or match beyond a log).
    ImpossibleIndex,
    /// Entries that are not consecutive after `prev`, whose terms decrease,
    /// are 0 or exceed the message's term, or a configuration entry that
    /// does not hold a valid configuration.
    MalformedEntries,
    /// A term no such message can carry (term 0 for a leader or candidate).
    InvalidTerm,
    /// The append conflicts with an entry at or below our commit index:
    /// accepting it would truncate committed entries.
    ConflictBelowCommit,
    /// A message this version does not handle yet.
    Unsupported,
    /// Entries without their payloads (a witness's copies) sent to a node
    /// that keeps data.
    ElidedPayload,
    /// A snapshot chunk whose id, metadata, offsets or configuration do not
    /// fit together.
    MalformedSnapshot,
}

/// How the host misused the API.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MisuseReason {
    /// `Persisted` for a seq that was never emitted.
    PersistedBeyondEmitted {
        /// The reported seq.
        up_to_seq: u64,
        /// The last seq emitted.
        emitted: u64,
    },
    /// `Applied` beyond the last index emitted in an `Apply`.
    AppliedBeyondEmitted {
        /// The reported index.
        index: Index,
        /// The last index emitted.
        emitted: Index,
    },
    /// `Compact` beyond the applied index.
    CompactBeyondApplied {
        /// The requested index.
        index: Index,
        /// The applied index.
        applied: Index,
    },
    /// `ReportUnreachable` for a node that is not a peer we replicate to.
    UnknownPeer {
        /// The reported node.
        peer: NodeId,
    },
    /// `Compact` beyond the latest snapshot: a follower that needed the
    /// dropped entries could not be caught up by any snapshot.
    CompactBeyondSnapshot {
        /// The requested index.
        index: Index,
        /// The latest snapshot's last index.
        snapshot: Index,
    },
    /// `SnapshotTaken` beyond the applied index.
    SnapshotBeyondApplied {
        /// The snapshot's index.
        index: Index,
        /// The applied index.
        applied: Index,
    },
    /// `SnapshotTaken` at or below the latest snapshot.
    SnapshotNotNewer {
        /// The snapshot's index.
        index: Index,
        /// The latest snapshot's last index.
        snapshot: Index,
    },
    /// `SnapshotData` for a snapshot that is not the latest.
    SnapshotDataMismatch {
        /// The entry given.
        last: raft_sansio_proto::EntryId,
        /// The latest snapshot's last entry.
        snapshot: raft_sansio_proto::EntryId,
    },
}
