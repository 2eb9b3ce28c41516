//! `raft-kv-server`: the KV service's command line.

#![allow(clippy::std_instead_of_core)] // a std, tokio binary

use std::process::ExitCode;
use std::time::Duration;

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use raft_kv_server::bench::{self, BenchConfig, Target};
use raft_kv_server::service::{self, NodeOptions, Peer, Start};

/// A strictly serializable key-value store on raft-sansio.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run one node: raft (TCP), backend and control plane (HTTP), and a
    /// frontend (HTTP/JSON for clients).
    Serve(ServeArgs),
    /// A 3-node cluster in this process on free localhost ports, data in a
    /// temporary directory; prints the endpoints and example curl commands
    /// and runs until Ctrl-C.
    Demo(DemoArgs),
    /// A frontend alone (in its own process): the client HTTP/JSON API in
    /// front of the given backends.
    Frontend(FrontendArgs),
    /// Load generator: concurrent clients, a mix of puts and gets; prints
    /// ops/s and latency percentiles.
    Bench(BenchArgs),
}

#[derive(clap::Args, Debug)]
struct ServeArgs {
    /// This node's id (never reused: a node whose disk was lost joins under
    /// a new id).
    #[arg(long)]
    id: u64,
    /// Every member, this node included: ID=RAFT_ADDR,BACKEND_URL (repeat
    /// the flag), e.g. --peer 1=127.0.0.1:7101,http://127.0.0.1:7102
    #[arg(long = "peer", required = true)]
    peers: Vec<Peer>,
    /// Data directory (WAL and snapshots).
    #[arg(long)]
    data_dir: PathBuf,
    /// On an empty data directory: start a new cluster of the peers.
    #[arg(long, conflicts_with = "join")]
    bootstrap: bool,
    /// On an empty data directory: join an existing cluster (the leader
    /// adds this node with POST /cluster/update).
    #[arg(long)]
    join: bool,
    /// Frontend (client HTTP/JSON) listen address.
    #[arg(long)]
    frontend: Option<SocketAddr>,
    /// Raft tick in milliseconds (the same on every node).
    #[arg(long, default_value_t = 10)]
    tick_ms: u64,
    /// Serve reads by leader lease instead of read index.
    #[arg(long, conflicts_with = "log_reads")]
    lease_reads: bool,
    /// Serve the frontend's gets through the log instead of read index.
    #[arg(long)]
    log_reads: bool,
    /// Log level of the raft driver's events on stderr (error, warn, info,
    /// debug, trace).
    #[arg(long, default_value = "info")]
    log_level: String,
    /// Snapshot the state machine every this many applied entries.
    #[arg(long, default_value_t = 10_000)]
    snapshot_every: u64,
}

#[derive(clap::Args, Debug)]
struct FrontendArgs {
    /// Listen address.
    #[arg(long)]
    listen: SocketAddr,
    /// Backend base URLs, comma-separated (http://IP:PORT).
    #[arg(long, value_delimiter = ',', required = true)]
    backends: Vec<String>,
}

#[derive(clap::Args, Debug)]
struct DemoArgs {
    /// Serve reads by leader lease instead of read index.
    #[arg(long)]
    lease_reads: bool,
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
        Command::Serve(a) => runtime.block_on(serve(a)),
        Command::Demo(a) => runtime.block_on(demo(a)),
        Command::Frontend(a) => runtime.block_on(frontend(a)),
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

async fn frontend(a: FrontendArgs) -> ExitCode {
    let backends = a.backends.iter().map(|b| b.trim_end_matches('/').to_string()).collect();
    let app = raft_kv_server::frontend::Frontend::new(raft_kv_server::frontend::FrontendConfig::new(backends)).router();
    let listener = match tokio::net::TcpListener::bind(a.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("cannot listen on {}: {e}", a.listen);
            return ExitCode::from(1);
        }
    };
    println!("frontend http://{}", a.listen);
    tokio::select! {
        r = axum::serve(listener, app) => {
            if let Err(e) = r {
                eprintln!("frontend stopped: {e}");
                return ExitCode::from(1);
            }
        }
        _ = tokio::signal::ctrl_c() => {}
    }
    ExitCode::SUCCESS
}

