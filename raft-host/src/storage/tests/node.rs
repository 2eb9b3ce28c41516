//! The WAL under real `raft_sansio::Node`s: three nodes in one process,
//! a follower that catches up by a chunked snapshot, compaction, and a
//! restart of every node from its WAL.

use std::collections::VecDeque;

use raft_sansio::{Config, Input, Message, Node, Output, RequestId, Role};

use super::*;

/// One node with a WAL, a reference store fed the same Persists, and a
/// state machine whose state is the concatenation of the applied commands.
struct Host {
    config: Config,
    node: Node,
    wal: Wal,
    mem: MemStore,
    state: Vec<u8>,
    applied: Index,
    /// Drop every message to and from this node.
    isolated: bool,
}

impl Host {
    /// Starts (or restarts) a node on the WAL in `dir`; `mem` is the
    /// reference store fed the same Persists (a clean restart keeps all).
    fn start(config: Config, dir: &Path, mut mem: MemStore) -> Host {
        let (mut wal, _) = open_fast(dir, 2 << 10);
        let restored = wal.load().expect("load");
        assert_eq!(restored, mem.load().expect("load"), "node {:?}: restored state", config.id);
        let state = wal.snapshot().expect("snapshot").map_or_else(Vec::new, |s| s.data.to_vec());
        let applied = restored.applied;
        let node = Node::new(config.clone(), restored).expect("the WAL's state is a valid RestoredState");
        Host { config, node, wal, mem, state, applied, isolated: false }
    }

    fn step(&mut self, input: Input, network: &mut VecDeque<Message>) {
        let mut pending = Vec::new();
        let mut inputs = VecDeque::from([input]);
        while let Some(input) = inputs.pop_front() {
            for output in self.node.step(input) {
                match output {
                    Output::Persist(p) => pending.push(p),
                    Output::Send { message, .. } => network.push_back(message),
                    Output::Apply { entries } => {
                        for e in entries.iter() {
                            if e.kind == EntryKind::Normal {
                                self.state.extend_from_slice(&e.payload);
                            }
                            self.applied = e.index;
                        }
                        inputs.push_back(Input::Applied { index: self.applied });
                    }
                    Output::ApplySnapshot { meta } => {
                        let snapshot = self.wal.snapshot().expect("snapshot").expect("installed");
                        assert_eq!(snapshot.meta, meta);
                        self.state = snapshot.data.to_vec();
                        self.applied = meta.last.index;
                        inputs.push_back(Input::Applied { index: self.applied });
                    }
                    Output::SnapshotDataNeeded { last } => {
                        let snapshot = self.wal.snapshot().expect("snapshot").expect("stored");
                        assert_eq!(snapshot.meta.last, last);
                        inputs.push_back(Input::SnapshotData { last, data: snapshot.data });
                    }
                    _ => {}
                }
            }
            if !pending.is_empty() && inputs.is_empty() {
                // Group commit: everything this step produced, one call.
                let durable = self.wal.persist(&pending).expect("persist");
                assert_eq!(self.mem.persist(&pending).expect("reference"), durable);
                pending.clear();
                inputs.push_back(Input::Persisted { up_to_seq: durable });
            }
        }
    }

    fn take_snapshot(&mut self, network: &mut VecDeque<Message>) {
        self.wal.save_snapshot(self.applied, &self.state).expect("save");
        self.mem.save_snapshot(self.applied, &self.state).expect("save");
        let data = Bytes::from(self.state.clone());
        self.step(Input::SnapshotTaken { index: self.applied, data }, network);
    }
}

fn deliver(hosts: &mut [Host], network: &mut VecDeque<Message>) {
    while let Some(m) = network.pop_front() {
        let (from, to) = (m.from.0 as usize - 1, m.to.0 as usize - 1);
        if hosts[from].isolated || hosts[to].isolated {
            continue;
        }
        hosts[to].step(Input::Receive(m), network);
    }
}

fn tick_all(hosts: &mut [Host], network: &mut VecDeque<Message>, ticks: usize) {
    for _ in 0..ticks {
        for h in hosts.iter_mut() {
            h.step(Input::Tick, network);
        }
        deliver(hosts, network);
    }
}

fn leader(hosts: &[Host]) -> Option<usize> {
    hosts.iter().position(|h| h.node.role() == Role::Leader && !h.isolated)
}

#[test]
fn a_cluster_on_wals_catches_up_by_snapshot_and_restarts() {
    let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().expect("tempdir")).collect();
    let ids = [NodeId(1), NodeId(2), NodeId(3)];
    let mut hosts: Vec<Host> = ids
        .iter()
        .zip(&dirs)
        .map(|(&id, dir)| {
            let mut config = Config::new(id, 40 + id.0);
            config.bootstrap_voters = ids.to_vec();
            config.snapshot_chunk_bytes = 100;
            config.snapshot_trailing_entries = 0;
            Host::start(config, dir.path(), MemStore::new())
        })
        .collect();
    let mut network = VecDeque::new();
    hosts[0].step(Input::Campaign, &mut network);
    deliver(&mut hosts, &mut network);
    assert_eq!(hosts[0].node.role(), Role::Leader);

    // Node 3 falls behind; the others commit and compact past it.
    hosts[2].isolated = true;
    for i in 0..60u64 {
        let command = Bytes::from(format!("[{i}]"));
        hosts[0].step(Input::Propose { id: RequestId(i), command }, &mut network);
        deliver(&mut hosts, &mut network);
    }
    tick_all(&mut hosts, &mut network, 3);
    assert!(hosts[1].applied >= Index(60));
    for h in &mut hosts[..2] {
        h.take_snapshot(&mut network);
    }
    deliver(&mut hosts, &mut network);
    assert!(segment_files(dirs[0].path()).len() < 4, "compaction deleted the leader's old segments");

    // Node 3 comes back and gets the snapshot in chunks.
    hosts[2].isolated = false;
    tick_all(&mut hosts, &mut network, 30);
    assert_eq!(hosts[2].state, hosts[0].state, "node 3 caught up");
    assert!(hosts[2].wal.snapshot().expect("snapshot").is_some(), "by a snapshot");

    // Every node restarts from its WAL, and the cluster goes on.
    let old = core::mem::take(&mut hosts);
    for (h, dir) in old.into_iter().zip(&dirs) {
        let Host { config, wal, mem, .. } = h;
        drop(wal);
        hosts.push(Host::start(config, dir.path(), mem));
    }
    tick_all(&mut hosts, &mut network, 60);
    let l = leader(&hosts).expect("a leader after the restart");
    hosts[l].step(Input::Propose { id: RequestId(99), command: Bytes::from_static(b"[after]") }, &mut network);
    deliver(&mut hosts, &mut network);
    tick_all(&mut hosts, &mut network, 3);
    for h in &hosts {
        assert!(
            h.state.ends_with(b"[58][59][after]"),
            "node {:?}: {:?}",
            h.config.id,
            String::from_utf8_lossy(&h.state)
        );
    }
}
