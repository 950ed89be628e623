//! [`FdtError`]: why the builder or the writer refused a tree.

use crate::tree::Reservation;

/// Why a tree could not be built or written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FdtError {
    /// A node name breaks the naming rules.
    #[error("invalid node name {name:?} under {parent}: {reason}")]
    InvalidNodeName {
        /// Path of the parent node.
        parent: String,
        /// The refused name.
        name: String,
        /// The rule it breaks.
        reason: &'static str,
    },
    /// A property name breaks the naming rules.
    #[error("invalid property name {name:?} in {node}: {reason}")]
    InvalidPropertyName {
        /// Path of the node.
        node: String,
        /// The refused name.
        name: String,
        /// The rule it breaks.
        reason: &'static str,
    },
    /// The first node must be the root, named `""`.
    #[error("the first node must be the root, named \"\", not {0:?}")]
    RootNotFirst(String),
    /// The root has been closed already; a tree has one root.
    #[error("the root node is already closed; {0:?} cannot be a second root")]
    SecondRoot(String),
    /// A sibling with the same name exists.
    #[error("duplicate node {0}")]
    DuplicateNode(String),
    /// The node already has a property with this name.
    #[error("duplicate property {name} in {node}")]
    DuplicateProperty {
        /// Path of the node.
        node: String,
        /// The repeated name.
        name: String,
    },
    /// Properties must come before subnodes in a flattened tree.
    #[error("property {name} in {node} comes after a subnode")]
    PropertyAfterSubnode {
        /// Path of the node.
        node: String,
        /// The late property.
        name: String,
    },
    /// A property or `end_node` with no node open.
    #[error("{0} with no open node")]
    NoOpenNode(&'static str),
    /// The closure given to [`FdtBuilder::node`](crate::FdtBuilder::node) closed its own node.
    #[error("the closure filling {0} closed that node itself")]
    ClosedByClosure(String),
    /// `finish` while nodes are still open.
    #[error("{count} node(s) still open, innermost {path}")]
    UnclosedNodes {
        /// How many nodes are open.
        count: usize,
        /// Path of the innermost open node.
        path: String,
    },
    /// `finish` before any node was written.
    #[error("the tree has no root node")]
    NoRoot,
    /// A string value holds a NUL byte, which would split it.
    #[error("string value of {name} in {node} contains a NUL byte")]
    StringContainsNul {
        /// Path of the node.
        node: String,
        /// The property.
        name: String,
    },
    /// 0 and 0xffffffff are not valid phandles.
    #[error("invalid phandle {0:#x} (0 and 0xffffffff are reserved)")]
    InvalidPhandle(u32),
    /// Another node already has this phandle.
    #[error("phandle {0:#x} is already used")]
    DuplicatePhandle(u32),
    /// Every phandle value is taken.
    #[error("no phandle left to allocate")]
    PhandlesExhausted,
    /// A reservation of size 0 or one that wraps past 2^64.
    #[error("invalid memory reservation at {address:#x}, size {size:#x}")]
    InvalidReservation {
        /// Start address.
        address: u64,
        /// Size in bytes.
        size: u64,
    },
    /// Two reservations overlap.
    #[error("memory reservation {new:x?} overlaps {existing:x?}")]
    OverlappingReservation {
        /// The refused entry.
        new: Reservation,
        /// The entry it overlaps.
        existing: Reservation,
    },
    /// A `reg` address or size does not fit its cells.
    #[error("{what} {value:#x} of reg in {node} does not fit in {cells} cell(s)")]
    CellOverflow {
        /// Path of the node.
        node: String,
        /// "address" or "size".
        what: &'static str,
        /// The value.
        value: u64,
        /// The cell count.
        cells: u32,
    },
    /// `reg` helpers encode 0 to 2 cells per number.
    #[error("{which} = {cells} for reg in {node} is not supported (0 to 2)")]
    UnsupportedCells {
        /// Path of the node.
        node: String,
        /// `#address-cells` or `#size-cells`.
        which: &'static str,
        /// The value.
        cells: u32,
    },
    /// Nodes nested deeper than [`crate::MAX_DEPTH`].
    #[error("node {0} is nested deeper than 64 levels")]
    TooDeep(String),
    /// The blob would exceed the format's 32-bit sizes.
    #[error("{0} exceeds the 32-bit limit of the blob format")]
    TooLarge(&'static str),
}
