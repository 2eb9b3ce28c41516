//! [`Config`]: the settings of one node, validated by [`Config::validate`].

use alloc::vec::Vec;
use core::fmt;

use raft_sansio_proto::NodeId;

/// The settings of one node. Build with [`Config::new`] and adjust fields;
/// [`Node::new`](crate::Node::new) validates it.
///
/// Membership is *not* configuration: it is restored from the node's durable
/// state. `bootstrap_voters` is used only when the store is empty.
///
/// ```
/// use raft_sansio::{Config, NodeId};
/// let mut config = Config::new(NodeId(1), 0xC0FFEE);
/// config.bootstrap_voters = vec![NodeId(1), NodeId(2), NodeId(3)];
/// config.election_timeout_ticks_min = 20;
/// config.election_timeout_ticks_max = 40;
/// assert!(config.validate().is_ok());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// This node's id (never 0, never reused).
    pub id: NodeId,
    /// Seed of the node's PRNG (randomised election timeouts). Required: the
    /// core never falls back to OS randomness. Give each node its own.
    pub seed: u64,
    /// Lower bound (inclusive) of the randomised election timeout, in ticks.
    /// Also the leader-stickiness window and the check-quorum period.
    pub election_timeout_ticks_min: u32,
    /// Upper bound (exclusive) of the randomised election timeout, in ticks.
    pub election_timeout_ticks_max: u32,
    /// A leader sends heartbeats every this many ticks.
    pub heartbeat_interval_ticks: u32,
    /// Pre-vote (thesis §9.6): a node first asks whether it could win, so
    /// one that was partitioned away does not raise the cluster's term.
    pub pre_vote: bool,
    /// Check-quorum: a leader that has not heard from a quorum within an
    /// election timeout steps down. It also turns on leader stickiness: a
    /// node that heard from a live leader within the minimum election
    /// timeout neither raises its term for nor answers a (pre-)vote request
    /// (unless the leader asked for the election by a transfer), and a
    /// restarted node with a term counts as having just heard from one.
    pub check_quorum: bool,
    /// This node's priority: between equally up-to-date logs a voter refuses
    /// a candidate of lower priority than its own.
    pub priority: u64,
    /// At most this many appends in flight to one follower.
    pub max_inflight_msgs: usize,
    /// At most this many payload bytes in one append (at least one entry is
    /// always sent, however large).
    pub max_size_per_msg: u64,
    /// At most this many payload bytes in flight to one follower.
    pub max_inflight_bytes: u64,
    /// New proposals go out to a follower at once only while fewer than
    /// this many appends are in flight to it; otherwise they wait and
    /// coalesce into one append, sent when an ack frees the window (or with
    /// the next heartbeat's recovery). Catch-up traffic triggered by acks
    /// still fills the whole window. Small values trade up to one round trip
    /// of latency under load for far fewer, larger messages (1: at most one
    /// partial append in flight, like Nagle's algorithm); `usize::MAX`
    /// sends every proposal at once.
    pub append_pipeline_depth: usize,
    /// A leader rejects proposals while the payload bytes of its
    /// uncommitted entries exceed this (back-pressure). One proposal is
    /// always admitted when nothing is uncommitted.
    pub max_uncommitted_size: u64,
    /// At most this many payload bytes in one `Apply` output (at least one
    /// entry).
    pub max_apply_bytes: u64,
    /// Broadcast a commit advance to followers at once (an empty append)
    /// rather than with the next heartbeat.
    pub broadcast_commit: bool,
    /// A follower forwards proposals to the leader instead of rejecting
    /// them with `NotLeader`.
    pub forward_proposals: bool,
    /// Emit `Output::Event`s. Off for speed; on for diagnostics and tests.
    pub emit_events: bool,
    /// The voters of a brand-new cluster, used only when the store is empty
    /// (then the node persists them as the configuration at index 0).
    pub bootstrap_voters: Vec<NodeId>,
    /// Snapshots go to followers in chunks of this many bytes.
    pub snapshot_chunk_bytes: u64,
    /// When the host reports a snapshot, the log keeps this many entries
    /// before the snapshot's index, so that slightly lagging followers
    /// still catch up from the log.
    pub snapshot_trailing_entries: u64,
    /// How linearizable reads are confirmed: by a heartbeat round
    /// ([`ReadMode::Index`], the default) or by a leader lease.
    pub read_mode: ReadMode,
    /// At most this many reads may wait at once (on the leader, local and
    /// forwarded together; on a follower, its forwarded ones). More are
    /// rejected as overloaded.
    pub max_pending_reads: usize,
}

