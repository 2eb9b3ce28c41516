//! Body of the cargo-fuzz target `cluster`: a small world whose fault
//! schedule, knobs and seed come from arbitrary input. Any safety,
//! linearizability or liveness violation is a crash. `cargo test` runs it
//! over generated schedules.

use arbitrary::{Arbitrary, Unstructured};

use crate::params::{FaultAction, FaultSet, WorldOptions};
use crate::world::{Outcome, World};

fn action(u: &mut Unstructured<'_>) -> arbitrary::Result<FaultAction> {
    let node = u8::arbitrary(u)?;
    Ok(match u.int_in_range(0u8..=6)? {
        0 => FaultAction::Crash(node),
        1 => FaultAction::Restart(node),
        2 => FaultAction::Isolate(node),
        3 => FaultAction::Split(node),
        4 => FaultAction::OneWay(node, bool::arbitrary(u)?),
        5 => FaultAction::Pause(node, u.int_in_range(10u16..=2000)?),
        _ => FaultAction::Heal,
    })
}

/// The options a fuzz input describes.
pub fn options(data: &[u8]) -> arbitrary::Result<WorldOptions> {
    let mut u = Unstructured::new(data);
    let seed = u64::arbitrary(&mut u)?;
    let mut o = WorldOptions::new(seed);
    o.nodes = if bool::arbitrary(&mut u)? { 3 } else { 5 };
    o.clients = u.int_in_range(1usize..=3)?;
    o.ops = u.int_in_range(3usize..=30)?;
    // Message faults and clock drift from a bitmask; crashes, partitions and
    // pauses come from the script.
    let mask = u8::arbitrary(&mut u)?;
    let mut faults = FaultSet::none();
    for (bit, f) in
        [crate::Fault::Loss, crate::Fault::Dup, crate::Fault::Reorder, crate::Fault::Clock, crate::Fault::Disk]
            .into_iter()
            .enumerate()
    {
        if mask & (1 << bit) != 0 {
            faults.insert(f);
        }
    }
    o.faults = faults;
    o.check_steps = 2_000_000;
    let mut script = Vec::new();
    let mut at = 0u32;
    while !u.is_empty() && script.len() < 24 {
        at += u32::from(u.int_in_range(0u16..=1500)?);
        script.push((at, action(&mut u)?));
    }
    o.script = Some(script);
    Ok(o)
}

/// Runs the target; panics on any violation.
pub fn cluster(data: &[u8]) {
    let Ok(options) = options(data) else { return };
    let replay = format!("{options:?}");
    let report = World::new(options).run();
    match report.outcome {
        Outcome::Pass | Outcome::Unknown(_) => {}
        other => panic!("{}\n{replay}", other.describe()),
    }
}
