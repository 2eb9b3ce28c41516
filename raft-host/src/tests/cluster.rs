//! A cluster of drivers, whatever their transport: find the leader,
//! propose through it, wait for nodes to catch up.

use core::time::Duration;
use std::collections::BTreeMap;

use bytes::Bytes;
use raft_sansio::{Index, NodeId, Role};

use super::{within, Recorder};
use crate::driver::{Driver, ProposeError, RaftHandle};

pub(crate) struct Cluster {
    pub(crate) drivers: BTreeMap<NodeId, Driver<Recorder>>,
}

impl Cluster {
    pub(crate) fn new() -> Cluster {
        Cluster { drivers: BTreeMap::new() }
    }

    pub(crate) fn handle(&self, id: NodeId) -> RaftHandle<Recorder> {
        self.drivers[&id].handle()
    }

    /// The nodes whose driver runs.
    pub(crate) fn live(&self) -> Vec<NodeId> {
        self.drivers.iter().filter(|(_, d)| !d.is_finished() && !d.handle().is_stopped()).map(|(&id, _)| id).collect()
    }

    /// Kills node `id`'s driver (a crash) and forgets it.
    pub(crate) fn kill(&mut self, id: NodeId) {
        if let Some(driver) = self.drivers.remove(&id) {
            driver.abort();
        }
    }

    /// Waits until one of `among` leads and every one of them knows it.
    pub(crate) async fn leader_among(&self, among: &[NodeId]) -> NodeId {
        within(10, "a leader every node knows", async {
            loop {
                let metrics: Vec<_> = among.iter().map(|&id| self.handle(id).metrics()).collect();
                if let Some(leader) = metrics.iter().find(|m| m.role == Role::Leader) {
                    let id = leader.id;
                    if metrics.iter().all(|m| m.leader == Some(id) && m.term == leader.term) {
                        return id;
                    }
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
    }

    /// Waits for a leader among the live nodes.
    pub(crate) async fn leader(&self) -> NodeId {
        self.leader_among(&self.live()).await
    }

    /// Proposes `command` through the leader, following `NotLeader` hints
    /// and retrying refusals (which certainly did not apply it). Returns
    /// the node that applied it and its index, or the first `Unknown`.
    pub(crate) async fn propose(&self, command: Bytes) -> Result<(NodeId, Index), ProposeError> {
        let mut target = self.leader().await;
        for _ in 0..100 {
            match self.handle(target).propose(command.clone()).await {
                Ok(index) => return Ok((target, index)),
                Err(ProposeError::NotLeader { leader: Some(l) }) if self.drivers.contains_key(&l) => target = l,
                Err(ProposeError::NotLeader { .. }) | Err(ProposeError::Stopped) => target = self.leader().await,
                Err(ProposeError::Rejected { .. }) => tokio::time::sleep(Duration::from_millis(10)).await,
                Err(e) => return Err(e),
            }
        }
        panic!("no node accepted {command:?}");
    }

    /// Waits until node `id` has applied `index`, and returns its state.
    pub(crate) async fn applied(&self, id: NodeId, index: Index) -> Recorder {
        let handle = self.handle(id);
        within(10, &format!("node {} applies {}", id.0, index.0), handle.wait_for(|m| m.applied_index >= index))
            .await
            .expect("running");
        handle.query(Recorder::clone).await.expect("running")
    }

    /// Shuts every driver down cleanly.
    pub(crate) async fn shutdown(self) {
        for (_, driver) in self.drivers {
            let _ = driver.shutdown().await;
        }
    }
}
