//! One node fed an arbitrary, structure-aware sequence of inputs (forged
//! messages and host misuse included): no panic, and `check_invariants()`
//! holds after every step. The body is `raft_sansio::fuzzing::step`, which
//! `cargo test` also runs.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = raft_sansio::fuzzing::step(data);
});
