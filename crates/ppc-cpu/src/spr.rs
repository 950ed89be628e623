//! The SPR set of each family (which SPRs exist, their width and rights)
//! and `mfspr`/`mtspr`.
//!
//! Problem-state access to an SPR number with bit 0x10 set is a privileged
//! instruction; any access to an SPR the model lacks (or in a direction it
//! does not allow) is an illegal instruction.

use crate::cpu::Cpu;
use crate::excp::Fault;
use crate::model::Family;
use crate::regs::{msr, spr, srr1, xer};

/// Read allowed.
const R: u8 = 1;
/// Write allowed.
const W: u8 = 2;
/// 32-bit register (upper half reads as zero, writes are truncated).
const N32: u8 = 4;

/// (number, rights) for POWER9 as a pseries guest sees it.
const P9_SPRS: &[(u16, u8)] = &[
    (1, R | W),
    (3, R | W),
    (8, R | W),
    (9, R | W),
    (13, R | W),
    (17, R | W),
    (18, R | W | N32),
    (19, R | W),
    (22, R | W),
    (26, R | W),
    (27, R | W),
    (28, R | W),
    (29, R | W),
    (48, R | W | N32),
    (61, R | W),
    (136, R | N32),
    (144, R | W),
    (152, W | N32),
    (153, R | W),
    (157, R | W),
    (159, R | W | N32),
    (176, R),
    (256, R | W | N32),
    (259, R),
    (268, R),
    (269, R),
    (272, R | W),
    (273, R | W),
    (274, R | W),
    (275, R | W),
    (283, R),
    (287, R),
    (308, R),
    (309, R),
    (446, R),
    (768, R),
    (769, R | W),
    (770, R | W),
    (771, R | W | N32),
    (772, R | W | N32),
    (773, R | W | N32),
    (774, R | W | N32),
    (775, R | W | N32),
    (776, R | W | N32),
    (779, R | W),
    (780, R),
    (781, R),
    (782, R),
    (784, R | W),
    (785, R | W),
    (786, R | W),
    (787, R | W | N32),
    (788, R | W | N32),
    (789, R | W | N32),
    (790, R | W | N32),
    (791, R | W | N32),
    (792, R | W | N32),
    (795, R | W),
    (796, R | W),
    (797, R | W),
    (798, R | W),
    (800, R | W),
    (801, R | W),
    (802, R | W),
    (803, R | W),
    (804, R | W),
    (805, R | W),
    (806, R | W),
    (815, R | W),
    (823, R | W),
    (848, R),
    (849, R),
    (881, W),
    (882, W),
    (895, R | W),
    (896, R | W),
    (898, R | W | N32),
    (1006, W),
    (1023, R),
];

/// POWER10 additions: SIER2/3, MMCR3 and their user aliases, HASHKEYR,
/// HASHPKEYR.
const P10_EXTRA: &[(u16, u8)] = &[
    (736, R),
    (737, R),
    (738, R),
    (752, R | W),
    (753, R | W),
    (754, R | W),
    (468, R | W),
    (469, R | W),
];

/// SPRs POWER8 lacks compared with POWER9.
const NOT_ON_P8: &[u16] = &[48, 144, 823];

/// SPRs POWER7 lacks compared with POWER8.
const NOT_ON_P7: &[u16] = &[
    61, 153, 159, 768, 769, 784, 785, 800, 801, 802, 803, 804, 805, 806, 815, 895, 176, 446,
];

/// Builds the rights table (index = SPR number) for a family.
pub(crate) fn spr_table(f: Family) -> Box<[u8; 1024]> {
    let mut t = Box::new([0u8; 1024]);
    for &(n, r) in P9_SPRS {
        t[n as usize] = r;
    }
    if f == Family::Power10 {
        for &(n, r) in P10_EXTRA {
            t[n as usize] = r;
        }
    }
    if matches!(f, Family::Power8 | Family::Power7) {
        for &n in NOT_ON_P8 {
            t[n as usize] = 0;
        }
    }
    if f == Family::Power7 {
        for &n in NOT_ON_P7 {
            t[n as usize] = 0;
        }
    }
    t
}

/// Number of guest-reachable SPR numbers of a family (for documentation
/// and tests).
pub fn spr_count(f: Family) -> usize {
    spr_table(f).iter().filter(|&&r| r != 0).count()
}

