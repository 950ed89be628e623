//! The sPAPR XICS controller: the engine behind
//! [`spapr_irq::InterruptController`], with the XICS hypercalls and RTAS
//! calls, the device-tree node, `info pic` and the migration sections, and
//! its registration as backend `"xics"`.
//!
//! When XICS is not the active controller (the guest chose XIVE at CAS),
//! every hypercall and RTAS call answers as QEMU's emulated XICS does: it
//! logs `pseries: <function> must only be called for emulated XICS` and
//! returns `H_HARDWARE` (RTAS status -1). H_XIRR and H_XIRR_X accept
//! before that check, as QEMU's do.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use migration::Migratable;
use spapr_irq::papr::{h, hcall, rtas};
use spapr_irq::{
    Backend, Caller, ControllerConfig, DtError, DtSink, HcallReply, InterruptController, IrqError,
    RtasCallDesc, VcpuDesc,
};

use crate::engine::{Xics, XicsConfig};
use crate::error::XicsError;
use crate::source::SourceKind;
use crate::state::{IcpSection, IcsSection};

/// RTAS token of `ibm,set-xive`.
pub const RTAS_IBM_SET_XIVE: u32 = 0x200A;
/// RTAS token of `ibm,get-xive`.
pub const RTAS_IBM_GET_XIVE: u32 = 0x200B;
/// RTAS token of `ibm,int-off`.
pub const RTAS_IBM_INT_OFF: u32 = 0x200C;
/// RTAS token of `ibm,int-on`.
pub const RTAS_IBM_INT_ON: u32 = 0x200D;

/// `KVM_DEV_TYPE_XICS`.
pub const KVM_DEV_TYPE_XICS: u32 = 3;

static HCALLS: [u64; 6] = [
    hcall::H_EOI,
    hcall::H_CPPR,
    hcall::H_IPI,
    hcall::H_IPOLL,
    hcall::H_XIRR,
    hcall::H_XIRR_X,
];

static RTAS_CALLS: [RtasCallDesc; 4] = [
    RtasCallDesc {
        name: "ibm,set-xive",
        token: RTAS_IBM_SET_XIVE,
    },
    RtasCallDesc {
        name: "ibm,get-xive",
        token: RTAS_IBM_GET_XIVE,
    },
    RtasCallDesc {
        name: "ibm,int-off",
        token: RTAS_IBM_INT_OFF,
    },
    RtasCallDesc {
        name: "ibm,int-on",
        token: RTAS_IBM_INT_ON,
    },
];

/// The sPAPR XICS controller. Cheap to share: the engine is behind an
/// `Arc`, and the migration sections hold it too.
#[derive(Debug)]
pub struct SpaprXics {
    xics: Arc<Xics>,
    active: AtomicBool,
}

impl SpaprXics {
    /// A controller with `nr_xirqs` sources from 0x1000 and room for
    /// `nr_servers` server numbers and vCPU indices; inactive (lines
    /// disconnected until [`InterruptController::activate`]).
    pub fn new(nr_xirqs: u32, nr_servers: u32) -> Result<Self, XicsError> {
        let xics = Xics::new(XicsConfig::spapr(nr_xirqs, nr_servers))?;
        xics.set_outputs_enabled(false);
        Ok(Self {
            xics: Arc::new(xics),
            active: AtomicBool::new(false),
        })
    }

    /// The engine, for direct use and inspection.
    pub fn engine(&self) -> &Arc<Xics> {
        &self.xics
    }

    /// QEMU's `check_emulated_xics`: false, with QEMU's error log, when
    /// XICS is not the active controller.
    fn check_emulated(&self, func: &str) -> bool {
        if self.active.load(Ordering::Acquire) {
            return true;
        }
        tracing::error!("pseries: {func} must only be called for emulated XICS");
        false
    }

    fn no_presenter(&self, func: &str, caller: Caller) -> HcallReply {
        tracing::error!(
            "pseries: {func}: vCPU {} has no XICS presenter",
            caller.vcpu
        );
        HcallReply::ret(h::HARDWARE)
    }

    fn h_xirr(&self, caller: Caller, func: &str, with_timebase: bool) -> HcallReply {
        let xirr = match self.xics.accept(caller.vcpu) {
            Ok(x) => x,
            Err(_) => return self.no_presenter(func, caller),
        };
        if !self.check_emulated(func) {
            return HcallReply::ret(h::HARDWARE);
        }
        if with_timebase {
            HcallReply::ok(&[xirr as u64, caller.timebase])
        } else {
            HcallReply::ok(&[xirr as u64])
        }
    }

