//! [`LocalNetwork`]: every node in one process, messages passed through
//! channels (the direct mode for tests and debugging).

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use raft_sansio::{Message, NodeId};
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;

use super::{SendError, Transport};

/// The default capacity of each node's inbound queue: room for a burst of
/// appends from a leader to a slow follower; beyond it messages are dropped
/// (and the sender is told), as a saturated network would.
pub const DEFAULT_LOCAL_QUEUE: usize = 4096;

/// A router of messages between nodes in one process, by [`NodeId`], with
/// controls that cut links for tests.
///
/// Cloning it gives another handle on the same network.
///
/// ```
/// use raft_host::transport::{LocalNetwork, Transport};
/// use raft_sansio::{Message, MessageBody, NodeId, Term};
///
/// let network = LocalNetwork::new();
/// let (one, _inbound_1) = network.join(NodeId(1));
/// let (_two, mut inbound_2) = network.join(NodeId(2));
/// let message = Message { from: NodeId(1), to: NodeId(2), term: Term(1), body: MessageBody::TimeoutNow };
/// one.send(message.clone()).unwrap();
/// assert_eq!(inbound_2.try_recv().unwrap(), message);
///
/// // A cut link loses messages silently, as a partition does.
/// network.isolate(NodeId(2));
/// one.send(message).unwrap();
/// assert!(inbound_2.try_recv().is_err());
/// ```
#[derive(Clone, Debug, Default)]
pub struct LocalNetwork {
    inner: Arc<Mutex<Router>>,
}

#[derive(Debug, Default)]
struct Router {
    endpoints: HashMap<NodeId, mpsc::Sender<Message>>,
    /// Directed links (from, to) that lose every message.
    cut: BTreeSet<(NodeId, NodeId)>,
    /// Nodes cut from everyone, both ways.
    isolated: BTreeSet<NodeId>,
    /// Capacity of new endpoints' queues (0: the default).
    queue: usize,
    delivered: u64,
    dropped: u64,
}

impl LocalNetwork {
    /// An empty network whose nodes' inbound queues hold
    /// [`DEFAULT_LOCAL_QUEUE`] messages.
    pub fn new() -> LocalNetwork {
        LocalNetwork::default()
    }

    /// An empty network whose nodes' inbound queues hold `capacity`
    /// messages (at least 1).
    pub fn with_queue_capacity(capacity: usize) -> LocalNetwork {
        let network = LocalNetwork::default();
        network.lock().queue = capacity.max(1);
        network
    }

    fn lock(&self) -> MutexGuard<'_, Router> {
        // The router's state stays consistent whatever panicked: every
        // update is a single insert or remove.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Attaches node `id`: its transport, and the receiver of the messages
    /// sent to it (hand both to the driver). Attaching an id again replaces
    /// its endpoint (a restarted node); the old receiver gets nothing more.
    pub fn join(&self, id: NodeId) -> (LocalTransport, mpsc::Receiver<Message>) {
        let mut router = self.lock();
        let capacity = if router.queue == 0 { DEFAULT_LOCAL_QUEUE } else { router.queue };
        let (tx, rx) = mpsc::channel(capacity);
        router.endpoints.insert(id, tx);
        (LocalTransport { id, network: self.clone() }, rx)
    }

    /// Detaches node `id`: messages to it are dropped and their senders
    /// told it is unreachable.
    pub fn leave(&self, id: NodeId) {
        self.lock().endpoints.remove(&id);
    }

    /// Loses every message from `from` to `to` (one direction).
    pub fn cut(&self, from: NodeId, to: NodeId) {
        self.lock().cut.insert((from, to));
    }

    /// Cuts `id` off from every other node, both ways.
    pub fn isolate(&self, id: NodeId) {
        self.lock().isolated.insert(id);
    }

    /// Restores every cut link and isolated node.
    pub fn heal(&self) {
        let mut router = self.lock();
        router.cut.clear();
        router.isolated.clear();
    }

    /// Messages delivered to an inbound queue so far, and messages lost
    /// (cut links, full queues, detached nodes).
    pub fn counters(&self) -> (u64, u64) {
        let router = self.lock();
        (router.delivered, router.dropped)
    }

    fn route(&self, message: Message) -> Result<(), SendError> {
        let mut router = self.lock();
        let (from, to) = (message.from, message.to);
        if router.isolated.contains(&from) || router.isolated.contains(&to) || router.cut.contains(&(from, to)) {
            // A partition: the sender learns nothing.
            router.dropped += 1;
            return Ok(());
        }
        let Some(endpoint) = router.endpoints.get(&to) else {
            router.dropped += 1;
            return Err(SendError::Unreachable);
        };
        let result = match endpoint.try_send(message) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => Err(SendError::QueueFull),
            Err(TrySendError::Closed(_)) => Err(SendError::Unreachable),
        };
        if result.is_ok() {
            router.delivered += 1;
        } else {
            router.dropped += 1;
        }
        result
    }
}

/// One node's side of a [`LocalNetwork`]: a [`Transport`] that hands each
/// message to the recipient's inbound queue at once.
#[derive(Clone, Debug)]
pub struct LocalTransport {
    id: NodeId,
    network: LocalNetwork,
}

impl LocalTransport {
    /// The node this transport sends for.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// The network it belongs to.
    pub fn network(&self) -> &LocalNetwork {
        &self.network
    }
}

impl Transport for LocalTransport {
    fn send(&self, message: Message) -> Result<(), SendError> {
        self.network.route(message)
    }
}
