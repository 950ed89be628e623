//! Guest memory access: RAM regions by host pointer, the software TLB, the
//! load/store fast paths and the slow paths (translation, page crossing,
//! MMIO exits, code-page invalidation).

use std::sync::atomic::{AtomicU16, AtomicU32, AtomicU64, AtomicU8, Ordering};

use vm_memory::{GuestMemoryBackend, GuestMemoryMmap, GuestMemoryRegion};

use crate::cpu::{Cpu, MmioReplay};
use crate::excp::Fault;
use crate::vcpu::MmioRequest;

/// Entries per TLB set (direct mapped, 4 KiB granules).
pub(crate) const TLB_SIZE: usize = 256;
const INVALID: u64 = u64::MAX;

/// One TLB entry: EA page tags for reads and writes, and the value to add
/// to an EA to get the host address.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TlbEntry {
    pub tag_r: u64,
    pub tag_w: u64,
    pub addend: usize,
}

const EMPTY: TlbEntry = TlbEntry {
    tag_r: INVALID,
    tag_w: INVALID,
    addend: 0,
};

/// The data TLB: one set per (`MSR[DR]`, `MSR[PR]`) context.
pub(crate) struct Tlb {
    pub sets: Box<[[TlbEntry; TLB_SIZE]; 4]>,
}

impl Tlb {
    pub fn new() -> Self {
        Tlb {
            sets: Box::new([[EMPTY; TLB_SIZE]; 4]),
        }
    }

    pub fn flush(&mut self) {
        for s in self.sets.iter_mut() {
            s.fill(EMPTY);
        }
    }
}

/// One RAM region: guest physical base, length and host address.
#[derive(Debug, Clone, Copy)]
struct RamRegion {
    base: u64,
    len: u64,
    host: usize,
}

/// Guest RAM as host pointers. Holds the `GuestMemoryMmap` so the
/// mappings outlive every pointer taken from them.
pub(crate) struct Ram {
    regions: Vec<RamRegion>,
    /// Keeps the mappings alive for as long as the pointers are used.
    _mem: GuestMemoryMmap,
}

impl Ram {
    pub fn new(mem: &GuestMemoryMmap) -> Ram {
        let mut regions: Vec<RamRegion> = mem
            .iter()
            .filter_map(|r| {
                let host = mem.get_host_address(r.start_addr()).ok()? as usize;
                Some(RamRegion {
                    base: r.start_addr().0,
                    len: r.len(),
                    host,
                })
            })
            .collect();
        regions.sort_by_key(|r| r.base);
        Ram {
            regions,
            _mem: mem.clone(),
        }
    }

    /// Host address of `[pa, pa + len)` if it lies inside one RAM region.
    #[inline]
    pub fn host(&self, pa: u64, len: u64) -> Option<usize> {
        for r in &self.regions {
            let off = pa.wrapping_sub(r.base);
            if off < r.len && len <= r.len - off {
                return Some(r.host + off as usize);
            }
        }
        None
    }

    /// Reads a big-endian u64 at a real address (page-table walks).
    pub fn read_be64(&self, pa: u64) -> Option<u64> {
        let h = self.host(pa, 8)?;
        // SAFETY: `h..h+8` lies inside a live mapping held by `self.mem`.
        let raw = unsafe { host_read::<8>(h) };
        Some(u64::from_be_bytes(raw))
    }

    /// Writes a big-endian u64 at a real address (R/C updates).
    pub fn write_be64(&self, pa: u64, v: u64) -> bool {
        match self.host(pa, 8) {
            Some(h) => {
                // SAFETY: as in `read_be64`.
                unsafe { host_write::<8>(h, v.to_be_bytes()) };
                true
            }
            None => false,
        }
    }

    /// Copies bytes out of RAM (instruction fetch for decoding).
    pub fn read_bytes(&self, pa: u64, out: &mut [u8]) -> bool {
        match self.host(pa, out.len() as u64) {
            Some(h) => {
                for (i, b) in out.iter_mut().enumerate() {
                    // SAFETY: `h + i` is inside the checked range.
                    *b = unsafe { host_read::<1>(h + i)[0] };
                }
                true
            }
            None => false,
        }
    }
}

/// Reads `N` bytes at a host address, in memory order.
///
/// # Safety
/// `h..h+N` must lie inside a live guest RAM mapping.
#[inline(always)]
pub(crate) unsafe fn host_read<const N: usize>(h: usize) -> [u8; N] {
    // Aligned accesses use atomics so that concurrent vCPUs never race in
    // the Rust memory-model sense; relaxed atomic loads are plain moves.
    if h % N == 0 {
        // SAFETY: (all arms) the caller guarantees validity; alignment was
        // just checked; the mapping is shared memory that only ever holds
        // plain bytes, so any bit pattern is valid.
        unsafe {
            match N {
                1 => {
                    return transmute_n(
                        AtomicU8::from_ptr(h as *mut u8)
                            .load(Ordering::Relaxed)
                            .to_ne_bytes(),
                    )
                }
                2 => {
                    return transmute_n(
                        AtomicU16::from_ptr(h as *mut u16)
                            .load(Ordering::Relaxed)
                            .to_ne_bytes(),
                    )
                }
                4 => {
                    return transmute_n(
                        AtomicU32::from_ptr(h as *mut u32)
                            .load(Ordering::Relaxed)
                            .to_ne_bytes(),
                    )
                }
                8 => {
                    return transmute_n(
                        AtomicU64::from_ptr(h as *mut u64)
                            .load(Ordering::Relaxed)
                            .to_ne_bytes(),
                    )
                }
                _ => {}
            }
        }
    }
    // SAFETY: validity guaranteed by the caller; an unaligned read of
    // plain bytes.
    unsafe { std::ptr::read_unaligned(h as *const [u8; N]) }
}

