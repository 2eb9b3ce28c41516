//! The key-value data and the sequential semantics of each operation.

use std::collections::BTreeMap;

use crate::value::{Op, OpResult, Value};

/// What one operation did: the result a session records for its `seq`, so
/// that a retry gets exactly this again.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Recorded {
    /// The operation ran and returned this.
    Done(OpResult),
    /// `Append` on an integer: nothing changed.
    TypeMismatch,
}

/// The data.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct Store {
    /// Invariant: no value is `Null` (absent and null are one state, and
    /// one state has one snapshot encoding).
    map: BTreeMap<String, Value>,
}

impl Store {
    pub(crate) fn from_map(map: BTreeMap<String, Value>) -> Store {
        Store { map }
    }

    pub(crate) fn map(&self) -> &BTreeMap<String, Value> {
        &self.map
    }

    pub(crate) fn read(&self, key: &str) -> Value {
        self.map.get(key).cloned().unwrap_or(Value::Null)
    }

    fn write(&mut self, key: String, value: Value) {
        if value.is_null() {
            self.map.remove(&key);
        } else {
            self.map.insert(key, value);
        }
    }

    /// Runs `op` (history-format.md, "Operations and the model").
    pub(crate) fn execute(&mut self, op: Op) -> Recorded {
        let result = match op {
            Op::Get { key } => OpResult::Value(self.read(&key)),
            Op::Put { key, value } => {
                self.write(key, value);
                OpResult::Ok
            }
            Op::Delete { key } => {
                self.map.remove(&key);
                OpResult::Ok
            }
            Op::Cas { key, expected, new } => {
                let found = self.read(&key);
                let swapped = found == expected;
                if swapped {
                    self.write(key, new);
                }
                OpResult::Cas { swapped, found }
            }
            Op::Append { key, suffix } => match self.map.get_mut(&key) {
                Some(Value::Int(_)) => return Recorded::TypeMismatch,
                Some(Value::Str(s)) => {
                    s.push_str(&suffix);
                    OpResult::Ok
                }
                // Null counts as "": the key now holds a string, even when
                // the suffix is empty ("" is not null). (The store holds no
                // `Null`; the arm keeps the rule total.)
                Some(slot @ Value::Null) => {
                    *slot = Value::Str(suffix);
                    OpResult::Ok
                }
                None => {
                    self.map.insert(key, Value::Str(suffix));
                    OpResult::Ok
                }
            },
        };
        Recorded::Done(result)
    }
}
