//! Transports: how a driver's messages reach its peers, and theirs reach it.
//!
//! A transport is message based and asynchronous. The driver hands it each
//! outgoing [`Message`] with [`Transport::send`], which never blocks: it
//! queues the message (or drops it) and returns at once. Incoming messages
//! reach the driver through a `tokio::sync::mpsc::Receiver<Message>` the
//! transport gives out beside itself. Nothing else is asked of it, so a
//! message queue serves as well as a socket or an RPC framework.
//!
//! Raft tolerates loss, duplication and reordering of messages (the core
//! retries what matters), so a transport may drop whatever it cannot
//! deliver soon. It SHOULD say so by returning an error from `send`: the
//! driver then steps `Input::ReportUnreachable { peer }`, and a leader stops
//! streaming appends to that peer and probes it instead.
//!
//! - [`TcpTransport`]: raft-proto frames over TCP, one outbound connection
//!   per peer, reconnect with backoff, a bounded queue per peer.
//! - [`LocalNetwork`] and [`LocalTransport`]: every node in one process,
//!   with controls to cut links (tests, debugging).

mod local;
mod tcp;

use core::fmt;
use std::sync::Arc;

use raft_sansio::Message;

pub use local::{LocalNetwork, LocalTransport, DEFAULT_LOCAL_QUEUE};
pub use tcp::{TcpOptions, TcpTransport};

/// Carries a node's outgoing messages to its peers.
///
/// Implementations are shared between tasks (`Send + Sync`) and `send` is
/// called from the driver's task for every outgoing message, so it MUST
/// NOT block or wait: queue the message, or drop it and return an error.
pub trait Transport: Send + Sync + 'static {
    /// Queues `message` for delivery to `message.to`.
    ///
    /// `Ok` means the message was queued (it may still be lost later, as
    /// on any network); an error means it was dropped now.
    ///
    /// # Errors
    /// The message was dropped: the peer is unknown or unreachable, or its
    /// queue is full. The driver reports the peer unreachable to the core.
    fn send(&self, message: Message) -> Result<(), SendError>;
}

impl<T: Transport + ?Sized> Transport for Arc<T> {
    fn send(&self, message: Message) -> Result<(), SendError> {
        (**self).send(message)
    }
}

impl<T: Transport + ?Sized> Transport for Box<T> {
    fn send(&self, message: Message) -> Result<(), SendError> {
        (**self).send(message)
    }
}

/// Why [`Transport::send`] dropped a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SendError {
    /// The transport knows no address for the recipient.
    UnknownPeer,
    /// The recipient is not reachable now (its connection is down, or its
    /// process is gone).
    Unreachable,
    /// The recipient's send queue is full: it is slow or unreachable, and
    /// the transport drops rather than blocks.
    QueueFull,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::UnknownPeer => write!(f, "no address for the peer"),
            SendError::Unreachable => write!(f, "the peer is unreachable"),
            SendError::QueueFull => write!(f, "the peer's send queue is full"),
        }
    }
}

impl core::error::Error for SendError {}
