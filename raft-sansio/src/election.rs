//! Elections: pre-vote, vote requests and responses, and the transitions to
//! pre-candidate, candidate and leader (Raft §5.2, thesis §9.6).

use raft_sansio_proto::{Entry, MessageBody, NodeId, RequestVote, RequestVoteResponse, Term};

use crate::event::{CampaignSkipReason, DropReason, Event, VoteRefusal};
use crate::node::{LeaderState, Node, RoleState, Votes};
use crate::progress::Progress;
use crate::quorum::VoteResult;

impl Node {
    /// Starts an election: a pre-vote when `pre_vote`, else straight to
    /// candidate (`transfer` marks a campaign a leader asked for).
    pub(crate) fn campaign(&mut self, pre_vote: bool, transfer: bool) {
        if matches!(self.role, RoleState::Leader(_)) {
            self.out.event(Event::CampaignSkipped { reason: CampaignSkipReason::AlreadyLeader });
            return;
        }
        // Learners, removed nodes and nodes waiting to join never campaign.
        if !self.membership.is_voter(self.config.id) || self.removed_for_good() {
            self.out.event(Event::CampaignSkipped { reason: CampaignSkipReason::NotAVoter });
            return;
        }
        if pre_vote {
            self.become_pre_candidate();
        } else {
            self.become_candidate(transfer);
        }
    }

    fn become_pre_candidate(&mut self) {
        self.leader = None;
        self.fail_forwarded_reads();
        let mut votes = Votes::new();
        // A pre-vote changes no durable state, so our own counts at once.
        votes.push((self.config.id, true));
        self.role = RoleState::PreCandidate { votes };
        self.leader = None;
        let after = self.randomized_election_timeout();
        self.election.reset(after);
        let term = self.term.next();
        self.out.event(Event::BecamePreCandidate { term });
        self.request_votes(term, true, false);
        self.poll_election();
    }

    pub(crate) fn become_candidate(&mut self, transfer: bool) {
        self.leader = None;
        self.fail_forwarded_reads();
        let from = self.term;
        self.term = self.term.next();
        self.vote = Some(self.config.id);
        self.leader = None;
        // Term and vote travel together in one HardState (hashicorp/raft
        // #661); our own vote counts once that Persist is durable.
        self.out.open_persist();
        let self_vote_seq = self.out.required_seq();
        self.role = RoleState::Candidate { votes: Votes::new(), self_vote_seq };
        let after = self.randomized_election_timeout();
        self.election.reset(after);
        self.out.event(Event::TermChanged { from, to: self.term });
        self.out.event(Event::BecameCandidate { term: self.term });
        self.request_votes(self.term, false, transfer);
        self.poll_election();
    }

    fn request_votes(&mut self, term: Term, pre_vote: bool, transfer: bool) {
        let request = RequestVote { pre_vote, transfer, last: self.log.last_id(), priority: self.config.priority };
        let me = self.config.id;
        for i in 0..self.membership.members().len() {
            let to = self.membership.members()[i];
            if to == me || !self.membership.is_voter(to) {
                continue;
            }
            let message = raft_sansio_proto::Message { from: me, to, term, body: MessageBody::RequestVote(request) };
            self.out.send(message);
        }
    }

    /// Counts the votes and acts on the result.
    pub(crate) fn poll_election(&mut self) {
        let me = self.config.id;
        let durable = self.out.durable_seq();
        let (result, self_durable, pre) = match &self.role {
            RoleState::PreCandidate { votes } => (self.membership.vote_result(|id| lookup(votes, id)), true, true),
            RoleState::Candidate { votes, self_vote_seq } => {
                let self_durable = *self_vote_seq <= durable;
                let result = self.membership.vote_result(|id| {
                    if id == me {
                        // Our own vote counts only once it is durable: a
                        // candidate that crashed before persisting it could
                        // otherwise vote again in this term.
                        self_durable.then_some(true)
                    } else {
                        lookup(votes, id)
                    }
                });
                (result, self_durable, false)
            }
            _ => return,
        };
        match result {
            VoteResult::Won if pre => self.become_candidate(false),
            // A leader must not act before its term and vote are durable,
            // even if others' votes alone form a quorum.
            VoteResult::Won if self_durable => self.become_leader(),
            VoteResult::Won | VoteResult::Pending => {}
            VoteResult::Lost => self.become_follower(self.term, None),
        }
    }

    pub(crate) fn on_request_vote_response(&mut self, from: NodeId, term: Term, resp: RequestVoteResponse) {
        let expected = match &self.role {
            RoleState::PreCandidate { .. } => {
                // Grants carry the term we would campaign in; refusals carry
                // the voter's own term (ours, or we would have stepped down).
                resp.pre_vote && term == if resp.granted { self.term.next() } else { self.term }
            }
            RoleState::Candidate { .. } => !resp.pre_vote && term == self.term,
            _ => false,
        };
        if !expected {
            self.drop_message(from, "RequestVoteResponse", DropReason::StaleResponse);
            return;
        }
        // Count only voters of our configuration(s).
        if !self.membership.is_voter(from) {
            self.drop_message(from, "RequestVoteResponse", DropReason::NotAVoter);
            return;
        }
        if let RoleState::PreCandidate { votes } | RoleState::Candidate { votes, .. } = &mut self.role {
            if lookup(votes, from).is_none() {
                votes.push((from, resp.granted));
            }
        }
        self.poll_election();
    }

