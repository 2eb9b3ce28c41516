use alloc::boxed::Box;
use alloc::vec;
use alloc::vec::Vec;

use bytes::{BufMut, Bytes, BytesMut};
use quickcheck::{Arbitrary, Gen, QuickCheck};

use super::*;
use crate::*;

fn frame(message: &Message) -> Bytes {
    let mut buf = BytesMut::new();
    encode(message, &mut buf);
    assert_eq!(buf.len(), encoded_len(message));
    buf.freeze()
}

fn msg(body: MessageBody) -> Message {
    Message { from: NodeId(1), to: NodeId(2), term: Term(7), body }
}

/// One message of every kind, with non-trivial fields.
fn one_of_each() -> Vec<Message> {
    let id = SnapshotId { leader_term: Term(7), last: EntryId::new(Term(6), Index(100)) };
    vec![
        msg(MessageBody::AppendEntries(AppendEntries {
            prev: EntryId::new(Term(6), Index(10)),
            entries: vec![
                Entry::normal(Term(7), Index(11), Bytes::from_static(b"put k v")),
                Entry::noop(Term(7), Index(12)),
                Entry::normal(Term(7), Index(13), Bytes::from_static(b"elided")).elided(),
            ],
            leader_commit: Index(10),
            lowest_data_match: Index(9),
        })),
        msg(MessageBody::AppendEntriesResponse(AppendEntriesResponse::Success { match_index: Index(13) })),
        msg(MessageBody::AppendEntriesResponse(AppendEntriesResponse::Reject {
            rejected_prev: Index(10),
            conflict: EntryId::new(Term(3), Index(5)),
            last_index: Index(12),
        })),
        msg(MessageBody::Heartbeat(Heartbeat {
            leader_commit: Index(10),
            lowest_data_match: Index(8),
            read_round: 42,
        })),
        msg(MessageBody::HeartbeatResponse(HeartbeatResponse { read_round: 42 })),
        msg(MessageBody::RequestVote(RequestVote {
            pre_vote: true,
            transfer: false,
            last: EntryId::new(Term(6), Index(10)),
            priority: 3,
        })),
        msg(MessageBody::RequestVoteResponse(RequestVoteResponse { pre_vote: false, granted: true })),
        msg(MessageBody::InstallSnapshot(Box::new(InstallSnapshot {
            id,
            meta: SnapshotMeta {
                last: EntryId::new(Term(6), Index(100)),
                conf_state: ConfState {
                    voters: vec![NodeId(1), NodeId(2)],
                    learners: vec![NodeId(4)],
                    witnesses: vec![NodeId(3)],
                    voters_outgoing: vec![NodeId(1), NodeId(5)],
                    witnesses_outgoing: vec![],
                    learners_next: vec![NodeId(5)],
                    auto_leave: true,
                    removed: vec![NodeId(9)],
                },
            },
            offset: 1024,
            total_len: 4096,
            last_chunk: false,
            data: Bytes::from_static(&[0xAB; 16]),
        }))),
        msg(MessageBody::InstallSnapshotResponse(InstallSnapshotResponse {
            id,
            status: SnapshotStatus::Receiving { next_offset: 2048 },
        })),
        msg(MessageBody::InstallSnapshotResponse(InstallSnapshotResponse {
            id,
            status: SnapshotStatus::Installed { match_index: Index(100) },
        })),
        msg(MessageBody::InstallSnapshotResponse(InstallSnapshotResponse { id, status: SnapshotStatus::Rejected })),
        msg(MessageBody::TimeoutNow),
        msg(MessageBody::ReadIndex(ReadIndex { context: u64::MAX })),
        msg(MessageBody::ReadIndexResponse(ReadIndexResponse { context: 5, result: Ok(Index(10)) })),
        msg(MessageBody::ReadIndexResponse(ReadIndexResponse {
            context: 6,
            result: Err(ReadRejectReason::TermNotCommitted),
        })),
        msg(MessageBody::ForwardProposal(ForwardProposal {
            commands: vec![Bytes::from_static(b"a"), Bytes::new(), Bytes::from_static(b"ccc")],
        })),
    ]
}

