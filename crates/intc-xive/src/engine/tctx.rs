//! Thread interrupt contexts: the four rings' registers of one hardware
//! thread and the operations that change them.
//!
//! Each ring is 16 bytes (`NSR CPPR IPB LSMFB ACK_CNT INC AGE PIPR`, then
//! word 2 with the ring's valid bit and CAM line). The OS ring drives the
//! thread's external-interrupt line, the POOL and PHYS rings its hypervisor
//! line; the USER ring has no output.
//!
//! Semantics (documented choices where QEMU versions differ):
//! - an exception is signalled when `PIPR < CPPR`: the OS ring sets NSR.EO,
//!   the PHYS ring sets NSR.HE = PHYS, a POOL-ring event sets PHYS NSR.HE =
//!   POOL (compared with the PHYS CPPR);
//! - a CPPR store re-evaluates both ways: it raises the exception if
//!   `PIPR < CPPR`, and clears it (lowering the line) otherwise, as KVM and
//!   current QEMU do and as Linux expects when it writes CPPR 0; QEMU 8.2
//!   only ever raised at that point;
//! - accept (ACK) returns `(old NSR << 8) | CPPR`; if the exception bit was
//!   set, CPPR takes the pending priority, its IPB bit is cleared, PIPR is
//!   recomputed, the exception bit cleared and the line lowered; otherwise
//!   nothing changes.
//!
//! The context is one lock; everything here runs with it held.

use spapr_irq::IrqLine;

use crate::engine::nvt::cam_line;
use crate::engine::regs::{get_field32, ipb_to_pipr, priority_to_ipb, tm, PRIORITY_MAX};

/// The four rings, by quad-word offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Ring {
    /// QW0, user (event-based branch).
    User,
    /// QW1, operating system.
    Os,
    /// QW2, hypervisor pool.
    Pool,
    /// QW3, hypervisor physical.
    Phys,
}

impl Ring {
    /// All rings, QW0 first.
    pub const ALL: [Ring; 4] = [Ring::User, Ring::Os, Ring::Pool, Ring::Phys];

    /// Byte offset of the ring's quad-word.
    pub const fn offset(self) -> usize {
        match self {
            Ring::User => tm::QW0_USER,
            Ring::Os => tm::QW1_OS,
            Ring::Pool => tm::QW2_HV_POOL,
            Ring::Phys => tm::QW3_HV_PHYS,
        }
    }

    /// Name in `info pic`.
    pub const fn name(self) -> &'static str {
        match self {
            Ring::User => "USER",
            Ring::Os => "OS",
            Ring::Pool => "POOL",
            Ring::Phys => "PHYS",
        }
    }
}

/// The registers and output lines of one thread context.
#[derive(Debug, Clone)]
pub struct TctxState {
    /// The 64 register bytes, QW0..QW3.
    pub regs: [u8; 64],
    /// Processor identification (for the PHYS ring's hardware CAM line).
    pub pir: u32,
    /// External-interrupt line (OS ring).
    pub os_line: Option<IrqLine>,
    /// Hypervisor-interrupt line (POOL and PHYS rings).
    pub hv_line: Option<IrqLine>,
    /// OS-ring acknowledges that took an interrupt (statistics; not
    /// migrated, not reset).
    pub acked: u64,
}

impl TctxState {
    /// A context in the reset state without lines.
    pub fn new(pir: u32) -> Self {
        let mut s = Self {
            regs: [0; 64],
            pir,
            os_line: None,
            hv_line: None,
            acked: 0,
        };
        s.reset();
        s
    }

    /// Reset: every register zero, then the OS ring's LSMFB, ACK_CNT, AGE
    /// and the OS and PHYS PIPR at 0xFF. CPPR stays 0, so nothing is
    /// presented before the OS writes it. Both lines are lowered.
    pub fn reset(&mut self) {
        self.regs = [0; 64];
        let os = tm::QW1_OS;
        self.regs[os + tm::LSMFB] = 0xFF;
        self.regs[os + tm::ACK_CNT] = 0xFF;
        self.regs[os + tm::AGE] = 0xFF;
        self.regs[os + tm::PIPR] = 0xFF;
        self.regs[tm::QW3_HV_PHYS + tm::PIPR] = 0xFF;
        self.set_line(Ring::Os, false);
        self.set_line(Ring::Phys, false);
    }

    /// Register `reg` of `ring`.
    #[inline]
    pub fn reg(&self, ring: Ring, reg: usize) -> u8 {
        self.regs[ring.offset() + (reg & 0xF)]
    }

    #[inline]
    fn set_reg(&mut self, ring: Ring, reg: usize, v: u8) {
        self.regs[ring.offset() + (reg & 0xF)] = v;
    }

