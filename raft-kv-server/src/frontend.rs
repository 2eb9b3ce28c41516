//! The client-facing HTTP/JSON API. It forwards every operation to a
//! backend, remembers the most recent leader and keeps using it until a
//! backend redirects it, and follows redirects with a bound.
//!
//! | request | body | answer |
//! |---|---|---|
//! | `GET /kv/{key}` | | `{"value": v}` |
//! | `PUT /kv/{key}` | `{"value": v}` | `{"ok": true}` |
//! | `DELETE /kv/{key}` | | `{"ok": true}` |
//! | `POST /kv/{key}/cas` | `{"expect": v, "value": w}` | `{"swapped": b, "found": v}` |
//! | `POST /kv/{key}/append` | `{"value": "s"}` | `{"ok": true}` |
//! | `GET /cluster` | | the leader's view of the membership |
//!
//! Values are JSON `null`, integers or strings. Writes go through a client
//! session registered in the log (Raft thesis §6.3): each write gets a
//! sequence number, and a retry (after a timeout, a lost reply or a leader
//! change) reuses it, so a write applies at most once. A bad request gets
//! 400 with `{"error", "outcome": "invalid"}`; a write whose fate is not
//! known after the retry budget gets 503 with `"outcome": "unknown"` (it
//! may have happened), never a clean failure; 503 with `"outcome":
//! "failed"` means it certainly did not happen.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use raft_kv::{ClientSession, Command, Op, SessionId};
use serde::Deserialize;
use tokio::sync::Mutex;

use crate::api::{self, BackendReply, ErrorBody, ReadReply};

/// How the frontend talks to the backends.
#[derive(Clone, Debug)]
pub struct FrontendConfig {
    /// Backend base URLs (`http://127.0.0.1:7001`).
    pub backends: Vec<String>,
    /// How long one operation may take, retries and redirects included,
    /// before it is answered `unknown` (writes) or `failed` (reads).
    pub op_timeout: Duration,
    /// Redirects followed per attempt.
    pub max_redirects: usize,
    /// Serve gets through the log (as commands in the client session)
    /// instead of by the backend's read index (or lease).
    pub reads_through_log: bool,
}

impl FrontendConfig {
    /// Defaults: 5 s per operation, 5 redirects, reads by read index.
    pub fn new(backends: Vec<String>) -> FrontendConfig {
        FrontendConfig { backends, op_timeout: Duration::from_secs(5), max_redirects: 5, reads_through_log: false }
    }
}

/// The frontend's state, shared by its handlers.
pub struct Frontend {
    config: FrontendConfig,
    http: reqwest::Client,
    /// The backend that most recently answered as leader.
    leader: std::sync::Mutex<Option<String>>,
    /// Round-robin position when no leader is known.
    next: std::sync::atomic::AtomicUsize,
    /// The client session (registered on first use, again after expiry).
    session: Mutex<Option<ClientSession>>,
}

/// Why an attempt ended without a definite answer.
enum Attempt<T> {
    Done(T),
    /// Not sent anywhere that could have run it.
    NotSent(String),
    /// Sent; the outcome is not known.
    Unknown(String),
}

