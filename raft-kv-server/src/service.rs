//! One node of the KV service: the `raft_kv` state machine on a
//! `raft_host` driver with a file WAL and the TCP transport, and its HTTP
//! endpoints: the backend (KV operations on this node's raft, answering
//! `NotLeader` with the leader's backend address), the control plane
//! (`/cluster`) and the client-facing frontend ([`crate::frontend`]).
//!
//! Backend API (used by frontends, not by clients):
//!
//! | request | body | answer |
//! |---|---|---|
//! | `POST /backend/propose` | an encoded `raft_kv::Command` | [`BackendReply`] |
//! | `POST /backend/read` | `{"key": k}` | [`ReadReply`] (read index) |
//!
//! Control plane (on every node's backend address):
//!
//! | request | body | answer |
//! |---|---|---|
//! | `GET /cluster` | | ObserveCluster: members, roles, leader, commit, applied, lag |
//! | `POST /cluster/update` | `{"add_learner": [peer], "promote": [id], "remove": [id]}` | UpdateCluster (on the leader; joint consensus when needed) |
//! | `POST /cluster/leave` | | LeaveCluster: this node leaves (transferring leadership first if it leads) |
//! | `POST /cluster/peers` | `[peer]` | learn peers' addresses (sent by the leader with an update) |
//!
//! A `peer` is `{"id": 4, "raft": "127.0.0.1:7401", "backend": "http://127.0.0.1:7402"}`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use raft_host::driver::{
    BoxError, Driver, DriverOptions, ProposeError, RaftHandle, ReadError, SnapshotPolicy, StateMachine,
};
use raft_host::storage::{Wal, WalOptions};
use raft_host::transport::{TcpOptions, TcpTransport};
use raft_kv::{ApplyOutcome, KvConfig, KvStateMachine};
use raft_sansio::{Config, Entry, Index, MemberChange, MembershipChange, NodeId, ReadMode, RejectReason};
use serde::{Deserialize, Serialize};

use crate::api::{self, BackendReply, ReadReply};
use crate::frontend::{Frontend, FrontendConfig};

/// The `raft_kv` state machine as the driver applies it.
pub struct KvMachine(pub KvStateMachine);

impl StateMachine for KvMachine {
    type Response = ApplyOutcome;

    fn apply(&mut self, entry: &Entry) -> ApplyOutcome {
        self.0.apply(entry.index.0, &entry.payload)
    }

    fn apply_empty(&mut self, entry: &Entry) {
        // Out of order is impossible here (the driver applies in order).
        let _ = self.0.apply_noop(entry.index.0);
    }

    fn snapshot(&self) -> Bytes {
        self.0.snapshot()
    }

    fn restore(&mut self, _index: Index, data: &Bytes) -> Result<(), BoxError> {
        self.0 = KvStateMachine::restore(data).map_err(|e| Box::new(e) as BoxError)?;
        Ok(())
    }
}

/// A member's addresses.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Peer {
    /// Its node id.
    pub id: u64,
    /// Its raft (TCP transport) address.
    pub raft: SocketAddr,
    /// Its backend base URL.
    pub backend: String,
}

impl std::str::FromStr for Peer {
    type Err = String;

    /// `ID=RAFT_ADDR,BACKEND_URL`, e.g. `2=127.0.0.1:7201,http://127.0.0.1:7202`.
    fn from_str(s: &str) -> Result<Peer, String> {
        let (id, rest) = s.split_once('=').ok_or_else(|| format!("`{s}`: expected ID=RAFT_ADDR,BACKEND_URL"))?;
        let (raft, backend) =
            rest.split_once(',').ok_or_else(|| format!("`{s}`: expected ID=RAFT_ADDR,BACKEND_URL"))?;
        let id: u64 = id.parse().map_err(|_| format!("`{id}` is not a node id"))?;
        if id == 0 {
            return Err("node id 0 is reserved".into());
        }
        let raft = raft.parse().map_err(|e| format!("`{raft}`: {e}"))?;
        if !backend.starts_with("http://") {
            return Err(format!("`{backend}`: the backend URL starts with http://"));
        }
        Ok(Peer { id, raft, backend: backend.trim_end_matches('/').to_string() })
    }
}

/// How a node starts on an empty data directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    /// Its data directory must hold state already.
    Restart,
    /// A new cluster of the given peers (this node among them).
    Bootstrap,
    /// A node joining under a fresh id: it waits to be added.
    Join,
}

