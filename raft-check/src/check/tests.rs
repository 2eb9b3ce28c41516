//! Each search mode on its own against a brute-force search, per key, on
//! small generated histories with random corruptions. (The public `check`
//! runs both modes together, so a bug in one could hide behind the other.)

use std::collections::HashSet;

use quickcheck::{Gen, QuickCheck, TestResult};

use super::search::{KeySearch, Mode, SearchOp, Status};
use super::split_by_key;
use crate::event::{EventKind, Function};
use crate::model::step;
use crate::synth::{generate_events, Ratio, Rng, SynthConfig};
use crate::{History, Value};

/// Whether some order of the `ok` operations and a subset of the others
/// (each at most once, or any number of times if `reuse`) is legal and
/// respects real time. Exhaustive: a depth-first search for the goal over
/// (placed, state) nodes, each visited once (reuse can make cycles).
fn brute_force(ops: &[SearchOp], reuse: bool) -> bool {
    fn go(ops: &[SearchOp], placed: u64, state: &Value, reuse: bool, visited: &mut HashSet<(u64, Value)>) -> bool {
        let ok_mask = ops.iter().enumerate().filter(|(_, op)| op.ret.is_some()).fold(0u64, |m, (i, _)| m | 1 << i);
        if placed & ok_mask == ok_mask {
            return true;
        }
        if !visited.insert((placed, state.clone())) {
            return false;
        }
        // The frontier: the first return of an unplaced `ok` operation.
        let frontier = ops.iter().enumerate().filter(|(i, _)| placed >> i & 1 == 0).filter_map(|(_, op)| op.ret).min();
        for (i, op) in ops.iter().enumerate() {
            let is_info = op.ret.is_none();
            if (placed >> i & 1 == 1 && !(reuse && is_info)) || frontier.is_some_and(|f| op.call > f) {
                continue;
            }
            let Some(next) = step(state, &op.model) else { continue };
            if is_info && next == *state {
                continue;
            }
            if go(ops, placed | 1 << i, &next, reuse, visited) {
                return true;
            }
        }
        false
    }
    assert!(ops.len() < 64);
    go(ops, 0, &Value::Null, reuse, &mut HashSet::new())
}

fn history(seed: u64) -> Option<History> {
    let mut rng = Rng::new(seed);
    let keys = rng.range(1, 2) as u32;
    let config = SynthConfig {
        seed: rng.next_u64(),
        clients: rng.range(1, 4) as u32,
        keys,
        append_keys: rng.range(0, u64::from(keys)) as u32,
        ops: rng.range(1, 12) as usize,
        reads: Ratio::new(1, 2),
        fail: Ratio::new(1, 10),
        info: Ratio::new(1, 3),
        info_applied: Ratio::new(1, 2),
        info_no_completion: Ratio::new(1, 3),
        max_latency: rng.range(2, 8),
        max_think: rng.range(1, 3),
    };
    let mut events = generate_events(&config);
    let values: Vec<Value> = events.iter().map(|e| e.value.clone()).collect();
    for _ in 0..rng.below(3) {
        let at = rng.below(events.len() as u64) as usize;
        let e = &mut events[at];
        match (e.kind, e.f, rng.below(3)) {
            (EventKind::Ok, Function::Get, _) => e.value = values[rng.below(values.len() as u64) as usize].clone(),
            (EventKind::Ok, Function::Cas, _) => e.swapped = e.swapped.map(|s| !s),
            (EventKind::Info, Function::Put | Function::Delete | Function::Append, 0) => e.kind = EventKind::Ok,
            (EventKind::Ok, Function::Put | Function::Delete | Function::Append, 0) => e.kind = EventKind::Info,
            _ => {}
        }
    }
    History::from_events(events).ok()
}

fn modes_agree_with_brute_force(seed: u64) -> TestResult {
    let Some(history) = history(seed) else { return TestResult::discard() };
    for (key, ops) in split_by_key(&history) {
        let exact_expected = brute_force(&ops, false);
        // With unknown appends applied again and again, the relaxed state
        // space is infinite: compare the exact mode only.
        let info_appends =
            ops.iter().any(|op| op.ret.is_none() && matches!(op.model, crate::model::ModelOp::Append { .. }));
        let relaxed_expected = if info_appends { exact_expected } else { brute_force(&ops, true) };
        let mut exact = KeySearch::new(ops.clone(), Mode::Exact);
        exact.run(u64::MAX);
        let mut relaxed = KeySearch::new(ops.clone(), Mode::Relaxed);
        relaxed.run(u64::MAX);
        let exact_ok = exact.status() == if exact_expected { Status::Linearizable } else { Status::Refuted };
        let relaxed_ok = match relaxed.status() {
            Status::Linearizable => exact_expected,
            Status::Refuted => !relaxed_expected && !exact_expected,
            Status::Inconclusive => relaxed_expected || info_appends,
            Status::Running => false,
        };
        if !exact_ok || !relaxed_ok {
            let text: Vec<String> = history.events().iter().map(ToString::to_string).collect();
            return TestResult::error(format!(
                "seed {seed}, key {key}: expected {exact_expected} (relaxed {relaxed_expected}), \
                 exact {:?}, relaxed {:?}\n{}",
                exact.status(),
                relaxed.status(),
                text.join("\n")
            ));
        }
    }
    TestResult::passed()
}

#[test]
fn each_mode_agrees_with_brute_force() {
    QuickCheck::new()
        .rng(Gen::from_size_and_seed(1000, 0x5eed_0002))
        .tests(5_000)
        .max_tests(50_000)
        .quickcheck(modes_agree_with_brute_force as fn(u64) -> TestResult);
}

#[test]
fn relaxed_mode_reuses_unknown_operations() {
    // The info put of 5 is seen, then 1, then 5 again: it would have to
    // take effect twice.
    let text = r#"
{"id":0,"process":0,"type":"invoke","f":"put","key":"x","value":1}
{"id":0,"process":0,"type":"ok","f":"put","key":"x","value":1}
{"id":1,"process":1,"type":"invoke","f":"put","key":"x","value":5}
{"id":2,"process":2,"type":"invoke","f":"get","key":"x","value":null}
{"id":2,"process":2,"type":"ok","f":"get","key":"x","value":5}
{"id":3,"process":0,"type":"invoke","f":"put","key":"x","value":1}
{"id":3,"process":0,"type":"ok","f":"put","key":"x","value":1}
{"id":4,"process":2,"type":"invoke","f":"get","key":"x","value":null}
{"id":4,"process":2,"type":"ok","f":"get","key":"x","value":5}
"#;
    let history = crate::parse_history(text.as_bytes()).unwrap();
    let ops = split_by_key(&history).remove("x").unwrap();
    let mut relaxed = KeySearch::new(ops.clone(), Mode::Relaxed);
    relaxed.run(u64::MAX);
    assert_eq!(relaxed.status(), Status::Inconclusive);
    let mut exact = KeySearch::new(ops, Mode::Exact);
    exact.run(u64::MAX);
    assert_eq!(exact.status(), Status::Refuted);
    assert!(!crate::check(&history, crate::Budget::default()).is_linearizable());
}
