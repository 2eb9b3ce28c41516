//! The tokio driver: runs one [`raft_sansio::Node`] and carries out its
//! duties with real time, a real store and a real transport.
//!
//! ```text
//!            RaftHandle (clone per task)              Transport::send
//!   propose / read_with / ...  --commands-->  +------------------+  ------> peers
//!                                             |  driver task     |
//!   peers --> inbound mpsc::Receiver -------> |  Node + state    |
//!                                             |  machine         | --jobs--> persistence thread
//!   tokio clock (ticks) ---------------------> |                  | <--durable seq-- (LogStore)
//!                                             +------------------+
//! ```
//!
//! # What the driver does for the core
//!
//! - **Ticks** from tokio's monotonic clock: the node's tick count is the
//!   time since the driver started divided by [`DriverOptions::tick`] (the
//!   same on every node). Ticks that came due while the driver was busy
//!   (or the process paused) are stepped before any other input.
//! - **Sends** go to the [`Transport`] at once. A send the transport
//!   refuses makes the driver step `ReportUnreachable` for that peer.
//! - **Persists** go, in emission order, to a dedicated persistence thread
//!   that owns the [`LogStore`]. It takes every Persist queued so far as
//!   one batch, one [`LogStore::persist`] call with at most one fsync
//!   (group commit), and the driver steps `Persisted` with the seq the
//!   store reports durable. A store error is **fail-stop**: the driver
//!   stops the node at once, never acknowledges anything more, fails
//!   every pending request, and [`Driver::join`] returns the error.
//! - **Applies** committed entries to the [`StateMachine`] in order,
//!   answers the proposers, serves reads whose index is applied, then steps
//!   `Applied`. `ApplySnapshot` restores the state machine from
//!   [`LogStore::snapshot`]; `SnapshotDataNeeded` is answered from the
//!   store. A witness applies nothing (the core counts its applied index).
//! - **Snapshots** when the [`SnapshotPolicy`] says so: the state machine's
//!   bytes go to [`LogStore::save_snapshot`], then `SnapshotTaken` lets
//!   the core compact its log.
//!
//! # What callers get
//!
//! A [`RaftHandle`] (`Clone + Send + Sync`, async methods): proposals that
//! resolve with the state machine's response once applied (or an error
//! that says whether the outcome is unknown: never a false "failed"),
//! linearizable reads run on the state machine, membership changes,
//! leadership transfer, campaigns, forced snapshots and [`Metrics`].
//!
//! The driver never leaks a waiter forever: when a leader steps down its
//! proposals that are not known committed fail with
//! [`ProposeError::Unknown`] at once (the committed ones are applied here
//! and answered exactly), every read the core accepted is answered by the
//! core, a transfer gives up a few election timeouts after the handover,
//! and waiters whose caller dropped its future are forgotten. Timeouts are
//! the caller's: see [`RaftHandle`].
//!
//! # Example: three nodes in one process
//!
//! ```
//! use bytes::Bytes;
//! use raft_host::driver::{BoxError, Driver, DriverOptions, StateMachine};
//! use raft_host::storage::MemStore;
//! use raft_host::transport::LocalNetwork;
//! use raft_sansio::{Config, Entry, Index, NodeId};
//!
//! /// A state machine whose state is the list of applied commands.
//! #[derive(Default)]
//! struct Log(Vec<Bytes>);
//!
//! impl StateMachine for Log {
//!     type Response = usize; // how many commands were applied
//!     fn apply(&mut self, entry: &Entry) -> usize {
//!         self.0.push(entry.payload.clone());
//!         self.0.len()
//!     }
//!     fn snapshot(&self) -> Bytes {
//!         Bytes::from(self.0.join(&b"\n"[..]))
//!     }
//!     fn restore(&mut self, _index: Index, data: &Bytes) -> Result<(), BoxError> {
//!         self.0 = data.split(|&b| b == b'\n').filter(|c| !c.is_empty()).map(Bytes::copy_from_slice).collect();
//!         Ok(())
//!     }
//! }
//!
//! # tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap().block_on(async {
//! let network = LocalNetwork::new();
//! let ids = [NodeId(1), NodeId(2), NodeId(3)];
//! let mut options = DriverOptions::default();
//! options.tick = std::time::Duration::from_millis(5);
//! let mut nodes = Vec::new();
//! for id in ids {
//!     let mut config = Config::new(id, 1000 + id.0); // each node its own seed
//!     config.bootstrap_voters = ids.to_vec();
//!     let (transport, inbound) = network.join(id);
//!     let driver = Driver::start(config, MemStore::new(), Log::default(), transport, inbound, options.clone()).await?;
//!     nodes.push(driver);
//! }
//!
//! // Wait for a leader, and propose there.
//! let metrics = nodes[0].handle().wait_for(|m| m.leader.is_some()).await?;
//! let leader = nodes[metrics.leader.unwrap().0 as usize - 1].handle();
//! assert_eq!(leader.propose(Bytes::from_static(b"x = 1")).await?, 1);
//!
//! // A linearizable read on a follower sees it.
//! let follower = nodes.iter().map(|n| n.handle()).find(|h| h.id() != leader.id()).unwrap();
//! let seen = follower.read_with(|log: &Log| log.0.clone()).await?;
//! assert_eq!(seen, vec![Bytes::from_static(b"x = 1")]);
//!
//! for node in nodes {
//!     node.shutdown().await?;
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

