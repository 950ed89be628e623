//! The architected state of one vCPU and the helpers every instruction
//! group uses (CR0, XER, EA masking, mode caches).

use std::sync::Arc;

use crate::mem::{Ram, Tlb};
use crate::mmu::{PwcEntry, PWC_EMPTY, PWC_SIZE};
use crate::model::{CpuModel, IsaLevel};
use crate::regs::{lpcr, msr, xer};
use crate::shared::{CpuShared, SmtCore};
use crate::timebase::{Decrementer, Timebase};
use crate::vcpu::ExternalInterrupt;

/// Index of the always-zero pseudo register used for `(RA|0)` operands.
pub(crate) const ZERO_REG: usize = 32;

/// A load/store reservation (larx), checked by value at stcx.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reservation {
    /// Real address of the reserved location.
    pub pa: u64,
    /// Size in bytes (1, 2, 4, 8, 16).
    pub size: u8,
    /// Memory contents at larx time (raw memory order, 16 bytes max).
    pub raw: [u8; 16],
    /// Granule generation at larx time.
    pub gen: u32,
}

/// An MMIO access the machine completed, replayed when the instruction
/// re-executes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MmioReplay {
    pub pa: u64,
    pub size: u8,
    pub write: bool,
    /// Value for a load (bus order, big-endian interpretation).
    pub value: u64,
}

/// Architected and implementation state of one hardware thread.
pub(crate) struct Cpu {
    /// GPRs 0..31 plus the zero pseudo register at 32; 256 entries so
    /// that any `u8` operand index needs no mask or bounds check.
    pub g: [u64; 256],
    /// CR as its eight 4-bit fields (LT, GT, EQ, SO from bit 3 down), one
    /// byte each so that compares store a byte and branches test one.
    pub crf: [u8; 8],
    /// XER without CA/CA32 (SO, OV, OV32, byte count).
    pub xer: u64,
    pub ca: bool,
    pub ca32: bool,
    pub lr: u64,
    pub ctr: u64,
    pub msr: u64,
    pub nip: u64,
    /// Cached: `MSR[LE]`.
    pub le: bool,
    /// Cached: EA mask (32-bit mode truncates).
    pub ea_mask: u64,
    /// Cached: data MMU context index (DR, PR).
    pub dctx: usize,
    pub tlb: Tlb,
    /// Radix page-walk cache (flushed with the TLB).
    pub pwc: [PwcEntry; PWC_SIZE],
    pub ram: Ram,
    pub shared: Arc<CpuShared>,
    /// Set by stores that hit decoded code: ends the current block.
    pub stop_block: bool,
    /// Something changed that async-event checks must look at.
    pub recheck: bool,
    pub tar: u64,
    pub srr0: u64,
    pub srr1: u64,
    pub dar: u64,
    pub dsisr: u64,
    pub cfar: u64,
    pub sprg: [u64; 4],
    pub pidr: u64,
    pub lpcr: u64,
    pub pir: u32,
    pub tir: u32,
    pub dec: Decrementer,
    pub timebase: Timebase,
    /// Plain storage for table SPRs without side effects.
    pub spr_store: Box<[u64; 1024]>,
    pub model: &'static CpuModel,
    pub compat: Option<IsaLevel>,
    pub core: Option<Arc<SmtCore>>,
    pub ext: Option<Arc<dyn ExternalInterrupt>>,
    pub reservation: Option<Reservation>,
    pub mmio_replay: Option<MmioReplay>,
    pub tlb_gen_seen: u64,
    /// Bumped whenever translations are flushed (the block cache's jump
    /// table follows it).
    pub xlate_epoch: u64,
    /// SPR rights table of the model.
    pub spr_rights: Box<[u8; 1024]>,
    /// EA of the last MMIO request (for a machine check if unassigned).
    pub mmio_ea: u64,
    /// Kind of the last MMIO request.
    pub mmio_store: bool,
    /// darn state.
    pub rng: u64,
    /// Instruction count at which the decrementer is next polled.
    pub next_timer_poll: u64,
    /// Guest instructions executed (retired) since creation.
    pub icount: u64,
}

impl Cpu {
    /// Guest timebase now.
    #[inline]
    pub fn tb(&self) -> u64 {
        self.timebase.read()
    }

    /// Refreshes caches derived from the MSR.
    #[inline]
    pub fn msr_changed(&mut self) {
        self.le = self.msr & msr::LE != 0;
        self.ea_mask = if self.msr & msr::SF != 0 {
            u64::MAX
        } else {
            0xffff_ffff
        };
        self.dctx =
            (((self.msr & msr::DR) != 0) as usize) << 1 | ((self.msr & msr::PR) != 0) as usize;
        self.recheck = true;
    }

