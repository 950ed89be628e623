//! The decoded-block cache.
//!
//! Blocks are decoded once per (real address, decode context) and never
//! span a 4 KiB page. Each block remembers its page's generation in
//! [`crate::CpuShared`]; a store to a page holding code, or `icbi`, bumps
//! the generation and the block is re-decoded on its next lookup. A
//! direct-mapped jump table keyed by (EA, MSR context) finds the block for
//! the next NIP without translating; it is cleared whenever this vCPU's
//! translations are flushed.

use std::collections::HashMap;

use crate::cpu::Cpu;
use crate::decode::{decode, ends_block, DecodeCtx, D, K};
use crate::excp::Fault;
use crate::mem::Access;
use crate::regs::msr;
use crate::shared::CpuShared;

/// Longest block, in instructions.
const MAX_BLOCK: usize = 128;
/// Jump-table entries.
const JUMP_SIZE: usize = 4096;
/// Cached instructions beyond which the whole cache is dropped.
const MAX_CACHED_INSNS: usize = 1 << 21;

/// One decoded block.
pub(crate) struct Block {
    pub pa: u64,
    pub gen: u32,
    /// Page offset after the last instruction (the EA the block falls
    /// through to is the page's EA plus this; 4096 at the page end).
    pub end_off: u32,
    pub insns: Box<[D]>,
}

#[derive(Clone, Copy)]
struct JumpEntry {
    ea: u64,
    ctx: u32,
    idx: u32,
}

const NO_JUMP: JumpEntry = JumpEntry {
    ea: u64::MAX,
    ctx: u32::MAX,
    idx: 0,
};

/// Per-vCPU block cache.
pub(crate) struct BlockCache {
    pub blocks: Vec<Block>,
    map: HashMap<(u64, u32), u32>,
    jump: Box<[JumpEntry]>,
    epoch: u64,
    cached_insns: usize,
    /// Blocks decoded since creation (statistics).
    pub decoded: u64,
}

/// The MSR bits that select a block (fetch endianness, relocation,
/// privilege for the translation, trace mode for one-instruction blocks).
#[inline]
pub(crate) fn block_ctx(m: u64) -> u32 {
    (m & (msr::LE | msr::IR | msr::PR | msr::SE | msr::BE)) as u32
}

/// Folds an `add` (no Rc/OE), `addi` or zero-extending load that directly
/// precedes a compare just fused with its bc (kind `k`, at page offset
/// `cmp_off`) into the pair: that entry takes a three-instruction kind.
fn fuse_prev(insns: &mut [D], k: K, cmp_off: u16) {
    let n = insns.len();
    if n < 2 {
        return;
    }
    let prev = &mut insns[n - 2];
    if prev.off as u32 + 4 != cmp_off as u32 {
        return;
    }
    let fused = match (prev.k, prev.x, k) {
        (K::Add, 0, K::CmpBc) => K::AddCmpBc,
        (K::Add, 0, K::CmpiBc) => K::AddCmpiBc,
        (K::Add, 0, K::CmplBc) => K::AddCmplBc,
        (K::Add, 0, K::CmpliBc) => K::AddCmpliBc,
        (K::Addi, _, K::CmpBc) => K::AddiCmpBc,
        (K::Addi, _, K::CmpiBc) => K::AddiCmpiBc,
        (K::Addi, _, K::CmplBc) => K::AddiCmplBc,
        (K::Addi, _, K::CmpliBc) => K::AddiCmpliBc,
        (K::Lbz | K::Lhz | K::Lwz | K::Ld, _, _) => {
            prev.x = match prev.k {
                K::Lbz => 0,
                K::Lhz => 1,
                K::Lwz => 2,
                _ => 3,
            };
            match k {
                K::CmpBc => K::LoadCmpBc,
                K::CmpiBc => K::LoadCmpiBc,
                K::CmplBc => K::LoadCmplBc,
                _ => K::LoadCmpliBc,
            }
        }
        _ => return,
    };
    prev.k = fused;
}

impl BlockCache {
    pub fn new() -> Self {
        BlockCache {
            blocks: Vec::new(),
            map: HashMap::new(),
            jump: vec![NO_JUMP; JUMP_SIZE].into_boxed_slice(),
            epoch: 0,
            cached_insns: 0,
            decoded: 0,
        }
    }

    /// Drops every block (compat mode change, cache full).
    pub fn clear(&mut self) {
        self.blocks.clear();
        self.map.clear();
        self.jump.fill(NO_JUMP);
        self.cached_insns = 0;
    }

    /// Finds (or decodes) the block at the CPU's NIP.
    #[inline]
    pub fn lookup(&mut self, cpu: &mut Cpu) -> Result<u32, Fault> {
        if cpu.xlate_epoch != self.epoch {
            self.epoch = cpu.xlate_epoch;
            self.jump.fill(NO_JUMP);
        }
        let ea = cpu.nip;
        let ctx = block_ctx(cpu.msr);
        if let Some(i) = self.chain(ea, ctx, &cpu.shared) {
            return Ok(i);
        }
        let slot = ((ea >> 2) as usize) & (JUMP_SIZE - 1);
        self.lookup_slow(cpu, ea, ctx, slot)
    }

