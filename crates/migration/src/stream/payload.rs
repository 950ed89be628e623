//! Decoding of the MessagePack payloads of SECTION and BULK_INDEX records:
//! keys in any order, each exactly once, no unknown key, every value
//! validated within the limits.

use super::msgpack::Parser;
use super::reader::IncomingSection;
use super::{BulkDecl, Limits, StreamError};
use crate::{SectionState, SubsectionState};

/// Parses a SECTION payload (keys in any order, each exactly once).
pub(crate) fn parse_section(
    payload: &[u8],
    base: u64,
    at: u64,
    limits: &Limits,
) -> Result<IncomingSection, StreamError> {
    let mut p = Parser::new(payload, base, "SECTION record");
    let pairs = p.map_len(limits)?;
    let (mut name, mut instance_id, mut version_id, mut fields, mut subs) =
        (None, None, None, None, None);
    for _ in 0..pairs {
        let key_at = p.offset();
        let key = p.str(32, "key")?;
        let dup = match key {
            "name" => name
                .replace(p.str(limits.max_name_len, "section name")?)
                .is_some(),
            "instance_id" => instance_id.replace(p.u32("instance_id")?).is_some(),
            "version_id" => version_id.replace(p.u32("version_id")?).is_some(),
            "fields" => fields.replace(p.skip_value(limits)?).is_some(),
            "subsections" => subs
                .replace(parse_subsections(&mut p, payload, limits)?)
                .is_some(),
            other => {
                return Err(StreamError::malformed(
                    "SECTION record",
                    key_at,
                    format!("unknown key '{other}'"),
                ))
            }
        };
        if dup {
            return Err(StreamError::malformed(
                "SECTION record",
                key_at,
                format!("key '{key}' appears twice"),
            ));
        }
    }
    p.finish()?;
    let missing = |k: &str| StreamError::malformed("SECTION record", at, format!("no '{k}' key"));
    let name = name.ok_or_else(|| missing("name"))?;
    if name.is_empty() {
        return Err(StreamError::malformed(
            "SECTION record",
            at,
            "empty section name",
        ));
    }
    let fields = fields.ok_or_else(|| missing("fields"))?;
    Ok(IncomingSection {
        name: name.to_owned(),
        instance_id: instance_id.ok_or_else(|| missing("instance_id"))?,
        version_id: version_id.ok_or_else(|| missing("version_id"))?,
        state: SectionState {
            fields: payload[fields].to_vec(),
            subsections: subs.ok_or_else(|| missing("subsections"))?,
        },
        offset: at,
        len: payload.len() as u32,
    })
}

fn parse_subsections(
    p: &mut Parser<'_>,
    payload: &[u8],
    limits: &Limits,
) -> Result<Vec<SubsectionState>, StreamError> {
    let at = p.offset();
    let n = p.array_len(limits)?;
    if n > limits.max_subsections {
        return Err(StreamError::limit(
            "subsection count",
            n.into(),
            limits.max_subsections.into(),
            at,
        ));
    }
    let mut out: Vec<SubsectionState> = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let sub_at = p.offset();
        let pairs = p.map_len(limits)?;
        let (mut name, mut version_id, mut fields) = (None, None, None);
        for _ in 0..pairs {
            let key_at = p.offset();
            let key = p.str(32, "key")?;
            let dup = match key {
                "name" => name
                    .replace(p.str(limits.max_name_len, "subsection name")?)
                    .is_some(),
                "version_id" => version_id.replace(p.u32("version_id")?).is_some(),
                "fields" => fields.replace(p.skip_value(limits)?).is_some(),
                other => {
                    return Err(StreamError::malformed(
                        "subsection",
                        key_at,
                        format!("unknown key '{other}'"),
                    ))
                }
            };
            if dup {
                return Err(StreamError::malformed(
                    "subsection",
                    key_at,
                    format!("key '{key}' appears twice"),
                ));
            }
        }
        let missing =
            |k: &str| StreamError::malformed("subsection", sub_at, format!("no '{k}' key"));
        let name = name.ok_or_else(|| missing("name"))?;
        if name.is_empty() || out.iter().any(|s| s.name == name) {
            return Err(StreamError::malformed(
                "subsection",
                sub_at,
                format!("subsection name '{name}' is empty or appears twice"),
            ));
        }
        out.push(SubsectionState {
            name: name.to_owned(),
            version_id: version_id.ok_or_else(|| missing("version_id"))?,
            fields: payload[fields.ok_or_else(|| missing("fields"))?].to_vec(),
        });
    }
    Ok(out)
}

