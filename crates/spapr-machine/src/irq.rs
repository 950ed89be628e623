//! The interrupt front end: the machine's side of the controller seam.
//!
//! It reads the registry, builds every backend whose capability is on,
//! gives every vCPU a presenter on every backend, claims and frees sources
//! on every backend, and routes device input, `info pic`, the device-tree
//! node, hcalls, RTAS calls and MMIO to the **active** backend. It never
//! names a concrete controller type (QEMU's `spapr_irq.c`, made generic).

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use migration::Migratable;
use parking_lot::Mutex;
use spapr_irq::numbering::XIRQ_BASE;
use spapr_irq::{
    Backend, Caller, ControllerConfig, DtError, DtSink, HcallReply, InterruptController, IrqError,
    LegacyAllocator, MmioError, MmioRegion, MsiAllocator, MsiKind, RtasCallDesc, VcpuDesc,
    VcpuIrqInputs,
};

/// Fixed phandle of the interrupt controller node (QEMU's `PHANDLE_INTC`).
pub const PHANDLE_INTC: u32 = 0x1111;

const NO_ACTIVE: usize = usize::MAX;

/// Errors of the front end.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrontEndError {
    /// No registered backend is enabled by the capabilities.
    #[error("No interrupt controllers enabled, try cap-xics=on or cap-xive=on")]
    NoController,
    /// A backend the capabilities enable is not linked into this program.
    #[error(
        "interrupt controller backend '{0}' is enabled but not registered (is its crate linked?)"
    )]
    NotRegistered(String),
    /// A backend failed to build or act.
    #[error(transparent)]
    Irq(#[from] IrqError),
}

struct Slot {
    backend: &'static Backend,
    ctl: Arc<dyn InterruptController>,
}

/// How numbers for devices are found (pseries-3.0 and older allocate them
/// in creation order; later machines use fixed numbers plus an MSI bitmap).
enum Allocation {
    Fixed(MsiAllocator),
    Legacy(LegacyAllocator),
}

/// The machine's interrupt front end.
pub struct IrqFrontEnd {
    slots: Vec<Slot>,
    active: AtomicUsize,
    /// (opcode, slot) sorted by opcode.
    hcalls: Vec<(u64, usize)>,
    /// (token, slot) sorted by token.
    rtas: Vec<(RtasCallDesc, usize)>,
    alloc: Mutex<Allocation>,
    nr_xirqs: u32,
    nr_servers: u32,
    in_kernel: std::sync::atomic::AtomicBool,
}

impl fmt::Debug for IrqFrontEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IrqFrontEnd")
            .field("backends", &self.backend_names())
            .field("active", &self.active().map(|b| b.name))
            .field("nr_xirqs", &self.nr_xirqs)
            .finish()
    }
}