    /// Sets the MSR (already filtered) and refreshes caches.
    pub fn set_msr(&mut self, v: u64) {
        self.msr = v;
        self.msr_changed();
    }

    /// Full XER value.
    pub fn get_xer(&self) -> u64 {
        self.xer | if self.ca { xer::CA } else { 0 } | if self.ca32 { xer::CA32 } else { 0 }
    }

    /// Sets XER from a full value.
    pub fn put_xer(&mut self, v: u64) {
        self.ca = v & xer::CA != 0;
        self.ca32 = v & xer::CA32 != 0;
        self.xer = v & (xer::SO | xer::OV | xer::OV32 | xer::BC);
    }

    /// Whether `XER[SO]` is set.
    #[inline]
    pub fn so(&self) -> u32 {
        ((self.xer >> 31) & 1) as u32
    }

    /// Sets a CR field (0..7) to `v` (4 bits).
    #[inline]
    pub fn set_crf(&mut self, f: u32, v: u32) {
        self.crf[(f & 7) as usize] = (v & 0xf) as u8;
    }

    /// The 32-bit CR.
    pub fn get_cr(&self) -> u32 {
        self.crf
            .iter()
            .fold(0, |cr, &f| (cr << 4) | (f & 0xf) as u32)
    }

    /// Sets the 32-bit CR.
    pub fn put_cr(&mut self, v: u32) {
        for (i, f) in self.crf.iter_mut().enumerate() {
            *f = ((v >> (28 - 4 * i)) & 0xf) as u8;
        }
    }

    /// CR bit `bi` (0 = CR0[LT] .. 31 = CR7[SO]).
    #[inline]
    pub fn cr_bit(&self, bi: u32) -> bool {
        self.crf[((bi >> 2) & 7) as usize] & (8 >> (bi & 3)) != 0
    }

    /// Sets CR bit `bi` to `v`.
    #[inline]
    pub fn set_cr_bit(&mut self, bi: u32, v: bool) {
        let f = &mut self.crf[((bi >> 2) & 7) as usize];
        let m = 8u8 >> (bi & 3);
        *f = if v { *f | m } else { *f & !m };
    }

    /// CR field `f`.
    #[inline]
    pub fn crf(&self, f: u32) -> u32 {
        self.crf[(f & 7) as usize] as u32
    }

    /// CR0 from a result (compared as 64- or 32-bit signed per `MSR[SF]`).
    #[inline]
    pub fn set_cr0(&mut self, r: u64) {
        let v = if self.ea_mask == u64::MAX {
            r as i64
        } else {
            r as i32 as i64
        };
        let c = if v < 0 {
            8
        } else if v > 0 {
            4
        } else {
            2
        };
        self.crf[0] = (c | self.so()) as u8;
    }

    /// Signed compare result bits (LT/GT/EQ) plus SO.
    #[inline]
    pub fn cmp_s(&self, a: i64, b: i64) -> u32 {
        (if a < b {
            8
        } else if a > b {
            4
        } else {
            2
        }) | self.so()
    }

    /// Unsigned compare result bits plus SO.
    #[inline]
    pub fn cmp_u(&self, a: u64, b: u64) -> u32 {
        (if a < b {
            8
        } else if a > b {
            4
        } else {
            2
        }) | self.so()
    }

    /// Sets OV/OV32 (and SO when set).
    #[inline]
    pub fn set_ov(&mut self, ov: bool, ov32: bool) {
        self.xer &= !(xer::OV | xer::OV32);
        if ov {
            self.xer |= xer::OV | xer::SO;
        }
        if ov32 {
            self.xer |= xer::OV32;
        }
    }

    /// The effective ISA level (compat mode or native).
    pub fn isa(&self) -> IsaLevel {
        self.compat.unwrap_or(self.model.isa).min(self.model.isa)
    }

    /// Drops every cached translation of this vCPU.
    pub fn flush_translations(&mut self) {
        self.tlb.flush();
        self.pwc = [PWC_EMPTY; PWC_SIZE];
        self.xlate_epoch = self.xlate_epoch.wrapping_add(1);
    }

    /// Decrementer width for the current LPCR.
    pub fn dec_bits(&self) -> u32 {
        match self.model.large_dec_bits {
            Some(b) if self.lpcr & lpcr::LD != 0 => b as u32,
            _ => 32,
        }
    }
}
