//! The transports alone: what `send` reports, reconnects, address changes.

use core::net::SocketAddr;
use core::time::Duration;

use bytes::Bytes;
use raft_sansio::proto::{AppendEntries, Entry};
use raft_sansio::{EntryId, Index, Message, MessageBody, NodeId, Term};
use tokio::net::TcpListener;

use super::{within, Recorder};
use crate::driver::RaftHandle;
use crate::transport::{LocalNetwork, SendError, TcpOptions, TcpTransport, Transport};

fn message(from: u64, to: u64) -> Message {
    Message { from: NodeId(from), to: NodeId(to), term: Term(1), body: MessageBody::TimeoutNow }
}

/// A message of about `bytes` bytes.
fn big_message(from: u64, to: u64, bytes: usize) -> Message {
    let entry = Entry::normal(Term(1), Index(1), Bytes::from(vec![7u8; bytes]));
    let body = MessageBody::AppendEntries(AppendEntries {
        prev: EntryId::default(),
        entries: vec![entry],
        leader_commit: Index(0),
        lowest_data_match: Index(0),
    });
    Message { from: NodeId(from), to: NodeId(to), term: Term(1), body }
}

/// An address nothing listens on.
async fn dead_address() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    listener.local_addr().expect("address")
}

async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    within(5, what, async {
        while !condition() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
}

#[test]
fn raft_handle_and_its_futures_are_send_and_sync_for_servers() {
    fn shared<T: Clone + Send + Sync + 'static>() {}
    fn send<T: Send>(_: &T) {}
    shared::<RaftHandle<Recorder>>();
    // The futures of the async methods can be held across `.await` in a
    // spawned task (an axum handler, say).
    let handle: Option<RaftHandle<Recorder>> = None;
    if let Some(h) = handle {
        send(&h.propose(Bytes::new()));
        send(&h.read_with(|r: &Recorder| r.applied));
        send(&h.read_index(true));
        send(&h.query(|r: &Recorder| r.applied));
        send(&h.transfer_leadership(NodeId(2)));
        send(&h.wait_for(|m| m.leader.is_some()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_network_reports_detached_nodes_and_loses_messages_on_cut_links() {
    let network = LocalNetwork::with_queue_capacity(2);
    let (one, _in_1) = network.join(NodeId(1));
    let (_two, mut in_2) = network.join(NodeId(2));
    assert_eq!(one.send(message(1, 3)), Err(SendError::Unreachable), "no node 3");
    one.send(message(1, 2)).expect("queued");
    one.send(message(1, 2)).expect("queued");
    assert_eq!(one.send(message(1, 2)), Err(SendError::QueueFull));
    assert_eq!(in_2.recv().await, Some(message(1, 2)));
    network.cut(NodeId(1), NodeId(2));
    one.send(message(1, 2)).expect("a cut link loses silently");
    network.heal();
    network.leave(NodeId(2));
    assert_eq!(one.send(message(1, 2)), Err(SendError::Unreachable));
    let (delivered, dropped) = network.counters();
    assert_eq!((delivered, dropped), (2, 4));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_unknown_and_down_peers_are_refused_then_reconnected_with_backoff() {
    let localhost: SocketAddr = "127.0.0.1:0".parse().expect("address");
    let options = TcpOptions {
        reconnect_backoff_min: Duration::from_millis(10),
        reconnect_backoff_max: Duration::from_millis(40),
        ..TcpOptions::default()
    };
    let (one, _in_1) = TcpTransport::bind(NodeId(1), localhost, options.clone()).await.expect("bind");
    assert_eq!(one.send(message(1, 2)), Err(SendError::UnknownPeer));

    // Node 2's address is known but nothing listens there yet.
    let addr = dead_address().await;
    one.set_peer(NodeId(2), addr);
    eventually("the link is down", || one.send(message(1, 2)) == Err(SendError::Unreachable)).await;

    // Node 2 comes up at that address: the link reconnects, and messages
    // flow again.
    let (two, mut in_2) = TcpTransport::bind(NodeId(2), addr, options).await.expect("bind");
    eventually("reconnected", || one.is_connected(NodeId(2))).await;
    one.send(message(1, 2)).expect("queued");
    let got = within(5, "delivered", in_2.recv()).await;
    assert_eq!(got, Some(message(1, 2)));

    // Removing the peer closes the link.
    one.remove_peer(NodeId(2));
    assert_eq!(one.send(message(1, 2)), Err(SendError::UnknownPeer));
    one.shutdown();
    two.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_peer_address_change_reconnects_to_the_new_address() {
    let localhost: SocketAddr = "127.0.0.1:0".parse().expect("address");
    let (one, _in_1) = TcpTransport::bind(NodeId(1), localhost, TcpOptions::default()).await.expect("bind");
    let (old, mut in_old) = TcpTransport::bind(NodeId(2), localhost, TcpOptions::default()).await.expect("bind");
    let (new, mut in_new) = TcpTransport::bind(NodeId(2), localhost, TcpOptions::default()).await.expect("bind");
    one.set_peer(NodeId(2), old.local_addr());
    eventually("connected", || one.is_connected(NodeId(2))).await;
    one.send(message(1, 2)).expect("queued");
    assert_eq!(within(5, "to the old address", in_old.recv()).await, Some(message(1, 2)));

    one.set_peer(NodeId(2), new.local_addr());
    assert_eq!(one.peers().get(&NodeId(2)), Some(&new.local_addr()));
    let delivered = within(5, "to the new address", async {
        loop {
            let _ = one.send(message(1, 2));
            if let Ok(Some(m)) = tokio::time::timeout(Duration::from_millis(20), in_new.recv()).await {
                return m;
            }
        }
    })
    .await;
    assert_eq!(delivered, message(1, 2));
    for t in [one, old, new] {
        t.shutdown();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_full_send_queue_drops_rather_than_blocks() {
    let localhost: SocketAddr = "127.0.0.1:0".parse().expect("address");
    let options = TcpOptions { send_queue: 4, ..TcpOptions::default() };
    let (one, _in_1) = TcpTransport::bind(NodeId(1), localhost, options).await.expect("bind");
    // A peer that accepts and never reads: the kernel buffers fill, then
    // the queue.
    let stalled = TcpListener::bind(localhost).await.expect("bind");
    one.set_peer(NodeId(2), stalled.local_addr().expect("address"));
    let (_socket, _) = within(5, "accepted", stalled.accept()).await.expect("accept");
    let mut refused = None;
    within(10, "the queue fills", async {
        for _ in 0..10_000 {
            match one.send(big_message(1, 2, 256 << 10)) {
                Ok(()) => tokio::task::yield_now().await,
                Err(e) => {
                    refused = Some(e);
                    return;
                }
            }
        }
    })
    .await;
    assert_eq!(refused, Some(SendError::QueueFull));
    one.shutdown();
}
