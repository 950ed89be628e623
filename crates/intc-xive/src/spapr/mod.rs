//! The sPAPR exploitation-mode XIVE controller (QEMU's `spapr-xive`).
//!
//! Numbering, as QEMU does it:
//! - LISNs `0..0x1000 + nr_xirqs`, one source each, block 0; the IPIs of
//!   servers `0..nr_servers` are claimed (as MSIs) at creation;
//! - END index `(server << 3) + priority`, so `nr_servers * 8` ENDs;
//! - NVT index `0x400 + server`, block 0. No NVT table is kept: an NVT is
//!   valid when a vCPU with that server exists;
//! - priority 7 and up are reserved for the hypervisor (`hv-prio` 7);
//! - ESB pages at [`VC_BASE`] (two 64K pages per LISN: trigger, then
//!   management), TIMA at [`TM_BASE`] (HW, HV, OS, USER views), both
//!   served only while the controller is active. The END ESB pages that
//!   follow the source ESBs are modelled by the engine but, as in QEMU,
//!   never mapped.
//!
//! Each vCPU's thread context is the presenter slot of its `cpu_index`; its
//! OS ring drives the vCPU's line, its OS CAM is pushed at creation and at
//! every vCPU reset. The POOL and PHYS rings have no wire on sPAPR.

mod hcalls;
mod migration;
mod present;

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;

use spapr_irq::{
    Caller, ControllerConfig, DtError, DtSink, HcallReply, InterruptController, IrqError,
    MmioError, MmioRegion, RtasCallDesc, VcpuDesc,
};

use crate::engine::nvt::{cam_line, Nvt, NvtBackend, NvtError};
use crate::engine::regs::tm;
use crate::engine::{Eas, Ring, Router, RouterConfig, SourceBlock, SourceConfig};

/// Source ESB window base (`vc-base`).
pub const VC_BASE: u64 = 0x0006_0100_0000_0000;
/// TIMA base (`tm-base`).
pub const TM_BASE: u64 = 0x0006_0302_0318_0000;
/// Size of the TIMA: four 64K views.
pub const TM_SIZE: u64 = 4 << tm::PAGE_SHIFT;
/// NVT index of server 0.
pub const NVT_BASE: u32 = 0x400;
/// First priority reserved for the hypervisor.
pub const HV_PRIO: u8 = 7;
/// Source ESB shift: two 64K pages per LISN.
pub const ESB_SHIFT: u32 = 17;
/// END ESB page shift (two pages per END).
pub const END_ESB_SHIFT: u32 = 16;
/// Block id of every sPAPR structure.
pub const BLOCK: u8 = 0;
/// First LISN above the IPIs.
pub const XIRQ_BASE: u32 = spapr_irq::numbering::XIRQ_BASE;

const NONE: u32 = u32::MAX;

/// NVTs of sPAPR: `0x400 + server` is valid while that server's vCPU
/// exists. Lock-free: one atomic per server.
#[derive(Debug)]
pub struct SpaprNvts {
    by_server: Box<[AtomicU32]>,
}

impl SpaprNvts {
    fn new(nr_servers: u32) -> Self {
        Self {
            by_server: (0..nr_servers).map(|_| AtomicU32::new(NONE)).collect(),
        }
    }

    /// The `cpu_index` of the vCPU with interrupt server `server`.
    #[inline]
    pub fn vcpu_of(&self, server: u64) -> Option<u32> {
        let slot = self.by_server.get(usize::try_from(server).ok()?)?;
        let v = slot.load(Ordering::Acquire);
        (v != NONE).then_some(v)
    }
}

impl NvtBackend for SpaprNvts {
    #[inline]
    fn get_nvt(&self, block: u8, index: u32) -> Option<Nvt> {
        if block != BLOCK || index < NVT_BASE {
            return None;
        }
        self.vcpu_of(u64::from(index - NVT_BASE))
            .map(|_| Nvt::VALID)
    }

    fn write_nvt(&self, block: u8, index: u32, _nvt: &Nvt, _word: usize) -> Result<(), NvtError> {
        // sPAPR keeps no NVT table and never sets BACKLOG: QEMU asserts
        // here; an engine misuse is reported instead.
        Err(NvtError::ReadOnly(block, index))
    }
}

/// State shared by the controller and its migration sections.
#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) active: AtomicBool,
    pub(crate) nr_irqs: u32,
    pub(crate) nr_servers: u32,
    pub(crate) source: SourceBlock,
    pub(crate) router: Router<SpaprNvts>,
    /// Server of each vCPU slot (`cpu_index`), `NONE` when absent.
    pub(crate) vcpu_server: Box<[AtomicU32]>,
}

