//! [`TcpTransport`]: raft-proto frames over TCP.
//!
//! # Connections
//!
//! Each node listens on one address. For each peer it keeps one outbound
//! connection, owned by a task with a bounded queue: [`Transport::send`]
//! puts the message in the queue (or drops it when the queue is full) and
//! returns at once; the task encodes queued messages into frames and writes
//! them, many per write when they pile up. Replies come back on the peer's
//! own outbound connection to this node's listener, so every connection
//! carries messages one way.
//!
//! ```text
//!   driver --send--> [queue to 2] --task--> TCP --> node 2's listener --> node 2's inbound
//!                    [queue to 3] --task--> TCP --> node 3's listener --> node 3's inbound
//! ```
//!
//! A task that cannot connect (or loses its connection) drops what it has
//! queued (it is stale by the time the peer is back, and Raft resends what
//! matters), marks the peer down, and retries with exponential backoff.
//! While a peer is down, `send` refuses messages for it at once, so the
//! driver reports it unreachable and the leader probes instead of streaming.
//!
//! # Inbound
//!
//! The listener accepts up to [`TcpOptions::max_inbound_connections`]
//! connections. Each is read into a buffer and split into frames; a frame
//! longer than [`TcpOptions::max_frame_len`] or that does not decode closes
//! that connection (logged with `tracing`), never the node. Decoded
//! messages go to the driver's inbound channel; when it is full the reader
//! waits, which pushes back on the sender through TCP flow control.

use core::net::SocketAddr;
use core::sync::atomic::{AtomicU8, Ordering};
use core::time::Duration;
use std::collections::{BTreeMap, HashMap};
use std::io;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytes::BytesMut;
use raft_sansio::proto::codec::{encode, encoded_len, DecodeError, Decoder, DEFAULT_MAX_FRAME_LEN};
use raft_sansio::{Message, NodeId};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::{JoinHandle, JoinSet};
use tracing::Instrument;

use super::{SendError, Transport};

/// Settings of a [`TcpTransport`]. Start from [`TcpOptions::default`] and
/// adjust fields.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct TcpOptions {
    /// The largest frame accepted or sent, header included (default
    /// raft-proto's 64 MiB: above the largest message the core builds with
    /// its default byte caps). A larger inbound frame closes its
    /// connection; a larger outbound message is dropped.
    pub max_frame_len: usize,
    /// Messages queued per peer before `send` drops (default 1024: a
    /// window of appends and heartbeats a few round trips deep).
    pub send_queue: usize,
    /// Capacity of the driver's inbound channel (default 4096).
    pub inbound_queue: usize,
    /// Give up a connection attempt after this long (default 1 s).
    pub connect_timeout: Duration,
    /// The first wait before reconnecting (default 50 ms); it doubles with
    /// every failed attempt up to `reconnect_backoff_max`.
    pub reconnect_backoff_min: Duration,
    /// The longest wait before reconnecting (default 2 s).
    pub reconnect_backoff_max: Duration,
    /// Inbound connections open at once; more are closed on accept
    /// (default 256, far above any sane cluster size).
    pub max_inbound_connections: usize,
    /// Stop filling one write once it holds this many bytes (default
    /// 1 MiB); the rest goes in the next write.
    pub max_write_batch_bytes: usize,
}

impl Default for TcpOptions {
    fn default() -> TcpOptions {
        TcpOptions {
            max_frame_len: DEFAULT_MAX_FRAME_LEN,
            send_queue: 1024,
            inbound_queue: 4096,
            connect_timeout: Duration::from_secs(1),
            reconnect_backoff_min: Duration::from_millis(50),
            reconnect_backoff_max: Duration::from_secs(2),
            max_inbound_connections: 256,
            max_write_batch_bytes: 1 << 20,
        }
    }
}

