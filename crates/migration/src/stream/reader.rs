//! [`StreamReader`]: the bounded, validating pull parser.
//!
//! It reads one record at a time and checks everything the format says
//! before handing the record out: limits before allocation, the MessagePack
//! structure of every payload, record order, bulk coverage, both checksums.
//! It never reads past the END record.

use std::io::{self, Read};

use super::msgpack;
use super::payload::{parse_bulk_index, parse_section};
use super::{
    tag, BulkDecl, FormatVersion, Limits, StreamError, StreamHeader, FORMAT_MAJOR, FORMAT_MINOR,
    MAGIC, PREAMBLE_LEN, RECORD_HEADER_LEN,
};
use crate::SectionState;

/// Reader that keeps the running CRC32 and offset of every byte read.
struct CrcRead<R> {
    inner: R,
    hasher: crc32fast::Hasher,
    offset: u64,
}

impl<R: Read> Read for CrcRead<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.offset += n as u64;
        Ok(n)
    }
}

/// A device section as read from the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingSection {
    /// Section name.
    pub name: String,
    /// Instance id.
    pub instance_id: u32,
    /// Version the source wrote.
    pub version_id: u32,
    /// Fields and subsections, each a validated MessagePack value.
    pub state: SectionState,
    /// Stream offset of the record.
    pub offset: u64,
    /// Payload length of the record.
    pub len: u32,
}

/// What the END record said, after it was checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndInfo {
    /// CRC32 of every byte before the END record.
    pub crc32: u32,
    /// Records before the END record (HEADER included).
    pub records: u32,
    /// Stream length including the END record.
    pub stream_len: u64,
}

/// One record, validated.
#[derive(Debug)]
pub enum Record {
    /// A device section.
    Section(IncomingSection),
    /// The bulk sections to follow; their data comes next, in this order.
    BulkIndex(Vec<BulkDecl>),
    /// `len` bytes of bulk section number `bulk` at `offset`: read them with
    /// [`StreamReader::data`] before the next record (or they are skipped).
    BulkData {
        /// Index in the BULK_INDEX list.
        bulk: usize,
        /// Offset in the bulk section.
        offset: u64,
        /// Byte count.
        len: u64,
    },
    /// `len` zero bytes of bulk section number `bulk` at `offset`.
    BulkZero {
        /// Index in the BULK_INDEX list.
        bulk: usize,
        /// Offset in the bulk section.
        offset: u64,
        /// Byte count.
        len: u64,
    },
    /// The end: both checksums and the record count matched.
    End(EndInfo),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Sections,
    Bulk,
    Ended,
}

/// Pull parser over a stream. [`StreamReader::new`] reads the preamble and
/// the HEADER record; [`StreamReader::next_record`] returns the others.
pub struct StreamReader<R> {
    src: CrcRead<R>,
    limits: Limits,
    format: FormatVersion,
    header: StreamHeader,
    phase: Phase,
    records: u32,
    sections: u32,
    device_bytes: u64,
    /// Unread bytes of the current BULK_DATA record.
    pending: u64,
    bulk: Vec<BulkDecl>,
    cursor: usize,
    next_offset: u64,
    source_error: Option<StreamError>,
}

impl<R: Read> StreamReader<R> {
    /// Reads and checks the preamble and the HEADER record.
    pub fn new(inner: R, limits: Limits) -> Result<Self, StreamError> {
        let mut src = CrcRead {
            inner,
            hasher: crc32fast::Hasher::new(),
            offset: 0,
        };
        let mut pre = [0u8; PREAMBLE_LEN];
        src.read_exact(&mut pre)
            .map_err(|e| StreamError::from_read(e, src.offset, "the preamble"))?;
        if pre[..8] != MAGIC {
            return Err(StreamError::NotAStream {
                found: printable(&pre[..8]),
                expected: printable(&MAGIC),
            });
        }
        let format = FormatVersion {
            major: u16::from_be_bytes([pre[8], pre[9]]),
            minor: u16::from_be_bytes([pre[10], pre[11]]),
        };
        if format.major != FORMAT_MAJOR || format.minor > FORMAT_MINOR {
            return Err(StreamError::UnsupportedVersion {
                major: format.major,
                minor: format.minor,
                local_major: FORMAT_MAJOR,
                local_minor: FORMAT_MINOR,
            });
        }
        let mut r = Self {
            src,
            limits,
            format,
            header: StreamHeader::new("", "", "", ""),
            phase: Phase::Sections,
            records: 0,
            sections: 0,
            device_bytes: 0,
            pending: 0,
            bulk: Vec::new(),
            cursor: 0,
            next_offset: 0,
            source_error: None,
        };
        let (t, len, at) = r.record_header()?;
        if t != tag::HEADER {
            return Err(StreamError::OutOfPlace {
                record: tag::name(t),
                offset: at,
                expected: "HEADER",
            });
        }
        let payload = r.payload(len, "the HEADER record")?;
        let base = at + RECORD_HEADER_LEN as u64;
        msgpack::validate(&payload, base, "HEADER record", &r.limits)?;
        r.header = rmp_serde::from_slice(&payload)
            .map_err(|e| StreamError::malformed("HEADER record", base, e.to_string()))?;
        Ok(r)
    }

