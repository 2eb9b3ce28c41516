//! Simulated clients: each registers a session, then runs operations one at
//! a time against any node, follows `NotLeader` redirects, remembers the
//! last leader (as a KV service's frontend does), retries with the same
//! sequence number, times out, and records each operation.

use bytes::Bytes;
use raft_check::{Request, Value as HValue};
use raft_kv::{Command, Op, SessionId, Value};
use raft_sansio::rng::Rng;
use raft_sansio::NodeId;

/// What the client is doing.
#[derive(Clone, Debug)]
pub(crate) enum ClientState {
    /// Waiting to start the next step at `at`.
    Idle,
    /// Registering a session.
    Registering {
        /// Attempt counter (for matching replies).
        attempt: u32,
    },
    /// An operation is outstanding.
    Running(Running),
    /// Out of operations.
    Done,
}

/// An outstanding operation.
#[derive(Clone, Debug)]
pub(crate) struct Running {
    /// History id.
    pub(crate) history_id: u64,
    /// The encoded command (same bytes on every retry).
    pub(crate) command: Bytes,
    /// Its sequence number.
    pub(crate) seq: u64,
    /// Attempts so far.
    pub(crate) attempts: u32,
    /// Whether some attempt may have been applied (a timeout, a crash).
    pub(crate) maybe_applied: bool,
    /// The id of the attempt currently in flight (replies to older ones are
    /// stale).
    pub(crate) current_attempt: u32,
    /// A get served without the log (read index or lease): the key.
    pub(crate) read_key: Option<String>,
}

/// One simulated client.
#[derive(Debug)]
pub(crate) struct Client {
    /// Its id (the history's `process`).
    pub(crate) id: u64,
    /// The session, once registered.
    pub(crate) session: Option<SessionId>,
    /// The next sequence number.
    pub(crate) next_seq: u64,
    /// The lowest seq it may still retry.
    pub(crate) lowest_unacked: u64,
    /// The leader it believes in.
    pub(crate) leader_hint: Option<NodeId>,
    /// Operations left in the fault phase.
    pub(crate) ops_left: usize,
    /// What it is doing.
    pub(crate) state: ClientState,
    /// Whether it must still run its liveness operation.
    pub(crate) liveness_pending: bool,
    /// When its liveness operation completed `ok`.
    pub(crate) liveness_done_at: Option<u64>,
    /// The last attempt id handed out: unique across all of this client's
    /// requests, so that a late reply to an earlier operation never
    /// completes a later one.
    pub(crate) last_attempt_id: u32,
}

/// The keys: `k0..k3` hold integers (put, cas, delete, get), `a0..a1`
/// strings (append, get).
pub(crate) const INT_KEYS: [&str; 4] = ["k0", "k1", "k2", "k3"];
/// Keys that receive appends.
pub(crate) const STR_KEYS: [&str; 2] = ["a0", "a1"];

impl Client {
    /// A client that will run `ops` operations.
    pub(crate) fn new(id: u64, ops: usize) -> Client {
        Client {
            id,
            session: None,
            next_seq: 1,
            lowest_unacked: 1,
            leader_hint: None,
            ops_left: ops,
            state: ClientState::Idle,
            liveness_pending: false,
            liveness_done_at: None,
            last_attempt_id: 0,
        }
    }

    /// Draws the next operation on the first `hot` keys of each kind (a
    /// small key set makes contention, and so any stale read, visible).
    pub(crate) fn draw_op(&self, rng: &mut Rng, counter: u64, hot: usize) -> Op {
        let (strs, ints) = (hot.clamp(1, STR_KEYS.len()), hot.clamp(1, INT_KEYS.len()));
        if rng.chance(1, 3) {
            let key = STR_KEYS[rng.below(strs as u64) as usize].to_string();
            if rng.chance(1, 2) {
                Op::Get { key }
            } else {
                Op::Append { key, suffix: format!("c{}.{};", self.id, counter) }
            }
        } else {
            let key = INT_KEYS[rng.below(ints as u64) as usize].to_string();
            match rng.below(10) {
                0..=2 => Op::Get { key },
                3..=5 => Op::Put { key, value: Value::Int(rng.below(20) as i64) },
                6 => Op::Delete { key },
                _ => Op::Cas {
                    key,
                    expected: if rng.chance(1, 5) { Value::Null } else { Value::Int(rng.below(20) as i64) },
                    new: Value::Int(rng.below(20) as i64),
                },
            }
        }
    }

    /// A fresh attempt id.
    pub(crate) fn new_attempt_id(&mut self) -> u32 {
        self.last_attempt_id += 1;
        self.last_attempt_id
    }

    /// Starts an operation: returns the command to send.
    pub(crate) fn start(&mut self, op: Op, history_id: u64, read_path: bool) -> Bytes {
        if read_path {
            if let Op::Get { key } = &op {
                // A read barrier, not a command: it takes no seq (and
                // `finish` with the seq below `lowest_unacked` changes
                // nothing).
                self.state = ClientState::Running(Running {
                    history_id,
                    command: Bytes::new(),
                    seq: self.lowest_unacked - 1,
                    attempts: 0,
                    maybe_applied: false,
                    current_attempt: 0,
                    read_key: Some(key.clone()),
                });
                return Bytes::new();
            }
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        let session = self.session.unwrap_or(SessionId(0));
        let command = Command::Client { session, seq, lowest_unacked: self.lowest_unacked, op }.encode();
        self.state = ClientState::Running(Running {
            history_id,
            command: command.clone(),
            seq,
            attempts: 0,
            maybe_applied: false,
            current_attempt: 0,
            read_key: None,
        });
        command
    }

    /// The operation is over (its response is in, or it was given up):
    /// acknowledge its seq.
    pub(crate) fn finish(&mut self, seq: u64) {
        // Sequential clients: every seq below the next is answered or
        // abandoned, so none will be retried again.
        self.lowest_unacked = self.lowest_unacked.max(seq + 1);
        self.state = ClientState::Idle;
    }
}

/// The history request for an op.
pub(crate) fn request_of(op: &Op) -> (String, Request) {
    match op {
        Op::Get { key } => (key.clone(), Request::Get),
        Op::Put { key, value } => (key.clone(), Request::Put(to_history(value))),
        Op::Delete { key } => (key.clone(), Request::Delete),
        Op::Append { key, suffix } => (key.clone(), Request::Append(suffix.clone())),
        Op::Cas { key, expected, new } => {
            (key.clone(), Request::Cas { expected: to_history(expected), value: to_history(new) })
        }
    }
}

/// A KV value as a history value.
pub(crate) fn to_history(v: &Value) -> HValue {
    match v {
        Value::Null => HValue::Null,
        Value::Int(i) => HValue::Int(*i),
        Value::Str(s) => HValue::Str(s.clone()),
    }
}
