//! Clusters of drivers over real TCP on 127.0.0.1, on file WALs.

use core::net::SocketAddr;
use core::time::Duration;
use std::collections::BTreeMap;
use std::path::Path;

use bytes::Bytes;
use raft_sansio::proto::codec::{CURRENT_VERSION, MAGIC};
use raft_sansio::{Message, NodeId};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use super::cluster::Cluster;
use super::{config, options, within, Recorder};
use crate::driver::{Driver, DriverOptions, SnapshotPolicy};
use crate::storage::{LogStore, MemStore, Wal, WalOptions};
use crate::transport::{TcpOptions, TcpTransport};

const IDS: [NodeId; 3] = [NodeId(1), NodeId(2), NodeId(3)];

/// Binds a listener for `id` at `addr` (retrying while a restarted node's
/// old socket lets go of the port).
async fn bind(id: NodeId, addr: SocketAddr) -> (TcpTransport, mpsc::Receiver<Message>) {
    for _ in 0..50 {
        match TcpTransport::bind(id, addr, TcpOptions::default()).await {
            Ok(bound) => return bound,
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => panic!("bind {addr}: {e}"),
        }
    }
    panic!("{addr} stays in use");
}

async fn start(
    cluster: &mut Cluster,
    id: NodeId,
    bound: (TcpTransport, mpsc::Receiver<Message>),
    peers: &BTreeMap<NodeId, SocketAddr>,
    store: impl LogStore + Send + 'static,
) {
    let (transport, inbound) = bound;
    transport.set_peers(peers.iter().filter(|(&p, _)| p != id).map(|(&p, &a)| (p, a)));
    // Snapshots every 8 entries: a restart restores one, then replays the
    // log after it.
    let options = DriverOptions { snapshot_policy: SnapshotPolicy::every_entries(8), ..options() };
    let driver =
        Driver::start(config(id, &IDS), store, Recorder::default(), transport, inbound, options).await.expect("start");
    cluster.drivers.insert(id, driver);
}

/// Three listeners on free ports: the transports and the address book.
async fn bind_three() -> (Vec<(TcpTransport, mpsc::Receiver<Message>)>, BTreeMap<NodeId, SocketAddr>) {
    let localhost: SocketAddr = "127.0.0.1:0".parse().expect("address");
    let mut bound = Vec::new();
    for id in IDS {
        bound.push(bind(id, localhost).await);
    }
    let peers = IDS.iter().zip(&bound).map(|(&id, (t, _))| (id, t.local_addr())).collect();
    (bound, peers)
}