    /// A vote or pre-vote request whose term is not behind ours.
    pub(crate) fn on_request_vote(&mut self, from: NodeId, term: Term, request: RequestVote) {
        debug_assert!(term >= self.term);
        let pre_vote = request.pre_vote;
        // A real vote in a higher term already moved us to that term.
        debug_assert!(pre_vote || term == self.term);
        let refusal = self.vote_refusal(from, term, &request);
        match refusal {
            None => {
                self.out.event(Event::VoteGranted { to: from, term, pre_vote });
                let reply = RequestVoteResponse { pre_vote, granted: true };
                if pre_vote {
                    // A pre-vote grant promises nothing durable; it carries
                    // the term the candidate asked about.
                    let message = raft_sansio_proto::Message {
                        from: self.config.id,
                        to: from,
                        term,
                        body: MessageBody::RequestVoteResponse(reply),
                    };
                    self.out.send(message);
                } else {
                    self.vote = Some(from);
                    self.out.open_persist();
                    let after = self.randomized_election_timeout();
                    self.election.reset(after);
                    let message = self.message(from, MessageBody::RequestVoteResponse(reply));
                    self.out.send_after_persist(message);
                }
            }
            Some(reason) => {
                if reason == VoteRefusal::LogNotUpToDate
                    && self.acts_as_witness()
                    && !self.witness_outranks
                    && !matches!(self.role, RoleState::Leader(_))
                {
                    // This witness's log beats a candidate's: it may be the
                    // one that must lead (to pass its log tail on), so it
                    // stops deferring to the data voters' timeouts.
                    self.witness_outranks = true;
                    let after = self.randomized_election_timeout();
                    self.election.reset(after);
                }
                self.out.event(Event::VoteRefused { to: from, term, pre_vote, reason });
                let reply = RequestVoteResponse { pre_vote, granted: false };
                let message = self.message(from, MessageBody::RequestVoteResponse(reply));
                self.out.send(message);
            }
        }
    }

    fn vote_refusal(&self, from: NodeId, term: Term, request: &RequestVote) -> Option<VoteRefusal> {
        // A node whose removal is committed no longer takes part.
        if self.removed_for_good() {
            return Some(VoteRefusal::Removed);
        }
        // One vote per term; a pre-vote for a later term binds nothing.
        let can_vote = self.vote == Some(from)
            || (self.vote.is_none() && self.leader.is_none())
            || (request.pre_vote && term > self.term);
        if !can_vote {
            // `can_vote` holds when we voted for `from`, so a vote here is
            // for someone else.
            return Some(match self.vote {
                Some(for_candidate) => VoteRefusal::AlreadyVoted { for_candidate },
                None => VoteRefusal::LeaderKnown,
            });
        }
        // Raft §5.4.1: only for a log at least as up to date as ours,
        // comparing (last term, last index) lexicographically.
        let ours = self.log.last_id();
        if !request.last.is_up_to_date_with(ours) {
            return Some(VoteRefusal::LogNotUpToDate);
        }
        if request.last == ours && request.priority < self.config.priority {
            return Some(VoteRefusal::LowerPriority);
        }
        None
    }

    pub(crate) fn become_leader(&mut self) {
        debug_assert_eq!(self.vote, Some(self.config.id));
        let me = self.config.id;
        let next = self.log.last_index().next();
        let progress =
            self.membership.members().iter().filter(|&&id| id != me).map(|&id| (id, Progress::new(next))).collect();
        self.fail_forwarded_reads();
        self.role = RoleState::Leader(LeaderState {
            progress,
            uncommitted_size: 0,
            commit_at_start: self.log.committed(),
            noop_index: next,
            reads: crate::read::ReadQueue::default(),
            transfer: None,
            timeout_now_sent: false,
        });
        self.leader = Some(me);
        self.leader_contact_ticks = 0;
        self.heartbeat.reset(self.config.heartbeat_interval_ticks);
        self.election.reset(self.config.election_timeout_ticks_min);
        self.out.event(Event::BecameLeader { term: self.term });
        // The no-op of the new term (Raft §8): committing it commits every
        // earlier entry, which counting alone must never do (Figure 8).
        let noop = Entry::noop(self.term, next);
        self.log.push(noop.clone());
        self.out.persist().entries.push(noop);
        self.broadcast_append(true);
        self.witness_hand_over();
    }
}

fn lookup(votes: &Votes, id: NodeId) -> Option<bool> {
    votes.iter().find(|(v, _)| *v == id).map(|(_, granted)| *granted)
}
