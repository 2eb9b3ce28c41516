//! Membership changes on the node (Raft thesis chapter 4): proposing them,
//! applying configurations when their entries are appended (and undoing
//! them when truncated), leaving joint configurations automatically, and
//! the rules for removed nodes and a leader that removes itself.

use bytes::BytesMut;
use raft_sansio_proto::{ConfState, Entry, EntryKind, Index, NodeId};

use crate::confchange::{self, MembershipChange};
use crate::event::{Event, StepDownReason};
use crate::input::RequestId;
use crate::membership::Membership;
use crate::node::{Node, RoleState};
use crate::output::{Output, RejectReason};
use crate::progress::Progress;

impl Node {
    /// Whether this node was removed by a committed configuration: it then
    /// neither campaigns nor grants votes. Until the removal commits it
    /// takes part normally (the removal may still be truncated).
    pub(crate) fn removed_for_good(&self) -> bool {
        self.confs.at(self.log.committed()).removed.binary_search(&self.config.id).is_ok()
    }

    /// The configuration in effect changed (an entry appended or truncated,
    /// a snapshot installed): rebuild the voter sets, and on the leader the
    /// followers' progress and the lease.
    pub(crate) fn on_configuration_changed(&mut self) {
        let next = Membership::new(self.confs.latest().clone());
        let voters_changed = !next.same_voters(&self.membership);
        self.membership = next;
        self.out.event(Event::ConfigurationChanged { index: self.confs.latest_index() });
        let me = self.config.id;
        let next_index = self.log.last_index().next();
        let RoleState::Leader(ls) = &mut self.role else { return };
        // Followers: every member but us. New members start probing; gone
        // ones are forgotten.
        ls.progress.retain(|(id, _)| self.membership.members().binary_search(id).is_ok());
        for &id in self.membership.members() {
            if id != me {
                if let Err(p) = ls.progress.binary_search_by_key(&id, |(i, _)| *i) {
                    ls.progress.insert(p, (id, Progress::new(next_index)));
                }
            }
        }
        // A change of the voter set ends the lease: the new quorum has not
        // acknowledged anything yet.
        if voters_changed {
            ls.reads.confirmed_round_tick = None;
        }
    }

    /// Appends a configuration entry on the leader. Returns its index.
    fn append_configuration(&mut self, conf: ConfState) -> Index {
        let index = self.log.last_index().next();
        let mut payload = BytesMut::new();
        raft_sansio_proto::codec::encode_conf_state(&conf, &mut payload);
        let entry = Entry {
            term: self.term,
            index,
            kind: EntryKind::ConfChange,
            payload_elided: false,
            payload: payload.freeze(),
        };
        self.log.push(entry.clone());
        self.out.persist().entries.push(entry);
        self.confs.push(index, conf);
        self.on_configuration_changed();
        self.broadcast_append(false);
        index
    }

    pub(crate) fn on_change_membership(&mut self, id: RequestId, change: MembershipChange) {
        let RoleState::Leader(ls) = &self.role else {
            self.out.push(Output::Rejected { id, reason: RejectReason::NotLeader { leader_hint: self.leader } });
            return;
        };
        if self.acts_as_witness() {
            self.out.push(Output::Rejected { id, reason: RejectReason::WitnessLeader });
            return;
        }
        if ls.transfer.is_some() {
            self.out.push(Output::Rejected { id, reason: RejectReason::TransferInProgress });
            return;
        }
        // No configuration entry until this term has committed one of its
        // entries, and one change at a time (thesis §4.1; the single-server
        // change bug of the thesis's errata is exactly a change appended
        // before the term's first commit).
        if !self.term_committed() || self.confs.latest_index() > self.log.committed() {
            self.out.push(Output::Rejected { id, reason: RejectReason::MembershipChangeInProgress });
            return;
        }
        match confchange::apply(self.confs.latest(), &change) {
            Ok(conf) => {
                let index = self.append_configuration(conf);
                self.out.push(Output::Proposed { id, index, term: self.term });
            }
            Err(reason) => {
                self.out.push(Output::Rejected { id, reason: RejectReason::InvalidMembershipChange { reason } });
            }
        }
    }

