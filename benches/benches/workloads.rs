#![allow(missing_docs)] // criterion_group! generates undocumented functions.
//! The workloads of WORKLOADS.md on our core: one criterion group
//! `workloads`, one function per workload id (the same ids as the raft-rs
//! side in `raftrs/benches/workloads.rs`, plus `*_events` variants with
//! `Config::emit_events = true`); the harness is in `src/workloads.rs`.
//! Run via `side-by-side.sh`, or `cargo bench --bench workloads` here.

use core::hint::black_box;
use core::time::Duration;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use raft_sansio_benches::{
    floor_arena_pass, floor_b_pass, floor_sources, w3_run, w3_setup, w4_once, Arena, Opts, Reads, W1, W2, W3_N, W5,
};

fn workloads(c: &mut Criterion) {
    let mut g = c.benchmark_group("workloads");
    g.warm_up_time(Duration::from_secs(1));
    g.measurement_time(Duration::from_secs(4));

    // Per-message / per-tick workloads: one iteration = one operation.
    g.throughput(Throughput::Elements(1));
    for (id, commit_fixed, opts) in
        [("w1", false, Opts::default()), ("w1b", true, Opts::default()), ("w1_events", false, Opts::events())]
    {
        let mut w = W1::new(commit_fixed, opts);
        g.bench_function(id, |b| b.iter_custom(|n| w.run(n)));
    }
    let no_bcast = Opts { broadcast_commit: false, ..Opts::default() };
    for (id, opts) in [("w2", Opts::default()), ("w2b", no_bcast), ("w2_events", Opts::events())] {
        let mut w = W2::new(opts);
        g.bench_function(id, |b| b.iter_custom(|n| w.run(n)));
    }

    // W3: one iteration = one whole N = 100,000-entry run on a fresh
    // elected cluster (setup and teardown untimed).
    g.throughput(Throughput::Elements(W3_N));
    g.sample_size(10);
    for bsz in [1u64, 16, 256] {
        let id = format!("w3_b{bsz}");
        g.bench_function(id.as_str(), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let mut cl = w3_setup();
                    total += w3_run(&mut cl, W3_N, bsz).elapsed;
                    drop(cl);
                }
                total
            })
        });
    }
    g.sample_size(100);

    // W4: one iteration = one election on a fresh 5-node cluster.
    g.throughput(Throughput::Elements(1));
    g.bench_function("w4", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let (t, stepped) = w4_once();
                assert_eq!(stepped, 6);
                total += t;
            }
            total
        })
    });

    let mut w5 = W5::new(Opts::default());
    g.bench_function("w5a", |b| b.iter_custom(|n| w5.run_tick(n)));
    g.bench_function("w5b", |b| b.iter_custom(|n| w5.run_heartbeat(n)));
    drop(w5);
    let mut w5 = W5::new(Opts::events());
    g.bench_function("w5a_events", |b| b.iter_custom(|n| w5.run_tick(n)));
    drop(w5);

    // Reads on the detached leader of an elected 3-node cluster: one
    // iteration = a burst of k read-index reads until all are confirmed
    // (reported per read), or one lease read answered at once.
    for k in [1u64, 16, 256] {
        let mut r = Reads::new(false);
        g.throughput(Throughput::Elements(k));
        g.bench_function(format!("read_index_k{k}").as_str(), |b| b.iter_custom(|n| r.run_index(k, n)));
    }
    g.throughput(Throughput::Elements(1));
    let mut r = Reads::new(true);
    g.bench_function("read_lease", |b| b.iter_custom(|n| r.run_lease(n)));
    drop(r);

    // Floors: one iteration = one pass of 100,000 entries.
    g.throughput(Throughput::Elements(W3_N));
    let src = floor_sources();
    let mut hot = Arena::default();
    g.bench_function("floor_a", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                hot.bytes.clear();
                hot.recs.clear();
                let t = Instant::now();
                floor_arena_pass(&mut hot, black_box(&src), W3_N);
                total += t.elapsed();
                black_box(&hot);
            }
            total
        })
    });
    g.bench_function("floor_b", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let mut v = Vec::new();
                let t = Instant::now();
                floor_b_pass(&mut v, black_box(&src), W3_N);
                total += t.elapsed();
                black_box(&v);
                drop(v);
            }
            total
        })
    });
    g.bench_function("floor_c", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let mut cold = Arena::default();
                let t = Instant::now();
                floor_arena_pass(&mut cold, black_box(&src), W3_N);
                total += t.elapsed();
                black_box(&cold);
                drop(cold);
            }
            total
        })
    });
    g.finish();
}

criterion_group!(benches, workloads);
criterion_main!(benches);
