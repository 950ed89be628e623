//! The XICS engine: one ICS and one presenter per interrupt server, usable
//! without sPAPR, a registry or a machine.
//!
//! # Threads and locks
//!
//! vCPU threads (accept, EOI, CPPR, IPI) and device threads (`set_irq`)
//! call at the same time. The scheme:
//!
//! - each source is one atomic word, updated by compare-and-swap: there is
//!   no ICS lock;
//! - each presenter has its own mutex; **no code path ever holds two
//!   presenter locks**, and nothing is locked while a presenter lock is
//!   held except the source words (atomics) and the vCPU's wake-up;
//! - a presenter rejects a source (sets REJECTED, clears SENT, marks it
//!   pending) *while holding its lock*; every change that can make a
//!   presenter accept more (CPPR less favoured, EOI) runs the ICS resend
//!   pass *after* releasing it. So a rejection either happened before the
//!   change, and the pass that follows sees its mark, or after it, and then
//!   it saw the new CPPR and was not a rejection. Nothing is lost;
//! - a source can be handed out for delivery only by the compare-and-swap
//!   that clears its REJECTED bit or sets its SENT bit, so two resend
//!   passes running at once cannot deliver one rejection twice.
//!
//! QEMU runs the same algorithm under its big lock; only the resend pass
//! differs in form: QEMU walks all sources, this walks the marked ones in
//! the same ascending order (see [`crate::pending`]).
//!
//! # Hot paths
//!
//! `set_irq`, accept, EOI and IPI allocate nothing, look the presenter up
//! by index (vCPU index or server number) and take that presenter's lock
//! only. The resend pass after an EOI costs one load when no source waits.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use spapr_irq::IrqLine;

use crate::error::XicsError;
use crate::icp::{Icp, PresenterState, XICS_IPI, XISR_MASK};
use crate::ics::{Delivery, Ics};
use crate::source::{SourceKind, SourceState, PRIORITY_MASKED};

/// How an engine is sized.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XicsConfig {
    /// Global number of the first source (sPAPR: 0x1000). Must be above
    /// the IPI number 2, so that 0 and 2 never name a source.
    pub offset: u32,
    /// Number of sources.
    pub nr_irqs: u32,
    /// Number of interrupt server numbers (`0..nr_servers`).
    pub nr_servers: u32,
    /// Number of vCPU indices (`0..max_vcpus`).
    pub max_vcpus: u32,
}

impl XicsConfig {
    /// The sPAPR layout: sources from 0x1000, as many vCPU indices as
    /// server numbers.
    pub const fn spapr(nr_irqs: u32, nr_servers: u32) -> Self {
        Self {
            offset: spapr_irq::numbering::XIRQ_BASE,
            nr_irqs,
            nr_servers,
            max_vcpus: nr_servers,
        }
    }
}

/// The ICS/ICP engine. See the module documentation.
#[derive(Debug)]
pub struct Xics {
    ics: Ics,
    /// Presenters, indexed by server number.
    icps: Box<[Icp]>,
    /// vCPU index -> server number + 1 (0: no presenter).
    vcpu_server: Box<[AtomicU32]>,
    /// Whether presenters drive their lines (see [`Xics::set_outputs_enabled`]).
    outputs_enabled: AtomicBool,
}

impl Xics {
    /// Builds an engine with every source unclaimed and masked and no
    /// presenter.
    pub fn new(cfg: XicsConfig) -> Result<Self, XicsError> {
        if cfg.nr_irqs == 0 {
            return Err(XicsError::Config(
                "Number of interrupts needs to be greater 0".into(),
            ));
        }
        if cfg.offset <= XICS_IPI
            || cfg
                .offset
                .checked_add(cfg.nr_irqs)
                .is_none_or(|end| end - 1 > XISR_MASK)
        {
            return Err(XicsError::Config(format!(
                "ICS range {:#x}+{:#x} must lie within 3..=0xffffff",
                cfg.offset, cfg.nr_irqs
            )));
        }
        Ok(Self {
            ics: Ics::new(cfg.offset, cfg.nr_irqs),
            icps: (0..cfg.nr_servers).map(|_| Icp::new()).collect(),
            vcpu_server: (0..cfg.max_vcpus).map(|_| AtomicU32::new(0)).collect(),
            outputs_enabled: AtomicBool::new(true),
        })
    }

    /// Global number of the first source.
    pub fn offset(&self) -> u32 {
        self.ics.offset()
    }

    /// Number of sources.
    pub fn nr_irqs(&self) -> u32 {
        self.ics.nr_irqs()
    }

