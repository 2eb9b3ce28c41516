//! Types and wire format of the `raft-sansio` consensus core.
//!
//! - Identifiers: [`NodeId`], [`Term`], [`Index`], [`EntryId`].
//! - Log entries: [`Entry`], [`EntryKind`].
//! - Durable state: [`HardState`], [`ConfState`], [`SnapshotMeta`].
//! - Messages: [`Message`] and its [`MessageBody`] kinds.
//! - The versioned binary codec: [`codec`] ([`codec::encode`],
//!   [`codec::Decoder`]), with its compatibility rule.
//!
//! `#![no_std]` with `alloc`; the default `std` feature only adds
//! `std::error::Error` for [`codec::DecodeError`].
//!
//! ```
//! use bytes::{Bytes, BytesMut};
//! use raft_sansio_proto::codec::{encode, Decoder};
//! use raft_sansio_proto::*;
//!
//! let message = Message {
//!     from: NodeId(1),
//!     to: NodeId(2),
//!     term: Term(4),
//!     body: MessageBody::AppendEntries(AppendEntries {
//!         prev: EntryId::new(Term(3), Index(9)),
//!         entries: vec![Entry::normal(Term(4), Index(10), Bytes::from_static(b"set x=1"))],
//!         leader_commit: Index(9),
//!         lowest_data_match: Index(9),
//!     }),
//! };
//! let mut wire = BytesMut::new();
//! encode(&message, &mut wire);
//! let decoded = Decoder::default().decode(&mut wire.freeze()).unwrap();
//! assert_eq!(decoded, message);
//! ```

#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod codec;
mod entry;
mod ids;
mod message;
mod state;

#[cfg(feature = "arbitrary")]
mod arbitrary_impls;
#[cfg(any(test, feature = "quickcheck"))]
mod quickcheck_impls;

#[cfg(any(test, fuzzing))]
pub mod fuzzing;

pub use entry::{Entry, EntryKind};
pub use ids::{EntryId, Index, NodeId, Term};
pub use message::{
    AppendEntries, AppendEntriesResponse, ForwardProposal, Heartbeat, HeartbeatResponse, InstallSnapshot,
    InstallSnapshotResponse, Message, MessageBody, ReadIndex, ReadIndexResponse, ReadRejectReason, RequestVote,
    RequestVoteResponse, SnapshotId, SnapshotStatus,
};
pub use state::{ConfState, HardState, SnapshotMeta};
