//! Parses and checks a generated history, then the same history with one
//! read corrupted, and prints operations per second.
//!
//! `cargo run --release -p raft-check --example throughput -- [clients keys ops info_per_mille seed]`
//! (defaults: 10 clients, 10 keys, 10,000 operations, 20 per mille of
//! unknown outcome, seed 1).

use std::time::Instant;

use raft_check::synth::{corrupt_one_read, generate, Ratio, SynthConfig};
use raft_check::{check_with_stats, parse_history, Budget, Verdict};

fn main() {
    let args: Vec<u64> = std::env::args().skip(1).map(|a| a.parse().expect("numeric argument")).collect();
    let arg = |i: usize, default: u64| args.get(i).copied().unwrap_or(default);
    let config = SynthConfig {
        info: Ratio::new(arg(3, 20) as u32, 1000),
        ..SynthConfig::new(arg(4, 1), arg(0, 10) as u32, arg(1, 10) as u32, arg(2, 10_000) as usize)
    };
    let history = generate(&config);
    let ops = history.operations().len();
    let text: String = history.events().iter().map(|e| format!("{e}\n")).collect();
    let start = Instant::now();
    let parsed = parse_history(text.as_bytes()).expect("the generator writes valid histories");
    let elapsed = start.elapsed();
    assert_eq!(parsed, history);
    println!(
        "parse: {} lines, {:.1} ms, {:.0} lines/s",
        parsed.events().len(),
        elapsed.as_secs_f64() * 1e3,
        parsed.events().len() as f64 / elapsed.as_secs_f64()
    );
    run("generated", &history, ops);
    if let Some((bad, id)) = corrupt_one_read(&history, config.seed) {
        println!("corrupted the read of op {id}");
        run("corrupted", &bad, ops);
    }
}

fn run(name: &str, history: &raft_check::History, ops: usize) {
    let start = Instant::now();
    let (verdict, stats) = check_with_stats(history, Budget::default());
    let elapsed = start.elapsed();
    let summary = match &verdict {
        Verdict::Linearizable => "linearizable".to_owned(),
        Verdict::NotLinearizable(c) => format!("not linearizable (key {}, prefix {})", c.key, c.prefix.len()),
        Verdict::Unknown { keys_unfinished } => format!("unknown {keys_unfinished:?}"),
    };
    println!(
        "{name}: {ops} ops, {summary}, {:.1} ms, {:.0} ops/s, {} steps, {} configurations",
        elapsed.as_secs_f64() * 1e3,
        ops as f64 / elapsed.as_secs_f64(),
        stats.steps,
        stats.configurations
    );
}
