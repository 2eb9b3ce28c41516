//! Which states of a key can ever be told apart by its operations.
//!
//! Only reads and `cas` comparisons look at a value, and only by equality
//! with the value read or expected: the *observed* values. An integer state
//! that no operation observes behaves exactly like any other such integer
//! (every read and every `cas` with `swapped: true` is illegal in it, every
//! `cas` with `swapped: false` legal, an `append` illegal, a write replaces
//! it). Likewise a string that is no prefix of an observed string stays
//! unobservable under `append` and behaves like any other. So the search
//! folds each of the two classes into one *poison* state (a bisimulation),
//! and writes of values nobody reads become interchangeable: an `info` put
//! that was never applied, or was overwritten before anyone looked, no longer
//! multiplies the configurations.
//!
//! String prefixes are kept as hashes; a collision only makes a state count
//! as observable, which costs speed, never soundness.

use crate::check::hash::{FxHashMap, FxHashSet};
use crate::model::ModelOp;
use crate::value::Value;

/// The observed values of one key.
#[derive(Default)]
pub(crate) struct Observed {
    ints: FxHashSet<i64>,
    /// Hashes of every prefix (empty and whole included) of every observed
    /// string.
    prefixes: FxHashSet<u64>,
    /// The observed strings that are no prefix of another one.
    maximal: Vec<String>,
    /// Per substring length asked about so far: the rolling hashes of every
    /// substring of that length of a maximal string.
    substrings: FxHashMap<usize, FxHashSet<u64>>,
}

/// The hash of a string's prefixes, one byte at a time.
fn extend_hash(hash: u64, byte: u8) -> u64 {
    (hash.rotate_left(5) ^ u64::from(byte)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95)
}

/// The base of the substrings' polynomial rolling hash (odd, so that
/// multiplying by it is a bijection mod 2^64).
const ROLL: u64 = 0x100_0000_01b3;

fn rolling_hash(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0u64, |hash, &b| hash.wrapping_mul(ROLL).wrapping_add(u64::from(b)))
}

fn string_hash(s: &str) -> u64 {
    s.bytes().fold(0, extend_hash)
}

impl Observed {
    /// The values `ops` observe (reads and `cas` comparisons).
    pub(crate) fn new<'a>(ops: impl IntoIterator<Item = &'a ModelOp>) -> Self {
        let mut observed = Observed::default();
        let mut strings: Vec<&str> = Vec::new();
        for op in ops {
            let seen = match op {
                ModelOp::Read { value } => value,
                ModelOp::Cas { expected, .. } => expected,
                _ => continue,
            };
            match seen {
                Value::Int(i) => {
                    observed.ints.insert(*i);
                }
                Value::Str(s) => strings.push(s),
                Value::Null => {}
            }
        }
        strings.sort_unstable();
        strings.dedup();
        // Hashes of the previous string's prefixes: sorted neighbours share
        // their common prefix, so the work is the size of the prefix trie.
        let mut previous: Vec<u64> = vec![0];
        let mut previous_str = "";
        observed.prefixes.insert(0);
        for (i, s) in strings.iter().enumerate() {
            let common = s.bytes().zip(previous_str.bytes()).take_while(|(a, b)| a == b).count();
            previous.truncate(common + 1);
            let mut hash = previous[common];
            for byte in s.bytes().skip(common) {
                hash = extend_hash(hash, byte);
                previous.push(hash);
                observed.prefixes.insert(hash);
            }
            previous_str = s;
            // In sorted order a string is a prefix of some other one if and
            // only if it is a prefix of the next.
            if strings.get(i + 1).is_none_or(|next| !next.starts_with(s)) {
                observed.maximal.push((*s).to_owned());
            }
        }
        observed
    }

    /// Whether some operation can tell `value` from other values of its
    /// type. `Null` always can: it is the initial state.
    pub(crate) fn is_observable(&self, value: &Value) -> bool {
        match value {
            Value::Null => true,
            Value::Int(i) => self.ints.contains(i),
            Value::Str(s) => self.prefixes.contains(&string_hash(s)),
        }
    }

    /// Whether `suffix` may occur in some observed string: if not, an append
    /// of it leads to a poison state whatever state it is applied in.
    ///
    /// Substrings are compared by rolling hash, computed once per length
    /// (an append-heavy history has long observed strings and thousands of
    /// suffixes of a few lengths); a collision only answers "may occur".
    pub(crate) fn may_observe_suffix(&mut self, suffix: &str) -> bool {
        let len = suffix.len();
        if len == 0 {
            return !self.maximal.is_empty();
        }
        let maximal = &self.maximal;
        let hashes = self.substrings.entry(len).or_insert_with(|| {
            let mut hashes = FxHashSet::default();
            for s in maximal {
                let bytes = s.as_bytes();
                if bytes.len() < len {
                    continue;
                }
                let mut hash = rolling_hash(&bytes[..len]);
                hashes.insert(hash);
                let top = ROLL.wrapping_pow(len as u32 - 1);
                for i in len..bytes.len() {
                    hash = hash.wrapping_sub(u64::from(bytes[i - len]).wrapping_mul(top));
                    hash = hash.wrapping_mul(ROLL).wrapping_add(u64::from(bytes[i]));
                    hashes.insert(hash);
                }
            }
            hashes
        });
        hashes.contains(&rolling_hash(suffix.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observable_values() {
        let ops = [
            ModelOp::Read { value: Value::Int(3) },
            ModelOp::Cas { expected: Value::Int(5), value: Value::Int(6), swapped: None },
            ModelOp::Read { value: Value::from("ab,cd,") },
            ModelOp::Read { value: Value::from("ab,") },
            ModelOp::Put { value: Value::Int(7) },
        ];
        let mut observed = Observed::new(&ops);
        assert!(observed.is_observable(&Value::Null));
        assert!(observed.is_observable(&Value::Int(3)));
        assert!(observed.is_observable(&Value::Int(5)));
        assert!(!observed.is_observable(&Value::Int(6)));
        assert!(!observed.is_observable(&Value::Int(7)));
        assert!(observed.is_observable(&Value::from("")));
        assert!(observed.is_observable(&Value::from("ab,c")));
        assert!(!observed.is_observable(&Value::from("ab,x")));
        assert!(observed.may_observe_suffix("cd,"));
        assert!(observed.may_observe_suffix("b,c"));
        assert!(observed.may_observe_suffix("ab,cd,"));
        assert!(!observed.may_observe_suffix("ef,"));
        assert!(!observed.may_observe_suffix("ab,cd,e"));
        assert_eq!(observed.maximal, ["ab,cd,"]);
    }
}
