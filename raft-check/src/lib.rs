//! The KV history format of raft-sansio and a linearizability checker.
//!
//! A *history* is what clients saw of a key-value store: one JSON line per
//! event, the `invoke` and the completion (`ok`, `fail`, `info`) of each
//! operation, in real-time order (history-format.md in the repository is the
//! normative description). This crate
//!
//! - reads one, streaming, with the line number in every error
//!   ([`parse_history`]), or builds one in memory ([`History::from_events`]);
//! - writes one, for producers ([`HistoryWriter`]);
//! - decides whether it is linearizable ([`check()`]): a Wing & Gong / Lowe
//!   search per key, with memoised configurations, operations of unknown
//!   outcome that may take effect at any time after their call or never,
//!   and a budget of steps (deterministic) or wall time that ends in
//!   [`Verdict::Unknown`];
//! - generates linearizable histories for tests and benchmarks ([`synth`]).
//!
//! The sequential specification of a key is [`model::step`].
//!
//! ```
//! use raft_check::{check, parse_history, Budget, Verdict};
//! let text = r#"
//! {"id":0,"process":0,"type":"invoke","f":"get","key":"r","value":null}
//! {"id":1,"process":2,"type":"invoke","f":"put","key":"r","value":4}
//! {"id":0,"process":0,"type":"ok","f":"get","key":"r","value":null}
//! {"id":1,"process":2,"type":"ok","f":"put","key":"r","value":4}
//! {"id":2,"process":1,"type":"invoke","f":"cas","key":"r","value":3,"expected":0}
//! {"id":2,"process":1,"type":"ok","f":"cas","key":"r","value":3,"expected":0,"swapped":false}
//! {"id":3,"process":4,"type":"invoke","f":"put","key":"r","value":1}
//! {"id":3,"process":4,"type":"info","f":"put","key":"r","value":1,"error":"timed-out"}
//! "#;
//! let history = parse_history(text.as_bytes())?;
//! assert_eq!(check(&history, Budget::default()), Verdict::Linearizable);
//! # Ok::<(), raft_check::ParseError>(())
//! ```

mod check;
mod error;
mod event;
mod history;
pub mod model;
mod parse;
pub mod synth;
mod value;
mod writer;

pub use check::{check, check_with_stats, Budget, CheckStats, Counterexample, Verdict, SLICE_STEPS};
pub use error::ParseError;
pub use event::{Event, EventKind, Function};
pub use history::{History, Operation, Outcome};
pub use parse::parse_history;
pub use value::Value;
pub use writer::{HistoryWriter, Request};
