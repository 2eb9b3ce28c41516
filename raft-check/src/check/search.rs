//! The linearizability search of one key: Wing & Gong's tree search with
//! Lowe's memo of configurations ("WGL", as in porcupine and Knossos), run as
//! a resumable state machine so keys can be interleaved.
//!
//! # The walk
//!
//! The calls and returns of the key's `ok` operations form a doubly linked
//! list in history order. The *candidates* of a configuration are the calls
//! before the first return still in the list (the *frontier*): an operation
//! may be linearized next exactly when every operation that returned before
//! it was called is already linearized. Linearizing an `ok` operation lifts
//! its call and return out of the list, pushes a frame, and restarts the walk
//! at the head; when every child of a configuration was tried, the search
//! pops the last frame (backtracks) and tries the parent's next child. An
//! `ok` operation whose return is reached unlinearized is never skipped. The
//! search succeeds when every `ok` operation is linearized.
//!
//! An operation of unknown outcome (`info`) has no return: it is a candidate
//! from its call on, for ever, and need not be linearized at all. It is not
//! in the list: `info` operations with the same effect (the same transition
//! function on folded states, see
//! [`Observed`]) form a *pool* of
//! interchangeable members, and the `Pool` phase below tries each pool once
//! per configuration. A pool counts its members used on the current path;
//! one more may be used while `used < members called before the frontier`
//! (Hall's condition: the frontier only moves forward, so the i-th use can
//! take the i-th member in call order).
//!
//! # Order of the children, and pruning
//!
//! The search runs in one of two [`Mode`]s: exact, or relaxed (unknown
//! operations may take effect any number of times; see `check`'s docs for
//! how the two are combined).
//!
//! A configuration tries its children in phases:
//!
//! 1. `Read`: a read-only `ok` candidate (a `get`, a `cas` that did not
//!    swap) that is legal in the current state is linearized *without
//!    branching*: it changes no state, and every operation that precedes it
//!    in real time is already linearized, so moving it from wherever a
//!    linearization puts it to here keeps that linearization valid. Popping
//!    such a frame fails its parent too.
//! 2. `Write`: the other `ok` candidates, in return order (one that returned
//!    earlier more likely took effect earlier) and, of candidates with the
//!    same effect, only the first: if a completion starts with a later one,
//!    swapping the two gives one that starts with the first (the same
//!    states, and the first's deadline is the earlier).
//! 3. `Pool`: the `info` pools, last ("lazily"): an unknown-outcome write is
//!    applied only when the `ok` operations alone cannot go on. A member that
//!    would not change the state is never applied (leaving it out is as
//!    good); a `cas` pool is tried only in the state it expects. A
//!    state-independent write (`put`, `delete`) is tried only if some
//!    candidate behaves differently after it, and never right after another
//!    `info` operation ([`KeySearch::plan_pools`]).
//!
//! States: values no operation can tell apart are folded into one poison
//! state per type ([`Observed`]), and an
//! integer whose every observer has returned before the frontier is folded
//! into the poison integer too ([`KeySearch::fold`]); with a poison write
//! available, a write of such a dead value is not tried.
//!
//! Every configuration entered is recorded in the [`Cache`]; one equal to or
//! dominated by a recorded one (same `ok` set and state, a superset of
//! applied `info` operations) is not entered. This is sound even when the
//! dominating configuration is an ancestor still being explored: take, among
//! the entered configurations that have a completion, one with the most `ok`
//! operations and, among those, the fewest `info` operations before the next
//! `ok` one in its shortest completion; its first step leads to a
//! configuration that is entered or dominated by an entered one, which
//! contradicts the choice. So if a completion exists, the search finds one.

use std::collections::BTreeMap;

use crate::check::cache::{signature, Cache, Config, NO_NODE};
use crate::check::hash::{mix64, FxHashMap};
use crate::check::observed::Observed;
use crate::check::states::States;
use crate::model::ModelOp;
use crate::value::Value;

/// The head sentinel of the list.
const HEAD: u32 = 0;

/// No state (see `KeySearch::needs`).
const NO_STATE: u32 = u32::MAX;

/// One operation of the key, as the search sees it.
#[derive(Clone)]
pub(crate) struct SearchOp {
    pub(crate) model: ModelOp,
    /// Position of the operation in `History::operations`.
    pub(crate) history_index: usize,
    /// Event position of the invoke.
    pub(crate) call: usize,
    /// Event position of the `ok` completion; `None` for `info`.
    pub(crate) ret: Option<usize>,
}

