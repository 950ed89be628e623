//! [`FdtBuilder`]: writes a tree node by node, in blob order, and checks
//! every call.
//!
//! The call sequence is the flattened one that libfdt's sequential-write
//! mode, vm-fdt and [`spapr_irq::DtSink`] use: open a node, add its
//! properties, open and close its subnodes, close it. A call that fails
//! returns an [`FdtError`] and changes nothing, so the builder stays usable.

use std::collections::{BTreeSet, HashSet};

use crate::error::FdtError;
use crate::names::{check_node_name, check_property_name, join_path, MAX_DEPTH};
use crate::tree::{Fdt, Node, Property, Reservation};
use crate::writer::write_blob;

/// A node being written.
#[derive(Debug)]
struct OpenNode {
    node: Node,
    path: String,
    property_names: HashSet<String>,
    child_names: HashSet<String>,
    /// `#address-cells` / `#size-cells` this node declared, for its
    /// children's `reg`.
    address_cells: Option<u32>,
    size_cells: Option<u32>,
}

/// Builds a flattened device tree with checked, typed property helpers.
///
/// ```
/// use fdt::{Fdt, FdtBuilder};
///
/// let mut b = FdtBuilder::new();
/// b.begin_node("")?;
/// b.property_u32("#address-cells", 2)?;
/// b.property_u32("#size-cells", 2)?;
/// b.property_string("compatible", "qemu,pseries")?;
/// b.node("memory@0", |b| {
///     b.property_string("device_type", "memory")?;
///     b.property_reg(&[(0, 0x2000_0000)])
/// })?;
/// b.end_node()?;
/// let blob = b.finish_dtb()?;
///
/// let tree = Fdt::from_dtb(&blob).unwrap();
/// assert_eq!(tree.reg("/memory@0").unwrap(), vec![(0, 0x2000_0000)]);
/// # Ok::<(), fdt::FdtError>(())
/// ```
#[derive(Debug, Default)]
pub struct FdtBuilder {
    stack: Vec<OpenNode>,
    root: Option<Node>,
    reservations: Vec<Reservation>,
    boot_cpuid_phys: u32,
    /// Phandles written in a `phandle` property.
    written_phandles: HashSet<u32>,
    /// Phandles handed out by `alloc_phandle`.
    allocated_phandles: BTreeSet<u32>,
}

fn cells_of(value: &[u8]) -> Option<u32> {
    <[u8; 4]>::try_from(value).ok().map(u32::from_be_bytes)
}

impl FdtBuilder {
    /// An empty builder: no reservations, `boot_cpuid_phys` 0.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the header's `boot_cpuid_phys` (the boot CPU's physical id).
    pub fn set_boot_cpuid_phys(&mut self, id: u32) {
        self.boot_cpuid_phys = id;
    }

    /// Adds a memory reservation map entry. Allowed at any time before
    /// `finish`; entries are written sorted by address.
    pub fn reserve_memory(&mut self, address: u64, size: u64) -> Result<(), FdtError> {
        if size == 0 || address.checked_add(size).is_none() {
            return Err(FdtError::InvalidReservation { address, size });
        }
        let new = Reservation { address, size };
        if let Some(existing) = self
            .reservations
            .iter()
            .find(|r| address < r.address + r.size && r.address < address + size)
        {
            return Err(FdtError::OverlappingReservation {
                new,
                existing: *existing,
            });
        }
        self.reservations.push(new);
        self.reservations.sort();
        Ok(())
    }

    /// Path of the innermost open node (`/` for the root, empty before it).
    pub fn current_path(&self) -> &str {
        self.stack.last().map_or("", |n| &n.path)
    }

    /// How many nodes are open (0 before the root and after it is closed).
    pub fn depth(&self) -> usize {
        self.stack.len()
    }

    /// Opens a node: the root (`""`) first, then subnodes of the current
    /// node.
    pub fn begin_node(&mut self, name: &str) -> Result<(), FdtError> {
        let path = match self.stack.last() {
            None if self.root.is_some() => return Err(FdtError::SecondRoot(name.to_owned())),
            None if !name.is_empty() => return Err(FdtError::RootNotFirst(name.to_owned())),
            None => "/".to_owned(),
            Some(parent) => {
                check_node_name(name).map_err(|reason| FdtError::InvalidNodeName {
                    parent: parent.path.clone(),
                    name: name.to_owned(),
                    reason,
                })?;
                let path = join_path(&parent.path, name);
                if parent.child_names.contains(name) {
                    return Err(FdtError::DuplicateNode(path));
                }
                if self.stack.len() >= MAX_DEPTH {
                    return Err(FdtError::TooDeep(path));
                }
                path
            }
        };
        if let Some(parent) = self.stack.last_mut() {
            parent.child_names.insert(name.to_owned());
        }
        self.stack.push(OpenNode {
            node: Node::new(name),
            path,
            property_names: HashSet::new(),
            child_names: HashSet::new(),
            address_cells: None,
            size_cells: None,
        });
        Ok(())
    }

