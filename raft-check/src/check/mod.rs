//! Deciding linearizability: split by key, search each key, interleave the
//! searches under one budget.
//!
//! Every operation touches one key, so a history is linearizable if and
//! only if each key's sub-history is (locality, Herlihy & Wing 1990). Each
//! key gets its own search ([`search`]); the searches run round-robin, one
//! slice of [`SLICE_STEPS`] steps at a time, in key order, so a key whose
//! refutation needs an exhaustive search cannot hold back the verdict of
//! another key that fails quickly; the first refuted key ends the check.
//!
//! A key with operations of unknown outcome gets two searches, interleaved
//! within its slices: the exact one, and a relaxed one in which an `info`
//! operation may take effect any number of times. The relaxed one cannot
//! blow up over which `info` operations were used, so it refutes fast; its
//! refutation is a refutation of the key, and a linearization it finds that
//! uses each `info` operation at most once settles the key too. Otherwise
//! the exact search decides.

mod cache;
mod hash;
mod observed;
mod search;
mod states;
#[cfg(test)]
mod tests;

use core::fmt;
use core::time::Duration;
use std::collections::BTreeMap;
use std::time::Instant;

use crate::history::{History, Operation, Outcome};
use search::{KeySearch, Mode, SearchOp, Status};

/// Steps one key searches before the next key gets its turn.
///
/// Small enough that a key that fails fast is found within a few slices of
/// each other key (a slice is about a millisecond in a release build), large
/// enough that switching keys and reading the clock cost nothing.
pub const SLICE_STEPS: u64 = 1 << 14;

/// When the search gives up with [`Verdict::Unknown`].
///
/// `max_steps` counts search steps (a step visits one call or return in the
/// search's list, tries one group of unknown-outcome operations, backtracks
/// once, or compares two sets of unknown-outcome operations in the memo),
/// summed over all keys and both searches of a key. It is the
/// budget to use where the verdict must not depend on the machine's speed
/// (a simulator seed); `max_time` is wall time, for a command line. Either
/// ends the search; `None` is no limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    /// Search steps, over all keys.
    pub max_steps: Option<u64>,
    /// Wall time, read between slices.
    pub max_time: Option<Duration>,
}

impl Budget {
    /// The default step budget: 50 million steps, a few seconds of a release
    /// build, and at most a few hundred MB of memo (memory grows with the
    /// configurations recorded, at most one per step, in practice one per
    /// 20 to 100 steps). Generated histories of 10,000 operations (2% of
    /// unknown outcome) take: 10 clients on 10 keys, about 30,000 steps to
    /// check and about as many to refute after one read is corrupted; 10
    /// clients on one key, 400,000 and 3 million; 20 clients on one key, 5
    /// and 40 million. 50 clients on one key exceed it.
    pub const DEFAULT_MAX_STEPS: u64 = 50_000_000;

    /// At most `n` steps, no time limit.
    pub fn steps(n: u64) -> Self {
        Budget { max_steps: Some(n), max_time: None }
    }

    /// At most `d` of wall time, no step limit. The verdict may then depend
    /// on the machine's speed.
    pub fn time(d: Duration) -> Self {
        Budget { max_steps: None, max_time: Some(d) }
    }

    /// No limit at all: the search may take exponential time and memory.
    pub fn unlimited() -> Self {
        Budget { max_steps: None, max_time: None }
    }
}

/// [`Budget::DEFAULT_MAX_STEPS`] steps, no time limit.
impl Default for Budget {
    fn default() -> Self {
        Budget::steps(Budget::DEFAULT_MAX_STEPS)
    }
}

/// The result of a check.
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use]
pub enum Verdict {
    /// Some order of the `ok` operations and of a subset of the `info`
    /// operations explains every observation.
    Linearizable,
    /// No order does, for the key in the counterexample.
    NotLinearizable(Counterexample),
    /// The budget ran out before every key was decided (and no key was
    /// refuted).
    Unknown {
        /// The keys whose search did not finish, sorted.
        keys_unfinished: Vec<String>,
    },
}

impl Verdict {
    /// Whether this is [`Verdict::Linearizable`].
    pub fn is_linearizable(&self) -> bool {
        matches!(self, Verdict::Linearizable)
    }
}