/// Operations with the same effect.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
enum Effect {
    /// Writes of this state, whatever the state before (`put`, `delete`).
    Write(u32),
    /// A `cas` from the first state to the second.
    Cas(u32, u32),
    /// Appends of suffixes no read shows: to the poison string state.
    PoisonAppend,
    /// An operation of its own (an append some read shows).
    Own(usize),
}

/// Interchangeable `info` operations (see the module docs).
struct Pool {
    /// What each member does.
    model: ModelOp,
    effect: Effect,
    /// The members' call positions, sorted, and their `History` positions in
    /// the same order.
    calls: Vec<usize>,
    members: Vec<usize>,
    /// Members applied on the current path.
    used: usize,
}

impl Pool {
    /// Whether one more member may be applied before `frontier`.
    fn available(&self, frontier: usize) -> bool {
        self.used < self.calls.partition_point(|&call| call < frontier)
    }

    /// Whether the pool may be applied before `frontier`, in `mode`.
    fn usable(&self, frontier: usize, mode: Mode) -> bool {
        match mode {
            Mode::Relaxed => self.calls[0] < frontier,
            Mode::Exact => self.available(frontier),
        }
    }
}

/// What the search decides.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Mode {
    /// Whether the key is linearizable if each `info` operation may take
    /// effect any number of times: pools never run out, and a configuration
    /// is (`ok` set, state) alone, with no sets of `info` operations to
    /// compare. A refutation here is a refutation; a linearization that
    /// never uses more members of a pool than were called is a
    /// linearization.
    Relaxed,
    /// The exact question: each `info` operation at most once.
    Exact,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Phase {
    Read,
    Write,
    Pool,
}

#[derive(Clone, Copy)]
struct Frame {
    /// `0..n_ok`: an `ok` operation; `n_ok + k`: a member of pool `k`.
    op: u32,
    prev_state: u32,
    /// The phase of the parent that pushed this frame, and where that phase
    /// resumes (`Write`: candidates seen; `Pool`: plan position).
    phase: Phase,
    resume: u32,
    /// The parent's frontier.
    frontier: usize,
    /// `Relaxed`: a pool use beyond the members called (see `overdrawn`).
    overdrawn: bool,
    /// The parent's `info_chain` and `info_signature`.
    info_chain: u32,
    info_signature: u64,
}

/// Where a key's search stands.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Status {
    Running,
    Linearizable,
    Refuted,
    /// `Relaxed` only: the linearization found uses some `info` operation
    /// more than once, which decides nothing.
    Inconclusive,
}

/// The resumable search of one key.
pub(crate) struct KeySearch {
    /// The `ok` operations, in call order.
    ops: Vec<SearchOp>,
    n_ok: usize,
    read_only: Vec<bool>,
    /// Per operation: the one state a read or a swapping `cas` needs
    /// (`NO_STATE` for others).
    needs: Vec<u32>,
    /// Per operation: its effect class. Operations of one class have the
    /// same transition function on (folded) states.
    effect: Vec<u32>,
    pools: Vec<Pool>,
    /// The `Write` pool leading to each state.
    write_pool_of: FxHashMap<u32, u32>,
    /// The `Cas` pools expecting each state.
    cas_pools_of: FxHashMap<u32, Vec<u32>>,
    /// The append pools, the `Write` pools and the `Cas` pools, each list
    /// (and each list of `cas_pools_of`) in order of first call.
    append_pools: Vec<u32>,
    write_pools: Vec<u32>,
    cas_pools: Vec<u32>,
    /// For each observed integer state: the last return of an operation
    /// that observes it (`usize::MAX` if an `info` `cas` expects it).
    dies_at: FxHashMap<u32, usize>,
    /// The poison integer state.
    poison_int: u32,

    // The list: node 0 is the head, the last node the tail; the others are
    // the calls and returns in history order.
    next: Vec<u32>,
    prev: Vec<u32>,
    /// The operation of each node; `node_is_return` tells call from return
    /// (the head and tail count as returns).
    node_op: Vec<u32>,
    node_is_return: Vec<bool>,
    /// Event position of each node (`usize::MAX` for the tail).
    node_pos: Vec<usize>,
    tail: u32,
    call_node: Vec<u32>,
    return_node: Vec<u32>,
    zobrist: Vec<u64>,

    states: States,
    cache: Cache,

