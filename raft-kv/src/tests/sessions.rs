//! Client sessions: exactly-once writes and expiry. Reference: Raft thesis
//! §6.3.

use super::*;
use crate::session::MAX_RESULTS_PER_SESSION;

fn results_kept(kv: &KvStateMachine, session: SessionId) -> Vec<u64> {
    kv.sessions
        .iter()
        .find(|(id, _)| *id == session)
        .map(|(_, s)| s.results.keys().copied().collect())
        .unwrap_or_default()
}

#[test]
fn session_id_is_index_of_register_entry() {
    let mut log = Log::new(8);
    log.apply_noop_for_test(3);
    assert_eq!(log.register(), SessionId(4));
    assert_eq!(log.register(), SessionId(5), "a second RegisterClient opens another session");
    assert_eq!(log.kv.session_count(), 2);
}

impl Log {
    fn apply_noop_for_test(&mut self, count: u64) {
        for _ in 0..count {
            self.index += 1;
            assert_eq!(self.kv.apply_noop(self.index), Ok(()));
        }
    }
}

#[test]
fn retried_write_applies_once_and_gets_original_result() {
    let mut log = Log::new(8);
    let c = log.register();
    assert_eq!(log.run(c, 1, 1, append("k", "a")), ApplyOutcome::Applied(OpResult::Ok));
    assert_eq!(log.run(c, 1, 1, append("k", "a")), ApplyOutcome::Duplicate(OpResult::Ok));
    assert_eq!(log.kv.read("k"), s("a"));
    // A cas's duplicate reports the original observation, not a new one.
    assert_eq!(
        log.run(c, 2, 1, cas("k", s("a"), s("b"))),
        ApplyOutcome::Applied(OpResult::Cas { swapped: true, found: s("a") })
    );
    assert_eq!(
        log.run(c, 2, 1, cas("k", s("a"), s("b"))),
        ApplyOutcome::Duplicate(OpResult::Cas { swapped: true, found: s("a") })
    );
    assert_eq!(log.kv.read("k"), s("b"));
}

#[test]
fn retries_dedupe_with_many_commands_in_flight_and_others_between() {
    let mut log = Log::new(8);
    let c = log.register();
    let other = log.register();
    // Five appends in flight (nothing acknowledged), each returning a
    // distinct get between them.
    let mut originals = Vec::new();
    for seq in 1..=5 {
        assert_eq!(log.run(c, seq * 2 - 1, 1, append("k", &seq.to_string())), ApplyOutcome::Applied(OpResult::Ok));
        let ApplyOutcome::Applied(r) = log.run(c, seq * 2, 1, get("k")) else { panic!() };
        originals.push((seq * 2, r));
        // Another client writes in between.
        assert!(matches!(log.run(other, seq, seq, append("o", "x")), ApplyOutcome::Applied(_)));
    }
    assert_eq!(log.kv.read("k"), s("12345"));
    // Retries in any order: none applies again; each get gets its original.
    for seq in [3, 9, 1, 5, 7, 3] {
        assert_eq!(log.run(c, seq, 1, append("k", "?")), ApplyOutcome::Duplicate(OpResult::Ok));
    }
    for (seq, r) in originals.iter().rev() {
        assert_eq!(log.run(c, *seq, 1, get("k")), ApplyOutcome::Duplicate(r.clone()));
    }
    assert_eq!(log.kv.read("k"), s("12345"));
    assert_eq!(log.kv.read("o"), s("xxxxx"));
}

#[test]
fn acknowledged_results_are_discarded_and_retry_is_stale() {
    let mut log = Log::new(8);
    let c = log.register();
    for seq in 1..=5 {
        let _ = log.run(c, seq, 1, append("k", "x"));
    }
    assert_eq!(results_kept(&log.kv, c), [1, 2, 3, 4, 5]);
    // The client has the responses of 1..=3.
    assert_eq!(log.run(c, 6, 4, append("k", "x")), ApplyOutcome::Applied(OpResult::Ok));
    assert_eq!(results_kept(&log.kv, c), [4, 5, 6]);
    // A late copy of seq 2 (still carrying its old lowest_unacked).
    let before = log.kv.store.clone();
    assert_eq!(log.run(c, 2, 1, append("k", "x")), ApplyOutcome::StaleSequence);
    assert_eq!(log.kv.store, before, "a stale sequence is not applied");
    // 4 is still remembered.
    assert_eq!(log.run(c, 4, 1, append("k", "x")), ApplyOutcome::Duplicate(OpResult::Ok));
    // lowest_unacked never goes back down.
    assert_eq!(results_kept(&log.kv, c), [4, 5, 6]);
}