impl IrqFrontEnd {
    /// Builds every registered backend that `enabled` accepts (the machine
    /// passes "its capability is on"). `legacy` selects pseries-3.0-style
    /// sequential number allocation.
    pub fn new(
        backends: &[&'static Backend],
        cfg: &ControllerConfig,
        legacy: bool,
    ) -> Result<Self, FrontEndError> {
        if backends.is_empty() {
            return Err(FrontEndError::NoController);
        }
        let mut slots = Vec::with_capacity(backends.len());
        for &backend in backends {
            let ctl = (backend.factory)(cfg)?;
            slots.push(Slot { backend, ctl });
        }
        slots.sort_by_key(|s| (s.backend.order, s.backend.name));
        let mut hcalls = Vec::new();
        let mut rtas: Vec<(RtasCallDesc, usize)> = Vec::new();
        for (i, s) in slots.iter().enumerate() {
            hcalls.extend(s.ctl.hcall_opcodes().iter().map(|&op| (op, i)));
            rtas.extend(s.ctl.rtas_calls().iter().map(|&d| (d, i)));
        }
        hcalls.sort_unstable();
        hcalls.dedup_by_key(|h| h.0);
        rtas.sort_by_key(|r| r.0.token);
        rtas.dedup_by_key(|r| r.0.token);
        let alloc = if legacy {
            Allocation::Legacy(LegacyAllocator::new(XIRQ_BASE, cfg.nr_xirqs))
        } else {
            Allocation::Fixed(MsiAllocator::new())
        };
        Ok(Self {
            slots,
            active: AtomicUsize::new(NO_ACTIVE),
            hcalls,
            rtas,
            alloc: Mutex::new(alloc),
            nr_xirqs: cfg.nr_xirqs,
            nr_servers: cfg.nr_servers,
            in_kernel: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Records whether the active controller runs in the host kernel (for
    /// `info pic`'s `irqchip:` line).
    pub fn set_in_kernel(&self, on: bool) {
        self.in_kernel.store(on, Ordering::Release);
    }

    /// Names of the built backends, in build order.
    pub fn backend_names(&self) -> Vec<&'static str> {
        self.slots.iter().map(|s| s.backend.name).collect()
    }

    /// Whether a backend called `name` was built.
    pub fn has(&self, name: &str) -> bool {
        self.slots.iter().any(|s| s.backend.name == name)
    }

    /// The built backends with their controllers.
    pub fn controllers(
        &self,
    ) -> impl Iterator<Item = (&'static Backend, &Arc<dyn InterruptController>)> {
        self.slots.iter().map(|s| (s.backend, &s.ctl))
    }

    /// `nr_xirqs` the controllers were built with.
    pub fn nr_xirqs(&self) -> u32 {
        self.nr_xirqs
    }

    /// Whether numbers are allocated the pseries-3.0 way.
    pub fn is_legacy(&self) -> bool {
        matches!(&*self.alloc.lock(), Allocation::Legacy(_))
    }

    /// Interrupt server numbers the controllers cover.
    pub fn nr_servers(&self) -> u32 {
        self.nr_servers
    }

    fn active_slot(&self) -> Option<&Slot> {
        self.slots.get(self.active.load(Ordering::Acquire))
    }

    /// The active backend.
    pub fn active(&self) -> Option<&'static Backend> {
        self.active_slot().map(|s| s.backend)
    }

    /// The active controller.
    pub fn active_controller(&self) -> Option<&Arc<dyn InterruptController>> {
        self.active_slot().map(|s| &s.ctl)
    }

    /// Which backend the negotiated OV5 byte 23 selects (QEMU's
    /// `spapr_irq_update_active_intc`): the backend standing for that CAS
    /// value if it was built, otherwise the backend that was built (the
    /// single-controller modes).
    fn choose(&self, ov5_byte23: u8) -> usize {
        let wanted = ov5_byte23 & 0x40;
        self.slots
            .iter()
            .position(|s| s.backend.cas_ov5 == wanted)
            .unwrap_or(0)
    }

    /// Makes the controller that `ov5_byte23` (the negotiated OV5 byte 23,
    /// 0 before CAS) selects the active one: deactivates the old one and
    /// activates the new one, without any reset. A no-op when unchanged.
    pub fn update_active(&self, ov5_byte23: u8) -> Result<&'static Backend, IrqError> {
        let new = self.choose(ov5_byte23);
        let old = self.active.load(Ordering::Acquire);
        if old != new {
            if let Some(s) = self.slots.get(old) {
                s.ctl.deactivate();
            }
            self.slots[new].ctl.activate(self.nr_servers)?;
            self.active.store(new, Ordering::Release);
            tracing::debug!(
                backend = self.slots[new].backend.name,
                "interrupt controller activated"
            );
        }
        Ok(self.slots[new].backend)
    }

    /// Creates vCPU `vcpu`'s presenter on every backend, each on its own
    /// line bit of `inputs`.
    pub fn cpu_intc_create(
        &self,
        index: u32,
        server: u32,
        pir: u32,
        inputs: &Arc<VcpuIrqInputs>,
    ) -> Result<(), IrqError> {
        for s in &self.slots {
            s.ctl.cpu_intc_create(&VcpuDesc {
                index,
                server,
                pir,
                line: inputs.line(s.backend.line_bit),
            })?;
        }
        Ok(())
    }

    /// Resets vCPU `index`'s presenter on every backend.
    pub fn cpu_intc_reset(&self, index: u32) {
        for s in &self.slots {
            s.ctl.cpu_intc_reset(index);
        }
    }

    /// Destroys vCPU `index`'s presenter on every backend.
    pub fn cpu_intc_destroy(&self, index: u32) {
        for s in &self.slots {
            s.ctl.cpu_intc_destroy(index);
        }
    }

    fn check_range(&self, irq: u32) -> Result<(), IrqError> {
        if irq < XIRQ_BASE || irq >= XIRQ_BASE + self.nr_xirqs {
            return Err(IrqError::OutOfRange {
                irq,
                first: XIRQ_BASE,
                end: XIRQ_BASE + self.nr_xirqs,
            });
        }
        Ok(())
    }

    /// Claims `irq` on every backend (QEMU's `spapr_irq_claim`). Unlike QEMU,
    /// a failure on a later backend releases the claim on earlier ones, so
    /// the backends never disagree about a source.
    pub fn claim(&self, irq: u32, lsi: bool) -> Result<(), IrqError> {
        self.check_range(irq)?;
        let mut alloc = self.alloc.lock();
        if let Allocation::Legacy(l) = &mut *alloc {
            l.mark_claimed(irq)?;
        }
        for (i, s) in self.slots.iter().enumerate() {
            if let Err(e) = s.ctl.claim_irq(irq, lsi) {
                for done in &self.slots[..i] {
                    done.ctl.free_irq(irq);
                }
                if let Allocation::Legacy(l) = &mut *alloc {
                    l.mark_free(irq);
                }
                return Err(e);
            }
        }
        Ok(())
    }

    /// Frees `num` sources from `irq` on every backend.
    pub fn free(&self, irq: u32, num: u32) {
        let mut alloc = self.alloc.lock();
        for n in irq..irq.saturating_add(num) {
            if self.check_range(n).is_err() {
                continue;
            }
            for s in &self.slots {
                s.ctl.free_irq(n);
            }
            if let Allocation::Legacy(l) = &mut *alloc {
                l.mark_free(n);
            }
        }
    }

    /// Whether `irq` is claimed (on the first backend; all agree).
    pub fn is_claimed(&self, irq: u32) -> bool {
        self.slots.first().is_some_and(|s| s.ctl.is_claimed(irq))
    }

    /// The number a device gets on this machine: `fixed` on pseries-3.1 and
    /// later, the first free source on legacy machines. Claims it.
    pub fn claim_device(&self, fixed: u32, lsi: bool) -> Result<u32, IrqError> {
        let irq = match &*self.alloc.lock() {
            Allocation::Fixed(_) => fixed,
            Allocation::Legacy(l) => l.find_one()?,
        };
        self.claim(irq, lsi)?;
        Ok(irq)
    }

    /// Allocates and claims a block of `num` MSIs for one PCI function.
    pub fn msi_alloc(&self, num: u32, kind: MsiKind) -> Result<u32, IrqError> {
        let first = {
            let mut alloc = self.alloc.lock();
            match &mut *alloc {
                Allocation::Fixed(m) => m.alloc(num, kind)?,
                Allocation::Legacy(l) => l.find(num, kind == MsiKind::Msi)?,
            }
        };
        for (i, irq) in (first..first + num).enumerate() {
            if let Err(e) = self.claim(irq, false) {
                self.free(first, i as u32);
                self.msi_release(first, num);
                return Err(e);
            }
        }
        Ok(first)
    }

    /// Frees a block of MSIs (the sources and the bitmap bits).
    pub fn msi_free(&self, first: u32, num: u32) {
        self.free(first, num);
        self.msi_release(first, num);
    }

    fn msi_release(&self, first: u32, num: u32) {
        if let Allocation::Fixed(m) = &mut *self.alloc.lock() {
            m.free(first, num);
        }
    }

    /// The MSI bitmap words (migrated as `spapr_irq_map` when non-empty);
    /// `None` on legacy machines, which have no bitmap.
    pub fn msi_map(&self) -> Option<Vec<u64>> {
        match &*self.alloc.lock() {
            Allocation::Fixed(m) => Some(m.to_words()),
            Allocation::Legacy(_) => None,
        }
    }

    /// Replaces the MSI bitmap (incoming migration); false if the words are
    /// malformed or the machine is legacy.
    pub fn set_msi_map(&self, words: &[u64]) -> bool {
        match (&mut *self.alloc.lock(), MsiAllocator::from_words(words)) {
            (Allocation::Fixed(m), Some(new)) => {
                *m = new;
                true
            }
            _ => false,
        }
    }

    /// Device input, routed to the active controller. The hot path: one
    /// atomic load and a virtual call.
    #[inline]
    pub fn set_irq(&self, irq: u32, level: bool) {
        if let Some(s) = self.active_slot() {
            s.ctl.set_irq(irq, level);
        }
    }

    /// Machine reset: every backend's source and routing state is reset,
    /// guest MSI allocations are dropped, and the active controller goes
    /// back to what an empty OV5 selects (XICS in dual mode).
    pub fn reset(&self) -> Result<&'static Backend, IrqError> {
        for s in &self.slots {
            s.ctl.reset();
        }
        if let Allocation::Fixed(m) = &mut *self.alloc.lock() {
            *m = MsiAllocator::new();
        }
        self.update_active(0)
    }

    /// `info pic`: the active controller's text, then the irqchip line.
    pub fn print_info(&self, out: &mut dyn fmt::Write) -> fmt::Result {
        if let Some(s) = self.active_slot() {
            s.ctl.print_info(out)?;
        }
        writeln!(
            out,
            "irqchip: {}",
            if self.in_kernel.load(Ordering::Acquire) {
                "in-kernel"
            } else {
                "emulated"
            }
        )
    }

    /// Root properties of the active controller.
    pub fn dt_root_properties(&self, sink: &mut dyn DtSink) -> Result<(), DtError> {
        match self.active_slot() {
            Some(s) => s.ctl.dt_root_properties(sink),
            None => Ok(()),
        }
    }

    /// The active controller's node.
    pub fn dt_node(&self, sink: &mut dyn DtSink) -> Result<(), DtError> {
        match self.active_slot() {
            Some(s) => s.ctl.dt_node(sink, self.nr_servers, PHANDLE_INTC),
            None => Ok(()),
        }
    }

    /// Runs an interrupt hcall if some built backend registered `opcode`
    /// (the backend answers for itself when it is not active); `None` if no
    /// backend did, the machine then answers `H_FUNCTION`.
    pub fn hcall(&self, caller: Caller, opcode: u64, args: &[u64]) -> Option<HcallReply> {
        let i = self.hcalls.binary_search_by_key(&opcode, |h| h.0).ok()?;
        let slot = &self.slots[self.hcalls[i].1];
        Some(slot.ctl.hcall(caller, opcode, args))
    }

    /// RTAS calls of every built backend.
    pub fn rtas_calls(&self) -> impl Iterator<Item = RtasCallDesc> + '_ {
        self.rtas.iter().map(|r| r.0)
    }

