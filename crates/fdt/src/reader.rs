//! Parses a blob into an [`Fdt`], checking everything a hostile blob could
//! get wrong.
//!
//! A guest can hand a blob back (CAS, `H_UPDATE_DT`), so parsing is
//! bounded and never panics: every offset and length is checked against
//! the block it lies in, nesting is capped at [`MAX_DEPTH`], names at
//! [`MAX_NAME_LEN`] bytes, and work and memory are linear in the blob size
//! (the tree takes at most a few dozen times the blob's bytes). The caller
//! bounds the blob size itself (QEMU caps what a guest hands back at 1 MiB).

use std::collections::HashSet;

use crate::names::{join_path, MAX_DEPTH, MAX_NAME_LEN};
use crate::tree::{Fdt, Node, Property, Reservation};
use crate::writer::{FDT_BEGIN_NODE, FDT_END, FDT_END_NODE, FDT_MAGIC, FDT_NOP, FDT_PROP};

/// Why a blob was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    /// Shorter than the header.
    #[error("blob of {len} bytes is shorter than its {need}-byte header")]
    TooShort {
        /// Bytes given.
        len: usize,
        /// Header size needed.
        need: usize,
    },
    /// The first word is not `0xd00dfeed`.
    #[error("bad magic {0:#010x} (expected 0xd00dfeed)")]
    BadMagic(u32),
    /// `totalsize` is larger than the bytes given or smaller than the header.
    #[error("totalsize {totalsize:#x} does not fit the {len:#x} bytes given")]
    BadTotalSize {
        /// The header's `totalsize`.
        totalsize: u32,
        /// Bytes given.
        len: usize,
    },
    /// Only versions 16 and 17 (and later ones compatible with 17) are read.
    #[error("unsupported blob version {version} (last compatible {last_comp_version})")]
    UnsupportedVersion {
        /// The header's `version`.
        version: u32,
        /// The header's `last_comp_version`.
        last_comp_version: u32,
    },
    /// A block lies outside `totalsize` or overlaps the header.
    #[error("{block} (offset {offset:#x}, size {size:#x}) is outside the blob")]
    BlockOutOfBounds {
        /// Which block.
        block: &'static str,
        /// Its offset.
        offset: u32,
        /// Its size.
        size: u32,
    },
    /// A block offset breaks its alignment.
    #[error("{block} offset {offset:#x} is not {align}-byte aligned")]
    Misaligned {
        /// Which block.
        block: &'static str,
        /// Its offset.
        offset: u32,
        /// Required alignment.
        align: u32,
    },
    /// The reservation map runs off the blob without a zero entry.
    #[error("memory reservation map has no terminating entry")]
    UnterminatedReservations,
    /// The structure block ends in the middle of a token, name or value.
    #[error("structure block truncated at offset {0:#x}")]
    Truncated(usize),
    /// An unknown token.
    #[error("unknown token {token:#x} at structure offset {offset:#x}")]
    BadToken {
        /// The token word.
        token: u32,
        /// Its offset in the structure block.
        offset: usize,
    },
    /// Tokens in an order the format forbids.
    #[error("{what} at structure offset {offset:#x}")]
    BadStructure {
        /// What is wrong.
        what: &'static str,
        /// Offset in the structure block.
        offset: usize,
    },
    /// A property's name offset is outside the strings block, or the name
    /// is not NUL-terminated within [`MAX_NAME_LEN`] bytes.
    #[error("bad property name offset {0:#x}")]
    BadNameOffset(u32),
    /// A name is not UTF-8, too long, empty or holds `/`.
    #[error("bad {kind} name at structure offset {offset:#x}")]
    BadName {
        /// "node" or "property".
        kind: &'static str,
        /// Offset in the structure block.
        offset: usize,
    },
    /// Two properties of a node share a name.
    #[error("duplicate property {name} in {node}")]
    DuplicateProperty {
        /// Path of the node.
        node: String,
        /// The name.
        name: String,
    },
    /// Two subnodes share a name.
    #[error("duplicate node {0}")]
    DuplicateNode(String),
    /// Nesting deeper than [`MAX_DEPTH`].
    #[error("nodes nested deeper than 64 at structure offset {0:#x}")]
    TooDeep(usize),
}