/// A [`Transport`] over TCP: raft-proto frames, one outbound connection
/// per peer, peer addresses updatable at runtime.
///
/// Cloning gives another handle on the same transport. Its tasks run until
/// [`shutdown`](TcpTransport::shutdown) or until the last handle is
/// dropped. Needs a tokio runtime with the `net` and `time` drivers.
///
/// ```no_run
/// # async fn example() -> std::io::Result<()> {
/// use raft_host::transport::{TcpOptions, TcpTransport};
/// use raft_sansio::NodeId;
///
/// let (transport, inbound) = TcpTransport::bind(NodeId(1), "127.0.0.1:7001".parse().unwrap(), TcpOptions::default()).await?;
/// transport.set_peer(NodeId(2), "127.0.0.1:7002".parse().unwrap());
/// transport.set_peer(NodeId(3), "127.0.0.1:7003".parse().unwrap());
/// // Hand `transport` and `inbound` to `Driver::start`.
/// # drop(inbound); Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct TcpTransport {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    id: NodeId,
    local_addr: SocketAddr,
    options: TcpOptions,
    runtime: tokio::runtime::Handle,
    links: Mutex<HashMap<NodeId, Link>>,
    listener: Mutex<Option<JoinHandle<()>>>,
}

/// The state of a peer link, shared between `send` and the link's task.
const CONNECTING: u8 = 0;
const CONNECTED: u8 = 1;
const DOWN: u8 = 2;

/// One peer's outbound link.
#[derive(Debug)]
struct Link {
    queue: mpsc::Sender<Message>,
    addr: watch::Sender<SocketAddr>,
    state: Arc<AtomicU8>,
    task: JoinHandle<()>,
}

impl TcpTransport {
    /// Listens on `listen` (port 0 picks a free one: see
    /// [`local_addr`](TcpTransport::local_addr)) for node `id`, and returns
    /// the transport and the receiver of inbound messages for the driver.
    /// Peers are added with [`set_peer`](TcpTransport::set_peer).
    ///
    /// # Errors
    /// Binding the listener failed.
    pub async fn bind(
        id: NodeId,
        listen: SocketAddr,
        options: TcpOptions,
    ) -> io::Result<(TcpTransport, mpsc::Receiver<Message>)> {
        let listener = TcpListener::bind(listen).await?;
        let local_addr = listener.local_addr()?;
        let (inbound_tx, inbound_rx) = mpsc::channel(options.inbound_queue.max(1));
        let span = tracing::info_span!("raft-tcp", node = id.0);
        let task = tokio::spawn(run_listener(listener, inbound_tx, options.clone()).instrument(span));
        let inner = Inner {
            id,
            local_addr,
            options,
            runtime: tokio::runtime::Handle::current(),
            links: Mutex::new(HashMap::new()),
            listener: Mutex::new(Some(task)),
        };
        Ok((TcpTransport { inner: Arc::new(inner) }, inbound_rx))
    }

    /// The node this transport sends for.
    pub fn id(&self) -> NodeId {
        self.inner.id
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.local_addr
    }

    /// Sets the address of peer `id`, adding it if new (do this before
    /// adding a member to the cluster). A changed address closes the
    /// current connection and reconnects to the new one.
    pub fn set_peer(&self, id: NodeId, addr: SocketAddr) {
        let mut links = self.inner.links();
        if let Some(link) = links.get(&id) {
            if !link.task.is_finished() {
                link.addr.send_if_modified(|a| core::mem::replace(a, addr) != addr);
                return;
            }
        }
        let (queue, rx) = mpsc::channel(self.inner.options.send_queue.max(1));
        let (addr_tx, addr_rx) = watch::channel(addr);
        let state = Arc::new(AtomicU8::new(CONNECTING));
        let span = tracing::info_span!("raft-tcp", node = self.inner.id.0, peer = id.0);
        let link = LinkTask { rx, addr: addr_rx, state: state.clone(), options: self.inner.options.clone() };
        let task = self.inner.runtime.spawn(link.run().instrument(span));
        links.insert(id, Link { queue, addr: addr_tx, state, task });
    }

    /// Sets every peer of `peers` (see [`set_peer`](TcpTransport::set_peer)).
    pub fn set_peers(&self, peers: impl IntoIterator<Item = (NodeId, SocketAddr)>) {
        for (id, addr) in peers {
            self.set_peer(id, addr);
        }
    }