    // The current configuration.
    state: u32,
    /// Linearized `ok` operations. Invariant: every word below `low` is full
    /// and `high` is one past the last non-zero word (or `<= low`).
    ok_bits: Vec<u64>,
    low: usize,
    high: usize,
    /// XOR of `zobrist` over the linearized `ok` operations.
    ok_hash: u64,
    /// Pool uses on the current path, `pool << 32 | j` for the `j`-th use of
    /// a pool, sorted: set inclusion compares use counts. `Exact` only.
    info_applied: Vec<u64>,
    /// The same set as a chain in the cache, and its signature.
    info_chain: u32,
    info_signature: u64,
    ok_done: usize,
    stack: Vec<Frame>,

    // Where the current configuration's walk is.
    phase: Phase,
    /// `Read`, `Write`: the list node.
    cursor: u32,
    /// The event position of the first return in the list, and its node.
    frontier: usize,
    frontier_node: u32,
    /// `Read`: calls seen; `Write`: candidates seen (their returns); `Pool`:
    /// position in `pool_plan`.
    seen: u32,
    /// The number of candidates (calls before the frontier).
    candidates: u32,
    /// `Write`: the effect classes tried so far.
    tried: Vec<u32>,
    /// `Pool`: the pools to try, in order (see [`KeySearch::plan_pools`]).
    pool_plan: Vec<u32>,
    /// Scratch space of `plan_pools`.
    points: Vec<u32>,

    // The longest prefix seen (by `ok` operations), for the counterexample.
    best: Vec<u32>,
    /// `best[..best_valid]` equals the bottom of `stack`.
    best_valid: usize,
    best_ok: usize,

    mode: Mode,
    /// `Relaxed`: frames on the stack that use a pool beyond its members
    /// called; a linearization with none is an exact one.
    overdrawn: usize,
    status: Status,
    steps: u64,
}

impl KeySearch {
    /// A search over `ops` (any order; `ret: None` marks `info`).
    pub(crate) fn new(ops: Vec<SearchOp>, mode: Mode) -> Self {
        let mut states = States::new(Observed::new(ops.iter().map(|op| &op.model)));
        let initial = states.intern(Value::Null);
        let (mut ops, info_ops): (Vec<SearchOp>, Vec<SearchOp>) = ops.into_iter().partition(|op| op.ret.is_some());
        ops.sort_by_key(|op| op.call);
        let n_ok = ops.len();
        let pools = make_pools(info_ops, &mut states);
        let mut write_pool_of = FxHashMap::default();
        let mut cas_pools_of: FxHashMap<u32, Vec<u32>> = FxHashMap::default();
        let (mut append_pools, mut write_pools, mut cas_pools) = (Vec::new(), Vec::new(), Vec::new());
        // `make_pools` returns the pools in order of first call.
        for (k, pool) in pools.iter().enumerate() {
            match pool.effect {
                Effect::Write(state) => {
                    write_pool_of.insert(state, k as u32);
                    write_pools.push(k as u32);
                }
                Effect::Cas(expected, _) => {
                    cas_pools_of.entry(expected).or_default().push(k as u32);
                    cas_pools.push(k as u32);
                }
                Effect::PoisonAppend | Effect::Own(_) => append_pools.push(k as u32),
            }
        }
        let read_only = ops.iter().map(|op| op.model.is_read_only()).collect();
        let needs = ops
            .iter()
            .map(|op| match &op.model {
                ModelOp::Read { value } | ModelOp::Cas { expected: value, swapped: Some(true), .. } => {
                    states.intern(value.clone())
                }
                _ => NO_STATE,
            })
            .collect();
        let effect = effect_classes(&ops, &mut states);
        let mut dies_at: FxHashMap<u32, usize> = FxHashMap::default();
        for op in &ops {
            let (ModelOp::Read { value } | ModelOp::Cas { expected: value, .. }) = &op.model else { continue };
            if matches!(value, Value::Int(_)) {
                let at = dies_at.entry(states.intern(value.clone())).or_insert(0);
                *at = (*at).max(op.ret.unwrap_or(usize::MAX));
            }
        }
        for pool in &pools {
            if let Effect::Cas(expected, _) = pool.effect {
                if matches!(states.value(expected), Value::Int(_)) {
                    dies_at.insert(expected, usize::MAX);
                }
            }
        }
        let poison_int = states.poison_int();

        let mut points: Vec<(usize, u32, bool)> = Vec::with_capacity(2 * n_ok);
        for (i, op) in ops.iter().enumerate() {
            points.push((op.call, i as u32, false));
            points.push((op.ret.unwrap_or(usize::MAX), i as u32, true));
        }
        points.sort_unstable();
        let nodes = points.len() + 2;
        let tail = (nodes - 1) as u32;
        let mut node_op = vec![u32::MAX; nodes];
        let mut node_is_return = vec![true; nodes];
        let mut node_pos = vec![usize::MAX; nodes];
        let mut call_node = vec![0; n_ok];
        let mut return_node = vec![0; n_ok];
        for (k, &(pos, op, is_return)) in points.iter().enumerate() {
            let node = k + 1;
            node_op[node] = op;
            node_is_return[node] = is_return;
            node_pos[node] = pos;
            if is_return {
                return_node[op as usize] = node as u32;
            } else {
                call_node[op as usize] = node as u32;
            }
        }
        let next = (0..nodes as u32).map(|n| (n + 1).min(tail)).collect();
        let prev = (0..nodes as u32).map(|n| n.saturating_sub(1)).collect();
        let zobrist = (0..n_ok as u64).map(|i| mix64(i.wrapping_add(0x9e37_79b9_7f4a_7c15))).collect();

        KeySearch {
            n_ok,
            read_only,
            needs,
            effect,
            pools,
            write_pool_of,
            cas_pools_of,
            append_pools,
            write_pools,
            cas_pools,
            dies_at,
            poison_int,
            next,
            prev,
            node_op,
            node_is_return,
            node_pos,
            tail,
            call_node,
            return_node,
            zobrist,
            states,
            cache: Cache::default(),
            state: initial,
            ok_bits: vec![0; n_ok.div_ceil(64)],
            low: 0,
            high: 0,
            ok_hash: 0,
            info_applied: Vec::new(),
            info_chain: NO_NODE,
            info_signature: 0,
            ok_done: 0,
            stack: Vec::new(),
            phase: Phase::Read,
            cursor: 1.min(tail),
            // Never ahead of the true frontier (see `fold`).
            frontier: 0,
            frontier_node: tail,
            seen: 0,
            candidates: 0,
            tried: Vec::new(),
            pool_plan: Vec::new(),
            points: Vec::new(),
            best: Vec::new(),
            best_valid: 0,
            best_ok: 0,
            mode,
            overdrawn: 0,
            status: if n_ok == 0 { Status::Linearizable } else { Status::Running },
            steps: 0,
            ops,
        }
    }