struct Frame {
    node: Node,
    path: String,
    property_names: HashSet<String>,
    child_names: HashSet<String>,
}

fn word(b: &[u8], off: usize) -> Option<u32> {
    let bytes = b.get(off..off.checked_add(4)?)?;
    Some(u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
}

fn dword(b: &[u8], off: usize) -> Option<u64> {
    Some((u64::from(word(b, off)?) << 32) | u64::from(word(b, off.checked_add(4)?)?))
}

fn align4(x: usize) -> usize {
    x.div_ceil(4).saturating_mul(4)
}

/// `(offset, size)` of a block, checked against `[header_len, totalsize)`.
fn block<'a>(
    blob: &'a [u8],
    name: &'static str,
    offset: u32,
    size: u32,
    header_len: usize,
) -> Result<&'a [u8], ReadError> {
    let out = ReadError::BlockOutOfBounds {
        block: name,
        offset,
        size,
    };
    let start = offset as usize;
    let end = start.checked_add(size as usize).ok_or(out.clone())?;
    if start < header_len {
        return Err(out);
    }
    blob.get(start..end).ok_or(out)
}

impl Fdt {
    /// Parses a blob (versions 16 and 17). Bytes after `totalsize` are
    /// ignored, so a blob can be read from a larger buffer.
    pub fn from_dtb(blob: &[u8]) -> Result<Fdt, ReadError> {
        let header = |i: usize| word(blob, i * 4).unwrap_or(0);
        if blob.len() < 36 {
            return Err(ReadError::TooShort {
                len: blob.len(),
                need: 36,
            });
        }
        if header(0) != FDT_MAGIC {
            return Err(ReadError::BadMagic(header(0)));
        }
        let (version, last_comp_version) = (header(5), header(6));
        if version < 16 || last_comp_version > 17 {
            return Err(ReadError::UnsupportedVersion {
                version,
                last_comp_version,
            });
        }
        let header_len = if version >= 17 { 40 } else { 36 };
        if blob.len() < header_len {
            return Err(ReadError::TooShort {
                len: blob.len(),
                need: header_len,
            });
        }
        let totalsize = header(1);
        if (totalsize as usize) < header_len || totalsize as usize > blob.len() {
            return Err(ReadError::BadTotalSize {
                totalsize,
                len: blob.len(),
            });
        }
        let blob = &blob[..totalsize as usize];
        let (off_struct, off_strings, off_rsvmap) = (header(2), header(3), header(4));
        let size_strings = header(8);
        let size_struct = if version >= 17 {
            header(9)
        } else {
            totalsize.saturating_sub(off_struct)
        };
        for (name, off, align) in [
            ("structure block", off_struct, 4),
            ("memory reservation map", off_rsvmap, 8),
        ] {
            if off % align != 0 {
                return Err(ReadError::Misaligned {
                    block: name,
                    offset: off,
                    align,
                });
            }
        }
        let structure = block(blob, "structure block", off_struct, size_struct, header_len)?;
        let strings = block(blob, "strings block", off_strings, size_strings, header_len)?;
        let rsv_len = totalsize.saturating_sub(off_rsvmap);
        let rsvmap = block(
            blob,
            "memory reservation map",
            off_rsvmap,
            rsv_len,
            header_len,
        )?;

        Ok(Fdt {
            boot_cpuid_phys: header(7),
            reservations: read_reservations(rsvmap)?,
            root: read_structure(structure, strings)?,
        })
    }
}

fn read_reservations(map: &[u8]) -> Result<Vec<Reservation>, ReadError> {
    let mut out = Vec::new();
    let mut off = 0;
    loop {
        let (address, size) = match (dword(map, off), dword(map, off + 8)) {
            (Some(a), Some(s)) => (a, s),
            _ => return Err(ReadError::UnterminatedReservations),
        };
        if size == 0 {
            return Ok(out);
        }
        out.push(Reservation { address, size });
        off += 16;
    }
}

