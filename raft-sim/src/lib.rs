//! A deterministic discrete-event simulator of a KV store on `raft-sansio`.
//!
//! One world per seed: N nodes (each a `raft_sansio::Node`, a `raft_kv`
//! state machine and a simulated disk), clients, a network and a nemesis
//! that injects partitions, message loss, duplication and reordering, clock
//! drift, pauses, slow disks and crashes. Virtual time in nanoseconds; one
//! priority queue of events ordered by (time, sequence); a seeded PRNG for
//! every random choice, integer arithmetic for every distribution. The same
//! seed gives the same history and the same trace hash on every machine.
//!
//! Nemeses beyond the faults: leadership transfers, membership changes
//! (adds, removes, promotions, demotions, witness swaps, single-step and
//! joint; new nodes join with an empty store), compaction (frequent
//! snapshots, chunked snapshot install), and the opt-in `wipe` fault (a node
//! loses its disk and comes back under a new id).
//!
//! After every event: each stepped node's invariants, at most one leader per
//! term, every leader a voter of its configuration (or leading until its own
//! removal commits), each node's configuration the one its log says,
//! committed prefixes agree (a witness's dropped payload is unknown content,
//! not different), applied sequences and snapshots of the same index agree,
//! every newly committed index durable on a majority of each half of the
//! committing leader's configuration and on some member of every quorum of
//! each configuration in effect there, every new leader holds every
//! committed entry, and no client is served from a state machine the core
//! skipped entries of. At the end: linearizability of the whole history
//! (`raft-check`, with a step budget), and liveness: after the faults heal,
//! within [`World::liveness_bound`], every client completes an operation.

mod checks;
mod client;
mod disk;
#[cfg(any(test, fuzzing))]
pub mod fuzzing;
mod params;
mod world;

pub use params::{Fault, FaultAction, FaultSet, Nemeses, Params, ReadPath, WorldOptions, CONFIGURED_DRIFT_PPM, MS};
pub use world::{Outcome, Report, Stats, World};

/// Runs one world.
pub fn run(options: WorldOptions) -> Report {
    World::new(options).run()
}

#[cfg(test)]
mod tests {
    use raft_sansio::rng::Rng;

    /// The `cluster` fuzz body over a few hundred generated schedules.
    #[test]
    fn fuzz_cluster_body_runs_over_generated_schedules() {
        let mut rng = Rng::new(0xC1_05_7E);
        for _ in 0..300 {
            let len = 16 + rng.below(200) as usize;
            let data: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
            crate::fuzzing::cluster(&data);
        }
    }
}
