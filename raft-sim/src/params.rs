//! What a world is made of: the options a user gives ([`WorldOptions`]) and
//! the parameters drawn from the seed ([`Params`], swarm testing: every seed
//! runs its own unusual but legal configuration).

use core::fmt;

use raft_sansio::rng::Rng;

/// One kind of fault, switchable by name with `--faults`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Fault {
    /// Partitions: isolate one node, split majority/minority, bridge,
    /// one-way link loss; cut and healed over time.
    Partition,
    /// Per-message loss.
    Loss,
    /// Per-message duplication.
    Dup,
    /// Latency jitter large enough to reorder messages.
    Reorder,
    /// Per-node clock drift and offset.
    Clock,
    /// A node stops processing for a while; its clock keeps running.
    Pause,
    /// Write and fsync latency, so that `Persisted` arrives late.
    Disk,
    /// Crashes that keep fsync'd Persists and a random prefix of the rest.
    Crash,
    /// Opt-in (not part of `all`): a node loses its whole disk. It is
    /// removed from the membership and comes back under a new id with an
    /// empty store; one node at a time.
    Wipe,
}

impl Fault {
    /// The default faults (what `all` means), in name order.
    pub const ALL: [Fault; 8] = [
        Fault::Partition,
        Fault::Loss,
        Fault::Dup,
        Fault::Reorder,
        Fault::Clock,
        Fault::Pause,
        Fault::Disk,
        Fault::Crash,
    ];

    /// Faults that only run when named: they need more of the cluster
    /// (membership changes) than a plain run exercises.
    pub const OPT_IN: [Fault; 1] = [Fault::Wipe];

    /// The name used by `--faults`.
    pub fn name(self) -> &'static str {
        match self {
            Fault::Partition => "partition",
            Fault::Loss => "loss",
            Fault::Dup => "dup",
            Fault::Reorder => "reorder",
            Fault::Clock => "clock",
            Fault::Pause => "pause",
            Fault::Disk => "disk",
            Fault::Crash => "crash",
            Fault::Wipe => "wipe",
        }
    }

    /// The fault named `name`.
    pub fn from_name(name: &str) -> Option<Fault> {
        Fault::ALL.iter().chain(Fault::OPT_IN.iter()).copied().find(|f| f.name() == name)
    }
}

/// A set of faults.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FaultSet(u16);

impl FaultSet {
    /// Every default fault (not the opt-in ones, see [`Fault::OPT_IN`]).
    pub fn all() -> FaultSet {
        let mut s = FaultSet::default();
        for f in Fault::ALL {
            s.insert(f);
        }
        s
    }

    /// No fault.
    pub fn none() -> FaultSet {
        FaultSet::default()
    }

    /// Adds a fault.
    pub fn insert(&mut self, f: Fault) {
        self.0 |= 1 << (f as u16);
    }

    /// Whether the set holds `f`.
    pub fn contains(self, f: Fault) -> bool {
        self.0 & (1 << (f as u16)) != 0
    }

    /// Parses a comma-separated list of fault names (`all` and `none` too;
    /// `all,wipe` adds the opt-in `wipe` to every default fault).
    ///
    /// # Errors
    /// The first unknown name.
    pub fn parse(list: &str) -> Result<FaultSet, String> {
        let mut set = FaultSet::none();
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            match name {
                "all" => set.0 |= FaultSet::all().0,
                "none" => {}
                _ => set.insert(Fault::from_name(name).ok_or_else(|| {
                    let names: Vec<&str> = Fault::ALL.iter().chain(Fault::OPT_IN.iter()).map(|f| f.name()).collect();
                    format!("unknown fault `{name}` (known: {}, all, none)", names.join(", "))
                })?),
            }
        }
        Ok(set)
    }
}

impl fmt::Display for FaultSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let defaults: Vec<&str> = Fault::ALL.iter().filter(|x| self.contains(**x)).map(|x| x.name()).collect();
        let mut names: Vec<&str> = if defaults.len() == Fault::ALL.len() { vec!["all"] } else { defaults };
        names.extend(Fault::OPT_IN.iter().filter(|x| self.contains(**x)).map(|x| x.name()));
        if names.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&names.join(","))
        }
    }
}