#[test]
fn results_stay_bounded_when_client_acknowledges() {
    let mut log = Log::new(2);
    let c = log.register();
    for seq in 1..=2000 {
        assert_eq!(log.run(c, seq, seq, put("k", seq as i64)), ApplyOutcome::Applied(OpResult::Ok));
        assert_eq!(results_kept(&log.kv, c), [seq]);
    }
    // The snapshot stays small: one result, one key, one session.
    assert!(log.kv.snapshot().len() < 64, "{}", log.kv.snapshot().len());
}

#[test]
fn too_many_in_flight_is_rejected_until_acknowledged() {
    let mut log = Log::new(2);
    let c = log.register();
    let limit = MAX_RESULTS_PER_SESSION as u64;
    for seq in 1..=limit {
        assert_eq!(log.run(c, seq, 1, append("k", "x")), ApplyOutcome::Applied(OpResult::Ok));
    }
    let over = limit + 1;
    assert_eq!(
        log.run(c, over, 1, append("k", "x")),
        ApplyOutcome::Rejected(KvError::TooManyInFlight { limit: MAX_RESULTS_PER_SESSION })
    );
    assert_eq!(log.kv.read("k"), Value::Str("x".repeat(MAX_RESULTS_PER_SESSION)));
    // Retries of recorded ones still dedupe at the limit.
    assert_eq!(log.run(c, 5, 1, append("k", "x")), ApplyOutcome::Duplicate(OpResult::Ok));
    // After acknowledging one, the rejected command applies on retry.
    assert_eq!(log.run(c, over, 2, append("k", "y")), ApplyOutcome::Applied(OpResult::Ok));
    assert_eq!(results_kept(&log.kv, c).len(), MAX_RESULTS_PER_SESSION);
}

#[test]
fn lowest_unacked_above_seq_is_rejected_and_touches_nothing() {
    let mut log = Log::new(8);
    let c = log.register();
    let _ = log.run(c, 1, 1, put("k", 1));
    let sessions = log.kv.sessions.clone();
    let store = log.kv.store.clone();
    assert_eq!(
        log.run(c, 2, 3, put("k", 2)),
        ApplyOutcome::Rejected(KvError::InvalidSequence { seq: 2, lowest_unacked: 3 })
    );
    assert_eq!((&log.kv.sessions, &log.kv.store), (&sessions, &store));
}

#[test]
fn unknown_session_is_expired_and_not_applied() {
    let mut log = Log::new(8);
    let _ = log.register();
    for id in [0, 2, 1000] {
        assert_eq!(log.run(SessionId(id), 1, 1, put("k", 1)), ApplyOutcome::SessionExpired);
    }
    assert!(log.kv.is_empty());
    assert_eq!(log.kv.session_count(), 1);
}

#[test]
fn expiry_is_least_recently_used_by_last_command_index() {
    let mut log = Log::new(2);
    let a = log.register(); // index 1
    let b = log.register(); // index 2
    let _ = log.run(a, 1, 1, put("k", 1)); // a is now more recent than b
    let c = log.register(); // expires b
    assert!(log.kv.has_session(a) && log.kv.has_session(c) && !log.kv.has_session(b));
    assert_eq!(log.run(b, 1, 1, put("k", 2)), ApplyOutcome::SessionExpired);
    assert_eq!(log.kv.read("k"), Value::Int(1), "an expired session's command is not applied");
    // A duplicate counts as activity too: a's retry makes c the oldest.
    assert_eq!(log.run(a, 1, 1, put("k", 1)), ApplyOutcome::Duplicate(OpResult::Ok));
    let d = log.register();
    assert!(log.kv.has_session(a) && log.kv.has_session(d) && !log.kv.has_session(c));
    // An expired session's retry cannot dedupe any more: SessionExpired.
    assert_eq!(log.run(c, 1, 1, put("k", 1)), ApplyOutcome::SessionExpired);
}

