//! State shared by all vCPUs of one machine ([`CpuShared`]) and by the
//! threads of one core ([`SmtCore`]).
//!
//! Everything here is lock-free on the hot path: code-page generations and
//! flags are per-page atomics, the TLB-flush broadcast is one counter that
//! each vCPU compares at block boundaries, and reservations are checked by
//! value (compare-and-swap on guest memory) plus a per-granule generation
//! that a successful store-conditional bumps.

use std::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

use vm_memory::{GuestMemoryBackend, GuestMemoryMmap, GuestMemoryRegion};

/// Number of reservation-granule generation slots (hashed by address).
const RES_SLOTS: usize = 4096;

/// State shared by every vCPU of a machine. Create one with the guest RAM
/// and pass the same `Arc` to every [`crate::Vcpu`].
#[derive(Debug)]
pub struct CpuShared {
    /// One flag per 4 KiB RAM page: decoded code was taken from it.
    code_flag: Box<[AtomicU8]>,
    /// One generation per 4 KiB RAM page, bumped when its code changes.
    page_gen: Box<[AtomicU32]>,
    /// TLB flush broadcast (tlbie, process-table changes).
    tlb_gen: AtomicU64,
    /// Process table (partition-table dword 1 form: base | size; 0 = none).
    process_table: AtomicU64,
    /// Reservation generations per hashed 128-byte granule.
    res_gen: Box<[AtomicU32]>,
    /// Serialises 16-byte store-conditionals (no 128-bit CAS on stable
    /// Rust).
    quad_lock: Mutex<()>,
}

impl CpuShared {
    /// Shared state sized for `mem` (pages up to the end of the highest
    /// region).
    pub fn new(mem: &GuestMemoryMmap) -> Arc<Self> {
        let end = mem
            .iter()
            .map(|r| r.start_addr().0 + r.len())
            .max()
            .unwrap_or(0);
        let pages = end.div_ceil(4096) as usize;
        Arc::new(CpuShared {
            code_flag: (0..pages).map(|_| AtomicU8::new(0)).collect(),
            page_gen: (0..pages).map(|_| AtomicU32::new(0)).collect(),
            tlb_gen: AtomicU64::new(0),
            process_table: AtomicU64::new(0),
            res_gen: (0..RES_SLOTS).map(|_| AtomicU32::new(0)).collect(),
            quad_lock: Mutex::new(()),
        })
    }

    /// Generation of a RAM page (0 for pages outside RAM).
    #[inline]
    pub(crate) fn page_gen(&self, page: u64) -> u32 {
        self.page_gen
            .get(page as usize)
            .map_or(0, |g| g.load(Ordering::Acquire))
    }

    /// Marks a page as holding decoded code; returns its generation.
    pub(crate) fn mark_code(&self, page: u64) -> u32 {
        if let Some(f) = self.code_flag.get(page as usize) {
            f.store(1, Ordering::SeqCst);
        }
        self.page_gen(page)
    }

    /// Whether a page holds decoded code.
    #[inline]
    pub(crate) fn is_code(&self, page: u64) -> bool {
        self.code_flag
            .get(page as usize)
            .is_some_and(|f| f.load(Ordering::Relaxed) != 0)
    }

    /// Invalidates the decoded code of a page (a store to it, or icbi).
    pub(crate) fn invalidate_page(&self, page: u64) {
        if let Some(g) = self.page_gen.get(page as usize) {
            g.fetch_add(1, Ordering::AcqRel);
        }
        if let Some(f) = self.code_flag.get(page as usize) {
            f.store(0, Ordering::SeqCst);
        }
    }

    /// Invalidates decoded code in `[pa, pa + len)`: the machine calls this
    /// after writing guest RAM behind the vCPUs' back (loading an image,
    /// H_PAGE_INIT, DMA) so that no stale decoded block runs.
    pub fn invalidate_code(&self, pa: u64, len: u64) {
        if len == 0 {
            return;
        }
        let first = pa >> 12;
        let last = pa.saturating_add(len - 1) >> 12;
        for page in first..=last.min(self.page_gen.len() as u64) {
            if self.is_code(page) {
                self.invalidate_page(page);
            }
        }
    }

    /// The TLB generation vCPUs compare against.
    #[inline]
    pub(crate) fn tlb_gen(&self) -> u64 {
        self.tlb_gen.load(Ordering::Acquire)
    }