/// `linearizable`, `not linearizable` (with the counterexample), or
/// `unknown` (with the unfinished keys).
impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Linearizable => f.write_str("linearizable"),
            Verdict::NotLinearizable(counterexample) => write!(f, "not linearizable\n{counterexample}"),
            Verdict::Unknown { keys_unfinished } => {
                f.write_str("unknown: the budget ran out before deciding key")?;
                if keys_unfinished.len() > 1 {
                    f.write_str("s")?;
                }
                for (i, key) in keys_unfinished.iter().enumerate() {
                    let sep = if i == 0 { " " } else { ", " };
                    write!(f, "{sep}{}", crate::value::JsonStr(key))?;
                }
                Ok(())
            }
        }
    }
}

/// Why a history is not linearizable: the refuted key, the longest
/// linearizable prefix of its operations the search found, and the `ok`
/// operations that were candidates after that prefix, none of which could be
/// placed next (given the prefix, or any other order that was tried).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Counterexample {
    /// The refuted key.
    pub key: String,
    /// The prefix, in linearization order; `info` operations in it are ones
    /// assumed to have taken effect.
    pub prefix: Vec<Operation>,
    /// The operations that could not be placed after the prefix, in invoke
    /// order.
    pub unplaced: Vec<Operation>,
}

/// One operation per line, e.g.:
///
/// ```text
/// key "x": no linearization; the longest linearizable prefix (2 ops):
///   {"id":0,"process":0,"type":"ok","f":"put","key":"x","value":1}
///   {"id":1,"process":1,"type":"ok","f":"put","key":"x","value":2}
/// cannot be followed by any of:
///   {"id":2,"process":0,"type":"ok","f":"get","key":"x","value":1}
/// ```
impl fmt::Display for Counterexample {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "key {}: no linearization; the longest linearizable prefix ({} ops):",
            crate::value::JsonStr(&self.key),
            self.prefix.len()
        )?;
        for op in &self.prefix {
            writeln!(f, "  {op}")?;
        }
        f.write_str("cannot be followed by any of:")?;
        for op in &self.unplaced {
            write!(f, "\n  {op}")?;
        }
        Ok(())
    }
}

/// What a check did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CheckStats {
    /// Search steps used, over all keys (compare with [`Budget::max_steps`]).
    pub steps: u64,
    /// Operations searched: every `ok` one and every `info` one that can
    /// take effect (`fail` operations and `info` reads are dropped).
    pub ops_checked: usize,
    /// Keys in the history.
    pub keys: usize,
    /// Configurations recorded in the memo, over all keys.
    pub configurations: u64,
}

/// Decides whether `history` is linearizable, within `budget`.
///
/// Deterministic: the same history and a step budget (no time budget) give
/// the same verdict, counterexample and [`CheckStats`] on every machine.
///
/// # Examples
///
/// ```
/// use raft_check::{check, parse_history, Budget, Verdict};
/// let text = r#"
/// {"id":0,"process":0,"type":"invoke","f":"put","key":"x","value":1}
/// {"id":0,"process":0,"type":"ok","f":"put","key":"x","value":1}
/// {"id":1,"process":1,"type":"invoke","f":"get","key":"x","value":null}
/// {"id":1,"process":1,"type":"ok","f":"get","key":"x","value":null}
/// "#;
/// let history = parse_history(text.as_bytes()).unwrap();
/// let verdict = check(&history, Budget::default());
/// assert!(matches!(verdict, Verdict::NotLinearizable(_)));
/// ```
pub fn check(history: &History, budget: Budget) -> Verdict {
    check_with_stats(history, budget).0
}

