//! W3 with N = 1,000,000 (B = 256, batch_append = true) in a fresh process,
//! for peak RSS. `w3_rss idle` only builds the elected cluster (baseline).
//! Prints `peak_rss_kb=N` (VmHWM) at the end; `/usr/bin/time -v` agrees.
//! Options: `idle`, `--b N`, `--no-batch`.

use raftrs_benches::{peak_rss_kb, w3_run, w3_setup};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let idle = args.iter().any(|a| a == "idle");
    let batch = !args.iter().any(|a| a == "--no-batch");
    let b: u64 = args.iter().position(|a| a == "--b").map(|i| args[i + 1].parse().expect("--b N")).unwrap_or(256);
    let n = 1_000_000u64;
    let mut c = w3_setup(batch);
    if !idle {
        let r = w3_run(&mut c, n, b);
        println!(
            "entries={n} b={b} batch_append={batch} rounds={} entries_per_s={:.0}",
            r.rounds,
            n as f64 / r.elapsed.as_secs_f64()
        );
    }
    std::hint::black_box(&c);
    println!("peak_rss_kb={}", peak_rss_kb().expect("VmHWM in /proc/self/status"));
}