mod clock;
mod error;
mod handle;
mod metrics;
mod runner;
mod state_machine;
mod store;

use core::time::Duration;
use std::sync::Arc;

use raft_sansio::{Config, Index, Message, Node};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tracing::Instrument;

pub use error::{DriverError, ProposeError, ReadError, Stopped, TransferError, UnknownReason};
pub use handle::RaftHandle;
pub use metrics::{Metrics, PeerMetrics};
pub use state_machine::{BoxError, StateMachine};

use crate::storage::LogStore;
use crate::transport::Transport;

/// When the driver snapshots its state machine, so the core can compact
/// its log. A snapshot is taken once either threshold is reached (0 turns
/// a threshold off; both 0: only on [`RaftHandle::snapshot`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SnapshotPolicy {
    /// After this many entries applied since the last snapshot (default
    /// 10,000, etcd's old `--snapshot-count`).
    pub every_entries: u64,
    /// After this many payload bytes applied since the last snapshot
    /// (default 64 MiB).
    pub every_bytes: u64,
}

impl Default for SnapshotPolicy {
    fn default() -> SnapshotPolicy {
        SnapshotPolicy { every_entries: 10_000, every_bytes: 64 << 20 }
    }
}

impl SnapshotPolicy {
    /// Snapshot every `entries` applied entries (no byte threshold).
    pub fn every_entries(entries: u64) -> SnapshotPolicy {
        SnapshotPolicy { every_entries: entries, every_bytes: 0 }
    }

    /// Never snapshot by itself.
    pub fn never() -> SnapshotPolicy {
        SnapshotPolicy { every_entries: 0, every_bytes: 0 }
    }
}

/// Settings of a [`Driver`]. Start from [`DriverOptions::default`] and
/// adjust fields.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct DriverOptions {
    /// The length of one tick (default 10 ms). MUST be the same on every
    /// node: the core counts every timeout in ticks, so with the core's
    /// default timeouts (election 10..20 ticks, heartbeat 2) 10 ms gives
    /// elections in 100..200 ms and heartbeats every 20 ms, which suits a
    /// LAN. Scale it up for slower networks.
    pub tick: Duration,
    /// When to snapshot the state machine.
    pub snapshot_policy: SnapshotPolicy,
    /// Log a `persist` that fsyncs and takes at least this long at `warn`
    /// (default 100 ms).
    pub slow_fsync_threshold: Duration,
    /// Requests from handles queued before callers wait (default 4096).
    pub command_queue: usize,
    /// At most this many proposals stepped as one batch (default 1024).
    pub max_batch_proposals: usize,
    /// Close a batch of proposals once it holds this many payload bytes
    /// (default 1 MiB, the core's default append size).
    pub max_batch_bytes: usize,
    /// At most this many queued inputs of each kind (store replies,
    /// messages, commands) handled in one round before the round's
    /// Persists go to the store (default 256). Bounds the latency a burst
    /// adds to the fsync of what came first.
    pub max_inputs_per_round: usize,
}

impl Default for DriverOptions {
    fn default() -> DriverOptions {
        DriverOptions {
            tick: Duration::from_millis(10),
            snapshot_policy: SnapshotPolicy::default(),
            slow_fsync_threshold: Duration::from_millis(100),
            command_queue: 4096,
            max_batch_proposals: 1024,
            max_batch_bytes: 1 << 20,
            max_inputs_per_round: 256,
        }
    }
}

/// A running driver: its task, and a [`RaftHandle`] on it.
///
/// Dropping a `Driver` detaches the task: the node keeps running until
/// [`RaftHandle::shutdown`]. [`abort`](Driver::abort) kills it on the spot
/// (a crash, as far as the cluster can tell).
pub struct Driver<S: StateMachine> {
    handle: RaftHandle<S>,
    task: JoinHandle<Result<(), DriverError>>,
    /// Turns `true` once the persistence thread has dropped the store.
    store_closed: watch::Receiver<bool>,
}

