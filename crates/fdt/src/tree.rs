//! The in-memory tree: what the builder produces and the reader returns.
//!
//! Values are kept as the raw big-endian bytes of the blob; the typed
//! getters decode them on demand and say precisely why a value does not fit
//! the asked type.

use crate::names::join_path;

/// One entry of the memory reservation map (`/memreserve/` in dts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Reservation {
    /// First reserved guest-physical address.
    pub address: u64,
    /// Number of reserved bytes (never 0 in a valid map).
    pub size: u64,
}

/// A property: a name and its raw value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Property {
    /// The property name, e.g. `ibm,ppc-interrupt-server#s`.
    pub name: String,
    /// The value as stored in the blob (big-endian cells, NUL-terminated
    /// strings, or raw bytes); empty for a boolean property.
    pub value: Vec<u8>,
}

/// A node: its name, properties and subnodes, in blob order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Node {
    /// `base[@unit-address]`; empty for the root.
    pub name: String,
    /// Properties in blob order; names are unique within a node.
    pub properties: Vec<Property>,
    /// Subnodes in blob order; names are unique within a node.
    pub children: Vec<Node>,
}

/// A whole flattened device tree: header fields, reservations and the root.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Fdt {
    /// The header's `boot_cpuid_phys`: the boot CPU's physical id (on sPAPR,
    /// its interrupt server number).
    pub boot_cpuid_phys: u32,
    /// The memory reservation map, in blob order.
    pub reservations: Vec<Reservation>,
    /// The root node (named `""`).
    pub root: Node,
}

/// Why a property could not be read as the asked type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PropertyError {
    /// No node at the path.
    #[error("no node {0}")]
    NoNode(String),
    /// The node has no such property.
    #[error("no property {0}")]
    Missing(String),
    /// The value length does not fit the type.
    #[error("property {name} has {len} bytes, expected {expected}")]
    BadLength {
        /// Property name.
        name: String,
        /// Actual length in bytes.
        len: usize,
        /// What was expected, e.g. "4" or "a multiple of 8".
        expected: &'static str,
    },
    /// The value is not a NUL-terminated UTF-8 string (list).
    #[error("property {0} is not a NUL-terminated UTF-8 string")]
    NotString(String),
    /// A cell count (`#address-cells`, `#size-cells`) this API cannot decode.
    #[error("{which} = {cells} is not supported here (0 to 2)")]
    UnsupportedCells {
        /// `#address-cells` or `#size-cells`.
        which: &'static str,
        /// The value found.
        cells: u32,
    },
}

fn be_u32(b: &[u8]) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[..4]);
    u32::from_be_bytes(a)
}

fn be_u64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_be_bytes(a)
}

impl Property {
    /// Creates a property from a name and raw value.
    pub fn new(name: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        Property {
            name: name.into(),
            value: value.into(),
        }
    }

    fn bad_len(&self, expected: &'static str) -> PropertyError {
        PropertyError::BadLength {
            name: self.name.clone(),
            len: self.value.len(),
            expected,
        }
    }

    /// True for a boolean (empty) property.
    pub fn is_empty(&self) -> bool {
        self.value.is_empty()
    }

    /// The value as one 32-bit cell.
    pub fn as_u32(&self) -> Result<u32, PropertyError> {
        if self.value.len() != 4 {
            return Err(self.bad_len("4"));
        }
        Ok(be_u32(&self.value))
    }

    /// The value as one 64-bit number (two cells).
    pub fn as_u64(&self) -> Result<u64, PropertyError> {
        if self.value.len() != 8 {
            return Err(self.bad_len("8"));
        }
        Ok(be_u64(&self.value))
    }

    /// The value as a list of 32-bit cells.
    pub fn as_cells(&self) -> Result<Vec<u32>, PropertyError> {
        if self.value.len() % 4 != 0 {
            return Err(self.bad_len("a multiple of 4"));
        }
        Ok(self.value.chunks_exact(4).map(be_u32).collect())
    }

    /// The value as a list of 64-bit numbers (two cells each).
    pub fn as_u64s(&self) -> Result<Vec<u64>, PropertyError> {
        if self.value.len() % 8 != 0 {
            return Err(self.bad_len("a multiple of 8"));
        }
        Ok(self.value.chunks_exact(8).map(be_u64).collect())
    }

    /// The value as one string (exactly one NUL, at the end).
    pub fn as_str(&self) -> Result<&str, PropertyError> {
        match self.as_strings()?.as_slice() {
            [one] => Ok(one),
            _ => Err(PropertyError::NotString(self.name.clone())),
        }
    }

    /// The value as a string list (each string NUL-terminated).
    pub fn as_strings(&self) -> Result<Vec<&str>, PropertyError> {
        let not_string = || PropertyError::NotString(self.name.clone());
        let body = self.value.strip_suffix(&[0]).ok_or_else(not_string)?;
        body.split(|&b| b == 0)
            .map(|s| std::str::from_utf8(s).map_err(|_| not_string()))
            .collect()
    }