/// How a leader confirms a linearizable read (Raft thesis §6.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReadMode {
    /// Read index: the leader records its commit index, confirms it still
    /// leads with a heartbeat round answered by a quorum, and answers.
    Index,
    /// Leader lease: while the lease holds, the leader answers at once with
    /// its commit index. The lease starts at the tick the leader sent the
    /// heartbeat round whose acknowledgements formed a quorum (never when
    /// they arrived) and lasts `lease_ticks` of the leader's ticks. It is
    /// safe because a follower that heard from the leader neither votes nor
    /// campaigns for `election_timeout_ticks_min` of its own ticks (leader
    /// stickiness, which needs check-quorum); clocks may run at different
    /// rates, so with every rate within `clock_drift_bound_ppm` (parts per
    /// million) of nominal the lease must satisfy
    ///
    /// ```text
    /// lease_ticks <= floor((election_timeout_ticks_min - 1) * (1 - rho) / (1 + rho)) - 1
    /// ```
    ///
    /// with `rho = clock_drift_bound_ppm / 1_000_000`: the follower's window
    /// of `min - 1` whole ticks (it may be one tick into its count when the
    /// round arrives) measured on a clock up to `1 - rho` slow, against the
    /// leader's ticks up to `1 + rho` fast, less one tick for the tick in
    /// progress when the leader sent the round. A config that breaks this
    /// is a config error. If the drift bound is exceeded in reality, lease
    /// reads may be stale (the simulator's `--clock-drift` shows it).
    Lease {
        /// The lease length in ticks.
        lease_ticks: u32,
        /// The bound on clock drift the formula assumes, in parts per
        /// million.
        clock_drift_bound_ppm: u32,
    },
}

impl ReadMode {
    /// The longest lease the formula allows for this election timeout and
    /// drift bound (0 when none is safe).
    pub fn max_lease_ticks(election_timeout_ticks_min: u32, clock_drift_bound_ppm: u32) -> u32 {
        let rho = u64::from(clock_drift_bound_ppm.min(999_999));
        let window = u64::from(election_timeout_ticks_min.saturating_sub(1));
        let scaled = window * (1_000_000 - rho) / (1_000_000 + rho);
        scaled.saturating_sub(1) as u32
    }
}

impl Config {
    /// A configuration with the defaults: election timeout 10..20 ticks,
    /// heartbeat every 2 ticks, pre-vote and check-quorum on, 256 appends
    /// and 32 MiB in flight per follower (proposals coalescing behind one
    /// partial append in flight), 1 MiB per append, 64 MiB
    /// uncommitted, 4 MiB per `Apply`, commit broadcast on, forwarding off,
    /// events on.
    pub fn new(id: NodeId, seed: u64) -> Config {
        Config {
            id,
            seed,
            election_timeout_ticks_min: 10,
            election_timeout_ticks_max: 20,
            heartbeat_interval_ticks: 2,
            pre_vote: true,
            check_quorum: true,
            priority: 0,
            max_inflight_msgs: 256,
            max_size_per_msg: 1 << 20,
            max_inflight_bytes: 32 << 20,
            append_pipeline_depth: 1,
            max_uncommitted_size: 64 << 20,
            max_apply_bytes: 4 << 20,
            broadcast_commit: true,
            forward_proposals: false,
            emit_events: true,
            bootstrap_voters: Vec::new(),
            read_mode: ReadMode::Index,
            snapshot_chunk_bytes: 1 << 20,
            snapshot_trailing_entries: 1024,
            max_pending_reads: 10_000,
        }
    }

