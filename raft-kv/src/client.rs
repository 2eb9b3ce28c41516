//! The client side of a session: sequence numbers and acknowledgements.

use std::collections::BTreeSet;

use crate::command::{Command, SessionId};
use crate::value::Op;

/// Numbers a client's commands in one session and tracks which responses it
/// has, so each command carries the right `lowest_unacked`.
///
/// ```
/// use raft_kv::{ClientSession, Command, Op, SessionId};
///
/// let mut client = ClientSession::new(SessionId(7));
/// let a = client.start(Op::Get { key: "x".into() });
/// let b = client.start(Op::Delete { key: "x".into() });
/// assert_eq!((a.seq(), b.seq()), (Some(1), Some(2)));
/// client.acknowledge(1);
/// assert_eq!(client.lowest_unacked(), 2);
/// // A retry of `b` keeps its seq and carries the newer lowest_unacked.
/// let Command::Client { seq, lowest_unacked, .. } = client.retry(&b) else { unreachable!() };
/// assert_eq!((seq, lowest_unacked), (2, 2));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientSession {
    session: SessionId,
    /// The `seq` the next new command gets. Sequence numbers start at 1.
    next_seq: u64,
    /// Commands started and not acknowledged.
    /// Invariant: every element is `< next_seq`.
    outstanding: BTreeSet<u64>,
}

impl ClientSession {
    /// A client of `session` (from `ApplyOutcome::Registered`) with no
    /// command sent yet.
    #[must_use]
    pub fn new(session: SessionId) -> ClientSession {
        ClientSession { session, next_seq: 1, outstanding: BTreeSet::new() }
    }

    /// The session.
    #[must_use]
    pub fn session(&self) -> SessionId {
        self.session
    }

    /// A new command for `op` with the next sequence number, now outstanding.
    #[must_use]
    pub fn start(&mut self, op: Op) -> Command {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.outstanding.insert(seq);
        Command::Client { session: self.session, seq, lowest_unacked: self.lowest_unacked(), op }
    }

    /// `command` to send again: the same session, `seq` and op, with the
    /// current `lowest_unacked`. A command of another session, or a
    /// `RegisterClient`, is returned unchanged.
    #[must_use]
    pub fn retry(&self, command: &Command) -> Command {
        match command {
            Command::Client { session, seq, op, .. } if *session == self.session => Command::Client {
                session: *session,
                seq: *seq,
                lowest_unacked: self.lowest_unacked().min(*seq),
                op: op.clone(),
            },
            other => other.clone(),
        }
    }

    /// The response to `seq` arrived (whatever it said): later commands
    /// tell the state machine it may forget that result.
    pub fn acknowledge(&mut self, seq: u64) {
        self.outstanding.remove(&seq);
    }

    /// The lowest sequence number without a response (the next one if none
    /// is outstanding).
    #[must_use]
    pub fn lowest_unacked(&self) -> u64 {
        self.outstanding.first().copied().unwrap_or(self.next_seq)
    }

    /// How many commands are outstanding.
    #[must_use]
    pub fn in_flight(&self) -> usize {
        self.outstanding.len()
    }
}
