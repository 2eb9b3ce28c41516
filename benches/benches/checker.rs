#![allow(missing_docs)] // criterion_group! generates undocumented functions.
//! Linearizability checking (raft-check) of generated histories, in
//! operations per second: 1 to 50 clients on 1 to 10 keys, 2% of the
//! operations of unknown outcome (`raft_check::synth`, fixed seeds), and the
//! 10-client, 10-key history of 10,000 operations with one read corrupted.
//!
//! A cell whose history the default budget cannot decide is reported and
//! skipped: its time would measure the budget, not the checker.

use core::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use raft_check::synth::{corrupt_one_read, generate, SynthConfig};
use raft_check::{check, check_with_stats, Budget, History, Verdict};

/// Operations per history: enough for steady state, few enough that the
/// slow cells (many clients on one key) finish in a sample.
const OPS: usize = 5_000;

const CLIENTS: [u32; 5] = [1, 5, 10, 20, 50];
const KEYS: [u32; 3] = [1, 3, 10];

fn bench_history(c: &mut Criterion, group_name: &str, name: &str, history: &History, expect_linearizable: bool) {
    let (verdict, stats) = check_with_stats(history, Budget::default());
    if verdict.is_linearizable() != expect_linearizable || matches!(verdict, Verdict::Unknown { .. }) {
        println!("{group_name}/{name}: skipped, the default budget ends in: {verdict} ({} steps)", stats.steps);
        return;
    }
    let mut group = c.benchmark_group(group_name);
    group.throughput(Throughput::Elements(history.operations().len() as u64));
    group.sample_size(10);
    group.bench_function(name, |b| b.iter(|| check(black_box(history), Budget::default())));
    group.finish();
}

fn checker(c: &mut Criterion) {
    for clients in CLIENTS {
        for keys in KEYS {
            let history = generate(&SynthConfig::new(u64::from(clients * 100 + keys), clients, keys, OPS));
            let name = format!("{clients}_clients/{keys}_keys");
            bench_history(c, "checker/linearizable", &name, &history, true);
        }
    }
    let history = generate(&SynthConfig::new(2024, 10, 10, 10_000));
    if let Some((corrupted, _)) = corrupt_one_read(&history, 7) {
        bench_history(c, "checker/one_read_corrupted", "10_clients/10_keys/10000_ops", &corrupted, false);
    }
}

criterion_group!(benches, checker);
criterion_main!(benches);
