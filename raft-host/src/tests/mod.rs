//! Tests of the driver and the transports on real tokio runtimes: clusters
//! of drivers over the in-process network and over TCP, with a state
//! machine that records what it applied.
//!
//! Time is real (a 5 ms tick): the persistence thread is an OS thread, so
//! tokio's paused clock would jump ahead whenever the runtime waits for it.
//! Every wait is bounded, so a liveness bug fails a test instead of hanging
//! it.

mod cluster;
mod local;
mod tcp;
mod transport;

use core::future::Future;
use core::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use raft_sansio::{Config, Entry, Index, NodeId};

use crate::driver::{BoxError, DriverOptions, SnapshotPolicy, StateMachine};

/// A state machine that records every command it applied, with its index.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Recorder {
    /// (index, command) of every normal entry, in order.
    pub(crate) commands: Vec<(Index, Bytes)>,
    /// The last index applied (normal or not).
    pub(crate) applied: Index,
    /// Snapshots restored.
    pub(crate) restores: u32,
}

impl Recorder {
    /// The commands alone, in order.
    pub(crate) fn payloads(&self) -> Vec<Bytes> {
        self.commands.iter().map(|(_, c)| c.clone()).collect()
    }
}

impl StateMachine for Recorder {
    /// The index the command was applied at.
    type Response = Index;

    fn apply(&mut self, entry: &Entry) -> Index {
        assert!(entry.index > self.applied, "applied {:?} after {:?}", entry.index, self.applied);
        self.commands.push((entry.index, entry.payload.clone()));
        self.applied = entry.index;
        entry.index
    }

    fn apply_empty(&mut self, entry: &Entry) {
        assert!(entry.index > self.applied, "applied {:?} after {:?}", entry.index, self.applied);
        self.applied = entry.index;
    }

    fn snapshot(&self) -> Bytes {
        let mut buf = BytesMut::new();
        buf.put_u64(self.applied.0);
        for (index, command) in &self.commands {
            buf.put_u64(index.0);
            buf.put_u32(command.len() as u32);
            buf.put_slice(command);
        }
        buf.freeze()
    }

    fn restore(&mut self, index: Index, data: &Bytes) -> Result<(), BoxError> {
        let mut data = data.clone();
        if data.remaining() < 8 {
            return Err("snapshot too short".into());
        }
        let applied = Index(data.get_u64());
        if applied != index {
            return Err(format!("snapshot of {applied:?} restored as {index:?}").into());
        }
        let mut commands = Vec::new();
        while data.has_remaining() {
            if data.remaining() < 12 {
                return Err("truncated record".into());
            }
            let at = Index(data.get_u64());
            let len = data.get_u32() as usize;
            if data.remaining() < len {
                return Err("truncated command".into());
            }
            commands.push((at, data.split_to(len)));
        }
        self.commands = commands;
        self.applied = applied;
        self.restores += 1;
        Ok(())
    }
}

/// The tick of every test cluster.
pub(crate) const TICK: Duration = Duration::from_millis(5);

/// Driver options for tests: a fast tick, no snapshots unless asked.
pub(crate) fn options() -> DriverOptions {
    DriverOptions { tick: TICK, snapshot_policy: SnapshotPolicy::never(), ..DriverOptions::default() }
}

/// A node's config for tests: its own seed, election 20..40 ticks
/// (100..200 ms), `voters` as the bootstrap configuration.
pub(crate) fn config(id: NodeId, voters: &[NodeId]) -> Config {
    let mut config = Config::new(id, 0x5EED_0000 + id.0);
    config.bootstrap_voters = voters.to_vec();
    config.election_timeout_ticks_min = 20;
    config.election_timeout_ticks_max = 40;
    config.heartbeat_interval_ticks = 2;
    config
}

/// Runs `future` or fails the test after `seconds`.
pub(crate) async fn within<T>(seconds: u64, what: &str, future: impl Future<Output = T>) -> T {
    match tokio::time::timeout(Duration::from_secs(seconds), future).await {
        Ok(v) => v,
        Err(_) => panic!("timed out after {seconds} s: {what}"),
    }
}