impl Inner {
    pub(crate) fn nr_ends(&self) -> u32 {
        self.router.config().nr_ends
    }

    pub(crate) fn end_base(&self) -> u64 {
        VC_BASE + (u64::from(self.nr_irqs) << ESB_SHIFT)
    }

    /// END index of `server`/`priority`, if that server has a vCPU.
    pub(crate) fn end_of(&self, server: u64, priority: u8) -> Option<u32> {
        self.router.nvt().vcpu_of(server)?;
        Some(((server as u32) << 3) + u32::from(priority))
    }

    fn os_cam(server: u32) -> u32 {
        tm::QW1W2_VO | cam_line(BLOCK, NVT_BASE + server)
    }

    fn push_os_cam(&self, vcpu: u32, reset: bool) {
        let Some(server) = self.server_of(vcpu) else {
            return;
        };
        self.router.presenter().with_context(vcpu, true, |st| {
            if reset {
                st.reset();
            }
            st.set_word2(Ring::Os, Self::os_cam(server));
        });
    }

    pub(crate) fn server_of(&self, vcpu: u32) -> Option<u32> {
        let v = self.vcpu_server.get(vcpu as usize)?.load(Ordering::Acquire);
        (v != NONE).then_some(v)
    }

    /// Resets the routing state: every source off, every valid EAS valid
    /// and masked, every END reset.
    pub(crate) fn reset_routing(&self) {
        self.source.reset();
        self.router.eat().reset();
        self.router.endt().reset();
    }
}

/// The sPAPR XIVE controller.
#[derive(Debug, Clone)]
pub struct SpaprXive {
    inner: Arc<Inner>,
}

impl SpaprXive {
    /// Builds the controller for `cfg`: `0x1000 + nr_xirqs` LISNs,
    /// `nr_servers * 8` ENDs, and the IPI LISNs `0..nr_servers` claimed.
    pub fn new(cfg: &ControllerConfig) -> Result<Self, IrqError> {
        let nr_servers = cfg.nr_servers;
        if nr_servers == 0 || nr_servers > spapr_irq::numbering::NR_IPIS {
            return Err(IrqError::Config(format!(
                "XIVE supports 1 to {} interrupt servers, not {nr_servers}",
                spapr_irq::numbering::NR_IPIS
            )));
        }
        let nr_irqs = XIRQ_BASE
            .checked_add(cfg.nr_xirqs)
            .filter(|n| *n <= 1 << 24)
            .ok_or_else(|| IrqError::Config(format!("invalid nr_xirqs {:#x}", cfg.nr_xirqs)))?;
        let source = SourceBlock::new(SourceConfig::spapr(nr_irqs))
            .map_err(|e| IrqError::Config(e.to_string()))?;
        let router = Router::new(
            RouterConfig {
                block: BLOCK,
                nr_eas: nr_irqs,
                nr_ends: nr_servers * 8,
                nr_contexts: nr_servers,
                end_esb_shift: END_ESB_SHIFT,
            },
            SpaprNvts::new(nr_servers),
            cfg.guest_memory.clone(),
        );
        let inner = Inner {
            active: AtomicBool::new(false),
            nr_irqs,
            nr_servers,
            source,
            router,
            vcpu_server: (0..nr_servers).map(|_| AtomicU32::new(NONE)).collect(),
        };
        let x = Self {
            inner: Arc::new(inner),
        };
        for ipi in 0..nr_servers {
            x.claim_irq(ipi, false)?;
        }
        Ok(x)
    }

    /// The engine router (EAS, ENDs, presenter), for inspection.
    pub fn router(&self) -> &Router<SpaprNvts> {
        &self.inner.router
    }

    /// The source block, for inspection.
    pub fn source(&self) -> &SourceBlock {
        &self.inner.source
    }

    /// Number of LISNs.
    pub fn nr_irqs(&self) -> u32 {
        self.inner.nr_irqs
    }

    /// Guest address of LISN `lisn`'s trigger page.
    pub fn trigger_page(lisn: u32) -> u64 {
        VC_BASE + (u64::from(lisn) << ESB_SHIFT)
    }

    /// Guest address of LISN `lisn`'s management page.
    pub fn mgmt_page(lisn: u32) -> u64 {
        Self::trigger_page(lisn) + (1 << (ESB_SHIFT - 1))
    }