    /// The block at `ea` in context `ctx` if the jump table has it and its
    /// page's code is unchanged; no translation, no decoding. The caller
    /// guarantees the jump table is current (no translation flush since
    /// the last [`BlockCache::lookup`]).
    #[inline(always)]
    pub fn chain(&self, ea: u64, ctx: u32, shared: &CpuShared) -> Option<u32> {
        let j = &self.jump[((ea >> 2) as usize) & (JUMP_SIZE - 1)];
        if j.ea == ea && j.ctx == ctx {
            let b = &self.blocks[j.idx as usize];
            if shared.page_gen(b.pa >> 12) == b.gen {
                return Some(j.idx);
            }
        }
        None
    }

    #[inline(never)]
    fn lookup_slow(&mut self, cpu: &mut Cpu, ea: u64, ctx: u32, slot: usize) -> Result<u32, Fault> {
        let (pa, _) = cpu.translate(ea, Access::Fetch)?;
        if cpu.ram.host(pa, 4).is_none() {
            return Err(Cpu::bad_real_address(Access::Fetch, ea));
        }
        let idx = match self.map.get(&(pa, ctx)) {
            Some(&i) if cpu.shared.page_gen(pa >> 12) == self.blocks[i as usize].gen => i,
            _ => self.decode_block(cpu, pa, ctx),
        };
        self.jump[slot] = JumpEntry { ea, ctx, idx };
        Ok(idx)
    }

    fn decode_block(&mut self, cpu: &mut Cpu, pa: u64, ctx: u32) -> u32 {
        if self.cached_insns > MAX_CACHED_INSNS {
            self.clear();
        }
        let page = pa >> 12;
        if !cpu.shared.is_code(page) {
            // Stores to this page must now take the slow path (which
            // invalidates): drop this vCPU's write entries.
            cpu.tlb.flush();
        }
        let gen = cpu.shared.mark_code(page);
        let le = ctx as u64 & msr::LE != 0;
        let single = ctx as u64 & (msr::SE | msr::BE) != 0;
        let cx = DecodeCtx {
            isa: cpu.isa(),
            prefixed: cpu.model.prefixed && cpu.isa() >= crate::IsaLevel::V3_10,
        };
        let page_end = (pa | 0xfff) + 1;
        let word = |a: u64| -> u32 {
            let mut b = [0u8; 4];
            cpu.ram.read_bytes(a, &mut b);
            if le {
                u32::from_le_bytes(b)
            } else {
                u32::from_be_bytes(b)
            }
        };
        let mut insns = Vec::with_capacity(16);
        let mut a = pa;
        while a < page_end && insns.len() < MAX_BLOCK {
            let w = word(a);
            let next = (a + 4 < page_end && (a & 63) != 60).then(|| word(a + 4));
            let mut d = decode(w, next, cx);
            d.off = (a & 0xfff) as u16;
            // Follow a relative `b`/`bl` that jumps forward within the
            // page: decoding continues at its target, so call sites and
            // their callees share a block.
            if d.k == K::B && d.x & 2 == 0 && !single {
                let target = a.wrapping_add(d.imm);
                if target > a && target < page_end {
                    d.x |= 4;
                    insns.push(d);
                    a = target;
                    continue;
                }
            }
            // A conditional branch (no CTR decrement, no link, relative)
            // on the CR field that the compare right before it sets: both
            // run in one dispatch.
            let (bo, bi) = (d.rt, d.ra);
            if d.k == K::Bc && bo & 0x14 == 0x04 && d.x & 3 == 0 && !single {
                if let Some(prev) = insns.last_mut() {
                    let fused = match prev.k {
                        K::Cmp => Some(K::CmpBc),
                        K::Cmpi => Some(K::CmpiBc),
                        K::Cmpl => Some(K::CmplBc),
                        K::Cmpli => Some(K::CmpliBc),
                        _ => None,
                    };
                    let same_field = prev.x == bi >> 2;
                    if let (Some(k), true) =
                        (fused, prev.off as u32 + 4 == d.off as u32 && same_field)
                    {
                        prev.k = k;
                        // The branch tests the compare's result directly:
                        // rb = the CR bit's mask in the field | 0x10 if it
                        // branches when the bit is set.
                        d.rb = (8 >> (bi & 3)) | if bo & 8 != 0 { 0x10 } else { 0 };
                        // The fused forms take the operand shift that makes
                        // a 32-bit compare (L=0) a 64-bit one.
                        prev.rt = if prev.rt == 1 { 0 } else { 32 };
                        let cmp_off = prev.off;
                        fuse_prev(&mut insns, k, cmp_off);
                    }
                }
            }
            // A conditional bc leaves the block only when taken: decoding
            // goes on with its fall-through path (x bit 3).
            let fall_through = d.k == K::Bc && d.rt & 0x14 != 0x14 && !single;
            if fall_through {
                d.x |= 8;
            }
            a += d.len as u64;
            let end = ends_block(&d) && !fall_through;
            insns.push(d);
            if end || single {
                break;
            }
        }
        self.cached_insns += insns.len();
        self.decoded += 1;
        let idx = self.blocks.len() as u32;
        self.blocks.push(Block {
            pa,
            gen,
            end_off: (a - (pa & !0xfff)) as u32,
            insns: insns.into_boxed_slice(),
        });
        self.map.insert((pa, ctx), idx);
        idx
    }
}
