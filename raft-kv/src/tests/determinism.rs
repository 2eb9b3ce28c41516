//! Whole logs: replicas agree, and the state machine agrees with a slow,
//! obviously correct model of the exactly-once rules.

use quickcheck::{Arbitrary, Gen, QuickCheck};

use super::command::arbitrary_value;
use super::*;
use crate::session::MAX_RESULTS_PER_SESSION;

/// One log entry of a generated script.
#[derive(Clone, Debug)]
enum Step {
    Register,
    /// A command of the `pick`-th session ever registered (or of one that
    /// never existed when `pick` is past the end).
    Client {
        pick: usize,
        seq: u64,
        lowest_unacked: u64,
        op: Op,
    },
    Garbage(Vec<u8>),
    Noop,
    /// Skip this many indexes (entries the host does not feed).
    Gap(u64),
}

#[derive(Clone, Debug)]
struct Script {
    max_sessions: usize,
    steps: Vec<Step>,
}

impl Arbitrary for Script {
    fn arbitrary(g: &mut Gen) -> Script {
        let max_sessions = 1 + usize::from(u8::arbitrary(g) % 4);
        let len = usize::arbitrary(g) % (g.size() * 3 + 1);
        let keys = ["a", "b", "c"];
        let steps = (0..len)
            .map(|_| match u8::arbitrary(g) % 20 {
                0..=2 => Step::Register,
                3 => Step::Garbage(Vec::<u8>::arbitrary(g)),
                4 => Step::Noop,
                5 => Step::Gap(u64::from(u8::arbitrary(g) % 3)),
                _ => {
                    let key = (*g.choose(&keys).unwrap_or(&"a")).to_owned();
                    let small = |g: &mut Gen| match u8::arbitrary(g) % 4 {
                        0 => Value::Null,
                        1 => Value::Str((*g.choose(&["", "x", "1"]).unwrap_or(&"")).to_owned()),
                        _ => Value::Int(i64::from(u8::arbitrary(g) % 3)),
                    };
                    let op = match u8::arbitrary(g) % 6 {
                        0 => Op::Get { key },
                        1 => Op::Put { key, value: small(g) },
                        2 => Op::Delete { key },
                        3 => Op::Cas { key, expected: small(g), new: small(g) },
                        4 => Op::Append { key, suffix: "x".to_owned() },
                        _ => Op::Put { key, value: arbitrary_value(g) },
                    };
                    let seq = u64::from(u8::arbitrary(g) % 12);
                    // Mostly a valid lowest_unacked a little below seq.
                    let lowest_unacked = match u8::arbitrary(g) % 8 {
                        0 => seq + 1,
                        1 => 0,
                        _ => seq.saturating_sub(u64::from(u8::arbitrary(g) % 4)),
                    };
                    Step::Client { pick: usize::from(u8::arbitrary(g) % 6), seq, lowest_unacked, op }
                }
            })
            .collect();
        Script { max_sessions, steps }
    }
}

/// `(id, last_active, lowest_unacked, results as (seq, outcome of a retry))`.
type ModelSession = (u64, u64, u64, Vec<(u64, ApplyOutcome)>);

/// The exactly-once rules written the slow, direct way: vectors, linear
/// search, no recency index.
struct Model {
    max: usize,
    applied: u64,
    data: Vec<(String, Value)>,
    sessions: Vec<ModelSession>,
}

