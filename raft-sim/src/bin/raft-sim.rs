//! `raft-sim`: run, sweep, replay and check deterministic simulated worlds.

use core::sync::atomic::{AtomicU64, Ordering};
use core::time::Duration;
use std::io::{BufReader, Read, Write};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use clap::{Args, Parser, Subcommand};
use raft_sim::{FaultSet, Outcome, Report, World, WorldOptions, MS};

#[derive(Parser)]
#[command(name = "raft-sim", version, about = "Deterministic simulation of a KV store on raft-sansio")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run one world and print a summary, the trace hash and the verdict.
    Run {
        /// The seed: it fixes everything.
        #[arg(long)]
        seed: u64,
        #[command(flatten)]
        world: WorldArgs,
        /// Write the recorded history (JSON lines) to this file.
        #[arg(long)]
        history_out: Option<String>,
    },
    /// Run many seeds in parallel and report failures with the command that
    /// replays each.
    Sweep {
        /// Seeds as a range A..B (B excluded).
        #[arg(long)]
        seeds: String,
        /// Worker threads (default: the number of CPUs).
        #[arg(long)]
        jobs: Option<usize>,
        #[command(flatten)]
        world: WorldArgs,
    },
    /// Print the full event trace of one seed as JSON lines.
    Replay {
        /// The seed.
        #[arg(long)]
        seed: u64,
        #[command(flatten)]
        world: WorldArgs,
        /// Write the trace here instead of stdout.
        #[arg(long)]
        trace: Option<String>,
    },
    /// Check a history file for linearizability (`-` reads stdin).
    Check {
        /// The history file (JSON lines, see history-format.md).
        file: String,
        /// Wall-time budget, e.g. `30s`, `500ms`, `2m`.
        #[arg(long, default_value = "60s")]
        budget: String,
    },
}

#[derive(Args, Clone)]
struct WorldArgs {
    /// Cluster size: 3, 5 or 7.
    #[arg(long, default_value_t = 5, value_parser = parse_nodes)]
    nodes: usize,
    /// Concurrent clients.
    #[arg(long, default_value_t = 5)]
    clients: usize,
    /// Operations per client.
    #[arg(long, default_value_t = 200)]
    ops: usize,
    /// Faults to inject: a comma-separated list of partition, loss, dup,
    /// reorder, clock, pause, disk, crash; or `all` or `none`. The opt-in
    /// `wipe` (a node loses its disk and rejoins under a new id) is not part
    /// of `all`: add it, as in `all,wipe`.
    #[arg(long, default_value = "all")]
    faults: String,
    /// How gets are served: `log` (through the log), `index` (read index,
    /// at any node) or `lease` (leader lease, falling back to read index).
    #[arg(long, default_value = "index")]
    reads: String,
    /// Extra nemeses, comma-separated: `transfer` (random leadership
    /// transfers), `membership` (random adds, removes, promotions,
    /// demotions and witness swaps, single-step and joint), `compaction`
    /// (frequent snapshots, short log tails, small snapshot chunks); or
    /// `none`.
    #[arg(long, default_value = "none")]
    nemesis: String,
    /// The largest clock drift, in parts per million, the `clock` fault
    /// draws. The nodes assume 20000 (2%) when sizing leases; more breaks
    /// the lease's assumption on purpose.
    #[arg(long)]
    clock_drift: Option<u32>,
}

fn parse_nodes(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n @ (3 | 5 | 7)) => Ok(n),
        _ => Err(format!("`{s}`: nodes must be 3, 5 or 7")),
    }
}

impl WorldArgs {
    fn options(&self, seed: u64) -> Result<WorldOptions, String> {
        let mut o = WorldOptions::new(seed);
        o.nodes = self.nodes;
        o.clients = self.clients;
        o.ops = self.ops;
        o.faults = FaultSet::parse(&self.faults)?;
        o.reads = raft_sim::ReadPath::parse(&self.reads)?;
        o.nemeses = raft_sim::Nemeses::parse(&self.nemesis)?;
        if let Some(d) = self.clock_drift {
            if d >= 1_000_000 {
                return Err(format!("--clock-drift {d}: must be below 1000000 ppm"));
            }
            o.clock_drift_ppm = d;
        }
        Ok(o)
    }
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let (num, unit) = s.find(|c: char| !c.is_ascii_digit()).map_or((s, "s"), |i| s.split_at(i));
    let n: u64 = num.parse().map_err(|_| format!("bad duration `{s}`"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(60 * n)),
        _ => Err(format!("bad duration unit in `{s}` (use ms, s or m)")),
    }
}

