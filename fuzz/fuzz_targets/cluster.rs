//! A small simulated cluster whose seed, knobs and fault schedule come from
//! the input: any safety, linearizability or liveness violation is a crash.
//! The body is `raft_sim::fuzzing::cluster`, which `cargo test` also runs.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    raft_sim::fuzzing::cluster(data);
});