fn wal(dir: &Path) -> Wal {
    Wal::open(dir, WalOptions::default()).expect("open the WAL")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_cluster_on_wals_commits_and_a_node_restarts_from_its_wal() {
    let dirs: Vec<tempfile::TempDir> = IDS.iter().map(|_| tempfile::tempdir().expect("tempdir")).collect();
    let (bound, peers) = bind_three().await;
    let mut transports = BTreeMap::new();
    let mut cluster = Cluster::new();
    for ((id, bound), dir) in IDS.into_iter().zip(bound).zip(&dirs) {
        transports.insert(id, bound.0.clone());
        start(&mut cluster, id, bound, &peers, wal(dir.path())).await;
    }
    for i in 0..20 {
        cluster.propose(Bytes::from(format!("before {i}"))).await.expect("committed");
    }

    // A follower stops; the other two go on.
    let leader = cluster.leader().await;
    let stopped = IDS.into_iter().find(|&id| id != leader).expect("a follower");
    let driver = cluster.drivers.remove(&stopped).expect("driver");
    within(5, "shutdown", driver.shutdown()).await.expect("clean shutdown");
    transports[&stopped].shutdown();
    let mut last = raft_sansio::Index(0);
    for i in 0..10 {
        last = cluster.propose(Bytes::from(format!("while down {i}"))).await.expect("committed").1;
    }

    // It restarts from its WAL on the same address, replays its log into
    // a fresh state machine and catches up over TCP.
    let rebound = bind(stopped, peers[&stopped]).await;
    start(&mut cluster, stopped, rebound, &peers, wal(dirs[stopped.0 as usize - 1].path())).await;
    let expected = cluster.applied(leader, last).await;
    let restarted = cluster.applied(stopped, last).await;
    assert_eq!(restarted.commands, expected.commands);
    assert_eq!(restarted.commands.len(), 30);
    assert_eq!(restarted.restores, 1, "restored from its snapshot file, then replayed the log");
    let (_, index) = cluster.propose(Bytes::from_static(b"after")).await.expect("committed");
    assert_eq!(cluster.applied(stopped, index).await.payloads().last(), Some(&Bytes::from_static(b"after")));
    assert!(cluster.handle(leader).metrics().fsync_count > 0);

    // The leader crashes (its task killed where it stands) and restarts
    // from its WAL; the cluster elects a leader and goes on.
    let driver = cluster.drivers.remove(&leader).expect("driver");
    within(5, "crash", driver.crash()).await;
    transports[&leader].shutdown();
    let rebound = bind(leader, peers[&leader]).await;
    start(&mut cluster, leader, rebound, &peers, wal(dirs[leader.0 as usize - 1].path())).await;
    let (_, index) = cluster.propose(Bytes::from_static(b"after the crash")).await.expect("committed");
    let expected = cluster.applied(stopped, index).await;
    let crashed = cluster.applied(leader, index).await;
    assert_eq!(crashed.commands, expected.commands);
    assert_eq!(crashed.commands.len(), 32);
    cluster.shutdown().await;
    for t in transports.values() {
        t.shutdown();
    }
}

/// Writes `bytes` to `addr` and expects the node to close the connection.
async fn expect_closed(addr: SocketAddr, bytes: &[u8]) {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(bytes).await.expect("write");
    let mut buf = [0u8; 64];
    let read = within(5, "the node closes the connection", stream.read(&mut buf)).await;
    // Closed (EOF), or reset because unread bytes were left behind.
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_bad_frame_closes_that_connection_without_crashing_the_node() {
    let (bound, peers) = bind_three().await;
    let mut cluster = Cluster::new();
    for (id, bound) in IDS.into_iter().zip(bound) {
        start(&mut cluster, id, bound, &peers, MemStore::new()).await;
    }
    cluster.leader().await;
    let target = peers[&NodeId(1)];

    // Garbage: bad magic bytes.
    expect_closed(target, b"GET / HTTP/1.1\r\nHost: raft\r\n\r\n").await;
    // A header that announces a frame far beyond the size limit.
    let mut huge = Vec::new();
    huge.extend_from_slice(&MAGIC);
    huge.extend_from_slice(&[CURRENT_VERSION, 0]);
    huge.extend_from_slice(&u32::MAX.to_le_bytes());
    huge.extend_from_slice(&0u64.to_le_bytes());
    expect_closed(target, &huge).await;
    // A well-framed body that does not decode (an unknown message kind).
    let mut bad_body = Vec::new();
    bad_body.extend_from_slice(&MAGIC);
    bad_body.extend_from_slice(&[CURRENT_VERSION, 0]);
    bad_body.extend_from_slice(&25u32.to_le_bytes());
    bad_body.extend_from_slice(&0u64.to_le_bytes());
    bad_body.extend_from_slice(&[0u8; 24]);
    bad_body.push(0xEE);
    expect_closed(target, &bad_body).await;

    // Node 1 is still there and the cluster still commits.
    assert!(!cluster.drivers[&NodeId(1)].is_finished());
    let (_, index) = cluster.propose(Bytes::from_static(b"still up")).await.expect("committed");
    cluster.applied(NodeId(1), index).await;
    cluster.shutdown().await;
}