/// Everything one node needs.
#[derive(Clone, Debug)]
pub struct NodeOptions {
    /// This node's id.
    pub id: u64,
    /// Every member's addresses, this node's included.
    pub peers: Vec<Peer>,
    /// Where the WAL and snapshots live.
    pub data_dir: PathBuf,
    /// What to do on an empty data directory.
    pub start: Start,
    /// Raft listen address (default: this node's peer entry).
    pub raft_listen: SocketAddr,
    /// Backend and control plane listen address.
    pub backend_listen: SocketAddr,
    /// Frontend listen address (None: no frontend in this process).
    pub frontend_listen: Option<SocketAddr>,
    /// The raft tick.
    pub tick: Duration,
    /// Lease reads instead of read index.
    pub lease_reads: bool,
    /// The frontend serves gets through the log.
    pub log_reads: bool,
    /// Snapshot every this many applied entries.
    pub snapshot_every: u64,
}

/// Why a node did not start.
#[derive(Debug)]
pub enum ServeError {
    /// Bad options.
    Config(String),
    /// A listener or the data directory.
    Io(std::io::Error),
    /// The WAL refused to open.
    Store(raft_host::storage::StoreError),
    /// The driver did not start.
    Driver(raft_host::driver::DriverError),
}

impl std::fmt::Display for ServeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServeError::Config(s) => write!(f, "{s}"),
            ServeError::Io(e) => write!(f, "{e}"),
            ServeError::Store(e) => write!(f, "the WAL: {e}"),
            ServeError::Driver(e) => write!(f, "the raft driver: {e}"),
        }
    }
}

impl std::error::Error for ServeError {}

struct Shared {
    id: u64,
    raft: RaftHandle<KvMachine>,
    transport: TcpTransport,
    /// Backend URL of every known node, by id.
    backends: Mutex<BTreeMap<u64, String>>,
    http: reqwest::Client,
}

impl Shared {
    fn backend_of(&self, id: Option<NodeId>) -> Option<String> {
        id.and_then(|id| self.backends.lock().expect("not poisoned").get(&id.0).cloned())
    }

    fn learn(&self, peers: &[Peer]) {
        let mut backends = self.backends.lock().expect("not poisoned");
        for p in peers {
            backends.insert(p.id, p.backend.clone());
            if p.id != self.id {
                self.transport.set_peer(NodeId(p.id), p.raft);
            }
        }
    }
}

/// A running node: its driver and its HTTP servers.
pub struct RunningNode {
    driver: Driver<KvMachine>,
    servers: Vec<tokio::task::JoinHandle<()>>,
    /// The backend's bound address.
    pub backend_addr: SocketAddr,
    /// The frontend's bound address, if any.
    pub frontend_addr: Option<SocketAddr>,
    /// The raft transport's bound address.
    pub raft_addr: SocketAddr,
}

impl RunningNode {
    /// A handle on the node's raft.
    pub fn raft(&self) -> RaftHandle<KvMachine> {
        self.driver.handle()
    }

    /// Stops the HTTP servers and the node.
    pub async fn shutdown(self) {
        for s in &self.servers {
            s.abort();
        }
        let _ = self.driver.shutdown().await;
    }
}

fn wal_is_empty(dir: &std::path::Path) -> bool {
    std::fs::read_dir(dir).map(|mut d| d.next().is_none()).unwrap_or(true)
}

