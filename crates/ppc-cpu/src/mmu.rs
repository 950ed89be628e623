//! Address translation: real mode and the ISA 3.0 radix MMU as a pseries
//! guest sees it (process-scoped tables from the process table the
//! machine registered; partition scope is the identity).
//!
//! The hash MMU (HPT/SLB) is not implemented: with relocation on and no
//! radix process table registered, every access takes a segment interrupt
//! (what a guest that expects a hash MMU without an SLB entry would see).

use crate::cpu::Cpu;
use crate::excp::Fault;
use crate::mem::Access;
use crate::regs::{dsisr, msr, srr1};

/// Real-mode addresses ignore the top 4 EA bits.
pub(crate) const REAL_MASK: u64 = 0x0fff_ffff_ffff_ffff;

mod pte {
    pub const VALID: u64 = 1 << 63;
    pub const LEAF: u64 = 1 << 62;
    pub const RPN: u64 = 0x01ff_ffff_ffff_f000;
    pub const R: u64 = 1 << 8;
    pub const C: u64 = 1 << 7;
    pub const ATT: u64 = 3 << 4;
    pub const ATT_NI_IO: u64 = 3 << 4;
    pub const PRIV: u64 = 1 << 3;
    pub const READ: u64 = 1 << 2;
    pub const RW: u64 = 1 << 1;
    pub const EXEC: u64 = 1;
    pub const NLB: u64 = 0x0fff_ffff_ffff_ff00;
    pub const NLS: u64 = 0x1f;
}

/// Page-walk-cache entries (direct mapped by EA bits 21 and up).
pub(crate) const PWC_SIZE: usize = 16;

/// One page-walk-cache entry: where the radix walk for one region of one
/// PID continues (the table of the last level), so that a TLB miss in that
/// region reads only the leaf PTE. Like the hardware's page-walk cache it
/// holds directory entries only; every cached entry is dropped with the
/// TLB (tlbie, PIDR or process-table changes).
#[derive(Debug, Clone, Copy)]
pub(crate) struct PwcEntry {
    valid: bool,
    /// `ea >> shift` (quadrant bits included).
    tag: u64,
    pid: u64,
    /// Walk state on entry to the cached level.
    base: u64,
    nls: u64,
    shift: u32,
    level: u32,
}

/// An empty page-walk-cache entry.
pub(crate) const PWC_EMPTY: PwcEntry = PwcEntry {
    valid: false,
    tag: 0,
    pid: 0,
    base: 0,
    nls: 0,
    shift: 0,
    level: 0,
};

/// Outcome of a radix walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RadixTranslation {
    /// Real address.
    pub pa: u64,
    /// log2 of the page size.
    pub page_shift: u32,
    /// The leaf PTE (after R/C updates).
    pub pte: u64,
}

/// Why a radix walk failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WalkError {
    /// Segment interrupt (quadrant or EA beyond the tree's size).
    Segment,
    /// Storage interrupt with the DSISR/SRR1 cause bits.
    Storage(u32),
}

/// The RTS field of a process-table entry: tree size in bits.
fn rts(dw0: u64) -> u32 {
    ((((dw0 >> 61) & 3) << 3) | ((dw0 >> 5) & 7)) as u32 + 31
}

fn valid_level(level: u32, psize: u32, nls: u64) -> bool {
    match level {
        0 => psize == 52 && nls == 13,
        1 | 2 => nls == 9,
        3 => nls == 9 || nls == 5,
        _ => false,
    }
}

impl Cpu {
    /// Translates a data or fetch access; returns the real address and
    /// whether the page may be written through the TLB.
    pub(crate) fn translate(&mut self, ea: u64, acc: Access) -> Result<(u64, bool), Fault> {
        let reloc = match acc {
            Access::Fetch => self.msr & msr::IR != 0,
            _ => self.msr & msr::DR != 0,
        };
        if !reloc {
            return Ok((ea & REAL_MASK, true));
        }
        match self.radix_walk(ea, acc) {
            Ok((t, writable)) => Ok((t.pa, writable)),
            Err(WalkError::Segment) => Err(match acc {
                Access::Fetch => Fault::ISeg,
                _ => Fault::DSeg { dar: ea },
            }),
            Err(WalkError::Storage(cause)) => Err(match acc {
                Access::Fetch => Fault::Isi {
                    bits: cause as u64 & (srr1::ISI_NOPTE | srr1::ISI_PROT | 0x0008_0000),
                },
                Access::Store => Fault::Dsi {
                    dar: ea,
                    dsisr: cause | dsisr::STORE,
                },
                Access::Load => Fault::Dsi {
                    dar: ea,
                    dsisr: cause,
                },
            }),
        }
    }

