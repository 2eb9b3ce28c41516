//! Helpers shared by the integration tests: parsing a literal history, and
//! a brute-force checker that is obviously correct (every subset of the
//! `info` operations, every order of the chosen operations).

#![allow(dead_code)] // Each test binary uses a different part.

use std::collections::{BTreeMap, HashSet};

use raft_check::model::step;
use raft_check::{check, parse_history, Budget, History, Operation, Outcome, Value, Verdict};

/// Parses `text`, panicking with the parse error.
pub(crate) fn history(text: &str) -> History {
    match parse_history(text.as_bytes()) {
        Ok(history) => history,
        Err(e) => panic!("bad test history: {e}"),
    }
}

/// The verdict of the checker with the default budget.
pub(crate) fn verdict(text: &str) -> Verdict {
    check(&history(text), Budget::default())
}

/// Asserts `text` is linearizable.
#[track_caller]
pub(crate) fn assert_linearizable(text: &str) {
    let verdict = verdict(text);
    assert_eq!(verdict, Verdict::Linearizable, "{verdict}");
    assert!(brute_force(&history(text)), "the brute-force checker disagrees");
}

/// Asserts `text` is not linearizable, and returns the refuted key.
#[track_caller]
pub(crate) fn assert_not_linearizable(text: &str) -> String {
    let verdict = verdict(text);
    assert!(!brute_force(&history(text)), "the brute-force checker disagrees");
    match verdict {
        Verdict::NotLinearizable(counterexample) => counterexample.key,
        other => panic!("expected not linearizable, got {other}"),
    }
}

/// Whether `a` must precede `b` in real time: `a` completed `ok` before `b`
/// was invoked. (An `info` completion constrains nothing.)
fn precedes(a: &Operation, b: &Operation) -> bool {
    a.outcome == Outcome::Ok && a.complete_index.is_some_and(|done| done < b.invoke_index)
}

/// Exhaustive search over the whole history (no split by key): for every
/// subset of the `info` operations, every order of the `ok` operations plus
/// that subset that respects real-time order, run the model on the map
/// (remembering the (placed set, map) pairs that failed). Exponential; for
/// histories of a dozen operations or so.
pub(crate) fn brute_force(history: &History) -> bool {
    let ops: Vec<&Operation> = history.operations().iter().filter(|op| op.outcome != Outcome::Fail).collect();
    let ok: Vec<&Operation> = ops.iter().copied().filter(|op| op.outcome == Outcome::Ok).collect();
    let info: Vec<&Operation> = ops.iter().copied().filter(|op| op.outcome == Outcome::Info).collect();
    assert!(info.len() <= 12, "too many info operations for brute force");
    (0u32..1 << info.len()).any(|subset| {
        let mut chosen = ok.clone();
        chosen.extend(info.iter().enumerate().filter(|(i, _)| subset >> i & 1 == 1).map(|(_, op)| *op));
        assert!(chosen.len() <= 64, "too many operations for brute force");
        let mut placed = vec![false; chosen.len()];
        search(&chosen, &mut placed, &mut BTreeMap::new(), &mut HashSet::new())
    })
}

type Failed = HashSet<(u64, BTreeMap<String, Value>)>;

fn search(ops: &[&Operation], placed: &mut [bool], store: &mut BTreeMap<String, Value>, failed: &mut Failed) -> bool {
    if placed.iter().all(|&p| p) {
        return true;
    }
    let mask = placed.iter().enumerate().fold(0u64, |m, (i, &p)| m | u64::from(p) << i);
    if failed.contains(&(mask, store.clone())) {
        return false;
    }
    for i in 0..ops.len() {
        if placed[i] {
            continue;
        }
        // Every unplaced operation that precedes it must come first.
        if (0..ops.len()).any(|j| !placed[j] && j != i && precedes(ops[j], ops[i])) {
            continue;
        }
        let op = ops[i];
        let before = store.get(&op.key).cloned().unwrap_or(Value::Null);
        let after = match op.model_op() {
            Some(model_op) => match step(&before, &model_op) {
                Some(after) => after,
                None => continue,
            },
            // An info get: no effect.
            None => before.clone(),
        };
        store.insert(op.key.clone(), after);
        placed[i] = true;
        if search(ops, placed, store, failed) {
            return true;
        }
        placed[i] = false;
        store.insert(op.key.clone(), before);
    }
    failed.insert((mask, store.clone()));
    false
}

/// Replays `ops` in order through the model: every `ok` operation must be
/// legal (an `info` one may do nothing).
pub(crate) fn replays(ops: &[Operation]) -> bool {
    let mut store: BTreeMap<String, Value> = BTreeMap::new();
    ops.iter().all(|op| {
        let before = store.get(&op.key).cloned().unwrap_or(Value::Null);
        match (op.model_op(), op.outcome) {
            (Some(model_op), Outcome::Ok) => match step(&before, &model_op) {
                Some(after) => {
                    store.insert(op.key.clone(), after);
                    true
                }
                None => false,
            },
            (Some(model_op), _) => {
                if let Some(after) = step(&before, &model_op) {
                    store.insert(op.key.clone(), after);
                }
                true
            }
            (None, _) => true,
        }
    })
}
