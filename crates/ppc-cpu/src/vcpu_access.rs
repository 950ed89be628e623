//! The machine-facing accessors and setters of [`Vcpu`]: registers,
//! SPRs, LPCR and H_SET_MODE, compat mode, idle/wake queries, MMIO and
//! hcall completion.

use std::time::Duration;

use crate::cpu::{Cpu, ZERO_REG};
use crate::excp::vector;
use crate::mem::Access;
use crate::model::IsaLevel;
use crate::regs::{lpcr, msr};
use crate::timebase::Timebase;
use crate::vcpu::{MmioRequest, MmioResult, Vcpu};

impl Vcpu {
    /// Whether an interrupt that `MSR[EE]` gates is pending now (external
    /// line, negative decrementer, doorbell), whatever `MSR[EE]` is: what
    /// ends an idle (`wait`, H_CEDE).
    pub fn interrupt_pending(&self) -> bool {
        let c = &self.cpu;
        c.ext.as_ref().is_some_and(|e| e.asserted())
            || c.dec.negative(c.tb())
            || c.core.as_ref().is_some_and(|k| k.pending(c.tir))
    }

    /// Time until the decrementer next becomes negative (`None` if it
    /// already is), to bound an idle sleep.
    pub fn time_to_next_event(&self) -> Option<Duration> {
        let tb = self.cpu.tb();
        self.cpu
            .dec
            .deadline(tb)
            .map(|d| Duration::from_nanos(Timebase::ticks_to_ns(d.wrapping_sub(tb))))
    }

    /// H_CEDE: sets `MSR[EE]` so that the waking interrupt is taken at the
    /// instruction after the `sc`.
    pub fn cede(&mut self) {
        let m = self.cpu.msr | msr::EE;
        self.cpu.set_msr(m);
    }

    /// Completes the MMIO request of the last [`crate::VcpuExit::Mmio`].
    pub fn complete_mmio(&mut self, req: &MmioRequest, result: MmioResult) {
        match result {
            MmioResult::Done(v) => self.cpu.complete_mmio(req, v),
            MmioResult::Unassigned => {
                let kind = if self.cpu.mmio_store {
                    Access::Store
                } else {
                    Access::Load
                };
                let f = Cpu::bad_real_address(kind, self.cpu.mmio_ea);
                let pc = self.cpu.nip;
                if self.cpu.msr & msr::ME != 0 {
                    self.cpu.deliver(f, pc, 4);
                }
            }
        }
    }

    /// Writes hcall results: r3 = `ret[0]`, r4 = `ret[1]`, ... (at most 10).
    pub fn set_hcall_result(&mut self, ret: &[u64]) {
        for (i, v) in ret.iter().take(10).enumerate() {
            self.cpu.g[3 + i] = *v;
        }
    }

    /// GPR `n` (0..32).
    pub fn gpr(&self, n: usize) -> u64 {
        if n < ZERO_REG {
            self.cpu.g[n]
        } else {
            0
        }
    }

    /// Sets GPR `n` (ignored for n >= 32).
    pub fn set_gpr(&mut self, n: usize, v: u64) {
        if n < ZERO_REG {
            self.cpu.g[n] = v;
        }
    }

    /// Next instruction address.
    pub fn nip(&self) -> u64 {
        self.cpu.nip
    }

    /// Sets the next instruction address.
    pub fn set_nip(&mut self, v: u64) {
        self.cpu.nip = v;
    }

    /// The MSR.
    pub fn msr(&self) -> u64 {
        self.cpu.msr
    }

    /// Sets the MSR unfiltered (machine use: reset, migration, tests).
    pub fn set_msr(&mut self, v: u64) {
        self.cpu.set_msr(v);
    }

    /// CR.
    pub fn cr(&self) -> u32 {
        self.cpu.get_cr()
    }

    /// XER.
    pub fn xer(&self) -> u64 {
        self.cpu.get_xer()
    }

    /// LR.
    pub fn lr(&self) -> u64 {
        self.cpu.lr
    }

    /// CTR.
    pub fn ctr(&self) -> u64 {
        self.cpu.ctr
    }

