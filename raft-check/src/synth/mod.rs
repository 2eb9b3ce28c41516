//! Deterministic synthetic histories, for tests and benchmarks.
//!
//! [`generate`] simulates `clients` concurrent clients against a
//! linearizable in-memory store, so every history it writes is linearizable:
//! each operation is invoked at some instant, takes effect atomically at a
//! random instant inside its interval, and completes later. A share of the
//! operations end `info` (some applied, possibly after their `info` line;
//! some not), some never complete (the client then comes back as a new
//! process, as a crashed Jepsen client does), and some end `fail` (not
//! applied). Keys `0..append_keys` take `append`s and hold strings; the others
//! hold integers. Same [`SynthConfig`], same history, on every machine: the
//! PRNG is our own ([`Rng`], xoshiro256++), never the OS's.
//!
//! [`corrupt_one_read`] then breaks one `ok` read so that the history is
//! certainly not linearizable.
//!
//! ```
//! use raft_check::synth::{corrupt_one_read, generate, SynthConfig};
//! use raft_check::{check, Budget};
//! let history = generate(&SynthConfig::new(1, 4, 2, 200));
//! assert!(check(&history, Budget::default()).is_linearizable());
//! let (bad, _id) = corrupt_one_read(&history, 1).unwrap();
//! assert!(!check(&bad, Budget::default()).is_linearizable());
//! ```

mod rng;

use core::cmp::Reverse;
use std::collections::BinaryHeap;

pub use rng::{Ratio, Rng};

use crate::event::{Event, EventKind, Function};
use crate::history::{History, Outcome};
use crate::value::Value;

/// The shape of a generated history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SynthConfig {
    /// Seeds the PRNG: the history is a function of the whole config.
    pub seed: u64,
    /// Concurrent clients (at least 1).
    pub clients: u32,
    /// Keys, named `k0`, `k1`, ... (at least 1).
    pub keys: u32,
    /// Keys `k0 .. k{append_keys - 1}` take appends and hold strings.
    pub append_keys: u32,
    /// Operations to invoke.
    pub ops: usize,
    /// Share of operations that read (`get`).
    pub reads: Ratio,
    /// Share of operations that end `fail` (not applied).
    pub fail: Ratio,
    /// Share of operations whose outcome is unknown.
    pub info: Ratio,
    /// Of those, the share that takes effect.
    pub info_applied: Ratio,
    /// Of those, the share that has no completion line at all.
    pub info_no_completion: Ratio,
    /// Latency of an operation: uniform in `2..=max_latency` ticks.
    pub max_latency: u64,
    /// Pause of a client between operations: uniform in `1..=max_think`.
    pub max_think: u64,
}

impl SynthConfig {
    /// `ops` operations of `clients` clients on `keys` keys, a third of
    /// them (rounded down) append keys; 40% reads, 2% `fail`, 2% unknown
    /// outcome (half applied, a quarter never completed), latency up to
    /// 20 ticks, pauses up to 10.
    pub fn new(seed: u64, clients: u32, keys: u32, ops: usize) -> Self {
        SynthConfig {
            seed,
            clients,
            keys,
            append_keys: keys / 3,
            ops,
            reads: Ratio::new(2, 5),
            fail: Ratio::new(1, 50),
            info: Ratio::new(1, 50),
            info_applied: Ratio::new(1, 2),
            info_no_completion: Ratio::new(1, 4),
            max_latency: 20,
            max_think: 10,
        }
    }
}

/// How an operation will end, drawn at its invoke.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Fate {
    Ok,
    Fail,
    Info { applied: bool, completes: bool },
}

struct PendingOp {
    client: usize,
    invoke: Event,
    fate: Fate,
    /// What the store returned when the operation took effect.
    read: Value,
    swapped: bool,
}

#[derive(PartialEq, Eq, PartialOrd, Ord)]
enum Action {
    Start { client: usize },
    Apply { op: usize },
    Complete { op: usize },
}

