//! The real-cluster test of issue 8: three `raft-kv-server serve` processes
//! on localhost, concurrent clients through their frontends, kill -9 and
//! restart, SIGSTOP and SIGCONT, one history recorder (history-format.md),
//! and raft-check's verdict.
//!
//! `cargo test -p raft-kv-server --test real_cluster -- --nocapture` runs the
//! short version (about 40 s of load, part of `cargo test`). By hand:
//!
//! - `RAFT_KV_LONG=1`: the long version, a few minutes of load (300 s of
//!   faults), more clients and keys, faults more often and longer;
//! - `RAFT_KV_LEASE=1`: the nodes serve reads by leader lease
//!   (`--lease-reads`) instead of read index;
//! - `RAFT_KV_SEED=N` (decimal or 0x hex): the seed of the nemesis and the
//!   clients (printed at start; random by default);
//! - `RAFT_KV_FAULT_SECS=N`: seconds of the fault phase;
//! - `RAFT_KV_KEEP=1`: keep the temporary directory (history, node logs and
//!   data) even when the test passes (it is always kept when it fails).
//!
//! e.g. `RAFT_KV_LONG=1 RAFT_KV_LEASE=1 cargo test --release -p
//! raft-kv-server --test real_cluster -- --nocapture`.
//!
//! The verdicts are kept apart: a history that is not linearizable is a
//! safety failure ("SAFETY"); no operation completing within
//! [`STALL_LIMIT`] after the cluster is healed is a "liveness stall"; a node
//! that exits on its own or cannot restart is reported as such.

#![allow(clippy::std_instead_of_core)] // a std, tokio test

use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::{BufReader, BufWriter, Write as _};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use raft_check::{check_with_stats, parse_history, Budget, HistoryWriter, Request, Value, Verdict};

const BIN: &str = env!("CARGO_BIN_EXE_raft-kv-server");
const NODES: usize = 3;
/// After healing, some operation must complete `ok` within this.
const STALL_LIMIT: Duration = Duration::from_secs(15);
/// A client that switched away from its home frontend goes back after this.
const HOME_AGAIN: Duration = Duration::from_secs(3);
/// A client gives up on a request after this (the frontend's own operation
/// timeout is 5 s).
const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------
// Settings and the PRNG

#[derive(Clone, Debug)]
struct Settings {
    seed: u64,
    long: bool,
    lease: bool,
    clients: usize,
    keys: usize,
    fault_phase: Duration,
    healed_phase: Duration,
    /// Milliseconds between faults.
    gap_ms: (u64, u64),
    /// Milliseconds a killed node stays down.
    down_ms: (u64, u64),
    /// Milliseconds a paused node stays paused.
    pause_ms: (u64, u64),
    check_budget: Duration,
    keep: bool,
}

fn env_flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| !v.is_empty() && v != "0")
}

fn parse_u64(s: &str) -> Option<u64> {
    let s = s.trim();
    match s.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

impl Settings {
    fn from_env() -> Settings {
        let long = env_flag("RAFT_KV_LONG");
        let seed = match std::env::var("RAFT_KV_SEED") {
            Ok(s) => parse_u64(&s).unwrap_or_else(|| panic!("RAFT_KV_SEED={s}: not a number")),
            Err(_) => {
                let nanos = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(0);
                Rng::new(nanos ^ u64::from(std::process::id()).rotate_left(32)).next_u64()
            }
        };
        let fault_secs = std::env::var("RAFT_KV_FAULT_SECS").ok().and_then(|s| parse_u64(&s));
        let mut s = if long {
            Settings {
                seed,
                long,
                lease: false,
                clients: 8,
                keys: 5,
                fault_phase: Duration::from_secs(300),
                healed_phase: Duration::from_secs(10),
                gap_ms: (500, 2000),
                down_ms: (200, 4000),
                pause_ms: (200, 4000),
                check_budget: Duration::from_secs(300),
                keep: false,
            }
        } else {
            Settings {
                seed,
                long,
                lease: false,
                clients: 6,
                keys: 4,
                fault_phase: Duration::from_secs(30),
                healed_phase: Duration::from_secs(5),
                gap_ms: (1000, 2500),
                down_ms: (300, 2500),
                pause_ms: (300, 2500),
                check_budget: Duration::from_secs(20),
                keep: false,
            }
        };
        s.lease = env_flag("RAFT_KV_LEASE");
        s.keep = env_flag("RAFT_KV_KEEP");
        if let Some(secs) = fault_secs {
            s.fault_phase = Duration::from_secs(secs);
        }
        s
    }
}

/// SplitMix64: small, seedable, good enough for schedules.
#[derive(Clone, Debug)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, (lo, hi): (u64, u64)) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// An independent generator for a sub-task.
    fn fork(&mut self) -> Rng {
        Rng::new(self.next_u64())
    }
}

// ---------------------------------------------------------------------------
// The cluster: three `serve` processes, killed when dropped

