//! Serialises a checked [`Fdt`] into a version-17 blob.
//!
//! Layout, as dtc and libfdt produce it: the 40-byte header, the memory
//! reservation map (8-byte aligned, ended by a zero entry), the structure
//! block (big-endian tokens, 4-byte aligned), then the strings block with
//! each property name stored once.

use std::collections::HashMap;

use crate::error::FdtError;
use crate::tree::{Fdt, Node};

/// `0xd00dfeed`, the first word of every blob.
pub const FDT_MAGIC: u32 = 0xd00d_feed;
/// Structure-block token: a node starts; its name follows.
pub(crate) const FDT_BEGIN_NODE: u32 = 1;
/// Structure-block token: the current node ends.
pub(crate) const FDT_END_NODE: u32 = 2;
/// Structure-block token: a property (length, name offset, value) follows.
pub(crate) const FDT_PROP: u32 = 3;
/// Structure-block token: no operation.
pub(crate) const FDT_NOP: u32 = 4;
/// Structure-block token: the end of the structure block.
pub(crate) const FDT_END: u32 = 9;
/// Size of a version-17 header.
pub(crate) const HEADER_LEN: usize = 40;
/// Version written.
pub(crate) const VERSION: u32 = 17;
/// Oldest version a reader must understand to read what is written.
pub(crate) const LAST_COMP_VERSION: u32 = 16;

fn too_large(what: &'static str) -> FdtError {
    FdtError::TooLarge(what)
}

fn u32_len(len: usize, what: &'static str) -> Result<u32, FdtError> {
    u32::try_from(len).map_err(|_| too_large(what))
}

fn pad4(buf: &mut Vec<u8>) {
    while buf.len() % 4 != 0 {
        buf.push(0);
    }
}

struct StructWriter<'a> {
    out: Vec<u8>,
    strings: Vec<u8>,
    offsets: HashMap<&'a str, u32>,
}

impl<'a> StructWriter<'a> {
    fn token(&mut self, t: u32) {
        self.out.extend_from_slice(&t.to_be_bytes());
    }

    fn name_offset(&mut self, name: &'a str) -> Result<u32, FdtError> {
        if let Some(&off) = self.offsets.get(name) {
            return Ok(off);
        }
        let off = u32_len(self.strings.len(), "strings block")?;
        self.strings.extend_from_slice(name.as_bytes());
        self.strings.push(0);
        self.offsets.insert(name, off);
        Ok(off)
    }

    fn node(&mut self, root: &'a Node) -> Result<(), FdtError> {
        // Explicit stack: (node, index of the next child to write).
        let mut work: Vec<(&'a Node, usize)> = vec![(root, 0)];
        while let Some((node, next)) = work.pop() {
            if next == 0 {
                self.token(FDT_BEGIN_NODE);
                self.out.extend_from_slice(node.name.as_bytes());
                self.out.push(0);
                pad4(&mut self.out);
                for p in &node.properties {
                    let nameoff = self.name_offset(&p.name)?;
                    self.token(FDT_PROP);
                    self.token(u32_len(p.value.len(), "property value")?);
                    self.token(nameoff);
                    self.out.extend_from_slice(&p.value);
                    pad4(&mut self.out);
                }
            }
            match node.children.get(next) {
                Some(child) => {
                    work.push((node, next + 1));
                    work.push((child, 0));
                }
                None => self.token(FDT_END_NODE),
            }
        }
        Ok(())
    }
}

/// Writes `fdt` as a blob. The tree is assumed to be checked already (the
/// builder's `finish` or `Fdt::to_dtb`); only size limits are checked here.
pub(crate) fn write_blob(fdt: &Fdt) -> Result<Vec<u8>, FdtError> {
    let mut blob = vec![0u8; HEADER_LEN];
    let off_mem_rsvmap = blob.len();
    for r in &fdt.reservations {
        blob.extend_from_slice(&r.address.to_be_bytes());
        blob.extend_from_slice(&r.size.to_be_bytes());
    }
    blob.extend_from_slice(&[0u8; 16]);
    let off_dt_struct = blob.len();

    let mut sw = StructWriter {
        out: blob,
        strings: Vec::new(),
        offsets: HashMap::new(),
    };
    sw.node(&fdt.root)?;
    sw.token(FDT_END);
    let mut blob = sw.out;
    let size_dt_struct = blob.len() - off_dt_struct;
    let off_dt_strings = blob.len();
    let size_dt_strings = sw.strings.len();
    blob.extend_from_slice(&sw.strings);
    let totalsize = blob.len();

    let header = [
        FDT_MAGIC,
        u32_len(totalsize, "blob")?,
        u32_len(off_dt_struct, "blob")?,
        u32_len(off_dt_strings, "blob")?,
        u32_len(off_mem_rsvmap, "blob")?,
        VERSION,
        LAST_COMP_VERSION,
        fdt.boot_cpuid_phys,
        u32_len(size_dt_strings, "strings block")?,
        u32_len(size_dt_struct, "structure block")?,
    ];
    for (i, word) in header.iter().enumerate() {
        blob[i * 4..i * 4 + 4].copy_from_slice(&word.to_be_bytes());
    }
    Ok(blob)
}
