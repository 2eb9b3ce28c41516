//! The memo of visited configurations of one key's search, with dominance
//! of unknown-outcome operations.
//!
//! A configuration is (the set of `ok` operations linearized, the set of
//! `info` operations applied, the model state). The search visits a
//! configuration at most once: a second visit would explore the same future
//! and fail the same way (Lowe, "Testing for linearizability", 2017; the
//! "cache" of porcupine).
//!
//! Dominance: if (ok set `O`, state `s`, info set `I`) was visited, then
//! (`O`, `s`, `J`) with `I ⊆ J` need not be: the second has the same `ok`
//! work left, the same state and fewer `info` operations still available, so
//! every way to finish it also finishes the first. Without this, each
//! pending `info` write doubles the configurations (applied or not) long
//! after its effect was overwritten; with it, "applied, then overwritten"
//! folds into "never applied". (The search module's docs give the proof that
//! pruning against a configuration still being explored is sound.)
//!
//! Layout: open addressing over `u32` entry numbers; the `ok` sets live in
//! one word arena, stored from their first non-full word to their last
//! non-zero word (a linearized set is "everything before the frontier, plus
//! a few"), so an entry is a few dozen bytes however long the history. An
//! `info` set is a chain of [`InfoNode`]s: the search pushes one node per
//! `info` operation it applies, onto the chain of the path so far, so the
//! sets of all configurations share their nodes and each costs one chain
//! head, however many `info` operations the path applied.

/// No entry in a slot; no next info set.
const NONE: u32 = u32::MAX;

/// No node: the empty `info` set.
pub(crate) const NO_NODE: u32 = u32::MAX;

/// A configuration as the search presents it.
pub(crate) struct Config<'a> {
    /// A hash of (ok set, state): the caller keeps it incrementally.
    pub(crate) hash: u64,
    pub(crate) state: u32,
    /// Every `ok` op below `64 * low` is linearized.
    pub(crate) low: u32,
    /// The ok-set words from `low` to the last non-zero word (canonical).
    pub(crate) words: &'a [u64],
    /// The applied `info` operations, sorted (distinct elements).
    pub(crate) info: &'a [u64],
    /// The same set as a chain pushed with [`Cache::push_node`], and its
    /// [`signature`].
    pub(crate) info_chain: u32,
    pub(crate) info_signature: u64,
}

/// One element of an `info` set chain.
struct InfoNode {
    element: u64,
    parent: u32,
}

struct Entry {
    hash: u64,
    words_at: usize,
    state: u32,
    low: u32,
    words_len: u32,
    /// First of the entry's info sets (an antichain under inclusion).
    first_info: u32,
}

struct InfoSet {
    next: u32,
    len: u32,
    chain: u32,
    /// One bit per element: `a ⊆ b` needs `a.signature & !b.signature == 0`,
    /// which rejects most pairs at once.
    signature: u64,
}

/// The signature bit of one `info` set element (see `InfoSet::signature`).
pub(crate) fn signature(element: u64) -> u64 {
    1 << ((element ^ element >> 32) % 64)
}

/// The visited configurations of one key.
pub(crate) struct Cache {
    /// Entry numbers, [`NONE`] if empty; the length is a power of two, at
    /// least twice the number of entries.
    slots: Vec<u32>,
    entries: Vec<Entry>,
    words: Vec<u64>,
    info_sets: Vec<InfoSet>,
    nodes: Vec<InfoNode>,
    /// Info sets compared since the last `take_work`.
    work: u64,
}

impl Default for Cache {
    fn default() -> Self {
        Cache {
            slots: vec![NONE; 1024],
            entries: Vec::new(),
            words: Vec::new(),
            info_sets: Vec::new(),
            nodes: Vec::new(),
            work: 0,
        }
    }
}