impl Frontend {
    /// A frontend over `config.backends`.
    ///
    /// # Panics
    /// If the HTTP client cannot be built (no TLS is involved; this does
    /// not happen in practice).
    pub fn new(config: FrontendConfig) -> Arc<Frontend> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(3))
            .pool_max_idle_per_host(256)
            .build()
            .expect("an HTTP client without TLS");
        Arc::new(Frontend {
            config,
            http,
            leader: std::sync::Mutex::new(None),
            next: std::sync::atomic::AtomicUsize::new(0),
            session: Mutex::new(None),
        })
    }

    /// The router: `/kv/...` and `/cluster`.
    pub fn router(self: &Arc<Self>) -> Router {
        Router::new()
            .route("/kv/{key}", get(get_key).put(put_key).delete(delete_key))
            .route("/kv/{key}/cas", post(cas_key))
            .route("/kv/{key}/append", post(append_key))
            .route("/cluster", get(cluster))
            .with_state(self.clone())
    }

    /// The backend to try: the known leader, else the next in turn.
    fn target(&self) -> String {
        if let Some(l) = self.leader.lock().expect("not poisoned").clone() {
            return l;
        }
        let i = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.config.backends[i % self.config.backends.len()].clone()
    }

    fn set_leader(&self, leader: Option<String>) {
        *self.leader.lock().expect("not poisoned") = leader;
    }

    /// Sends `command` until a backend gives a definite answer, following
    /// redirects, retrying the same bytes (same `seq`) after unknown
    /// outcomes until the deadline.
    async fn propose(&self, command: &Command, deadline: Instant) -> Attempt<BackendReply> {
        let body = command.encode();
        let mut sent = false;
        let mut last = String::from("no backend answered");
        while Instant::now() < deadline {
            let mut target = self.target();
            for _ in 0..=self.config.max_redirects {
                let url = format!("{target}/backend/propose");
                let resp = match self.http.post(&url).body(body.clone()).send().await {
                    Ok(r) => r,
                    Err(e) => {
                        // A connection refused never reached the node; any
                        // other error may have.
                        if !e.is_connect() {
                            sent = true;
                        }
                        last = format!("{target}: {e}");
                        self.set_leader(None);
                        break;
                    }
                };
                let reply: BackendReply = match resp.json().await {
                    Ok(r) => r,
                    Err(e) => {
                        sent = true;
                        last = format!("{target}: bad reply: {e}");
                        break;
                    }
                };
                match reply {
                    BackendReply::NotLeader { leader: Some(l) } if l != target => {
                        self.set_leader(Some(l.clone()));
                        target = l;
                    }
                    BackendReply::NotLeader { .. } => {
                        last = format!("{target}: no leader known");
                        self.set_leader(None);
                        break;
                    }
                    BackendReply::Unknown { reason } => {
                        sent = true;
                        last = reason;
                        break;
                    }
                    BackendReply::Unavailable { reason } => {
                        last = reason;
                        break;
                    }
                    done => {
                        self.set_leader(Some(target));
                        return Attempt::Done(done);
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        if sent {
            Attempt::Unknown(last)
        } else {
            Attempt::NotSent(last)
        }
    }

    /// Runs a write in the session, registering one first if needed.
    async fn write(&self, op: Op) -> Response {
        let deadline = Instant::now() + self.config.op_timeout;
        let command = {
            let mut session = self.session.lock().await;
            if session.is_none() {
                match self.propose(&Command::RegisterClient, deadline).await {
                    Attempt::Done(BackendReply::Registered { session: id }) => {
                        *session = Some(ClientSession::new(SessionId(id)));
                    }
                    Attempt::Done(other) => return error(500, format!("registration answered {other:?}"), "failed"),
                    // A lost registration only leaves an unused session.
                    Attempt::NotSent(why) | Attempt::Unknown(why) => {
                        return error(503, format!("cannot register a session: {why}"), "failed")
                    }
                }
            }
            session.as_mut().expect("registered").start(op)
        };
        let seq = command.seq().expect("a client command");
        match self.propose(&command, deadline).await {
            Attempt::Done(reply) => {
                let mut session = self.session.lock().await;
                match reply {
                    BackendReply::Done { result } => {
                        if let Some(s) = session.as_mut() {
                            s.acknowledge(seq);
                        }
                        Json(result).into_response()
                    }
                    BackendReply::Rejected { error: e } => {
                        if let Some(s) = session.as_mut() {
                            s.acknowledge(seq);
                        }
                        error(409, e, "failed")
                    }
                    BackendReply::SessionExpired => {
                        // Commands of the old session in flight have unknown
                        // outcomes; the next write registers anew.
                        *session = None;
                        error(503, "the client session expired".into(), "unknown")
                    }
                    other => error(500, format!("unexpected reply {other:?}"), "unknown"),
                }
            }
            Attempt::Unknown(why) => error(503, format!("the write may have happened: {why}"), "unknown"),
            Attempt::NotSent(why) => error(503, format!("no backend took the write: {why}"), "failed"),
        }
    }

    async fn read(&self, key: &str) -> Response {
        let deadline = Instant::now() + self.config.op_timeout;
        let mut last = String::from("no backend answered");
        while Instant::now() < deadline {
            let mut target = self.target();
            for _ in 0..=self.config.max_redirects {
                let url = format!("{target}/backend/read");
                let resp = self.http.post(&url).json(&serde_json::json!({ "key": key })).send().await;
                let reply = match resp {
                    Ok(r) => r.json::<ReadReply>().await,
                    Err(e) => {
                        last = format!("{target}: {e}");
                        self.set_leader(None);
                        break;
                    }
                };
                match reply {
                    Ok(ReadReply::Value { value }) => {
                        self.set_leader(Some(target));
                        return Json(serde_json::json!({ "value": value })).into_response();
                    }
                    Ok(ReadReply::NotLeader { leader: Some(l) }) if l != target => {
                        self.set_leader(Some(l.clone()));
                        target = l;
                    }
                    Ok(ReadReply::NotLeader { .. }) => {
                        self.set_leader(None);
                        break;
                    }
                    Ok(ReadReply::Unavailable { reason }) => {
                        last = reason;
                        break;
                    }
                    Err(e) => {
                        last = format!("{target}: bad reply: {e}");
                        break;
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // A read changes nothing: failing it is always clean.
        error(503, format!("no linearizable read possible now: {last}"), "failed")
    }
}

fn error(status: u16, error: String, outcome: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, Json(ErrorBody { error, outcome: outcome.into() })).into_response()
}

fn invalid(why: String) -> Response {
    error(400, why, "invalid")
}

#[derive(Deserialize)]
struct PutBody {
    value: serde_json::Value,
}

#[derive(Deserialize)]
struct CasBody {
    expect: serde_json::Value,
    value: serde_json::Value,
}

async fn get_key(State(f): State<Arc<Frontend>>, Path(key): Path<String>) -> Response {
    if f.config.reads_through_log {
        return f.write(Op::Get { key }).await;
    }
    f.read(&key).await
}

async fn put_key(State(f): State<Arc<Frontend>>, Path(key): Path<String>, body: Option<Json<PutBody>>) -> Response {
    let Some(Json(body)) = body else { return invalid("expected a JSON body {\"value\": v}".into()) };
    match api::value_from_json(&body.value) {
        Ok(value) => f.write(Op::Put { key, value }).await,
        Err(e) => invalid(e),
    }
}

async fn delete_key(State(f): State<Arc<Frontend>>, Path(key): Path<String>) -> Response {
    f.write(Op::Delete { key }).await
}

async fn cas_key(State(f): State<Arc<Frontend>>, Path(key): Path<String>, body: Option<Json<CasBody>>) -> Response {
    let Some(Json(body)) = body else { return invalid("expected {\"expect\": v, \"value\": w}".into()) };
    match (api::value_from_json(&body.expect), api::value_from_json(&body.value)) {
        (Ok(expected), Ok(new)) => f.write(Op::Cas { key, expected, new }).await,
        (Err(e), _) | (_, Err(e)) => invalid(e),
    }
}

async fn append_key(State(f): State<Arc<Frontend>>, Path(key): Path<String>, body: Option<Json<PutBody>>) -> Response {
    let Some(Json(body)) = body else { return invalid("expected {\"value\": \"suffix\"}".into()) };
    match body.value {
        serde_json::Value::String(suffix) => f.write(Op::Append { key, suffix }).await,
        other => invalid(format!("append takes a string, not {other}")),
    }
}

async fn cluster(State(f): State<Arc<Frontend>>) -> Response {
    let deadline = Instant::now() + f.config.op_timeout;
    while Instant::now() < deadline {
        let target = f.target();
        match f.http.get(format!("{target}/cluster")).send().await {
            Ok(r) if r.status().is_success() => {
                if let Ok(v) = r.json::<serde_json::Value>().await {
                    return Json(v).into_response();
                }
            }
            _ => f.set_leader(None),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    error(503, "no backend answered".into(), "failed")
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// A fake backend: answers every proposal with `reply(n)` (n counts its
    /// requests), a registration with a session.
    async fn fake(
        reply: impl Fn(usize) -> BackendReply + Send + Sync + 'static,
    ) -> (String, Arc<AtomicUsize>, tokio::task::JoinHandle<()>) {
        let count = Arc::new(AtomicUsize::new(0));
        let (c, reply) = (count.clone(), Arc::new(reply));
        let app = Router::new().route(
            "/backend/propose",
            post(move |body: axum::body::Bytes| {
                let (c, reply) = (c.clone(), reply.clone());
                async move {
                    let n = c.fetch_add(1, Ordering::SeqCst);
                    let r = match Command::decode(&body) {
                        Ok(Command::RegisterClient) => match reply(n) {
                            BackendReply::Done { .. } => BackendReply::Registered { session: 7 },
                            other => other,
                        },
                        _ => reply(n),
                    };
                    let status = StatusCode::from_u16(r.status()).expect("valid");
                    (status, Json(r))
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        (url, count, task)
    }

    #[tokio::test]
    async fn frontend_follows_a_redirect_then_sticks_to_the_new_leader() {
        let ok = || BackendReply::Done { result: serde_json::json!({"ok": true}) };
        let (b_url, b_count, _b) = fake(move |_| ok()).await;
        let redirect = b_url.clone();
        let (a_url, a_count, _a) = fake(move |_| BackendReply::NotLeader { leader: Some(redirect.clone()) }).await;
        let f = Frontend::new(FrontendConfig::new(vec![a_url.clone(), b_url.clone()]));
        let resp = f.write(Op::Put { key: "k".into(), value: raft_kv::Value::Int(1) }).await;
        assert_eq!(resp.status(), StatusCode::OK);
        // Registration: A redirected to B; the write went straight to B.
        assert_eq!(a_count.load(Ordering::SeqCst), 1);
        assert_eq!(b_count.load(Ordering::SeqCst), 2);
        for i in 0..5 {
            let resp = f.write(Op::Put { key: "k".into(), value: raft_kv::Value::Int(i) }).await;
            assert_eq!(resp.status(), StatusCode::OK);
        }
        assert_eq!(a_count.load(Ordering::SeqCst), 1, "sticks to the leader it learned");
        assert_eq!(b_count.load(Ordering::SeqCst), 7);
    }

    #[tokio::test]
    async fn an_unknown_outcome_is_retried_with_the_same_seq_then_reported_unknown() {
        let (url, count, _t) = fake(|n| {
            if n == 0 {
                BackendReply::Done { result: serde_json::Value::Null }
            } else {
                BackendReply::Unknown { reason: "leadership lost".into() }
            }
        })
        .await;
        let mut config = FrontendConfig::new(vec![url]);
        config.op_timeout = Duration::from_millis(300);
        let f = Frontend::new(config);
        let resp = f.write(Op::Delete { key: "k".into() }).await;
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        let body = axum::body::to_bytes(resp.into_body(), 1 << 16).await.expect("body");
        let body: ErrorBody = serde_json::from_slice(&body).expect("json");
        assert_eq!(body.outcome, "unknown", "never a clean failure: {body:?}");
        assert!(count.load(Ordering::SeqCst) >= 3, "retried");
    }

    #[tokio::test]
    async fn gets_go_through_the_log_when_asked() {
        let (url, count, _t) = fake(|_| BackendReply::Done { result: serde_json::json!({"value": 5}) }).await;
        let mut config = FrontendConfig::new(vec![url]);
        config.reads_through_log = true;
        let f = Frontend::new(config);
        let app = f.router();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let r = reqwest::get(format!("{base}/kv/a")).await.expect("get");
        assert_eq!(r.status(), reqwest::StatusCode::OK);
        assert_eq!(r.json::<serde_json::Value>().await.expect("json"), serde_json::json!({"value": 5}));
        // A registration, then the get as a proposal (no /backend/read:
        // the fake has none).
        assert_eq!(count.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn bad_requests_get_400() {
        let f = Frontend::new(FrontendConfig::new(vec!["http://127.0.0.1:9".into()]));
        let app = f.router();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let http = reqwest::Client::new();
        let r = http.put(format!("{url}/kv/a")).json(&serde_json::json!({"value": 1.5})).send().await.expect("send");
        assert_eq!(r.status(), reqwest::StatusCode::BAD_REQUEST);
        let r =
            http.post(format!("{url}/kv/a/append")).json(&serde_json::json!({"value": 3})).send().await.expect("send");
        assert_eq!(r.status(), reqwest::StatusCode::BAD_REQUEST);
    }
}