#[test]
fn round_trip_every_kind() {
    for message in one_of_each() {
        let mut wire = frame(&message);
        assert_eq!(Decoder::default().decode(&mut wire), Ok(message.clone()), "{}", message.body.name());
        assert!(wire.is_empty());
    }
}

#[test]
fn quickcheck_round_trip() {
    fn prop(message: Message) -> bool {
        let mut wire = frame(&message);
        Decoder::default().decode(&mut wire) == Ok(message) && wire.is_empty()
    }
    QuickCheck::new().tests(3000).rng(Gen::from_size_and_seed(40, 0x5EED)).quickcheck(prop as fn(Message) -> bool);
}

#[test]
fn quickcheck_covers_every_kind() {
    // The generator must reach every kind, or the round trip above proves
    // less than it claims.
    let mut g = Gen::from_size_and_seed(20, 1);
    let mut seen = [false; 12];
    for _ in 0..2000 {
        let m = Message::arbitrary(&mut g);
        let wire = frame(&m);
        seen[usize::from(wire[HEADER_LEN + 24]) - 1] = true;
    }
    assert!(seen.iter().all(|&s| s), "{seen:?}");
}

#[test]
fn conf_state_round_trip() {
    fn prop(conf: ConfState) -> bool {
        let mut buf = BytesMut::new();
        encode_conf_state(&conf, &mut buf);
        decode_conf_state(&buf) == Ok(conf)
    }
    QuickCheck::new().tests(500).rng(Gen::from_size_and_seed(20, 7)).quickcheck(prop as fn(ConfState) -> bool);
    let mut buf = BytesMut::new();
    encode_conf_state(&ConfState::default(), &mut buf);
    buf.put_u8(0);
    assert_eq!(decode_conf_state(&buf), Err(DecodeError::TrailingBytes { count: 1 }));
}

#[test]
fn every_strict_prefix_is_truncated() {
    for message in one_of_each() {
        let wire = frame(&message);
        for cut in 0..wire.len() {
            let mut prefix = wire.slice(..cut);
            match Decoder::default().decode(&mut prefix) {
                Err(DecodeError::Truncated { needed }) => {
                    assert!(needed > 0 && needed <= wire.len() - cut, "cut {cut}: needed {needed}");
                    assert_eq!(prefix.len(), cut, "a truncated decode consumed input");
                }
                other => panic!("{} cut at {cut}: {other:?}", message.body.name()),
            }
        }
    }
}

#[test]
fn frames_split_across_two_reads_decode_the_same() {
    // A stream reader: bytes arrive in two reads; it asks `frame_len` when a
    // whole frame is there and decodes it then.
    let decoder = Decoder::default();
    let mut stream = BytesMut::new();
    for message in one_of_each() {
        encode(&message, &mut stream);
    }
    let stream = stream.freeze();
    for split in 0..=stream.len() {
        let mut buffer = BytesMut::new();
        let mut decoded = Vec::new();
        for chunk in [&stream[..split], &stream[split..]] {
            buffer.extend_from_slice(chunk);
            loop {
                match decoder.frame_len(&buffer) {
                    Ok(len) if len <= buffer.len() => {
                        let mut frame = buffer.split_to(len).freeze();
                        decoded.push(decoder.decode(&mut frame).expect("whole frame"));
                        assert!(frame.is_empty());
                    }
                    Ok(_) | Err(DecodeError::Truncated { .. }) => break,
                    Err(e) => panic!("split {split}: {e}"),
                }
            }
        }
        assert_eq!(decoded, one_of_each(), "split at {split}");
        assert!(buffer.is_empty());
    }
}

#[test]
fn frames_on_one_stream_decode_in_order() {
    let mut wire = BytesMut::new();
    for message in one_of_each() {
        encode(&message, &mut wire);
    }
    let mut wire = wire.freeze();
    let decoder = Decoder::default();
    for message in one_of_each() {
        assert_eq!(decoder.decode(&mut wire), Ok(message));
    }
    assert!(wire.is_empty());
    assert_eq!(decoder.decode(&mut wire), Err(DecodeError::Truncated { needed: HEADER_LEN }));
}

