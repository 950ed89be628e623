//! Node-by-node comparison of two trees with a readable report.
//!
//! Nodes are matched by name under their parent and properties by name in
//! their node; the order of either does not matter (QEMU builds its tree
//! with libfdt's read-write calls, which put later properties first, so
//! order is not something two builders can be expected to share). Values
//! are compared byte for byte and shown as dtc shows them.

use std::fmt;

use crate::dts::format_value;
use crate::names::join_path;
use crate::tree::{Fdt, Node, Reservation};

/// What to leave out of a comparison.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiffOptions {
    /// Property names ignored in every node (e.g. `rng-seed`).
    pub ignored_properties: Vec<String>,
    /// `(node path, property name)` pairs ignored in one node only.
    pub ignored_properties_at: Vec<(String, String)>,
    /// Node paths whose whole subtree is ignored (e.g. a PCI host bridge
    /// the machine does not model).
    pub ignored_nodes: Vec<String>,
    /// Skip `boot_cpuid_phys` and the reservation map.
    pub ignore_header: bool,
}

impl DiffOptions {
    /// Compare everything.
    pub fn new() -> Self {
        Self::default()
    }

    /// Ignores a property name wherever it appears.
    pub fn ignore_property(mut self, name: &str) -> Self {
        self.ignored_properties.push(name.to_owned());
        self
    }

    /// Ignores one property of one node.
    pub fn ignore_property_at(mut self, path: &str, name: &str) -> Self {
        self.ignored_properties_at
            .push((path.to_owned(), name.to_owned()));
        self
    }

    /// Ignores a node and everything under it.
    pub fn ignore_node(mut self, path: &str) -> Self {
        self.ignored_nodes.push(path.to_owned());
        self
    }

    /// Ignores `boot_cpuid_phys` and the reservation map.
    pub fn ignore_header(mut self) -> Self {
        self.ignore_header = true;
        self
    }

    fn property_ignored(&self, path: &str, name: &str) -> bool {
        self.ignored_properties.iter().any(|p| p == name)
            || self
                .ignored_properties_at
                .iter()
                .any(|(p, n)| p == path && n == name)
    }

    fn node_ignored(&self, path: &str) -> bool {
        self.ignored_nodes.iter().any(|p| p == path)
    }
}

/// One difference between an expected and an actual tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Difference {
    /// The headers' `boot_cpuid_phys` differ.
    BootCpuid {
        /// Expected value.
        expected: u32,
        /// Actual value.
        actual: u32,
    },
    /// The reservation maps differ.
    Reservations {
        /// Expected entries.
        expected: Vec<Reservation>,
        /// Actual entries.
        actual: Vec<Reservation>,
    },
    /// A node of the expected tree is absent.
    MissingNode(String),
    /// A node absent from the expected tree.
    UnexpectedNode(String),
    /// A property of the expected tree is absent.
    MissingProperty {
        /// Node path.
        path: String,
        /// Property name.
        name: String,
        /// Expected value.
        expected: Vec<u8>,
    },
    /// A property absent from the expected tree.
    UnexpectedProperty {
        /// Node path.
        path: String,
        /// Property name.
        name: String,
        /// Actual value.
        actual: Vec<u8>,
    },
    /// A property whose value differs.
    Value {
        /// Node path.
        path: String,
        /// Property name.
        name: String,
        /// Expected value.
        expected: Vec<u8>,
        /// Actual value.
        actual: Vec<u8>,
    },
}

fn shown(v: &[u8]) -> String {
    if v.is_empty() {
        "(empty)".to_owned()
    } else {
        format_value(v)
    }
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Difference::BootCpuid { expected, actual } => {
                write!(
                    f,
                    "~ boot_cpuid_phys: expected {expected:#x}, got {actual:#x}"
                )
            }
            Difference::Reservations { expected, actual } => write!(
                f,
                "~ reservation map: expected {expected:x?}, got {actual:x?}"
            ),
            Difference::MissingNode(p) => write!(f, "- {p} (node missing)"),
            Difference::UnexpectedNode(p) => write!(f, "+ {p} (unexpected node)"),
            Difference::MissingProperty {
                path,
                name,
                expected,
            } => write!(f, "- {path}: {name} = {} (missing)", shown(expected)),
            Difference::UnexpectedProperty { path, name, actual } => {
                write!(f, "+ {path}: {name} = {} (unexpected)", shown(actual))
            }
            Difference::Value {
                path,
                name,
                expected,
                actual,
            } => write!(
                f,
                "~ {path}: {name}\n    expected {}\n    actual   {}",
                shown(expected),
                shown(actual)
            ),
        }
    }
}