/// Starts one node.
///
/// # Errors
/// Bad options (an empty data directory without `--bootstrap` or `--join`,
/// this node missing from the peers), a listener that cannot bind, a WAL
/// that does not open, or a driver that does not start.
pub async fn start(options: NodeOptions) -> Result<RunningNode, ServeError> {
    let me = options
        .peers
        .iter()
        .find(|p| p.id == options.id)
        .cloned()
        .ok_or_else(|| ServeError::Config(format!("node {} is not among the peers", options.id)))?;
    let wal_dir = options.data_dir.join("wal");
    let empty = wal_is_empty(&wal_dir);
    if empty && options.start == Start::Restart {
        return Err(ServeError::Config(format!(
            "{} holds no state: start a new cluster with --bootstrap, or join one with --join under a new id",
            wal_dir.display()
        )));
    }
    if !empty && options.start != Start::Restart {
        return Err(ServeError::Config(format!(
            "{} already holds state: restart without --bootstrap or --join",
            wal_dir.display()
        )));
    }
    std::fs::create_dir_all(&wal_dir).map_err(ServeError::Io)?;
    let wal = Wal::open(&wal_dir, WalOptions::default()).map_err(ServeError::Store)?;

    let mut config = Config::new(NodeId(options.id), 0x5EED ^ options.id.wrapping_mul(0x9E37_79B9));
    if options.start == Start::Bootstrap {
        config.bootstrap_voters = options.peers.iter().map(|p| NodeId(p.id)).collect();
    }
    if options.lease_reads {
        // A 2% clock-drift bound between nodes' tick rates.
        let clock_drift_bound_ppm = 20_000;
        let lease_ticks = ReadMode::max_lease_ticks(config.election_timeout_ticks_min, clock_drift_bound_ppm);
        config.read_mode = ReadMode::Lease { lease_ticks, clock_drift_bound_ppm };
    }
    let (transport, inbound) = TcpTransport::bind(NodeId(options.id), options.raft_listen, TcpOptions::default())
        .await
        .map_err(ServeError::Io)?;
    let raft_addr = transport.local_addr();
    let mut driver_options = DriverOptions::default();
    driver_options.tick = options.tick;
    // Every `snapshot_every` entries, or every 64 MiB of applied payload
    // (the driver's default size threshold), whichever comes first.
    let mut policy = SnapshotPolicy::default();
    policy.every_entries = options.snapshot_every;
    driver_options.snapshot_policy = policy;
    let driver = Driver::start(
        config,
        wal,
        KvMachine(KvStateMachine::new(KvConfig::default())),
        transport.clone(),
        inbound,
        driver_options,
    )
    .await
    .map_err(ServeError::Driver)?;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()
        .map_err(|e| ServeError::Config(format!("HTTP client: {e}")))?;
    let shared = Arc::new(Shared {
        id: options.id,
        raft: driver.handle(),
        transport,
        backends: Mutex::new(BTreeMap::new()),
        http,
    });
    shared.learn(&options.peers);
    let _ = me;

    let backend = Router::new()
        .route("/backend/propose", post(propose))
        .route("/backend/read", post(read))
        .route("/cluster", get(observe))
        .route("/cluster/update", post(update))
        .route("/cluster/leave", post(leave))
        .route("/cluster/peers", post(peers))
        .with_state(shared.clone());
    let listener = tokio::net::TcpListener::bind(options.backend_listen).await.map_err(ServeError::Io)?;
    let backend_addr = listener.local_addr().map_err(ServeError::Io)?;
    let mut servers = vec![tokio::spawn(async move {
        let _ = axum::serve(listener, backend).await;
    })];
    let mut frontend_addr = None;
    if let Some(addr) = options.frontend_listen {
        let backends = options.peers.iter().map(|p| p.backend.clone()).collect();
        let mut config = FrontendConfig::new(backends);
        config.reads_through_log = options.log_reads;
        let frontend = Frontend::new(config).router();
        let listener = tokio::net::TcpListener::bind(addr).await.map_err(ServeError::Io)?;
        frontend_addr = Some(listener.local_addr().map_err(ServeError::Io)?);
        servers.push(tokio::spawn(async move {
            let _ = axum::serve(listener, frontend).await;
        }));
    }
    Ok(RunningNode { driver, servers, backend_addr, frontend_addr, raft_addr })
}

fn reply<T: Serialize>(status: u16, body: &T) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, Json(serde_json::to_value(body).unwrap_or_default())).into_response()
}

async fn propose(State(s): State<Arc<Shared>>, body: Bytes) -> Response {
    if raft_kv::Command::decode(&body).is_err() {
        return reply(400, &BackendReply::Rejected { error: "not an encoded command".into() });
    }
    let r = match s.raft.propose(body).await {
        Ok(outcome) => BackendReply::from_outcome(&outcome),
        Err(ProposeError::NotLeader { leader }) => BackendReply::NotLeader { leader: s.backend_of(leader) },
        Err(ProposeError::Unknown { reason }) => BackendReply::Unknown { reason: format!("{reason:?}") },
        Err(e) => BackendReply::Unavailable { reason: e.to_string() },
    };
    reply(r.status(), &r)
}

#[derive(Deserialize)]
struct ReadBody {
    key: String,
}

async fn read(State(s): State<Arc<Shared>>, Json(body): Json<ReadBody>) -> Response {
    let key = body.key;
    let r = match s.raft.read_with(move |sm: &KvMachine| sm.0.read(&key)).await {
        Ok(v) => ReadReply::Value { value: api::value_to_json(&v) },
        Err(ReadError::NotLeader { leader }) => ReadReply::NotLeader { leader: s.backend_of(leader) },
        Err(e) => ReadReply::Unavailable { reason: e.to_string() },
    };
    reply(r.status(), &r)
}

async fn observe(State(s): State<Arc<Shared>>) -> Response {
    let m = s.raft.metrics();
    let ids = |v: &[NodeId]| v.iter().map(|i| i.0).collect::<Vec<_>>();
    let conf = &m.membership;
    let peers: Vec<_> = m
        .peers
        .iter()
        .map(|p| serde_json::json!({"id": p.id.0, "match": p.match_index.0, "lag": p.lag, "active": p.recent_active}))
        .collect();
    let body = serde_json::json!({
        "id": m.id.0,
        "role": format!("{:?}", m.role),
        "term": m.term.0,
        "leader": m.leader.map(|l| l.0),
        "leader_backend": s.backend_of(m.leader),
        "commit": m.commit_index.0,
        "applied": m.applied_index.0,
        "last_index": m.last_index.0,
        "witness": m.is_witness,
        "members": {
            "voters": ids(&conf.voters),
            "learners": ids(&conf.learners),
            "witnesses": ids(&conf.witnesses),
            "joint": conf.is_joint(),
            "voters_outgoing": ids(&conf.voters_outgoing),
        },
        "peers": peers,
        "stopped": m.stopped,
    });
    Json(body).into_response()
}

