//! Prints one JSON line per W3 variant (messages stepped per entry and
//! shuttle rounds, N = 100,000) and one for W4 (messages per election);
//! and one per read workload: heartbeat rounds (broadcasts) and responses
//! stepped per iteration (a burst of k ReadOnlySafe reads; one LeaseBased
//! read).

use raftrs_benches::{w3_run, w3_setup, w4_once, Reads, W3_N};

fn main() {
    for (batch, suffix) in [(false, ""), (true, "_batch")] {
        for b in [1u64, 16, 256] {
            let mut c = w3_setup(batch);
            let r = w3_run(&mut c, W3_N, b);
            println!(
                "{{\"id\":\"w3_b{b}{suffix}\",\"messages_per_entry\":{:?},\"rounds\":{}}}",
                r.stepped as f64 / W3_N as f64,
                r.rounds
            );
        }
    }
    let (_, stepped) = w4_once();
    println!("{{\"id\":\"w4\",\"messages\":{stepped}}}");
    for k in [1u64, 16, 256] {
        let mut r = Reads::new(false);
        let (_, c) = r.index_iter(k);
        println!("{{\"id\":\"read_index_k{k}\",\"reads\":{k},\"rounds\":{},\"responses\":{}}}", c.rounds, c.responses);
    }
    // LeaseBased: one read (`run_lease` asserts that it sends nothing).
    let mut r = Reads::new(true);
    r.run_lease(1);
    println!("{{\"id\":\"read_lease\",\"reads\":1,\"rounds\":0,\"responses\":0}}");
}
