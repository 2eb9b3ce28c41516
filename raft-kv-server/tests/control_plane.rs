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
    let leader = cluster(&http, &b1).await["leader_backend"].as_str().expect("leader backend").to_string();
    // Some data first, with a snapshot on the way (every 50 entries).
    let session = raft_kv::Command::RegisterClient.encode();
    let r: serde_json::Value = http
        .post(format!("{leader}/backend/propose"))
        .body(session)
        .send()
        .await
        .expect("register")
        .json()
        .await
        .expect("json");
    let sid = r["session"].as_u64().expect("a session");
    let mut s = raft_kv::ClientSession::new(raft_kv::SessionId(sid));
    for i in 0..60 {
        let cmd = s.start(raft_kv::Op::Put { key: format!("k{i}"), value: raft_kv::Value::Int(i) });
        let r = http.post(format!("{leader}/backend/propose")).body(cmd.encode()).send().await.expect("put");
        assert!(r.status().is_success());
        s.acknowledge(cmd.seq().expect("seq"));
    }

    // A new node joins under a fresh id: added as a learner, then promoted.
    let p4 = peer(4);
    let mut all = peers.clone();
    all.push(p4.clone());
    nodes.push(start(&p4, &all, dir.path(), Start::Join).await);
    let r = http
        .post(format!("{leader}/cluster/update"))
        .json(&serde_json::json!({ "add_learner": [p4] }))
        .send()
        .await
        .expect("update");
    assert!(r.status().is_success(), "{}", r.text().await.unwrap_or_default());
    until(&http, &leader, "4 is a caught-up learner", |c| {
        c["members"]["learners"] == serde_json::json!([4])
            && c["peers"].as_array().is_some_and(|ps| ps.iter().any(|p| p["id"] == 4 && p["lag"] == 0))
    })
    .await;
    let r = http
        .post(format!("{leader}/cluster/update"))
        .json(&serde_json::json!({ "promote": [4] }))
        .send()
        .await
        .expect("promote");
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
    let r = http.post(format!("{leader}/cluster/leave")).send().await.expect("leave");
    assert!(r.status().is_success(), "{}", r.text().await.unwrap_or_default());
    let leaver = cluster(&http, &leader).await["id"].as_u64().expect("id");
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
