//! The checker on hand-written histories, each with the verdict it must
//! reach (the brute-force checker of `common` must agree).

mod common;

use core::time::Duration;

use common::{assert_linearizable, assert_not_linearizable, history, replays, verdict};
use raft_check::{check, check_with_stats, Budget, Outcome, Verdict};

// The example of history-format.md.
#[test]
fn format_example_is_linearizable() {
    assert_linearizable(
        r#"
{"id":0,"process":0,"type":"invoke","f":"get","key":"r","value":null}
{"id":1,"process":2,"type":"invoke","f":"put","key":"r","value":4}
{"id":0,"process":0,"type":"ok","f":"get","key":"r","value":null}
{"id":1,"process":2,"type":"ok","f":"put","key":"r","value":4}
{"id":2,"process":1,"type":"invoke","f":"cas","key":"r","value":3,"expected":0}
{"id":2,"process":1,"type":"ok","f":"cas","key":"r","value":3,"expected":0,"swapped":false}
{"id":3,"process":4,"type":"invoke","f":"put","key":"r","value":1}
{"id":3,"process":4,"type":"info","f":"put","key":"r","value":1,"error":"timed-out"}
"#,
    );
}

#[test]
fn stale_read_is_refuted() {
    let text = r#"
{"id":0,"process":0,"type":"invoke","f":"put","key":"x","value":1}
{"id":0,"process":0,"type":"ok","f":"put","key":"x","value":1}
{"id":1,"process":0,"type":"invoke","f":"put","key":"x","value":2}
{"id":1,"process":0,"type":"ok","f":"put","key":"x","value":2}
{"id":2,"process":1,"type":"invoke","f":"get","key":"x","value":null}
{"id":2,"process":1,"type":"ok","f":"get","key":"x","value":1}
"#;
    assert_eq!(assert_not_linearizable(text), "x");
    // The counterexample: both puts placed, the read cannot follow.
    let Verdict::NotLinearizable(counterexample) = verdict(text) else { unreachable!() };
    assert_eq!(counterexample.prefix.iter().map(|op| op.id).collect::<Vec<_>>(), [0, 1]);
    assert_eq!(counterexample.unplaced.iter().map(|op| op.id).collect::<Vec<_>>(), [2]);
    assert!(replays(&counterexample.prefix));
    let shown = counterexample.to_string();
    assert!(shown.starts_with("key \"x\": no linearization"), "{shown}");
    assert!(shown.contains(r#"{"id":2,"process":1,"type":"ok","f":"get","key":"x","value":1}"#), "{shown}");
}

#[test]
fn lost_write_is_refuted() {
    assert_not_linearizable(
        r#"
{"id":0,"process":0,"type":"invoke","f":"put","key":"x","value":1}
{"id":0,"process":0,"type":"ok","f":"put","key":"x","value":1}
{"id":1,"process":1,"type":"invoke","f":"get","key":"x","value":null}
{"id":1,"process":1,"type":"ok","f":"get","key":"x","value":null}
"#,
    );
}

const CONCURRENT_WRITES: &str = r#"
{"id":0,"process":0,"type":"invoke","f":"put","key":"x","value":1}
{"id":1,"process":1,"type":"invoke","f":"put","key":"x","value":2}
{"id":0,"process":0,"type":"ok","f":"put","key":"x","value":1}
{"id":1,"process":1,"type":"ok","f":"put","key":"x","value":2}
{"id":2,"process":2,"type":"invoke","f":"get","key":"x","value":null}
"#;

#[test]
fn concurrent_writes_may_be_read_either_way() {
    for read in [1, 2] {
        assert_linearizable(&format!(
            r#"{CONCURRENT_WRITES}{{"id":2,"process":2,"type":"ok","f":"get","key":"x","value":{read}}}"#
        ));
    }
}

#[test]
fn concurrent_writes_cannot_be_read_in_both_orders() {
    assert_not_linearizable(&format!(
        r#"{CONCURRENT_WRITES}{{"id":2,"process":2,"type":"ok","f":"get","key":"x","value":2}}
{{"id":3,"process":2,"type":"invoke","f":"get","key":"x","value":null}}
{{"id":3,"process":2,"type":"ok","f":"get","key":"x","value":1}}"#
    ));
}

#[test]
fn cas_chain() {
    let start = r#"
{"id":0,"process":0,"type":"invoke","f":"put","key":"c","value":0}
{"id":0,"process":0,"type":"ok","f":"put","key":"c","value":0}
{"id":1,"process":1,"type":"invoke","f":"cas","key":"c","expected":0,"value":1}
{"id":1,"process":1,"type":"ok","f":"cas","key":"c","expected":0,"value":1,"swapped":true}
"#;
    assert_linearizable(&format!(
        r#"{start}{{"id":2,"process":2,"type":"invoke","f":"cas","key":"c","expected":1,"value":2}}
{{"id":2,"process":2,"type":"ok","f":"cas","key":"c","expected":1,"value":2,"swapped":true}}
{{"id":3,"process":0,"type":"invoke","f":"get","key":"c","value":null}}
{{"id":3,"process":0,"type":"ok","f":"get","key":"c","value":2}}"#
    ));
    // Two swaps from 0: only one can have found 0.
    assert_not_linearizable(&format!(
        r#"{start}{{"id":2,"process":2,"type":"invoke","f":"cas","key":"c","expected":0,"value":2}}
{{"id":2,"process":2,"type":"ok","f":"cas","key":"c","expected":0,"value":2,"swapped":true}}"#
    ));
}

#[test]
fn failed_cas_is_an_observation() {
    // The cas ran after the put completed, found 1, and yet did not swap.
    assert_not_linearizable(
        r#"
{"id":0,"process":0,"type":"invoke","f":"put","key":"c","value":1}
{"id":0,"process":0,"type":"ok","f":"put","key":"c","value":1}
{"id":1,"process":1,"type":"invoke","f":"cas","key":"c","expected":1,"value":3}
{"id":1,"process":1,"type":"ok","f":"cas","key":"c","expected":1,"value":3,"swapped":false}
"#,
    );
    // Concurrent with the put, it may have run first and found null.
    assert_linearizable(
        r#"
{"id":0,"process":0,"type":"invoke","f":"put","key":"c","value":1}
{"id":1,"process":1,"type":"invoke","f":"cas","key":"c","expected":1,"value":3}
{"id":0,"process":0,"type":"ok","f":"put","key":"c","value":1}
{"id":1,"process":1,"type":"ok","f":"cas","key":"c","expected":1,"value":3,"swapped":false}
{"id":2,"process":1,"type":"invoke","f":"get","key":"c","value":null}
{"id":2,"process":1,"type":"ok","f":"get","key":"c","value":1}
"#,
    );
}

#[test]
fn delete_makes_the_key_absent() {
    let start = r#"
{"id":0,"process":0,"type":"invoke","f":"put","key":"d","value":"v"}
{"id":0,"process":0,"type":"ok","f":"put","key":"d","value":"v"}
{"id":1,"process":0,"type":"invoke","f":"delete","key":"d","value":null}
{"id":1,"process":0,"type":"ok","f":"delete","key":"d","value":null}
{"id":2,"process":1,"type":"invoke","f":"get","key":"d","value":null}
"#;
    assert_linearizable(&format!(r#"{start}{{"id":2,"process":1,"type":"ok","f":"get","key":"d","value":null}}"#));
    assert_not_linearizable(&format!(r#"{start}{{"id":2,"process":1,"type":"ok","f":"get","key":"d","value":"v"}}"#));
}

const CONCURRENT_APPENDS: &str = r#"
{"id":0,"process":0,"type":"invoke","f":"append","key":"l","value":"a"}
{"id":1,"process":1,"type":"invoke","f":"append","key":"l","value":"b"}
{"id":0,"process":0,"type":"ok","f":"append","key":"l","value":"a"}
{"id":1,"process":1,"type":"ok","f":"append","key":"l","value":"b"}
{"id":2,"process":2,"type":"invoke","f":"get","key":"l","value":null}
"#;

#[test]
fn appends_show_their_order() {
    for read in ["ab", "ba"] {
        assert_linearizable(&format!(
            r#"{CONCURRENT_APPENDS}{{"id":2,"process":2,"type":"ok","f":"get","key":"l","value":"{read}"}}"#
        ));
    }
    // Seen in one order, then in the other.
    assert_not_linearizable(&format!(
        r#"{CONCURRENT_APPENDS}{{"id":2,"process":2,"type":"ok","f":"get","key":"l","value":"ab"}}
{{"id":3,"process":2,"type":"invoke","f":"get","key":"l","value":null}}
{{"id":3,"process":2,"type":"ok","f":"get","key":"l","value":"ba"}}"#
    ));
    // Sequential appends in the wrong order, or one lost.
    let sequential = r#"
{"id":0,"process":0,"type":"invoke","f":"append","key":"l","value":"a"}
{"id":0,"process":0,"type":"ok","f":"append","key":"l","value":"a"}
{"id":1,"process":0,"type":"invoke","f":"append","key":"l","value":"b"}
{"id":1,"process":0,"type":"ok","f":"append","key":"l","value":"b"}
{"id":2,"process":1,"type":"invoke","f":"get","key":"l","value":null}
"#;
    assert_linearizable(&format!(r#"{sequential}{{"id":2,"process":1,"type":"ok","f":"get","key":"l","value":"ab"}}"#));
    assert_not_linearizable(&format!(
        r#"{sequential}{{"id":2,"process":1,"type":"ok","f":"get","key":"l","value":"ba"}}"#
    ));
    assert_not_linearizable(&format!(
        r#"{sequential}{{"id":2,"process":1,"type":"ok","f":"get","key":"l","value":"b"}}"#
    ));
}

#[test]
fn unknown_write_seen_later_took_effect() {
    assert_linearizable(
        r#"
{"id":0,"process":0,"type":"invoke","f":"put","key":"x","value":1}
{"id":0,"process":0,"type":"ok","f":"put","key":"x","value":1}
{"id":1,"process":1,"type":"invoke","f":"put","key":"x","value":5}
{"id":1,"process":1,"type":"info","f":"put","key":"x","value":5,"error":"timed-out"}
{"id":2,"process":2,"type":"invoke","f":"get","key":"x","value":null}
{"id":2,"process":2,"type":"ok","f":"get","key":"x","value":5}
"#,
    );
}

#[test]
fn unknown_write_may_never_take_effect() {
    assert_linearizable(
        r#"
{"id":0,"process":0,"type":"invoke","f":"put","key":"x","value":1}
{"id":0,"process":0,"type":"ok","f":"put","key":"x","value":1}
{"id":1,"process":1,"type":"invoke","f":"put","key":"x","value":5}
{"id":1,"process":1,"type":"info","f":"put","key":"x","value":5,"error":"timed-out"}
{"id":2,"process":2,"type":"invoke","f":"get","key":"x","value":null}
{"id":2,"process":2,"type":"ok","f":"get","key":"x","value":1}
"#,
    );
}

#[test]
fn unknown_write_takes_effect_after_its_info_line() {
    // The put of 5 is seen only after a read that still saw 1.
    assert_linearizable(
        r#"
{"id":0,"process":0,"type":"invoke","f":"put","key":"x","value":1}
{"id":0,"process":0,"type":"ok","f":"put","key":"x","value":1}
{"id":1,"process":1,"type":"invoke","f":"put","key":"x","value":5}
{"id":1,"process":1,"type":"info","f":"put","key":"x","value":5}
{"id":2,"process":2,"type":"invoke","f":"get","key":"x","value":null}
{"id":2,"process":2,"type":"ok","f":"get","key":"x","value":1}
{"id":3,"process":2,"type":"invoke","f":"get","key":"x","value":null}
{"id":3,"process":2,"type":"ok","f":"get","key":"x","value":5}
"#,
    );
}

#[test]
fn unknown_write_cannot_be_both_applied_and_not() {
    // 5 is seen, so the put took effect; then 1 is seen again, which needs
    // the put not to have taken effect (nothing writes 1 again).
    assert_not_linearizable(
        r#"
{"id":0,"process":0,"type":"invoke","f":"put","key":"x","value":1}
{"id":0,"process":0,"type":"ok","f":"put","key":"x","value":1}
{"id":1,"process":1,"type":"invoke","f":"put","key":"x","value":5}
{"id":1,"process":1,"type":"info","f":"put","key":"x","value":5}
{"id":2,"process":2,"type":"invoke","f":"get","key":"x","value":null}
{"id":2,"process":2,"type":"ok","f":"get","key":"x","value":5}
{"id":3,"process":2,"type":"invoke","f":"get","key":"x","value":null}
{"id":3,"process":2,"type":"ok","f":"get","key":"x","value":1}
"#,
    );
}

#[test]
fn invoke_without_completion_counts_as_info() {
    let start = r#"
{"id":0,"process":0,"type":"invoke","f":"put","key":"x","value":7}
{"id":1,"process":1,"type":"invoke","f":"get","key":"x","value":null}
{"id":1,"process":1,"type":"ok","f":"get","key":"x","value":null}
{"id":2,"process":1,"type":"invoke","f":"get","key":"x","value":null}
"#;
    assert_linearizable(&format!(r#"{start}{{"id":2,"process":1,"type":"ok","f":"get","key":"x","value":7}}"#));
    assert_not_linearizable(&format!(r#"{start}{{"id":2,"process":1,"type":"ok","f":"get","key":"x","value":8}}"#));
    let h = history(&format!(r#"{start}{{"id":2,"process":1,"type":"ok","f":"get","key":"x","value":7}}"#));
    assert_eq!(h.operations()[0].outcome, Outcome::Info);
    assert_eq!(h.operations()[0].complete_index, None);
}

#[test]
fn unknown_cas_swaps_only_on_its_expected_value() {
    let start = r#"
{"id":0,"process":0,"type":"invoke","f":"put","key":"c","value":1}
{"id":0,"process":0,"type":"ok","f":"put","key":"c","value":1}
{"id":1,"process":1,"type":"invoke","f":"cas","key":"c","expected":1,"value":2}
{"id":1,"process":1,"type":"info","f":"cas","key":"c","expected":1,"value":2}
{"id":2,"process":0,"type":"invoke","f":"get","key":"c","value":null}
"#;
    assert_linearizable(&format!(r#"{start}{{"id":2,"process":0,"type":"ok","f":"get","key":"c","value":2}}"#));
    // Expecting 3 instead: it could never have swapped.
    assert_not_linearizable(&format!(
        r#"{}{{"id":2,"process":0,"type":"ok","f":"get","key":"c","value":2}}"#,
        start.replace(r#""expected":1"#, r#""expected":3"#)
    ));
}

#[test]
fn unknown_append_is_visible_or_not() {
    let start = r#"
{"id":0,"process":0,"type":"invoke","f":"append","key":"l","value":"a"}
{"id":0,"process":0,"type":"ok","f":"append","key":"l","value":"a"}
{"id":1,"process":1,"type":"invoke","f":"append","key":"l","value":"b"}
{"id":1,"process":1,"type":"info","f":"append","key":"l","value":"b"}
{"id":2,"process":0,"type":"invoke","f":"append","key":"l","value":"c"}
{"id":2,"process":0,"type":"ok","f":"append","key":"l","value":"c"}
{"id":3,"process":2,"type":"invoke","f":"get","key":"l","value":null}
"#;
    for read in ["ac", "abc", "acb"] {
        assert_linearizable(&format!(
            r#"{start}{{"id":3,"process":2,"type":"ok","f":"get","key":"l","value":"{read}"}}"#
        ));
    }
    assert_not_linearizable(&format!(r#"{start}{{"id":3,"process":2,"type":"ok","f":"get","key":"l","value":"bac"}}"#));
    assert_not_linearizable(&format!(
        r#"{start}{{"id":3,"process":2,"type":"ok","f":"get","key":"l","value":"abbc"}}"#
    ));
}

#[test]
fn failed_operations_took_no_effect() {
    assert_not_linearizable(
        r#"
{"id":0,"process":0,"type":"invoke","f":"put","key":"x","value":9}
{"id":0,"process":0,"type":"fail","f":"put","key":"x","value":9,"error":"not-leader"}
{"id":1,"process":1,"type":"invoke","f":"get","key":"x","value":null}
{"id":1,"process":1,"type":"ok","f":"get","key":"x","value":9}
"#,
    );
}

#[test]
fn a_client_goes_on_after_an_unknown_outcome() {
    assert_linearizable(
        r#"
{"id":0,"process":0,"type":"invoke","f":"put","key":"x","value":1}
{"id":0,"process":0,"type":"info","f":"put","key":"x","value":1}
{"id":1,"process":0,"type":"invoke","f":"put","key":"x","value":2}
{"id":1,"process":0,"type":"ok","f":"put","key":"x","value":2}
{"id":2,"process":0,"type":"invoke","f":"get","key":"x","value":null}
{"id":2,"process":0,"type":"ok","f":"get","key":"x","value":1}
"#,
    );
}

#[test]
fn keys_are_checked_apart_and_the_refuted_one_is_named() {
    let text = r#"
{"id":0,"process":0,"type":"invoke","f":"put","key":"a","value":1}
{"id":1,"process":1,"type":"invoke","f":"put","key":"b","value":1}
{"id":0,"process":0,"type":"ok","f":"put","key":"a","value":1}
{"id":1,"process":1,"type":"ok","f":"put","key":"b","value":1}
{"id":2,"process":0,"type":"invoke","f":"get","key":"b","value":null}
{"id":3,"process":1,"type":"invoke","f":"get","key":"a","value":null}
{"id":2,"process":0,"type":"ok","f":"get","key":"b","value":1}
{"id":3,"process":1,"type":"ok","f":"get","key":"a","value":null}
"#;
    assert_eq!(assert_not_linearizable(text), "a");
    // A value of one key says nothing about another.
    assert_linearizable(&text.replace(r#""key":"a","value":null}"#, r#""key":"a","value":1}"#).replace(
        r#"{"id":3,"process":1,"type":"invoke","f":"get","key":"a","value":1}"#,
        r#"{"id":3,"process":1,"type":"invoke","f":"get","key":"a","value":null}"#,
    ));
}

// In the style of Jepsen's etcd register test: one register, reads, writes
// and compare-and-set from five processes, some timing out.
const JEPSEN_REGISTER: &str = r#"
{"id":0,"process":0,"type":"invoke","f":"put","key":"r","value":3}
{"id":1,"process":1,"type":"invoke","f":"get","key":"r","value":null}
{"id":2,"process":2,"type":"invoke","f":"cas","key":"r","expected":3,"value":1}
{"id":0,"process":0,"type":"ok","f":"put","key":"r","value":3}
{"id":1,"process":1,"type":"ok","f":"get","key":"r","value":3}
{"id":3,"process":3,"type":"invoke","f":"put","key":"r","value":4}
{"id":2,"process":2,"type":"ok","f":"cas","key":"r","expected":3,"value":1,"swapped":true}
{"id":4,"process":4,"type":"invoke","f":"get","key":"r","value":null}
{"id":4,"process":4,"type":"ok","f":"get","key":"r","value":1}
{"id":5,"process":0,"type":"invoke","f":"cas","key":"r","expected":4,"value":0}
{"id":3,"process":3,"type":"info","f":"put","key":"r","value":4,"error":"timed-out"}
{"id":6,"process":1,"type":"invoke","f":"get","key":"r","value":null}
{"id":5,"process":0,"type":"ok","f":"cas","key":"r","expected":4,"value":0,"swapped":true}
{"id":6,"process":1,"type":"ok","f":"get","key":"r","value":0}
{"id":7,"process":2,"type":"invoke","f":"cas","key":"r","expected":0,"value":2}
{"id":8,"process":3,"type":"invoke","f":"get","key":"r","value":null}
{"id":7,"process":2,"type":"ok","f":"cas","key":"r","expected":0,"value":2,"swapped":true}
{"id":8,"process":3,"type":"ok","f":"get","key":"r","value":2}
{"id":9,"process":4,"type":"invoke","f":"cas","key":"r","expected":1,"value":3}
{"id":9,"process":4,"type":"ok","f":"cas","key":"r","expected":1,"value":3,"swapped":false}
"#;

#[test]
fn jepsen_register_with_a_timed_out_write() {
    // The timed-out put of 4 must have taken effect: the cas 4 -> 0 swapped.
    assert_linearizable(JEPSEN_REGISTER);
}

#[test]
fn jepsen_register_lost_update() {
    // The last cas claims to have found 1 long after 1 was overwritten.
    assert_not_linearizable(
        &JEPSEN_REGISTER
            .replace(r#""expected":1,"value":3,"swapped":false}"#, r#""expected":1,"value":3,"swapped":true}"#),
    );
    // Or the timed-out put never happened, yet the cas found 4.
    assert_not_linearizable(
        &JEPSEN_REGISTER
            .replace(
                "\n{\"id\":3,\"process\":3,\"type\":\"invoke\",\"f\":\"put\",\"key\":\"r\",\"value\":4}",
                "\n{\"id\":3,\"process\":3,\"type\":\"invoke\",\"f\":\"put\",\"key\":\"r\",\"value\":5}",
            )
            .replace(
                r#"{"id":3,"process":3,"type":"info","f":"put","key":"r","value":4,"error":"timed-out"}"#,
                r#"{"id":3,"process":3,"type":"info","f":"put","key":"r","value":5}"#,
            ),
    );
}

// In the style of a 6.824 KV lab test: clients append to keys concurrently
// and read them back; a read must show every completed append once, in an
// order consistent with real time.
const KV_LAB: &str = r#"
{"id":0,"process":0,"type":"invoke","f":"append","key":"k0","value":"x 0 0 y"}
{"id":1,"process":1,"type":"invoke","f":"append","key":"k0","value":"x 1 0 y"}
{"id":2,"process":2,"type":"invoke","f":"append","key":"k1","value":"x 2 0 y"}
{"id":1,"process":1,"type":"ok","f":"append","key":"k0","value":"x 1 0 y"}
{"id":3,"process":1,"type":"invoke","f":"append","key":"k0","value":"x 1 1 y"}
{"id":0,"process":0,"type":"ok","f":"append","key":"k0","value":"x 0 0 y"}
{"id":2,"process":2,"type":"ok","f":"append","key":"k1","value":"x 2 0 y"}
{"id":4,"process":2,"type":"invoke","f":"get","key":"k0","value":null}
{"id":4,"process":2,"type":"ok","f":"get","key":"k0","value":"x 1 0 yx 0 0 y"}
{"id":3,"process":1,"type":"info","f":"append","key":"k0","value":"x 1 1 y","error":"timed-out"}
{"id":5,"process":0,"type":"invoke","f":"append","key":"k1","value":"x 0 1 y"}
{"id":5,"process":0,"type":"ok","f":"append","key":"k1","value":"x 0 1 y"}
{"id":6,"process":1,"type":"invoke","f":"append","key":"k0","value":"x 1 2 y"}
{"id":7,"process":2,"type":"invoke","f":"get","key":"k1","value":null}
{"id":6,"process":1,"type":"ok","f":"append","key":"k0","value":"x 1 2 y"}
{"id":7,"process":2,"type":"ok","f":"get","key":"k1","value":"x 2 0 yx 0 1 y"}
{"id":8,"process":0,"type":"invoke","f":"get","key":"k0","value":null}
{"id":8,"process":0,"type":"ok","f":"get","key":"k0","value":"x 1 0 yx 0 0 yx 1 1 yx 1 2 y"}
"#;

#[test]
fn kv_lab_appends() {
    assert_linearizable(KV_LAB);
}

#[test]
fn kv_lab_duplicated_append() {
    // The timed-out append was retried and applied twice.
    assert_eq!(assert_not_linearizable(&KV_LAB.replace("x 1 1 yx 1 2 y\"}", "x 1 1 yx 1 1 yx 1 2 y\"}")), "k0");
}

#[test]
fn kv_lab_append_lost() {
    assert_not_linearizable(&KV_LAB.replace("\"x 2 0 yx 0 1 y\"}", "\"x 0 1 y\"}"));
}

#[test]
fn budget_ends_in_unknown() {
    let text = KV_LAB;
    let h = history(text);
    assert_eq!(check(&h, Budget::steps(0)), Verdict::Unknown { keys_unfinished: vec!["k0".into(), "k1".into()] });
    assert!(matches!(check(&h, Budget::time(Duration::ZERO)), Verdict::Unknown { .. }));
    let (verdict, stats) = check_with_stats(&h, Budget::unlimited());
    assert_eq!(verdict, Verdict::Linearizable);
    assert!(stats.steps > 0);
    assert_eq!(stats.keys, 2);
    assert_eq!(stats.ops_checked, 9);
    // A thousand steps are plenty for eight operations.
    assert_eq!(check(&h, Budget::steps(1_000)), Verdict::Linearizable);
    assert_eq!(
        Verdict::Unknown { keys_unfinished: vec!["k0".into(), "k1".into()] }.to_string(),
        r#"unknown: the budget ran out before deciding keys "k0", "k1""#
    );
}

#[test]
fn empty_history_is_linearizable() {
    assert_eq!(check(&history(""), Budget::default()), Verdict::Linearizable);
    assert_eq!(Verdict::Linearizable.to_string(), "linearizable");
}
