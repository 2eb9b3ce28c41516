//! A generated history of 10 clients, 10 keys and 10,000 operations (2% of
//! unknown outcome): linearizable as generated, not linearizable after one
//! read is corrupted, both within the default budget; and the same verdict
//! and step count on every run.

use raft_check::synth::{corrupt_one_read, generate, generate_events, SynthConfig};
use raft_check::{check_with_stats, Budget, Event, EventKind, Function, History, Outcome, Value, Verdict, SLICE_STEPS};

fn config() -> SynthConfig {
    SynthConfig::new(2024, 10, 10, 10_000)
}

#[test]
fn ten_thousand_operations_linearizable_then_refuted() {
    let history = generate(&config());
    let ops = history.operations();
    assert_eq!(ops.len(), 10_000);
    let info = ops.iter().filter(|op| op.outcome == Outcome::Info).count();
    assert!(info >= 100, "{info} info operations");
    assert_eq!(history.keys().len(), 10);

    let (verdict, stats) = check_with_stats(&history, Budget::default());
    assert_eq!(verdict, Verdict::Linearizable);
    assert!(stats.ops_checked > 9_000, "{stats:?}");

    let (corrupted, id) = corrupt_one_read(&history, 7).unwrap();
    let (verdict, stats) = check_with_stats(&corrupted, Budget::default());
    let Verdict::NotLinearizable(counterexample) = verdict else { panic!("{verdict} after {stats:?}") };
    let read = ops.iter().find(|op| op.id == id).unwrap();
    assert_eq!(counterexample.key, read.key);
    assert!(counterexample.unplaced.iter().any(|op| op.id == id), "{counterexample}");
    assert!(counterexample.prefix.iter().all(|op| op.key == read.key));
}

#[test]
fn same_history_same_budget_same_verdict_and_steps() {
    let history = generate(&config());
    let (corrupted, _) = corrupt_one_read(&history, 3).unwrap();
    for h in [&history, &corrupted] {
        for budget in [Budget::steps(20_000), Budget::default()] {
            let first = check_with_stats(h, budget);
            let second = check_with_stats(h, budget);
            assert_eq!(first, second);
        }
    }
    // A budget too small for the history ends in `unknown`.
    let (verdict, stats) = check_with_stats(&history, Budget::steps(20_000));
    assert!(matches!(verdict, Verdict::Unknown { .. }), "{verdict}");
    assert!(stats.steps >= 20_000);
}

#[test]
fn a_hard_key_does_not_hold_back_a_refuted_one() {
    // 50 clients on one key: far more than the default budget to decide.
    let mut events = generate_events(&SynthConfig::new(5, 50, 1, 2_000));
    // Then a stale read on another key.
    let (id, process) = (1_000_000, 1_000_000);
    let event = |id, kind, f, value| Event::new(id, process, kind, f, "stale", value);
    events.extend([
        event(id, EventKind::Invoke, Function::Put, Value::Int(1)),
        event(id, EventKind::Ok, Function::Put, Value::Int(1)),
        event(id + 1, EventKind::Invoke, Function::Get, Value::Null),
        event(id + 1, EventKind::Ok, Function::Get, Value::Null),
    ]);
    let history = History::from_events(events).unwrap();
    let (verdict, stats) = check_with_stats(&history, Budget::default());
    let Verdict::NotLinearizable(counterexample) = verdict else { panic!("{verdict}") };
    assert_eq!(counterexample.key, "stale");
    // The hard key had one slice.
    assert!(stats.steps <= 2 * SLICE_STEPS, "{stats:?}");
}