impl Cache {
    /// The number of distinct (ok set, state) pairs stored.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Records `config` and returns `true`, or returns `false` if a stored
    /// configuration dominates it (equal ok set and state, a subset of its
    /// info operations).
    ///
    /// The work is one probe plus one comparison per info set stored with
    /// the same (ok set, state); [`Cache::take_work`] counts the latter.
    pub(crate) fn insert(&mut self, config: &Config<'_>) -> bool {
        let mask = self.slots.len() - 1;
        let mut slot = (config.hash as usize) & mask;
        loop {
            let entry_no = self.slots[slot];
            if entry_no == NONE {
                break;
            }
            let entry = &self.entries[entry_no as usize];
            if entry.hash == config.hash
                && entry.state == config.state
                && entry.low == config.low
                && self.words[entry.words_at..entry.words_at + entry.words_len as usize] == *config.words
            {
                return self.insert_info(entry_no as usize, config);
            }
            slot = (slot + 1) & mask;
        }
        let entry_no = u32::try_from(self.entries.len()).unwrap_or(NONE);
        assert!(entry_no != NONE, "more than 2^32 configurations for one key");
        self.slots[slot] = entry_no;
        let words_at = self.words.len();
        self.words.extend_from_slice(config.words);
        let first_info = self.new_info_set(config, NONE);
        self.entries.push(Entry {
            hash: config.hash,
            words_at,
            state: config.state,
            low: config.low,
            words_len: config.words.len() as u32,
            first_info,
        });
        if self.entries.len() * 2 > self.slots.len() {
            self.grow();
        }
        true
    }

    /// Adds `config`'s info set to the entry's antichain unless a stored set
    /// is a subset of it; drops the stored sets it is a subset of.
    fn insert_info(&mut self, entry_no: usize, config: &Config<'_>) -> bool {
        let (info, sig) = (config.info, config.info_signature);
        let mut prev = NONE;
        let mut set_no = self.entries[entry_no].first_info;
        while set_no != NONE {
            self.work += 1;
            let set = &self.info_sets[set_no as usize];
            let next = set.next;
            if set.len as usize <= info.len() && set.signature & !sig == 0 {
                // Stored ⊆ new: every stored element is in `info`.
                if self.chain(set.chain).all(|x| info.binary_search(&x).is_ok()) {
                    return false;
                }
            } else if info.len() <= set.len as usize && sig & !set.signature == 0 {
                // New ⊆ stored: sets have distinct elements, so `info` is in
                // the stored set when all but `set.len - info.len()` stored
                // elements are found in `info`.
                let mut misses_left = set.len as usize - info.len();
                let contained = self.chain(set.chain).all(|x| {
                    if info.binary_search(&x).is_ok() {
                        return true;
                    }
                    let more = misses_left > 0;
                    misses_left = misses_left.saturating_sub(1);
                    more
                });
                if contained {
                    // Dominated by the new set: unlink it.
                    if prev == NONE {
                        self.entries[entry_no].first_info = next;
                    } else {
                        self.info_sets[prev as usize].next = next;
                    }
                    set_no = next;
                    continue;
                }
            }
            prev = set_no;
            set_no = next;
        }
        let first = self.entries[entry_no].first_info;
        self.entries[entry_no].first_info = self.new_info_set(config, first);
        true
    }

    /// The elements of a chain, last pushed first.
    fn chain(&self, mut node: u32) -> impl Iterator<Item = u64> + '_ {
        core::iter::from_fn(move || {
            let n = self.nodes.get(node as usize)?;
            node = n.parent;
            Some(n.element)
        })
    }

    /// Pushes `element` onto the chain `parent` ([`NO_NODE`] for the empty
    /// one) and returns the new chain. Nodes are never freed.
    pub(crate) fn push_node(&mut self, parent: u32, element: u64) -> u32 {
        self.nodes.push(InfoNode { element, parent });
        (self.nodes.len() - 1) as u32
    }

    /// The info sets compared since the last call.
    pub(crate) fn take_work(&mut self) -> u64 {
        core::mem::take(&mut self.work)
    }

    fn new_info_set(&mut self, config: &Config<'_>, next: u32) -> u32 {
        let set_no = self.info_sets.len() as u32;
        self.info_sets.push(InfoSet {
            next,
            len: config.info.len() as u32,
            chain: config.info_chain,
            signature: config.info_signature,
        });
        set_no
    }

    fn grow(&mut self) {
        let len = self.slots.len() * 2;
        let mask = len - 1;
        self.slots = vec![NONE; len];
        for (entry_no, entry) in self.entries.iter().enumerate() {
            let mut slot = (entry.hash as usize) & mask;
            while self.slots[slot] != NONE {
                slot = (slot + 1) & mask;
            }
            self.slots[slot] = entry_no as u32;
        }
    }
}

