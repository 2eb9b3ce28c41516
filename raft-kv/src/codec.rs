//! The primitives of the compact binary format shared by commands and
//! snapshots: LEB128 varints, zigzag integers, length-prefixed UTF-8
//! strings and tagged values.
//!
//! ```text
//! varint   LEB128, 1..=10 bytes; canonical: no trailing 0x00 group, and the
//!          10th byte holds only the top bit of a u64
//! int      zigzag(i64) as varint
//! string   len: varint, then len bytes of UTF-8
//! bool     one byte, 0 or 1
//! value    tag: u8 (0 null, 1 int, 2 string), then the int or string
//! ```
//!
//! Every value has exactly one encoding, so `encode(decode(b)) == b` for
//! every `b` that decodes: replicas that compare bytes or digests never
//! disagree over two spellings of one state.

use core::fmt;

use crate::value::Value;

/// Value tags.
pub(crate) mod tag {
    pub(crate) const NULL: u8 = 0;
    pub(crate) const INT: u8 = 1;
    pub(crate) const STR: u8 = 2;
}

/// Why a byte string is not a valid encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input ends inside `field`.
    Truncated {
        /// The field being read, e.g. `"op.key"`.
        field: &'static str,
        /// How many bytes the field needs at least.
        needed: usize,
        /// How many bytes were left.
        remaining: usize,
    },
    /// The leading format byte is not a version this crate reads.
    UnsupportedVersion {
        /// The version byte found.
        found: u8,
    },
    /// A tag byte names nothing this version knows.
    UnknownTag {
        /// The field being read, e.g. `"command.kind"`.
        field: &'static str,
        /// The tag found.
        tag: u8,
    },
    /// A varint is longer than 10 bytes, overflows a `u64`, or is not in its
    /// shortest form; or a bool is neither 0 nor 1.
    NonCanonical {
        /// The field being read.
        field: &'static str,
    },
    /// A string is not UTF-8.
    InvalidUtf8 {
        /// The field being read.
        field: &'static str,
    },
    /// The input is longer than what it encodes.
    TrailingBytes {
        /// How many bytes are left over.
        count: usize,
    },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Truncated { field, needed, remaining } => {
                write!(f, "truncated {field}: needs {needed} bytes, {remaining} left")
            }
            DecodeError::UnsupportedVersion { found } => write!(f, "unsupported format version {found}"),
            DecodeError::UnknownTag { field, tag } => write!(f, "unknown tag {tag} in {field}"),
            DecodeError::NonCanonical { field } => write!(f, "non-canonical or overflowing encoding of {field}"),
            DecodeError::InvalidUtf8 { field } => write!(f, "{field} is not UTF-8"),
            DecodeError::TrailingBytes { count } => write!(f, "{count} trailing bytes"),
        }
    }
}

impl core::error::Error for DecodeError {}

/// Where an encoder writes: a buffer, or a hasher (so that a digest needs
/// no buffer).
pub(crate) trait Sink {
    fn put(&mut self, bytes: &[u8]);
}

impl Sink for Vec<u8> {
    #[inline]
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

/// FNV-1a, 64 bit: small, fixed forever, identical on every platform.
pub(crate) struct Fnv1a(pub(crate) u64);

impl Fnv1a {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;

    pub(crate) fn new() -> Fnv1a {
        Fnv1a(Self::OFFSET_BASIS)
    }
}

impl Sink for Fnv1a {
    fn put(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(Self::PRIME);
        }
    }
}

pub(crate) fn put_u8(sink: &mut impl Sink, v: u8) {
    sink.put(&[v]);
}

pub(crate) fn put_bool(sink: &mut impl Sink, v: bool) {
    put_u8(sink, u8::from(v));
}

pub(crate) fn put_varint(sink: &mut impl Sink, mut v: u64) {
    // 10 bytes hold 70 bits: enough for any u64.
    let mut buf = [0u8; 10];
    let mut n = 0;
    while v >= 0x80 {
        buf[n] = (v as u8) | 0x80;
        v >>= 7;
        n += 1;
    }
    buf[n] = v as u8;
    sink.put(&buf[..=n]);
}

pub(crate) fn put_len(sink: &mut impl Sink, len: usize) {
    // usize is at most 64 bits on every platform Rust supports.
    put_varint(sink, len as u64);
}

pub(crate) fn put_str(sink: &mut impl Sink, s: &str) {
    put_len(sink, s.len());
    sink.put(s.as_bytes());
}

pub(crate) fn put_value(sink: &mut impl Sink, value: &Value) {
    match value {
        Value::Null => put_u8(sink, tag::NULL),
        Value::Int(n) => {
            put_u8(sink, tag::INT);
            put_varint(sink, zigzag(*n));
        }
        Value::Str(s) => {
            put_u8(sink, tag::STR);
            put_str(sink, s);
        }
    }
}

fn zigzag(n: i64) -> u64 {
    ((n << 1) ^ (n >> 63)) as u64
}