#[test]
fn expiry_without_activity_is_registration_order() {
    let mut log = Log::new(3);
    let ids: Vec<SessionId> = (0..6).map(|_| log.register()).collect();
    let live: Vec<bool> = ids.iter().map(|id| log.kv.has_session(*id)).collect();
    assert_eq!(live, [false, false, false, true, true, true]);
}

#[test]
fn expiry_is_deterministic_across_replicas() {
    // The same log with different histories of local reads gives the same
    // live sessions: expiry depends on the log alone.
    let run = |reads: bool| {
        let mut log = Log::new(3);
        let mut ids = Vec::new();
        for i in 0..20u64 {
            if i % 4 == 0 {
                ids.push(log.register());
            } else if let Some(id) = ids.get((i as usize * 7) % ids.len()) {
                let _ = log.run(*id, i, i, put("k", i as i64));
            }
            if reads {
                let _ = log.kv.read("k");
            }
        }
        let live: Vec<SessionId> = log.kv.sessions.iter().map(|(id, _)| id).collect();
        (live, log.kv.snapshot())
    };
    assert_eq!(run(false), run(true));
}

#[test]
fn max_sessions_zero_is_treated_as_one() {
    let mut log = Log::new(0);
    let a = log.register();
    assert!(log.kv.has_session(a));
    let b = log.register();
    assert!(log.kv.has_session(b) && !log.kv.has_session(a));
    assert_eq!(log.kv.config().max_sessions, 1);
}

#[test]
fn undecodable_entry_is_a_noop_with_rejection() {
    let mut log = Log::new(8);
    let _ = log.run_once(put("k", 1));
    let before = (log.kv.store.clone(), log.kv.sessions.clone());
    for garbage in [&b""[..], b"\x01", b"\x09\x00", b"\x01\x01\xff"] {
        assert!(matches!(log.apply_bytes(garbage), ApplyOutcome::Rejected(KvError::Decode(_))), "{garbage:?}");
    }
    assert_eq!((log.kv.store.clone(), log.kv.sessions.clone()), before);
}

#[test]
fn stale_index_is_refused_without_change() {
    let mut log = Log::new(8);
    let c = log.register();
    let _ = log.run(c, 1, 1, put("k", 1));
    let before = log.kv.clone();
    let again = Command::Client { session: c, seq: 2, lowest_unacked: 1, op: put("k", 2) }.encode();
    assert_eq!(log.kv.apply(2, &again), ApplyOutcome::Rejected(KvError::StaleIndex { index: 2, applied: 2 }));
    assert_eq!(log.kv.apply(1, &again), ApplyOutcome::Rejected(KvError::StaleIndex { index: 1, applied: 2 }));
    assert_eq!(log.kv.apply_noop(0), Err(KvError::StaleIndex { index: 0, applied: 2 }));
    assert_eq!(log.kv, before);
    // Gaps are fine.
    assert_eq!(log.kv.apply(10, &again), ApplyOutcome::Applied(OpResult::Ok));
    assert_eq!(log.kv.applied_index(), 10);
}

#[test]
fn client_session_drives_exactly_once() {
    let mut log = Log::new(8);
    let mut client = ClientSession::new(log.register());
    let first = client.start(append("k", "a"));
    let second = client.start(append("k", "b"));
    assert_eq!(client.in_flight(), 2);
    assert_eq!(log.apply(&second), ApplyOutcome::Applied(OpResult::Ok));
    client.acknowledge(2);
    assert_eq!(client.lowest_unacked(), 1, "seq 1 is still outstanding");
    assert_eq!(log.apply(&client.retry(&first)), ApplyOutcome::Applied(OpResult::Ok));
    assert_eq!(log.apply(&client.retry(&first)), ApplyOutcome::Duplicate(OpResult::Ok));
    client.acknowledge(1);
    assert_eq!(client.lowest_unacked(), 3);
    let third = client.start(get("k"));
    assert_eq!(log.apply(&third), ApplyOutcome::Applied(OpResult::Value(s("ba"))));
    // seq 3 carried lowest_unacked 3: results 1 and 2 are gone.
    assert_eq!(results_kept(&log.kv, client.session()), [3]);
    // A retry of an acknowledged command stays valid (lowest_unacked <= seq).
    assert_eq!(log.apply(&client.retry(&first)), ApplyOutcome::StaleSequence);
    assert_eq!(
        log.apply(&client.retry(&Command::RegisterClient)),
        ApplyOutcome::Registered { session: SessionId(log.index) }
    );
}
