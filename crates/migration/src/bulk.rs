//! Where incoming bulk data (guest RAM) goes: [`BulkSink`].
//!
//! The loader hands a sink the stream itself, limited to one chunk, so the
//! sink reads the bytes straight into their final place (for guest RAM,
//! `GuestMemory::read_exact_volatile_from` or a plain `read_exact` into the
//! mapping): no intermediate buffer holds the section.

use std::io::{self, Read};

/// Destination of one bulk section.
pub trait BulkSink: Send {
    /// Length the destination has; a stream declaring another length is
    /// refused before any byte is written.
    fn len(&self) -> u64;

    /// Whether the destination has no bytes.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Reads exactly `len` bytes from `src` into the destination at
    /// `offset`. `offset + len <= self.len()` always holds.
    fn fill_from(&mut self, offset: u64, len: u64, src: &mut dyn Read) -> io::Result<()>;

    /// Sets `len` bytes at `offset` to zero.
    fn fill_zero(&mut self, offset: u64, len: u64) -> io::Result<()>;
}

fn range(buf_len: usize, offset: u64, len: u64) -> io::Result<std::ops::Range<usize>> {
    let start = usize::try_from(offset).ok();
    let end = offset
        .checked_add(len)
        .and_then(|e| usize::try_from(e).ok());
    match (start, end) {
        (Some(s), Some(e)) if e <= buf_len => Ok(s..e),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{len} bytes at 0x{offset:x} are outside the {buf_len}-byte destination"),
        )),
    }
}

/// A byte slice as a sink (e.g. guest RAM mapped in this process).
impl BulkSink for &mut [u8] {
    fn len(&self) -> u64 {
        <[u8]>::len(self) as u64
    }

    fn fill_from(&mut self, offset: u64, len: u64, src: &mut dyn Read) -> io::Result<()> {
        let r = range(<[u8]>::len(self), offset, len)?;
        src.read_exact(&mut self[r])
    }

    fn fill_zero(&mut self, offset: u64, len: u64) -> io::Result<()> {
        let r = range(<[u8]>::len(self), offset, len)?;
        self[r].fill(0);
        Ok(())
    }
}

/// A vector as a sink: its current length is the destination's length
/// (size it with `vec![0; n]` first).
impl BulkSink for Vec<u8> {
    fn len(&self) -> u64 {
        Vec::len(self) as u64
    }

    fn fill_from(&mut self, offset: u64, len: u64, src: &mut dyn Read) -> io::Result<()> {
        let r = range(Vec::len(self), offset, len)?;
        src.read_exact(&mut self[r])
    }

    fn fill_zero(&mut self, offset: u64, len: u64) -> io::Result<()> {
        let r = range(Vec::len(self), offset, len)?;
        self[r].fill(0);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vec_and_slice_sinks_fill_in_place_and_refuse_out_of_range() {
        let mut v = vec![9u8; 16];
        v.fill_from(4, 3, &mut &[1u8, 2, 3][..]).unwrap();
        v.fill_zero(0, 2).unwrap();
        assert_eq!(&v[..8], &[0, 0, 9, 9, 1, 2, 3, 9]);
        assert!(v.fill_zero(10, 7).is_err());
        assert!(v.fill_from(u64::MAX, 2, &mut &[0u8; 2][..]).is_err());
        let mut backing = [7u8; 4];
        let mut s: &mut [u8] = &mut backing;
        assert_eq!(BulkSink::len(&s), 4);
        s.fill_from(1, 2, &mut &[5u8, 6][..]).unwrap();
        assert_eq!(backing, [7, 5, 6, 7]);
    }
}