    /// Checks every rule the core relies on.
    ///
    /// # Errors
    /// The first impossible setting found.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !self.id.is_valid() {
            return Err(ConfigError::InvalidId);
        }
        if self.heartbeat_interval_ticks == 0 {
            return Err(ConfigError::Zero { field: "heartbeat_interval_ticks" });
        }
        if self.election_timeout_ticks_min <= self.heartbeat_interval_ticks {
            return Err(ConfigError::ElectionTimeoutNotAboveHeartbeat {
                election_timeout_ticks_min: self.election_timeout_ticks_min,
                heartbeat_interval_ticks: self.heartbeat_interval_ticks,
            });
        }
        if self.election_timeout_ticks_max <= self.election_timeout_ticks_min {
            return Err(ConfigError::EmptyElectionTimeoutRange {
                min: self.election_timeout_ticks_min,
                max: self.election_timeout_ticks_max,
            });
        }
        if self.max_inflight_msgs == 0 {
            return Err(ConfigError::Zero { field: "max_inflight_msgs" });
        }
        if self.max_inflight_msgs > MAX_INFLIGHT_MSGS_LIMIT {
            return Err(ConfigError::TooLarge { field: "max_inflight_msgs", limit: MAX_INFLIGHT_MSGS_LIMIT as u64 });
        }
        for (field, value) in [
            ("max_size_per_msg", self.max_size_per_msg),
            ("max_inflight_bytes", self.max_inflight_bytes),
            ("max_uncommitted_size", self.max_uncommitted_size),
            ("max_apply_bytes", self.max_apply_bytes),
        ] {
            if value == 0 {
                return Err(ConfigError::Zero { field });
            }
        }
        if self.append_pipeline_depth == 0 {
            return Err(ConfigError::Zero { field: "append_pipeline_depth" });
        }
        if self.snapshot_chunk_bytes == 0 {
            return Err(ConfigError::Zero { field: "snapshot_chunk_bytes" });
        }
        if self.max_pending_reads == 0 {
            return Err(ConfigError::Zero { field: "max_pending_reads" });
        }
        if let ReadMode::Lease { lease_ticks, clock_drift_bound_ppm } = self.read_mode {
            if !self.check_quorum {
                return Err(ConfigError::LeaseRequiresCheckQuorum);
            }
            let max = ReadMode::max_lease_ticks(self.election_timeout_ticks_min, clock_drift_bound_ppm);
            if lease_ticks == 0 || lease_ticks > max {
                return Err(ConfigError::LeaseTooLong { lease_ticks, max });
            }
        }
        let mut voters = self.bootstrap_voters.clone();
        voters.sort_unstable();
        let had = voters.len();
        voters.dedup();
        if voters.len() != had || voters.iter().any(|id| !id.is_valid()) {
            return Err(ConfigError::InvalidBootstrapVoters);
        }
        Ok(())
    }
}

/// An upper bound on `max_inflight_msgs`: a window is a ring buffer that
/// grows on demand, and a bound keeps a misconfiguration from becoming an
/// unbounded allocation.
pub const MAX_INFLIGHT_MSGS_LIMIT: usize = 1 << 16;

/// Why a [`Config`] is impossible.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// `id` is 0.
    InvalidId,
    /// A setting that must be positive is 0.
    Zero {
        /// The field.
        field: &'static str,
    },
    /// A setting exceeds its limit.
    TooLarge {
        /// The field.
        field: &'static str,
        /// Its limit.
        limit: u64,
    },
    /// The election timeout must exceed the heartbeat interval, or followers
    /// would time out between heartbeats of a healthy leader.
    ElectionTimeoutNotAboveHeartbeat {
        /// The configured minimum election timeout.
        election_timeout_ticks_min: u32,
        /// The configured heartbeat interval.
        heartbeat_interval_ticks: u32,
    },
    /// `election_timeout_ticks_max` must exceed the minimum: the range is
    /// what breaks split votes.
    EmptyElectionTimeoutRange {
        /// The minimum.
        min: u32,
        /// The maximum.
        max: u32,
    },
    /// The bootstrap voter set holds 0 or a duplicate.
    InvalidBootstrapVoters,
    /// Lease reads rely on leader stickiness, which comes with check-quorum.
    LeaseRequiresCheckQuorum,
    /// The lease is 0 or longer than the drift formula allows (see
    /// [`ReadMode::Lease`]).
    LeaseTooLong {
        /// The configured lease.
        lease_ticks: u32,
        /// The longest safe lease.
        max: u32,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::InvalidId => write!(f, "node id 0 is reserved"),
            ConfigError::Zero { field } => write!(f, "`{field}` must be positive"),
            ConfigError::TooLarge { field, limit } => write!(f, "`{field}` exceeds its limit of {limit}"),
            ConfigError::ElectionTimeoutNotAboveHeartbeat { election_timeout_ticks_min, heartbeat_interval_ticks } => {
                write!(
                    f,
                    "election timeout ({election_timeout_ticks_min} ticks) must exceed the heartbeat interval \
                     ({heartbeat_interval_ticks} ticks)"
                )
            }
            ConfigError::EmptyElectionTimeoutRange { min, max } => {
                write!(f, "election timeout range {min}..{max} is empty")
            }
            ConfigError::InvalidBootstrapVoters => write!(f, "bootstrap voters contain 0 or a duplicate"),
            ConfigError::LeaseRequiresCheckQuorum => write!(f, "lease reads require check_quorum"),
            ConfigError::LeaseTooLong { lease_ticks, max } => {
                write!(f, "lease of {lease_ticks} ticks is not in 1..={max} (the drift formula's bound)")
            }
        }
    }
}