    /// Broadcasts a TLB flush to every vCPU (tlbie; they flush at their
    /// next block boundary).
    pub fn flush_all_tlbs(&self) {
        self.tlb_gen.fetch_add(1, Ordering::AcqRel);
    }

    /// Registers the guest's process table (H_REGISTER_PROCESS_TABLE with
    /// RADIX): `base` is the real address (4 KiB aligned at least), and
    /// `size_field` the PRTS value (table size is 2^(12 + prts) bytes).
    /// `base = 0` unregisters. Flushes every TLB.
    pub fn set_process_table(&self, base: u64, size_field: u64) {
        let v = if base == 0 {
            0
        } else {
            (base & 0x0fff_ffff_ffff_f000) | (size_field & 0x1f)
        };
        self.process_table.store(v, Ordering::Release);
        self.flush_all_tlbs();
    }

    /// The registered process table as (base, size in bytes), if any.
    pub fn process_table(&self) -> Option<(u64, u64)> {
        let v = self.process_table.load(Ordering::Acquire);
        (v != 0).then(|| (v & !0xfff, 1u64 << (12 + (v & 0x1f))))
    }

    fn res_slot(&self, addr: u64) -> &AtomicU32 {
        let g = (addr >> 7) as usize;
        &self.res_gen[(g ^ (g >> 12)) % RES_SLOTS]
    }

    /// Generation of the reservation granule of `addr` (taken by larx).
    #[inline]
    pub(crate) fn reservation_gen(&self, addr: u64) -> u32 {
        self.res_slot(addr).load(Ordering::Acquire)
    }

    /// Cancels every reservation on the granule of `addr` (a successful
    /// stcx).
    #[inline]
    pub(crate) fn kill_reservations(&self, addr: u64) {
        self.res_slot(addr).fetch_add(1, Ordering::AcqRel);
    }

    /// Lock for 16-byte conditional stores.
    pub(crate) fn quad_lock(&self) -> std::sync::MutexGuard<'_, ()> {
        self.quad_lock.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Wakes a vCPU thread that may be idle (the machine implements it, for
/// instance with `VcpuIrqInputs::kick`).
pub trait VcpuWaker: Send + Sync {
    /// Makes the vCPU's run loop notice new pending work soon.
    fn wake(&self);
}

/// The threads of one SMT core: directed privileged doorbells
/// (`msgsndp`/`msgclrp`, DPDES).
pub struct SmtCore {
    threads: u32,
    dpdes: AtomicU64,
    wakers: Mutex<Vec<Option<Arc<dyn VcpuWaker>>>>,
}

impl std::fmt::Debug for SmtCore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtCore")
            .field("threads", &self.threads)
            .field("dpdes", &self.dpdes.load(Ordering::Relaxed))
            .finish()
    }
}

impl SmtCore {
    /// A core of `threads` threads (1..=8).
    pub fn new(threads: u32) -> Arc<Self> {
        let threads = threads.clamp(1, 64);
        Arc::new(SmtCore {
            threads,
            dpdes: AtomicU64::new(0),
            wakers: Mutex::new(vec![None; threads as usize]),
        })
    }

    /// Number of threads.
    pub fn threads(&self) -> u32 {
        self.threads
    }

    /// Registers how to wake thread `tir` when a doorbell is sent to it.
    pub fn set_waker(&self, tir: u32, waker: Arc<dyn VcpuWaker>) {
        let mut w = self.wakers.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(slot) = w.get_mut(tir as usize) {
            *slot = Some(waker);
        }
    }

    /// Sends a doorbell to thread `tir` (ignored if out of range).
    pub fn send(&self, tir: u32) {
        if tir >= self.threads {
            return;
        }
        self.dpdes.fetch_or(1 << tir, Ordering::SeqCst);
        let w = self.wakers.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(Some(w)) = w.get(tir as usize) {
            w.wake();
        }
    }

    /// Clears thread `tir`'s doorbell.
    pub fn clear(&self, tir: u32) {
        if tir < self.threads {
            self.dpdes.fetch_and(!(1 << tir), Ordering::SeqCst);
        }
    }

    /// Whether thread `tir` has a doorbell pending.
    #[inline]
    pub fn pending(&self, tir: u32) -> bool {
        tir < 64 && self.dpdes.load(Ordering::Relaxed) & (1 << tir) != 0
    }

    /// The DPDES register (one bit per thread; ISA numbering puts thread 0
    /// in the least significant bit).
    pub fn dpdes(&self) -> u64 {
        self.dpdes.load(Ordering::SeqCst)
    }
}
