//! System instructions (sc, rfid, MSR and SPR moves, TLB and cache
//! management, doorbells, wait) and the rarer load/store groups (string,
//! multiple, quadword, atomics, prefixed).

use std::sync::atomic::{AtomicU16, AtomicU32, AtomicU64, AtomicU8, Ordering};

use crate::cpu::{Cpu, Reservation};
use crate::decode::{D, K};
use crate::excp::Fault;
use crate::mem::{from_bytes, host_read, host_write, to_bytes, Access};
use crate::regs::{msr, srr1, xer};

/// PAPR H_PRIVILEGE, returned for `sc 1` from problem state.
const H_PRIVILEGE: u64 = (-3i64) as u64;

impl Cpu {
    fn privileged(&self) -> Result<(), Fault> {
        if self.msr & msr::PR != 0 {
            Err(Fault::Program(srr1::PRIV))
        } else {
            Ok(())
        }
    }

    fn align_fault(&self, d: &D, dar: u64) -> Fault {
        let ra = if d.ra as usize == crate::cpu::ZERO_REG {
            0
        } else {
            d.ra
        };
        Fault::Alignment {
            dar,
            dsisr: self.dsisr as u32 | ((d.rt as u32) << 5) | ra as u32,
        }
    }

    /// Applies an MSR value from rfid/mtmsr(d) under the pseries rules:
    /// only `mask` bits change, ME/HV never, PR=1 forces EE/IR/DR.
    fn write_msr_masked(&mut self, v: u64, mask: u64) {
        let mut new = (self.msr & !mask) | (v & mask);
        if new & msr::PR != 0 {
            new |= msr::EE | msr::IR | msr::DR;
        }
        new &= !msr::TS_TM;
        self.set_msr(new);
    }

