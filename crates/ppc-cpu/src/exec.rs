//! The interpreter loop over one decoded block.
//!
//! Fixed-point, load/store and branch instructions are executed inline in
//! one `match` so the compiler emits a jump table and keeps the register
//! file hot; rarer groups call out to `lsu.rs` and `system.rs`.

use crate::alu::*;
use crate::cache::{block_ctx, BlockCache};
use crate::cpu::Cpu;
use crate::decode::{D, K};
use crate::excp::Fault;
use crate::mem::bswap;
use crate::regs::{msr, srr1, xer};

/// How a block ended.
pub(crate) struct BlockEnd {
    /// Instructions completed.
    pub done: u32,
    /// A fault of the instruction at `pc` (length `len`).
    pub fault: Option<(Fault, u64, u8)>,
}

impl Cpu {
    /// Runs the block `idx` of `cache` (at NIP), then the blocks its exits
    /// lead to, as long as the jump table knows them and nothing needs the
    /// run loop: stops once `icount` reaches `stop`, at a fault, or when
    /// the MSR, this vCPU's translations, the machine's TLB generation or
    /// (with `MSR[EE]`) a pending-event recheck changed. `icount` counts
    /// the completed instructions; the fault (if any) is returned.
    #[inline(never)]
    pub(crate) fn exec_chain(
        &mut self,
        cache: &BlockCache,
        mut idx: u32,
        stop: u64,
    ) -> Option<(Fault, u64, u8)> {
        let msr0 = self.msr;
        let epoch0 = self.xlate_epoch;
        let ctx = block_ctx(msr0);
        let ee = msr0 & msr::EE != 0;
        loop {
            let b = &cache.blocks[idx as usize];
            let ea0 = self.nip;
            let room = stop.saturating_sub(self.icount).min(u32::MAX as u64) as u32;
            let end = self.exec_block(
                &b.insns,
                ea0,
                (ea0 & !0xfff).wrapping_add(b.end_off as u64),
                room,
            );
            self.icount += end.done as u64;
            if end.fault.is_some() {
                return end.fault;
            }
            if self.icount >= stop
                || self.msr != msr0
                || self.xlate_epoch != epoch0
                || self.shared.tlb_gen() != self.tlb_gen_seen
                || (ee && self.recheck)
            {
                return None;
            }
            idx = cache.chain(self.nip, ctx, &self.shared)?;
        }
    }