/// Writes `N` bytes at a host address, in memory order.
///
/// # Safety
/// `h..h+N` must lie inside a live guest RAM mapping.
#[inline(always)]
pub(crate) unsafe fn host_write<const N: usize>(h: usize, b: [u8; N]) {
    if h % N == 0 {
        // SAFETY: as in `host_read`.
        unsafe {
            match N {
                1 => return AtomicU8::from_ptr(h as *mut u8).store(b[0], Ordering::Relaxed),
                2 => {
                    return AtomicU16::from_ptr(h as *mut u16)
                        .store(u16::from_ne_bytes(transmute_n(b)), Ordering::Relaxed)
                }
                4 => {
                    return AtomicU32::from_ptr(h as *mut u32)
                        .store(u32::from_ne_bytes(transmute_n(b)), Ordering::Relaxed)
                }
                8 => {
                    return AtomicU64::from_ptr(h as *mut u64)
                        .store(u64::from_ne_bytes(transmute_n(b)), Ordering::Relaxed)
                }
                _ => {}
            }
        }
    }
    // SAFETY: validity guaranteed by the caller.
    unsafe { std::ptr::write_unaligned(h as *mut [u8; N], b) }
}

/// Reinterprets `[u8; M]` as `[u8; N]` when `M == N` (const-generic glue).
#[inline(always)]
fn transmute_n<const M: usize, const N: usize>(a: [u8; M]) -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(&a[..N]);
    out
}

/// Interprets `N` memory-order bytes as an integer.
#[inline(always)]
pub(crate) fn from_bytes<const N: usize>(b: [u8; N], le: bool) -> u64 {
    let mut x = [0u8; 8];
    if le {
        x[..N].copy_from_slice(&b);
        u64::from_le_bytes(x)
    } else {
        x[8 - N..].copy_from_slice(&b);
        u64::from_be_bytes(x)
    }
}

/// Lays an integer out as `N` memory-order bytes.
#[inline(always)]
pub(crate) fn to_bytes<const N: usize>(v: u64, le: bool) -> [u8; N] {
    let mut b = [0u8; N];
    if le {
        b.copy_from_slice(&v.to_le_bytes()[..N]);
    } else {
        b.copy_from_slice(&v.to_be_bytes()[8 - N..]);
    }
    b
}

/// Byte-reverses the low `n` bytes of `v`.
#[inline(always)]
pub(crate) fn bswap(v: u64, n: usize) -> u64 {
    match n {
        1 => v & 0xff,
        2 => (v as u16).swap_bytes() as u64,
        4 => (v as u32).swap_bytes() as u64,
        _ => v.swap_bytes(),
    }
}

/// What an access is for (translation and permission checks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    Load,
    Store,
    Fetch,
}

impl Cpu {
    /// Loads an `N`-byte integer at `ea` in the current data endianness.
    #[inline(always)]
    pub fn ld<const N: usize>(&mut self, ea: u64) -> Result<u64, Fault> {
        let e = &self.tlb.sets[self.dctx & 3][((ea >> 12) as usize) & (TLB_SIZE - 1)];
        if e.tag_r == ea & (!0xfff | (N as u64 - 1)) {
            let h = e.addend.wrapping_add(ea as usize);
            // SAFETY: the TLB only holds entries for RAM pages (filled in
            // `fill_tlb` from `Ram::host`), the tag match proves the access is
            // aligned and within that page.
            let b = unsafe { host_read::<N>(h) };
            return Ok(from_bytes(b, self.le));
        }
        self.ld_slow::<N>(ea)
    }

    /// Stores the low `N` bytes of `v` at `ea` in the current endianness.
    #[inline(always)]
    pub fn st<const N: usize>(&mut self, ea: u64, v: u64) -> Result<(), Fault> {
        let e = &self.tlb.sets[self.dctx & 3][((ea >> 12) as usize) & (TLB_SIZE - 1)];
        if e.tag_w == ea & (!0xfff | (N as u64 - 1)) {
            let h = e.addend.wrapping_add(ea as usize);
            // SAFETY: as in `ld`; write entries exist only for writable RAM
            // pages that hold no decoded code.
            unsafe { host_write::<N>(h, to_bytes(v, self.le)) };
            return Ok(());
        }
        self.st_slow::<N>(ea, v)
    }

