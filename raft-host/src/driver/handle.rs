//! [`RaftHandle`]: the client API of a running driver.

use core::fmt;

use bytes::Bytes;
use raft_sansio::{ConfState, Index, MembershipChange, NodeId};
use tokio::sync::{mpsc, oneshot, watch};

use super::error::{ProposeError, ReadError, Stopped, TransferError, UnknownReason};
use super::metrics::Metrics;
use super::state_machine::StateMachine;

/// A request from a handle to the driver's task.
pub(crate) enum Command<S: StateMachine> {
    Propose { command: Bytes, reply: oneshot::Sender<Result<S::Response, ProposeError>> },
    Read { wait: bool, reply: Box<dyn ReadReply<S>> },
    Query { reply: Box<dyn ReadReply<S>> },
    ChangeMembership { change: MembershipChange, reply: oneshot::Sender<Result<ConfState, ProposeError>> },
    Transfer { to: NodeId, reply: oneshot::Sender<Result<(), TransferError>> },
    Campaign,
    Snapshot { reply: oneshot::Sender<Result<Index, Stopped>> },
    Shutdown,
}

/// Completes a read once it may run: with the state machine and the read
/// index, or with the reason it failed.
pub(crate) trait ReadReply<S>: Send {
    fn complete(self: Box<Self>, result: Result<(&S, Index), ReadError>);
    /// Whether the caller stopped waiting (its future was dropped).
    fn is_closed(&self) -> bool;
}

/// A read that runs `f` on the state machine.
struct ReadWith<F, R> {
    f: F,
    reply: oneshot::Sender<Result<R, ReadError>>,
}

impl<S, F, R> ReadReply<S> for ReadWith<F, R>
where
    F: FnOnce(&S) -> R + Send,
    R: Send,
{
    fn complete(self: Box<Self>, result: Result<(&S, Index), ReadError>) {
        let this = *self;
        let _ = this.reply.send(result.map(|(sm, _)| (this.f)(sm)));
    }

    fn is_closed(&self) -> bool {
        self.reply.is_closed()
    }
}

/// A read that only wants the index.
struct ReadIndexOnly {
    reply: oneshot::Sender<Result<Index, ReadError>>,
}

impl<S> ReadReply<S> for ReadIndexOnly {
    fn complete(self: Box<Self>, result: Result<(&S, Index), ReadError>) {
        let _ = self.reply.send(result.map(|(_, index)| index));
    }

    fn is_closed(&self) -> bool {
        self.reply.is_closed()
    }
}

/// A cloneable handle on a running driver: propose commands, read, change
/// the membership, move leadership and watch the node. `Send + Sync`;
/// every method takes `&self`, so one handle (or clones of it) serves any
/// number of tasks, e.g. as shared state of an HTTP server.
///
/// # Timeouts are the caller's
///
/// No method times out by itself: a proposal waits until its entry is
/// applied or its outcome is decided, and a read until a leader confirms
/// it and this node's state machine has caught up. Wrap calls in
/// `tokio::time::timeout` as your service requires. Dropping a future (on
/// a timeout) cancels nothing already handed to the node: a proposal may
/// still be applied, so after a timeout its outcome is unknown. The driver
/// forgets waiters whose caller went away.
///
/// # What every call can tell
///
/// A proposal either resolves with its response, or with an error that
/// says whether it certainly did not take effect or its outcome is unknown
/// (see [`ProposeError`]): the driver never reports a false "failed".
pub struct RaftHandle<S: StateMachine> {
    id: NodeId,
    commands: mpsc::Sender<Command<S>>,
    metrics: watch::Receiver<Metrics>,
}

impl<S: StateMachine> Clone for RaftHandle<S> {
    fn clone(&self) -> Self {
        RaftHandle { id: self.id, commands: self.commands.clone(), metrics: self.metrics.clone() }
    }
}

impl<S: StateMachine> fmt::Debug for RaftHandle<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RaftHandle").field("id", &self.id).finish_non_exhaustive()
    }
}