    /// Runs `insns` (decoded from EA `ea0` onwards); `end` is the EA after
    /// the last instruction. Sets NIP for the next block.
    ///
    /// A block that branches back to its own start is re-run in place
    /// while the instructions done stay within `room` (the caller bounds it
    /// by the budget and by how often interrupts must be polled), saving
    /// the lookup of tight loops.
    #[inline(always)]
    fn exec_block(&mut self, insns: &[D], ea0: u64, end: u64, room: u32) -> BlockEnd {
        let n = insns.len() as u32;
        macro_rules! r {
            ($i:expr) => {
                self.g[($i as u8) as usize]
            };
        }
        let mut base = 0u32;
        'again: loop {
            // Index of the next entry to run: an entry can skip the one
            // after it (a fused compare whose bc falls through).
            let mut next = 0usize;
            while let Some(d) = insns.get(next) {
                let i = next;
                next = i + 1;
                let pc = || (ea0 & !0xfff) | d.off as u64;
                macro_rules! t {
                    ($e:expr) => {
                        match $e {
                            Ok(v) => v,
                            Err(f) => {
                                return BlockEnd {
                                    done: base + i as u32,
                                    fault: Some((f, pc(), d.len)),
                                }
                            }
                        }
                    };
                }
                macro_rules! rc {
                    ($v:expr) => {{
                        let v = $v;
                        r!(d.ra) = v;
                        if d.x & 1 != 0 {
                            self.set_cr0(v);
                        }
                    }};
                }
                macro_rules! rct {
                    ($v:expr) => {{
                        let v = $v;
                        r!(d.rt) = v;
                        if d.x & 1 != 0 {
                            self.set_cr0(v);
                        }
                    }};
                }
                macro_rules! ea {
                    () => {
                        r!(d.ra).wrapping_add(r!(d.rb)).wrapping_add(d.imm) & self.ea_mask
                    };
                }
                macro_rules! load {
                    ($n:literal, $ext:expr) => {{
                        let ea = ea!();
                        let v = t!(self.ld::<$n>(ea));
                        r!(d.rt) = $ext(v);
                    }};
                }
                macro_rules! loadu {
                    ($n:literal, $ext:expr) => {{
                        let ea = ea!();
                        let v = t!(self.ld::<$n>(ea));
                        r!(d.rt) = $ext(v);
                        r!(d.ra) = ea;
                    }};
                }
                macro_rules! store_end {
                    () => {
                        if self.stop_block {
                            self.stop_block = false;
                            self.nip = pc().wrapping_add(d.len as u64) & self.ea_mask;
                            return BlockEnd {
                                done: base + i as u32 + 1,
                                fault: None,
                            };
                        }
                    };
                }
                macro_rules! store {
                    ($n:literal, $v:expr) => {{
                        let ea = ea!();
                        t!(self.st::<$n>(ea, $v));
                        store_end!();
                    }};
                }
                macro_rules! storeu {
                    ($n:literal) => {{
                        let ea = ea!();
                        t!(self.st::<$n>(ea, r!(d.rt)));
                        r!(d.ra) = ea;
                        store_end!();
                    }};
                }
                macro_rules! xo_add {
                    ($a:expr, $b:expr, $c:expr, $carry:expr) => {{
                        let (v, ca, ca32, ov, ov32) = add3($a, $b, $c);
                        if $carry {
                            self.ca = if self.ea_mask == u64::MAX { ca } else { ca32 };
                            self.ca32 = ca32;
                        }
                        if d.x & 2 != 0 {
                            let o = if self.ea_mask == u64::MAX { ov } else { ov32 };
                            self.set_ov(o, ov32);
                        }
                        rct!(v);
                    }};
                }
                // A branch by the instruction at index `$at` of the block.
                macro_rules! branch_at {
                    ($target:expr, $at:expr) => {{
                        let t = $target & self.ea_mask;
                        let done = $at as u32 + 1;
                        if t == ea0 && base + done + n <= room {
                            base += done;
                            continue 'again;
                        }
                        self.nip = t;
                        return BlockEnd {
                            done: base + done,
                            fault: None,
                        };
                    }};
                }
                // The fused compare at index `$at` (entry `$dc`) and its bc.
                macro_rules! cmp_bc {
                    ($b:expr, $signed:expr) => {
                        cmp_bc_at!(d, i, $b, $signed)
                    };
                }
                macro_rules! cmp_bc_at {
                    ($dc:expr, $at:expr, $b:expr, $signed:expr) => {{
                        let (d, i) = ($dc, $at);
                        // rt holds 0 (L=1) or 32 (L=0): a 32-bit compare
                        // orders the low words moved to the top.
                        let (a, b) = (r!(d.ra) << d.rt, $b(d) << d.rt);
                        let c = if $signed {
                            self.cmp_s(a as i64, b as i64)
                        } else {
                            self.cmp_u(a, b)
                        };
                        self.set_crf(d.x as u32, c);
                        // The bc (relative, no link, on this CR field)
                        // carries its bit mask and sense in rb.
                        let d2 = &insns[i + 1];
                        let p = (ea0 & !0xfff) | d2.off as u64;
                        let taken = (c as u8 & d2.rb & 0xf != 0) == (d2.rb & 0x10 != 0);
                        if !taken && d2.x & 8 != 0 {
                            // Not taken, and the block goes on after it.
                            next = i + 2;
                            continue;
                        }
                        branch_at!(p.wrapping_add(if taken { d2.imm } else { 4 }), i + 1)
                    }};
                }
                macro_rules! branch {
                    ($target:expr) => {
                        branch_at!($target, i)
                    };
                }
                match d.k {
                    K::Addi => r!(d.rt) = r!(d.ra).wrapping_add(d.imm),
                    K::Addic => {
                        let (v, c, c32, _, _) = add3(r!(d.ra), d.imm, 0);
                        self.ca = if self.ea_mask == u64::MAX { c } else { c32 };
                        self.ca32 = c32;
                        rct!(v);
                    }
                    K::Subfic => {
                        let (v, c, c32, _, _) = add3(!r!(d.ra), d.imm, 1);
                        self.ca = if self.ea_mask == u64::MAX { c } else { c32 };
                        self.ca32 = c32;
                        r!(d.rt) = v;
                    }
                    K::Mulli => r!(d.rt) = r!(d.ra).wrapping_mul(d.imm),
                    K::Ori => r!(d.ra) = r!(d.rt) | d.imm,
                    K::Xori => r!(d.ra) = r!(d.rt) ^ d.imm,
                    K::AndiRc => {
                        let v = r!(d.rt) & d.imm;
                        r!(d.ra) = v;
                        self.set_cr0(v);
                    }
                    K::Cmpi | K::Cmp => {
                        let a = r!(d.ra);
                        let b = if d.k == K::Cmpi { d.imm } else { r!(d.rb) };
                        let c = if d.rt == 1 {
                            self.cmp_s(a as i64, b as i64)
                        } else {
                            self.cmp_s(a as i32 as i64, b as i32 as i64)
                        };
                        self.set_crf(d.x as u32, c);
                    }
                    K::Cmpli | K::Cmpl => {
                        let a = r!(d.ra);
                        let b = if d.k == K::Cmpli { d.imm } else { r!(d.rb) };
                        let c = if d.rt == 1 {
                            self.cmp_u(a, b)
                        } else {
                            self.cmp_u(a & 0xffff_ffff, b & 0xffff_ffff)
                        };
                        self.set_crf(d.x as u32, c);
                    }
                    // A compare and the plain conditional branch after it
                    // (BO without CTR decrement), in one dispatch.
                    K::CmpBc => cmp_bc!(|d: &D| r!(d.rb), true),
                    K::CmpiBc => cmp_bc!(|d: &D| d.imm, true),
                    K::CmplBc => cmp_bc!(|d: &D| r!(d.rb), false),
                    K::CmpliBc => cmp_bc!(|d: &D| d.imm, false),
                    // An add (no Rc/OE) right before a fused compare+bc:
                    // the three run in one dispatch.
                    K::AddCmpBc | K::AddCmpiBc | K::AddCmplBc | K::AddCmpliBc => {
                        r!(d.rt) = r!(d.ra).wrapping_add(r!(d.rb));
                        let dc = &insns[i + 1];
                        match d.k {
                            K::AddCmpBc => cmp_bc_at!(dc, i + 1, |d: &D| r!(d.rb), true),
                            K::AddCmpiBc => cmp_bc_at!(dc, i + 1, |d: &D| d.imm, true),
                            K::AddCmplBc => cmp_bc_at!(dc, i + 1, |d: &D| r!(d.rb), false),
                            _ => cmp_bc_at!(dc, i + 1, |d: &D| d.imm, false),
                        }
                    }
                    // A load right before a fused compare+bc.
                    K::LoadCmpBc | K::LoadCmpiBc | K::LoadCmplBc | K::LoadCmpliBc => {
                        let ea = ea!();
                        r!(d.rt) = match d.x {
                            0 => t!(self.ld::<1>(ea)),
                            1 => t!(self.ld::<2>(ea)),
                            2 => t!(self.ld::<4>(ea)),
                            _ => t!(self.ld::<8>(ea)),
                        };
                        let dc = &insns[i + 1];
                        match d.k {
                            K::LoadCmpBc => cmp_bc_at!(dc, i + 1, |d: &D| r!(d.rb), true),
                            K::LoadCmpiBc => cmp_bc_at!(dc, i + 1, |d: &D| d.imm, true),
                            K::LoadCmplBc => cmp_bc_at!(dc, i + 1, |d: &D| r!(d.rb), false),
                            _ => cmp_bc_at!(dc, i + 1, |d: &D| d.imm, false),
                        }
                    }
                    K::AddiCmpBc | K::AddiCmpiBc | K::AddiCmplBc | K::AddiCmpliBc => {
                        r!(d.rt) = r!(d.ra).wrapping_add(d.imm);
                        let dc = &insns[i + 1];
                        match d.k {
                            K::AddiCmpBc => cmp_bc_at!(dc, i + 1, |d: &D| r!(d.rb), true),
                            K::AddiCmpiBc => cmp_bc_at!(dc, i + 1, |d: &D| d.imm, true),
                            K::AddiCmplBc => cmp_bc_at!(dc, i + 1, |d: &D| r!(d.rb), false),
                            _ => cmp_bc_at!(dc, i + 1, |d: &D| d.imm, false),
                        }
                    }
                    K::Add => xo_add!(r!(d.ra), r!(d.rb), 0, false),
                    K::Addc => xo_add!(r!(d.ra), r!(d.rb), 0, true),
                    K::Adde => xo_add!(r!(d.ra), r!(d.rb), self.ca as u64, true),
                    K::Addme => xo_add!(r!(d.ra), u64::MAX, self.ca as u64, true),
                    K::Addze => xo_add!(r!(d.ra), 0, self.ca as u64, true),
                    K::Subf => xo_add!(!r!(d.ra), r!(d.rb), 1, false),
                    K::Subfc => xo_add!(!r!(d.ra), r!(d.rb), 1, true),
                    K::Subfe => xo_add!(!r!(d.ra), r!(d.rb), self.ca as u64, true),
                    K::Subfme => xo_add!(!r!(d.ra), u64::MAX, self.ca as u64, true),
                    K::Subfze => xo_add!(!r!(d.ra), 0, self.ca as u64, true),
                    K::Neg => xo_add!(!r!(d.ra), 0, 1, false),
                    K::Mullw => {
                        let p = (r!(d.ra) as i32 as i64).wrapping_mul(r!(d.rb) as i32 as i64);
                        if d.x & 2 != 0 {
                            let o = p != p as i32 as i64;
                            self.set_ov(o, o);
                        }
                        rct!(p as u64);
                    }
                    K::Mulld => {
                        let p = (r!(d.ra) as i64 as i128) * (r!(d.rb) as i64 as i128);
                        if d.x & 2 != 0 {
                            let o = p != p as i64 as i128;
                            self.set_ov(o, o);
                        }
                        rct!(p as u64);
                    }
                    K::Mulhw => {
                        let p = (r!(d.ra) as i32 as i64) * (r!(d.rb) as i32 as i64);
                        rct!((p >> 32) as u32 as u64);
                    }
                    K::Mulhwu => {
                        let p = (r!(d.ra) & 0xffff_ffff) * (r!(d.rb) & 0xffff_ffff);
                        rct!(p >> 32);
                    }
                    K::Mulhd => {
                        let p = (r!(d.ra) as i64 as i128) * (r!(d.rb) as i64 as i128);
                        rct!((p >> 64) as u64);
                    }
                    K::Mulhdu => {
                        let p = (r!(d.ra) as u128) * (r!(d.rb) as u128);
                        rct!((p >> 64) as u64);
                    }
                    K::Divw
                    | K::Divwu
                    | K::Divd
                    | K::Divdu
                    | K::Divwe
                    | K::Divweu
                    | K::Divde
                    | K::Divdeu => {
                        let (a, b) = (r!(d.ra), r!(d.rb));
                        let (v, bad) = match d.k {
                            K::Divw => divw(a, b),
                            K::Divwu => divwu(a, b),
                            K::Divd => divd(a, b),
                            K::Divdu => divdu(a, b),
                            K::Divwe => divwe(a, b, true),
                            K::Divweu => divwe(a, b, false),
                            K::Divde => divde(a, b, true),
                            _ => divde(a, b, false),
                        };
                        if d.x & 2 != 0 {
                            self.set_ov(bad, bad);
                        }
                        rct!(v);
                    }
                    K::Modsw => r!(d.rt) = modsw(r!(d.ra), r!(d.rb)),
                    K::Moduw => r!(d.rt) = moduw(r!(d.ra), r!(d.rb)),
                    K::Modsd => r!(d.rt) = modsd(r!(d.ra), r!(d.rb)),
                    K::Modud => r!(d.rt) = modud(r!(d.ra), r!(d.rb)),
                    K::Maddhd => {
                        let p = (r!(d.ra) as i64 as i128) * (r!(d.rb) as i64 as i128)
                            + (r!(d.x) as i64 as i128);
                        r!(d.rt) = (p >> 64) as u64;
                    }
                    K::Maddhdu => {
                        let p = (r!(d.ra) as u128) * (r!(d.rb) as u128) + r!(d.x) as u128;
                        r!(d.rt) = (p >> 64) as u64;
                    }
                    K::Maddld => {
                        r!(d.rt) = r!(d.ra).wrapping_mul(r!(d.rb)).wrapping_add(r!(d.x));
                    }
                    K::Addex => {
                        // CY=0: the carry in and out is XER[OV].
                        let c = (self.xer & xer::OV != 0) as u64;
                        let (v, c64, c32, _, _) = add3(r!(d.ra), r!(d.rb), c);
                        let o = if self.ea_mask == u64::MAX { c64 } else { c32 };
                        self.xer &= !(xer::OV | xer::OV32);
                        if o {
                            self.xer |= xer::OV;
                        }
                        if c32 {
                            self.xer |= xer::OV32;
                        }
                        r!(d.rt) = v;
                    }
                    K::And => rc!(r!(d.rt) & r!(d.rb)),
                    K::Andc => rc!(r!(d.rt) & !r!(d.rb)),
                    K::Or => rc!(r!(d.rt) | r!(d.rb)),
                    K::Orc => rc!(r!(d.rt) | !r!(d.rb)),
                    K::Xor => rc!(r!(d.rt) ^ r!(d.rb)),
                    K::Nor => rc!(!(r!(d.rt) | r!(d.rb))),
                    K::Nand => rc!(!(r!(d.rt) & r!(d.rb))),
                    K::Eqv => rc!(!(r!(d.rt) ^ r!(d.rb))),
                    K::Extsb => rc!(r!(d.rt) as i8 as i64 as u64),
                    K::Extsh => rc!(r!(d.rt) as i16 as i64 as u64),
                    K::Extsw => rc!(r!(d.rt) as i32 as i64 as u64),
                    K::Cntlzw => rc!((r!(d.rt) as u32).leading_zeros() as u64),
                    K::Cntlzd => rc!(r!(d.rt).leading_zeros() as u64),
                    K::Cnttzw => rc!((r!(d.rt) as u32).trailing_zeros() as u64),
                    K::Cnttzd => rc!(r!(d.rt).trailing_zeros() as u64),
                    K::Popcntb => r!(d.ra) = popcntb(r!(d.rt)),
                    K::Popcntw => r!(d.ra) = popcntw(r!(d.rt)),
                    K::Popcntd => r!(d.ra) = r!(d.rt).count_ones() as u64,
                    K::Prtyw => r!(d.ra) = prtyw(r!(d.rt)),
                    K::Prtyd => r!(d.ra) = prtyd(r!(d.rt)),
                    K::Cmpb => r!(d.ra) = cmpb(r!(d.rt), r!(d.rb)),
                    K::Bpermd => r!(d.ra) = bpermd(r!(d.rt), r!(d.rb)),
                    K::Brh => {
                        let v = r!(d.rt);
                        r!(d.ra) =
                            ((v & 0x00ff_00ff_00ff_00ff) << 8) | ((v >> 8) & 0x00ff_00ff_00ff_00ff);
                    }
                    K::Brw => {
                        let v = r!(d.rt);
                        r!(d.ra) = ((v as u32).swap_bytes() as u64)
                            | (((v >> 32) as u32).swap_bytes() as u64) << 32;
                    }
                    K::Brd => r!(d.ra) = r!(d.rt).swap_bytes(),
                    K::Slw => {
                        let n = r!(d.rb) & 0x3f;
                        rc!(if n >= 32 {
                            0
                        } else {
                            ((r!(d.rt) as u32) << n) as u64
                        });
                    }
                    K::Srw => {
                        let n = r!(d.rb) & 0x3f;
                        rc!(if n >= 32 {
                            0
                        } else {
                            ((r!(d.rt) as u32) >> n) as u64
                        });
                    }
                    K::Sld => {
                        let n = r!(d.rb) & 0x7f;
                        rc!(if n >= 64 { 0 } else { r!(d.rt) << n });
                    }
                    K::Srd => {
                        let n = r!(d.rb) & 0x7f;
                        rc!(if n >= 64 { 0 } else { r!(d.rt) >> n });
                    }
                    K::Sraw | K::Srawi => {
                        let n = if d.k == K::Sraw {
                            r!(d.rb) & 0x3f
                        } else {
                            d.rb as u64
                        };
                        let (v, c) = sraw(r!(d.rt), n);
                        self.ca = c;
                        self.ca32 = c;
                        rc!(v);
                    }
                    K::Srad | K::Sradi => {
                        let n = if d.k == K::Srad {
                            r!(d.rb) & 0x7f
                        } else {
                            d.rb as u64
                        };
                        let (v, c) = srad(r!(d.rt), n);
                        self.ca = c;
                        self.ca32 = c;
                        rc!(v);
                    }
                    K::Extswsli => rc!((r!(d.rt) as i32 as i64 as u64) << d.rb),
                    K::Rlwinm => rc!(rotl32(r!(d.rt), d.rb as u32) & d.imm),
                    K::Rlwnm => rc!(rotl32(r!(d.rt), r!(d.rb) as u32) & d.imm),
                    K::Rlwimi => {
                        let rot = rotl32(r!(d.rt), d.rb as u32);
                        rc!((rot & d.imm) | (r!(d.ra) & !d.imm));
                    }
                    K::Rldic => rc!(r!(d.rt).rotate_left(d.rb as u32) & d.imm),
                    K::Rldcx => rc!(r!(d.rt).rotate_left((r!(d.rb) & 63) as u32) & d.imm),
                    K::Rldimi => {
                        let rot = r!(d.rt).rotate_left(d.rb as u32);
                        rc!((rot & d.imm) | (r!(d.ra) & !d.imm));
                    }
                    K::Cmprb => {
                        let v = r!(d.ra) & 0xff;
                        let b = r!(d.rb);
                        let inr = |lo: u64, hi: u64| v >= lo && v <= hi;
                        let mut m = inr(b & 0xff, (b >> 8) & 0xff);
                        if d.rt == 1 {
                            m |= inr((b >> 16) & 0xff, (b >> 24) & 0xff);
                        }
                        self.set_crf(d.x as u32, if m { 4 } else { 0 });
                    }
                    K::Cmpeqb => {
                        let v = r!(d.ra) & 0xff;
                        let b = r!(d.rb);
                        let m = (0..8).any(|i| (b >> (8 * i)) & 0xff == v);
                        self.set_crf(d.x as u32, if m { 4 } else { 0 });
                    }
                    K::Setb => {
                        let f = self.crf(d.x as u32);
                        r!(d.rt) = if f & 8 != 0 {
                            u64::MAX
                        } else if f & 4 != 0 {
                            1
                        } else {
                            0
                        };
                    }
                    K::Setbc => {
                        let bit = self.cr_bit(d.ra as u32);
                        let set = bit ^ (d.x & 1 != 0);
                        r!(d.rt) = match (set, d.x >= 2) {
                            (false, _) => 0,
                            (true, false) => 1,
                            (true, true) => u64::MAX,
                        };
                    }
                    K::Isel => {
                        let bit = self.cr_bit(d.x as u32);
                        r!(d.rt) = if bit { r!(d.ra) } else { r!(d.rb) };
                    }
                    K::Mcrf => {
                        let v = self.crf(d.ra as u32);
                        self.set_crf(d.x as u32, v);
                    }
                    K::Mcrxrx => {
                        let v = ((self.xer & xer::OV != 0) as u32) << 3
                            | ((self.xer & xer::OV32 != 0) as u32) << 2
                            | (self.ca as u32) << 1
                            | self.ca32 as u32;
                        self.set_crf(d.x as u32, v);
                    }
                    K::CrLogic => {
                        let a = self.cr_bit(d.ra as u32) as u32;
                        let b = self.cr_bit(d.rb as u32) as u32;
                        let v = match d.x {
                            1 => !(a | b),
                            4 => a & !b,
                            6 => a ^ b,
                            7 => !(a & b),
                            8 => a & b,
                            9 => !(a ^ b),
                            13 => a | !b,
                            _ => a | b,
                        } & 1;
                        self.set_cr_bit(d.rt as u32, v != 0);
                    }
                    K::Mfcr => r!(d.rt) = self.get_cr() as u64,
                    K::Mfocrf => {
                        let m = d.imm as u32;
                        if m != 0 && m & (m - 1) == 0 {
                            let f = 7 - m.trailing_zeros();
                            r!(d.rt) = (self.get_cr() & (0xf << (28 - 4 * f))) as u64;
                        }
                    }
                    K::Mtcrf => {
                        let m = d.imm as u32;
                        let v = r!(d.rt) as u32;
                        let mut mask = 0u32;
                        for f in 0..8 {
                            if m & (0x80 >> f) != 0 {
                                mask |= 0xf << (28 - 4 * f);
                            }
                        }
                        let cr = (self.get_cr() & !mask) | (v & mask);
                        self.put_cr(cr);
                    }
                    K::Addpcis => r!(d.rt) = pc().wrapping_add(4).wrapping_add(d.imm),
                    K::Lbz => load!(1, |v| v),
                    K::Lhz => load!(2, |v| v),
                    K::Lha => load!(2, |v: u64| v as i16 as i64 as u64),
                    K::Lwz => load!(4, |v| v),
                    K::Lwa => load!(4, |v: u64| v as i32 as i64 as u64),
                    K::Ld => load!(8, |v| v),
                    K::LbzU => loadu!(1, |v| v),
                    K::LhzU => loadu!(2, |v| v),
                    K::LhaU => loadu!(2, |v: u64| v as i16 as i64 as u64),
                    K::LwzU => loadu!(4, |v| v),
                    K::LwaU => loadu!(4, |v: u64| v as i32 as i64 as u64),
                    K::LdU => loadu!(8, |v| v),
                    K::Lhbrx => load!(2, |v| bswap(v, 2)),
                    K::Lwbrx => load!(4, |v| bswap(v, 4)),
                    K::Ldbrx => load!(8, |v| bswap(v, 8)),
                    K::Stb => store!(1, r!(d.rt)),
                    K::Sth => store!(2, r!(d.rt)),
                    K::Stw => store!(4, r!(d.rt)),
                    K::Std => store!(8, r!(d.rt)),
                    K::StbU => storeu!(1),
                    K::SthU => storeu!(2),
                    K::StwU => storeu!(4),
                    K::StdU => storeu!(8),
                    K::Sthbrx => store!(2, bswap(r!(d.rt), 2)),
                    K::Stwbrx => store!(4, bswap(r!(d.rt), 4)),
                    K::Stdbrx => store!(8, bswap(r!(d.rt), 8)),
                    K::Nop => {}
                    K::Sync => {
                        // Other vCPUs' threads must see this thread's stores in
                        // order (guest memory accesses are relaxed atomics).
                        if d.x == 1 {
                            std::sync::atomic::fence(std::sync::atomic::Ordering::AcqRel);
                        } else {
                            std::sync::atomic::fence(std::sync::atomic::Ordering::SeqCst);
                        }
                    }
                    K::B => {
                        let p = pc();
                        if d.x & 1 != 0 {
                            self.lr = p.wrapping_add(4) & self.ea_mask;
                        }
                        if d.x & 4 != 0 {
                            // Followed at decode time: the target's
                            // instructions come next in this block.
                            continue;
                        }
                        branch!(if d.x & 2 != 0 {
                            d.imm
                        } else {
                            p.wrapping_add(d.imm)
                        })
                    }
                    K::Bc | K::Bclr | K::Bcctr | K::Bctar => {
                        let p = pc();
                        let bo = d.rt;
                        if bo & 4 == 0 && d.k == K::Bcctr {
                            // bcctr with BO[2]=0 is an invalid form.
                            t!(Err(Fault::Program(srr1::ILLEGAL)));
                        }
                        let ctr_ok = if bo & 4 == 0 {
                            self.ctr = self.ctr.wrapping_sub(1);
                            let c = if self.ea_mask == u64::MAX {
                                self.ctr
                            } else {
                                self.ctr & 0xffff_ffff
                            };
                            (c != 0) ^ (bo & 2 != 0)
                        } else {
                            true
                        };
                        let cond_ok = bo & 0x10 != 0 || self.cr_bit(d.ra as u32) == (bo & 8 != 0);
                        let target = match d.k {
                            K::Bc => {
                                if d.x & 2 != 0 {
                                    d.imm
                                } else {
                                    p.wrapping_add(d.imm)
                                }
                            }
                            K::Bclr => self.lr & !3,
                            K::Bcctr => self.ctr & !3,
                            _ => self.tar & !3,
                        };
                        if d.x & 1 != 0 {
                            self.lr = p.wrapping_add(4) & self.ea_mask;
                        }
                        if ctr_ok && cond_ok {
                            branch!(target)
                        } else if d.x & 8 != 0 {
                            // Not taken, and the block goes on after it.
                            continue;
                        } else {
                            branch!(p.wrapping_add(4))
                        }
                    }
                    K::Trap | K::TrapI => {
                        let b = if d.k == K::TrapI { d.imm } else { r!(d.rb) };
                        let a = r!(d.ra);
                        let hit = if d.x == 1 {
                            trap_cond(d.rt, a as i64, b as i64)
                        } else {
                            trap_cond(d.rt, a as i32 as i64, b as i32 as i64)
                        };
                        if hit {
                            t!(Err(Fault::Program(srr1::TRAP)));
                        }
                    }
                    K::PrioNop => self.prio_nop(d.x),
                    K::Illegal => t!(Err(Fault::Program(srr1::ILLEGAL))),
                    K::FpUnavail => {
                        t!(Err(if self.msr & msr::FP == 0 {
                            Fault::FpUnavailable
                        } else {
                            Fault::Unimplemented(0)
                        }))
                    }
                    K::VecUnavail => {
                        t!(Err(if self.msr & msr::VEC == 0 {
                            Fault::VecUnavailable
                        } else {
                            Fault::Unimplemented(0)
                        }))
                    }
                    K::VsxUnavail => {
                        t!(Err(if self.msr & msr::VSX == 0 {
                            Fault::VsxUnavailable
                        } else {
                            Fault::Unimplemented(0)
                        }))
                    }
                    K::Unimpl => t!(Err(Fault::Unimplemented(0))),
                    K::Scv => {
                        let fscr = self.spr_store[crate::regs::spr::FSCR as usize];
                        t!(Err(if fscr & (1 << 12) == 0 {
                            Fault::FacilityUnavailable(12)
                        } else {
                            Fault::Unimplemented(0)
                        }))
                    }
                    K::PrefixCross => t!(Err(Fault::Alignment {
                        dar: pc(),
                        dsisr: self.dsisr as u32,
                    })),
                    _ => {
                        // Rarer groups: string/multiple, atomics, prefixed,
                        // system instructions.
                        let next = pc().wrapping_add(d.len as u64) & self.ea_mask;
                        match self.exec_other(d, pc()) {
                            Ok(()) => {}
                            Err(Fault::Resched) => {
                                return BlockEnd {
                                    done: base + i as u32 + 1,
                                    fault: None,
                                }
                            }
                            Err(f) => {
                                if matches!(f, Fault::Hcall | Fault::Idle) {
                                    self.nip = next;
                                    return BlockEnd {
                                        done: base + i as u32 + 1,
                                        fault: Some((f, pc(), d.len)),
                                    };
                                }
                                t!(Err(f))
                            }
                        }
                        if self.stop_block {
                            self.stop_block = false;
                            self.nip = next;
                            return BlockEnd {
                                done: base + i as u32 + 1,
                                fault: None,
                            };
                        }
                    }
                }
            }
            self.nip = end & self.ea_mask;
            return BlockEnd {
                done: base + insns.len() as u32,
                fault: None,
            };
        }
    }

    /// `or rx,rx,rx` priority hints update `PPR[PRI]` (QEMU's mapping).
    fn prio_nop(&mut self, rx: u8) {
        let prio = match rx {
            1 => 2,
            6 => 3,
            2 => 4,
            31 => 1,
            5 => 5,
            3 => 6,
            7 => 7,
            _ => return,
        };
        let p = &mut self.spr_store[crate::regs::spr::PPR as usize];
        *p = (*p & !(7u64 << 50)) | (prio << 50);
    }
}