fn property_name(strings: &[u8], nameoff: u32) -> Result<&str, ReadError> {
    let bad = ReadError::BadNameOffset(nameoff);
    let tail = strings.get(nameoff as usize..).ok_or(bad.clone())?;
    let window = &tail[..tail.len().min(MAX_NAME_LEN + 1)];
    let nul = window.iter().position(|&b| b == 0).ok_or(bad.clone())?;
    std::str::from_utf8(&window[..nul]).map_err(|_| bad)
}

fn read_structure(s: &[u8], strings: &[u8]) -> Result<Node, ReadError> {
    let mut stack: Vec<Frame> = Vec::new();
    let mut root: Option<Node> = None;
    let mut off = 0usize;
    loop {
        let token_off = off;
        let token = word(s, off).ok_or(ReadError::Truncated(off))?;
        off += 4;
        let structure = |what| ReadError::BadStructure {
            what,
            offset: token_off,
        };
        match token {
            FDT_BEGIN_NODE => {
                if root.is_some() {
                    return Err(structure("node after the root was closed"));
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(ReadError::TooDeep(token_off));
                }
                let rest = s.get(off..).ok_or(ReadError::Truncated(off))?;
                let window = &rest[..rest.len().min(MAX_NAME_LEN + 1)];
                let bad_name = ReadError::BadName {
                    kind: "node",
                    offset: off,
                };
                let nul = match window.iter().position(|&b| b == 0) {
                    Some(n) => n,
                    None if rest.len() <= MAX_NAME_LEN => return Err(ReadError::Truncated(off)),
                    None => return Err(bad_name),
                };
                let name = std::str::from_utf8(&window[..nul]).map_err(|_| bad_name.clone())?;
                off = align4(off + nul + 1);
                let frame = match stack.last_mut() {
                    None if !name.is_empty() => return Err(bad_name),
                    None => Frame {
                        node: Node::new(""),
                        path: "/".to_owned(),
                        property_names: HashSet::new(),
                        child_names: HashSet::new(),
                    },
                    Some(parent) => {
                        if name.is_empty() || name.contains('/') {
                            return Err(bad_name);
                        }
                        let path = join_path(&parent.path, name);
                        if !parent.child_names.insert(name.to_owned()) {
                            return Err(ReadError::DuplicateNode(path));
                        }
                        Frame {
                            node: Node::new(name),
                            path,
                            property_names: HashSet::new(),
                            child_names: HashSet::new(),
                        }
                    }
                };
                stack.push(frame);
            }
            FDT_END_NODE => {
                let frame = stack
                    .pop()
                    .ok_or_else(|| structure("END_NODE with no open node"))?;
                match stack.last_mut() {
                    Some(parent) => parent.node.children.push(frame.node),
                    None => root = Some(frame.node),
                }
            }
            FDT_PROP => {
                let len = word(s, off).ok_or(ReadError::Truncated(off))?;
                let nameoff = word(s, off + 4).ok_or(ReadError::Truncated(off + 4))?;
                off += 8;
                let end = off
                    .checked_add(len as usize)
                    .ok_or(ReadError::Truncated(off))?;
                let value = s.get(off..end).ok_or(ReadError::Truncated(off))?;
                off = align4(end);
                let frame = stack
                    .last_mut()
                    .ok_or_else(|| structure("property outside any node"))?;
                if !frame.child_names.is_empty() {
                    return Err(structure("property after a subnode"));
                }
                let name = property_name(strings, nameoff)?;
                if name.is_empty() {
                    return Err(ReadError::BadName {
                        kind: "property",
                        offset: token_off,
                    });
                }
                if !frame.property_names.insert(name.to_owned()) {
                    return Err(ReadError::DuplicateProperty {
                        node: frame.path.clone(),
                        name: name.to_owned(),
                    });
                }
                frame.node.properties.push(Property::new(name, value));
            }
            FDT_NOP => {}
            FDT_END => {
                if !stack.is_empty() {
                    return Err(structure("END inside an open node"));
                }
                return root.ok_or_else(|| structure("END before any node"));
            }
            token => {
                return Err(ReadError::BadToken {
                    token,
                    offset: token_off,
                })
            }
        }
    }
}