    /// Number of server slots.
    pub fn nr_servers(&self) -> u32 {
        self.icps.len() as u32
    }

    /// Number of vCPU slots.
    pub fn max_vcpus(&self) -> u32 {
        self.vcpu_server.len() as u32
    }

    fn srcno(&self, irq: u32) -> Result<u32, XicsError> {
        self.ics.srcno(irq).ok_or(XicsError::IrqOutOfRange {
            irq,
            first: self.offset(),
            end: self.offset() + self.nr_irqs(),
        })
    }

    // ---- presenters -------------------------------------------------

    /// Creates the presenter of vCPU `vcpu` serving `server`, raising
    /// `line`. It starts reset: CPPR 0, so nothing is delivered until the
    /// vCPU opens it with a CPPR (or EOI).
    pub fn add_presenter(&self, vcpu: u32, server: u32, line: IrqLine) -> Result<(), XicsError> {
        let slot = self.vcpu_slot(vcpu)?;
        let icp = self
            .icps
            .get(server as usize)
            .ok_or(XicsError::ServerOutOfRange {
                server,
                nr_servers: self.nr_servers(),
            })?;
        let mut st = icp.state.lock();
        if st.owner.is_some() {
            return Err(XicsError::ServerTaken(server));
        }
        slot.compare_exchange(0, server + 1, Ordering::AcqRel, Ordering::Acquire)
            .map_err(|_| XicsError::PresenterExists(vcpu))?;
        st.owner = Some((vcpu, line));
        st.reset();
        Ok(())
    }

    /// Removes the presenter of `vcpu` (vCPU unplug). Whatever it had
    /// pending is dropped, as in QEMU.
    pub fn remove_presenter(&self, vcpu: u32) -> Result<(), XicsError> {
        let slot = self.vcpu_slot(vcpu)?;
        let server = slot.swap(0, Ordering::AcqRel);
        let icp = server
            .checked_sub(1)
            .and_then(|s| self.icps.get(s as usize))
            .ok_or(XicsError::NoPresenter(vcpu))?;
        let mut st = icp.state.lock();
        st.reset();
        st.owner = None;
        Ok(())
    }

    /// Resets the presenter of `vcpu` (vCPU reset): CPPR 0, nothing
    /// pending, MFRR 0xFF, line low.
    pub fn reset_presenter(&self, vcpu: u32) -> Result<(), XicsError> {
        let icp = self.icp_of_vcpu(vcpu)?;
        icp.state.lock().reset();
        Ok(())
    }

    /// Server number of `vcpu`'s presenter.
    pub fn server_of(&self, vcpu: u32) -> Option<u32> {
        let v = self.vcpu_server.get(vcpu as usize)?.load(Ordering::Acquire);
        v.checked_sub(1)
    }

    /// Whether a presenter serves `server`.
    pub fn has_server(&self, server: u32) -> bool {
        self.icps
            .get(server as usize)
            .is_some_and(|icp| icp.state.lock().owner.is_some())
    }

