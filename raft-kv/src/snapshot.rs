//! Snapshots: a canonical encoding of the whole state, its validated
//! restore, and the state digest.
//!
//! # Layout (snapshot version 1)
//!
//! ```text
//! magic          4 bytes  "RKVS"
//! version        u8       1
//! applied_index  varint
//! --- the state (what state_digest hashes) ---
//! max_sessions   varint   >= 1
//! key_count      varint
//!   key          string   strictly increasing (byte order)
//!   value        value    never null
//! session_count  varint   <= max_sessions
//!   id           varint   strictly increasing
//!   last_active  varint   in [id, applied_index], unique
//!   lowest_unacked varint
//!   result_count varint   <= MAX_RESULTS_PER_SESSION
//!     seq        varint   strictly increasing, >= lowest_unacked
//!     result     u8 tag: 0 value(value), 1 ok, 2 cas(swapped bool, found value),
//!                3 type mismatch
//! ```
//!
//! Maps are written in key order and every primitive has one encoding, so
//! the same state always gives the same bytes, and restore accepts only
//! canonical bytes: `restore(b)?.snapshot() == b`.

use std::collections::BTreeMap;

use bytes::Bytes;

use crate::codec::{put_bool, put_len, put_str, put_u8, put_value, put_varint, DecodeError, Fnv1a, Reader, Sink};
use crate::command::SessionId;
use crate::error::SnapshotError;
use crate::machine::KvStateMachine;
use crate::session::{Session, Sessions};
use crate::store::{Recorded, Store};
use crate::value::OpResult;

/// The first bytes of every snapshot.
pub const SNAPSHOT_MAGIC: [u8; 4] = *b"RKVS";

/// The snapshot version [`KvStateMachine::snapshot`] writes and
/// [`KvStateMachine::restore`] reads.
pub const SNAPSHOT_FORMAT_VERSION: u8 = 1;

mod result_tag {
    pub(super) const VALUE: u8 = 0;
    pub(super) const OK: u8 = 1;
    pub(super) const CAS: u8 = 2;
    pub(super) const TYPE_MISMATCH: u8 = 3;
}

impl KvStateMachine {
    /// The whole state (data, sessions with their results, configuration,
    /// applied index) as bytes. Deterministic: the same state gives the same
    /// bytes on every replica and platform.
    #[must_use]
    pub fn snapshot(&self) -> Bytes {
        let mut buf = Vec::new();
        buf.put(&SNAPSHOT_MAGIC);
        put_u8(&mut buf, SNAPSHOT_FORMAT_VERSION);
        put_varint(&mut buf, self.applied_index);
        self.encode_state(&mut buf);
        Bytes::from(buf)
    }

    /// A 64-bit FNV-1a hash of the state: data, sessions (with their results
    /// and recency) and configuration, in their snapshot encoding. The
    /// applied index is left out, so replicas that skipped different no-op
    /// entries still compare equal; compare digests of replicas that applied
    /// the same entries.
    #[must_use]
    pub fn state_digest(&self) -> u64 {
        let mut hasher = Fnv1a::new();
        self.encode_state(&mut hasher);
        hasher.0
    }

    fn encode_state(&self, sink: &mut impl Sink) {
        put_len(sink, self.sessions.max());
        let map = self.store.map();
        put_len(sink, map.len());
        for (key, value) in map {
            put_str(sink, key);
            put_value(sink, value);
        }
        put_len(sink, self.sessions.len());
        for (id, session) in self.sessions.iter() {
            put_varint(sink, id.0);
            put_varint(sink, session.last_active);
            put_varint(sink, session.lowest_unacked);
            put_len(sink, session.results.len());
            for (seq, recorded) in &session.results {
                put_varint(sink, *seq);
                put_recorded(sink, recorded);
            }
        }
    }