    fn fill_tlb(&mut self, ea: u64, pa: u64, writable: bool) {
        let Some(h) = self.ram.host(pa & !0xfff, 0x1000) else {
            return;
        };
        let page = ea & !0xfff;
        let e = &mut self.tlb.sets[self.dctx & 3][((ea >> 12) as usize) & (TLB_SIZE - 1)];
        e.tag_r = page;
        e.tag_w = if writable && !self.shared.is_code(pa >> 12) {
            page
        } else {
            INVALID
        };
        e.addend = h.wrapping_sub(page as usize);
    }

    #[inline(never)]
    fn ld_slow<const N: usize>(&mut self, ea: u64) -> Result<u64, Fault> {
        if (ea & 0xfff) + N as u64 > 0x1000 {
            let mut b = [0u8; N];
            for (i, x) in b.iter_mut().enumerate() {
                *x = self.ld::<1>(ea.wrapping_add(i as u64) & self.ea_mask)? as u8;
            }
            return Ok(from_bytes(b, self.le));
        }
        let (pa, writable) = self.translate(ea, Access::Load)?;
        if let Some(h) = self.ram.host(pa, N as u64) {
            self.fill_tlb(ea, pa, writable);
            // SAFETY: `Ram::host` checked the range.
            let b = unsafe { host_read::<N>(h) };
            return Ok(from_bytes(b, self.le));
        }
        let v = self.mmio(pa, N as u8, None, ea)?;
        Ok(if self.le { bswap(v, N) } else { v })
    }

    #[inline(never)]
    fn st_slow<const N: usize>(&mut self, ea: u64, v: u64) -> Result<(), Fault> {
        if (ea & 0xfff) + N as u64 > 0x1000 {
            // Check every byte's translation first so that a fault leaves
            // memory untouched.
            for i in [0, N as u64 - 1] {
                self.translate(ea.wrapping_add(i) & self.ea_mask, Access::Store)?;
            }
            let b: [u8; N] = to_bytes(v, self.le);
            for (i, x) in b.iter().enumerate() {
                self.st::<1>(ea.wrapping_add(i as u64) & self.ea_mask, *x as u64)?;
            }
            return Ok(());
        }
        let (pa, writable) = self.translate(ea, Access::Store)?;
        if let Some(h) = self.ram.host(pa, N as u64) {
            // SAFETY: `Ram::host` checked the range.
            unsafe { host_write::<N>(h, to_bytes(v, self.le)) };
            let page = pa >> 12;
            if self.shared.is_code(page) {
                self.shared.invalidate_page(page);
                self.stop_block = true;
            }
            self.fill_tlb(ea, pa, writable);
            return Ok(());
        }
        let bus = if self.le { bswap(v, N) } else { v };
        self.mmio(pa, N as u8, Some(bus), ea).map(|_| ())
    }

    /// An access outside RAM: replays a completed MMIO access or asks the
    /// machine for one.
    fn mmio(&mut self, pa: u64, size: u8, write: Option<u64>, ea: u64) -> Result<u64, Fault> {
        if let Some(r) = self.mmio_replay {
            if r.pa == pa && r.size == size && r.write == write.is_some() {
                self.mmio_replay = None;
                return Ok(r.value);
            }
        }
        self.mmio_ea = ea;
        self.mmio_store = write.is_some();
        Err(Fault::Mmio(MmioRequest {
            addr: pa,
            size,
            write,
        }))
    }

    /// Records the machine's completion of an MMIO request.
    pub fn complete_mmio(&mut self, req: &MmioRequest, value: u64) {
        self.mmio_replay = Some(MmioReplay {
            pa: req.addr,
            size: req.size,
            write: req.write.is_some(),
            value,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_order_helpers() {
        assert_eq!(from_bytes([1, 2, 3, 4], false), 0x0102_0304);
        assert_eq!(from_bytes([1, 2, 3, 4], true), 0x0403_0201);
        assert_eq!(to_bytes::<2>(0x1234, false), [0x12, 0x34]);
        assert_eq!(to_bytes::<2>(0x1234, true), [0x34, 0x12]);
        assert_eq!(bswap(0x1122_3344, 4), 0x4433_2211);
    }

    #[test]
    fn ram_lookup() {
        use vm_memory::GuestAddress;
        let mem = GuestMemoryMmap::<()>::from_ranges(&[
            (GuestAddress(0), 0x10000),
            (GuestAddress(0x100000), 0x1000),
        ])
        .unwrap();
        let ram = Ram::new(&mem);
        assert!(ram.host(0xfff8, 8).is_some());
        assert!(ram.host(0xfffc, 8).is_none());
        assert!(ram.host(0x100ff8, 8).is_some());
        assert!(ram.host(0x20000, 1).is_none());
        assert!(ram.write_be64(0x100, 0x0102_0304_0506_0708));
        assert_eq!(ram.read_be64(0x100), Some(0x0102_0304_0506_0708));
        let mut b = [0u8; 2];
        assert!(ram.read_bytes(0x100, &mut b));
        assert_eq!(b, [1, 2]);
    }
}