struct Node {
    id: u64,
    frontend: SocketAddr,
    backend: SocketAddr,
    data_dir: PathBuf,
    log: PathBuf,
    child: Option<Child>,
    paused: bool,
    starts: u32,
}

struct Cluster {
    nodes: Vec<Node>,
    /// `--peer` values, the same for every node.
    peers: Vec<String>,
    lease: bool,
    t0: Instant,
}

/// `n` distinct free localhost ports: all bound at once, then let go.
fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> =
        (0..n).map(|_| TcpListener::bind("127.0.0.1:0").expect("bind a free localhost port")).collect();
    listeners.iter().map(|l| l.local_addr().expect("bound").port()).collect()
}

impl Cluster {
    fn new(dir: &Path, lease: bool, t0: Instant) -> Cluster {
        let ports = free_ports(3 * NODES);
        let localhost = |port: u16| SocketAddr::from(([127, 0, 0, 1], port));
        let mut nodes = Vec::new();
        let mut peers = Vec::new();
        for i in 0..NODES {
            let id = i as u64 + 1;
            let (raft, backend, frontend) =
                (localhost(ports[3 * i]), localhost(ports[3 * i + 1]), localhost(ports[3 * i + 2]));
            peers.push(format!("{id}={raft},http://{backend}"));
            let data_dir = dir.join(format!("node{id}"));
            std::fs::create_dir_all(&data_dir).expect("create a data directory");
            nodes.push(Node {
                id,
                frontend,
                backend,
                data_dir,
                log: dir.join(format!("node{id}.log")),
                child: None,
                paused: false,
                starts: 0,
            });
        }
        Cluster { nodes, peers, lease, t0 }
    }

    fn frontend_urls(&self) -> Vec<String> {
        self.nodes.iter().map(|n| format!("http://{}", n.frontend)).collect()
    }

    /// Starts node `i` (its log file gets a header and the output).
    fn spawn(&mut self, i: usize, bootstrap: bool) -> std::io::Result<()> {
        let elapsed = self.t0.elapsed().as_secs_f64();
        let node = &mut self.nodes[i];
        assert!(node.child.is_none(), "node {} is already running", node.id);
        let mut log = OpenOptions::new().create(true).append(true).open(&node.log)?;
        writeln!(
            log,
            "=== start {} of node {} at +{elapsed:.3}s (bootstrap: {bootstrap}) ===",
            node.starts + 1,
            node.id
        )?;
        let mut cmd = Command::new(BIN);
        cmd.arg("serve").arg("--id").arg(node.id.to_string());
        for p in &self.peers {
            cmd.arg("--peer").arg(p);
        }
        cmd.arg("--data-dir").arg(&node.data_dir).arg("--frontend").arg(node.frontend.to_string());
        if bootstrap {
            cmd.arg("--bootstrap");
        }
        if self.lease {
            cmd.arg("--lease-reads");
        }
        cmd.stdin(Stdio::null()).stdout(Stdio::from(log.try_clone()?)).stderr(Stdio::from(log));
        node.child = Some(cmd.spawn()?);
        node.starts += 1;
        node.paused = false;
        Ok(())
    }

    fn pid(&self, i: usize) -> Option<u32> {
        self.nodes[i].child.as_ref().map(Child::id)
    }

    /// kill -9 and reap node `i`.
    fn kill(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        if let Some(mut child) = node.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        node.paused = false;
    }

    fn signal(&mut self, i: usize, sig: &str) -> bool {
        let Some(pid) = self.pid(i) else { return false };
        let ok = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(pid.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            self.nodes[i].paused = sig == "STOP";
        }
        ok
    }

    /// Nodes whose process has exited although we did not kill it: (id,
    /// status). They are reaped and marked down.
    fn exited_on_their_own(&mut self) -> Vec<(usize, String)> {
        let mut out = Vec::new();
        for (i, node) in self.nodes.iter_mut().enumerate() {
            if let Some(child) = node.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    out.push((i, status.to_string()));
                    node.child = None;
                    node.paused = false;
                }
            }
        }
        out
    }

    /// The last lines of node `i`'s log.
    fn log_tail(&self, i: usize, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.nodes[i].log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

impl Drop for Cluster {
    /// No process is left behind, whatever happened.
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            if self.nodes[i].paused {
                self.signal(i, "CONT");
            }
            self.kill(i);
        }
    }
}

async fn listening(addr: SocketAddr) -> bool {
    matches!(tokio::time::timeout(Duration::from_millis(300), tokio::net::TcpStream::connect(addr)).await, Ok(Ok(_)))
}

