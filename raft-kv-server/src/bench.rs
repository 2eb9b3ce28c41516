//! The load generator behind `raft-kv-server bench`: concurrent clients
//! issuing puts and gets against our frontend's HTTP/JSON API, or the same
//! load against etcd's v3 JSON gateway (`--target etcd`), with ops/s and
//! latency percentiles.
//!
//! Every client is a task with its own deterministic key and operation
//! stream (seeded from the client's number), one request in flight at a
//! time: `clients` is the concurrency. A request that fails (transport
//! error or non-2xx status) counts as an error and is not retried; its
//! latency is not recorded.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use hdrhistogram::Histogram;
use serde_json::json;

/// What the load runs against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// Our frontend: `PUT /kv/{key}` with `{"value": ...}`, `GET /kv/{key}`.
    Ours,
    /// etcd's v3 JSON gateway: `POST /v3/kv/put`, `POST /v3/kv/range`
    /// (linearizable reads, etcd's default).
    Etcd,
}

/// One load run.
#[derive(Clone, Debug)]
pub struct BenchConfig {
    /// Where requests go.
    pub target: Target,
    /// Base URLs (`http://127.0.0.1:8080`); client `i` uses endpoint
    /// `i % len`.
    pub endpoints: Vec<String>,
    /// Concurrent clients.
    pub clients: usize,
    /// How long to measure (after `warmup`).
    pub duration: Duration,
    /// Load before measuring, not recorded.
    pub warmup: Duration,
    /// Percentage of puts (the rest are gets).
    pub put_percent: u8,
    /// Value size in bytes.
    pub value_size: usize,
    /// Distinct keys.
    pub keys: u64,
    /// Show a progress bar.
    pub progress: bool,
}

/// What a run measured.
#[derive(Clone, Debug, PartialEq)]
pub struct BenchReport {
    /// Operations completed successfully while measuring.
    pub ops: u64,
    /// Failed requests while measuring.
    pub errors: u64,
    /// The measured time.
    pub elapsed: Duration,
    /// Successful operations per second.
    pub ops_per_sec: f64,
    /// Latency percentiles of successful operations, microseconds.
    pub p50_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// 99.9th percentile.
    pub p999_us: u64,
    /// Largest latency seen.
    pub max_us: u64,
}

impl std::fmt::Display for BenchReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ops: {}  errors: {}  time: {:.1} s  ops/s: {:.0}  latency us: p50 {}  p99 {}  p99.9 {}  max {}",
            self.ops,
            self.errors,
            self.elapsed.as_secs_f64(),
            self.ops_per_sec,
            self.p50_us,
            self.p99_us,
            self.p999_us,
            self.max_us
        )
    }
}

/// Errors that stop a run before it starts.
#[derive(Debug)]
pub enum BenchError {
    /// No endpoint, no client, or a percentage above 100.
    Config(String),
    /// The HTTP client could not be built.
    Client(reqwest::Error),
}

impl std::fmt::Display for BenchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BenchError::Config(why) => write!(f, "bad bench configuration: {why}"),
            BenchError::Client(e) => write!(f, "cannot build the HTTP client: {e}"),
        }
    }
}

impl std::error::Error for BenchError {}

/// A small deterministic generator (splitmix64) per client.
struct Stream(u64);

impl Stream {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// One request of the load, as sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Request {
    pub(crate) method: reqwest::Method,
    pub(crate) url: String,
    pub(crate) body: Option<serde_json::Value>,
}

/// The request for a put (`value = Some`) or a get of `key` at `endpoint`.
pub(crate) fn request(target: &Target, endpoint: &str, key: &str, value: Option<&str>) -> Request {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    match (target, value) {
        (Target::Ours, Some(v)) => Request {
            method: reqwest::Method::PUT,
            url: format!("{endpoint}/kv/{key}"),
            body: Some(json!({ "value": v })),
        },
        (Target::Ours, None) => {
            Request { method: reqwest::Method::GET, url: format!("{endpoint}/kv/{key}"), body: None }
        }
        (Target::Etcd, Some(v)) => Request {
            method: reqwest::Method::POST,
            url: format!("{endpoint}/v3/kv/put"),
            body: Some(json!({ "key": b64(key), "value": b64(v) })),
        },
        (Target::Etcd, None) => Request {
            method: reqwest::Method::POST,
            url: format!("{endpoint}/v3/kv/range"),
            body: Some(json!({ "key": b64(key) })),
        },
    }
}

