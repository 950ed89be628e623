//! Node and property name rules.
//!
//! The builder applies the Devicetree Specification's character sets
//! (v0.4, sections 2.2.1 and 2.2.4) but not its 31-character limit: PAPR
//! and QEMU use longer property names (`ibm,processor-radix-AP-encodings`,
//! `ibm,associativity-reference-points`), and dtc does not enforce it either.
//! Instead both the builder and the reader cap names at [`MAX_NAME_LEN`]
//! bytes, which bounds the work a hostile blob can cause.

/// Longest node or property name, in bytes, that the builder writes and the
/// reader accepts.
pub const MAX_NAME_LEN: usize = 256;

/// Deepest node nesting (the root is depth 1) that the builder writes and the
/// reader accepts; the same limit as Linux's `FDT_MAX_DEPTH`.
pub const MAX_DEPTH: usize = 64;

fn node_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b',' | b'.' | b'_' | b'+' | b'-')
}

fn property_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b',' | b'.' | b'_' | b'+' | b'?' | b'#' | b'-')
}

/// Checks a non-root node name (`base[@unit-address]`); returns why it is
/// invalid.
pub(crate) fn check_node_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("only the root node may have an empty name");
    }
    if name.len() > MAX_NAME_LEN {
        return Err("name is longer than 256 bytes");
    }
    let (base, unit) = match name.split_once('@') {
        Some((base, unit)) => (base, Some(unit)),
        None => (name, None),
    };
    if base.is_empty() {
        return Err("the part before '@' is empty");
    }
    if !base.as_bytes()[0].is_ascii_alphabetic() {
        return Err("a node name must start with a letter");
    }
    if !base.bytes().all(node_char) {
        return Err("a node name may only contain letters, digits and , . _ + -");
    }
    if let Some(unit) = unit {
        if unit.is_empty() {
            return Err("the unit address after '@' is empty");
        }
        if !unit.bytes().all(node_char) {
            return Err("a unit address may only contain letters, digits and , . _ + -");
        }
    }
    Ok(())
}

/// Checks a property name; returns why it is invalid.
pub(crate) fn check_property_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("a property name cannot be empty");
    }
    if name.len() > MAX_NAME_LEN {
        return Err("name is longer than 256 bytes");
    }
    if !name.bytes().all(property_char) {
        return Err("a property name may only contain letters, digits and , . _ + ? # -");
    }
    Ok(())
}

/// Joins a parent path and a child name into the child's path.
pub(crate) fn join_path(parent: &str, name: &str) -> String {
    if parent == "/" {
        format!("/{name}")
    } else {
        format!("{parent}/{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qemu_names_are_valid() {
        for n in [
            "cpus",
            "PowerPC,POWER9@0",
            "interrupt-controller@60302031b0000",
            "ibm,persistent-memory",
            "memory@0",
            "nvram@71000000",
        ] {
            assert_eq!(check_node_name(n), Ok(()), "{n}");
        }
        for p in [
            "ibm,processor-radix-AP-encodings",
            "ibm,associativity-reference-points",
            "#address-cells",
            "64-bit",
            "ibm,pe-total-#msi",
            "linux,phandle",
        ] {
            assert_eq!(check_property_name(p), Ok(()), "{p}");
        }
    }

    #[test]
    fn bad_names_are_refused() {
        for n in ["", "@1", "1cpu", "a b", "a@", "a@b@c", "a/b", "x@y z"] {
            assert!(check_node_name(n).is_err(), "{n:?}");
        }
        for p in ["", "a b", "a/b", "a@b", "é"] {
            assert!(check_property_name(p).is_err(), "{p:?}");
        }
        assert!(check_property_name(&"a".repeat(MAX_NAME_LEN + 1)).is_err());
        assert!(check_property_name(&"a".repeat(MAX_NAME_LEN)).is_ok());
    }

    #[test]
    fn paths_join() {
        assert_eq!(join_path("/", "cpus"), "/cpus");
        assert_eq!(join_path("/cpus", "cpu@0"), "/cpus/cpu@0");
    }
}
