//! An in-crate cluster harness: nodes with simulated disks, a FIFO network
//! with controls to drop, delay, duplicate, reorder and partition, crashes
//! and restarts, and cross-node safety checks after every step.

use alloc::collections::{BTreeMap, BTreeSet, VecDeque};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use bytes::Bytes;
use raft_sansio_proto::{Entry, EntryKind, HardState, Index, Message, NodeId, SnapshotMeta, Term};

use crate::{Config, Event, Input, Node, Output, Persist, RequestId, RestoredState, Role};

/// What a node's disk holds durably.
#[derive(Clone, Debug, Default)]
pub(crate) struct Stored {
    pub(crate) hard_state: HardState,
    pub(crate) snapshot: Option<SnapshotMeta>,
    pub(crate) entries: Vec<Entry>,
    /// The bytes of `snapshot`.
    pub(crate) snapshot_data: Bytes,
    /// The last snapshot the host took itself (written before it reported
    /// `SnapshotTaken`).
    pub(crate) taken: Bytes,
    /// A snapshot being received: its id and the bytes so far.
    pub(crate) receiving: Option<(raft_sansio_proto::SnapshotId, Vec<u8>)>,
}

impl Stored {
    /// Applies one Persist in the contract's order: snapshot chunk,
    /// snapshot, truncate, append, hard state.
    pub(crate) fn apply(&mut self, p: &Persist) {
        if let Some(chunk) = &p.snapshot_chunk {
            if chunk.offset == 0 {
                self.receiving = Some((chunk.id, Vec::new()));
            }
            let (id, buf) = self.receiving.as_mut().expect("a chunk after offset 0 continues a snapshot");
            assert_eq!(*id, chunk.id, "chunks of two snapshots mixed");
            assert_eq!(buf.len() as u64, chunk.offset, "chunk out of order");
            buf.extend_from_slice(&chunk.data);
            assert!(buf.len() as u64 <= chunk.total_len);
        }
        if let Some(meta) = &p.snapshot {
            self.snapshot = Some((**meta).clone());
            self.entries.retain(|e| e.index > meta.last.index);
            self.snapshot_data = if p.snapshot_chunk.is_some() {
                // The last chunk completes a received snapshot.
                let (id, buf) = self.receiving.take().expect("received snapshot");
                assert_eq!(id.last, meta.last);
                Bytes::from(buf)
            } else {
                self.taken.clone()
            };
        }
        if let Some(t) = p.truncate_from {
            self.entries.retain(|e| e.index < t);
        }
        for e in p.entries.iter() {
            let expected = self
                .entries
                .last()
                .map_or_else(|| self.snapshot.as_ref().map_or(Index(1), |s| s.last.index.next()), |l| l.index.next());
            assert_eq!(e.index, expected, "Persist appends out of order: {p:?}");
            self.entries.push(e.clone());
        }
        if let Some(hs) = p.hard_state {
            self.hard_state = hs;
        }
    }

    pub(crate) fn restored(&self, applied: Index) -> RestoredState {
        RestoredState {
            hard_state: self.hard_state,
            snapshot: self.snapshot.clone(),
            entries: self.entries.clone(),
            applied,
        }
    }
}

/// One simulated host.
pub(crate) struct Host {
    pub(crate) config: Config,
    pub(crate) node: Option<Node>,
    pub(crate) stored: Stored,
    /// Emitted but not yet durable.
    pub(crate) pending: VecDeque<Persist>,
    /// Entries applied by this incarnation's state machine.
    pub(crate) applied: Vec<Entry>,
    pub(crate) events: Vec<Event>,
    /// `Proposed`, `Rejected`, `ProposalForwarded` outputs.
    pub(crate) results: Vec<Output>,
    pub(crate) sends: Vec<Message>,
    /// `ApplySnapshot` outputs handled.
    pub(crate) snapshots_applied: usize,
}

impl Host {
    /// A host on an empty store.
    fn fresh(config: Config) -> Host {
        let node = Node::new(config.clone(), RestoredState::default()).expect("valid");
        Host {
            config,
            node: Some(node),
            stored: Stored::default(),
            pending: VecDeque::new(),
            applied: Vec::new(),
            events: Vec::new(),
            results: Vec::new(),
            sends: Vec::new(),
            snapshots_applied: 0,
        }
    }

