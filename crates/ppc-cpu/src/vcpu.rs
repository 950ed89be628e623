//! The public vCPU: creation, reset, the run loop and its exits, the
//! setters the machine uses (H_SET_MODE, start-cpu, compat mode).

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use vm_memory::GuestMemoryMmap;

use crate::cache::BlockCache;
use crate::cpu::Cpu;
use crate::decode::K;
use crate::excp::{vector, Fault};
use crate::mem::{Access, Ram, Tlb};
use crate::model::{CpuModel, IsaLevel};
use crate::regs::{lpcr, msr, spr};
use crate::shared::{CpuShared, SmtCore};
use crate::spr::spr_table;
use crate::timebase::{Decrementer, Timebase};

/// The external-interrupt input of a vCPU (the OR of the lines the
/// interrupt controllers drive). Polled at block boundaries and right after
/// instructions that unmask interrupts.
pub trait ExternalInterrupt: Send + Sync {
    /// Whether an external interrupt is asserted.
    fn asserted(&self) -> bool;
}

impl ExternalInterrupt for AtomicU32 {
    fn asserted(&self) -> bool {
        self.load(Ordering::Acquire) != 0
    }
}

/// Any `Fn() -> bool` works as an input, for instance
/// `move || inputs.levels() != 0` over spapr-irq's `VcpuIrqInputs`.
impl<F: Fn() -> bool + Send + Sync> ExternalInterrupt for F {
    fn asserted(&self) -> bool {
        self()
    }
}

/// An access outside RAM that the machine must complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MmioRequest {
    /// Real (guest physical) address.
    pub addr: u64,
    /// Size in bytes (1, 2, 4 or 8).
    pub size: u8,
    /// For a store: the value whose big-endian representation over `size`
    /// bytes is what the CPU puts on the bus (a little-endian guest's
    /// `stw 0x11223344` gives 0x44332211). `None` for a load.
    pub write: Option<u64>,
}

impl MmioRequest {
    /// The bus bytes of a store, in address order.
    pub fn bus_bytes(&self) -> Vec<u8> {
        let v = self.write.unwrap_or(0);
        let n = self.size as usize;
        (0..n).map(|i| (v >> (8 * (n - 1 - i))) as u8).collect()
    }
}

/// How the machine completes an MMIO request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MmioResult {
    /// Done; for a load, the value in the same convention as
    /// [`MmioRequest::write`] (big-endian interpretation of the bus bytes).
    Done(u64),
    /// Nothing answers at this address: the guest takes a machine check.
    Unassigned,
}

/// Why [`Vcpu::run`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VcpuExit {
    /// `sc 1` from privileged state: opcode in r3, arguments in r4..r12
    /// (also given here). NIP already points after the `sc`; the machine
    /// writes r3.. with [`Vcpu::set_hcall_result`] and runs again.
    Hcall {
        /// r3.
        opcode: u64,
        /// r4..r12.
        args: [u64; 9],
    },
    /// A load or store outside RAM; complete it with
    /// [`Vcpu::complete_mmio`] before running again.
    Mmio(MmioRequest),
    /// The guest executed `wait`: idle until an interrupt is pending
    /// ([`Vcpu::interrupt_pending`], [`Vcpu::time_to_next_event`]).
    Idle,
    /// A valid instruction this emulator does not implement.
    Unimplemented {
        /// Its address.
        nip: u64,
        /// The instruction word.
        word: u32,
    },
    /// Machine check with `MSR[ME]=0`: the CPU is checkstopped.
    Checkstop,
    /// The instruction budget ran out (check stop requests, run again).
    BudgetExhausted,
}

/// One PowerPC 64 hardware thread.
pub struct Vcpu {
    pub(crate) cpu: Cpu,
    pub(crate) cache: BlockCache,
}

impl std::fmt::Debug for Vcpu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vcpu")
            .field("model", &self.cpu.model.name)
            .field("pir", &self.cpu.pir)
            .field("nip", &format_args!("{:#x}", self.cpu.nip))
            .field("msr", &format_args!("{:#x}", self.cpu.msr))
            .finish()
    }
}

/// Instructions between decrementer polls while nothing else forces one.
const TIMER_POLL: u64 = 4096;
/// Instructions a chain of blocks runs with `MSR[EE]` set before the run
/// loop polls the external, decrementer and doorbell inputs again.
const EE_CHAIN: u64 = 256;

