//! The interrupt-controller interface the machine drives.
//!
//! Modelled on QEMU's `SpaprInterruptController` (activate, deactivate,
//! presenter create/reset/destroy, claim, free, set_irq, print_info, dt,
//! post_load), plus what QEMU wires up elsewhere and this design puts behind
//! the same seam: the controller's hypercalls, RTAS calls, MMIO regions and
//! migratable state. The machine sees only `dyn InterruptController`.
//!
//! Threads: every method takes `&self`. vCPU threads call the hcall, RTAS and
//! MMIO methods for their own vCPU while device threads call
//! [`InterruptController::set_irq`]; each controller picks its own locking,
//! finer than one lock for the whole machine.

use std::fmt;
use std::sync::Arc;

use migration::Migratable;

use crate::dt::{DtError, DtSink};
use crate::error::IrqError;
use crate::line::IrqLine;

/// What a controller is created with.
#[derive(Debug, Clone)]
pub struct ControllerConfig {
    /// External interrupt numbers (`nr_xirqs`): 0x400 up to pseries-3.0,
    /// 0x1000 after. XICS covers `[0x1000, 0x1000 + nr_xirqs)`, XIVE
    /// `[0, 0x1000 + nr_xirqs)`.
    pub nr_xirqs: u32,
    /// Interrupt server numbers the machine may use: `ceil(max_cpus * vsmt /
    /// threads)` in QEMU. Sizes the XIVE END table and the XICS presenter
    /// lookup.
    pub nr_servers: u32,
    /// Guest RAM, for controllers that write into it (XIVE event queues).
    pub guest_memory: vm_memory::GuestMemoryMmap,
}

/// A vCPU as its presenter sees it.
#[derive(Debug, Clone)]
pub struct VcpuDesc {
    /// `cpu_index`: dense, from 0; names the vCPU in hcall, RTAS and MMIO
    /// calls and is the migration instance id of per-vCPU sections.
    pub index: u32,
    /// Interrupt server number (`vcpu_id`), what the guest uses in `H_IPI`,
    /// `ibm,set-xive` and `H_INT_SET_SOURCE_CONFIG`.
    pub server: u32,
    /// Processor identification register value.
    pub pir: u32,
    /// The line this controller raises on the vCPU.
    pub line: IrqLine,
}

/// The vCPU making a hypercall, RTAS call or MMIO access.
#[derive(Debug, Clone, Copy)]
pub struct Caller {
    /// `cpu_index` of the calling vCPU.
    pub vcpu: u32,
    /// The caller's timebase when it made the call (`H_XIRR_X` returns it).
    pub timebase: u64,
}

/// Result of a hypercall: r3 and up to four output registers (r4..r7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HcallReply {
    /// Return code (r3), one of [`crate::papr::h`].
    pub ret: i64,
    /// Output registers r4..r7; only the first `nout` are meaningful.
    pub out: [u64; 4],
    /// How many of `out` the hcall defines.
    pub nout: u8,
}

impl HcallReply {
    /// A reply with no outputs.
    pub const fn ret(ret: i64) -> Self {
        Self {
            ret,
            out: [0; 4],
            nout: 0,
        }
    }

    /// A successful reply with outputs.
    pub fn ok(out: &[u64]) -> Self {
        let mut r = Self::ret(crate::papr::h::SUCCESS);
        r.nout = out.len().min(4) as u8;
        r.out[..r.nout as usize].copy_from_slice(&out[..r.nout as usize]);
        r
    }
}

/// An RTAS call a controller implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtasCallDesc {
    /// Name in `/rtas`, e.g. `ibm,set-xive`.
    pub name: &'static str,
    /// Token, from QEMU's fixed table (base 0x2000).
    pub token: u32,
}

/// A guest-physical MMIO window a controller serves while active.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MmioRegion {
    /// What it is, e.g. `xive.esb`.
    pub name: &'static str,
    /// First guest-physical address.
    pub base: u64,
    /// Length in bytes.
    pub size: u64,
}

impl MmioRegion {
    /// Whether `addr` falls inside the window.
    pub fn contains(&self, addr: u64) -> bool {
        addr.wrapping_sub(self.base) < self.size
    }
}

/// An MMIO access the controller does not accept; the machine turns it into
/// what the CPU sees (all-ones on load, ignored store).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MmioError {
    /// No region of this controller covers the address.
    #[error("no MMIO region at {0:#x}")]
    Unmapped(u64),
    /// The size or offset is not valid for that register.
    #[error("invalid {size}-byte access at {addr:#x}")]
    Invalid {
        /// Address.
        addr: u64,
        /// Access size in bytes.
        size: u8,
    },
}

