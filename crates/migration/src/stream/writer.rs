//! [`StreamWriter`]: writes a stream the reader accepts.
//!
//! Small records go through a 64 KiB buffer; bulk data of a buffer's size or
//! more goes straight from the caller's slice to the transport, so guest RAM
//! is not copied on its way out (beyond what the kernel does).

use std::collections::HashSet;
use std::io::{self, BufWriter, Write};

use super::msgpack::{self, write_array_len, write_map_len, write_str, write_uint};
use super::{tag, BulkDecl, Limits, StreamError, StreamHeader, FORMAT_MAJOR, FORMAT_MINOR, MAGIC};
use crate::{Migratable, MigrationError, SectionState};

/// Writer that keeps the running CRC32 and offset of every byte written.
struct CrcWrite<W: Write> {
    inner: BufWriter<W>,
    hasher: crc32fast::Hasher,
    offset: u64,
}

impl<W: Write> Write for CrcWrite<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.offset += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Sections,
    Bulk,
    Broken,
}

/// Default size of the BULK_DATA chunks [`StreamWriter::bulk_data`] cuts.
pub const DEFAULT_CHUNK: usize = 4 << 20;

/// Writes a stream: [`StreamWriter::new`] writes the preamble and header,
/// then sections, optionally bulk sections, and [`StreamWriter::finish`] the
/// END record.
///
/// After an I/O error the writer refuses further calls: the stream is cut
/// and the destination will refuse it.
pub struct StreamWriter<W: Write> {
    out: CrcWrite<W>,
    limits: Limits,
    scratch: Vec<u8>,
    phase: Phase,
    records: u32,
    device_bytes: u64,
    seen: HashSet<(String, u32)>,
    bulk: Vec<BulkDecl>,
    cursor: usize,
    next_offset: u64,
    chunk: usize,
}

impl<W: Write> StreamWriter<W> {
    /// Writes the preamble and the HEADER record to `out`.
    pub fn new(out: W, header: &StreamHeader) -> Result<Self, StreamError> {
        let mut w = Self {
            out: CrcWrite {
                inner: BufWriter::with_capacity(64 << 10, out),
                hasher: crc32fast::Hasher::new(),
                offset: 0,
            },
            limits: Limits::default(),
            scratch: Vec::new(),
            phase: Phase::Sections,
            records: 0,
            device_bytes: 0,
            seen: HashSet::new(),
            bulk: Vec::new(),
            cursor: 0,
            next_offset: 0,
            chunk: DEFAULT_CHUNK,
        };
        let mut pre = [0u8; 12];
        pre[..8].copy_from_slice(&MAGIC);
        pre[8..10].copy_from_slice(&FORMAT_MAJOR.to_be_bytes());
        pre[10..].copy_from_slice(&FORMAT_MINOR.to_be_bytes());
        w.put(&pre)?;
        let payload = rmp_serde::to_vec_named(header)
            .map_err(|e| StreamError::Misuse(format!("header does not encode: {e}")))?;
        w.device_record(tag::HEADER, &payload)?;
        Ok(w)
    }

    /// Sets the size of the BULK_DATA chunks cut by
    /// [`StreamWriter::bulk_data`] and [`StreamWriter::bulk_pages`]
    /// (1 byte to [`Limits::max_bulk_chunk`] of the default limits).
    pub fn set_chunk_size(&mut self, bytes: usize) -> Result<(), StreamError> {
        if bytes == 0 || bytes > self.limits.max_bulk_chunk as usize {
            return Err(StreamError::Misuse(format!(
                "chunk size {bytes} out of range"
            )));
        }
        self.chunk = bytes;
        Ok(())
    }

    /// Bytes written so far.
    pub fn offset(&self) -> u64 {
        self.out.offset
    }

    /// Runs the component's `pre_save`, saves it and writes its section.
    pub fn save(&mut self, component: &dyn Migratable) -> Result<(), MigrationError> {
        component.pre_save()?;
        let state = component.save()?;
        self.write_section(
            component.name(),
            component.instance_id(),
            component.version_id(),
            &state,
        )?;
        Ok(())
    }

