//! [`StreamError`]: what is wrong with a stream's bytes.

use std::io;

/// A stream that cannot be read or written: not ours, of an unsupported
/// format version, truncated, corrupted, over a limit, or an I/O failure.
///
/// Offsets are byte offsets from the start of the stream, for finding the
/// spot with a hex dump.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// The magic is wrong (QEMU's words).
    #[error("Not a migration stream, magic: {found} != {expected}")]
    NotAStream {
        /// The first bytes read, printable form.
        found: String,
        /// The magic expected.
        expected: String,
    },
    /// The format version is not one this build reads.
    #[error(
        "Unsupported migration stream version {major}.{minor} (this build reads {local_major}.0 \
         to {local_major}.{local_minor})"
    )]
    UnsupportedVersion {
        /// Major version in the stream.
        major: u16,
        /// Minor version in the stream.
        minor: u16,
        /// Major version of this build.
        local_major: u16,
        /// Newest minor version this build reads.
        local_minor: u16,
    },
    /// The stream ended before its END record.
    #[error("migration stream truncated: it ends after {offset} bytes, inside {context}")]
    Truncated {
        /// Bytes read.
        offset: u64,
        /// What was being read.
        context: String,
    },
    /// A length, count or depth is over its limit.
    #[error("{what} of {value} at byte {offset} is over the limit of {limit}")]
    LimitExceeded {
        /// What was measured.
        what: &'static str,
        /// The stream's value.
        value: u64,
        /// The limit.
        limit: u64,
        /// Where.
        offset: u64,
    },
    /// The bytes do not follow the format.
    #[error("malformed {what} at byte {offset}: {reason}")]
    Malformed {
        /// The element being decoded.
        what: &'static str,
        /// Where the problem was found.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// A record tag this build does not know.
    #[error("unknown record type 0x{tag:02x} at byte {offset}")]
    UnknownRecord {
        /// The tag byte.
        tag: u8,
        /// Where.
        offset: u64,
    },
    /// A record where the format does not allow it.
    #[error("{record} record at byte {offset} is out of place: expected {expected}")]
    OutOfPlace {
        /// The record's tag name.
        record: &'static str,
        /// Where.
        offset: u64,
        /// What was expected there.
        expected: &'static str,
    },
    /// The checksum does not match the bytes.
    #[error(
        "migration stream corrupted: crc32 of the {covering} is 0x{computed:08x} but the stream \
         says 0x{stored:08x}"
    )]
    Checksum {
        /// Which part the checksum covers.
        covering: &'static str,
        /// Checksum in the stream.
        stored: u32,
        /// Checksum of the bytes read.
        computed: u32,
    },
    /// The END record's record count does not match.
    #[error("migration stream corrupted: END says {stored} records, {counted} were read")]
    RecordCount {
        /// Count in the stream.
        stored: u32,
        /// Records read.
        counted: u32,
    },
    /// Bytes follow the END record where the stream must end.
    #[error("trailing data after the end of the migration stream at byte {offset}")]
    TrailingData {
        /// Offset of the first extra byte.
        offset: u64,
    },
    /// The writer or reader was used out of order (a bug of the caller,
    /// never caused by stream contents).
    #[error("migration stream API misuse: {0}")]
    Misuse(String),
    /// The underlying reader or writer failed.
    #[error("I/O error at byte {offset} of the migration stream: {source}")]
    Io {
        /// Bytes transferred before the failure.
        offset: u64,
        /// What failed.
        #[source]
        source: io::Error,
    },
}

impl StreamError {
    pub(crate) fn malformed(what: &'static str, offset: u64, reason: impl Into<String>) -> Self {
        Self::Malformed {
            what,
            offset,
            reason: reason.into(),
        }
    }

    pub(crate) fn limit(what: &'static str, value: u64, limit: u64, offset: u64) -> Self {
        Self::LimitExceeded {
            what,
            value,
            limit,
            offset,
        }
    }

    /// Maps an I/O error met while reading `context` at `offset`: an early
    /// end of file becomes [`StreamError::Truncated`], unless a transport
    /// already explained it.
    pub(crate) fn from_read(e: io::Error, offset: u64, context: impl Into<String>) -> Self {
        let explained = e
            .get_ref()
            .is_some_and(|inner| inner.is::<crate::TransportError>());
        if e.kind() == io::ErrorKind::UnexpectedEof && !explained {
            Self::Truncated {
                offset,
                context: context.into(),
            }
        } else {
            Self::Io { offset, source: e }
        }
    }
}