    /// Guest address of the TIMA OS view.
    pub const TIMA_OS: u64 = TM_BASE + (2 << tm::PAGE_SHIFT);
}

const HCALLS: [u64; 11] = {
    use spapr_irq::papr::hcall::*;
    [
        H_INT_GET_SOURCE_INFO,
        H_INT_SET_SOURCE_CONFIG,
        H_INT_GET_SOURCE_CONFIG,
        H_INT_GET_QUEUE_INFO,
        H_INT_SET_QUEUE_CONFIG,
        H_INT_GET_QUEUE_CONFIG,
        H_INT_SET_OS_REPORTING_LINE,
        H_INT_GET_OS_REPORTING_LINE,
        H_INT_ESB,
        H_INT_SYNC,
        H_INT_RESET,
    ]
};

fn size_mask(size: u8) -> u64 {
    if size >= 8 {
        u64::MAX
    } else {
        (1u64 << (size * 8)) - 1
    }
}

impl InterruptController for SpaprXive {
    fn name(&self) -> &'static str {
        "xive"
    }

    fn delivered(&self, vcpu: u32) -> u64 {
        self.router()
            .presenter()
            .with_context(vcpu, false, |st| st.acked)
            .unwrap_or(0)
    }

    fn activate(&self, nr_servers: u32) -> Result<(), IrqError> {
        if nr_servers > self.inner.nr_servers {
            return Err(IrqError::Activation(format!(
                "XIVE was created for {} servers, not {nr_servers}",
                self.inner.nr_servers
            )));
        }
        self.inner.active.store(true, Ordering::Release);
        Ok(())
    }

    fn deactivate(&self) {
        self.inner.active.store(false, Ordering::Release);
    }

    fn is_active(&self) -> bool {
        self.inner.active.load(Ordering::Acquire)
    }

    fn cpu_intc_create(&self, vcpu: &VcpuDesc) -> Result<(), IrqError> {
        let i = &self.inner;
        if vcpu.server >= i.nr_servers {
            return Err(IrqError::Config(format!(
                "vCPU server {} is outside the {} XIVE servers",
                vcpu.server, i.nr_servers
            )));
        }
        let slot = i.vcpu_server.get(vcpu.index as usize).ok_or_else(|| {
            IrqError::Config(format!(
                "vCPU index {} is outside the {} XIVE thread contexts",
                vcpu.index, i.nr_servers
            ))
        })?;
        let by_server = &i.router.nvt().by_server[vcpu.server as usize];
        if by_server
            .compare_exchange(NONE, vcpu.index, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return Err(IrqError::Config(format!(
                "interrupt server {} already has a thread context",
                vcpu.server
            )));
        }
        if i.router
            .presenter()
            .attach(vcpu.index, vcpu.pir, Some(vcpu.line.clone()), None)
            .is_err()
        {
            by_server.store(NONE, Ordering::Release);
            return Err(IrqError::PresenterExists(vcpu.index));
        }
        slot.store(vcpu.server, Ordering::Release);
        // Early OS CAM for hot-plugged vCPUs, which miss the machine reset.
        i.push_os_cam(vcpu.index, false);
        Ok(())
    }

    fn cpu_intc_reset(&self, vcpu: u32) {
        self.inner.push_os_cam(vcpu, true);
    }

    fn cpu_intc_destroy(&self, vcpu: u32) {
        let i = &self.inner;
        if let Some(server) = i.server_of(vcpu) {
            i.router.presenter().detach(vcpu);
            i.router.nvt().by_server[server as usize].store(NONE, Ordering::Release);
            i.vcpu_server[vcpu as usize].store(NONE, Ordering::Release);
        }
    }

    fn claim_irq(&self, irq: u32, lsi: bool) -> Result<(), IrqError> {
        let i = &self.inner;
        if irq >= i.nr_irqs {
            return Err(IrqError::OutOfRange {
                irq,
                first: 0,
                end: i.nr_irqs,
            });
        }
        i.router
            .eat()
            .update(irq, |e| {
                (!e.is_valid()).then_some(Eas(e.0 | Eas::VALID_MASKED.0))
            })
            .ok_or(IrqError::NotFree(irq))?;
        // QEMU only ever sets the LSI bit (a freed LSI reclaimed as an MSI
        // would stay an LSI); here the claim sets the type both ways.
        i.source.set_lsi(irq, lsi);
        Ok(())
    }

    fn free_irq(&self, irq: u32) {
        // Only VALID is cleared (the LSI type stays until the next claim).
        self.inner
            .router
            .eat()
            .update(irq, |e| Some(Eas(e.0 & !crate::engine::regs::eas::VALID)));
    }

    fn is_claimed(&self, irq: u32) -> bool {
        self.inner
            .router
            .eat()
            .get(irq)
            .is_some_and(|e| e.is_valid())
    }

    #[inline]
    fn set_irq(&self, irq: u32, level: bool) {
        let i = &self.inner;
        i.source.set_irq(irq, level, &i.router);
    }

    fn reset(&self) {
        self.inner.reset_routing();
    }

    fn print_info(&self, out: &mut dyn fmt::Write) -> fmt::Result {
        present::print_info(&self.inner, out)
    }

    fn dt_root_properties(&self, sink: &mut dyn DtSink) -> Result<(), DtError> {
        present::dt_root_properties(sink)
    }

    fn dt_node(&self, sink: &mut dyn DtSink, nr_servers: u32, phandle: u32) -> Result<(), DtError> {
        present::dt_node(sink, nr_servers, phandle)
    }

    fn hcall_opcodes(&self) -> &'static [u64] {
        &HCALLS
    }

    fn hcall(&self, caller: Caller, opcode: u64, args: &[u64]) -> HcallReply {
        hcalls::hcall(&self.inner, caller, opcode, args)
    }

    fn rtas_calls(&self) -> &'static [RtasCallDesc] {
        &[]
    }

    fn rtas(&self, _caller: Caller, _token: u32, _args: &[u32], rets: &mut [u32]) {
        if let Some(status) = rets.first_mut() {
            *status = spapr_irq::papr::rtas::PARAMETER_ERROR as u32;
        }
    }

    fn mmio_regions(&self) -> Vec<MmioRegion> {
        if !self.is_active() {
            return Vec::new();
        }
        vec![
            MmioRegion {
                name: "xive.esb",
                base: VC_BASE,
                size: self.inner.source.esb_len(),
            },
            MmioRegion {
                name: "xive.tima",
                base: TM_BASE,
                size: TM_SIZE,
            },
        ]
    }

    #[inline]
    fn mmio_read(&self, caller: Caller, addr: u64, size: u8) -> Result<u64, MmioError> {
        let i = &self.inner;
        if !i.active.load(Ordering::Acquire) {
            return Err(MmioError::Unmapped(addr));
        }
        if !matches!(size, 1 | 2 | 4 | 8) {
            return Err(MmioError::Invalid { addr, size });
        }
        let v = if addr.wrapping_sub(VC_BASE) < i.source.esb_len() {
            i.source.esb_load(addr - VC_BASE, &i.router)
        } else if addr.wrapping_sub(TM_BASE) < TM_SIZE {
            i.router.tima_read(caller.vcpu, addr - TM_BASE, size)
        } else {
            return Err(MmioError::Unmapped(addr));
        };
        v.map(|v| v & size_mask(size))
            .ok_or(MmioError::Invalid { addr, size })
    }

    #[inline]
    fn mmio_write(&self, caller: Caller, addr: u64, size: u8, value: u64) -> Result<(), MmioError> {
        let i = &self.inner;
        if !i.active.load(Ordering::Acquire) {
            return Err(MmioError::Unmapped(addr));
        }
        if !matches!(size, 1 | 2 | 4 | 8) {
            return Err(MmioError::Invalid { addr, size });
        }
        let ok = if addr.wrapping_sub(VC_BASE) < i.source.esb_len() {
            i.source.esb_store(addr - VC_BASE, &i.router)
        } else if addr.wrapping_sub(TM_BASE) < TM_SIZE {
            i.router
                .tima_write(caller.vcpu, addr - TM_BASE, size, value & size_mask(size))
        } else {
            return Err(MmioError::Unmapped(addr));
        };
        ok.then_some(()).ok_or(MmioError::Invalid { addr, size })
    }

    fn migratables(&self) -> Vec<Arc<dyn ::migration::Migratable>> {
        migration::sections(&self.inner)
    }

    fn post_load(&self) {
        // Emulated: nothing to push anywhere; the sections' apply already
        // re-drove the lines from the loaded registers.
    }
}

/// The registry factory.
pub fn create(cfg: &ControllerConfig) -> Result<Arc<dyn InterruptController>, IrqError> {
    Ok(Arc::new(SpaprXive::new(cfg)?))
}