/// One fault of a scripted schedule (the `cluster` fuzz target writes
/// these); node numbers are taken modulo the cluster size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultAction {
    /// Crash a node (it restarts at the next `Restart` of it, or when the
    /// faults heal).
    Crash(u8),
    /// Restart a crashed node.
    Restart(u8),
    /// Cut every link of a node.
    Isolate(u8),
    /// Split into a majority and a minority (the argument picks which).
    Split(u8),
    /// Cut a node's inbound (or outbound) links only.
    OneWay(u8, bool),
    /// Pause a node for this many milliseconds.
    Pause(u8, u16),
    /// Heal every partition.
    Heal,
}

/// How clients' gets are served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadPath {
    /// Through the log, like writes.
    Log,
    /// Read index (`Input::Read`), at any node.
    Index,
    /// Leader lease, falling back to read index; at any node.
    Lease,
}

impl ReadPath {
    /// The name used by `--reads`.
    pub fn name(self) -> &'static str {
        match self {
            ReadPath::Log => "log",
            ReadPath::Index => "index",
            ReadPath::Lease => "lease",
        }
    }

    /// Parses `log`, `index` or `lease`.
    ///
    /// # Errors
    /// An unknown name.
    pub fn parse(s: &str) -> Result<ReadPath, String> {
        match s {
            "log" => Ok(ReadPath::Log),
            "index" => Ok(ReadPath::Index),
            "lease" => Ok(ReadPath::Lease),
            _ => Err(format!("unknown read path `{s}` (log, index, lease)")),
        }
    }
}

/// Extra nemeses beyond the faults.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Nemeses {
    /// Random leadership transfers.
    pub transfer: bool,
    /// Random membership changes: adds, removes, promotions, demotions and
    /// witness swaps, single-step and joint, the leader included.
    pub membership: bool,
    /// Frequent snapshots with a short log tail and small chunks, so that
    /// lagging, restarted and new nodes catch up by snapshot install.
    pub compaction: bool,
}

impl Nemeses {
    /// Parses a comma-separated list (`transfer`, `membership`,
    /// `compaction`; `none`).
    ///
    /// # Errors
    /// An unknown name.
    pub fn parse(list: &str) -> Result<Nemeses, String> {
        let mut n = Nemeses::default();
        for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match name {
                "transfer" => n.transfer = true,
                "membership" => n.membership = true,
                "compaction" => n.compaction = true,
                "none" => {}
                _ => return Err(format!("unknown nemesis `{name}` (transfer, membership, compaction, none)")),
            }
        }
        Ok(n)
    }
}

impl fmt::Display for Nemeses {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> =
            [(self.transfer, "transfer"), (self.membership, "membership"), (self.compaction, "compaction")]
                .into_iter()
                .filter(|(on, _)| *on)
                .map(|(_, name)| name)
                .collect();
        if names.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&names.join(","))
        }
    }
}

/// The clock-drift bound the nodes are configured with (2%): lease lengths
/// follow from it, and the `clock` fault stays within it unless
/// `--clock-drift` says otherwise.
pub const CONFIGURED_DRIFT_PPM: u32 = 20_000;

/// What the user chose for one world.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorldOptions {
    /// The seed: it fixes everything else.
    pub seed: u64,
    /// Cluster size (3, 5 or 7).
    pub nodes: usize,
    /// Concurrent clients.
    pub clients: usize,
    /// Operations per client.
    pub ops: usize,
    /// Faults the nemesis may inject.
    pub faults: FaultSet,
    /// Search steps the linearizability checker may use (so the verdict
    /// never depends on the machine's speed).
    pub check_steps: u64,
    /// A scripted fault schedule: (milliseconds, fault). When set, it
    /// replaces the random nemesis.
    pub script: Option<Vec<(u32, FaultAction)>>,
    /// How gets are served.
    pub reads: ReadPath,
    /// Extra nemeses.
    pub nemeses: Nemeses,
    /// The largest clock drift the `clock` fault draws, in parts per
    /// million (default: the configured bound, [`CONFIGURED_DRIFT_PPM`]).
    pub clock_drift_ppm: u32,
}

