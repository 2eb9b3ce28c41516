//! Snapshots: round trip, determinism, validation of untrusted bytes.

use super::*;
use crate::codec::{put_len, put_str, put_u8, put_value, put_varint};
use crate::snapshot::put_recorded;
use crate::store::Recorded;

/// A state with data of every type, several sessions (one expired), kept
/// results of every kind and a type mismatch.
fn busy_log() -> (Log, SessionId) {
    let mut log = Log::new(3);
    let gone = log.register();
    let a = log.register();
    let b = log.register();
    let _ = log.run(a, 1, 1, put("int", -42));
    let _ = log.run(a, 2, 1, append("str", "héllo"));
    let _ = log.run(b, 7, 7, cas("int", Value::Int(-42), Value::Int(i64::MAX)));
    let _ = log.run(b, 8, 7, cas("int", Value::Null, Value::Int(0)));
    let _ = log.run(b, 9, 7, get("str"));
    let _ = log.run(b, 10, 7, append("int", "x"));
    let _ = log.run(a, 3, 2, delete("nothing"));
    let _ = log.register(); // expires `gone`
    assert!(!log.kv.has_session(gone));
    (log, a)
}

/// `(id, last_active, lowest_unacked, results)`.
type RawSession = (u64, u64, u64, Vec<(u64, Recorded)>);

/// A snapshot written field by field, to forge invalid ones.
struct Raw {
    applied: u64,
    max: usize,
    keys: Vec<(String, Value)>,
    sessions: Vec<RawSession>,
}

impl Raw {
    fn valid() -> Raw {
        Raw {
            applied: 10,
            max: 4,
            keys: vec![("a".into(), Value::Int(1)), ("b".into(), s("x"))],
            sessions: vec![(2, 5, 1, vec![(1, Recorded::Done(OpResult::Ok))]), (3, 9, 0, Vec::new())],
        }
    }

    fn encode(&self) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(b"RKVS");
        put_u8(&mut b, 1);
        put_varint(&mut b, self.applied);
        put_len(&mut b, self.max);
        put_len(&mut b, self.keys.len());
        for (k, v) in &self.keys {
            put_str(&mut b, k);
            put_value(&mut b, v);
        }
        put_len(&mut b, self.sessions.len());
        for (id, last, low, results) in &self.sessions {
            put_varint(&mut b, *id);
            put_varint(&mut b, *last);
            put_varint(&mut b, *low);
            put_len(&mut b, results.len());
            for (seq, r) in results {
                put_varint(&mut b, *seq);
                put_recorded(&mut b, r);
            }
        }
        b
    }
}

#[test]
fn round_trip_preserves_data_sessions_and_dedupe() {
    let (mut log, a) = busy_log();
    let bytes = log.kv.snapshot();
    let mut restored = KvStateMachine::restore(&bytes).expect("restores");
    assert_eq!(restored, log.kv);
    assert_eq!(restored.snapshot(), bytes);
    assert_eq!(restored.state_digest(), log.kv.state_digest());
    assert_eq!(restored.applied_index(), log.kv.applied_index());
    assert_eq!(restored.config(), KvConfig { max_sessions: 3 });
    assert_eq!(restored.read("str"), s("héllo"));
    // A retry after restore still dedupes, on both copies alike.
    let retry = Command::Client { session: a, seq: 2, lowest_unacked: 1, op: append("str", "héllo") }.encode();
    let next = log.index + 1;
    assert_eq!(restored.apply(next, &retry), ApplyOutcome::Duplicate(OpResult::Ok));
    assert_eq!(log.apply_bytes(&retry), ApplyOutcome::Duplicate(OpResult::Ok));
    assert_eq!(restored.read("str"), s("héllo"));
    assert_eq!(restored, log.kv);
}

#[test]
fn restored_copy_continues_identically() {
    let (mut log, a) = busy_log();
    let mut copy = Log { kv: KvStateMachine::restore(&log.kv.snapshot()).unwrap(), index: log.index };
    for seq in 4..40 {
        let command = Command::Client { session: a, seq, lowest_unacked: seq - 1, op: append("str", "!") };
        assert_eq!(log.apply(&command), copy.apply(&command));
        if seq % 9 == 0 {
            assert_eq!(log.apply(&Command::RegisterClient), copy.apply(&Command::RegisterClient));
        }
    }
    assert_eq!(log.kv.snapshot(), copy.kv.snapshot());
}

#[test]
fn same_state_gives_same_bytes_whatever_the_insertion_order() {
    let build = |keys: &[&str]| {
        let mut log = Log::new(4);
        let c = log.register();
        for (i, k) in keys.iter().enumerate() {
            let _ = log.run(c, i as u64 + 1, 1, put(k, 1));
        }
        log.kv.snapshot()
    };
    assert_eq!(build(&["a", "b", "c", "d"]), build(&["d", "b", "a", "c"]));
    let empty = KvStateMachine::new(KvConfig::default());
    assert_eq!(empty.snapshot(), KvStateMachine::new(KvConfig::default()).snapshot());
    assert_eq!(KvStateMachine::restore(&empty.snapshot()), Ok(empty));
}

