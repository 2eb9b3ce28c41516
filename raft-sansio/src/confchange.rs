//! Membership changes as pure functions: the configuration after a change,
//! computed from the one before it (copy, check, apply, check, swap: the
//! live configuration is never touched by a change that fails).
//!
//! Shape of etcd's ConfChangeV2 (Raft thesis chapter 4): one change may add
//! and remove any set of voters, learners and witnesses. A change of at most
//! one voting member may apply directly (any majority of the old set meets
//! any majority of the new one); anything larger goes through a joint
//! configuration, in which every decision needs a majority of both the
//! incoming and the outgoing voting members, and which is left by a second
//! change. A voter demoted to learner in a joint change stays a voter of the
//! outgoing half until the joint configuration is left (`learners_next`).
//! Every id that leaves the configuration for good is recorded in `removed`
//! and can never be added again.

use alloc::vec::Vec;
use core::fmt;

use raft_sansio_proto::{ConfState, NodeId};

/// What happens to one member.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MemberChange {
    /// Make `id` a data voter (adding it, or promoting a learner; a witness
    /// cannot become one, see [`ChangeError::WitnessToData`]).
    AddVoter(NodeId),
    /// Make `id` a learner (adding it, or demoting a voter; not a witness).
    AddLearner(NodeId),
    /// Make `id` a witness (adding it, or changing a voter's or learner's
    /// role).
    AddWitness(NodeId),
    /// Remove `id` from the configuration for good.
    Remove(NodeId),
}

impl MemberChange {
    /// The member concerned.
    pub fn id(self) -> NodeId {
        match self {
            MemberChange::AddVoter(id)
            | MemberChange::AddLearner(id)
            | MemberChange::AddWitness(id)
            | MemberChange::Remove(id) => id,
        }
    }
}

/// How a change takes effect.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Transition {
    /// Directly when at most one voting member changes, else through a
    /// joint configuration that the leader leaves automatically.
    #[default]
    Auto,
    /// Always through a joint configuration, left automatically once it
    /// commits.
    JointAutoLeave,
    /// Always through a joint configuration, left only when the host asks
    /// (a change with no member changes).
    JointExplicit,
}

/// A membership change request.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct MembershipChange {
    /// The member changes; empty means "leave the joint configuration".
    pub changes: Vec<MemberChange>,
    /// How they take effect.
    pub transition: Transition,
}

impl MembershipChange {
    /// A change of the given members, taking effect as `Transition::Auto`.
    pub fn new(changes: impl IntoIterator<Item = MemberChange>) -> MembershipChange {
        MembershipChange { changes: changes.into_iter().collect(), transition: Transition::Auto }
    }

    /// Leave the joint configuration.
    pub fn leave_joint() -> MembershipChange {
        MembershipChange::default()
    }
}

/// Why a membership change is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChangeError {
    /// A leave was asked for but the configuration is not joint.
    NotJoint,
    /// The configuration is joint: only leaving it is allowed.
    AlreadyJoint,
    /// The id was removed before: ids are never reused.
    IdReused(NodeId),
    /// Id 0 is never a member.
    InvalidId,
    /// The same id appears twice in one change.
    DuplicateId(NodeId),
    /// Removing an id that is not a member.
    NotAMember(NodeId),
    /// The change would leave no voting member.
    NoVoters,
    /// The change changes nothing.
    NoChange,
    /// The change would turn a witness into a data voter or a learner. A
    /// witness holds no state machine and drops payloads, so it cannot
    /// start serving data where it stands: remove it and add a new id as a
    /// learner, which catches up by snapshot, then promote that.
    WitnessToData(NodeId),
}

impl fmt::Display for ChangeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChangeError::NotJoint => write!(f, "not in a joint configuration"),
            ChangeError::AlreadyJoint => write!(f, "the configuration is joint: leave it first"),
            ChangeError::IdReused(id) => write!(f, "{id} was removed before and cannot be added again"),
            ChangeError::InvalidId => write!(f, "node id 0 is reserved"),
            ChangeError::DuplicateId(id) => write!(f, "{id} appears twice in the change"),
            ChangeError::NotAMember(id) => write!(f, "{id} is not a member"),
            ChangeError::NoVoters => write!(f, "the change leaves no voter"),
            ChangeError::NoChange => write!(f, "the change changes nothing"),
            ChangeError::WitnessToData(id) => {
                write!(f, "{id} is a witness and holds no data: remove it and add a new learner instead")
            }
        }
    }
}

impl core::error::Error for ChangeError {}

