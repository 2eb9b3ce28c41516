//! Trace tests in the style of etcd-io/raft's `testdata/*.txt`: commands in,
//! the messages delivered, events and outputs out, compared with the
//! checked-in expectation. `RAFT_TRACE_UPDATE=1 cargo test` rewrites the
//! files; commit the change only if you understand the diff.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use std::path::PathBuf;

use bytes::Bytes;
use raft_sansio_proto::{EntryKind, NodeId};

use super::harness::Cluster;
use crate::{Input, RequestId, Role};

struct Runner {
    cluster: Option<Cluster>,
    next_request: u64,
}

fn arg<'a>(args: &'a [&'a str], key: &str) -> Option<&'a str> {
    args.iter().find_map(|a| a.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
}

impl Runner {
    fn c(&mut self) -> &mut Cluster {
        self.cluster.as_mut().expect("no cluster yet: start with `cluster n=N`")
    }

    /// Runs one command; returns its output lines.
    fn run(&mut self, line: &str) -> Vec<String> {
        let words: Vec<&str> = line.split_whitespace().collect();
        let (cmd, args) = (words[0], &words[1..]);
        let id = |i: usize| -> u64 { args[i].parse().expect("node id") };
        let mut extra: Vec<String> = Vec::new();
        match cmd {
            "cluster" => {
                let n: u64 = arg(args, "n").expect("n=").parse().expect("n");
                let pre_vote = arg(args, "pre_vote").is_none_or(|v| v == "true");
                let check_quorum = arg(args, "check_quorum").is_none_or(|v| v == "true");
                let forward = arg(args, "forward").is_some_and(|v| v == "true");
                let max_uncommitted: Option<u64> = arg(args, "max_uncommitted").map(|v| v.parse().expect("bytes"));
                let mut c = Cluster::new(n, |c| {
                    c.pre_vote = pre_vote;
                    c.check_quorum = check_quorum;
                    c.forward_proposals = forward;
                    if let Some(m) = max_uncommitted {
                        c.max_uncommitted_size = m;
                    }
                });
                c.record_trace = true;
                self.cluster = Some(c);
            }
            "campaign" => {
                let n = id(0);
                self.c().step(NodeId(n), Input::Campaign);
            }
            "tick" => {
                let n = id(0);
                let times: usize = arg(args, "times").map_or(1, |t| t.parse().expect("times"));
                for _ in 0..times {
                    self.c().tick(n);
                }
            }
            // Time passes on a working network: every round ticks every node
            // once and then delivers until quiet.
            "tick-all" => {
                let times: usize = arg(args, "times").map_or(1, |t| t.parse().expect("times"));
                for _ in 0..times {
                    for n in self.c().ids() {
                        self.c().step(n, Input::Tick);
                    }
                    assert!(self.c().drive_bounded(10_000), "did not settle");
                }
            }
            "stabilize" => {
                assert!(self.c().drive_bounded(10_000), "did not settle");
            }
            "deliver" => {
                let count: usize = args.first().map_or(1, |t| t.parse().expect("count"));
                for _ in 0..count {
                    self.c().deliver_one();
                }
            }
            "drop-in-flight" => {
                let dropped = self.c().network.len();
                self.c().network.clear();
                extra.push(format!("dropped {dropped} messages"));
            }
            "propose" => {
                let n = id(0);
                let data = Bytes::from(args[1].to_string());
                let rid = RequestId(self.next_request);
                self.next_request += 1;
                self.c().step(NodeId(n), Input::Propose { id: rid, command: data });
            }
            "isolate" => {
                let n = id(0);
                self.c().isolate(n);
            }
            "partition" => {
                let group: Vec<u64> = args.iter().map(|a| a.parse().expect("id")).collect();
                self.c().partition(&group);
            }
            "cut" => {
                let (a, b) = (id(0), id(1));
                self.c().cut(a, b);
            }
            "heal" => self.c().heal(),
            "crash" => {
                let n = id(0);
                self.c().crash(n);
            }
            "restart" => {
                let n = id(0);
                self.c().restart(n);
            }
            "auto-persist" => {
                self.c().auto_persist = args[0] == "on";
            }
            "persist" => {
                let n = id(0);
                self.c().persist(NodeId(n));
            }
            "status" => {
                let c = self.c();
                for n in c.ids() {
                    let h = &c.hosts[&n];
                    match h.node.as_ref() {
                        None => extra.push(format!("{}: crashed", n.0)),
                        Some(node) => extra.push(format!(
                            "{}: {} {} vote={} leader={} last={} commit={} applied={} persisted={}",
                            n.0,
                            match node.role() {
                                Role::Follower => "follower",
                                Role::PreCandidate => "pre-candidate",
                                Role::Candidate => "candidate",
                                Role::Leader => "leader",
                            },
                            node.term(),
                            node.vote().map_or("-".into(), |v| v.0.to_string()),
                            node.leader().map_or("-".into(), |v| v.0.to_string()),
                            node.last_entry_id(),
                            node.commit_index().0,
                            h.applied.last().map_or(0, |e| e.index.0),
                            node.persisted_index().0,
                        )),
                    }
                }
            }
            "log" => {
                let n = id(0);
                let node = self.c().node(n);
                let mut i = node.first_index();
                while let Some(e) = node.entry(i) {
                    extra.push(match e.kind {
                        EntryKind::Noop => format!("{}/{} noop", e.term.0, e.index.0),
                        _ => format!("{}/{} {}", e.term.0, e.index.0, String::from_utf8_lossy(&e.payload)),
                    });
                    i = i.next();
                }
            }
            other => panic!("unknown command `{other}`"),
        }
        let c = self.c();
        let mut lines: Vec<String> = core::mem::take(&mut c.trace);
        lines.extend(extra);
        lines
    }
}

/// Runs one testdata file and compares (or rewrites) it.
fn run_file(name: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut runner = Runner { cluster: None, next_request: 1 };
    let mut rendered = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        if line.trim().is_empty() || line.starts_with('#') {
            rendered.push_str(line);
            rendered.push('\n');
            continue;
        }
        // A command, then `----`, then the expectation up to a blank line.
        let command = line;
        assert_eq!(lines.next(), Some("----"), "{name}: `----` expected after `{command}`");
        while lines.peek().is_some_and(|l| !l.trim().is_empty()) {
            lines.next();
        }
        let output = runner.run(command);
        rendered.push_str(command);
        rendered.push_str("\n----\n");
        for l in output {
            rendered.push_str(&l);
            rendered.push('\n');
        }
    }
    if rendered != text {
        if std::env::var_os("RAFT_TRACE_UPDATE").is_some() {
            std::fs::write(&path, &rendered).expect("rewrite");
            return;
        }
        let (old, new): (Vec<&str>, Vec<&str>) = (text.lines().collect(), rendered.lines().collect());
        let first = old.iter().zip(&new).position(|(a, b)| a != b).unwrap_or(old.len().min(new.len()));
        panic!(
            "{name}: trace differs at line {}:\n  expected: {:?}\n  actual:   {:?}\n(RAFT_TRACE_UPDATE=1 rewrites)",
            first + 1,
            old.get(first),
            new.get(first)
        );
    }
}

macro_rules! datadriven {
    ($($test:ident => $file:literal,)*) => {
        $(
            #[test]
            fn $test() {
                run_file($file);
            }
        )*
    };
}

datadriven! {
    trace_single_node => "single_node.txt",
    trace_election_three => "election_three.txt",
    trace_election_five => "election_five.txt",
    trace_split_vote => "split_vote.txt",
    trace_prevote_rejoin => "prevote_rejoin.txt",
    trace_check_quorum => "check_quorum.txt",
    trace_stickiness => "stickiness.txt",
    trace_stale_leader => "stale_leader.txt",
    trace_lost_appends => "lost_appends.txt",
    trace_forward => "forward.txt",
    trace_backpressure => "backpressure.txt",
    trace_restart_follower => "restart_follower.txt",
    trace_persist_votes => "persist_votes.txt",
}