    /// The stream's format version.
    pub fn format(&self) -> FormatVersion {
        self.format
    }

    /// The stream's header.
    pub fn header(&self) -> &StreamHeader {
        &self.header
    }

    /// Bytes read so far.
    pub fn offset(&self) -> u64 {
        self.src.offset
    }

    /// The bulk sections declared so far.
    pub fn bulk_decls(&self) -> &[BulkDecl] {
        &self.bulk
    }

    /// Bytes of the current BULK_DATA record not read yet.
    pub fn pending(&self) -> u64 {
        self.pending
    }

    /// Reader over the current BULK_DATA record's bytes (at most
    /// [`StreamReader::pending`] of them). When the stream fails under it,
    /// the error it returns is generic and the stream error is kept for
    /// [`StreamReader::take_source_error`].
    pub fn data(&mut self) -> BulkDataReader<'_, R> {
        BulkDataReader { r: self }
    }

    /// The stream error met by the last [`BulkDataReader`], if any.
    pub fn take_source_error(&mut self) -> Option<StreamError> {
        self.source_error.take()
    }

    /// Reads the next record. Unread bulk data of the previous record is
    /// skipped first.
    pub fn next_record(&mut self) -> Result<Record, StreamError> {
        if self.pending > 0 {
            let n = self.pending;
            let copied = io::copy(&mut (&mut self.src).take(n), &mut io::sink())
                .map_err(|e| StreamError::from_read(e, self.src.offset, "BULK_DATA bytes"))?;
            if copied < n {
                return Err(StreamError::Truncated {
                    offset: self.src.offset,
                    context: "BULK_DATA bytes".into(),
                });
            }
            self.pending = 0;
        }
        if self.phase == Phase::Ended {
            return Err(StreamError::Misuse("next_record after END".into()));
        }
        // CRC of everything before this record, for BULK_INDEX and END.
        let crc_before = self.src.hasher.clone().finalize();
        let (t, len, at) = self.record_header()?;
        let base = at + RECORD_HEADER_LEN as u64;
        let out_of_place = |expected| StreamError::OutOfPlace {
            record: tag::name(t),
            offset: at,
            expected,
        };
        let record = match (t, self.phase) {
            (tag::SECTION, Phase::Sections) => {
                self.sections += 1;
                if self.sections > self.limits.max_sections {
                    return Err(StreamError::limit(
                        "section count",
                        self.sections.into(),
                        self.limits.max_sections.into(),
                        at,
                    ));
                }
                let payload = self.payload(len, "a SECTION record")?;
                Record::Section(parse_section(&payload, base, at, &self.limits)?)
            }
            (tag::BULK_INDEX, Phase::Sections) => {
                let payload = self.payload(len, "the BULK_INDEX record")?;
                let (stored, decls) = parse_bulk_index(&payload, base, &self.limits)?;
                if stored != crc_before {
                    return Err(StreamError::Checksum {
                        covering: "header and sections",
                        stored,
                        computed: crc_before,
                    });
                }
                self.bulk = decls.clone();
                self.phase = Phase::Bulk;
                self.cursor = 0;
                self.next_offset = 0;
                self.skip_empty_bulk();
                Record::BulkIndex(decls)
            }
            (tag::BULK_DATA, Phase::Bulk) => {
                let max = 8 + u64::from(self.limits.max_bulk_chunk);
                if u64::from(len) > max {
                    return Err(StreamError::limit("BULK_DATA length", len.into(), max, at));
                }
                if len <= 8 {
                    return Err(StreamError::malformed("BULK_DATA record", at, "no data"));
                }
                let offset = self.be_u64("BULK_DATA offset")?;
                let n = u64::from(len) - 8;
                let bulk = self.advance(offset, n, at)?;
                self.pending = n;
                Record::BulkData {
                    bulk,
                    offset,
                    len: n,
                }
            }
            (tag::BULK_ZERO, Phase::Bulk) => {
                if len != 16 {
                    return Err(StreamError::malformed(
                        "BULK_ZERO record",
                        at,
                        format!("length {len}, expected 16"),
                    ));
                }
                let offset = self.be_u64("BULK_ZERO offset")?;
                let n = self.be_u64("BULK_ZERO length")?;
                if n == 0 {
                    return Err(StreamError::malformed("BULK_ZERO record", at, "no bytes"));
                }
                let bulk = self.advance(offset, n, at)?;
                Record::BulkZero {
                    bulk,
                    offset,
                    len: n,
                }
            }
            (tag::END, Phase::Sections | Phase::Bulk) => {
                if self.phase == Phase::Bulk && self.cursor < self.bulk.len() {
                    let d = &self.bulk[self.cursor];
                    return Err(StreamError::malformed(
                        "END record",
                        at,
                        format!(
                            "bulk section '{}' {} ends at byte {} of {}",
                            d.name, d.instance_id, self.next_offset, d.len
                        ),
                    ));
                }
                if len != 8 {
                    return Err(StreamError::malformed(
                        "END record",
                        at,
                        format!("length {len}, expected 8"),
                    ));
                }
                let mut b = [0u8; 8];
                self.read_exact(&mut b, "the END record")?;
                let stored = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
                let count = u32::from_be_bytes([b[4], b[5], b[6], b[7]]);
                if stored != crc_before {
                    return Err(StreamError::Checksum {
                        covering: "whole stream",
                        stored,
                        computed: crc_before,
                    });
                }
                // This END record was counted by record_header.
                let counted = self.records - 1;
                if count != counted {
                    return Err(StreamError::RecordCount {
                        stored: count,
                        counted,
                    });
                }
                self.phase = Phase::Ended;
                Record::End(EndInfo {
                    crc32: stored,
                    records: count,
                    stream_len: self.src.offset,
                })
            }
            (tag::HEADER | tag::SECTION | tag::BULK_INDEX, _) => {
                return Err(out_of_place(if self.phase == Phase::Bulk {
                    "BULK_DATA, BULK_ZERO or END"
                } else {
                    "SECTION, BULK_INDEX or END"
                }))
            }
            (tag::BULK_DATA | tag::BULK_ZERO, _) => {
                return Err(out_of_place("SECTION, BULK_INDEX or END"))
            }
            (other, _) => {
                return Err(StreamError::UnknownRecord {
                    tag: other,
                    offset: at,
                })
            }
        };
        Ok(record)
    }

    /// After END: fails if any byte follows (for files and buffers; a socket
    /// peer may keep its end open).
    pub fn expect_eof(&mut self) -> Result<(), StreamError> {
        let mut b = [0u8; 1];
        let at = self.src.offset;
        loop {
            match self.src.inner.read(&mut b) {
                Ok(0) => return Ok(()),
                Ok(_) => return Err(StreamError::TrailingData { offset: at }),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(StreamError::Io {
                        offset: at,
                        source: e,
                    })
                }
            }
        }
    }

    fn read_exact(&mut self, buf: &mut [u8], context: &str) -> Result<(), StreamError> {
        let at = self.src.offset;
        self.src
            .read_exact(buf)
            .map_err(|e| StreamError::from_read(e, at.max(self.src.offset), context))
    }

    fn be_u64(&mut self, context: &str) -> Result<u64, StreamError> {
        let mut b = [0u8; 8];
        self.read_exact(&mut b, context)?;
        Ok(u64::from_be_bytes(b))
    }

    /// Reads a record header: tag, payload length, record offset.
    fn record_header(&mut self) -> Result<(u8, u32, u64), StreamError> {
        let at = self.src.offset;
        let mut h = [0u8; RECORD_HEADER_LEN];
        self.read_exact(&mut h, "a record header")?;
        self.records = self.records.checked_add(1).ok_or_else(|| {
            StreamError::limit("record count", u64::from(u32::MAX) + 1, u32::MAX.into(), at)
        })?;
        Ok((h[0], u32::from_be_bytes([h[1], h[2], h[3], h[4]]), at))
    }

    /// Reads a MessagePack payload of `len` bytes. The buffer grows with the
    /// bytes that actually arrive, so a length that lies costs nothing.
    fn payload(&mut self, len: u32, context: &str) -> Result<Vec<u8>, StreamError> {
        let at = self.src.offset;
        if len > self.limits.max_record_len {
            return Err(StreamError::limit(
                "record length",
                len.into(),
                self.limits.max_record_len.into(),
                at,
            ));
        }
        let total = self.device_bytes + u64::from(len);
        if total > self.limits.max_device_bytes {
            return Err(StreamError::limit(
                "header and section bytes",
                total,
                self.limits.max_device_bytes,
                at,
            ));
        }
        self.device_bytes = total;
        let len = len as usize;
        const STEP: usize = 64 << 10;
        let mut buf = Vec::with_capacity(len.min(STEP));
        while buf.len() < len {
            let start = buf.len();
            let step = (len - start).min(start.max(STEP));
            buf.resize(start + step, 0);
            self.read_exact(&mut buf[start..], context)?;
        }
        Ok(buf)
    }

    /// Checks that `n` bytes at `offset` continue the current bulk section
    /// and moves past them; returns the bulk section's index.
    fn advance(&mut self, offset: u64, n: u64, at: u64) -> Result<usize, StreamError> {
        let Some(d) = self.bulk.get(self.cursor) else {
            return Err(StreamError::malformed(
                "bulk record",
                at,
                "every bulk section is already complete",
            ));
        };
        if offset != self.next_offset {
            return Err(StreamError::malformed(
                "bulk record",
                at,
                format!(
                    "offset 0x{offset:x} in '{}' {}, expected 0x{:x}",
                    d.name, d.instance_id, self.next_offset
                ),
            ));
        }
        let end = offset
            .checked_add(n)
            .filter(|&e| e <= d.len)
            .ok_or_else(|| {
                StreamError::malformed(
                    "bulk record",
                    at,
                    format!(
                        "{n} bytes at 0x{offset:x} run past the end of '{}' {} (0x{:x} bytes)",
                        d.name, d.instance_id, d.len
                    ),
                )
            })?;
        let index = self.cursor;
        self.next_offset = end;
        self.skip_empty_bulk();
        Ok(index)
    }

    fn skip_empty_bulk(&mut self) {
        while self.cursor < self.bulk.len() && self.next_offset == self.bulk[self.cursor].len {
            self.cursor += 1;
            self.next_offset = 0;
        }
    }
}