/// Starts node `i` and waits until its frontend accepts connections;
/// retries a start whose process exits (e.g. a port not yet free).
async fn start_node(cluster: &Mutex<Cluster>, i: usize, bootstrap: bool) -> Result<(), String> {
    let frontend = cluster.lock().expect("not poisoned").nodes[i].frontend;
    for _attempt in 0..5 {
        cluster.lock().expect("not poisoned").spawn(i, bootstrap).map_err(|e| format!("spawn: {e}"))?;
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if listening(frontend).await {
                return Ok(());
            }
            {
                let mut c = cluster.lock().expect("not poisoned");
                if let Some(Ok(Some(_))) = c.nodes[i].child.as_mut().map(Child::try_wait) {
                    c.nodes[i].child = None;
                    break;
                }
            }
            if Instant::now() > deadline {
                let c = cluster.lock().expect("not poisoned");
                return Err(format!("node {} does not listen after 15 s; its log:\n{}", i + 1, c.log_tail(i, 20)));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let c = cluster.lock().expect("not poisoned");
    Err(format!("node {} exited at each of 5 starts; its log:\n{}", i + 1, c.log_tail(i, 20)))
}

// ---------------------------------------------------------------------------
// The recorder and the outcome of one request

/// What a completed request means for the history.
#[derive(Clone, Debug, PartialEq)]
enum Completion {
    /// A put, delete or append that happened.
    Done,
    /// A get that read this.
    Read(Value),
    /// A cas that ran.
    Cas(bool),
    /// Certainly took no effect.
    Fail(String),
    /// Unknown.
    Info(String),
}

impl Completion {
    fn is_ok(&self) -> bool {
        matches!(self, Completion::Done | Completion::Read(_) | Completion::Cas(_))
    }
}

fn value_from_json(v: &serde_json::Value) -> Option<Value> {
    match v {
        serde_json::Value::Null => Some(Value::Null),
        serde_json::Value::String(s) => Some(Value::Str(s.clone())),
        serde_json::Value::Number(n) => n.as_i64().map(Value::Int),
        _ => None,
    }
}

fn value_to_json(v: &Value) -> serde_json::Value {
    match v {
        Value::Null => serde_json::Value::Null,
        Value::Int(n) => serde_json::Value::from(*n),
        Value::Str(s) => serde_json::Value::String(s.clone()),
    }
}

/// The frontend's answer to `request` as a completion: 200 is `ok` (with
/// the read value or whether the cas swapped), 400 and 409 and 503 with
/// `"outcome": "failed"` are `fail`, anything else (503 `"unknown"`, 500, a
/// body we cannot read) is `info`.
fn classify(request: &Request, status: u16, body: &[u8]) -> Completion {
    let json: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let text = || String::from_utf8_lossy(body).chars().take(200).collect::<String>();
    match status {
        200 => {
            let Some(json) = json else {
                return Completion::Info(format!("200 with a body that is not JSON: {}", text()));
            };
            match request {
                Request::Get => match json.get("value").and_then(value_from_json) {
                    Some(v) => Completion::Read(v),
                    None => Completion::Info(format!("200 without a value: {json}")),
                },
                Request::Cas { .. } => match json.get("swapped").and_then(serde_json::Value::as_bool) {
                    Some(b) => Completion::Cas(b),
                    None => Completion::Info(format!("200 without swapped: {json}")),
                },
                _ => Completion::Done,
            }
        }
        400 | 409 => Completion::Fail(format!("{status}: {}", text())),
        503 if json.as_ref().and_then(|j| j.get("outcome")).and_then(serde_json::Value::as_str) == Some("failed") => {
            Completion::Fail(format!("503 failed: {}", text()))
        }
        _ => Completion::Info(format!("{status}: {}", text())),
    }
}

/// The completion of a request that got no HTTP answer. A connection that
/// could not be made (refused: the frontend's process is down) never
/// carried the request, so it is a clean `fail`; anything else (a timeout,
/// a connection reset mid-request) is `info`.
fn classify_error(e: &reqwest::Error) -> Completion {
    if e.is_connect() {
        Completion::Fail(format!("connect: {e}"))
    } else if e.is_timeout() {
        Completion::Info(format!("timed-out: {e}"))
    } else {
        Completion::Info(format!("no reply: {e}"))
    }
}

struct Recorder {
    out: HistoryWriter<BufWriter<File>>,
    next_id: u64,
    t0: Instant,
}

impl Recorder {
    fn stamp(&mut self) {
        self.out.set_time(u64::try_from(self.t0.elapsed().as_nanos()).unwrap_or(u64::MAX));
    }

    fn invoke(&mut self, process: u64, key: &str, request: &Request) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.stamp();
        self.out.invoke(id, process, key, request).expect("write the history");
        id
    }

    fn complete(&mut self, id: u64, completion: &Completion) {
        self.stamp();
        match completion {
            Completion::Done => self.out.ok(id),
            Completion::Read(v) => self.out.ok_read(id, v.clone()),
            Completion::Cas(b) => self.out.ok_cas(id, *b),
            Completion::Fail(why) => self.out.fail(id, Some(why)),
            Completion::Info(why) => self.out.info(id, Some(why)),
        }
        .expect("write the history");
    }
}

const PHASES: [&str; 3] = ["faults", "healed", "final reads"];

/// What the clients share: the one recorder, the stop flag, the phase and
/// the counters.
struct Shared {
    recorder: Mutex<Recorder>,
    stop: AtomicBool,
    phase: AtomicU8,
    /// Per phase: ok, fail, info.
    counts: [[AtomicU64; 3]; 3],
    /// Milliseconds since `t0` of the latest `ok` completion.
    last_ok_ms: AtomicU64,
    t0: Instant,
}

impl Shared {
    fn tally(&self, c: &Completion) {
        let phase = usize::from(self.phase.load(Ordering::SeqCst)).min(2);
        let slot = match c {
            Completion::Fail(_) => 1,
            Completion::Info(_) => 2,
            _ => 0,
        };
        self.counts[phase][slot].fetch_add(1, Ordering::Relaxed);
        if c.is_ok() {
            self.last_ok_ms.fetch_max(self.t0.elapsed().as_millis() as u64, Ordering::SeqCst);
        }
    }
}

/// Sends one request to a frontend (no recording).
async fn send(http: &reqwest::Client, frontend: &str, key: &str, request: &Request) -> Completion {
    let url = format!("{frontend}/kv/{key}");
    let builder = match request {
        Request::Get => http.get(url),
        Request::Put(v) => http.put(url).json(&serde_json::json!({ "value": value_to_json(v) })),
        Request::Delete => http.delete(url),
        Request::Append(s) => http.post(format!("{url}/append")).json(&serde_json::json!({ "value": s })),
        Request::Cas { expected, value } => http
            .post(format!("{url}/cas"))
            .json(&serde_json::json!({ "expect": value_to_json(expected), "value": value_to_json(value) })),
    };
    let resp = match builder.send().await {
        Ok(r) => r,
        Err(e) => return classify_error(&e),
    };
    let status = resp.status().as_u16();
    match resp.bytes().await {
        Ok(body) => classify(request, status, &body),
        // The status line came, the body did not: whatever it was, unknown.
        Err(e) => Completion::Info(format!("{status} and then: {e}")),
    }
}

/// Records `request`'s invoke, sends it, records its completion.
async fn recorded(
    shared: &Shared,
    http: &reqwest::Client,
    process: u64,
    frontend: &str,
    key: &str,
    request: &Request,
) -> Completion {
    let id = shared.recorder.lock().expect("not poisoned").invoke(process, key, request);
    let completion = send(http, frontend, key, request).await;
    shared.recorder.lock().expect("not poisoned").complete(id, &completion);
    shared.tally(&completion);
    completion
}

fn key_name(k: usize) -> String {
    format!("k{k}")
}

/// One client: its own process id, sticking to one frontend until that one
/// stops answering (then to the next one, and home again after
/// [`HOME_AGAIN`]).
async fn client(
    process: u64,
    home: usize,
    frontends: Arc<Vec<String>>,
    shared: Arc<Shared>,
    http: reqwest::Client,
    keys: usize,
    mut rng: Rng,
) -> u64 {
    let mut at = home;
    let mut switched_at = Instant::now();
    let mut n = 0u64;
    let mut switches = 0;
    // The last value this client saw per key: what its cas expects.
    let mut seen = vec![Value::Null; keys];
    while !shared.stop.load(Ordering::SeqCst) {
        // Back home a while after a switch (the frontends then share the
        // clients again, and a kill keeps hitting requests in flight).
        if at != home && switched_at.elapsed() > HOME_AGAIN {
            at = home;
        }
        n += 1;
        let k = rng.below(keys as u64) as usize;
        let roll = rng.below(100);
        let request = match roll {
            0..=34 => Request::Get,
            35..=54 => Request::Put(Value::Str(format!("p{process}.{n}"))),
            55..=74 => Request::Append(format!("a{process}.{n};")),
            75..=89 => Request::Cas { expected: seen[k].clone(), value: Value::Str(format!("c{process}.{n}")) },
            _ => Request::Delete,
        };
        let completion = recorded(&shared, &http, process, &frontends[at], &key_name(k), &request).await;
        match (&completion, &request) {
            (Completion::Read(v), _) => seen[k] = v.clone(),
            (Completion::Done, Request::Put(v)) => seen[k] = v.clone(),
            (Completion::Done, Request::Delete) => seen[k] = Value::Null,
            (Completion::Cas(true), Request::Cas { value, .. }) => seen[k] = value.clone(),
            (Completion::Done | Completion::Cas(_), _) => {}
            (Completion::Fail(why) | Completion::Info(why), _) => {
                // A frontend that does not answer (its process is down or
                // paused): go to another one. A 503 comes from a live
                // frontend: stay.
                if why.starts_with("connect") || why.starts_with("timed-out") || why.starts_with("no reply") {
                    at = (at + 1) % frontends.len();
                    switched_at = Instant::now();
                    switches += 1;
                }
                tokio::time::sleep(Duration::from_millis(20 + rng.below(80))).await;
            }
        }
    }
    switches
}

// ---------------------------------------------------------------------------
// The nemesis

#[derive(Default, Debug)]
struct FaultLog {
    kills: u32,
    pauses: u32,
    lines: Vec<String>,
    /// Nodes that exited without being killed, and restarts that failed.
    problems: Vec<String>,
}

/// The leader as a live node's backend sees it (index into the nodes).
async fn leader(http: &reqwest::Client, cluster: &Mutex<Cluster>) -> Option<usize> {
    let backends: Vec<SocketAddr> = {
        let c = cluster.lock().expect("not poisoned");
        c.nodes.iter().filter(|n| n.child.is_some() && !n.paused).map(|n| n.backend).collect()
    };
    for b in backends {
        let Ok(resp) = http.get(format!("http://{b}/cluster")).timeout(Duration::from_millis(500)).send().await else {
            continue;
        };
        let Ok(json) = resp.json::<serde_json::Value>().await else { continue };
        if let Some(id) = json.get("leader").and_then(serde_json::Value::as_u64) {
            if (1..=NODES as u64).contains(&id) {
                return Some(id as usize - 1);
            }
        }
    }
    None
}

/// Injects one fault at a time until `until`, then heals: every node up and
/// running when it returns.
async fn nemesis(
    cluster: Arc<Mutex<Cluster>>,
    settings: Settings,
    mut rng: Rng,
    until: Instant,
    t0: Instant,
) -> FaultLog {
    let http = reqwest::Client::new();
    let mut log = FaultLog::default();
    let stamp = |t0: Instant| format!("+{:.1}s", t0.elapsed().as_secs_f64());
    loop {
        let gap = Duration::from_millis(rng.range(settings.gap_ms));
        if Instant::now() + gap >= until {
            break;
        }
        tokio::time::sleep(gap).await;
        // A node that died on its own is a finding: report it, bring it back.
        let died = cluster.lock().expect("not poisoned").exited_on_their_own();
        for (i, status) in died {
            let tail = cluster.lock().expect("not poisoned").log_tail(i, 20);
            log.problems.push(format!("node {} exited on its own ({status}); its log:\n{tail}", i + 1));
            if let Err(e) = start_node(&cluster, i, false).await {
                log.problems.push(e);
            }
        }
        // Draw every random number whatever the cluster says, so that the
        // schedule depends on the seed alone.
        let pick_leader = rng.below(2) == 0;
        let random = rng.below(NODES as u64) as usize;
        let kill = rng.below(2) == 0;
        let down = Duration::from_millis(rng.range(if kill { settings.down_ms } else { settings.pause_ms }));
        let (target, role) = if pick_leader {
            match leader(&http, &cluster).await {
                Some(l) => (l, "the leader"),
                None => (random, "no leader known"),
            }
        } else {
            (random, "random")
        };
        let id = target + 1;
        if kill {
            cluster.lock().expect("not poisoned").kill(target);
            log.kills += 1;
            log.lines.push(format!("{} kill -9 node {id} ({role}), down {} ms", stamp(t0), down.as_millis()));
            println!("nemesis: {}", log.lines.last().expect("pushed"));
            tokio::time::sleep(down).await;
            if let Err(e) = start_node(&cluster, target, false).await {
                log.problems.push(e);
            }
        } else {
            if !cluster.lock().expect("not poisoned").signal(target, "STOP") {
                continue;
            }
            log.pauses += 1;
            log.lines.push(format!("{} SIGSTOP node {id} ({role}), {} ms", stamp(t0), down.as_millis()));
            println!("nemesis: {}", log.lines.last().expect("pushed"));
            tokio::time::sleep(down).await;
            cluster.lock().expect("not poisoned").signal(target, "CONT");
        }
    }
    // Heal: nothing is paused or down after the loop; restart any node that
    // died on its own meanwhile.
    let died = cluster.lock().expect("not poisoned").exited_on_their_own();
    for (i, status) in died {
        let tail = cluster.lock().expect("not poisoned").log_tail(i, 20);
        log.problems.push(format!("node {} exited on its own ({status}); its log:\n{tail}", i + 1));
        if let Err(e) = start_node(&cluster, i, false).await {
            log.problems.push(e);
        }
    }
    log.lines.push(format!("{} healed", stamp(t0)));
    println!("nemesis: {}", log.lines.last().expect("pushed"));
    log
}

// ---------------------------------------------------------------------------
// The test

/// Keeps the temporary directory when the test fails (or when asked).
struct KeepOnFailure {
    dir: Option<tempfile::TempDir>,
    keep: bool,
}

impl Drop for KeepOnFailure {
    fn drop(&mut self) {
        if let Some(dir) = self.dir.take() {
            if self.keep || std::thread::panicking() {
                let path = dir.keep();
                eprintln!("real-cluster: kept {} (history.jsonl, node logs, data)", path.display());
            }
        }
    }
}

fn truncate_lines(text: &str, max: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    if lines.len() <= max {
        return text.to_string();
    }
    let head = &lines[..max / 2];
    let tail = &lines[lines.len() - max / 2..];
    format!("{}\n  ... {} lines ...\n{}", head.join("\n"), lines.len() - max, tail.join("\n"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_cluster_survives_kill_and_pause_and_stays_linearizable() {
    let settings = Settings::from_env();
    let started = Instant::now();
    let t0 = started;
    let dir = tempfile::TempDir::with_prefix("raft-kv-real-cluster-").expect("a temporary directory");
    let guard = KeepOnFailure { dir: Some(dir), keep: settings.keep };
    let dir_path = guard.dir.as_ref().expect("set").path().to_path_buf();
    let history_path = dir_path.join("history.jsonl");
    println!(
        "real-cluster: seed {:#x} (RAFT_KV_SEED), {} version, reads by {}, {} clients, {} keys, {} s of faults; dir {}",
        settings.seed,
        if settings.long { "long" } else { "short" },
        if settings.lease { "lease" } else { "read index" },
        settings.clients,
        settings.keys,
        settings.fault_phase.as_secs(),
        dir_path.display()
    );
    let mut rng = Rng::new(settings.seed);

    // Three nodes, bootstrapped together.
    let cluster = Arc::new(Mutex::new(Cluster::new(&dir_path, settings.lease, t0)));
    for i in 0..NODES {
        cluster.lock().expect("not poisoned").spawn(i, true).expect("spawn a node");
    }
    for i in 0..NODES {
        let addr = cluster.lock().expect("not poisoned").nodes[i].frontend;
        let deadline = Instant::now() + Duration::from_secs(20);
        while !listening(addr).await {
            let tail = cluster.lock().expect("not poisoned").log_tail(i, 20);
            assert!(Instant::now() < deadline, "node {} does not listen; its log:\n{tail}", i + 1);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let frontends = Arc::new(cluster.lock().expect("not poisoned").frontend_urls());
    let http = reqwest::Client::builder()
        .timeout(CLIENT_TIMEOUT)
        .connect_timeout(Duration::from_secs(1))
        .build()
        .expect("an HTTP client");
    // Until a leader serves reads (not recorded: a key no client uses).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if send(&http, &frontends[0], "ready", &Request::Get).await.is_ok() {
            break;
        }
        assert!(Instant::now() < deadline, "liveness stall: no leader 30 s after the start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let ready_at = t0.elapsed();
    println!("real-cluster: a leader serves after {:.1} s", ready_at.as_secs_f64());

    let recorder = Recorder {
        out: HistoryWriter::new(BufWriter::new(File::create(&history_path).expect("create the history file"))),
        next_id: 0,
        t0,
    };
    let shared = Arc::new(Shared {
        recorder: Mutex::new(recorder),
        stop: AtomicBool::new(false),
        phase: AtomicU8::new(0),
        counts: Default::default(),
        last_ok_ms: AtomicU64::new(0),
        t0,
    });
    let mut clients = Vec::new();
    for c in 0..settings.clients {
        clients.push(tokio::spawn(client(
            c as u64,
            c % NODES,
            frontends.clone(),
            shared.clone(),
            http.clone(),
            settings.keys,
            rng.fork(),
        )));
    }
    let nemesis_rng = rng.fork();
    let faults_until = Instant::now() + settings.fault_phase;
    let faults =
        tokio::spawn(nemesis(cluster.clone(), settings.clone(), nemesis_rng, faults_until, t0)).await.expect("nemesis");

    // Healed: some operation must complete within STALL_LIMIT.
    let healed_at = Instant::now();
    let healed_ms = t0.elapsed().as_millis() as u64;
    shared.phase.store(1, Ordering::SeqCst);
    let mut liveness: Vec<String> = Vec::new();
    let mut first_ok_after_heal = None;
    loop {
        if first_ok_after_heal.is_none() && shared.last_ok_ms.load(Ordering::SeqCst) > healed_ms {
            first_ok_after_heal = Some(healed_at.elapsed());
        }
        if healed_at.elapsed() >= settings.healed_phase && first_ok_after_heal.is_some() {
            break;
        }
        if first_ok_after_heal.is_none() && healed_at.elapsed() >= STALL_LIMIT {
            liveness.push(format!(
                "liveness stall: no operation completed in the {} s after the cluster was healed",
                STALL_LIMIT.as_secs()
            ));
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    shared.stop.store(true, Ordering::SeqCst);
    let mut switches = 0;
    for c in clients {
        // Every request ends within CLIENT_TIMEOUT.
        match tokio::time::timeout(CLIENT_TIMEOUT + Duration::from_secs(5), c).await {
            Ok(r) => switches += r.expect("a client panicked"),
            Err(_) => liveness.push("a client did not stop".into()),
        }
    }

    // Final reads, recorded like any operation: a write acknowledged and
    // then lost makes the history non-linearizable.
    shared.phase.store(2, Ordering::SeqCst);
    let final_process = settings.clients as u64;
    let mut final_values = Vec::new();
    for k in 0..settings.keys {
        let key = key_name(k);
        let deadline = Instant::now() + STALL_LIMIT;
        let mut read = None;
        let mut at = k % NODES;
        while read.is_none() && Instant::now() < deadline {
            // Through every frontend in turn.
            for _ in 0..NODES {
                if let Completion::Read(v) =
                    recorded(&shared, &http, final_process, &frontends[at], &key, &Request::Get).await
                {
                    read = Some(v);
                }
                at = (at + 1) % NODES;
            }
        }
        match read {
            Some(v) => final_values.push(format!("{key}={}", truncate_lines(&v.to_string(), 1))),
            None => liveness
                .push(format!("liveness stall: no final read of {key} succeeded within {} s", STALL_LIMIT.as_secs())),
        }
    }

    // Stop the cluster; a node that exited on its own is a finding.
    let mut problems = faults.problems.clone();
    {
        let mut c = cluster.lock().expect("not poisoned");
        for (i, status) in c.exited_on_their_own() {
            problems.push(format!("node {} exited on its own ({status}); its log:\n{}", i + 1, c.log_tail(i, 20)));
        }
        for i in 0..NODES {
            c.kill(i);
        }
    }
    let load_time = t0.elapsed() - ready_at;

    // Check.
    let recorder = Arc::try_unwrap(shared).map_err(|_| "clients still hold the recorder").expect("clients stopped");
    let counts = recorder.counts.each_ref().map(|p| p.each_ref().map(|c| c.load(Ordering::SeqCst)));
    let mut rec = recorder.recorder.into_inner().expect("not poisoned");
    rec.out.flush().expect("flush the history");
    drop(rec);
    let history = parse_history(BufReader::new(File::open(&history_path).expect("open the history")))
        .unwrap_or_else(|e| panic!("the history {} does not parse: {e}", history_path.display()));
    let check_started = Instant::now();
    let budget = Budget { max_steps: None, max_time: Some(settings.check_budget) };
    let (verdict, stats) = check_with_stats(&history, budget);
    let check_time = check_started.elapsed();

    let mut summary = String::new();
    let _ = writeln!(summary, "real-cluster summary (seed {:#x}):", settings.seed);
    let _ = writeln!(summary, "  {:<12} {:>7} {:>7} {:>7}", "phase", "ok", "fail", "info");
    for (p, name) in PHASES.iter().enumerate() {
        let [ok, fail, info] = counts[p];
        let _ = writeln!(summary, "  {name:<12} {ok:>7} {fail:>7} {info:>7}");
    }
    let total: [u64; 3] = core::array::from_fn(|s| counts.iter().map(|p| p[s]).sum());
    let _ = writeln!(summary, "  {:<12} {:>7} {:>7} {:>7}", "total", total[0], total[1], total[2]);
    let _ = writeln!(
        summary,
        "  faults: {} ({} kill -9, {} SIGSTOP); clients switched frontends {switches} times",
        faults.kills + faults.pauses,
        faults.kills,
        faults.pauses
    );
    for line in &faults.lines {
        let _ = writeln!(summary, "    {line}");
    }
    let _ = writeln!(
        summary,
        "  first ok after healing: {}",
        first_ok_after_heal.map_or("none".to_string(), |d| format!("{} ms", d.as_millis()))
    );
    let _ = writeln!(summary, "  final values: {}", final_values.join(", "));
    let verdict_line = match &verdict {
        Verdict::Linearizable => "linearizable".to_string(),
        Verdict::NotLinearizable(c) => format!("NOT linearizable, key {}", c.key),
        Verdict::Unknown { keys_unfinished } => format!("unknown (budget ran out on {keys_unfinished:?})"),
    };
    let _ = writeln!(
        summary,
        "  verdict: {verdict_line} ({} ops checked on {} keys, {} steps, {:.1} s)",
        stats.ops_checked,
        stats.keys,
        stats.steps,
        check_time.as_secs_f64()
    );
    let _ = writeln!(
        summary,
        "  time: {:.1} s in all, {:.1} s of load; history {} ({} events)",
        started.elapsed().as_secs_f64(),
        load_time.as_secs_f64(),
        history_path.display(),
        history.events().len()
    );
    println!("{summary}");

    // Safety first, then the checker's budget, then liveness and crashes.
    match &verdict {
        Verdict::Linearizable => {}
        Verdict::NotLinearizable(c) => panic!(
            "SAFETY: the history is not linearizable (history {}):\n{}\n{}",
            history_path.display(),
            truncate_lines(&c.to_string(), 80),
            if liveness.is_empty() { String::new() } else { format!("(also: {})", liveness.join("; ")) }
        ),
        Verdict::Unknown { .. } => panic!(
            "the checker's budget of {} s ran out before a verdict (history {}); not a safety verdict",
            settings.check_budget.as_secs(),
            history_path.display()
        ),
    }
    assert!(liveness.is_empty(), "{} (history {})", liveness.join("; "), history_path.display());
    assert!(problems.is_empty(), "node failures:\n{}", problems.join("\n"));
    assert!(total[0] > 0, "liveness stall: no operation completed at all");
    drop(guard);
}

// ---------------------------------------------------------------------------
// Unit tests of the pieces above

#[test]
fn responses_map_to_completions_as_the_history_format_says() {
    let put = Request::Put(Value::Str("v".into()));
    let cas = Request::Cas { expected: Value::Null, value: Value::Int(1) };
    assert_eq!(classify(&Request::Get, 200, br#"{"value":"x"}"#), Completion::Read(Value::Str("x".into())));
    assert_eq!(classify(&Request::Get, 200, br#"{"value":null}"#), Completion::Read(Value::Null));
    assert_eq!(classify(&Request::Get, 200, br#"{"value":7}"#), Completion::Read(Value::Int(7)));
    assert_eq!(classify(&put, 200, br#"{"ok":true}"#), Completion::Done);
    assert_eq!(classify(&cas, 200, br#"{"swapped":false,"found":3}"#), Completion::Cas(false));
    assert_eq!(classify(&cas, 200, br#"{"swapped":true,"found":null}"#), Completion::Cas(true));
    // Clean failures.
    assert!(matches!(classify(&put, 400, br#"{"error":"e","outcome":"invalid"}"#), Completion::Fail(_)));
    assert!(matches!(classify(&put, 409, br#"{"error":"e","outcome":"failed"}"#), Completion::Fail(_)));
    assert!(matches!(classify(&put, 503, br#"{"error":"e","outcome":"failed"}"#), Completion::Fail(_)));
    // Unknown outcomes: never a clean failure.
    assert!(matches!(classify(&put, 503, br#"{"error":"e","outcome":"unknown"}"#), Completion::Info(_)));
    assert!(matches!(classify(&put, 503, b"garbage"), Completion::Info(_)));
    assert!(matches!(classify(&put, 500, br#"{"error":"e","outcome":"failed"}"#), Completion::Info(_)));
    assert!(matches!(classify(&put, 200, b"not json"), Completion::Info(_)));
    assert!(matches!(classify(&Request::Get, 200, br#"{"ok":true}"#), Completion::Info(_)));
    assert!(matches!(classify(&cas, 200, br#"{"ok":true}"#), Completion::Info(_)));
}

#[test]
fn the_recorder_writes_a_history_the_checker_reads() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("h.jsonl");
    let mut rec = Recorder {
        out: HistoryWriter::new(BufWriter::new(File::create(&path).expect("create"))),
        next_id: 0,
        t0: Instant::now(),
    };
    let a = rec.invoke(0, "k", &Request::Put(Value::Str("x".into())));
    let b = rec.invoke(1, "k", &Request::Get);
    rec.complete(a, &Completion::Done);
    rec.complete(b, &Completion::Read(Value::Str("x".into())));
    let c = rec.invoke(0, "k", &Request::Append("y".into()));
    rec.complete(c, &Completion::Info("timed-out".into()));
    let d = rec.invoke(1, "k", &Request::Cas { expected: Value::Str("xy".into()), value: Value::Int(1) });
    rec.complete(d, &Completion::Cas(true));
    let e = rec.invoke(1, "k", &Request::Delete);
    rec.complete(e, &Completion::Fail("connect".into()));
    let f = rec.invoke(0, "k", &Request::Get);
    rec.complete(f, &Completion::Read(Value::Int(1)));
    rec.out.flush().expect("flush");
    let history = parse_history(BufReader::new(File::open(&path).expect("open"))).expect("parses");
    assert_eq!(history.operations().len(), 6);
    assert_eq!(raft_check::check(&history, Budget::default()), Verdict::Linearizable);
    // The same with a read that no order explains.
    let g = rec.invoke(1, "k", &Request::Get);
    rec.complete(g, &Completion::Read(Value::Str("x".into())));
    rec.out.flush().expect("flush");
    let history = parse_history(BufReader::new(File::open(&path).expect("open"))).expect("parses");
    assert!(matches!(raft_check::check(&history, Budget::default()), Verdict::NotLinearizable(_)));
}

#[test]
fn the_prng_is_deterministic_and_in_range() {
    let (mut a, mut b) = (Rng::new(42), Rng::new(42));
    for _ in 0..1000 {
        let x = a.range((3, 9));
        assert_eq!(x, b.range((3, 9)));
        assert!((3..=9).contains(&x));
    }
    assert_ne!(Rng::new(1).next_u64(), Rng::new(2).next_u64());
}