impl WorldOptions {
    /// The defaults of `raft-sim run`: 5 nodes, 5 clients, 200 ops each,
    /// every fault.
    pub fn new(seed: u64) -> WorldOptions {
        WorldOptions {
            seed,
            nodes: 5,
            clients: 5,
            ops: 200,
            faults: FaultSet::all(),
            check_steps: 20_000_000,
            script: None,
            reads: ReadPath::Index,
            nemeses: Nemeses::default(),
            clock_drift_ppm: CONFIGURED_DRIFT_PPM,
        }
    }

    /// The command line that replays this world.
    pub fn replay_command(&self) -> String {
        let mut cmd = format!(
            "cargo run --release -p raft-sim -- run --seed {} --nodes {} --clients {} --ops {} --faults {} --reads {}",
            self.seed,
            self.nodes,
            self.clients,
            self.ops,
            self.faults,
            self.reads.name()
        );
        if self.nemeses != Nemeses::default() {
            cmd.push_str(&format!(" --nemesis {}", self.nemeses));
        }
        if self.clock_drift_ppm != CONFIGURED_DRIFT_PPM {
            cmd.push_str(&format!(" --clock-drift {}", self.clock_drift_ppm));
        }
        cmd
    }
}

/// One node's clock drift in parts per million: half of the nodes sit at
/// the bound (either side), the rest spread uniformly, since extremes are
/// where clock bugs show. Also drawn for nodes that join later.
pub(crate) fn draw_drift_ppm(rng: &mut Rng, clock: bool, bound: i64) -> i64 {
    if !clock {
        0
    } else if rng.chance(1, 2) {
        if rng.chance(1, 2) {
            bound
        } else {
            -bound
        }
    } else {
        rng.range(0, 2 * bound as u64 + 1) as i64 - bound
    }
}

/// Nanoseconds per millisecond.
pub const MS: u64 = 1_000_000;

/// Everything drawn from the seed, printed first so a failure is one
/// copy-pasteable line plus its parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Params {
    /// Nominal tick period.
    pub tick_ns: u64,
    /// Election timeout range in ticks.
    pub election_ticks: (u32, u32),
    /// Heartbeat interval in ticks.
    pub heartbeat_ticks: u32,
    /// Core knobs.
    pub pre_vote: bool,
    /// Core knob.
    pub check_quorum: bool,
    /// Core knob.
    pub max_inflight_msgs: usize,
    /// Core knob.
    pub max_size_per_msg: u64,
    /// One-way latency range.
    pub latency_ns: (u64, u64),
    /// Extra jitter (reorder).
    pub jitter_ns: u64,
    /// Loss, per mille.
    pub loss_per_mille: u64,
    /// Duplication, per mille.
    pub dup_per_mille: u64,
    /// Per-node drift in parts per million (positive: ticks slower).
    pub drift_ppm: Vec<i64>,
    /// Per-node offset of the first tick.
    pub clock_offset_ns: Vec<u64>,
    /// Write latency range (no fsync).
    pub write_ns: (u64, u64),
    /// Fsync latency range.
    pub fsync_ns: (u64, u64),
    /// Mean time between crashes (0: none).
    pub crash_every_ns: u64,
    /// Downtime range after a crash.
    pub downtime_ns: (u64, u64),
    /// Mean time between partitions (0: none).
    pub partition_every_ns: u64,
    /// Partition duration range.
    pub partition_ns: (u64, u64),
    /// Mean time between pauses (0: none).
    pub pause_every_ns: u64,
    /// Pause duration range.
    pub pause_ns: (u64, u64),
    /// A client gives an attempt up after this long.
    pub client_timeout_ns: u64,
    /// Mean time between leadership transfers (0: none).
    pub transfer_every_ns: u64,
    /// Keys of each kind the clients use (1 to 4): a hot key set on some
    /// seeds.
    pub hot_keys: usize,
    /// Attempts per operation before it is recorded `info` (or `fail`).
    pub max_attempts: u32,
    /// Client think time range between operations.
    pub think_ns: (u64, u64),
    /// The fault phase ends at the latest here.
    pub fault_phase_ns: u64,
    /// A node's host snapshots its state machine whenever it has applied
    /// this many entries since its last snapshot (0: never; the
    /// `compaction` nemesis).
    pub snapshot_every_entries: u64,
    /// Core knob: entries kept below a snapshot.
    pub snapshot_trailing_entries: u64,
    /// Core knob: snapshot chunk size.
    pub snapshot_chunk_bytes: u64,
    /// Mean time between random membership changes (0: none).
    pub membership_every_ns: u64,
    /// Mean time between disk wipes (0: none).
    pub wipe_every_ns: u64,
}