#[test]
fn payloads_are_zero_copy_slices_of_the_input() {
    let message = &one_of_each()[0];
    let mut wire = frame(message);
    let range = wire.as_ptr_range();
    let Ok(Message { body: MessageBody::AppendEntries(m), .. }) = Decoder::default().decode(&mut wire) else {
        panic!("not an append");
    };
    let payload = m.entries[0].payload.as_ptr();
    assert!(range.contains(&payload), "the payload was copied");
}

#[test]
fn header_errors_say_what_is_wrong() {
    let wire = frame(&msg(MessageBody::TimeoutNow));
    let decoder = Decoder::default();
    let with = |at: usize, value: u8| {
        let mut bytes = BytesMut::from(&wire[..]);
        bytes[at] = value;
        let mut bytes = bytes.freeze();
        let result = decoder.decode(&mut bytes);
        assert_eq!(bytes.len(), wire.len(), "an error consumed input");
        result
    };
    assert_eq!(with(0, b'X'), Err(DecodeError::BadMagic { found: [b'X', MAGIC[1]] }));
    assert_eq!(with(2, 9), Err(DecodeError::UnsupportedVersion { found: 9 }));
    assert_eq!(with(2, 0), Err(DecodeError::UnsupportedVersion { found: 0 }));
    assert_eq!(with(3, FLAG_CRC32C), Err(DecodeError::UnsupportedFlags { flags: FLAG_CRC32C }));
    assert_eq!(with(3, FLAG_COMPRESSED), Err(DecodeError::UnsupportedFlags { flags: FLAG_COMPRESSED }));
    assert_eq!(with(8, 1), Err(DecodeError::UnexpectedGroup { found: 1 }));
    assert_eq!(with(HEADER_LEN + 24, 0), Err(DecodeError::UnknownMessageKind { found: 0 }));
    assert_eq!(with(HEADER_LEN + 24, 200), Err(DecodeError::UnknownMessageKind { found: 200 }));
    // Garbage is refused at its first byte, without waiting for more.
    assert_eq!(decoder.decode(&mut Bytes::from_static(b"G")), Err(DecodeError::BadMagic { found: [b'G', 0] }));
}

#[test]
fn other_groups_decode_through_decode_frame() {
    let message = msg(MessageBody::TimeoutNow);
    let mut buf = BytesMut::new();
    encode_frame(77, &message, &mut buf);
    let mut wire = buf.freeze();
    let frame = Decoder::default().decode_frame(&mut wire).expect("valid");
    assert_eq!(frame, Frame { group_id: 77, version: CURRENT_VERSION, message });
}

#[test]
fn frame_too_large_is_refused_before_its_body_arrives() {
    let message = &one_of_each()[0];
    let wire = frame(message);
    let decoder = Decoder::new(wire.len() - 1);
    // Only the first 8 header bytes: the length is known, the body is not here.
    let mut head = wire.slice(..8);
    assert_eq!(
        decoder.decode(&mut head),
        Err(DecodeError::FrameTooLarge { len: wire.len() as u64, max: wire.len() - 1 })
    );
    assert!(Decoder::new(wire.len()).decode(&mut wire.clone()).is_ok());
}

#[test]
fn forged_counts_cannot_force_large_allocations() {
    // An append claiming u32::MAX entries in a 64-byte body.
    let mut body = BytesMut::new();
    body.put_u64_le(1);
    body.put_u64_le(2);
    body.put_u64_le(3);
    body.put_u8(kind::APPEND_ENTRIES);
    body.put_bytes(0, 32);
    body.put_u32_le(u32::MAX);
    let mut wire = BytesMut::new();
    wire.put_slice(&MAGIC);
    wire.put_u8(CURRENT_VERSION);
    wire.put_u8(0);
    wire.put_u32_le(body.len() as u32);
    wire.put_u64_le(0);
    wire.put_slice(&body);
    assert_eq!(Decoder::default().decode(&mut wire.freeze()), Err(DecodeError::Malformed { field: "entries.count" }));
}