impl core::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn lease_length_follows_the_drift_formula() {
        // (10 - 1) * (1 - 0.01) / (1 + 0.01) = 8.82 -> 8, minus 1 = 7.
        assert_eq!(ReadMode::max_lease_ticks(10, 10_000), 7);
        // No drift: 9 - 1 = 8.
        assert_eq!(ReadMode::max_lease_ticks(10, 0), 8);
        // (20 - 1) * 0.95 / 1.05 = 17.19 -> 17, minus 1 = 16.
        assert_eq!(ReadMode::max_lease_ticks(20, 50_000), 16);
        assert_eq!(ReadMode::max_lease_ticks(2, 0), 0);
        let mut c = Config::new(NodeId(1), 0);
        c.read_mode = ReadMode::Lease { lease_ticks: 8, clock_drift_bound_ppm: 10_000 };
        assert_eq!(c.validate(), Err(ConfigError::LeaseTooLong { lease_ticks: 8, max: 7 }));
        c.read_mode = ReadMode::Lease { lease_ticks: 7, clock_drift_bound_ppm: 10_000 };
        assert_eq!(c.validate(), Ok(()));
        c.check_quorum = false;
        assert_eq!(c.validate(), Err(ConfigError::LeaseRequiresCheckQuorum));
    }

    #[test]
    fn defaults_are_valid() {
        assert_eq!(Config::new(NodeId(1), 0).validate(), Ok(()));
    }

    #[test]
    fn every_impossible_setting_is_named() {
        let base = Config::new(NodeId(1), 0);
        let check = |f: &dyn Fn(&mut Config)| {
            let mut c = base.clone();
            f(&mut c);
            c.validate()
        };
        assert_eq!(check(&|c| c.id = NodeId(0)), Err(ConfigError::InvalidId));
        assert_eq!(
            check(&|c| c.heartbeat_interval_ticks = 0),
            Err(ConfigError::Zero { field: "heartbeat_interval_ticks" })
        );
        assert!(matches!(
            check(&|c| c.election_timeout_ticks_min = 2),
            Err(ConfigError::ElectionTimeoutNotAboveHeartbeat { .. })
        ));
        assert!(matches!(
            check(&|c| c.election_timeout_ticks_max = 10),
            Err(ConfigError::EmptyElectionTimeoutRange { .. })
        ));
        assert_eq!(check(&|c| c.max_inflight_msgs = 0), Err(ConfigError::Zero { field: "max_inflight_msgs" }));
        assert!(matches!(check(&|c| c.max_inflight_msgs = usize::MAX), Err(ConfigError::TooLarge { .. })));
        assert_eq!(check(&|c| c.max_size_per_msg = 0), Err(ConfigError::Zero { field: "max_size_per_msg" }));
        assert_eq!(check(&|c| c.max_inflight_bytes = 0), Err(ConfigError::Zero { field: "max_inflight_bytes" }));
        assert_eq!(check(&|c| c.max_uncommitted_size = 0), Err(ConfigError::Zero { field: "max_uncommitted_size" }));
        assert_eq!(check(&|c| c.max_apply_bytes = 0), Err(ConfigError::Zero { field: "max_apply_bytes" }));
        assert_eq!(
            check(&|c| c.bootstrap_voters = vec![NodeId(1), NodeId(1)]),
            Err(ConfigError::InvalidBootstrapVoters)
        );
        assert_eq!(check(&|c| c.bootstrap_voters = vec![NodeId(0)]), Err(ConfigError::InvalidBootstrapVoters));
    }
}