fn unzigzag(u: u64) -> i64 {
    ((u >> 1) as i64) ^ -((u & 1) as i64)
}

/// A cursor that checks the remaining length before every read, so no
/// length off the wire controls an allocation or a slice index.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, pos: 0 }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub(crate) fn bytes(&mut self, len: usize, field: &'static str) -> Result<&'a [u8], DecodeError> {
        let remaining = self.remaining();
        if len > remaining {
            return Err(DecodeError::Truncated { field, needed: len, remaining });
        }
        let start = self.pos;
        self.pos += len;
        Ok(&self.buf[start..self.pos])
    }

    pub(crate) fn u8(&mut self, field: &'static str) -> Result<u8, DecodeError> {
        Ok(self.bytes(1, field)?[0])
    }

    pub(crate) fn bool(&mut self, field: &'static str) -> Result<bool, DecodeError> {
        match self.u8(field)? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(DecodeError::NonCanonical { field }),
        }
    }

    pub(crate) fn varint(&mut self, field: &'static str) -> Result<u64, DecodeError> {
        let mut value = 0u64;
        for i in 0..10 {
            let byte = self.u8(field)?;
            // The 10th byte carries bit 63 only; anything more overflows (and
            // a continuation bit there would make the varint too long).
            if i == 9 && byte > 1 {
                return Err(DecodeError::NonCanonical { field });
            }
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                // A final zero group after the first byte is an overlong form.
                if byte == 0 && i > 0 {
                    return Err(DecodeError::NonCanonical { field });
                }
                return Ok(value);
            }
        }
        Err(DecodeError::NonCanonical { field })
    }

    /// A count or length that must fit in `usize`.
    pub(crate) fn len(&mut self, field: &'static str) -> Result<usize, DecodeError> {
        let n = self.varint(field)?;
        usize::try_from(n).map_err(|_| DecodeError::Truncated {
            field,
            needed: usize::MAX,
            remaining: self.remaining(),
        })
    }

    /// A count of items that each take at least one byte: checked against
    /// the remaining input before any loop or reservation runs.
    pub(crate) fn count(&mut self, field: &'static str) -> Result<usize, DecodeError> {
        let n = self.len(field)?;
        let remaining = self.remaining();
        if n > remaining {
            return Err(DecodeError::Truncated { field, needed: n, remaining });
        }
        Ok(n)
    }

    pub(crate) fn str(&mut self, field: &'static str) -> Result<String, DecodeError> {
        let len = self.len(field)?;
        let bytes = self.bytes(len, field)?;
        core::str::from_utf8(bytes).map(str::to_owned).map_err(|_| DecodeError::InvalidUtf8 { field })
    }

    pub(crate) fn value(&mut self, field: &'static str) -> Result<Value, DecodeError> {
        match self.u8(field)? {
            tag::NULL => Ok(Value::Null),
            tag::INT => Ok(Value::Int(unzigzag(self.varint(field)?))),
            tag::STR => Ok(Value::Str(self.str(field)?)),
            tag => Err(DecodeError::UnknownTag { field, tag }),
        }
    }

    /// The input must end here.
    pub(crate) fn finish(self) -> Result<(), DecodeError> {
        match self.remaining() {
            0 => Ok(()),
            count => Err(DecodeError::TrailingBytes { count }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_round_trips_at_every_width() {
        let mut cases = vec![0, 1, 0x7f, 0x80, 0x3fff, 0x4000, u64::MAX - 1, u64::MAX];
        cases.extend((0..64).map(|s| 1u64 << s));
        for v in cases {
            let mut buf = Vec::new();
            put_varint(&mut buf, v);
            let mut r = Reader::new(&buf);
            assert_eq!(r.varint("v"), Ok(v));
            assert_eq!(r.finish(), Ok(()));
        }
    }

    #[test]
    fn varint_rejects_overlong_and_overflow() {
        for bad in [&[0x80, 0x00][..], &[0xff; 10][..], &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02]] {
            assert_eq!(Reader::new(bad).varint("v"), Err(DecodeError::NonCanonical { field: "v" }), "{bad:?}");
        }
        assert!(matches!(Reader::new(&[0x80]).varint("v"), Err(DecodeError::Truncated { .. })));
    }

    #[test]
    fn zigzag_round_trips_extremes() {
        for n in [0, 1, -1, 63, -64, i64::MAX, i64::MIN] {
            assert_eq!(unzigzag(zigzag(n)), n);
        }
        assert_eq!(zigzag(-1), 1);
        assert_eq!(zigzag(1), 2);
    }

    #[test]
    fn fnv1a_matches_reference_vectors() {
        // From the FNV reference (draft-eastlake-fnv): "" and "a".
        let mut h = Fnv1a::new();
        assert_eq!(h.0, 0xcbf2_9ce4_8422_2325);
        h.put(b"a");
        assert_eq!(h.0, 0xaf63_dc4c_8601_ec8c);
    }
}