#[cfg(test)]
impl Cache {
    /// The number of info sets stored with `config`'s (ok set, state).
    fn info_sets_of(&self, config: &Config<'_>) -> usize {
        let Some(entry) = self.entries.iter().find(|e| {
            e.state == config.state && self.words[e.words_at..e.words_at + e.words_len as usize] == *config.words
        }) else {
            return 0;
        };
        let mut count = 0;
        let mut set_no = entry.first_info;
        while set_no != NONE {
            count += 1;
            set_no = self.info_sets[set_no as usize].next;
        }
        count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A configuration whose info chain is built for the occasion.
    fn config<'a>(cache: &mut Cache, state: u32, words: &'a [u64], info: &'a [u64]) -> Config<'a> {
        let info_chain = info.iter().fold(NO_NODE, |chain, &x| cache.push_node(chain, x));
        let info_signature = info.iter().fold(0, |sig, &x| sig | signature(x));
        let hash = u64::from(state) ^ words.first().copied().unwrap_or(0);
        Config { hash, state, low: 0, words, info, info_chain, info_signature }
    }

    #[test]
    fn exact_and_dominated_configurations_are_refused() {
        let mut cache = Cache::default();
        let mut insert = |state, words: &[u64], info: &[u64]| {
            let config = config(&mut cache, state, words, info);
            cache.insert(&config)
        };
        assert!(insert(1, &[0b11], &[2]));
        assert!(!insert(1, &[0b11], &[2]));
        assert!(!insert(1, &[0b11], &[2, 5]));
        assert!(insert(1, &[0b11], &[5]));
        assert!(insert(1, &[0b11], &[]));
        assert!(!insert(1, &[0b11], &[7]));
        assert!(insert(2, &[0b11], &[]));
        assert!(insert(1, &[0b111], &[]));
        // {5} and {2} were dropped when {} came: only {} is left.
        let empty = config(&mut cache, 1, &[0b11], &[]);
        assert_eq!(cache.info_sets_of(&empty), 1);
        assert_eq!(cache.len(), 3);
    }

    #[test]
    fn sets_sharing_a_chain() {
        let mut cache = Cache::default();
        // The path applies 3, then 9: the second set extends the first's
        // chain.
        let one = cache.push_node(NO_NODE, 3);
        let two = cache.push_node(one, 9);
        let with = |info: &'static [u64], chain| Config {
            hash: 7,
            state: 0,
            low: 0,
            words: &[],
            info,
            info_chain: chain,
            info_signature: info.iter().fold(0, |sig, &x| sig | signature(x)),
        };
        assert!(cache.insert(&with(&[3, 9], two)));
        assert!(!cache.insert(&with(&[3, 9], two)));
        assert!(cache.insert(&with(&[3], one)));
        assert_eq!(cache.info_sets_of(&with(&[], NO_NODE)), 1);
        assert!(!cache.insert(&with(&[3, 9], two)));
    }

    #[test]
    fn survives_growth() {
        let mut cache = Cache::default();
        let words: Vec<[u64; 1]> = (0..5000u64).map(|i| [i]).collect();
        fn at(w: &[u64; 1]) -> Config<'_> {
            Config {
                hash: w[0] % 61,
                state: 0,
                low: 0,
                words: &w[..],
                info: &[],
                info_chain: NO_NODE,
                info_signature: 0,
            }
        }
        for w in &words {
            assert!(cache.insert(&at(w)));
        }
        for w in &words {
            assert!(!cache.insert(&at(w)));
        }
        assert_eq!(cache.len(), 5000);
    }
}
