//! Clusters of drivers on the in-process network.

use core::sync::atomic::{AtomicBool, Ordering};
use core::time::Duration;
use std::collections::BTreeSet;
use std::sync::Arc;

use bytes::Bytes;
use raft_sansio::{Index, MemberChange, MembershipChange, NodeId, Persist, RejectReason, RestoredState, Role};
use tokio::task::JoinSet;

use super::cluster::Cluster;
use super::{config, options, within, Recorder};
use crate::driver::{Driver, DriverError, DriverOptions, ProposeError, ReadError, SnapshotPolicy, UnknownReason};
use crate::storage::{LogStore, MemStore, StoreError, StoredSnapshot};
use crate::transport::LocalNetwork;

const IDS: [NodeId; 3] = [NodeId(1), NodeId(2), NodeId(3)];

async fn start(
    cluster: &mut Cluster,
    network: &LocalNetwork,
    id: NodeId,
    voters: &[NodeId],
    store: impl LogStore + Send + 'static,
    options: DriverOptions,
) {
    let (transport, inbound) = network.join(id);
    let mut config = config(id, voters);
    config.snapshot_trailing_entries = 0;
    let driver = Driver::start(config, store, Recorder::default(), transport, inbound, options).await.expect("start");
    cluster.drivers.insert(id, driver);
}

async fn three_nodes(options: DriverOptions) -> (Cluster, LocalNetwork) {
    let network = LocalNetwork::new();
    let mut cluster = Cluster::new();
    for id in IDS {
        start(&mut cluster, &network, id, &IDS, MemStore::new(), options.clone()).await;
    }
    (cluster, network)
}