    pub(crate) fn status(&self) -> Status {
        self.status
    }

    /// Whether the key has `info` operations that can take effect (else the
    /// relaxed search is the exact one).
    pub(crate) fn has_info(&self) -> bool {
        !self.pools.is_empty()
    }

    /// The number of `ok` operations in the longest exact prefix found.
    pub(crate) fn best_len(&self) -> usize {
        self.best_ok
    }

    /// Configurations recorded so far.
    pub(crate) fn configurations(&self) -> usize {
        self.cache.len()
    }

    /// Operations searched (`ok`, and `info` that can take effect).
    pub(crate) fn op_count(&self) -> usize {
        self.ops.len() + self.pools.iter().map(|p| p.members.len()).sum::<usize>()
    }

    /// Runs about `max_steps` steps and returns the steps used. A step visits
    /// one list node, tries one pool, backtracks once (a backtrack or
    /// planning the pools walks the candidates within one step), or compares
    /// two sets of `info` operations in the memo; the last step of a call may
    /// overrun by the comparisons of one insertion.
    pub(crate) fn run(&mut self, max_steps: u64) -> u64 {
        let start = self.steps;
        while self.status == Status::Running && self.steps - start < max_steps {
            self.steps += 1;
            self.step();
        }
        self.steps - start
    }

    fn step(&mut self) {
        if self.ok_done == self.n_ok {
            self.status = if self.overdrawn == 0 { Status::Linearizable } else { Status::Inconclusive };
            return;
        }
        match self.phase {
            Phase::Read => self.step_read(),
            Phase::Write => self.step_write(),
            Phase::Pool => self.step_pool(),
        }
    }

    /// One node of the `Read` walk: the calls from the head to the frontier
    /// (the first return).
    fn step_read(&mut self) {
        let node = self.cursor as usize;
        if self.node_is_return[node] {
            self.frontier_node = node as u32;
            self.frontier = self.node_pos[node];
            self.candidates = self.seen;
            self.start_phase(Phase::Write);
            return;
        }
        self.cursor = self.next[node];
        self.seen += 1;
        let op = self.node_op[node];
        if !self.read_only[op as usize] {
            return;
        }
        if self.states.step(self.state, op, &self.ops[op as usize].model).is_some()
            && !self.try_enter(op, self.state, 0)
        {
            // The forced child was explored (or is dominated), so this
            // configuration fails as a whole.
            self.backtrack();
        }
    }