    /// Writes one SECTION record. The fields and subsections must each be
    /// one MessagePack value (as [`SectionState::encode`] makes them).
    pub fn write_section(
        &mut self,
        name: &str,
        instance_id: u32,
        version_id: u32,
        state: &SectionState,
    ) -> Result<(), StreamError> {
        if self.phase != Phase::Sections {
            return Err(self.misuse("a section after the bulk sections began"));
        }
        self.check_name(name)?;
        if !self.seen.insert((name.to_owned(), instance_id)) {
            return Err(StreamError::Misuse(format!(
                "section '{name}' instance {instance_id} written twice"
            )));
        }
        if state.subsections.len() > self.limits.max_subsections as usize {
            return Err(StreamError::Misuse(format!(
                "'{name}' has too many subsections"
            )));
        }
        msgpack::validate(&state.fields, 0, "section fields", &self.limits)?;
        let mut p = std::mem::take(&mut self.scratch);
        p.clear();
        write_map_len(&mut p, 5);
        write_str(&mut p, "name");
        write_str(&mut p, name);
        write_str(&mut p, "instance_id");
        write_uint(&mut p, instance_id.into());
        write_str(&mut p, "version_id");
        write_uint(&mut p, version_id.into());
        write_str(&mut p, "fields");
        p.extend_from_slice(&state.fields);
        write_str(&mut p, "subsections");
        write_array_len(&mut p, state.subsections.len() as u32);
        for (i, sub) in state.subsections.iter().enumerate() {
            self.check_name(&sub.name)?;
            if state.subsections[..i].iter().any(|s| s.name == sub.name) {
                return Err(StreamError::Misuse(format!(
                    "subsection '{}' of '{name}' written twice",
                    sub.name
                )));
            }
            msgpack::validate(&sub.fields, 0, "subsection fields", &self.limits)?;
            write_map_len(&mut p, 3);
            write_str(&mut p, "name");
            write_str(&mut p, &sub.name);
            write_str(&mut p, "version_id");
            write_uint(&mut p, sub.version_id.into());
            write_str(&mut p, "fields");
            p.extend_from_slice(&sub.fields);
        }
        let res = self.device_record(tag::SECTION, &p);
        self.scratch = p;
        res
    }

    /// Writes the BULK_INDEX record: the bulk sections whose data follows,
    /// in this order. Call once, after the last section.
    pub fn begin_bulk(&mut self, decls: &[BulkDecl]) -> Result<(), StreamError> {
        if self.phase != Phase::Sections {
            return Err(self.misuse("a second BULK_INDEX"));
        }
        if decls.len() > self.limits.max_bulk_sections as usize {
            return Err(StreamError::Misuse("too many bulk sections".into()));
        }
        let mut p = Vec::new();
        write_map_len(&mut p, 2);
        write_str(&mut p, "crc32");
        write_uint(&mut p, self.out.hasher.clone().finalize().into());
        write_str(&mut p, "sections");
        write_array_len(&mut p, decls.len() as u32);
        for (i, d) in decls.iter().enumerate() {
            self.check_name(&d.name)?;
            if decls[..i]
                .iter()
                .any(|o| o.name == d.name && o.instance_id == d.instance_id)
            {
                return Err(StreamError::Misuse(format!(
                    "bulk section '{}' declared twice",
                    d.name
                )));
            }
            write_map_len(&mut p, 4);
            write_str(&mut p, "name");
            write_str(&mut p, &d.name);
            write_str(&mut p, "instance_id");
            write_uint(&mut p, d.instance_id.into());
            write_str(&mut p, "version_id");
            write_uint(&mut p, d.version_id.into());
            write_str(&mut p, "len");
            write_uint(&mut p, d.len);
        }
        self.device_record(tag::BULK_INDEX, &p)?;
        self.phase = Phase::Bulk;
        self.bulk = decls.to_vec();
        self.cursor = 0;
        self.next_offset = 0;
        self.skip_empty();
        Ok(())
    }

    /// The bulk section the next data goes to, and the offset in it.
    pub fn bulk_position(&self) -> Option<(&BulkDecl, u64)> {
        self.bulk.get(self.cursor).map(|d| (d, self.next_offset))
    }

    /// Writes the next `data.len()` bytes of the current bulk section, in
    /// chunks of the chunk size.
    pub fn bulk_data(&mut self, data: &[u8]) -> Result<(), StreamError> {
        for piece in data.chunks(self.chunk) {
            self.data_record(piece.len(), |w| w.write_all(piece))?;
        }
        Ok(())
    }

    /// Writes the next `len` bytes of the current bulk section as zeroes
    /// (16 bytes of stream whatever `len` is).
    pub fn bulk_zero(&mut self, len: u64) -> Result<(), StreamError> {
        if len == 0 {
            return Ok(());
        }
        let offset = self.reserve(len)?;
        let mut rec = [0u8; 21];
        rec[0] = tag::BULK_ZERO;
        rec[1..5].copy_from_slice(&16u32.to_be_bytes());
        rec[5..13].copy_from_slice(&offset.to_be_bytes());
        rec[13..].copy_from_slice(&len.to_be_bytes());
        self.put(&rec)?;
        self.count_record()?;
        self.commit(len);
        Ok(())
    }

