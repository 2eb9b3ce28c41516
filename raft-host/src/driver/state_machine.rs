//! [`StateMachine`]: what the driver applies committed entries to.

use bytes::Bytes;
use raft_sansio::{Entry, Index};

/// An error a state machine reports, boxed.
pub type BoxError = Box<dyn core::error::Error + Send + Sync + 'static>;

/// The user's replicated state machine: the driver applies every committed
/// entry to it, in index order, exactly once per run of the driver.
///
/// It lives inside the driver's task: every method is called from there,
/// between steps of the node, so none may block for long (a long
/// [`snapshot`](StateMachine::snapshot) delays ticks and messages). Reads
/// reach it through
/// [`RaftHandle::read_with`](crate::driver::RaftHandle::read_with) and
/// [`RaftHandle::query`](crate::driver::RaftHandle::query), which run a
/// closure on it in the same task.
///
/// On start the driver restores it from the store's latest snapshot (if
/// any) and then applies the log after it, so a state machine that keeps
/// nothing on disk itself starts empty (from
/// [`restore`](StateMachine::restore) or its constructor).
///
/// A witness (a voter without a state machine, see the core's docs) never
/// has entries applied once its witness configuration is committed, and
/// its snapshots are empty: give a witness's driver any state machine.
pub trait StateMachine: Send + 'static {
    /// What applying a command gives back to its proposer.
    type Response: Send + 'static;

    /// Applies the committed command at `entry.index`
    /// ([`EntryKind::Normal`](raft_sansio::EntryKind::Normal)); its
    /// response goes to the proposer, if it proposed on this node.
    ///
    /// Applying MUST be deterministic: every replica applies the same
    /// entries in the same order and must reach the same state.
    fn apply(&mut self, entry: &Entry) -> Self::Response;

    /// Notes a committed entry that carries no command for the state
    /// machine (a leader's no-op, a membership change, or a witness's
    /// copy without its payload), so that an applied index can follow
    /// every index. The default does nothing.
    fn apply_empty(&mut self, entry: &Entry) {
        let _ = entry;
    }

    /// The state after the last applied entry, as bytes that
    /// [`restore`](StateMachine::restore) takes back. The driver calls it
    /// when its [`SnapshotPolicy`](crate::driver::SnapshotPolicy) says so,
    /// stores the bytes and lets the core compact its log.
    fn snapshot(&self) -> Bytes;

    /// Replaces the whole state with that of a snapshot holding every entry
    /// up to `index` (on start, or when the leader sent one).
    ///
    /// # Errors
    /// The data does not restore: the driver stops (it cannot go on without
    /// a state machine that matches the log).
    fn restore(&mut self, index: Index, data: &Bytes) -> Result<(), BoxError>;
}