    /// Instructions outside the inline fast set.
    pub(crate) fn exec_other(&mut self, d: &D, pc: u64) -> Result<(), Fault> {
        let g = |s: &Self, i: u8| s.g[(i & 63) as usize];
        let next = pc.wrapping_add(d.len as u64) & self.ea_mask;
        match d.k {
            K::Sc => match d.x {
                1 if self.msr & msr::PR != 0 => self.g[3] = H_PRIVILEGE,
                1 => return Err(Fault::Hcall),
                _ => return Err(Fault::Syscall),
            },
            K::Rfid => {
                self.privileged()?;
                let target = self.srr0 & !3;
                let mask = msr::GUEST_WRITABLE;
                self.write_msr_masked(self.srr1, mask);
                self.nip = target & self.ea_mask;
                self.reservation = None;
                return Err(Fault::Resched);
            }
            K::Mfmsr => {
                self.privileged()?;
                self.g[d.rt as usize & 63] = self.msr;
            }
            K::Mtmsrd | K::Mtmsr => {
                self.privileged()?;
                let v = g(self, d.rt);
                let mask = if d.x == 1 {
                    msr::EE | msr::RI
                } else if d.k == K::Mtmsrd {
                    msr::GUEST_WRITABLE & !msr::LE
                } else {
                    msr::GUEST_WRITABLE & !msr::LE & 0xffff_ffff
                };
                self.write_msr_masked(v, mask);
                self.nip = next;
                return Err(Fault::Resched);
            }
            K::Mfspr => {
                let v = self.mfspr(d.imm as u16)?;
                self.g[d.rt as usize & 63] = v;
            }
            K::Mtspr => {
                let v = g(self, d.rt);
                self.mtspr(d.imm as u16, v)?;
            }
            K::Mftb => {
                let tb = self.tb();
                self.g[d.rt as usize & 63] = match d.imm {
                    268 => tb,
                    269 => tb >> 32,
                    _ => return Err(Fault::Program(srr1::ILLEGAL)),
                };
            }
            K::Isync => {}
            K::Tlbie | K::Tlbiel => {
                self.privileged()?;
                if d.k == K::Tlbie {
                    self.shared.flush_all_tlbs();
                }
                self.flush_translations();
            }
            K::Msgsndp | K::Msgclrp => {
                self.privileged()?;
                let rb = g(self, d.rb);
                if (rb >> 27) & 0x1f == 5 {
                    if let Some(core) = &self.core {
                        if d.k == K::Msgsndp {
                            core.send((rb & 0x7f) as u32);
                        } else {
                            core.clear(self.tir);
                        }
                    }
                }
                self.recheck = true;
            }
            K::Wait => return Err(Fault::Idle),
            K::Darn => {
                let r = self.next_random();
                self.g[d.rt as usize & 63] = match d.x {
                    0 => r & 0xffff_ffff,
                    1 | 2 => r >> 1 | (r & 1) << 62,
                    _ => u64::MAX,
                };
            }
            K::Dcbz => {
                let ea = (g(self, d.ra).wrapping_add(g(self, d.rb)) & self.ea_mask) & !127;
                for i in 0..16 {
                    self.st::<8>(ea + 8 * i, 0)?;
                }
            }
            K::Icbi => {
                let ea = g(self, d.ra).wrapping_add(g(self, d.rb)) & self.ea_mask;
                let (pa, _) = self.translate(ea, Access::Load)?;
                self.shared.invalidate_page(pa >> 12);
                self.stop_block = true;
            }
            K::Paddi => {
                let base = if d.x & 0x20 != 0 { pc } else { g(self, d.ra) };
                self.g[d.rt as usize & 63] = base.wrapping_add(d.imm);
            }
            K::PLoad | K::PStore => {
                let base = if d.x & 0x20 != 0 { pc } else { g(self, d.ra) };
                let ea = base.wrapping_add(d.imm) & self.ea_mask;
                let size = d.x & 0xf;
                if d.k == K::PStore {
                    let v = g(self, d.rt);
                    match size {
                        1 => self.st::<1>(ea, v)?,
                        2 => self.st::<2>(ea, v)?,
                        4 => self.st::<4>(ea, v)?,
                        _ => self.st::<8>(ea, v)?,
                    }
                } else {
                    let signed = d.x & 0x10 != 0;
                    let v = match size {
                        1 => self.ld::<1>(ea)?,
                        2 if signed => self.ld::<2>(ea)? as i16 as i64 as u64,
                        2 => self.ld::<2>(ea)?,
                        4 if signed => self.ld::<4>(ea)? as i32 as i64 as u64,
                        4 => self.ld::<4>(ea)?,
                        _ => self.ld::<8>(ea)?,
                    };
                    self.g[d.rt as usize & 63] = v;
                }
            }
            K::Lmw | K::Stmw => {
                let ea = g(self, d.ra).wrapping_add(d.imm) & self.ea_mask;
                if self.le || ea & 3 != 0 {
                    return Err(self.align_fault(d, ea));
                }
                for (i, r) in (d.rt as usize..32).enumerate() {
                    let a = ea.wrapping_add(4 * i as u64) & self.ea_mask;
                    if d.k == K::Lmw {
                        self.g[r] = self.ld::<4>(a)?;
                    } else {
                        self.st::<4>(a, self.g[r])?;
                    }
                }
            }
            K::Lswi | K::Lswx | K::Stswi | K::Stswx => self.string_op(d)?,
            K::Lq | K::Stq => {
                let ea = g(self, d.ra).wrapping_add(d.imm) & self.ea_mask;
                if d.k == K::Lq {
                    self.privileged()?;
                }
                if ea & 15 != 0 {
                    return Err(self.align_fault(d, ea));
                }
                let rt = d.rt as usize & 31;
                if d.k == K::Lq {
                    let a = self.ld::<8>(ea)?;
                    let b = self.ld::<8>(ea + 8)?;
                    let (hi, lo) = if self.le { (b, a) } else { (a, b) };
                    self.g[rt] = hi;
                    self.g[rt + 1] = lo;
                } else {
                    let (hi, lo) = (self.g[rt], self.g[rt + 1]);
                    let (a, b) = if self.le { (lo, hi) } else { (hi, lo) };
                    self.st::<8>(ea, a)?;
                    self.st::<8>(ea + 8, b)?;
                }
            }
            K::Larx => self.larx(d)?,
            K::Stcx => self.stcx(d)?,
            _ => return Err(Fault::Program(srr1::ILLEGAL)),
        }
        Ok(())
    }