    /// SRR0 and SRR1.
    pub fn srr(&self) -> (u64, u64) {
        (self.cpu.srr0, self.cpu.srr1)
    }

    /// DAR and DSISR.
    pub fn dar_dsisr(&self) -> (u64, u64) {
        (self.cpu.dar, self.cpu.dsisr)
    }

    /// Reads an SPR as privileged code would (`None` if the model lacks it
    /// or it is write-only).
    pub fn spr(&mut self, n: u16) -> Option<u64> {
        let m = self.cpu.msr;
        self.cpu.msr &= !msr::PR;
        let r = self.cpu.mfspr(n).ok();
        self.cpu.msr = m;
        r
    }

    /// Writes an SPR as privileged code would; `false` if not writable.
    pub fn set_spr(&mut self, n: u16, v: u64) -> bool {
        let m = self.cpu.msr;
        self.cpu.msr &= !msr::PR;
        let r = self.cpu.mtspr(n, v).is_ok();
        self.cpu.msr = m;
        r
    }

    /// H_SET_SPRG0 and the like.
    pub fn set_sprg(&mut self, n: usize, v: u64) {
        if n < 4 {
            self.cpu.sprg[n] = v;
        }
    }

    /// LPCR.
    pub fn lpcr(&self) -> u64 {
        self.cpu.lpcr
    }

    /// Sets LPCR (machine use: caps, H_SET_MODE). Changing LD re-reads the
    /// decrementer width.
    pub fn set_lpcr(&mut self, v: u64) {
        let tb = self.cpu.tb();
        let dec = self.cpu.dec.read(tb);
        self.cpu.lpcr = v;
        self.cpu.dec.bits = self.cpu.dec_bits();
        self.cpu.dec.write(dec, tb);
        self.cpu.flush_translations();
        self.cpu.recheck = true;
    }

    /// H_SET_MODE resource 4: interrupts taken little-endian (`LPCR[ILE]`).
    pub fn set_interrupt_little_endian(&mut self, le: bool) {
        let v = if le {
            self.cpu.lpcr | lpcr::ILE
        } else {
            self.cpu.lpcr & !lpcr::ILE
        };
        self.cpu.lpcr = v;
    }

    /// H_SET_MODE resource 3: `LPCR[AIL]` (0, 2 or 3). Returns `false` for a
    /// mode the model does not support (2 on POWER10, anything else).
    pub fn set_ail(&mut self, mode: u64) -> bool {
        let ok = match mode {
            0 | 3 => true,
            2 => self.cpu.model.isa < IsaLevel::V3_10,
            _ => false,
        };
        if ok {
            self.cpu.lpcr = (self.cpu.lpcr & !lpcr::AIL) | (mode << lpcr::AIL_SHIFT);
        }
        ok
    }

    /// Sets (or clears) the compatibility mode negotiated at CAS or forced
    /// by `max-cpu-compat`. Instructions newer than the mode become
    /// illegal.
    pub fn set_compat(&mut self, level: Option<IsaLevel>) {
        self.cpu.compat = level;
        self.cache.clear();
    }

    /// The compatibility mode, if any.
    pub fn compat(&self) -> Option<IsaLevel> {
        self.cpu.compat
    }

    /// Processor identification register.
    pub fn pir(&self) -> u32 {
        self.cpu.pir
    }

    /// Guest instructions retired so far.
    pub fn instructions(&self) -> u64 {
        self.cpu.icount
    }

    /// Delivers a system reset interrupt (NMI from the monitor).
    pub fn system_reset(&mut self) {
        let nip = self.cpu.nip;
        self.cpu.interrupt(vector::SYSTEM_RESET, nip, 0);
    }

    /// Flushes this vCPU's translations (the machine changed something the
    /// MMU depends on).
    pub fn flush_translations(&mut self) {
        self.cpu.flush_translations();
    }

    /// Blocks decoded so far (statistics: decode-cache efficiency).
    pub fn blocks_decoded(&self) -> u64 {
        self.cache.decoded
    }
}
