//! Prints one JSON line per W3 variant (messages stepped per entry and
//! shuttle rounds, N = 100,000) and one for W4 (messages per election).

use raftrs_benches::{w3_run, w3_setup, w4_once, W3_N};

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
}
