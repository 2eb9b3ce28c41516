//! The control plane: UpdateCluster adds a learner and promotes it;
//! LeaveCluster removes a node (its leadership handed over first).

use core::net::SocketAddr;
use core::time::Duration;

use raft_kv_server::service::{self, NodeOptions, Peer, RunningNode, Start};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

fn peer(id: u64) -> Peer {
    Peer {
        id,
        raft: SocketAddr::from(([127, 0, 0, 1], free_port())),
        backend: format!("http://127.0.0.1:{}", free_port()),
    }
}

async fn start(me: &Peer, peers: &[Peer], dir: &std::path::Path, start: Start) -> RunningNode {
    let options = NodeOptions {
        id: me.id,
        peers: peers.to_vec(),
        data_dir: dir.join(format!("n{}", me.id)),
        start,
        raft_listen: me.raft,
        backend_listen: me.backend.trim_start_matches("http://").parse().expect("addr"),
        frontend_listen: None,
        tick: Duration::from_millis(10),
        lease_reads: false,
        log_reads: false,
        snapshot_every: 50,
    };
    service::start(options).await.expect("node starts")
}

async fn cluster(http: &reqwest::Client, backend: &str) -> serde_json::Value {
    http.get(format!("{backend}/cluster")).send().await.expect("cluster").json().await.expect("json")
}

/// Polls `backend`'s `/cluster` until `cond` holds.
async fn until(http: &reqwest::Client, backend: &str, what: &str, cond: impl Fn(&serde_json::Value) -> bool) {
    for _ in 0..300 {
        if cond(&cluster(http, backend).await) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{what}: {}", cluster(http, backend).await);
}

/// POSTs `body` to the current leader's `path`, following leadership
/// changes (421) for a while, as an operator's client would.
async fn to_leader(http: &reqwest::Client, any: &str, path: &str, body: serde_json::Value) -> reqwest::Response {
    for _ in 0..200 {
        if let Some(leader) = cluster(http, any).await["leader_backend"].as_str() {
            let r = http.post(format!("{leader}{path}")).json(&body).send().await.expect("post");
            if r.status().as_u16() != 421 {
                return r;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no leader took {path}");
}

/// Proposes an encoded command on the current leader until it answers
/// (a retry carries the same bytes, so the same seq: it applies once).
async fn propose(http: &reqwest::Client, any: &str, command: bytes::Bytes) -> serde_json::Value {
    for _ in 0..200 {
        if let Some(leader) = cluster(http, any).await["leader_backend"].as_str() {
            if let Ok(r) = http.post(format!("{leader}/backend/propose")).body(command.clone()).send().await {
                if r.status().is_success() {
                    return r.json().await.expect("json");
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no leader took the proposal");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_cluster_adds_and_promotes_and_leave_cluster_removes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let peers: Vec<Peer> = (1..=3).map(peer).collect();
    let mut nodes = Vec::new();
    for p in &peers {
        nodes.push(start(p, &peers, dir.path(), Start::Bootstrap).await);
    }
    let http = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().expect("client");
    let b1 = peers[0].backend.clone();
    until(&http, &b1, "a leader", |c| c["leader"].is_u64()).await;
    let r = propose(&http, &b1, raft_kv::Command::RegisterClient.encode()).await;
    let sid = r["session"].as_u64().expect("a session");
    let mut s = raft_kv::ClientSession::new(raft_kv::SessionId(sid));
    for i in 0..60 {
        let cmd = s.start(raft_kv::Op::Put { key: format!("k{i}"), value: raft_kv::Value::Int(i) });
        let r = propose(&http, &b1, cmd.encode()).await;
        assert_eq!(r["status"], "done", "{r}");
        s.acknowledge(cmd.seq().expect("seq"));
    }

    // A new node joins under a fresh id: added as a learner, then promoted.
    let p4 = peer(4);
    let mut all = peers.clone();
    all.push(p4.clone());
    nodes.push(start(&p4, &all, dir.path(), Start::Join).await);
    let r = to_leader(&http, &b1, "/cluster/update", serde_json::json!({ "add_learner": [p4] })).await;
    assert!(r.status().is_success(), "{}", r.text().await.unwrap_or_default());
    until(&http, &p4.backend, "4 is a caught-up learner", |c| {
        c["members"]["learners"] == serde_json::json!([4])
            // The session, the 60 puts and the learner's own entry.
            && c["applied"].as_u64().is_some_and(|a| a >= 62)
    })
    .await;
    let r = to_leader(&http, &b1, "/cluster/update", serde_json::json!({ "promote": [4] })).await;
    assert!(r.status().is_success(), "{}", r.text().await.unwrap_or_default());
    until(&http, &p4.backend, "4 sees itself a voter", |c| c["members"]["voters"] == serde_json::json!([1, 2, 3, 4]))
        .await;
    // It holds the data (read through its own backend: read index).
    let r: serde_json::Value = http
        .post(format!("{}/backend/read", p4.backend))
        .json(&serde_json::json!({"key": "k59"}))
        .send()
        .await
        .expect("read")
        .json()
        .await
        .expect("json");
    assert_eq!(r["value"], serde_json::json!(59), "{r}");

    // The leader leaves: it hands over first, then is removed.
    let r = to_leader(&http, &b1, "/cluster/leave", serde_json::json!({})).await;
    let leaver_backend = r.url().as_str().trim_end_matches("/cluster/leave").to_string();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap_or_default());
    let leaver = cluster(&http, &leaver_backend).await["id"].as_u64().expect("id");
    let other = all.iter().find(|p| p.id != leaver).expect("another node").backend.clone();
    until(&http, &other, "the leaver is removed", |c| {
        let voters = c["members"]["voters"].as_array().cloned().unwrap_or_default();
        voters.len() == 3 && !voters.contains(&serde_json::json!(leaver)) && c["leader"].is_u64()
    })
    .await;
    for n in nodes {
        n.shutdown().await;
    }
}