fn insert(list: &mut Vec<NodeId>, id: NodeId) {
    if let Err(p) = list.binary_search(&id) {
        list.insert(p, id);
    }
}

fn remove(list: &mut Vec<NodeId>, id: NodeId) -> bool {
    match list.binary_search(&id) {
        Ok(p) => {
            list.remove(p);
            true
        }
        Err(_) => false,
    }
}

fn contains(list: &[NodeId], id: NodeId) -> bool {
    list.binary_search(&id).is_ok()
}

/// Marks as removed every id of `before` that `after` no longer names.
fn record_removed(before: &ConfState, after: &mut ConfState) {
    let mut gone = Vec::new();
    for list in [
        &before.voters,
        &before.learners,
        &before.witnesses,
        &before.voters_outgoing,
        &before.witnesses_outgoing,
        &before.learners_next,
    ] {
        for &id in list {
            if !after.contains(id) {
                gone.push(id);
            }
        }
    }
    for id in gone {
        insert(&mut after.removed, id);
    }
}

/// The configuration after `change`, or why the change is refused.
///
/// # Errors
/// See [`ChangeError`].
pub(crate) fn apply(current: &ConfState, change: &MembershipChange) -> Result<ConfState, ChangeError> {
    if change.changes.is_empty() {
        return leave_joint(current);
    }
    if current.is_joint() {
        return Err(ChangeError::AlreadyJoint);
    }
    let mut seen: Vec<NodeId> = Vec::with_capacity(change.changes.len());
    for c in &change.changes {
        let id = c.id();
        if !id.is_valid() {
            return Err(ChangeError::InvalidId);
        }
        if seen.contains(&id) {
            return Err(ChangeError::DuplicateId(id));
        }
        seen.push(id);
        if contains(&current.removed, id) {
            return Err(ChangeError::IdReused(id));
        }
        if matches!(c, MemberChange::Remove(_)) && !current.contains(id) {
            return Err(ChangeError::NotAMember(id));
        }
        if matches!(c, MemberChange::AddVoter(_) | MemberChange::AddLearner(_))
            && (contains(&current.witnesses, id) || contains(&current.witnesses_outgoing, id))
        {
            return Err(ChangeError::WitnessToData(id));
        }
    }
    let (mut voters, mut witnesses, mut learners) =
        (current.voters.clone(), current.witnesses.clone(), current.learners.clone());
    for c in &change.changes {
        let id = c.id();
        remove(&mut voters, id);
        remove(&mut witnesses, id);
        remove(&mut learners, id);
        match c {
            MemberChange::AddVoter(_) => insert(&mut voters, id),
            MemberChange::AddLearner(_) => insert(&mut learners, id),
            MemberChange::AddWitness(_) => insert(&mut witnesses, id),
            MemberChange::Remove(_) => {}
        }
    }
    if voters.is_empty() && witnesses.is_empty() {
        return Err(ChangeError::NoVoters);
    }
    let (old_voting, new_voting) = (voting(&current.voters, &current.witnesses), voting(&voters, &witnesses));
    let voting_changes = old_voting.iter().filter(|id| !contains(&new_voting, **id)).count()
        + new_voting.iter().filter(|id| !contains(&old_voting, **id)).count();
    let joint = change.transition != Transition::Auto || voting_changes > 1;
    let mut next = ConfState { removed: current.removed.clone(), ..ConfState::default() };
    if joint {
        next.voters_outgoing = current.voters.clone();
        next.witnesses_outgoing = current.witnesses.clone();
        next.auto_leave = change.transition != Transition::JointExplicit;
        // A voting member demoted to learner keeps voting in the outgoing
        // half until the joint configuration is left.
        for id in learners {
            if contains(&old_voting, id) {
                insert(&mut next.learners_next, id);
            } else {
                insert(&mut next.learners, id);
            }
        }
    } else {
        next.learners = learners;
    }
    next.voters = voters;
    next.witnesses = witnesses;
    record_removed(current, &mut next);
    if next == *current {
        return Err(ChangeError::NoChange);
    }
    debug_assert_eq!(next.validate(), Ok(()), "{current:?} + {change:?} = {next:?}");
    Ok(next)
}

fn voting(voters: &[NodeId], witnesses: &[NodeId]) -> Vec<NodeId> {
    let mut v: Vec<NodeId> = voters.iter().chain(witnesses).copied().collect();
    v.sort_unstable();
    v
}

