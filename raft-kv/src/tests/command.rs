//! The command encoding: round trips, canonical form, untrusted bytes.

use quickcheck::{Arbitrary, Gen, QuickCheck};

use super::*;

pub(crate) fn arbitrary_value(g: &mut Gen) -> Value {
    match u8::arbitrary(g) % 6 {
        0 => Value::Null,
        1 => Value::Int(*g.choose(&[0, 1, -1, i64::MIN, i64::MAX, 127, 128]).unwrap_or(&0)),
        2 | 3 => Value::Int(i64::arbitrary(g)),
        _ => Value::Str(String::arbitrary(g)),
    }
}

impl Arbitrary for Value {
    fn arbitrary(g: &mut Gen) -> Value {
        arbitrary_value(g)
    }
}

impl Arbitrary for Op {
    fn arbitrary(g: &mut Gen) -> Op {
        let key = String::arbitrary(g);
        match u8::arbitrary(g) % 5 {
            0 => Op::Get { key },
            1 => Op::Put { key, value: arbitrary_value(g) },
            2 => Op::Delete { key },
            3 => Op::Cas { key, expected: arbitrary_value(g), new: arbitrary_value(g) },
            _ => Op::Append { key, suffix: String::arbitrary(g) },
        }
    }
}

impl Arbitrary for Command {
    fn arbitrary(g: &mut Gen) -> Command {
        if u8::arbitrary(g) % 8 == 0 {
            return Command::RegisterClient;
        }
        let int = |g: &mut Gen| if bool::arbitrary(g) { u64::from(u8::arbitrary(g)) } else { u64::arbitrary(g) };
        Command::Client { session: SessionId(int(g)), seq: int(g), lowest_unacked: int(g), op: Op::arbitrary(g) }
    }
}

fn examples() -> Vec<Command> {
    let client = |op| Command::Client { session: SessionId(300), seq: u64::MAX, lowest_unacked: 0, op };
    vec![
        Command::RegisterClient,
        client(get("")),
        client(put("k", -1)),
        client(put("k", "v")),
        client(put("k", Value::Null)),
        client(delete("ключ")),
        client(cas("k", Value::Null, Value::Int(i64::MIN))),
        client(cas("k", s("a"), s(""))),
        client(append("k", "suffix")),
    ]
}

#[test]
fn examples_round_trip() {
    for c in examples() {
        assert_eq!(Command::decode(&c.encode()), Ok(c.clone()), "{c:?}");
        crate::fuzzing::decode_command(&c.encode());
    }
}

#[test]
fn quickcheck_round_trip() {
    fn prop(c: Command) -> bool {
        Command::decode(&c.encode()) == Ok(c)
    }
    QuickCheck::new().tests(3000).rng(Gen::from_size_and_seed(30, 0x5EED)).quickcheck(prop as fn(Command) -> bool);
}

#[test]
fn golden_bytes() {
    // Pins format version 1.
    assert_eq!(&Command::RegisterClient.encode()[..], b"\x01\x00");
    let c = Command::Client { session: SessionId(300), seq: 2, lowest_unacked: 1, op: put("k", -2) };
    // version, Client, 300 = 0xac 0x02, 2, 1, Put, "k", int zigzag(-2) = 3.
    assert_eq!(&c.encode()[..], b"\x01\x01\xac\x02\x02\x01\x01\x01k\x01\x03");
}

#[test]
fn every_strict_prefix_is_truncated() {
    for c in examples() {
        let bytes = c.encode();
        for len in 0..bytes.len() {
            assert!(
                matches!(Command::decode(&bytes[..len]), Err(DecodeError::Truncated { .. })),
                "{c:?} prefix {len}: {:?}",
                Command::decode(&bytes[..len])
            );
        }
    }
}

#[test]
fn random_bytes_never_panic_and_decode_canonically() {
    let mut rng = SplitMix(7);
    for _ in 0..10_000 {
        let mut data = rng.bytes(24);
        // Mostly a valid version byte, so the body is exercised.
        if let Some(first) = data.first_mut() {
            if *first % 8 != 0 {
                *first = COMMAND_FORMAT_VERSION;
            }
        }
        crate::fuzzing::decode_command(&data);
    }
}

#[test]
fn mutated_encodings_never_panic_and_decode_canonically() {
    let mut rng = SplitMix(8);
    let mut decoded = 0;
    for c in examples() {
        let bytes = c.encode().to_vec();
        for i in 0..bytes.len() {
            for _ in 0..64 {
                let mut m = bytes.clone();
                m[i] = rng.next() as u8;
                crate::fuzzing::decode_command(&m);
                decoded += usize::from(Command::decode(&m).is_ok());
            }
        }
    }
    assert!(decoded > 100, "mutations should reach other valid commands ({decoded})");
}

#[test]
fn errors_name_the_problem() {
    assert_eq!(Command::decode(b"\x02\x00"), Err(DecodeError::UnsupportedVersion { found: 2 }));
    assert_eq!(Command::decode(b"\x01\x07"), Err(DecodeError::UnknownTag { field: "command.kind", tag: 7 }));
    assert_eq!(Command::decode(b"\x01\x00\x00"), Err(DecodeError::TrailingBytes { count: 1 }));
    assert_eq!(
        Command::decode(b"\x01\x01\x01\x01\x01\x09\x00"),
        Err(DecodeError::UnknownTag { field: "op.kind", tag: 9 })
    );
    assert_eq!(Command::decode(b"\x01\x01\x01\x01\x01\x00\x01\xff"), Err(DecodeError::InvalidUtf8 { field: "op.key" }));
    assert_eq!(Command::decode(b"\x01\x01\x81\x00"), Err(DecodeError::NonCanonical { field: "command.session" }));
    assert_eq!(
        Command::decode(b"\x01\x01\x01\x01\x01\x01\x00\x05"),
        Err(DecodeError::UnknownTag { field: "op.value", tag: 5 })
    );
    // A forged string length far beyond the input allocates nothing.
    assert_eq!(
        Command::decode(b"\x01\x01\x01\x01\x01\x00\xff\xff\xff\xff\x0f"),
        Err(DecodeError::Truncated { field: "op.key", needed: 0xffff_ffff, remaining: 0 })
    );
}