fn print_report(r: &Report, wall: Duration) {
    let s = &r.stats;
    println!("seed: {}", r.options.seed);
    println!(
        "world: nodes={} clients={} ops={} faults={} reads={} nemesis={} clock-drift={}ppm",
        r.options.nodes,
        r.options.clients,
        r.options.ops,
        r.options.faults,
        r.options.reads.name(),
        r.options.nemeses,
        r.options.clock_drift_ppm
    );
    println!("params: {}", r.params);
    println!("ops: ok={} fail={} info={}", s.ok, s.fail, s.info);
    println!(
        "faults: elections={} crashes={} partitions={} pauses={} truncations={}",
        s.elections, s.crashes, s.partitions, s.pauses, s.truncations
    );
    println!(
        "membership: conf-changes={} joint={} added={} removed={} wipes={}",
        s.conf_changes, s.joint_confs, s.nodes_added, s.nodes_removed, s.wipes
    );
    println!("snapshots: taken={} installed={}", s.snapshots_taken, s.snapshots_installed);
    println!("messages: sent={} dropped={} duplicated={}", s.messages_sent, s.messages_dropped, s.messages_duplicated);
    let secs = wall.as_secs_f64();
    println!(
        "time: simulated={:.3}s wall={:.3}s events={} events/s={:.0}",
        s.sim_time_ns as f64 / 1e9,
        secs,
        s.events,
        s.events as f64 / secs.max(1e-9)
    );
    println!("trace-hash: {:016x}", r.trace_hash);
    match &r.outcome {
        Outcome::Pass => println!("verdict: pass"),
        Outcome::NotLinearizable(c) => println!("verdict: not linearizable\n{c}"),
        other => println!("verdict: {}", other.describe()),
    }
}