/// The configuration after leaving a joint one.
fn leave_joint(current: &ConfState) -> Result<ConfState, ChangeError> {
    if !current.is_joint() {
        return Err(ChangeError::NotJoint);
    }
    let mut next = current.clone();
    next.voters_outgoing.clear();
    next.witnesses_outgoing.clear();
    for id in core::mem::take(&mut next.learners_next) {
        insert(&mut next.learners, id);
    }
    next.auto_leave = false;
    record_removed(current, &mut next);
    debug_assert_eq!(next.validate(), Ok(()));
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use quickcheck::{Arbitrary, Gen, QuickCheck};

    fn ids(v: &[u64]) -> Vec<NodeId> {
        v.iter().copied().map(NodeId).collect()
    }

    fn voters(v: &[u64]) -> ConfState {
        ConfState::with_voters(ids(v))
    }

    #[test]
    fn a_single_voter_change_applies_directly() {
        let next = apply(&voters(&[1, 2, 3]), &MembershipChange::new([MemberChange::AddVoter(NodeId(4))])).unwrap();
        assert_eq!(next.voters, ids(&[1, 2, 3, 4]));
        assert!(!next.is_joint());
        let next = apply(&next, &MembershipChange::new([MemberChange::Remove(NodeId(1))])).unwrap();
        assert_eq!(next.voters, ids(&[2, 3, 4]));
        assert_eq!(next.removed, ids(&[1]));
    }

    #[test]
    fn two_voter_changes_go_joint_and_leave() {
        let cur = voters(&[1, 2, 3]);
        let change = MembershipChange::new([MemberChange::AddVoter(NodeId(4)), MemberChange::AddVoter(NodeId(5))]);
        let joint = apply(&cur, &change).unwrap();
        assert!(joint.is_joint());
        assert!(joint.auto_leave);
        assert_eq!(joint.voters, ids(&[1, 2, 3, 4, 5]));
        assert_eq!(joint.voters_outgoing, ids(&[1, 2, 3]));
        // Nothing but leaving is allowed while joint.
        assert_eq!(apply(&joint, &change), Err(ChangeError::AlreadyJoint));
        let left = apply(&joint, &MembershipChange::leave_joint()).unwrap();
        assert_eq!(left, voters(&[1, 2, 3, 4, 5]));
        // A second leave is refused (the core treats it as a no-op).
        assert_eq!(apply(&left, &MembershipChange::leave_joint()), Err(ChangeError::NotJoint));
    }

    #[test]
    fn a_demoted_voter_votes_until_the_joint_configuration_is_left() {
        let cur = voters(&[1, 2, 3]);
        let change = MembershipChange {
            changes: vec![MemberChange::AddLearner(NodeId(3)), MemberChange::AddVoter(NodeId(4))],
            transition: Transition::JointExplicit,
        };
        let joint = apply(&cur, &change).unwrap();
        assert_eq!(joint.voters, ids(&[1, 2, 4]));
        assert_eq!(joint.voters_outgoing, ids(&[1, 2, 3]));
        assert_eq!(joint.learners_next, ids(&[3]));
        assert!(joint.learners.is_empty());
        assert!(!joint.auto_leave);
        let left = apply(&joint, &MembershipChange::leave_joint()).unwrap();
        assert_eq!(left.learners, ids(&[3]));
        assert!(left.removed.is_empty(), "a demoted voter is not removed");
    }

    #[test]
    fn replacing_the_leader_in_one_joint_change() {
        let cur = voters(&[1, 2, 3]);
        let change = MembershipChange::new([MemberChange::Remove(NodeId(1)), MemberChange::AddVoter(NodeId(4))]);
        let joint = apply(&cur, &change).unwrap();
        assert!(joint.is_joint(), "two voting changes need the joint step");
        assert!(joint.removed.is_empty(), "still an outgoing voter");
        let left = apply(&joint, &MembershipChange::leave_joint()).unwrap();
        assert_eq!(left.voters, ids(&[2, 3, 4]));
        assert_eq!(left.removed, ids(&[1]));
    }

    #[test]
    fn refusals_name_the_reason() {
        let mut cur = voters(&[1, 2]);
        cur.removed = ids(&[9]);
        let one = |c: MemberChange| apply(&cur, &MembershipChange::new([c]));
        assert_eq!(one(MemberChange::AddVoter(NodeId(9))), Err(ChangeError::IdReused(NodeId(9))));
        assert_eq!(one(MemberChange::AddVoter(NodeId(0))), Err(ChangeError::InvalidId));
        assert_eq!(one(MemberChange::Remove(NodeId(7))), Err(ChangeError::NotAMember(NodeId(7))));
        assert_eq!(one(MemberChange::AddVoter(NodeId(1))), Err(ChangeError::NoChange));
        assert_eq!(
            apply(&cur, &MembershipChange::new([MemberChange::Remove(NodeId(1)), MemberChange::Remove(NodeId(2))])),
            Err(ChangeError::NoVoters)
        );
        assert_eq!(
            apply(
                &cur,
                &MembershipChange::new([MemberChange::AddVoter(NodeId(3)), MemberChange::AddLearner(NodeId(3))])
            ),
            Err(ChangeError::DuplicateId(NodeId(3)))
        );
    }

    #[test]
    fn witnesses_are_voting_members() {
        let cur = voters(&[1, 2]);
        let next = apply(&cur, &MembershipChange::new([MemberChange::AddWitness(NodeId(3))])).unwrap();
        assert_eq!(next.witnesses, ids(&[3]));
        assert!(!next.is_joint(), "one voting member added");
        // A witness holds no data: it never becomes a data voter or learner.
        for change in [MemberChange::AddVoter(NodeId(3)), MemberChange::AddLearner(NodeId(3))] {
            assert_eq!(apply(&next, &MembershipChange::new([change])), Err(ChangeError::WitnessToData(NodeId(3))));
        }
        // Swapping a witness for another is two voting changes: joint.
        let swap = MembershipChange::new([MemberChange::Remove(NodeId(3)), MemberChange::AddWitness(NodeId(4))]);
        let joint = apply(&next, &swap).unwrap();
        assert!(joint.is_joint());
        assert_eq!(joint.witnesses_outgoing, ids(&[3]));
    }

    /// Every quorum of a configuration: subsets of its members holding a
    /// majority of the incoming voting members and, when joint, of the
    /// outgoing ones too.
    fn quorums(c: &ConfState) -> Vec<Vec<NodeId>> {
        let incoming = voting(&c.voters, &c.witnesses);
        let outgoing = voting(&c.voters_outgoing, &c.witnesses_outgoing);
        let mut all = incoming.clone();
        all.extend(outgoing.iter().copied());
        all.sort_unstable();
        all.dedup();
        let maj = |set: &[NodeId], pick: &[NodeId]| {
            set.is_empty() || pick.iter().filter(|id| set.contains(id)).count() > set.len() / 2
        };
        (0..1u32 << all.len())
            .map(|mask| all.iter().enumerate().filter(|(i, _)| mask & (1 << i) != 0).map(|(_, id)| *id).collect())
            .filter(|pick: &Vec<NodeId>| maj(&incoming, pick) && maj(&outgoing, pick))
            .collect()
    }

    #[derive(Clone, Debug)]
    struct Changes(Vec<MembershipChange>);

    impl Arbitrary for Changes {
        fn arbitrary(g: &mut Gen) -> Changes {
            let n = usize::arbitrary(g) % 8;
            Changes(
                (0..n)
                    .map(|_| {
                        let k = usize::arbitrary(g) % 4;
                        if k == 0 {
                            return MembershipChange::leave_joint();
                        }
                        let changes = (0..k)
                            .map(|_| {
                                let id = NodeId(u64::arbitrary(g) % 8 + 1);
                                match u8::arbitrary(g) % 4 {
                                    0 => MemberChange::AddVoter(id),
                                    1 => MemberChange::AddLearner(id),
                                    2 => MemberChange::AddWitness(id),
                                    _ => MemberChange::Remove(id),
                                }
                            })
                            .collect();
                        let transition = *g
                            .choose(&[Transition::Auto, Transition::JointAutoLeave, Transition::JointExplicit])
                            .unwrap();
                        MembershipChange { changes, transition }
                    })
                    .collect(),
            )
        }
    }

    /// For any sequence of changes, two configurations that can be active
    /// at once (one and the next) have intersecting quorums: no two
    /// disjoint sets of nodes can ever both decide.
    #[test]
    fn property_quorums_of_consecutive_configurations_intersect() {
        fn prop(start: u8, changes: Changes) -> bool {
            let n = u64::from(start % 5) + 1;
            let mut cur = ConfState::with_voters((1..=n).map(NodeId));
            for change in &changes.0 {
                let Ok(next) = apply(&cur, change) else { continue };
                assert_eq!(next.validate(), Ok(()));
                for a in quorums(&cur) {
                    for b in quorums(&next) {
                        if !a.iter().any(|id| b.contains(id)) {
                            return false;
                        }
                    }
                }
                // Removed ids never come back.
                assert!(cur.removed.iter().all(|id| next.removed.contains(id) && !next.contains(*id)));
                cur = next;
            }
            true
        }
        QuickCheck::new().tests(2000).rng(Gen::from_size_and_seed(20, 11)).quickcheck(prop as fn(u8, Changes) -> bool);
    }
}
