//! Shared fixtures of the workspace's criterion benchmarks (`benches/`):
//! the codec message, and the workloads of `../shared/WORKLOADS.md`
//! ([`workloads`], re-exported here) used by `benches/workloads.rs`, the
//! `stats` and `w3_rss` binaries and the allocation test in `alloc-count/`.

pub mod workloads;
pub use workloads::*;

use bytes::Bytes;
use raft_sansio_proto::{AppendEntries, Entry, EntryId, Index, Message, MessageBody, NodeId, Term};

/// The codec workload: an append-entries message of `count` entries of
/// `payload_len` bytes each, as a leader sends it in steady state.
pub fn append_entries_message(count: usize, payload_len: usize) -> Message {
    let entries = (0..count as u64)
        .map(|i| {
            let payload: Vec<u8> = (0..payload_len).map(|b| ((i as usize + b) & 0xff) as u8 | 1).collect();
            Entry::normal(Term(5), Index(1001 + i), Bytes::from(payload))
        })
        .collect();
    Message {
        from: NodeId(1),
        to: NodeId(2),
        term: Term(5),
        body: MessageBody::AppendEntries(AppendEntries {
            prev: EntryId::new(Term(5), Index(1000)),
            entries,
            leader_commit: Index(998),
            lowest_data_match: Index(998),
        }),
    }
}