#[test]
fn golden_empty_snapshot_bytes() {
    // Pins version 1: magic, version, applied 0, max_sessions 4096 (varint
    // 0x80 0x20), no keys, no sessions.
    let kv = KvStateMachine::new(KvConfig::default());
    assert_eq!(&kv.snapshot()[..], b"RKVS\x01\x00\x80\x20\x00\x00");
}

#[test]
fn digest_ignores_applied_index_but_not_state() {
    let mut a = KvStateMachine::new(KvConfig::default());
    let b = KvStateMachine::new(KvConfig::default());
    a.apply_noop(5).unwrap();
    assert_eq!(a.state_digest(), b.state_digest());
    assert_ne!(a.snapshot(), b.snapshot());
    let _ = a.apply(6, &Command::RegisterClient.encode());
    assert_ne!(a.state_digest(), b.state_digest());
    let c = KvStateMachine::new(KvConfig { max_sessions: 5 });
    assert_ne!(c.state_digest(), b.state_digest(), "the configuration is state");
}

#[test]
fn every_strict_prefix_is_refused() {
    let (log, _) = busy_log();
    let bytes = log.kv.snapshot();
    for len in 0..bytes.len() {
        assert!(KvStateMachine::restore(&bytes[..len]).is_err(), "prefix of {len} bytes restored");
    }
}

#[test]
fn random_bytes_are_refused_without_panic() {
    let mut rng = SplitMix(0x5EED);
    for _ in 0..3000 {
        let data = rng.bytes(64);
        assert!(KvStateMachine::restore(&data).is_err());
        // Behind a valid header the body is parsed deeper.
        let mut framed = b"RKVS\x01".to_vec();
        framed.extend_from_slice(&data);
        crate::fuzzing::restore_snapshot(&framed);
    }
}

#[test]
fn every_single_byte_mutation_restores_validly_or_errors() {
    let (log, _) = busy_log();
    let bytes = log.kv.snapshot().to_vec();
    for i in 0..bytes.len() {
        for delta in [1u8, 0x80, 0xff] {
            let mut m = bytes.clone();
            m[i] = m[i].wrapping_add(delta);
            crate::fuzzing::restore_snapshot(&m);
        }
    }
}

#[test]
fn forged_snapshots_are_refused_with_the_reason() {
    assert!(KvStateMachine::restore(&Raw::valid().encode()).is_ok());
    let check = |edit: &dyn Fn(&mut Raw), expected: SnapshotError| {
        let mut raw = Raw::valid();
        edit(&mut raw);
        assert_eq!(KvStateMachine::restore(&raw.encode()), Err(expected));
    };
    let malformed = |what| SnapshotError::Malformed { what };
    let invariant = SnapshotError::Invariant;
    check(&|r| r.keys.reverse(), malformed("keys not strictly increasing"));
    check(&|r| r.keys[1].0 = "a".into(), malformed("keys not strictly increasing"));
    check(&|r| r.keys[0].1 = Value::Null, invariant(InvariantViolation::NullStored));
    check(&|r| r.sessions.reverse(), malformed("session ids not strictly increasing"));
    check(&|r| r.sessions[1].1 = 5, malformed("two sessions share a last-active index"));
    check(&|r| r.sessions[0].3.push((1, Recorded::TypeMismatch)), malformed("result seqs not strictly increasing"));
    check(&|r| r.sessions[0].2 = 2, invariant(InvariantViolation::ResultBelowLowestUnacked));
    check(&|r| r.sessions[1].0 = 11, invariant(InvariantViolation::SessionIdOutOfRange));
    check(&|r| r.sessions[0].0 = 0, invariant(InvariantViolation::SessionIdOutOfRange));
    check(&|r| r.sessions[1].1 = 11, invariant(InvariantViolation::LastActiveOutOfRange));
    check(&|r| r.sessions[1].1 = 1, invariant(InvariantViolation::LastActiveOutOfRange));
    check(&|r| r.max = 1, invariant(InvariantViolation::TooManySessions));
    check(
        &|r| {
            r.max = 0;
            r.sessions.clear();
        },
        invariant(InvariantViolation::ZeroMaxSessions),
    );
    check(
        &|r| r.sessions[0].3 = (1..=1025).map(|seq| (seq, Recorded::Done(OpResult::Ok))).collect(),
        invariant(InvariantViolation::TooManyResults),
    );

    let mut bytes = Raw::valid().encode();
    bytes.push(0);
    assert_eq!(KvStateMachine::restore(&bytes), Err(SnapshotError::Decode(DecodeError::TrailingBytes { count: 1 })));
    assert_eq!(KvStateMachine::restore(b"RKVX\x01"), Err(SnapshotError::BadMagic));
    assert_eq!(KvStateMachine::restore(b"RKV"), Err(SnapshotError::BadMagic));
    assert_eq!(KvStateMachine::restore(b"RKVS\x02\x00"), Err(SnapshotError::UnsupportedVersion { found: 2 }));
    // A forged count far beyond the input is refused before any loop runs.
    let forged = b"RKVS\x01\x00\x01\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01";
    assert!(matches!(KvStateMachine::restore(forged), Err(SnapshotError::Decode(DecodeError::Truncated { .. }))));
}
