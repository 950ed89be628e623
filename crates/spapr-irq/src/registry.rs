//! The registry of controller backends.
//!
//! A controller crate registers itself with `inventory::submit!` of a
//! [`Backend`]; the machine lists the registry and builds those whose
//! capability is on, without naming their types. The linker drops a crate
//! nobody references, and its registration with it: a binary that wants the
//! controllers names them (`use intc_xics as _;`).

use std::sync::Arc;

use crate::controller::{ControllerConfig, InterruptController};
use crate::error::IrqError;

/// Factory building a backend for a machine.
pub type Factory = fn(&ControllerConfig) -> Result<Arc<dyn InterruptController>, IrqError>;

/// A registered interrupt-controller backend.
#[derive(Debug)]
pub struct Backend {
    /// Backend name ("xics", "xive").
    pub name: &'static str,
    /// The spapr capability that enables it ("xics" for `cap-xics`).
    pub capability: &'static str,
    /// The value of option vector 5 byte 23 bit 1 it stands for at CAS:
    /// `0x00` "XICS legacy", `0x40` "XIVE exploitation".
    pub cas_ov5: u8,
    /// Human name of that CAS mode.
    pub cas_mode: &'static str,
    /// Line bit on each vCPU's inputs (distinct per backend).
    pub line_bit: u32,
    /// KVM device type of the in-kernel model (`KVM_DEV_TYPE_XICS` = 3,
    /// `KVM_DEV_TYPE_XIVE` = 9), if there is one.
    pub kvm_device_type: Option<u32>,
    /// Order in which the machine builds backends and writes their sections
    /// (lower first; XICS before XIVE as in QEMU).
    pub order: u32,
    /// Builds the backend.
    pub factory: Factory,
}

inventory::collect!(Backend);

/// Every registered backend, in [`Backend::order`].
pub fn backends() -> Vec<&'static Backend> {
    let mut all: Vec<&'static Backend> = inventory::iter::<Backend>.into_iter().collect();
    all.sort_by_key(|b| (b.order, b.name));
    all
}

/// The backend called `name`.
pub fn backend(name: &str) -> Option<&'static Backend> {
    inventory::iter::<Backend>
        .into_iter()
        .find(|b| b.name == name)
}

/// The backend that stands for CAS option vector 5 byte 23 value `ov5`
/// (bit 0x40 set: XIVE exploitation).
pub fn backend_for_cas(ov5: u8) -> Option<&'static Backend> {
    inventory::iter::<Backend>
        .into_iter()
        .find(|b| b.cas_ov5 == ov5 & 0x40)
}
