//! The main job: `raft-kv-server demo` starts a 3-node cluster and prints
//! curl commands; what they do must work against it.

use core::time::Duration;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_prints_commands_that_work() {
    let child = Command::new(env!("CARGO_BIN_EXE_raft-kv-server"))
        .arg("demo")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the demo");
    let mut child = KillOnDrop(child);
    let stdout = child.0.stdout.take().expect("piped");
    // The printed curl commands, up to the Ctrl-C line.
    let lines = tokio::task::spawn_blocking(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let line = line.expect("utf-8 output");
            let done = line.starts_with("Ctrl-C");
            lines.push(line);
            if done {
                break;
            }
        }
        lines
    })
    .await
    .expect("reader");
    let curls: Vec<&String> = lines.iter().filter(|l| l.trim_start().starts_with("curl ")).collect();
    assert!(curls.len() >= 5, "{lines:?}");
    let put = curls.iter().find(|l| l.contains("-X PUT")).expect("a put command");
    let base = put.split_whitespace().find(|w| w.starts_with("http://")).expect("a URL");
    let base = base.trim_end_matches("/kv/greeting");
    let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().expect("client");
    // The first request may arrive before the election: retry briefly.
    let mut put_ok = false;
    for _ in 0..50 {
        let r = http.put(format!("{base}/kv/greeting")).json(&serde_json::json!({"value": "hello"})).send().await;
        if let Ok(r) = r {
            if r.status().is_success() {
                assert_eq!(r.json::<serde_json::Value>().await.expect("json"), serde_json::json!({"ok": true}));
                put_ok = true;
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(put_ok, "the printed put never succeeded");
    let get = |key: &str| http.get(format!("{base}/kv/{key}")).send();
    let v: serde_json::Value = get("greeting").await.expect("get").json().await.expect("json");
    assert_eq!(v, serde_json::json!({"value": "hello"}));
    let cas: serde_json::Value = http
        .post(format!("{base}/kv/counter/cas"))
        .json(&serde_json::json!({"expect": null, "value": 1}))
        .send()
        .await
        .expect("cas")
        .json()
        .await
        .expect("json");
    assert_eq!(cas, serde_json::json!({"swapped": true, "found": null}));
    let r = http.post(format!("{base}/kv/greeting/append")).json(&serde_json::json!({"value": ", world"})).send();
    assert!(r.await.expect("append").status().is_success());
    let v: serde_json::Value = get("greeting").await.expect("get").json().await.expect("json");
    assert_eq!(v, serde_json::json!({"value": "hello, world"}));
    assert!(http.delete(format!("{base}/kv/greeting")).send().await.expect("delete").status().is_success());
    let v: serde_json::Value = get("greeting").await.expect("get").json().await.expect("json");
    assert_eq!(v, serde_json::json!({"value": null}));
    let cluster: serde_json::Value =
        http.get(format!("{base}/cluster")).send().await.expect("cluster").json().await.expect("json");
    assert_eq!(cluster["members"]["voters"], serde_json::json!([1, 2, 3]), "{cluster}");
    // Bad input is a 400 with a JSON error, not a crash.
    let r = http.put(format!("{base}/kv/x")).json(&serde_json::json!({"value": [1]})).send().await.expect("put");
    assert_eq!(r.status(), reqwest::StatusCode::BAD_REQUEST);
}