impl<S: StateMachine> core::fmt::Debug for Driver<S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Driver").field("id", &self.handle.id()).finish_non_exhaustive()
    }
}

impl<S: StateMachine> Driver<S> {
    /// Starts a node: the persistence thread loads `store`, the state
    /// machine is restored from the store's snapshot (if any), the node is
    /// built from `config` and what the store holds, and the driver's task
    /// is spawned on the current tokio runtime (it needs the `time`
    /// driver). Messages from peers arrive on `inbound`, the receiver the
    /// transport gave out.
    ///
    /// `state_machine` must hold no entry the store's snapshot does not
    /// (normally: pass an empty one); the log after the snapshot is applied
    /// to it again.
    ///
    /// # Errors
    /// The store failed to load, the node refused the config or the stored
    /// state, the state machine refused the snapshot, or the persistence
    /// thread could not start.
    pub async fn start<L, T>(
        config: Config,
        store: L,
        state_machine: S,
        transport: T,
        inbound: mpsc::Receiver<Message>,
        options: DriverOptions,
    ) -> Result<Driver<S>, DriverError>
    where
        L: LogStore + Send + 'static,
        T: Transport,
    {
        let id = config.id;
        let span = tracing::info_span!("raft", node = id.0);
        let thread_name = format!("raft-store-{}", id.0);
        let (store, loaded) = store::spawn(store, thread_name, options.slow_fsync_threshold, span.clone())
            .map_err(|e| DriverError::StoreThread(e.to_string()))?;
        let loaded = loaded
            .await
            .map_err(|_| DriverError::StoreThread("died while loading".to_string()))?
            .map_err(DriverError::Store)?;
        let node = Node::new(config, loaded.restored).map_err(DriverError::Node)?;
        for repair in node.restore_repairs() {
            span.in_scope(|| tracing::info!(?repair, "repaired the restored state"));
        }
        let mut sm = state_machine;
        let mut snapshot_index = Index(0);
        if let Some(snapshot) = loaded.snapshot {
            let index = snapshot.meta.last.index;
            snapshot_index = index;
            if !node.is_witness() {
                sm.restore(index, &snapshot.data).map_err(|source| DriverError::Restore { index, source })?;
            }
        }
        let store_closed = store.closed.clone();
        let (commands_tx, commands_rx) = mpsc::channel(options.command_queue.max(1));
        let (metrics_tx, metrics_rx) = watch::channel(Metrics::new(&node));
        let runner = runner::Runner::new(runner::Parts {
            node,
            sm,
            options,
            transport: Arc::new(transport),
            inbound,
            commands: commands_rx,
            store,
            snapshot_index,
            metrics_tx,
        });
        let task = tokio::spawn(runner.run().instrument(span));
        Ok(Driver { handle: RaftHandle::new(id, commands_tx, metrics_rx), task, store_closed })
    }

    /// A handle on the node (clone it freely).
    pub fn handle(&self) -> RaftHandle<S> {
        self.handle.clone()
    }

    /// Kills the driver's task where it stands, as a crash would: nothing
    /// more is sent or persisted, and pending callers see their outcome as
    /// unknown. The persistence thread finishes the batch it is writing
    /// and exits.
    pub fn abort(&self) {
        self.task.abort();
    }

    /// Kills the driver as [`abort`](Driver::abort) does, then waits until
    /// the persistence thread has finished the batch it was writing and
    /// closed the store: after this a new driver may open the same store
    /// (a crash and restart within one process).
    pub async fn crash(self) {
        self.task.abort();
        let mut closed = self.store_closed;
        let _ = closed.wait_for(|closed| *closed).await;
    }

    /// Whether the driver's task has ended.
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Waits for the driver to stop, and returns why it stopped: `Ok` after
    /// a shutdown, the error after a failure.
    ///
    /// # Errors
    /// The failure that stopped the driver; [`DriverError::Task`] if it was
    /// aborted or panicked.
    pub async fn join(self) -> Result<(), DriverError> {
        match self.task.await {
            Ok(result) => result,
            Err(e) => Err(DriverError::Task(e.to_string())),
        }
    }

    /// Stops the driver (see [`RaftHandle::shutdown`]) and waits until it
    /// has stopped and its store is closed.
    ///
    /// # Errors
    /// As [`join`](Driver::join).
    pub async fn shutdown(self) -> Result<(), DriverError> {
        self.handle.shutdown().await;
        self.join().await
    }
}