impl<S: StateMachine> RaftHandle<S> {
    pub(crate) fn new(id: NodeId, commands: mpsc::Sender<Command<S>>, metrics: watch::Receiver<Metrics>) -> Self {
        RaftHandle { id, commands, metrics }
    }

    /// The node this handle drives.
    pub fn id(&self) -> NodeId {
        self.id
    }

    async fn send(&self, command: Command<S>) -> Result<(), Stopped> {
        self.commands.send(command).await.map_err(|_| Stopped)
    }

    /// Proposes `command` and waits until it is applied, returning the
    /// state machine's response.
    ///
    /// Only the leader accepts proposals; a follower answers
    /// [`ProposeError::NotLeader`] with the leader it knows of. Proposals
    /// arriving together are appended as one batch.
    ///
    /// # Errors
    /// See [`ProposeError`]: `NotLeader`, `Rejected` and `Stopped` mean it
    /// certainly did not take effect; `Unknown` means it may have (the
    /// leader lost its leadership or the node stopped before the outcome
    /// was known).
    pub async fn propose(&self, command: Bytes) -> Result<S::Response, ProposeError> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::Propose { command, reply }).await.map_err(|_| ProposeError::Stopped)?;
        // A dropped reply means the driver went away with the proposal
        // pending: it may have been committed.
        rx.await.unwrap_or(Err(ProposeError::Unknown { reason: UnknownReason::Stopped }))
    }

    /// A linearizable read (Raft thesis §6.4): waits until a leader
    /// confirms its leadership at a read index (a heartbeat round, or its
    /// lease in lease read mode) and this node's state machine has applied
    /// up to that index, then runs `f` on the state machine and returns
    /// its result. Works on followers too: they ask the leader for the
    /// index. A leader that has not yet committed an entry of its term
    /// queues the read until it has.
    ///
    /// `f` runs inside the driver's task: keep it short.
    ///
    /// # Errors
    /// See [`ReadError`]. A read has no effect, so it can always be
    /// retried.
    pub async fn read_with<F, R>(&self, f: F) -> Result<R, ReadError>
    where
        F: FnOnce(&S) -> R + Send + 'static,
        R: Send + 'static,
    {
        let (reply, rx) = oneshot::channel();
        let reply = Box::new(ReadWith { f, reply });
        self.send(Command::Read { wait: true, reply }).await.map_err(|_| ReadError::Stopped)?;
        rx.await.unwrap_or(Err(ReadError::Stopped))
    }

    /// A linearizable read barrier: resolves with the read index once a
    /// leader confirmed it and this node's state machine has applied up to
    /// it. Whatever [`query`](RaftHandle::query) reads afterwards is at
    /// least as new as the barrier (the state only moves forward).
    ///
    /// With `wait == false`, a leader that has not yet committed an entry
    /// of its term refuses at once (`TermNotCommitted`) instead of queuing.
    ///
    /// # Errors
    /// See [`ReadError`].
    pub async fn read_index(&self, wait: bool) -> Result<Index, ReadError> {
        let (reply, rx) = oneshot::channel();
        let reply = Box::new(ReadIndexOnly { reply });
        self.send(Command::Read { wait, reply }).await.map_err(|_| ReadError::Stopped)?;
        rx.await.unwrap_or(Err(ReadError::Stopped))
    }

    /// Runs `f` on the state machine as it is now, without any barrier:
    /// the result may be stale (this node may lag, or no longer lead).
    /// For diagnostics, or after [`read_index`](RaftHandle::read_index).
    ///
    /// # Errors
    /// [`Stopped`] when the driver has stopped.
    pub async fn query<F, R>(&self, f: F) -> Result<R, Stopped>
    where
        F: FnOnce(&S) -> R + Send + 'static,
        R: Send + 'static,
    {
        let (reply, rx) = oneshot::channel();
        let reply = Box::new(ReadWith { f, reply });
        self.send(Command::Query { reply }).await?;
        rx.await.map_err(|_| Stopped)?.map_err(|_| Stopped)
    }

    /// Changes the membership (on the leader) and waits until the
    /// configuration entry is applied here; returns the configuration it
    /// set. A change of more than one voter goes through a joint
    /// configuration, which the leader leaves by itself (unless the change
    /// asks otherwise); this resolves when the first entry is applied.
    ///
    /// A member added on a [`TcpTransport`](crate::transport::TcpTransport)
    /// needs its address first
    /// ([`set_peer`](crate::transport::TcpTransport::set_peer) on every
    /// node).
    ///
    /// # Errors
    /// As [`propose`](RaftHandle::propose); `Rejected` carries
    /// `MembershipChangeInProgress` or `InvalidMembershipChange`.
    pub async fn change_membership(&self, change: MembershipChange) -> Result<ConfState, ProposeError> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::ChangeMembership { change, reply }).await.map_err(|_| ProposeError::Stopped)?;
        rx.await.unwrap_or(Err(ProposeError::Unknown { reason: UnknownReason::Stopped }))
    }

    /// Hands leadership to `to` (Raft thesis §3.10) and waits until this
    /// node sees `to` lead.
    ///
    /// # Errors
    /// See [`TransferError`].
    pub async fn transfer_leadership(&self, to: NodeId) -> Result<(), TransferError> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::Transfer { to, reply }).await.map_err(|_| TransferError::Stopped)?;
        rx.await.unwrap_or(Err(TransferError::Stopped))
    }

    /// Asks this node to start an election now (pre-vote first when
    /// enabled). Returns once the node has been told; watch
    /// [`metrics`](RaftHandle::metrics) for the outcome.
    ///
    /// # Errors
    /// [`Stopped`] when the driver has stopped.
    pub async fn campaign(&self) -> Result<(), Stopped> {
        self.send(Command::Campaign).await
    }

    /// Takes a snapshot of the state machine now (whatever the snapshot
    /// policy says) and returns its index once it is stored and the log
    /// compacted. Returns the latest snapshot's index if nothing was
    /// applied since, or one is already being taken.
    ///
    /// # Errors
    /// [`Stopped`] when the driver has stopped.
    pub async fn snapshot(&self) -> Result<Index, Stopped> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::Snapshot { reply }).await?;
        rx.await.map_err(|_| Stopped)?
    }

    /// The node's metrics as of the driver's last round.
    pub fn metrics(&self) -> Metrics {
        self.metrics.borrow().clone()
    }

    /// A receiver that sees every new [`Metrics`] (e.g. to wait for a
    /// leader, or to export them).
    pub fn subscribe(&self) -> watch::Receiver<Metrics> {
        self.metrics.clone()
    }

    /// Waits until the node's metrics satisfy `condition` (checked now and
    /// after every change), and returns them.
    ///
    /// # Errors
    /// [`Stopped`] when the driver stops first (its last metrics say why).
    pub async fn wait_for(&self, mut condition: impl FnMut(&Metrics) -> bool) -> Result<Metrics, Stopped> {
        let mut rx = self.metrics.clone();
        let result = rx.wait_for(|m| m.stopped.is_some() || condition(m)).await;
        match result {
            Ok(m) if m.stopped.is_none() => Ok(m.clone()),
            Ok(m) if condition(&m) => Ok(m.clone()),
            _ => Err(Stopped),
        }
    }

    /// Asks the driver to stop: pending requests fail (proposals as
    /// unknown), the store is closed. Returns once the request is queued;
    /// use [`Driver::join`](super::Driver::join) to wait for the end.
    pub async fn shutdown(&self) {
        let _ = self.send(Command::Shutdown).await;
    }

    /// Whether the driver has stopped.
    pub fn is_stopped(&self) -> bool {
        self.commands.is_closed() || self.metrics.borrow().stopped.is_some()
    }
}
