//! Message dispatch, in the fixed shape of every `on_message`:
//!
//! 1. gate the message (`check_message` names the reason a message is
//!    dropped);
//! 2. handle its term, the same way for every role;
//! 3. handle what every role treats the same way (vote requests);
//! 4. dispatch by role (`step_leader`, `step_candidate`, `step_follower`).

use raft_sansio_proto::{AppendEntriesResponse, HeartbeatResponse, Message, MessageBody, NodeId, Term};

use crate::event::{DropReason, Event};
use crate::node::{Node, RoleState};

/// Messages only a leader of the message's term sends.
fn from_leader(body: &MessageBody) -> bool {
    matches!(body, MessageBody::AppendEntries(_) | MessageBody::Heartbeat(_) | MessageBody::InstallSnapshot(_))
}

impl Node {
    pub(crate) fn drop_message(&mut self, from: NodeId, kind: &'static str, reason: DropReason) {
        self.out.event(Event::MessageDropped { from, kind, reason });
    }

    /// Why `message` must be dropped before anything looks at it, if so.
    fn check_message(&self, message: &Message) -> Result<(), DropReason> {
        if !message.from.is_valid() {
            return Err(DropReason::InvalidSender);
        }
        if message.from == self.config.id {
            return Err(DropReason::FromSelf);
        }
        if message.to != self.config.id {
            return Err(DropReason::WrongRecipient);
        }
        // Validate the whole message before taking any action (such as
        // raising our term).
        match &message.body {
            MessageBody::AppendEntries(ae) => crate::replication::check_append_entries(message.term, ae)?,
            MessageBody::InstallSnapshot(is) => crate::snapshot::check_install_snapshot(message.term, is)?,
            // Leaders and real candidates exist only from term 1 on.
            MessageBody::Heartbeat(_) | MessageBody::TimeoutNow | MessageBody::RequestVote(_)
                if message.term == Term::ZERO =>
            {
                return Err(DropReason::InvalidTerm)
            }
            _ => {}
        }
        Ok(())
    }

    pub(crate) fn on_message(&mut self, message: Message) {
        if let Err(reason) = self.check_message(&message) {
            self.drop_message(message.from, message.body.name(), reason);
            return;
        }
        // 2. The term, for every role.
        if message.term > self.term {
            match &message.body {
                MessageBody::RequestVote(rv) => {
                    // Leader stickiness (thesis §4.2.3): a node that heard
                    // from a live leader within the minimum election timeout
                    // neither raises its term nor answers, so that a node
                    // that was partitioned away cannot depose a healthy
                    // leader. Only a transfer the leader asked for bypasses.
                    if !rv.transfer && self.in_leader_lease() {
                        self.drop_message(message.from, message.body.name(), DropReason::LeaderStickiness);
                        return;
                    }
                    // A pre-vote request never changes our term.
                    if !rv.pre_vote {
                        self.become_follower(message.term, None);
                    }
                }
                // A granted pre-vote carries the term the candidate would
                // campaign in, which is not (yet) anyone's term.
                MessageBody::RequestVoteResponse(r) if r.pre_vote && r.granted => {}
                body => {
                    let leader = if from_leader(body) { Some(message.from) } else { None };
                    self.become_follower(message.term, leader);
                }
            }
        } else if message.term < self.term {
            self.on_stale_term(message);
            return;
        }
        // 3. Votes: the same for every role.
        if let MessageBody::RequestVote(rv) = message.body {
            self.on_request_vote(message.from, message.term, rv);
            return;
        }
        // 4. By role.
        match self.role {
            RoleState::Leader(_) => self.step_leader(message),
            RoleState::Candidate { .. } | RoleState::PreCandidate { .. } => self.step_candidate(message),
            RoleState::Follower => self.step_follower(message),
        }
    }

    /// A message from an older term. Answer what lets the sender catch up
    /// (a stale leader learns our term and steps down; a pre-candidate
    /// learns it cannot win); drop the rest.
    fn on_stale_term(&mut self, message: Message) {
        let Message { from, body, .. } = message;
        self.drop_message(from, body.name(), DropReason::StaleTerm);
        match body {
            MessageBody::AppendEntries(ae) => {
                let reply = AppendEntriesResponse::Reject {
                    rejected_prev: ae.prev.index,
                    conflict: raft_sansio_proto::EntryId::ZERO,
                    last_index: self.log.last_index(),
                };
                let m = self.message(from, MessageBody::AppendEntriesResponse(reply));
                self.out.send(m);
            }
            MessageBody::Heartbeat(hb) => {
                let m =
                    self.message(from, MessageBody::HeartbeatResponse(HeartbeatResponse { read_round: hb.read_round }));
                self.out.send(m);
            }
            MessageBody::RequestVote(rv) => {
                let reply = raft_sansio_proto::RequestVoteResponse { pre_vote: rv.pre_vote, granted: false };
                let m = self.message(from, MessageBody::RequestVoteResponse(reply));
                self.out.send(m);
            }
            MessageBody::InstallSnapshot(is) => {
                let reply = raft_sansio_proto::InstallSnapshotResponse {
                    id: is.id,
                    status: raft_sansio_proto::SnapshotStatus::Rejected,
                };
                let m = self.message(from, MessageBody::InstallSnapshotResponse(reply));
                self.out.send(m);
            }
            _ => {}
        }
    }