    /// vCPU indices that have a presenter, ascending.
    pub fn vcpus(&self) -> impl Iterator<Item = u32> + '_ {
        (0..self.max_vcpus()).filter(|&v| self.server_of(v).is_some())
    }

    /// A snapshot of `vcpu`'s presenter.
    pub fn presenter(&self, vcpu: u32) -> Option<PresenterState> {
        let server = self.server_of(vcpu)?;
        let st = self.icps[server as usize].state.lock();
        Some(PresenterState {
            vcpu,
            server,
            xirr: st.xirr,
            pending_priority: st.pending_priority,
            mfrr: st.mfrr,
        })
    }

    fn vcpu_slot(&self, vcpu: u32) -> Result<&AtomicU32, XicsError> {
        self.vcpu_server
            .get(vcpu as usize)
            .ok_or(XicsError::VcpuOutOfRange {
                vcpu,
                max: self.max_vcpus(),
            })
    }

    #[inline]
    fn icp_of_vcpu(&self, vcpu: u32) -> Result<&Icp, XicsError> {
        let v = self
            .vcpu_server
            .get(vcpu as usize)
            .map_or(0, |s| s.load(Ordering::Acquire));
        v.checked_sub(1)
            .and_then(|s| self.icps.get(s as usize))
            .ok_or(XicsError::NoPresenter(vcpu))
    }

    #[inline]
    fn icp_of_server(&self, server: u32) -> Result<&Icp, XicsError> {
        self.icps
            .get(server as usize)
            .ok_or(XicsError::NoServer(server))
    }

    // ---- sources ----------------------------------------------------

    /// Claims source `irq` as an LSI or MSI.
    pub fn claim(&self, irq: u32, kind: SourceKind) -> Result<(), XicsError> {
        let srcno = self.srcno(irq)?;
        self.ics
            .claim(srcno, kind)
            .map_err(|_| XicsError::NotFree(irq))
    }

    /// Frees source `irq`: its whole state is zeroed, as QEMU does (so a
    /// source claimed again before the next reset starts at priority 0,
    /// server 0).
    pub fn free(&self, irq: u32) -> Result<(), XicsError> {
        let srcno = self.srcno(irq)?;
        self.ics.store(srcno, SourceState::unpack(0));
        Ok(())
    }

    /// A snapshot of source `irq`.
    pub fn source(&self, irq: u32) -> Option<SourceState> {
        self.ics.srcno(irq).map(|s| self.ics.load(s))
    }

    /// Device input on `irq`: an edge for an MSI (`level` false is
    /// ignored), the line level for an LSI.
    #[inline]
    pub fn set_irq(&self, irq: u32, level: bool) -> Result<(), XicsError> {
        let srcno = self.srcno(irq)?;
        match self.ics.set_irq(srcno, level) {
            Err(()) => Err(XicsError::NotClaimed(irq)),
            Ok(Some(d)) => {
                self.deliver(d);
                Ok(())
            }
            Ok(None) => Ok(()),
        }
    }

    /// Routes `irq` to `server` at `priority` (`ibm,set-xive`); the saved
    /// priority becomes `priority` too. The server must have a presenter.
    pub fn set_xive(&self, irq: u32, server: u32, priority: u8) -> Result<(), XicsError> {
        let srcno = self.srcno(irq)?;
        if !self.has_server(server) {
            return Err(XicsError::NoServer(server));
        }
        self.write_xive(srcno, |_| (server, priority, priority));
        Ok(())
    }

    /// Server and priority of `irq` (`ibm,get-xive`).
    pub fn xive(&self, irq: u32) -> Result<(u32, u8), XicsError> {
        let s = self.ics.load(self.srcno(irq)?);
        Ok((s.server, s.priority))
    }

    /// Masks `irq`, saving its priority (`ibm,int-off`). Twice in a row
    /// saves 0xFF, as in QEMU.
    pub fn int_off(&self, irq: u32) -> Result<(), XicsError> {
        let srcno = self.srcno(irq)?;
        self.write_xive(srcno, |s| (s.server, PRIORITY_MASKED, s.priority));
        Ok(())
    }

    /// Restores the saved priority of `irq` (`ibm,int-on`).
    pub fn int_on(&self, irq: u32) -> Result<(), XicsError> {
        let srcno = self.srcno(irq)?;
        self.write_xive(srcno, |s| (s.server, s.saved_priority, s.saved_priority));
        Ok(())
    }

    fn write_xive(&self, srcno: u32, f: impl FnMut(&SourceState) -> (u32, u8, u8)) {
        let (_, delivery) = self.ics.write_xive(srcno, f);
        if let Some(d) = delivery {
            self.deliver(d);
        }
    }

    /// ICS reset (machine reset): allocation kept, everything else cleared,
    /// every source masked. Presenters are reset per vCPU.
    pub fn reset_sources(&self) {
        self.ics.reset();
    }

    // ---- presenter operations ----------------------------------------

    /// Presents a delivery to its server; rejected back to the ICS when no
    /// presenter serves that server.
    #[inline]
    fn deliver(&self, d: Delivery) {
        match self.icps.get(d.server as usize) {
            Some(icp) => icp.state.lock().present(&self.ics, d.irq, d.priority),
            None => self.ics.reject(d.irq),
        }
    }

    /// The ICS resend pass: every marked source, ascending.
    #[inline]
    fn resend_sources(&self) {
        let mut from = 0;
        while let Some(srcno) = self.ics.pending.take_next(from) {
            if let Some(d) = self.ics.resend_one(srcno) {
                self.deliver(d);
            }
            from = srcno + 1;
        }
    }

    /// Accepts the pending interrupt of `vcpu` (H_XIRR): returns the XIRR
    /// from before (old CPPR, XISR). Nothing pending: returns
    /// `CPPR << 24` and changes nothing.
    #[inline]
    pub fn accept(&self, vcpu: u32) -> Result<u32, XicsError> {
        Ok(self.icp_of_vcpu(vcpu)?.state.lock().accept())
    }

    /// How many interrupts `vcpu` has accepted (statistics).
    pub fn accepted(&self, vcpu: u32) -> u64 {
        self.icp_of_vcpu(vcpu)
            .map_or(0, |icp| icp.state.lock().accepted)
    }

    /// Ends an interrupt on `vcpu` (H_EOI): CPPR := `xirr >> 24`, the
    /// source's EOI (none for the IPI), then a resend if nothing is
    /// pending. A source number that is neither the IPI nor in the ICS
    /// gives [`XicsError::UnknownSource`] after all that (as KVM's H_EOI
    /// does; QEMU says nothing).
    #[inline]
    pub fn eoi(&self, vcpu: u32, xirr: u32) -> Result<(), XicsError> {
        let icp = self.icp_of_vcpu(vcpu)?;
        let resend = icp.state.lock().eoi(&self.ics, xirr);
        let irq = xirr & XISR_MASK;
        let known = if irq == XICS_IPI {
            true
        } else if let Some(srcno) = self.ics.srcno(irq) {
            self.ics.eoi(srcno);
            true
        } else {
            false
        };
        if resend {
            self.resend_sources();
        }
        if known {
            Ok(())
        } else {
            Err(XicsError::UnknownSource(irq))
        }
    }

    /// Sets the CPPR of `vcpu` (H_CPPR).
    pub fn set_cppr(&self, vcpu: u32, cppr: u8) -> Result<(), XicsError> {
        let icp = self.icp_of_vcpu(vcpu)?;
        let resend = icp.state.lock().set_cppr(&self.ics, cppr);
        if resend {
            self.resend_sources();
        }
        Ok(())
    }

    /// Sets the MFRR of `server` (H_IPI).
    #[inline]
    pub fn set_mfrr(&self, server: u32, mfrr: u8) -> Result<(), XicsError> {
        let icp = self.icp_of_server(server)?;
        let mut st = icp.state.lock();
        if st.owner.is_none() {
            return Err(XicsError::NoServer(server));
        }
        st.set_mfrr(&self.ics, mfrr);
        Ok(())
    }

    /// XIRR and MFRR of `server`, without side effects (H_IPOLL).
    pub fn ipoll(&self, server: u32) -> Result<(u32, u8), XicsError> {
        let st = self.icp_of_server(server)?.state.lock();
        if st.owner.is_none() {
            return Err(XicsError::NoServer(server));
        }
        Ok((st.xirr, st.mfrr))
    }

    /// QEMU's ICS post-load: every presenter checks its IPI and runs the
    /// resend pass, in vCPU order.
    pub fn resend_all(&self) {
        for vcpu in 0..self.max_vcpus() {
            if let Ok(icp) = self.icp_of_vcpu(vcpu) {
                icp.state.lock().resend(&self.ics);
                self.resend_sources();
            }
        }
    }

    /// Connects or disconnects the presenters' lines, state kept: disabled,
    /// every line is lowered (and a migrated pending XISR does not raise
    /// it); enabled, each line is raised again where an interrupt is
    /// pending. An sPAPR machine in dual mode disables the controller that
    /// is not active, so that its stale state can never hold a vCPU's
    /// input up. Engine operations that present an interrupt raise the
    /// line regardless; the sPAPR layer does not run them while disabled.
    pub fn set_outputs_enabled(&self, enabled: bool) {
        self.outputs_enabled.store(enabled, Ordering::Release);
        for icp in self.icps.iter() {
            let st = icp.state.lock();
            if let Some((_, line)) = &st.owner {
                line.set(enabled && st.xisr() != 0);
            }
        }
    }

    // ---- state transfer (migration) ------------------------------------

    /// Replaces every source's state (incoming migration; the caller has
    /// validated it) and rebuilds the resend marks.
    pub(crate) fn load_sources(&self, states: &[SourceState]) {
        for (srcno, s) in states.iter().enumerate() {
            self.ics.store(srcno as u32, *s);
        }
        self.ics.rebuild_pending();
    }

    /// Replaces a presenter's XIRR, pending priority and MFRR (incoming
    /// migration); the line follows XISR.
    pub(crate) fn load_presenter(
        &self,
        vcpu: u32,
        xirr: u32,
        pending_priority: u8,
        mfrr: u8,
    ) -> Result<(), XicsError> {
        let icp = self.icp_of_vcpu(vcpu)?;
        let mut st = icp.state.lock();
        st.xirr = xirr;
        st.pending_priority = pending_priority;
        st.mfrr = mfrr;
        if let Some((_, line)) = &st.owner {
            line.set(xirr & XISR_MASK != 0 && self.outputs_enabled.load(Ordering::Acquire));
        }
        Ok(())
    }
}