/// Runs the load and reports. Progress goes to stderr when asked for.
///
/// # Errors
/// A bad configuration or an HTTP client that cannot be built.
pub async fn run(config: BenchConfig) -> Result<BenchReport, BenchError> {
    if config.endpoints.is_empty() || config.clients == 0 || config.put_percent > 100 || config.keys == 0 {
        return Err(BenchError::Config("need endpoints, clients >= 1, keys >= 1, put percent <= 100".into()));
    }
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(config.clients)
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(BenchError::Client)?;
    let recording = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let value: String = "v".repeat(config.value_size);
    let mut tasks = Vec::with_capacity(config.clients);
    for c in 0..config.clients {
        let (http, recording, stop, done) = (http.clone(), recording.clone(), stop.clone(), done.clone());
        let endpoint = config.endpoints[c % config.endpoints.len()].clone();
        let (target, value, keys, put_percent) =
            (config.target.clone(), value.clone(), config.keys, config.put_percent);
        tasks.push(tokio::spawn(async move {
            let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("valid bounds");
            let mut errors = 0u64;
            let mut stream = Stream(0xB0B0_0000 + c as u64);
            while !stop.load(Ordering::Relaxed) {
                let key = format!("k{}", stream.next() % keys);
                let put = stream.next() % 100 < u64::from(put_percent);
                let r = request(&target, &endpoint, &key, put.then_some(value.as_str()));
                let mut builder = http.request(r.method, &r.url);
                if let Some(body) = &r.body {
                    builder = builder.json(body);
                }
                let start = Instant::now();
                let ok = match builder.send().await {
                    Ok(resp) => {
                        let ok = resp.status().is_success();
                        // Drain the body so the connection is reused.
                        let _ = resp.bytes().await;
                        ok
                    }
                    Err(_) => false,
                };
                let us = start.elapsed().as_micros() as u64;
                if recording.load(Ordering::Relaxed) {
                    if ok {
                        hist.saturating_record(us.max(1));
                        done.fetch_add(1, Ordering::Relaxed);
                    } else {
                        errors += 1;
                    }
                }
            }
            (hist, errors)
        }));
    }
    tokio::time::sleep(config.warmup).await;
    recording.store(true, Ordering::Relaxed);
    let start = Instant::now();
    let bar = if config.progress {
        let bar = indicatif::ProgressBar::new(config.duration.as_millis() as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {elapsed_precise} {msg}")
                .expect("a valid template")
                .progress_chars("=> "),
        );
        Some(bar)
    } else {
        None
    };
    while start.elapsed() < config.duration {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if let Some(bar) = &bar {
            let secs = start.elapsed().as_secs_f64().max(1e-3);
            bar.set_position(start.elapsed().as_millis() as u64);
            bar.set_message(format!("{:.0} ops/s", done.load(Ordering::Relaxed) as f64 / secs));
        }
    }
    recording.store(false, Ordering::Relaxed);
    let elapsed = start.elapsed();
    stop.store(true, Ordering::Relaxed);
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("valid bounds");
    let mut errors = 0;
    for t in tasks {
        if let Ok((h, e)) = t.await {
            hist.add(&h).expect("same bounds");
            errors += e;
        }
    }
    let ops = hist.len();
    Ok(BenchReport {
        ops,
        errors,
        elapsed,
        ops_per_sec: ops as f64 / elapsed.as_secs_f64(),
        p50_us: hist.value_at_quantile(0.50),
        p99_us: hist.value_at_quantile(0.99),
        p999_us: hist.value_at_quantile(0.999),
        max_us: hist.max(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_follow_each_api() {
        let r = request(&Target::Ours, "http://a:1", "k7", Some("vv"));
        assert_eq!((r.method, r.url.as_str()), (reqwest::Method::PUT, "http://a:1/kv/k7"));
        assert_eq!(r.body, Some(json!({"value": "vv"})));
        let r = request(&Target::Ours, "http://a:1", "k7", None);
        assert_eq!((r.method, r.url.as_str(), r.body), (reqwest::Method::GET, "http://a:1/kv/k7", None));
        let r = request(&Target::Etcd, "http://e:2379", "k7", Some("vv"));
        assert_eq!(r.url, "http://e:2379/v3/kv/put");
        assert_eq!(r.body, Some(json!({"key": "azc=", "value": "dnY="})));
        let r = request(&Target::Etcd, "http://e:2379", "k7", None);
        assert_eq!(r.url, "http://e:2379/v3/kv/range");
        assert_eq!(r.body, Some(json!({"key": "azc="})));
    }

    #[test]
    fn streams_are_deterministic_per_client() {
        let (mut a, mut b, mut c) = (Stream(5), Stream(5), Stream(6));
        let xa: Vec<u64> = (0..4).map(|_| a.next()).collect();
        let xb: Vec<u64> = (0..4).map(|_| b.next()).collect();
        let xc: Vec<u64> = (0..4).map(|_| c.next()).collect();
        assert_eq!(xa, xb);
        assert_ne!(xa, xc);
    }

    #[tokio::test]
    async fn a_bad_configuration_is_refused() {
        let config = BenchConfig {
            target: Target::Ours,
            endpoints: vec![],
            clients: 1,
            duration: Duration::from_millis(10),
            warmup: Duration::ZERO,
            put_percent: 50,
            value_size: 8,
            keys: 10,
            progress: false,
        };
        assert!(matches!(run(config).await, Err(BenchError::Config(_))));
    }
}
