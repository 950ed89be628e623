//! Inspecting a stream without loading it, in the spirit of QEMU's
//! `scripts/analyze-migration.py`: the header, every section with its fields
//! decoded from MessagePack, the bulk sections' sizes, and whether the
//! checksums hold. Output as text or JSON.
//!
//! Inspection uses the same bounded reader as loading, so it is safe on
//! hostile input; a stream that fails part way is shown up to the failure,
//! with the error.

use std::fmt::Write as _;
use std::io::Read;

use serde_json::{json, Map, Value};

use crate::stream::{EndInfo, FormatVersion, Limits, Record, StreamHeader, StreamReader};
use crate::MigrationError;

/// One subsection, decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct SubsectionSummary {
    /// Subsection name.
    pub name: String,
    /// Version written.
    pub version_id: u32,
    /// Fields as JSON.
    pub fields: Value,
}

/// One device section, decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct SectionSummary {
    /// Section name.
    pub name: String,
    /// Instance id.
    pub instance_id: u32,
    /// Version written.
    pub version_id: u32,
    /// Stream offset of the record.
    pub offset: u64,
    /// Payload length.
    pub len: u32,
    /// Fields as JSON (binary as a `0x`-prefixed hex string).
    pub fields: Value,
    /// Subsections present.
    pub subsections: Vec<SubsectionSummary>,
}

/// One bulk section: its declaration and how its data travelled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkSummary {
    /// Name.
    pub name: String,
    /// Instance id.
    pub instance_id: u32,
    /// Version written.
    pub version_id: u32,
    /// Declared length.
    pub len: u64,
    /// BULK_DATA records.
    pub data_records: u64,
    /// Bytes carried by them.
    pub data_bytes: u64,
    /// BULK_ZERO records.
    pub zero_records: u64,
    /// Zero bytes they stand for.
    pub zero_bytes: u64,
}

/// What a stream holds, as far as it could be read.
#[derive(Debug, Clone, PartialEq)]
pub struct Inspection {
    /// Bytes read.
    pub stream_len: u64,
    /// Format version (absent if the preamble was unreadable).
    pub format: Option<FormatVersion>,
    /// Header (absent if unreadable).
    pub header: Option<StreamHeader>,
    /// Device sections, in stream order.
    pub sections: Vec<SectionSummary>,
    /// Bulk sections.
    pub bulk: Vec<BulkSummary>,
    /// The END record, if it was reached and its checks held.
    pub end: Option<EndInfo>,
    /// Why reading stopped early.
    pub error: Option<String>,
}

/// Reads a whole stream and describes it. Never fails: a problem is
/// recorded in [`Inspection::error`] with everything read before it.
pub fn inspect<R: Read>(input: R, limits: &Limits) -> Inspection {
    let mut out = Inspection {
        stream_len: 0,
        format: None,
        header: None,
        sections: Vec::new(),
        bulk: Vec::new(),
        end: None,
        error: None,
    };
    let mut reader = match StreamReader::new(std::io::BufReader::new(input), limits.clone()) {
        Ok(r) => r,
        Err(e) => {
            out.error = Some(MigrationError::from(e).to_string());
            return out;
        }
    };
    out.format = Some(reader.format());
    out.header = Some(reader.header().clone());
    loop {
        let rec = reader.next_record();
        out.stream_len = reader.offset();
        match rec {
            Ok(Record::Section(s)) => out.sections.push(SectionSummary {
                fields: msgpack_to_json(&s.state.fields),
                subsections: s
                    .state
                    .subsections
                    .iter()
                    .map(|sub| SubsectionSummary {
                        name: sub.name.clone(),
                        version_id: sub.version_id,
                        fields: msgpack_to_json(&sub.fields),
                    })
                    .collect(),
                name: s.name,
                instance_id: s.instance_id,
                version_id: s.version_id,
                offset: s.offset,
                len: s.len,
            }),
            Ok(Record::BulkIndex(decls)) => {
                out.bulk = decls
                    .into_iter()
                    .map(|d| BulkSummary {
                        name: d.name,
                        instance_id: d.instance_id,
                        version_id: d.version_id,
                        len: d.len,
                        data_records: 0,
                        data_bytes: 0,
                        zero_records: 0,
                        zero_bytes: 0,
                    })
                    .collect()
            }
            Ok(Record::BulkData { bulk, len, .. }) => {
                if let Some(b) = out.bulk.get_mut(bulk) {
                    b.data_records += 1;
                    b.data_bytes += len;
                }
            }
            Ok(Record::BulkZero { bulk, len, .. }) => {
                if let Some(b) = out.bulk.get_mut(bulk) {
                    b.zero_records += 1;
                    b.zero_bytes += len;
                }
            }
            Ok(Record::End(e)) => {
                out.end = Some(e);
                return out;
            }
            Err(e) => {
                out.error = Some(MigrationError::from(e).to_string());
                return out;
            }
        }
    }
}

/// Decodes one validated MessagePack value into JSON.
fn msgpack_to_json(bytes: &[u8]) -> Value {
    match rmpv::decode::read_value(&mut &bytes[..]) {
        Ok(v) => value_to_json(&v),
        Err(e) => json!({ "undecodable": e.to_string() }),
    }
}

fn hex(b: &[u8]) -> String {
    let mut s = String::with_capacity(2 + 2 * b.len());
    s.push_str("0x");
    for x in b {
        let _ = write!(s, "{x:02x}");
    }
    s
}