    fn string_op(&mut self, d: &D) -> Result<(), Fault> {
        if self.le {
            return Err(self.align_fault(d, self.dar));
        }
        let immediate = matches!(d.k, K::Lswi | K::Stswi);
        let (ea, nb) = if immediate {
            let nb = if d.rb == 0 { 32 } else { d.rb as u64 };
            (self.g[d.ra as usize & 63], nb)
        } else {
            (
                self.g[d.ra as usize & 63].wrapping_add(self.g[d.rb as usize & 63]),
                self.xer & xer::BC,
            )
        };
        let load = matches!(d.k, K::Lswi | K::Lswx);
        let mut r = d.rt as usize;
        for i in 0..nb {
            let a = ea.wrapping_add(i) & self.ea_mask;
            let sh = 24 - 8 * (i % 4);
            if load {
                if i % 4 == 0 {
                    self.g[r] = 0;
                }
                let b = self.ld::<1>(a)?;
                self.g[r] |= b << sh;
            } else {
                self.st::<1>(a, self.g[r] >> sh)?;
            }
            if i % 4 == 3 {
                r = (r + 1) % 32;
            }
        }
        Ok(())
    }

    fn larx(&mut self, d: &D) -> Result<(), Fault> {
        let size = d.x as u64;
        let ea = self.g[d.ra as usize & 63].wrapping_add(self.g[d.rb as usize & 63]) & self.ea_mask;
        if ea & (size - 1) != 0 {
            return Err(Fault::Alignment {
                dar: ea,
                dsisr: self.dsisr as u32 | ((d.rt as u32) << 5),
            });
        }
        let (pa, _) = self.translate(ea, Access::Load)?;
        let Some(h) = self.ram.host(pa, size) else {
            return Err(Cpu::bad_real_address(Access::Load, ea));
        };
        let mut raw = [0u8; 16];
        // SAFETY: (all arms) `Ram::host` checked `h..h+size`.
        unsafe {
            match size {
                1 => raw[..1].copy_from_slice(&host_read::<1>(h)),
                2 => raw[..2].copy_from_slice(&host_read::<2>(h)),
                4 => raw[..4].copy_from_slice(&host_read::<4>(h)),
                8 => raw[..8].copy_from_slice(&host_read::<8>(h)),
                _ => {
                    let _g = self.shared.quad_lock();
                    raw[..8].copy_from_slice(&host_read::<8>(h));
                    raw[8..].copy_from_slice(&host_read::<8>(h + 8));
                }
            }
        }
        let gen = self.shared.reservation_gen(pa);
        let rt = d.rt as usize & 31;
        if size == 16 {
            let a = from_bytes::<8>(raw[..8].try_into().unwrap_or([0; 8]), self.le);
            let b = from_bytes::<8>(raw[8..].try_into().unwrap_or([0; 8]), self.le);
            let (hi, lo) = if self.le { (b, a) } else { (a, b) };
            self.g[rt] = hi;
            self.g[(rt + 1) & 31] = lo;
        } else {
            let mut v = 0u64;
            for i in 0..size as usize {
                let b = raw[if self.le { size as usize - 1 - i } else { i }];
                v = (v << 8) | b as u64;
            }
            self.g[rt] = v;
        }
        self.reservation = Some(Reservation {
            pa,
            size: size as u8,
            raw,
            gen,
        });
        Ok(())
    }