/// The events of the history [`generate`] builds.
pub fn generate_events(config: &SynthConfig) -> Vec<Event> {
    let mut rng = Rng::new(config.seed);
    let clients = config.clients.max(1) as usize;
    let keys = config.keys.max(1) as usize;
    let mut store = vec![Value::Null; keys];
    let mut process: Vec<u64> = (0..clients as u64).collect();
    let mut next_process = clients as u64;
    let mut ops: Vec<PendingOp> = Vec::with_capacity(config.ops);
    let mut events = Vec::with_capacity(config.ops * 2);
    // (time, sequence, action): the sequence breaks ties in a fixed order.
    let mut queue = BinaryHeap::new();
    let mut seq = 0u64;
    let mut schedule = |queue: &mut BinaryHeap<_>, time: u64, action: Action| {
        seq += 1;
        queue.push(Reverse((time, seq, action)));
    };
    for client in 0..clients {
        schedule(&mut queue, rng.range(0, config.max_think), Action::Start { client });
    }
    while let Some(Reverse((now, _, action))) = queue.pop() {
        match action {
            Action::Start { client } => {
                if ops.len() >= config.ops {
                    continue;
                }
                let id = ops.len() as u64;
                let key = rng.below(keys as u64) as usize;
                let invoke = draw_request(&mut rng, config, id, process[client], key, &store[key]).with_time(now);
                let is_read = invoke.f == Function::Get;
                let fate = if rng.chance(config.info) {
                    Fate::Info {
                        applied: !is_read && rng.chance(config.info_applied),
                        completes: !rng.chance(config.info_no_completion),
                    }
                } else if rng.chance(config.fail) {
                    Fate::Fail
                } else {
                    Fate::Ok
                };
                let latency = rng.range(2, config.max_latency.max(2));
                let op = ops.len();
                match fate {
                    Fate::Ok => schedule(&mut queue, rng.range(now + 1, now + latency - 1), Action::Apply { op }),
                    // An unknown outcome may take effect after the `info`.
                    Fate::Info { applied: true, .. } => {
                        schedule(&mut queue, rng.range(now + 1, now + 2 * latency), Action::Apply { op });
                    }
                    _ => {}
                }
                if let Fate::Info { completes: false, .. } = fate {
                    // The client crashed; it comes back as a new process.
                    process[client] = next_process;
                    next_process += 1;
                    schedule(&mut queue, now + latency + rng.range(1, config.max_think), Action::Start { client });
                } else {
                    schedule(&mut queue, now + latency, Action::Complete { op });
                }
                events.push(invoke.clone());
                ops.push(PendingOp { client, invoke, fate, read: Value::Null, swapped: false });
            }
            Action::Apply { op } => {
                let pending = &mut ops[op];
                let key = key_index(&pending.invoke.key);
                let state = &mut store[key];
                let invoke = &pending.invoke;
                match invoke.f {
                    Function::Get => pending.read = state.clone(),
                    Function::Put => *state = invoke.value.clone(),
                    Function::Delete => *state = Value::Null,
                    Function::Append => {
                        if let (Value::Str(suffix), current) = (&invoke.value, &*state) {
                            let mut joined = match current {
                                Value::Str(s) => s.clone(),
                                _ => String::new(),
                            };
                            joined.push_str(suffix);
                            *state = Value::Str(joined);
                        }
                    }
                    Function::Cas => {
                        pending.swapped = invoke.expected.as_ref() == Some(&*state);
                        if pending.swapped {
                            *state = invoke.value.clone();
                        }
                    }
                }
            }
            Action::Complete { op } => {
                let pending = &ops[op];
                let mut event = pending.invoke.clone().with_time(now);
                match pending.fate {
                    Fate::Ok => {
                        event.kind = EventKind::Ok;
                        match event.f {
                            Function::Get => event.value = pending.read.clone(),
                            Function::Cas => event.swapped = Some(pending.swapped),
                            _ => {}
                        }
                    }
                    Fate::Fail => {
                        event.kind = EventKind::Fail;
                        event.error = Some("rejected".into());
                    }
                    Fate::Info { .. } => {
                        event.kind = EventKind::Info;
                        event.error = Some("timed-out".into());
                    }
                }
                events.push(event);
                schedule(&mut queue, now + rng.range(1, config.max_think), Action::Start { client: pending.client });
            }
        }
    }
    events
}

/// A linearizable history of the given shape (see the module docs).
///
/// # Panics
///
/// Only on a bug of the generator: it validates what it wrote.
pub fn generate(config: &SynthConfig) -> History {
    match History::from_events(generate_events(config)) {
        Ok(history) => history,
        Err(e) => panic!("the generator wrote an invalid history: {e}"),
    }
}

fn key_name(key: usize) -> String {
    format!("k{key}")
}

fn key_index(name: &str) -> usize {
    name[1..].parse().unwrap_or(0)
}

