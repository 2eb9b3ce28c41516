//! The JSON shapes that cross HTTP: between clients and the frontend, and
//! between the frontend and the backends.
//!
//! Values are JSON `null`, integers or strings (the KV model of
//! `history-format.md`); anything else is a client error.

use raft_kv::{ApplyOutcome, KvError, OpResult, Value};
use serde::{Deserialize, Serialize};

/// A KV value from JSON, or why it is not one.
///
/// # Errors
/// Floats, booleans, arrays and objects.
pub fn value_from_json(v: &serde_json::Value) -> Result<Value, String> {
    match v {
        serde_json::Value::Null => Ok(Value::Null),
        serde_json::Value::String(s) => Ok(Value::Str(s.clone())),
        serde_json::Value::Number(n) => {
            n.as_i64().map(Value::Int).ok_or_else(|| format!("{n} is not a 64-bit integer"))
        }
        other => Err(format!("values are null, integers or strings, not {other}")),
    }
}

/// A KV value as JSON.
pub fn value_to_json(v: &Value) -> serde_json::Value {
    match v {
        Value::Null => serde_json::Value::Null,
        Value::Int(n) => serde_json::Value::from(*n),
        Value::Str(s) => serde_json::Value::String(s.clone()),
    }
}

/// What an operation returned, as JSON: `{"value": v}` for a get, `{"ok":
/// true}` for a put, delete or append, `{"swapped": b, "found": v}` for a
/// compare-and-swap.
pub fn result_to_json(r: &OpResult) -> serde_json::Value {
    match r {
        OpResult::Value(v) => serde_json::json!({ "value": value_to_json(v) }),
        OpResult::Ok => serde_json::json!({ "ok": true }),
        OpResult::Cas { swapped, found } => serde_json::json!({ "swapped": swapped, "found": value_to_json(found) }),
    }
}

/// A backend's answer to a proposed command.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum BackendReply {
    /// A session was opened.
    Registered {
        /// The session id.
        session: u64,
    },
    /// The command ran (now, or earlier for a retried `seq`): its result.
    Done {
        /// The result, as [`result_to_json`] writes it.
        result: serde_json::Value,
    },
    /// The session does not exist (expired): the command did not run.
    SessionExpired,
    /// The `seq` ran and was acknowledged before; not run again.
    StaleSequence,
    /// The command ran and changed nothing (e.g. append to an integer).
    Rejected {
        /// Why.
        error: String,
    },
    /// This node does not lead: ask `leader` (a backend URL) if known.
    NotLeader {
        /// The leader's backend URL.
        leader: Option<String>,
    },
    /// The command may or may not have run (leadership was lost while it
    /// was in flight, or it timed out): retry it with the same `seq`.
    Unknown {
        /// What happened.
        reason: String,
    },
    /// The command was certainly not run (e.g. the node is stopping, or
    /// refused it before appending): it may be retried.
    Unavailable {
        /// What happened.
        reason: String,
    },
}

impl BackendReply {
    /// The reply for an applied command's outcome.
    pub fn from_outcome(outcome: &ApplyOutcome) -> BackendReply {
        match outcome {
            ApplyOutcome::Registered { session } => BackendReply::Registered { session: session.0 },
            ApplyOutcome::Applied(r) | ApplyOutcome::Duplicate(r) => BackendReply::Done { result: result_to_json(r) },
            ApplyOutcome::SessionExpired => BackendReply::SessionExpired,
            ApplyOutcome::StaleSequence => BackendReply::StaleSequence,
            ApplyOutcome::Rejected(e) => BackendReply::Rejected { error: kv_error(e) },
            other => BackendReply::Rejected { error: format!("{other:?}") },
        }
    }

    /// The HTTP status a backend answers with.
    pub fn status(&self) -> u16 {
        match self {
            BackendReply::NotLeader { .. } => 421,
            BackendReply::Unknown { .. } | BackendReply::Unavailable { .. } => 503,
            _ => 200,
        }
    }
}

fn kv_error(e: &KvError) -> String {
    e.to_string()
}

/// A backend's answer to a read.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ReadReply {
    /// The value (linearizable).
    Value {
        /// The value as JSON.
        value: serde_json::Value,
    },
    /// This node does not lead.
    NotLeader {
        /// The leader's backend URL.
        leader: Option<String>,
    },
    /// The read could not be served now (no leader, leadership lost); a
    /// read changes nothing, so it can simply be retried.
    Unavailable {
        /// What happened.
        reason: String,
    },
}

impl ReadReply {
    /// The HTTP status a backend answers with.
    pub fn status(&self) -> u16 {
        match self {
            ReadReply::Value { .. } => 200,
            ReadReply::NotLeader { .. } => 421,
            ReadReply::Unavailable { .. } => 503,
        }
    }
}

/// A client-visible error body: `{"error": "...", "outcome": "..."}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: String,
    /// `failed` (certainly not applied), `unknown` (may have been applied)
    /// or `invalid` (a bad request).
    pub outcome: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_and_bad_ones_are_refused() {
        for v in [Value::Null, Value::Int(-3), Value::Str("x".into())] {
            assert_eq!(value_from_json(&value_to_json(&v)), Ok(v));
        }
        assert!(value_from_json(&serde_json::json!(1.5)).is_err());
        assert!(value_from_json(&serde_json::json!(true)).is_err());
        assert!(value_from_json(&serde_json::json!([1])).is_err());
    }

    #[test]
    fn replies_serialize_with_a_status_tag() {
        let r = BackendReply::NotLeader { leader: Some("http://b".into()) };
        let s = serde_json::to_string(&r).unwrap();
        assert_eq!(s, r#"{"status":"not_leader","leader":"http://b"}"#);
        assert_eq!(serde_json::from_str::<BackendReply>(&s).unwrap(), r);
        assert_eq!(r.status(), 421);
        let done =
            BackendReply::from_outcome(&ApplyOutcome::Applied(OpResult::Cas { swapped: false, found: Value::Int(2) }));
        assert_eq!(done, BackendReply::Done { result: serde_json::json!({"swapped": false, "found": 2}) });
    }
}
