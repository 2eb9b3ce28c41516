//! Bodies of fuzz targets for this crate. They live here so that `cargo
//! test` runs them too (over generated inputs) on stable Rust.

use crate::{ApplyOutcome, Command, KvConfig, KvStateMachine, Op, SessionId, Value};

/// Target `kv_decode_command`: decoding arbitrary bytes never panics, and a
/// command that decodes re-encodes to the same bytes (the encoding is
/// canonical).
pub fn decode_command(data: &[u8]) {
    if let Ok(command) = Command::decode(data) {
        let again = command.encode();
        assert_eq!(&again[..], data, "re-encoding changed the bytes");
        assert_eq!(Command::decode(&again).as_ref(), Ok(&command));
    }
}

/// Target `kv_restore`: restoring arbitrary bytes never panics, and a
/// snapshot that restores is valid and re-encodes to the same bytes.
pub fn restore_snapshot(data: &[u8]) {
    if let Ok(kv) = KvStateMachine::restore(data) {
        assert_eq!(kv.check_invariants(), Ok(()));
        assert_eq!(&kv.snapshot()[..], data, "re-encoding changed the bytes");
    }
}

/// Target `kv_apply`: a log built from arbitrary bytes (registrations,
/// commands of live, expired and unknown sessions, retries, garbage
/// entries, index gaps) applied to a fresh state machine. Invariants hold
/// after every entry, outcomes are consistent with the command, and
/// snapshot/restore reproduces the state at the end.
pub fn apply_log(data: &[u8]) {
    let max_sessions = 1 + usize::from(data.first().copied().unwrap_or(0) % 4);
    let mut kv = KvStateMachine::new(KvConfig { max_sessions });
    let mut index = 0u64;
    let mut registered: Vec<SessionId> = Vec::new();
    for chunk in data.chunks_exact(4) {
        let [a, b, c, d] = [chunk[0], chunk[1], chunk[2], chunk[3]];
        index += 1 + u64::from(a >> 6);
        let payload = match a & 7 {
            0 => Command::RegisterClient.encode(),
            7 => bytes::Bytes::copy_from_slice(chunk),
            kind => {
                // One id past the registered ones names a session that never existed.
                let pick = usize::from(b) % (registered.len() + 1);
                let session = registered.get(pick).copied().unwrap_or(SessionId(index + 1000));
                let seq = u64::from(c % 16);
                let lowest_unacked = u64::from(d % 16);
                let key = ["x", "y"][usize::from(d >> 7)].to_owned();
                let op = match kind {
                    1 => Op::Get { key },
                    2 => Op::Put { key, value: Value::Int(i64::from(b)) },
                    3 => Op::Delete { key },
                    4 => Op::Cas { key, expected: Value::Int(i64::from(c & 1)), new: Value::Int(i64::from(d & 1)) },
                    5 => Op::Append { key, suffix: "s".to_owned() },
                    _ => Op::Put { key, value: Value::Str("1".to_owned()) },
                };
                Command::Client { session, seq, lowest_unacked, op }.encode()
            }
        };
        let outcome = kv.apply(index, &payload);
        assert_eq!(kv.applied_index(), index);
        if let ApplyOutcome::Registered { session } = outcome {
            assert_eq!(session, SessionId(index));
            registered.push(session);
        }
        assert_eq!(kv.check_invariants(), Ok(()));
        assert!(kv.session_count() <= max_sessions);
    }
    let snapshot = kv.snapshot();
    let restored = KvStateMachine::restore(&snapshot).expect("a snapshot restores");
    assert_eq!(restored, kv);
    assert_eq!(restored.snapshot(), snapshot);
    assert_eq!(restored.state_digest(), kv.state_digest());
}