/// The result of [`diff`]: every difference, in tree order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TreeDiff {
    /// The differences found.
    pub differences: Vec<Difference>,
}

impl TreeDiff {
    /// True when the trees match (within the options).
    pub fn is_empty(&self) -> bool {
        self.differences.is_empty()
    }
}

impl fmt::Display for TreeDiff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return writeln!(f, "trees match");
        }
        writeln!(
            f,
            "{} difference(s) (- expected only, + actual only, ~ changed):",
            self.differences.len()
        )?;
        for d in &self.differences {
            writeln!(f, "{d}")?;
        }
        Ok(())
    }
}

fn diff_properties(path: &str, e: &Node, a: &Node, opts: &DiffOptions, out: &mut Vec<Difference>) {
    for p in &e.properties {
        if opts.property_ignored(path, &p.name) {
            continue;
        }
        match a.property(&p.name) {
            None => out.push(Difference::MissingProperty {
                path: path.to_owned(),
                name: p.name.clone(),
                expected: p.value.clone(),
            }),
            Some(q) if q.value != p.value => out.push(Difference::Value {
                path: path.to_owned(),
                name: p.name.clone(),
                expected: p.value.clone(),
                actual: q.value.clone(),
            }),
            Some(_) => {}
        }
    }
    for q in &a.properties {
        if !opts.property_ignored(path, &q.name) && e.property(&q.name).is_none() {
            out.push(Difference::UnexpectedProperty {
                path: path.to_owned(),
                name: q.name.clone(),
                actual: q.value.clone(),
            });
        }
    }
}

/// Compares `actual` with `expected` node by node.
pub fn diff(expected: &Fdt, actual: &Fdt, opts: &DiffOptions) -> TreeDiff {
    let mut out = Vec::new();
    if !opts.ignore_header {
        if expected.boot_cpuid_phys != actual.boot_cpuid_phys {
            out.push(Difference::BootCpuid {
                expected: expected.boot_cpuid_phys,
                actual: actual.boot_cpuid_phys,
            });
        }
        if expected.reservations != actual.reservations {
            out.push(Difference::Reservations {
                expected: expected.reservations.clone(),
                actual: actual.reservations.clone(),
            });
        }
    }
    diff_into("/", &expected.root, &actual.root, opts, &mut out);
    TreeDiff { differences: out }
}

/// Compares two subtrees, `expected` and `actual`, both taken to sit at
/// `path` (which the report and the options' paths use). Useful to check one
/// node, such as an interrupt controller's, against a reference tree.
pub fn diff_nodes(path: &str, expected: &Node, actual: &Node, opts: &DiffOptions) -> TreeDiff {
    let mut out = Vec::new();
    diff_into(path, expected, actual, opts, &mut out);
    TreeDiff { differences: out }
}

fn diff_into(
    path: &str,
    expected: &Node,
    actual: &Node,
    opts: &DiffOptions,
    out: &mut Vec<Difference>,
) {
    // Explicit work list instead of recursion: any depth is fine.
    let mut work = vec![(path.to_owned(), expected, actual)];
    while let Some((path, e, a)) = work.pop() {
        if opts.node_ignored(&path) {
            continue;
        }
        diff_properties(&path, e, a, opts, out);
        let mut matched = Vec::new();
        for ec in &e.children {
            let cp = join_path(&path, &ec.name);
            match a.children.iter().find(|ac| ac.name == ec.name) {
                Some(ac) => matched.push((cp, ec, ac)),
                None if opts.node_ignored(&cp) => {}
                None => out.push(Difference::MissingNode(cp)),
            }
        }
        for ac in &a.children {
            let cp = join_path(&path, &ac.name);
            if !opts.node_ignored(&cp) && !e.children.iter().any(|ec| ec.name == ac.name) {
                out.push(Difference::UnexpectedNode(cp));
            }
        }
        // Reverse so that children are visited in the expected tree's order.
        work.extend(matched.into_iter().rev());
    }
}

impl Fdt {
    /// Compares this (actual) tree with `expected`; see [`diff`].
    pub fn diff_against(&self, expected: &Fdt, opts: &DiffOptions) -> TreeDiff {
        diff(expected, self, opts)
    }
}