impl Params {
    /// Draws the parameters of a world from its seed.
    pub fn draw(options: &WorldOptions) -> Params {
        let mut rng = Rng::new(options.seed ^ 0x5157_4152_4D50_4152);
        let faults = options.faults;
        let on = |f: Fault| faults.contains(f);
        let tick_ns = 10 * MS;
        let election_min = [10u32, 10, 12, 15][rng.below(4) as usize];
        let election_ticks = (election_min, election_min * 2);
        let heartbeat_ticks = [1u32, 2, 3][rng.below(3) as usize];
        // Swarm: unusual but legal knobs.
        let max_inflight_msgs = [1usize, 2, 4, 64, 256][rng.below(5) as usize];
        let max_size_per_msg = [64u64, 256, 4096, 1 << 20][rng.below(4) as usize];
        let pre_vote = rng.chance(3, 4);
        // Lease reads rely on check-quorum (leader stickiness).
        let check_quorum = options.reads == ReadPath::Lease || rng.chance(3, 4);
        let latency_ns = (MS / 2, MS / 2 + rng.range(MS, 8 * MS));
        let jitter_ns = if on(Fault::Reorder) { rng.range(5 * MS, 40 * MS) } else { 0 };
        let loss_per_mille = if on(Fault::Loss) { rng.range(5, 60) } else { 0 };
        let dup_per_mille = if on(Fault::Dup) { rng.range(5, 40) } else { 0 };
        let n = options.nodes;
        // Clock drift within 2% (the lease issue bounds it); offsets within
        // one tick.
        let bound = i64::from(options.clock_drift_ppm);
        let drift_ppm: Vec<i64> = (0..n).map(|_| draw_drift_ppm(&mut rng, on(Fault::Clock), bound)).collect();
        let clock_offset_ns: Vec<u64> = (0..n).map(|_| rng.below(tick_ns)).collect();
        let (write_ns, fsync_ns) = if on(Fault::Disk) {
            ((MS / 20, MS / 2), (MS / 2, rng.range(2 * MS, 30 * MS)))
        } else {
            ((MS / 100, MS / 50), (MS / 20, MS / 10))
        };
        // A scripted schedule sets the length of the fault phase, and the
        // clients spread their operations over it.
        let script_end = options.script.as_ref().and_then(|s| s.iter().map(|(ms, _)| u64::from(*ms)).max());
        let fault_phase_ns = match script_end {
            Some(ms) => (ms + 1_000) * MS,
            None => 20_000 * MS,
        };
        let think_ns = match script_end {
            Some(ms) => (0, 2 * ms * MS / options.ops.max(1) as u64 + MS),
            None => (0, 5 * MS),
        };
        let crash_every_ns = if on(Fault::Crash) { rng.range(2_000 * MS, 5_000 * MS) } else { 0 };
        let partition_every_ns = if on(Fault::Partition) { rng.range(1_500 * MS, 4_000 * MS) } else { 0 };
        let pause_every_ns = if on(Fault::Pause) { rng.range(3_000 * MS, 8_000 * MS) } else { 0 };
        // Swarm: some seeds run impatient clients, which find a new leader
        // (and expose a stale one) sooner.
        let client_timeout_ns = [60 * MS, 150 * MS, 300 * MS, 1_000 * MS][rng.below(4) as usize];
        let transfer_every_ns = if options.nemeses.transfer { rng.range(500 * MS, 2_000 * MS) } else { 0 };
        let hot_keys = [1usize, 2, 4, 4][rng.below(4) as usize];
        // Drawn last, and only when asked for, so that worlds without these
        // nemeses keep the parameters (and traces) they always had.
        let (snapshot_every_entries, snapshot_trailing_entries, snapshot_chunk_bytes) = if options.nemeses.compaction {
            (
                [10u64, 30, 100, 300][rng.below(4) as usize],
                [0u64, 2, 10, 50][rng.below(4) as usize],
                [64u64, 512, 4096, 1 << 16][rng.below(4) as usize],
            )
        } else {
            (0, 1024, 1 << 20)
        };
        let membership_every_ns = if options.nemeses.membership { rng.range(200 * MS, 1_500 * MS) } else { 0 };
        let wipe_every_ns = if on(Fault::Wipe) { rng.range(1_500 * MS, 5_000 * MS) } else { 0 };
        Params {
            snapshot_every_entries,
            snapshot_trailing_entries,
            snapshot_chunk_bytes,
            membership_every_ns,
            wipe_every_ns,
            hot_keys,
            transfer_every_ns,
            tick_ns,
            election_ticks,
            heartbeat_ticks,
            pre_vote,
            check_quorum,
            max_inflight_msgs,
            max_size_per_msg,
            latency_ns,
            jitter_ns,
            loss_per_mille,
            dup_per_mille,
            drift_ppm,
            clock_offset_ns,
            write_ns,
            fsync_ns,
            crash_every_ns,
            downtime_ns: (100 * MS, 2_000 * MS),
            partition_every_ns,
            partition_ns: (200 * MS, 3_000 * MS),
            pause_every_ns,
            pause_ns: (50 * MS, 1_500 * MS),
            client_timeout_ns,
            max_attempts: 6,
            think_ns,
            fault_phase_ns,
        }
    }