    pub(crate) fn node(&self) -> &Node {
        self.node.as_ref().expect("node is crashed")
    }
}

/// A cluster of hosts and the network between them.
pub(crate) struct Cluster {
    pub(crate) hosts: BTreeMap<NodeId, Host>,
    pub(crate) network: VecDeque<Message>,
    /// Directed links that drop everything.
    pub(crate) cut: BTreeSet<(NodeId, NodeId)>,
    /// Persist and acknowledge every Persist at once after each step.
    pub(crate) auto_persist: bool,
    /// Every committed (index -> entry) seen anywhere: committed prefixes
    /// must agree with it.
    committed: BTreeMap<Index, (Term, Bytes, EntryKind)>,
    /// How far each node's commit was checked.
    checked_commit: BTreeMap<NodeId, Index>,
    /// Leader of each term (Election Safety).
    leaders: BTreeMap<Term, NodeId>,
    /// A log of everything delivered, for trace tests.
    pub(crate) trace: Vec<String>,
    pub(crate) record_trace: bool,
    next_request: u64,
    /// Messages delivered, by kind.
    pub(crate) delivered: BTreeMap<&'static str, usize>,
    /// Append rejections delivered.
    pub(crate) rejections: usize,
}

pub(crate) fn config(id: u64, n: u64) -> Config {
    let mut c = Config::new(NodeId(id), 1000 + id);
    c.bootstrap_voters = (1..=n).map(NodeId).collect();
    c.election_timeout_ticks_min = 10;
    c.election_timeout_ticks_max = 20;
    c.heartbeat_interval_ticks = 1;
    c
}

impl Cluster {
    /// `n` fresh voters 1..=n with `tweak` applied to each config.
    pub(crate) fn new(n: u64, tweak: impl Fn(&mut Config)) -> Cluster {
        let mut hosts = BTreeMap::new();
        for id in 1..=n {
            let mut c = config(id, n);
            tweak(&mut c);
            hosts.insert(NodeId(id), Host::fresh(c));
        }
        Cluster {
            hosts,
            network: VecDeque::new(),
            cut: BTreeSet::new(),
            auto_persist: true,
            committed: BTreeMap::new(),
            checked_commit: BTreeMap::new(),
            leaders: BTreeMap::new(),
            trace: Vec::new(),
            record_trace: false,
            next_request: 1,
            delivered: BTreeMap::new(),
            rejections: 0,
        }
    }

    /// Voters 1..=n restored with the given logs (`logs[i]` lists the terms
    /// of node i+1's entries from index 1) and hard-state term `term`.
    pub(crate) fn with_logs(logs: &[&[u64]], term: u64, tweak: impl Fn(&mut Config)) -> Cluster {
        let n = logs.len() as u64;
        let mut c = Cluster::new(n, |_| {});
        for (i, terms) in logs.iter().enumerate() {
            let id = NodeId(i as u64 + 1);
            let mut conf = config(id.0, n);
            conf.bootstrap_voters.clear();
            tweak(&mut conf);
            let stored = Stored {
                hard_state: HardState { term: Term(term), vote: None, commit: Index(0) },
                snapshot: Some(SnapshotMeta {
                    last: raft_sansio_proto::EntryId::ZERO,
                    conf_state: raft_sansio_proto::ConfState::with_voters((1..=n).map(NodeId)),
                }),
                entries: terms
                    .iter()
                    .enumerate()
                    .map(|(j, &t)| Entry::normal(Term(t), Index(j as u64 + 1), Bytes::from(format!("{}.{}", t, j + 1))))
                    .collect(),
                ..Stored::default()
            };
            let node = Node::new(conf.clone(), stored.restored(Index(0))).expect("valid log");
            let host = c.hosts.get_mut(&id).expect("host");
            host.config = conf;
            host.node = Some(node);
            host.stored = stored;
        }
        c
    }

    /// A new node `id` with an empty store and no bootstrap voters: it waits
    /// to be added.
    pub(crate) fn add_host(&mut self, id: u64, tweak: impl Fn(&mut Config)) {
        let mut c = config(id, 0);
        c.bootstrap_voters.clear();
        tweak(&mut c);
        self.hosts.insert(NodeId(id), Host::fresh(c));
    }