pub(crate) fn parse_bulk_index(
    payload: &[u8],
    base: u64,
    limits: &Limits,
) -> Result<(u32, Vec<BulkDecl>), StreamError> {
    let mut p = Parser::new(payload, base, "BULK_INDEX record");
    let pairs = p.map_len(limits)?;
    let (mut crc, mut decls) = (None, None);
    for _ in 0..pairs {
        let key_at = p.offset();
        let key = p.str(32, "key")?;
        let dup = match key {
            "crc32" => crc.replace(p.u32("crc32")?).is_some(),
            "sections" => decls.replace(parse_bulk_decls(&mut p, limits)?).is_some(),
            other => {
                return Err(StreamError::malformed(
                    "BULK_INDEX record",
                    key_at,
                    format!("unknown key '{other}'"),
                ))
            }
        };
        if dup {
            return Err(StreamError::malformed(
                "BULK_INDEX record",
                key_at,
                format!("key '{key}' appears twice"),
            ));
        }
    }
    p.finish()?;
    match (crc, decls) {
        (Some(c), Some(d)) => Ok((c, d)),
        _ => Err(StreamError::malformed(
            "BULK_INDEX record",
            base,
            "needs 'crc32' and 'sections'",
        )),
    }
}

fn parse_bulk_decls(p: &mut Parser<'_>, limits: &Limits) -> Result<Vec<BulkDecl>, StreamError> {
    let at = p.offset();
    let n = p.array_len(limits)?;
    if n > limits.max_bulk_sections {
        return Err(StreamError::limit(
            "bulk section count",
            n.into(),
            limits.max_bulk_sections.into(),
            at,
        ));
    }
    let mut out: Vec<BulkDecl> = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let d_at = p.offset();
        let pairs = p.map_len(limits)?;
        let (mut name, mut instance_id, mut version_id, mut len) = (None, None, None, None);
        for _ in 0..pairs {
            let key_at = p.offset();
            let key = p.str(32, "key")?;
            let dup = match key {
                "name" => name
                    .replace(p.str(limits.max_name_len, "bulk section name")?)
                    .is_some(),
                "instance_id" => instance_id.replace(p.u32("instance_id")?).is_some(),
                "version_id" => version_id.replace(p.u32("version_id")?).is_some(),
                "len" => len.replace(p.uint("len")?).is_some(),
                other => {
                    return Err(StreamError::malformed(
                        "bulk section",
                        key_at,
                        format!("unknown key '{other}'"),
                    ))
                }
            };
            if dup {
                return Err(StreamError::malformed(
                    "bulk section",
                    key_at,
                    format!("key '{key}' appears twice"),
                ));
            }
        }
        let (Some(name), Some(instance_id), Some(version_id), Some(len)) =
            (name, instance_id, version_id, len)
        else {
            return Err(StreamError::malformed(
                "bulk section",
                d_at,
                "needs 'name', 'instance_id', 'version_id' and 'len'",
            ));
        };
        if name.is_empty()
            || out
                .iter()
                .any(|d| d.name == name && d.instance_id == instance_id)
        {
            return Err(StreamError::malformed(
                "bulk section",
                d_at,
                format!("bulk section '{name}' {instance_id} is unnamed or declared twice"),
            ));
        }
        out.push(BulkDecl {
            name: name.to_owned(),
            instance_id,
            version_id,
            len,
        });
    }
    Ok(out)
}
