//! The `KVMPPC_H_CAS` hypercall: negotiate, switch the interrupt
//! controller without a reset, rebuild the device tree and hand it to the
//! guest.

use ppc_cpu::{IsaLevel, Vcpu};
use spapr_irq::papr::h;

use crate::cas::{self, CasError, CasPlatform, OV5_INTC_BYTE};
use crate::control::ExitReason;
use crate::hcall::{is_running, HcallOutcome};
use crate::machine::{Machine, VcpuSlot};

/// Size of the header QEMU writes before the tree (`version_id`).
const CAS_HEADER: u64 = 4;

impl Machine {
    /// The logical PVRs the CPU model can run as, oldest first.
    fn compat_pvrs(&self) -> Vec<u32> {
        [
            IsaLevel::V2_06,
            IsaLevel::V2_06Plus,
            IsaLevel::V2_07,
            IsaLevel::V3_00,
            IsaLevel::V3_10,
        ]
        .into_iter()
        .filter(|&l| self.cfg.cpu.supports_compat(l))
        .map(IsaLevel::logical_pvr)
        .collect()
    }

    /// r4 = architecture vector, r5 = buffer, r6 = buffer size. A fatal
    /// refusal stops the calling vCPU at once (QEMU exits inside the hcall,
    /// so the guest never runs past it).
    pub(crate) fn h_cas(
        &self,
        slot: &VcpuSlot,
        cpu: &mut Vcpu,
        args: &[u64; 9],
    ) -> (i64, HcallOutcome) {
        match self.cas_inner(slot, cpu, args) {
            Ok(ret) => (ret, HcallOutcome::Return),
            Err(msg) => {
                self.fatal(msg);
                (h::HARDWARE, HcallOutcome::Stop)
            }
        }
    }

    /// CAS proper: `Err` is a fatal error message.
    fn cas_inner(&self, slot: &VcpuSlot, cpu: &mut Vcpu, args: &[u64; 9]) -> Result<i64, String> {
        let (vec, buf, size) = (args[0] & !0xF000_0000_0000_0000, args[1], args[2]);
        if size < CAS_HEADER {
            return Err(format!(
                "SLOF provided insufficient CAS buffer {size} (min: {CAS_HEADER})"
            ));
        }
        let platform = CasPlatform {
            ov5: self.platform_ov5.clone(),
            cpu_pvr: self.cfg.cpu.pvr,
            compat_pvrs: self.compat_pvrs(),
            max_compat: self.cfg.max_cpu_compat.map(IsaLevel::logical_pvr),
            has_xics: self.irq.has("xics"),
            has_xive: self.irq.has("xive"),
            others_running: self
                .vcpus
                .iter()
                .any(|s| s.index != slot.index && is_running(s)),
        };
        let outcome = cas::parse_request(&self.ram, vec)
            .map_err(CasError::from)
            .and_then(|req| cas::negotiate(&req, &platform));
        let out = match outcome {
            Ok(o) => o,
            Err(e) if e.is_fatal() => return Err(e.to_string()),
            Err(e) => {
                tracing::warn!("{e}");
                return Ok(e.hcall_ret());
            }
        };
        // Every vCPU runs in the negotiated compat mode.
        let level = out.compat_pvr.and_then(IsaLevel::from_logical_pvr);
        cpu.set_compat(level);
        for s in self.vcpus.iter().filter(|s| s.index != slot.index) {
            // The others are stopped or idle: their locks are free or soon so.
            s.cpu.lock().set_compat(level);
        }
        let byte23 = out.ov5_cas.byte(OV5_INTC_BYTE);
        {
            let mut inner = self.inner.lock();
            inner.ov5_cas = out.ov5_cas;
            inner.radix = out.radix;
        }
        self.activate_intc(byte23).map_err(|e| e.to_string())?;
        let blob = crate::devtree::build_cas(self).map_err(|e| format!("device tree: {e}"))?;
        if blob.len() as u64 > size - CAS_HEADER {
            return Err(format!(
                "CAS buffer of {size} bytes is too small for a {} byte device tree",
                blob.len()
            ));
        }
        // QEMU writes version_id = 1 in its host's byte order; SLOF ignores
        // it. We write the bytes an x86 host's QEMU writes, so guests that
        // look see the same thing on both.
        if !self.ram.write(buf, &[1, 0, 0, 0]) || !self.ram.write(buf + CAS_HEADER, &blob) {
            return Ok(h::PARAMETER);
        }
        self.inner.lock().fdt = blob;
        Ok(h::SUCCESS)
    }

    /// A fatal error QEMU ends the VM with: printed, and the machine stops
    /// with a VM-level failure status.
    pub(crate) fn fatal(&self, msg: String) {
        self.request_exit(ExitReason::Error(msg));
    }
}