    fn stcx(&mut self, d: &D) -> Result<(), Fault> {
        let size = d.x as u64;
        let ea = self.g[d.ra as usize & 63].wrapping_add(self.g[d.rb as usize & 63]) & self.ea_mask;
        if ea & (size - 1) != 0 {
            return Err(Fault::Alignment {
                dar: ea,
                dsisr: self.dsisr as u32 | ((d.rt as u32) << 5),
            });
        }
        let (pa, _) = self.translate(ea, Access::Store)?;
        let Some(h) = self.ram.host(pa, size) else {
            return Err(Cpu::bad_real_address(Access::Store, ea));
        };
        let res = self.reservation.take();
        let rt = d.rt as usize & 31;
        let mut new = [0u8; 16];
        if size == 16 {
            let (hi, lo) = (self.g[rt], self.g[(rt + 1) & 31]);
            let (a, b) = if self.le { (lo, hi) } else { (hi, lo) };
            new[..8].copy_from_slice(&to_bytes::<8>(a, self.le));
            new[8..].copy_from_slice(&to_bytes::<8>(b, self.le));
        } else {
            let v = self.g[rt];
            for (i, b) in new.iter_mut().take(size as usize).enumerate() {
                let sh = if self.le {
                    8 * i
                } else {
                    8 * (size as usize - 1 - i)
                };
                *b = (v >> sh) as u8;
            }
        }
        let ok = match res {
            Some(r)
                if r.pa == pa
                    && r.size as u64 == size
                    && self.shared.reservation_gen(pa) == r.gen =>
            {
                // SAFETY: `Ram::host` checked `h..h+size`; alignment was
                // checked above and RAM regions are page aligned.
                unsafe { cas(h, size, &r.raw, &new, &self.shared) }
            }
            _ => false,
        };
        if ok {
            self.shared.kill_reservations(pa);
            let page = pa >> 12;
            if self.shared.is_code(page) {
                self.shared.invalidate_page(page);
            }
        }
        let c = if ok { 2 } else { 0 } | self.so();
        self.set_crf(0, c);
        Ok(())
    }

    fn next_random(&mut self) -> u64 {
        let mut x = self.rng ^ self.tb();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        x
    }
}

/// Compare-and-swap of `size` bytes at host address `h`.
///
/// # Safety
/// `h..h+size` must be inside live guest RAM and aligned to `size`.
unsafe fn cas(
    h: usize,
    size: u64,
    old: &[u8; 16],
    new: &[u8; 16],
    shared: &crate::CpuShared,
) -> bool {
    macro_rules! cas_n {
        ($a:ty, $t:ty, $n:literal) => {{
            let o = <$t>::from_ne_bytes(old[..$n].try_into().unwrap_or([0; $n]));
            let nv = <$t>::from_ne_bytes(new[..$n].try_into().unwrap_or([0; $n]));
            // SAFETY: guaranteed by the caller (valid, aligned).
            let a = unsafe { <$a>::from_ptr(h as *mut $t) };
            a.compare_exchange(o, nv, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
        }};
    }
    match size {
        1 => cas_n!(AtomicU8, u8, 1),
        2 => cas_n!(AtomicU16, u16, 2),
        4 => cas_n!(AtomicU32, u32, 4),
        8 => cas_n!(AtomicU64, u64, 8),
        _ => {
            let _g = shared.quad_lock();
            // SAFETY: guaranteed by the caller.
            let cur = unsafe { [host_read::<8>(h), host_read::<8>(h + 8)] };
            if cur[0] != old[..8] || cur[1] != old[8..] {
                return false;
            }
            // SAFETY: as above.
            unsafe {
                host_write::<8>(h, new[..8].try_into().unwrap_or([0; 8]));
                host_write::<8>(h + 8, new[8..].try_into().unwrap_or([0; 8]));
            }
            true
        }
    }
}