fn value_to_json(v: &rmpv::Value) -> Value {
    use rmpv::Value as M;
    match v {
        M::Nil => Value::Null,
        M::Boolean(b) => Value::Bool(*b),
        M::Integer(i) => i
            .as_u64()
            .map(Value::from)
            .or_else(|| i.as_i64().map(Value::from))
            .unwrap_or(Value::Null),
        M::F32(f) => serde_json::Number::from_f64(f64::from(*f))
            .map_or_else(|| Value::String(f.to_string()), Value::Number),
        M::F64(f) => serde_json::Number::from_f64(*f)
            .map_or_else(|| Value::String(f.to_string()), Value::Number),
        M::String(s) => Value::String(s.as_str().map_or_else(|| hex(s.as_bytes()), str::to_owned)),
        M::Binary(b) => Value::String(hex(b)),
        M::Array(a) => Value::Array(a.iter().map(value_to_json).collect()),
        M::Map(m) => {
            let mut obj = Map::with_capacity(m.len());
            for (k, v) in m {
                let key = match k {
                    M::String(s) => s.as_str().map_or_else(|| hex(s.as_bytes()), str::to_owned),
                    other => value_to_json(other).to_string(),
                };
                obj.insert(key, value_to_json(v));
            }
            Value::Object(obj)
        }
        M::Ext(t, d) => json!({ "ext": t, "data": hex(d) }),
    }
}

impl Inspection {
    /// Whether the whole stream was read and both checksums held.
    pub fn is_valid(&self) -> bool {
        self.error.is_none() && self.end.is_some()
    }

    /// The inspection as JSON.
    pub fn to_json(&self) -> Value {
        json!({
            "format": self.format.map(|f| f.to_string()),
            "stream_len": self.stream_len,
            "header": self.header,
            "sections": self.sections.iter().map(|s| json!({
                "name": s.name,
                "instance_id": s.instance_id,
                "version_id": s.version_id,
                "offset": s.offset,
                "len": s.len,
                "fields": s.fields,
                "subsections": s.subsections.iter().map(|sub| json!({
                    "name": sub.name,
                    "version_id": sub.version_id,
                    "fields": sub.fields,
                })).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "bulk": self.bulk.iter().map(|b| json!({
                "name": b.name,
                "instance_id": b.instance_id,
                "version_id": b.version_id,
                "len": b.len,
                "data_records": b.data_records,
                "data_bytes": b.data_bytes,
                "zero_records": b.zero_records,
                "zero_bytes": b.zero_bytes,
            })).collect::<Vec<_>>(),
            "end": self.end.map(|e| json!({
                "crc32": format!("0x{:08x}", e.crc32),
                "records": e.records,
            })),
            "valid": self.is_valid(),
            "error": self.error,
        })
    }

    /// The inspection as text; field dumps longer than 160 characters are
    /// cut unless `full`.
    pub fn to_text(&self, full: bool) -> String {
        let cut = |v: &Value| {
            let s = v.to_string();
            if full || s.len() <= 160 {
                s
            } else {
                let mut end = 160;
                while !s.is_char_boundary(end) {
                    end -= 1;
                }
                format!("{}... ({} more characters)", &s[..end], s.len() - end)
            }
        };
        let mut t = String::new();
        let format = self
            .format
            .map_or_else(|| "?".to_owned(), |f| f.to_string());
        let _ = writeln!(
            t,
            "pseries-rs migration stream, format {format}, {} bytes",
            self.stream_len
        );
        if let Some(h) = &self.header {
            let _ = writeln!(t, "header:");
            let _ = writeln!(
                t,
                "  machine type  {} (version {})",
                h.machine_type, h.machine_version
            );
            let _ = writeln!(t, "  cpu model     {}", h.cpu_model);
            let _ = writeln!(t, "  ic-mode       {}", h.ic_mode);
            let _ = writeln!(t, "  vcpus         {}", h.vcpus);
            let _ = writeln!(t, "  producer      {}", h.producer);
            let caps: Vec<String> = h.caps.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let _ = writeln!(t, "  caps          {}", caps.join(" "));
            for (k, v) in &h.extra {
                let _ = writeln!(t, "  extra         {k}={v}");
            }
        }
        let _ = writeln!(t, "sections: {}", self.sections.len());
        for s in &self.sections {
            let _ = writeln!(
                t,
                "  '{}' instance {} version {} ({} bytes at byte {})",
                s.name, s.instance_id, s.version_id, s.len, s.offset
            );
            let _ = writeln!(t, "    fields {}", cut(&s.fields));
            for sub in &s.subsections {
                let _ = writeln!(
                    t,
                    "    subsection '{}' version {} {}",
                    sub.name,
                    sub.version_id,
                    cut(&sub.fields)
                );
            }
        }
        if !self.bulk.is_empty() {
            let _ = writeln!(t, "bulk sections: {}", self.bulk.len());
            for b in &self.bulk {
                let _ = writeln!(
                    t,
                    "  '{}' instance {} version {}: {} bytes ({} data records, {} bytes; {} zero records, {} bytes)",
                    b.name, b.instance_id, b.version_id, b.len, b.data_records, b.data_bytes, b.zero_records, b.zero_bytes
                );
            }
        }
        match (&self.end, &self.error) {
            (Some(e), None) => {
                let _ = writeln!(
                    t,
                    "end: crc32 0x{:08x} over {} records: valid",
                    e.crc32, e.records
                );
            }
            (_, Some(err)) => {
                let _ = writeln!(t, "error: {err}");
            }
            (None, None) => {
                let _ = writeln!(t, "error: no END record");
            }
        }
        t
    }
}
