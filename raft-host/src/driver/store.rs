//! The persistence thread: owns the [`LogStore`], makes Persists durable in
//! emission order with group commit, and serves snapshot reads and writes
//! in the same order.
//!
//! The driver sends jobs down one channel, so a job sees every Persist the
//! node emitted before it. The thread takes every job queued so far, hands
//! consecutive Persists to one `persist` call (one fsync for all of them),
//! and answers on an unbounded channel the driver's task polls. The first
//! error stops it: it reports the error and never touches the store again
//! (fail-stop).

use core::time::Duration;
use std::sync::mpsc as std_mpsc;
use std::time::Instant;

use bytes::Bytes;
use raft_sansio::{EntryId, Index, Persist, RestoredState, SnapshotMeta};
use tokio::sync::{mpsc, oneshot, watch};

use crate::storage::{LogStore, StoreError, StoredSnapshot};

/// Work for the persistence thread, in the order the driver sends it.
#[derive(Debug)]
pub(crate) enum Job {
    /// Persists, in emission order.
    Persist(Vec<Persist>),
    /// Store a snapshot the state machine took at `index`.
    SaveSnapshot { index: Index, data: Bytes },
    /// Read the latest stored snapshot, to restore the state machine from.
    RestoreSnapshot { meta: SnapshotMeta },
    /// Read the latest stored snapshot, to send to a follower.
    SnapshotData { last: EntryId },
}

/// What the thread reports back.
#[derive(Debug)]
pub(crate) enum Reply {
    /// Every Persist up to `up_to_seq` is durable.
    Persisted {
        up_to_seq: u64,
        /// How many Persists the call covered.
        count: u64,
        /// How long the call took, if it had to fsync.
        fsync: Option<Duration>,
    },
    SnapshotSaved {
        index: Index,
        data: Bytes,
    },
    // The large payloads are boxed: `Persisted`, the common reply, stays
    // small.
    RestoreSnapshot {
        meta: Box<SnapshotMeta>,
        snapshot: Option<Box<StoredSnapshot>>,
    },
    SnapshotData {
        last: EntryId,
        snapshot: Option<Box<StoredSnapshot>>,
    },
    /// The store failed; the thread has stopped.
    Failed(Box<StoreError>),
}

/// What the thread reads on start.
pub(crate) struct Loaded {
    pub(crate) restored: RestoredState,
    pub(crate) snapshot: Option<StoredSnapshot>,
}

/// The driver's side of the persistence thread.
pub(crate) struct StoreThread {
    pub(crate) jobs: std_mpsc::Sender<Job>,
    pub(crate) replies: mpsc::UnboundedReceiver<Reply>,
    /// Turns `true` once the thread has dropped the store.
    pub(crate) closed: watch::Receiver<bool>,
}

/// Starts the thread: it loads the store, reports what it read on
/// `loaded`, then serves jobs.
pub(crate) fn spawn<L: LogStore + Send + 'static>(
    store: L,
    name: String,
    slow_fsync: Duration,
    span: tracing::Span,
) -> std::io::Result<(StoreThread, oneshot::Receiver<Result<Loaded, StoreError>>)> {
    let (jobs_tx, jobs_rx) = std_mpsc::channel();
    let (replies_tx, replies_rx) = mpsc::unbounded_channel();
    let (loaded_tx, loaded_rx) = oneshot::channel();
    let (closed_tx, closed_rx) = watch::channel(false);
    std::thread::Builder::new().name(name).spawn(move || {
        let _entered = span.enter();
        run(store, jobs_rx, replies_tx, loaded_tx, slow_fsync);
        // The store is dropped by now (its files closed).
        closed_tx.send_replace(true);
    })?;
    Ok((StoreThread { jobs: jobs_tx, replies: replies_rx, closed: closed_rx }, loaded_rx))
}

fn run<L: LogStore>(
    mut store: L,
    jobs: std_mpsc::Receiver<Job>,
    replies: mpsc::UnboundedSender<Reply>,
    loaded: oneshot::Sender<Result<Loaded, StoreError>>,
    slow_fsync: Duration,
) {
    let load = store.load().and_then(|restored| Ok(Loaded { restored, snapshot: store.snapshot()? }));
    let ok = load.is_ok();
    if loaded.send(load).is_err() || !ok {
        return;
    }
    let mut queue = Vec::new();
    let mut batch: Vec<Persist> = Vec::new();
    while let Ok(job) = jobs.recv() {
        queue.push(job);
        // Group commit: everything queued while the last call ran.
        while let Ok(job) = jobs.try_recv() {
            queue.push(job);
        }
        for job in queue.drain(..) {
            let result = match job {
                Job::Persist(persists) => {
                    batch.extend(persists);
                    Ok(())
                }
                other => flush(&mut store, &mut batch, &replies, slow_fsync)
                    .and_then(|()| serve(&mut store, other, &replies)),
            };
            if let Err(error) = result {
                fail(error, &replies);
                return;
            }
        }
        if let Err(error) = flush(&mut store, &mut batch, &replies, slow_fsync) {
            fail(error, &replies);
            return;
        }
    }
}

fn fail(error: StoreError, replies: &mpsc::UnboundedSender<Reply>) {
    tracing::error!(%error, "store failed; the node stops (fail-stop)");
    let _ = replies.send(Reply::Failed(Box::new(error)));
}

/// One `persist` call for the Persists gathered so far.
fn flush<L: LogStore>(
    store: &mut L,
    batch: &mut Vec<Persist>,
    replies: &mpsc::UnboundedSender<Reply>,
    slow_fsync: Duration,
) -> Result<(), StoreError> {
    if batch.is_empty() {
        return Ok(());
    }
    let must_sync = batch.iter().any(|p| p.must_sync);
    let started = Instant::now();
    let up_to_seq = store.persist(batch)?;
    let took = started.elapsed();
    if must_sync && took >= slow_fsync {
        tracing::warn!(
            took_ms = took.as_millis() as u64,
            threshold_ms = slow_fsync.as_millis() as u64,
            persists = batch.len(),
            "slow fsync"
        );
    }
    let count = batch.len() as u64;
    batch.clear();
    let _ = replies.send(Reply::Persisted { up_to_seq, count, fsync: must_sync.then_some(took) });
    Ok(())
}

fn serve<L: LogStore>(store: &mut L, job: Job, replies: &mpsc::UnboundedSender<Reply>) -> Result<(), StoreError> {
    let reply = match job {
        Job::Persist(_) => return Ok(()),
        Job::SaveSnapshot { index, data } => {
            store.save_snapshot(index, &data)?;
            Reply::SnapshotSaved { index, data }
        }
        Job::RestoreSnapshot { meta } => {
            Reply::RestoreSnapshot { meta: Box::new(meta), snapshot: store.snapshot()?.map(Box::new) }
        }
        Job::SnapshotData { last } => Reply::SnapshotData { last, snapshot: store.snapshot()?.map(Box::new) },
    };
    let _ = replies.send(reply);
    Ok(())
}