    /// One node of the `Write` walk: the returns from the frontier on, so
    /// that candidates come in return order.
    fn step_write(&mut self) {
        let node = self.cursor as usize;
        if self.seen == self.candidates || node == self.tail as usize {
            self.start_phase(Phase::Pool);
            return;
        }
        self.cursor = self.next[node];
        let op = self.node_op[node];
        if !self.node_is_return[node] || self.ops[op as usize].call >= self.frontier {
            return;
        }
        self.seen += 1;
        if self.read_only[op as usize] {
            return;
        }
        let Some(next_state) = self.states.step(self.state, op, &self.ops[op as usize].model) else { return };
        let class = self.effect[op as usize];
        if self.tried.contains(&class) {
            return;
        }
        self.tried.push(class);
        self.try_enter(op, next_state, self.seen);
    }

    /// One pool of the `Pool` plan, or backtracks after the last.
    fn step_pool(&mut self) {
        let position = self.seen;
        let Some(&k) = self.pool_plan.get(position as usize) else {
            self.backtrack();
            return;
        };
        self.seen += 1;
        if !self.pools[k as usize].usable(self.frontier, self.mode) {
            return;
        }
        let op = self.n_ok as u32 + k;
        let Some(next_state) = self.states.step(self.state, op, &self.pools[k as usize].model) else { return };
        if next_state != self.state {
            self.try_enter(op, next_state, position + 1);
        }
    }

    /// Starts `phase` of the current configuration (after `Read`).
    fn start_phase(&mut self, phase: Phase) {
        self.phase = phase;
        self.seen = 0;
        self.tried.clear();
        self.cursor = self.frontier_node;
        if phase == Phase::Pool {
            self.plan_pools();
        }
    }

    /// Chooses the pools worth trying in the current configuration, into
    /// `pool_plan`: the `cas` pools expecting the current state, the append
    /// pools, and the useful state-independent writes.
    ///
    /// A state-independent write is useful only if some candidate behaves
    /// differently after it than now. The operation right after the write in
    /// a shortest completion is a candidate now: if it is a
    /// state-independent write, the pair is dominated by that write alone; a
    /// read-only operation must be legal after the write; any other one that
    /// reaches the same state from both makes the pair dominated by that
    /// operation alone, and an `info` one that does nothing after the write
    /// would be left out. Here no read-only candidate is legal now, so:
    ///
    /// - a `get` of `v` and a `cas` expecting `v` (`ok`, or an available
    ///   `info` pool) behave differently after a write of `v` only;
    /// - a `cas` that did not swap (so expects the current state) behaves
    ///   differently after any write, an append (`ok`, or an available
    ///   `info` pool) after any write of a string or null.
    ///
    /// A state-independent write is never tried right after another `info`
    /// operation: the parent of that one tries the write directly, which
    /// dominates.
    fn plan_pools(&mut self) {
        self.pool_plan.clear();
        let frontier = self.frontier;
        // Each list is in order of first call: stop at the first pool not
        // called yet.
        let called = |pools: &[Pool], k: &u32| pools[*k as usize].calls[0] < frontier;
        if let Some(cas) = self.cas_pools_of.get(&self.state) {
            self.pool_plan.extend(cas.iter().take_while(|k| called(&self.pools, k)));
        }
        self.pool_plan.extend(self.append_pools.iter().take_while(|k| called(&self.pools, k)));
        let after_info = self.stack.last().is_some_and(|f| f.op as usize >= self.n_ok);
        if after_info || self.write_pools.first().is_none_or(|k| !called(&self.pools, k)) {
            return;
        }
        let mut points = core::mem::take(&mut self.points);
        points.clear();
        let mut cas_false_waits = false;
        let mut appends_wait = false;
        let mut node = self.next[HEAD as usize];
        while !self.node_is_return[node as usize] {
            let op = self.node_op[node as usize] as usize;
            match &self.ops[op].model {
                ModelOp::Read { .. } | ModelOp::Cas { swapped: Some(true), .. } => points.push(self.needs[op]),
                ModelOp::Cas { .. } => cas_false_waits = true,
                ModelOp::Append { .. } => appends_wait = true,
                ModelOp::Put { .. } | ModelOp::Delete => {}
            }
            node = self.next[node as usize];
        }
        for &k in self.cas_pools.iter().take_while(|k| called(&self.pools, k)) {
            let pool = &self.pools[k as usize];
            if let (Effect::Cas(expected, _), true) = (pool.effect, pool.usable(frontier, self.mode)) {
                points.push(expected);
            }
        }
        appends_wait |= self.append_pools.iter().any(|&k| self.pools[k as usize].usable(frontier, self.mode));
        if cas_false_waits || appends_wait {
            // A write of a value nobody pending observes is a poison write;
            // with a poison write available it is not needed (a completion
            // that uses it can use the poison write instead, and it later).
            let poison_pool = self.write_pool_of.get(&self.poison_int).copied();
            let poison_available = poison_pool.is_some_and(|k| self.pools[k as usize].usable(frontier, self.mode));
            for i in 0..self.write_pools.len() {
                let k = self.write_pools[i];
                if !called(&self.pools, &k) {
                    break;
                }
                let Effect::Write(written) = self.pools[k as usize].effect else { continue };
                if poison_available && Some(k) != poison_pool && self.fold(written) == self.poison_int {
                    continue;
                }
                let takes_appends = appends_wait && self.states.step(written, u32::MAX, &APPEND_PROBE).is_some();
                if cas_false_waits || takes_appends || points.contains(&written) {
                    self.pool_plan.push(k);
                }
            }
        } else {
            points.sort_unstable();
            points.dedup();
            self.pool_plan.extend(points.iter().filter_map(|state| self.write_pool_of.get(state)));
        }
        self.points = points;
    }

