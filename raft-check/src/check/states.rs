//! Interned model states and memoised transitions of one key.
//!
//! The search names a state by a `u32`, so a configuration is small to hash
//! and compare whatever the value (an `append` key's string grows with the
//! history). Each (state, operation) transition is computed by the model once;
//! afterwards it is one table lookup, never a string comparison. States no
//! operation can tell apart are folded into one ([`Observed`]).

use crate::check::hash::FxHashMap;
use crate::check::observed::Observed;
use crate::model::{self, ModelOp};
use crate::value::Value;

/// Marks an illegal transition in the memo.
const ILLEGAL: u32 = u32::MAX;

/// The states of one key met so far, and the transitions between them.
pub(crate) struct States {
    observed: Observed,
    /// A representative value of each state.
    values: Vec<Value>,
    /// The states of unobservable integers and strings, once met.
    poison_int: Option<u32>,
    poison_str: Option<u32>,
    ids: FxHashMap<Value, u32>,
    /// `(state << 32) | op` -> next state, or [`ILLEGAL`].
    transitions: FxHashMap<u64, u32>,
}

impl States {
    /// The states of a key whose operations observe `observed`.
    pub(crate) fn new(observed: Observed) -> Self {
        States {
            observed,
            values: Vec::new(),
            poison_int: None,
            poison_str: None,
            ids: FxHashMap::default(),
            transitions: FxHashMap::default(),
        }
    }

    /// The id of `value`'s state, interning it if new. Unobservable values
    /// share the poison state of their type, represented by the first one met.
    pub(crate) fn intern(&mut self, value: Value) -> u32 {
        if let Some(&id) = self.ids.get(&value) {
            return id;
        }
        let poison = match &value {
            _ if self.observed.is_observable(&value) => None,
            Value::Str(_) => Some(&mut self.poison_str),
            _ => Some(&mut self.poison_int),
        };
        if let Some(Some(id)) = poison.as_deref() {
            return *id;
        }
        let id = u32::try_from(self.values.len()).unwrap_or(ILLEGAL - 1);
        debug_assert!(id < ILLEGAL - 1, "more states than configurations can name");
        if let Some(slot) = poison {
            *slot = Some(id);
            self.values.push(value);
        } else {
            self.values.push(value.clone());
            self.ids.insert(value, id);
        }
        id
    }

    /// The poison integer state (an integer no operation observes).
    pub(crate) fn poison_int(&mut self) -> u32 {
        if let Some(id) = self.poison_int {
            return id;
        }
        let unobserved = (i64::MIN..).find(|&i| !self.observed.is_observable(&Value::Int(i))).unwrap_or(i64::MIN);
        self.intern(Value::Int(unobserved))
    }

    /// The value of state `id`.
    pub(crate) fn value(&self, id: u32) -> &Value {
        &self.values[id as usize]
    }

    /// The values the key's operations observe.
    pub(crate) fn observed(&mut self) -> &mut Observed {
        &mut self.observed
    }

    /// The state after operation number `op` (which is `model_op`) runs in
    /// `state`, or `None` if it cannot.
    pub(crate) fn step(&mut self, state: u32, op: u32, model_op: &ModelOp) -> Option<u32> {
        let memo_key = (u64::from(state) << 32) | u64::from(op);
        if let Some(&next) = self.transitions.get(&memo_key) {
            return (next != ILLEGAL).then_some(next);
        }
        let next = match model::step(&self.values[state as usize], model_op) {
            Some(value) => self.intern(value),
            None => ILLEGAL,
        };
        self.transitions.insert(memo_key, next);
        (next != ILLEGAL).then_some(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transitions_are_memoised_and_states_interned() {
        let mut states = States::new(Observed::new(&[ModelOp::Read { value: Value::from("x") }]));
        let null = states.intern(Value::Null);
        let append = ModelOp::Append { suffix: "x".into() };
        let x = states.step(null, 0, &append);
        assert_eq!(x.map(|s| states.value(s).clone()), Some(Value::from("x")));
        assert_eq!(states.step(null, 0, &append), x);
        let read = ModelOp::Read { value: Value::from("x") };
        assert_eq!(states.step(null, 1, &read), None);
        assert_eq!(states.step(null, 1, &read), None);
        assert_eq!(x.and_then(|x| states.step(x, 1, &read)), x);
        assert_eq!(states.intern(Value::from("x")), x.unwrap_or_default());
    }

    #[test]
    fn unobservable_values_share_a_poison_state() {
        let mut states = States::new(Observed::new(&[ModelOp::Read { value: Value::Int(1) }]));
        let one = states.intern(Value::Int(1));
        let two = states.intern(Value::Int(2));
        assert_ne!(one, two);
        assert_eq!(states.intern(Value::Int(3)), two);
        let a = states.intern(Value::from("a"));
        assert_ne!(a, two);
        assert_eq!(states.intern(Value::from("b")), a);
        assert_ne!(states.intern(Value::Null), a);
    }
}
