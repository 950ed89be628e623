//! Builds radix page tables (ISA 3.0, 52-bit, 13-9-9-9) in guest memory.
#![allow(dead_code)]

use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

pub const VALID: u64 = 1 << 63;
pub const LEAF: u64 = 1 << 62;
pub const R: u64 = 1 << 8;
pub const C: u64 = 1 << 7;
pub const PRIV: u64 = 1 << 3;
pub const READ: u64 = 1 << 2;
pub const RW: u64 = 1 << 1;
pub const EXEC: u64 = 1;

/// A bump allocator of table memory plus the root of one process tree.
pub struct Radix<'a> {
    pub mem: &'a GuestMemoryMmap,
    pub next: u64,
    pub root: u64,
}

fn rd(mem: &GuestMemoryMmap, a: u64) -> u64 {
    let mut b = [0u8; 8];
    mem.read_slice(&mut b, GuestAddress(a)).unwrap();
    u64::from_be_bytes(b)
}

fn wr(mem: &GuestMemoryMmap, a: u64, v: u64) {
    mem.write_slice(&v.to_be_bytes(), GuestAddress(a)).unwrap();
}

impl<'a> Radix<'a> {
    /// A tree whose tables come from `pool` onwards; registers it as PID
    /// `pid` in the process table at `prtb`.
    pub fn new(mem: &'a GuestMemoryMmap, prtb: u64, pid: u64, pool: u64) -> Self {
        let mut r = Radix {
            mem,
            next: pool,
            root: 0,
        };
        r.root = r.alloc(1 << 16);
        // RTS = 52 - 31 = 21: RTS1 = 0b10 (bits 1:2), RTS2 = 0b101 (bits 56:58).
        let dw0 = (2u64 << 61) | r.root | (5 << 5) | 13;
        wr(mem, prtb + 16 * pid, dw0);
        r
    }

    fn alloc(&mut self, size: u64) -> u64 {
        let a = (self.next + size - 1) & !(size - 1);
        self.next = a + size;
        let zero = vec![0u8; size as usize];
        self.mem.write_slice(&zero, GuestAddress(a)).unwrap();
        a
    }

    /// Maps `ea` to `pa` with a page of 2^`shift` bytes (12, 16, 21, 30)
    /// and the given leaf flags (EAA, R, C...).
    pub fn map(&mut self, ea: u64, pa: u64, shift: u32, flags: u64) {
        let ea = ea & 0x000f_ffff_ffff_ffff;
        // (index shift, nls of the next level) per level.
        let leaf_level = match shift {
            30 => 1,
            21 => 2,
            _ => 3,
        };
        let mut table = self.root;
        let mut level_shift = 39; // level 0 covers bits 39..51
        for level in 0..leaf_level {
            let idx = (ea >> level_shift) & if level == 0 { 0x1fff } else { 0x1ff };
            let slot = table + 8 * idx;
            let pde = rd(self.mem, slot);
            let (next_nls, next_shift) = if level + 1 == 3 && shift == 16 {
                (5, 16)
            } else {
                (9, level_shift - 9)
            };
            table = if pde & VALID != 0 {
                pde & 0x0fff_ffff_ffff_ff00
            } else {
                let t = self.alloc(8 << next_nls);
                wr(self.mem, slot, VALID | t | next_nls);
                t
            };
            level_shift = next_shift;
        }
        let idx = (ea >> shift)
            & if leaf_level == 3 && shift == 16 {
                31
            } else {
                0x1ff
            };
        wr(
            self.mem,
            table + 8 * idx,
            VALID | LEAF | (pa & !((1 << shift) - 1)) | flags,
        );
    }

    /// Identity-maps [0, size) with 4 KiB pages, RWX, R and C set.
    pub fn identity(&mut self, size: u64) {
        let mut a = 0;
        while a < size {
            self.map(a, a, 12, READ | RW | EXEC | R | C);
            a += 4096;
        }
    }
}