    /// Writes guest pages: runs of all-zero pages of `page_size` bytes
    /// become BULK_ZERO records, the other runs BULK_DATA records (QEMU's
    /// zero-page flag, without the per-page overhead).
    pub fn bulk_pages(&mut self, data: &[u8], page_size: usize) -> Result<(), StreamError> {
        if page_size == 0 {
            return Err(StreamError::Misuse("page size 0".into()));
        }
        // Each page is tested once; a run ends where the kind changes.
        let mut run_start = 0;
        let mut run_zero = None;
        let mut pos = 0;
        for page in data.chunks(page_size) {
            let zero = is_zero(page);
            if run_zero.is_some_and(|z| z != zero) {
                self.bulk_run(&data[run_start..pos], !zero)?;
                run_start = pos;
            }
            run_zero = Some(zero);
            pos += page.len();
        }
        if let Some(zero) = run_zero {
            self.bulk_run(&data[run_start..], zero)?;
        }
        Ok(())
    }

    fn bulk_run(&mut self, run: &[u8], zero: bool) -> Result<(), StreamError> {
        if zero {
            self.bulk_zero(run.len() as u64)
        } else {
            self.bulk_data(run)
        }
    }

    /// Writes one BULK_DATA record of `len` bytes that `fill` writes itself
    /// (e.g. straight from guest memory). `fill` must write exactly `len`
    /// bytes, or the writer fails and refuses further calls.
    pub fn bulk_data_with(
        &mut self,
        len: usize,
        fill: impl FnOnce(&mut dyn Write) -> io::Result<()>,
    ) -> Result<(), StreamError> {
        if len > self.limits.max_bulk_chunk as usize {
            return Err(StreamError::Misuse(format!(
                "chunk of {len} bytes is too large"
            )));
        }
        self.data_record(len, fill)
    }

    /// Writes the END record, flushes, and returns the transport.
    pub fn finish(mut self) -> Result<W, StreamError> {
        if self.phase == Phase::Broken {
            return Err(self.misuse("finish"));
        }
        if let Some((d, at)) = self.bulk_position() {
            return Err(StreamError::Misuse(format!(
                "bulk section '{}' {} has {} of {} bytes",
                d.name, d.instance_id, at, d.len
            )));
        }
        let crc = self.out.hasher.clone().finalize();
        let mut rec = [0u8; 13];
        rec[0] = tag::END;
        rec[1..5].copy_from_slice(&8u32.to_be_bytes());
        rec[5..9].copy_from_slice(&crc.to_be_bytes());
        rec[9..].copy_from_slice(&self.records.to_be_bytes());
        self.put(&rec)?;
        let offset = self.out.offset;
        self.out.inner.into_inner().map_err(|e| StreamError::Io {
            offset,
            source: e.into_error(),
        })
    }

    fn misuse(&self, what: &str) -> StreamError {
        if self.phase == Phase::Broken {
            StreamError::Misuse(format!("{what} on a stream that already failed"))
        } else {
            StreamError::Misuse(format!("{what} is out of order"))
        }
    }

    fn check_name(&self, name: &str) -> Result<(), StreamError> {
        if name.is_empty() || name.len() > self.limits.max_name_len as usize {
            return Err(StreamError::Misuse(format!(
                "name '{name}' must have 1 to {} bytes",
                self.limits.max_name_len
            )));
        }
        Ok(())
    }

    fn put(&mut self, bytes: &[u8]) -> Result<(), StreamError> {
        if self.phase == Phase::Broken {
            return Err(self.misuse("write"));
        }
        let offset = self.out.offset;
        self.out.write_all(bytes).map_err(|e| {
            self.phase = Phase::Broken;
            StreamError::Io { offset, source: e }
        })
    }

    fn count_record(&mut self) -> Result<(), StreamError> {
        self.records = self
            .records
            .checked_add(1)
            .ok_or_else(|| StreamError::Misuse("more than 2^32 records".into()))?;
        Ok(())
    }

    fn device_record(&mut self, t: u8, payload: &[u8]) -> Result<(), StreamError> {
        if payload.len() > self.limits.max_record_len as usize {
            return Err(StreamError::Misuse(format!(
                "{} record of {} bytes is over the reader's limit",
                tag::name(t),
                payload.len()
            )));
        }
        self.device_bytes += payload.len() as u64;
        if self.device_bytes > self.limits.max_device_bytes {
            return Err(StreamError::Misuse(
                "device state is over the reader's limit".into(),
            ));
        }
        let mut h = [0u8; 5];
        h[0] = t;
        h[1..].copy_from_slice(&(payload.len() as u32).to_be_bytes());
        self.put(&h)?;
        self.put(payload)?;
        self.count_record()
    }

