//! The versioned binary wire format.
//!
//! # Frame layout (version 1)
//!
//! ```text
//! offset  size  field
//! 0       2     magic      0xA7 0x52
//! 2       1     version    1
//! 3       1     flags      bit 0: compressed body, bit 1: CRC32C trailer
//!                          (both reserved: version 1 frames set no flag)
//! 4       4     body_len   u32, little endian: bytes after this header
//! 8       8     group_id   u64, little endian: 0 for a single Raft group
//! 16      ..    body       from u64, to u64, term u64, kind u8, fields
//! ```
//!
//! Every integer is fixed-width little endian, so a decoder reads headers
//! with plain loads. Every variable-length field carries its length; entry
//! and snapshot payloads decode as zero-copy slices of the input [`Bytes`].
//!
//! # Compatibility rule
//!
//! The format version is bumped whenever the encoding of any message
//! changes. **A decoder of version N decodes frames of versions N and N-1**;
//! an encoder writes only version N. A rolling upgrade therefore first
//! deploys binaries that read N (while still writing N-1), then switches
//! writers to N. Golden vectors in `tests/golden` pin the bytes of each
//! version so that an accidental change fails the build.
//!
//! # Errors, never panics
//!
//! [`Decoder::decode`] returns `Ok`, [`DecodeError::Truncated`] (read more
//! and call again: nothing was consumed), or an error saying what is wrong.
//! It checks every length read off the wire against the bytes that remain
//! before it reserves anything, so a forged count cannot make it allocate
//! more than the input justifies.
//!
//! [`Bytes`]: bytes::Bytes

mod decode;
mod encode;
mod error;
mod reader;

pub use decode::{decode_conf_state, Decoder, Frame};
pub use encode::{encode, encode_conf_state, encode_frame, encoded_len};
pub use error::DecodeError;

/// The two bytes every frame starts with.
pub const MAGIC: [u8; 2] = [0xA7, 0x52];

/// The format version this crate writes.
pub const CURRENT_VERSION: u8 = 1;

/// The oldest format version this crate reads (see the compatibility rule).
pub const OLDEST_READABLE_VERSION: u8 = 1;

/// Length of the fixed frame header.
pub const HEADER_LEN: usize = 16;

/// Flag bit: the body is compressed (reserved; no version-1 frame sets it).
pub const FLAG_COMPRESSED: u8 = 0b0000_0001;

/// Flag bit: a CRC32C trailer follows the body (reserved; no version-1 frame
/// sets it).
pub const FLAG_CRC32C: u8 = 0b0000_0010;

/// The default frame size limit of [`Decoder::default`]: 64 MiB, above the
/// largest message the core builds with its default byte caps (1 MiB per
/// append, 1 MiB snapshot chunks) and small enough that a forged length
/// cannot tie up much memory.
pub const DEFAULT_MAX_FRAME_LEN: usize = 64 << 20;

/// Message kind codes (the byte after `term` in the body).
pub(crate) mod kind {
    pub(crate) const APPEND_ENTRIES: u8 = 1;
    pub(crate) const APPEND_ENTRIES_RESPONSE: u8 = 2;
    pub(crate) const HEARTBEAT: u8 = 3;
    pub(crate) const HEARTBEAT_RESPONSE: u8 = 4;
    pub(crate) const REQUEST_VOTE: u8 = 5;
    pub(crate) const REQUEST_VOTE_RESPONSE: u8 = 6;
    pub(crate) const INSTALL_SNAPSHOT: u8 = 7;
    pub(crate) const INSTALL_SNAPSHOT_RESPONSE: u8 = 8;
    pub(crate) const TIMEOUT_NOW: u8 = 9;
    pub(crate) const READ_INDEX: u8 = 10;
    pub(crate) const READ_INDEX_RESPONSE: u8 = 11;
    pub(crate) const FORWARD_PROPOSAL: u8 = 12;
}

/// Encoded size of one entry without its payload: term, index, kind, flags,
/// payload length.
pub(crate) const ENTRY_HEADER_LEN: usize = 8 + 8 + 1 + 1 + 4;

/// Entry flag bit: the payload was elided.
pub(crate) const ENTRY_FLAG_ELIDED: u8 = 0b0000_0001;

const _: () = assert!(HEADER_LEN == 2 + 1 + 1 + 4 + 8);
const _: () = assert!(OLDEST_READABLE_VERSION <= CURRENT_VERSION);
const _: () = assert!(DEFAULT_MAX_FRAME_LEN <= u32::MAX as usize);

#[cfg(test)]
mod tests;
