//! Golden vectors: frames stored as hex in `tests/golden/*.hex`, checked byte
//! for byte in both directions, so that the wire format cannot change
//! without a version bump.
//!
//! A new vector is written by running with `RAFT_GOLDEN_WRITE=1` when its
//! file does not exist yet; an existing file is never rewritten.

use std::path::PathBuf;

use bytes::{Bytes, BytesMut};
use raft_sansio_proto::codec::{encode, Decoder};
use raft_sansio_proto::*;

fn vectors() -> Vec<(&'static str, Message)> {
    vec![
        (
            "v1_append_entries",
            Message {
                from: NodeId(1),
                to: NodeId(3),
                term: Term(2),
                body: MessageBody::AppendEntries(AppendEntries {
                    prev: EntryId::new(Term(1), Index(4)),
                    entries: vec![
                        Entry::normal(Term(2), Index(5), Bytes::from_static(b"put x 1")),
                        Entry::noop(Term(2), Index(6)),
                    ],
                    leader_commit: Index(4),
                    lowest_data_match: Index(3),
                }),
            },
        ),
        (
            "v1_request_vote",
            Message {
                from: NodeId(2),
                to: NodeId(1),
                term: Term(9),
                body: MessageBody::RequestVote(RequestVote {
                    pre_vote: true,
                    transfer: true,
                    last: EntryId::new(Term(8), Index(300)),
                    priority: 5,
                }),
            },
        ),
        (
            "v1_heartbeat",
            Message {
                from: NodeId(1),
                to: NodeId(2),
                term: Term(3),
                body: MessageBody::Heartbeat(Heartbeat {
                    leader_commit: Index(17),
                    lowest_data_match: Index(16),
                    read_round: 0x0102_0304_0506_0708,
                }),
            },
        ),
        (
            "v1_install_snapshot",
            Message {
                from: NodeId(1),
                to: NodeId(4),
                term: Term(6),
                body: MessageBody::InstallSnapshot(Box::new(InstallSnapshot {
                    id: SnapshotId { leader_term: Term(6), last: EntryId::new(Term(5), Index(99)) },
                    meta: SnapshotMeta {
                        last: EntryId::new(Term(5), Index(99)),
                        conf_state: ConfState {
                            voters: vec![NodeId(1), NodeId(2)],
                            witnesses: vec![NodeId(3)],
                            learners: vec![NodeId(4)],
                            removed: vec![NodeId(7)],
                            ..ConfState::default()
                        },
                    },
                    offset: 0,
                    total_len: 3,
                    last_chunk: true,
                    data: Bytes::from_static(b"abc"),
                })),
            },
        ),
        (
            "v1_read_index_response_rejected",
            Message {
                from: NodeId(1),
                to: NodeId(2),
                term: Term(4),
                body: MessageBody::ReadIndexResponse(ReadIndexResponse {
                    context: 77,
                    result: Err(ReadRejectReason::TransferInProgress),
                }),
            },
        ),
    ]
}

fn to_hex(bytes: &[u8]) -> String {
    let mut out = String::new();
    for line in bytes.chunks(16) {
        let words: Vec<String> = line.iter().map(|b| format!("{b:02x}")).collect();
        out.push_str(&words.join(" "));
        out.push('\n');
    }
    out
}

fn from_hex(text: &str) -> Vec<u8> {
    text.split_whitespace().map(|w| u8::from_str_radix(w, 16).expect("hex byte")).collect()
}

#[test]
fn golden_vectors_match_byte_for_byte() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    for (name, message) in vectors() {
        let path = dir.join(format!("{name}.hex"));
        let mut wire = BytesMut::new();
        encode(&message, &mut wire);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(_) if std::env::var_os("RAFT_GOLDEN_WRITE").is_some() => {
                std::fs::write(&path, to_hex(&wire)).expect("write golden vector");
                continue;
            }
            Err(e) => panic!("{}: {e}; run with RAFT_GOLDEN_WRITE=1 to create it", path.display()),
        };
        let golden = from_hex(&text);
        assert_eq!(to_hex(&wire), to_hex(&golden), "{name}: the encoding changed without a version bump");
        let decoded = Decoder::default().decode(&mut Bytes::from(golden)).expect("golden frame decodes");
        assert_eq!(decoded, message, "{name}: the golden frame decodes to another message");
    }
}

/// Writes the golden frames into the `decode` fuzz target's seed corpus when
/// `RAFT_WRITE_FUZZ_CORPUS=1` (the corpus is committed; this keeps it in step
/// with the vectors).
#[test]
fn seed_corpus_is_the_golden_vectors() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds/decode");
    for (name, message) in vectors() {
        let mut wire = BytesMut::new();
        encode(&message, &mut wire);
        let path = dir.join(name);
        if std::env::var_os("RAFT_WRITE_FUZZ_CORPUS").is_some() {
            std::fs::write(&path, &wire).expect("write corpus file");
        }
        if let Ok(stored) = std::fs::read(&path) {
            assert_eq!(stored, &wire[..], "{}: corpus file differs from the golden vector", path.display());
        }
    }
}
