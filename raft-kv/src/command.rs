//! Commands: what a client proposes to the log, and their encoding.
//!
//! # Encoding (format version 1)
//!
//! ```text
//! version       u8       1
//! kind          u8       0 RegisterClient, 1 Client
//! -- Client only --
//! session       varint
//! seq           varint
//! lowest_unacked varint
//! op            u8       0 Get, 1 Put, 2 Delete, 3 Cas, 4 Append
//! key           string
//! Put:    value
//! Cas:    expected value, new value
//! Append: suffix string
//! ```
//!
//! Primitives (varint, string, value) are in the `codec` module's docs. The
//! input must end exactly where the command does. The leading version byte
//! lets a later version read entries that an older one wrote: entries live
//! in the log and in snapshots far longer than any binary.

use bytes::Bytes;

use crate::codec::{put_str, put_u8, put_value, put_varint, DecodeError, Reader};
use crate::value::{Op, Value};

/// The format version [`Command::encode`] writes and [`Command::decode`] reads.
pub const COMMAND_FORMAT_VERSION: u8 = 1;

mod kind {
    pub(super) const REGISTER_CLIENT: u8 = 0;
    pub(super) const CLIENT: u8 = 1;
}

mod op_tag {
    pub(super) const GET: u8 = 0;
    pub(super) const PUT: u8 = 1;
    pub(super) const DELETE: u8 = 2;
    pub(super) const CAS: u8 = 3;
    pub(super) const APPEND: u8 = 4;
}

/// A client session: the log index of the `RegisterClient` entry that
/// created it (unique, and the same on every replica).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(pub u64);

impl core::fmt::Display for SessionId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "session {}", self.0)
    }
}

/// A command as proposed to the Raft log.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Command {
    /// Open a session. Its id is the index of this entry; see
    /// [`ApplyOutcome::Registered`](crate::ApplyOutcome::Registered).
    RegisterClient,
    /// An operation in a session.
    Client {
        /// The session, from [`ApplyOutcome::Registered`](crate::ApplyOutcome::Registered).
        session: SessionId,
        /// The command's sequence number, unique within the session. A retry
        /// carries the same `seq` (and the same `op`).
        seq: u64,
        /// The client's lowest sequence number whose response it has not yet
        /// received (or its next `seq` if none is outstanding). It must be
        /// `<= seq`. The state machine forgets the results of every lower
        /// `seq`.
        lowest_unacked: u64,
        /// The operation.
        op: Op,
    },
}

impl Command {
    /// The command's sequence number, if it is a [`Command::Client`].
    #[must_use]
    pub fn seq(&self) -> Option<u64> {
        match self {
            Command::RegisterClient => None,
            Command::Client { seq, .. } => Some(*seq),
        }
    }

    /// Encodes the command (see the module docs for the layout).
    #[must_use]
    pub fn encode(&self) -> Bytes {
        let mut buf = Vec::with_capacity(self.encoded_len_hint());
        put_u8(&mut buf, COMMAND_FORMAT_VERSION);
        match self {
            Command::RegisterClient => put_u8(&mut buf, kind::REGISTER_CLIENT),
            Command::Client { session, seq, lowest_unacked, op } => {
                put_u8(&mut buf, kind::CLIENT);
                put_varint(&mut buf, session.0);
                put_varint(&mut buf, *seq);
                put_varint(&mut buf, *lowest_unacked);
                match op {
                    Op::Get { key } => {
                        put_u8(&mut buf, op_tag::GET);
                        put_str(&mut buf, key);
                    }
                    Op::Put { key, value } => {
                        put_u8(&mut buf, op_tag::PUT);
                        put_str(&mut buf, key);
                        put_value(&mut buf, value);
                    }
                    Op::Delete { key } => {
                        put_u8(&mut buf, op_tag::DELETE);
                        put_str(&mut buf, key);
                    }
                    Op::Cas { key, expected, new } => {
                        put_u8(&mut buf, op_tag::CAS);
                        put_str(&mut buf, key);
                        put_value(&mut buf, expected);
                        put_value(&mut buf, new);
                    }
                    Op::Append { key, suffix } => {
                        put_u8(&mut buf, op_tag::APPEND);
                        put_str(&mut buf, key);
                        put_str(&mut buf, suffix);
                    }
                }
            }
        }
        Bytes::from(buf)
    }

    /// Decodes a command. The encoding is canonical: if this returns `Ok(c)`
    /// then `c.encode() == bytes`.
    ///
    /// Never panics, and allocates no more than the input's length.
    ///
    /// # Errors
    ///
    /// A [`DecodeError`] saying what is wrong and in which field: truncated
    /// input, an unknown version or tag, a non-canonical varint, a string
    /// that is not UTF-8, or trailing bytes.
    pub fn decode(bytes: &[u8]) -> Result<Command, DecodeError> {
        let mut r = Reader::new(bytes);
        let version = r.u8("command.version")?;
        if version != COMMAND_FORMAT_VERSION {
            return Err(DecodeError::UnsupportedVersion { found: version });
        }
        let command = match r.u8("command.kind")? {
            kind::REGISTER_CLIENT => Command::RegisterClient,
            kind::CLIENT => {
                let session = SessionId(r.varint("command.session")?);
                let seq = r.varint("command.seq")?;
                let lowest_unacked = r.varint("command.lowest_unacked")?;
                let tag = r.u8("op.kind")?;
                if tag > op_tag::APPEND {
                    return Err(DecodeError::UnknownTag { field: "op.kind", tag });
                }
                let key = r.str("op.key")?;
                let op = match tag {
                    op_tag::GET => Op::Get { key },
                    op_tag::PUT => Op::Put { key, value: r.value("op.value")? },
                    op_tag::DELETE => Op::Delete { key },
                    op_tag::CAS => {
                        let expected = r.value("op.expected")?;
                        let new = r.value("op.new")?;
                        Op::Cas { key, expected, new }
                    }
                    op_tag::APPEND => Op::Append { key, suffix: r.str("op.suffix")? },
                    tag => return Err(DecodeError::UnknownTag { field: "op.kind", tag }),
                };
                Command::Client { session, seq, lowest_unacked, op }
            }
            tag => return Err(DecodeError::UnknownTag { field: "command.kind", tag }),
        };
        r.finish()?;
        Ok(command)
    }

    /// An upper bound on the encoded length (to size the buffer once).
    fn encoded_len_hint(&self) -> usize {
        // version, kind, three varints of at most 10 bytes, op tag.
        const FIXED: usize = 2 + 3 * 10 + 1;
        // A tag and a varint (or a length varint and the bytes).
        fn value_len(v: &Value) -> usize {
            1 + match v {
                Value::Null => 0,
                Value::Int(_) => 10,
                Value::Str(s) => 10 + s.len(),
            }
        }
        match self {
            Command::RegisterClient => 2,
            Command::Client { op, .. } => {
                FIXED
                    + 10
                    + op.key().len()
                    + match op {
                        Op::Get { .. } | Op::Delete { .. } => 0,
                        Op::Put { value, .. } => value_len(value),
                        Op::Cas { expected, new, .. } => value_len(expected) + value_len(new),
                        Op::Append { suffix, .. } => 10 + suffix.len(),
                    }
            }
        }
    }
}