impl Model {
    fn get(&self, key: &str) -> Value {
        self.data.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()).unwrap_or(Value::Null)
    }

    fn set(&mut self, key: &str, value: Value) {
        self.data.retain(|(k, _)| k != key);
        if value != Value::Null {
            self.data.push((key.to_owned(), value));
        }
    }

    /// `None` for an entry that must be rejected as undecodable.
    fn apply(&mut self, index: u64, command: Option<&Command>) -> Option<ApplyOutcome> {
        assert!(index > self.applied);
        self.applied = index;
        match command? {
            Command::RegisterClient => {
                self.sessions.push((index, index, 0, Vec::new()));
                if self.sessions.len() > self.max {
                    let oldest = self.sessions.iter().map(|s| s.1).min()?;
                    self.sessions.retain(|s| s.1 != oldest);
                }
                Some(ApplyOutcome::Registered { session: SessionId(index) })
            }
            Command::Client { session, seq, lowest_unacked, op } => {
                let Some(pos) = self.sessions.iter().position(|s| s.0 == session.0) else {
                    return Some(ApplyOutcome::SessionExpired);
                };
                if lowest_unacked > seq {
                    let (seq, lowest_unacked) = (*seq, *lowest_unacked);
                    return Some(ApplyOutcome::Rejected(KvError::InvalidSequence { seq, lowest_unacked }));
                }
                let s = &mut self.sessions[pos];
                s.1 = index;
                s.2 = s.2.max(*lowest_unacked);
                let low = s.2;
                s.3.retain(|(q, _)| *q >= low);
                if let Some((_, outcome)) = s.3.iter().find(|(q, _)| q == seq) {
                    return Some(outcome.clone());
                }
                if *seq < low {
                    return Some(ApplyOutcome::StaleSequence);
                }
                if s.3.len() >= MAX_RESULTS_PER_SESSION {
                    return Some(ApplyOutcome::Rejected(KvError::TooManyInFlight { limit: MAX_RESULTS_PER_SESSION }));
                }
                let current = self.get(op.key());
                let result = match op {
                    Op::Get { .. } => Ok(OpResult::Value(current)),
                    Op::Put { key, value } => {
                        self.set(key, value.clone());
                        Ok(OpResult::Ok)
                    }
                    Op::Delete { key } => {
                        self.set(key, Value::Null);
                        Ok(OpResult::Ok)
                    }
                    Op::Cas { key, expected, new } => {
                        let swapped = current == *expected;
                        if swapped {
                            self.set(key, new.clone());
                        }
                        Ok(OpResult::Cas { swapped, found: current })
                    }
                    Op::Append { key, suffix } => match current {
                        Value::Int(_) => Err(KvError::TypeMismatch),
                        Value::Null => {
                            self.set(key, Value::Str(suffix.clone()));
                            Ok(OpResult::Ok)
                        }
                        Value::Str(s) => {
                            self.set(key, Value::Str(s + suffix));
                            Ok(OpResult::Ok)
                        }
                    },
                };
                let (first, retry) = match result {
                    Ok(r) => (ApplyOutcome::Applied(r.clone()), ApplyOutcome::Duplicate(r)),
                    Err(e) => (ApplyOutcome::Rejected(e.clone()), ApplyOutcome::Rejected(e)),
                };
                self.sessions[pos].3.push((*seq, retry));
                Some(first)
            }
        }
    }
}

/// The log a script describes: `(index, payload)`, `None` for an entry
/// without a command. Session picks name sessions registered earlier.
fn entries(script: &Script) -> Vec<(u64, Option<bytes::Bytes>)> {
    let mut index = 0u64;
    let mut registered = Vec::new();
    let mut out = Vec::new();
    for step in &script.steps {
        index += 1;
        let payload = match step {
            Step::Noop => None,
            Step::Gap(n) => {
                index += n;
                continue;
            }
            Step::Register => {
                registered.push(SessionId(index));
                Some(Command::RegisterClient.encode())
            }
            Step::Garbage(bytes) => Some(bytes::Bytes::copy_from_slice(bytes)),
            Step::Client { pick, seq, lowest_unacked, op } => {
                let session = registered.get(*pick).copied().unwrap_or(SessionId(u64::MAX - *pick as u64));
                Some(Command::Client { session, seq: *seq, lowest_unacked: *lowest_unacked, op: op.clone() }.encode())
            }
        };
        out.push((index, payload));
    }
    out
}

fn apply_entry(kv: &mut KvStateMachine, index: u64, payload: Option<&bytes::Bytes>) -> Option<ApplyOutcome> {
    match payload {
        None => {
            assert_eq!(kv.apply_noop(index), Ok(()));
            None
        }
        Some(bytes) => Some(kv.apply(index, bytes)),
    }
}

