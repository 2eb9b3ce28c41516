//! Membership in the simulated cluster: the control plane (what a
//! service's operator or orchestrator does), the `membership` nemesis and
//! the `wipe` fault.
//!
//! The control plane runs every [`CONTROL_PERIOD_NS`], during the faults
//! and after them. Through the current leader, one change at a time, it
//! removes members whose node is gone for good (a lost disk), adds the
//! nodes it created (new ones start with an empty store and no
//! configuration, waiting to be added), promotes learners meant to become
//! voters once they caught up, and leaves joint configurations that wait
//! for an explicit leave. It retires a node once a committed configuration
//! removed it (after a short while during the faults, so that the rule
//! "a removed node neither campaigns nor votes" is exercised).
//!
//! The `membership` nemesis makes random changes during the faults: adds,
//! removes, promotions, demotions and witness swaps, the leader's own
//! included, single-step or joint (auto-leave or explicit leave). Every
//! change keeps at least two data voters, at least three voting members
//! whose nodes exist, fewer witnesses than data voters, and at most the
//! initial number of nodes plus two.
//!
//! The `wipe` fault loses one node's disk at a time, and only in a settled
//! cluster (no change in flight, every other data voter holding every
//! committed entry): the node is gone, its id is removed, and a new node
//! under a new id replaces it: removed first and then added (as a learner
//! then promoted, or as a voter directly), or both in one change, or added
//! as a learner first and swapped in by one joint change once caught up (the
//! only plan for a data voter beside a witness); a witness by a witness.

use std::collections::BTreeMap;
use std::io::Write;

use raft_sansio::{ConfState, Input, MemberChange, MembershipChange, NodeId, RequestId, Transition};

use super::{Ev, SimNode, World};
use crate::checks::is_voting;
use crate::params::{draw_drift_ppm, Fault, MS};

/// How often the control plane looks at the cluster.
pub(super) const CONTROL_PERIOD_NS: u64 = 100 * MS;

/// A learner is promoted once it lags the leader by at most this many
/// entries.
const CAUGHT_UP_ENTRIES: u64 = 20;

/// The role a node the control plane created is to end up with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Goal {
    Learner,
    Voter,
    Witness,
    /// Added as a learner, promoted once caught up.
    VoterViaLearner,
}

impl Goal {
    /// The change that adds `id` toward this goal.
    fn add(self, id: NodeId) -> MemberChange {
        match self {
            Goal::Voter => MemberChange::AddVoter(id),
            Goal::Witness => MemberChange::AddWitness(id),
            Goal::Learner | Goal::VoterViaLearner => MemberChange::AddLearner(id),
        }
    }

    /// Whether `conf` gives `id` its final role.
    fn reached(self, conf: &ConfState, id: NodeId) -> bool {
        match self {
            Goal::Learner => conf.learners.contains(&id),
            Goal::Voter | Goal::VoterViaLearner => conf.voters.contains(&id),
            Goal::Witness => conf.witnesses.contains(&id),
        }
    }
}

/// A lost disk being replaced.
#[derive(Clone, Copy, Debug)]
struct Wipe {
    lost: NodeId,
    replacement: NodeId,
    plan: Plan,
}

/// How a lost node is replaced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Plan {
    /// Remove the lost id, then add the new node.
    RemoveFirst,
    /// Remove the lost id and add the new node in one change (joint when
    /// both vote).
    Together,
    /// Add the new node as a learner, and once it caught up, remove the
    /// lost id and promote it in one joint change. The only plan for a
    /// data voter beside a witness: the others leave a single data voter
    /// whole for a while, a second failure {2 data + 1 witness} does not
    /// survive.
    LearnerFirst,
}

/// What the control plane is doing.
#[derive(Debug)]
pub(super) struct Control {
    /// The cluster's initial size: it never grows beyond this plus two.
    initial: usize,
    /// Nodes created and not yet in their final role, committed.
    joining: BTreeMap<NodeId, Goal>,
    /// The lost disk being replaced (one at a time).
    wipe: Option<Wipe>,
    /// Removed nodes still running, and when they are retired.
    retiring: BTreeMap<NodeId, u64>,
}

