//! Arbitrary bytes into the frame decoder: no panic, and whatever decodes
//! re-encodes to the same bytes and decodes to the same message. The body is
//! `raft_sansio_proto::fuzzing::decode`, which `cargo test` also runs.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    raft_sansio_proto::fuzzing::decode(data);
});