    /// Closes the innermost open node.
    pub fn end_node(&mut self) -> Result<(), FdtError> {
        let open = self.stack.pop().ok_or(FdtError::NoOpenNode("end_node"))?;
        match self.stack.last_mut() {
            Some(parent) => parent.node.children.push(open.node),
            None => self.root = Some(open.node),
        }
        Ok(())
    }

    /// Opens `name`, runs `f` to fill it, and closes it together with any
    /// subnode `f` left open (also when `f` fails), so the nesting stays
    /// balanced. Returns `f`'s error first.
    pub fn node<F>(&mut self, name: &str, f: F) -> Result<(), FdtError>
    where
        F: FnOnce(&mut Self) -> Result<(), FdtError>,
    {
        self.begin_node(name)?;
        let depth = self.stack.len();
        let path = self.current_path().to_owned();
        let filled = f(self);
        if self.stack.len() < depth {
            return filled.and(Err(FdtError::ClosedByClosure(path)));
        }
        while self.stack.len() >= depth {
            self.end_node()?;
        }
        filled
    }

    /// Adds a property with a raw value to the current node. `phandle`
    /// values are checked and recorded; `#address-cells` and `#size-cells`
    /// are remembered for the children's [`FdtBuilder::property_reg`].
    pub fn property(&mut self, name: &str, value: &[u8]) -> Result<(), FdtError> {
        let open = self
            .stack
            .last_mut()
            .ok_or(FdtError::NoOpenNode("property"))?;
        check_property_name(name).map_err(|reason| FdtError::InvalidPropertyName {
            node: open.path.clone(),
            name: name.to_owned(),
            reason,
        })?;
        if open.property_names.contains(name) {
            return Err(FdtError::DuplicateProperty {
                node: open.path.clone(),
                name: name.to_owned(),
            });
        }
        if !open.child_names.is_empty() {
            return Err(FdtError::PropertyAfterSubnode {
                node: open.path.clone(),
                name: name.to_owned(),
            });
        }
        if u32::try_from(value.len()).is_err() {
            return Err(FdtError::TooLarge("property value"));
        }
        if name == "phandle" {
            let ph = cells_of(value).ok_or(FdtError::InvalidPhandle(0))?;
            if ph == 0 || ph == u32::MAX {
                return Err(FdtError::InvalidPhandle(ph));
            }
            if !self.written_phandles.insert(ph) {
                return Err(FdtError::DuplicatePhandle(ph));
            }
        }
        match name {
            "#address-cells" => open.address_cells = cells_of(value),
            "#size-cells" => open.size_cells = cells_of(value),
            _ => {}
        }
        open.property_names.insert(name.to_owned());
        open.node.properties.push(Property::new(name, value));
        Ok(())
    }

    /// Adds an empty (boolean) property, e.g. `interrupt-controller`.
    pub fn property_null(&mut self, name: &str) -> Result<(), FdtError> {
        self.property(name, &[])
    }

    /// Adds one big-endian 32-bit cell.
    pub fn property_u32(&mut self, name: &str, value: u32) -> Result<(), FdtError> {
        self.property(name, &value.to_be_bytes())
    }

    /// Adds one big-endian 64-bit number (two cells).
    pub fn property_u64(&mut self, name: &str, value: u64) -> Result<(), FdtError> {
        self.property(name, &value.to_be_bytes())
    }

    /// Adds a list of 32-bit cells.
    pub fn property_cells(&mut self, name: &str, cells: &[u32]) -> Result<(), FdtError> {
        let bytes: Vec<u8> = cells.iter().flat_map(|c| c.to_be_bytes()).collect();
        self.property(name, &bytes)
    }

    /// Adds a list of 64-bit numbers (two cells each).
    pub fn property_u64s(&mut self, name: &str, values: &[u64]) -> Result<(), FdtError> {
        let bytes: Vec<u8> = values.iter().flat_map(|c| c.to_be_bytes()).collect();
        self.property(name, &bytes)
    }

    /// Adds a NUL-terminated string.
    pub fn property_string(&mut self, name: &str, value: &str) -> Result<(), FdtError> {
        self.property_strings(name, &[value])
    }

    /// Adds a string list (each string NUL-terminated), e.g.
    /// `ibm,hypertas-functions`.
    pub fn property_strings<S: AsRef<str>>(
        &mut self,
        name: &str,
        values: &[S],
    ) -> Result<(), FdtError> {
        let mut bytes = Vec::new();
        for v in values {
            let v = v.as_ref();
            if v.as_bytes().contains(&0) {
                return Err(FdtError::StringContainsNul {
                    node: self.current_path().to_owned(),
                    name: name.to_owned(),
                });
            }
            bytes.extend_from_slice(v.as_bytes());
            bytes.push(0);
        }
        self.property(name, &bytes)
    }

    /// Returns the lowest phandle not yet allocated nor written. It is
    /// reserved for the caller, who writes it with
    /// [`FdtBuilder::property_phandle`].
    pub fn alloc_phandle(&mut self) -> Result<u32, FdtError> {
        let mut candidate = 1u32;
        for &used in &self.allocated_phandles {
            if used > candidate {
                break;
            }
            candidate = used + 1;
        }
        while candidate != u32::MAX {
            if !self.written_phandles.contains(&candidate)
                && !self.allocated_phandles.contains(&candidate)
            {
                self.allocated_phandles.insert(candidate);
                return Ok(candidate);
            }
            candidate += 1;
        }
        Err(FdtError::PhandlesExhausted)
    }