/// One sPAPR interrupt controller backend (XICS, XIVE, ...).
///
/// The machine builds every backend whose capability is on, keeps exactly
/// one active, and calls the "all" methods on every backend and the
/// "active" methods only on the active one (see each method).
pub trait InterruptController: Send + Sync {
    /// Backend name, as in the registry ("xics", "xive").
    fn name(&self) -> &'static str;

    /// Makes this controller the active one (QEMU `activate`): enables its
    /// MMIO regions and its hcalls. Called on the new active controller only.
    fn activate(&self, nr_servers: u32) -> Result<(), IrqError>;

    /// Stops being the active controller (QEMU `deactivate`).
    fn deactivate(&self);

    /// Whether this controller is the active one.
    fn is_active(&self) -> bool;

    /// Creates the presenter of a vCPU (ICP, thread context). Called on all.
    fn cpu_intc_create(&self, vcpu: &VcpuDesc) -> Result<(), IrqError>;

    /// Resets the presenter of a vCPU. Called on all, at vCPU reset.
    fn cpu_intc_reset(&self, vcpu: u32);

    /// Destroys the presenter of a vCPU. Called on all, at vCPU unplug.
    fn cpu_intc_destroy(&self, vcpu: u32);

    /// Claims a source and sets its type. Called on all; fails with
    /// [`IrqError::NotFree`] if already claimed.
    fn claim_irq(&self, irq: u32, lsi: bool) -> Result<(), IrqError>;

    /// Frees a source. Called on all.
    fn free_irq(&self, irq: u32);

    /// Whether `irq` is claimed in this controller.
    fn is_claimed(&self, irq: u32) -> bool;

    /// Device input: an edge (MSI, `level` true) or a level change (LSI).
    /// Called on the active controller only; unknown numbers are ignored.
    fn set_irq(&self, irq: u32, level: bool);

    /// Resets source and routing state at machine reset (QEMU does this in
    /// per-device reset handlers). Called on all.
    fn reset(&self);

    /// Writes the `info pic` text. Called on the active controller.
    fn print_info(&self, out: &mut dyn fmt::Write) -> fmt::Result;

    /// Properties this controller adds to the root node (XIVE:
    /// `ibm,plat-res-int-priorities`). Written before any root subnode.
    fn dt_root_properties(&self, sink: &mut dyn DtSink) -> Result<(), DtError> {
        let _ = sink;
        Ok(())
    }

    /// Writes the controller's node as a subnode of the root. Called on the
    /// active controller.
    fn dt_node(&self, sink: &mut dyn DtSink, nr_servers: u32, phandle: u32) -> Result<(), DtError>;

    /// Hypercall opcodes this controller registers.
    fn hcall_opcodes(&self) -> &'static [u64];

    /// Handles one of [`InterruptController::hcall_opcodes`]. `args` are r4
    /// onwards. A controller that is not active answers as QEMU does
    /// (XICS: `H_HARDWARE`, XIVE: `H_FUNCTION`).
    fn hcall(&self, caller: Caller, opcode: u64, args: &[u64]) -> HcallReply;

    /// RTAS calls this controller registers.
    fn rtas_calls(&self) -> &'static [RtasCallDesc];

    /// Handles one of [`InterruptController::rtas_calls`]: `args` are the
    /// call's input words, `rets` its output words (`rets.len()` = nret);
    /// `rets[0]` is the status.
    fn rtas(&self, caller: Caller, token: u32, args: &[u32], rets: &mut [u32]);

    /// MMIO windows served while active (empty while inactive).
    fn mmio_regions(&self) -> Vec<MmioRegion> {
        Vec::new()
    }

    /// MMIO load of `size` bytes (1, 2, 4, 8). The value is the device's
    /// big-endian view; the CPU swaps for little-endian accesses.
    fn mmio_read(&self, caller: Caller, addr: u64, size: u8) -> Result<u64, MmioError> {
        let _ = (caller, size);
        Err(MmioError::Unmapped(addr))
    }

    /// MMIO store of `size` bytes, value as for
    /// [`InterruptController::mmio_read`].
    fn mmio_write(&self, caller: Caller, addr: u64, size: u8, value: u64) -> Result<(), MmioError> {
        let _ = (caller, size, value);
        Err(MmioError::Unmapped(addr))
    }

    /// How many interrupts this controller has presented to vCPU `vcpu` and
    /// the guest accepted (XICS: H_XIRR with a source; XIVE: an OS-ring
    /// acknowledge with an exception pending). Statistics only: not
    /// migrated, not reset.
    fn delivered(&self, vcpu: u32) -> u64 {
        let _ = vcpu;
        0
    }

    /// The controller's migration sections, in stream order.
    fn migratables(&self) -> Vec<Arc<dyn Migratable>>;

    /// Runs after an incoming migration was applied, on the controller that
    /// is active afterwards (XICS resends to every presenter).
    fn post_load(&self) {}
}