/// Runs `script` on a state machine and on the model, comparing every
/// outcome and the state after every step. Returns the state machine.
fn run_checked(script: &Script) -> KvStateMachine {
    let mut kv = KvStateMachine::new(KvConfig { max_sessions: script.max_sessions });
    let mut model = Model { max: script.max_sessions, applied: 0, data: Vec::new(), sessions: Vec::new() };
    for (index, payload) in entries(script) {
        let outcome = apply_entry(&mut kv, index, payload.as_ref());
        match (payload, outcome) {
            (None, _) => model.applied = index,
            (Some(bytes), Some(outcome)) => match model.apply(index, Command::decode(&bytes).ok().as_ref()) {
                Some(expected) => assert_eq!(outcome, expected, "entry {index}"),
                None => assert!(matches!(outcome, ApplyOutcome::Rejected(KvError::Decode(_))), "{outcome:?}"),
            },
            (Some(_), None) => unreachable!(),
        }
        assert_eq!(kv.check_invariants(), Ok(()));
        let mut data = model.data.clone();
        data.sort();
        let ours: Vec<(String, Value)> = kv.entries().map(|(k, v)| (k.to_owned(), v.clone())).collect();
        assert_eq!(ours, data);
        let ours: Vec<(u64, u64, u64, Vec<u64>)> = kv
            .sessions
            .iter()
            .map(|(id, s)| (id.0, s.last_active, s.lowest_unacked, s.results.keys().copied().collect()))
            .collect();
        let mut theirs: Vec<(u64, u64, u64, Vec<u64>)> = model
            .sessions
            .iter()
            .map(|(id, last, low, results)| {
                let mut seqs: Vec<u64> = results.iter().map(|(q, _)| *q).collect();
                seqs.sort_unstable();
                (*id, *last, *low, seqs)
            })
            .collect();
        theirs.sort();
        assert_eq!(ours, theirs);
    }
    kv
}

#[test]
fn quickcheck_agrees_with_model_and_replicas_agree() {
    fn prop(script: Script) -> bool {
        let a = run_checked(&script);
        let b = run_checked(&script);
        assert_eq!(a.snapshot(), b.snapshot());
        assert_eq!(a.state_digest(), b.state_digest());
        let restored = KvStateMachine::restore(&a.snapshot()).expect("restores");
        assert_eq!(restored, a);
        true
    }
    QuickCheck::new().tests(400).rng(Gen::from_size_and_seed(40, 0xC0FFEE)).quickcheck(prop as fn(Script) -> bool);
}

#[test]
fn restore_midway_then_continue_matches_uninterrupted() {
    let mut g = Gen::from_size_and_seed(60, 11);
    for _ in 0..50 {
        let script = Script::arbitrary(&mut g);
        let log = entries(&script);
        let (head, tail) = log.split_at(log.len() / 2);
        let mut straight = KvStateMachine::new(KvConfig { max_sessions: script.max_sessions });
        for (index, payload) in head {
            let _ = apply_entry(&mut straight, *index, payload.as_ref());
        }
        let mut copy = KvStateMachine::restore(&straight.snapshot()).expect("restores");
        for (index, payload) in tail {
            let a = apply_entry(&mut straight, *index, payload.as_ref());
            let b = apply_entry(&mut copy, *index, payload.as_ref());
            assert_eq!(a, b);
        }
        let whole = run_checked(&script);
        assert_eq!(straight, whole);
        assert_eq!(copy, whole);
        assert_eq!(copy.snapshot(), whole.snapshot());
    }
}

#[test]
fn fuzz_apply_log_body_over_generated_inputs() {
    let mut rng = SplitMix(99);
    for _ in 0..500 {
        crate::fuzzing::apply_log(&rng.bytes(256));
    }
}

#[test]
fn generated_scripts_cover_every_outcome() {
    // The model comparison is only as good as the situations it reaches.
    let mut g = Gen::from_size_and_seed(40, 0xC0FFEE);
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..200 {
        let script = Script::arbitrary(&mut g);
        let mut kv = KvStateMachine::new(KvConfig { max_sessions: script.max_sessions });
        for (index, payload) in entries(&script) {
            let name = match apply_entry(&mut kv, index, payload.as_ref()) {
                None => "noop",
                Some(ApplyOutcome::Registered { .. }) => "registered",
                Some(ApplyOutcome::Applied(OpResult::Cas { swapped: false, .. })) => "cas not swapped",
                Some(ApplyOutcome::Applied(_)) => "applied",
                Some(ApplyOutcome::Duplicate(_)) => "duplicate",
                Some(ApplyOutcome::SessionExpired) => "expired",
                Some(ApplyOutcome::StaleSequence) => "stale",
                Some(ApplyOutcome::Rejected(KvError::Decode(_))) => "decode",
                Some(ApplyOutcome::Rejected(KvError::TypeMismatch)) => "type mismatch",
                Some(ApplyOutcome::Rejected(KvError::InvalidSequence { .. })) => "invalid sequence",
                Some(other) => panic!("unexpected {other:?}"),
            };
            seen.insert(name);
        }
    }
    let all = [
        "noop",
        "registered",
        "cas not swapped",
        "applied",
        "duplicate",
        "expired",
        "stale",
        "decode",
        "type mismatch",
        "invalid sequence",
    ];
    assert_eq!(seen, all.into_iter().collect());
}