    /// Proposes a membership change on `id`.
    pub(crate) fn change(&mut self, id: u64, change: crate::MembershipChange) -> Vec<Output> {
        let rid = RequestId(self.next_request);
        self.next_request += 1;
        self.step(NodeId(id), Input::ChangeMembership { id: rid, change })
    }

    pub(crate) fn ids(&self) -> Vec<NodeId> {
        self.hosts.keys().copied().collect()
    }

    pub(crate) fn host(&self, id: u64) -> &Host {
        &self.hosts[&NodeId(id)]
    }

    pub(crate) fn node(&self, id: u64) -> &Node {
        self.hosts[&NodeId(id)].node()
    }

    /// Steps one input into a node, handles its outputs, checks safety.
    pub(crate) fn step(&mut self, id: NodeId, input: Input) -> Vec<Output> {
        let host = self.hosts.get_mut(&id).expect("known node");
        let Some(node) = host.node.as_mut() else { return Vec::new() };
        let outputs = node.step(input);
        let mut results = Vec::new();
        let mut data_needed = None;
        for o in outputs {
            match o {
                Output::Persist(p) => host.pending.push_back(p),
                Output::Send { to, message } => {
                    assert_eq!(to, message.to);
                    assert_eq!(message.from, id);
                    host.sends.push(message);
                }
                Output::ApplySnapshot { meta } => {
                    let stored = host.stored.snapshot.as_ref().expect("an applied snapshot is stored");
                    assert_eq!(stored.last, meta.last, "ApplySnapshot of a snapshot not stored on {id}");
                    host.applied = decode_state(&host.stored.snapshot_data);
                    if let Some(last) = host.applied.last() {
                        assert_eq!(last.index, meta.last.index, "snapshot state ends at its index on {id}");
                    }
                    host.snapshots_applied += 1;
                }
                Output::SnapshotDataNeeded { last } => {
                    data_needed = Some(last);
                    host.results.push(Output::SnapshotDataNeeded { last });
                }
                Output::Apply { entries } => {
                    for e in entries {
                        if let Some(last) = host.applied.last() {
                            assert_eq!(e.index, last.index.next(), "Apply out of order on {id}");
                        }
                        host.applied.push(e);
                    }
                }
                Output::Event(e) => {
                    if self.record_trace {
                        self.trace.push(format!("{}: {}", id.0, render_event(&e)));
                    }
                    host.events.push(e);
                }
                other => {
                    if self.record_trace {
                        self.trace.push(format!("{}: {}", id.0, render_output(&other)));
                    }
                    host.results.push(other.clone());
                    results.push(other);
                }
            }
        }
        let sends = core::mem::take(&mut host.sends);
        self.network.extend(sends);
        self.check_safety(id);
        if let Some(last) = data_needed {
            let data = self.hosts[&id].stored.snapshot_data.clone();
            results.extend(self.step(id, Input::SnapshotData { last, data }));
        }
        if self.auto_persist {
            self.persist(id);
        }
        results
    }

    /// Makes every pending Persist of `id` durable and acknowledges it.
    pub(crate) fn persist(&mut self, id: NodeId) {
        let host = self.hosts.get_mut(&id).expect("known node");
        if host.node.is_none() || host.pending.is_empty() {
            return;
        }
        let mut last = 0;
        while let Some(p) = host.pending.pop_front() {
            host.stored.apply(&p);
            last = p.seq;
        }
        self.step(id, Input::Persisted { up_to_seq: last });
    }

    /// Makes only the first `count` pending Persists of `id` durable.
    pub(crate) fn persist_some(&mut self, id: NodeId, count: usize) {
        let host = self.hosts.get_mut(&id).expect("known node");
        let mut last = 0;
        for _ in 0..count {
            let Some(p) = host.pending.pop_front() else { break };
            host.stored.apply(&p);
            last = p.seq;
        }
        if last > 0 {
            self.step(id, Input::Persisted { up_to_seq: last });
        }
    }

