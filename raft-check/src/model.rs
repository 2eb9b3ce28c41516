//! The sequential specification of one key of the store
//! (history-format.md, "Operations and the model").
//!
//! The search in [`crate::check()`] knows nothing about keys and values: it asks
//! [`step`] whether an operation is legal in a state and what state follows.

use crate::value::Value;

/// One operation as the sequential spec sees it: what it does, plus what an
/// `ok` completion observed.
///
/// An `info` operation is one whose observation is unknown: an `info` `get`
/// has no effect and is never modelled (the checker drops it), an `info`
/// `cas` has `swapped: None`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ModelOp {
    /// An `ok` `get` that read `value` (`Null` if absent).
    Read {
        /// The value read.
        value: Value,
    },
    /// A `put` of a non-null value.
    Put {
        /// The new value.
        value: Value,
    },
    /// A `delete`.
    Delete,
    /// An `append` of a string suffix.
    Append {
        /// The suffix.
        suffix: String,
    },
    /// A `cas`.
    Cas {
        /// The value compared against.
        expected: Value,
        /// The value set if the comparison matches.
        value: Value,
        /// What an `ok` completion observed; `None` for an `info` `cas`.
        swapped: Option<bool>,
    },
}

impl ModelOp {
    /// Whether the operation can never change the state: then placing it as
    /// early as it is legal never hurts a linearization (the search uses this
    /// to linearize such operations without branching).
    pub fn is_read_only(&self) -> bool {
        match self {
            ModelOp::Read { .. } => true,
            ModelOp::Cas { swapped: Some(false), .. } => true,
            ModelOp::Cas { expected, value, swapped: Some(true) } => expected == value,
            _ => false,
        }
    }
}

/// One step of the sequential spec: the state after `op` runs in `state`,
/// or `None` if `op` is not legal there (its observation contradicts the
/// state, or an `append` meets a non-string value).
///
/// For an operation of unknown outcome (`info`) "legal" means "can take
/// effect": an `info` `cas` whose comparison fails leaves the state as it is.
pub fn step(state: &Value, op: &ModelOp) -> Option<Value> {
    match op {
        ModelOp::Read { value } => (value == state).then(|| state.clone()),
        ModelOp::Put { value } => Some(value.clone()),
        ModelOp::Delete => Some(Value::Null),
        ModelOp::Append { suffix } => match state {
            Value::Null => Some(Value::Str(suffix.clone())),
            Value::Str(s) => {
                let mut joined = String::with_capacity(s.len() + suffix.len());
                joined.push_str(s);
                joined.push_str(suffix);
                Some(Value::Str(joined))
            }
            Value::Int(_) => None,
        },
        ModelOp::Cas { expected, value, swapped } => {
            let matches = state == expected;
            match swapped {
                Some(observed) if *observed != matches => None,
                _ if matches => Some(value.clone()),
                _ => Some(state.clone()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cas(expected: i64, value: i64, swapped: Option<bool>) -> ModelOp {
        ModelOp::Cas { expected: Value::Int(expected), value: Value::Int(value), swapped }
    }

    #[test]
    fn read_is_legal_only_on_the_value_read() {
        let read = ModelOp::Read { value: Value::Int(1) };
        assert_eq!(step(&Value::Int(1), &read), Some(Value::Int(1)));
        assert_eq!(step(&Value::Int(2), &read), None);
        assert_eq!(step(&Value::from("1"), &read), None);
        assert_eq!(step(&Value::Null, &ModelOp::Read { value: Value::Null }), Some(Value::Null));
    }

    #[test]
    fn writes_are_always_legal() {
        assert_eq!(step(&Value::Int(1), &ModelOp::Put { value: Value::Int(2) }), Some(Value::Int(2)));
        assert_eq!(step(&Value::Int(1), &ModelOp::Delete), Some(Value::Null));
    }

    #[test]
    fn append_treats_null_as_empty_and_rejects_integers() {
        let op = ModelOp::Append { suffix: "b".into() };
        assert_eq!(step(&Value::Null, &op), Some(Value::from("b")));
        assert_eq!(step(&Value::from("a"), &op), Some(Value::from("ab")));
        assert_eq!(step(&Value::Int(3), &op), None);
    }

    #[test]
    fn cas_swapped_is_an_observation() {
        assert_eq!(step(&Value::Int(1), &cas(1, 2, Some(true))), Some(Value::Int(2)));
        assert_eq!(step(&Value::Int(3), &cas(1, 2, Some(true))), None);
        assert_eq!(step(&Value::Int(3), &cas(1, 2, Some(false))), Some(Value::Int(3)));
        assert_eq!(step(&Value::Int(1), &cas(1, 2, Some(false))), None);
        // Unknown outcome: swaps if and only if the comparison matches.
        assert_eq!(step(&Value::Int(1), &cas(1, 2, None)), Some(Value::Int(2)));
        assert_eq!(step(&Value::Int(3), &cas(1, 2, None)), Some(Value::Int(3)));
    }

    #[test]
    fn read_only_operations() {
        assert!(ModelOp::Read { value: Value::Null }.is_read_only());
        assert!(cas(1, 2, Some(false)).is_read_only());
        assert!(cas(1, 1, Some(true)).is_read_only());
        assert!(!cas(1, 2, Some(true)).is_read_only());
        assert!(!cas(1, 1, None).is_read_only());
        assert!(!ModelOp::Put { value: Value::Int(1) }.is_read_only());
    }
}