fn command(i: usize) -> Bytes {
    Bytes::from(format!("command {i}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_cluster_elects_a_leader_and_every_node_applies_proposals_in_order() {
    let (cluster, _network) = three_nodes(options()).await;
    let leader = cluster.leader().await;

    // Many tasks propose at once; the driver batches them, and each gets
    // the index its own command was applied at.
    let handle = cluster.handle(leader);
    let mut tasks = JoinSet::new();
    for i in 0..100 {
        let handle = handle.clone();
        tasks.spawn(async move { (i, handle.propose(command(i)).await) });
    }
    let mut indexes = BTreeSet::new();
    let mut last = Index(0);
    let mut answers = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let (i, result) = joined.expect("task");
        let index = result.expect("the leader applied it");
        assert!(indexes.insert(index), "two proposals answered with index {index:?}");
        last = last.max(index);
        answers.push((i, index));
    }

    let states: Vec<Recorder> = {
        let mut states = Vec::new();
        for id in IDS {
            states.push(cluster.applied(id, last).await);
        }
        states
    };
    for state in &states {
        assert_eq!(state.commands.len(), 100);
        assert_eq!(state.commands, states[0].commands, "every node applies the same commands in the same order");
    }
    // The leader sees both followers caught up.
    let m =
        within(5, "followers caught up", handle.wait_for(|m| m.peers.len() == 2 && m.peers.iter().all(|p| p.lag == 0)))
            .await
            .expect("running");
    assert!(m.peers.iter().all(|p| p.match_index >= last), "{m:?}");
    assert!(m.persist_count > 0);
    for (i, index) in answers {
        let at = states[0].commands.iter().find(|(x, _)| *x == index).map(|(_, c)| c.clone());
        assert_eq!(at, Some(command(i)), "proposal {i} was answered with the index of its own entry");
    }
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_proposal_on_a_follower_gets_not_leader_with_the_leader() {
    let (cluster, _network) = three_nodes(options()).await;
    let leader = cluster.leader().await;
    let follower = IDS.into_iter().find(|&id| id != leader).expect("a follower");
    let result = cluster.handle(follower).propose(command(0)).await;
    assert_eq!(result, Err(ProposeError::NotLeader { leader: Some(leader) }));
    assert!(result.expect_err("refused").certainly_not_applied());
    // A membership change and a transfer there are refused the same way.
    let change = MembershipChange::new([MemberChange::AddLearner(NodeId(9))]);
    assert_eq!(
        cluster.handle(follower).change_membership(change).await,
        Err(ProposeError::NotLeader { leader: Some(leader) })
    );
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_read_index_read_sees_a_preceding_write_on_every_node() {
    let (cluster, _network) = three_nodes(options()).await;
    let (_, index) = cluster.propose(Bytes::from_static(b"x = 1")).await.expect("committed");
    for id in IDS {
        // Reads on followers go to the leader for a read index, then wait
        // for the follower's state machine.
        let seen = cluster.handle(id).read_with(|r: &Recorder| r.payloads()).await.expect("read");
        assert!(seen.contains(&Bytes::from_static(b"x = 1")), "node {} read {seen:?}", id.0);
        let at = cluster.handle(id).read_index(false).await.expect("read index");
        assert!(at >= index, "node {}: read index {at:?} below the write at {index:?}", id.0);
    }
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_leader_killed_with_a_pending_proposal_resolves_unknown_and_a_new_leader_takes_over() {
    let (mut cluster, network) = three_nodes(options()).await;
    let old = cluster.leader().await;
    let others: Vec<NodeId> = IDS.into_iter().filter(|&id| id != old).collect();

    // Cut the leader off so its proposal cannot commit, then kill it.
    network.isolate(old);
    let handle = cluster.handle(old);
    let pending = tokio::spawn(async move { handle.propose(Bytes::from_static(b"maybe")).await });
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(!pending.is_finished(), "an isolated leader cannot commit");
    cluster.kill(old);
    network.leave(old);
    let result = within(2, "the pending proposal resolves", pending).await.expect("task");
    assert!(
        matches!(result, Err(ProposeError::Unknown { .. }) | Err(ProposeError::NotLeader { .. })),
        "never a false failure: {result:?}"
    );

    let new = cluster.leader_among(&others).await;
    assert_ne!(new, old);
    let (_, index) = cluster.propose(Bytes::from_static(b"after")).await.expect("the survivors commit");
    for id in others {
        let state = cluster.applied(id, index).await;
        assert!(!state.payloads().contains(&Bytes::from_static(b"maybe")));
    }
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_isolated_leader_steps_down_and_its_pending_proposal_becomes_unknown() {
    // Reference: Raft thesis §6.2 (check-quorum): a leader that hears from
    // no quorum steps down; its uncommitted proposals are in doubt.
    let (cluster, network) = three_nodes(options()).await;
    let old = cluster.leader().await;
    network.isolate(old);
    let handle = cluster.handle(old);
    let pending = tokio::spawn(async move { handle.propose(Bytes::from_static(b"lost")).await });
    let result = within(5, "the isolated leader steps down", pending).await.expect("task");
    assert_eq!(result, Err(ProposeError::Unknown { reason: UnknownReason::LeadershipLost }));
    within(1, "nothing left pending", cluster.handle(old).wait_for(|m| m.pending_proposals == 0)).await.expect("up");

    // Healed, the old leader follows the new one and drops its entry.
    let others: Vec<NodeId> = IDS.into_iter().filter(|&id| id != old).collect();
    let new = cluster.leader_among(&others).await;
    network.heal();
    let (_, index) = cluster.propose(Bytes::from_static(b"after")).await.expect("committed");
    let state = cluster.applied(old, index).await;
    assert!(!state.payloads().contains(&Bytes::from_static(b"lost")));
    assert_eq!(cluster.handle(old).metrics().leader, Some(new));
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_transfer_leadership_hands_over_to_the_target() {
    let (cluster, _network) = three_nodes(options()).await;
    let old = cluster.leader().await;
    let target = IDS.into_iter().find(|&id| id != old).expect("a follower");
    within(5, "transfer", cluster.handle(old).transfer_leadership(target)).await.expect("transferred");
    let m = within(5, "the target leads", cluster.handle(target).wait_for(|m| m.role == Role::Leader))
        .await
        .expect("running");
    assert_eq!(m.id, target);
    // A transfer to a non-member is refused before anything happens.
    let refused = cluster.handle(target).transfer_leadership(NodeId(9)).await;
    assert!(matches!(refused, Err(crate::driver::TransferError::Rejected { .. })), "{refused:?}");
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_snapshot_every_100_entries_lets_a_new_learner_catch_up_by_snapshot() {
    let mut options = options();
    options.snapshot_policy = SnapshotPolicy::every_entries(100);
    let (mut cluster, network) = three_nodes(options.clone()).await;
    let leader = cluster.leader().await;
    let handle = cluster.handle(leader);
    let mut last = Index(0);
    // Five waves of 50 concurrent proposals (each wave may be one batch).
    for wave in 0..5 {
        let mut tasks = JoinSet::new();
        for i in 0..50 {
            let handle = handle.clone();
            tasks.spawn(async move { handle.propose(command(wave * 50 + i)).await });
        }
        while let Some(joined) = tasks.join_next().await {
            last = last.max(joined.expect("task").expect("applied"));
        }
    }
    let m = within(5, "two snapshots", handle.wait_for(|m| m.snapshots_taken >= 2)).await.expect("running");
    assert!(m.snapshot_index >= Index(200), "{m:?}");

    // A new node, with an empty store and no configuration, joins as a
    // learner: the leader's log no longer reaches back to index 1.
    let learner = NodeId(4);
    start(&mut cluster, &network, learner, &[], MemStore::new(), options).await;
    let change = MembershipChange::new([MemberChange::AddLearner(learner)]);
    let conf = within(5, "add the learner", handle.change_membership(change)).await.expect("changed");
    assert!(conf.learners.contains(&learner), "{conf:?}");

    let expected = cluster.applied(leader, last).await;
    let caught_up = cluster.applied(learner, last).await;
    assert_eq!(caught_up.commands, expected.commands);
    assert!(caught_up.restores >= 1, "the learner restored a snapshot");
    assert!(cluster.handle(learner).metrics().snapshots_installed >= 1);

    // And it keeps up from the log afterwards.
    let (_, index) = cluster.propose(Bytes::from_static(b"later")).await.expect("committed");
    let state = cluster.applied(learner, index).await;
    assert_eq!(state.payloads().last(), Some(&Bytes::from_static(b"later")));
    cluster.shutdown().await;
}

/// A store that fails every write once told to (a dying disk), and takes
/// `delay` per write (a slow one).
#[derive(Debug)]
struct FailingStore {
    inner: MemStore,
    fail: Arc<AtomicBool>,
    delay: Duration,
}

impl LogStore for FailingStore {
    fn load(&mut self) -> Result<RestoredState, StoreError> {
        self.inner.load()
    }

    fn persist(&mut self, batch: &[Persist]) -> Result<u64, StoreError> {
        if self.fail.load(Ordering::SeqCst) {
            let source = std::io::Error::other("injected fsync failure");
            return Err(StoreError::Io { op: "fsync", path: "test.wal".into(), source });
        }
        std::thread::sleep(self.delay);
        self.inner.persist(batch)
    }

    fn durable_seq(&self) -> u64 {
        self.inner.durable_seq()
    }

    fn save_snapshot(&mut self, index: Index, data: &[u8]) -> Result<(), StoreError> {
        self.inner.save_snapshot(index, data)
    }

    fn snapshot(&self) -> Result<Option<StoredSnapshot>, StoreError> {
        self.inner.snapshot()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_failing_store_stops_the_node_and_fails_pending_requests() {
    let network = LocalNetwork::new();
    let mut cluster = Cluster::new();
    let flags: Vec<Arc<AtomicBool>> = IDS.iter().map(|_| Arc::new(AtomicBool::new(false))).collect();
    for (id, fail) in IDS.into_iter().zip(&flags) {
        let store = FailingStore { inner: MemStore::new(), fail: fail.clone(), delay: Duration::ZERO };
        start(&mut cluster, &network, id, &IDS, store, options()).await;
    }
    let leader = cluster.leader().await;
    cluster.propose(Bytes::from_static(b"before")).await.expect("committed");

    // The leader's disk dies: the next Persist fails.
    flags[leader.0 as usize - 1].store(true, Ordering::SeqCst);
    let handle = cluster.handle(leader);
    let result = within(2, "the proposal resolves", handle.propose(Bytes::from_static(b"doomed?"))).await;
    // The followers may have committed it; this node cannot know.
    assert_eq!(result, Err(ProposeError::Unknown { reason: UnknownReason::Stopped }));
    let driver = cluster.drivers.remove(&leader).expect("the leader's driver");
    let stopped = within(2, "the driver stops", driver.join()).await;
    assert!(matches!(stopped, Err(DriverError::Store(StoreError::Io { .. }))), "{stopped:?}");
    assert!(handle.metrics().stopped.is_some());
    assert!(handle.is_stopped());
    assert_eq!(handle.propose(Bytes::new()).await, Err(ProposeError::Stopped));
    assert_eq!(handle.read_with(|_: &Recorder| ()).await, Err(ReadError::Stopped));

    // The others go on without it.
    let others: Vec<NodeId> = IDS.into_iter().filter(|&id| id != leader).collect();
    cluster.leader_among(&others).await;
    cluster.propose(Bytes::from_static(b"after")).await.expect("the survivors commit");
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_forced_snapshot_and_a_cut_off_follower_refuses_reads_instead_of_hanging() {
    let (cluster, network) = three_nodes(options()).await;
    let leader = cluster.leader().await;
    let (_, index) = cluster.propose(command(1)).await.expect("committed");
    let taken = cluster.handle(leader).snapshot().await.expect("running");
    assert!(taken >= index);
    let metrics = cluster.handle(leader).wait_for(|m| m.snapshot_index >= taken).await.expect("running");
    assert_eq!(metrics.snapshot_index, taken);
    // Nothing new applied: the same snapshot.
    assert_eq!(cluster.handle(leader).snapshot().await, Ok(taken));

    // A follower cut off from the leader cannot confirm a read: it is
    // refused (the forwarded read times out, or no leader is known), never
    // left hanging.
    let follower = IDS.into_iter().find(|&id| id != leader).expect("a follower");
    network.isolate(follower);
    let read = within(5, "the read is refused", cluster.handle(follower).read_index(true)).await;
    assert!(matches!(read, Err(ReadError::NotLeader { .. }) | Err(ReadError::Rejected { .. })), "{read:?}");
    within(1, "no read left pending", cluster.handle(follower).wait_for(|m| m.pending_reads == 0)).await.expect("up");
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_witness_applies_nothing_once_its_configuration_commits_but_follows_the_commit_index() {
    let (mut cluster, network) = three_nodes(options()).await;
    let leader = cluster.leader().await;
    cluster.propose(command(0)).await.expect("committed");

    let witness = NodeId(4);
    start(&mut cluster, &network, witness, &[], MemStore::new(), options()).await;
    let change = MembershipChange::new([MemberChange::AddWitness(witness)]);
    let conf = within(5, "add the witness", cluster.handle(leader).change_membership(change)).await.expect("added");
    assert!(conf.witnesses.contains(&witness), "{conf:?}");
    let m = within(5, "the witness knows", cluster.handle(witness).wait_for(|m| m.is_witness)).await.expect("running");
    assert!(m.membership.witnesses.contains(&witness));

    let mut last = Index(0);
    for i in 1..=5 {
        last = cluster.propose(command(i)).await.expect("committed").1;
    }
    // Its applied index follows the commit index without a state machine.
    let state = cluster.applied(witness, last).await;
    assert!(!state.payloads().contains(&command(5)), "a witness applies no command: {state:?}");
    // It serves no reads, and snapshots (metadata only) at its applied index.
    let read = cluster.handle(witness).read_index(true).await;
    assert!(matches!(read, Err(ReadError::Rejected { reason: RejectReason::Witness })), "{read:?}");
    let taken = cluster.handle(witness).snapshot().await.expect("running");
    assert!(taken >= last);
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_slow_store_group_commits_and_reports_its_fsync_latency() {
    // One slow disk (20 ms per persist) under a leader with 100 proposals
    // in flight: they share a few fsyncs instead of taking 100.
    let network = LocalNetwork::new();
    let mut cluster = Cluster::new();
    let options = DriverOptions { slow_fsync_threshold: Duration::from_millis(10), ..options() };
    for id in IDS {
        let fail = Arc::new(AtomicBool::new(false));
        let store = FailingStore { inner: MemStore::new(), fail, delay: Duration::from_millis(20) };
        start(&mut cluster, &network, id, &IDS, store, options.clone()).await;
    }
    let leader = cluster.leader().await;
    let handle = cluster.handle(leader);
    let before = handle.metrics().fsync_count;
    let mut tasks = JoinSet::new();
    for i in 0..100 {
        let handle = handle.clone();
        tasks.spawn(async move { handle.propose(command(i)).await });
    }
    while let Some(joined) = tasks.join_next().await {
        joined.expect("task").expect("applied");
    }
    let m = handle.metrics();
    assert!(m.fsync_count - before < 20, "100 proposals took {} fsyncs", m.fsync_count - before);
    assert!(m.last_fsync.is_some_and(|d| d >= Duration::from_millis(20)), "{:?}", m.last_fsync);
    cluster.shutdown().await;
}