    /// Walks the radix tree for `ea` in the current context (PIDR,
    /// `MSR[PR]`), setting R/C bits like the hardware (QEMU) does.
    pub(crate) fn radix_walk(
        &mut self,
        ea: u64,
        acc: Access,
    ) -> Result<(RadixTranslation, bool), WalkError> {
        let pid = match ea >> 62 {
            0 => self.pidr & 0xffff_ffff,
            3 => 0,
            _ => return Err(WalkError::Segment),
        };
        let eff = ea & 0x3fff_ffff_ffff_ffff;
        let slot = ((ea >> 21) as usize) & (PWC_SIZE - 1);
        let e = self.pwc[slot];
        let (mut base, mut nls, mut psize, mut level) =
            if e.valid && e.pid == pid && ea >> e.shift == e.tag {
                (e.base, e.nls, e.shift, e.level)
            } else {
                let Some((table, size)) = self.shared.process_table() else {
                    return Err(WalkError::Segment);
                };
                let off = pid * 16;
                if off >= size {
                    return Err(WalkError::Storage(dsisr::NOPTE));
                }
                let dw0 = self
                    .ram
                    .read_be64(table + off)
                    .ok_or(WalkError::Storage(dsisr::NOPTE))?;
                let tree_bits = rts(dw0);
                if tree_bits < 62 && eff >> tree_bits != 0 {
                    return Err(WalkError::Segment);
                }
                (dw0 & 0x0fff_ffff_ffff_ff00, dw0 & pte::NLS, tree_bits, 0)
            };
        let (leaf, pte_addr) = loop {
            if !valid_level(level, psize, nls) {
                return Err(WalkError::Storage(dsisr::BAD_CONFIG));
            }
            let entry = PwcEntry {
                valid: true,
                tag: ea >> psize,
                pid,
                base,
                nls,
                shift: psize,
                level,
            };
            level += 1;
            psize -= nls as u32;
            let index = (eff >> psize) & ((1u64 << nls) - 1);
            let addr = base + index * 8;
            let pde = self
                .ram
                .read_be64(addr)
                .ok_or(WalkError::Storage(dsisr::NOPTE))?;
            if pde & pte::VALID == 0 {
                return Err(WalkError::Storage(dsisr::NOPTE));
            }
            if pde & pte::LEAF != 0 {
                if entry.level > 0 {
                    self.pwc[slot] = entry;
                }
                break (pde, addr);
            }
            base = pde & pte::NLB;
            nls = pde & pte::NLS;
            if nls < 5 {
                return Err(WalkError::Storage(dsisr::BAD_CONFIG));
            }
        };
        // Permissions (EAA) for the process-scoped guest case.
        if acc == Access::Fetch && leaf & pte::ATT == pte::ATT_NI_IO {
            return Err(WalkError::Storage(dsisr::PROT));
        }
        let pr = self.msr & msr::PR != 0;
        let (r, w, x) = if leaf & pte::PRIV != 0 && pr {
            (false, false, false)
        } else {
            (
                leaf & (pte::READ | pte::RW) != 0,
                leaf & pte::RW != 0,
                leaf & pte::EXEC != 0,
            )
        };
        let ok = match acc {
            Access::Load => r,
            Access::Store => w,
            Access::Fetch => x,
        };
        if !ok {
            return Err(WalkError::Storage(dsisr::PROT));
        }
        let mut npte = leaf | pte::R;
        if acc == Access::Store {
            npte |= pte::C;
        }
        if npte != leaf {
            self.ram.write_be64(pte_addr, npte);
        }
        let mask = (1u64 << psize) - 1;
        let pa = (leaf & pte::RPN & !mask) | (eff & mask);
        // Stores through the TLB only once C is set.
        let writable = w && npte & pte::C != 0;
        Ok((
            RadixTranslation {
                pa,
                page_shift: psize,
                pte: npte,
            },
            writable,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rts_decoding() {
        // RTS for 52 bits: 52 - 31 = 21 = 0b10101 -> RTS1 = 0b10, RTS2 = 0b101.
        let dw0 = (2u64 << 61) | (5 << 5) | 13;
        assert_eq!(rts(dw0), 52);
        assert_eq!(rts(0), 31);
    }

    #[test]
    fn level_rules() {
        assert!(valid_level(0, 52, 13));
        assert!(!valid_level(0, 52, 12));
        assert!(valid_level(3, 21, 5));
        assert!(!valid_level(4, 12, 9));
    }
}