    /// Enters the configuration that linearizes `op` next, unless the cache
    /// has it (or one that dominates it). `resume` is where the current
    /// phase goes on after backtracking to this configuration.
    fn try_enter(&mut self, op: u32, next_state: u32, resume: u32) -> bool {
        let next_state = self.fold(next_state);
        let overdrawn = (op as usize) >= self.n_ok && !self.pools[op as usize - self.n_ok].available(self.frontier);
        let (info_chain, info_signature) = (self.info_chain, self.info_signature);
        self.mark(op);
        let words: &[u64] = if self.high > self.low { &self.ok_bits[self.low..self.high] } else { &[] };
        let config = Config {
            hash: self.ok_hash ^ mix64(u64::from(next_state)),
            state: next_state,
            low: self.low as u32,
            words,
            info: &self.info_applied,
            info_chain: self.info_chain,
            info_signature: self.info_signature,
        };
        let inserted = self.cache.insert(&config);
        // Comparing sets of `info` operations is work too: count it, so that
        // a step budget bounds the time.
        self.steps += self.cache.take_work();
        if !inserted {
            self.unmark(op);
            (self.info_chain, self.info_signature) = (info_chain, info_signature);
            return false;
        }
        self.lift(op);
        self.stack.push(Frame {
            op,
            prev_state: self.state,
            phase: self.phase,
            resume,
            frontier: self.frontier,
            overdrawn,
            info_chain,
            info_signature,
        });
        self.overdrawn += usize::from(overdrawn);
        self.state = next_state;
        if (op as usize) < self.n_ok {
            self.ok_done += 1;
            // The counterexample's prefix must be an exact one.
            if self.ok_done > self.best_ok && self.overdrawn == 0 {
                self.best_ok = self.ok_done;
                self.best.truncate(self.best_valid);
                self.best.extend(self.stack[self.best_valid..].iter().map(|f| f.op));
                self.best_valid = self.stack.len();
            }
        }
        self.phase = Phase::Read;
        self.cursor = self.next[HEAD as usize];
        self.seen = 0;
        true
    }

    /// Pops frames until one whose parent has children left, and resumes
    /// the parent's phase after it; refutes the key if none is left.
    fn backtrack(&mut self) {
        loop {
            let Some(frame) = self.stack.pop() else {
                self.status = Status::Refuted;
                return;
            };
            self.best_valid = self.best_valid.min(self.stack.len());
            self.overdrawn -= usize::from(frame.overdrawn);
            self.unlift(frame.op);
            self.unmark(frame.op);
            (self.info_chain, self.info_signature) = (frame.info_chain, frame.info_signature);
            if (frame.op as usize) < self.n_ok {
                self.ok_done -= 1;
            }
            self.state = frame.prev_state;
            if frame.phase == Phase::Read {
                continue;
            }
            self.frontier = frame.frontier;
            self.redo_frontier();
            self.start_phase(frame.phase);
            self.seen = frame.resume;
            if frame.phase != Phase::Pool {
                self.cursor = self.next[self.return_node[frame.op as usize] as usize];
                self.redo_tried();
            }
            return;
        }
    }

