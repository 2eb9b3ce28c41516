//! Steady state allocates nothing: 10,000 operations of W1, W1b, W2, W2b,
//! W5a and W5b (WORKLOADS.md), after warm-up, counted over exactly the part
//! the benches time (`step_into` plus the harness's Ready cycle), with the
//! harness careful: output vectors reused, input messages pre-built, and
//! payload handles already shared (each `Bytes` cloned once while the chunk
//! is built, so the one-time promotion of a `Vec`-backed `Bytes` to a
//! shared one happens untimed).
//!
//! `cargo test -p raft-sansio-alloc-count --release -- --nocapture` prints
//! the counts; with `ALLOC_TRACE=1` every counted allocation prints a
//! backtrace.

use raft_sansio_alloc_count::{allocations, frees, trace, CountingAlloc};
use raft_sansio_benches::{Opts, CHUNK, W1, W2, W5};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// Operations counted per workload.
const OPS: u64 = 10_000;
/// Operations run before counting (the log, the output vectors, the write
/// buffer and the outbox queues reach their working sizes).
const WARM_UP: u64 = 3 * CHUNK as u64;

/// (allocations, frees) over the timed part of `OPS` operations, run in
/// chunks as the benches do; `prepare` and `finish` are not counted.
fn count(mut prepare: impl FnMut(u64), mut timed: impl FnMut(), mut finish: impl FnMut()) -> (u64, u64) {
    let (mut allocs, mut freed) = (0, 0);
    let mut left = OPS;
    while left > 0 {
        let k = left.min(CHUNK as u64);
        left -= k;
        prepare(k);
        trace(true);
        let (a0, f0) = (allocations(), frees());
        timed();
        let (a1, f1) = (allocations(), frees());
        trace(false);
        allocs += a1 - a0;
        freed += f1 - f0;
        finish();
    }
    (allocs, freed)
}

fn report(id: &str, (allocs, freed): (u64, u64)) {
    eprintln!("{id}: {allocs} allocations, {freed} frees over {OPS} operations");
    assert_eq!(allocs, 0, "{id} allocates in steady state");
}

fn w1(id: &str, commit_fixed: bool) {
    let w = core::cell::RefCell::new(W1::new(commit_fixed, Opts::default()));
    w.borrow_mut().run(WARM_UP);
    w.borrow_mut().share_payloads = true;
    let r = count(|k| w.borrow_mut().prepare(k), || w.borrow_mut().run_prepared(), || w.borrow_mut().finish());
    report(id, r);
}

fn w2(id: &str, opts: Opts) {
    let w = core::cell::RefCell::new(W2::new(opts));
    w.borrow_mut().run(WARM_UP);
    w.borrow_mut().share_payloads = true;
    let r = count(|k| w.borrow_mut().prepare(k), || w.borrow_mut().run_prepared(), || w.borrow_mut().finish());
    report(id, r);
}

#[test]
fn w1_follower_append_allocates_nothing() {
    w1("w1", false);
}

#[test]
fn w1b_follower_append_commit_fixed_allocates_nothing() {
    w1("w1b", true);
}

#[test]
fn w2_leader_ack_allocates_nothing() {
    w2("w2", Opts::default());
}

#[test]
fn w2b_leader_ack_no_broadcast_allocates_nothing() {
    w2("w2b", Opts { broadcast_commit: false, ..Opts::default() });
}

#[test]
fn w5a_leader_tick_allocates_nothing() {
    let w = core::cell::RefCell::new(W5::new(Opts::default()));
    w.borrow_mut().run_tick(WARM_UP);
    let last_k = core::cell::Cell::new(0);
    let r =
        count(|k| last_k.set(k), || w.borrow_mut().ticks(last_k.get()), || w.borrow_mut().finish_ticks(last_k.get()));
    report("w5a", r);
}

#[test]
fn w5b_follower_heartbeat_allocates_nothing() {
    let w = core::cell::RefCell::new(W5::new(Opts::default()));
    w.borrow_mut().run_heartbeat(WARM_UP);
    let r = count(
        |k| w.borrow_mut().prepare_heartbeats(k),
        || w.borrow_mut().heartbeats(),
        || w.borrow_mut().finish_heartbeats(),
    );
    report("w5b", r);
}

/// The counter works: without pre-shared payloads, W1's first clone of each
/// payload (into the follower's log) promotes it, one allocation per
/// operation.
#[test]
fn the_counter_sees_the_payload_promotion() {
    let w = core::cell::RefCell::new(W1::new(false, Opts::default()));
    w.borrow_mut().run(WARM_UP);
    let (allocs, _) =
        count(|k| w.borrow_mut().prepare(k), || w.borrow_mut().run_prepared(), || w.borrow_mut().finish());
    eprintln!("w1 without pre-shared payloads: {allocs} allocations over {OPS} operations");
    assert_eq!(allocs, OPS);
}