    fn check_safety(&mut self, id: NodeId) {
        let host = &self.hosts[&id];
        let Some(node) = host.node.as_ref() else { return };
        if let Err(v) = node.check_invariants_full() {
            panic!("invariant broken on {id}: {v:?}\n{node:?}");
        }
        if node.role() == Role::Leader {
            let prev = self.leaders.insert(node.term(), id);
            assert!(prev.is_none() || prev == Some(id), "two leaders in term {}: {prev:?} and {id}", node.term());
        }
        // Committed prefixes agree (State Machine Safety).
        let from = self.checked_commit.get(&id).copied().unwrap_or(Index::ZERO).max(node.first_index().prev());
        let commit = node.commit_index();
        let mut i = from.next();
        while i <= commit {
            if let Some(e) = node.entry(i) {
                let rec = (e.term, e.payload.clone(), e.kind);
                match self.committed.get(&i) {
                    // A witness's copy without its payload: the rest agrees.
                    Some(r) if e.payload_elided => assert_eq!((r.0, r.2), (e.term, e.kind), "entry {i} on {id}"),
                    Some(r) => assert_eq!(r, &rec, "committed entry {i} differs on {id}"),
                    None if e.payload_elided => {}
                    None => {
                        self.committed.insert(i, rec);
                    }
                }
            }
            i = i.next();
        }
        self.checked_commit.insert(id, commit);
        // Everything applied was committed, and agrees.
        for e in &host.applied {
            if let Some(r) = self.committed.get(&e.index) {
                assert_eq!(r, &(e.term, e.payload.clone(), e.kind), "applied entry {} differs on {id}", e.index);
            }
        }
    }

    /// Delivers the next in-flight message. Returns false if none.
    pub(crate) fn deliver_one(&mut self) -> bool {
        let Some(m) = self.network.pop_front() else { return false };
        if self.cut.contains(&(m.from, m.to)) || self.hosts.get(&m.to).is_none_or(|h| h.node.is_none()) {
            if self.record_trace {
                self.trace.push(format!("dropped {}", render_message(&m)));
            }
            return true;
        }
        if self.record_trace {
            self.trace.push(render_message(&m));
        }
        *self.delivered.entry(m.body.name()).or_default() += 1;
        if matches!(
            m.body,
            raft_sansio_proto::MessageBody::AppendEntriesResponse(crate::proto::AppendEntriesResponse::Reject { .. })
        ) {
            self.rejections += 1;
        }
        let to = m.to;
        self.step(to, Input::Receive(m));
        true
    }

    /// Delivers messages until none is in flight. Returns false if the
    /// cluster did not settle within `max` deliveries.
    pub(crate) fn drive_bounded(&mut self, max: usize) -> bool {
        for _ in 0..max {
            if !self.deliver_one() {
                return true;
            }
        }
        self.network.is_empty()
    }

    pub(crate) fn drive(&mut self) {
        assert!(self.drive_bounded(100_000), "the cluster never settled");
    }

    pub(crate) fn tick(&mut self, id: u64) {
        self.step(NodeId(id), Input::Tick);
    }

    /// One tick on every live node, then deliver until quiet.
    pub(crate) fn tick_all(&mut self) {
        for id in self.ids() {
            self.step(id, Input::Tick);
        }
        self.drive();
    }

    pub(crate) fn campaign(&mut self, id: u64) {
        self.step(NodeId(id), Input::Campaign);
        self.drive();
    }

    /// Campaigns `id` and checks it won.
    pub(crate) fn elect(&mut self, id: u64) {
        self.campaign(id);
        assert_eq!(self.node(id).role(), Role::Leader, "{:?}", self.node(id));
    }

    pub(crate) fn propose(&mut self, id: u64, data: &'static [u8]) -> Vec<Output> {
        let rid = RequestId(self.next_request);
        self.next_request += 1;
        self.step(NodeId(id), Input::Propose { id: rid, command: Bytes::from_static(data) })
    }

    /// Steps a read into `id`.
    pub(crate) fn read(&mut self, id: u64, wait: bool) -> RequestId {
        let rid = RequestId(self.next_request);
        self.next_request += 1;
        self.step(NodeId(id), Input::Read { id: rid, wait });
        rid
    }

    /// Steps a transfer request into `id`.
    pub(crate) fn transfer(&mut self, id: u64, to: u64) -> RequestId {
        let rid = RequestId(self.next_request);
        self.next_request += 1;
        self.step(NodeId(id), Input::TransferLeadership { id: rid, to: NodeId(to) });
        rid
    }

    /// The `ReadReady` index for `rid` on `id`, if it was answered.
    pub(crate) fn read_ready(&self, id: u64, rid: RequestId) -> Option<Index> {
        self.host(id).results.iter().find_map(|o| match o {
            Output::ReadReady { id, index } if *id == rid => Some(*index),
            _ => None,
        })
    }