impl Vcpu {
    /// A vCPU of `model` with processor id `pir`, on guest RAM `mem`,
    /// sharing `shared` and `timebase` with the machine's other vCPUs. It
    /// starts in the reset state ([`Vcpu::reset`]).
    pub fn new(
        model: &'static CpuModel,
        mem: &GuestMemoryMmap,
        shared: Arc<CpuShared>,
        timebase: Timebase,
        pir: u32,
    ) -> Vcpu {
        let cpu = Cpu {
            g: [0; 256],
            crf: [0; 8],
            xer: 0,
            ca: false,
            ca32: false,
            lr: 0,
            ctr: 0,
            msr: 0,
            nip: 0,
            le: false,
            ea_mask: u64::MAX,
            dctx: 0,
            tlb: Tlb::new(),
            pwc: [crate::mmu::PWC_EMPTY; crate::mmu::PWC_SIZE],
            ram: Ram::new(mem),
            shared,
            stop_block: false,
            recheck: true,
            tar: 0,
            srr0: 0,
            srr1: 0,
            dar: 0,
            dsisr: 0,
            cfar: 0,
            sprg: [0; 4],
            pidr: 0,
            lpcr: 0,
            pir,
            tir: 0,
            dec: Decrementer::default(),
            timebase,
            spr_store: Box::new([0; 1024]),
            model,
            compat: None,
            core: None,
            ext: None,
            reservation: None,
            mmio_replay: None,
            tlb_gen_seen: 0,
            xlate_epoch: 0,
            spr_rights: spr_table(model.family),
            mmio_ea: 0,
            mmio_store: false,
            rng: 0x9e37_79b9_7f4a_7c15 ^ pir as u64,
            next_timer_poll: 0,
            icount: 0,
        };
        let mut v = Vcpu {
            cpu,
            cache: BlockCache::new(),
        };
        v.reset();
        v
    }

