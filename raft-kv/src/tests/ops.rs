//! Each operation's semantics, per `history-format.md` ("Operations and the
//! model").

use super::*;

fn applied(result: OpResult) -> ApplyOutcome {
    ApplyOutcome::Applied(result)
}

#[test]
fn get_of_absent_key_reads_null() {
    let mut log = Log::new(8);
    assert_eq!(log.run_once(get("k")), applied(OpResult::Value(Value::Null)));
    assert_eq!(log.kv.read("k"), Value::Null);
    assert!(log.kv.is_empty());
}

#[test]
fn put_sets_and_overwrites_across_types() {
    let mut log = Log::new(8);
    assert_eq!(log.run_once(put("k", 4)), applied(OpResult::Ok));
    assert_eq!(log.run_once(get("k")), applied(OpResult::Value(Value::Int(4))));
    assert_eq!(log.run_once(put("k", "four")), applied(OpResult::Ok));
    assert_eq!(log.kv.read("k"), s("four"));
    assert_eq!(log.kv.len(), 1);
}

#[test]
fn put_null_is_delete() {
    let mut log = Log::new(8);
    let _ = log.run_once(put("k", 1));
    assert_eq!(log.run_once(put("k", Value::Null)), applied(OpResult::Ok));
    assert_eq!(log.kv.read("k"), Value::Null);
    assert!(log.kv.is_empty(), "null is never stored");
}

#[test]
fn delete_removes_and_is_ok_on_absent() {
    let mut log = Log::new(8);
    let _ = log.run_once(put("k", 1));
    assert_eq!(log.run_once(delete("k")), applied(OpResult::Ok));
    assert_eq!(log.kv.read("k"), Value::Null);
    assert_eq!(log.run_once(delete("k")), applied(OpResult::Ok));
    assert!(log.kv.is_empty());
}

#[test]
fn cas_swaps_when_equal() {
    let mut log = Log::new(8);
    let _ = log.run_once(put("r", 0));
    assert_eq!(
        log.run_once(cas("r", Value::Int(0), Value::Int(3))),
        applied(OpResult::Cas { swapped: true, found: Value::Int(0) })
    );
    assert_eq!(log.kv.read("r"), Value::Int(3));
}

#[test]
fn cas_not_swapped_is_an_observation_of_the_value_found() {
    // history-format.md, "Example": cas 0 -> 3 finds 4 and does not swap.
    let mut log = Log::new(8);
    let _ = log.run_once(put("r", 4));
    assert_eq!(
        log.run_once(cas("r", Value::Int(0), Value::Int(3))),
        applied(OpResult::Cas { swapped: false, found: Value::Int(4) })
    );
    assert_eq!(log.kv.read("r"), Value::Int(4));
}

#[test]
fn cas_equality_is_typed() {
    let mut log = Log::new(8);
    let _ = log.run_once(put("r", 1));
    assert_eq!(
        log.run_once(cas("r", s("1"), Value::Int(2))),
        applied(OpResult::Cas { swapped: false, found: Value::Int(1) })
    );
    let _ = log.run_once(put("t", "1"));
    assert_eq!(
        log.run_once(cas("t", Value::Int(1), Value::Int(2))),
        applied(OpResult::Cas { swapped: false, found: s("1") })
    );
    assert_eq!((log.kv.read("r"), log.kv.read("t")), (Value::Int(1), s("1")));
}

#[test]
fn cas_on_absent_key_matches_null_and_can_delete() {
    let mut log = Log::new(8);
    assert_eq!(
        log.run_once(cas("k", Value::Null, s("a"))),
        applied(OpResult::Cas { swapped: true, found: Value::Null })
    );
    assert_eq!(log.run_once(cas("k", s("a"), Value::Null)), applied(OpResult::Cas { swapped: true, found: s("a") }));
    assert!(log.kv.is_empty());
    assert_eq!(log.run_once(cas("k", s("a"), s("b"))), applied(OpResult::Cas { swapped: false, found: Value::Null }));
    assert!(log.kv.is_empty());
}

#[test]
fn append_on_null_treats_it_as_empty_string() {
    let mut log = Log::new(8);
    assert_eq!(log.run_once(append("k", "ab")), applied(OpResult::Ok));
    assert_eq!(log.run_once(append("k", "c")), applied(OpResult::Ok));
    assert_eq!(log.kv.read("k"), s("abc"));
}

#[test]
fn append_of_empty_suffix_on_null_stores_empty_string() {
    // "" is a string, not null: a later cas against null must not match.
    let mut log = Log::new(8);
    assert_eq!(log.run_once(append("k", "")), applied(OpResult::Ok));
    assert_eq!(log.kv.read("k"), s(""));
    assert_eq!(log.run_once(cas("k", Value::Null, s("x"))), applied(OpResult::Cas { swapped: false, found: s("") }));
}

#[test]
fn append_on_int_is_type_mismatch_and_changes_nothing() {
    let mut log = Log::new(8);
    let _ = log.run_once(put("k", 7));
    let before = log.kv.state_digest();
    let s1 = log.register();
    let before_data: Vec<_> = log.kv.entries().map(|(k, v)| (k.to_owned(), v.clone())).collect();
    assert_eq!(log.run(s1, 1, 1, append("k", "x")), ApplyOutcome::Rejected(KvError::TypeMismatch));
    assert_eq!(log.kv.read("k"), Value::Int(7));
    let after_data: Vec<_> = log.kv.entries().map(|(k, v)| (k.to_owned(), v.clone())).collect();
    assert_eq!(before_data, after_data);
    assert_ne!(before, log.kv.state_digest(), "the session did change (registered, result recorded)");
    // A retry gets the original outcome, even though append would now succeed.
    let _ = log.run_once(put("k", "s"));
    assert_eq!(log.run(s1, 1, 1, append("k", "x")), ApplyOutcome::Rejected(KvError::TypeMismatch));
    assert_eq!(log.kv.read("k"), s("s"));
}

#[test]
fn read_path_agrees_with_logged_get() {
    let mut log = Log::new(8);
    let _ = log.run_once(put("a", 1));
    let _ = log.run_once(append("b", "x"));
    for key in ["a", "b", "c"] {
        let read = log.kv.read(key);
        assert_eq!(log.run_once(get(key)), applied(OpResult::Value(read)));
    }
    let keys: Vec<&str> = log.kv.entries().map(|(k, _)| k).collect();
    assert_eq!(keys, ["a", "b"]);
}

#[test]
fn get_does_not_change_data() {
    let mut log = Log::new(8);
    let _ = log.run_once(put("a", 1));
    let data = log.kv.store.clone();
    let _ = log.run_once(get("a"));
    let _ = log.run_once(get("zz"));
    assert_eq!(log.kv.store, data);
}
