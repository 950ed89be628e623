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
//! masked-pending instead of being dropped, and `ibm,set-xive` resends a
//! rejected MSI at once.
//!
//! Concurrency: see [`engine`].

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