    /// The CPU model.
    pub fn model(&self) -> &'static CpuModel {
        self.cpu.model
    }

    /// Resets to QEMU 7.2's pseries reset state: NIP=0x100, all GPRs 0,
    /// DEC=0xffffffff, LPCR = LPES0 | PECE (| LD with a large decrementer),
    /// no compat mode. MSR = SF|ME rather than QEMU's 0: ME is immutable
    /// for the guest here, and the guests tolerate SF=1 (guest-abi §4).
    /// The machine then sets r3 (FDT) and NIP as its firmware contract
    /// says. Reservations, caches and TLBs are dropped.
    pub fn reset(&mut self) {
        let c = &mut self.cpu;
        c.g = [0; 256];
        c.crf = [0; 8];
        c.xer = 0;
        c.ca = false;
        c.ca32 = false;
        c.lr = 0;
        c.ctr = 0;
        c.tar = 0;
        c.srr0 = 0;
        c.srr1 = 0;
        c.dar = 0;
        c.dsisr = 0;
        c.cfar = 0;
        c.sprg = [0; 4];
        c.pidr = 0;
        c.spr_store.fill(0);
        c.lpcr = lpcr::LPES0;
        if c.model.isa >= IsaLevel::V3_00 {
            c.lpcr |= lpcr::PECE_P9;
        }
        if c.model.large_dec_bits.is_some() {
            c.lpcr |= lpcr::LD;
        }
        c.compat = None;
        c.dec.bits = c.dec_bits();
        let tb = c.tb();
        c.dec.write(0xffff_ffff, tb);
        c.reservation = None;
        c.mmio_replay = None;
        c.nip = 0x100;
        c.set_msr(msr::SF | msr::ME);
        c.flush_translations();
        c.recheck = true;
        self.cache.clear();
    }

    /// start-cpu: NIP = `entry`, r3 = `r3`, MSR = SF|ME (big-endian).
    pub fn start(&mut self, entry: u64, r3: u64) {
        self.cpu.nip = entry;
        self.cpu.g[3] = r3;
        self.cpu.set_msr(msr::SF | msr::ME);
        self.cpu.reservation = None;
    }

    /// Connects the external-interrupt input.
    pub fn set_external_interrupt(&mut self, input: Arc<dyn ExternalInterrupt>) {
        self.cpu.ext = Some(input);
        self.cpu.recheck = true;
    }

    /// Makes this vCPU thread `tir` of `core` (doorbells, DPDES, TIR).
    pub fn attach_core(&mut self, core: Arc<SmtCore>, tir: u32) {
        self.cpu.core = Some(core);
        self.cpu.tir = tir;
    }

    /// Runs until an exit, or until `budget` instructions have executed.
    pub fn run(&mut self, budget: u64) -> VcpuExit {
        let limit = self.cpu.icount.saturating_add(budget);
        loop {
            let tg = self.cpu.shared.tlb_gen();
            if tg != self.cpu.tlb_gen_seen {
                self.cpu.tlb_gen_seen = tg;
                self.cpu.flush_translations();
            }
            if self.cpu.msr & msr::EE != 0 {
                self.poll_async();
            }
            if self.cpu.icount >= limit {
                return VcpuExit::BudgetExhausted;
            }
            let pc = self.cpu.nip;
            let idx = match self.cache.lookup(&mut self.cpu) {
                Ok(i) => i,
                Err(f) => {
                    // A fetch fault counts against the budget, so that an
                    // interrupt loop (a vector that faults again) still
                    // returns to the machine.
                    self.cpu.icount += 1;
                    if let Some(e) = self.fault(f, pc, 4) {
                        return e;
                    }
                    continue;
                }
            };
            let msr_before = self.cpu.msr;
            let traced = msr_before & (msr::SE | msr::BE) != 0;
            let first = self.cache.blocks[idx as usize].insns[0].k;
            // A traced block is one instruction and runs alone; with EE set
            // the chain returns often enough for interrupts to be polled.
            let stop = if traced {
                self.cpu.icount + 1
            } else if msr_before & msr::EE != 0 {
                limit.min(self.cpu.icount + EE_CHAIN)
            } else {
                limit
            };
            let fault = self.cpu.exec_chain(&self.cache, idx, stop);
            if let Some((f, fpc, len)) = fault {
                if !matches!(f, Fault::Hcall | Fault::Idle) {
                    // The faulting instruction counts against the budget.
                    self.cpu.icount += 1;
                }
                if let Some(e) = self.fault(f, fpc, len) {
                    return e;
                }
                continue;
            }
            if traced {
                self.trace(msr_before, first, pc);
            }
        }
    }

    fn trace(&mut self, msr_before: u64, k: K, pc: u64) {
        let branch = matches!(k, K::B | K::Bc | K::Bclr | K::Bcctr | K::Bctar);
        let se = msr_before & msr::SE != 0 && !matches!(k, K::Rfid | K::Sc);
        let be = msr_before & msr::BE != 0 && branch;
        if se || be {
            let bits = if self.cpu.model.isa >= IsaLevel::V2_07 {
                self.cpu.spr_store[spr::SIAR as usize] = pc;
                0x4000_0000
            } else {
                0
            };
            let next = self.cpu.nip;
            self.cpu.interrupt(vector::TRACE, next, bits);
        }
    }

    /// Handles a fault: delivers an interrupt, or returns the exit.
    fn fault(&mut self, f: Fault, pc: u64, len: u8) -> Option<VcpuExit> {
        let c = &mut self.cpu;
        match f {
            Fault::Hcall => {
                let g = &c.g;
                Some(VcpuExit::Hcall {
                    opcode: g[3],
                    args: [g[4], g[5], g[6], g[7], g[8], g[9], g[10], g[11], g[12]],
                })
            }
            Fault::Idle => Some(VcpuExit::Idle),
            Fault::Mmio(r) => {
                c.nip = pc;
                Some(VcpuExit::Mmio(r))
            }
            Fault::Unimplemented(_) => {
                c.nip = pc;
                let word = self.word_at(pc).unwrap_or(0);
                Some(VcpuExit::Unimplemented { nip: pc, word })
            }
            Fault::Resched => None,
            Fault::MachineCheck { .. } if c.msr & msr::ME == 0 => {
                c.nip = pc;
                Some(VcpuExit::Checkstop)
            }
            f => {
                c.deliver(f, pc, len);
                None
            }
        }
    }

    fn word_at(&mut self, ea: u64) -> Option<u32> {
        let (pa, _) = self.cpu.translate(ea, Access::Fetch).ok()?;
        let mut b = [0u8; 4];
        self.cpu.ram.read_bytes(pa, &mut b).then_some(())?;
        Some(if self.cpu.le {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    }

    /// Takes a pending external, decrementer or doorbell interrupt (`MSR[EE]`
    /// is set).
    fn poll_async(&mut self) {
        let c = &mut self.cpu;
        if c.ext.as_ref().is_some_and(|e| e.asserted()) {
            let nip = c.nip;
            c.interrupt(vector::EXTERNAL, nip, 0);
            return;
        }
        if c.recheck || c.icount >= c.next_timer_poll {
            c.recheck = false;
            c.next_timer_poll = c.icount + TIMER_POLL;
            let tb = c.tb();
            if c.dec.negative(tb) {
                let nip = c.nip;
                c.interrupt(vector::DECREMENTER, nip, 0);
                return;
            }
        }
        if let Some(core) = &c.core {
            if core.pending(c.tir) {
                core.clear(c.tir);
                let nip = c.nip;
                c.interrupt(vector::DOORBELL, nip, 0);
            }
        }
    }
}