    /// After the leader's commit index moved: leave a committed joint
    /// configuration that asks to be left automatically, and step down once
    /// a configuration without this node is committed.
    pub(crate) fn after_leader_commit(&mut self) {
        if !matches!(self.role, RoleState::Leader(_)) {
            return;
        }
        let commit = self.log.committed();
        if self.confs.latest_index() > commit {
            return; // a configuration entry is still in flight
        }
        let latest = self.confs.latest();
        // No entry while a transfer is in flight: the target must stay as
        // up to date as the TimeoutNow said (it leaves the joint
        // configuration itself once it leads; an aborted transfer leaves it
        // here).
        let transferring = matches!(&self.role, RoleState::Leader(ls) if ls.transfer.is_some());
        if latest.is_joint() && latest.auto_leave && self.term_committed() && !transferring {
            if let Ok(next) = confchange::apply(latest, &MembershipChange::leave_joint()) {
                self.append_configuration(next);
            }
            return;
        }
        // The configuration without us is committed: hand over by stepping
        // down (the host may transfer leadership first).
        if !self.membership.is_voter(self.config.id) {
            self.out.event(Event::SteppedDown { term: self.term, reason: StepDownReason::RemovedFromConfiguration });
            self.become_follower(self.term, None);
        }
    }

    /// Configuration entries among entries just appended by a follower.
    pub(crate) fn on_entries_appended(&mut self, entries: &[Entry]) {
        let mut changed = false;
        for e in entries.iter().filter(|e| e.kind == EntryKind::ConfChange) {
            // The gate validated the payload.
            if let Ok(conf) = raft_sansio_proto::codec::decode_conf_state(&e.payload) {
                self.confs.push(e.index, conf);
                changed = true;
            }
        }
        if changed {
            self.on_configuration_changed();
        }
    }

    /// The log was truncated from `from`: configurations set there are
    /// undone.
    pub(crate) fn on_entries_truncated(&mut self, from: Index) {
        if self.confs.truncate_from(from) {
            self.on_configuration_changed();
        }
    }

    /// The membership observed from this node: for a control plane.
    pub fn members(&self) -> MembershipView {
        let conf = self.membership.conf().clone();
        let last = self.log.last_index();
        let leader_view = match &self.role {
            RoleState::Leader(ls) => Some(ls),
            _ => None,
        };
        let mut members = alloc::vec::Vec::new();
        for &id in self.membership.members() {
            let role = if conf.voters.binary_search(&id).is_ok() {
                MemberRole::Voter
            } else if conf.witnesses.binary_search(&id).is_ok() {
                MemberRole::Witness
            } else if conf.learners.binary_search(&id).is_ok() {
                MemberRole::Learner
            } else {
                MemberRole::OutgoingOnly
            };
            let match_index = if id == self.config.id {
                Some(self.log.persisted())
            } else {
                leader_view.and_then(|ls| ls.progress(id)).map(|p| p.match_index)
            };
            members.push(MemberView { id, role, match_index, lag: match_index.map(|m| last.0.saturating_sub(m.0)) });
        }
        MembershipView { joint: conf.is_joint(), leader: self.leader, conf, members }
    }
}

/// What a control plane sees of the membership.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MembershipView {
    /// The configuration in effect.
    pub conf: ConfState,
    /// Whether it is joint.
    pub joint: bool,
    /// The leader, if known.
    pub leader: Option<NodeId>,
    /// Each member.
    pub members: alloc::vec::Vec<MemberView>,
}

/// One member, as seen from a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemberView {
    /// Its id.
    pub id: NodeId,
    /// Its role in the incoming configuration.
    pub role: MemberRole,
    /// Its match index (known on the leader, and for the node itself).
    pub match_index: Option<Index>,
    /// How many entries it lags behind the leader's last index.
    pub lag: Option<u64>,
}

/// A member's role.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MemberRole {
    /// A data voter.
    Voter,
    /// A witness.
    Witness,
    /// A learner.
    Learner,
    /// A member of the outgoing half of a joint configuration only (a
    /// voter being removed or demoted).
    OutgoingOnly,
}