#[test]
fn malformed_fields_are_named() {
    let decoder = Decoder::default();
    // A vote request whose flags byte sets an undefined bit.
    let wire = frame(&one_of_each()[5]);
    let mut bad = BytesMut::from(&wire[..]);
    bad[HEADER_LEN + 25] = 0b100;
    assert_eq!(decoder.decode(&mut bad.freeze()), Err(DecodeError::Malformed { field: "request_vote.flags" }));

    // An entry with an unknown kind: the first entry's kind byte.
    let wire = frame(&one_of_each()[0]);
    let mut bad = BytesMut::from(&wire[..]);
    let entry_kind_at = HEADER_LEN + 25 + 16 + 8 + 8 + 4 + 16;
    bad[entry_kind_at] = 9;
    assert_eq!(decoder.decode(&mut bad.freeze()), Err(DecodeError::Malformed { field: "entry.kind" }));

    // A body one byte longer than its message.
    let wire = frame(&msg(MessageBody::TimeoutNow));
    let mut long = BytesMut::from(&wire[..]);
    long.put_u8(0);
    let len = (long.len() - HEADER_LEN) as u32;
    long[4..8].copy_from_slice(&len.to_le_bytes());
    assert_eq!(decoder.decode(&mut long.freeze()), Err(DecodeError::TrailingBytes { count: 1 }));

    // A body one byte shorter than its message: the field it cuts is named.
    let wire = frame(&msg(MessageBody::ReadIndex(ReadIndex { context: 1 })));
    let mut short = BytesMut::from(&wire[..wire.len() - 1]);
    let len = (short.len() - HEADER_LEN) as u32;
    short[4..8].copy_from_slice(&len.to_le_bytes());
    assert_eq!(decoder.decode(&mut short.freeze()), Err(DecodeError::Malformed { field: "context" }));
}

/// A tiny deterministic generator for the fuzz-body test (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn fuzz_body_runs_over_generated_inputs() {
    // 10,000 inputs: valid frame streams, mutated frames (bit flips, byte
    // overwrites, cuts, splices, forged lengths) and random bytes.
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut g = Gen::from_size_and_seed(12, 2);
    let mut decoded_ok = 0usize;
    for i in 0..10_000 {
        let mut input: Vec<u8> = Vec::new();
        for _ in 0..1 + rng.below(3) {
            let mut buf = BytesMut::new();
            encode_frame(rng.next() % 3, &Message::arbitrary(&mut g), &mut buf);
            input.extend_from_slice(&buf);
        }
        match i % 5 {
            0 => {}
            1 => {
                for _ in 0..1 + rng.below(4) {
                    let at = rng.below(input.len());
                    input[at] ^= 1 << rng.below(8);
                }
            }
            2 => {
                let at = rng.below(input.len());
                input[at] = rng.next() as u8;
                let cut = rng.below(input.len() + 1);
                input.truncate(cut);
            }
            3 => {
                // Forge the first frame's length or an inner count.
                let at = if rng.below(2) == 0 { 4 + rng.below(4) } else { rng.below(input.len()) };
                input[at] = 0xFF;
            }
            _ => {
                input = (0..rng.below(200)).map(|_| rng.next() as u8).collect();
                if rng.below(2) == 0 && input.len() >= 4 {
                    input[..2].copy_from_slice(&MAGIC);
                    input[2] = CURRENT_VERSION;
                    input[3] = 0;
                }
            }
        }
        let mut probe = Bytes::from(input.clone());
        if Decoder::new(1 << 20).decode_frame(&mut probe).is_ok() {
            decoded_ok += 1;
        }
        crate::fuzzing::decode(&input);
    }
    // The mix must reach the success path often, or the round-trip half of
    // the body goes untested.
    assert!(decoded_ok > 2_000, "only {decoded_ok} inputs decoded");
}