/// [`Read`] over the current BULK_DATA record (see [`StreamReader::data`]).
pub struct BulkDataReader<'a, R> {
    r: &'a mut StreamReader<R>,
}

impl<R: Read> Read for BulkDataReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.r.pending == 0 || buf.is_empty() {
            return Ok(0);
        }
        let want = buf
            .len()
            .min(usize::try_from(self.r.pending).unwrap_or(usize::MAX));
        let res = match self.r.src.read(&mut buf[..want]) {
            Ok(0) => Err(io::Error::from(io::ErrorKind::UnexpectedEof)),
            other => other,
        };
        match res {
            Ok(n) => {
                self.r.pending -= n as u64;
                Ok(n)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Err(e),
            Err(e) => {
                let at = self.r.src.offset;
                self.r.source_error = Some(StreamError::from_read(e, at, "BULK_DATA bytes"));
                Err(io::Error::other(
                    "the migration stream failed under the bulk data",
                ))
            }
        }
    }
}

/// Bytes as a quoted string, non-printable ones escaped.
fn printable(b: &[u8]) -> String {
    let s: String = b
        .iter()
        .map(|&c| {
            if c.is_ascii_graphic() && c != b'\'' {
                (c as char).to_string()
            } else {
                format!("\\x{c:02x}")
            }
        })
        .collect();
    format!("'{s}'")
}