#[derive(Deserialize, Default)]
struct UpdateBody {
    #[serde(default)]
    add_learner: Vec<Peer>,
    #[serde(default)]
    promote: Vec<u64>,
    #[serde(default)]
    remove: Vec<u64>,
}

async fn update(State(s): State<Arc<Shared>>, Json(body): Json<UpdateBody>) -> Response {
    let m = s.raft.metrics();
    if m.leader != Some(NodeId(s.id)) {
        return reply(421, &serde_json::json!({"error": "not the leader", "leader_backend": s.backend_of(m.leader)}));
    }
    // Every member learns the new peers' addresses first.
    if !body.add_learner.is_empty() {
        s.learn(&body.add_learner);
        let targets: Vec<String> = s.backends.lock().expect("not poisoned").values().cloned().collect();
        for t in targets {
            let _ = s.http.post(format!("{t}/cluster/peers")).json(&body.add_learner).send().await;
        }
    }
    let mut changes = Vec::new();
    changes.extend(body.add_learner.iter().map(|p| MemberChange::AddLearner(NodeId(p.id))));
    changes.extend(body.promote.iter().map(|&id| MemberChange::AddVoter(NodeId(id))));
    changes.extend(body.remove.iter().map(|&id| MemberChange::Remove(NodeId(id))));
    if changes.is_empty() {
        return reply(400, &serde_json::json!({"error": "nothing to change"}));
    }
    // A leader that has just been elected (after a transfer, say) refuses
    // changes until an entry of its term commits, and one change waits for
    // the one before: both pass in moments, and a refusal changed nothing,
    // so retry them for a while.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        match s.raft.change_membership(MembershipChange::new(changes.clone())).await {
            Ok(conf) => return reply(200, &serde_json::json!({"ok": true, "joint": conf.is_joint()})),
            Err(ProposeError::Rejected { reason: RejectReason::MembershipChangeInProgress })
                if tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => {
                let status = if e.certainly_not_applied() { 409 } else { 503 };
                return reply(status, &serde_json::json!({"error": e.to_string()}));
            }
        }
    }
}

async fn leave(State(s): State<Arc<Shared>>) -> Response {
    let m = s.raft.metrics();
    let me = NodeId(s.id);
    if m.leader == Some(me) {
        // Hand over first, to a voter that stays.
        let Some(to) = m.membership.voters.iter().copied().find(|&v| v != me) else {
            return reply(409, &serde_json::json!({"error": "the last voter cannot leave"}));
        };
        if let Err(e) = s.raft.transfer_leadership(to).await {
            return reply(503, &serde_json::json!({"error": format!("transfer to {}: {e}", to.0)}));
        }
    }
    // Ask the leader to remove us; while leadership settles (no leader
    // known yet, or a node that no longer leads) ask again.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let mut last = serde_json::json!({"error": "no leader known"});
    while tokio::time::Instant::now() < deadline {
        if let Some(url) = s.backend_of(s.raft.metrics().leader) {
            let request = s.http.post(format!("{url}/cluster/update")).json(&serde_json::json!({"remove": [s.id]}));
            match request.send().await {
                Ok(r) if r.status().as_u16() != 421 => {
                    let status = r.status().as_u16();
                    let body = r.json::<serde_json::Value>().await.unwrap_or_default();
                    return reply(status, &body);
                }
                Ok(r) => last = r.json::<serde_json::Value>().await.unwrap_or_default(),
                Err(e) => last = serde_json::json!({"error": e.to_string()}),
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    reply(503, &last)
}

async fn peers(State(s): State<Arc<Shared>>, Json(peers): Json<Vec<Peer>>) -> Response {
    s.learn(&peers);
    reply(200, &serde_json::json!({"ok": true}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peers_parse_and_bad_ones_are_refused() {
        let p: Peer = "2=127.0.0.1:7201,http://127.0.0.1:7202/".parse().expect("valid");
        assert_eq!(p, Peer { id: 2, raft: "127.0.0.1:7201".parse().unwrap(), backend: "http://127.0.0.1:7202".into() });
        assert!("0=127.0.0.1:1,http://a".parse::<Peer>().is_err());
        assert!("x=127.0.0.1:1,http://a".parse::<Peer>().is_err());
        assert!("2=nowhere,http://a".parse::<Peer>().is_err());
        assert!("2=127.0.0.1:1,ftp://a".parse::<Peer>().is_err());
        assert!("2=127.0.0.1:1".parse::<Peer>().is_err());
    }
}