    fn rtas_call(&self, token: u32, func: &str, args: &[u32], rets: &mut [u32]) -> i32 {
        if !self.check_emulated(func) {
            return rtas::HW_ERROR;
        }
        let (nargs, nret) = match token {
            RTAS_IBM_SET_XIVE => (3, 1),
            RTAS_IBM_GET_XIVE => (1, 3),
            _ => (1, 1),
        };
        if args.len() != nargs || rets.len() != nret {
            return rtas::PARAMETER_ERROR;
        }
        let irq = args[0];
        let result = match token {
            RTAS_IBM_SET_XIVE => {
                if args[2] > 0xFF {
                    return rtas::PARAMETER_ERROR;
                }
                self.xics.set_xive(irq, args[1], args[2] as u8)
            }
            RTAS_IBM_GET_XIVE => self.xics.xive(irq).map(|(server, priority)| {
                rets[1] = server;
                rets[2] = priority as u32;
            }),
            RTAS_IBM_INT_OFF => self.xics.int_off(irq),
            _ => self.xics.int_on(irq),
        };
        match result {
            Ok(()) => rtas::SUCCESS,
            Err(_) => rtas::PARAMETER_ERROR,
        }
    }
}

impl InterruptController for SpaprXics {
    fn name(&self) -> &'static str {
        "xics"
    }

    fn delivered(&self, vcpu: u32) -> u64 {
        self.xics.accepted(vcpu)
    }

    /// Emulated XICS only: activation enables the hypercalls and RTAS
    /// calls and reconnects the presenters' lines (raised again where an
    /// interrupt is pending); `nr_servers` matters to an in-kernel device
    /// only.
    fn activate(&self, nr_servers: u32) -> Result<(), IrqError> {
        tracing::debug!(nr_servers, "xics: activate");
        self.active.store(true, Ordering::Release);
        self.xics.set_outputs_enabled(true);
        Ok(())
    }

    /// Disables the calls and lowers every presenter line, keeping the
    /// state: each controller has its own line bit into a vCPU, and the
    /// inactive one must not hold it up.
    fn deactivate(&self) {
        tracing::debug!("xics: deactivate");
        self.active.store(false, Ordering::Release);
        self.xics.set_outputs_enabled(false);
    }

    fn is_active(&self) -> bool {
        self.active.load(Ordering::Acquire)
    }

    fn cpu_intc_create(&self, vcpu: &VcpuDesc) -> Result<(), IrqError> {
        self.xics
            .add_presenter(vcpu.index, vcpu.server, vcpu.line.clone())
            .map_err(Into::into)
    }

    fn cpu_intc_reset(&self, vcpu: u32) {
        if let Err(e) = self.xics.reset_presenter(vcpu) {
            tracing::warn!("xics: reset: {e}");
        }
    }

    fn cpu_intc_destroy(&self, vcpu: u32) {
        if let Err(e) = self.xics.remove_presenter(vcpu) {
            tracing::warn!("xics: destroy: {e}");
        }
    }

    fn claim_irq(&self, irq: u32, lsi: bool) -> Result<(), IrqError> {
        let kind = if lsi {
            SourceKind::Lsi
        } else {
            SourceKind::Msi
        };
        self.xics.claim(irq, kind).map_err(Into::into)
    }

    fn free_irq(&self, irq: u32) {
        if let Err(e) = self.xics.free(irq) {
            tracing::warn!("xics: free: {e}");
        }
    }

    fn is_claimed(&self, irq: u32) -> bool {
        self.xics.source(irq).is_some_and(|s| s.is_claimed())
    }

    #[inline]
    fn set_irq(&self, irq: u32, level: bool) {
        if let Err(e) = self.xics.set_irq(irq, level) {
            tracing::debug!("xics: set_irq ignored: {e}");
        }
    }

    fn reset(&self) {
        self.xics.reset_sources();
    }

    /// `info pic` in QEMU's layout; the pointer column is described in
    /// [`crate::info`].
    fn print_info(&self, out: &mut dyn fmt::Write) -> fmt::Result {
        crate::info::write_info_pic(&self.xics, out)
    }

    fn dt_node(&self, sink: &mut dyn DtSink, nr_servers: u32, phandle: u32) -> Result<(), DtError> {
        crate::dt::write_node(sink, nr_servers, phandle)
    }

    fn hcall_opcodes(&self) -> &'static [u64] {
        &HCALLS
    }

    /// Arguments beyond `args.len()` read as 0. Values are truncated to
    /// the width QEMU's handlers use (CPPR and MFRR to 8 bits, the EOI's
    /// XIRR to 32); a server number above 32 bits names no server.
    #[inline]
    fn hcall(&self, caller: Caller, opcode: u64, args: &[u64]) -> HcallReply {
        let arg = |i: usize| args.get(i).copied().unwrap_or(0);
        match opcode {
            hcall::H_XIRR => self.h_xirr(caller, "h_xirr", false),
            hcall::H_XIRR_X => self.h_xirr(caller, "h_xirr_x", true),
            hcall::H_EOI => {
                if !self.check_emulated("h_eoi") {
                    return HcallReply::ret(h::HARDWARE);
                }
                match self.xics.eoi(caller.vcpu, arg(0) as u32) {
                    Ok(()) => HcallReply::ret(h::SUCCESS),
                    Err(XicsError::UnknownSource(_)) => HcallReply::ret(h::PARAMETER),
                    Err(_) => self.no_presenter("h_eoi", caller),
                }
            }
            hcall::H_CPPR => {
                if !self.check_emulated("h_cppr") {
                    return HcallReply::ret(h::HARDWARE);
                }
                match self.xics.set_cppr(caller.vcpu, arg(0) as u8) {
                    Ok(()) => HcallReply::ret(h::SUCCESS),
                    Err(_) => self.no_presenter("h_cppr", caller),
                }
            }
            hcall::H_IPI => {
                if !self.check_emulated("h_ipi") {
                    return HcallReply::ret(h::HARDWARE);
                }
                let result = u32::try_from(arg(0))
                    .map_err(|_| XicsError::NoServer(u32::MAX))
                    .and_then(|server| self.xics.set_mfrr(server, arg(1) as u8));
                match result {
                    Ok(()) => HcallReply::ret(h::SUCCESS),
                    Err(_) => HcallReply::ret(h::PARAMETER),
                }
            }
            hcall::H_IPOLL => {
                if !self.check_emulated("h_ipoll") {
                    return HcallReply::ret(h::HARDWARE);
                }
                let result = u32::try_from(arg(0))
                    .map_err(|_| XicsError::NoServer(u32::MAX))
                    .and_then(|server| self.xics.ipoll(server));
                match result {
                    Ok((xirr, mfrr)) => HcallReply::ok(&[xirr as u64, mfrr as u64]),
                    Err(_) => HcallReply::ret(h::PARAMETER),
                }
            }
            _ => HcallReply::ret(h::FUNCTION),
        }
    }

    fn rtas_calls(&self) -> &'static [RtasCallDesc] {
        &RTAS_CALLS
    }

    /// Checks in QEMU's order: active (else -1 and the log), nargs/nret
    /// (else -3), then the interrupt number, server and priority (else
    /// -3). With no return word at all there is nowhere to put a status
    /// and nothing is done.
    fn rtas(&self, _caller: Caller, token: u32, args: &[u32], rets: &mut [u32]) {
        let func = match token {
            RTAS_IBM_SET_XIVE => "rtas_set_xive",
            RTAS_IBM_GET_XIVE => "rtas_get_xive",
            RTAS_IBM_INT_OFF => "rtas_int_off",
            RTAS_IBM_INT_ON => "rtas_int_on",
            _ => {
                tracing::warn!("xics: unknown RTAS token {token:#x}");
                if let Some(r) = rets.first_mut() {
                    *r = rtas::PARAMETER_ERROR as u32;
                }
                return;
            }
        };
        if rets.is_empty() {
            tracing::warn!("xics: {func} called with nret 0");
            return;
        }
        let status = self.rtas_call(token, func, args, rets);
        rets[0] = status as u32;
    }

    fn migratables(&self) -> Vec<Arc<dyn Migratable>> {
        let mut out: Vec<Arc<dyn Migratable>> =
            vec![Arc::new(IcsSection::new(Arc::clone(&self.xics)))];
        for vcpu in self.xics.vcpus() {
            out.push(Arc::new(IcpSection::new(Arc::clone(&self.xics), vcpu)));
        }
        out
    }

    /// QEMU's `xics_spapr_post_load`: every presenter resends.
    fn post_load(&self) {
        self.xics.resend_all();
    }
}

fn factory(cfg: &ControllerConfig) -> Result<Arc<dyn InterruptController>, IrqError> {
    Ok(Arc::new(SpaprXics::new(cfg.nr_xirqs, cfg.nr_servers)?))
}

spapr_irq::inventory::submit! {
    Backend {
        name: "xics",
        capability: "xics",
        cas_ov5: 0x00,
        cas_mode: "XICS legacy",
        line_bit: 0,
        kvm_device_type: Some(KVM_DEV_TYPE_XICS),
        order: 0,
        factory,
    }
}
