//! Flattened device trees for the pseries machine: build them, read them
//! back, render them as dts, compare them and have `dtc` check them.
//!
//! - [`FdtBuilder`]: writes a tree in blob order with typed helpers (cells,
//!   64-bit values, strings and string lists, empty properties, `reg` in the
//!   parent's `#address-cells`/`#size-cells`, phandle allocation and the
//!   `phandle` + `linux,phandle` pair, the memory reservation map,
//!   `boot_cpuid_phys`); every misuse is an [`FdtError`], never a panic.
//!   With the `spapr-irq` feature (default) it implements
//!   [`spapr_irq::DtSink`], so interrupt controllers write their nodes into
//!   it.
//! - [`Fdt::from_dtb`]: a bounded, validating reader for blobs that may come
//!   from a guest; [`Fdt::node`] finds nodes by path, [`Node`] has typed
//!   getters.
//! - [`Fdt::to_dts`]: dts text identical to `dtc -I dtb -O dts` output.
//! - [`diff`]: node-by-node comparison with ignored properties and nodes.
//! - [`Dtc`]: runs dtc on a blob with every check as a failure (tests).
//!
//! # Why not `vm-fdt`
//!
//! The workspace prefers rust-vmm's `vm-fdt` for writing blobs, but
//! `vm-fdt` 0.3 refuses property names longer than 31 characters
//! (`Error::InvalidPropertyName`), the Devicetree specification's limit,
//! and PAPR trees break it: QEMU 7.2's pseries tree has
//! `ibm,processor-radix-AP-encodings` (32), `ibm,query-interrupt-source-number`
//! (33) and `ibm,associativity-reference-points` (34), and Linux reads the
//! first to use radix MMU page sizes. `vm-fdt` also fixes the reservation
//! map at construction and does not catch duplicate properties or nodes.
//! The blob format itself is small (a header, a reservation map, a token
//! stream and a strings table), so this crate writes it (`writer.rs`, about
//! 150 lines) with the same layout dtc produces; the tests check the output
//! with dtc and against QEMU's own trees.
//!
//! # Example
//!
//! ```
//! use fdt::{Fdt, FdtBuilder};
//!
//! let mut b = FdtBuilder::new();
//! b.set_boot_cpuid_phys(0);
//! b.begin_node("")?;
//! b.property_string("compatible", "qemu,pseries")?;
//! b.property_u32("#address-cells", 2)?;
//! b.property_u32("#size-cells", 2)?;
//! b.node("cpus", |b| {
//!     b.property_u32("#address-cells", 1)?;
//!     b.property_u32("#size-cells", 0)?;
//!     b.node("PowerPC,POWER9@0", |b| {
//!         b.property_string("device_type", "cpu")?;
//!         b.property_reg(&[(0, 0)])?;
//!         b.property_cells("ibm,ppc-interrupt-server#s", &[0])
//!     })
//! })?;
//! let intc = b.alloc_phandle()?;
//! b.node("interrupt-controller", |b| {
//!     b.property_null("interrupt-controller")?;
//!     b.property_phandle(intc)
//! })?;
//! b.end_node()?;
//! let blob = b.finish_dtb()?;
//!
//! let tree = Fdt::from_dtb(&blob).expect("our own blob reads back");
//! let cpu = tree.node("/cpus/PowerPC,POWER9@0").unwrap();
//! assert_eq!(cpu.get_cells("ibm,ppc-interrupt-server#s").unwrap(), vec![0]);
//! assert_eq!(tree.node("/interrupt-controller").unwrap().get_u32("phandle").unwrap(), intc);
//! # Ok::<(), fdt::FdtError>(())
//! ```

mod builder;
mod diff;
mod dtc;
mod dts;
mod error;
mod names;
mod reader;
#[cfg(feature = "spapr-irq")]
mod sink;
mod tree;
mod writer;

pub use builder::FdtBuilder;
pub use diff::{diff, diff_nodes, DiffOptions, Difference, TreeDiff};
pub use dtc::{parse_findings, Dtc, DtcError, DtcFinding, Severity};
pub use dts::format_value;
pub use error::FdtError;
pub use names::{MAX_DEPTH, MAX_NAME_LEN};
pub use reader::ReadError;
pub use tree::{Fdt, Node, Property, PropertyError, Reservation};
pub use writer::FDT_MAGIC;

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
