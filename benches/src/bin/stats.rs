//! Prints one JSON line per W3 variant (messages stepped per entry and
//! shuttle rounds, N = 100,000) and one for W4 (messages per election), in
//! the format `side-by-side.sh` reads; and one per read workload: heartbeat
//! rounds (broadcasts) and responses stepped per iteration (a burst of k
//! read-index reads; one lease read).

use raft_sansio_benches::{w3_run, w3_setup, w4_once, Reads, W3_N};

fn main() {
    for b in [1u64, 16, 256] {
        let mut c = w3_setup();
        let r = w3_run(&mut c, W3_N, b);
        println!(
            "{{\"id\":\"w3_b{b}\",\"messages_per_entry\":{:?},\"rounds\":{}}}",
            r.stepped as f64 / W3_N as f64,
            r.rounds
        );
    }
    let (_, stepped) = w4_once();
    println!("{{\"id\":\"w4\",\"messages\":{stepped}}}");
    for k in [1u64, 16, 256] {
        let mut r = Reads::new(false);
        let (_, c) = r.index_iter(k);
        println!("{{\"id\":\"read_index_k{k}\",\"reads\":{k},\"rounds\":{},\"responses\":{}}}", c.rounds, c.responses);
    }
    // Lease: one read, answered at once (`run_lease` asserts that it sends
    // nothing); the untimed lease renewal is not counted.
    let mut r = Reads::new(true);
    r.run_lease(1);
    println!("{{\"id\":\"read_lease\",\"reads\":1,\"rounds\":0,\"responses\":0}}");
}