    /// The longest election timeout in nanoseconds of any node's clock.
    pub fn max_election_timeout_ns(&self) -> u64 {
        let slowest = self.drift_ppm.iter().copied().max().unwrap_or(0).max(0) as u64;
        let tick = self.tick_ns + self.tick_ns * slowest / 1_000_000;
        u64::from(self.election_ticks.1) * tick
    }

    /// The longest one-way latency.
    pub fn max_latency_ns(&self) -> u64 {
        self.latency_ns.1 + self.jitter_ns
    }
}

impl fmt::Display for Params {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "tick={}ms election={}..{} heartbeat={} pre_vote={} check_quorum={} inflight={} msg_bytes={} \
             latency={}..{}us jitter={}us loss={}/1000 dup={}/1000 fsync={}..{}us drift_ppm={:?} \
             crash_every={}ms partition_every={}ms pause_every={}ms snapshot_every={} trailing={} chunk_bytes={} \
             membership_every={}ms wipe_every={}ms",
            self.tick_ns / MS,
            self.election_ticks.0,
            self.election_ticks.1,
            self.heartbeat_ticks,
            self.pre_vote,
            self.check_quorum,
            self.max_inflight_msgs,
            self.max_size_per_msg,
            self.latency_ns.0 / 1000,
            self.latency_ns.1 / 1000,
            self.jitter_ns / 1000,
            self.loss_per_mille,
            self.dup_per_mille,
            self.fsync_ns.0 / 1000,
            self.fsync_ns.1 / 1000,
            self.drift_ppm,
            self.crash_every_ns / MS,
            self.partition_every_ns / MS,
            self.pause_every_ns / MS,
            self.snapshot_every_entries,
            self.snapshot_trailing_entries,
            self.snapshot_chunk_bytes,
            self.membership_every_ns / MS,
            self.wipe_every_ns / MS,
        )
    }
}
