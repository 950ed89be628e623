//! Renders a tree as dts text, byte for byte as `dtc -I dtb -O dts` (1.6)
//! prints it, so a rendered tree can be diffed against QEMU's dumped trees.
//!
//! dtc guesses each value's type from its bytes: a string (list) when every
//! byte is printable or one of `\a\b\t\n\v\f\r` or NUL, the last byte is NUL
//! and NULs are no more than the other bytes; otherwise cells when the
//! length is a multiple of 4; otherwise bytes.

use std::fmt::Write;

use crate::tree::{Fdt, Node};

fn printable(b: u8) -> bool {
    (0x20..=0x7e).contains(&b)
}

fn looks_like_string(v: &[u8]) -> bool {
    let nuls = v.iter().filter(|&&b| b == 0).count();
    v.last() == Some(&0)
        && v.iter()
            .all(|&b| printable(b) || b == 0 || b"\x07\x08\t\n\x0b\x0c\r".contains(&b))
        && nuls <= v.len() - nuls
}

/// Formats a property value as dtc does: `"str"`, `<0x01 0x02>` or
/// `[01 02 03]`; empty for a boolean property.
pub fn format_value(v: &[u8]) -> String {
    let mut out = String::new();
    if v.is_empty() {
        return out;
    }
    if looks_like_string(v) {
        out.push('"');
        for &b in &v[..v.len() - 1] {
            match b {
                0 => out.push_str("\\0"),
                0x07 => out.push_str("\\a"),
                0x08 => out.push_str("\\b"),
                b'\t' => out.push_str("\\t"),
                b'\n' => out.push_str("\\n"),
                0x0b => out.push_str("\\v"),
                0x0c => out.push_str("\\f"),
                b'\r' => out.push_str("\\r"),
                b'\\' => out.push_str("\\\\"),
                b'"' => out.push_str("\\\""),
                b => out.push(char::from(b)),
            }
        }
        out.push('"');
    } else if v.len() % 4 == 0 {
        out.push('<');
        for (i, c) in v.chunks_exact(4).enumerate() {
            let cell = u32::from_be_bytes([c[0], c[1], c[2], c[3]]);
            if i > 0 {
                out.push(' ');
            }
            let _ = write!(out, "{cell:#04x}");
        }
        out.push('>');
    } else {
        out.push('[');
        for (i, b) in v.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            let _ = write!(out, "{b:02x}");
        }
        out.push(']');
    }
    out
}

fn tabs(out: &mut String, level: usize) {
    out.extend(std::iter::repeat_n('\t', level));
}

fn open_node(out: &mut String, n: &Node, level: usize) {
    tabs(out, level);
    if n.name.is_empty() {
        out.push_str("/ {\n");
    } else {
        let _ = writeln!(out, "{} {{", n.name);
    }
    for p in &n.properties {
        tabs(out, level + 1);
        out.push_str(&p.name);
        if p.value.is_empty() {
            out.push_str(";\n");
        } else {
            let _ = writeln!(out, " = {};", format_value(&p.value));
        }
    }
}

impl Fdt {
    /// The tree as dts source, identical to `dtc -I dtb -O dts` output for
    /// the same blob (`boot_cpuid_phys` is not shown, as in dtc).
    pub fn to_dts(&self) -> String {
        let mut out = String::from("/dts-v1/;\n\n");
        for r in &self.reservations {
            let _ = writeln!(out, "/memreserve/\t{:#018x} {:#018x};", r.address, r.size);
        }
        // Explicit stack of (node, index of the next child), so any depth
        // renders without recursion.
        let mut work = vec![(&self.root, 0usize)];
        while let Some((n, next)) = work.pop() {
            let level = work.len();
            if next == 0 {
                open_node(&mut out, n, level);
            }
            match n.children.get(next) {
                Some(child) => {
                    out.push('\n');
                    work.push((n, next + 1));
                    work.push((child, 0));
                }
                None => {
                    tabs(&mut out, level);
                    out.push_str("};\n");
                }
            }
        }
        out
    }
}
