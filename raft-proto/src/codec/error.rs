use core::fmt;

/// Why a frame could not be decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input ends before the frame does. Nothing was consumed: read at
    /// least `needed` more bytes and call again.
    Truncated {
        /// How many more bytes are needed at least.
        needed: usize,
    },
    /// The frame does not start with [`MAGIC`](super::MAGIC).
    BadMagic {
        /// The first two bytes found.
        found: [u8; 2],
    },
    /// The frame's format version is not one this decoder reads.
    UnsupportedVersion {
        /// The version byte found.
        found: u8,
    },
    /// The frame sets flags this version does not support.
    UnsupportedFlags {
        /// The flags byte found.
        flags: u8,
    },
    /// The frame is longer than the decoder's limit.
    FrameTooLarge {
        /// The frame's length, header included.
        len: u64,
        /// The decoder's limit.
        max: usize,
    },
    /// [`Decoder::decode`](super::Decoder::decode) found a frame of another
    /// Raft group; use [`Decoder::decode_frame`](super::Decoder::decode_frame)
    /// to multiplex groups.
    UnexpectedGroup {
        /// The frame's group id.
        found: u64,
    },
    /// The message kind byte names no kind this version knows.
    UnknownMessageKind {
        /// The kind byte found.
        found: u8,
    },
    /// A field's value is impossible, or the body ends inside it.
    Malformed {
        /// Which field, e.g. `"entry.kind"`.
        field: &'static str,
    },
    /// The body is longer than its message.
    TrailingBytes {
        /// How many bytes are left over.
        count: usize,
    },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Truncated { needed } => {
                write!(f, "frame truncated: at least {needed} more bytes needed")
            }
            DecodeError::BadMagic { found } => {
                write!(f, "bad magic bytes {:#04x} {:#04x}", found[0], found[1])
            }
            DecodeError::UnsupportedVersion { found } => {
                write!(f, "unsupported format version {found}")
            }
            DecodeError::UnsupportedFlags { flags } => {
                write!(f, "unsupported frame flags {flags:#010b}")
            }
            DecodeError::FrameTooLarge { len, max } => {
                write!(f, "frame of {len} bytes exceeds the limit of {max}")
            }
            DecodeError::UnexpectedGroup { found } => {
                write!(f, "frame for group {found} where group 0 was expected")
            }
            DecodeError::UnknownMessageKind { found } => write!(f, "unknown message kind {found}"),
            DecodeError::Malformed { field } => write!(f, "malformed field `{field}`"),
            DecodeError::TrailingBytes { count } => {
                write!(f, "{count} trailing bytes after the message")
            }
        }
    }
}

// `core::error::Error` (Rust 1.81) serves no_std and std users alike.
impl core::error::Error for DecodeError {}