/// Draws the invoke of operation `id` on `key`, whose value is `current`.
fn draw_request(rng: &mut Rng, config: &SynthConfig, id: u64, process: u64, key: usize, current: &Value) -> Event {
    let appends = (key as u32) < config.append_keys;
    let name = key_name(key);
    let invoke = |f, value| Event::new(id, process, EventKind::Invoke, f, name.clone(), value);
    // Values are unique per operation, so a read names the write it saw.
    let fresh = if appends { Value::Str(format!("{id},")) } else { Value::Int(id as i64 + 1) };
    if rng.chance(config.reads) {
        return invoke(Function::Get, Value::Null);
    }
    let roll = rng.below(100);
    if appends {
        match roll {
            0..80 => invoke(Function::Append, fresh),
            80..85 => invoke(Function::Put, fresh),
            85..90 => invoke(Function::Delete, Value::Null),
            _ => {
                // Mostly the current value, so that some swaps happen.
                let expected = if rng.chance(Ratio::new(2, 3)) { current.clone() } else { Value::from("stale") };
                invoke(Function::Cas, fresh).with_expected(expected)
            }
        }
    } else {
        match roll {
            0..50 => invoke(Function::Put, fresh),
            50..60 => invoke(Function::Delete, Value::Null),
            _ => {
                let expected = if rng.chance(Ratio::new(2, 3)) {
                    current.clone()
                } else {
                    Value::Int(rng.range(1, id + 1) as i64)
                };
                invoke(Function::Cas, fresh).with_expected(expected)
            }
        }
    }
}

/// A copy of `history` in which one `ok` `get` (chosen by `seed`) read a
/// value that no operation could have produced, and the id of that `get`;
/// `None` if the history has no `ok` `get`.
///
/// The corrupt value is an integer no `put` or `cas` of the key writes, or,
/// for a string read, the value read with a character no value of the key
/// contains appended: no order of operations produces it, so the result is
/// certainly not linearizable.
pub fn corrupt_one_read(history: &History, seed: u64) -> Option<(History, u64)> {
    let ops = history.operations();
    let reads: Vec<&crate::Operation> =
        ops.iter().filter(|op| op.f == Function::Get && op.outcome == Outcome::Ok).collect();
    if reads.is_empty() {
        return None;
    }
    let chosen = reads[Rng::new(seed).below(reads.len() as u64) as usize];
    let same_key = || history.events().iter().filter(|e| e.key == chosen.key);
    let corrupt = match &chosen.value {
        Value::Str(read) => {
            let unused =
                ['#', '~', '\u{7f}', '\u{1}', '\u{2}'].into_iter().chain('\u{100}'..='\u{2ff}').find(|&c| {
                    same_key().all(|e| {
                        [Some(&e.value), e.expected.as_ref()]
                            .into_iter()
                            .flatten()
                            .all(|v| !matches!(v, Value::Str(s) if s.contains(c)))
                    })
                })?;
            Value::Str(format!("{read}{unused}"))
        }
        _ => {
            let lowest = same_key()
                .flat_map(|e| [Some(&e.value), e.expected.as_ref()])
                .flatten()
                .filter_map(|v| if let Value::Int(i) = v { Some(*i) } else { None })
                .min()
                .unwrap_or(0);
            Value::Int(lowest.min(0).saturating_sub(1))
        }
    };
    let at = chosen.complete_index?;
    let mut events = history.events().to_vec();
    events[at].value = corrupt;
    let corrupted = History::from_events(events).ok()?;
    Some((corrupted, chosen.id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_config_same_history() {
        let config = SynthConfig::new(42, 5, 3, 500);
        assert_eq!(generate_events(&config), generate_events(&config));
        let other = SynthConfig { seed: 43, ..config.clone() };
        assert_ne!(generate_events(&config), generate_events(&other));
    }

    #[test]
    fn histories_have_the_requested_shape() {
        let config = SynthConfig { info: Ratio::new(1, 10), ..SynthConfig::new(3, 10, 10, 2000) };
        let history = generate(&config);
        let ops = history.operations();
        assert_eq!(ops.len(), 2000);
        let info = ops.iter().filter(|op| op.outcome == Outcome::Info).count();
        assert!((100..=300).contains(&info), "{info} info ops");
        assert!(ops.iter().any(|op| op.outcome == Outcome::Info && op.complete_index.is_none()));
        assert!(ops.iter().any(|op| op.outcome == Outcome::Fail));
        assert!(ops.iter().any(|op| op.f == Function::Append));
        assert!(ops.iter().any(|op| op.swapped == Some(true)));
        assert!(ops.iter().any(|op| op.swapped == Some(false)));
        assert_eq!(history.keys().len(), 10);
    }

    #[test]
    fn corruption_changes_exactly_one_read() {
        let history = generate(&SynthConfig::new(9, 3, 2, 300));
        let (bad, id) = corrupt_one_read(&history, 5).unwrap();
        let changed: Vec<_> = history.events().iter().zip(bad.events()).filter(|(a, b)| a != b).collect();
        assert_eq!(changed.len(), 1);
        assert_eq!(changed[0].0.id, id);
        assert_eq!(changed[0].0.f, Function::Get);
    }
}