/// Storage index for aliases (user copies of privileged SPRs).
fn canonical(n: u16) -> u16 {
    match n {
        spr::DSCR_U => spr::DSCR,
        spr::AMR_U => spr::AMR,
        spr::SPRG3_U => spr::SPRG3,
        768..=782 => n + 16,
        736..=738 => n + 16,
        spr::CTRL_W => spr::CTRL_R,
        _ => n,
    }
}

impl Cpu {
    fn spr_check(&self, n: u16, want: u8) -> Result<u8, Fault> {
        let rights = self.spr_rights[n as usize & 1023];
        if self.msr & msr::PR != 0 && n & 0x10 != 0 {
            return Err(Fault::Program(srr1::PRIV));
        }
        if rights & want == 0 {
            return Err(Fault::Program(srr1::ILLEGAL));
        }
        Ok(rights)
    }

    /// `mfspr`.
    pub(crate) fn mfspr(&mut self, n: u16) -> Result<u64, Fault> {
        let rights = self.spr_check(n, R)?;
        let v = match n {
            spr::XER => self.get_xer(),
            spr::LR => self.lr,
            spr::CTR => self.ctr,
            spr::DSISR => self.dsisr,
            spr::DAR => self.dar,
            spr::DEC => {
                let tb = self.tb();
                let v = self.dec.read(tb);
                if self.dec.bits == 32 {
                    v & 0xffff_ffff
                } else {
                    v
                }
            }
            spr::SRR0 => self.srr0,
            spr::SRR1 => self.srr1,
            spr::CFAR => self.cfar,
            spr::PIDR => self.pidr,
            spr::DPDES => self.core.as_ref().map_or(0, |c| c.dpdes()),
            spr::TB => self.tb(),
            spr::TBU => self.tb() >> 32,
            spr::SPRG0..=spr::SPRG3 => self.sprg[(n - spr::SPRG0) as usize],
            spr::SPRG3_U => self.sprg[3],
            spr::PVR => self.model.pvr as u64,
            spr::PURR | spr::SPURR => self.tb(),
            spr::TIR => self.tir as u64,
            spr::PIR => self.pir as u64,
            spr::IC => self.icount,
            spr::TAR => self.tar,
            spr::PPR32 => self.spr_store[spr::PPR as usize] >> 32,
            _ => self.spr_store[canonical(n) as usize],
        };
        Ok(if rights & N32 != 0 {
            v & 0xffff_ffff
        } else {
            v
        })
    }

    /// `mtspr`. Returns whether translation state changed (the caller
    /// flushes the TLB).
    pub(crate) fn mtspr(&mut self, n: u16, v: u64) -> Result<(), Fault> {
        let rights = self.spr_check(n, W)?;
        let v = if rights & N32 != 0 {
            v & 0xffff_ffff
        } else {
            v
        };
        match n {
            spr::XER => self.put_xer(v & xer::MASK),
            spr::LR => self.lr = v,
            spr::CTR => self.ctr = v,
            spr::DSISR => self.dsisr = v,
            spr::DAR => self.dar = v,
            spr::DEC => {
                let tb = self.tb();
                self.dec.bits = self.dec_bits();
                self.dec.write(v, tb);
                self.recheck = true;
            }
            spr::SRR0 => self.srr0 = v,
            spr::SRR1 => self.srr1 = v,
            spr::CFAR => self.cfar = v,
            spr::PIDR => {
                self.pidr = v;
                self.flush_translations();
            }
            spr::SPRG0..=spr::SPRG3 => self.sprg[(n - spr::SPRG0) as usize] = v,
            spr::TAR => self.tar = v,
            spr::PPR32 => {
                let p = &mut self.spr_store[spr::PPR as usize];
                *p = (*p & 0xffff_ffff) | (v << 32);
            }
            881 | 882 | 1006 => {}
            _ => self.spr_store[canonical(n) as usize] = v,
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_family() {
        assert_eq!(spr_count(Family::Power9), 79);
        assert_eq!(spr_count(Family::Power8), 76);
        assert_eq!(spr_count(Family::Power10), 87);
    }

    #[test]
    fn aliases() {
        assert_eq!(canonical(779), 795);
        assert_eq!(canonical(3), 17);
        assert_eq!(canonical(259), 275);
    }
}
