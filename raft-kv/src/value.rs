//! The KV model of `history-format.md`: values, operations, results.

use core::fmt;

/// A value stored under a key: JSON `null`, an integer or a string.
///
/// Equality is typed, as in the history format: `Int(1) != Str("1")`.
/// Every key starts absent, and absent reads as [`Value::Null`]; the store
/// never holds a `Null` (writing `Null` removes the key), so "absent" and
/// "null" are the same state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Value {
    /// Absent, JSON `null`.
    #[default]
    Null,
    /// A 64-bit signed integer.
    Int(i64),
    /// A UTF-8 string.
    Str(String),
}

impl Value {
    /// Whether this is [`Value::Null`].
    #[must_use]
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
}

impl fmt::Display for Value {
    /// JSON-like: `null`, `42`, `"text"` (escaped as Rust's `{:?}` does).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Int(n) => write!(f, "{n}"),
            Value::Str(s) => write!(f, "{s:?}"),
        }
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Value {
        Value::Int(n)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::Str(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::Str(s)
    }
}

/// One operation on one key, with the semantics of `history-format.md`.
///
/// | op | result | new state of `key` (was `s`) |
/// |---|---|---|
/// | `Get` | [`OpResult::Value`]`(s)` | `s` |
/// | `Put` | [`OpResult::Ok`] | `value` (`Null` removes the key) |
/// | `Delete` | [`OpResult::Ok`] | absent |
/// | `Cas` | [`OpResult::Cas`] `{ swapped: s == expected, found: s }` | `new` if swapped, else `s` |
/// | `Append` | [`OpResult::Ok`] if `s` is a string or null (null counts as `""`) | `s + suffix` |
/// | `Append` on an integer | [`KvError::TypeMismatch`](crate::KvError::TypeMismatch) | `s` (unchanged) |
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// Read the value of `key`.
    Get {
        /// The key.
        key: String,
    },
    /// Set `key` to `value`.
    Put {
        /// The key.
        key: String,
        /// The new value. The history format never puts `null`; here it is
        /// legal and equivalent to [`Op::Delete`].
        value: Value,
    },
    /// Remove `key` (it then reads as `null`).
    Delete {
        /// The key.
        key: String,
    },
    /// Compare and swap: if the value of `key` equals `expected` (typed
    /// equality; `Null` matches an absent key), set it to `new`.
    Cas {
        /// The key.
        key: String,
        /// The value the key must hold for the swap.
        expected: Value,
        /// The value written if the compare matches.
        new: Value,
    },
    /// Append `suffix` to the string under `key` (absent counts as `""`).
    Append {
        /// The key.
        key: String,
        /// The string appended.
        suffix: String,
    },
}

impl Op {
    /// The key the operation reads or writes.
    #[must_use]
    pub fn key(&self) -> &str {
        match self {
            Op::Get { key }
            | Op::Put { key, .. }
            | Op::Delete { key }
            | Op::Cas { key, .. }
            | Op::Append { key, .. } => key,
        }
    }

    /// Whether the operation never changes the store (only [`Op::Get`]).
    #[must_use]
    pub fn is_read_only(&self) -> bool {
        matches!(self, Op::Get { .. })
    }
}

/// What an operation that ran returned.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum OpResult {
    /// [`Op::Get`]: the value read (`Null` if absent).
    Value(Value),
    /// [`Op::Put`], [`Op::Delete`], [`Op::Append`]: done.
    Ok,
    /// [`Op::Cas`]: whether it swapped, and the value it compared against
    /// `expected` (equal to `expected` when `swapped`). `swapped: false` is
    /// an observation (the history format's `ok` with `swapped: false`), not
    /// a failure.
    Cas {
        /// Whether the compare matched and `new` was written.
        swapped: bool,
        /// The value found under the key before the operation.
        found: Value,
    },
}