/// [`check`], also returning what the search did.
pub fn check_with_stats(history: &History, budget: Budget) -> (Verdict, CheckStats) {
    let started = budget.max_time.map(|_| Instant::now());
    let ops = history.operations();
    let by_key = split_by_key(history);
    let mut stats = CheckStats { keys: by_key.len(), ..CheckStats::default() };
    let mut keys: Vec<(&str, Option<KeyCheck>)> = by_key
        .into_iter()
        .map(|(key, key_ops)| {
            let check = KeyCheck::new(key_ops);
            stats.ops_checked += check.exact.op_count();
            (key, Some(check))
        })
        .collect();

    let mut steps_left = budget.max_steps;
    loop {
        let mut running = false;
        let mut exhausted = false;
        for (key, slot) in &mut keys {
            let Some(check) = slot else { continue };
            let out_of_time = started.zip(budget.max_time).is_some_and(|(at, max)| at.elapsed() >= max);
            if check.status() == Status::Running && (steps_left == Some(0) || out_of_time) {
                exhausted = true;
                break;
            }
            let slice = steps_left.map_or(SLICE_STEPS, |left| left.min(SLICE_STEPS));
            let used = check.run(slice);
            stats.steps += used;
            if let Some(left) = &mut steps_left {
                // A step may run a little over a slice (see `KeySearch::run`).
                *left = left.saturating_sub(used);
            }
            match check.status() {
                Status::Running | Status::Inconclusive => running = true,
                Status::Linearizable => {
                    // Done: free the memo now, not at the end.
                    stats.configurations += check.configurations();
                    *slot = None;
                }
                Status::Refuted => {
                    stats.configurations += check.configurations();
                    let (prefix, unplaced) = check.counterexample();
                    let pick = |at: Vec<usize>| at.into_iter().map(|i| ops[i].clone()).collect();
                    let counterexample =
                        Counterexample { key: (*key).to_owned(), prefix: pick(prefix), unplaced: pick(unplaced) };
                    return (Verdict::NotLinearizable(counterexample), stats);
                }
            }
        }
        if exhausted {
            return (unknown(&keys, &mut stats), stats);
        }
        if !running {
            return (Verdict::Linearizable, stats);
        }
    }
}

/// The operations of each key, as the searches see them.
fn split_by_key(history: &History) -> BTreeMap<&str, Vec<SearchOp>> {
    let mut by_key: BTreeMap<&str, Vec<SearchOp>> = BTreeMap::new();
    for (history_index, op) in history.operations().iter().enumerate() {
        let entry = by_key.entry(op.key.as_str()).or_default();
        let Some(model) = op.model_op() else { continue };
        let ret = if op.outcome == Outcome::Ok { op.complete_index } else { None };
        entry.push(SearchOp { model, history_index, call: op.invoke_index, ret });
    }
    by_key
}

/// The searches of one key.
struct KeyCheck {
    exact: KeySearch,
    /// Dropped once it has nothing more to say.
    relaxed: Option<KeySearch>,
    /// Set when the relaxed search decided the key.
    relaxed_verdict: Option<Status>,
}

impl KeyCheck {
    /// The relaxed search's share of each slice, in quarters: half, as much
    /// as the exact search, which often decides a linearizable key first
    /// (so the relaxed one wastes at most as much), while the relaxed one
    /// refutes a key far faster.
    const RELAXED_SHARE: u64 = 2;

    fn new(ops: Vec<SearchOp>) -> Self {
        let relaxed_ops = ops.clone();
        let exact = KeySearch::new(ops, Mode::Exact);
        let relaxed = exact.has_info().then(|| KeySearch::new(relaxed_ops, Mode::Relaxed));
        KeyCheck { exact, relaxed, relaxed_verdict: None }
    }

    fn status(&self) -> Status {
        self.relaxed_verdict.unwrap_or_else(|| self.exact.status())
    }

    /// Runs both searches for about `max_steps` steps in all.
    fn run(&mut self, max_steps: u64) -> u64 {
        let mut used = 0;
        if let Some(relaxed) = &mut self.relaxed {
            used += relaxed.run(max_steps * Self::RELAXED_SHARE / 4);
            match relaxed.status() {
                Status::Running => {}
                Status::Inconclusive => self.relaxed = None,
                decided => {
                    self.relaxed_verdict = Some(decided);
                    return used;
                }
            }
        }
        used + self.exact.run(max_steps.saturating_sub(used))
    }

    fn configurations(&self) -> u64 {
        (self.exact.configurations() + self.relaxed.as_ref().map_or(0, KeySearch::configurations)) as u64
    }

    /// The counterexample of whichever search found the longer exact prefix.
    fn counterexample(&self) -> (Vec<usize>, Vec<usize>) {
        match &self.relaxed {
            Some(relaxed) if relaxed.best_len() > self.exact.best_len() => relaxed.counterexample(),
            _ => self.exact.counterexample(),
        }
    }
}

/// The verdict when the budget runs out with `keys` unfinished.
fn unknown(keys: &[(&str, Option<KeyCheck>)], stats: &mut CheckStats) -> Verdict {
    let mut keys_unfinished = Vec::new();
    for (key, slot) in keys {
        if let Some(check) = slot {
            stats.configurations += check.configurations();
            keys_unfinished.push((*key).to_owned());
        }
    }
    Verdict::Unknown { keys_unfinished }
}
