//! The workloads of WORKLOADS.md on tikv/raft-rs 0.7: one criterion group
//! `workloads`, one function per workload id; the harness is in src/lib.rs.
//! Run via ../side-by-side.sh, or `cargo bench --bench workloads` here.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use raftrs_benches::{
    floor_arena_pass, floor_b_pass, floor_sources, w3_run, w3_setup, w4_once, Arena, Reads, W1, W2, W3_N, W5,
};

fn workloads(c: &mut Criterion) {
    let mut g = c.benchmark_group("workloads");
    g.warm_up_time(Duration::from_secs(1));
    g.measurement_time(Duration::from_secs(4));

    // Per-message / per-tick workloads: one iteration = one operation.
    g.throughput(Throughput::Elements(1));
    let mut w1 = W1::new(false);
    g.bench_function("w1", |b| b.iter_custom(|n| w1.run(n)));
    drop(w1);
    let mut w1b = W1::new(true);
    g.bench_function("w1b", |b| b.iter_custom(|n| w1b.run(n)));
    drop(w1b);
    let mut w2 = W2::new(false);
    g.bench_function("w2", |b| b.iter_custom(|n| w2.run(n)));
    drop(w2);
    let mut w2b = W2::new(true);
    g.bench_function("w2b", |b| b.iter_custom(|n| w2b.run(n)));
    drop(w2b);

    // W3: one iteration = one whole N = 100,000-entry run on a fresh
    // elected cluster (setup and teardown untimed).
    g.throughput(Throughput::Elements(W3_N));
    g.sample_size(10);
    for (batch, suffix) in [(false, ""), (true, "_batch")] {
        for bsz in [1u64, 16, 256] {
            let id = format!("w3_b{bsz}{suffix}");
            g.bench_function(id.as_str(), |b| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let mut cl = w3_setup(batch);
                        total += w3_run(&mut cl, W3_N, bsz).elapsed;
                        drop(cl);
                    }
                    total
                })
            });
        }
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

    let mut w5 = W5::new();
    g.bench_function("w5a", |b| b.iter_custom(|n| w5.run_tick(n)));
    g.bench_function("w5b", |b| b.iter_custom(|n| w5.run_heartbeat(n)));
    drop(w5);

    // Reads on the detached leader of an elected 3-node cluster: one
    // iteration = a burst of k ReadOnlySafe reads until all are confirmed
    // (reported per read), or one LeaseBased read.
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
