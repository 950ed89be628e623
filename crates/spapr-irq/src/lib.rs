//! The sPAPR interrupt front end's shared pieces.
//!
//! - [`InterruptController`]: the interface every backend (XICS, XIVE)
//!   implements and the machine drives without knowing the backend's type;
//! - [`Backend`] and [`backends`]: the `inventory` registry of backends;
//! - [`IrqLine`] and [`VcpuIrqInputs`]: how a controller signals a vCPU;
//! - [`numbering`]: the global interrupt number layout, `nr_xirqs`;
//! - [`MsiAllocator`] and [`LegacyAllocator`]: interrupt number allocation;
//! - [`papr`]: hcall opcodes and return codes, RTAS status codes;
//! - [`DtSink`]: where a controller writes its device-tree node.
//!
//! It depends on no other crate of ours except `migration`, itself a leaf,
//! whose `Migratable` trait names the controllers' state; so the controllers
//! and the machine can both stand on it without depending on each other.

mod bitmap;
pub mod controller;
pub mod dt;
pub mod error;
pub mod line;
pub mod msi;
pub mod numbering;
pub mod papr;
pub mod registry;

pub use controller::{
    Caller, ControllerConfig, HcallReply, InterruptController, MmioError, MmioRegion, RtasCallDesc,
    VcpuDesc,
};
pub use dt::{DtError, DtSink};
pub use error::IrqError;
pub use line::{IrqLine, VcpuIrqInputs};
pub use msi::{LegacyAllocator, MsiAllocator, MsiKind};
pub use registry::{backend, backend_for_cas, backends, Backend, Factory};

/// Re-exported so that controller crates register with the same `inventory`.
pub use inventory;