async fn serve(a: ServeArgs) -> ExitCode {
    let level = match a.log_level.parse::<tracing_subscriber::filter::LevelFilter>() {
        Ok(l) => l,
        Err(_) => {
            eprintln!("--log-level {}: use error, warn, info, debug or trace", a.log_level);
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt().with_max_level(level).with_writer(std::io::stderr).init();
    let Some(me) = a.peers.iter().find(|p| p.id == a.id).cloned() else {
        eprintln!("node {} is not among the --peer entries", a.id);
        return ExitCode::from(2);
    };
    let backend_listen = match backend_addr(&me.backend) {
        Ok(addr) => addr,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let options = NodeOptions {
        id: a.id,
        raft_listen: me.raft,
        backend_listen,
        frontend_listen: a.frontend,
        peers: a.peers,
        data_dir: a.data_dir,
        start: if a.bootstrap {
            Start::Bootstrap
        } else if a.join {
            Start::Join
        } else {
            Start::Restart
        },
        tick: Duration::from_millis(a.tick_ms.max(1)),
        lease_reads: a.lease_reads,
        log_reads: a.log_reads,
        snapshot_every: a.snapshot_every,
    };
    let node = match service::start(options).await {
        Ok(n) => n,
        Err(e) => {
            eprintln!("cannot start: {e}");
            return ExitCode::from(1);
        }
    };
    println!("node {} raft {} backend http://{}", a.id, node.raft_addr, node.backend_addr);
    if let Some(f) = node.frontend_addr {
        println!("frontend http://{f}");
    }
    let _ = tokio::signal::ctrl_c().await;
    node.shutdown().await;
    ExitCode::SUCCESS
}

fn backend_addr(url: &str) -> Result<SocketAddr, String> {
    url.trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .map_err(|e| format!("backend URL {url}: {e} (use http://IP:PORT)"))
}

/// Picks free localhost ports by binding port 0 and letting go.
fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

async fn demo(a: DemoArgs) -> ExitCode {
    let dir = match tempfile_dir() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("cannot create a temporary directory: {e}");
            return ExitCode::from(1);
        }
    };
    let mut ports = Vec::new();
    for _ in 0..9 {
        match free_port() {
            Ok(p) => ports.push(p),
            Err(e) => {
                eprintln!("no free port: {e}");
                return ExitCode::from(1);
            }
        }
    }
    let peers: Vec<Peer> = (0..3)
        .map(|i| Peer {
            id: i as u64 + 1,
            raft: SocketAddr::from(([127, 0, 0, 1], ports[3 * i])),
            backend: format!("http://127.0.0.1:{}", ports[3 * i + 1]),
        })
        .collect();
    let mut nodes = Vec::new();
    for (i, p) in peers.iter().enumerate() {
        let options = NodeOptions {
            id: p.id,
            peers: peers.clone(),
            data_dir: dir.join(format!("node{}", p.id)),
            start: Start::Bootstrap,
            raft_listen: p.raft,
            backend_listen: backend_addr(&p.backend).expect("built above"),
            frontend_listen: Some(SocketAddr::from(([127, 0, 0, 1], ports[3 * i + 2]))),
            tick: Duration::from_millis(10),
            lease_reads: a.lease_reads,
            log_reads: false,
            snapshot_every: 10_000,
        };
        match service::start(options).await {
            Ok(n) => nodes.push(n),
            Err(e) => {
                eprintln!("node {} did not start: {e}", p.id);
                return ExitCode::from(1);
            }
        }
    }
    println!("raft-kv-server demo: 3 nodes, data in {}", dir.display());
    for (n, p) in nodes.iter().zip(&peers) {
        let f = n.frontend_addr.expect("demo nodes have a frontend");
        println!("  node {}: frontend http://{f}  backend {}  raft {}", p.id, p.backend, p.raft);
    }
    let f = nodes[0].frontend_addr.expect("a frontend");
    println!();
    println!("Try:");
    println!(
        "  curl -s -X PUT http://{f}/kv/greeting -H 'content-type: application/json' -d '{{\"value\": \"hello\"}}'"
    );
    println!("  curl -s http://{f}/kv/greeting");
    println!("  curl -s -X POST http://{f}/kv/counter/cas -H 'content-type: application/json' -d '{{\"expect\": null, \"value\": 1}}'");
    println!("  curl -s -X POST http://{f}/kv/greeting/append -H 'content-type: application/json' -d '{{\"value\": \", world\"}}'");
    println!("  curl -s -X DELETE http://{f}/kv/greeting");
    println!("  curl -s http://{f}/cluster");
    println!();
    println!("Ctrl-C stops the cluster (its data directory is removed).");
    let _ = tokio::signal::ctrl_c().await;
    for n in nodes {
        n.shutdown().await;
    }
    let _ = std::fs::remove_dir_all(&dir);
    ExitCode::SUCCESS
}

/// A fresh directory under the system's temporary directory.
fn tempfile_dir() -> std::io::Result<PathBuf> {
    let base = std::env::temp_dir();
    for n in 0..1000u32 {
        let dir = base.join(format!("raft-kv-demo-{}-{n}", std::process::id()));
        if std::fs::create_dir(&dir).is_ok() {
            return Ok(dir);
        }
    }
    Err(std::io::Error::other("no free temporary directory name"))
}