    /// Forgets peer `id` (a removed member): closes its connection and
    /// drops what was queued for it.
    pub fn remove_peer(&self, id: NodeId) {
        if let Some(link) = self.inner.links().remove(&id) {
            link.task.abort();
        }
    }

    /// The peers and their addresses.
    pub fn peers(&self) -> BTreeMap<NodeId, SocketAddr> {
        self.inner.links().iter().map(|(&id, link)| (id, *link.addr.borrow())).collect()
    }

    /// Whether the connection to `peer` is up now.
    pub fn is_connected(&self, peer: NodeId) -> bool {
        self.inner.links().get(&peer).is_some_and(|l| l.state.load(Ordering::Relaxed) == CONNECTED)
    }

    /// Stops listening and closes every connection; later sends fail.
    /// Inbound connections close too, and the inbound receiver sees the
    /// end of the stream once it is drained.
    pub fn shutdown(&self) {
        self.inner.shutdown();
    }
}

impl Inner {
    fn links(&self) -> MutexGuard<'_, HashMap<NodeId, Link>> {
        // Each critical section is one map operation: a panic cannot leave
        // the map half-updated.
        self.links.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn shutdown(&self) {
        if let Some(task) = self.listener.lock().unwrap_or_else(PoisonError::into_inner).take() {
            task.abort();
        }
        for (_, link) in self.links().drain() {
            link.task.abort();
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl Transport for TcpTransport {
    fn send(&self, message: Message) -> Result<(), SendError> {
        let links = self.inner.links();
        let Some(link) = links.get(&message.to) else {
            return Err(SendError::UnknownPeer);
        };
        if link.state.load(Ordering::Relaxed) == DOWN {
            return Err(SendError::Unreachable);
        }
        match link.queue.try_send(message) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Full(_)) => Err(SendError::QueueFull),
            Err(mpsc::error::TrySendError::Closed(_)) => Err(SendError::Unreachable),
        }
    }
}

/// How a connection's write loop ended.
enum WriteEnd {
    /// Every handle on the queue is gone: the transport is shut down.
    QueueClosed,
    /// The peer's address changed: reconnect at once.
    AddressChanged,
    /// The connection failed.
    Failed(io::Error),
}

/// The task that owns one peer's outbound connection.
struct LinkTask {
    rx: mpsc::Receiver<Message>,
    addr: watch::Receiver<SocketAddr>,
    state: Arc<AtomicU8>,
    options: TcpOptions,
}

impl LinkTask {
    async fn run(mut self) {
        let mut backoff = self.options.reconnect_backoff_min;
        // Log the first failure after a success at `warn`, repeats at `debug`.
        let mut failing = false;
        loop {
            self.state.store(CONNECTING, Ordering::Relaxed);
            let target = *self.addr.borrow_and_update();
            let connected = tokio::time::timeout(self.options.connect_timeout, TcpStream::connect(target)).await;
            match connected {
                Ok(Ok(stream)) => {
                    // Raft's messages are small and latency-bound.
                    let _ = stream.set_nodelay(true);
                    self.state.store(CONNECTED, Ordering::Relaxed);
                    tracing::debug!(%target, "connected");
                    backoff = self.options.reconnect_backoff_min;
                    failing = false;
                    match self.write_loop(stream).await {
                        WriteEnd::QueueClosed => return,
                        WriteEnd::AddressChanged => continue,
                        WriteEnd::Failed(error) => {
                            tracing::warn!(%target, %error, "connection lost; reconnecting");
                        }
                    }
                }
                Ok(Err(error)) if !failing => tracing::warn!(%target, %error, "cannot connect; retrying with backoff"),
                Ok(Err(error)) => tracing::debug!(%target, %error, "cannot connect"),
                Err(_) if !failing => tracing::warn!(%target, "connect timed out; retrying with backoff"),
                Err(_) => tracing::debug!(%target, "connect timed out"),
            }
            failing = true;
            self.state.store(DOWN, Ordering::Relaxed);
            // What was queued is stale by the time the peer is back.
            while self.rx.try_recv().is_ok() {}
            tokio::select! {
                () = tokio::time::sleep(backoff) => {}
                changed = self.addr.changed() => {
                    if changed.is_err() {
                        return;
                    }
                }
            }
            backoff = (backoff * 2).min(self.options.reconnect_backoff_max);
        }
    }

