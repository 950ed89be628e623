//! The interrupt presenter (ICP) of one server: XIRR (CPPR and XISR), the
//! pending priority and the MFRR, plus the line into its vCPU.
//!
//! Every operation here runs with the presenter's own lock held and may
//! reject a source back to the ICS (an atomic update of that source, never
//! another lock). Operations that end in an ICS resend return `true`; the
//! caller runs the resend after dropping the lock, because a resend
//! delivers to other presenters and two presenter locks are never held at
//! once.

use parking_lot::Mutex;
use spapr_irq::IrqLine;

use crate::ics::Ics;
use crate::source::PRIORITY_MASKED;

/// XISR value of an inter-processor interrupt (`XICS_IPI`).
pub const XICS_IPI: u32 = 2;
/// Mask of the XISR (source number) part of an XIRR.
pub const XISR_MASK: u32 = 0x00FF_FFFF;

/// A snapshot of one presenter, in QEMU's `ICPState` terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PresenterState {
    /// `cpu_index` of the vCPU the presenter belongs to.
    pub vcpu: u32,
    /// Interrupt server number.
    pub server: u32,
    /// `CPPR << 24 | XISR`.
    pub xirr: u32,
    /// Priority of the interrupt in XISR (0xFF when none).
    pub pending_priority: u8,
    /// Most favoured request register: the IPI priority, 0xFF for none.
    pub mfrr: u8,
}

impl PresenterState {
    /// Current processor priority.
    pub const fn cppr(&self) -> u8 {
        (self.xirr >> 24) as u8
    }

    /// The pending source number (0: none, 2: IPI).
    pub const fn xisr(&self) -> u32 {
        self.xirr & XISR_MASK
    }
}

/// State behind a presenter's lock.
#[derive(Debug)]
pub(crate) struct IcpState {
    pub(crate) xirr: u32,
    pub(crate) pending_priority: u8,
    pub(crate) mfrr: u8,
    /// The owning vCPU and its line; `None` while no vCPU has this server.
    pub(crate) owner: Option<(u32, IrqLine)>,
    /// Interrupts accepted (statistics; not migrated, not reset).
    pub(crate) accepted: u64,
}

/// One presenter, padded to its own cache lines so that vCPUs working on
/// their own presenters do not share any.
#[derive(Debug)]
#[repr(align(128))]
pub(crate) struct Icp {
    pub(crate) state: Mutex<IcpState>,
}

impl Icp {
    pub(crate) fn new() -> Self {
        Self {
            state: Mutex::new(IcpState {
                xirr: 0,
                pending_priority: PRIORITY_MASKED,
                mfrr: PRIORITY_MASKED,
                owner: None,
                accepted: 0,
            }),
        }
    }
}

impl IcpState {
    #[inline]
    pub(crate) fn cppr(&self) -> u8 {
        (self.xirr >> 24) as u8
    }

    #[inline]
    pub(crate) fn xisr(&self) -> u32 {
        self.xirr & XISR_MASK
    }

    #[inline]
    fn set_xisr(&mut self, xisr: u32) {
        self.xirr = (self.xirr & !XISR_MASK) | (xisr & XISR_MASK);
    }

    #[inline]
    fn set_cppr_byte(&mut self, cppr: u8) {
        self.xirr = (self.xirr & XISR_MASK) | (cppr as u32) << 24;
    }

    /// Whether the pending XISR came from the ICS (QEMU's `xirr_owner`):
    /// anything but nothing and the IPI.
    #[inline]
    fn xisr_from_ics(&self) -> bool {
        let x = self.xisr();
        x != 0 && x != XICS_IPI
    }

    #[inline]
    fn raise(&self) {
        if let Some((_, line)) = &self.owner {
            line.raise();
        }
    }

    #[inline]
    fn lower(&self) {
        if let Some((_, line)) = &self.owner {
            line.lower();
        }
    }

    /// Resets to the power-on state: CPPR 0 (nothing deliverable), nothing
    /// pending, no IPI; the line is lowered.
    pub(crate) fn reset(&mut self) {
        self.xirr = 0;
        self.pending_priority = PRIORITY_MASKED;
        self.mfrr = PRIORITY_MASKED;
        self.lower();
    }

