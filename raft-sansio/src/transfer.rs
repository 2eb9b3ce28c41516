//! Leadership transfer (Raft thesis §3.10): the leader stops accepting
//! proposals, brings the target up to date, and sends it `TimeoutNow`; the
//! target campaigns at once with the `transfer` flag, which alone bypasses
//! pre-vote and leader stickiness. The transfer aborts after an election
//! timeout and proposals resume.

use raft_sansio_proto::{MessageBody, NodeId};

use crate::event::{DropReason, Event};
use crate::input::RequestId;
use crate::node::{Node, RoleState};
use crate::output::{Output, RejectReason, TransferRefusal};

/// A transfer in progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Transfer {
    /// The host's request, or `None` for a witness leader's own hand-over.
    pub(crate) id: Option<RequestId>,
    pub(crate) to: NodeId,
    /// The tick at which it aborts.
    pub(crate) deadline: u64,
    /// `TimeoutNow` went out.
    pub(crate) sent: bool,
}

impl Node {
    pub(crate) fn on_transfer_leadership(&mut self, id: RequestId, to: NodeId) {
        let RoleState::Leader(ls) = &self.role else {
            self.out.push(Output::Rejected { id, reason: RejectReason::NotLeader { leader_hint: self.leader } });
            return;
        };
        if ls.transfer.is_some() {
            self.out.push(Output::Rejected { id, reason: RejectReason::TransferInProgress });
            return;
        }
        let conf = self.membership.conf();
        let refusal = if to == self.config.id {
            Some(TransferRefusal::IsSelf)
        } else if conf.witnesses.binary_search(&to).is_ok() || conf.witnesses_outgoing.binary_search(&to).is_ok() {
            Some(TransferRefusal::Witness)
        } else if conf.learners.binary_search(&to).is_ok() && !self.membership.is_voter(to) {
            Some(TransferRefusal::Learner)
        } else if !self.membership.is_voter(to) {
            Some(TransferRefusal::UnknownNode)
        } else {
            None
        };
        if let Some(reason) = refusal {
            self.out.push(Output::Rejected { id, reason: RejectReason::InvalidTransferTarget { reason } });
            return;
        }
        self.start_transfer(Some(id), to);
    }

    /// Starts a transfer to a validated target.
    pub(crate) fn start_transfer(&mut self, id: Option<RequestId>, to: NodeId) {
        let deadline = self.ticks + u64::from(self.config.election_timeout_ticks_max);
        if let RoleState::Leader(ls) = &mut self.role {
            ls.transfer = Some(super::transfer::Transfer { id, to, deadline, sent: false });
        }
        self.out.event(Event::TransferStarted { to });
        if !self.maybe_send_timeout_now() {
            // Bring the target up to date first, from its known match:
            // appends in flight to it may have been lost, and a transfer is
            // rare enough that resending beats waiting for the stall
            // detector.
            if let RoleState::Leader(ls) = &mut self.role {
                if let Some(pr) = ls.progress_mut(to) {
                    pr.become_probe();
                }
            }
            self.send_appends_to_peer(to);
        }
    }

    /// Sends `TimeoutNow` once the target's durable match reaches our last
    /// index. Returns whether it went out now.
    pub(crate) fn maybe_send_timeout_now(&mut self) -> bool {
        let last = self.log.last_index();
        let RoleState::Leader(ls) = &mut self.role else { return false };
        let Some(transfer) = ls.transfer.as_mut() else { return false };
        if transfer.sent {
            return false;
        }
        let to = transfer.to;
        if ls.progress(to).is_none_or(|p| p.match_index < last) {
            return false;
        }
        if let Some(t) = ls.transfer.as_mut() {
            t.sent = true;
        }
        // From now on no lease read in this term: the target may win at
        // once, bypassing stickiness.
        ls.timeout_now_sent = true;
        let message = self.message(to, MessageBody::TimeoutNow);
        self.out.send(message);
        self.out.event(Event::TimeoutNowSent { to });
        true
    }

    /// Aborts the transfer past its deadline (checked on every tick).
    pub(crate) fn tick_transfer(&mut self) {
        let ticks = self.ticks;
        let RoleState::Leader(ls) = &mut self.role else { return };
        if let Some(t) = ls.transfer {
            if ticks >= t.deadline {
                ls.transfer = None;
                self.out.event(Event::TransferAborted { to: t.to });
                if let Some(id) = t.id {
                    self.out.push(Output::Rejected { id, reason: RejectReason::TransferAborted });
                }
                // What waited for the transfer (leaving a joint
                // configuration) goes ahead.
                self.after_leader_commit();
            }
        }
    }

    /// A leader steps down: a transfer in progress ends.
    pub(crate) fn end_transfer_on_step_down(&mut self) {
        let RoleState::Leader(ls) = &mut self.role else { return };
        if let Some(t) = ls.transfer.take() {
            // The target may well have won; the host learns who leads from
            // the new term. Without TimeoutNow sent it certainly did not.
            if !t.sent {
                self.out.event(Event::TransferAborted { to: t.to });
                if let Some(id) = t.id {
                    self.out.push(Output::Rejected { id, reason: RejectReason::TransferAborted });
                }
            }
        }
    }

    /// The leader asks this node to campaign now.
    pub(crate) fn on_timeout_now(&mut self, from: NodeId) {
        // The term check happened at the gate: the message is of our term.
        // A witness is never a transfer target.
        if self.leader.is_some_and(|l| l != from) || self.acts_as_witness() {
            self.drop_message(from, "TimeoutNow", DropReason::UnexpectedInRole);
            return;
        }
        self.campaign(false, true);
    }
}
