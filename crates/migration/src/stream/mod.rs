//! The stream format: preamble, records, header, limits and stream errors.
//!
//! The byte layout is described in the crate's README; this module holds the
//! constants it names. A stream is:
//!
//! ```text
//! preamble   "PSRS-MIG" u16be major u16be minor               (12 bytes)
//! record*    u8 tag, u32be payload length, payload
//!   0x01 HEADER      MessagePack map (StreamHeader)           once, first
//!   0x02 SECTION     MessagePack map (name, instance_id, version_id, fields, subsections)
//!   0x03 BULK_INDEX  MessagePack map (crc32 of all bytes before it, sections)
//!   0x04 BULK_DATA   u64be offset, bytes
//!   0x05 BULK_ZERO   u64be offset, u64be length
//!   0x7F END         u32be crc32 of all bytes before it, u32be record count
//! ```

mod error;
pub(crate) mod msgpack;
mod payload;
mod reader;
mod writer;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use error::StreamError;
pub use reader::{BulkDataReader, EndInfo, IncomingSection, Record, StreamReader};
pub use writer::StreamWriter;

/// First 8 bytes of every stream.
pub const MAGIC: [u8; 8] = *b"PSRS-MIG";
/// Format major version written by this build; a stream of another major
/// version is refused.
pub const FORMAT_MAJOR: u16 = 1;
/// Format minor version written by this build; a stream of a newer minor
/// version is refused, older ones are read.
pub const FORMAT_MINOR: u16 = 0;
/// Length of the preamble (magic and format version).
pub const PREAMBLE_LEN: usize = 12;
/// Length of a record header (tag and payload length).
pub const RECORD_HEADER_LEN: usize = 5;

/// Record tags.
pub(crate) mod tag {
    pub const HEADER: u8 = 0x01;
    pub const SECTION: u8 = 0x02;
    pub const BULK_INDEX: u8 = 0x03;
    pub const BULK_DATA: u8 = 0x04;
    pub const BULK_ZERO: u8 = 0x05;
    pub const END: u8 = 0x7f;

    /// Name of a tag, for messages.
    pub fn name(tag: u8) -> &'static str {
        match tag {
            HEADER => "HEADER",
            SECTION => "SECTION",
            BULK_INDEX => "BULK_INDEX",
            BULK_DATA => "BULK_DATA",
            BULK_ZERO => "BULK_ZERO",
            END => "END",
            _ => "unknown",
        }
    }
}

/// Format version read from a stream's preamble.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormatVersion {
    /// Incompatible changes bump it.
    pub major: u16,
    /// Compatible additions bump it.
    pub minor: u16,
}

impl FormatVersion {
    /// The version this build writes.
    pub const CURRENT: Self = Self {
        major: FORMAT_MAJOR,
        minor: FORMAT_MINOR,
    };
}

impl std::fmt::Display for FormatVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// What the source machine was: the destination judges the stream by it
/// (a capability the source did not list is judged by what the source's
/// machine version meant, not by the destination's defaults).
///
/// Encoded with named fields; every field except `extra` must be present.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamHeader {
    /// Machine type as given on the command line, e.g. `pseries-7.2`.
    pub machine_type: String,
    /// Machine version of that type, e.g. `7.2`.
    pub machine_version: String,
    /// CPU model, e.g. `POWER9`.
    pub cpu_model: String,
    /// Interrupt controller mode: `xics`, `xive` or `dual`.
    pub ic_mode: String,
    /// Effective capability levels, by capability name (e.g. `cfpc` -> 1).
    pub caps: BTreeMap<String, u8>,
    /// Number of vCPUs.
    pub vcpus: u32,
    /// Software that wrote the stream, e.g. `pseries-rs 0.1.0`.
    pub producer: String,
    /// Free-form facts for diagnostics (e.g. host name, time), never used
    /// for compatibility decisions by this crate.
    #[serde(default)]
    pub extra: BTreeMap<String, String>,
}

impl StreamHeader {
    /// A header with no capabilities, one vCPU and this crate as producer;
    /// fill in the rest with the public fields.
    pub fn new(machine_type: &str, machine_version: &str, cpu_model: &str, ic_mode: &str) -> Self {
        Self {
            machine_type: machine_type.to_owned(),
            machine_version: machine_version.to_owned(),
            cpu_model: cpu_model.to_owned(),
            ic_mode: ic_mode.to_owned(),
            caps: BTreeMap::new(),
            vcpus: 1,
            producer: concat!("pseries-rs ", env!("CARGO_PKG_VERSION")).to_owned(),
            extra: BTreeMap::new(),
        }
    }
}

/// One bulk section (guest RAM and other large byte ranges), declared in the
/// BULK_INDEX record before any of its data, so that the destination can
/// refuse it before anything is written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BulkDecl {
    /// Section name, e.g. `ram`.
    pub name: String,
    /// Instance id.
    pub instance_id: u32,
    /// Version of the content's layout.
    pub version_id: u32,
    /// Length in bytes; the data records cover `0..len` exactly, in order.
    pub len: u64,
}

/// Limits the reader enforces before it allocates or recurses: a stream over
/// any of them is refused with [`StreamError::LimitExceeded`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest payload of a HEADER, SECTION or BULK_INDEX record.
    pub max_record_len: u32,
    /// Largest total of HEADER, SECTION and BULK_INDEX payloads (everything
    /// the loader keeps in memory until it applies).
    pub max_device_bytes: u64,
    /// Most SECTION records.
    pub max_sections: u32,
    /// Most subsections in one section.
    pub max_subsections: u32,
    /// Longest section or subsection name, in bytes.
    pub max_name_len: u32,
    /// Deepest nesting of MessagePack arrays and maps (at most 64).
    pub max_depth: u32,
    /// Most elements in one MessagePack array or map.
    pub max_container_len: u32,
    /// Most bulk sections.
    pub max_bulk_sections: u32,
    /// Largest BULK_DATA chunk, in bytes.
    pub max_bulk_chunk: u32,
}

/// Hard ceiling of [`Limits::max_depth`]: the validator's stack is this deep.
pub const MAX_DEPTH_CEILING: u32 = 64;

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_record_len: 64 << 20,
            max_device_bytes: 1 << 30,
            max_sections: 1 << 16,
            max_subsections: 256,
            max_name_len: 255,
            max_depth: 32,
            max_container_len: 1 << 24,
            max_bulk_sections: 256,
            max_bulk_chunk: 64 << 20,
        }
    }
}