    /// The rejection of request `rid` on `id`, if any.
    pub(crate) fn rejected(&self, id: u64, rid: RequestId) -> Option<crate::RejectReason> {
        self.host(id).results.iter().find_map(|o| match o {
            Output::Rejected { id, reason } if *id == rid => Some(*reason),
            _ => None,
        })
    }

    /// Cuts every link to and from `id`.
    pub(crate) fn isolate(&mut self, id: u64) {
        for other in self.ids() {
            if other != NodeId(id) {
                self.cut.insert((NodeId(id), other));
                self.cut.insert((other, NodeId(id)));
            }
        }
    }

    /// Cuts both directions between `a` and `b`.
    pub(crate) fn cut(&mut self, a: u64, b: u64) {
        self.cut.insert((NodeId(a), NodeId(b)));
        self.cut.insert((NodeId(b), NodeId(a)));
    }

    /// Splits the cluster into `group` and the rest.
    pub(crate) fn partition(&mut self, group: &[u64]) {
        for a in self.ids() {
            for b in self.ids() {
                if group.contains(&a.0) != group.contains(&b.0) {
                    self.cut.insert((a, b));
                }
            }
        }
    }

    pub(crate) fn heal(&mut self) {
        self.cut.clear();
    }

    /// Crashes `id`: its unacknowledged Persists are lost.
    pub(crate) fn crash(&mut self, id: u64) {
        let host = self.hosts.get_mut(&NodeId(id)).expect("known");
        host.node = None;
        host.pending.clear();
        host.applied.clear();
        self.checked_commit.remove(&NodeId(id));
    }

    /// Restarts `id` from what its disk holds: its state machine is the
    /// stored snapshot; every later entry is applied again.
    pub(crate) fn restart(&mut self, id: u64) {
        let host = self.hosts.get_mut(&NodeId(id)).expect("known");
        let applied = host.stored.snapshot.as_ref().map_or(Index::ZERO, |s| s.last.index);
        let node = Node::new(host.config.clone(), host.stored.restored(applied)).expect("restore");
        host.node = Some(node);
        host.applied = decode_state(&host.stored.snapshot_data);
    }

    /// The host of `id` snapshots its state machine at the last index it
    /// applied (reporting `Applied` first), as `SnapshotTaken`.
    pub(crate) fn take_snapshot(&mut self, id: u64) -> Vec<Output> {
        let host = self.hosts.get_mut(&NodeId(id)).expect("known");
        let Some(index) = host.applied.last().map(|e| e.index) else { return Vec::new() };
        let data = encode_state(&host.applied);
        host.stored.taken = data.clone();
        self.step(NodeId(id), Input::Applied { index });
        self.step(NodeId(id), Input::SnapshotTaken { index, data })
    }

    /// The leader of the highest term, if any node leads.
    pub(crate) fn leader(&self) -> Option<NodeId> {
        self.hosts
            .values()
            .filter_map(|h| h.node.as_ref())
            .filter(|n| n.role() == Role::Leader)
            .max_by_key(|n| n.term())
            .map(Node::id)
    }

    /// Ticks the given nodes (and delivers) until one of them leads.
    pub(crate) fn tick_until_leader_among(&mut self, ids: &[u64], max: usize) -> Option<u64> {
        for _ in 0..max {
            for &id in ids {
                self.step(NodeId(id), Input::Tick);
            }
            self.drive();
            if let Some(&l) = ids.iter().find(|&&id| self.node(id).role() == Role::Leader) {
                return Some(l);
            }
        }
        None
    }

    /// Ticks every node until some node leads, at most `max` rounds.
    pub(crate) fn tick_until_leader(&mut self, max: usize) -> Option<NodeId> {
        for _ in 0..max {
            self.tick_all();
            if let Some(l) = self.leader() {
                return Some(l);
            }
        }
        None
    }
}

/// The harness's state machine is the list of applied entries; its
/// snapshot is their encoding.
pub(crate) fn encode_state(applied: &[Entry]) -> Bytes {
    let mut out = Vec::new();
    for e in applied {
        out.extend_from_slice(&e.index.0.to_le_bytes());
        out.extend_from_slice(&e.term.0.to_le_bytes());
        out.push(match e.kind {
            EntryKind::Normal => 0,
            EntryKind::Noop => 1,
            _ => 2,
        });
        out.extend_from_slice(&(e.payload.len() as u32).to_le_bytes());
        out.extend_from_slice(&e.payload);
    }
    Bytes::from(out)
}