    /// Runs an interrupt RTAS call; false if no backend registered `token`.
    pub fn rtas(&self, caller: Caller, token: u32, args: &[u32], rets: &mut [u32]) -> bool {
        match self.rtas.binary_search_by_key(&token, |r| r.0.token) {
            Ok(i) => {
                self.slots[self.rtas[i].1]
                    .ctl
                    .rtas(caller, token, args, rets);
                true
            }
            Err(_) => false,
        }
    }

    /// MMIO windows of the active controller.
    pub fn mmio_regions(&self) -> Vec<MmioRegion> {
        self.active_slot()
            .map(|s| s.ctl.mmio_regions())
            .unwrap_or_default()
    }

    /// MMIO load routed to the active controller.
    pub fn mmio_read(&self, caller: Caller, addr: u64, size: u8) -> Result<u64, MmioError> {
        match self.active_slot() {
            Some(s) => s.ctl.mmio_read(caller, addr, size),
            None => Err(MmioError::Unmapped(addr)),
        }
    }

    /// MMIO store routed to the active controller.
    pub fn mmio_write(
        &self,
        caller: Caller,
        addr: u64,
        size: u8,
        value: u64,
    ) -> Result<(), MmioError> {
        match self.active_slot() {
            Some(s) => s.ctl.mmio_write(caller, addr, size, value),
            None => Err(MmioError::Unmapped(addr)),
        }
    }

    /// Every backend's migration sections, backends in build order.
    pub fn migratables(&self) -> Vec<Arc<dyn Migratable>> {
        self.slots
            .iter()
            .flat_map(|s| s.ctl.migratables())
            .collect()
    }

    /// After an incoming migration: activate what the migrated OV5 selects,
    /// then let the active controller finish (QEMU's `spapr_irq_post_load`).
    pub fn post_load(&self, ov5_byte23: u8) -> Result<(), IrqError> {
        self.update_active(ov5_byte23)?;
        if let Some(s) = self.active_slot() {
            s.ctl.post_load();
        }
        Ok(())
    }
}
