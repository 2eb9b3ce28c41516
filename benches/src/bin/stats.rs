//! Prints one JSON line per W3 variant (messages stepped per entry and
//! shuttle rounds, N = 100,000) and one for W4 (messages per election), in
//! the format `side-by-side.sh` reads.

use raft_sansio_benches::{w3_run, w3_setup, w4_once, W3_N};

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
}
