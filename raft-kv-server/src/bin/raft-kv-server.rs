//! `raft-kv-server`: the KV service's command line.

#![allow(clippy::std_instead_of_core)] // a std, tokio binary

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use raft_kv_server::bench::{self, BenchConfig, Target};

/// A strictly serializable key-value store on raft-sansio.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Load generator: concurrent clients, a mix of puts and gets; prints
    /// ops/s and latency percentiles.
    Bench(BenchArgs),
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum TargetArg {
    /// Our frontend's HTTP/JSON API.
    Ours,
    /// etcd's v3 JSON gateway (etcd 3.4: /v3/kv/put, /v3/kv/range).
    Etcd,
}

#[derive(clap::Args, Debug)]
struct BenchArgs {
    /// What to load.
    #[arg(long, value_enum, default_value = "ours")]
    target: TargetArg,
    /// Base URLs, comma-separated (e.g. http://127.0.0.1:2379).
    #[arg(long, value_delimiter = ',', required = true)]
    endpoints: Vec<String>,
    /// Concurrent clients (one request in flight each).
    #[arg(long, default_value_t = 16)]
    clients: usize,
    /// Seconds to measure.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Seconds of unrecorded load first.
    #[arg(long, default_value_t = 2)]
    warmup: u64,
    /// Percentage of puts; the rest are gets.
    #[arg(long, default_value_t = 100)]
    put_percent: u8,
    /// Value size in bytes.
    #[arg(long, default_value_t = 128)]
    value_size: usize,
    /// Distinct keys.
    #[arg(long, default_value_t = 1000)]
    keys: u64,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match cli.command {
        Command::Bench(a) => {
            let config = BenchConfig {
                target: match a.target {
                    TargetArg::Ours => Target::Ours,
                    TargetArg::Etcd => Target::Etcd,
                },
                endpoints: a.endpoints,
                clients: a.clients,
                duration: Duration::from_secs(a.duration),
                warmup: Duration::from_secs(a.warmup),
                put_percent: a.put_percent,
                value_size: a.value_size,
                keys: a.keys,
                progress: !a.quiet,
            };
            let summary = format!(
                "target {:?}, {} clients, {}% puts, {}-byte values, {} keys, {} s",
                config.target, config.clients, config.put_percent, config.value_size, config.keys, a.duration
            );
            match runtime.block_on(bench::run(config)) {
                Ok(report) => {
                    println!("{summary}");
                    println!("{report}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("{e}");
                    ExitCode::from(2)
                }
            }
        }
    }
}