    fn step_leader(&mut self, message: Message) {
        let Message { from, body, .. } = message;
        match body {
            MessageBody::AppendEntriesResponse(resp) => {
                self.on_append_entries_response(from, resp);
                self.witness_hand_over();
            }
            MessageBody::HeartbeatResponse(resp) => {
                self.on_heartbeat_response(from, resp);
                self.witness_hand_over();
            }
            MessageBody::ForwardProposal(fp) => {
                if self.acts_as_witness() {
                    // A witness leader takes no proposals.
                    self.drop_message(from, "ForwardProposal", DropReason::UnexpectedInRole);
                } else {
                    self.on_forward_proposal(from, fp);
                }
            }
            MessageBody::ReadIndex(r) => self.on_read_index(from, r),
            MessageBody::InstallSnapshotResponse(resp) => self.on_install_snapshot_response(from, resp),
            // Two leaders in one term cannot happen (Election Safety): the
            // sender is forged or broken.
            MessageBody::AppendEntries(_) | MessageBody::Heartbeat(_) | MessageBody::InstallSnapshot(_) => {
                self.drop_message(from, body.name(), DropReason::UnexpectedInRole);
            }
            MessageBody::RequestVoteResponse(_) => self.drop_message(from, body.name(), DropReason::StaleResponse),
            _ => self.drop_message(from, body.name(), DropReason::Unsupported),
        }
    }

    fn step_candidate(&mut self, message: Message) {
        let Message { from, term, body, .. } = message;
        match body {
            // A leader of our term exists: follow it.
            MessageBody::AppendEntries(_) | MessageBody::Heartbeat(_) | MessageBody::InstallSnapshot(_) => {
                self.become_follower(term, Some(from));
                self.step_follower(Message { from, to: self.config.id, term, body });
            }
            MessageBody::RequestVoteResponse(resp) => self.on_request_vote_response(from, term, resp),
            MessageBody::AppendEntriesResponse(_)
            | MessageBody::HeartbeatResponse(_)
            | MessageBody::InstallSnapshotResponse(_) => {
                self.drop_message(from, body.name(), DropReason::StaleResponse);
            }
            MessageBody::ReadIndex(r) => self.on_read_index(from, r),
            MessageBody::ReadIndexResponse(r) => self.on_read_index_response(from, r),
            _ => self.drop_message(from, body.name(), DropReason::Unsupported),
        }
    }

    fn step_follower(&mut self, message: Message) {
        let Message { from, term, body, .. } = message;
        if from_leader(&body) {
            debug_assert_eq!(term, self.term);
            match self.leader {
                None => self.leader = Some(from),
                // Election Safety: one leader per term. Another sender of
                // leader messages in our term is forged or broken.
                Some(leader) if leader != from => {
                    self.drop_message(from, body.name(), DropReason::UnexpectedInRole);
                    return;
                }
                Some(_) => {}
            }
            self.leader_contact_ticks = 0;
            self.witness_outranks = false;
            let after = self.randomized_election_timeout();
            self.election.reset(after);
        }
        match body {
            MessageBody::AppendEntries(ae) => self.on_append_entries(from, ae),
            MessageBody::Heartbeat(hb) => self.on_heartbeat(from, hb),
            MessageBody::InstallSnapshot(is) => self.on_install_snapshot(from, *is),
            MessageBody::TimeoutNow => self.on_timeout_now(from),
            MessageBody::ReadIndex(r) => self.on_read_index(from, r),
            MessageBody::ReadIndexResponse(r) => self.on_read_index_response(from, r),
            MessageBody::AppendEntriesResponse(_)
            | MessageBody::HeartbeatResponse(_)
            | MessageBody::InstallSnapshotResponse(_)
            | MessageBody::RequestVoteResponse(_) => self.drop_message(from, body.name(), DropReason::StaleResponse),
            _ => self.drop_message(from, body.name(), DropReason::Unsupported),
        }
    }

    /// Moves to `term` (if higher) as a follower of `leader`.
    pub(crate) fn become_follower(&mut self, term: Term, leader: Option<NodeId>) {
        debug_assert!(term >= self.term);
        let led = self.term;
        if term > self.term {
            self.out.event(Event::TermChanged { from: self.term, to: term });
            self.term = term;
            self.vote = None;
            self.out.open_persist();
        }
        if let RoleState::Leader(_) = self.role {
            self.fail_leader_reads(leader);
            self.end_transfer_on_step_down();
            self.out.event(Event::LostLeadership { term: led });
            // A leader stepping down has no leader to be sticky to.
            self.leader_contact_ticks = u32::MAX;
        }
        let leader_changed = self.leader != leader || term != led;
        self.role = RoleState::Follower;
        self.leader = leader;
        if leader_changed {
            // Reads forwarded to the old leader will not be answered by it.
            self.fail_forwarded_reads();
        }
        if leader.is_some() {
            self.leader_contact_ticks = 0;
        }
        let after = self.randomized_election_timeout();
        self.election.reset(after);
        self.out.event(Event::BecameFollower { term: self.term, leader });
    }
}