    /// Rebuilds a state machine from [`snapshot`](Self::snapshot) bytes.
    ///
    /// Validates everything before returning: the encoding (lengths are
    /// checked against the input before anything is read or allocated),
    /// canonical order, and every invariant. Never panics.
    ///
    /// # Errors
    ///
    /// [`SnapshotError`] saying what is wrong.
    pub fn restore(bytes: &[u8]) -> Result<KvStateMachine, SnapshotError> {
        let mut r = Reader::new(bytes);
        if r.bytes(SNAPSHOT_MAGIC.len(), "snapshot.magic").ok() != Some(&SNAPSHOT_MAGIC[..]) {
            return Err(SnapshotError::BadMagic);
        }
        let version = r.u8("snapshot.version")?;
        if version != SNAPSHOT_FORMAT_VERSION {
            return Err(SnapshotError::UnsupportedVersion { found: version });
        }
        let applied_index = r.varint("snapshot.applied_index")?;
        let max_sessions = r.len("snapshot.max_sessions")?;

        let mut map = BTreeMap::new();
        let key_count = r.count("snapshot.key_count")?;
        for _ in 0..key_count {
            let key = r.str("snapshot.key")?;
            if map.last_key_value().is_some_and(|(last, _): (&String, _)| *last >= key) {
                return Err(SnapshotError::Malformed { what: "keys not strictly increasing" });
            }
            let value = r.value("snapshot.value")?;
            map.insert(key, value);
        }

        let mut by_id = BTreeMap::new();
        let session_count = r.count("snapshot.session_count")?;
        let mut previous_id = None;
        for _ in 0..session_count {
            let id = SessionId(r.varint("session.id")?);
            if previous_id.is_some_and(|p| p >= id) {
                return Err(SnapshotError::Malformed { what: "session ids not strictly increasing" });
            }
            previous_id = Some(id);
            let last_active = r.varint("session.last_active")?;
            let lowest_unacked = r.varint("session.lowest_unacked")?;
            let mut results = BTreeMap::new();
            let result_count = r.count("session.result_count")?;
            let mut previous_seq = None;
            for _ in 0..result_count {
                let seq = r.varint("result.seq")?;
                if previous_seq.is_some_and(|p| p >= seq) {
                    return Err(SnapshotError::Malformed { what: "result seqs not strictly increasing" });
                }
                previous_seq = Some(seq);
                results.insert(seq, read_recorded(&mut r)?);
            }
            by_id.insert(id, Session { last_active, lowest_unacked, results });
        }
        r.finish()?;

        let sessions = Sessions::from_parts(max_sessions, by_id).map_err(|what| SnapshotError::Malformed { what })?;
        let kv = KvStateMachine { applied_index, store: Store::from_map(map), sessions };
        kv.check_invariants().map_err(SnapshotError::Invariant)?;
        Ok(kv)
    }
}

pub(crate) fn put_recorded(sink: &mut impl Sink, recorded: &Recorded) {
    match recorded {
        Recorded::Done(OpResult::Value(v)) => {
            put_u8(sink, result_tag::VALUE);
            put_value(sink, v);
        }
        Recorded::Done(OpResult::Ok) => put_u8(sink, result_tag::OK),
        Recorded::Done(OpResult::Cas { swapped, found }) => {
            put_u8(sink, result_tag::CAS);
            put_bool(sink, *swapped);
            put_value(sink, found);
        }
        Recorded::TypeMismatch => put_u8(sink, result_tag::TYPE_MISMATCH),
    }
}

fn read_recorded(r: &mut Reader<'_>) -> Result<Recorded, DecodeError> {
    Ok(match r.u8("result.kind")? {
        result_tag::VALUE => Recorded::Done(OpResult::Value(r.value("result.value")?)),
        result_tag::OK => Recorded::Done(OpResult::Ok),
        result_tag::CAS => {
            let swapped = r.bool("result.swapped")?;
            let found = r.value("result.found")?;
            Recorded::Done(OpResult::Cas { swapped, found })
        }
        result_tag::TYPE_MISMATCH => Recorded::TypeMismatch,
        tag => return Err(DecodeError::UnknownTag { field: "result.kind", tag }),
    })
}
