//! A global allocator that counts allocations, for benches that check a
//! hot path allocates nothing (issue 9: "the allocation count on the hot
//! paths, target zero").
//!
//! A bench installs it and measures around the code under test:
//!
//! ```ignore
//! #[global_allocator]
//! static GLOBAL: alloc_count::Counting = alloc_count::Counting;
//!
//! let (_, n) = alloc_count::count(|| hot_path());
//! assert_eq!(n, 0);
//! ```
//!
//! The count is process-wide: threads the bench did not start (criterion's
//! own) must be quiet while it measures, which they are between samples.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

/// The system allocator, counting every allocation, zeroed allocation and
/// reallocation.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counting;

// SAFETY: every method forwards to the system allocator with the caller's
// arguments unchanged, so its guarantees carry over; counting touches only
// an atomic and never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as ours, forwarded.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as ours, forwarded.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` (through `alloc`, `alloc_zeroed`
        // or `realloc`) with this `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: `ptr` came from `System` with `layout`; `new_size` obeys
        // the caller's contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Allocations made by the whole process so far (0 unless [`Counting`] is
/// the global allocator).
pub fn allocations() -> u64 {
    ALLOCATIONS.load(Ordering::SeqCst)
}

/// Runs `f` and returns its result with the allocations made meanwhile.
pub fn count<R>(f: impl FnOnce() -> R) -> (R, u64) {
    let before = allocations();
    let r = f();
    (r, allocations() - before)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[global_allocator]
    static GLOBAL: Counting = Counting;

    #[test]
    fn allocations_are_counted_and_plain_work_is_not() {
        let (v, n) = count(|| std::hint::black_box(vec![1u8; 64]));
        assert_eq!(v.len(), 64);
        assert!(n >= 1, "{n}");
        let (_, n) = count(|| std::hint::black_box(2u64) * 3);
        assert_eq!(n, 0);
    }
}