    async fn write_loop(&mut self, mut stream: TcpStream) -> WriteEnd {
        let mut buf = BytesMut::with_capacity(64 << 10);
        loop {
            let first = tokio::select! {
                message = self.rx.recv() => match message {
                    Some(m) => m,
                    None => return WriteEnd::QueueClosed,
                },
                changed = self.addr.changed() => {
                    return if changed.is_err() { WriteEnd::QueueClosed } else { WriteEnd::AddressChanged };
                }
            };
            buf.clear();
            self.encode_into(&first, &mut buf);
            // Everything else already queued goes in the same write.
            while buf.len() < self.options.max_write_batch_bytes {
                match self.rx.try_recv() {
                    Ok(m) => self.encode_into(&m, &mut buf),
                    Err(_) => break,
                }
            }
            if buf.is_empty() {
                continue;
            }
            if let Err(e) = stream.write_all(&buf).await {
                return WriteEnd::Failed(e);
            }
        }
    }

    fn encode_into(&self, message: &Message, buf: &mut BytesMut) {
        let len = encoded_len(message);
        if len > self.options.max_frame_len {
            // The peer would refuse it and close the connection.
            tracing::warn!(
                to = message.to.0,
                kind = message.body.name(),
                len,
                max = self.options.max_frame_len,
                "message exceeds the frame size limit; dropped"
            );
            return;
        }
        encode(message, buf);
    }
}

async fn run_listener(listener: TcpListener, inbound: mpsc::Sender<Message>, options: TcpOptions) {
    let decoder = Decoder::new(options.max_frame_len);
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, from)) => {
                    if connections.len() >= options.max_inbound_connections {
                        tracing::warn!(%from, limit = options.max_inbound_connections, "too many inbound connections; closing");
                        continue;
                    }
                    let _ = stream.set_nodelay(true);
                    connections.spawn(read_connection(stream, from, inbound.clone(), decoder));
                }
                Err(error) => {
                    // Out of file descriptors, typically: wait a little
                    // rather than spin.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// The most a reader allocates ahead of the bytes it has received.
const READ_CHUNK: usize = 256 << 10;

/// Reads frames from one inbound connection until it closes, a frame is
/// bad, or the driver is gone.
async fn read_connection(mut stream: TcpStream, from: SocketAddr, inbound: mpsc::Sender<Message>, decoder: Decoder) {
    let mut buf = BytesMut::with_capacity(64 << 10);
    loop {
        // Every whole frame in the buffer first.
        loop {
            match decoder.frame_len(&buf) {
                Ok(len) if buf.len() >= len => {
                    let mut frame = buf.split_to(len).freeze();
                    match decoder.decode(&mut frame) {
                        Ok(message) => {
                            if inbound.send(message).await.is_err() {
                                return;
                            }
                        }
                        Err(error) => {
                            bad_frame(from, error);
                            return;
                        }
                    }
                }
                Ok(len) => {
                    // Room for the rest of the frame, but never more than
                    // a read's worth ahead of the bytes that arrived: a
                    // forged length must not make us allocate.
                    buf.reserve((len - buf.len()).min(READ_CHUNK));
                    break;
                }
                Err(DecodeError::Truncated { .. }) => break,
                Err(error) => {
                    bad_frame(from, error);
                    return;
                }
            }
        }
        match stream.read_buf(&mut buf).await {
            Ok(0) => {
                if !buf.is_empty() {
                    tracing::debug!(%from, partial = buf.len(), "connection closed inside a frame");
                }
                return;
            }
            Ok(_) => {}
            Err(error) => {
                tracing::debug!(%from, %error, "read failed; closing");
                return;
            }
        }
    }
}

fn bad_frame(from: SocketAddr, error: DecodeError) {
    tracing::warn!(%from, %error, "bad frame; closing the connection");
}
