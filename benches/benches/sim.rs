#![allow(missing_docs)] // criterion_group! generates undocumented functions.
//! The simulator's speed, in simulated events per second: one iteration is
//! one whole `raft-sim` world with the defaults of `raft-sim run` (5 nodes,
//! 5 clients x 200 operations, every fault), for a fixed seed:
//! `raft_sim::World::new(WorldOptions::new(SEED)).run()`, its end-of-run
//! linearizability check included. The same seed gives the same events, so
//! one untimed run learns the count that `Throughput::Elements` reports
//! against. Run with `cargo bench -p raft-sansio-benches --bench sim`.

use core::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use raft_sim::{Outcome, World, WorldOptions};

/// The world's seed.
const SEED: u64 = 1;

fn sim(c: &mut Criterion) {
    let first = World::new(WorldOptions::new(SEED)).run();
    assert_eq!(first.outcome, Outcome::Pass, "seed {SEED}: {:?}", first.outcome);
    let events = first.stats.events;
    let trace_hash = first.trace_hash;
    drop(first);

    println!("sim: seed {SEED}, 5 nodes, 5 clients x 200 ops, all faults: {events} events per world");

    // Warm-up and measurement times are criterion's (command line) ones.
    let mut g = c.benchmark_group("sim");
    g.sample_size(10);
    g.throughput(Throughput::Elements(events));
    g.bench_function("world_5n_all_faults", |b| {
        // The report (history included) is dropped outside the clock.
        b.iter_with_large_drop(|| {
            let report = World::new(WorldOptions::new(black_box(SEED))).run();
            assert_eq!((report.stats.events, report.trace_hash), (events, trace_hash), "not deterministic");
            report
        })
    });
    g.finish();
}

criterion_group!(benches, sim);
criterion_main!(benches);