    /// Presents source `irq` at `priority` (QEMU `icp_irq`): taken if more
    /// favoured than both CPPR and what is pending, whose source is then
    /// rejected; otherwise `irq` itself is rejected.
    #[inline]
    pub(crate) fn present(&mut self, ics: &Ics, irq: u32, priority: u8) {
        if self.owner.is_none()
            || priority >= self.cppr()
            || (self.xisr() != 0 && self.pending_priority <= priority)
        {
            tracing::trace!(irq, priority, xirr = self.xirr, "xics: presenter rejects");
            ics.reject(irq);
            return;
        }
        if self.xisr_from_ics() {
            ics.reject(self.xisr());
        }
        self.set_xisr(irq);
        self.pending_priority = priority;
        tracing::trace!(irq, priority, xirr = self.xirr, "xics: presenter raises");
        self.raise();
    }

    /// Presents the IPI if the MFRR beats what is pending (QEMU
    /// `icp_check_ipi`). The IPI never goes back to the ICS: it vanishes
    /// when displaced and is regenerated from the MFRR.
    pub(crate) fn check_ipi(&mut self, ics: &Ics) {
        if self.xisr() != 0 && self.pending_priority <= self.mfrr {
            return;
        }
        if self.xisr_from_ics() {
            ics.reject(self.xisr());
        }
        self.set_xisr(XICS_IPI);
        self.pending_priority = self.mfrr;
        self.raise();
    }

    /// The presenter half of QEMU's `icp_resend`: the IPI check. The caller
    /// runs the ICS half after dropping the lock.
    #[inline]
    fn resend_ipi(&mut self, ics: &Ics) {
        if self.mfrr < self.cppr() {
            self.check_ipi(ics);
        }
    }

    /// Accepts the pending interrupt (H_XIRR): returns the XIRR as it was,
    /// moves CPPR to the accepted priority and lowers the line.
    ///
    /// With nothing pending this is a pure read. (QEMU would set CPPR to the
    /// empty pending priority 0xFF, opening a presenter the guest had
    /// closed; KVM and PAPR leave it alone, and so do we.)
    #[inline]
    pub(crate) fn accept(&mut self) -> u32 {
        let old = self.xirr;
        if self.xisr() == 0 {
            return old;
        }
        self.lower();
        self.xirr = (self.pending_priority as u32) << 24;
        self.pending_priority = PRIORITY_MASKED;
        self.accepted += 1;
        tracing::trace!(old, new = self.xirr, "xics: accept");
        old
    }

    /// Sets CPPR (H_CPPR). More favoured: a pending interrupt that no longer
    /// beats it is rejected. Less favoured or equal with nothing pending:
    /// the IPI is checked and `true` asks the caller for an ICS resend.
    pub(crate) fn set_cppr(&mut self, ics: &Ics, cppr: u8) -> bool {
        let old = self.cppr();
        self.set_cppr_byte(cppr);
        if cppr < old {
            if self.xisr() != 0 && cppr <= self.pending_priority {
                let rejected = self.xisr();
                let from_ics = self.xisr_from_ics();
                self.set_xisr(0);
                self.pending_priority = PRIORITY_MASKED;
                self.lower();
                if from_ics {
                    ics.reject(rejected);
                }
            }
            false
        } else if self.xisr() == 0 {
            self.resend_ipi(ics);
            true
        } else {
            false
        }
    }

    /// The presenter half of an EOI: CPPR takes the top byte of `xirr`
    /// (no rejection check, as in QEMU and KVM); with nothing pending the
    /// IPI is checked and `true` asks the caller for an ICS resend.
    #[inline]
    pub(crate) fn eoi(&mut self, ics: &Ics, xirr: u32) -> bool {
        self.set_cppr_byte((xirr >> 24) as u8);
        tracing::trace!(xirr, now = self.xirr, "xics: eoi");
        if self.xisr() == 0 {
            self.resend_ipi(ics);
            true
        } else {
            false
        }
    }

    /// Sets the MFRR (H_IPI): presents the IPI if it beats CPPR.
    #[inline]
    pub(crate) fn set_mfrr(&mut self, ics: &Ics, mfrr: u8) {
        self.mfrr = mfrr;
        if mfrr < self.cppr() {
            self.check_ipi(ics);
        }
    }

    /// The presenter half of QEMU's `icp_resend` for migration post-load.
    pub(crate) fn resend(&mut self, ics: &Ics) {
        self.resend_ipi(ics);
    }
}