impl Control {
    pub(super) fn new(initial: usize) -> Control {
        Control { initial, joining: BTreeMap::new(), wipe: None, retiring: BTreeMap::new() }
    }

    /// Whether the nemesis must leave `id` alone: the control plane is
    /// working on it.
    fn busy(&self, id: NodeId) -> bool {
        self.joining.contains_key(&id)
            || self.retiring.contains_key(&id)
            || self.wipe.is_some_and(|w| w.lost == id || w.replacement == id)
    }
}

/// Every member of `conf`, sorted.
fn members(conf: &ConfState) -> Vec<NodeId> {
    let mut v: Vec<NodeId> = [
        &conf.voters,
        &conf.witnesses,
        &conf.learners,
        &conf.voters_outgoing,
        &conf.witnesses_outgoing,
        &conf.learners_next,
    ]
    .iter()
    .flat_map(|l| l.iter().copied())
    .collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// The incoming (voters, witnesses, learners) of `conf` after `changes`.
fn incoming_after(conf: &ConfState, changes: &[MemberChange]) -> (Vec<NodeId>, Vec<NodeId>, Vec<NodeId>) {
    let (mut voters, mut witnesses, mut learners) =
        (conf.voters.clone(), conf.witnesses.clone(), conf.learners.clone());
    for c in changes {
        let id = c.id();
        for list in [&mut voters, &mut witnesses, &mut learners] {
            list.retain(|&x| x != id);
        }
        match c {
            MemberChange::AddVoter(_) => voters.push(id),
            MemberChange::AddWitness(_) => witnesses.push(id),
            MemberChange::AddLearner(_) => learners.push(id),
            _ => {}
        }
    }
    (voters, witnesses, learners)
}

impl World {
    fn slot(&self, id: NodeId) -> Option<&SimNode> {
        self.nodes.get((id.0 as usize).wrapping_sub(1))
    }

    /// Whether `id`'s node is gone for good.
    fn dead(&self, id: NodeId) -> bool {
        self.slot(id).is_none_or(|n| n.retired)
    }

    /// Whether `conf` after `changes` keeps the cluster able to make
    /// progress: at least two data voters and three voting members whose
    /// nodes exist, and fewer witnesses than data voters.
    fn keeps_quorum(&self, conf: &ConfState, changes: &[MemberChange]) -> bool {
        let (voters, witnesses, _) = incoming_after(conf, changes);
        let live_voters = voters.iter().filter(|&&v| !self.dead(v)).count();
        let live_witnesses = witnesses.iter().filter(|&&w| !self.dead(w)).count();
        live_voters >= 2 && live_voters + live_witnesses >= 3 && witnesses.len() < voters.len()
    }

    /// A new node with an empty store and no configuration, waiting to be
    /// added: the next unused id.
    fn add_node(&mut self, goal: Goal) -> NodeId {
        let i = self.nodes.len();
        let clock = self.options.faults.contains(Fault::Clock);
        let drift = draw_drift_ppm(&mut self.rng, clock, i64::from(self.options.clock_drift_ppm));
        let sim = SimNode::new(&self.options, &self.params, i, drift, &[]);
        let id = sim.id;
        let first_tick = self.rng.below(self.params.tick_ns);
        self.nodes.push(sim);
        self.schedule(self.now + first_tick, Ev::Tick(i));
        self.control.joining.insert(id, goal);
        self.stats.nodes_added += 1;
        id
    }

    /// Steps a membership change into the leader in slot `i`.
    fn propose_change(&mut self, i: usize, change: MembershipChange) {
        // Ids with the top bit set are the nemesis's own.
        let id = RequestId(1 << 63 | self.seq);
        if let Some(trace) = self.trace.as_mut() {
            let line = serde_json::json!({"t": self.now, "node": i + 1, "membership-change": format!("{change:?}")});
            let _ = writeln!(trace, "{line}");
        }
        self.step(i, Input::ChangeMembership { id, change });
    }

    /// The live, running leader's slot and its latest configuration.
    fn leader_and_conf(&self) -> Option<(usize, ConfState)> {
        let leader = self.current_leader()?;
        let i = leader.0 as usize - 1;
        let sim = &self.nodes[i];
        if sim.paused {
            return None;
        }
        Some((i, sim.node.as_ref()?.membership().clone()))
    }

    /// Configuration entries were committed: count them, and retire the
    /// nodes they removed (during the faults after a while, so that a
    /// removed node gets the chance to misbehave).
    pub(super) fn on_configurations_committed(&mut self) {
        for (_, conf) in core::mem::take(&mut self.checker.new_confs) {
            self.stats.conf_changes += 1;
            if conf.is_joint() {
                self.stats.joint_confs += 1;
            }
            for id in conf.removed {
                if self.dead(id) || self.control.retiring.contains_key(&id) {
                    continue;
                }
                let linger = if self.faults_active { self.rng.below(1_000 * MS) } else { 0 };
                self.control.retiring.insert(id, self.now + linger);
            }
        }
    }

    /// The control plane's round (see the module docs).
    pub(super) fn control_round(&mut self) {
        self.schedule(self.now + CONTROL_PERIOD_NS, Ev::Control);
        let due: Vec<NodeId> =
            self.control.retiring.iter().filter(|(_, &at)| at <= self.now).map(|(&id, _)| id).collect();
        for id in due {
            self.control.retiring.remove(&id);
            self.retire(id.0 as usize - 1);
            self.stats.nodes_removed += 1;
        }
        // Forget what is done.
        let committed = self.checker.committed_conf().clone();
        let joining = core::mem::take(&mut self.control.joining);
        self.control.joining = joining
            .into_iter()
            .filter(|&(id, goal)| !goal.reached(&committed, id) && !committed.removed.contains(&id) && !self.dead(id))
            .collect();
        if let Some(w) = self.control.wipe {
            if !committed.contains(w.lost) && !self.control.joining.contains_key(&w.replacement) {
                self.control.wipe = None;
            }
        }
        let Some((i, conf)) = self.leader_and_conf() else { return };
        if let Some(change) = self.control_change(i, &conf, &committed) {
            self.propose_change(i, change);
        }
    }

    /// The control plane's next change, if any is due.
    fn control_change(&mut self, i: usize, conf: &ConfState, committed: &ConfState) -> Option<MembershipChange> {
        if conf.is_joint() {
            // Auto-leave is the leader's job; an explicit leave is ours (not
            // at once during the faults: joint configurations should last).
            if !conf.auto_leave && (!self.faults_active || self.rng.chance(1, 3)) {
                return Some(MembershipChange::leave_joint());
            }
            return None;
        }
        if conf != committed {
            return None; // a change is in flight
        }
        let leader = self.nodes[i].node.as_ref().expect("leads");
        let view = leader.members();
        let lag = |id: NodeId| view.members.iter().find(|m| m.id == id).and_then(|m| m.lag);
        // The lost node of a wipe, by its plan.
        if let Some(w) = self.control.wipe.filter(|w| conf.contains(w.lost)) {
            let (lost, new) = (w.lost, w.replacement);
            let goal = self.control.joining.get(&new).copied().unwrap_or(Goal::Voter);
            return match w.plan {
                Plan::RemoveFirst => Some(MembershipChange::new([MemberChange::Remove(lost)])),
                Plan::Together if !conf.contains(new) => {
                    Some(MembershipChange::new([MemberChange::Remove(lost), goal.add(new)]))
                }
                Plan::Together => Some(MembershipChange::new([MemberChange::Remove(lost)])),
                Plan::LearnerFirst if !conf.contains(new) => {
                    Some(MembershipChange::new([MemberChange::AddLearner(new)]))
                }
                Plan::LearnerFirst if lag(new).is_some_and(|l| l <= CAUGHT_UP_ENTRIES) => {
                    Some(MembershipChange::new([MemberChange::Remove(lost), MemberChange::AddVoter(new)]))
                }
                Plan::LearnerFirst => None,
            };
        }
        // Other members whose node is gone.
        if let Some(&lost) = members(conf).iter().find(|&&id| self.dead(id)) {
            return Some(MembershipChange::new([MemberChange::Remove(lost)]));
        }
        // Nodes created and not yet added.
        let pending: Vec<(NodeId, Goal)> = self.control.joining.iter().map(|(&id, &g)| (id, g)).collect();
        for &(id, goal) in &pending {
            if !conf.contains(id) && !conf.removed.contains(&id) {
                if !self.keeps_quorum(conf, &[goal.add(id)]) {
                    // Too many witnesses by now: it joins as a learner.
                    self.control.joining.insert(id, Goal::Learner);
                    return Some(MembershipChange::new([Goal::Learner.add(id)]));
                }
                return Some(MembershipChange::new([goal.add(id)]));
            }
        }
        // Learners to promote once caught up (during the faults, sometimes
        // before: the leader must cope with a voter that lags).
        for &(id, goal) in &pending {
            if goal == Goal::VoterViaLearner && conf.learners.contains(&id) {
                let caught_up = lag(id).is_some_and(|l| l <= CAUGHT_UP_ENTRIES);
                if caught_up || (self.faults_active && self.rng.chance(1, 8)) {
                    return Some(MembershipChange::new([MemberChange::AddVoter(id)]));
                }
            }
        }
        None
    }

    /// The `membership` nemesis: one random change through the leader.
    pub(super) fn nemesis_membership(&mut self) {
        if !self.faults_active {
            return;
        }
        let at = self.now + self.exp(self.params.membership_every_ns);
        self.schedule(at, Ev::Membership);
        let Some((i, conf)) = self.leader_and_conf() else { return };
        if conf.is_joint() || conf != *self.checker.committed_conf() {
            return;
        }
        let leader = self.nodes[i].id;
        let mut changes = Vec::new();
        let mut new_nodes = Vec::new();
        let draws = if self.rng.chance(1, 4) { 2 } else { 1 };
        for _ in 0..draws {
            if let Some(more) = self.random_change(&conf, leader, &changes, &mut new_nodes) {
                changes.extend(more);
            }
        }
        if changes.is_empty() || !self.keeps_quorum(&conf, &changes) {
            // The change is dropped; nodes created for it are added later
            // by the control plane.
            return;
        }
        let transition = match self.rng.below(10) {
            0..=4 => Transition::Auto,
            5..=7 => Transition::JointAutoLeave,
            _ => Transition::JointExplicit,
        };
        self.propose_change(i, MembershipChange { changes, transition });
    }

    /// A random member change on `conf` (one, or a remove-and-add pair),
    /// on members not already in `taken`.
    fn random_change(
        &mut self,
        conf: &ConfState,
        leader: NodeId,
        taken: &[MemberChange],
        new_nodes: &mut Vec<NodeId>,
    ) -> Option<Vec<MemberChange>> {
        let free = |w: &World, id: NodeId| !w.control.busy(id) && !w.dead(id) && !taken.iter().any(|c| c.id() == id);
        let pick = |w: &mut World, list: &[NodeId]| -> Option<NodeId> {
            let list: Vec<NodeId> = list.iter().copied().filter(|&id| free(w, id)).collect();
            if list.is_empty() {
                return None;
            }
            // The leader a third of the time, when it is a candidate.
            if list.contains(&leader) && w.rng.chance(1, 3) {
                return Some(leader);
            }
            Some(list[w.rng.below(list.len() as u64) as usize])
        };
        let room = self.nodes.len() - self.retired < self.control.initial + 2 && new_nodes.is_empty();
        match self.rng.below(12) {
            0..=2 if room => {
                let goal = match self.rng.below(10) {
                    0..=2 => Goal::Learner,
                    3..=5 => Goal::VoterViaLearner,
                    6..=7 => Goal::Voter,
                    _ => Goal::Witness,
                };
                let id = self.add_node(goal);
                new_nodes.push(id);
                Some(vec![goal.add(id)])
            }
            3..=4 => {
                let all = members(conf);
                pick(self, &all).map(|id| vec![MemberChange::Remove(id)])
            }
            5 => pick(self, &conf.learners).map(|id| vec![MemberChange::AddVoter(id)]),
            6 => pick(self, &conf.voters).map(|id| vec![MemberChange::AddLearner(id)]),
            7 => pick(self, &conf.voters).map(|id| vec![MemberChange::AddWitness(id)]),
            // A witness becomes a data voter (a core that refuses this
            // answers with a rejection).
            8 => pick(self, &conf.witnesses).map(|id| vec![MemberChange::AddVoter(id)]),
            9 => pick(self, &conf.learners).map(|id| vec![MemberChange::AddWitness(id)]),
            10..=11 if room => {
                // Replace a voting member (the leader included) or swap a
                // witness for a new one: remove it and add a new node in
                // its role, in the same change.
                let mut voting: Vec<NodeId> = conf.voters.iter().chain(&conf.witnesses).copied().collect();
                voting.sort_unstable();
                let old = pick(self, &voting)?;
                let goal = if conf.witnesses.contains(&old) { Goal::Witness } else { Goal::Voter };
                let id = self.add_node(goal);
                new_nodes.push(id);
                Some(vec![MemberChange::Remove(old), goal.add(id)])
            }
            _ => None,
        }
    }

    /// The `wipe` fault: a node loses its disk (see the module docs).
    pub(super) fn nemesis_wipe(&mut self) {
        if !self.faults_active {
            return;
        }
        let at = self.now + self.exp(self.params.wipe_every_ns);
        self.schedule(at, Ev::Wipe);
        if self.control.wipe.is_some() || !self.control.joining.is_empty() {
            return;
        }
        // Only a settled cluster loses a disk: no change in flight, no
        // member gone, and every data voter but the one lost caught up
        // (else a lagging data voter and a witness that dropped the
        // payloads it lacks would leave no whole copy to lead: losing a
        // disk then is a second failure, which {2 data + 1 witness} does
        // not survive).
        let committed = self.checker.committed_conf().clone();
        let Some((leader_slot, conf)) = self.leader_and_conf() else { return };
        if conf != committed || committed.is_joint() || members(&committed).iter().any(|&id| self.dead(id)) {
            return;
        }
        let leader_node = self.nodes[leader_slot].node.as_ref().expect("leads");
        let commit = leader_node.commit_index();
        let view = leader_node.members();
        // Holds every committed entry: a witness drops payloads only up to
        // the lowest data voter's match, never beyond the commit index.
        let caught_up =
            |id: NodeId| view.members.iter().any(|m| m.id == id && m.match_index.is_some_and(|m| m >= commit));
        let candidates: Vec<NodeId> =
            members(&committed).into_iter().filter(|&id| !self.control.busy(id) && !self.dead(id)).collect();
        if candidates.is_empty() {
            return;
        }
        let leader = self.current_leader().filter(|l| candidates.contains(l));
        let lost = match leader {
            Some(l) if self.rng.chance(1, 2) => l,
            _ => candidates[self.rng.below(candidates.len() as u64) as usize],
        };
        if is_voting(&committed, lost) && !self.keeps_quorum(&committed, &[]) {
            return;
        }
        if committed.voters.contains(&lost) && !committed.voters.iter().all(|&v| v == lost || caught_up(v)) {
            return;
        }
        self.retire(lost.0 as usize - 1);
        self.stats.wipes += 1;
        let either = |w: &mut World| if w.rng.chance(1, 2) { Plan::RemoveFirst } else { Plan::Together };
        let (goal, plan) = if committed.learners.contains(&lost) {
            (Goal::Learner, either(self))
        } else if committed.witnesses.contains(&lost) {
            (Goal::Witness, either(self))
        } else if !committed.witnesses.is_empty() {
            (Goal::VoterViaLearner, Plan::LearnerFirst)
        } else {
            match self.rng.below(4) {
                0 => (Goal::VoterViaLearner, Plan::RemoveFirst),
                1 => (Goal::Voter, Plan::RemoveFirst),
                2 => (Goal::Voter, Plan::Together),
                _ => (Goal::VoterViaLearner, Plan::LearnerFirst),
            }
        };
        let replacement = self.add_node(goal);
        self.control.wipe = Some(Wipe { lost, replacement, plan });
    }
}