    /// Word 2 of `ring`, as a number.
    #[inline]
    pub fn word2(&self, ring: Ring) -> u32 {
        let o = ring.offset() + tm::WORD2;
        u32::from_be_bytes([
            self.regs[o],
            self.regs[o + 1],
            self.regs[o + 2],
            self.regs[o + 3],
        ])
    }

    /// Sets word 2 of `ring`.
    pub fn set_word2(&mut self, ring: Ring, value: u32) {
        let o = ring.offset() + tm::WORD2;
        self.regs[o..o + 4].copy_from_slice(&value.to_be_bytes());
    }

    /// The hardware CAM line of this thread in `block`:
    /// `block << 19 | 1 << 7 | (PIR & 0x7F)`.
    pub fn hw_cam(&self, block: u8) -> u32 {
        cam_line(block, (1 << 7) | (self.pir & 0x7F))
    }

    /// The CAM key each ring answers to, if its context is valid: OS and
    /// POOL by their word-2 CAM, PHYS by the hardware CAM when VT is set.
    pub fn cam_keys(&self, block: u8) -> [Option<u32>; 3] {
        let os = self.word2(Ring::Os);
        let pool = self.word2(Ring::Pool);
        let phys = self.word2(Ring::Phys);
        [
            (os & tm::QW1W2_VO != 0).then(|| get_field32(tm::QW1W2_OS_CAM, os)),
            (pool & tm::QW2W2_VP != 0).then(|| get_field32(tm::QW2W2_POOL_CAM, pool)),
            (phys & tm::QW3W2_VT != 0).then(|| self.hw_cam(block)),
        ]
    }

    fn set_line(&self, ring: Ring, level: bool) {
        let line = match ring {
            Ring::Os => self.os_line.as_ref(),
            Ring::Pool | Ring::Phys => self.hv_line.as_ref(),
            Ring::User => None,
        };
        if let Some(l) = line {
            l.set(level);
        }
    }

    /// Recomputes the exception of `ring` from PIPR and CPPR: sets or
    /// clears the exception bit and the line. With `may_lower` false it only
    /// raises (event arrival).
    fn signal(&mut self, ring: Ring, may_lower: bool) {
        match ring {
            Ring::Os => {
                let pending = self.reg(Ring::Os, tm::PIPR) < self.reg(Ring::Os, tm::CPPR);
                let nsr = self.reg(Ring::Os, tm::NSR);
                if pending {
                    self.set_reg(Ring::Os, tm::NSR, nsr | tm::QW1_NSR_EO);
                    self.set_line(Ring::Os, true);
                } else if may_lower {
                    self.set_reg(Ring::Os, tm::NSR, nsr & !tm::QW1_NSR_EO);
                    self.set_line(Ring::Os, false);
                }
            }
            Ring::Pool | Ring::Phys => {
                let cppr = self.reg(Ring::Phys, tm::CPPR);
                let he = if self.reg(Ring::Phys, tm::PIPR) < cppr {
                    Some(tm::NSR_HE_PHYS)
                } else if ipb_to_pipr(self.reg(Ring::Pool, tm::IPB)) < cppr {
                    // The pool PIPR resets to 0, not 0xFF: use its IPB.
                    Some(tm::NSR_HE_POOL)
                } else {
                    None
                };
                let nsr = self.reg(Ring::Phys, tm::NSR) & !tm::QW3_NSR_HE;
                match he {
                    Some(he) => {
                        self.set_reg(Ring::Phys, tm::NSR, nsr | (he << 6));
                        self.set_line(Ring::Phys, true);
                    }
                    None if may_lower => {
                        self.set_reg(Ring::Phys, tm::NSR, nsr);
                        self.set_line(Ring::Phys, false);
                    }
                    None => {}
                }
            }
            Ring::User => {
                tracing::debug!("XIVE: no exception output for the USER ring");
            }
        }
    }

    /// Marks `ipb` bits pending on `ring`, recomputes PIPR and signals.
    pub fn ipb_update(&mut self, ring: Ring, ipb: u8) {
        let ipb = self.reg(ring, tm::IPB) | ipb;
        self.set_reg(ring, tm::IPB, ipb);
        self.set_reg(ring, tm::PIPR, ipb_to_pipr(ipb));
        self.signal(ring, false);
    }

    /// CPPR store on `ring` (OS or PHYS; values above 7 become 0xFF).
    pub fn set_cppr(&mut self, ring: Ring, cppr: u8) {
        let cppr = if cppr > PRIORITY_MAX { 0xFF } else { cppr };
        self.set_reg(ring, tm::CPPR, cppr);
        self.signal(ring, true);
    }