    /// Folds an integer state that no pending operation observes into the
    /// poison integer state: every operation that could tell it apart has
    /// returned before the frontier, so is linearized (on this path the
    /// frontier only moves forward, and `self.frontier` is never ahead of
    /// the current configuration's).
    fn fold(&self, state: u32) -> u32 {
        match self.dies_at.get(&state) {
            Some(&last) if last < self.frontier => self.poison_int,
            _ => state,
        }
    }

    /// Recomputes what the `Read` walk found (the frontier node and the
    /// number of candidates), after a backtrack.
    fn redo_frontier(&mut self) {
        let mut candidates = 0;
        let mut node = self.next[HEAD as usize];
        while !self.node_is_return[node as usize] {
            candidates += 1;
            node = self.next[node as usize];
        }
        self.frontier_node = node;
        self.candidates = candidates;
    }

    /// Recomputes `tried` for the `Write` phase, up to `seen` candidates.
    fn redo_tried(&mut self) {
        let mut seen = 0;
        let mut node = self.frontier_node;
        while seen < self.seen && node != self.tail {
            let op = self.node_op[node as usize];
            let is_candidate = self.node_is_return[node as usize] && self.ops[op as usize].call < self.frontier;
            node = self.next[node as usize];
            if !is_candidate {
                continue;
            }
            seen += 1;
            let class = self.effect[op as usize];
            if self.read_only[op as usize] || self.tried.contains(&class) {
                continue;
            }
            if self.states.step(self.state, op, &self.ops[op as usize].model).is_some() {
                self.tried.push(class);
            }
        }
    }

    fn mark(&mut self, op: u32) {
        let i = op as usize;
        if i < self.n_ok {
            let word = i / 64;
            self.ok_bits[word] |= 1 << (i % 64);
            self.ok_hash ^= self.zobrist[i];
            self.high = self.high.max(word + 1);
            while self.low < self.ok_bits.len() && self.ok_bits[self.low] == self.full_word(self.low) {
                self.low += 1;
            }
            return;
        }
        let k = i - self.n_ok;
        let pool = &mut self.pools[k];
        let element = (k as u64) << 32 | pool.used as u64;
        pool.used += 1;
        if self.mode == Mode::Exact {
            let at = self.info_applied.partition_point(|&x| x < element);
            self.info_applied.insert(at, element);
            self.info_chain = self.cache.push_node(self.info_chain, element);
            self.info_signature |= signature(element);
        }
    }

    fn unmark(&mut self, op: u32) {
        let i = op as usize;
        if i < self.n_ok {
            let word = i / 64;
            self.ok_bits[word] &= !(1 << (i % 64));
            self.ok_hash ^= self.zobrist[i];
            self.low = self.low.min(word);
            while self.high > 0 && self.ok_bits[self.high - 1] == 0 {
                self.high -= 1;
            }
            return;
        }
        let k = i - self.n_ok;
        let pool = &mut self.pools[k];
        pool.used -= 1;
        let element = (k as u64) << 32 | pool.used as u64;
        if let Ok(at) = self.info_applied.binary_search(&element) {
            self.info_applied.remove(at);
        }
    }

    /// The value of word `w` of `ok_bits` when every operation in it is
    /// linearized.
    fn full_word(&self, w: usize) -> u64 {
        let bits = self.n_ok - w * 64;
        if bits >= 64 {
            u64::MAX
        } else {
            (1 << bits) - 1
        }
    }

    fn unlink(&mut self, node: u32) {
        let (p, n) = (self.prev[node as usize], self.next[node as usize]);
        self.next[p as usize] = n;
        self.prev[n as usize] = p;
    }

    /// Undoes `unlink(node)`; unlinks must be undone in reverse order.
    fn relink(&mut self, node: u32) {
        let (p, n) = (self.prev[node as usize], self.next[node as usize]);
        self.next[p as usize] = node;
        self.prev[n as usize] = node;
    }

    fn lift(&mut self, op: u32) {
        if (op as usize) < self.n_ok {
            self.unlink(self.call_node[op as usize]);
            self.unlink(self.return_node[op as usize]);
        }
    }

    fn unlift(&mut self, op: u32) {
        if (op as usize) < self.n_ok {
            self.relink(self.return_node[op as usize]);
            self.relink(self.call_node[op as usize]);
        }
    }

