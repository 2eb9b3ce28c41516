//! Runs one workload for profiling (perf, callgrind):
//! `profile_one <w1|w1b|w2|w2b|w3_b1|w3_b16|w3_b256|w3pb_bN|w4|w5a|w5b|sizes> [ops]`
//! (`w3pb_bN`: W3 with one `ProposeBatch` of N commands per iteration).
//! Prints the timed ns per operation (per entry for W3).

use raft_sansio_benches::{w3_run, w3_run_batched, w3_setup, w4_once, Opts, W1, W2, W5};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let id = args.first().map_or("w1", String::as_str);
    let ops: u64 = args.get(1).map_or(1_000_000, |s| s.parse().expect("ops"));
    let no_bcast = Opts { broadcast_commit: false, ..Opts::default() };
    if id == "sizes" {
        use core::mem::size_of;
        use raft_sansio::{Entry, Input, Message, MessageBody, Output, Persist};
        println!(
            "Output {} Persist {} Message {} MessageBody {} Input {} Entry {}",
            size_of::<Output>(),
            size_of::<Persist>(),
            size_of::<Message>(),
            size_of::<MessageBody>(),
            size_of::<Input>(),
            size_of::<Entry>()
        );
        return;
    }
    let t = match id {
        "w1" => W1::new(false, Opts::default()).run(ops),
        "w1b" => W1::new(true, Opts::default()).run(ops),
        "w2" => W2::new(Opts::default()).run(ops),
        "w2b" => W2::new(no_bcast).run(ops),
        "w5a" => W5::new(Opts::default()).run_tick(ops),
        "w5b" => W5::new(Opts::default()).run_heartbeat(ops),
        "w4" => (0..ops).map(|_| w4_once().0).sum(),
        w3 if w3.starts_with("w3pb_b") => {
            // Not a WORKLOADS.md shape: W3 with one ProposeBatch of B
            // commands per iteration instead of B Propose inputs.
            let b: u64 = w3[6..].parse().expect("w3pb_bN");
            let mut c = w3_setup();
            let r = w3_run_batched(&mut c, ops, b);
            println!("rounds={} messages_per_entry={:.3}", r.rounds, r.stepped as f64 / ops as f64);
            r.elapsed
        }
        w3 if w3.starts_with("w3_b") => {
            let b: u64 = w3[4..].parse().expect("w3_bN");
            let mut c = w3_setup();
            let r = w3_run(&mut c, ops, b);
            println!("rounds={} messages_per_entry={:.3}", r.rounds, r.stepped as f64 / ops as f64);
            r.elapsed
        }
        other => panic!("unknown workload {other}"),
    };
    println!("{id}: {:.1} ns/op over {ops} ops", t.as_nanos() as f64 / ops as f64);
}