pub(crate) fn decode_state(data: &Bytes) -> Vec<Entry> {
    let mut entries = Vec::new();
    let mut at = 0usize;
    let u64_at = |at: usize| u64::from_le_bytes(data[at..at + 8].try_into().expect("8 bytes"));
    while at < data.len() {
        let index = Index(u64_at(at));
        let term = Term(u64_at(at + 8));
        let kind = match data[at + 16] {
            0 => EntryKind::Normal,
            1 => EntryKind::Noop,
            _ => EntryKind::ConfChange,
        };
        let len = u32::from_le_bytes(data[at + 17..at + 21].try_into().expect("4 bytes")) as usize;
        let payload = data.slice(at + 21..at + 21 + len);
        entries.push(Entry { term, index, kind, payload, payload_elided: false });
        at += 21 + len;
    }
    entries
}

pub(crate) fn render_message(m: &Message) -> String {
    use raft_sansio_proto::MessageBody as B;
    let body = match &m.body {
        B::AppendEntries(ae) => {
            let entries: Vec<String> = ae
                .entries
                .iter()
                .map(|e| match e.kind {
                    EntryKind::Noop => format!("{}/{} noop", e.term.0, e.index.0),
                    _ => format!("{}/{} {}", e.term.0, e.index.0, String::from_utf8_lossy(&e.payload)),
                })
                .collect();
            format!("AppendEntries prev={} commit={} entries=[{}]", ae.prev, ae.leader_commit.0, entries.join(", "))
        }
        B::AppendEntriesResponse(r) => format!("AppendEntriesResponse {r:?}"),
        B::Heartbeat(h) => format!("Heartbeat commit={}", h.leader_commit.0),
        B::HeartbeatResponse(_) => "HeartbeatResponse".into(),
        B::RequestVote(rv) => format!(
            "{} last={}{}",
            if rv.pre_vote { "PreVote" } else { "RequestVote" },
            rv.last,
            if rv.transfer { " transfer" } else { "" }
        ),
        B::RequestVoteResponse(r) => format!(
            "{} {}",
            if r.pre_vote { "PreVoteResponse" } else { "RequestVoteResponse" },
            if r.granted { "granted" } else { "refused" }
        ),
        other => format!("{other:?}"),
    };
    format!("{}->{} t{} {body}", m.from.0, m.to.0, m.term.0)
}

pub(crate) fn render_event(e: &Event) -> String {
    match e {
        Event::BecameFollower { term, leader } => match leader {
            Some(l) => format!("became follower {term} leader={}", l.0),
            None => format!("became follower {term}"),
        },
        Event::BecamePreCandidate { term } => format!("became pre-candidate for {term}"),
        Event::BecameCandidate { term } => format!("became candidate {term}"),
        Event::BecameLeader { term } => format!("became leader {term}"),
        Event::TermChanged { from, to } => format!("term {from} -> {to}"),
        Event::VoteGranted { to, term, pre_vote } => {
            format!("granted {} to {} for {term}", if *pre_vote { "pre-vote" } else { "vote" }, to.0)
        }
        Event::VoteRefused { to, term, pre_vote, reason } => {
            format!("refused {} to {} for {term}: {reason:?}", if *pre_vote { "pre-vote" } else { "vote" }, to.0)
        }
        Event::LostLeadership { term } => format!("lost leadership of {term}"),
        Event::SteppedDown { term, reason } => format!("stepped down from {term}: {reason:?}"),
        Event::MessageDropped { from, kind, reason } => format!("dropped {kind} from {}: {reason:?}", from.0),
        Event::CampaignSkipped { reason } => format!("campaign skipped: {reason:?}"),
        other => format!("{other:?}"),
    }
}

pub(crate) fn render_output(o: &Output) -> String {
    match o {
        Output::Proposed { id, index, term } => format!("proposed #{} at {index} in {term}", id.0),
        Output::ProposalForwarded { id, leader } => format!("forwarded #{} to {}", id.0, leader.0),
        Output::Rejected { id, reason } => format!("rejected #{}: {reason:?}", id.0),
        other => format!("{other:?}"),
    }
}
