//! A bounds-checked cursor over a frame body.

use core::ops::Range;

use super::DecodeError;

/// Reads fixed-width little-endian fields. Every read checks the remaining
/// length first; running out inside a body (whose length the header fixed)
/// is a malformed field, not a truncation.
pub(super) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(super) fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, pos: 0 }
    }

    #[inline]
    pub(super) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    #[inline]
    pub(super) fn position(&self) -> usize {
        self.pos
    }

    #[inline]
    fn take<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], DecodeError> {
        let end = self.pos.checked_add(N).ok_or(DecodeError::Malformed { field })?;
        let Some(slice) = self.buf.get(self.pos..end) else {
            return Err(DecodeError::Malformed { field });
        };
        let mut out = [0u8; N];
        out.copy_from_slice(slice);
        self.pos = end;
        Ok(out)
    }

    #[inline]
    pub(super) fn u8(&mut self, field: &'static str) -> Result<u8, DecodeError> {
        Ok(self.take::<1>(field)?[0])
    }

    #[inline]
    pub(super) fn u32(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.take::<4>(field)?))
    }

    #[inline]
    pub(super) fn u64(&mut self, field: &'static str) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.take::<8>(field)?))
    }

    /// A byte that must be 0 or 1, so that every value has one encoding.
    #[inline]
    pub(super) fn bool(&mut self, field: &'static str) -> Result<bool, DecodeError> {
        match self.u8(field)? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(DecodeError::Malformed { field }),
        }
    }

    /// A flags byte that may only use the bits in `allowed`.
    #[inline]
    pub(super) fn flags(&mut self, allowed: u8, field: &'static str) -> Result<u8, DecodeError> {
        let flags = self.u8(field)?;
        if flags & !allowed != 0 {
            return Err(DecodeError::Malformed { field });
        }
        Ok(flags)
    }

    /// Skips `len` bytes and returns their range in the body, for a
    /// zero-copy slice.
    #[inline]
    pub(super) fn range(&mut self, len: usize, field: &'static str) -> Result<Range<usize>, DecodeError> {
        if len > self.remaining() {
            return Err(DecodeError::Malformed { field });
        }
        let start = self.pos;
        self.pos += len;
        Ok(start..self.pos)
    }

    /// A count of items each at least `min_item_len` bytes long, checked
    /// against what remains so that it can size an allocation.
    #[inline]
    pub(super) fn count(&mut self, min_item_len: usize, field: &'static str) -> Result<usize, DecodeError> {
        let count = self.u32(field)? as usize;
        debug_assert!(min_item_len > 0);
        if count > self.remaining() / min_item_len {
            return Err(DecodeError::Malformed { field });
        }
        Ok(count)
    }
}
