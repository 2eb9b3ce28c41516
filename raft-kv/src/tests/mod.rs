//! Scenario and property tests. Reference: Raft thesis §6.3 (client
//! sessions) and `history-format.md` (the KV model).

mod command;
mod determinism;
mod ops;
mod sessions;
mod snapshot;

use crate::*;

/// A log being applied to one state machine, one entry per call, with the
/// invariants checked after each.
pub(crate) struct Log {
    pub(crate) kv: KvStateMachine,
    pub(crate) index: u64,
}

impl Log {
    pub(crate) fn new(max_sessions: usize) -> Log {
        Log { kv: KvStateMachine::new(KvConfig { max_sessions }), index: 0 }
    }

    pub(crate) fn apply_bytes(&mut self, bytes: &[u8]) -> ApplyOutcome {
        self.index += 1;
        let outcome = self.kv.apply(self.index, bytes);
        assert_eq!(self.kv.check_invariants(), Ok(()));
        assert_eq!(self.kv.applied_index(), self.index);
        outcome
    }

    pub(crate) fn apply(&mut self, command: &Command) -> ApplyOutcome {
        self.apply_bytes(&command.encode())
    }

    pub(crate) fn register(&mut self) -> SessionId {
        match self.apply(&Command::RegisterClient) {
            ApplyOutcome::Registered { session } => session,
            other => panic!("register: {other:?}"),
        }
    }

    pub(crate) fn run(&mut self, session: SessionId, seq: u64, lowest_unacked: u64, op: Op) -> ApplyOutcome {
        self.apply(&Command::Client { session, seq, lowest_unacked, op })
    }

    /// Registers a session and runs `op` in it as seq 1.
    pub(crate) fn run_once(&mut self, op: Op) -> ApplyOutcome {
        let s = self.register();
        self.run(s, 1, 1, op)
    }
}

pub(crate) fn get(key: &str) -> Op {
    Op::Get { key: key.to_owned() }
}

pub(crate) fn put(key: &str, value: impl Into<Value>) -> Op {
    Op::Put { key: key.to_owned(), value: value.into() }
}

pub(crate) fn delete(key: &str) -> Op {
    Op::Delete { key: key.to_owned() }
}

pub(crate) fn cas(key: &str, expected: Value, new: Value) -> Op {
    Op::Cas { key: key.to_owned(), expected, new }
}

pub(crate) fn append(key: &str, suffix: &str) -> Op {
    Op::Append { key: key.to_owned(), suffix: suffix.to_owned() }
}

pub(crate) fn s(text: &str) -> Value {
    Value::Str(text.to_owned())
}

/// SplitMix64: a tiny deterministic generator for random test bytes.
pub(crate) struct SplitMix(pub(crate) u64);

impl SplitMix {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub(crate) fn bytes(&mut self, max_len: usize) -> Vec<u8> {
        let len = (self.next() % (max_len as u64 + 1)) as usize;
        (0..len).map(|_| self.next() as u8).collect()
    }
}