    /// The value as `(address, size)` pairs with the given cell counts (each
    /// 0 to 2).
    pub fn as_reg(
        &self,
        address_cells: u32,
        size_cells: u32,
    ) -> Result<Vec<(u64, u64)>, PropertyError> {
        for (which, cells) in [
            ("#address-cells", address_cells),
            ("#size-cells", size_cells),
        ] {
            if cells > 2 {
                return Err(PropertyError::UnsupportedCells { which, cells });
            }
        }
        let cells = self.as_cells()?;
        let stride = (address_cells + size_cells) as usize;
        if stride == 0 || cells.len() % stride != 0 {
            return Err(self.bad_len("a multiple of (#address-cells + #size-cells) * 4"));
        }
        let join = |c: &[u32]| c.iter().fold(0u64, |acc, &x| (acc << 32) | u64::from(x));
        Ok(cells
            .chunks_exact(stride)
            .map(|e| {
                let (a, s) = e.split_at(address_cells as usize);
                (join(a), join(s))
            })
            .collect())
    }
}

impl Node {
    /// Creates an empty node.
    pub fn new(name: impl Into<String>) -> Self {
        Node {
            name: name.into(),
            ..Node::default()
        }
    }

    /// The name before `@`.
    pub fn base_name(&self) -> &str {
        self.name.split_once('@').map_or(&self.name, |(b, _)| b)
    }

    /// The unit address after `@`, if any.
    pub fn unit_address(&self) -> Option<&str> {
        self.name.split_once('@').map(|(_, u)| u)
    }

    /// The subnode called `name`. As libfdt does, a name without `@` also
    /// matches the first subnode whose base name it is (`memory` finds
    /// `memory@0`), after an exact match is looked for.
    pub fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name).or_else(|| {
            if name.contains('@') {
                None
            } else {
                self.children.iter().find(|c| c.base_name() == name)
            }
        })
    }

    /// The property called `name`.
    pub fn property(&self, name: &str) -> Option<&Property> {
        self.properties.iter().find(|p| p.name == name)
    }

    /// True when the node has the property.
    pub fn has_property(&self, name: &str) -> bool {
        self.property(name).is_some()
    }

    /// The property called `name`, or [`PropertyError::Missing`].
    pub fn get(&self, name: &str) -> Result<&Property, PropertyError> {
        self.property(name)
            .ok_or_else(|| PropertyError::Missing(name.to_owned()))
    }

    /// The raw bytes of a property.
    pub fn get_bytes(&self, name: &str) -> Result<&[u8], PropertyError> {
        Ok(&self.get(name)?.value)
    }

    /// A one-cell property.
    pub fn get_u32(&self, name: &str) -> Result<u32, PropertyError> {
        self.get(name)?.as_u32()
    }

    /// A two-cell (64-bit) property.
    pub fn get_u64(&self, name: &str) -> Result<u64, PropertyError> {
        self.get(name)?.as_u64()
    }

    /// A cell-list property.
    pub fn get_cells(&self, name: &str) -> Result<Vec<u32>, PropertyError> {
        self.get(name)?.as_cells()
    }

    /// A list of 64-bit numbers.
    pub fn get_u64s(&self, name: &str) -> Result<Vec<u64>, PropertyError> {
        self.get(name)?.as_u64s()
    }

    /// A single-string property.
    pub fn get_str(&self, name: &str) -> Result<&str, PropertyError> {
        self.get(name)?.as_str()
    }

    /// A string-list property.
    pub fn get_strings(&self, name: &str) -> Result<Vec<&str>, PropertyError> {
        self.get(name)?.as_strings()
    }

    /// `#address-cells` of this node, 2 when absent (Devicetree spec default).
    pub fn address_cells(&self) -> Result<u32, PropertyError> {
        match self.property("#address-cells") {
            Some(p) => p.as_u32(),
            None => Ok(2),
        }
    }

    /// `#size-cells` of this node, 1 when absent (Devicetree spec default).
    pub fn size_cells(&self) -> Result<u32, PropertyError> {
        match self.property("#size-cells") {
            Some(p) => p.as_u32(),
            None => Ok(1),
        }
    }
}

impl Fdt {
    /// The node at an absolute path such as `/cpus/PowerPC,POWER9@0`;
    /// `/` is the root. Components without `@` match as in [`Node::child`].
    pub fn node(&self, path: &str) -> Option<&Node> {
        let rest = path.strip_prefix('/')?;
        let mut node = &self.root;
        for component in rest.split('/').filter(|c| !c.is_empty()) {
            node = node.child(component)?;
        }
        Some(node)
    }

    /// The node at `path`, or [`PropertyError::NoNode`].
    pub fn get_node(&self, path: &str) -> Result<&Node, PropertyError> {
        self.node(path)
            .ok_or_else(|| PropertyError::NoNode(path.to_owned()))
    }

    /// The `reg` of the node at `path`, decoded with its parent's
    /// `#address-cells` and `#size-cells` (defaults 2 and 1).
    pub fn reg(&self, path: &str) -> Result<Vec<(u64, u64)>, PropertyError> {
        let node = self.get_node(path)?;
        let parent = match path.trim_end_matches('/').rsplit_once('/') {
            Some(("", _)) | None => &self.root,
            Some((parent, _)) => self.get_node(parent)?,
        };
        node.get("reg")?
            .as_reg(parent.address_cells()?, parent.size_cells()?)
    }

    /// Every node with its absolute path, parents before children.
    pub fn nodes(&self) -> Vec<(String, &Node)> {
        let mut out = Vec::new();
        let mut stack = vec![("/".to_owned(), &self.root)];
        while let Some((path, node)) = stack.pop() {
            for child in node.children.iter().rev() {
                stack.push((join_path(&path, &child.name), child));
            }
            out.push((path, node));
        }
        out
    }
}
