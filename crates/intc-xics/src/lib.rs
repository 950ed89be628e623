//! XICS, the legacy interrupt controller of IBM POWER sPAPR machines.
//!
//! Two layers:
//!
//! - the **engine** ([`Xics`]): an interrupt source controller (ICS) and one
//!   interrupt presenter (ICP) per server, with every operation of QEMU's
//!   model (set_irq for MSI and LSI, deliver, reject, resend, accept, EOI,
//!   CPPR, MFRR/IPI, poll, `ibm,set-xive`-style routing, reset). It needs no
//!   registry and no machine: give it an [`spapr_irq::IrqLine`] per vCPU
//!   and call it (see `examples/two_presenters.rs`);
//! - the **sPAPR controller** ([`SpaprXics`]): the
//!   [`spapr_irq::InterruptController`] a pseries machine drives, with the
//!   hypercalls, RTAS calls, device-tree node, `info pic` text and migration
//!   sections, registered as backend `"xics"`.
//!
//! Behaviour is QEMU's (hw/intc/xics.c, xics_spapr.c) except where a Linux
//! guest or KVM expects better, each documented where it is implemented:
//! H_XIRR with nothing pending changes nothing, H_EOI of an unknown source
//! answers H_PARAMETER, a rejected MSI that meets a mask waits as
//! masked-pending instead of being dropped, `ibm,set-xive` resends a
//! rejected MSI at once, and input on an unclaimed source is ignored.
//!
//! Concurrency: see [`engine`].
//!
//! ```
//! use intc_xics::{SourceKind, Xics, XicsConfig};
//! use spapr_irq::IrqLine;
//!
//! let xics = Xics::new(XicsConfig { offset: 0x1000, nr_irqs: 16, nr_servers: 2, max_vcpus: 2 })?;
//! let line = IrqLine::detached();
//! xics.add_presenter(0, 0, line.clone())?; // vCPU 0 serves server 0
//! xics.set_cppr(0, 0xFF)?; // presenters start closed (CPPR 0)
//! xics.claim(0x1000, SourceKind::Msi)?;
//! xics.set_xive(0x1000, 0, 5)?; // server 0, priority 5
//! xics.set_irq(0x1000, true)?; // a device fires
//! assert!(line.is_raised());
//! let xirr = xics.accept(0)?; // H_XIRR
//! assert_eq!(xirr, 0xFF00_1000);
//! xics.eoi(0, xirr)?; // H_EOI
//! assert!(!line.is_raised());
//! # Ok::<(), intc_xics::XicsError>(())
//! ```

pub mod dt;
pub mod engine;
pub mod error;
mod icp;
mod ics;
pub mod info;
pub mod pending;
pub mod source;
pub mod spapr;
pub mod state;

pub use engine::{Xics, XicsConfig};
pub use error::XicsError;
pub use icp::{PresenterState, XICS_IPI, XISR_MASK};
pub use source::{SourceKind, SourceState};
pub use spapr::SpaprXics;
