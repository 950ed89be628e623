//! The reader never allocates more than a small multiple of the stream's
//! size: measured with a counting allocator (per thread, so the test
//! harness's own allocations do not count).

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use common::*;
use migration::{Limits, Loader};

struct Counting;

thread_local! {
    static CURRENT: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn account(delta: isize) {
    let _ = CURRENT.try_with(|c| {
        let v = c.get() + delta;
        c.set(v);
        let _ = PEAK.try_with(|p| {
            if v > p.get() {
                p.set(v)
            }
        });
    });
}

// SAFETY: every method forwards to the system allocator unchanged and only
// updates thread-local counters, which allocate nothing.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            account(layout.size() as isize);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) };
        account(-(layout.size() as isize));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            account(new_size as isize - layout.size() as isize);
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Peak bytes allocated by `f` beyond what was live when it started.
fn peak_of(f: impl FnOnce()) -> usize {
    let start = CURRENT.with(Cell::get);
    PEAK.with(|p| p.set(start));
    f();
    (PEAK.with(Cell::get) - start).max(0) as usize
}

/// Fixed costs of one load: the 64 KiB input buffer, the first 64 KiB step
/// of a payload buffer, the loader's bookkeeping.
const FIXED: usize = 192 << 10;

#[test]
fn hostile_and_valid_streams_stay_within_a_small_multiple_of_their_size() {
    let dst = Setup::new("dual", 64, 1024);
    let mut cases: Vec<(&str, Vec<u8>)> = Vec::new();
    // A header record announcing 64 MiB - 1 with a few bytes behind it.
    let mut lying = b"PSRS-MIG\x00\x01\x00\x00\x01\x03\xff\xff\xff".to_vec();
    lying.extend_from_slice(&[0x8f; 64]);
    cases.push(("lying record length", lying));
    // A valid header, then a section announcing 60 MiB.
    let mut lying_section = Setup::new("xics", 1, 4).snapshot();
    lying_section.truncate(lying_section.len() - 13);
    lying_section.extend_from_slice(&[2, 0x03, 0xc0, 0, 0, 0x85]);
    cases.push(("lying section length", lying_section));
    // A map announcing 16M pairs inside a small section.
    let mut big_count = Setup::new("xics", 1, 4).snapshot();
    big_count.truncate(big_count.len() - 13);
    big_count.extend_from_slice(&[2, 0, 0, 0, 8, 0xdf, 0x00, 0xff, 0xff, 0xff, 0, 0, 0]);
    cases.push(("huge map count", big_count));
    // A large valid stream, and its truncations.
    let src = Setup::new("dual", 64, 1024);
    src.scramble(1);
    let good = src.snapshot();
    for cut in [good.len() / 3, good.len() / 2, good.len() - 20] {
        cases.push(("truncated valid stream", good[..cut].to_vec()));
    }
    cases.push(("valid stream", good.clone()));

    for (what, stream) in &cases {
        let mut result = None;
        let peak = peak_of(|| {
            let mut loader = Loader::new();
            loader.components(dst.components());
            result = Some(loader.load_slice(stream).is_ok());
        });
        let bound = 4 * stream.len() + FIXED;
        println!(
            "{what}: {} stream bytes, peak {peak} bytes allocated",
            stream.len()
        );
        assert!(
            peak <= bound,
            "{what}: {peak} bytes for a {}-byte stream",
            stream.len()
        );
        assert_eq!(result, Some(*what == "valid stream"), "{what}");
    }

    // Inspection decodes into JSON, a larger form, but is bounded too.
    let peak = peak_of(|| {
        let shown = migration::inspect::inspect(&good[..], &Limits::default());
        assert!(shown.is_valid());
    });
    println!("inspect: {} stream bytes, peak {peak}", good.len());
    assert!(peak <= 64 * good.len() + FIXED, "inspect took {peak}");
}