    /// Acknowledge on `ring` (OS or PHYS): returns `(old NSR << 8) | CPPR`.
    pub fn accept(&mut self, ring: Ring) -> u16 {
        match ring {
            Ring::Os => {
                let nsr = self.reg(Ring::Os, tm::NSR);
                if nsr & tm::QW1_NSR_EO != 0 {
                    self.acked += 1;
                    self.take(Ring::Os, Ring::Os);
                    self.set_reg(Ring::Os, tm::NSR, nsr & !tm::QW1_NSR_EO);
                    self.set_line(Ring::Os, false);
                }
                (u16::from(nsr) << 8) | u16::from(self.reg(Ring::Os, tm::CPPR))
            }
            _ => {
                let nsr = self.reg(Ring::Phys, tm::NSR);
                let he = (nsr & tm::QW3_NSR_HE) >> 6;
                let from = match he {
                    tm::NSR_HE_PHYS => Some(Ring::Phys),
                    tm::NSR_HE_POOL => Some(Ring::Pool),
                    _ => None,
                };
                if let Some(from) = from {
                    self.take(from, Ring::Phys);
                    self.set_reg(Ring::Phys, tm::NSR, nsr & !tm::QW3_NSR_HE);
                    self.set_line(Ring::Phys, false);
                }
                (u16::from(nsr) << 8) | u16::from(self.reg(Ring::Phys, tm::CPPR))
            }
        }
    }

    /// Moves the pending priority of `from` into the CPPR of `to`.
    fn take(&mut self, from: Ring, to: Ring) {
        let cppr = ipb_to_pipr(self.reg(from, tm::IPB));
        self.set_reg(to, tm::CPPR, cppr);
        let ipb = self.reg(from, tm::IPB) & !priority_to_ipb(cppr);
        self.set_reg(from, tm::IPB, ipb);
        self.set_reg(from, tm::PIPR, ipb_to_pipr(ipb));
    }

    /// Pulls the OS context: returns QW1 word 2, clears VO and lowers the
    /// external-interrupt line.
    pub fn pull_os(&mut self) -> u32 {
        let w = self.word2(Ring::Os);
        if w & tm::QW1W2_VO == 0 {
            let cam = get_field32(tm::QW1W2_OS_CAM, w);
            tracing::warn!(
                "XIVE: pulling invalid NVT {:x}/{:x} !?",
                cam >> 19,
                cam & 0x7FFFF
            );
        }
        self.set_word2(Ring::Os, w & !tm::QW1W2_VO);
        self.set_line(Ring::Os, false);
        w
    }

    /// Pulls the pool context: returns QW2 word 2 as it was (QEMU 8.2
    /// returns it with VP already cleared) and clears VP.
    pub fn pull_pool(&mut self) -> u32 {
        let w = self.word2(Ring::Pool);
        self.set_word2(Ring::Pool, w & !tm::QW2W2_VP);
        w
    }

    /// Re-drives the lines from the NSR exception bits (after migration or
    /// raw register writes).
    pub fn sync_lines(&self) {
        let os = self.reg(Ring::Os, tm::NSR) & tm::QW1_NSR_EO != 0;
        let hv = self.reg(Ring::Phys, tm::NSR) & tm::QW3_NSR_HE != 0;
        self.set_line(Ring::Os, os);
        self.set_line(Ring::Phys, hv);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ack_cycle() {
        let line = IrqLine::detached();
        let mut t = TctxState::new(0);
        t.os_line = Some(line.clone());
        t.ipb_update(Ring::Os, priority_to_ipb(6));
        assert!(!line.is_raised(), "CPPR 0 masks everything");
        t.set_cppr(Ring::Os, 0xFF);
        assert!(line.is_raised());
        assert_eq!(t.accept(Ring::Os), 0x8006);
        assert!(!line.is_raised());
        assert_eq!(t.accept(Ring::Os), 0x0006);
        assert_eq!(t.reg(Ring::Os, tm::IPB), 0);
        assert_eq!(t.reg(Ring::Os, tm::PIPR), 0xFF);
    }

    #[test]
    fn cppr_store_lowers() {
        let line = IrqLine::detached();
        let mut t = TctxState::new(0);
        t.os_line = Some(line.clone());
        t.set_cppr(Ring::Os, 0xFF);
        t.ipb_update(Ring::Os, priority_to_ipb(6));
        assert!(line.is_raised());
        t.set_cppr(Ring::Os, 0);
        assert!(!line.is_raised());
        assert_eq!(t.reg(Ring::Os, tm::NSR), 0);
        t.set_cppr(Ring::Os, 0xFF);
        assert!(line.is_raised());
    }

    #[test]
    fn pool_signals_through_phys() {
        let line = IrqLine::detached();
        let mut t = TctxState::new(3);
        t.hv_line = Some(line.clone());
        t.set_cppr(Ring::Phys, 0xFF);
        t.ipb_update(Ring::Pool, priority_to_ipb(2));
        assert!(line.is_raised());
        assert_eq!(t.accept(Ring::Phys), 0x4002);
        assert!(!line.is_raised());
        assert_eq!(t.reg(Ring::Pool, tm::IPB), 0);
        assert_eq!(t.hw_cam(0), 0x83);
    }
}