    /// Checks that `len` more bytes fit the current bulk section and returns
    /// their offset.
    fn reserve(&self, len: u64) -> Result<u64, StreamError> {
        if self.phase != Phase::Bulk {
            return Err(self.misuse("bulk data"));
        }
        let Some((d, at)) = self.bulk_position() else {
            return Err(StreamError::Misuse(
                "bulk data after every bulk section is complete".into(),
            ));
        };
        if at.checked_add(len).is_none_or(|end| end > d.len) {
            return Err(StreamError::Misuse(format!(
                "{len} bytes at 0x{at:x} run past the end of bulk section '{}' (0x{:x} bytes)",
                d.name, d.len
            )));
        }
        Ok(at)
    }

    fn commit(&mut self, len: u64) {
        self.next_offset += len;
        self.skip_empty();
    }

    fn skip_empty(&mut self) {
        while self.cursor < self.bulk.len() && self.next_offset == self.bulk[self.cursor].len {
            self.cursor += 1;
            self.next_offset = 0;
        }
    }

    fn data_record(
        &mut self,
        len: usize,
        fill: impl FnOnce(&mut dyn Write) -> io::Result<()>,
    ) -> Result<(), StreamError> {
        if len == 0 {
            return Ok(());
        }
        let offset = self.reserve(len as u64)?;
        let mut h = [0u8; 13];
        h[0] = tag::BULK_DATA;
        h[1..5].copy_from_slice(&(len as u32 + 8).to_be_bytes());
        h[5..].copy_from_slice(&offset.to_be_bytes());
        self.put(&h)?;
        let start = self.out.offset;
        let mut limited = Exact {
            inner: &mut self.out,
            left: len as u64,
        };
        let res = fill(&mut limited);
        let left = limited.left;
        if let Err(e) = res {
            self.phase = Phase::Broken;
            return Err(StreamError::Io {
                offset: self.out.offset,
                source: e,
            });
        }
        if left != 0 {
            self.phase = Phase::Broken;
            return Err(StreamError::Misuse(format!(
                "bulk data filler wrote {} of {len} bytes at stream byte {start}",
                len as u64 - left
            )));
        }
        self.count_record()?;
        self.commit(len as u64);
        Ok(())
    }
}

/// Write adapter that accepts at most `left` bytes.
struct Exact<'a, W: Write> {
    inner: &'a mut CrcWrite<W>,
    left: u64,
}

impl<W: Write> Write for Exact<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.len() as u64 > self.left {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "bulk data filler wrote more than its chunk's length",
            ));
        }
        let n = self.inner.write(buf)?;
        self.left -= n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Whether every byte is zero: 64-byte blocks (an OR the compiler
/// vectorises), stopping at the first block that is not.
fn is_zero(b: &[u8]) -> bool {
    let blocks = b.chunks_exact(64);
    let tail = blocks.remainder();
    blocks
        .into_iter()
        .all(|blk| blk.iter().fold(0u8, |acc, &x| acc | x) == 0)
        && tail.iter().all(|&x| x == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_zero_checks_every_byte() {
        assert!(is_zero(&[]));
        assert!(is_zero(&[0; 4096]));
        assert!(is_zero(&[0; 67]));
        for at in [0usize, 63, 64, 100, 4095] {
            let mut p = vec![0u8; 4096];
            p[at] = 0x80;
            assert!(!is_zero(&p), "{at}");
        }
        let mut p = vec![0u8; 67];
        p[66] = 1;
        assert!(!is_zero(&p));
    }

    #[test]
    fn pages_become_runs_of_data_and_zero_records() {
        let header = StreamHeader::new("m", "1", "c", "xics");
        let mut w = StreamWriter::new(Vec::new(), &header).unwrap();
        w.begin_bulk(&[BulkDecl {
            name: "ram".into(),
            instance_id: 0,
            version_id: 1,
            len: 10 * 16 + 5,
        }])
        .unwrap();
        // Pages: Z Z D D Z D D D Z Z and a short zero tail: 5 runs
        // (ZZ, DD, Z, DDD, ZZ+tail).
        let mut ram = vec![0u8; 10 * 16 + 5];
        for p in [2, 3, 5, 6, 7] {
            ram[p * 16 + 3] = 1;
        }
        let before = w.records;
        w.bulk_pages(&ram, 16).unwrap();
        assert_eq!(w.records - before, 5);
        assert!(w.bulk_position().is_none());
        w.finish().unwrap();
    }
}