    /// Adds `phandle` and `linux,phandle` with the same value, as QEMU does
    /// for the interrupt controller (`0x1111`). The value must be unique in
    /// the tree; it may come from [`FdtBuilder::alloc_phandle`] or be fixed.
    pub fn property_phandle(&mut self, phandle: u32) -> Result<(), FdtError> {
        let node = self.stack.last().ok_or(FdtError::NoOpenNode("property"))?;
        for name in ["phandle", "linux,phandle"] {
            if node.property_names.contains(name) {
                return Err(FdtError::DuplicateProperty {
                    node: node.path.clone(),
                    name: name.to_owned(),
                });
            }
        }
        self.property_u32("phandle", phandle)?;
        self.property_u32("linux,phandle", phandle)
    }

    /// Adds `reg` from `(address, size)` pairs encoded with the parent's
    /// `#address-cells` and `#size-cells` (as written through this builder;
    /// 2 and 1 when the parent has none, the Devicetree defaults).
    pub fn property_reg(&mut self, regions: &[(u64, u64)]) -> Result<(), FdtError> {
        let n = self.stack.len();
        let parent = n.checked_sub(2).and_then(|i| self.stack.get(i));
        let address_cells = parent.and_then(|p| p.address_cells).unwrap_or(2);
        let size_cells = parent.and_then(|p| p.size_cells).unwrap_or(1);
        self.property_reg_cells("reg", address_cells, size_cells, regions)
    }

    /// Adds `(address, size)` pairs under `name` with explicit cell counts
    /// (0 to 2 each), e.g. for a property whose layout is not the parent's.
    pub fn property_reg_cells(
        &mut self,
        name: &str,
        address_cells: u32,
        size_cells: u32,
        regions: &[(u64, u64)],
    ) -> Result<(), FdtError> {
        let node = self.current_path().to_owned();
        for (which, cells) in [
            ("#address-cells", address_cells),
            ("#size-cells", size_cells),
        ] {
            if cells > 2 {
                return Err(FdtError::UnsupportedCells { node, which, cells });
            }
        }
        let mut out = Vec::new();
        for &(address, size) in regions {
            for (what, value, cells) in [
                ("address", address, address_cells),
                ("size", size, size_cells),
            ] {
                let fits = match cells {
                    0 => value == 0,
                    1 => value <= u64::from(u32::MAX),
                    _ => true,
                };
                if !fits {
                    return Err(FdtError::CellOverflow {
                        node,
                        what,
                        value,
                        cells,
                    });
                }
                let bytes = value.to_be_bytes();
                out.extend_from_slice(&bytes[8 - 4 * cells as usize..]);
            }
        }
        self.property(name, &out)
    }

    /// Ends building and returns the tree. Fails if nodes are open or no
    /// root was written.
    pub fn finish(self) -> Result<Fdt, FdtError> {
        if let Some(open) = self.stack.last() {
            return Err(FdtError::UnclosedNodes {
                count: self.stack.len(),
                path: open.path.clone(),
            });
        }
        let root = self.root.ok_or(FdtError::NoRoot)?;
        Ok(Fdt {
            boot_cpuid_phys: self.boot_cpuid_phys,
            reservations: self.reservations,
            root,
        })
    }

    /// Ends building and returns the blob (version 17, last compatible 16).
    pub fn finish_dtb(self) -> Result<Vec<u8>, FdtError> {
        write_blob(&self.finish()?)
    }
}

impl Fdt {
    /// Writes the tree as a blob, after checking it with the same rules as
    /// [`FdtBuilder`] (names, duplicates, phandles, reservations, depth).
    pub fn to_dtb(&self) -> Result<Vec<u8>, FdtError> {
        write_blob(&self.validated()?)
    }

    /// Replays the tree through a builder, returning the checked copy.
    fn validated(&self) -> Result<Fdt, FdtError> {
        let mut b = FdtBuilder::new();
        b.set_boot_cpuid_phys(self.boot_cpuid_phys);
        for r in &self.reservations {
            b.reserve_memory(r.address, r.size)?;
        }
        if !self.root.name.is_empty() {
            return Err(FdtError::RootNotFirst(self.root.name.clone()));
        }
        // Depth-first with an explicit stack; the builder refuses depth > 64
        // before this stack grows further.
        let mut work: Vec<(&Node, usize)> = vec![(&self.root, 0)];
        while let Some((node, next_child)) = work.pop() {
            if next_child == 0 {
                b.begin_node(&node.name)?;
                for p in &node.properties {
                    b.property(&p.name, &p.value)?;
                }
            }
            match node.children.get(next_child) {
                Some(child) => {
                    work.push((node, next_child + 1));
                    work.push((child, 0));
                }
                None => b.end_node()?,
            }
        }
        let mut checked = b.finish()?;
        // Keep the reservation order of the original tree.
        checked.reservations = self.reservations.clone();
        Ok(checked)
    }
}