    /// The longest prefix found (operations in linearization order, as
    /// positions in `History::operations`), and the `ok` operations that were
    /// candidates after it, none of which could be placed.
    pub(crate) fn counterexample(&self) -> (Vec<usize>, Vec<usize>) {
        let mut placed = vec![false; self.n_ok];
        let mut pool_uses = vec![0; self.pools.len()];
        let mut prefix = Vec::with_capacity(self.best.len());
        for &op in &self.best {
            let i = op as usize;
            if i < self.n_ok {
                placed[i] = true;
                prefix.push(self.ops[i].history_index);
            } else {
                // The j-th use of a pool is its j-th member in call order.
                let k = i - self.n_ok;
                prefix.push(self.pools[k].members[pool_uses[k]]);
                pool_uses[k] += 1;
            }
        }
        let first_return = (0..self.n_ok).filter(|&i| !placed[i]).filter_map(|i| self.ops[i].ret).min();
        let unplaced = (0..self.n_ok)
            .filter(|&i| !placed[i] && first_return.is_some_and(|r| self.ops[i].call < r))
            .map(|i| self.ops[i].history_index)
            .collect();
        (prefix, unplaced)
    }
}

/// Groups `info` operations into pools of the same effect, members in call
/// order, pools in order of first call. An `info` `get`, and an `info` `cas`
/// that writes what it expects, have no effect and are left out.
fn make_pools(info_ops: Vec<SearchOp>, states: &mut States) -> Vec<Pool> {
    let mut pools: BTreeMap<Effect, Pool> = BTreeMap::new();
    for op in info_ops {
        let effect = match &op.model {
            ModelOp::Put { value } => Effect::Write(states.intern(value.clone())),
            ModelOp::Delete => Effect::Write(states.intern(Value::Null)),
            ModelOp::Cas { expected, value, .. } => {
                let (expected, value) = (states.intern(expected.clone()), states.intern(value.clone()));
                if expected == value {
                    continue;
                }
                Effect::Cas(expected, value)
            }
            ModelOp::Append { suffix } if !states.observed().may_observe_suffix(suffix) => Effect::PoisonAppend,
            ModelOp::Append { .. } => Effect::Own(op.history_index),
            ModelOp::Read { .. } => continue,
        };
        let pool = pools.entry(effect).or_insert_with(|| Pool {
            model: op.model.clone(),
            effect,
            calls: Vec::new(),
            members: Vec::new(),
            used: 0,
        });
        pool.calls.push(op.call);
        pool.members.push(op.history_index);
    }
    let mut pools: Vec<Pool> = pools
        .into_values()
        .map(|mut pool| {
            let mut by_call: Vec<(usize, usize)> =
                pool.calls.iter().copied().zip(pool.members.iter().copied()).collect();
            by_call.sort_unstable();
            (pool.calls, pool.members) = by_call.into_iter().unzip();
            pool
        })
        .collect();
    // Calls are distinct event positions, so the order is total.
    pools.sort_by_key(|pool| pool.calls[0]);
    pools
}

/// Numbers the `ok` operations by effect: operations with the same number
/// have the same transition function on folded states (writes of one
/// state; swapping `cas` operations with the same expected and written
/// states; appends of suffixes no read shows). Others get numbers of their
/// own.
fn effect_classes(ok_ops: &[SearchOp], states: &mut States) -> Vec<u32> {
    let mut classes: FxHashMap<Effect, u32> = FxHashMap::default();
    ok_ops
        .iter()
        .enumerate()
        .map(|(i, op)| {
            let effect = match &op.model {
                ModelOp::Put { value } => Effect::Write(states.intern(value.clone())),
                ModelOp::Delete => Effect::Write(states.intern(Value::Null)),
                ModelOp::Cas { expected, value, swapped: Some(true) } if expected != value => {
                    Effect::Cas(states.intern(expected.clone()), states.intern(value.clone()))
                }
                ModelOp::Append { suffix } if !states.observed().may_observe_suffix(suffix) => Effect::PoisonAppend,
                _ => Effect::Own(i),
            };
            let next = classes.len() as u32;
            *classes.entry(effect).or_insert(next)
        })
        .collect()
}

/// An append used only to ask whether a state takes appends (a string or
/// null), through the transition memo under an operation number no real
/// operation has.
static APPEND_PROBE: ModelOp = ModelOp::Append { suffix: String::new() };