fn parse_seeds(s: &str) -> Result<(u64, u64), String> {
    let (a, b) = s.split_once("..").ok_or_else(|| format!("seeds `{s}`: expected A..B"))?;
    let a: u64 = a.parse().map_err(|_| format!("seeds `{s}`: bad start"))?;
    let b: u64 = b.parse().map_err(|_| format!("seeds `{s}`: bad end"))?;
    if b <= a {
        return Err(format!("seeds `{s}`: empty range"));
    }
    Ok((a, b))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(command: Command) -> Result<u8, String> {
    match command {
        Command::Run { seed, world, history_out } => {
            let options = world.options(seed)?;
            let start = Instant::now();
            let report = World::new(options).run();
            let wall = start.elapsed();
            if let Some(path) = history_out {
                let mut w =
                    raft_check::HistoryWriter::new(std::fs::File::create(&path).map_err(|e| format!("{path}: {e}"))?);
                for e in &report.history {
                    w.write_event(e).map_err(|e| format!("{path}: {e}"))?;
                }
                w.flush().map_err(|e| format!("{path}: {e}"))?;
            }
            print_report(&report, wall);
            if report.outcome != Outcome::Pass {
                println!("replay: {}", report.options.replay_command());
            }
            Ok(report.outcome.exit_code() as u8)
        }
        Command::Replay { seed, world, trace } => {
            let options = world.options(seed)?;
            let out: Box<dyn std::io::Write> = match trace {
                Some(path) => {
                    Box::new(std::io::BufWriter::new(std::fs::File::create(&path).map_err(|e| format!("{path}: {e}"))?))
                }
                None => Box::new(std::io::BufWriter::new(std::io::stdout())),
            };
            let start = Instant::now();
            let report = World::new(options).with_trace(out).run();
            eprintln!(
                "seed {}: {} (trace-hash {:016x}, {:.3}s)",
                seed,
                report.outcome.describe(),
                report.trace_hash,
                start.elapsed().as_secs_f64()
            );
            Ok(report.outcome.exit_code() as u8)
        }
        Command::Sweep { seeds, jobs, world } => sweep(seeds, jobs, world),
        Command::Check { file, budget } => {
            let budget = parse_duration(&budget)?;
            let reader: Box<dyn std::io::BufRead> = if file == "-" {
                Box::new(BufReader::new(std::io::stdin()))
            } else {
                let mut text = Vec::new();
                std::fs::File::open(&file)
                    .and_then(|mut f| f.read_to_end(&mut text))
                    .map_err(|e| format!("{file}: {e}"))?;
                Box::new(BufReader::new(std::io::Cursor::new(text)))
            };
            let history = raft_check::parse_history(reader).map_err(|e| format!("{file}: {e}"))?;
            let start = Instant::now();
            let (verdict, stats) = raft_check::check_with_stats(&history, raft_check::Budget::time(budget));
            // A closed pipe (`| head`) is no error: the exit status carries
            // the verdict.
            let _ = writeln!(std::io::stdout().lock(), "{verdict}");
            eprintln!("{} operations, {:?}, {:.3}s", history.operations().len(), stats, start.elapsed().as_secs_f64());
            Ok(match verdict {
                raft_check::Verdict::Linearizable => 0,
                raft_check::Verdict::NotLinearizable(_) => 1,
                raft_check::Verdict::Unknown { .. } => 3,
            })
        }
    }
}

struct SeedResult {
    seed: u64,
    report: Report,
}

fn sweep(seeds: String, jobs: Option<usize>, world: WorldArgs) -> Result<u8, String> {
    let (a, b) = parse_seeds(&seeds)?;
    world.options(a)?;
    let jobs = jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())).max(1);
    let next = Arc::new(AtomicU64::new(a));
    let results: Arc<Mutex<Vec<SeedResult>>> = Arc::new(Mutex::new(Vec::new()));
    let bar = indicatif::ProgressBar::new(b - a);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{elapsed_precise} [{bar:40}] {pos}/{len} seeds {msg}")
            .map_err(|e| e.to_string())?
            .progress_chars("=> "),
    );
    let failures = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            let (next, results, bar, failures, world) =
                (next.clone(), results.clone(), bar.clone(), failures.clone(), world.clone());
            scope.spawn(move || loop {
                let seed = next.fetch_add(1, Ordering::Relaxed);
                if seed >= b {
                    break;
                }
                let options = world.options(seed).expect("validated");
                let report = World::new(options).run();
                if report.outcome != Outcome::Pass {
                    let f = failures.fetch_add(1, Ordering::Relaxed) + 1;
                    bar.set_message(format!("{f} failed"));
                    bar.println(format!("FAIL seed={seed}: {}", report.outcome.describe()));
                }
                bar.inc(1);
                results.lock().expect("no panics while holding").push(SeedResult { seed, report });
            });
        }
    });
    bar.finish();
    let wall = start.elapsed();
    let mut results =
        Arc::try_unwrap(results).map_err(|_| "workers still running")?.into_inner().map_err(|e| e.to_string())?;
    results.sort_by_key(|r| r.seed);
    let n = results.len() as f64;
    let sum = |f: &dyn Fn(&Report) -> u64| results.iter().map(|r| f(&r.report)).sum::<u64>() as f64 / n;
    let passes = results.iter().filter(|r| r.report.outcome == Outcome::Pass).count();
    let failed: Vec<&SeedResult> = results.iter().filter(|r| r.report.outcome.exit_code() == 1).collect();
    let unknown = results.iter().filter(|r| r.report.outcome.exit_code() == 3).count();
    let total_ops: u64 = results.iter().map(|r| r.report.stats.ok + r.report.stats.fail + r.report.stats.info).sum();
    let ok_ops: u64 = results.iter().map(|r| r.report.stats.ok).sum();
    println!(
        "seeds: {} passed, {} failed, {} unknown ({:.1}s wall)",
        passes,
        failed.len(),
        unknown,
        wall.as_secs_f64()
    );
    println!(
        "per seed: crashes={:.2} partitions={:.2} pauses={:.2} leader-changes={:.2} truncations={:.2} info-ops={:.2} ok-ops={:.1} ({:.1}% of ops ok) simulated={:.1}s",
        sum(&|r| r.stats.crashes),
        sum(&|r| r.stats.partitions),
        sum(&|r| r.stats.pauses),
        sum(&|r| r.leader_changes),
        sum(&|r| r.stats.truncations),
        sum(&|r| r.stats.info),
        sum(&|r| r.stats.ok),
        100.0 * ok_ops as f64 / total_ops.max(1) as f64,
        sum(&|r| r.stats.sim_time_ns) / (1000.0 * MS as f64),
    );
    println!(
        "per seed: snapshots-taken={:.1} snapshots-installed={:.2} conf-changes={:.2} joint={:.2} nodes-added={:.2} nodes-removed={:.2} wipes={:.2}",
        sum(&|r| r.stats.snapshots_taken),
        sum(&|r| r.stats.snapshots_installed),
        sum(&|r| r.stats.conf_changes),
        sum(&|r| r.stats.joint_confs),
        sum(&|r| r.stats.nodes_added),
        sum(&|r| r.stats.nodes_removed),
        sum(&|r| r.stats.wipes),
    );
    for r in results.iter().filter(|r| r.report.outcome != Outcome::Pass) {
        println!("FAIL seed={}: {}", r.seed, r.report.outcome.describe());
        println!("  {}", r.report.options.replay_command());
    }
    Ok(if !failed.is_empty() {
        1
    } else if unknown > 0 {
        3
    } else {
        0
    })
}
